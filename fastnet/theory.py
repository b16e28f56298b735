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
    if impl is None:
        import fastnet as impl
    net = impl.MLP([1] + [2] * k + [1], activation="relu", output="linear", dtype=dtype,
                   seed=0)
    net.weights[0][...] = [[2.0], [4.0]]
    net.biases[0][...] = [0.0, -2.0]
    for l in range(1, k):
        # 2 t = 2 h1 - 2 h2 and 4 (t - 1/2) = 4 h1 - 4 h2 - 2, with t = h1 - h2
        net.weights[l][...] = [[2.0, -2.0], [4.0, -4.0]]
        net.biases[l][...] = [0.0, -2.0]
    net.weights[k][...] = [[1.0, -1.0]]
    net.biases[k][...] = [0.0]
    return net


PiecewiseLinear = namedtuple("PiecewiseLinear", "count breakpoints slopes")


def count_linear_pieces(net: Any, lo: float = 0.0, hi: float = 1.0,
                        tol: float = 1e-9) -> PiecewiseLinear:
    """Exact number of linear pieces of a one-input ReLU network on [lo, hi].

    The network is followed layer by layer, not sampled: on each interval of the
    current partition every unit's pre-activation is affine in x; where one crosses
    zero inside an interval, the interval is split there; then ReLU zeroes the units
    that are negative on each new interval. At the output, adjacent intervals with the
    same slope (within ``tol``, relative) are one piece. Arithmetic is float64.

    For softmax networks the pieces are those of the logits (the softmax itself is not
    piecewise linear).

    Parameters
    ----------
    net : fastnet.MLP or fastnet.reference.MLP
        layer_sizes[0] must be 1 and every hidden activation "relu"; any depth, width
        and number of outputs.
    lo, hi : float
        The interval, lo < hi.
    tol : float
        Relative tolerance for two breakpoints being the same point and two slopes
        being equal.

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
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo!r}, hi={hi!r}")
    weights = [np.asarray(w, dtype=np.float64) for w in net.weights]
    biases = [np.asarray(b, dtype=np.float64) for b in net.biases]
    eps = tol * (hi - lo)

    points = np.array([lo, hi], dtype=np.float64)      # partition boundaries
    A = np.ones((1, 1))                                # per interval: h = A x + B
    B = np.zeros((1, 1))
    for W, b in zip(weights[:-1], biases[:-1]):
        ZA, ZB = A @ W.T, B @ W.T + b                  # pre-activations, affine in x
        with np.errstate(divide="ignore", invalid="ignore"):
            roots = -ZB / ZA
        inside = (ZA != 0) & (roots > points[:-1, None] + eps) & (roots < points[1:, None] - eps)
        new = np.unique(np.concatenate([points, roots[inside]]))
        keep = np.concatenate([[True], np.diff(new) > eps])   # merge coincident roots
        new = new[keep]
        new[-1] = hi
        mids = 0.5 * (new[:-1] + new[1:])
        parent = np.searchsorted(points, mids, side="right") - 1
        ZA, ZB = ZA[parent], ZB[parent]
        on = (ZA * mids[:, None] + ZB) > 0             # ReLU: which units pass
        A, B, points = ZA * on, ZB * on, new
    slopes = A @ weights[-1].T                         # (intervals, outputs)
    scale = max(float(np.max(np.abs(slopes))), 1e-300)
    change = np.any(np.abs(np.diff(slopes, axis=0)) > tol * scale, axis=1)
    first = np.concatenate([[True], change])
    return PiecewiseLinear(int(first.sum()), points[1:-1][change], slopes[first])


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
    one = sum(math.comb(h, i) for i in range(d + 1))
    same = sum(math.comb(k * h, i) for i in range(d + 1))
    deep = (h // d) ** (d * (k - 1)) * one
    return MontufarBounds(one, same, deep)


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
    levels = math.ceil(math.log2(d))
    return {
        "xor_tree": {"gates": d - 1, "nots": 0, "depth": levels},
        "and_or_not": {"gates": 3 * (d - 1), "nots": 2 * (d - 1), "depth": 2 * levels},
        "dnf": {"gates": 2 ** (d - 1) + 1, "nots": d, "depth": 2},
    }
