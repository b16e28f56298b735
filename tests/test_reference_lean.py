"""The NumPy reference's cheaper forms of its arithmetic (issue 11) compute exactly what
the plain forms compute, bit for bit: np.dot for @ in the dense kernels, the one-hot
softmax cross-entropy gradient for the fancy-indexed one. The rest of the suite
compares the reference with the compiled library within tolerances; these compare the
reference with its own plain NumPy formulas, with no tolerance at all."""
import numpy as np
import pytest

from fastnet.reference import kernels as ref

DTYPES = (np.float32, np.float64)

# (n, h, d) of the products dense_forward and dense_backward make: one row (the
# per-sample step's vector products and outer product), one-element operands (np.dot's
# scalar path), and BLAS-sized ones.
SHAPES = [(1, 32, 64), (1, 10, 32), (1, 1, 64), (1, 64, 1), (1, 1, 1), (7, 1, 5), (5, 3, 1),
          (32, 128, 64), (17, 10, 33)]


def _special(rng, a):
    """a with a few entries replaced by 0, -0, NaN or +-inf."""
    a = a.copy()
    for _ in range(rng.integers(0, 3)):
        a.flat[rng.integers(a.size)] = rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf])
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,h,d", SHAPES)
def test_dense_kernels_equal_their_matmul_forms_bit_for_bit(dtype, n, h, d):
    rng = np.random.default_rng(n * 10000 + h * 100 + d)
    for trial in range(20):
        x = rng.standard_normal((n, d)).astype(dtype)
        W = rng.standard_normal((h, d)).astype(dtype)
        b = rng.standard_normal(h).astype(dtype)
        dout = rng.standard_normal((n, h)).astype(dtype)
        if trial % 2:          # non-finite values and zeros: NaN must reach the output
            x, W, dout = _special(rng, x), _special(rng, W), _special(rng, dout)
        with np.errstate(all="ignore"):
            out = np.empty((n, h), dtype)
            ref.dense_forward(out, x, W, b)
            expected = x @ W.T
            expected += b
            dW0 = rng.standard_normal((h, d)).astype(dtype)
            db0 = rng.standard_normal(h).astype(dtype)
            dx, dW, db = np.empty((n, d), dtype), dW0.copy(), db0.copy()
            ref.dense_backward(dx, dW, db, dout, x, W)
            expected_dW = dW0 + dout.T @ x
            expected_dx = dout @ W
            expected_db = db0 + dout.sum(axis=0)
        for got, want in ((out, expected), (dW, expected_dW), (dx, expected_dx),
                          (db, expected_db)):
            assert got.dtype == want.dtype
            assert np.array_equal(got, want, equal_nan=True)
            # the signs of zeros too
            finite = np.isfinite(want)
            assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


def test_a_zero_times_nan_stays_nan_with_a_one_element_operand():
    # np.dot takes a one-element operand as a scalar and calls BLAS axpy, which skips a
    # factor of 0: the reference must give NaN here, as @ and the compiled kernels do
    for dtype in DTYPES:
        dW = np.zeros((1, 3), dtype)
        ref.dense_backward(None, dW, np.zeros(1, dtype), np.zeros((1, 1), dtype),
                           np.array([[1.0, np.nan, 2.0]], dtype), np.ones((1, 3), dtype))
        assert np.isnan(dW[0, 1]) and dW[0, 0] == 0 and dW[0, 2] == 0


def _fancy_softmax_xent_backward(probs, labels, weights):
    # the gradient written with a subtraction at each row's label alone
    n = probs.shape[0]
    t = probs.dtype.type
    rows = np.arange(n)
    scale = t(1) / t(n) if weights is None else (t(1) / t(n) * weights).reshape(n, 1)
    with np.errstate(invalid="ignore"):
        d = probs * scale
        d[rows, labels] = (probs[rows, labels] - 1) * (scale if weights is None
                                                         else scale[:, 0])
        if weights is not None:        # a row of weight 0 is exactly 0
            d[weights == 0] = 0
    return d


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k", [(1, 10), (1, 2), (5, 3), (64, 10)])
def test_softmax_xent_backward_equals_the_fancy_indexed_form(dtype, n, k, weighted):
    rng = np.random.default_rng(n * 100 + k)
    for trial in range(20):
        z = rng.standard_normal((n, k)).astype(dtype) * 5
        probs = np.empty_like(z)
        labels = rng.integers(0, k, n).astype(np.intp)
        weights = None
        if weighted:
            weights = rng.random(n).astype(dtype)
            weights[rng.random(n) < 0.3] = 0
        ref.softmax_xent_forward(probs, z, labels, weights)
        if trial % 2:          # an overflowed row: inf, which a weight of 0 must cancel
            probs[0, rng.integers(k)] = np.inf
        d = np.empty_like(probs)
        with np.errstate(invalid="ignore"):
            ref.softmax_xent_backward(d, probs, labels, weights)
        want = _fancy_softmax_xent_backward(probs, labels, weights)
        assert np.array_equal(d, want, equal_nan=True)
        finite = np.isfinite(want)
        assert np.array_equal(np.signbit(d[finite]), np.signbit(want[finite]))
