"""Sample weights: each sample's loss (and gradient) times its weight."""
import numpy as np
import pytest

import fastnet
import fastnet.reference

from conftest import (HEAD_PARAMS, assert_close, fd_gradient, make_truth, max_rel_diff,
                      tol)


def _data(head, n=60, seed=0):
    """X (n, 4), truth for 3 outputs of the head, and sample weights in [0, 3)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = make_truth(head, rng, n, 3)
    return X, y, rng.uniform(0, 3, n)


@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_weighted_loss_is_the_mean_of_weighted_sample_losses(impl, head):
    X, y, w = _data(head)
    net = impl.MLP([4, 5, 3], "tanh", head.name, dtype="float64", seed=0)
    per_sample = np.array([net.loss(X[i:i + 1], y[i:i + 1]) for i in range(len(X))])
    assert net.loss(X, y, sample_weight=w) == pytest.approx(np.mean(w * per_sample),
                                                          rel=tol("network", "float64").rel)
    assert net.loss(X, y, sample_weight=np.ones(len(X))) == net.loss(X, y)


@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_weighted_gradients_match_finite_differences(impl, head):
    X, y, w = _data(head, n=12)
    net = impl.MLP([4, 5, 3], "sigmoid", head.name, dtype="float64", seed=1)
    dW, db = net.gradients(X, y, sample_weight=w)
    analytic = np.concatenate([g.reshape(-1) for g in dW + db])
    numeric = fd_gradient(lambda: net.loss(X, y, sample_weight=w), net.parameters)
    assert_close(analytic, numeric, "finite_difference", np.float64)


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_weights_of_one_are_no_weights(impl, head, batch_size):
    X, y, _ = _data(head)
    a = impl.MLP([4, 5, 3], "relu", head.name, dtype="float32", seed=2)
    b = impl.MLP([4, 5, 3], "relu", head.name, dtype="float32", seed=2)
    a.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=0.05, momentum=0.5)
    b.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=0.05, momentum=0.5,
          sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(a.parameters, b.parameters)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_weighted_trajectories_agree(head, batch_size, dtype):
    X, y, w = _data(head)
    nets = [impl.MLP([4, 8, 3], "tanh", head.name, dtype=dtype, seed=3)
            for impl in (fastnet, fastnet.reference)]
    histories = [net.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=0.02,
                         sample_weight=w) for net in nets]
    assert_close(nets[0].parameters, nets[1].parameters, "trajectory", dtype)
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"],
                               rtol=tol("trajectory", dtype).rel)
    unweighted = fastnet.MLP([4, 8, 3], "tanh", head.name, dtype=dtype, seed=3)
    unweighted.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=0.02)
    assert max_rel_diff(unweighted.parameters, nets[0].parameters) > 1e-3   # weights mattered


@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_zero_weight_samples_do_not_move_the_model(impl, head):
    X, y, _ = _data(head)
    net = impl.MLP([4, 5, 3], output=head.name, seed=0, dtype="float64")
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
    X, y, _ = _data(HEAD_PARAMS[0].values[0])
    net = impl.MLP([4, 5, 3], seed=0)
    for call in (lambda: net.fit(X, y, sample_weight=w), lambda: net.loss(X, y, w),
                 lambda: net.gradients(X, y, w)):
        with pytest.raises(ValueError, match=match):
            call()
