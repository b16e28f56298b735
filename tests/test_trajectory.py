"""fastnet and the reference follow the same training trajectory.

Same seed: bitwise-identical initial weights. Same seed, data and arguments: step by
step (fastnet.testing.run_steps), and after whole epochs of fit, the parameters agree
to the "trajectory" tolerance (1e-9 relative in float64, about 1e-4 in float32), for
every registered activation, head and optimizer configuration.
"""
import numpy as np
import pytest

import fastnet
import fastnet.reference as reference
from fastnet.components import ACTIVATIONS
from fastnet.testing import run_steps

from conftest import (DTYPES, HEAD_PARAMS, all_activations, assert_close, make_problem,
                      max_rel_diff, optimizer_variants, stable_learning_rate, tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_same_seed_same_initial_weights(dtype, activation):
    a = fastnet.MLP([5, 7, 6, 3], activation=activation, dtype=dtype, seed=42)
    b = reference.MLP([5, 7, 6, 3], activation=activation, dtype=dtype, seed=42)
    assert a.parameters.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(a.parameters, b.parameters)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
    c = fastnet.MLP([5, 7, 6, 3], activation=activation, dtype=dtype, seed=43)
    assert not np.array_equal(a.weights[0], c.weights[0])


@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("optimizer,hyper", optimizer_variants())
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_step_by_step_trajectory(activation, head, optimizer, hyper, batch_size):
    """float64, one optimizer step at a time: after every step the parameters, the
    optimizer state and the update count agree, and so do each step's loss and size."""
    k = max(head.min_outputs, 3)
    X, y = make_problem(head, 28, 5, k, seed=1)
    nets = [impl.MLP([5, 8, 6, k], activation, head.name, dtype="float64", seed=3)
            for impl in (fastnet, reference)]
    start = nets[1].parameters.copy()
    lr = stable_learning_rate(0.05, hyper)
    order = np.random.default_rng(2).permutation(len(X))
    for begin in range(0, 2 * len(X), batch_size):        # two passes over the data
        rows = np.take(order, np.arange(begin, begin + batch_size), mode="wrap")
        results = [run_steps(net, X, y, rows, batch_size, learning_rate=lr,
                             optimizer=optimizer, **hyper)
                   for net in nets]
        (loss_f, steps_f, eta_f), (loss_r, steps_r, eta_r) = results
        assert steps_f == steps_r == 1 and eta_f == eta_r
        assert abs(loss_f - loss_r) <= tol("trajectory", "float64").rel * abs(loss_r)
        states = [net.state_dict() for net in nets]
        assert states[0]["updates"] == states[1]["updates"]
        for key in states[1]:
            if key != "updates":
                assert_close(states[0][key], states[1][key], "trajectory", "float64",
                             f"{key} after update {states[1]['updates']}")
    assert max_rel_diff(nets[1].parameters, start) > 1e-3       # training moved the model


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sampling", ["shuffle", "uniform"])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("optimizer,hyper", optimizer_variants())
@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_fit_trajectory_agreement(head, optimizer, hyper, batch_size, sampling, dtype):
    """Three epochs of fit, a network mixing every activation."""
    k = max(head.min_outputs, 3)
    sizes = [6] + [10] * len(ACTIVATIONS) + [k]
    activation = all_activations(len(ACTIVATIONS))
    X, y = make_problem(head, 120, 6, k)
    lr = stable_learning_rate(0.02 if batch_size == 1 else 0.1, hyper)
    histories, models = [], []
    for impl in (fastnet, reference):
        model = impl.MLP(sizes, activation=activation, output=head.name, dtype=dtype, seed=3)
        histories.append(model.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=lr,
                                   sampling=sampling, optimizer=optimizer, **hyper))
        models.append(model)
    fast, ref = models
    assert max(histories[1]["loss"]) < 3 * histories[1]["loss"][0]  # no divergence
    # Training did move the weights (the comparison is not between two initial states).
    start = reference.MLP(sizes, activation=activation, output=head.name, dtype=dtype, seed=3)
    assert max_rel_diff(ref.weights[0], start.weights[0]) > 1e-3
    for wf, wr in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        assert_close(wf, wr, "trajectory", dtype)
    sf, sr = fast.state_dict(), ref.state_dict()
    assert sf["updates"] == sr["updates"]
    for key in sr:
        if key not in ("params", "updates"):
            assert_close(sf[key], sr[key], "trajectory_state", dtype, key)
    for a, b in zip(histories[0]["loss"], histories[1]["loss"]):
        assert_close(a, b, "trajectory", dtype, "epoch loss")
    np.testing.assert_allclose(histories[0]["learning_rate"], histories[1]["learning_rate"],
                               rtol=1e-15)


def test_fit_in_two_calls_continues_the_same_trajectory(impl):
    """The model keeps its sampling generator and optimiser state between fits."""
    head = HEAD_PARAMS[0].values[0]
    X, y = make_problem(head, 120, 6, 3)
    a = impl.MLP([6, 8, 3], output=head.name, seed=1, dtype="float64")
    b = impl.MLP([6, 8, 3], output=head.name, seed=1, dtype="float64")
    kw = dict(batch_size=4, learning_rate=0.05, momentum=0.9, lr_decay=0.01)
    a.fit(X, y, epochs=2, **kw)
    b.fit(X, y, epochs=1, **kw)
    b.fit(X, y, epochs=1, **kw)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
