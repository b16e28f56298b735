"""The single-row latency path after its speed work (issue 11, target E).

forward, predict_proba and predict of fastnet.MLP are compiled functions
(_train.forward_method and co.) that serve one clean row in one C call, and the row
kernel (dense_rows in fastnet/_persample_impl.h) sums four rows at a time. Neither
may change a bit: the row outputs are checked here against a NumPy emulation of the
specified summation order (FN(dot): FNET_LANES partial sums over the full blocks, in
order of c, combined as a fixed tree, then the tail added in order, then the bias),
for widths that take every branch of the kernel (fewer inputs than lanes, a tail,
groups of rows with a partial last block of 1 to 7 rows, one input).
"""
import inspect

import numpy as np
import pytest

import fastnet
from fastnet._base import BaseMLP

LANES = {"float32": 16, "float64": 8}


def dense_rows_spec(W, x, b):
    """out = W x + b summed in the kernels' specified order (elementwise NumPy
    operations in the model's dtype round exactly as the C code without FMA)."""
    h, d = W.shape
    lanes = LANES[W.dtype.name]
    if d == 1:                      # forward_one's column of weights: w * x + b
        return W[:, 0] * x[0] + b
    tail = np.zeros(h, W.dtype)
    full = 0 if d < lanes else d - d % lanes
    for c in range(full, d):        # in order of c, from 0
        tail = tail + W[:, c] * x[c]
    if d < lanes:
        return tail + b
    acc = W[:, :lanes] * x[:lanes]
    for c in range(lanes, full, lanes):
        acc = acc + W[:, c:c + lanes] * x[c:c + lanes]
    m = lanes
    while m > 2:                    # lane k += lane k + m / 2
        m //= 2
        acc = acc[:, :m] + acc[:, m:2 * m]
    return ((acc[:, 0] + acc[:, 1]) + tail) + b


def forward_spec(net, x):
    a = x[0]
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        a = dense_rows_spec(W, a, b)
        if i < len(net.weights) - 1:   # relu as the C code writes it: z > 0 ? z : 0
            a = np.where(a > 0, a, np.zeros_like(a))
    return a[None, :]


SIZES = [[64, 32, 10], [37, 19, 23, 5], [16, 8], [15, 9, 3], [7, 3], [1, 64, 64, 1],
         [24, 17, 2], [100, 7, 4], [33, 12, 6], [8, 1], [17, 40, 13, 11]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_row_path_sums_in_the_specified_order(sizes, dtype):
    net = fastnet.MLP(sizes, "relu", "linear", dtype=dtype, seed=3)
    rng = np.random.default_rng(sum(sizes))
    for W in net.weights:           # magnitudes spread over decades: any change of
        W[...] = rng.standard_normal(W.shape) * 10.0 ** rng.integers(-3, 3, W.shape)
    for b in net.biases:            # order would show in the last bits
        b[...] = rng.standard_normal(b.shape)
    for _ in range(3):
        x = (rng.standard_normal((1, sizes[0])) * 10.0 ** rng.integers(-2, 2)).astype(dtype)
        first = net.forward(x)      # the checked path (makes the row plan)
        served = net.forward(x)     # the compiled row path
        expected = forward_spec(net, x)
        assert served.dtype == expected.dtype
        np.testing.assert_array_equal(first, expected)
        np.testing.assert_array_equal(served, expected)
        assert served.tobytes() == expected.tobytes()   # -0.0 and +0.0 too


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_per_sample_training_forward_matches_the_row_path(dtype):
    """Per-sample fit uses the same dense_rows: after a fit, rows still give the
    specified sums (and the model trained: its weights moved)."""
    net = fastnet.MLP([37, 19, 5], "relu", "linear", dtype=dtype, seed=0)
    before = net.weights[1].copy()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 37)).astype(dtype)
    y = rng.standard_normal((40, 5)).astype(dtype)
    net.fit(X, y, epochs=2, batch_size=1, learning_rate=0.01)
    assert not np.array_equal(net.weights[1], before)
    row = X[3:4]
    net.forward(row)
    assert net.forward(row).tobytes() == forward_spec(net, row).tobytes()


def test_the_public_row_methods_are_named_documented_and_take_self_and_x():
    for name in ("forward", "predict_proba", "predict"):
        method = getattr(fastnet.MLP, name)
        assert method.__name__ == name and method.__qualname__ == f"MLP.{name}"
        assert method.__module__ == "fastnet.network"
        assert inspect.getdoc(method) == inspect.getdoc(getattr(BaseMLP, name))
        assert list(inspect.signature(method).parameters) == ["self", "X"]
        # the same annotated signature as the documented one (help(), IDEs)
        assert inspect.signature(method) == inspect.signature(getattr(BaseMLP, name))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_methods_give_fresh_results_of_the_general_path(dtype):
    net = fastnet.MLP([64, 32, 10], "relu", "softmax", dtype=dtype, seed=0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 64)).astype(dtype)
    for i in range(5):
        row = X[i:i + 1]
        net.forward(row)                       # makes the row plan
        a, b = net.predict_proba(row), net.predict_proba(row)
        assert a is not b and a.flags.owndata and a.flags.writeable
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(net.forward(row), a)
        label = net.predict(row)
        assert label.dtype == np.intp and label.shape == (1,)
        assert label[0] == np.argmax(a[0])
    np.testing.assert_array_equal(net.predict(X), np.argmax(net.forward(X), axis=1))
    bad = X[:1].copy()
    bad[0, 7] = np.nan
    for method in (net.forward, net.predict, net.predict_proba):
        with pytest.raises(ValueError, match="NaN or infinity"):
            method(bad)
    # the unbound functions behave as methods
    np.testing.assert_array_equal(fastnet.MLP.forward(net, X[:1]), net.forward(X[:1]))
