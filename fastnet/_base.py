"""The network logic shared by fastnet.MLP and fastnet.reference.MLP.

Everything here is plain Python and NumPy: argument checking, parameter layout and
initialisation, the epoch loop around the per-epoch work, scoring and the file
format. The arithmetic (forward, backward, SGD steps) is left to four methods each
implementation provides (declared below on BaseMLP): ``_forward``,
``_loss_and_gradients``, ``_make_trainer`` and ``_train_epoch``. Sharing this part
is what makes the two a drop-in pair: same seed, same weights; same sampling order;
same exceptions.
"""
import contextlib
import json
import os
import signal
import threading
import time
import warnings
import zipfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from fastnet import _validation as check
from fastnet._progress import Progress

FORMAT_NAME = "fastnet-mlp"
FORMAT_VERSION = 1


def physical_memory():
    """Bytes of RAM of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(nbytes, what):
    """MemoryError before any work when `what` needs more bytes than the machine has.

    Asking the allocator is not enough: with memory overcommit a huge allocation
    can succeed and the process is killed later, when the pages are touched."""
    limit = physical_memory() or 2 ** 46
    if nbytes > limit:
        raise MemoryError(f"{what} need {nbytes / 2**30:.4g} GiB, more than this machine's "
                          f"{limit / 2**30:.4g} GiB of memory")


# fit runs each epoch in chunks of about this many seconds, and looks for Ctrl-C
# between chunks: control returns within a fraction of a second.
CHUNK_SECONDS = 0.1


class History(dict):
    """What fit returns: a dict of per-epoch lists ("loss", "learning_rate", "seconds",
    and "val_loss" with "val_accuracy" or "val_r2" when validation data was given)."""

    def plot(self, path=None):
        """Draw the loss and validation curves (matplotlib); save a PNG to `path`.
        Returns the matplotlib Figure."""
        from fastnet.plotting import plot_history
        return plot_history(self, path)


class _StopOnInterrupt:
    """During fit, a first Ctrl-C asks training to stop after the current chunk of
    steps (fit then returns normally, the model at a completed step); a second one
    raises KeyboardInterrupt as usual. Only in the main thread, where Python delivers
    signals; elsewhere this does nothing."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError):  # no signals here (embedded interpreter)
                self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def param_layout(sizes):
    """Offsets of each layer's weights and biases in the flat parameter buffer.

    Weights of all layers come first, then all biases, so the l2 term (weights
    only) applies to the prefix ``params[:n_weights]``.

    Returns (w_off, b_off, n_weights, n_params).
    """
    w_sizes = [sizes[l + 1] * sizes[l] for l in range(len(sizes) - 1)]
    w_off = np.concatenate([[0], np.cumsum(w_sizes)[:-1]]).astype(np.intp)
    n_weights = int(sum(w_sizes))
    b_off = (n_weights + np.concatenate([[0], np.cumsum(sizes[1:])[:-1]])).astype(np.intp)
    return w_off, b_off, n_weights, n_weights + int(sum(sizes[1:]))


def init_params(sizes, activations, rng, dtype):
    """Initial flat parameter buffer: Glorot-uniform for sigmoid/tanh layers and the
    output layer, He-normal for ReLU layers, zero biases. Drawn in float64 and then
    cast, so both dtypes and both implementations see the same draws."""
    w_off, b_off, n_weights, n_params = param_layout(sizes)
    params = np.zeros(n_params, dtype=dtype)
    for l in range(len(sizes) - 1):
        fan_in, fan_out = sizes[l], sizes[l + 1]
        act = activations[l] if l < len(activations) else "output"
        if act == "relu":
            W = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_out, fan_in))
        params[w_off[l]:w_off[l] + W.size] = W.ravel()
    return params


class BaseMLP:
    """A multilayer perceptron trained with stochastic gradient descent.

    Dense layers ``h = g(W h_prev + b)`` with one hidden activation per hidden layer,
    and a softmax (cross-entropy) or linear (squared error) output. All parameters
    live in one flat buffer; ``weights`` and ``biases`` are views into it.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d, h1, ..., hL, k]``: inputs, hidden widths, outputs. Two entries mean no
        hidden layer (logistic or linear regression).
    activation : {"relu", "tanh", "sigmoid"} or list of them, default "relu"
        Hidden activation, one for all hidden layers or one per hidden layer.
    output : {"softmax", "linear"}, default "softmax"
        "softmax": probabilities, loss ``-log p_y`` (labels 0..k-1 or one-hot rows).
        "linear": identity, loss ``sum_j (y~_j - y_j)^2`` per sample (no 1/2 factor).
        The loss of a batch is the mean over its samples.
    dtype : {"float32", "float64"}, default "float32"
        Precision of parameters and arithmetic; inputs are converted to it.
    seed : int or None
        Seed of ``numpy.random.default_rng``, used for the initial weights and for the
        sampling order of ``fit``. The same seed gives the same weights and the same
        training trajectory in fastnet and fastnet.reference.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l]`` of shape ``(layer_sizes[l+1], layer_sizes[l])``; live views,
        writing into them changes the model.
    biases : list of ndarray
        ``biases[l]`` of shape ``(layer_sizes[l+1],)``; live views.

    Examples
    --------
    >>> import fastnet
    >>> from fastnet import datasets
    >>> X, y = datasets.parity(2)                      # XOR
    >>> net = fastnet.MLP([2, 8, 2], activation="tanh", seed=0)
    >>> history = net.fit(X, y, epochs=300, learning_rate=0.1)
    >>> net.predict(X).tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, layer_sizes: Sequence[int],
                 activation: Union[str, Sequence[str]] = "relu", output: str = "softmax",
                 dtype: Union[str, np.dtype] = "float32", seed: Optional[int] = None) -> None:
        sizes = check.check_layer_sizes(layer_sizes)
        self._activations = check.check_activations(activation, len(sizes) - 2)
        self._output = check.check_choice("output", output, check.OUTPUTS)
        if self._output == "softmax" and sizes[-1] < 2:
            raise ValueError(f"output='softmax' needs at least 2 classes, got layer_sizes[-1] = "
                             f"{sizes[-1]}; use output='linear' for a single output")
        self._dtype = check.check_dtype(dtype)
        self._sizes = sizes
        # One model, one thread at a time: reads are serialised (they share the
        # compiled workspaces); fit takes the model for itself (see _exclusive).
        self._lock = threading.RLock()
        self._fit_owner = None
        # Refuse before any work what cannot fit: three parameter-sized buffers
        # (parameters, gradients, momentum) are made below.
        n_params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
        check_fits_in_memory(3 * n_params * self._dtype.itemsize,
                             f"the parameters, gradients and momentum of layer_sizes {sizes}")
        self._rng = np.random.default_rng(seed)
        params = init_params(sizes, self._activations, self._rng, self._dtype)
        self._set_state(params, np.zeros_like(params), 0)

    # -- state ---------------------------------------------------------------
    def __getstate__(self):
        """For pickle and copy (joblib, multiprocessing): the model's state without its
        lock and workspaces, which are remade on the other side."""
        with self._reading():
            return {"sizes": self._sizes, "activations": self._activations,
                    "output": self._output, "dtype": self._dtype.name,
                    "rng": self._rng.bit_generator.state, "params": self._params.copy(),
                    "velocity": self._velocity.copy(), "updates": self._updates}

    def __setstate__(self, state):
        self._sizes = list(state["sizes"])
        self._activations = list(state["activations"])
        self._output = state["output"]
        self._dtype = np.dtype(state["dtype"])
        self._lock = threading.RLock()
        self._fit_owner = None
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        # own, writable copies (the pickled arrays may come back read-only or mapped)
        self._set_state(np.array(state["params"], order="C", copy=True),
                        np.array(state["velocity"], order="C", copy=True), state["updates"])

    def _set_state(self, params, velocity, updates):
        """Install the flat buffers and make the per-layer views into them."""
        sizes = self._sizes
        self._w_off, self._b_off, self._n_weights, n_params = param_layout(sizes)
        self._params = params
        self._velocity = velocity          # momentum state, same layout as params
        self._grads = np.zeros_like(params)
        self._updates = updates            # t in eta_t = lr / (1 + lr_decay * t)
        L = len(sizes) - 1
        self._weights = [params[self._w_off[l]:self._w_off[l] + sizes[l + 1] * sizes[l]]
                         .reshape(sizes[l + 1], sizes[l]) for l in range(L)]
        self._biases = [params[self._b_off[l]:self._b_off[l] + sizes[l + 1]] for l in range(L)]
        self._dweights = [self._grads[self._w_off[l]:self._w_off[l] + sizes[l + 1] * sizes[l]]
                          .reshape(sizes[l + 1], sizes[l]) for l in range(L)]
        self._dbiases = [self._grads[self._b_off[l]:self._b_off[l] + sizes[l + 1]]
                         for l in range(L)]
        self._on_state_change()

    def _reading(self):
        """The lock a read holds; raises at once while another thread trains."""
        owner = self._fit_owner
        if owner is not None and owner != threading.get_ident():
            raise RuntimeError("this model is being trained by fit in another thread; read "
                               "it after fit returns (one model, one thread at a time)")
        return self._lock

    @contextlib.contextmanager
    def _exclusive(self, what):
        """The model to this thread alone (for fit); raises at once if it is in use."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"cannot {what}: this model is in use by another thread "
                               f"(one model, one thread at a time)")
        self._fit_owner = threading.get_ident()
        try:
            yield
        finally:
            self._fit_owner = None
            self._lock.release()

    def _on_state_change(self):
        """Hook for implementations that cache per-model objects."""

    # -- the arithmetic, supplied by each implementation ------------------------
    def _forward(self, X):
        """Outputs (n, k) of checked rows X (probabilities for softmax)."""
        raise NotImplementedError

    def _loss_and_gradients(self, X, labels, targets, with_grad, weights=None):
        """Mean loss of checked rows (each row's loss times its weight, when given);
        with_grad ADDS its gradient into self._grads."""
        raise NotImplementedError

    def _make_trainer(self, batch_size):
        """Whatever _train_epoch needs for the whole fit (workspaces)."""
        raise NotImplementedError

    def _train_epoch(self, trainer, X, labels, targets, weights, order, batch_size,
                     learning_rate, lr_decay, momentum, l2, t0):
        """SGD steps over the rows `order`, batch_size at a time, counting updates from
        t0 (weights: None or per-row loss weights); returns (summed loss, updates done,
        last step size). Stops early, before the step, at a NaN or infinite loss."""
        raise NotImplementedError

    @property
    def layer_sizes(self) -> List[int]:
        """list of int: [inputs, hidden..., outputs]."""
        return list(self._sizes)

    @property
    def activation(self) -> List[str]:
        """list of str: the activation of each hidden layer."""
        return list(self._activations)

    @property
    def output(self) -> str:
        """str: 'softmax' or 'linear'."""
        return self._output

    @property
    def dtype(self) -> np.dtype:
        """numpy.dtype: float32 or float64; inputs are converted to it."""
        return self._dtype

    @property
    def weights(self) -> List[np.ndarray]:
        """list of ndarray: live views, weights[l] of shape (out, in); writing into them
        changes the model."""
        return list(self._weights)

    @property
    def biases(self) -> List[np.ndarray]:
        """list of ndarray: live views, biases[l] of shape (out,)."""
        return list(self._biases)

    @property
    def n_params(self) -> int:
        """int: number of trainable parameters."""
        return self._params.size

    def __repr__(self):
        return (f"{type(self).__module__}.{type(self).__qualname__}({self._sizes}, "
                f"activation={self._activations!r}, output={self._output!r}, "
                f"dtype={self._dtype.name!r})")

    # -- input conversion ----------------------------------------------------
    def _X(self, X, name="X"):
        return check.check_X(X, self._sizes[0], self._dtype, name)

    def _sample_weights(self, sample_weight, n):
        return None if sample_weight is None else \
            check.check_sample_weight(sample_weight, n, self._dtype)

    def _y(self, y, n, name="y"):
        """(labels, targets): exactly one is an array, per the output."""
        k = self._sizes[-1]
        if self._output == "softmax":
            return check.check_labels(y, n, k, name), None
        return None, check.check_targets(y, n, k, self._dtype, name)

    # -- inference -----------------------------------------------------------
    def forward(self, X: ArrayLike) -> np.ndarray:
        """Outputs of the network, shape (n, k): probabilities for softmax, values
        for linear."""
        with self._reading():
            return self._forward(self._X(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class indices (n,) for softmax; outputs for linear, (n,) when k == 1."""
        out = self.forward(X)
        if self._output == "softmax":
            return np.argmax(out, axis=1)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities (n, k); softmax networks only."""
        if self._output != "softmax":
            raise ValueError("predict_proba needs output='softmax'; this network is linear")
        return self.forward(X)

    def loss(self, X: ArrayLike, y: ArrayLike,
             sample_weight: Optional[ArrayLike] = None) -> float:
        """Mean loss over the samples (cross-entropy or squared error), without l2;
        with sample_weight, the mean of each sample's loss times its weight."""
        X = self._X(X)
        labels, targets = self._y(y, X.shape[0])
        weights = self._sample_weights(sample_weight, X.shape[0])
        with self._reading():
            return float(self._loss_and_gradients(X, labels, targets, False, weights))

    def gradients(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None
                  ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Gradients of the mean loss (weighted as in loss): (list of dW, list of db),
        new arrays shaped like weights and biases."""
        X = self._X(X)
        labels, targets = self._y(y, X.shape[0])
        weights = self._sample_weights(sample_weight, X.shape[0])
        with self._reading():
            self._grads[...] = 0
            self._loss_and_gradients(X, labels, targets, True, weights)
            return [g.copy() for g in self._dweights], [g.copy() for g in self._dbiases]

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy for softmax; coefficient of determination R^2 for linear (averaged
        over outputs, as scikit-learn's r2_score)."""
        X = self._X(X)
        labels, targets = self._y(y, X.shape[0])
        with self._reading():
            return self._score(self._forward(X), labels, targets)

    def _score(self, out, labels, targets):
        if self._output == "softmax":
            return float(np.mean(np.argmax(out, axis=1) == labels))
        t = targets.astype(np.float64)
        ss_res = ((t - out) ** 2).sum(axis=0)
        ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                          np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))

    # -- training ------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 1, batch_size: int = 1,
            learning_rate: float = 0.01, lr_decay: float = 0.0, momentum: float = 0.0,
            l2: float = 0.0, sampling: str = "shuffle",
            validation_data: Optional[Tuple[ArrayLike, ArrayLike]] = None,
            verbose: bool = False,
            callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
            sample_weight: Optional[ArrayLike] = None) -> "History":
        """Train with stochastic gradient descent; the model keeps training from its
        current state.

        Each epoch visits n samples in minibatches of ``batch_size`` (the last one may
        be smaller) and takes one step per batch:
        ``theta <- theta - eta_t * grad``, ``eta_t = learning_rate / (1 + lr_decay * t)``,
        t the number of updates made so far by this model. With momentum mu:
        ``v <- mu v - eta_t grad; theta <- theta + v``. With l2: the gradient of
        ``l2/2 * ||W||^2`` over weights (not biases) is added.

        Parameters
        ----------
        X : array-like, shape (n, d)
        y : array-like
            Softmax: labels 0..k-1, shape (n,), or one-hot rows, shape (n, k).
            Linear: targets, shape (n, k), or (n,) when k == 1.
        epochs : int, default 1
        batch_size : int, default 1
            1 is the lecture's per-sample SGD; values above n are clipped to n.
        learning_rate : float, default 0.01
        lr_decay : float, default 0.0
        momentum : float in [0, 1), default 0.0
        l2 : float, default 0.0
        sampling : {"shuffle", "uniform"}, default "shuffle"
            "shuffle": a fresh permutation each epoch. "uniform": each of the n picks
            of an epoch uniform over the data, with replacement (the lecture's).
        validation_data : (X_val, y_val), optional
            Evaluated after every epoch.
        verbose : bool, default False
            Show progress: a tqdm bar when tqdm is installed, else one line per epoch
            (loss, validation metric, samples per second, time left).
        callback : callable, optional
            Called after every epoch with that epoch's record (a dict: "epoch",
            "loss", "learning_rate", "seconds", and the validation figures); a true
            return value stops training there (``history["stopped"] = True``).
        sample_weight : array-like of shape (n,), optional
            Non-negative weights: each sample's loss (and so its gradient) is
            multiplied by its weight; a batch's loss is the mean over the batch of the
            weighted losses. All ones gives exactly the unweighted training.

        Returns
        -------
        history : History (a dict of lists, one entry per epoch; ``history.plot(path)``
            draws it)
            "loss": mean loss of the epoch's samples, each measured just before the
            step it took part in; "learning_rate": the last step size of the epoch;
            "seconds": wall time; with validation_data, "val_loss" and "val_accuracy"
            (softmax) or "val_r2" (linear).

        Raises
        ------
        ValueError
            For data or arguments that do not fit the network; the model is left
            unchanged.
        FloatingPointError
            When the loss becomes NaN or infinite: the model goes back to its weights at
            the start of that epoch; the history so far is ``exc.history``.
        RuntimeError
            When another thread is using this model.

        Notes
        -----
        Ctrl-C stops training after the current chunk of steps (within about 0.1 s) and
        fit returns, the model at a completed step and ``history["interrupted"] =
        True``; a second Ctrl-C raises KeyboardInterrupt.
        """
        X = self._X(X)
        n = X.shape[0]
        labels, targets = self._y(y, n)
        weights = self._sample_weights(sample_weight, n)
        epochs = check.check_positive_int("epochs", epochs)
        batch_size = min(check.check_positive_int("batch_size", batch_size), n)
        learning_rate = check.check_real("learning_rate", learning_rate, 0, low_open=True)
        lr_decay = check.check_real("lr_decay", lr_decay, 0)
        momentum = check.check_real("momentum", momentum, 0, 1, high_open=True)
        l2 = check.check_real("l2", l2, 0)
        check.check_choice("sampling", sampling, check.SAMPLINGS)
        if callback is not None and not callable(callback):
            raise ValueError(f"callback must be callable (epoch record -> stop?), "
                             f"got {callback!r}")
        if validation_data is not None:
            try:
                Xv, yv = validation_data
            except (TypeError, ValueError):
                raise ValueError("validation_data must be a pair (X_val, y_val)") from None
            Xv = self._X(Xv, "validation_data X")
            yv = self._y(yv, Xv.shape[0], "validation_data y")

        history = History(loss=[], learning_rate=[], seconds=[])
        if validation_data is not None:
            history["val_loss"] = []
            history["val_accuracy" if self._output == "softmax" else "val_r2"] = []
        progress = Progress(epochs, n, verbose)
        with self._exclusive("fit"), _StopOnInterrupt() as interrupt, \
                contextlib.closing(progress):
            trainer = self._make_trainer(batch_size)
            for epoch in range(epochs):
                start = time.perf_counter()
                if sampling == "shuffle":
                    order = self._rng.permutation(n)
                else:  # the lecture's: each pick uniform over the data, with replacement
                    order = self._rng.integers(0, n, size=n)
                order = np.ascontiguousarray(order, dtype=np.intp)
                snapshot = (self._params.copy(), self._velocity.copy(), self._updates)
                total, done, eta = 0.0, 0, learning_rate
                chunk = batch_size * max(1, 1024 // batch_size)
                # The epoch runs in chunks of whole batches (the same steps as in one
                # go), sized to take about CHUNK_SECONDS, so that Ctrl-C is seen soon.
                while done < n and not interrupt.requested:
                    stop = min(n, done + chunk)
                    tick = time.perf_counter()
                    part, updates, eta = self._train_epoch(
                        trainer, X, labels, targets, weights, order[done:stop], batch_size,
                        learning_rate, lr_decay, momentum, l2, self._updates)
                    self._updates += updates
                    if updates < -(-(stop - done) // batch_size):
                        self._diverged(snapshot, epoch, history)
                    total, done = total + part, stop
                    elapsed = max(time.perf_counter() - tick, 1e-6)
                    chunk = batch_size * max(
                        1, int(chunk * CHUNK_SECONDS / elapsed) // batch_size)
                if done < n:
                    warnings.warn(f"fit interrupted in epoch {epoch + 1} after {done} of {n} "
                                  f"samples; the model keeps its last completed step",
                                  RuntimeWarning, stacklevel=2)
                    history["interrupted"] = True
                    break
                record = self._fit_epoch_done(history, epoch, start, total, n, eta,
                                              validation_data is not None and (Xv, yv))
                progress.update(record)
                if callback is not None and callback(dict(record)):
                    history["stopped"] = True
                    break
        return history

    def _fit_epoch_done(self, history, epoch, start, total, n, eta, validation):
        """Records one finished epoch in the history; returns the epoch's record."""
        record = {"epoch": epoch + 1, "loss": total / n, "learning_rate": eta,
                  "seconds": time.perf_counter() - start}
        if validation:
            Xv, yv = validation
            record["val_loss"] = float(self._loss_and_gradients(Xv, *yv, False))
            score_name = "val_accuracy" if self._output == "softmax" else "val_r2"
            record[score_name] = self._score(self._forward(Xv), *yv)
        for key, value in record.items():
            if key != "epoch":
                history[key].append(value)
        return record

    def _diverged(self, snapshot, epoch, history):
        """A step met a NaN or infinite loss: go back to the state at the start of the
        epoch (every loss of the epoch before it was finite; the steps just before a
        blow-up, though finite, are usually already huge) and raise."""
        self._params[...], self._velocity[...], self._updates = snapshot
        err = FloatingPointError(
            f"training diverged in epoch {epoch + 1}: the loss became NaN or infinite; the "
            f"model keeps the weights it had at the start of that epoch. Try a smaller "
            f"learning_rate (or lr_decay, or l2).")
        err.history = history
        raise err

    def export_c(self, path: Union[str, "os.PathLike[str]"],
                 name: Optional[str] = None) -> Tuple[str, str]:
        """Write dependency-free C source (``path``) and header (``.h`` beside it):
        the weights as static arrays and one forward function, for inference where
        Python is not available. See fastnet.export.export_c for the C API.

        Returns
        -------
        (c_path, h_path)
        """
        from fastnet.export import export_c
        with self._reading():
            return export_c(self, path, name)

    # -- persistence ---------------------------------------------------------
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the model to `path` (an .npz archive, no pickle): parameters, layout,
        activations, output, dtype, and the optimiser and sampling state needed to
        resume training."""
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "layer_sizes": self._sizes,
            "activation": self._activations,
            "output": self._output,
            "dtype": self._dtype.name,
            "updates": int(self._updates),
            "rng_state": self._rng.bit_generator.state,
        }
        with self._reading(), open(path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), params=self._params,
                     velocity=self._velocity)

    @classmethod
    def _load(cls, path):
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"][()]))
                params = np.array(archive["params"])
                velocity = np.array(archive["velocity"])
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path!r} is not a readable fastnet model file: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise ValueError(f"{path!r} is not a fastnet model file")
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path!r} has format version {meta.get('version')!r}; this "
                             f"fastnet reads version {FORMAT_VERSION}")
        # Everything is checked before the model is built: never a broken model.
        try:
            net = cls(meta["layer_sizes"], meta["activation"], meta["output"], meta["dtype"])
            updates = meta["updates"]
            if isinstance(updates, bool) or not isinstance(updates, int) or updates < 0:
                raise ValueError(f"updates = {updates!r} is not a count")
            rng = np.random.default_rng()
            rng.bit_generator.state = meta["rng_state"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path!r} has invalid metadata: {exc}") from None
        expected = (net._params.size,)
        for name, arr in (("params", params), ("velocity", velocity)):
            if arr.shape != expected or arr.dtype != net._dtype:
                raise ValueError(f"{path!r}: {name} has shape {arr.shape} and dtype {arr.dtype}, "
                                 f"but layer_sizes {net._sizes} in {net._dtype.name} need "
                                 f"{expected}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{path!r}: {name} holds NaN or infinity")
        net._rng = rng
        net._set_state(np.ascontiguousarray(params), np.ascontiguousarray(velocity), updates)
        return net
