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
from cython cimport floating

# Activation and output codes (internal; the public API speaks in strings),
# defined once in _fused.h for the C and the Cython code alike.
cdef extern from "_fused.h":
    enum:
        ACT_SIGMOID
        ACT_TANH
        ACT_RELU
        OUT_SOFTMAX
        OUT_LINEAR

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

# Backward with the plain SGD step fused in (no momentum, no l2), for the training
# loop: dx = dout @ W with the OLD W (skipped when NULL); db = column sums of dout
# (overwritten, then used); W -= eta * dout^T x (as one GEMM with alpha = -eta,
# beta = 1: no gradient buffer and no separate update pass); b -= eta * db.
cdef void _dense_backward_sgd(floating* dx, floating* W, floating* b, floating* db,
                              const floating* dout, const floating* x, Py_ssize_t n,
                              Py_ssize_t d, Py_ssize_t h, floating eta) noexcept nogil

# Elementwise, m = number of entries.
cdef void _sigmoid_forward(floating* out, const floating* z, Py_ssize_t m) noexcept nogil
cdef void _sigmoid_backward(floating* dz, const floating* dout, const floating* out,
                            Py_ssize_t m) noexcept nogil
cdef void _tanh_forward(floating* out, const floating* z, Py_ssize_t m) noexcept nogil
cdef void _tanh_backward(floating* dz, const floating* dout, const floating* out,
                         Py_ssize_t m) noexcept nogil
cdef void _relu_forward(floating* out, const floating* z, Py_ssize_t m) noexcept nogil
cdef void _relu_backward(floating* dz, const floating* dout, const floating* out,
                         Py_ssize_t m) noexcept nogil
cdef void _activation_forward(int code, floating* out, const floating* z,
                              Py_ssize_t m) noexcept nogil
cdef void _activation_backward(int code, floating* dz, const floating* dout,
                               const floating* out, Py_ssize_t m) noexcept nogil

# Sample weights: `weights` (n) multiplies each row's loss and so its gradient; NULL
# means every weight is 1 (and then the results are bitwise those without weights).
#
# probs (n, k) = softmax(logits (n, k)); returns the SUM over rows of
# weights[i] * -log p[label] (callers divide by their batch size). probs may alias logits.
cdef double _softmax_xent_forward(floating* probs, const floating* logits,
                                  const Py_ssize_t* labels, const floating* weights,
                                  Py_ssize_t n, Py_ssize_t k) noexcept nogil
# dlogits (n, k) = scale * weights[i] * (probs - onehot(labels)); scale is 1 / batch size.
cdef void _softmax_xent_backward(floating* dlogits, const floating* probs,
                                 const Py_ssize_t* labels, const floating* weights,
                                 Py_ssize_t n, Py_ssize_t k, floating scale) noexcept nogil
# Returns the SUM over rows of weights[i] * sum_j (pred - target)^2 (no 1/2 factor, as in
# the lecture).
cdef double _squared_error_forward(const floating* pred, const floating* target,
                                   const floating* weights, Py_ssize_t n,
                                   Py_ssize_t k) noexcept nogil
# dpred (n, k) = scale * weights[i] * 2 (pred - target)
cdef void _squared_error_backward(floating* dpred, const floating* pred,
                                  const floating* target, const floating* weights,
                                  Py_ssize_t n, Py_ssize_t k, floating scale) noexcept nogil

# One SGD step over the flat parameter buffer (m entries, the first n_weights of
# which are weights and take the l2 term):
#   g = grad + l2 * theta (weights only);  v = momentum * v - lr * g;  theta += v
# With momentum == 0 the velocity is not touched and theta -= lr * g (bitwise the same).
cdef void _sgd_update(floating* params, const floating* grads, floating* velocity,
                      Py_ssize_t m, Py_ssize_t n_weights, floating lr,
                      floating momentum, floating l2) noexcept nogil
