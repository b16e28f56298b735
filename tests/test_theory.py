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


# -- exactness on any interval, linear-time construction, bounds (issue 12) -------

def _exact_pieces(net, lo, hi):
    """An independent count in exact rational arithmetic (every float is a rational):
    the same layer-by-layer partition, with exact roots and exact sign tests, and
    slopes compared with ==. Returns (count, breakpoints as Fractions)."""
    from fractions import Fraction as F
    Ws = [[[F(float(v)) for v in row] for row in W] for W in net.weights]
    bs = [[F(float(v)) for v in b] for b in net.biases]
    points = [F(lo), F(hi)]
    pieces = [([F(1)], [F(0)])]                    # per interval: h_j = a_j x + c_j
    for W, b in zip(Ws[:-1], bs[:-1]):
        new_points, new_pieces = [points[0]], []
        for (a, c), p, q in zip(pieces, points[:-1], points[1:]):
            za = [sum(w * x for w, x in zip(row, a)) for row in W]
            zc = [sum(w * x for w, x in zip(row, c)) + bj for row, bj in zip(W, b)]
            roots = sorted({-cj / aj for aj, cj in zip(za, zc) if aj != 0 and p < -cj / aj < q})
            for s, t in zip([p] + roots, roots + [q]):
                mid = (s + t) / 2
                on = [aj * mid + cj > 0 for aj, cj in zip(za, zc)]
                new_pieces.append(([aj if o else F(0) for aj, o in zip(za, on)],
                                   [cj if o else F(0) for cj, o in zip(zc, on)]))
                new_points.append(t)
        points, pieces = new_points, new_pieces
    slopes = [tuple(sum(w * x for w, x in zip(row, a)) for row in Ws[-1]) for a, _ in pieces]
    breaks = [x for x, s, t in zip(points[1:-1], slopes[:-1], slopes[1:]) if s != t]
    return len(breaks) + 1, breaks


@pytest.mark.parametrize("interval", [(-3.0, 3.0), (-1e6, 1e6), (-1e-3, 2e-3), (1e3, 1e9)])
@pytest.mark.parametrize("widths", [[4], [6, 5], [4, 4, 4]])
@pytest.mark.parametrize("seed", range(4))
def test_count_is_exact_on_any_interval(interval, widths, seed):
    net = _random_relu_net(widths, seed)
    rng = np.random.default_rng(100 + seed)
    for W, b in zip(net.weights, net.biases):
        # kinks at many scales, so that wide and narrow intervals both hold some
        b[...] = rng.uniform(-1, 1, b.shape) * 10.0 ** rng.integers(-4, 7, b.shape)
    result = theory.count_linear_pieces(net, *interval)
    count, breaks = _exact_pieces(net, *interval)
    assert result.count == count
    np.testing.assert_allclose(result.breakpoints, [float(x) for x in breaks], rtol=1e-12)


def test_sawtooth_20_on_a_wide_interval_has_all_its_pieces():
    # the reproducer: the old tolerance relative to hi - lo (2e-6 here)
    # merged breakpoints 2**-20 apart, reporting 262,146 pieces
    result = theory.count_linear_pieces(theory.sawtooth_network(20), -1000, 1000)
    assert result.count == 2 ** 20 + 2                 # + the flat pieces x < 0, x > 1
    np.testing.assert_array_equal(result.breakpoints, np.arange(2 ** 20 + 1) / 2 ** 20)


@pytest.mark.parametrize("k", [3, 12])
def test_sawtooth_with_non_dyadic_breakpoints(k):
    # sawtooth(3x): breakpoints j / (3 * 2**k), none exactly representable
    net = theory.sawtooth_network(k)
    net.weights[0][...] *= 3
    for lo, hi in [(0.0, 1 / 3), (-1e4, 1e4)]:
        result = theory.count_linear_pieces(net, lo, hi)
        assert result.count == 2 ** k + (2 if lo < 0 else 0)
        inner = result.breakpoints if lo < 0 else np.concatenate([[0], result.breakpoints, [1 / 3]])
        np.testing.assert_allclose(inner, np.arange(2 ** k + 1) / (3 * 2 ** k), rtol=1e-14,
                                   atol=1e-300)


def test_close_kinks_and_small_slope_changes_are_pieces():
    net = fastnet.MLP([1, 2, 1], "relu", "linear", dtype="float64", seed=0)
    # kinks at 0 and 1e-8 on [-1000, 1000]: 1e-11 of the interval apart
    net.weights[0][...] = [[1.0], [1.0]]
    net.biases[0][...] = [0.0, -1e-8]
    net.weights[1][...] = [[1.0, 1.0]]
    result = theory.count_linear_pieces(net, -1000.0, 1000.0)
    assert result.count == 3
    np.testing.assert_array_equal(result.breakpoints, [0.0, 1e-8])
    # a slope change of 1e-4 next to slopes of 1e6 (the old tolerance, relative to
    # the largest slope, merged it)
    net.biases[0][...] = [0.0, -5.0]
    net.weights[1][...] = [[1e6, 1e-4]]
    result = theory.count_linear_pieces(net, -10.0, 10.0)
    assert result.count == 3
    np.testing.assert_array_equal(result.slopes[:, 0], [0.0, 1e6, 1e6 + 1e-4])
    # two units with the same kink make one breakpoint; units that cancel make none
    net.biases[0][...] = [-0.1, -0.1]
    net.weights[1][...] = [[3.0, -3.0]]
    assert theory.count_linear_pieces(net, -1.0, 1.0).count == 1
    net.weights[1][...] = [[3.0, -2.0]]
    assert theory.count_linear_pieces(net, -1.0, 1.0).breakpoints.tolist() == [0.1]


def test_count_linear_pieces_rejects_bad_intervals():
    net = theory.sawtooth_network(2)
    for lo, hi in [(0, np.inf), (np.nan, 1), (1, 1), ("a", 1), (0, 10 ** 400)]:
        with pytest.raises(ValueError, match="lo"):
            theory.count_linear_pieces(net, lo, hi)


@pytest.mark.parametrize("impl", [fastnet, fastnet.reference])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_sawtooth_weights_are_the_construction(impl, k):
    net = theory.sawtooth_network(k, impl=impl)
    np.testing.assert_array_equal(net.weights[0], [[2.0], [4.0]])
    for l in range(1, k):
        np.testing.assert_array_equal(net.weights[l], [[2.0, -2.0], [4.0, -4.0]])
    np.testing.assert_array_equal(net.weights[k], [[1.0, -1.0]])
    for l in range(k):
        np.testing.assert_array_equal(net.biases[l], [0.0, -2.0])
    np.testing.assert_array_equal(net.biases[k], [0.0])


def test_a_deep_sawtooth_builds_in_linear_time_and_is_the_zigzag():
    # the construction was O(k**2) (k fresh lists of k views): k = 100,000 took > 30 s
    k = 100_000
    net = theory.sawtooth_network(k)
    assert net.layer_sizes == [1] + [2] * k + [1]
    X, y = datasets.zigzag(k, 200, seed=0)
    np.testing.assert_array_equal(net.predict(X), y)   # both exact: all 0 by now
    X, y = datasets.zigzag(30, 200, seed=0)
    np.testing.assert_allclose(theory.sawtooth_network(30).predict(X), y, atol=1e-9)


def test_huge_integer_arguments_raise_at_once():
    for k in (10 ** 9, 2 ** 63, 10 ** 20):      # found by tools/fuzz.py: OverflowError
        with pytest.raises(MemoryError, match="sawtooth_network"):
            theory.sawtooth_network(k)
    with pytest.raises(ValueError, match="MAX_RESULT_BITS"):
        theory.montufar_bounds(10 ** 20, 10 ** 20, 1)
    with pytest.raises(ValueError, match="MAX_RESULT_BITS"):
        theory.montufar_bounds(1, 2, 10 ** 20)
    with pytest.raises(ValueError, match="MAX_RESULT_BITS"):
        theory.montufar_bounds(2, 10 ** 20, 10 ** 20)
    with pytest.raises(ValueError, match="at most"):
        theory.parity_circuit_sizes(10 ** 20)
    # what is small stays exact, whatever the size of the arguments
    assert theory.montufar_bounds(1, 10 ** 20, 1) == (10 ** 20 + 1,) * 3
    assert theory.montufar_bounds(1, 1, 10 ** 400).one_layer_same_units == 10 ** 400 + 1
    assert theory.montufar_bounds(5, 5, 10 ** 30).deep_lower == 2 ** 5
    big = theory.parity_circuit_sizes(theory.MAX_RESULT_BITS + 1)
    assert big["dnf"]["gates"] == 2 ** theory.MAX_RESULT_BITS + 1
    assert big["xor_tree"]["depth"] == 17                  # ceil(log2(2**16 + 1))


def test_binomial_sums_are_exact():
    import math
    for n in range(1, 30):
        for d in range(1, n + 1):
            assert theory.montufar_bounds(d, n, 1).one_layer == sum(
                math.comb(n, i) for i in range(d + 1))
    for d, h, k in [(3, 7, 4), (2, 9, 3), (1, 5, 6)]:
        assert theory.montufar_bounds(d, h, k).one_layer_same_units == sum(
            math.comb(k * h, i) for i in range(d + 1))
