# Compiled kernels: C-level implementations (declared and documented in
# _kernels.pxd) and, below them, Python-callable wrappers with the same names and
# argument order as the NumPy twins in fastnet/reference/kernels.py, so the tests
# can reach every kernel directly.
from libc.math cimport exp, expf, log, logf, tanh, tanhf
from libc.string cimport memcpy, memset

import numpy as np

from fastnet._blas cimport gemm


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


# ---------------------------------------------------------------------------
# Dense layer
# ---------------------------------------------------------------------------

cdef void _dense_forward(floating* out, const floating* x, const floating* W,
                         const floating* b, Py_ssize_t n, Py_ssize_t d,
                         Py_ssize_t h) noexcept nogil:
    # out is (n, h), x is (n, d), W is (h, d), b is (h)
    cdef Py_ssize_t i, j, c
    cdef floating acc
    cdef const floating* w_row
    if n == 1:
        # One sample: h dot products; a BLAS call costs more than it saves here.
        for j in range(h):
            w_row = W + j * d
            acc = 0
            for c in range(d):
                acc = acc + w_row[c] * x[c]
            out[j] = acc + b[j]
        return
    for i in range(n):
        memcpy(out + i * h, b, h * sizeof(floating))
    gemm(False, True, <int>n, <int>h, <int>d, <floating>1, x, <int>d, W, <int>d,
         <floating>1, out, <int>h)


cdef inline void _column_sums(floating* db, const floating* dout, Py_ssize_t n,
                              Py_ssize_t h) noexcept nogil:
    # db (h) += column sums of dout (n, h)
    cdef Py_ssize_t i, j
    for i in range(n):
        for j in range(h):
            db[j] = db[j] + dout[i * h + j]


cdef inline void _input_grad(floating* dx, const floating* dout, const floating* W,
                             Py_ssize_t n, Py_ssize_t d, Py_ssize_t h) noexcept nogil:
    # dx (n, d) = dout (n, h) @ W (h, d); one row by hand, more with BLAS
    cdef Py_ssize_t j, c
    cdef floating g
    cdef const floating* w_row
    if n == 1:
        for c in range(d):
            dx[c] = 0
        for j in range(h):
            g = dout[j]
            w_row = W + j * d
            for c in range(d):
                dx[c] = dx[c] + g * w_row[c]
    else:
        gemm(False, False, <int>n, <int>d, <int>h, <floating>1, dout, <int>h, W,
             <int>d, <floating>0, dx, <int>d)


cdef void _dense_backward(floating* dx, floating* dW, floating* db,
                          const floating* dout, const floating* x,
                          const floating* W, Py_ssize_t n, Py_ssize_t d,
                          Py_ssize_t h, bint accumulate=True) noexcept nogil:
    # dx is (n, d) or NULL, dW is (h, d), db is (h), dout is (n, h), x is (n, d), W is (h, d)
    cdef Py_ssize_t j, c
    cdef floating g
    cdef floating* dw_row
    if not accumulate:
        memset(db, 0, h * sizeof(floating))
        if n == 1:
            memset(dW, 0, h * d * sizeof(floating))
    _column_sums(db, dout, n, h)
    if n == 1:
        for j in range(h):
            g = dout[j]
            dw_row = dW + j * d
            for c in range(d):
                dw_row[c] = dw_row[c] + g * x[c]
    else:
        # dW += dout^T @ x  (dW = ... when not accumulating: beta = 0)
        gemm(True, False, <int>h, <int>d, <int>n, <floating>1, dout, <int>h, x, <int>d,
             <floating>(1 if accumulate else 0), dW, <int>d)
    if dx != NULL:
        _input_grad(dx, dout, W, n, d, h)


cdef void _dense_backward_sgd(floating* dx, floating* W, floating* b, floating* db,
                              const floating* dout, const floating* x, Py_ssize_t n,
                              Py_ssize_t d, Py_ssize_t h, floating eta) noexcept nogil:
    # dx is (n, d) or NULL, W is (h, d), b and db are (h), dout is (n, h), x is (n, d)
    cdef Py_ssize_t j, c
    cdef floating g
    cdef floating* w_row
    memset(db, 0, h * sizeof(floating))
    _column_sums(db, dout, n, h)
    if dx != NULL:      # before W changes
        _input_grad(dx, dout, W, n, d, h)
    if n == 1:
        for j in range(h):
            g = dout[j]
            w_row = W + j * d
            for c in range(d):
                w_row[c] = w_row[c] - eta * (g * x[c])
    else:
        # W += (-eta) dout^T @ x: the same rounding as W - eta * (dout^T @ x)
        gemm(True, False, <int>h, <int>d, <int>n, -eta, dout, <int>h, x, <int>d,
             <floating>1, W, <int>d)
    for j in range(h):
        b[j] = b[j] - eta * db[j]


# ---------------------------------------------------------------------------
# Activations (elementwise; out may alias z, dz may alias dout)
# ---------------------------------------------------------------------------

cdef void _sigmoid_forward(floating* out, const floating* z, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating e, zi
    for i in range(m):
        zi = z[i]
        # exp of a non-positive number never overflows: pick the form that has one.
        if zi >= 0:
            e = _exp(-zi)
            out[i] = 1 / (1 + e)
        else:
            e = _exp(zi)
            out[i] = e / (1 + e)


cdef void _sigmoid_backward(floating* dz, const floating* dout, const floating* out,
                            Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        dz[i] = dout[i] * (out[i] * (1 - out[i]))


cdef void _tanh_forward(floating* out, const floating* z, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        out[i] = _tanh(z[i])


cdef void _tanh_backward(floating* dz, const floating* dout, const floating* out,
                         Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        dz[i] = dout[i] * (1 - out[i] * out[i])


cdef void _relu_forward(floating* out, const floating* z, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(m):
        v = z[i]
        out[i] = v if v > 0 else 0


cdef void _relu_backward(floating* dz, const floating* dout, const floating* out,
                         Py_ssize_t m) noexcept nogil:
    # ReLU's derivative at 0 is taken as 0; out > 0 exactly when z > 0. Both values
    # are loaded before the choice, so the compiler makes a branch-free select and
    # vectorises the loop (a branch on random signs mispredicts half the time).
    cdef Py_ssize_t i
    cdef floating g
    for i in range(m):
        g = dout[i]
        dz[i] = g if out[i] > 0 else 0


cdef void _activation_forward(int code, floating* out, const floating* z,
                              Py_ssize_t m) noexcept nogil:
    if code == ACT_SIGMOID:
        _sigmoid_forward(out, z, m)
    elif code == ACT_TANH:
        _tanh_forward(out, z, m)
    else:
        _relu_forward(out, z, m)


cdef void _activation_backward(int code, floating* dz, const floating* dout,
                               const floating* out, Py_ssize_t m) noexcept nogil:
    if code == ACT_SIGMOID:
        _sigmoid_backward(dz, dout, out, m)
    elif code == ACT_TANH:
        _tanh_backward(dz, dout, out, m)
    else:
        _relu_backward(dz, dout, out, m)


# ---------------------------------------------------------------------------
# Output losses
# ---------------------------------------------------------------------------

cdef double _softmax_xent_forward(floating* probs, const floating* logits,
                                  const Py_ssize_t* labels, const floating* weights,
                                  Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    # probs is (n, k), logits is (n, k), labels is (n), weights is (n) or NULL
    cdef Py_ssize_t i, j
    cdef floating mx, s, e, z_label, row
    cdef const floating* z
    cdef floating* p
    cdef double total = 0
    for i in range(n):
        z = logits + i * k
        p = probs + i * k
        mx = z[0]
        for j in range(1, k):
            if z[j] > mx:
                mx = z[j]
        # Read the label's logit before probs (which may alias logits) is written.
        z_label = z[labels[i]] - mx
        s = 0
        for j in range(k):
            e = _exp(z[j] - mx)   # <= 1 after subtracting the row max: no overflow
            p[j] = e
            s = s + e
        for j in range(k):
            p[j] = p[j] / s
        # -log p_y = log(sum_j exp(z_j - max)) - (z_y - max): the stable log-softmax.
        row = _log(s) - z_label
        total += row if weights == NULL else row * weights[i]
    return total


cdef void _softmax_xent_backward(floating* dlogits, const floating* probs,
                                 const Py_ssize_t* labels, const floating* weights,
                                 Py_ssize_t n, Py_ssize_t k, floating scale) noexcept nogil:
    # d(-log p_y)/dz_j = p_j - [j == y]: the softmax Jacobian and the log's 1/p_y
    # cancel, so the combined gradient needs only the saved probabilities.
    cdef Py_ssize_t i, j
    cdef floating row_scale
    for i in range(n):
        row_scale = scale if weights == NULL else scale * weights[i]
        for j in range(k):
            dlogits[i * k + j] = probs[i * k + j] * row_scale
        dlogits[i * k + labels[i]] = (probs[i * k + labels[i]] - 1) * row_scale


cdef double _squared_error_forward(const floating* pred, const floating* target,
                                   const floating* weights, Py_ssize_t n,
                                   Py_ssize_t k) noexcept nogil:
    # pred is (n, k), target is (n, k), weights is (n) or NULL
    cdef Py_ssize_t i, j
    cdef floating r, row
    cdef double total = 0
    for i in range(n):
        row = 0
        for j in range(k):
            r = pred[i * k + j] - target[i * k + j]
            row = row + r * r
        total += row if weights == NULL else row * weights[i]
    return total


cdef void _squared_error_backward(floating* dpred, const floating* pred,
                                  const floating* target, const floating* weights,
                                  Py_ssize_t n, Py_ssize_t k, floating scale) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating row_scale
    for i in range(n):
        row_scale = scale if weights == NULL else scale * weights[i]
        for j in range(k):
            dpred[i * k + j] = (2 * (pred[i * k + j] - target[i * k + j])) * row_scale


# ---------------------------------------------------------------------------
# SGD update over the flat parameter buffer
# ---------------------------------------------------------------------------

cdef inline void _sgd_range(floating* params, const floating* grads, floating* velocity,
                            Py_ssize_t start, Py_ssize_t end, floating lr,
                            floating momentum, floating l2) noexcept nogil:
    # One branch-free loop per case, so each vectorises.
    cdef Py_ssize_t i
    cdef floating g, v
    if momentum != 0 and l2 != 0:
        for i in range(start, end):
            g = grads[i] + l2 * params[i]
            v = momentum * velocity[i] - lr * g
            velocity[i] = v
            params[i] = params[i] + v
    elif momentum != 0:
        for i in range(start, end):
            v = momentum * velocity[i] - lr * grads[i]
            velocity[i] = v
            params[i] = params[i] + v
    elif l2 != 0:
        for i in range(start, end):
            params[i] = params[i] - lr * (grads[i] + l2 * params[i])
    else:
        for i in range(start, end):
            params[i] = params[i] - lr * grads[i]


cdef void _sgd_update(floating* params, const floating* grads, floating* velocity,
                      Py_ssize_t m, Py_ssize_t n_weights, floating lr,
                      floating momentum, floating l2) noexcept nogil:
    _sgd_range(params, grads, velocity, 0, n_weights, lr, momentum, l2)   # weights
    _sgd_range(params, grads, velocity, n_weights, m, lr, momentum, 0)    # biases: no l2


# ---------------------------------------------------------------------------
# Python-callable wrappers: same names and argument order as the reference twins.
# They check shapes (the C kernels do not) and raise ValueError on a mismatch.
# ---------------------------------------------------------------------------

def dense_forward(floating[:, ::1] out, const floating[:, ::1] x,
                  const floating[:, ::1] W, const floating[::1] b):
    """out (n, h) = x (n, d) @ W (h, d).T + b (h)."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], h = W.shape[0]
    if not (W.shape[1] == d):
        raise ValueError(f"W has shape {(W.shape[0], W.shape[1])}, expected (h, {d})")
    if not (b.shape[0] == h):
        raise ValueError(f"b has length {b.shape[0]}, expected {h}")
    if not (out.shape[0] == n and out.shape[1] == h):
        raise ValueError(f"out has shape {(out.shape[0], out.shape[1])}, expected ({n}, {h})")
    with nogil:
        _dense_forward(&out[0, 0], &x[0, 0], &W[0, 0], &b[0], n, d, h)


def dense_backward(dx, dW, db, dout, x, W):
    """dW += dout.T @ x; db += dout.sum(0); dx = dout @ W (skipped when dx is None)."""
    # Cython picks the dtype specialisation from the first argument, which may be
    # None here: dispatch on dW instead.
    _dense_backward_checked(dW, db, dout, x, W, dx)


def _dense_backward_checked(floating[:, ::1] dW, floating[::1] db,
                            const floating[:, ::1] dout, const floating[:, ::1] x,
                            const floating[:, ::1] W, floating[:, ::1] dx):
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], h = W.shape[0]
    cdef floating* dx_ptr = NULL
    if not (W.shape[1] == d):
        raise ValueError(f"W has shape {(W.shape[0], W.shape[1])}, expected (h, {d})")
    if not (dW.shape[0] == h and dW.shape[1] == d):
        raise ValueError(f"dW has shape {(dW.shape[0], dW.shape[1])}, expected ({h}, {d})")
    if not (db.shape[0] == h):
        raise ValueError(f"db has length {db.shape[0]}, expected {h}")
    if not (dout.shape[0] == n and dout.shape[1] == h):
        raise ValueError(f"dout has shape {(dout.shape[0], dout.shape[1])}, expected ({n}, {h})")
    if dx is not None:
        if not (dx.shape[0] == n and dx.shape[1] == d):
            raise ValueError(f"dx has shape {(dx.shape[0], dx.shape[1])}, expected ({n}, {d})")
        dx_ptr = &dx[0, 0]
    with nogil:
        _dense_backward(dx_ptr, &dW[0, 0], &db[0], &dout[0, 0], &x[0, 0], &W[0, 0],
                        n, d, h)


def _check_same(a, b, str name_a, str name_b):
    if not ((a.shape[0], a.shape[1]) == (b.shape[0], b.shape[1])):
        raise ValueError(f"{name_a} has shape {(a.shape[0], a.shape[1])}, expected "
                         f"{name_b}'s {(b.shape[0], b.shape[1])}")


def sigmoid_forward(floating[:, ::1] out, const floating[:, ::1] z):
    """out = 1 / (1 + exp(-z)), computed without overflow."""
    _check_same(out, z, "out", "z")
    with nogil:
        _sigmoid_forward(&out[0, 0], &z[0, 0], z.shape[0] * z.shape[1])


def sigmoid_backward(floating[:, ::1] dz, const floating[:, ::1] dout,
                     const floating[:, ::1] out):
    """dz = dout * out * (1 - out), from the saved output."""
    _check_same(dz, out, "dz", "out")
    _check_same(dout, out, "dout", "out")
    with nogil:
        _sigmoid_backward(&dz[0, 0], &dout[0, 0], &out[0, 0], out.shape[0] * out.shape[1])


def tanh_forward(floating[:, ::1] out, const floating[:, ::1] z):
    """out = tanh(z)."""
    _check_same(out, z, "out", "z")
    with nogil:
        _tanh_forward(&out[0, 0], &z[0, 0], z.shape[0] * z.shape[1])


def tanh_backward(floating[:, ::1] dz, const floating[:, ::1] dout,
                  const floating[:, ::1] out):
    """dz = dout * (1 - out**2), from the saved output."""
    _check_same(dz, out, "dz", "out")
    _check_same(dout, out, "dout", "out")
    with nogil:
        _tanh_backward(&dz[0, 0], &dout[0, 0], &out[0, 0], out.shape[0] * out.shape[1])


def relu_forward(floating[:, ::1] out, const floating[:, ::1] z):
    """out = max(0, z)."""
    _check_same(out, z, "out", "z")
    with nogil:
        _relu_forward(&out[0, 0], &z[0, 0], z.shape[0] * z.shape[1])


def relu_backward(floating[:, ::1] dz, const floating[:, ::1] dout,
                  const floating[:, ::1] out):
    """dz = dout where out > 0, else 0."""
    _check_same(dz, out, "dz", "out")
    _check_same(dout, out, "dout", "out")
    with nogil:
        _relu_backward(&dz[0, 0], &dout[0, 0], &out[0, 0], out.shape[0] * out.shape[1])


def _check_labels(const Py_ssize_t[::1] labels, Py_ssize_t n, Py_ssize_t k):
    if not (labels.shape[0] == n):
        raise ValueError(f"labels has length {labels.shape[0]}, expected {n}")
    for i in range(n):
        if not (0 <= labels[i] < k):
            raise ValueError(f"labels[{i}] = {labels[i]} is outside 0..{k - 1}")


cdef const floating* _weights_ptr(const floating[::1] weights, Py_ssize_t n) except? NULL:
    if weights is None:
        return NULL
    if weights.shape[0] != n:
        raise ValueError(f"weights has length {weights.shape[0]}, expected {n}")
    return &weights[0]


def softmax_xent_forward(floating[:, ::1] probs, const floating[:, ::1] logits,
                         const Py_ssize_t[::1] labels, const floating[::1] weights=None):
    """probs = softmax(logits); returns the mean of weights[i] * -log probs[i, labels[i]]
    (weights None: all 1)."""
    cdef Py_ssize_t n = logits.shape[0], k = logits.shape[1]
    cdef double total
    _check_same(probs, logits, "probs", "logits")
    _check_labels(labels, n, k)
    cdef const floating* w = _weights_ptr(weights, n)
    with nogil:
        total = _softmax_xent_forward(&probs[0, 0], &logits[0, 0], &labels[0], w, n, k)
    return total / n


def softmax_xent_backward(floating[:, ::1] dlogits, const floating[:, ::1] probs,
                          const Py_ssize_t[::1] labels, const floating[::1] weights=None):
    """dlogits = weights[i] * (probs - onehot(labels)) / n: the gradient of the mean loss."""
    cdef Py_ssize_t n = probs.shape[0], k = probs.shape[1]
    _check_same(dlogits, probs, "dlogits", "probs")
    _check_labels(labels, n, k)
    cdef const floating* w = _weights_ptr(weights, n)
    with nogil:
        _softmax_xent_backward(&dlogits[0, 0], &probs[0, 0], &labels[0], w, n, k,
                               <floating>1 / n)


def squared_error_forward(const floating[:, ::1] pred, const floating[:, ::1] target,
                          const floating[::1] weights=None):
    """Mean over rows of weights[i] * sum_j (pred - target)**2 (weights None: all 1)."""
    cdef Py_ssize_t n = pred.shape[0], k = pred.shape[1]
    cdef double total
    _check_same(target, pred, "target", "pred")
    cdef const floating* w = _weights_ptr(weights, n)
    with nogil:
        total = _squared_error_forward(&pred[0, 0], &target[0, 0], w, n, k)
    return total / n


def squared_error_backward(floating[:, ::1] dpred, const floating[:, ::1] pred,
                           const floating[:, ::1] target, const floating[::1] weights=None):
    """dpred = weights[i] * 2 (pred - target) / n: the gradient of the mean loss."""
    cdef Py_ssize_t n = pred.shape[0], k = pred.shape[1]
    _check_same(dpred, pred, "dpred", "pred")
    _check_same(target, pred, "target", "pred")
    cdef const floating* w = _weights_ptr(weights, n)
    with nogil:
        _squared_error_backward(&dpred[0, 0], &pred[0, 0], &target[0, 0], w, n, k,
                                <floating>1 / n)


def sgd_update(floating[::1] params, const floating[::1] grads, floating[::1] velocity,
               Py_ssize_t n_weights, double lr, double momentum=0.0, double l2=0.0):
    """One SGD step in place on the flat buffers; see _kernels.pxd."""
    cdef Py_ssize_t m = params.shape[0]
    if not (grads.shape[0] == m):
        raise ValueError(f"grads has length {grads.shape[0]}, expected {m}")
    if not (velocity.shape[0] == m):
        raise ValueError(f"velocity has length {velocity.shape[0]}, expected {m}")
    if not (0 <= n_weights <= m):
        raise ValueError(f"n_weights = {n_weights} is outside 0..{m}")
    with nogil:
        _sgd_update(&params[0], &grads[0], &velocity[0], m, n_weights, <floating>lr,
                    <floating>momentum, <floating>l2)


# The public API speaks in strings; the compiled code in these codes.
ACTIVATION_CODES = {"sigmoid": ACT_SIGMOID, "tanh": ACT_TANH, "relu": ACT_RELU}
OUTPUT_CODES = {"softmax": OUT_SOFTMAX, "linear": OUT_LINEAR}
