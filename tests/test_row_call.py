"""The GIL-held single-row path (_train.row_call), which serves forward, predict_proba
and predict for one clean row of a small network from the second call on.

It must give exactly what the checked single-row path gives (the same C forward), fall
back to the general path for everything else (which converts or raises the usual
errors), see the model's live weights, and keep the one-model-one-thread guarantee.
"""
import threading

import numpy as np
import pytest

import fastnet
from fastnet import _train

from conftest import DTYPES, HEAD_PARAMS


def _net(head, dtype, sizes=(6, 9, 7)):
    k = max(head.min_outputs, 4)
    net = fastnet.MLP(list(sizes) + [k], "tanh", head.name, dtype=dtype, seed=0)
    for b in net.biases:
        b[...] = np.linspace(-0.5, 0.5, b.size)
    return net


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_row_call_gives_what_the_checked_row_path_gives(head, dtype):
    net = _net(head, dtype)
    X = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    row = X[1:2]
    first = net.forward(row)                      # checked path; makes the row-call plan
    assert net._row_call_plan is not None
    served = _train.row_call(net._row_call_plan, net._guard, row, False)
    assert served is not None                     # the next call is served by row_call
    second = net.forward(row)
    np.testing.assert_array_equal(second, first)  # the same C forward: bitwise equal
    np.testing.assert_array_equal(served, first)
    assert second.shape == first.shape and second.dtype == first.dtype
    assert second.flags.c_contiguous and second.flags.writeable
    assert second is not net.forward(row)         # a fresh array per call
    if head.classifier:
        np.testing.assert_array_equal(net.predict_proba(row), first)
    else:
        with pytest.raises(ValueError, match="predict_proba"):
            net.predict_proba(row)
    batch_labels = net.predict(X)
    labels = net.predict(row)
    assert labels.dtype == batch_labels.dtype and labels.shape == batch_labels[1:2].shape
    if head.truth == "labels":     # argmax in C: the batch path's class
        np.testing.assert_array_equal(labels, batch_labels[1:2])
    else:                          # the head's rule on the row's outputs
        np.testing.assert_array_equal(labels, head.predict(first))


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_call_refuses_what_it_does_not_serve(dtype):
    head = fastnet.components.HEADS["softmax"]
    net = _net(head, dtype)
    row = np.random.default_rng(2).standard_normal((1, 6)).astype(dtype)
    expected = net.forward(row)
    plan = net._row_call_plan
    other = "float64" if dtype == "float32" else "float32"
    not_served = [row.astype(other), np.asfortranarray(np.repeat(row, 2, 0))[:1],
                  row.tolist(), np.vstack([row, row]), row[:, :5].copy(), row.ravel(),
                  np.hstack([row, row])[:, ::2]]
    for x in not_served:
        assert _train.row_call(plan, net._guard, x, False) is None
    # ... and the general path converts them or raises as always
    np.testing.assert_allclose(net.forward(row.tolist()), expected, rtol=1e-6)
    with pytest.raises(ValueError):
        net.forward(row[:, :5].copy())
    bad = row.copy()
    bad[0, 3] = np.inf
    assert _train.row_call(plan, net._guard, bad, True) is None
    for method in (net.forward, net.predict, net.predict_proba):
        with pytest.raises(ValueError, match="NaN or infinity"):
            method(bad)
    assert _train.row_call(None, net._guard, row, False) is None
    assert _train.row_call(object(), net._guard, row, False) is None


def test_row_call_sees_live_weights_and_replaced_state():
    head = fastnet.components.HEADS["softmax"]
    net = _net(head, "float64")
    row = np.random.default_rng(3).standard_normal((1, 6))
    net.forward(row)
    before = net.forward(row).copy()
    net.weights[0][...] *= 2
    changed = net.forward(row)
    assert not np.array_equal(changed, before)
    np.testing.assert_allclose(changed, net.forward(np.vstack([row, row]))[:1], rtol=1e-13)
    other = _net(head, "float64")
    other.weights[1][...] = 0.25
    net.load_state_dict(other.state_dict())
    np.testing.assert_array_equal(net.forward(row), other.forward(row))
    net.__setstate__(other.__getstate__())
    np.testing.assert_array_equal(net.forward(row), other.forward(row))


def test_a_fit_in_another_thread_makes_row_call_step_aside():
    head = fastnet.components.HEADS["softmax"]
    net = _net(head, "float32")
    row = np.zeros((1, 6), np.float32)
    net.forward(row)
    assert _train.row_call(net._row_call_plan, net._guard, row, False) is not None
    owner = []
    t = threading.Thread(target=lambda: owner.append(threading.get_ident()))
    t.start()
    t.join()
    net._guard._owner = owner[0]       # as fit in that thread sets it
    try:
        assert _train.row_call(net._row_call_plan, net._guard, row, False) is None
        with pytest.raises(RuntimeError, match="another thread"):
            net.forward(row)
        with pytest.raises(RuntimeError, match="another thread"):
            net.predict(row)
    finally:
        net._guard._owner = None
    net._guard._owner = threading.get_ident()   # fit's own callback may read the model
    try:
        assert _train.row_call(net._row_call_plan, net._guard, row, False) is not None
    finally:
        net._guard._owner = None


def test_big_networks_keep_the_gil_released_row_path():
    head = fastnet.components.HEADS["softmax"]
    net = _net(head, "float32", sizes=(300, 300))
    assert net.n_params > _train.ROW_CALL_MAX_PARAMS
    row = np.ones((1, 300), np.float32)
    a = net.forward(row)
    assert net._row_call_plan is None
    np.testing.assert_array_equal(net.forward(row), a)
