"""Built-in datasets: shapes, dtypes, seeds, and what they claim to be."""
import sys

import numpy as np
import pytest

from fastnet import datasets, theory


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parity(dtype):
    X, y = datasets.parity(5, dtype=dtype)
    assert X.shape == (32, 5) and X.dtype == np.dtype(dtype)
    assert len({tuple(r) for r in X}) == 32                  # every input once
    np.testing.assert_array_equal(y, X.sum(axis=1).astype(int) % 2)
    Xs, ys = datasets.parity(10, n=100, seed=1)
    assert Xs.shape == (100, 10)
    np.testing.assert_array_equal(Xs, datasets.parity(10, n=100, seed=1)[0])
    np.testing.assert_array_equal(ys, Xs.sum(axis=1).astype(int) % 2)


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_zigzag_has_2_to_the_k_pieces(k):
    X, y = datasets.zigzag(k, 2 ** k * 8 + 1, grid=True)
    slopes = np.diff(y) / np.diff(X[:, 0])
    pieces = 1 + np.count_nonzero(np.abs(np.diff(slopes)) > 1e-9)
    assert pieces == 2 ** k
    assert y.min() >= 0 and y.max() <= 1
    Xr, yr = datasets.zigzag(k, 50, seed=2, dtype="float32")
    assert Xr.dtype == np.float32 and np.all((Xr >= 0) & (Xr <= 1))


def test_blobs_and_spirals():
    X, y = datasets.blobs(90, centers=3, dim=4, seed=0, dtype="float32")
    assert X.shape == (90, 4) and X.dtype == np.float32 and set(y) == {0, 1, 2}
    np.testing.assert_array_equal(X, datasets.blobs(90, centers=3, dim=4, seed=0, dtype="float32")[0])
    X, y = datasets.two_spirals(200, seed=0)
    assert X.shape == (200, 2) and np.bincount(y).tolist() == [100, 100]


def test_digits_with_or_without_scikit_learn(monkeypatch):
    try:
        import sklearn  # noqa: F401
    except ImportError:
        sklearn = None
    if sklearn is not None:
        X, y = datasets.digits(dtype="float32", seed=0)
        assert X.shape == (1797, 64) and X.dtype == np.float32 and X.max() <= 1
        assert set(y) == set(range(10))
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.digits()


def test_tent_map_is_the_lecture_hat_function():
    x = np.linspace(0, 1, 101)
    hat = np.maximum(0, 2 * x) - np.maximum(0, 4 * (x - 0.5))
    np.testing.assert_allclose(datasets.tent(x), hat, atol=1e-15)
    net = theory.sawtooth_network(1)
    np.testing.assert_allclose(net.predict(x[:, None]), hat, atol=1e-15)


# -- bounds and sizes (issue 12) ----------------------------------------------------

def test_parity_table_is_vectorised_binary_counting():
    import itertools
    X, y = datasets.parity(12, dtype="float32")
    np.testing.assert_array_equal(X, np.array(list(itertools.product((0, 1), repeat=12))))
    # 2**20 rows: row i is i in binary (no Python list of 2**d tuples any more)
    X, y = datasets.parity(20, dtype="float32")
    assert X.shape == (2 ** 20, 20) and X.dtype == np.float32
    np.testing.assert_array_equal(X.astype(np.int64) @ (2 ** np.arange(19, -1, -1)),
                                  np.arange(2 ** 20))
    np.testing.assert_array_equal(y, X.sum(axis=1).astype(int) % 2)


def test_parity_limits():
    limit = datasets.MAX_PARITY_TABLE_BITS
    for d in (limit + 1, 24 * 10 ** 18):
        with pytest.raises(ValueError, match="pass n to sample"):
            datasets.parity(d)
    X, y = datasets.parity(100, n=7, seed=0)             # wide parity: sample it
    assert X.shape == (7, 100)
    with pytest.raises(MemoryError, match="parity"):
        datasets.parity(10 ** 20, n=5)
    for bad in (0, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match="d must be"):
            datasets.parity(bad)
    with pytest.raises(ValueError, match="n must be"):
        datasets.parity(3, n=-1)


def test_blobs_and_spirals_reject_what_is_not_data():
    with pytest.raises(ValueError, match="centers"):
        datasets.blobs(centers=0)                          # was IndexError
    with pytest.raises(ValueError, match="dim"):
        datasets.blobs(dim=0)
    with pytest.raises(ValueError, match="std"):
        datasets.blobs(std=np.nan)
    for turns in (0, -1.0, np.inf, np.nan, "1"):
        with pytest.raises(ValueError, match="turns"):      # 0 was all-NaN data
            datasets.two_spirals(turns=turns)
    with pytest.raises(ValueError, match="noise"):
        datasets.two_spirals(noise=-0.1)
    X, y = datasets.two_spirals(50, turns=0.25, seed=1)
    assert np.all(np.isfinite(X))
    for make in (datasets.blobs, datasets.two_spirals, datasets.sine):
        with pytest.raises(ValueError, match="n must be"):
            make(-1)
        X, y = make(0)
        assert len(X) == len(y) == 0
    with pytest.raises(MemoryError):
        datasets.sine(10 ** 20)
    with pytest.raises(MemoryError, match="2\\*\\*"):     # found by tools/fuzz.py
        datasets.blobs(10 ** 400)                     # was OverflowError (the message)


def test_zigzag_of_any_depth_is_exact_and_immediate():
    from fractions import Fraction
    x = np.random.default_rng(5).uniform(0, 1, 20)

    def exact(v, k):                       # the tent map in rational arithmetic
        v = Fraction(float(v))
        for _ in range(k):
            v = 2 * v if v <= Fraction(1, 2) else 2 - 2 * v
        return v
    X, _ = datasets.zigzag(1, 20, seed=5)
    np.testing.assert_array_equal(X[:, 0], x)
    for k in (1, 7, 30, 52, 60):
        _, y = datasets.zigzag(k, 20, seed=5)
        assert [Fraction(float(v)) for v in y] == [exact(v, k) for v in x]
    # a float64 needs at most 1075 steps to reach 0, which the map keeps; 10**20 does
    # not loop 10**20 times
    grid_x, _ = datasets.zigzag(0, 33, grid=True)
    tiny = np.array([5e-324, 2.0 ** -1000 * 3])
    for k in (datasets.TENT_FIXED_POINT, 10 ** 20):
        _, y = datasets.zigzag(k, 33, grid=True)
        np.testing.assert_array_equal(y, 0.0)
    y = tiny
    for _ in range(datasets.TENT_FIXED_POINT - 1):
        y = datasets.tent(y)
    np.testing.assert_array_equal(y, 0.0)
    with pytest.raises(ValueError, match="k must be"):
        datasets.zigzag(-1)
    with pytest.raises(ValueError, match="n must be"):
        datasets.zigzag(2, n=2.5)
