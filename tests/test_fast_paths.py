"""The compiled fast paths agree with the general compiled path and the reference.

- per-sample SGD (batch_size 1) runs the fused C loop of _fused.c, and minibatch
  plain SGD folds the step into the backward GEMMs; the general path (Cython
  kernels, gradient buffer, separate update) is reachable with fused=False;
- one clean row takes the latency path of network.py (no conversion, C forward);
- the fused kernel's own tanh (vectorisable) against numpy.tanh, in ulps.
"""
import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet.testing import run_steps

from conftest import max_rel_diff

EPOCH_TOL = {"float32": 1e-5, "float64": 1e-13}


def _twins(net_args, dtype, data_seed, n=40):
    """40 rows of data for the network, and two identical networks to train on it."""
    sizes, activation, output = net_args
    rng = np.random.default_rng(data_seed)
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n) if output == "softmax" else rng.standard_normal((n, sizes[-1]))
    return X, y, [fastnet.MLP(sizes, activation, output, dtype=dtype, seed=5) for _ in range(2)]


def _run_epoch(net, X, y, fused, batch_size=1, weights=None, **kw):
    order = np.arange(X.shape[0], dtype=np.intp)[::-1].copy()
    args = dict(learning_rate=0.05, lr_decay=0.1, momentum=0.0, l2=0.0)
    args.update(kw)
    return run_steps(net, X, y, order, batch_size, weights, fast_paths=None if fused else (),
                     t0=7, **args)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9), dict(l2=0.01),
                                     dict(momentum=0.5, l2=0.1)])
@pytest.mark.parametrize("net_args", [
    ([5, 17, 33, 4], "relu", "softmax"),
    ([5, 20, 3], "sigmoid", "softmax"),
    ([1, 19, 16, 2], "tanh", "linear"),        # one input: the column path
    ([3, 4, 1, 4, 2], ["tanh", "relu", "sigmoid"], "linear"),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_epoch_matches_general_path(net_args, options, dtype, weighted):
    X, y, nets = _twins(net_args, dtype, data_seed=0)
    w = np.random.default_rng(9).uniform(0, 2, len(X)) if weighted else None
    results = [_run_epoch(net, X, y, fused, weights=w, **options)
               for net, fused in zip(nets, (True, False))]
    assert results[0][1] == results[1][1] == 40            # updates
    assert results[0][2] == results[1][2]                  # last step size
    assert results[0][0] == pytest.approx(results[1][0], rel=EPOCH_TOL[dtype])
    # Relative to the whole parameter vector: a single bias near 0 (a cancellation)
    # has no scale of its own to be relative to.
    assert max_rel_diff(nets[0].parameters, nets[1].parameters) < EPOCH_TOL[dtype]
    if options.get("momentum"):
        assert max_rel_diff(nets[0].state_dict()["velocity"], nets[1].state_dict()["velocity"]) < 10 * EPOCH_TOL[dtype]
    else:
        assert not nets[0].state_dict()["velocity"].any()                # untouched without momentum


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", [7, 13, 40])   # last batches of 5, 1 and 40 rows
@pytest.mark.parametrize("net_args", [
    ([5, 17, 33, 4], "relu", "softmax"),
    ([3, 4, 1, 4, 2], ["tanh", "relu", "sigmoid"], "linear"),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_minibatch_sgd_folded_into_backward(net_args, batch_size, dtype, weighted):
    X, y, nets = _twins(net_args, dtype, data_seed=1)
    sizes, activation, output = net_args
    w = np.random.default_rng(9).uniform(0, 2, len(X)) if weighted else None
    results = [_run_epoch(net, X, y, fused, batch_size=batch_size, weights=w)
               for net, fused in zip(nets, (True, False))]
    assert results[0][1] == results[1][1] == -(-40 // batch_size)
    assert results[0][0] == pytest.approx(results[1][0], rel=EPOCH_TOL[dtype])
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert max_rel_diff(a, b) < EPOCH_TOL[dtype]
    start = fastnet.MLP(sizes, activation, output, dtype=dtype, seed=5)
    assert max_rel_diff(nets[0].weights[0], start.weights[0]) > 1e-4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_single_row_path(dtype, output):
    net = fastnet.MLP([6, 9, 4], "tanh", output, dtype=dtype, seed=0)
    X = np.random.default_rng(1).standard_normal((3, 6)).astype(dtype)
    batch = net.forward(X)                                  # BLAS path
    for i in range(3):
        row = net.forward(X[i:i + 1])                       # latency path
        assert row.shape == (1, 4) and row.dtype == np.dtype(dtype)
        np.testing.assert_allclose(row[0], batch[i], rtol=1e-5 if dtype == "float32" else 1e-13)
        np.testing.assert_allclose(net.predict(X[i:i + 1]), net.predict(X)[i:i + 1],
                                   rtol=1e-5 if dtype == "float32" else 1e-13)
    bad = X[:1].copy()
    bad[0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.forward(bad)
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.predict(bad)
    before = net.forward(X[:1]).copy()
    net.weights[0][...] *= 2                                # the row path sees live weights
    assert not np.array_equal(net.forward(X[:1]), before)


@pytest.mark.parametrize("dtype,max_ulp", [("float32", 3), ("float64", 3)])
def test_fused_tanh_accuracy(dtype, max_ulp):
    # Hidden unit = tanh(x) through a 1-1-1 network with unit weights and no bias.
    net = fastnet.MLP([1, 1, 1], "tanh", "linear", dtype=dtype, seed=0)
    net.weights[0][...] = 1
    net.weights[1][...] = 1
    net.biases[0][...] = 0
    net.biases[1][...] = 0
    xs = np.concatenate([np.linspace(-25, 25, 4001), np.geomspace(1e-30, 1, 300),
                         -np.geomspace(1e-30, 1, 300), [0.0]]).astype(dtype)
    got = np.array([net.forward(x.reshape(1, 1))[0, 0] for x in xs], dtype=np.float64)
    exact = np.tanh(xs.astype(np.float64))   # float64 tanh is the truth for float32
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert np.max(np.abs(got - exact) / ulp) <= max_ulp
    assert got[-1] == 0 and np.all(np.abs(got) <= 1)


def test_blas_thread_limit_is_restored():
    from fastnet import _threads
    before = _threads.blas_threads()
    if before is None:
        pytest.skip("scipy's OpenBLAS thread setter not found: the limit is a no-op here")
    with _threads.limit_blas_threads(1):
        assert _threads.blas_threads() == 1
    assert _threads.blas_threads() == before
    # A small minibatch fit runs under the limit and leaves the setting as it was.
    net = fastnet.MLP([4, 8, 3], seed=0)
    net.fit(np.zeros((64, 4)), np.zeros(64, dtype=int), batch_size=16)
    assert _threads.blas_threads() == before


@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_loss_and_gradients_in_chunks(output):
    """More rows than one workspace chunk: the same mean loss and gradient."""
    from fastnet.network import FORWARD_CHUNK
    n = 2 * FORWARD_CHUNK + 77
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, 5))
    y = rng.integers(0, 3, n) if output == "softmax" else rng.standard_normal((n, 3))
    fast = fastnet.MLP([5, 7, 3], "sigmoid", output, dtype="float64", seed=2)
    ref = fastnet.reference.MLP([5, 7, 3], "sigmoid", output, dtype="float64", seed=2)
    assert fast.loss(X, y) == pytest.approx(ref.loss(X, y), rel=1e-12)
    for a, b in zip(*[sum(net.gradients(X, y), []) for net in (fast, ref)]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(fast.forward(X), ref.forward(X), rtol=1e-12)
