"""The lecture's depth results, checked exactly."""
import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet import datasets, theory


@pytest.mark.parametrize("k", range(1, 21))
def test_sawtooth_has_exactly_2_to_the_k_pieces(k):
    result = theory.count_linear_pieces(theory.sawtooth_network(k), 0.0, 1.0)
    assert result.count == 2 ** k
    # the breakpoints are the multiples of 2^-k strictly inside (0, 1)
    np.testing.assert_array_equal(result.breakpoints, np.arange(1, 2 ** k) / 2 ** k)
    np.testing.assert_array_equal(np.abs(result.slopes[:, 0]), 2.0 ** k)


@pytest.mark.parametrize("impl", [fastnet, fastnet.reference])
@pytest.mark.parametrize("k", [1, 3, 8, 12])
def test_sawtooth_agrees_with_zigzag_target(impl, k):
    net = theory.sawtooth_network(k, impl=impl)
    X, y = datasets.zigzag(k, 2001, grid=True)
    np.testing.assert_allclose(net.predict(X), y, atol=1e-9)
    X, y = datasets.zigzag(k, 500, seed=3)
    np.testing.assert_allclose(net.predict(X), y, atol=1e-9)


def _random_relu_net(widths, seed):
    rng = np.random.default_rng(seed)
    net = fastnet.MLP([1] + widths + [1], "relu", "linear", dtype="float64", seed=seed)
    for b in net.biases:
        b[...] = rng.uniform(-1, 1, b.shape)
    return net


@pytest.mark.parametrize("widths", [[3], [8], [6, 6], [5, 7, 4], [10, 10, 10]])
@pytest.mark.parametrize("seed", range(4))
def test_count_agrees_with_the_network(widths, seed):
    net = _random_relu_net(widths, seed)
    lo, hi = -3.0, 3.0
    result = theory.count_linear_pieces(net, lo, hi)
    edges = np.concatenate([[lo], result.breakpoints, [hi]])
    assert len(edges) == result.count + 1 and np.all(np.diff(edges) > 0)
    f = lambda x: net.predict(np.asarray(x, dtype=float).reshape(-1, 1))  # noqa: E731
    # on every piece the network is linear with the reported slope ...
    for a, b, slope in zip(edges[:-1], edges[1:], result.slopes[:, 0]):
        xs = np.linspace(a, b, 7)
        np.testing.assert_allclose(f(xs), f([a])[0] + slope * (xs - a), atol=1e-9)
    # ... and the slope really changes at every breakpoint
    assert np.all(np.abs(np.diff(result.slopes[:, 0])) > 1e-12)
    # dense sampling sees the same number of slope changes where pieces are wide
    if result.count > 1 and np.min(np.diff(edges)) > 1e-3:
        xs = np.linspace(lo, hi, 600001)
        s = np.diff(f(xs)) / np.diff(xs)
        changed = np.abs(np.diff(s)) > 1e-6
        starts = changed & ~np.concatenate([[False], changed[:-1]])   # one per kink
        assert 1 + starts.sum() == result.count


@pytest.mark.parametrize("h", [1, 2, 5, 16, 40])
@pytest.mark.parametrize("seed", range(5))
def test_one_hidden_layer_makes_at_most_h_plus_1_pieces(h, seed):
    net = _random_relu_net([h], seed)
    assert theory.count_linear_pieces(net, -100.0, 100.0).count <= h + 1
    # and h + 1 is reached when the kinks are distinct and the units do not cancel
    net.weights[0][...] = 1.0
    net.biases[0][...] = -np.arange(h)
    net.weights[1][...] = np.arange(1, h + 1)
    assert theory.count_linear_pieces(net, -1.0, float(h)).count == h + 1


def test_count_linear_pieces_rejects_what_it_cannot_count():
    with pytest.raises(ValueError, match="one input"):
        theory.count_linear_pieces(fastnet.MLP([2, 3, 1], output="linear"), 0, 1)
    with pytest.raises(ValueError, match="ReLU"):
        theory.count_linear_pieces(fastnet.MLP([1, 3, 1], "tanh", "linear"), 0, 1)
    with pytest.raises(ValueError, match="lo < hi"):
        theory.count_linear_pieces(theory.sawtooth_network(2), 1, 0)


def test_montufar_bounds():
    # one layer of h units on d inputs: sum_{i<=d} C(h, i)
    assert theory.montufar_bounds(1, 2, 1).one_layer == 3
    assert theory.montufar_bounds(2, 4, 1).one_layer == 1 + 4 + 6
    # k layers of width h >= d: floor(h/d)^(d(k-1)) * sum_{j<=d} C(h, j)
    assert theory.montufar_bounds(2, 4, 3).deep_lower == 2 ** 4 * 11
    assert theory.montufar_bounds(1, 2, 5) == (3, 11, 48)
    big = theory.montufar_bounds(3, 10, 30).deep_lower
    assert isinstance(big, int) and big == 3 ** 87 * (1 + 10 + 45 + 120)
    with pytest.raises(ValueError, match="h >= d"):
        theory.montufar_bounds(3, 2, 2)


def test_parity_circuit_sizes_of_the_lecture():
    sizes = theory.parity_circuit_sizes(4)
    # the lecture's d = 4 examples: (x1 ^ x2) ^ (x3 ^ x4); its AND/OR/NOT form of
    # depth 4; and a DNF of 8 terms, depth 2
    assert sizes["xor_tree"] == {"gates": 3, "nots": 0, "depth": 2}
    assert sizes["and_or_not"]["depth"] == 4 and sizes["and_or_not"]["gates"] == 9
    assert sizes["dnf"]["gates"] == 8 + 1 and sizes["dnf"]["depth"] == 2
    assert theory.parity_circuit_sizes(12)["dnf"]["gates"] == 2 ** 11 + 1


def test_a_network_learns_parity_8():
    X, y = datasets.parity(8)
    net = fastnet.MLP([8, 32, 32, 2], "relu", seed=0)
    net.fit(X, y, epochs=500, batch_size=1, learning_rate=0.01, momentum=0.5)
    assert net.score(X, y) == 1.0
