"""Correctness before speed: fastnet, fastnet.reference and the lean NumPy baseline
must agree on a configuration before any of them is timed on it."""
import copy
from typing import Dict, Optional

import numpy as np

import fastnet
from fastnet import reference
from fastnet.bench.configs import Config, make_data
from fastnet.bench.lean import LeanMLP, lean_supports

#: Largest relative difference allowed between the two implementations, per dtype.
AGREE_TOL: Dict[str, float] = {"float32": 1e-4, "float64": 1e-9}


def _relative_difference(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


def check_agreement(config: Config, dtype: str) -> float:
    """Train both implementations from the same seed on the same data and compare.

    Both networks are trained for two epochs (``"fit"`` configurations) on 256 rows,
    then their weights, biases and outputs on 64 rows are compared.

    Parameters
    ----------
    config : Config
    dtype : str
        ``"float32"`` or ``"float64"``; the tolerance is :data:`AGREE_TOL` [dtype].

    Returns
    -------
    float
        The largest relative difference, each array relative to its largest entry.

    Raises
    ------
    AssertionError
        If the difference is over the tolerance.
    """
    n = 256
    X, y = make_data(config, n, dtype, seed=1)
    nets = [config.make_net(impl, dtype, seed=7) for impl in (fastnet, reference)]
    if config.kind == "fit":
        for net in nets:
            net.fit(X, y, epochs=2, **config.fit_args())
    out = [net.forward(X[:64]) for net in nets]
    fast, ref = nets
    worst = max(_relative_difference(a, b)
                for a, b in zip(fast.weights + fast.biases + [out[0]],
                                ref.weights + ref.biases + [out[1]]))
    if not worst <= AGREE_TOL[dtype]:
        raise AssertionError(f"fastnet and reference disagree on this configuration "
                             f"({dtype}): max relative difference {worst:.3g}")
    return worst


def check_lean_agreement(config: Config, dtype: str) -> Optional[float]:
    """Train fastnet and the lean baseline (:mod:`fastnet.bench.lean`) from the same
    weights, in the same sample order, and compare, as :func:`check_agreement` does.

    fastnet's initial weights are copied into the lean network, and the lean epochs
    visit the rows in the permutations fastnet's own generator draws (one per epoch,
    ``fastnet._training.epoch_order``), so the two take the same steps.

    Parameters
    ----------
    config : Config
    dtype : str
        ``"float32"`` or ``"float64"``; the tolerance is :data:`AGREE_TOL` [dtype].

    Returns
    -------
    float or None
        The largest relative difference; None when the lean baseline cannot express
        the configuration (:func:`fastnet.bench.lean.lean_supports`).

    Raises
    ------
    AssertionError
        If the difference is over the tolerance.
    """
    if not lean_supports(config.activation, config.output):
        return None
    n = 256
    X, y = make_data(config, n, dtype, seed=1)
    fast = config.make_net(fastnet, dtype, seed=7)
    lean = LeanMLP(fast.weights, fast.biases, config.activation, config.output)
    # the generator fit draws its permutations from, as it is before fit
    order_rng = copy.deepcopy(fast._rng)
    if config.kind == "fit":
        args = config.fit_args()
        fast.fit(X, y, epochs=2, **args)
        for _ in range(2):
            lean.fit(X, y, order=order_rng.permutation(n), **args)
    pairs = list(zip(fast.weights + fast.biases + [fast.forward(X[:64])],
                     lean.W + lean.b + [lean.forward(X[:64])]))
    worst = max(_relative_difference(b, a) for a, b in pairs)
    if not worst <= AGREE_TOL[dtype]:
        raise AssertionError(f"fastnet and the lean baseline disagree on this "
                             f"configuration ({dtype}): max relative difference {worst:.3g}")
    return worst
