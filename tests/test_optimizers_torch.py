"""The compiled optimizers against PyTorch's (where torch is installed): the same
parameters after several steps with the same gradients.

scikit-learn's Adam (ours) adds epsilon to sqrt(v) before the bias correction of the
step, PyTorch's after it; with a negligible epsilon the two are the same rule.
scikit-learn's Nesterov momentum (ours, in the velocity form v = mu v - lr g) is
PyTorch's SGD(nesterov=True) (buffer form b = mu b + g) for a constant learning rate.
"""
import numpy as np
import pytest

from fastnet import _kernels
from fastnet.components import OPTIMIZERS

torch = pytest.importorskip("torch")


def _run_ours(name, grads, params, lr, **hyper):
    config = OPTIMIZERS[name].config(learning_rate=lr, **hyper)
    p = params.copy()
    state = tuple(np.zeros_like(p) for _ in OPTIMIZERS[name].state)
    for step, g in enumerate(grads, start=1):
        _kernels.optimizer_update(config, p, g, state, p.size, lr, step)
    return p


def _run_torch(make, grads, params):
    p = torch.nn.Parameter(torch.from_numpy(params.copy()))
    opt = make([p])
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    return p.detach().numpy()


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    return rng.standard_normal(40), [rng.standard_normal(40) for _ in range(12)]


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_adam_matches_torch(problem, l2):
    params, grads = problem
    ours = _run_ours("adam", grads, params, 0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-300, l2=l2)
    theirs = _run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-300,
                                                    weight_decay=l2), grads, params)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ours, params)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_sgd_momentum_matches_torch(problem, nesterov, l2):
    params, grads = problem
    ours = _run_ours("sgd", grads, params, 0.05, momentum=0.9, nesterov=nesterov, l2=l2)
    # PyTorch's momentum buffer holds gradients (b = mu b + g) and is scaled by lr at
    # the step: the same steps as v = mu v - lr g for a constant lr.
    theirs = _run_torch(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9,
                                                   nesterov=nesterov, weight_decay=l2),
                        grads, params)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_nesterov_differs_from_classical_momentum(problem):
    params, grads = problem
    plain = _run_ours("sgd", grads, params, 0.05, momentum=0.9)
    look_ahead = _run_ours("sgd", grads, params, 0.05, momentum=0.9, nesterov=True)
    assert np.max(np.abs(plain - look_ahead)) > 1e-3
