# Compiled forward/backward kernels of fastnet, on raw C-contiguous buffers.
#
# Each kernel has a NumPy twin of the same name in fastnet/reference/kernels.py
# (without the leading underscore, which here marks the nogil C-level function;
# the Python-callable wrapper in _kernels.pyx carries the plain name).
# Arguments are ordered: outputs, inputs, sizes.
#
# Gradient convention, decided once:
#   * backward kernels ADD into parameter gradients (dW, db), like PyTorch's .grad,
#     so gradients of several batches can be summed without a temporary;
#   * they OVERWRITE gradients with respect to inputs (dx, dz).
# Elementwise kernels allow out == z (in place), and backward dz == dout.
# Derivatives are written from saved forward OUTPUTS, never recomputed from inputs.
#
# The per-element math of every component (activations, heads, optimizers) is
# _components.h's, shared with the per-sample C loop and the C exporter; the inline
# functions below only pick its float or double instance.
from cython cimport floating

cdef extern from "_components.h":
    ctypedef Py_ssize_t fnet_size
    ctypedef enum fnet_output:
        FNET_OUT_SOFTMAX
        FNET_OUT_LINEAR
        FNET_OUT_LOGISTIC
    ctypedef struct fnet_optim:
        int code
        double learning_rate, lr_decay, l2
        double momentum
        int nesterov
        double beta_1, beta_2, epsilon
    const char* fnet_activation_name(int code) noexcept nogil
    const char* fnet_output_name(int code) noexcept nogil
    const char* fnet_optimizer_name(int code) noexcept nogil
    int fnet_optimizer_n_state(int code) noexcept nogil
    int fnet_activation_forward_f32(int code, float* h, fnet_size m) noexcept nogil
    int fnet_activation_forward_f64(int code, double* h, fnet_size m) noexcept nogil
    int fnet_activation_backward_f32(int code, float* dz, const float* h,
                                     fnet_size m) noexcept nogil
    int fnet_activation_backward_f64(int code, double* dz, const double* h,
                                     fnet_size m) noexcept nogil
    void fnet_softmax_row_f32(float* p, const float* z, fnet_size k) noexcept nogil
    void fnet_softmax_row_f64(double* p, const double* z, fnet_size k) noexcept nogil
    int fnet_head_output_row_f32(int code, float* z, fnet_size k) noexcept nogil
    int fnet_head_output_row_f64(int code, double* z, fnet_size k) noexcept nogil
    float fnet_head_loss_row_f32(int code, float* z, fnet_size label, const float* target,
                                 fnet_size k, int* status) noexcept nogil
    double fnet_head_loss_row_f64(int code, double* z, fnet_size label,
                                  const double* target, fnet_size k,
                                  int* status) noexcept nogil
    float fnet_head_clipped_loss_row_f32(int code, const float* out, fnet_size label,
                                         const float* target, fnet_size k, float eps,
                                         int* status) noexcept nogil
    double fnet_head_clipped_loss_row_f64(int code, const double* out, fnet_size label,
                                          const double* target, fnet_size k, double eps,
                                          int* status) noexcept nogil
    int fnet_head_delta_row_f32(int code, float* d, const float* out, fnet_size label,
                                const float* target, fnet_size k, float scale) noexcept nogil
    int fnet_head_delta_row_f64(int code, double* d, const double* out, fnet_size label,
                                const double* target, fnet_size k,
                                double scale) noexcept nogil
    int fnet_optimizer_update_f32(const fnet_optim* cfg, float* params, const float* grads,
                                  float** state, fnet_size m, fnet_size n_weights,
                                  double eta, fnet_size step) noexcept nogil
    int fnet_optimizer_update_f64(const fnet_optim* cfg, double* params,
                                  const double* grads, double** state, fnet_size m,
                                  fnet_size n_weights, double eta,
                                  fnet_size step) noexcept nogil


# h (m) = g(h) in place, g the activation `code`; 0, or -1 for an unknown code.
cdef inline int _activation_forward(int code, floating* h, Py_ssize_t m) noexcept nogil:
    if floating is float:
        return fnet_activation_forward_f32(code, h, m)
    else:
        return fnet_activation_forward_f64(code, h, m)


# dz (m) *= g'(z) from the saved outputs h (m); 0, or -1 for an unknown code.
cdef inline int _activation_backward(int code, floating* dz, const floating* h,
                                     Py_ssize_t m) noexcept nogil:
    if floating is float:
        return fnet_activation_backward_f32(code, dz, h, m)
    else:
        return fnet_activation_backward_f64(code, dz, h, m)


# One row z (k) of pre-activations -> the head's outputs, in place.
cdef inline int _head_output_row(int code, floating* z, Py_ssize_t k) noexcept nogil:
    if floating is float:
        return fnet_head_output_row_f32(code, z, k)
    else:
        return fnet_head_output_row_f64(code, z, k)


# One row z (k) -> the head's outputs in place; returns the row's loss against its
# label (classification) or target (k) (regression). *status = -1 for an unknown code.
cdef inline floating _head_loss_row(int code, floating* z, Py_ssize_t label,
                                    const floating* target, Py_ssize_t k,
                                    int* status) noexcept nogil:
    if floating is float:
        return fnet_head_loss_row_f32(code, z, label, target, k, status)
    else:
        return fnet_head_loss_row_f64(code, z, label, target, k, status)


# The row's loss from the head's outputs out (k) with probabilities clipped to
# [eps, 1 - eps] before any log (scikit-learn's reported loss). *status = -1 for an
# unknown code.
cdef inline floating _head_clipped_loss_row(int code, const floating* out, Py_ssize_t label,
                                            const floating* target, Py_ssize_t k,
                                            floating eps, int* status) noexcept nogil:
    if floating is float:
        return fnet_head_clipped_loss_row_f32(code, out, label, target, k, eps, status)
    else:
        return fnet_head_clipped_loss_row_f64(code, out, label, target, k, eps, status)


# d (k) = scale * d(row loss)/d(pre-activation) from the head's outputs out (k).
cdef inline int _head_delta_row(int code, floating* d, const floating* out, Py_ssize_t label,
                                const floating* target, Py_ssize_t k,
                                floating scale) noexcept nogil:
    if floating is float:
        return fnet_head_delta_row_f32(code, d, out, label, target, k, scale)
    else:
        return fnet_head_delta_row_f64(code, d, out, label, target, k, scale)


# One optimizer step over the flat buffers (m entries, the first n_weights weights);
# state: the optimizer's buffers; eta: the step size; step: the update's 1-based
# number. 0, or -1 for an unknown code.
cdef inline int _optimizer_update(const fnet_optim* cfg, floating* params,
                                  const floating* grads, floating** state, Py_ssize_t m,
                                  Py_ssize_t n_weights, double eta,
                                  Py_ssize_t step) noexcept nogil:
    if floating is float:
        return fnet_optimizer_update_f32(cfg, params, grads, state, m, n_weights, eta, step)
    else:
        return fnet_optimizer_update_f64(cfg, params, grads, state, m, n_weights, eta, step)


# out (n, h) = x (n, d) @ W (h, d)^T + b (h)
cdef void _dense_forward(floating* out, const floating* x, const floating* W,
                         const floating* b, Py_ssize_t n, Py_ssize_t d,
                         Py_ssize_t h) noexcept nogil
# dW (h, d) += dout^T x;  db (h) += column sums of dout;  dx (n, d) = dout (n, h) @ W
# dx may be NULL (the first layer needs no input gradient). With accumulate False,
# dW and db are overwritten instead (the training loop's mode: it saves zeroing the
# gradient buffer before every step).
cdef void _dense_backward(floating* dx, floating* dW, floating* db,
                          const floating* dout, const floating* x,
                          const floating* W, Py_ssize_t n, Py_ssize_t d,
                          Py_ssize_t h, bint accumulate=*) noexcept nogil

# Backward with the plain SGD step folded in (no momentum, no l2), for the training
# loop: dx = dout @ W with the OLD W (skipped when NULL); db = column sums of dout
# (overwritten, then used); W -= eta * dout^T x (as one GEMM with alpha = -eta,
# beta = 1: no gradient buffer and no separate update pass); b -= eta * db.
cdef void _dense_backward_sgd(floating* dx, floating* W, floating* b, floating* db,
                              const floating* dout, const floating* x, Py_ssize_t n,
                              Py_ssize_t d, Py_ssize_t h, floating eta) noexcept nogil

# out (n, k) = the head's outputs for pre-activations z (n, k) (out may alias z);
# returns the SUM over rows of weights[i] * row loss (weights NULL: all 1; labels or
# target NULL where the head does not use them). *status = -1 for an unknown code.
cdef double _head_loss(int code, floating* out, const floating* z, const Py_ssize_t* labels,
                       const floating* target, const floating* weights, Py_ssize_t n,
                       Py_ssize_t k, int* status) noexcept nogil
# d (n, k) = scale * weights[i] * d(row loss)/d(pre-activation), from the outputs.
cdef int _head_delta(int code, floating* d, const floating* out, const Py_ssize_t* labels,
                     const floating* target, const floating* weights, Py_ssize_t n,
                     Py_ssize_t k, floating scale) noexcept nogil

# The C struct of an optimizer configuration (fastnet.components.OptimizerConfig).
cdef fnet_optim _optim_struct(config) except *
# ptrs[i] = the i-th state buffer of the optimizer `code`, each checked to hold m entries.
cdef int _state_pointers(tuple state, floating** ptrs, Py_ssize_t m, int code) except -1
