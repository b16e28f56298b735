"""Sample weights: each sample's loss (and gradient) times its weight."""
import numpy as np
import pytest

import fastnet
import fastnet.reference

from conftest import max_rel_diff


def _data(output, n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = rng.integers(0, 3, n) if output == "softmax" else rng.standard_normal((n, 3))
    return X, y, rng.uniform(0, 3, n)


@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_weighted_loss_is_the_mean_of_weighted_sample_losses(impl, output):
    X, y, w = _data(output)
    net = impl.MLP([4, 5, 3], "tanh", output, dtype="float64", seed=0)
    per_sample = np.array([net.loss(X[i:i + 1], y[i:i + 1]) for i in range(len(X))])
    assert net.loss(X, y, sample_weight=w) == pytest.approx(np.mean(w * per_sample), rel=1e-12)
    assert net.loss(X, y, sample_weight=np.ones(len(X))) == net.loss(X, y)


@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_weighted_gradients_match_finite_differences(impl, output):
    X, y, w = _data(output, n=12)
    net = impl.MLP([4, 5, 3], "sigmoid", output, dtype="float64", seed=1)
    dW, db = net.gradients(X, y, sample_weight=w)
    for analytic, params in zip(dW + db, net.weights + net.biases):
        flat, num = params.reshape(-1), np.zeros(params.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            up = net.loss(X, y, sample_weight=w)
            flat[i] = old - 1e-6
            down = net.loss(X, y, sample_weight=w)
            flat[i] = old
            num[i] = (up - down) / 2e-6
        assert np.max(np.abs(analytic.reshape(-1) - num)) < 1e-8 + 1e-6 * np.max(np.abs(num))


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_weights_of_one_are_no_weights(impl, output, batch_size):
    X, y, _ = _data(output)
    a = impl.MLP([4, 5, 3], "relu", output, dtype="float32", seed=2)
    b = impl.MLP([4, 5, 3], "relu", output, dtype="float32", seed=2)
    a.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=0.05, momentum=0.5)
    b.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=0.05, momentum=0.5,
          sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(a.parameters, b.parameters)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-9), ("float32", 1e-4)])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_weighted_trajectories_agree(output, batch_size, dtype, tol):
    X, y, w = _data(output)
    nets = [impl.MLP([4, 8, 3], "tanh", output, dtype=dtype, seed=3)
            for impl in (fastnet, fastnet.reference)]
    histories = [net.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=0.02,
                         sample_weight=w) for net in nets]
    assert max_rel_diff(nets[0].parameters, nets[1].parameters) < tol
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=tol)
    unweighted = fastnet.MLP([4, 8, 3], "tanh", output, dtype=dtype, seed=3)
    unweighted.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=0.02)
    assert max_rel_diff(unweighted.parameters, nets[0].parameters) > 1e-3   # weights mattered


def test_zero_weight_samples_do_not_move_the_model(impl):
    X, y, _ = _data("softmax")
    net = impl.MLP([4, 5, 3], seed=0, dtype="float64")
    before = net.parameters.copy()
    net.fit(X, y, epochs=2, batch_size=1, learning_rate=0.1, sample_weight=np.zeros(len(X)))
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("w,match", [
    (np.ones(5), r"shape \(60,\)"),
    (-np.ones(60), "non-negative"),
    (np.full(60, np.nan), "NaN or infinity"),
    (np.ones((60, 1)), r"shape \(60,\)"),
])
def test_bad_sample_weight(impl, w, match):
    X, y, _ = _data("softmax")
    net = impl.MLP([4, 5, 3], seed=0)
    for call in (lambda: net.fit(X, y, sample_weight=w), lambda: net.loss(X, y, w),
                 lambda: net.gradients(X, y, w)):
        with pytest.raises(ValueError, match=match):
            call()
