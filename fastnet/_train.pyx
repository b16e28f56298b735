# Whole-network passes over the flat buffers, and the compiled SGD epoch.
#
# Layout (computed once in fastnet/_base.py and shared with the reference):
#   params = [W_0, W_1, ..., W_{L-1}, b_0, ..., b_{L-1}], each W_l (sizes[l+1], sizes[l])
#   row-major; weights first so that l2 applies to the prefix params[:n_weights].
#   grads and velocity are parallel flat buffers with the same layout.
# Workspace: acts holds every layer's rows one after the other; layer l (0 = the
#   input batch, L = the output) starts at capacity * cum[l] and is (rows, sizes[l]).
#   deltas has the same layout and holds dL/d(pre-activation) of each layer.
#   Hidden activations are applied in place: the backward pass needs only outputs.
from cython cimport floating
from libc.math cimport isfinite
from libc.string cimport memcpy, memset

cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "_fused.h":
    ctypedef struct fn_layout:
        Py_ssize_t n_layers
        const Py_ssize_t* sizes
        const Py_ssize_t* w_off
        const Py_ssize_t* b_off
        const Py_ssize_t* cum
        const int* act
        int output
    ctypedef struct fn_sgd:
        double learning_rate, lr_decay, momentum, l2
        Py_ssize_t t0
    double fn_sgd_epoch_single_f32(const fn_layout* net, float* params, float* velocity,
                                   float* work, const float* X, const Py_ssize_t* labels,
                                   const float* targets, const float* weights,
                                   const Py_ssize_t* order,
                                   Py_ssize_t n, const fn_sgd* cfg, double* last_eta,
                                   Py_ssize_t* updates) nogil
    double fn_sgd_epoch_single_f64(const fn_layout* net, double* params, double* velocity,
                                   double* work, const double* X, const Py_ssize_t* labels,
                                   const double* targets, const double* weights,
                                   const Py_ssize_t* order,
                                   Py_ssize_t n, const fn_sgd* cfg, double* last_eta,
                                   Py_ssize_t* updates) nogil
    void fn_forward_single_f32(const fn_layout* net, const float* params, float* work,
                               const float* x, float* out) nogil
    void fn_forward_single_f64(const fn_layout* net, const double* params, double* work,
                               const double* x, double* out) nogil

from fastnet._kernels cimport (
    _dense_forward, _dense_backward, _dense_backward_sgd, _activation_forward,
    _activation_backward,
    _softmax_xent_forward, _softmax_xent_backward, _squared_error_forward,
    _squared_error_backward, _sgd_update, OUT_SOFTMAX,
)


cdef struct Truth:
    # What the loss compares the outputs with, for some rows (NULL where absent):
    const Py_ssize_t* labels    # (rows,) class indices, softmax
    const void* targets         # (rows, k) targets of the model's dtype, linear
    const void* weights         # (rows,) sample weights of the model's dtype


cdef class Plan:
    """Layer layout of one network plus a workspace for up to `capacity` rows.

    Made once per fit (capacity = batch size) or per forward call, and reused for
    every step, so the training loop allocates nothing.
    """
    cdef readonly Py_ssize_t n_layers, capacity, n_weights, n_params
    cdef readonly int output_code
    cdef Py_ssize_t[::1] sizes, w_off, b_off, cum
    cdef int[::1] act_codes
    cdef fn_layout layout     # the same layout for the C kernels (points into the above)
    cdef readonly object work, acts, deltas, labels, targets, weights
    cdef Truth gathered       # points into labels / targets / weights above
    cdef object bound            # parameters bound for the single-row path
    cdef bint f32

    def __init__(self, sizes, w_off, b_off, n_weights, act_codes, int output_code,
                 dtype, Py_ssize_t capacity):
        self.sizes = np.ascontiguousarray(sizes, dtype=np.intp)
        self.w_off = np.ascontiguousarray(w_off, dtype=np.intp)
        self.b_off = np.ascontiguousarray(b_off, dtype=np.intp)
        self.n_layers = self.sizes.shape[0] - 1
        self.n_weights = n_weights
        self.n_params = self.b_off[self.n_layers - 1] + self.sizes[self.n_layers]
        # act_codes has one entry per hidden layer; pad so it is never empty.
        self.act_codes = np.ascontiguousarray(list(act_codes) + [0], dtype=np.intc)
        self.output_code = output_code
        self.capacity = capacity
        self.cum = np.ascontiguousarray(np.concatenate([[0], np.cumsum(sizes)]),
                                        dtype=np.intp)
        total = capacity * self.cum[self.n_layers + 1]
        # One buffer, activations then deltas: the layout _fused.c expects.
        self.work = np.zeros(2 * total, dtype=dtype)
        self.acts = self.work[:total]
        self.deltas = self.work[total:]
        self.layout.n_layers = self.n_layers
        self.layout.sizes = &self.sizes[0]
        self.layout.w_off = &self.w_off[0]
        self.layout.b_off = &self.b_off[0]
        self.layout.cum = &self.cum[0]
        self.layout.act = &self.act_codes[0]
        self.layout.output = output_code
        # one batch's truth, gathered from the data set's rows
        self.labels = np.zeros(capacity, dtype=np.intp)
        self.targets = np.zeros(capacity * self.sizes[self.n_layers], dtype=dtype)
        self.weights = np.zeros(capacity, dtype=dtype)
        self.gathered.labels = <Py_ssize_t*>cnp.PyArray_DATA(self.labels)
        self.gathered.targets = cnp.PyArray_DATA(self.targets)
        self.gathered.weights = cnp.PyArray_DATA(self.weights)

    def bind(self, cnp.ndarray params):
        """Bind a model's flat parameter buffer for forward_row (kept alive here)."""
        if not (params.flags.c_contiguous and params.dtype == self.work.dtype
                and params.shape[0] == self.n_params):
            raise ValueError("params do not match this plan")
        self.bound = params
        self.f32 = params.dtype == np.float32

    def forward_row(self, cnp.ndarray x, cnp.ndarray out):
        """The latency path for one row: out (1, k) = outputs for x (1, d).

        x and out must be C-contiguous arrays of the plan's dtype and shape (the
        caller checks; no buffer protocol, no dtype dispatch). Returns -1 when x holds
        NaN or infinity (out untouched), else the index of the largest output.
        """
        cdef Py_ssize_t best, d = self.sizes[0], k = self.sizes[self.n_layers]
        cdef void* xp = cnp.PyArray_DATA(x)
        cdef void* op = cnp.PyArray_DATA(out)
        cdef void* pp = cnp.PyArray_DATA(self.bound)
        cdef void* wp = cnp.PyArray_DATA(self.work)
        with nogil:
            if self.f32:
                best = _forward_row(&self.layout, <float*>pp, <float*>wp, <float*>xp,
                                    <float*>op, d, k)
            else:
                best = _forward_row(&self.layout, <double*>pp, <double*>wp, <double*>xp,
                                    <double*>op, d, k)
        return best


cdef Py_ssize_t _forward_row(const fn_layout* layout, const floating* params,
                             floating* work, const floating* x, floating* out,
                             Py_ssize_t d, Py_ssize_t k) noexcept nogil:
    # out (k) = outputs for one row x (d) by the fused C forward; returns -1 when x
    # holds NaN or infinity (out untouched), else the index of the largest output.
    cdef Py_ssize_t j, best = 0
    for j in range(d):
        if not isfinite(x[j]):
            return -1
    if floating is float:
        fn_forward_single_f32(layout, params, work, x, out)
    else:
        fn_forward_single_f64(layout, params, work, x, out)
    for j in range(1, k):
        if out[j] > out[best]:
            best = j
    return best


cdef void _forward(Plan plan, floating* params, floating* acts, Py_ssize_t n) noexcept nogil:
    # acts layer 0 holds the input rows (n, sizes[0]); fills layers 1..L.
    # The output layer is left as logits / linear outputs.
    cdef Py_ssize_t l, L = plan.n_layers, cap = plan.capacity
    cdef floating* out
    for l in range(L):
        out = acts + cap * plan.cum[l + 1]
        _dense_forward(out, acts + cap * plan.cum[l], params + plan.w_off[l],
                       params + plan.b_off[l], n, plan.sizes[l], plan.sizes[l + 1])
        if l < L - 1:
            _activation_forward(plan.act_codes[l], out, out, n * plan.sizes[l + 1])


cdef double _loss_forward(Plan plan, floating* acts, const Truth* truth,
                          Py_ssize_t n) noexcept nogil:
    # Turns the output layer into probabilities (softmax) and returns the summed loss.
    cdef Py_ssize_t L = plan.n_layers, k = plan.sizes[L]
    cdef floating* out = acts + plan.capacity * plan.cum[L]
    cdef const floating* w = <const floating*>truth.weights
    if plan.output_code == OUT_SOFTMAX:
        return _softmax_xent_forward(out, out, truth.labels, w, n, k)
    return _squared_error_forward(out, <const floating*>truth.targets, w, n, k)


cdef void _output_backward(Plan plan, floating* acts, floating* deltas,
                           const Truth* truth, Py_ssize_t n, floating scale) noexcept nogil:
    # The output layer's delta: scale * d(summed loss)/d(output pre-activation).
    cdef Py_ssize_t L = plan.n_layers, cap = plan.capacity, k = plan.sizes[L]
    cdef floating* dout = deltas + cap * plan.cum[L]
    cdef floating* out = acts + cap * plan.cum[L]
    cdef const floating* w = <const floating*>truth.weights
    if plan.output_code == OUT_SOFTMAX:
        _softmax_xent_backward(dout, out, truth.labels, w, n, k, scale)
    else:
        _squared_error_backward(dout, out, <const floating*>truth.targets, w, n, k, scale)


cdef void _backward(Plan plan, floating* params, floating* grads, floating* acts,
                    floating* deltas, const Truth* truth, Py_ssize_t n, floating scale,
                    bint accumulate) noexcept nogil:
    # ADDS (or, without accumulate, writes) scale * d(summed loss)/d(params) into
    # grads (scale = 1 / batch size).
    cdef Py_ssize_t l, L = plan.n_layers, cap = plan.capacity
    cdef floating* dout
    cdef floating* dx
    _output_backward(plan, acts, deltas, truth, n, scale)
    for l in range(L - 1, -1, -1):
        dout = deltas + cap * plan.cum[l + 1]
        dx = deltas + cap * plan.cum[l] if l > 0 else NULL
        _dense_backward(dx, grads + plan.w_off[l], grads + plan.b_off[l], dout,
                        acts + cap * plan.cum[l], params + plan.w_off[l], n,
                        plan.sizes[l], plan.sizes[l + 1], accumulate)
        if l > 0:
            _activation_backward(plan.act_codes[l - 1], dx, dx,
                                 acts + cap * plan.cum[l], n * plan.sizes[l])


cdef void _backward_sgd(Plan plan, floating* params, floating* scratch, floating* acts,
                        floating* deltas, const Truth* truth, Py_ssize_t n, floating scale,
                        floating eta) noexcept nogil:
    # Backward pass and plain SGD step (no momentum, no l2) in one sweep, top layer
    # first: each layer's input gradient is taken before its weights change, and the
    # layers below are still untouched, so this is the same step as computing every
    # gradient first. scratch (the gradient buffer) receives the bias gradients.
    cdef Py_ssize_t l, L = plan.n_layers, cap = plan.capacity
    cdef floating* dx
    _output_backward(plan, acts, deltas, truth, n, scale)
    for l in range(L - 1, -1, -1):
        dx = deltas + cap * plan.cum[l] if l > 0 else NULL
        _dense_backward_sgd(dx, params + plan.w_off[l], params + plan.b_off[l],
                            scratch + plan.b_off[l], deltas + cap * plan.cum[l + 1],
                            acts + cap * plan.cum[l], n, plan.sizes[l], plan.sizes[l + 1],
                            eta)
        if l > 0:
            _activation_backward(plan.act_codes[l - 1], dx, dx,
                                 acts + cap * plan.cum[l], n * plan.sizes[l])


cdef Truth _load_rows(Plan plan, floating* acts, const floating* X, const Truth* source,
                      const Py_ssize_t* order, Py_ssize_t start, Py_ssize_t n) noexcept nogil:
    # Gathers rows order[start:start+n] (or start:start+n when order is NULL) of X into
    # the input layer, and of the truth (what source has) into the plan's buffers;
    # returns where the gathered truth is.
    cdef Py_ssize_t i, r, d = plan.sizes[0], k = plan.sizes[plan.n_layers]
    cdef Truth batch
    cdef const floating* t_in = <const floating*>source.targets
    cdef const floating* w_in = <const floating*>source.weights
    cdef floating* t_out = <floating*>plan.gathered.targets
    cdef floating* w_out = <floating*>plan.gathered.weights
    batch.labels = plan.gathered.labels if source.labels != NULL else NULL
    batch.targets = plan.gathered.targets if t_in != NULL else NULL
    batch.weights = plan.gathered.weights if w_in != NULL else NULL
    for i in range(n):
        r = order[start + i] if order != NULL else start + i
        memcpy(acts + i * d, X + r * d, d * sizeof(floating))
        if source.labels != NULL:
            (<Py_ssize_t*>plan.gathered.labels)[i] = source.labels[r]
        if t_in != NULL:
            memcpy(t_out + i * k, t_in + r * k, k * sizeof(floating))
        if w_in != NULL:
            w_out[i] = w_in[r]
    return batch


cdef Truth _truth(const Py_ssize_t[::1] labels, const void* targets, const void* weights):
    cdef Truth t
    t.labels = &labels[0] if labels is not None else NULL
    t.targets = targets
    t.weights = weights
    return t


def forward(Plan plan, floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] out):
    """out (n, k) = network outputs (probabilities for softmax) for the rows of X.

    X is processed in chunks of plan.capacity rows through the plan's workspace.
    """
    cdef Py_ssize_t n = X.shape[0], L = plan.n_layers, k = plan.sizes[L]
    cdef Py_ssize_t b, start, rows
    cdef floating[::1] acts = plan.acts
    cdef Py_ssize_t[::1] labels = plan.labels
    cdef floating* out_layer = &acts[0] + plan.capacity * plan.cum[L]
    cdef floating[::1] work = plan.work
    cdef Truth none = _truth(None, NULL, NULL)
    if n == 1 and plan.capacity == 1:
        with nogil:   # X was checked by the caller; the row's class is not needed here
            _forward_row(&plan.layout, &params[0], &work[0], &X[0, 0], &out[0, 0],
                         plan.sizes[0], k)
        return
    with nogil:
        for b in range((n + plan.capacity - 1) // plan.capacity):
            start = b * plan.capacity
            rows = min(plan.capacity, n - start)
            _load_rows(plan, &acts[0], &X[0, 0], &none, NULL, start, rows)
            _forward(plan, &params[0], &acts[0], rows)
            if plan.output_code == OUT_SOFTMAX:
                # Labels are not needed for the probabilities; 0 is always valid.
                memset(&labels[0], 0, rows * sizeof(Py_ssize_t))
                _softmax_xent_forward(out_layer, out_layer, &labels[0], <floating*>NULL,
                                      rows, k)
            memcpy(&out[start, 0], out_layer, rows * k * sizeof(floating))


cdef inline const void* _ptr2(const floating[:, ::1] a):
    return &a[0, 0] if a is not None else NULL


cdef inline const void* _ptr1(const floating[::1] a):
    return &a[0] if a is not None else NULL


def loss_and_gradients(Plan plan, floating[::1] params, floating[::1] grads,
                       const floating[:, ::1] X, const Py_ssize_t[::1] labels,
                       const floating[:, ::1] targets, const floating[::1] weights=None):
    """Mean loss over the rows of X; ADDS its gradient into grads unless grads is None.

    Exactly one of labels (softmax) and targets (linear) is given; weights (optional)
    multiplies each row's loss. The rows go through the plan's workspace in chunks of
    plan.capacity, each chunk's gradient scaled by 1 / (all rows), so memory stays
    bounded whatever the number of rows.
    """
    cdef Py_ssize_t n = X.shape[0], b, start, rows
    cdef floating[::1] acts = plan.acts
    cdef floating[::1] deltas = plan.deltas
    cdef Truth source = _truth(labels, _ptr2(targets), _ptr1(weights))
    cdef Truth batch
    cdef double total = 0
    with nogil:
        for b in range((n + plan.capacity - 1) // plan.capacity):
            start = b * plan.capacity
            rows = min(plan.capacity, n - start)
            batch = _load_rows(plan, &acts[0], &X[0, 0], &source, NULL, start, rows)
            _forward(plan, &params[0], &acts[0], rows)
            total += _loss_forward(plan, &acts[0], &batch, rows)
            if grads is not None:
                _backward(plan, &params[0], &grads[0], &acts[0], &deltas[0], &batch, rows,
                          <floating>1 / n, True)
    return total / n


def train_epoch(Plan plan, floating[::1] params, floating[::1] grads,
                floating[::1] velocity, const floating[:, ::1] X,
                const Py_ssize_t[::1] labels, const floating[:, ::1] targets,
                const floating[::1] weights, const Py_ssize_t[::1] order,
                Py_ssize_t batch_size, double learning_rate, double lr_decay,
                double momentum, double l2, Py_ssize_t t0, bint fused=True):
    """One epoch of minibatch SGD, entirely in compiled code without the GIL.

    Visits the rows of X in `order`, batch_size at a time (the last batch may be
    smaller); each batch takes one step with eta_t = learning_rate / (1 + lr_decay t),
    t counting updates from t0. weights (or None) multiplies each row's loss. With
    batch_size 1 (and fused) the fused C loop of _fused.c runs; otherwise, per batch,
    the kernels above with BLAS, and for plain SGD (no momentum, no l2, fused) the
    step is folded into the backward GEMMs. fused=False takes the general path
    everywhere (for the tests). Returns (summed loss of the visited rows, each
    measured before its step; number of updates done; the last eta used). A step
    whose loss is NaN or infinite is not taken and ends the call early: fewer updates
    than batches tells the caller.
    """
    cdef Py_ssize_t n = order.shape[0], m = params.shape[0], b, start, rows
    cdef Py_ssize_t t = t0
    cdef floating[::1] acts = plan.acts
    cdef floating[::1] deltas = plan.deltas
    cdef Truth source = _truth(labels, _ptr2(targets), _ptr1(weights))
    cdef Truth batch
    cdef double total = 0, eta = learning_rate, step_loss
    cdef floating[::1] work = plan.work
    cdef fn_sgd cfg
    if batch_size > plan.capacity:
        raise ValueError(f"batch_size {batch_size} exceeds the workspace ({plan.capacity})")
    if batch_size == 1 and fused:
        cfg.learning_rate, cfg.lr_decay, cfg.momentum, cfg.l2, cfg.t0 = (
            learning_rate, lr_decay, momentum, l2, t0)
        with nogil:
            if floating is float:
                total = fn_sgd_epoch_single_f32(
                    &plan.layout, &params[0], &velocity[0], &work[0], &X[0, 0],
                    source.labels, <const float*>source.targets,
                    <const float*>source.weights, &order[0], n, &cfg, &eta, &t)
            else:
                total = fn_sgd_epoch_single_f64(
                    &plan.layout, &params[0], &velocity[0], &work[0], &X[0, 0],
                    source.labels, <const double*>source.targets,
                    <const double*>source.weights, &order[0], n, &cfg, &eta, &t)
        return total, t, eta
    with nogil:
        for b in range((n + batch_size - 1) // batch_size):
            start = b * batch_size
            rows = min(batch_size, n - start)
            batch = _load_rows(plan, &acts[0], &X[0, 0], &source, &order[0], start, rows)
            _forward(plan, &params[0], &acts[0], rows)
            step_loss = _loss_forward(plan, &acts[0], &batch, rows)
            if not isfinite(step_loss):
                break     # diverged: stop before this step; the caller decides
            total += step_loss
            eta = learning_rate / (1.0 + lr_decay * t)
            if momentum == 0 and l2 == 0 and fused:
                _backward_sgd(plan, &params[0], &grads[0], &acts[0], &deltas[0], &batch,
                              rows, <floating>1 / rows, <floating>eta)
            else:
                # accumulate=False: every layer overwrites its gradients, no zeroing.
                _backward(plan, &params[0], &grads[0], &acts[0], &deltas[0], &batch, rows,
                          <floating>1 / rows, False)
                _sgd_update(&params[0], &grads[0], &velocity[0], m, plan.n_weights,
                            <floating>eta, <floating>momentum, <floating>l2)
            t += 1
    return total, t - t0, eta
