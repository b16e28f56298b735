"""Each compiled kernel (fastnet._kernels) against its NumPy twin
(fastnet.reference.kernels): both dtypes, several row counts (n = 1 takes the
hand-written loops, larger n BLAS), random upstream gradients, in-place variants.
Every registered activation, head and optimizer is covered through the registries."""
import warnings

import numpy as np
import pytest

from fastnet import _kernels as fast
from fastnet import layers as fast_layers
from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS
from fastnet.reference import kernels as ref
from fastnet.reference import layers as ref_layers

from conftest import (DTYPES, HEAD_PARAMS, assert_close, fd_gradient, make_truth,
                      optimizer_variants, tol)

ROWS = [1, 2, 17]
MODULES = pytest.mark.parametrize("mod", [fast, ref], ids=["compiled", "numpy"])


def _rand(rng, shape, dtype, scale=1.0):
    return np.ascontiguousarray(rng.standard_normal(shape) * scale, dtype=dtype)


def _both(name, make_args, rng):
    """Call kernel `name` of both modules on copies of the same arguments; return the
    arguments after each call and the return values."""
    args = make_args(rng)
    fa = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ra = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    return fa, getattr(fast, name)(*fa), ra, getattr(ref, name)(*ra)


# -- dense ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_forward(dtype, n):
    d, h = 13, 7

    def args(rng):
        return (np.zeros((n, h), dtype), _rand(rng, (n, d), dtype), _rand(rng, (h, d), dtype),
                _rand(rng, h, dtype))
    fa, _, ra, _ = _both("dense_forward", args, np.random.default_rng(n))
    assert_close(fa[0], ra[0], "kernel", dtype)
    assert np.any(fa[0] != 0)


@pytest.mark.parametrize("with_dx", [True, False])
@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_accumulates(dtype, n, with_dx):
    d, h = 13, 7

    def args(rng):
        # dW and db start non-zero: the kernels must add into them.
        return (np.zeros((n, d), dtype) if with_dx else None, _rand(rng, (h, d), dtype),
                _rand(rng, h, dtype), _rand(rng, (n, h), dtype), _rand(rng, (n, d), dtype),
                _rand(rng, (h, d), dtype))
    fa, _, ra, _ = _both("dense_backward", args, np.random.default_rng(10 + n))
    start = args(np.random.default_rng(10 + n))
    for i in (0, 1, 2) if with_dx else (1, 2):
        assert_close(fa[i], ra[i], "kernel", dtype)
    # Accumulation: the result is the old value plus the gradient.
    assert_close(fa[1] - start[1], start[3].T @ start[4], "kernel", dtype)
    assert_close(fa[2] - start[2], start[3].sum(axis=0), "kernel", dtype)


# -- activations ---------------------------------------------------------------------

def _pre_activations(rng, n, m, dtype):
    """Random pre-activations with saturating values and the kink at 0 in the first row."""
    z = _rand(rng, (n, m), dtype, scale=4.0)
    z[0, :3] = (-100, 0, 100)
    return z


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_activation_twins(activation, dtype, n):
    rng = np.random.default_rng(1 + n)
    z = _pre_activations(rng, n, 11, dtype)
    z_before = z.copy()
    outs = {}
    for mod in (fast, ref):
        out = np.full_like(z, np.nan)
        mod.activation_forward(activation, out, z)
        outs[mod] = out
    np.testing.assert_array_equal(z, z_before)                 # the input is left alone
    assert np.all(np.isfinite(outs[fast]))
    assert_close(outs[fast], outs[ref], "kernel", dtype)
    # the generic kernel of the twin module is its per-activation pair
    direct = np.empty_like(z)
    getattr(ref, f"{activation}_forward")(direct, z)
    np.testing.assert_array_equal(direct, outs[ref])
    dout = _rand(rng, z.shape, dtype)                        # random upstream gradient
    dzs = {}
    for mod in (fast, ref):
        dz = np.full_like(z, np.nan)
        mod.activation_backward(activation, dz, dout, outs[ref])
        dzs[mod] = dz
    assert np.all(np.isfinite(dzs[fast]))
    assert_close(dzs[fast], dzs[ref], "kernel", dtype)
    getattr(ref, f"{activation}_backward")(direct, dout, outs[ref])
    np.testing.assert_array_equal(direct, dzs[ref])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
@MODULES
def test_activation_in_place(mod, activation, dtype):
    """out may be z (forward) and dz may be dout (backward), as the network uses them."""
    rng = np.random.default_rng(2)
    z = _pre_activations(rng, 4, 5, dtype)
    expected = np.empty_like(z)
    mod.activation_forward(activation, expected, z)
    mod.activation_forward(activation, z, z)
    np.testing.assert_array_equal(z, expected)
    dout = _rand(rng, z.shape, dtype)
    expected_dz = np.empty_like(z)
    mod.activation_backward(activation, expected_dz, dout, z)
    mod.activation_backward(activation, dout, dout, z)
    np.testing.assert_array_equal(dout, expected_dz)


@pytest.mark.parametrize("activation", ACTIVATIONS.names)
@MODULES
def test_activation_backward_is_the_derivative(mod, activation):
    """dz = dout * g'(z): the gradient of sum(dout * g(z)) by finite differences
    (away from kinks, where a one-sided derivative is taken)."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((3, 7)) * 2
    z[np.abs(z) < 0.05] += 0.1
    dout = rng.standard_normal(z.shape)
    out = np.empty_like(z)

    def objective():
        mod.activation_forward(activation, out, z)
        return float(np.sum(dout * out))
    numeric = fd_gradient(objective, z)
    mod.activation_forward(activation, out, z)
    dz = np.empty_like(z)
    mod.activation_backward(activation, dz, dout, out)
    assert_close(dz, numeric, "finite_difference", np.float64)


# -- output heads --------------------------------------------------------------------

def _loss_forward(mod, head, z, truth, weights):
    """(loss, outputs) of the head's loss kernel (the generic head_loss_forward, which
    the NumPy module answers with the head's own functions)."""
    out = np.full_like(z, np.nan)
    return mod.head_loss_forward(head.name, out, z, truth, weights), out


def _loss_backward(mod, head, out, truth, weights):
    d = np.full_like(out, np.nan)
    mod.head_loss_backward(head.name, d, out, truth, weights)
    return d


def _head_data(head, rng, n, k, dtype, weighted):
    z = _rand(rng, (n, k), dtype, scale=5.0)
    z[0, 0] = 80          # would overflow exp in float32 without the max shift
    truth = make_truth(head, rng, n, k)
    truth = (np.ascontiguousarray(truth, dtype=np.intp) if head.truth == "labels"
             else np.ascontiguousarray(truth, dtype=dtype))
    weights = rng.uniform(0, 2, n).astype(dtype) if weighted else None
    return z, truth, weights


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_head_twins(head, dtype, n, weighted):
    rng = np.random.default_rng(4 + n)
    k = 6
    z, truth, weights = _head_data(head, rng, n, k, dtype, weighted)
    z_before = z.copy()
    (lf, of), (lr, orf) = (_loss_forward(mod, head, z, truth, weights) for mod in (fast, ref))
    np.testing.assert_array_equal(z, z_before)
    assert np.isfinite(lf) and isinstance(lf, float)
    t = tol("kernel", dtype)
    assert abs(lf - lr) <= t.rel * max(abs(lr), 1)
    assert_close(of, orf, "kernel", dtype)
    df, dr = (_loss_backward(mod, head, orf, truth, weights) for mod in (fast, ref))
    assert_close(df, dr, "kernel", dtype)
    for mod in (fast, ref):
        out = np.full_like(z, np.nan)
        mod.head_output(head.name, out, z)
        assert_close(out, orf, "kernel", dtype)       # the loss's outputs are the head's
    if head.output_kernel is not None:                # the NumPy head's own functions
        out = np.full_like(z, np.nan)
        loss = getattr(ref, f"{head.loss_kernel}_forward")(out, z, truth, weights)
    else:
        out = z.copy()
        loss = getattr(ref, f"{head.loss_kernel}_forward")(out, truth, weights)
    assert loss == lr and np.array_equal(out, orf)
    # The loss of the batch is the mean of its rows' losses, each times its weight.
    rows = [_loss_forward(ref, head, z[i:i + 1].copy(), truth[i:i + 1], None)[0]
            for i in range(n)]
    mean = np.mean(np.asarray(rows) * (1 if weights is None else weights))
    assert abs(lr - mean) <= 1e2 * t.rel * max(abs(mean), 1)
    if head.classifier:                        # probabilities
        assert np.all((orf >= 0) & (orf <= 1))
    if head.truth == "labels":                 # ... of one class among k
        np.testing.assert_allclose(orf.sum(axis=1), 1, rtol=10 * t.rel)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEAD_PARAMS)
@MODULES
def test_head_output_in_place(mod, head, dtype):
    """The head's outputs may overwrite its pre-activations (loss and output kernels)."""
    rng = np.random.default_rng(5)
    z, truth, _ = _head_data(head, rng, 5, 4, dtype, False)
    loss, expected = _loss_forward(mod, head, z.copy(), truth, None)
    zz = z.copy()
    assert mod.head_loss_forward(head.name, zz, zz, truth, None) == loss
    np.testing.assert_array_equal(zz, expected)
    zz = z.copy()
    mod.head_output(head.name, zz, zz)
    np.testing.assert_array_equal(zz, expected)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("head", HEAD_PARAMS)
@MODULES
def test_head_backward_is_the_gradient_of_its_loss(mod, head, weighted):
    rng = np.random.default_rng(6)
    z, truth, weights = _head_data(head, rng, 4, 3, np.float64, weighted)
    z /= 5
    numeric = fd_gradient(lambda: _loss_forward(mod, head, z.copy(), truth, weights)[0], z)
    _, out = _loss_forward(mod, head, z.copy(), truth, weights)
    assert_close(_loss_backward(mod, head, out, truth, weights), numeric,
                 "finite_difference", np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@MODULES
def test_poisson_deviance_worked_example(mod, dtype):
    """Half the Poisson deviance, p = exp(z), rows of sum_j y log(y / p) - y + p:
    row 0: z = (0, log 2), p = (1, 2), y = (0, 1):  (0 - 0 + 1) + (log(1/2) - 1 + 2)
           = 2 - log 2  (0 log 0 = 0: a zero count contributes p alone)
    row 1: z = (log 3, 0), p = (3, 1), y = (3, 2):  (3 log 1 - 3 + 3) + (2 log 2 - 2 + 1)
           = 2 log 2 - 1
    mean = (1 + log 2) / 2; gradient (p - y) / n = ((1, 1), (0, -1)) / 2."""
    z = np.array([[0, np.log(2)], [np.log(3), 0]], dtype=dtype)
    y = np.array([[0, 1], [3, 2]], dtype=dtype)
    out = np.empty_like(z)
    loss = mod.head_loss_forward("poisson", out, z, y)
    t = tol("kernel", dtype)
    assert abs(loss - (1 + np.log(2)) / 2) <= t.rel
    assert_close(out, [[1, 2], [3, 1]], "kernel", dtype)
    dz = np.empty_like(z)
    mod.head_loss_backward("poisson", dz, out, y)
    assert_close(dz, [[0.5, 0.5], [0, -0.5]], "kernel", dtype)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@MODULES
def test_poisson_deviance_is_scikit_learns(mod, weighted):
    """scikit-learn's MLPRegressor(loss="poisson"): poisson_loss(y, exp(z)) =
    average over rows of xlogy(y, y / p) - y + p, summed over outputs. Weighted, its
    average divides by the sum of the weights, fastnet's mean by n."""
    base = pytest.importorskip("sklearn.neural_network._base")
    rng = np.random.default_rng(12)
    z = rng.standard_normal((9, 3))
    y = rng.poisson(1.5, (9, 3)).astype(np.float64)
    w = rng.uniform(0, 2, 9) if weighted else None
    ours = mod.head_loss_forward("poisson", np.empty_like(z), z, y, w)
    theirs = base.poisson_loss(y, np.exp(z), sample_weight=w)
    if weighted:
        theirs *= w.sum() / len(w)
    assert abs(ours - theirs) <= 1e-12 * abs(theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@MODULES
def test_poisson_overflow_is_inf_silently(mod, dtype):
    """exp of a large pre-activation is inf, in the outputs and the loss (which fit
    reports as divergence), as C computes it: no NumPy warning, no NaN."""
    big = 100.0 if dtype == "float32" else 1000.0       # beyond log(max) of the dtype
    z = np.array([[big, 0.0], [0.0, 0.0]], dtype=dtype)
    y = np.ones_like(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = np.empty_like(z)
        loss = mod.head_loss_forward("poisson", out, z, y)
        mod.head_output("poisson", z.copy(), z)
    assert loss == np.inf and out[0, 0] == np.inf and np.isfinite(out[1]).all()


# -- optimizers ----------------------------------------------------------------------

def _update_buffers(rng, opt, m, dtype):
    params, grads = _rand(rng, m, dtype), _rand(rng, m, dtype)
    # |.|: valid for every state (a velocity may be negative, a second moment may not)
    state = tuple(np.abs(_rand(rng, m, dtype)) for _ in opt.state)
    return params, grads, state


@pytest.mark.parametrize("eta", [0.1, 0.0123])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer,hyper", optimizer_variants())
def test_optimizer_update_twins(optimizer, hyper, dtype, eta):
    opt = OPTIMIZERS[optimizer]
    config = opt.config(learning_rate=0.5, **hyper)
    rng = np.random.default_rng(7)
    m, n_weights = 50, 30
    params, grads, state = _update_buffers(rng, opt, m, dtype)
    results = []
    for mod in (fast, ref):
        p, s = params.copy(), tuple(b.copy() for b in state)
        mod.optimizer_update(config, p, grads, s, n_weights, eta, 3)
        results.append((p, s))
    (pf, sf), (pr, sr) = results
    assert_close(pf, pr, "update", dtype)
    for a, b in zip(sf, sr):
        assert_close(a, b, "update", dtype)
    assert not np.array_equal(pf, params)                       # a step was taken


@pytest.mark.parametrize("optimizer,hyper", [p for p in optimizer_variants()
                                             if "l2" in p.values[1]])
@MODULES
def test_optimizer_l2_applies_to_weights_only(mod, optimizer, hyper):
    """Only the first n_weights entries (the weights) take the l2 term."""
    opt = OPTIMIZERS[optimizer]
    rng = np.random.default_rng(8)
    m, n_weights = 20, 12
    params, grads, state = _update_buffers(rng, opt, m, np.float64)
    runs = []
    for l2 in (hyper["l2"], 0.0):
        p, s = params.copy(), tuple(b.copy() for b in state)
        mod.optimizer_update(opt.config(**dict(hyper, l2=l2)), p, grads, s, n_weights, 0.1, 1)
        runs.append(p)
    np.testing.assert_array_equal(runs[0][n_weights:], runs[1][n_weights:])
    assert np.all(runs[0][:n_weights] != runs[1][:n_weights])


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_update_formula(dtype, momentum):
    """The NumPy sgd_update against the documented rule (SGDConfig): g = grads + l2 W
    (weights only); v = mu v - eta g, theta += v; with mu = 0, theta -= eta g and v
    stays as it was."""
    rng = np.random.default_rng(9)
    m, n_weights, l2, eta = 12, 8, 0.25, 0.1
    params, grads, vel = (_rand(rng, m, dtype) for _ in range(3))
    p, v = params.copy(), vel.copy()
    ref.sgd_update(p, grads, v, n_weights, eta, momentum, l2)
    t = np.dtype(dtype).type
    g = grads.copy()
    g[:n_weights] += t(l2) * params[:n_weights]
    if momentum:
        expected_v = t(momentum) * vel - t(eta) * g
        np.testing.assert_array_equal(v, expected_v)
        np.testing.assert_array_equal(p, params + expected_v)
    else:
        np.testing.assert_array_equal(v, vel)
        np.testing.assert_array_equal(p, params - t(eta) * g)


# -- argument checks -----------------------------------------------------------------

def test_kernel_wrappers_check_shapes():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="W has shape"):
        fast.dense_forward(np.zeros((3, 2)), x, np.zeros((2, 5)), np.zeros(2))
    with pytest.raises(ValueError, match="dW has shape"):
        fast.dense_backward(None, np.zeros((2, 3)), np.zeros(2), np.zeros((3, 2)), x,
                            np.zeros((2, 4)))
    with pytest.raises(ValueError, match="outside 0..2"):
        fast.head_loss_forward("softmax", np.zeros((1, 3)), np.zeros((1, 3)),
                               np.array([3], dtype=np.intp))
    with pytest.raises(ValueError, match="weights has length"):
        fast.head_loss_forward("linear", np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                               np.ones(3))
    with pytest.raises(ValueError, match="truth has shape"):
        fast.head_loss_backward("logistic", np.zeros((2, 3)), np.zeros((2, 3)),
                                np.zeros((2, 2)))
    with pytest.raises(ValueError, match="unknown output"):
        fast.head_output("hinge", np.zeros((2, 3)), np.zeros((2, 3)))
    for head in HEADS.values():
        # a missing truth would be read through NULL: refused before any work
        with pytest.raises(TypeError, match="needs its truth"):
            fast.head_loss_forward(head.name, np.zeros((2, 3)), np.zeros((2, 3)), None)
        with pytest.raises(TypeError, match="needs its truth"):
            fast.head_loss_backward(head.name, np.zeros((2, 3)), np.zeros((2, 3)), None)
        with pytest.raises(ValueError, match="at least"):
            fast.head_output(head.name, np.zeros((2, 0)), np.zeros((2, 0)))
    for name in ACTIVATIONS.names:
        with pytest.raises(ValueError, match="out has shape"):
            fast.activation_forward(name, np.zeros((3, 2)), x)
        with pytest.raises(ValueError, match="dout has shape"):
            fast.activation_backward(name, x.copy(), np.zeros((3, 2)), x)


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names)
@MODULES
def test_optimizer_update_checks_its_state(mod, optimizer):
    opt = OPTIMIZERS[optimizer]
    params, grads, state = _update_buffers(np.random.default_rng(0), opt, 6, np.float64)
    with pytest.raises(ValueError, match="state"):
        mod.optimizer_update(opt.config(), params, grads, state + (params.copy(),), 3, 0.1, 1)


# -- layers --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_layers_twin(activation, head, dtype):
    """The compiled layers and the reference layers compute the same thing."""
    rng = np.random.default_rng(6)
    n, d, h, k = 5, 4, 6, 3
    W1, b1, W2, b2 = (_rand(rng, s, dtype) for s in [(h, d), h, (k, h), k])
    x = _rand(rng, (n, d), dtype)
    truth = make_truth(head, rng, n, k)
    results = []
    for mod in (fast_layers, ref_layers):
        l1, act, l2 = mod.Dense(W1, b1), mod.ACTIVATION_LAYERS[activation](), mod.Dense(W2, b2)
        loss_layer = mod.HEAD_LAYERS[head.name]()
        loss = loss_layer.forward(l2.forward(act.forward(l1.forward(x))), truth)
        dx = l1.backward(act.backward(l2.backward(loss_layer.backward())))
        results.append((loss, dx, l1.dW.copy(), l1.db.copy(), l2.dW.copy(), l2.db.copy()))
    (lf, *gf), (lr, *gr) = results
    assert abs(lf - lr) <= tol("layers", dtype).rel * abs(lr)
    for a, b in zip(gf, gr):
        assert_close(a, b, "layers", dtype)
