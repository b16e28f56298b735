"""Gradients against central finite differences of the full-network loss (float64)."""
import numpy as np
import pytest

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
OUTPUTS = ["softmax", "linear"]


def _data(output, d, k, n, rng):
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n) if output == "softmax" else rng.standard_normal((n, k))
    return X, y


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(impl, activation, output, depth):
    rng = np.random.default_rng(depth * 7 + len(activation) + len(output))
    d, k, n = 3, 3, 6
    sizes = [d] + [5] * depth + [k]
    net = impl.MLP(sizes, activation=activation, output=output, dtype="float64", seed=depth)
    # Move the biases off zero so every unit is in a generic position.
    for b in net.biases:
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    X, y = _data(output, d, k, n, rng)
    dW, db = net.gradients(X, y)
    eps = 1e-6
    for analytic, params in zip(dW + db, net.weights + net.biases):
        numeric = np.zeros_like(params)
        flat, num_flat = params.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = net.loss(X, y)
            flat[i] = old - eps
            down = net.loss(X, y)
            flat[i] = old
            num_flat[i] = (up - down) / (2 * eps)
        # Central differences err by O(eps^2) plus roundoff ~1e-16 / eps: ~1e-10 here.
        # Deep sigmoid gradients are ~1e-4, so the bound mixes absolute and relative.
        err = np.max(np.abs(analytic - numeric))
        assert err < 1e-8 + 1e-6 * np.max(np.abs(numeric)), (analytic, numeric)


def test_finite_difference_check_can_fail(impl):
    """The check above detects a gradient that is off by a small factor."""
    rng = np.random.default_rng(0)
    net = impl.MLP([3, 4, 2], activation="tanh", dtype="float64", seed=0)
    X, y = _data("softmax", 3, 2, 5, rng)
    dW, _ = net.gradients(X, y)
    W = net.weights[0].reshape(-1)
    old = W[0]
    W[0] = old + 1e-6
    up = net.loss(X, y)
    W[0] = old - 1e-6
    down = net.loss(X, y)
    W[0] = old
    numeric = (up - down) / 2e-6
    assert abs(dW[0].reshape(-1)[0] - numeric) < 1e-8
    assert abs(1.01 * dW[0].reshape(-1)[0] - numeric) > 1e-8
