"""fastnet._train.all_finite, the compiled finiteness test of a fit's data, against
numpy's isfinite(a).all(), and the checks that use it."""
import numpy as np
import pytest

import fastnet
from fastnet import _train


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 16, 33, 1000])
def test_every_position_and_special_value(dtype, n):
    info = np.finfo(dtype)
    clean = np.linspace(-3, 3, n).astype(dtype)
    clean[0] = info.max
    if n > 1:
        clean[-1] = info.smallest_subnormal
    assert _train.all_finite(clean) is True
    for bad in (np.nan, np.inf, -np.inf, -np.nan):
        for pos in sorted({0, n // 2, n - 1}):
            a = clean.copy()
            a[pos] = bad
            assert _train.all_finite(a) is False, (bad, pos)
    for ok in (-0.0, info.tiny, -info.max, info.smallest_subnormal):
        a = clean.copy()
        a[n // 2] = ok
        assert _train.all_finite(a) is True, ok


@pytest.mark.parametrize("make", [
    lambda a: a[::2],                        # not contiguous: numpy's test
    lambda a: a.astype(a.dtype.newbyteorder(">")),   # byte-swapped
    lambda a: a.astype(np.float16),
    lambda a: a.reshape(4, -1),
    lambda a: a.reshape(4, -1).T,            # Fortran order
])
def test_other_layouts_agree_with_numpy(make):
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal(64).astype(dtype)
        for bad in (None, np.nan, np.inf):
            b = a.copy()
            if bad is not None:
                b[rng.integers(64)] = bad
            v = make(b)
            assert _train.all_finite(v) == bool(np.isfinite(v).all())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_refuses_nan_anywhere_and_keeps_the_model(dtype):
    net = fastnet.MLP([5, 4, 3], seed=0, dtype=dtype)
    before = net.parameters.copy()
    X = np.random.default_rng(1).standard_normal((50, 5))
    y = np.arange(50) % 3
    for pos in [(0, 0), (25, 2), (49, 4)]:
        bad = X.astype(dtype)
        bad[pos] = np.nan
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.fit(bad, y)
    big = X.copy()
    big[3, 1] = 1e300                      # finite in float64, not in float32
    if dtype == "float32":
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.fit(big, y)
    np.testing.assert_array_equal(net.parameters, before)
