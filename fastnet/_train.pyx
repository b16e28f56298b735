# Whole-network passes over the flat buffers, and the compiled training epoch.
#
# Layout (computed once in fastnet/_base.py and shared with the reference):
#   params = [W_0, W_1, ..., W_{L-1}, b_0, ..., b_{L-1}], each W_l (sizes[l+1], sizes[l])
#   row-major; weights first so that l2 applies to the prefix params[:n_weights].
#   grads and the optimizer's state buffers are parallel flat buffers, same layout.
# Workspace: acts holds every layer's rows one after the other; layer l (0 = the
#   input batch, L = the output) starts at capacity * cum[l] and is (rows, sizes[l]).
#   deltas has the same layout and holds dL/d(pre-activation) of each layer.
#   Hidden activations are applied in place: the backward pass needs only outputs.
# The per-element math (activations, heads, optimizers) is _components.h's, through
# the inline dispatchers of _kernels.pxd; an unknown component code is reported as
# an error (the Plan checks its codes when it is made).
from cython cimport floating
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.math cimport isfinite
from libc.string cimport memcpy, memset
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF

cimport numpy as cnp
import numpy as np

from fastnet._blas import load as _load_blas
from fastnet._params import aligned_zeros, workspace_sizes
from fastnet.components import HEADS

cnp.import_array()

from fastnet._kernels cimport (
    fnet_optim, _dense_forward, _dense_backward, _dense_backward_sgd, _activation_forward,
    _activation_backward, _head_output_row, _head_loss, _head_delta, _head_clipped_loss_row,
    _optimizer_update,
    _optim_struct, _state_pointers,
)


cdef extern from "_persample.h":
    ctypedef struct fnet_layout:
        Py_ssize_t n_layers
        const Py_ssize_t* sizes
        const Py_ssize_t* w_off
        const Py_ssize_t* b_off
        const Py_ssize_t* cum
        const int* act
        int output
    ctypedef struct fnet_truth:
        const Py_ssize_t* labels    # (rows,) class indices, classification heads
        const void* targets         # (rows, k) targets of the model's dtype, regression heads
        const void* weights         # (rows,) sample weights of the model's dtype
    ctypedef struct fnet_epoch:
        double loss
        double last_eta
        Py_ssize_t updates
    int fnet_layout_check(const fnet_layout* net) noexcept nogil
    int fnet_finite_f32(const float* x, Py_ssize_t n) noexcept nogil
    int fnet_finite_f64(const double* x, Py_ssize_t n) noexcept nogil
    int fnet_all_finite_f32(const float* x, Py_ssize_t n) noexcept nogil
    int fnet_all_finite_f64(const double* x, Py_ssize_t n) noexcept nogil
    int fnet_persample_epoch_f32(const fnet_layout* net, const fnet_optim* cfg, float* params,
                                 float** state, float* work, const float* X,
                                 const fnet_truth* truth, const Py_ssize_t* order,
                                 Py_ssize_t n, Py_ssize_t t0, fnet_epoch* result) noexcept nogil
    int fnet_persample_epoch_f64(const fnet_layout* net, const fnet_optim* cfg,
                                 double* params, double** state, double* work,
                                 const double* X, const fnet_truth* truth,
                                 const Py_ssize_t* order, Py_ssize_t n, Py_ssize_t t0,
                                 fnet_epoch* result) noexcept nogil
    int fnet_forward_row_f32(const fnet_layout* net, const float* params, float* work,
                             const float* x, float* out) noexcept nogil
    int fnet_forward_row_f64(const fnet_layout* net, const double* params, double* work,
                             const double* x, double* out) noexcept nogil

cdef extern from "_pool.h":
    ctypedef void (*fnet_part_fn)(void* ctx, int part) noexcept nogil
    void fnet_pool_run(fnet_part_fn fn, void* ctx, int parts) noexcept nogil
    int fnet_pool_available() noexcept nogil


def pool_available():
    """Whether the worker thread that splits batches in two (_pool.h) runs or can
    start here (False without POSIX threads)."""
    return bool(fnet_pool_available())


cdef class Plan:
    """Layer layout of one network plus a workspace for up to `capacity` rows.

    Made once per fit (capacity = batch size) or per forward call, and reused for
    every step, so the training loop allocates nothing.
    """
    cdef readonly Py_ssize_t n_layers, capacity, n_weights, n_params
    cdef readonly int output_code
    cdef Py_ssize_t[::1] sizes, w_off, b_off, cum
    cdef int[::1] act_codes
    cdef fnet_layout layout   # the same layout for the C kernels (points into the above)
    cdef readonly object work, acts, deltas, labels, targets, weights
    cdef fnet_truth gathered  # points into labels / targets / weights above
    cdef object bound         # parameters bound for the single-row path
    cdef object guard         # the model's ModelLock, for the row methods (bind_rows)
    cdef bint classifier      # the head's outputs are probabilities (predict_proba)
    cdef bint f32
    cdef readonly bint labels_head   # the head's truth is class labels (else targets)
    cdef int typenum                 # numpy type number of the plan's dtype
    cdef cnp.dtype descr             # and its descriptor

    def __init__(self, sizes, w_off, b_off, n_weights, act_codes, int output_code,
                 dtype, Py_ssize_t capacity):
        # The kernels trust this layout: it must be the one fastnet._params computes.
        # Checked on Python ints (a plan is made by every fit: numpy calls on arrays of
        # a few elements cost more than the layers' arithmetic here).
        sz = [int(s) for s in sizes]
        cdef Py_ssize_t L = len(sz) - 1, l
        if L < 1 or min(sz) < 1 or len(act_codes) != L - 1:
            raise ValueError(f"sizes {sz} and {len(act_codes)} activation codes "
                             f"are not a network's layout")
        want_w, want_b, at_w, at_b = [], [], 0, n_weights
        for l in range(L):
            want_w.append(at_w)
            want_b.append(at_b)
            at_w += sz[l] * sz[l + 1]
            at_b += sz[l + 1]
        if (n_weights != at_w or [int(o) for o in w_off] != want_w
                or [int(o) for o in b_off] != want_b):
            raise ValueError("w_off, b_off and n_weights are not the layout of sizes "
                             f"{sz} (see fastnet._params.param_layout)")
        self.n_layers = L
        self.sizes = np.array(sz, dtype=np.intp)
        self.w_off = np.array(want_w, dtype=np.intp)
        self.b_off = np.array(want_b, dtype=np.intp)
        self.n_weights = n_weights
        self.n_params = at_b
        # act_codes has one entry per hidden layer; pad so it is never empty.
        self.act_codes = np.array(list(act_codes) + [0], dtype=np.intc)
        self.output_code = output_code
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        # Layer l's slot starts at capacity * cum[l] values into the workspace; each
        # slot is padded to a multiple of 64 bytes and the workspace starts on a 64-byte
        # boundary, so every layer's rows start on a cache line (G float32 ran ~30%
        # slower, from one process to the next, with its 64 hidden values straddling
        # lines where numpy's 16-byte-aligned allocation put them).
        dtype = np.dtype(dtype)
        cum, at = [0], 0
        for slot in workspace_sizes(sz, dtype):
            at += slot
            cum.append(at)
        self.cum = np.array(cum, dtype=np.intp)
        total = capacity * cum[L + 1]
        # One buffer, activations then deltas: the layout _persample.c expects.
        self.work = aligned_zeros(2 * total, dtype)
        self.acts = self.work[:total]
        self.deltas = self.work[total:]
        self.layout.n_layers = self.n_layers
        self.layout.sizes = &self.sizes[0]
        self.layout.w_off = &self.w_off[0]
        self.layout.b_off = &self.b_off[0]
        self.layout.cum = &self.cum[0]
        self.layout.act = &self.act_codes[0]
        self.layout.output = output_code
        if fnet_layout_check(&self.layout) != 0:
            raise ValueError(f"activation codes {list(act_codes)} or output code "
                             f"{output_code} are not all implemented by the compiled kernels")
        # one batch's truth, gathered from the data set's rows
        self.labels = np.zeros(capacity, dtype=np.intp)
        self.targets = np.zeros(capacity * self.sizes[self.n_layers], dtype=dtype)
        self.weights = np.zeros(capacity, dtype=dtype)
        self.gathered.labels = <Py_ssize_t*>cnp.PyArray_DATA(self.labels)
        self.gathered.targets = cnp.PyArray_DATA(self.targets)
        self.gathered.weights = cnp.PyArray_DATA(self.weights)
        self.labels_head = list(HEADS.values())[output_code].truth == "labels"
        self.typenum = cnp.PyArray_TYPE(self.work)
        self.descr = self.work.dtype
        self.f32 = self.work.dtype == np.float32

    def bind(self, cnp.ndarray params not None):
        """Bind a model's flat parameter buffer for forward_row (kept alive here)."""
        if not (params.ndim == 1 and params.flags.c_contiguous
                and params.dtype == self.work.dtype and params.shape[0] == self.n_params):
            raise ValueError(f"params ({params.dtype}, shape {(<object>params).shape}) do not match "
                             f"this plan ({self.work.dtype}, {self.n_params} parameters)")
        self.bound = params

    def bind_rows(self, cnp.ndarray params not None, guard not None, bint classifier):
        """bind(params), and serve the row methods (forward_method and co.) of the model
        whose lock is guard; classifier: whether its head has predict_proba."""
        self.bind(params)
        self.guard = guard
        self.classifier = classifier

    def forward_row(self, cnp.ndarray x not None, cnp.ndarray out not None):
        """The latency path for one row: out (1, k) = outputs for x (1, d).

        x and out must be C-contiguous arrays of the plan's dtype and shape, out
        writable (checked here at C level: no buffer protocol, no dtype dispatch;
        ValueError otherwise). Returns -1 when x holds NaN or infinity (out
        untouched), else the index of the largest output.
        """
        cdef Py_ssize_t best, d = self.sizes[0], k = self.sizes[self.n_layers]
        cdef void* xp
        cdef void* op
        cdef void* pp
        cdef void* wp = cnp.PyArray_DATA(self.work)
        if self.bound is None:
            raise ValueError("forward_row needs parameters: call bind(params) first")
        if not (_row_array(x, self.typenum, d, False)
                and _row_array(out, self.typenum, k, True)):
            raise ValueError(f"forward_row needs x (1, {d}) and a writable out (1, {k}), "
                             f"C-contiguous {self.work.dtype} arrays")
        xp = cnp.PyArray_DATA(x)
        op = cnp.PyArray_DATA(out)
        pp = cnp.PyArray_DATA(self.bound)
        with nogil:
            if self.f32:
                best = _forward_row(&self.layout, <float*>pp, <float*>wp, <float*>xp,
                                    <float*>op, d, k)
            else:
                best = _forward_row(&self.layout, <double*>pp, <double*>wp, <double*>xp,
                                    <double*>op, d, k)
        return best


# Largest network the GIL-held row path serves: about 10 us of arithmetic, so other
# threads wait at most that long; bigger networks take forward_row (GIL released).
ROW_CALL_MAX_PARAMS = 1 << 16


def row_call(object plan, object guard, object X, bint argmax):
    """The whole latency path of one clean row in one C call, the GIL held throughout.

    plan : a Plan made with capacity 1 and bound to the model's parameters, used by
        this function (and the row methods below) only: holding the GIL serialises its
        uses of the workspace, and no fit can start (fit takes the GIL to take the
        model) while it runs.
    guard : the model's ModelLock; a fit running in another thread owns the model, and
        then this returns None (the general path raises the usual RuntimeError).
    X : anything; only a C-contiguous (1, d) ndarray of the plan's dtype, finite, is
        served here.
    argmax : return the index of the largest output as an intp array (1,) (predict of
        a labels head) instead of the outputs (1, k).

    Returns None for everything this path does not serve (the caller takes the
    general path, which converts or raises the usual error), else the result.
    """
    if type(plan) is not Plan:
        return None
    return _row_serve(<Plan>plan, guard, X, argmax)


# The public single-row methods of fastnet.network.MLP (forward, predict_proba,
# predict), as functions of this module so that a clean row goes from the caller's
# call to the result without a Python frame: the model's row plan (an attribute
# made by the first clean row, see network.py) serves it through _row_serve, and
# everything else (no plan yet, another dtype or shape, NaN, a fit in another
# thread, a head without the fast path) takes the model's general method, which
# converts or raises exactly as before.
def forward_method(self, X):
    plan = self._row_call_plan
    if type(plan) is Plan:
        out = _row_serve(<Plan>plan, (<Plan>plan).guard, X, False)
        if out is not None:
            return out
    return self._forward_general(X)


def predict_proba_method(self, X):
    plan = self._row_call_plan
    if type(plan) is Plan and (<Plan>plan).classifier:
        out = _row_serve(<Plan>plan, (<Plan>plan).guard, X, False)
        if out is not None:
            return out
    return self._predict_proba_general(X)


def predict_method(self, X):
    plan = self._row_call_plan
    if type(plan) is Plan and (<Plan>plan).labels_head:   # predict = argmax
        out = _row_serve(<Plan>plan, (<Plan>plan).guard, X, True)
        if out is not None:
            return out
    return self._predict_general(X)


cdef object _row_serve(Plan p, object guard, object X, bint argmax):
    # row_call's work once plan is known to be a Plan: the result, or None
    cdef cnp.ndarray x, out
    cdef Py_ssize_t best, d = p.layout.sizes[0], k = p.layout.sizes[p.n_layers]
    cdef cnp.npy_intp dims[2]
    cdef void* op
    if type(X) is not cnp.ndarray or guard is None:
        return None
    x = <cnp.ndarray>X
    if p.bound is None or not _row_array(x, p.typenum, d, False):
        return None
    owner = guard._owner
    if owner is not None and owner != PyThread_get_thread_ident():
        return None
    if argmax:   # the outputs go to the plan's scratch (its deltas), only the class out
        dims[0] = 1
        out = _new_array(_INTP_DESCR, 1, dims)
        op = cnp.PyArray_DATA(p.deltas)
    else:
        dims[0] = 1
        dims[1] = k
        out = _new_array(p.descr, 2, dims)
        op = cnp.PyArray_DATA(out)
    if p.f32:
        best = _forward_row(&p.layout, <float*>cnp.PyArray_DATA(p.bound),
                            <float*>cnp.PyArray_DATA(p.work), <float*>cnp.PyArray_DATA(x),
                            <float*>op, d, k)
    else:
        best = _forward_row(&p.layout, <double*>cnp.PyArray_DATA(p.bound),
                            <double*>cnp.PyArray_DATA(p.work), <double*>cnp.PyArray_DATA(x),
                            <double*>op, d, k)
    if best < 0:   # NaN or infinity in x: the general path raises its ValueError
        return None
    if argmax:
        (<Py_ssize_t*>cnp.PyArray_DATA(out))[0] = best
    return out


cdef extern from "numpy/arrayobject.h":
    object _np_new_from_descr "PyArray_NewFromDescr" (
        PyTypeObject* subtype, cnp.dtype descr, int nd, cnp.npy_intp* dims,
        cnp.npy_intp* strides, void* data, int flags, PyObject* obj)

cdef cnp.dtype _INTP_DESCR = np.dtype(np.intp)


cdef inline object _new_array(cnp.dtype descr, int nd, cnp.npy_intp* dims):
    # np.empty(dims, descr), C order, straight from the descriptor (no type number
    # lookup); PyArray_NewFromDescr steals a reference to descr
    Py_INCREF(descr)
    return _np_new_from_descr(<PyTypeObject*>cnp.ndarray, descr, nd, dims,
                              NULL, NULL, 0, NULL)


def all_finite(cnp.ndarray a not None):
    """Whether the float array `a` holds no NaN or infinity (numpy's
    ``isfinite(a).all()``): one compiled pass for C-contiguous float32 and float64
    arrays in native byte order, numpy's test for any other."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    cdef int typenum = cnp.PyArray_TYPE(a), ok
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISNOTSWAPPED(a)
            and typenum in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
        return bool(np.isfinite(a).all())
    with nogil:     # the data of a fit: tens of MB at most, read once
        if typenum == cnp.NPY_FLOAT32:
            ok = fnet_all_finite_f32(<const float*>cnp.PyArray_DATA(a), n)
        else:
            ok = fnet_all_finite_f64(<const double*>cnp.PyArray_DATA(a), n)
    return ok != 0


cdef inline bint _row_array(cnp.ndarray a, int typenum, Py_ssize_t width, bint writable):
    # a is a C-contiguous (1, width) array of type typenum (writable when asked)
    # (in native byte order: a '>f4' array has float32's type number)
    return (cnp.PyArray_NDIM(a) == 2 and cnp.PyArray_DIM(a, 0) == 1
            and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_DIM(a, 1) == width and cnp.PyArray_TYPE(a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and (not writable or cnp.PyArray_ISWRITEABLE(a)))


cdef Py_ssize_t _forward_row(const fnet_layout* layout, const floating* params,
                             floating* work, const floating* x, floating* out,
                             Py_ssize_t d, Py_ssize_t k) noexcept nogil:
    # out (k) = outputs for one row x (d) by the per-sample C forward; returns -1 when
    # x holds NaN or infinity (out untouched), else the index of the largest output.
    # (The layout's codes were checked when the plan was made.)
    cdef Py_ssize_t j, best = 0
    if floating is float:
        if not fnet_finite_f32(x, d):
            return -1
        fnet_forward_row_f32(layout, params, work, x, out)
    else:
        if not fnet_finite_f64(x, d):
            return -1
        fnet_forward_row_f64(layout, params, work, x, out)
    for j in range(1, k):
        if out[j] > out[best]:
            best = j
    return best


cdef void _forward(Plan plan, floating* params, floating* acts, const floating* x,
                   Py_ssize_t n) noexcept nogil:
    # x: the input rows (n, sizes[0]), acts' layer 0 or the caller's own contiguous rows
    # (an inference pass reads them where they are: no copy); fills layers 1..L of acts.
    # The output layer is left as pre-activations (the head's transform is separate).
    cdef Py_ssize_t l, L = plan.n_layers, cap = plan.capacity
    cdef floating* out
    for l in range(L):
        out = acts + cap * plan.cum[l + 1]
        _dense_forward(out, x if l == 0 else acts + cap * plan.cum[l], params + plan.w_off[l],
                       params + plan.b_off[l], n, plan.sizes[l], plan.sizes[l + 1])
        if l < L - 1:
            _activation_forward(plan.act_codes[l], out, n * plan.sizes[l + 1])


cdef double _loss_forward(Plan plan, floating* acts, const fnet_truth* truth,
                          Py_ssize_t n) noexcept nogil:
    # Turns the output layer into the head's outputs and returns the summed loss.
    cdef Py_ssize_t L = plan.n_layers, k = plan.sizes[L]
    cdef floating* out = acts + plan.capacity * plan.cum[L]
    cdef int status = 0
    return _head_loss(plan.output_code, out, out, truth.labels,
                      <const floating*>truth.targets, <const floating*>truth.weights, n, k,
                      &status)


cdef double _clipped_loss(Plan plan, const floating* acts, const fnet_truth* truth,
                          Py_ssize_t n) noexcept nogil:
    # The summed (weighted) loss of the n rows whose head outputs are in the output
    # layer, with probabilities clipped to [eps, 1 - eps], eps the dtype's (how
    # scikit-learn reports its loss).
    cdef Py_ssize_t i, L = plan.n_layers, k = plan.sizes[L]
    cdef const floating* out = acts + plan.capacity * plan.cum[L]
    cdef const floating* targets = <const floating*>truth.targets
    cdef const floating* weights = <const floating*>truth.weights
    cdef floating eps = FLT_EPSILON if floating is float else DBL_EPSILON
    cdef double total = 0, row
    cdef int status = 0
    for i in range(n):
        row = _head_clipped_loss_row(plan.output_code, out + i * k,
                                     truth.labels[i] if truth.labels != NULL else 0,
                                     targets + i * k if targets != NULL else NULL, k, eps,
                                     &status)
        # a row of weight 0 adds nothing, even a loss that overflowed (0 * inf is NaN)
        if weights == NULL:
            total += row
        elif weights[i] != 0:
            total += row * weights[i]
    return total


cdef void _output_backward(Plan plan, floating* acts, floating* deltas,
                           const fnet_truth* truth, Py_ssize_t n, floating scale) noexcept nogil:
    # The output layer's delta: scale * d(summed loss)/d(output pre-activation).
    cdef Py_ssize_t L = plan.n_layers, cap = plan.capacity, k = plan.sizes[L]
    _head_delta(plan.output_code, deltas + cap * plan.cum[L], acts + cap * plan.cum[L],
                truth.labels, <const floating*>truth.targets,
                <const floating*>truth.weights, n, k, scale)


cdef void _backward(Plan plan, floating* params, floating* grads, floating* acts,
                    floating* deltas, const fnet_truth* truth, Py_ssize_t n, floating scale,
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
            _activation_backward(plan.act_codes[l - 1], dx, acts + cap * plan.cum[l],
                                 n * plan.sizes[l])


cdef void _backward_sgd(Plan plan, floating* params, floating* scratch, floating* acts,
                        floating* deltas, const fnet_truth* truth, Py_ssize_t n,
                        floating scale, floating eta) noexcept nogil:
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
            _activation_backward(plan.act_codes[l - 1], dx, acts + cap * plan.cum[l],
                                 n * plan.sizes[l])


cdef fnet_truth _load_rows(Plan plan, floating* acts, const floating* X,
                           const fnet_truth* source, const Py_ssize_t* order,
                           Py_ssize_t start, Py_ssize_t n) noexcept nogil:
    # Gathers rows order[start:start+n] (or start:start+n when order is NULL) of X into
    # the input layer (unless acts is NULL: a pass that reads X where it is), and of the
    # truth (what source has) into the plan's buffers; returns where the gathered truth
    # is.
    cdef Py_ssize_t i, r, d = plan.sizes[0], k = plan.sizes[plan.n_layers]
    cdef fnet_truth batch
    cdef const floating* t_in = <const floating*>source.targets
    cdef const floating* w_in = <const floating*>source.weights
    cdef floating* t_out = <floating*>plan.gathered.targets
    cdef floating* w_out = <floating*>plan.gathered.weights
    batch.labels = plan.gathered.labels if source.labels != NULL else NULL
    batch.targets = plan.gathered.targets if t_in != NULL else NULL
    batch.weights = plan.gathered.weights if w_in != NULL else NULL
    for i in range(n):
        r = order[start + i] if order != NULL else start + i
        if acts != NULL:
            memcpy(acts + i * d, X + r * d, d * sizeof(floating))
        if source.labels != NULL:
            (<Py_ssize_t*>plan.gathered.labels)[i] = source.labels[r]
        if t_in != NULL:
            memcpy(t_out + i * k, t_in + r * k, k * sizeof(floating))
        if w_in != NULL:
            w_out[i] = w_in[r]
    return batch


cdef fnet_truth _truth(const Py_ssize_t[::1] labels, const void* targets, const void* weights):
    cdef fnet_truth t
    t.labels = &labels[0] if labels is not None else NULL
    t.targets = targets
    t.weights = weights
    return t


cdef int _check_shapes(Plan plan, const floating[::1] params,
                       const floating[:, ::1] X) except -1:
    # Every entry into the compiled passes checks its buffers against the plan first
    # (once per call): the kernels index them by the plan's layout alone, so a buffer
    # of another model (a callback that replaced the model's state during fit) would
    # otherwise be read and written out of bounds.
    if params is None or X is None:
        raise ValueError("params and X must be arrays, not None")
    if params.shape[0] != plan.n_params or X.shape[1] != plan.sizes[0]:
        raise ValueError(f"params ({params.shape[0]}) or X's width ({X.shape[1]}) do not "
                         f"match the plan ({plan.n_params} parameters, "
                         f"{plan.sizes[0]} inputs)")
    return 0


cdef int _check_grads(Plan plan, const floating[::1] grads, str name) except -1:
    if grads is None or grads.shape[0] != plan.n_params:
        got = "None" if grads is None else f"length {grads.shape[0]}"
        raise ValueError(f"{name} has {got}, expected {plan.n_params} entries (the plan's "
                         f"parameters)")
    return 0


cdef int _check_data(Plan plan, const floating[:, ::1] X, const Py_ssize_t[::1] labels,
                     const floating[:, ::1] targets, const floating[::1] weights,
                     const Py_ssize_t[::1] order) except -1:
    # The truth of the plan's head for every row of X (labels in 0..k-1, or targets
    # (n, k)), weights (n,) when given, and order (when given) within 0..n-1: O(n),
    # once per call, against the steps' O(n * parameters).
    cdef Py_ssize_t i, n = X.shape[0], k = plan.sizes[plan.n_layers], bad = -1
    if plan.labels_head:
        if labels is None or labels.shape[0] != n:
            raise ValueError(f"labels must have {n} entries (one per row of X), got "
                             f"{'None' if labels is None else labels.shape[0]}")
        with nogil:
            for i in range(n):
                if labels[i] < 0 or labels[i] >= k:
                    bad = i
                    break
        if bad >= 0:
            raise ValueError(f"labels[{bad}] = {labels[bad]} is outside 0..{k - 1}")
    elif targets is None or targets.shape[0] != n or targets.shape[1] != k:
        raise ValueError(f"targets must have shape ({n}, {k}), got "
                         f"{'None' if targets is None else (targets.shape[0], targets.shape[1])}")
    if labels is not None and labels.shape[0] != n:
        raise ValueError(f"labels must have {n} entries, got {labels.shape[0]}")
    if targets is not None and (targets.shape[0] != n or targets.shape[1] != k):
        raise ValueError(f"targets must have shape ({n}, {k}), got "
                         f"({targets.shape[0]}, {targets.shape[1]})")
    if weights is not None and weights.shape[0] != n:
        raise ValueError(f"weights must have {n} entries (one per row of X), got "
                         f"{weights.shape[0]}")
    if order is not None:
        with nogil:
            for i in range(order.shape[0]):
                if order[i] < 0 or order[i] >= n:
                    bad = i
                    break
        if bad >= 0:
            raise ValueError(f"order[{bad}] = {order[bad]} is not a row of X (0..{n - 1})")
    return 0


cdef int _check_steps(Plan plan, const floating[::1] params, const floating[::1] grads,
                      const floating[:, ::1] X, const Py_ssize_t[::1] labels,
                      const floating[:, ::1] targets, const floating[::1] weights,
                      const Py_ssize_t[::1] order, Py_ssize_t batch_size) except -1:
    # train_epoch's and train_epoch_sklearn's buffers (the state's: _state_pointers)
    _check_shapes(plan, params, X)
    _check_grads(plan, grads, "grads")
    if order is None:
        raise ValueError("order must be an array of row indices, not None")
    if batch_size < 1 or batch_size > plan.capacity:
        raise ValueError(f"batch_size {batch_size} is not in 1..{plan.capacity} (the "
                         f"workspace)")
    _check_data(plan, X, labels, targets, weights, order)
    return 0


def forward(Plan plan not None, floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] out):
    """out (n, k) = the head's outputs (probabilities for softmax) for the rows of X.

    X is processed in chunks of plan.capacity rows, read where they are (the workspace
    holds the hidden layers and the outputs).
    """
    cdef Py_ssize_t n = X.shape[0], L = plan.n_layers, k = plan.sizes[L]
    cdef Py_ssize_t b, i, start, rows
    cdef floating[::1] acts = plan.acts
    cdef floating* out_layer = &acts[0] + plan.capacity * plan.cum[L]
    cdef floating[::1] work = plan.work
    _check_shapes(plan, params, X)
    if out is None or out.shape[0] != n or out.shape[1] != k:
        raise ValueError(f"out must have shape ({n}, {k})")
    if n == 1 and plan.capacity == 1:
        with nogil:   # X was checked by the caller; the row's class is not needed here
            _forward_row(&plan.layout, &params[0], &work[0], &X[0, 0], &out[0, 0],
                         plan.sizes[0], k)
        return
    _load_blas()   # scipy's BLAS, on first use (with the GIL: a failure raises here)
    with nogil:
        for b in range((n + plan.capacity - 1) // plan.capacity):
            start = b * plan.capacity
            rows = min(plan.capacity, n - start)
            _forward(plan, &params[0], &acts[0], &X[start, 0], rows)
            for i in range(rows):
                _head_output_row(plan.output_code, out_layer + i * k, k)
            memcpy(&out[start, 0], out_layer, rows * k * sizeof(floating))


cdef inline const void* _ptr2(const floating[:, ::1] a):
    return &a[0, 0] if a is not None else NULL


cdef inline const void* _ptr1(const floating[::1] a):
    return &a[0] if a is not None else NULL


def loss_and_gradients(Plan plan not None, floating[::1] params, floating[::1] grads,
                       const floating[:, ::1] X, const Py_ssize_t[::1] labels,
                       const floating[:, ::1] targets, const floating[::1] weights=None,
                       floating[:, ::1] outputs=None):
    """Mean loss over the rows of X; ADDS its gradient into grads unless grads is None.

    labels (classification heads) or targets (regression heads) is given; weights
    (optional) multiplies each row's loss. The rows go through the plan's workspace in
    chunks of plan.capacity, each chunk's gradient scaled by 1 / (all rows), so memory
    stays bounded whatever the number of rows. outputs (n, k), when given, receives
    the head's outputs of every row (what forward returns) on the way.
    """
    cdef Py_ssize_t n = X.shape[0], b, start, rows, k = plan.sizes[plan.n_layers]
    cdef floating[::1] acts = plan.acts
    cdef floating[::1] deltas = plan.deltas
    cdef floating* out_layer = &acts[0] + plan.capacity * plan.cum[plan.n_layers]
    cdef fnet_truth source = _truth(labels, _ptr2(targets), _ptr1(weights))
    cdef fnet_truth batch
    cdef double total = 0
    cdef const Py_ssize_t[::1] no_order = None
    _check_shapes(plan, params, X)
    _load_blas()
    if grads is not None:
        _check_grads(plan, grads, "grads")
    _check_data(plan, X, labels, targets, weights, no_order)
    if outputs is not None and (outputs.shape[0] != n or outputs.shape[1] != k):
        raise ValueError(f"outputs must have shape ({n}, {k})")
    with nogil:
        for b in range((n + plan.capacity - 1) // plan.capacity):
            start = b * plan.capacity
            rows = min(plan.capacity, n - start)
            if grads is not None:   # the backward pass needs the rows in the workspace
                batch = _load_rows(plan, &acts[0], &X[0, 0], &source, NULL, start, rows)
                _forward(plan, &params[0], &acts[0], &acts[0], rows)
            else:                   # the loss alone: the rows read where they are
                batch = _load_rows(plan, NULL, &X[0, 0], &source, NULL, start, rows)
                _forward(plan, &params[0], &acts[0], &X[start, 0], rows)
            total += _loss_forward(plan, &acts[0], &batch, rows)
            if outputs is not None:
                memcpy(&outputs[start, 0], out_layer, rows * k * sizeof(floating))
            if grads is not None:
                _backward(plan, &params[0], &grads[0], &acts[0], &deltas[0], &batch, rows,
                          <floating>1 / n, True)
    return total / n


def train_epoch(Plan plan not None, config, floating[::1] params, floating[::1] grads, tuple state,
                const floating[:, ::1] X, const Py_ssize_t[::1] labels,
                const floating[:, ::1] targets, const floating[::1] weights,
                const Py_ssize_t[::1] order, Py_ssize_t batch_size, Py_ssize_t t0,
                fast_paths=()):
    """Optimizer steps over the rows of X in `order`, entirely in compiled code
    without the GIL.

    Visits the rows batch_size at a time (the last batch may be smaller); each batch
    takes one step of the optimizer `config` (fastnet.components) with step size
    eta = learning_rate / (1 + lr_decay * t), t the model's update count (t0 before
    this call). state holds the optimizer's buffers; weights (or None) multiplies
    each row's loss.

    fast_paths names the compiled fast paths the optimizer allows with this
    configuration (fastnet.components.Optimizer.fast_paths): "persample" runs batch
    size 1 as the per-sample C loop of _persample.c; "folded" folds the minibatch step
    into the backward GEMMs. Without them, every batch takes the general path
    (kernels, gradient buffer, separate update): the tests compare the two.

    Returns (summed loss of the visited rows, each measured before its step; number
    of updates done; the last eta used). A step whose loss is NaN or infinite is not
    taken and ends the call early: fewer updates than batches tells the caller.
    """
    cdef Py_ssize_t n = order.shape[0], m = params.shape[0]
    cdef floating[::1] work = plan.work
    cdef floating[::1] acts = plan.acts
    cdef floating[::1] deltas = plan.deltas
    cdef bint folded = "folded" in fast_paths
    cdef fnet_truth source = _truth(labels, _ptr2(targets), _ptr1(weights))
    cdef fnet_optim cfg = _optim_struct(config)
    cdef fnet_epoch done
    cdef floating* state_ptrs[8]
    cdef int status = 0
    cdef double sums[2]
    cdef Py_ssize_t steps = 0
    cdef double eta = cfg.learning_rate
    _check_steps(plan, params, grads, X, labels, targets, weights, order, batch_size)
    _state_pointers(state, state_ptrs, m, cfg.code)
    if batch_size == 1 and "persample" in fast_paths:
        with nogil:
            if floating is float:
                status = fnet_persample_epoch_f32(&plan.layout, &cfg, &params[0], state_ptrs,
                                                  &work[0], &X[0, 0], &source, &order[0], n,
                                                  t0, &done)
            else:
                status = fnet_persample_epoch_f64(&plan.layout, &cfg, &params[0], state_ptrs,
                                                  &work[0], &X[0, 0], &source, &order[0], n,
                                                  t0, &done)
        if status == -2:
            raise MemoryError("no memory for the per-sample loop's copy of the first "
                              "layer (this call changed nothing)")
        if status != 0:
            raise ValueError(f"optimizer {config.name!r} has no per-sample compiled loop")
        return done.loss, done.updates, done.last_eta
    _load_blas()
    with nogil:
        status = _minibatch_steps(plan, &cfg, &params[0], &grads[0], &acts[0], &deltas[0],
                                  state_ptrs, m, &X[0, 0], &source, &order[0], n, batch_size,
                                  t0, folded, sums, &steps, &eta)
    if status != 0:
        raise ValueError(f"optimizer {config.name!r} is not implemented by the compiled "
                         f"kernels")
    return sums[0], steps, eta


def train_epoch_sklearn(Plan plan not None, config, floating[::1] params, floating[::1] grads,
                        tuple state, const floating[:, ::1] X, const Py_ssize_t[::1] labels,
                        const floating[:, ::1] targets, const floating[::1] weights,
                        const Py_ssize_t[::1] order, Py_ssize_t batch_size, Py_ssize_t t0,
                        double delta_factor=1, Plan plan2=None, floating[::1] grads2=None):
    """train_epoch's minibatch steps with scikit-learn's conventions (its MLP's
    ``_backprop``), for fastnet.sklearn: each batch B minimises

        (sum_{i in B} w_i loss_i + l2/2 ||W||^2) / sum_{i in B} w_i

    (w_i = 1 without weights; config.l2 is scikit-learn's alpha), so the l2
    coefficient of a step is l2 / (the batch's summed weight), and the gradient of
    each row's loss is multiplied by delta_factor (0.5 makes fastnet's squared error
    scikit-learn's half squared error). The step size is config.learning_rate (no
    lr_decay); Adam's step numbers continue from t0.

    With plan2 (a second workspace of at least half a batch) and grads2 (a second
    gradient buffer), each batch is split in two halves whose gradients the calling
    thread and the pool's worker (_pool.h) compute at once, then added: the same step
    up to rounding. When the worker is busy or asleep the caller computes both.

    Returns (data, penalty, updates): summed over the batches, rows/(summed weight)
    times the batch's summed weighted loss (data; its log losses of probabilities
    clipped to [eps, 1 - eps] as scikit-learn reports them) and times l2/2 ||W||^2
    measured before its step (penalty), so that scikit-learn's epoch loss is
    (head factor * data + penalty) / (rows visited). Unlike train_epoch, a NaN or
    infinite loss does not stop the steps (scikit-learn trains on); a batch whose
    weights sum to zero raises ZeroDivisionError, as numpy's average does there.
    """
    cdef Py_ssize_t n = order.shape[0], m = params.shape[0]
    cdef floating[::1] acts = plan.acts
    cdef floating[::1] deltas = plan.deltas
    cdef floating[::1] acts2, deltas2
    cdef fnet_truth source = _truth(labels, _ptr2(targets), _ptr1(weights))
    cdef fnet_optim cfg = _optim_struct(config)
    cdef floating* state_ptrs[8]
    cdef int status = 0
    cdef double sums[2]
    cdef Py_ssize_t steps = 0
    cdef fnet_halves halves
    _check_steps(plan, params, grads, X, labels, targets, weights, order, batch_size)
    _load_blas()
    halves.plans[0] = <void*>plan
    halves.plans[1] = NULL
    halves.params = &params[0]
    halves.grads[0] = &grads[0]
    halves.acts[0] = &acts[0]
    halves.deltas[0] = &deltas[0]
    halves.X = &X[0, 0]
    halves.source = &source
    halves.order = &order[0]
    halves.f32 = floating is float
    _state_pointers(state, state_ptrs, m, cfg.code)
    if cfg.lr_decay != 0:
        raise ValueError("scikit-learn's schedules change the learning rate between "
                         "epochs; lr_decay must be 0")
    if plan2 is not None:
        if (grads2 is None or grads2.shape[0] != m or 2 * plan2.capacity < batch_size
                or not _same_network(plan, plan2) or plan2.work.dtype != plan.work.dtype):
            raise ValueError("plan2 needs grads2 of the parameters' size and a capacity "
                             "of at least half a batch of the same network and dtype")
        acts2 = plan2.acts
        deltas2 = plan2.deltas
        halves.plans[1] = <void*>plan2
        halves.grads[1] = &grads2[0]
        halves.acts[1] = &acts2[0]
        halves.deltas[1] = &deltas2[0]
    with nogil:
        status = _sklearn_steps(plan, &halves, &cfg, &params[0], &grads[0], &acts[0],
                                &deltas[0], state_ptrs, m, &X[0, 0], &source, &order[0], n,
                                batch_size, t0, delta_factor, sums, &steps)
    if status == -2:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized (a batch whose "
                                "sample weights are all 0)")
    if status != 0:
        raise ValueError(f"optimizer {config.name!r} is not implemented by the compiled "
                         f"kernels")
    return sums[0], sums[1], steps


cdef bint _same_network(Plan a, Plan b):
    # the same layout, activations and head (the workspaces may differ in capacity)
    cdef Py_ssize_t l
    if a.n_layers != b.n_layers or a.output_code != b.output_code:
        return False
    for l in range(a.n_layers + 1):
        if a.sizes[l] != b.sizes[l]:
            return False
    for l in range(a.n_layers):   # act_codes: the hidden layers' codes and a pad
        if (a.act_codes[l] != b.act_codes[l] or a.w_off[l] != b.w_off[l]
                or a.b_off[l] != b.b_off[l]):
            return False
    return True


cdef int _minibatch_steps(Plan plan, fnet_optim* cfg, floating* params, floating* grads,
                          floating* acts, floating* deltas, floating** state, Py_ssize_t m,
                          const floating* X, const fnet_truth* source,
                          const Py_ssize_t* order, Py_ssize_t n, Py_ssize_t batch_size,
                          Py_ssize_t t0, bint folded, double* loss, Py_ssize_t* steps,
                          double* eta) noexcept nogil:
    # train_epoch's minibatch loop (fastnet's convention: the mean of the batch's
    # weighted row losses, l2 on that mean). loss receives the summed loss, steps the
    # updates done, eta the last step size. 0, or -1 for an optimizer the kernels do
    # not implement.
    cdef Py_ssize_t b, start, rows, step = t0
    cdef fnet_truth batch
    cdef double step_loss
    cdef int status = 0
    loss[0] = 0
    for b in range((n + batch_size - 1) // batch_size):
        start = b * batch_size
        rows = min(batch_size, n - start)
        batch = _load_rows(plan, acts, X, source, order, start, rows)
        _forward(plan, params, acts, acts, rows)
        step_loss = _loss_forward(plan, acts, &batch, rows)
        if not isfinite(step_loss):
            break     # diverged: stop before this step; the caller decides
        loss[0] += step_loss
        eta[0] = cfg.learning_rate / (1.0 + cfg.lr_decay * step)
        if folded:
            _backward_sgd(plan, params, grads, acts, deltas, &batch, rows,
                          <floating>1 / rows, <floating>eta[0])
        else:
            # accumulate=False: every layer overwrites its gradients, no zeroing.
            _backward(plan, params, grads, acts, deltas, &batch, rows,
                      <floating>1 / rows, False)
            status = _optimizer_update(cfg, params, grads, state, m, plan.n_weights,
                                       eta[0], step + 1)
            if status != 0:
                break
        step += 1
    steps[0] = step - t0
    return status


cdef double _batch_gradient(Plan plan, const floating* params, floating* grads,
                           floating* acts, floating* deltas, const floating* X,
                           const fnet_truth* source, const Py_ssize_t* order,
                           Py_ssize_t start, Py_ssize_t rows, floating scale,
                           double* clipped) noexcept nogil:
    # Rows order[start:start+rows] through plan's workspace: returns their summed
    # (weighted) loss, leaves the clipped one (_clipped_loss) in clipped and WRITES
    # scale * the gradient of the summed loss into grads.
    cdef fnet_truth batch = _load_rows(plan, acts, X, source, order, start, rows)
    cdef double loss
    _forward(plan, <floating*>params, acts, acts, rows)
    loss = _loss_forward(plan, acts, &batch, rows)
    clipped[0] = _clipped_loss(plan, acts, &batch, rows)
    _backward(plan, <floating*>params, grads, acts, deltas, &batch, rows, scale, False)
    return loss


cdef struct fnet_halves:
    # one batch split in two parts (part p through plans[p] into grads[p]); filled by
    # train_epoch_sklearn, run by _half_task on the caller and the pool's worker
    void* plans[2]           # borrowed Plan objects (kept alive by the caller)
    void* params
    void* grads[2]
    void* acts[2]
    void* deltas[2]
    const void* X
    const fnet_truth* source
    const Py_ssize_t* order
    Py_ssize_t start[2]
    Py_ssize_t rows[2]
    double scale
    double losses[2]
    double clipped[2]
    bint f32


cdef void _half_task(void* ctx, int part) noexcept nogil:
    cdef fnet_halves* h = <fnet_halves*>ctx
    if h.f32:
        h.losses[part] = _batch_gradient(
            <Plan>h.plans[part], <const float*>h.params, <float*>h.grads[part],
            <float*>h.acts[part], <float*>h.deltas[part], <const float*>h.X, h.source,
            h.order, h.start[part], h.rows[part], <float>h.scale, &h.clipped[part])
    else:
        h.losses[part] = _batch_gradient(
            <Plan>h.plans[part], <const double*>h.params, <double*>h.grads[part],
            <double*>h.acts[part], <double*>h.deltas[part], <const double*>h.X, h.source,
            h.order, h.start[part], h.rows[part], h.scale, &h.clipped[part])


cdef int _sklearn_steps(Plan plan, fnet_halves* halves, fnet_optim* cfg, floating* params,
                        floating* grads, floating* acts, floating* deltas,
                        floating** state, Py_ssize_t m,
                        const floating* X, const fnet_truth* source,
                        const Py_ssize_t* order, Py_ssize_t n, Py_ssize_t batch_size,
                        Py_ssize_t t0, double delta_factor, double* sums,
                        Py_ssize_t* steps) noexcept nogil:
    # train_epoch_sklearn's loop. sums[0] receives the data loss, sums[1] the
    # penalty, steps the updates done. 0; -1 for an optimizer the kernels do not
    # implement; -2 for a batch whose weights sum to zero. A NaN or infinite loss does
    # not stop it (scikit-learn trains on; its caller checks the weights at the end).
    cdef Py_ssize_t b, i, start, rows, step = t0
    cdef const floating* w_in = <const floating*>source.weights
    cdef double mass, per_row, alpha = cfg.l2, sq, loss, clipped
    cdef floating* g2
    cdef int status = 0
    sums[0] = 0
    sums[1] = 0
    for b in range((n + batch_size - 1) // batch_size):
        start = b * batch_size
        rows = min(batch_size, n - start)
        # the batch's summed weight (its rows without weights), as scikit-learn
        mass = rows
        if w_in != NULL:
            mass = 0
            for i in range(rows):
                mass += w_in[order[start + i]]
        if mass == 0:
            status = -2
            break
        if halves.plans[1] != NULL and rows > 1:
            halves.start[0] = start
            halves.rows[0] = rows - rows // 2
            halves.start[1] = start + halves.rows[0]
            halves.rows[1] = rows // 2
            halves.scale = delta_factor / mass
            fnet_pool_run(_half_task, halves, 2)
            g2 = <floating*>halves.grads[1]
            for i in range(m):
                grads[i] = grads[i] + g2[i]
            loss = halves.losses[0] + halves.losses[1]
            clipped = halves.clipped[0] + halves.clipped[1]
        else:
            loss = _batch_gradient(plan, params, grads, acts, deltas, X, source, order,
                                   start, rows, <floating>(delta_factor / mass), &clipped)
        per_row = rows / mass
        sums[0] += per_row * clipped
        if alpha != 0:
            sq = 0
            for i in range(plan.n_weights):
                sq += <double>params[i] * params[i]
            sums[1] += per_row * (0.5 * alpha) * sq
        cfg.l2 = alpha / mass
        status = _optimizer_update(cfg, params, grads, state, m, plan.n_weights,
                                   cfg.learning_rate, step + 1)
        if status != 0:
            break
        step += 1
    cfg.l2 = alpha
    steps[0] = step - t0
    return status
