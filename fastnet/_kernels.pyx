# Compiled kernels: C-level implementations (declared and documented in
# _kernels.pxd) and, below them, Python-callable wrappers with the same names and
# argument order as the NumPy twins in fastnet/reference/kernels.py, so the tests
# can reach every kernel directly.
from libc.string cimport memcpy, memset

import numpy as np

from fastnet._blas cimport gemm
from fastnet._blas import load as _load_blas
from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS


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
    _load_blas()    # here, with the GIL (see _blas.pyx)
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
    _load_blas()
    with nogil:
        _dense_backward(dx_ptr, &dW[0, 0], &db[0], &dout[0, 0], &x[0, 0], &W[0, 0],
                        n, d, h)


def _check_same(a, b, str name_a, str name_b):
    if not ((a.shape[0], a.shape[1]) == (b.shape[0], b.shape[1])):
        raise ValueError(f"{name_a} has shape {(a.shape[0], a.shape[1])}, expected "
                         f"{name_b}'s {(b.shape[0], b.shape[1])}")


def activation_forward(str activation, floating[:, ::1] out, const floating[:, ::1] z):
    """out = g(z) for the registered activation named `activation`."""
    cdef int code = ACTIVATIONS.lookup(activation).code
    cdef Py_ssize_t m = z.shape[0] * z.shape[1]
    cdef int status
    _check_same(out, z, "out", "z")
    with nogil:
        if <const floating*>&out[0, 0] != &z[0, 0]:
            memcpy(&out[0, 0], &z[0, 0], m * sizeof(floating))
        status = _activation_forward(code, &out[0, 0], m)
    _check_status(status, "activation", activation)


def activation_backward(str activation, floating[:, ::1] dz, const floating[:, ::1] dout,
                        const floating[:, ::1] out):
    """dz = dout * g'(z), the derivative written from the saved output out = g(z)."""
    cdef int code = ACTIVATIONS.lookup(activation).code
    cdef Py_ssize_t m = out.shape[0] * out.shape[1]
    cdef int status
    _check_same(dz, out, "dz", "out")
    _check_same(dout, out, "dout", "out")
    with nogil:
        if <const floating*>&dz[0, 0] != &dout[0, 0]:
            memcpy(&dz[0, 0], &dout[0, 0], m * sizeof(floating))
        status = _activation_backward(code, &dz[0, 0], &out[0, 0], m)
    _check_status(status, "activation", activation)


def _check_status(int status, str kind, name):
    if status != 0:   # a registry entry the C header does not implement
        raise ValueError(f"{kind} {name!r} is not implemented by the compiled kernels")


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


cdef double _head_loss(int code, floating* out, const floating* z, const Py_ssize_t* labels,
                       const floating* target, const floating* weights, Py_ssize_t n,
                       Py_ssize_t k, int* status) noexcept nogil:
    # out (n, k) = the head's outputs for z (n, k) (out may alias z); returns the SUM
    # over rows of weights[i] * row loss.
    cdef Py_ssize_t i
    cdef floating row
    cdef double total = 0
    if out != z:
        memcpy(out, z, n * k * sizeof(floating))
    for i in range(n):
        row = _head_loss_row(code, out + i * k, labels[i] if labels != NULL else 0,
                             target + i * k if target != NULL else NULL, k, status)
        # a row of weight 0 adds nothing, even a loss that overflowed (0 * inf is NaN)
        if weights == NULL:
            total += row
        elif weights[i] != 0:
            total += row * weights[i]
    return total


cdef int _head_delta(int code, floating* d, const floating* out, const Py_ssize_t* labels,
                     const floating* target, const floating* weights, Py_ssize_t n,
                     Py_ssize_t k, floating scale) noexcept nogil:
    # d (n, k) = scale * weights[i] * d(row loss)/d(pre-activation)
    cdef Py_ssize_t i
    cdef int status = 0
    for i in range(n):
        status |= _head_delta_row(code, d + i * k, out + i * k,
                                  labels[i] if labels != NULL else 0,
                                  target + i * k if target != NULL else NULL, k,
                                  scale if weights == NULL else scale * weights[i])
    return status


def head_output(str output, floating[:, ::1] out, const floating[:, ::1] z):
    """out = the head's outputs for pre-activations z (n, k) (softmax: probabilities;
    linear: z; logistic: element-wise sigmoid). out may be z."""
    head = HEADS.lookup(output)
    cdef int code = head.code
    cdef Py_ssize_t i, n = z.shape[0], k = z.shape[1]
    cdef int status = 0
    _check_same(out, z, "out", "z")
    _check_width(head, k)
    with nogil:
        if <const floating*>&out[0, 0] != &z[0, 0]:
            memcpy(&out[0, 0], &z[0, 0], n * k * sizeof(floating))
        for i in range(n):
            status |= _head_output_row(code, &out[i, 0], k)
    _check_status(status, "output", output)


def head_loss_forward(str output, floating[:, ::1] out, const floating[:, ::1] z, truth,
                      weights=None):
    """out = the head's outputs for z (n, k) (out may be z); returns the mean over rows
    of weights[i] * the row's loss against its truth: labels (n,) of class indices for
    a head whose truth is "labels", else values (n, k) (weights None: all 1)."""
    head = HEADS.lookup(output)
    if head.truth == "labels":
        return _head_loss_checked(head.code, out, z, truth, None, weights)
    return _head_loss_checked(head.code, out, z, None, truth, weights)


def _check_width(head, Py_ssize_t k):
    if k < head.min_outputs:
        raise ValueError(f"output={head.name!r} needs at least {head.min_outputs} columns, "
                         f"got {k}")


def _head_loss_checked(int code, floating[:, ::1] out, const floating[:, ::1] z,
                       const Py_ssize_t[::1] labels, const floating[:, ::1] target,
                       const floating[::1] weights):
    cdef Py_ssize_t n = z.shape[0], k = z.shape[1]
    cdef double total
    cdef int status = 0
    _check_same(out, z, "out", "z")
    name = _check_truth_slot(code, labels, target is not None, k)
    cdef const Py_ssize_t* lp = _labels_ptr(labels, n, k)
    cdef const floating* tp = _target_ptr(target, z)
    cdef const floating* w = _weights_ptr(weights, n)
    with nogil:
        total = _head_loss(code, &out[0, 0], &z[0, 0], lp, tp, w, n, k, &status)
    _check_status(status, "output", name)
    return total / n


def _check_truth_slot(int code, labels, bint has_target, Py_ssize_t k):
    """The head of `code` gets the truth it reads (labels, or target values; reading a
    missing one would read through NULL) and enough columns; returns its name."""
    head = list(HEADS.values())[code] if 0 <= code < len(HEADS) else None
    if head is None:
        raise ValueError(f"output code {code} is not registered")
    if (labels is not None) != (head.truth == "labels") or has_target == (head.truth == "labels"):
        raise TypeError(f"output={head.name!r} needs its truth, and only it: "
                        f"{'labels (n,)' if head.truth == 'labels' else 'values (n, k)'}")
    _check_width(head, k)
    return head.name


def head_loss_backward(str output, floating[:, ::1] dz, const floating[:, ::1] out, truth,
                       weights=None):
    """dz = d(mean loss)/dz from the head's outputs: weights[i] * (out - truth) / n for
    every head here (each is its loss's canonical link; squared error: 2 (out - y) / n)."""
    head = HEADS.lookup(output)
    if head.truth == "labels":
        _head_delta_checked(head.code, dz, out, truth, None, weights)
    else:
        _head_delta_checked(head.code, dz, out, None, truth, weights)


def _head_delta_checked(int code, floating[:, ::1] dz, const floating[:, ::1] out,
                        const Py_ssize_t[::1] labels, const floating[:, ::1] target,
                        const floating[::1] weights):
    cdef Py_ssize_t n = out.shape[0], k = out.shape[1]
    cdef int status
    _check_same(dz, out, "dz", "out")
    name = _check_truth_slot(code, labels, target is not None, k)
    cdef const Py_ssize_t* lp = _labels_ptr(labels, n, k)
    cdef const floating* tp = _target_ptr(target, out)
    cdef const floating* w = _weights_ptr(weights, n)
    with nogil:
        status = _head_delta(code, &dz[0, 0], &out[0, 0], lp, tp, w, n, k, <floating>1 / n)
    _check_status(status, "output", name)


cdef const Py_ssize_t* _labels_ptr(const Py_ssize_t[::1] labels, Py_ssize_t n,
                                   Py_ssize_t k) except? NULL:
    if labels is None:
        return NULL
    _check_labels(labels, n, k)
    return &labels[0]


cdef const floating* _target_ptr(const floating[:, ::1] target,
                                 const floating[:, ::1] like) except? NULL:
    if target is None:
        return NULL
    _check_same(target, like, "truth", "z")
    return &target[0, 0]


def optimizer_update(config, floating[::1] params, const floating[::1] grads, tuple state,
                     Py_ssize_t n_weights, double eta, Py_ssize_t step):
    """One step of the optimizer `config` (a configuration of fastnet.components) in
    place on the flat buffers: params (m), grads (m), state (the optimizer's buffers,
    each (m)); the first n_weights entries are weights (they take l2); eta is this
    update's step size and step its 1-based number (Adam's bias correction)."""
    cdef Py_ssize_t m = params.shape[0]
    cdef fnet_optim cfg = _optim_struct(config)
    cdef floating* ptrs[8]
    cdef int status
    _state_pointers(state, ptrs, m, cfg.code)
    if not (grads.shape[0] == m):
        raise ValueError(f"grads has length {grads.shape[0]}, expected {m}")
    if not (0 <= n_weights <= m):
        raise ValueError(f"n_weights = {n_weights} is outside 0..{m}")
    if step < 1:
        raise ValueError(f"step = {step} is not a 1-based update number")
    with nogil:
        status = _optimizer_update(&cfg, &params[0], &grads[0], ptrs, m, n_weights, eta, step)
    _check_status(status, "optimizer", config.name)


cdef fnet_optim _optim_struct(config) except *:
    """The C struct of an optimizer configuration (fastnet.components); the fields an
    optimizer does not have are 0."""
    cdef fnet_optim cfg
    cfg.code = OPTIMIZERS[config.name].code
    cfg.learning_rate = config.learning_rate
    cfg.lr_decay = config.lr_decay
    cfg.l2 = config.l2
    cfg.momentum = getattr(config, "momentum", 0.0)
    cfg.nesterov = bool(getattr(config, "nesterov", False))
    cfg.beta_1 = getattr(config, "beta_1", 0.0)
    cfg.beta_2 = getattr(config, "beta_2", 0.0)
    cfg.epsilon = getattr(config, "epsilon", 0.0)
    return cfg


cdef int _state_pointers(tuple state, floating** ptrs, Py_ssize_t m, int code) except -1:
    """Pointers to the optimizer's state buffers, each checked to hold m entries."""
    cdef floating[::1] buf
    cdef Py_ssize_t i
    if len(state) != fnet_optimizer_n_state(code) or len(state) > 8:
        raise ValueError(f"the optimizer keeps {fnet_optimizer_n_state(code)} state "
                         f"buffers, got {len(state)}")
    for i in range(len(state)):
        if state[i] is None:
            raise ValueError(f"state[{i}] is None, expected an array of {m} entries")
        buf = state[i]
        if buf.shape[0] != m:
            raise ValueError(f"state[{i}] has length {buf.shape[0]}, expected {m}")
        ptrs[i] = &buf[0]
    return 0


def _c_names(str kind):
    """The names the C header gives to codes 0, 1, ... of a component kind
    ("activation", "output", "optimizer"), up to the first unknown code: what the
    tests compare with the registries."""
    cdef int code = 0
    cdef const char* name
    names = []
    while code < 256:
        if kind == "activation":
            name = fnet_activation_name(code)
        elif kind == "output":
            name = fnet_output_name(code)
        elif kind == "optimizer":
            name = fnet_optimizer_name(code)
        else:
            raise ValueError(f"unknown component kind {kind!r}")
        if name == NULL:
            break
        names.append(name.decode())
        code += 1
    return names
