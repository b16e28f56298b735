"""Adversarial review (session 20) of a8e5c14..HEAD: the compiled row methods, the
padded 64-byte-aligned workspace and the lazy memory messages.

Each test here failed on the reviewed HEAD (a5bb437). The byte-order tests also fail
on a8e5c14 (row_call had the same check); the memory tests pass there (a regression
of this range). (The compiled row methods have no Python source for
inspect.getsource: accepted for their speed; their names, docs and signatures are
tested in test_row_speed_order.py.)"""

import numpy as np
import pytest

import fastnet
import fastnet._guards as guards


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", ["forward", "predict_proba", "predict"])
def test_row_methods_non_native_byte_order(dtype, method):
    # A (1, d) C-contiguous array of dtype '>f4' / '>f8' has the type number of
    # float32 / float64, so _row_array accepts it once the row plan exists (made by
    # any earlier clean row) and the kernel reads byte-swapped values: silently wrong
    # outputs. The general path (no plan yet) converts it and answers correctly.
    m = fastnet.MLP([4, 8, 3], dtype=dtype, seed=0)
    x = np.array([[0.5, -1.0, 2.0, 0.25]], dtype)
    want = getattr(m, method)(x.copy())          # also makes the row plan
    swapped = x.astype(x.dtype.newbyteorder())
    assert swapped.dtype != m.forward(x).dtype   # really non-native
    np.testing.assert_allclose(getattr(m, method)(swapped), want, rtol=1e-6)


def test_row_methods_non_native_byte_order_same_answer_before_and_after_plan():
    x = np.array([[0.5, -1.0, 2.0, 0.25]], ">f4")
    fresh = fastnet.MLP([4, 8, 3], seed=0)
    first = fresh.forward(x)                      # general path: converts
    fresh.forward(x.astype(np.float32))           # a clean row makes the row plan
    again = fresh.forward(x)                      # row plan: bytes read as native
    np.testing.assert_array_equal(again, first)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_workspace_memory_check_counts_the_padding(monkeypatch, dtype):
    # MLP._plan checks 2 * capacity * sum(sizes) * itemsize bytes, but since the
    # workspace slots are padded to 64 bytes per layer the plan allocates
    # 2 * capacity * cum[-1] * itemsize: 16x (float32) / 8x (float64) more for
    # width-1 layers. With a machine limit between the two, the check passes and the
    # allocation exceeds the limit.
    m = fastnet.MLP([1, 1, 1, 1], output="linear", dtype=dtype, seed=0)
    itemsize = np.dtype(dtype).itemsize
    estimated = 2 * 1024 * 4 * itemsize
    limit = 2 * estimated
    monkeypatch.setattr(guards, "physical_memory", lambda: limit)
    try:
        plan = m._plan(1024)
    except MemoryError:
        return
    assert plan.work.nbytes <= limit, (
        f"the plan allocated {plan.work.nbytes} bytes, the memory check was told "
        f"{estimated} (limit {limit})")


def test_forward_chunk_workspace_respects_memory_limit(monkeypatch):
    # the same through the public API: forward of 2000 rows makes a 1024-row plan
    m = fastnet.MLP([1, 1, 1, 1], output="linear", seed=0)
    limit = 4 * 2 * 1024 * 4 * 4        # 4x what the check is told, 1/4 of the plan
    monkeypatch.setattr(guards, "physical_memory", lambda: limit)
    try:
        m.forward(np.ones((2000, 1), np.float32))
    except MemoryError:
        return
    assert m._forward_plans[1024].work.nbytes <= limit
