"""scikit-learn estimators over fastnet's compiled networks (scikit-learn is an
optional dependency: ``pip install scikit-learn``).

``MLPClassifier`` and ``MLPRegressor`` follow scikit-learn's conventions:
get_params/set_params, fit/predict/score, partial_fit, classes_ of any label type,
n_features_in_, warm_start, early_stopping (restoring the best weights), random_state
and loss_curve_. They work inside Pipeline, cross_val_score and GridSearchCV; sample_weight in fit and partial_fit.
"""
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("fastnet.sklearn needs scikit-learn: pip install scikit-learn") from exc

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

import fastnet
from fastnet.components import HEADS


class _FastnetMLP(BaseEstimator):
    """Shared machinery of MLPClassifier and MLPRegressor."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, learning_rate=0.001,
                 lr_decay=0.0, momentum=0.9, alpha=0.0, batch_size=32, max_iter=200,
                 sampling="shuffle", tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, warm_start=False, random_state=None,
                 dtype="float64", verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.sampling = sampling
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # -- hooks for the two estimators -------------------------------------------
    _output = None

    def _encode(self, y, first, classes=None):   # targets -> what fastnet.MLP.fit takes
        raise NotImplementedError

    def _n_outputs(self):
        raise NotImplementedError

    # -- training -----------------------------------------------------------------
    def _hidden(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0
               for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        return sizes

    def _new_network(self, n_features):
        seed = check_random_state(self.random_state).randint(2 ** 31 - 1)
        self.net_ = fastnet.MLP([n_features] + self._hidden() + [self._n_outputs()],
                                activation=self.activation, output=self._output,
                                dtype=self.dtype, seed=int(seed))

    def _fit_args(self, n):
        return dict(batch_size=min(self.batch_size, n), learning_rate=self.learning_rate,
                    lr_decay=self.lr_decay, momentum=self.momentum, l2=self.alpha,
                    sampling=self.sampling)

    def _check_params(self):
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral) \
                or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction!r}")

    def _fit(self, X, y, incremental, sample_weight=None, classes=None):
        self._check_params()
        first = not (incremental or self.warm_start) or not hasattr(self, "net_")
        classifier = HEADS[self._output].classifier
        X, y = _validate_data(self, X, y, reset=first, multi_output=not classifier,
                              y_numeric=not classifier, dtype=[np.float64, np.float32])
        target = self._encode(y, first, classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if first:
            self._new_network(X.shape[1])
            self.loss_curve_, self.n_iter_, self.best_loss_ = [], 0, np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
        if incremental:
            history = self.net_.fit(X, target, epochs=1, verbose=self.verbose,
                                    sample_weight=sample_weight, **self._fit_args(len(X)))
            self.loss_curve_.append(history["loss"][0])
            self.n_iter_ += 1
            return self
        validation = None
        if self.early_stopping:
            stratify = target if classifier else None
            seed = check_random_state(self.random_state).randint(2 ** 31 - 1)
            parts = [X, target] + ([] if sample_weight is None else [sample_weight])
            try:
                split = train_test_split(*parts, test_size=self.validation_fraction,
                                         stratify=stratify, random_state=seed)
            except ValueError:   # too few samples of a class to stratify
                split = train_test_split(*parts, test_size=self.validation_fraction,
                                         random_state=seed)
            X, Xv, target, yv = split[:4]
            sample_weight = None if sample_weight is None else split[4]
            validation = (Xv, yv)
        best_state, stall = None, 0
        for _ in range(self.max_iter):
            history = self.net_.fit(X, target, epochs=1, verbose=self.verbose,
                                    sample_weight=sample_weight, **self._fit_args(len(X)))
            loss = history["loss"][0]
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            if validation is not None:
                score = self.net_.score(*validation)
                self.validation_scores_.append(score)
                improved = score > self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_state = self.net_.state_dict()
            else:
                improved = loss < self.best_loss_ - self.tol
            self.best_loss_ = min(self.best_loss_, loss)
            stall = 0 if improved else stall + 1
            if stall >= self.n_iter_no_change:
                break
        else:
            warnings.warn(f"fastnet: max_iter={self.max_iter} reached before the "
                          f"{'validation score' if validation else 'loss'} stopped "
                          f"improving", ConvergenceWarning)
        if best_state is not None:          # early stopping: keep the best epoch's weights
            self.net_.load_state_dict(best_state)
        return self

    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or from the current weights with warm_start).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Each sample's loss is multiplied by its weight.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _predict_raw(self, X):
        check_is_fitted(self, "net_")
        X = _validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.net_.forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class MLPClassifier(ClassifierMixin, _FastnetMLP):
    """Multilayer perceptron classifier trained by fastnet's compiled SGD.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
    activation : {"relu", "tanh", "sigmoid", "identity"} or list, default "relu"
    learning_rate, lr_decay, momentum : float
        SGD step eta_t = learning_rate / (1 + lr_decay t), with momentum.
    alpha : float, default 0.0
        l2 penalty (alpha/2 ||W||^2 over the weights).
    batch_size : int, default 32
    max_iter : int, default 200
        Epochs at most.
    sampling : {"shuffle", "uniform"}
    tol, n_iter_no_change : float, int
        Stop when the training loss (or, with early_stopping, the validation accuracy)
        has not improved by tol for n_iter_no_change epochs.
    early_stopping : bool, default False
        Hold out validation_fraction of the data (stratified) and keep the weights of the
        epoch with the best validation accuracy.
    validation_fraction : float, default 0.1
    warm_start : bool, default False
    random_state : int, RandomState or None
    dtype : {"float64", "float32"}
    verbose : bool

    Attributes
    ----------
    classes_, n_features_in_, net_ (the fastnet.MLP), loss_curve_, n_iter_,
    best_loss_, validation_scores_, best_validation_score_
    """

    _output = "softmax"

    def _n_outputs(self):
        return max(len(self.classes_), 2)

    def _encode(self, y, first, classes=None):
        check_classification_targets(y)
        if first:   # partial_fit names all classes up front; fit takes them from y
            self.classes_ = np.unique(y if classes is None else classes)
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes; got one "
                             f"class: {self.classes_[0]!r}")
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[codes], y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y holds labels not in classes_: {unknown[:5]!r}")
        return codes

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y); the first call must name all classes.

        Returns
        -------
        self
        """
        if not hasattr(self, "net_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {classes!r} differ from the first call's {self.classes_!r}")
        return self._fit(X, y, incremental=True, sample_weight=sample_weight, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of classes_."""
        return self._predict_raw(X)

    def predict(self, X):
        """Predicted labels (from classes_)."""
        proba = self._predict_raw(X)          # raises NotFittedError first when unfitted
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _FastnetMLP):
    """Multilayer perceptron regressor (linear output, squared error) trained by
    fastnet's compiled SGD. Parameters and attributes as MLPClassifier's, without
    classes_; early stopping watches the validation R^2.

    The targets are standardised for training (per output, mean 0 and standard
    deviation 1, from the first fit): plain SGD on raw targets of size 100 diverges
    at any usable step size. Predictions come back in the original units, and
    loss_curve_ is in standardised units.
    """

    _output = "linear"

    def _n_outputs(self):
        return self.n_outputs_

    def _encode(self, y, first, classes=None):
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
            y2 = y.reshape(len(y), -1)
            self._y_mean = y2.mean(axis=0)
            std = y2.std(axis=0)
            self._y_scale = np.where(std > 0, std, 1.0)
        return (y.reshape(len(y), -1) - self._y_mean) / self._y_scale

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets, shape (n,) when fitted on 1-D y."""
        out = self._predict_raw(X) * self._y_scale + self._y_mean
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


