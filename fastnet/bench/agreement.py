"""Correctness before speed: fastnet and fastnet.reference must agree on a
configuration before either is timed on it."""
from typing import Dict

import numpy as np

import fastnet
from fastnet import reference
from fastnet.bench.configs import Config, make_data

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
