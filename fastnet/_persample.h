/* Per-sample SGD (batch size 1, the lecture's algorithm) as one C loop, and the
 * single-row forward pass of the latency path.
 *
 * For each sample: forward through every layer, the head's loss and delta, then
 * backward and update of each group of four weight rows while they are in L1: the rows'
 * contribution to the input gradient is taken from the old weights, then the rows
 * are updated. No gradient buffer and no separate update pass. The first layer, which
 * needs no input gradient, is kept transposed (in, out) for the duration of an epoch
 * call when it is one to four vectors wide and at most FNET_COLS_MAX weights (see
 * FN(persample_epoch)): its forward pass is then a sweep of
 * broadcast products across the outputs (no horizontal sums), its update the same
 * arithmetic per weight; it is copied back at the end of the call. The per-element
 * math (activations, heads, update rule) is _components.h's, as on every compiled
 * path.
 *
 * Twin: the general minibatch path in _train.pyx (Cython kernels + BLAS) and, in
 * NumPy, fastnet/reference; the tests check all three agree.
 *
 * Vectorisation without -ffast-math: dot products keep FNET_LANES independent
 * partial sums (a fixed, ISA-independent summation order the compiler can map onto
 * any vector width), and the kernels are built without FMA contraction, so every
 * instruction set computes bitwise the same result. On x86-64 with GCC the entry
 * points are compiled three times (AVX-512, AVX2, baseline SSE2) and the best one
 * is picked at load time (function multiversioning).
 */
#ifndef FASTNET_PERSAMPLE_H
#define FASTNET_PERSAMPLE_H

#include <stdint.h>
#include <string.h>

#include "_components.h"

/* The network's layout over the flat parameter buffer (see _train.pyx). */
typedef struct {
    fnet_size n_layers;         /* L: number of dense layers */
    const fnet_size *sizes;     /* L + 1 widths */
    const fnet_size *w_off;     /* L offsets of W_l (sizes[l+1], sizes[l]) in params */
    const fnet_size *b_off;     /* L offsets of b_l in params */
    const fnet_size *cum;       /* L + 2 prefix sums of sizes (each padded to 64 bytes): layer l's slot in work */
    const int *act;             /* L - 1 hidden activation codes (fnet_activation) */
    int output;                 /* the head (fnet_output) */
} fnet_layout;

/* What the loss compares the outputs with, for the rows of a data set (NULL where
 * absent): labels (n,) for classification heads, targets (n, k) of the model's dtype
 * for regression heads, and per-row loss weights (n,) of the model's dtype or NULL
 * (all 1: bitwise the unweighted result). */
typedef struct {
    const fnet_size *labels;
    const void *targets;
    const void *weights;
} fnet_truth;

/* What an epoch (or part of one) did. */
typedef struct {
    double loss;            /* summed (weighted) loss of the samples, each before its step */
    double last_eta;        /* the last step size used */
    fnet_size updates;      /* steps taken: n, or fewer when a loss was NaN or infinite */
} fnet_epoch;

/* 1 when the n values of x are all finite: the exponent field of each, plus one in
 * its lowest bit, carries into the sign bit only for infinity and NaN (all ones);
 * OR-ed over the values without an early exit, so the loop vectorises. Inline for a
 * single row (the row path of _train.pyx); fnet_all_finite_* below for whole arrays. */
static inline int fnet_finite_f32(const float *x, fnet_size n)
{
    uint32_t acc = 0, u;
    fnet_size j;
    for (j = 0; j < n; j++) {
        memcpy(&u, x + j, sizeof u);
        acc |= (u & 0x7F800000u) + 0x00800000u;
    }
    return (acc >> 31) == 0;
}

static inline int fnet_finite_f64(const double *x, fnet_size n)
{
    uint64_t acc = 0, u;
    fnet_size j;
    for (j = 0; j < n; j++) {
        memcpy(&u, x + j, sizeof u);
        acc |= (u & 0x7FF0000000000000u) + 0x0010000000000000u;
    }
    return (acc >> 63) == 0;
}

/* The same test over n values (a fit's data), compiled for the CPU's instruction set:
 * one read of the data, where numpy's isfinite(x).all() also writes and reads an
 * array of flags (20,000 x 64 float64: about 0.13 ms instead of 0.2-0.4 ms). */
int fnet_all_finite_f32(const float *x, fnet_size n);
int fnet_all_finite_f64(const double *x, fnet_size n);

/* 0 when every code of the layout names a component, else -1. */
static inline int fnet_layout_check(const fnet_layout *net)
{
    fnet_size l;
    for (l = 0; l + 1 < net->n_layers; l++)
        if (fnet_activation_name(net->act[l]) == NULL)
            return -1;
    return fnet_output_name(net->output) == NULL ? -1 : 0;
}

/* One epoch of per-sample steps over rows order[0..n) of X (n_rows, sizes[0]), the
 * model having taken t0 updates before. work holds 2 * cum[L+1] values (activations,
 * then deltas); state holds the optimizer's buffers. The loop stops before the step
 * of a sample whose loss is NaN or infinite. Returns 0, -1 for a code this loop does
 * not know, or -2 when the copy of the first layer it keeps transposed cannot be
 * allocated (nothing is changed in either case). */
int fnet_persample_epoch_f32(const fnet_layout *net, const fnet_optim *cfg, float *params,
                             float *const *state, float *work, const float *X,
                             const fnet_truth *truth, const fnet_size *order, fnet_size n,
                             fnet_size t0, fnet_epoch *result);
int fnet_persample_epoch_f64(const fnet_layout *net, const fnet_optim *cfg, double *params,
                             double *const *state, double *work, const double *X,
                             const fnet_truth *truth, const fnet_size *order, fnet_size n,
                             fnet_size t0, fnet_epoch *result);

/* out (sizes[L]) = the head's outputs (probabilities for softmax) for one input row
 * x (sizes[0]); work as above. Returns 0, or -1 for an unknown code. */
int fnet_forward_row_f32(const fnet_layout *net, const float *params, float *work,
                         const float *x, float *out);
int fnet_forward_row_f64(const fnet_layout *net, const double *params, double *work,
                         const double *x, double *out);

#endif
