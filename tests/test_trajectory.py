"""fastnet and the reference follow the same training trajectory.

Same seed: bitwise-identical initial weights. Same seed, data and arguments: after
3 epochs the weights agree to 1e-9 relative in float64 and about 1e-4 in float32.
"""
import numpy as np
import pytest

import fastnet
import fastnet.reference as reference

from conftest import max_rel_diff

TRAJECTORY_TOL = {"float64": 1e-9, "float32": 1e-4}


def _problem(output, n=120, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if output == "softmax":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    else:
        y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)
    return X, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_same_seed_same_initial_weights(dtype, activation):
    a = fastnet.MLP([5, 7, 6, 3], activation=activation, dtype=dtype, seed=42)
    b = reference.MLP([5, 7, 6, 3], activation=activation, dtype=dtype, seed=42)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert wa.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(wa, wb)
    c = fastnet.MLP([5, 7, 6, 3], activation=activation, dtype=dtype, seed=43)
    assert not np.array_equal(a.weights[0], c.weights[0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sampling", ["shuffle", "uniform"])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("options", [
    dict(),
    dict(momentum=0.9),
    dict(l2=1e-3, lr_decay=0.01),
    dict(momentum=0.5, l2=1e-2, lr_decay=0.001),
], ids=["plain", "momentum", "l2-decay", "all"])
@pytest.mark.parametrize("net", [
    ([6, 16, 12, 3], "relu", "softmax"),
    ([6, 10, 2], "tanh", "linear"),
    ([6, 8, 8, 3], ["sigmoid", "tanh"], "softmax"),
], ids=["relu-softmax", "tanh-linear", "mixed-softmax"])
def test_trajectory_agreement(net, options, batch_size, sampling, dtype):
    sizes, activation, output = net
    X, y = _problem(output, k=sizes[-1])
    # A stable step size: with momentum mu the effective step is lr / (1 - mu), and an
    # unstable run amplifies rounding differences until any two runs part ways.
    lr = (0.02 if batch_size == 1 else 0.1) * (1 - options.get("momentum", 0.0))
    histories, models = [], []
    for impl in (fastnet, reference):
        model = impl.MLP(sizes, activation=activation, output=output, dtype=dtype, seed=3)
        histories.append(model.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=lr,
                                   sampling=sampling, **options))
        models.append(model)
    fast, ref = models
    assert max(histories[1]["loss"]) < 3 * histories[1]["loss"][0]  # no divergence
    # Training did move the weights (the comparison is not between two initial states).
    start = reference.MLP(sizes, activation=activation, output=output, dtype=dtype, seed=3)
    assert max_rel_diff(ref.weights[0], start.weights[0]) > 1e-3
    for wf, wr in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        assert max_rel_diff(wf, wr) < TRAJECTORY_TOL[dtype]
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"],
                               rtol=TRAJECTORY_TOL[dtype])
    np.testing.assert_allclose(histories[0]["learning_rate"], histories[1]["learning_rate"],
                               rtol=1e-15)


def test_fit_in_two_calls_continues_the_same_trajectory(impl):
    """The model keeps its sampling generator and optimiser state between fits."""
    X, y = _problem("softmax")
    a = impl.MLP([6, 8, 3], seed=1, dtype="float64")
    b = impl.MLP([6, 8, 3], seed=1, dtype="float64")
    kw = dict(batch_size=4, learning_rate=0.05, momentum=0.9, lr_decay=0.01)
    a.fit(X, y, epochs=2, **kw)
    b.fit(X, y, epochs=1, **kw)
    b.fit(X, y, epochs=1, **kw)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
