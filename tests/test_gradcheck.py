"""Gradients of the full-network loss, float64, for every registered activation and
head: against central finite differences (conftest.fd_gradient) and, where PyTorch is
installed, against its autograd of the same network."""
import numpy as np
import pytest

from fastnet.components import ACTIVATIONS

from conftest import HEAD_PARAMS, assert_close, fd_gradient, make_problem


def _flat(dW, db):
    """Gradients in the layout of net.parameters: every weight, then every bias."""
    return np.concatenate([g.reshape(-1) for g in dW + db])


def _network(impl, activation, head, depth, seed):
    """A float64 network of the given depth with biases moved off zero, so that every
    unit is in a generic position (not at a ReLU kink), and data for it."""
    rng = np.random.default_rng(seed)
    d, k, n = 3, max(head.min_outputs, 3), 6
    net = impl.MLP([d] + [5] * depth + [k], activation=activation, output=head.name,
                   dtype="float64", seed=depth)
    for b in net.biases:
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    X, y = make_problem(head, n, d, k, seed=seed + 1)
    return net, X, y


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_gradients_match_finite_differences(impl, activation, head, depth):
    net, X, y = _network(impl, activation, head, depth, seed=depth * 7 + 1)
    analytic = _flat(*net.gradients(X, y))
    numeric = fd_gradient(lambda: net.loss(X, y), net.parameters)
    assert_close(analytic, numeric, "finite_difference", np.float64)


def test_finite_difference_check_can_fail(impl):
    """The check above detects a gradient that is off by a small factor."""
    head = HEAD_PARAMS[0].values[0]
    net, X, y = _network(impl, ACTIVATIONS.names[0], head, 1, seed=0)
    analytic = _flat(*net.gradients(X, y))
    numeric = fd_gradient(lambda: net.loss(X, y), net.parameters)
    assert_close(analytic, numeric, "finite_difference", np.float64)
    with pytest.raises(AssertionError):
        assert_close(1.01 * analytic, numeric, "finite_difference", np.float64)
    wrong = analytic.copy()
    wrong[0] += 1e-5 + 1e-3 * abs(wrong[0])                  # one entry slightly off
    with pytest.raises(AssertionError):
        assert_close(wrong, numeric, "finite_difference", np.float64)


# -- PyTorch autograd ------------------------------------------------------------------

def _torch_loss(torch, head, out, y):
    """The head's mean loss in PyTorch, by its loss kernel."""
    if head.loss_kernel == "softmax_xent":
        return torch.nn.functional.cross_entropy(out, torch.as_tensor(y))
    if head.loss_kernel == "squared_error":
        return ((out - torch.as_tensor(y)) ** 2).sum(dim=1).mean()
    if head.loss_kernel == "logistic_xent":
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        return bce(out, torch.as_tensor(y).reshape(out.shape), reduction="none").sum(dim=1).mean()
    if head.loss_kernel == "poisson_deviance":
        # torch's Poisson NLL with log input, exp(z) - y z, plus the terms that make it
        # half the deviance: y log y - y (torch's xlogy: 0 log 0 = 0)
        t = torch.as_tensor(y).reshape(out.shape)
        nll = torch.nn.functional.poisson_nll_loss(out, t, log_input=True, full=False,
                                                   reduction="none")
        return (nll + torch.special.xlogy(t, t) - t).sum(dim=1).mean()
    pytest.fail(f"no PyTorch loss for {head.loss_kernel!r}: add it to _torch_loss")


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_gradients_match_torch_autograd(impl, activation, head, depth):
    torch = pytest.importorskip("torch")
    layer = getattr(torch.nn, ACTIVATIONS[activation].layer, None)
    if layer is None:
        pytest.fail(f"torch.nn has no {ACTIVATIONS[activation].layer} for {activation!r}")
    net, X, y = _network(impl, activation, head, depth, seed=depth + 11)
    weights = [torch.tensor(W, requires_grad=True) for W in net.weights]
    biases = [torch.tensor(b, requires_grad=True) for b in net.biases]
    h = torch.as_tensor(X)
    for l, (W, b) in enumerate(zip(weights, biases)):
        h = h @ W.T + b
        if l < depth:
            h = layer()(h)
    loss = _torch_loss(torch, head, h, y)
    loss.backward()
    assert_close(net.loss(X, y), loss.item(), "autograd", np.float64, "loss")
    expected = _flat([W.grad.numpy() for W in weights], [b.grad.numpy() for b in biases])
    analytic = _flat(*net.gradients(X, y))
    assert_close(analytic, expected, "autograd", np.float64)
