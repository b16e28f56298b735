"""Ctrl-C keeps its promise on large work (issue 12): fit returns soon after the first
Ctrl-C, also when one sample's step, one batch or the validation pass is a lot of
work, and predict and loss on many rows raise KeyboardInterrupt soon. Each case is
made big enough that the work, done in one piece as before, would take far longer
than the bound (seconds to minutes); the bound is generous for a loaded 2-core
machine (the promise is 0.5 s; chunks aim at about 0.1 s)."""
import contextlib
import os
import signal
import threading
import time

import numpy as np
import pytest

import fastnet
import fastnet.reference

BOUND = 2.0        # seconds from the SIGINT to fit's return


@contextlib.contextmanager
def _python_sigint():
    """Python's usual SIGINT handler for the test: a process that ignores SIGINT (a
    background job) would keep ignoring it in fit, as it should."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _sigint_after(seconds, once=lambda: True):
    """SIGINT to this process `seconds` after once() first holds (polled from a
    thread: e.g. "training has begun", so that the signal falls into the steps and
    not into fit's preparations, whatever the machine's load); yields the list that
    receives the time it was sent."""
    fired, done = [], threading.Event()

    def fire():
        while not once():
            if done.wait(0.01):
                return
        if not done.wait(seconds):
            fired.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        done.set()
        thread.join()


def _data(n, d, k=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d), dtype=np.float32), rng.integers(0, k, n)


def test_ctrl_c_in_a_per_sample_fit_of_a_large_network():
    """[1000, 4000, 4000, 10] per sample: tens of ms per step, so the first chunk of
    1024 steps it used to run took 8-20 s. The SIGINT comes 0.5 s after the first
    step, in the first chunk of steps."""
    X, y = _data(2000, 1000)
    net = fastnet.MLP([1000, 4000, 4000, 10], seed=0)
    start = net.biases[-1].copy()
    stepping = lambda: not np.array_equal(net._biases[-1], start)     # noqa: E731
    with _python_sigint(), _sigint_after(0.5, stepping) as fired:
        with pytest.warns(RuntimeWarning, match="interrupted in epoch 1 after"):
            history = net.fit(X, y, epochs=3, learning_rate=1e-4)
        returned = time.perf_counter()
    assert fired and returned - fired[0] < BOUND
    assert history["interrupted"] is True and history["loss"] == []
    assert 0 < net.state_dict()["updates"] < 2000
    assert np.isfinite(net.parameters).all()


def test_ctrl_c_within_one_large_batch():
    """One batch of 20,000 rows on [1000, 4000, 4000, 10] is over 1e12 multiply-adds:
    its gradient is summed in slices, Ctrl-C looked at between them, and no step is
    taken for the interrupted batch."""
    X, y = _data(20000, 1000)
    net = fastnet.MLP([1000, 4000, 4000, 10], seed=0)
    start = net.parameters.copy()
    summing = lambda: net._grads[-10:].any()       # noqa: E731  (the batch's gradient)
    with _python_sigint(), _sigint_after(0.5, summing) as fired:
        with pytest.warns(RuntimeWarning, match="interrupted in epoch 1 after 0 of 20000"):
            history = net.fit(X, y, epochs=1, batch_size=20000, learning_rate=1e-4,
                              momentum=0.9)
        returned = time.perf_counter()
    assert fired and returned - fired[0] < BOUND
    assert history["interrupted"] is True and net.state_dict()["updates"] == 0
    np.testing.assert_array_equal(net.parameters, start)
    assert not net.state_dict()["velocity"].any()


def test_ctrl_c_in_a_large_validation_pass():
    """400,000 validation rows on [64, 1024, 1024, 10]: two passes of 4.4e11
    multiply-adds each after an epoch of 256 rows."""
    X, y = _data(256, 64)
    Xv, yv = _data(400_000, 64, seed=1)
    net = fastnet.MLP([64, 1024, 1024, 10], seed=0)
    stepped = lambda: net._updates > 0            # noqa: E731  (updated once per chunk)
    with _python_sigint(), _sigint_after(0.5, stepped) as fired:
        with pytest.warns(RuntimeWarning, match="in epoch 1 during the validation pass"):
            history = net.fit(X, y, epochs=3, batch_size=32, validation_data=(Xv, yv))
        returned = time.perf_counter()
    assert fired and returned - fired[0] < BOUND
    assert history["interrupted"] is True and len(history["loss"]) == 1
    assert np.isnan(history["val_loss"][0]) and np.isnan(history["val_accuracy"][0])
    assert net.state_dict()["updates"] == 8                    # the epoch's steps stand


@pytest.mark.parametrize("call", ["predict", "loss", "score"])
def test_ctrl_c_in_predict_and_loss_on_many_rows(call):
    """Outside fit Python's own handler raises KeyboardInterrupt: between the slices
    of rows the pass now runs in, instead of after the whole pass."""
    Xv, yv = _data(400_000, 64, seed=1)
    net = fastnet.MLP([64, 1024, 1024, 10], seed=0)
    args = (Xv,) if call == "predict" else (Xv, yv)
    with _python_sigint(), _sigint_after(0.5) as fired:
        with pytest.raises(KeyboardInterrupt):
            getattr(net, call)(*args)
        returned = time.perf_counter()
    assert fired and returned - fired[0] < BOUND
    assert net.predict(Xv[:3]).shape == (3,)                # the model is usable


@pytest.mark.parametrize("impl", [fastnet, fastnet.reference])
def test_a_second_ctrl_c_raises_keyboard_interrupt(impl):
    """The first Ctrl-C asks fit to stop after its chunk; a second one, before that,
    raises KeyboardInterrupt at once; the handler found is put back either way."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
    net = impl.MLP([3, 4, 2], seed=0)

    def twice(record):
        os.kill(os.getpid(), signal.SIGINT)       # stop after this chunk, please
        os.kill(os.getpid(), signal.SIGINT)       # no: now

    with _python_sigint():
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, epochs=5, callback=twice)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
