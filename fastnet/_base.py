"""The public API shared by fastnet.MLP and fastnet.reference.MLP.

BaseMLP checks arguments, holds the model's state (one flat parameter buffer, the
optimizer's state buffers, the update count and the random generator) and answers
the public calls; the pieces it is built from each have their own module:
components (fastnet/components.py), parameter layout and initialisation
(_params.py), the training loop (_training.py), the file format (_format.py) and the
memory and thread guards (_guards.py). The arithmetic is left to four methods each
implementation provides (declared below): ``_forward``, ``_loss_and_gradients``,
``_make_trainer`` and ``_train_steps``.
"""
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from fastnet import _training
from fastnet import _validation as check
from fastnet._guards import ModelLock, check_training_memory
from fastnet._params import (aligned, aligned_zeros, fresh_views, init_params, layer_views,
                             n_params, param_layout, public_flat)
from fastnet._training import History  # noqa: F401  (re-exported: fit's return type)
from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS


class BaseMLP:
    """A multilayer perceptron trained with stochastic gradient descent.

    Dense layers ``h = g(W h_prev + b)`` with one hidden activation per hidden layer,
    and an output head: softmax (cross-entropy), linear (squared error), logistic
    (binary cross-entropy) or poisson (half Poisson deviance). All parameters
    live in one flat buffer; ``weights`` and ``biases`` are views into it.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d, h1, ..., hL, k]``: inputs, hidden widths, outputs. Two entries mean no
        hidden layer (logistic or linear regression).
    activation : {"relu", "tanh", "sigmoid", "identity"} or list of them, default "relu"
        Hidden activation, one for all hidden layers or one per hidden layer
        (``fastnet.components.ACTIVATIONS``).
    output : {"softmax", "linear", "logistic", "poisson"}, default "softmax"
        The output head (``fastnet.components.HEADS``).
        "softmax": probabilities, loss ``-log p_y`` (labels 0..k-1 or one-hot rows).
        "linear": identity, loss ``sum_j (y~_j - y_j)^2`` per sample (no 1/2 factor).
        "logistic": element-wise sigmoid, binary cross-entropy summed over the k units
        (0/1 indicators (n, k); one unit for a binary problem, k for multilabel).
        "poisson": exp (log link), half the Poisson deviance ``sum_j y log(y / p) -
        y + p`` per sample (non-negative counts or rates (n, k)).
        The loss of a batch is the mean over its samples.
    dtype : {"float32", "float64"}, default "float32"
        Precision of parameters and arithmetic; inputs are converted to it. None is
        refused (ValueError), not read as float64.
    seed : None, int >= 0 or numpy.random.Generator, default None
        The model's own random generator, used for the initial weights and for the
        sampling order of ``fit``: ``numpy.random.default_rng(seed)`` for None (fresh
        entropy) or an integer. The same integer gives the same weights and the same
        training trajectory in fastnet and fastnet.reference. A Generator is not kept:
        one draw from it (``seed.integers(2**63)``) seeds the model's generator, so it
        advances by that draw only (models made one after another from it differ, and
        the same Generator state gives the same model), and the model's training never
        touches it. Anything else raises ValueError.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l]`` of shape ``(layer_sizes[l+1], layer_sizes[l])``; live views,
        writing into them changes the model (``net.weights[l][...] = W``). Each
        access gives new view objects, so reshaping one cannot affect the model;
        assigning to the list (``net.weights[l] = W``) raises TypeError.
    biases : list of ndarray
        ``biases[l]`` of shape ``(layer_sizes[l+1],)``; live views, as ``weights``.

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
                 dtype: Union[str, np.dtype] = "float32",
                 seed: Union[None, int, "np.random.Generator"] = None) -> None:
        sizes = check.check_layer_sizes(layer_sizes)
        self._activations = check.check_activations(activation, len(sizes) - 2,
                                                    ACTIVATIONS.names)
        self._head = HEADS.lookup(output)
        self._head.check_outputs(sizes[-1])
        self._dtype = check.check_dtype(dtype)
        self._sizes = sizes
        self._optimizer = OPTIMIZERS["sgd"]
        self._guard = ModelLock()
        # Refuse before any work what cannot fit: the parameters, their gradients and
        # the optimizer's state buffers.
        check_training_memory(n_params(sizes), self._dtype, self._optimizer,
                              f"layer_sizes {sizes}")
        # After the other checks: a Generator passed as seed advances only when a
        # model is made.
        self._rng = check.check_seed(seed)
        params = init_params(sizes, self._activations, self._rng, self._dtype)
        self._set_state(params, {name: aligned_zeros(params.shape[0], params.dtype)
                                 for name in self._optimizer.state}, 0)

    # -- state ---------------------------------------------------------------
    def _set_state(self, params, state, updates):
        """Install the flat buffers (params, the optimizer's state by name) and make
        the per-layer views into them."""
        self._w_off, self._b_off, self._n_weights, _ = param_layout(self._sizes)
        self._params = aligned(params)
        self._state = {name: aligned(state[name]) for name in self._optimizer.state}
        self._grads = aligned_zeros(params.shape[0], params.dtype)
        self._updates = updates            # t in eta_t = lr / (1 + lr_decay * t)
        self._weights, self._biases = layer_views(self._params, self._sizes)
        self._dweights, self._dbiases = layer_views(self._grads, self._sizes)
        self._on_state_change()

    def state_dict(self) -> Dict[str, Any]:
        """Copies of everything training changes: ``"params"`` (the flat parameter
        buffer), the optimizer's state buffers by name (``"velocity"`` for SGD) and
        ``"updates"`` (the update count t of the step-size schedule). For snapshots,
        e.g. keeping the best epoch's model; see load_state_dict."""
        with self._guard.reading():
            state = {"params": self._params.copy(), "updates": self._updates}
            state.update({name: buf.copy() for name, buf in self._state.items()})
            return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Copy a state_dict of a model of the same layout back into this one.
        Everything is checked first (shapes, finite values of the model's dtype, the
        update count): a mismatch raises ValueError and changes nothing."""
        from fastnet import _format   # zipfile, json: imported when first needed
        arrays, updates = _format.checked_state(self, state)
        with self._guard.reading():
            self._restore(arrays, updates)

    def _restore(self, arrays, updates):
        """Copy checked (or trusted: an epoch's own snapshot) state into the buffers."""
        self._params[...] = arrays["params"]
        for name in self._optimizer.state:
            self._state[name][...] = arrays[name]
        self._updates = updates

    def __getstate__(self):
        """For pickle and copy (joblib, multiprocessing); see _format.pickled_state."""
        from fastnet import _format
        with self._guard.reading():
            return _format.pickled_state(self)

    def __setstate__(self, state):
        from fastnet import _format
        _format.restore_pickled(self, state)

    def _on_state_change(self):
        """Hook for implementations that cache per-model objects."""

    # -- the arithmetic, supplied by each implementation ------------------------
    def _forward(self, X):
        """The head's outputs (n, k) for checked rows X (probabilities for softmax)."""
        raise NotImplementedError

    def _loss_and_gradients(self, X, truth, with_grad, weights=None, outputs=None):
        """Mean loss of checked rows against their converted truth (each row's loss
        times its weight, when given); with_grad ADDS its gradient into self._grads;
        outputs (n, k), when given, receives the head's outputs (what _forward returns)
        from the same pass."""
        raise NotImplementedError

    def _make_trainer(self, batch_size):
        """Whatever _train_steps needs for the whole fit (workspaces)."""
        raise NotImplementedError

    def _train_steps(self, trainer, X, truth, weights, order, batch_size, config, t0,
                     fast_paths):
        """Optimizer steps over the rows `order`, batch_size at a time, with the
        optimizer configuration `config`, counting updates from t0 (weights: None or
        per-row loss weights; fast_paths: the compiled fast paths allowed, see
        fastnet.components.Optimizer). Returns (summed loss, updates done, last step
        size); stops early, before the step, at a NaN or infinite loss."""
        raise NotImplementedError

    def _optimizer_update(self, config, eta, step):
        """One optimizer step from the gradient in self._grads, with step size eta and
        1-based update number `step` (fit takes a batch too large for one chunk of work
        this way, its gradient summed in slices)."""
        raise NotImplementedError

    # -- what the model is -----------------------------------------------------
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
        """str: the output head ('softmax', 'linear', 'logistic' or 'poisson')."""
        return self._head.name

    @property
    def dtype(self) -> np.dtype:
        """numpy.dtype: float32 or float64; inputs are converted to it."""
        return self._dtype

    @property
    def weights(self) -> List[np.ndarray]:
        """list of ndarray: live views, weights[l] of shape (out, in); writing into them
        (``net.weights[l][...] = W``, ``net.weights[l][i, j] = v``) changes the model.
        Every access makes new view objects, so changing a view's ``shape`` or
        ``dtype`` affects only that view; assigning to the list raises TypeError."""
        return fresh_views(self._weights, "weights")

    @weights.setter
    def weights(self, value):
        raise AttributeError("net.weights cannot be replaced; write into the views: "
                             "net.weights[l][...] = W")

    @property
    def biases(self) -> List[np.ndarray]:
        """list of ndarray: live views, biases[l] of shape (out,); as ``weights``:
        ``net.biases[l][...] = b`` changes the model, assigning to the list raises."""
        return fresh_views(self._biases, "biases")

    @biases.setter
    def biases(self, value):
        raise AttributeError("net.biases cannot be replaced; write into the views: "
                             "net.biases[l][...] = b")

    @property
    def parameters(self) -> np.ndarray:
        """ndarray: the flat parameter buffer (every layer's weights, row-major, then
        every bias), a live view (``net.parameters[...] = p`` changes the model); a new
        view object on every access, so changing its ``shape`` or ``dtype`` cannot
        affect the model. weights and biases are views into the same memory."""
        return public_flat(self._params, self._params.size)

    @parameters.setter
    def parameters(self, value):
        raise AttributeError("net.parameters cannot be replaced; write into it: "
                             "net.parameters[...] = p")

    @property
    def n_params(self) -> int:
        """int: number of trainable parameters."""
        return self._params.size

    def __repr__(self):
        return (f"{type(self).__module__}.{type(self).__qualname__}({self._sizes}, "
                f"activation={self._activations!r}, output={self._head.name!r}, "
                f"dtype={self._dtype.name!r})")

    # -- input conversion ----------------------------------------------------
    def _X(self, X, name="X"):
        return check.check_X(X, self._sizes[0], self._dtype, name)

    def _sample_weights(self, sample_weight, n):
        return None if sample_weight is None else \
            check.check_sample_weight(sample_weight, n, self._dtype)

    def _truth(self, y, n, name="y"):
        """y checked and converted as the head needs it (labels or targets)."""
        return self._head.convert(y, n, self._sizes[-1], self._dtype, name)

    def _data(self, X, y, sample_weight=None):
        """(X, truth, weights), checked and converted, in the order errors are raised."""
        X = self._X(X)
        return (X, self._truth(y, X.shape[0]),
                self._sample_weights(sample_weight, X.shape[0]))

    # -- inference -----------------------------------------------------------
    def forward(self, X: ArrayLike) -> np.ndarray:
        """Outputs of the network, shape (n, k): probabilities for softmax, values
        for linear."""
        X = self._X(X)
        with self._guard.reading():
            return self._forward_in_slices(X)

    def _forward_in_slices(self, X):
        """_forward over a large X in slices of about CHUNK_WORK multiply-adds, so that
        Ctrl-C (KeyboardInterrupt) is seen between them within a fraction of a second."""
        n, rows = X.shape[0], _training.pass_rows(self._sizes)
        if n <= rows:
            return self._forward(X)
        out = np.empty((n, self._sizes[-1]), dtype=self._dtype)
        for start in range(0, n, rows):
            out[start:start + rows] = self._forward(X[start:start + rows])
        return out

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class indices (n,) for softmax; 0/1 indicators (p > 0.5) for logistic;
        outputs for linear; (n,) when k == 1."""
        return self._head.predict(self.forward(X))

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probabilities (n, k); classifier heads (softmax, logistic) only."""
        if not self._head.classifier:
            raise ValueError(f"predict_proba needs output='softmax' or 'logistic' (a "
                             f"classifier head); this network's output is {self._head.name!r}")
        return self.forward(X)

    def loss(self, X: ArrayLike, y: ArrayLike,
             sample_weight: Optional[ArrayLike] = None) -> float:
        """Mean loss over the samples (cross-entropy or squared error), without l2;
        with sample_weight, the mean of each sample's loss times its weight."""
        X, truth, weights = self._data(X, y, sample_weight)
        with self._guard.reading():
            return self._loss_in_slices(X, truth, False, weights)

    def _loss_in_slices(self, X, truth, with_grad, weights):
        """_loss_and_gradients over a large X in slices (as _forward_in_slices): each
        slice's rows weigh (their weight times) slice / n, so that the slices' means
        add up to the mean over all rows, and their gradients to its gradient."""
        n, rows = X.shape[0], _training.pass_rows(self._sizes)
        if n <= rows:
            return float(self._loss_and_gradients(X, truth, with_grad, weights))
        total = 0.0
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            share = self._dtype.type((stop - start) / n)
            w = np.full(stop - start, share) if weights is None else \
                weights[start:stop] * share
            total += float(self._loss_and_gradients(X[start:stop], truth[start:stop],
                                                    with_grad, w))
        return total

    def gradients(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None
                  ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Gradients of the mean loss (weighted as in loss): (list of dW, list of db),
        new arrays shaped like weights and biases."""
        X, truth, weights = self._data(X, y, sample_weight)
        with self._guard.reading():
            self._grads[...] = 0
            self._loss_in_slices(X, truth, True, weights)
            return [g.copy() for g in self._dweights], [g.copy() for g in self._dbiases]

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """The head's metric: accuracy for softmax and logistic (every unit of a row
        right); R^2 for linear (averaged over outputs, as scikit-learn's r2_score)."""
        X, truth, _ = self._data(X, y)
        with self._guard.reading():
            return self._head.score(self._forward_in_slices(X), truth)

    # -- training ------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 1, batch_size: int = 1,
            learning_rate: float = 0.01, lr_decay: float = 0.0, momentum: float = 0.0,
            l2: float = 0.0, sampling: str = "shuffle",
            validation_data: Optional[Tuple[ArrayLike, ArrayLike]] = None,
            verbose: bool = False,
            callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
            sample_weight: Optional[ArrayLike] = None, optimizer: str = "sgd",
            nesterov: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
            epsilon: float = 1e-8, validation_split: float = 0.0,
            class_weight: Union[None, str, Dict[int, float]] = None,
            patience: Optional[int] = None, monitor: str = "val_loss",
            min_delta: float = 0.0, restore_best_weights: bool = False) -> "History":
        """Train with stochastic gradient descent (or Adam); the model keeps training
        from its current state.

        Each epoch visits n samples in minibatches of ``batch_size`` (the last one may
        be smaller) and takes one step per batch:
        ``theta <- theta - eta_t * grad``, ``eta_t = learning_rate / (1 + lr_decay * t)``,
        t the number of updates made so far by this model. With momentum mu:
        ``v <- mu v - eta_t grad; theta <- theta + v`` (Nesterov: ``theta <- theta +
        mu v - eta_t grad``). With l2: the gradient of ``l2/2 * ||W||^2`` over weights
        (not biases) is added. ``optimizer="adam"``: see fastnet.components.AdamConfig.
        Switching optimizer starts the new one afresh (zero state, t = 0).

        Parameters
        ----------
        X : array-like, shape (n, d)
        y : array-like
            Softmax: labels 0..k-1, shape (n,), or one-hot rows, shape (n, k).
            Logistic: 0/1 indicators, shape (n, k), or (n,) when k == 1.
            Linear: targets, shape (n, k), or (n,) when k == 1.
        epochs : int, default 1
        batch_size : int, default 1
            1 is the lecture's per-sample SGD; values above n are clipped to n.
        learning_rate : float, default 0.01
        lr_decay : float, default 0.0
        momentum : float in [0, 1], default 0.0
        l2 : float, default 0.0
        sampling : {"shuffle", "uniform"}, default "shuffle"
            "shuffle": a fresh permutation each epoch. "uniform": each of the n picks
            of an epoch uniform over the data, with replacement (the lecture's).
        validation_data : (X_val, y_val), optional
            Evaluated after every epoch.
        verbose : bool, default False
            Show progress: one bar for the whole fit (epochs x samples, moving within
            each epoch) when tqdm is installed, with the epoch, loss and validation
            figures; else a line per epoch (loss, validation metric, samples per
            second, time left) and, within a long epoch, one every second.
        callback : callable, optional
            Called after every epoch with that epoch's record (a dict: "epoch",
            "loss", "learning_rate", "seconds", and the validation figures); a true
            return value stops training there (``history["stopped"] = True``).
        sample_weight : array-like of shape (n,), optional
            Non-negative weights: each sample's loss (and so its gradient) is
            multiplied by its weight; a batch's loss is the mean over the batch of the
            weighted losses. All ones gives exactly the unweighted training.
        optimizer : {"sgd", "adam"}, default "sgd"
            fastnet.components.OPTIMIZERS; an option of another optimizer (momentum
            with Adam, beta_1 with SGD, ...) may only keep its default.
        nesterov : bool, default False
            SGD: Nesterov's momentum.
        beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
            Adam's moment decays and its denominator's guard.
        validation_split : float in [0, 1), default 0.0
            As Keras: the LAST fraction of the rows of X and y, as given (before any
            shuffling), is not trained on but is the validation data, evaluated after
            every epoch (``int(floor(n * (1 - validation_split)))`` rows are trained
            on). Exclusive with validation_data. The validation rows' sample weights
            are not used: validation figures are unweighted.
        class_weight : dict {class: weight} or "balanced", optional
            Multiplies each sample's weight (``sample_weight``, or 1) by its class's
            weight; classes are the labels 0..k-1 (softmax) or 0 and 1 (a one-unit
            logistic head). A dict may leave classes out (weight 1). "balanced" is
            scikit-learn's ``n_samples / (n_classes * np.bincount(y))``, over the
            training rows, with sample_weight the weighted class counts. Training
            only, as in Keras: validation figures are unweighted.
        patience : int >= 0, optional
            Early stopping (Keras's EarlyStopping): training stops after `patience`
            epochs in a row without improvement of `monitor` (from the second epoch
            on); ``history["stopped_epoch"]`` says when. None: no early stopping.
        monitor : {"val_loss", "loss", "val_accuracy", "val_r2"}, default "val_loss"
            The figure early stopping and restore_best_weights watch, a key of the
            epoch record: losses improve downward, accuracy and R^2 upward. The
            validation figures need validation_data or validation_split.
        min_delta : float >= 0, default 0.0
            An improvement is a change by more than min_delta.
        restore_best_weights : bool, default False
            When fit returns (early stopped, run to the end, stopped by the callback
            or by Ctrl-C), put back the model's training state (parameters,
            optimizer state, update count: ``state_dict()``) at the end of the best
            epoch by `monitor`. ``history["best_epoch"]`` (1-based) is recorded
            whenever patience or restore_best_weights is given.

        Returns
        -------
        history : History (a dict of lists, one entry per epoch; ``history.plot(path)``
            draws it)
            "loss": mean loss of the epoch's samples, each measured just before the
            step it took part in; "learning_rate": the last step size of the epoch;
            "seconds": wall time of the epoch's steps; with validation data,
            "val_loss" and "val_accuracy" (softmax, logistic) or "val_r2" (linear,
            poisson). Besides the lists: "best_epoch" and "stopped_epoch" (early
            stopping), "stopped" (the callback), "interrupted" (Ctrl-C).

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
        MemoryError
            When what the fit holds at once (parameters, gradients, optimizer state,
            the epoch's snapshot and the best epoch's copy, workspaces) cannot fit in
            this machine's memory: before any step, the model unchanged.

        Notes
        -----
        Ctrl-C stops training after the current chunk of work (sized to take about
        0.1 s: by its multiply-adds at first, then by the time chunks take; a batch
        too large for one chunk has its gradient summed in slices, Ctrl-C being
        looked at between them; the validation pass runs in slices too) and fit
        returns, the model at a completed step and ``history["interrupted"] = True``;
        a second Ctrl-C raises KeyboardInterrupt.
        """
        X, truth, weights = self._data(X, y, sample_weight)
        epochs = check.check_positive_int("epochs", epochs)
        batch_size = check.check_positive_int("batch_size", batch_size)
        config = _training.configure(optimizer, dict(
            learning_rate=learning_rate, lr_decay=lr_decay, momentum=momentum, l2=l2,
            nesterov=nesterov, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon), self._dtype)
        validation = _training.check_options(self, sampling, validation_data, callback)
        X, truth, weights, split = _training.split_validation(X, truth, weights,
                                                              validation_split, validation)
        validation = validation if split is None else split
        weights = _training.class_weights(self, class_weight, truth, weights)
        recorded = ["loss"] if validation is None else \
            ["loss", "val_loss", "val_" + self._head.metric]
        stopping = _training.check_early_stopping(patience, monitor, min_delta,
                                                  restore_best_weights, recorded)
        batch_size = min(batch_size, X.shape[0])
        with self._guard.exclusive("fit"):
            return _training.train(self, config, X, truth, weights, epochs, batch_size,
                                   sampling, validation, verbose, callback, stopping)

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
        with self._guard.reading():
            return export_c(self, path, name)

    def export_onnx(self, path: Union[None, str, "os.PathLike[str]"] = None, *,
                    opset_version: int = 17) -> Any:
        """Write the network as an ONNX model (needs the ``onnx`` package:
        ``pip install "fastnet[onnx]"``), for onnxruntime and other ONNX runtimes.

        The graph computes ``forward``: input ``"X"`` of shape (N, d) and output
        ``"Y"`` of shape (N, k), both in the model's dtype (float32 or float64), N a
        symbolic batch dimension. Each layer is a ``Gemm`` with its activation
        (``Relu``, ``Tanh``, ``Sigmoid``, ``Identity``); the head adds ``Softmax``
        (axis 1), ``Sigmoid`` (logistic), ``Exp`` (poisson) or nothing (linear).
        Initializers are named ``layers.{l}.weight`` (out, in) and ``layers.{l}.bias``.

        Parameters
        ----------
        path : str or path-like, optional
            Where to write the model; None writes nothing.
        opset_version : int, default 17
            The ONNX opset (13 up to the installed onnx's newest).

        Returns
        -------
        onnx.ModelProto
            The model, checked with ``onnx.checker.check_model``.
        """
        from fastnet import _onnx
        with self._guard.reading():
            return _onnx.export_net(self, path, opset_version)

    def to_torch(self) -> Any:
        """The network as a ``torch.nn.Sequential`` with copies of its weights (needs
        PyTorch: ``pip install "fastnet[torch]"``); it computes ``forward``.

        The modules are ``nn.Linear`` (same (out, in) weight layout, the model's dtype)
        each followed by its activation (``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid``,
        ``nn.Identity``); the output layer is followed by the head's transform:
        ``nn.Softmax(dim=1)``, ``nn.Sigmoid()`` (logistic), ``fastnet._torch.Exp()``
        (poisson) or nothing (linear). Without that last module (``seq[:-1]``) the
        network gives the logits, what ``nn.CrossEntropyLoss``,
        ``nn.BCEWithLogitsLoss`` and ``nn.PoissonNLLLoss(log_input=True)`` take.

        Returns
        -------
        torch.nn.Sequential
        """
        from fastnet import _torch
        with self._guard.reading():
            return _torch.to_torch(self)

    @classmethod
    def from_torch(cls, module: Any, dtype: Union[None, str, np.dtype] = None,
                   seed: Union[None, int, "np.random.Generator"] = None) -> "BaseMLP":
        """A model of this class (fastnet.MLP or fastnet.reference.MLP) with the
        layers and weights of a ``torch.nn.Sequential`` (needs PyTorch).

        The Sequential holds ``nn.Linear`` layers, each hidden one optionally followed
        by ``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid`` or ``nn.Identity`` (none means
        identity), and the last one optionally by the head: ``nn.Softmax(dim=1)``
        (output="softmax"), ``nn.Sigmoid()`` ("logistic"), ``fastnet._torch.Exp()``
        ("poisson"), or nothing / ``nn.Identity()`` ("linear"); nested Sequentials are
        read in order. Anything else (other activations, dropout, normalisation,
        ``LogSoftmax``, ...) raises ValueError naming the module. A Linear without bias
        gets zero biases. ``model.from_torch(model.to_torch())`` gives the model back.

        Parameters
        ----------
        module : torch.nn.Sequential
        dtype : {"float32", "float64"} or None, default None
            None: the dtype of the Linear weights (float32 or float64; other dtypes
            need this argument).
        seed : None, int or numpy.random.Generator, optional
            The new model's generator (for fit's sampling order), as in the
            constructor.

        Returns
        -------
        model : an instance of this class
        """
        from fastnet import _torch
        return _torch.from_torch(cls, module, dtype, seed)

    # -- persistence ---------------------------------------------------------
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the model to `path` (an .npz archive, no pickle): parameters, layout,
        activations, output, dtype, and the optimizer and sampling state needed to
        resume training (see fastnet/_format.py)."""
        from fastnet import _format
        with self._guard.reading():
            _format.save(self, path)

    @classmethod
    def _load(cls, path):
        from fastnet import _format
        return _format.load(cls, path)
