"""The lecture's depth results, exactly, on fastnet's own networks.

- :func:`sawtooth_network`: the zig-zag construction as an MLP with explicit weights,
  k hidden layers of two ReLU units whose output on [0, 1] has exactly 2**k pieces.
- :func:`count_linear_pieces`: the exact number of linear pieces of a ReLU network
  with one input on an interval, by following breakpoints layer by layer.
- :func:`montufar_bounds`: the number of pieces (regions) one hidden layer can make,
  and Montufar et al.'s (2014) lower bound for deep networks, as exact integers.
- :func:`parity_circuit_sizes`: gate counts of the lecture's three parity circuits.
"""
import math
from collections import namedtuple
from typing import Any, Dict

import numpy as np

from fastnet._guards import check_fits_in_memory


def sawtooth_network(k: int, dtype: str = "float64", impl: Any = None) -> Any:
    """The lecture's zig-zag construction as an MLP: ``[1, 2, ..., 2, 1]`` with k hidden
    layers of two ReLU units and a linear output.

    Layer 1 computes h1 = max(0, 2x) and h2 = max(0, 4(x - 1/2)), so that
    h1 - h2 = t(x), the tent map (2x on [0, 1/2], 2 - 2x on [1/2, 1]). Every further
    layer applies the same two units to t of the layer below (its weights read
    t = h1 - h2 from the two units), and the output is h1 - h2 of the last layer:
    t composed k times, which has exactly 2**k linear pieces on [0, 1].

    Parameters
    ----------
    k : int
        Number of hidden layers, k >= 1.
    dtype : {"float64", "float32"}
    impl : module, optional
        fastnet (default) or fastnet.reference.

    Returns
    -------
    MLP
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    # Python objects per layer (its views, its sizes, a share of the buffers):
    # refuse at once what cannot fit, before the list of sizes is even made
    check_fits_in_memory(1024 * int(k), f"the {k} layers of sawtooth_network({k})")
    if impl is None:
        import fastnet as impl
    net = impl.MLP([1] + [2] * k + [1], activation="relu", output="linear", dtype=dtype,
                   seed=0)
    # One write of the flat buffer (weights of every layer, then every bias; see
    # fastnet._params): per-layer writes through net.weights would make k fresh lists
    # of k views, O(k**2).
    first = [2.0, 4.0]                          # h1 = max(0, 2x), h2 = max(0, 4x - 2)
    # 2 t = 2 h1 - 2 h2 and 4 (t - 1/2) = 4 h1 - 4 h2 - 2, with t = h1 - h2
    middle = np.tile([2.0, -2.0, 4.0, -4.0], k - 1)
    last = [1.0, -1.0]                          # the output t = h1 - h2
    biases = np.concatenate([np.tile([0.0, -2.0], k), [0.0]])
    net.parameters[...] = np.concatenate([first, middle, last, biases])
    return net


PiecewiseLinear = namedtuple("PiecewiseLinear", "count breakpoints slopes")


# Two computed roots, or a root and a partition point, closer than this many units of
# float64 rounding (relative to their size) are one point: breakpoints that finely
# spaced are not resolvable in float64, and real ones are much farther apart (the
# sawtooth of depth 20's are 2**-20 apart).
_SAME_POINT_ULPS = 64


def count_linear_pieces(net: Any, lo: float = 0.0, hi: float = 1.0) -> PiecewiseLinear:
    """Exact number of linear pieces of a one-input ReLU network on [lo, hi].

    The network is followed layer by layer, not sampled: on each interval of the
    current partition every unit's pre-activation z = a x + c is affine in x; where it
    has opposite signs at the interval's two ends, the interval is split at its root
    -c/a; then ReLU zeroes the units that are negative on each new interval. At the
    output, adjacent intervals whose slopes differ are separate pieces.

    Nothing is merged by a tolerance relative to the interval: points are one point
    only when they agree to float64's resolution at their size (64 units of rounding,
    about 1.4e-14 relative), and two slopes are equal only when they agree to 64 units
    of rounding of the last layer's products, so the count is exact on any interval
    for breakpoints float64 can tell apart (the sawtooth of depth 20 has its
    2**20 + 2 pieces on [-1000, 1000], 2**-20 apart). Arithmetic is float64.

    For softmax networks the pieces are those of the logits (the softmax itself is not
    piecewise linear).

    Parameters
    ----------
    net : fastnet.MLP or fastnet.reference.MLP
        layer_sizes[0] must be 1 and every hidden activation "relu"; any depth, width
        and number of outputs.
    lo, hi : float
        The interval, finite, lo < hi.

    Returns
    -------
    PiecewiseLinear
        ``count`` (int), ``breakpoints`` (ndarray: the x in (lo, hi) where the slope
        changes, increasing), ``slopes`` (ndarray (count, k): slope of each piece).
    """
    sizes = net.layer_sizes
    if sizes[0] != 1:
        raise ValueError(f"count_linear_pieces needs a network with one input, "
                         f"got layer_sizes[0] = {sizes[0]}")
    if any(a != "relu" for a in net.activation):
        raise ValueError(f"count_linear_pieces needs ReLU hidden layers, got {net.activation}")
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"lo and hi must be real numbers, got lo={lo!r}, hi={hi!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo!r}, hi={hi!r}")
    weights = [np.asarray(w, dtype=np.float64) for w in net.weights]
    biases = [np.asarray(b, dtype=np.float64) for b in net.biases]
    close = _SAME_POINT_ULPS * np.finfo(np.float64).eps

    points = np.array([lo, hi])                        # partition boundaries
    A, C = np.ones((1, 1)), np.zeros((1, 1))           # per interval: h = A x + C
    for W, b in zip(weights[:-1], biases[:-1]):
        ZA, ZC = A @ W.T, C @ W.T + b                  # pre-activations, affine in x
        p, q = points[:-1, None], points[1:, None]
        zp, zq = ZA * p + ZC, ZA * q + ZC
        at, unit = np.nonzero(((zp > 0) & (zq < 0)) | ((zp < 0) & (zq > 0)))
        r = -ZC[at, unit] / ZA[at, unit]
        p, q = points[at], points[at + 1]
        # a root within rounding of an end is that end (no new point)
        inside = ((r - p > close * np.maximum(np.abs(r), np.abs(p)))
                  & (q - r > close * np.maximum(np.abs(r), np.abs(q))))
        r = np.unique(r[inside])
        # roots of different units within rounding of each other: one point
        keep = np.concatenate([[True], np.diff(r) > close * np.abs(r[1:])]) if r.size else []
        new = np.sort(np.concatenate([points, r[keep]]))
        mids = 0.5 * (new[:-1] + new[1:])
        parent = np.searchsorted(points, mids, side="right") - 1
        ZA, ZC = ZA[parent], ZC[parent]
        on = (ZA * mids[:, None] + ZC) > 0             # ReLU: which units pass
        A, C, points = ZA * on, ZC * on, new
    W = weights[-1]
    slopes = A @ W.T                                   # (intervals, outputs)
    size = np.abs(A) @ np.abs(W).T                     # what the products' rounding scales with
    change = np.any(np.abs(np.diff(slopes, axis=0))
                    > close * np.maximum(size[:-1], size[1:]), axis=1)
    first = np.concatenate([[True], change])
    return PiecewiseLinear(int(first.sum()), points[1:-1][change], slopes[first])


# The largest integer result computed exactly, in bits (about 19,700 decimal digits,
# milliseconds to compute); larger arguments raise ValueError instead of running for
# hours or exhausting memory (montufar_bounds(10**20, ...) would never return).
MAX_RESULT_BITS = 2 ** 16

MontufarBounds = namedtuple("MontufarBounds", "one_layer one_layer_same_units deep_lower")


def montufar_bounds(d: int, h: int, k: int) -> MontufarBounds:
    """Pieces (linear regions) for ReLU networks with d inputs, as exact integers.

    Parameters
    ----------
    d : int
        Input dimension.
    h : int
        Width of each hidden layer (h >= d for the deep bound).
    k : int
        Number of hidden layers.

    Returns
    -------
    MontufarBounds
        ``one_layer``: the most one hidden layer of h units can make,
        sum_{i=0..d} C(h, i) (the lecture's p_max). ``one_layer_same_units``: the same
        for one layer of k*h units, the shallow network with as many units as the
        deep one. ``deep_lower``: Montufar et al. 2014, Theorem 4, a number of regions
        k layers of width h can reach, floor(h/d)^(d(k-1)) * sum_{j=0..d} C(h, j).
    """
    for name, v in (("d", d), ("h", h), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if h < d:
        raise ValueError(f"the deep bound needs h >= d, got h={h}, d={d}")
    d, h, k = int(d), int(h), int(k)
    # Refuse before any work what would not finish: the sums take d + 1 terms and every
    # result has at least d bits (sum_{i<=d} C(h, i) >= 2**d for h >= d). In logarithms:
    # the arguments may be far beyond any float.
    if d > MAX_RESULT_BITS:
        bits = float(d)
    else:
        power = d * (k - 1)                  # deep = (h // d)**power * one
        deep_bits = (0.0 if h // d == 1 else
                     math.inf if power > MAX_RESULT_BITS else power * math.log2(h // d))
        bits = max(_log2_binomial_sum(k * h, d), deep_bits + _log2_binomial_sum(h, d))
    if bits > MAX_RESULT_BITS:
        raise ValueError(f"montufar_bounds(d={d}, h={h}, k={k}): a result would have more "
                         f"than MAX_RESULT_BITS = {MAX_RESULT_BITS} bits; use smaller d, h, k")
    one = _binomial_sum(h, d)
    same = _binomial_sum(k * h, d)
    deep = (h // d) ** (d * (k - 1)) * one
    return MontufarBounds(one, same, deep)


def _binomial_sum(n, d):
    """sum_{i=0..d} C(n, i), with each term from the one before (d big-int steps)."""
    term = total = 1
    for i in range(min(d, n)):
        term = term * (n - i) // (i + 1)
        total += term
    return total


def _log2_binomial_sum(n, d):
    """An upper bound of log2(sum_{i=0..d} C(n, i)) for integers of any size: d + 1
    terms, none above C(n, m) <= (e n / m)**m, m = min(d, n // 2)."""
    m = min(d, n // 2)
    top = m * (math.log2(n) - math.log2(m) + math.log2(math.e)) if m else 0.0
    return math.log2(min(d, n) + 1) + top


def parity_circuit_sizes(d: int) -> Dict[str, Dict[str, int]]:
    """Gate counts of the lecture's three circuits for the parity of d bits.

    Returns
    -------
    dict
        For "xor_tree" (a balanced tree of 2-input XORs), "and_or_not" (each XOR
        written (a AND NOT b) OR (NOT a AND b): 3 AND/OR gates and 2 NOTs, depth 2 per
        XOR level) and "dnf" (an OR of the 2**(d-1) ANDs of d literals with an odd
        number of positive ones: depth 2): ``gates`` (XOR or AND/OR gates), ``nots``
        and ``depth`` (NOTs not counted, as in the lecture).
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    d = int(d)
    if d - 1 > MAX_RESULT_BITS:     # the DNF's 2**(d-1) terms
        raise ValueError(f"d must be at most {MAX_RESULT_BITS + 1} (the DNF's gate count "
                         f"2**(d-1) would have d bits), got {d}")
    levels = (d - 1).bit_length()   # ceil(log2(d)), exact for any integer
    return {
        "xor_tree": {"gates": d - 1, "nots": 0, "depth": levels},
        "and_or_not": {"gates": 3 * (d - 1), "nots": 2 * (d - 1), "depth": 2 * levels},
        "dnf": {"gates": 2 ** (d - 1) + 1, "nots": d, "depth": 2},
    }
