"""scikit-learn's MLPClassifier and MLPRegressor, exactly, over fastnet's compiled
kernels (scikit-learn is an optional dependency: ``pip install "fastnet[sklearn]"``).

Replace ``from sklearn.neural_network import MLPClassifier, MLPRegressor`` by
``from fastnet.sklearn import MLPClassifier, MLPRegressor`` and the same code trains
the same model: the constructor, its defaults and its validation are scikit-learn's;
the fitted attributes (``coefs_[i]`` of shape (fan_in, fan_out), ``intercepts_``,
``loss_``, ``loss_curve_``, ``n_iter_``, ``t_``, ...) mean what they mean there; with
the same ``random_state``, in float64, the training trajectory is scikit-learn's
(initial weights, use of the random state, batches, loss conventions, optimizer
arithmetic, schedules and stopping rules) up to floating-point rounding.

What is fastnet's here is only where the arithmetic runs: each epoch is one call into
compiled code (``fastnet._train.train_epoch_sklearn``) over one flat parameter buffer,
and L-BFGS evaluates the loss and gradient with the compiled passes.

scikit-learn's conventions differ from ``fastnet.MLP.fit``'s (the lecture's): the
squared error is halved, and each batch minimises ``(sum_i w_i loss_i + alpha/2
||W||^2) / sum_i w_i``, so the l2 penalty is divided by the batch's size; fastnet.MLP
puts ``l2/2 ||W||^2`` on the mean loss.

Extra keyword arguments, all defaulting to scikit-learn's behaviour:

``dtype`` (None)
    The model's float type; None follows X as scikit-learn does (float32 input
    trains in float32, anything else in float64).
``sampling`` ("shuffle")
    "uniform" visits n rows drawn with replacement each epoch (the lecture's
    sampling) instead of scikit-learn's permutation.
``standardize_y`` (False, MLPRegressor only)
    Train on targets standardised per output (from the first fit) and predict in
    the original units; ``loss_curve_`` is then in standardised units.
"""
import contextlib
import numbers
import os
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
from scipy.special import xlogy

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                          unique_labels)
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
    # scikit-learn's parameter validation, so that a bad parameter gets its
    # InvalidParameterError with its message (private modules, public behaviour).
    from sklearn.base import _fit_context
    from sklearn.utils._param_validation import Interval, Options, StrOptions
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError('fastnet.sklearn needs scikit-learn >= 1.6: pip install '
                      '"fastnet[sklearn]"') from exc

import fastnet
from fastnet import _train
from fastnet._guards import check_fits_in_memory
from fastnet._threads import limit_blas_threads
from fastnet._training import configure
from fastnet.components import OPTIMIZERS

_STOCHASTIC_SOLVERS = ("sgd", "adam")

# scikit-learn's names of the hidden activations -> fastnet's
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}

# scikit-learn's output activation (out_activation_) -> (fastnet head, factor on the
# gradient of fastnet's row loss, factor on the reported loss given the number of
# outputs k). scikit-learn's squared error is half the mean over rows AND outputs,
# while its gradient is (prediction - target) / rows, not divided by k.
_OUTPUTS = {
    "softmax": ("softmax", 1.0, lambda k: 1.0),
    "logistic": ("logistic", 1.0, lambda k: 1.0),
    "identity": ("linear", 0.5, lambda k: 0.5 / k),
    "exp": ("poisson", 1.0, lambda k: 1.0),
}

# Epochs whose batch forward pass is below this many multiply-adds run with one BLAS
# thread (OpenBLAS's second thread gains nothing on these products).
_ONE_THREAD_BELOW = 1_000_000
# Batches whose forward pass is at least this many multiply-adds are split in two
# halves computed at once by this thread and the pool's worker (fastnet/_pool.h).
# Measured on 2 cores with scikit-learn's defaults (fit time, serial / split): iris
# (105 k per batch) 1.25x, wine 1.36x, breast_cancer 1.41x, digits 1.43x, diabetes
# 1.38x; with another process spinning on one core, digits 3.2x (one BLAS thread
# instead of two fighting it) and the small ones 0.73-0.81x, which the thread budget
# (_thread_budget) avoids for joblib's process workers.
_SPLIT_ABOVE = 100_000


def _thread_budget():
    """Threads this process may use for one fit: 1 when OMP_NUM_THREADS or
    OPENBLAS_NUM_THREADS say so (joblib's process backends set them to share the
    cores between their workers), else the cores this process may run on. Read from
    the environment only, never from the BLAS's current setting, which concurrent fits
    change: whether a fit splits its batches (and so its last bits) must not depend on
    what runs beside it."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) < 2:
            return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


class _StochasticSolver:
    """scikit-learn's SGDOptimizer / AdamOptimizer over fastnet's flat buffers: the
    current learning rate, the state buffers (velocity, or Adam's moments) and the
    update count (Adam's t). The arithmetic of a step is fastnet's compiled
    optimizer (fastnet.components.OPTIMIZERS), the schedule is scikit-learn's."""

    def __init__(self, est, params):
        self.name = est.solver
        self.learning_rate_init = est.learning_rate_init
        self.learning_rate = float(est.learning_rate_init)
        self.lr_schedule = est.learning_rate if self.name == "sgd" else "constant"
        self.power_t = est.power_t
        self.state = tuple(np.zeros_like(params) for _ in OPTIMIZERS[self.name].state)
        self.updates = 0
        self._config = None
        # fixed when the optimizer is made, as scikit-learn's optimizer objects fix them
        if self.name == "sgd":
            self._values = dict(momentum=float(est.momentum),
                                nesterov=bool(est.nesterovs_momentum))
        else:
            self._values = dict(beta_1=float(est.beta_1), beta_2=float(est.beta_2),
                                epsilon=float(est.epsilon))

    def adopt(self, params):
        """Keep the state buffers in the parameters' dtype (a model that went through
        L-BFGS is float64 now; scikit-learn's state arrays follow by NumPy's casts)."""
        if any(buf.shape != params.shape for buf in self.state):
            raise ValueError(f"the optimizer's state ({self.state[0].shape[0]} values) does "
                             f"not match the model's {params.shape[0]} parameters")
        self.state = tuple(buf.astype(params.dtype, copy=False) for buf in self.state)

    def config(self, dtype, alpha):
        """The compiled step's configuration at the current learning rate, with l2 the
        estimator's current alpha (scikit-learn reads it at every batch)."""
        key = (self.learning_rate, float(alpha), dtype)
        if self._config is None or self._config[0] != key:
            values = dict(self._values, learning_rate=self.learning_rate, l2=float(alpha))
            self._config = (key, configure(self.name, values, dtype))
        return self._config[1]

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share (scikit-learn's
    BaseMultilayerPerceptron, over a fastnet.MLP ``net_``)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        # fastnet's own
        "dtype": [None, StrOptions({"float32", "float64"}), type],
        "sampling": [StrOptions({"shuffle", "uniform"})],
    }

    # -- the fitted model ---------------------------------------------------------------
    # coefs_ and intercepts_ are plain lists of arrays, as in scikit-learn (users read,
    # replace and modify them in place); the compiled network (_net, a fastnet.MLP over
    # one flat buffer) is synchronised from them before it is used and written back
    # after training.
    @property
    def net_(self):
        """fastnet.MLP: the compiled network holding coefs_ and intercepts_ (for save,
        export_c, forward)."""
        check_is_fitted(self)
        return self._synced()

    def _synced(self):
        """The compiled network holding the current coefs_ / intercepts_, rebuilt when
        their shapes or dtype, activation or out_activation_ changed."""
        coefs, intercepts = self.coefs_, self.intercepts_
        shapes = [np.shape(c) for c in coefs]
        sizes = [shapes[0][0] if shapes and len(shapes[0]) == 2 else -1]
        sizes += [s[1] if len(s) == 2 else -1 for s in shapes]
        if (not coefs or len(intercepts) != len(coefs) or min(sizes) < 1
                or any(s[0] != n for s, n in zip(shapes, sizes))
                or any(np.shape(b) != (n,) for b, n in zip(intercepts, sizes[1:]))):
            raise ValueError(f"coefs_ (shapes {shapes}) and intercepts_ (shapes "
                             f"{[np.shape(b) for b in intercepts]}) do not chain into a "
                             f"network: coefs_[i] (fan_in, fan_out), intercepts_[i] "
                             f"(fan_out,), each fan_out the next fan_in")
        dtype = np.dtype(np.float32 if np.asarray(coefs[0]).dtype == np.float32
                         else np.float64)
        activation = _ACTIVATIONS[self.activation]
        head = _OUTPUTS[self.out_activation_][0]
        net = self.__dict__.get("_net")
        if (net is None or net.layer_sizes != sizes or net.dtype != dtype
                or net.output != head or set(net.activation) - {activation}):
            net = self._net = fastnet.MLP(sizes, activation=activation, output=head,
                                          dtype=dtype, seed=0)
        for W, b, coef, intercept in zip(net.weights, net.biases, coefs, intercepts):
            W[...] = np.asarray(coef).T
            b[...] = intercept
        return net

    def _write_back(self, net):
        """coefs_ / intercepts_ (in place, as scikit-learn's optimizers update them)
        from the network's buffer."""
        for W, b, coef, intercept in zip(net.weights, net.biases, self.coefs_,
                                         self.intercepts_):
            coef[...] = W.T
            intercept[...] = b

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_net", None)       # rebuilt from coefs_ / intercepts_ when needed
        return state

    # -- set-up ------------------------------------------------------------------------
    def _hidden(self):
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        if np.any(np.array(hidden) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
        return hidden

    def _model_dtype(self, X):
        if self.dtype is not None:
            return np.dtype(self.dtype)
        return np.dtype(X.dtype)

    def _initialize(self, y, layer_units, dtype):
        """scikit-learn's _initialize: attributes, and the initial weights drawn from
        self._random_state in its order (per layer: weights (fan_in, fan_out), then
        intercepts; Glorot-uniform bounds, factor 2 for logistic) in X's dtype."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        # scikit-learn's draws: per layer, weights then intercepts
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units, layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(coef.astype(dtype, copy=False))
            self.intercepts_.append(intercept.astype(dtype, copy=False))
        self._best_params = self._synced().parameters.copy()
        self.__dict__.pop("_optimizer", None)
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._hidden()
        first_pass = "coefs_" not in self.__dict__ or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1]] + hidden + [y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, self._model_dtype(X))
        if self.solver == "lbfgs":
            # scikit-learn's L-BFGS unpacks scipy's float64 vector into coefs_: from the
            # first evaluation on, it trains (and then predicts) in float64 whatever X
            self.coefs_ = [np.asarray(c, dtype=np.float64) for c in self.coefs_]
            self.intercepts_ = [np.asarray(b, dtype=np.float64) for b in self.intercepts_]
        net = self._synced()
        if net.layer_sizes != layer_units:
            raise ValueError(f"the model's coefs_ give layer sizes {net.layer_sizes}; this "
                             f"data and hidden_layer_sizes need {layer_units} (a warm start "
                             f"keeps the fitted network)")
        X = self._dense(X, net.dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=net.dtype)
        before = None if first_pass else net.parameters.copy()
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(net, X, y, sample_weight, incremental)
        else:
            self._fit_lbfgs(net, X, y, sample_weight)
        if not np.isfinite(net.parameters).all():
            if before is not None:      # a warm fit keeps the model it started from
                net.parameters[...] = before
                self._write_back(net)
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        self._write_back(net)
        return self

    @staticmethod
    def _dense(X, dtype):
        """X as the compiled kernels take it: dense, C-contiguous, of dtype."""
        if scipy.sparse.issparse(X):
            check_fits_in_memory(X.shape[0] * X.shape[1] * np.dtype(dtype).itemsize,
                                 f"sparse X {X.shape} made dense (fastnet's kernels take "
                                 f"dense rows)")
            X = X.toarray()
        return np.ascontiguousarray(X, dtype=dtype)

    def _truth(self, y, dtype):
        """Targets (n, k) as the model's head takes them (labels, indicators or
        targets of dtype)."""
        if self.out_activation_ == "softmax":
            return np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.intp)
        return np.ascontiguousarray(y, dtype=dtype)

    def _split(self, truth):
        return (truth, None) if truth.dtype == np.intp else (None, truth)

    @staticmethod
    def _batch_work(net, batch_size):
        """Multiply-adds of one batch's forward pass."""
        sizes = net.layer_sizes
        return batch_size * sum(a * b for a, b in zip(sizes, sizes[1:]))

    @classmethod
    def _halves(cls, net, batch_size):
        """(plan2, grads2) for _train.train_epoch_sklearn when batches are worth
        splitting between this thread and the pool's worker, else ()."""
        if (cls._batch_work(net, batch_size) < _SPLIT_ABOVE or not _train.pool_available()
                or _thread_budget() < 2):
            return ()
        return net._plan(batch_size - batch_size // 2), np.zeros_like(net._params)

    @classmethod
    def _threads(cls, net, batch_size, halves):
        # one BLAS thread for small products (a second one gains nothing there) and
        # for split batches (each half's products run in their own thread)
        if halves or cls._batch_work(net, batch_size) < _ONE_THREAD_BELOW:
            return limit_blas_threads(1)
        return contextlib.nullcontext()

    # -- stochastic solvers ---------------------------------------------------------
    def _fit_stochastic(self, net, X, y, sample_weight, incremental):
        if not incremental or "_optimizer" not in self.__dict__:
            self._optimizer = _StochasticSolver(self, net.parameters)
        self._optimizer.adopt(net.parameters)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # scikit-learn's split: stratified on the (binarized) targets when there is
            # one output column (binary classification), by the same random state
            should_stratify = is_classifier(self) and self.n_outputs_ == 1
            stratify = y if should_stratify else None
            parts = [X, y] + ([] if sample_weight is None else [sample_weight])
            split = train_test_split(*parts, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, y_train, y_val = split[:4]
            sample_weight_train, sample_weight_val = (split[4:] if sample_weight is not None
                                                      else (None, None))
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            X_train = np.ascontiguousarray(X_train)
            y_val = self._decode(y_val)
        else:
            X_train, y_train, sample_weight_train = X, y, sample_weight
            X_val = y_val = sample_weight_val = None
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        labels, targets = self._split(self._truth(y_train, net.dtype))
        plan = net._plan(batch_size)
        params, grads = net._params, net._grads
        opt = self._optimizer
        delta_factor, report = _OUTPUTS[self.out_activation_][1:]
        report = report(self.n_outputs_)
        sample_idx = np.arange(n_samples, dtype=np.intp)
        ordered = np.arange(n_samples)
        perm = np.empty_like(ordered)
        rs = self._random_state
        try:
            halves = self._halves(net, batch_size)
            with self._threads(net, batch_size, halves):
                self.n_iter_ = 0
                for it in range(self.max_iter):
                    if self.sampling == "uniform":
                        sample_idx = np.ascontiguousarray(rs.randint(0, n_samples, n_samples),
                                                          dtype=np.intp)
                    elif self.shuffle:
                        # scikit-learn's utils.shuffle(sample_idx, random_state=rs)
                        perm[...] = ordered
                        rs.shuffle(perm)
                        sample_idx = sample_idx[perm]
                    data, penalty, updates = _train.train_epoch_sklearn(
                        plan, opt.config(net.dtype, self.alpha), params, grads, opt.state, X_train,
                        labels, targets, sample_weight_train, sample_idx, batch_size,
                        opt.updates, delta_factor, *halves)
                    opt.updates += updates
                    self.n_iter_ += 1
                    self.loss_ = np.float64((report * data + penalty) / n_samples)
                    self.t_ += n_samples
                    self.loss_curve_.append(self.loss_)
                    if self.verbose:
                        print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                    self._update_no_improvement_count(net, early_stopping, X_val, y_val,
                                                      sample_weight_val)
                    opt.iteration_ends(self.t_)
                    if self._no_improvement_count > self.n_iter_no_change:
                        if early_stopping:
                            msg = ("Validation score did not improve more than "
                                   "tol=%f for %d consecutive epochs."
                                   % (self.tol, self.n_iter_no_change))
                        else:
                            msg = ("Training loss did not improve more than tol=%f"
                                   " for %d consecutive epochs."
                                   % (self.tol, self.n_iter_no_change))
                        if opt.trigger_stopping(msg, self.verbose):
                            break
                        self._no_improvement_count = 0
                    if incremental:
                        break
                    if self.n_iter_ == self.max_iter:
                        warnings.warn("Stochastic Optimizer: Maximum iterations (%d) "
                                      "reached and the optimization hasn't converged yet."
                                      % self.max_iter, ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            # restore the best weights. In scikit-learn coefs_ then IS _best_coefs, so
            # a later warm fit trains the best weights in place: None says "the best
            # are the current ones" until an improvement copies them again.
            if self._best_params is not None and self._best_params.shape == params.shape:
                params[...] = self._best_params
            self._best_params = None

    def _update_no_improvement_count(self, net, early_stopping, X, y, sample_weight):
        if early_stopping:
            val_score = self._score_with(net, X, y, sample_weight)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_params = net.parameters.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # -- L-BFGS ------------------------------------------------------------------------
    def _fit_lbfgs(self, net, X, y, sample_weight):
        """scipy's L-BFGS-B on scikit-learn's full-batch objective, evaluated by the
        compiled passes; the parameter vector is in scikit-learn's packing (each
        coefs_[i] raveled, then each intercepts_[i]) so that the optimizer sees the
        same coordinates."""
        params, grads = net._params, net._grads
        order = self._packing(net)
        n = X.shape[0]
        mass = float(n if sample_weight is None else sample_weight.sum())
        n_weights = net._n_weights
        delta_factor = _OUTPUTS[self.out_activation_][1]
        labels, targets = self._split(self._truth(y, net.dtype))
        plan = net._chunk_plan()
        alpha = self.alpha
        outputs = np.empty((n, self.n_outputs_), dtype=net.dtype)

        def loss_grad(packed):
            params[order] = packed
            grads[...] = 0
            _train.loss_and_gradients(plan, params, grads, X, labels, targets, sample_weight,
                                      outputs)
            W = params[:n_weights]
            # the value as scikit-learn computes it (L-BFGS's line search compares
            # values: near saturation its clipped log loss differs from the exact one)
            loss = _sklearn_loss(self.out_activation_, y, outputs, sample_weight)
            loss += 0.5 * alpha * float(np.dot(W, W)) / mass
            np.multiply(grads, delta_factor * n / mass, out=grads)
            grads[:n_weights] += (alpha / mass) * W
            return loss, grads[order].astype(np.float64)

        opt_res = scipy.optimize.minimize(
            loss_grad, params[order].astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        self.n_iter_ = _lbfgs_iterations(opt_res, self.max_iter)
        self.loss_ = opt_res.fun
        params[order] = opt_res.x

    @staticmethod
    def _packing(net):
        """Indices into net's flat buffer in scikit-learn's packed order."""
        sizes = net.layer_sizes
        parts = [net._w_off[l] + np.arange(sizes[l] * sizes[l + 1]).reshape(
                 sizes[l + 1], sizes[l]).T.ravel() for l in range(len(sizes) - 1)]
        parts.append(np.arange(net._n_weights, net.n_params))
        return np.concatenate(parts)

    # -- prediction --------------------------------------------------------------------
    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return self._outputs(self._synced(), X)

    def _outputs(self, net, X):
        """The network's outputs for X (sparse X densified a chunk of rows at a time)."""
        if np.ndim(X) != 2 or X.shape[1] != net.layer_sizes[0]:
            raise ValueError(f"X has shape {np.shape(X)}; the network takes "
                             f"{net.layer_sizes[0]} features")
        # the model's read lock, as fastnet.MLP's public methods take it: the forward
        # pass runs in the network's one workspace, without the GIL
        with net._guard.reading():
            if scipy.sparse.issparse(X):
                chunk = max(1, 2 ** 22 // max(1, X.shape[1]))
                out = np.concatenate([net._forward(self._dense(X[i:i + chunk], net.dtype))
                                      for i in range(0, X.shape[0], chunk)])
            else:
                out = net._forward(self._dense(X, net.dtype))
        # NumPy's promotion, as scikit-learn's X @ coefs_: float64 X on a float32 model
        # gives float64 outputs
        return out.astype(np.result_type(X.dtype, net.dtype), copy=False)

    def _score_with(self, net, X, y, sample_weight):
        """scikit-learn's early-stopping score (accuracy or R^2) of net on checked X."""
        y_pred = self._predict_outputs(self._outputs(net, X))
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic"
                                 " optimizers. %s is not stochastic." % self.solver)
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse input is densified for the compiled kernels).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def export_onnx(self, path=None, *, opset_version=17):
        """Write the fitted estimator as an ONNX model (needs the ``onnx`` package:
        ``pip install "fastnet[onnx]"``), with skl2onnx's outputs for scikit-learn's
        models: a classifier's ``"label"`` (as ``predict``: int64 for integer
        classes, strings otherwise; int64 indicators (N, k) when multilabel) and
        ``"probabilities"`` (``predict_proba``, (N, k)); a regressor's
        ``"variable"`` (``predict``, (N, n_outputs)). The input ``"X"`` (N,
        n_features) and the probabilities are in the model's dtype (float32 or
        float64), N symbolic. ``skl2onnx.to_onnx(estimator, X[:1])`` gives the same
        graph (fastnet registers a converter with skl2onnx), also inside pipelines.

        Parameters
        ----------
        path : str or path-like, optional
            Where to write the model; None writes nothing.
        opset_version : int, default 17
            The ONNX opset (13 up to the installed onnx's newest).

        Returns
        -------
        onnx.ModelProto
        """
        check_is_fitted(self)
        from fastnet import _onnx
        return _onnx.export_estimator(self, path, opset_version)


def _sklearn_loss(out_activation, y, prob, sample_weight):
    """scikit-learn's loss of outputs `prob` against its 2-D targets y (binarized for
    classifiers), in its arithmetic: log losses of probabilities clipped to
    [eps, 1 - eps], the mean of half squared errors over rows and outputs."""
    if out_activation == "identity":
        return 0.5 * np.average((y - prob) ** 2, weights=sample_weight, axis=0).mean()
    if out_activation == "exp":
        return np.average(xlogy(y, y / prob) - y + prob, weights=sample_weight, axis=0).sum()
    eps = np.finfo(prob.dtype).eps
    prob = np.clip(prob, eps, 1 - eps)
    if out_activation == "softmax":
        terms = xlogy(y, prob)
    else:
        terms = xlogy(y, prob) + xlogy(1 - y, 1 - prob)
    return -np.average(terms, weights=sample_weight, axis=0).sum()


def _lbfgs_iterations(result, max_iter):
    """scikit-learn's reading of scipy's result: the iteration count, and a
    ConvergenceWarning when L-BFGS stopped for another reason than convergence."""
    try:
        from sklearn.utils.optimize import _check_optimize_result
    except ImportError:  # pragma: no cover - a scikit-learn without it
        return min(result.nit, max_iter)
    return _check_optimize_result("lbfgs", result, max_iter)


_SHARED_PARAMS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element represents the number of neurons in the ith hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function for the hidden layers.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
    alpha : float, default=0.0001
        Strength of the L2 regularization term, divided by the sample size (the
        batch's summed sample weight) when added to the loss.
    batch_size : int or 'auto', default='auto'
        'auto' is min(200, n_samples); ignored by lbfgs.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of sgd: invscaling sets learning_rate_init / (t + 1) ** power_t
        after each epoch (t samples seen); adaptive divides by 5 when the loss (or
        validation score) stalls.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs (sgd, adam) or iterations (lbfgs) at most.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Initial weights, the early-stopping split and the per-epoch shuffle, drawn
        as scikit-learn draws them.
    tol : float, default=1e-4
    verbose : bool, default=False
        Prints "Iteration N, loss = ..." after each epoch, as scikit-learn.
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        lbfgs's maximum number of loss evaluations.
    dtype : {None, 'float32', 'float64'}, default=None
        fastnet's: the model's float type; None follows X (float32 stays float32).
    sampling : {'shuffle', 'uniform'}, default='shuffle'
        fastnet's: 'uniform' draws each epoch's rows with replacement (the lecture's
        sampling) instead of scikit-learn's permutation (shuffle=True) or order
        (shuffle=False).
"""

_SHARED_ATTRS_DOC = """
    loss_ : float
    best_loss_ : float or None
    loss_curve_ : list of float
    validation_scores_, best_validation_score_ : list, float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray of shape (fan_in, fan_out)
    intercepts_ : list of ndarray of shape (fan_out,)
        Plain arrays as in scikit-learn: replace or modify them and the next
        predict or fit uses them.
    n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_
    out_activation_ : str
    net_ : fastnet.MLP
        The compiled network holding ``coefs_`` and ``intercepts_`` (save, export_c,
        forward).
"""

# The section both estimators' docstrings end with: what differs from scikit-learn's
# estimator of the same name (the README's scikit-learn section, item by item).
_DIFFERENCES_DOC = """
    Notes
    -----
    **Differences from scikit-learn.** Everything not listed here is scikit-learn's:
    constructor, defaults, parameter validation (``InvalidParameterError``), fitted
    attributes, methods, messages and warnings. With the same ``random_state``, in
    float64, fitting draws the same initial weights, uses the random state the same
    way, forms the same batches and follows the same trajectory.

    - Rounding: the arithmetic runs in compiled code over one flat parameter buffer,
      so values agree with scikit-learn's to rounding, not bitwise (the test suite
      finds ``coefs_``, ``intercepts_`` and ``loss_curve_`` equal to 1e-9 relative
      for sgd and adam; for lbfgs, ``loss_`` to 1e-6 and the same predictions). On a
      machine with two or more cores, batches of 100,000 multiply-adds or more are
      split in two halves computed at once, unless ``OMP_NUM_THREADS`` or
      ``OPENBLAS_NUM_THREADS`` allow one thread; split and unsplit fits differ in the
      last bits.
    - Extra parameters, whose defaults keep scikit-learn's behaviour: ``dtype``
      (None follows X, as scikit-learn does), ``sampling`` ("uniform": each epoch
      draws its rows with replacement)%s.
    - An extra attribute, ``net_``: the underlying :class:`fastnet.MLP`, for
      ``save`` and ``export_c``.
    - Sparse X is densified for the compiled kernels (a ``MemoryError`` first when
      the dense copy cannot fit in memory; predict densifies a chunk of rows at a
      time), where scikit-learn multiplies sparse matrices directly: for very wide
      sparse data scikit-learn's estimators need far less memory.
    - A fit that ends with non-finite weights raises scikit-learn's ``ValueError``
      ("Solver produced non-finite parameter weights"); a warm or partial fit then
      leaves the model with the weights it started from, not the non-finite ones.
    - A warm start or partial_fit after ``hidden_layer_sizes`` changed raises
      ``ValueError`` naming the fitted layer sizes and the ones needed, before any
      training.%s
    - fit releases the GIL: several fits run at once in threads.
"""

class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron classifier: scikit-learn's MLPClassifier, trained
    by fastnet's compiled kernels.

    The output layer is a softmax over the classes (multiclass), or one logistic unit
    per column (binary: one unit; multilabel indicator targets).

    Parameters
    ----------""" + _SHARED_PARAMS_DOC + """
    Attributes
    ----------
    classes_ : ndarray or list of ndarray""" + _SHARED_ATTRS_DOC
               + _DIFFERENCES_DOC % ("", ""))

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, sampling="shuffle"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.sampling = sampling

    loss = "log_loss"     # scikit-learn's (a fixed attribute of its classifier)

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # scikit-learn's rules: a fresh fit (re)defines classes_; warm_start needs the
        # same classes; partial_fit only known ones.
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. "
                                 f"`self.classes_` has {self.classes_}. 'y' has {classes}.")
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def _decode(self, y):
        return self._label_binarizer.inverse_transform(y)

    _score_function = staticmethod(accuracy_score)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray, shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._predict_outputs(self._forward_pass_fast(X, check_input=check_input))

    def _predict_outputs(self, y_pred):
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with(self._synced(), X, y, sample_weight)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first call.

        Returns
        -------
        self : object
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Log of predict_proba.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Columns in the order of classes_.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron regressor: scikit-learn's MLPRegressor (half
    squared error or half Poisson deviance), trained by fastnet's compiled kernels.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Half squared error with an identity output, or half Poisson deviance with an
        exp output (log link; y >= 0).""" + _SHARED_PARAMS_DOC
               + """    standardize_y : bool, default=False
        fastnet's: train on targets standardised per output (mean and standard
        deviation of the first fit's y) and predict in the original units;
        ``loss_curve_`` is then in standardised units.

    Attributes
    ----------""" + _SHARED_ATTRS_DOC
               + _DIFFERENCES_DOC % (
                   ", ``standardize_y`` (train on standardised targets)", """
    - ``loss='poisson'`` with negative y raises ``ValueError``; scikit-learn
      documents y >= 0 and trains on, its ``loss_curve_`` all NaN."""))

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
        "standardize_y": ["boolean"],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, sampling="shuffle", standardize_y=False):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.sampling = sampling
        self.standardize_y = standardize_y

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            # scikit-learn documents y >= 0 and trains on, its loss_curve_ all NaN
            raise ValueError("loss='poisson' requires y >= 0 (counts or rates); y has "
                             "negative values")
        if self.standardize_y:
            y2 = y.reshape(len(y), -1)
            if reset or "_y_mean" not in self.__dict__:
                std = y2.std(axis=0)
                self._y_mean, self._y_scale = y2.mean(axis=0), np.where(std > 0, std, 1.0)
            y = ((y2 - self._y_mean) / self._y_scale).reshape(y.shape)
        else:
            self.__dict__.pop("_y_mean", None)
            self.__dict__.pop("_y_scale", None)
        return X, y

    def _decode(self, y):
        if "_y_mean" in self.__dict__:
            y = y * self._y_scale + self._y_mean
        return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y

    _score_function = staticmethod(r2_score)

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._predict_outputs(self._forward_pass_fast(X, check_input=check_input))

    def _predict_outputs(self, y_pred):
        if "_y_mean" in self.__dict__:
            y_pred = y_pred * self._y_scale + self._y_mean
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with(self._synced(), X, y, sample_weight)

    @available_if(lambda est: est._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)


# skl2onnx converters for both estimators, registered when skl2onnx is (or gets)
# imported: see fastnet/_skl2onnx.py (importing skl2onnx here would cost seconds).
from fastnet import _skl2onnx  # noqa: E402
_skl2onnx.register_when_imported()
