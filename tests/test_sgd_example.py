"""One SGD step worked out by hand, checked on both implementations."""
import numpy as np
import pytest


def test_one_step_linear_two_layers(impl):
    # Network 1-1-1, ReLU hidden, linear output, float64.
    #   x = 1, y = 3, W1 = 2, b1 = -1, W2 = 3, b2 = 0.5, learning rate 0.1.
    # Forward:
    #   z1 = W1 x + b1 = 2 - 1 = 1        h1 = relu(1) = 1
    #   y~ = W2 h1 + b2 = 3 + 0.5 = 3.5   L = (y~ - y)^2 = 0.5^2 = 0.25
    # Backward (layer by layer, the lecture's two derivatives per layer):
    #   dL/dy~ = 2 (y~ - y) = 1
    #   dL/dW2 = 1 * h1 = 1               dL/db2 = 1
    #   dL/dh1 = W2 * 1 = 3               dL/dz1 = 3 * relu'(1) = 3
    #   dL/dW1 = 3 * x = 3                dL/db1 = 3
    # Update theta <- theta - 0.1 grad:
    #   W2 = 3 - 0.1 = 2.9   b2 = 0.5 - 0.1 = 0.4   W1 = 2 - 0.3 = 1.7   b1 = -1 - 0.3 = -1.3
    net = impl.MLP([1, 1, 1], activation="relu", output="linear", dtype="float64", seed=0)
    net.weights[0][...] = 2
    net.biases[0][...] = -1
    net.weights[1][...] = 3
    net.biases[1][...] = 0.5
    X, y = np.array([[1.0]]), np.array([3.0])
    assert net.loss(X, y) == pytest.approx(0.25, abs=1e-15)
    dW, db = net.gradients(X, y)
    np.testing.assert_allclose([dW[0][0, 0], db[0][0], dW[1][0, 0], db[1][0]], [3, 3, 1, 1],
                               atol=1e-15)
    history = net.fit(X, y, epochs=1, batch_size=1, learning_rate=0.1)
    assert history["loss"] == [pytest.approx(0.25, abs=1e-15)]
    np.testing.assert_allclose([net.weights[0][0, 0], net.biases[0][0], net.weights[1][0, 0],
                                net.biases[1][0]], [1.7, -1.3, 2.9, 0.4], atol=1e-15)


def test_one_step_softmax_with_momentum_and_l2(impl):
    # Network 2-2 (no hidden layer), softmax, W = 0, b = 0, x = (1, 2), class 0.
    #   logits = (0, 0)  p = (1/2, 1/2)  L = -log(1/2) = log 2
    #   dL/dlogits = p - onehot = (-1/2, 1/2)
    #   dL/dW = outer(dlogits, x) = [[-1/2, -1], [1/2, 1]]    dL/db = (-1/2, 1/2)
    # Step 1 with lr 0.1, momentum 0.9, l2 0.5 (W = 0, so the l2 term adds nothing):
    #   v = -0.1 g   W = [[0.05, 0.1], [-0.05, -0.1]]   b = (0.05, -0.05)
    # Step 2 on the same sample: logits = W x + b = (0.05 + 0.2 + 0.05, -0.3) = (0.3, -0.3)
    #   p0 = 1 / (1 + e^-0.6)   dlogits = (p0 - 1, 1 - p0) =: (-q, q), q = 1 - p0
    #   gW = [[-q, -2q], [q, 2q]] + 0.5 W      gb = (-q, q)
    #   v = 0.9 v - 0.1 g;  theta += v
    net = impl.MLP([2, 2], output="softmax", dtype="float64", seed=0)
    net.weights[0][...] = 0
    X, y = np.array([[1.0, 2.0]]), np.array([0])
    assert net.loss(X, y) == pytest.approx(np.log(2), abs=1e-15)
    net.fit(X, y, epochs=2, batch_size=1, learning_rate=0.1, momentum=0.9, l2=0.5)
    W1 = np.array([[0.05, 0.1], [-0.05, -0.1]])
    b1 = np.array([0.05, -0.05])
    vW1, vb1 = W1.copy(), b1.copy()
    q = 1 - 1 / (1 + np.exp(-0.6))
    gW = np.array([[-q, -2 * q], [q, 2 * q]]) + 0.5 * W1
    gb = np.array([-q, q])
    W2 = W1 + (0.9 * vW1 - 0.1 * gW)
    b2 = b1 + (0.9 * vb1 - 0.1 * gb)
    np.testing.assert_allclose(net.weights[0], W2, atol=1e-15)
    np.testing.assert_allclose(net.biases[0], b2, atol=1e-15)
