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
import numbers
import signal
import threading
import time
import warnings

import numpy as np

from fastnet import _validation as check
from fastnet._guards import check_fit_memory, check_training_memory
from fastnet._params import aligned_zeros
from fastnet._progress import Progress
from fastnet.components import OPTIMIZERS, check_in_dtype

# fit runs each epoch in chunks of about this many seconds, and looks for Ctrl-C
# between chunks: control returns within a fraction of a second.
CHUNK_SECONDS = 0.1

# Before anything has been timed, work is sized by its multiply-adds: a chunk of
# training steps, a slice of one large batch's gradient, a slice of rows of an
# inference pass (validation, loss, predict) is at most about this many (a training
# row counts 3 times its forward multiply-adds: forward, backward, update). About
# 0.1 s for BLAS at 20 GFLOP/s; a few times that on a loaded machine.
CHUNK_WORK = 2e9

# A step of fewer rows than this costs about as much as one of this many: it streams
# every weight from memory all the same (measured on [1000, 4000, 4000, 10]: per-
# sample steps take about what 16-row steps take per step).
STEP_ROWS = 16

# The first chunk of a fit never exceeds this many rows (or one batch): enough to
# time, short even for the NumPy reference's per-sample steps (about 50 ms).
FIRST_CHUNK_ROWS = 1024

# Later chunks are sized from the time the previous one took, growing at most this
# many times per chunk (one fast measurement cannot make the next chunk huge).
CHUNK_GROWTH = 4

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
    and "val_loss" with "val_accuracy" or "val_r2" when validation data was given),
    and what happened: "best_epoch" and "stopped_epoch" (early stopping, 1-based),
    "stopped" (the callback), "interrupted" (Ctrl-C)."""

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


def split_validation(X, truth, weights, validation_split, validation_data):
    """Keras's validation_split: the LAST fraction of the rows (as given, before any
    shuffling) becomes the validation data, the rest is trained on. Returns (X,
    truth, weights, validation) with views of the arrays (no copies); validation is
    None when validation_split is 0."""
    fraction = check.check_real("validation_split", validation_split, 0.0, 1.0,
                                high_open=True)
    if fraction == 0:
        return X, truth, weights, None
    if validation_data is not None:
        raise ValueError("give validation_data or validation_split, not both")
    n = X.shape[0]
    split_at = int(math.floor(n * (1.0 - fraction)))     # Keras's rounding
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={validation_split} leaves no rows for "
                         f"{'training' if split_at == 0 else 'validation'} out of the "
                         f"{n} samples; give more data or another fraction")
    return (X[:split_at], truth[:split_at],
            None if weights is None else weights[:split_at],
            (X[split_at:], truth[split_at:]))


def class_weights(net, class_weight, truth, weights):
    """The per-sample weights of fit: `weights` (sample_weight, or None) times each
    sample's class weight. class_weight: None, a dict {class: weight} (classes not in
    it weigh 1) or "balanced": scikit-learn's ``n_samples / (n_classes *
    np.bincount(y))``, with sample_weight the weighted counts (sum of the weights over
    weighted class counts), n_classes counting the classes present. Classes are the
    softmax head's labels 0..k-1, or 0 and 1 for a one-unit logistic head."""
    if class_weight is None:
        return weights
    head, k = net._head, net._sizes[-1]
    if head.name == "softmax":
        labels, n_classes = truth, k
    elif head.name == "logistic" and k == 1:
        column = truth[:, 0]
        if not np.isin(column, (0, 1)).all():
            raise ValueError("class_weight needs 0/1 targets; y holds probabilities "
                             "between 0 and 1")
        labels, n_classes = column.astype(np.intp), 2
    else:
        raise ValueError(f"class_weight needs one class per sample: output='softmax', or "
                         f"'logistic' with one unit; this network's output is "
                         f"{head.name!r} with {k} unit{'s' if k > 1 else ''}")
    if isinstance(class_weight, str):
        check.check_choice("class_weight", class_weight, ("balanced",))
        counts = np.bincount(labels, weights=weights, minlength=n_classes).astype(np.float64)
        present = np.bincount(labels, minlength=n_classes) > 0
        # A class whose samples all weigh 0 keeps weight 1: it changes nothing, while
        # scikit-learn's formula divides by zero there.
        per_class = np.ones(n_classes)
        per_class[counts > 0] = counts.sum() / (present.sum() * counts[counts > 0])
    elif isinstance(class_weight, dict):
        per_class = np.ones(n_classes)
        for c, w in class_weight.items():
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Integral) \
                    or not 0 <= c < n_classes:
                raise ValueError(f"class_weight has key {c!r}; the classes are the "
                                 f"integers 0..{n_classes - 1}")
            per_class[int(c)] = check.check_real(f"class_weight[{int(c)}]", w, 0.0)
    else:
        raise ValueError(f"class_weight must be None, a dict {{class: weight}} or "
                         f"'balanced', got {check._shown(class_weight)}")
    combined = per_class[labels] if weights is None else weights * per_class[labels]
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(combined, dtype=net.dtype)
    if not np.isfinite(out).all():
        raise ValueError(f"sample_weight times class_weight overflows {net.dtype.name}")
    return out


class EarlyStopping:
    """Keras's EarlyStopping inside fit: after every epoch the monitored figure of the
    epoch's record is compared with the best so far; it improves when it is lower
    (losses) or higher (accuracy, R^2) by more than min_delta. After `patience`
    epochs in a row without improvement (from the second epoch on) training stops.
    With restore_best_weights the model's training state (state_dict) at the end of
    the best epoch is kept, and put back when fit returns. patience None: never
    stop (restore_best_weights alone then keeps the best epoch of the whole fit)."""

    def __init__(self, monitor, patience, min_delta, restore_best_weights):
        self.monitor, self.patience = monitor, patience
        self.min_delta, self.restore = min_delta, restore_best_weights
        self.higher_is_better = monitor in ("val_accuracy", "val_r2")
        self.best = -math.inf if self.higher_is_better else math.inf
        self.best_epoch, self.best_state, self.wait = None, None, 0

    def _improves(self, value):
        if self.higher_is_better:
            return value - self.min_delta > self.best
        return value + self.min_delta < self.best

    def after_epoch(self, net, epoch, record):
        """Returns True when training should stop after this epoch (0-based)."""
        value = record[self.monitor]
        if self.best_epoch is None:         # the first epoch's state is the best so far
            self.best_epoch = epoch
            self._keep(net)
        self.wait += 1
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self._keep(net)
            return False
        return self.patience is not None and self.wait >= self.patience and epoch > 0

    def _keep(self, net):
        if not self.restore:
            return
        if self.best_state is None:
            self.best_state = net.state_dict()
        else:                               # reuse the buffers: no allocation per epoch
            for name, buf in self.best_state.items():
                if name != "updates":
                    buf[...] = net._state[name] if name != "params" else net._params
            self.best_state["updates"] = net._updates

    def finish(self, net, history):
        """Record the best epoch and put its state back (restore_best_weights)."""
        if self.best_epoch is None:
            return False
        history["best_epoch"] = self.best_epoch + 1
        if self.restore and self.best_state is not None:
            net._restore(self.best_state, self.best_state["updates"])
            return True
        return False


def check_early_stopping(patience, monitor, min_delta, restore_best_weights, metric_keys):
    """An EarlyStopping for fit's keywords, or None when neither patience nor
    restore_best_weights asks for one (then monitor and min_delta must keep their
    defaults, as an option of another optimizer must). metric_keys: the figures this
    fit records ("loss", and the validation ones when there is validation data)."""
    if not isinstance(restore_best_weights, (bool, np.bool_)):
        raise ValueError(f"restore_best_weights must be True or False, got "
                         f"{check._shown(restore_best_weights)}")
    if patience is None and not restore_best_weights:
        if monitor != "val_loss" or min_delta != 0:
            raise ValueError("monitor and min_delta need patience (early stopping) or "
                             "restore_best_weights=True")
        return None
    if patience is not None and (isinstance(patience, (bool, np.bool_))
                                 or not isinstance(patience, numbers.Integral) or patience < 0):
        raise ValueError(f"patience must be None or an integer >= 0, got "
                         f"{check._shown(patience)}")
    if monitor not in metric_keys:
        hint = ("; the validation figures need validation_data or validation_split"
                if isinstance(monitor, str) and monitor.startswith("val_") else "")
        raise ValueError(f"unknown monitor {check._shown(monitor)}; this fit records "
                         f"{', '.join(map(repr, metric_keys))}{hint}")
    min_delta = check.check_real("min_delta", min_delta, 0.0)
    return EarlyStopping(monitor, None if patience is None else int(patience), min_delta,
                         bool(restore_best_weights))


def take_up(net, optimizer):
    """`net` trains with `optimizer` from now on. A different optimizer than the
    model's starts afresh: its state buffers at zero and the update count at 0 (which
    drives both lr_decay and Adam's bias correction). The caller holds the model."""
    if optimizer is net._optimizer:
        return
    check_training_memory(net._params.size, net.dtype, optimizer,
                          f"layer_sizes {net.layer_sizes}")
    net._optimizer = optimizer
    net._set_state(net._params, {name: aligned_zeros(net._params.shape[0], net._params.dtype)
                                 for name in optimizer.state},
                   0)


def epoch_order(rng, n, sampling):
    """The rows one epoch visits: a fresh permutation ("shuffle"), or n picks uniform
    over the data with replacement ("uniform", the lecture's)."""
    order = rng.permutation(n) if sampling == "shuffle" else rng.integers(0, n, size=n)
    return np.ascontiguousarray(order, dtype=np.intp)


def multiply_adds(sizes):
    """Multiply-adds of one row's forward pass through a network of layer `sizes`."""
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def pass_rows(sizes):
    """Rows per slice of an inference pass (forward, loss) of about CHUNK_WORK."""
    return max(1, int(CHUNK_WORK // multiply_adds(sizes)))


class Schedule:
    """How fit cuts its work, from the layout and batch size alone (so the results
    never depend on the machine's speed): the rows of the first chunk of steps;
    `split` (rows per slice) when one batch's step is more than CHUNK_WORK and its
    gradient is summed over slices, with a check for Ctrl-C between them (the step
    itself is taken once, at the end); the rows per slice of the validation pass."""

    def __init__(self, sizes, batch_size):
        work = 3 * multiply_adds(sizes)              # forward, backward, update
        batches = int(CHUNK_WORK // (work * max(batch_size, STEP_ROWS)))
        self.first = batch_size * max(1, min(batches, FIRST_CHUNK_ROWS // batch_size))
        # the blow-up limit comes from as many rows as fit's first chunk held before
        # chunks were sized by work (see BLOWUP_FACTOR)
        self.limit_rows = batch_size * max(1, FIRST_CHUNK_ROWS // batch_size)
        slice_rows = max(1, int(CHUNK_WORK // work))
        self.split = slice_rows if batch_size > 1 and slice_rows < batch_size else None
        self.pass_rows = pass_rows(sizes)


def train(net, config, X, truth, weights, epochs, batch_size, sampling, validation,
          verbose, callback, stopping=None):
    """Epochs of ``net._train_steps`` with the optimizer of `config` (taken up first,
    see take_up) over checked data (see BaseMLP.fit); returns the History. stopping:
    an EarlyStopping or None. The caller holds the model exclusively."""
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
    schedule = Schedule(net._sizes, batch_size)
    # workspaces: a training batch's (split batches use the forward slices') and the
    # forward chunks' (FIRST_CHUNK_ROWS covers fastnet.network's 1024-row chunk plan)
    check_fit_memory(net._params.size, net.dtype, optimizer, net._sizes,
                     FIRST_CHUNK_ROWS + (0 if schedule.split else batch_size),
                     n, weights is not None or schedule.split is not None,
                     0 if validation is None else validation[0].shape[0],
                     stopping is not None and stopping.restore, lambda: f"fit of {net!r}")
    take_up(net, optimizer)
    fast_paths = optimizer.fast_paths(config)
    progress = Progress(epochs, n, verbose)
    limit = [None]     # the blow-up limit, set from fit's first rows (see BLOWUP_FACTOR)
    with StopOnInterrupt() as interrupt, contextlib.closing(progress):
        trainer = None if schedule.split else net._make_trainer(batch_size)
        layout = (list(net._sizes), net.dtype, net._optimizer)
        for epoch in range(epochs):
            start = time.perf_counter()
            order = epoch_order(net._rng, n, sampling)
            snapshot = net.state_dict()
            total, done, eta = _run_epoch(net, trainer, X, truth, weights, order, batch_size,
                                          config, fast_paths, interrupt, snapshot, epoch,
                                          history, limit, schedule, layout, progress)
            if done < n:
                _interrupted(history, stopping, net, f"in epoch {epoch + 1} after {done} of "
                             f"{n} samples")
                break
            record = {"epoch": epoch + 1, "loss": total / n, "learning_rate": eta,
                      "seconds": time.perf_counter() - start}
            if validation is not None:
                # one pass per slice (the loss's, which also gives the outputs)
                figures = evaluate(net, *validation, schedule.pass_rows, interrupt)
                record["val_loss"], record[metric_key] = figures
            for key, value in record.items():
                if key != "epoch":
                    history[key].append(value)
            if interrupt.requested:           # during the validation pass
                _interrupted(history, stopping, net, f"in epoch {epoch + 1} during the "
                             f"validation pass (its figures are NaN)")
                break
            progress.epoch_done(record)
            if stopping is not None and stopping.after_epoch(net, epoch, record):
                history["stopped_epoch"] = epoch + 1
                progress.note(f"early stopping after epoch {epoch + 1}: {stopping.monitor} "
                              f"has not improved for {stopping.wait} epochs")
                break
            if callback is not None and callback(dict(record)):
                history["stopped"] = True
                break
        if stopping is not None and "interrupted" not in history \
                and stopping.finish(net, history):
            progress.note(f"restored the state at the end of the best epoch, "
                          f"{history['best_epoch']}")
    return history


def _interrupted(history, stopping, net, where):
    """Ctrl-C: fit returns with what it has (restoring the best epoch if asked)."""
    restored = stopping is not None and stopping.finish(net, history)
    keeps = (f"the model keeps the state at the end of its best epoch, "
             f"{history['best_epoch']} (restore_best_weights)" if restored else
             "the model keeps its last completed step")
    warnings.warn(f"fit interrupted {where}; {keeps}", RuntimeWarning, stacklevel=4)
    history["interrupted"] = True


def evaluate(net, X, truth, rows, interrupt=None):
    """(mean loss, the head's metric) of checked rows, computed in slices of `rows`
    rows (Ctrl-C is looked at between them: NaN figures once it is requested)."""
    n = X.shape[0]
    # the outputs for the metric come from the loss's own forward pass (one pass, not two)
    total, outputs = 0.0, np.empty((n, net._sizes[-1]), dtype=net.dtype)
    for start in range(0, n, rows):
        if interrupt is not None and interrupt.requested:
            return math.nan, math.nan
        stop = min(n, start + rows)
        total += float(net._loss_and_gradients(X[start:stop], truth[start:stop], False,
                                               outputs=outputs[start:stop])) * (stop - start)
    return total / n, net._head.score(outputs, truth)


def _run_epoch(net, trainer, X, truth, weights, order, batch_size, config, fast_paths,
               interrupt, snapshot, epoch, history, limit, schedule, layout, progress):
    """One epoch in chunks of whole batches (the same steps as in one go): the first
    sized by its estimated work (see Schedule), the next ones to take about
    CHUNK_SECONDS each, or one batch at a time, its gradient in slices, when a batch
    is too much work for one chunk. Returns (summed loss, rows done, last step size).
    limit[0] is the blow-up limit of the epoch's mean loss (None: set it from the
    first rows, see BLOWUP_FACTOR)."""
    n = order.shape[0]
    total, done, eta = 0.0, 0, config.learning_rate
    chunk = batch_size if schedule.split else schedule.first
    written = written_state(config)
    while done < n and not interrupt.requested:
        stop = min(n, done + chunk)
        tick = time.perf_counter()
        if schedule.split:
            if (list(net._sizes), net.dtype, net._optimizer) != layout:
                raise ValueError("the model was replaced during fit (its layout, dtype or "
                                 "optimizer changed); fit stopped before the next step and "
                                 "the model is the one installed (a callback may change "
                                 "values, e.g. with load_state_dict, not the model's layout)")
            part, updates, eta = _split_step(net, X, truth, weights, order[done:stop], config,
                                             schedule.split, interrupt, eta)
            if updates is None:               # Ctrl-C within the batch: no step taken
                break
        else:
            part, updates, eta = net._train_steps(trainer, X, truth, weights,
                                                  order[done:stop], batch_size, config,
                                                  net._updates, fast_paths)
        net._updates += updates
        # A NaN or infinite loss stops the steps early; a last step that overflowed
        # the parameters or the optimizer's state (Adam's second moment can overflow
        # while every loss is finite) is caught here, at the end of every chunk.
        steps_took = max(time.perf_counter() - tick, 1e-6)
        if updates < -(-(stop - done) // batch_size) or not finite_state(net, written):
            diverged(net, snapshot, epoch, history)
        progress.advance(stop - done)
        total, done = total + part, stop
        if limit[0] is None:
            if done >= min(n, schedule.limit_rows):
                limit[0] = BLOWUP_FACTOR * max(LOSS_FLOOR, total / done)
        elif total / done > limit[0]:
            diverged(net, snapshot, epoch, history, blowup=limit[0])
        if not schedule.split:
            # the steps fill CHUNK_SECONDS; the checks come on top (for a large
            # network a fixed cost per chunk: summing its parameters)
            rows = min(int(chunk * CHUNK_SECONDS / steps_took), CHUNK_GROWTH * chunk)
            chunk = batch_size * max(1, rows // batch_size)
    return total, done, eta


def _split_step(net, X, truth, weights, rows, config, slice_rows, interrupt, eta):
    """One optimizer step over the batch `rows`, its gradient summed over slices of
    slice_rows rows: each slice's rows weigh (their weight times) slice / batch, so
    the implementation's mean over a slice adds exactly its share of the batch mean.
    Returns (loss of the batch times its rows, 1, step size); (0, 0, eta) when the
    loss is not finite (the step is not taken, as _train_steps does); (0, None, eta)
    when Ctrl-C came first."""
    batch = rows.shape[0]
    net._grads[...] = 0
    loss = 0.0
    for start in range(0, batch, slice_rows):
        if interrupt.requested:
            return 0.0, None, eta
        idx = rows[start:start + slice_rows]
        share = net.dtype.type(idx.shape[0] / batch)
        w = np.full(idx.shape[0], share) if weights is None else weights[idx] * share
        # divergence is reported by fit as one clear error, not as NumPy warnings
        with np.errstate(over="ignore", invalid="ignore"):
            loss += float(net._loss_and_gradients(X[idx], truth[idx], True, w))
        if not math.isfinite(loss):
            return 0.0, 0, eta
    t = net._updates
    eta = config.learning_rate / (1.0 + config.lr_decay * t)
    net._optimizer_update(config, eta, t + 1)
    return loss * batch, 1, eta


def finite_state(net, state_names=None):
    """Whether the parameters and the optimizer's state buffers `state_names` (None:
    all) are all finite (a sum is finite exactly when every term is, barring an
    overflow of the sum itself, which the elementwise check then settles)."""
    names = net._state if state_names is None else state_names
    for buf in (net._params, *(net._state[name] for name in names)):
        if not math.isfinite(buf.sum()) and not np.isfinite(buf).all():
            return False
    return True


def written_state(config):
    """The optimizer state buffers a fit's steps write: all but SGD's velocity when
    momentum is 0 (the steps leave it alone; its values were checked when they were
    set). Checking one buffer fewer at the end of every chunk matters for a large
    network, whose chunks hold few steps (a 20M-parameter sum takes ~10 ms)."""
    if config.name == "sgd" and config.momentum == 0:
        return ()
    return tuple(OPTIMIZERS[config.name].state)


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
