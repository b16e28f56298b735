/* Fused per-sample SGD: the lecture's algorithm (batch size 1) as one C loop.
 *
 * For each sample: forward through every layer, the loss and its gradient, then
 * backward and update fused into ONE pass over each weight row: the row's
 * contribution to the input gradient is taken from the old weights, then the row
 * is updated. No gradient buffer and no separate update pass.
 *
 * Twin: the generic minibatch path in _train.pyx (Cython kernels + BLAS) and, in
 * NumPy, fastnet/reference; the tests check all three agree.
 *
 * Vectorisation without -ffast-math: dot products keep FN_LANES independent partial
 * sums (a fixed, ISA-independent summation order the compiler can map onto any
 * vector width), and the kernels are built without FMA contraction, so every
 * instruction set computes bitwise the same result. On x86-64 with GCC the entry
 * points are compiled three times (AVX-512, AVX2, baseline SSE2) and the best
 * one is picked at load time (function multiversioning).
 */
#ifndef FASTNET_FUSED_H
#define FASTNET_FUSED_H

#include <Python.h>   /* Py_ssize_t */

/* Activation and output codes: the single source, also used by _kernels.pxd. */
enum {
    ACT_SIGMOID = 0,
    ACT_TANH = 1,
    ACT_RELU = 2
};
enum {
    OUT_SOFTMAX = 0,
    OUT_LINEAR = 1
};

/* The network's layout over the flat parameter buffer (see _train.pyx). */
typedef struct {
    Py_ssize_t n_layers;        /* L: number of dense layers */
    const Py_ssize_t *sizes;    /* L + 1 widths */
    const Py_ssize_t *w_off;    /* L offsets of W_l (sizes[l+1], sizes[l]) in params */
    const Py_ssize_t *b_off;    /* L offsets of b_l in params */
    const Py_ssize_t *cum;      /* L + 2 prefix sums of sizes: layer l's slot in work */
    const int *act;             /* L - 1 hidden activation codes */
    int output;                 /* OUT_SOFTMAX or OUT_LINEAR */
} fn_layout;

typedef struct {
    double learning_rate, lr_decay, momentum, l2;
    Py_ssize_t t0;              /* updates done before this epoch */
} fn_sgd;

/* One epoch of per-sample SGD over rows order[0..n) of X (n_rows, sizes[0]).
 * labels (softmax) or targets (linear, (n_rows, sizes[L])) gives the truth; weights
 * (n_rows, or NULL for all 1) multiplies each sample's loss and gradient.
 * work holds 2 * cum[L+1] values (activations, then deltas). velocity is touched
 * only when momentum != 0. Returns the summed loss of the samples, each measured
 * before its own update; *last_eta receives the last step size and *updates the
 * number of steps taken: n, or fewer when a sample's loss was NaN or infinite (the
 * loop stops before that sample's step). */
double fn_sgd_epoch_single_f32(const fn_layout *net, float *params, float *velocity,
                               float *work, const float *X, const Py_ssize_t *labels,
                               const float *targets, const float *weights,
                               const Py_ssize_t *order,
                               Py_ssize_t n, const fn_sgd *cfg, double *last_eta,
                               Py_ssize_t *updates);
double fn_sgd_epoch_single_f64(const fn_layout *net, double *params, double *velocity,
                               double *work, const double *X, const Py_ssize_t *labels,
                               const double *targets, const double *weights,
                               const Py_ssize_t *order,
                               Py_ssize_t n, const fn_sgd *cfg, double *last_eta,
                               Py_ssize_t *updates);

/* Outputs (sizes[L]) of one input row x: probabilities for softmax. */
void fn_forward_single_f32(const fn_layout *net, const float *params, float *work,
                           const float *x, float *out);
void fn_forward_single_f64(const fn_layout *net, const double *params, double *work,
                           const double *x, double *out);

#endif
