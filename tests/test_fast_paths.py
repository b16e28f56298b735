"""The compiled fast paths agree with the general compiled path.

Per-sample SGD (batch 1) runs the fused per-sample C loop, and minibatch plain SGD
folds the step into the backward GEMMs; ``fastnet.testing.run_steps(...,
fast_paths=())`` forces the general path (kernels, gradient buffer, separate update)
and ``fast_paths=None`` allows what fit allows. Every registered activation, head and
optimizer configuration, per-sample and minibatch, weighted or not; then odd shapes
(one input, a width-1 layer, last batches of 1 row) with every activation mixed.
The single-row latency path is checked in test_registry.py.
"""
import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet.components import ACTIVATIONS
from fastnet.testing import run_steps

from conftest import (DTYPES, HEAD_PARAMS, all_activations, assert_close, make_problem,
                      max_rel_diff, optimizer_variants, stable_learning_rate, tol)


def _twins(sizes, activation, head, dtype, data_seed, n=40):
    """n rows of data for the network, and two identical networks to train on it."""
    X, y = make_problem(head, n, sizes[0], sizes[-1], seed=data_seed)
    return X, y, [fastnet.MLP(sizes, activation, head.name, dtype=dtype, seed=5)
                  for _ in range(2)]


def _compare_paths(nets, X, y, batch_size, weights, dtype, optimizer, **hyper):
    """One epoch (rows in reverse order, update count from 7) on each net, fast paths
    allowed on the first and not on the second; asserts they agree."""
    order = np.arange(X.shape[0], dtype=np.intp)[::-1].copy()
    args = dict(learning_rate=stable_learning_rate(0.05, hyper), lr_decay=0.1)
    args.update(hyper)
    results = [run_steps(net, X, y, order, batch_size, weights, fast_paths=allowed, t0=7,
                         optimizer=optimizer, **args)
               for net, allowed in zip(nets, (None, ()))]
    assert results[0][1] == results[1][1] == -(-X.shape[0] // batch_size)     # updates
    assert results[0][2] == results[1][2]                                     # last step size
    assert results[0][0] == pytest.approx(results[1][0], rel=tol("fast_path", dtype).rel)
    states = [net.state_dict() for net in nets]
    assert states[0]["updates"] == states[1]["updates"] == 7 + results[0][1]
    # Relative to the whole parameter vector: a single bias near 0 (a cancellation)
    # has no scale of its own to be relative to.
    for key in states[1]:
        if key != "updates":
            assert_close(states[0][key], states[1][key], "fast_path", dtype, key)
    return results


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("optimizer,hyper", optimizer_variants())
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_fast_paths_match_the_general_path(activation, head, optimizer, hyper, batch_size,
                                           dtype, weighted):
    k = max(head.min_outputs, 3)
    X, y, nets = _twins([5, 9, 6, k], activation, head, dtype, data_seed=0)
    w = np.random.default_rng(9).uniform(0, 2, len(X)) if weighted else None
    _compare_paths(nets, X, y, batch_size, w, dtype, optimizer, **hyper)
    start = fastnet.MLP([5, 9, 6, k], activation, head.name, dtype=dtype, seed=5)
    assert max_rel_diff(nets[0].parameters, start.parameters) > 1e-4      # it trained


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 7, 13, 40])   # last batches of 1, 5, 1 and 40 rows
# "wide" and "wide-first": per-sample fits keep the first layer transposed when it is
# one to four vectors wide (16-64 float, 8-32 double: _persample_impl.h), here with a
# tail of columns past the last full block (17 = 16 + 1 = 2 * 8 + 1, 21 = 16 + 5 =
# 2 * 8 + 5)
@pytest.mark.parametrize("sizes", [[5, 17, 33, 4], [1, 19, 16, 2], [3, 4, 1, 4, 2],
                                   [40, 21, 5]],
                         ids=["wide", "one-input", "width-1", "wide-first"])
@pytest.mark.parametrize("optimizer,hyper", [p for p in optimizer_variants()
                                             if p.id.endswith(("-plain", "-all"))])
@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_fast_paths_on_odd_shapes(head, optimizer, hyper, sizes, batch_size, dtype):
    sizes = sizes[:-1] + [max(sizes[-1], head.min_outputs)]
    activation = all_activations(len(sizes) - 2)
    X, y, nets = _twins(sizes, activation, head, dtype, data_seed=1)
    _compare_paths(nets, X, y, batch_size, None, dtype, optimizer, **hyper)


def test_run_steps_refuses_unknown_fast_paths():
    head = HEAD_PARAMS[0].values[0]
    X, y, (net, _) = _twins([3, 4, 3], ACTIVATIONS.names[0], head, "float64", data_seed=2,
                            n=5)
    before = net.state_dict()
    with pytest.raises(ValueError, match="unknown fast paths"):
        run_steps(net, X, y, fast_paths=("warp",))
    np.testing.assert_array_equal(net.parameters, before["params"])
    loss, steps, eta = run_steps(net, X, y, batch_size=2, learning_rate=0.1)
    assert steps == 3 and eta == 0.1 and np.isfinite(loss)
    assert net.state_dict()["updates"] == before["updates"] + 3


@pytest.mark.parametrize("dtype,max_ulp", [("float32", 3), ("float64", 3)])
def test_compiled_tanh_accuracy(dtype, max_ulp):
    """The compiled tanh (vectorisable, _components.h) against numpy.tanh, in ulps."""
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
    batch = net.forward(xs.reshape(-1, 1))[:, 0]             # the batch path: same C tanh
    np.testing.assert_array_equal(batch, got.astype(dtype))


@pytest.mark.parametrize("dtype,max_ulp", [("float32", 2), ("float64", 2)])
def test_compiled_softmax_exp_accuracy(dtype, max_ulp):
    """The compiled softmax's exp (vectorisable, _components.h) against float64 numpy,
    in ulps of the probability: two classes, logits (x, 0) for x from -1e-30 to -800,
    so p_0 = exp(x) / (1 + exp(x)) runs down to and past the smallest normal number,
    where the compiled exp gives 0 (a subnormal in libm)."""
    net = fastnet.MLP([2, 2], output="softmax", dtype=dtype, seed=0)
    net.weights[0][...] = [[1, 0], [0, 0]]
    net.biases[0][...] = 0
    xs = np.concatenate([-np.geomspace(1e-30, 800, 20000), [0.0]]).astype(dtype)
    X = np.stack([xs, np.zeros_like(xs)], axis=1)
    got = net.predict_proba(X)[:, 0].astype(np.float64)
    e = np.exp(xs.astype(np.float64))
    exact = e / (1 + e)
    tiny = np.finfo(dtype).tiny
    normal = exact > 2 * tiny
    ulp = np.spacing(exact.astype(dtype)).astype(np.float64)
    assert np.max(np.abs(got - exact)[normal] / ulp[normal]) <= max_ulp
    assert np.all(got[~normal] <= 2 * tiny) and np.all(got >= 0)
    assert got[-1] == 0.5
    rows = np.array([net.predict_proba(X[i:i + 1])[0, 0] for i in range(0, len(X), 97)])
    np.testing.assert_array_equal(rows, got[::97].astype(dtype))   # row path: same C exp


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


@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_loss_and_gradients_in_chunks(head):
    """More rows than one workspace chunk: the same mean loss and gradient."""
    from fastnet.network import FORWARD_CHUNK
    n = 2 * FORWARD_CHUNK + 77
    X, y = make_problem(head, n, 5, 3, seed=3)
    activation = ACTIVATIONS.names[0]
    fast = fastnet.MLP([5, 7, 3], activation, head.name, dtype="float64", seed=2)
    ref = fastnet.reference.MLP([5, 7, 3], activation, head.name, dtype="float64", seed=2)
    assert fast.loss(X, y) == pytest.approx(ref.loss(X, y), rel=tol("network", "float64").rel)
    for a, b in zip(*[sum(net.gradients(X, y), []) for net in (fast, ref)]):
        assert_close(a, b, "network", "float64")
    assert_close(fast.forward(X), ref.forward(X), "network", "float64")


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_reads_rows_in_place(dtype):
    """Many-row forward reads each chunk of X where it is (no copy into the workspace):
    a view that starts mid-array (not on a cache line), over several chunks and a short
    last one, gives the same bits as the same rows copied (whole, and from a chunk
    boundary on), agrees with the reference within its tolerance, and leaves X as it
    was."""
    from fastnet.network import FORWARD_CHUNK
    n, d = 2 * FORWARD_CHUNK + 77, 5
    big = np.random.default_rng(4).standard_normal((n + 3, d)).astype(dtype)
    X = big[3:]                                   # C-contiguous, 3 rows in: 60/120 bytes
    assert X.flags.c_contiguous and X.ctypes.data % 64 != 0
    before = X.copy()
    fast = fastnet.MLP([d, 9, 4], "relu", "softmax", dtype=dtype, seed=5)
    ref = fastnet.reference.MLP([d, 9, 4], "relu", "softmax", dtype=dtype, seed=5)
    out = fast.forward(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(out, fast.forward(X.copy()))
    # each chunk alone, and the rows after the chunk boundary, from their own arrays
    np.testing.assert_array_equal(out[FORWARD_CHUNK:], fast.forward(X[FORWARD_CHUNK:].copy()))
    np.testing.assert_array_equal(out[-77:], fast.forward(np.ascontiguousarray(X[-77:])))
    assert_close(out, ref.forward(X), "network", dtype)


@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_reads_rows_in_place(head, weighted):
    """The loss alone (no gradient) reads the rows where they are, the truth gathered
    as before: over several chunks and a short last one, the same bits as the pass that
    copies the rows into the workspace for its gradient, and X is left as it was."""
    from fastnet.network import FORWARD_CHUNK
    n, d = 2 * FORWARD_CHUNK + 77, 5
    X, y = make_problem(head, n + 3, d, 3, seed=6)
    X, y = X[3:], y[3:]                           # a view that starts mid-array
    w = np.random.default_rng(7).uniform(0, 2, n) if weighted else None
    before = X.copy()
    net = fastnet.MLP([d, 7, 3], "tanh", head.name, dtype="float64", seed=8)
    Xc, truth, w = net._data(X, y, w)
    assert np.shares_memory(Xc, X)                # the caller's rows, not a copy
    alone = net._loss_and_gradients(Xc, truth, False, w)
    with_grad = net._loss_and_gradients(Xc, truth, True, w)
    assert alone == with_grad
    assert net.loss(X, y, w) == pytest.approx(alone, rel=1e-12)
    np.testing.assert_array_equal(X, before)
