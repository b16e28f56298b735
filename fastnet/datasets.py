"""Small built-in datasets, generated (nothing is downloaded), for the lecture's
experiments and the examples: parity, the zig-zag target, two spirals, Gaussian blobs,
a sine, and the 8x8 digits (scikit-learn's copy, when it is installed).

Every generator takes a seed and a dtype and returns (X, y).
"""
import itertools
from typing import Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike


def parity(d: int, n: Optional[int] = None, seed: Optional[int] = None,
           dtype: str = "float64") -> Tuple[np.ndarray, np.ndarray]:
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


def two_spirals(n: int = 1000, noise: float = 0.1, turns: float = 1.5,
               seed: Optional[int] = None,
               dtype: str = "float64") -> Tuple[np.ndarray, np.ndarray]:
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


def sine(n: int = 1000, seed: Optional[int] = None,
         dtype: str = "float64") -> Tuple[np.ndarray, np.ndarray]:
    """y = sin(x) for x uniform on [0, 2 pi]: the lecture's function approximation.

    Returns
    -------
    X : ndarray, shape (n, 1)
    y : ndarray, shape (n,)
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2 * np.pi, n)
    return x[:, None].astype(dtype), np.sin(x).astype(dtype)


def tent(x: ArrayLike) -> np.ndarray:
    """The tent map on [0, 1]: 2x below 1/2, 2 - 2x above (the lecture's hat
    function, max(0, 2x) - max(0, 4(x - 1/2)))."""
    x = np.asarray(x)
    return np.where(x <= 0.5, 2 * x, 2 - 2 * x)


def zigzag(k: int, n: int = 1000, seed: Optional[int] = None, dtype: str = "float64",
           grid: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """The lecture's zig-zag target: the tent map composed k times, which has 2**k
    linear pieces on [0, 1] (2**(k-1) teeth).

    Parameters
    ----------
    k : int
        Number of compositions (k >= 0; k = 0 is the identity).
    n : int
        Number of points.
    seed : int or None
        Seed of numpy.random.default_rng for uniform samples of [0, 1].
    dtype : str
        dtype of X and y.
    grid : bool
        Evenly spaced points (including 0 and 1) instead of random ones.

    Returns
    -------
    X : ndarray, shape (n, 1)
    y : ndarray, shape (n,)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    if grid:
        x = np.linspace(0.0, 1.0, n)
    else:
        x = np.random.default_rng(seed).uniform(0.0, 1.0, n)
    y = x
    for _ in range(k):
        y = tent(y)
    return x[:, None].astype(dtype), y.astype(dtype)


def blobs(n: int = 600, centers: int = 3, dim: int = 2, std: float = 0.5,
          seed: Optional[int] = None, dtype: str = "float64") -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: `centers` isotropic clusters in `dim` dimensions, centres drawn
    uniformly in [-5, 5]^dim, n points split evenly, labels 0..centers-1.

    Returns
    -------
    X : ndarray, shape (n, dim)
    y : ndarray of int, shape (n,)
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(-5, 5, size=(centers, dim))
    y = np.arange(n) % centers
    X = means[y] + std * rng.standard_normal((n, dim))
    return X.astype(dtype), y


def digits(dtype: str = "float64",
           seed: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits (1797 images, 64 features scaled to [0, 1], labels
    0..9): scikit-learn's copy, so scikit-learn must be installed.

    seed, when given, shuffles the rows with numpy.random.default_rng(seed).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("fastnet.datasets.digits needs scikit-learn, which ships the data: "
                          "pip install scikit-learn") from None
    data = load_digits()
    X, y = data.data / 16.0, data.target.astype(np.int64)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(y))
        X, y = X[order], y[order]
    return X.astype(dtype), y
