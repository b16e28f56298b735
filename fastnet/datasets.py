"""Small built-in datasets, generated (nothing is downloaded).

Every generator takes a seed and a dtype and returns (X, y).
"""
import itertools

import numpy as np


def parity(d, n=None, seed=None, dtype="float64"):
    """The parity function on d bits: y = 1 when the number of ones is odd.

    Parameters
    ----------
    d : int
        Number of input bits.
    n : int, optional
        Number of inputs sampled uniformly (with replacement); all 2**d inputs in
        binary counting order when omitted.
    seed : int or None
        Seed of numpy.random.default_rng (used only when n is given).
    dtype : str
        dtype of X.

    Returns
    -------
    X : ndarray, shape (2**d or n, d), entries 0 or 1
    y : ndarray of int, shape (2**d or n,)
    """
    if n is None:
        X = np.array(list(itertools.product((0, 1), repeat=d)), dtype=dtype).reshape(-1, d)
    else:
        X = np.random.default_rng(seed).integers(0, 2, size=(n, d)).astype(dtype)
    y = (X.sum(axis=1).astype(np.int64) % 2)
    return X, y


def two_spirals(n=1000, noise=0.1, turns=1.5, seed=None, dtype="float64"):
    """Two interleaved spirals in the plane, n points each side, labels 0 and 1.

    A classic task a linear model cannot solve and a small MLP can.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int, shape (n,)
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.sqrt(rng.uniform(0, 1, n)) * turns * 2 * np.pi
    sign = np.where(y == 0, 1.0, -1.0)
    X = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / (turns * 2 * np.pi)
    X += noise * rng.standard_normal(X.shape) / (turns * 2)
    return X.astype(dtype), y


def sine(n=1000, seed=None, dtype="float64"):
    """y = sin(x) for x uniform on [0, 2 pi]: the lecture's function approximation.

    Returns
    -------
    X : ndarray, shape (n, 1)
    y : ndarray, shape (n,)
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2 * np.pi, n)
    return x[:, None].astype(dtype), np.sin(x).astype(dtype)
