"""Each compiled kernel against its NumPy twin, both dtypes, random upstream gradients."""
import numpy as np
import pytest

from fastnet import _kernels as fast
from fastnet import layers as fast_layers
from fastnet.reference import kernels as ref
from fastnet.reference import layers as ref_layers

from conftest import TOL, max_rel_diff

DTYPES = [np.float32, np.float64]
# n = 1 takes the hand-written loops, larger n the BLAS path.
ROWS = [1, 2, 17]


def _rand(rng, shape, dtype, scale=1.0):
    return np.ascontiguousarray(rng.standard_normal(shape) * scale, dtype=dtype)


def _both(name, make_args, rng):
    """Call kernel `name` of both modules on copies of the same arguments; return the
    arguments after each call and the return values."""
    args = make_args(rng)
    fa = [None if a is None else a.copy() for a in args]
    ra = [None if a is None else a.copy() for a in args]
    return fa, getattr(fast, name)(*fa), ra, getattr(ref, name)(*ra)


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_forward(dtype, n):
    d, h = 13, 7

    def args(rng):
        return (np.zeros((n, h), dtype), _rand(rng, (n, d), dtype), _rand(rng, (h, d), dtype),
                _rand(rng, h, dtype))
    fa, _, ra, _ = _both("dense_forward", args, np.random.default_rng(n))
    assert max_rel_diff(fa[0], ra[0]) < TOL[dtype]
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
    rng = np.random.default_rng(10 + n)
    fa, _, ra, _ = _both("dense_backward", args, rng)
    start = args(np.random.default_rng(10 + n))
    for i in (0, 1, 2) if with_dx else (1, 2):
        assert max_rel_diff(fa[i], ra[i]) < TOL[dtype]
    # Accumulation: the result is the old value plus the gradient.
    np.testing.assert_allclose(fa[1] - start[1], start[3].T @ start[4], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_forward_backward(dtype, name):
    rng = np.random.default_rng(1)
    z = _rand(rng, (9, 11), dtype, scale=4.0)
    z[0, :3] = (-100, 0, 100)  # saturation and the kink
    outs = {}
    for mod in (fast, ref):
        out = np.empty_like(z)
        getattr(mod, f"{name}_forward")(out, z)
        outs[mod] = out
    assert max_rel_diff(outs[fast], outs[ref]) < TOL[dtype]
    assert np.all(np.isfinite(outs[fast]))
    dout = _rand(rng, z.shape, dtype)
    dzs = {}
    for mod in (fast, ref):
        dz = np.empty_like(z)
        getattr(mod, f"{name}_backward")(dz, dout, outs[ref])
        dzs[mod] = dz
    assert max_rel_diff(dzs[fast], dzs[ref]) < TOL[dtype]


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activation_in_place(name):
    rng = np.random.default_rng(2)
    z = _rand(rng, (4, 5), np.float64)
    expected = np.empty_like(z)
    getattr(fast, f"{name}_forward")(expected, z)
    getattr(fast, f"{name}_forward")(z, z)
    np.testing.assert_array_equal(z, expected)


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_xent(dtype, n):
    rng = np.random.default_rng(3)
    k = 6
    logits = _rand(rng, (n, k), dtype, scale=5.0)
    logits[0, 0] = 80  # would overflow exp in float32 without the max shift
    labels = rng.integers(0, k, n).astype(np.intp)
    pf, pr = np.empty_like(logits), np.empty_like(logits)
    lf = fast.softmax_xent_forward(pf, logits, labels)
    lr = ref.softmax_xent_forward(pr, logits, labels)
    assert abs(lf - lr) <= TOL[dtype] * max(abs(lr), 1)
    assert max_rel_diff(pf, pr) < TOL[dtype]
    np.testing.assert_allclose(pf.sum(axis=1), 1, rtol=10 * TOL[dtype])
    df, dr = np.empty_like(logits), np.empty_like(logits)
    fast.softmax_xent_backward(df, pf, labels)
    ref.softmax_xent_backward(dr, pr, labels)
    assert max_rel_diff(df, dr) < TOL[dtype]
    np.testing.assert_allclose(df.sum(axis=1), 0, atol=10 * TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_error(dtype):
    rng = np.random.default_rng(4)
    pred, target = _rand(rng, (7, 3), dtype), _rand(rng, (7, 3), dtype)
    lf = fast.squared_error_forward(pred, target)
    lr = ref.squared_error_forward(pred, target)
    assert abs(lf - lr) <= TOL[dtype] * lr
    assert abs(lr - np.mean(np.sum((pred.astype(float) - target) ** 2, axis=1))) < 1e-5 * lr
    df, dr = np.empty_like(pred), np.empty_like(pred)
    fast.squared_error_backward(df, pred, target)
    ref.squared_error_backward(dr, pred, target)
    assert max_rel_diff(df, dr) < TOL[dtype]


@pytest.mark.parametrize("momentum,l2", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.5, 0.1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_update(dtype, momentum, l2):
    rng = np.random.default_rng(5)
    m, n_weights = 50, 30
    params, grads, vel = (_rand(rng, m, dtype) for _ in range(3))
    pf, vf = params.copy(), vel.copy()
    pr, vr = params.copy(), vel.copy()
    fast.sgd_update(pf, grads, vf, n_weights, 0.1, momentum, l2)
    ref.sgd_update(pr, grads, vr, n_weights, 0.1, momentum, l2)
    np.testing.assert_array_equal(pf, pr)
    np.testing.assert_array_equal(vf, vr)
    # Biases (after n_weights) never see the l2 term.
    if momentum == 0:
        np.testing.assert_allclose(pf[n_weights:], params[n_weights:] - dtype(0.1) * grads[n_weights:],
                                   rtol=TOL[dtype])


def test_kernel_wrappers_check_shapes():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="W has shape"):
        fast.dense_forward(np.zeros((3, 2)), x, np.zeros((2, 5)), np.zeros(2))
    with pytest.raises(ValueError, match="outside 0..2"):
        fast.softmax_xent_forward(np.zeros((1, 3)), np.zeros((1, 3)), np.array([3], dtype=np.intp))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layers_twin(dtype):
    """The compiled layers and the reference layers compute the same thing."""
    rng = np.random.default_rng(6)
    n, d, h, k = 5, 4, 6, 3
    W1, b1, W2, b2 = (_rand(rng, s, dtype) for s in [(h, d), h, (k, h), k])
    x = _rand(rng, (n, d), dtype)
    labels = rng.integers(0, k, n)
    results = []
    for mod in (fast_layers, ref_layers):
        l1, act, l2 = mod.Dense(W1, b1), mod.Tanh(), mod.Dense(W2, b2)
        head = mod.SoftmaxCrossEntropy()
        loss = head.forward(l2.forward(act.forward(l1.forward(x))), labels)
        dx = l1.backward(act.backward(l2.backward(head.backward())))
        results.append((loss, dx, l1.dW.copy(), l1.db.copy(), l2.dW.copy(), l2.db.copy()))
    (lf, *gf), (lr, *gr) = results
    assert abs(lf - lr) < TOL[dtype] * lr
    for a, b in zip(gf, gr):
        assert max_rel_diff(a, b) < 10 * TOL[dtype]
