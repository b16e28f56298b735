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
