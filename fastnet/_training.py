"""The training loop around the per-epoch arithmetic, shared by both
implementations: epochs in chunks (so that Ctrl-C is seen within a fraction of a
second), the sampling order, divergence rollback, validation and the History.

The arithmetic of the steps is the implementation's ``_train_steps`` (compiled, or
NumPy layer by layer); everything here is the same for both, which is what makes
them a drop-in pair: same seed, same sampling order, same steps, same exceptions.
"""
import contextlib
import functools
import math
import signal
import threading
import time
import warnings

import numpy as np

from fastnet import _validation as check
from fastnet._guards import check_training_memory
from fastnet._progress import Progress
from fastnet.components import OPTIMIZERS, check_in_dtype

# fit runs each epoch in chunks of about this many seconds, and looks for Ctrl-C
# between chunks: control returns within a fraction of a second.
CHUNK_SECONDS = 0.1

# A blow-up that stays finite (float64 can hold a loss of 1e300) is divergence too:
# fit raises FloatingPointError, with the same rollback, when the mean loss of an
# epoch so far (checked after every chunk of steps) exceeds BLOWUP_FACTOR times the
# larger of LOSS_FLOOR and the loss at the start of fit: the mean loss of fit's
# first chunk (at least min(n, 1024) rows, each taken before its own step). Means
# over whole chunks and epochs, never single steps, so noisy per-sample losses do
# not trip it; the floor keeps a fit that starts near a loss of 0 from tripping on
# ordinary noise. Set BLOWUP_FACTOR to math.inf to turn the check off.
BLOWUP_FACTOR = 1e6
LOSS_FLOOR = 1.0


class History(dict):
    """What fit returns: a dict of per-epoch lists ("loss", "learning_rate", "seconds",
    and "val_loss" with "val_accuracy" or "val_r2" when validation data was given)."""

    def plot(self, path=None):
        """Draw the loss and validation curves (matplotlib); save a PNG to `path`.
        Returns the matplotlib Figure."""
        from fastnet.plotting import plot_history
        return plot_history(self, path)


class StopOnInterrupt:
    """During fit, a first Ctrl-C asks training to stop after the current chunk of
    steps (fit then returns normally, the model at a completed step); a second one
    raises KeyboardInterrupt as usual. Only in the main thread, where Python delivers
    signals; elsewhere this does nothing. Nor does it when SIGINT is ignored (SIG_IGN:
    background jobs, nohup): the process keeps ignoring it; or when its handler was not
    set from Python (getsignal gives None), which could not be put back. Otherwise the
    handler found is restored exactly on the way out."""

    def __init__(self):
        self.requested = False
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                current = signal.getsignal(signal.SIGINT)
                if current is not None and current != signal.SIG_IGN:
                    self._previous = signal.signal(signal.SIGINT, self._handler)
                    self._installed = True
            except (ValueError, OSError):  # no signals here (embedded interpreter)
                self._installed = False
        return self

    def __exit__(self, *exc):
        if self._installed:
            self._installed = False
            signal.signal(signal.SIGINT, self._previous)
        return False


# fit's defaults of the optimizers' hyper-parameters (an option of another optimizer
# than the chosen one may only keep its default).
FIT_DEFAULTS = dict(learning_rate=0.01, lr_decay=0.0, momentum=0.0, l2=0.0, nesterov=False,
                    beta_1=0.9, beta_2=0.999, epsilon=1e-8)


def configure(optimizer, values, dtype):
    """The checked configuration of the optimizer named `optimizer` (its registry
    entry is ``OPTIMIZERS[config.name]``) from
    fit's keyword values, for a model of `dtype` (remembered: a loop of small fits,
    such as scikit-learn's epochs, asks for the same one every time)."""
    # The key holds each value's type: True == 1 == 1.0, but only 1.0 is a valid
    # learning rate and only True a valid nesterov.
    try:
        key = tuple((k, type(v), v) for k, v in sorted(values.items()))
        return _configured(optimizer, key, np.dtype(dtype))
    except TypeError:          # an unhashable value: checked (and refused) below
        return _configure(optimizer, values, dtype)


@functools.lru_cache(maxsize=64)
def _configured(optimizer, key, dtype):
    return _configure(optimizer, {k: v for k, _, v in key}, dtype)


def _configure(optimizer, values, dtype):
    unknown = sorted(set(values) - set(FIT_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown optimizer options {unknown}; expected some of "
                         f"{sorted(FIT_DEFAULTS)}")
    config = OPTIMIZERS.lookup(optimizer).configure(values, FIT_DEFAULTS)
    check_in_dtype(config, dtype)
    return config


def check_options(net, sampling, validation_data, callback):
    """fit's sampling, validation_data and callback checked (in that order); returns
    the validation data converted for `net` (or None)."""
    check.check_choice("sampling", sampling, check.SAMPLINGS)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable (epoch record -> stop?), "
                         f"got {callback!r}")
    if validation_data is None:
        return None
    try:
        Xv, yv = validation_data
    except (TypeError, ValueError):
        raise ValueError("validation_data must be a pair (X_val, y_val)") from None
    Xv = net._X(Xv, "validation_data X")
    return Xv, net._truth(yv, Xv.shape[0], "validation_data y")


def take_up(net, optimizer):
    """`net` trains with `optimizer` from now on. A different optimizer than the
    model's starts afresh: its state buffers at zero and the update count at 0 (which
    drives both lr_decay and Adam's bias correction). The caller holds the model."""
    if optimizer is net._optimizer:
        return
    check_training_memory(net._params.size, net.dtype, optimizer,
                          f"layer_sizes {net.layer_sizes}")
    net._optimizer = optimizer
    net._set_state(net._params, {name: np.zeros_like(net._params) for name in optimizer.state},
                   0)


def epoch_order(rng, n, sampling):
    """The rows one epoch visits: a fresh permutation ("shuffle"), or n picks uniform
    over the data with replacement ("uniform", the lecture's)."""
    order = rng.permutation(n) if sampling == "shuffle" else rng.integers(0, n, size=n)
    return np.ascontiguousarray(order, dtype=np.intp)


def train(net, config, X, truth, weights, epochs, batch_size, sampling, validation,
          verbose, callback):
    """Epochs of ``net._train_steps`` with the optimizer of `config` (taken up first,
    see take_up) over checked data (see BaseMLP.fit); returns the History. The caller
    holds the model exclusively."""
    n = X.shape[0]
    optimizer = OPTIMIZERS[config.name]
    metric_key = "val_" + net._head.metric
    history = History(loss=[], learning_rate=[], seconds=[])
    if validation is not None:
        history["val_loss"], history[metric_key] = [], []
    planned = epochs * -(-n // batch_size)
    before = net._updates if optimizer is net._optimizer else 0
    if before + planned >= check.MAX_UPDATES:
        raise ValueError(f"the model has taken {before} updates; {planned} more would "
                         f"pass the limit of 2**62")
    take_up(net, optimizer)
    fast_paths = optimizer.fast_paths(config)
    progress = Progress(epochs, n, verbose)
    limit = [None]     # the blow-up limit, set from fit's first chunk (see BLOWUP_FACTOR)
    with StopOnInterrupt() as interrupt, contextlib.closing(progress):
        trainer = net._make_trainer(batch_size)
        for epoch in range(epochs):
            start = time.perf_counter()
            order = epoch_order(net._rng, n, sampling)
            snapshot = net.state_dict()
            total, done, eta = _run_epoch(net, trainer, X, truth, weights, order, batch_size,
                                          config, fast_paths, interrupt, snapshot, epoch,
                                          history, limit)
            if done < n:
                warnings.warn(f"fit interrupted in epoch {epoch + 1} after {done} of {n} "
                              f"samples; the model keeps its last completed step",
                              RuntimeWarning, stacklevel=3)
                history["interrupted"] = True
                break
            record = {"epoch": epoch + 1, "loss": total / n, "learning_rate": eta,
                      "seconds": time.perf_counter() - start}
            if validation is not None:
                Xv, yv = validation
                record["val_loss"] = float(net._loss_and_gradients(Xv, yv, False))
                record[metric_key] = net._head.score(net._forward(Xv), yv)
            for key, value in record.items():
                if key != "epoch":
                    history[key].append(value)
            progress.update(record)
            if callback is not None and callback(dict(record)):
                history["stopped"] = True
                break
    return history


def _run_epoch(net, trainer, X, truth, weights, order, batch_size, config, fast_paths,
               interrupt, snapshot, epoch, history, limit):
    """One epoch in chunks of whole batches (the same steps as in one go), each sized
    to take about CHUNK_SECONDS; returns (summed loss, rows done, last step size).
    limit[0] is the blow-up limit of the epoch's mean loss (None: set it from the
    first chunk, see BLOWUP_FACTOR)."""
    n = order.shape[0]
    total, done, eta = 0.0, 0, config.learning_rate
    chunk = batch_size * max(1, 1024 // batch_size)
    while done < n and not interrupt.requested:
        stop = min(n, done + chunk)
        tick = time.perf_counter()
        part, updates, eta = net._train_steps(trainer, X, truth, weights, order[done:stop],
                                              batch_size, config, net._updates, fast_paths)
        net._updates += updates
        # A NaN or infinite loss stops the steps early; a last step that overflowed
        # the parameters or the optimizer's state (Adam's second moment can overflow
        # while every loss is finite) is caught here, at the end of every chunk.
        if updates < -(-(stop - done) // batch_size) or not finite_state(net):
            diverged(net, snapshot, epoch, history)
        total, done = total + part, stop
        if limit[0] is None:
            limit[0] = BLOWUP_FACTOR * max(LOSS_FLOOR, total / done)
        elif total / done > limit[0]:
            diverged(net, snapshot, epoch, history, blowup=limit[0])
        elapsed = max(time.perf_counter() - tick, 1e-6)
        chunk = batch_size * max(1, int(chunk * CHUNK_SECONDS / elapsed) // batch_size)
    return total, done, eta


def finite_state(net):
    """Whether the parameters and the optimizer's state are all finite (a sum is
    finite exactly when every term is, barring an overflow of the sum itself, which
    the elementwise check then settles)."""
    for buf in (net._params, *net._state.values()):
        if not math.isfinite(buf.sum()) and not np.isfinite(buf).all():
            return False
    return True


def diverged(net, snapshot, epoch, history, blowup=None):
    """A step met a NaN or infinite loss, or left NaN or infinity in the parameters or
    the optimizer's state, or the epoch's mean loss passed the blow-up limit `blowup`
    (see BLOWUP_FACTOR): go back to the state at the start of the epoch (all finite:
    every chunk's end is checked; the steps just before a blow-up, though finite, are
    usually already huge) and raise."""
    net._restore(snapshot, snapshot["updates"])
    what = ("the loss, the parameters or the optimizer's state became NaN or infinite"
            if blowup is None else
            f"its mean loss passed {blowup:.3g} ({BLOWUP_FACTOR:g} times the larger of "
            f"{LOSS_FLOOR:g} and the loss at the start of fit)")
    err = FloatingPointError(
        f"training diverged in epoch {epoch + 1}: {what}; the model keeps the weights it "
        f"had at the start of that epoch. Try a smaller learning_rate (or lr_decay, or l2).")
    err.history = history
    raise err
