"""Small built-in datasets, generated (nothing is downloaded), for the lecture's
experiments and the examples: parity, the zig-zag target, two spirals, Gaussian blobs,
a sine, and the 8x8 digits (scikit-learn's copy, when it is installed).

Every generator takes a seed and a dtype and returns (X, y).
"""
import math
from typing import Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from fastnet._guards import check_fits_in_memory

# parity(d) without n lists all 2**d inputs: up to 2**26 rows (1.6 GiB of float32 at
# d = 26); beyond, sample with n.
MAX_PARITY_TABLE_BITS = 26


def _count(name, value, minimum):
    """value as an int >= minimum, else ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _real(name, value, minimum, strict=False):
    """value as a finite float >= minimum (> minimum when strict), else ValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        v = math.nan
    if (isinstance(value, (bool, str, bytes)) or not math.isfinite(v) or v < minimum
            or (strict and v == minimum)):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum}, "
                         f"got {value!r}")
    return v


def _room(rows, cols, dtype, what):
    """The output's dtype; MemoryError before any work when X (rows x cols of dtype),
    a float64 or int64 working copy of it and a few per-row arrays cannot fit."""
    dtype = np.dtype(dtype)
    nbytes = rows * (max(cols, 1) * (dtype.itemsize + 8) + 32)
    if nbytes >= 2 ** 64:      # beyond any machine (and beyond a float, for the message)
        raise MemoryError(f"{what} need about 2**{nbytes.bit_length() - 1} bytes, more "
                          f"than any machine's memory")
    check_fits_in_memory(nbytes, what)
    return dtype


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
    d = _count("d", d, 1)
    if n is None:
        if d > MAX_PARITY_TABLE_BITS:
            raise ValueError(f"parity({d}) would list all 2**{d} inputs; at most "
                             f"2**{MAX_PARITY_TABLE_BITS} rows are listed (d <= "
                             f"{MAX_PARITY_TABLE_BITS}): pass n to sample inputs instead")
        dtype = _room(2 ** d, d, dtype, f"the 2**{d} rows of parity({d})")
        # row i is i in binary, most significant bit first (itertools.product's
        # order), one column at a time: no (2**d, d) integer temporary
        rows = np.arange(2 ** d, dtype=np.int64)
        X = np.empty((2 ** d, d), dtype=dtype)
        for j in range(d):
            X[:, j] = (rows >> (d - 1 - j)) & 1
    else:
        n = _count("n", n, 0)
        dtype = _room(n, d, dtype, f"{n} rows of parity({d})")
        X = np.random.default_rng(seed).integers(0, 2, size=(n, d)).astype(dtype)
    y = np.count_nonzero(X, axis=1).astype(np.int64) % 2
    return X, y


def two_spirals(n: int = 1000, noise: float = 0.1, turns: float = 1.5,
               seed: Optional[int] = None,
               dtype: str = "float64") -> Tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in the plane: n points, labels 0 and 1 alternating.

    A classic task a linear model cannot solve and a small MLP can.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int, shape (n,)
    """
    n = _count("n", n, 0)
    noise = _real("noise", noise, 0.0)
    # the radius is scaled by 1 / turns: 0 turns is no spiral (0 / 0 everywhere)
    turns = _real("turns", turns, 0.0, strict=True)
    dtype = _room(n, 2, dtype, f"{n} rows of two_spirals")
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
    n = _count("n", n, 0)
    dtype = _room(n, 1, dtype, f"{n} rows of sine")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2 * np.pi, n)
    return x[:, None].astype(dtype), np.sin(x).astype(dtype)


def tent(x: ArrayLike) -> np.ndarray:
    """The tent map on [0, 1]: 2x below 1/2, 2 - 2x above (the lecture's hat
    function, max(0, 2x) - max(0, 4(x - 1/2)))."""
    x = np.asarray(x)
    return np.where(x <= 0.5, 2 * x, 2 - 2 * x)


# Steps after which the tent map has taken every float64 in [0, 1] to 0 (see zigzag).
TENT_FIXED_POINT = 1076


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
    k = _count("k", k, 0)
    n = _count("n", n, 0)
    dtype = _room(n, 1, dtype, f"{n} rows of zigzag")
    if grid:
        x = np.linspace(0.0, 1.0, n)
    else:
        x = np.random.default_rng(seed).uniform(0.0, 1.0, n)
    y = x
    # Any k, exactly, in at most TENT_FIXED_POINT steps: a float64 in [0, 1] is
    # m / 2**e with e <= 1074, the tent map is exact on floats there (2x, and 2 - 2x
    # by Sterbenz's lemma) and takes m / 2**e to some m' / 2**(e - 1), so after e + 1
    # steps every point is 0, which the map keeps.
    for _ in range(min(k, TENT_FIXED_POINT)):
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
    n = _count("n", n, 0)
    centers = _count("centers", centers, 1)
    dim = _count("dim", dim, 1)
    std = _real("std", std, 0.0)
    dtype = _room(n + centers, dim, dtype, f"{n} rows of blobs in {dim} dimensions")
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
