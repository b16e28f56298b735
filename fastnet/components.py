"""fastnet's components, each defined once: hidden activations, output heads and
optimizers.

Every path iterates these registries: the network API (fastnet/_base.py), the
compiled network and the NumPy reference, the C exporter, the scikit-learn wrapper
and the tests. A component's math lives in one place per language: C in
``fastnet/_components.h`` (shared by the Cython kernels, the per-sample C loop and
the exported C) and NumPy in ``fastnet/reference/kernels.py`` (the readable twin).
The ``code`` of an entry is its value in the C header's enum; a test checks that
the header names every code as the registry does.

Adding an activation: its C forward/derivative (one ``case`` each in
``_components_impl.h``, and its name in ``fnet_activation_name``), its NumPy twin
(``<name>_forward`` and ``<name>_backward`` in reference/kernels.py) and one entry
below. The tests pick it up from the registry.

Adding a head: its enum value and name in ``_components.h``, one ``case`` each in
``head_output_row``, ``head_loss_row`` and ``head_delta_row`` (``_components_impl.h``),
its NumPy twin (``<output_kernel>_forward``, ``<loss_kernel>_forward`` / ``_backward``)
and one ``HEADS`` entry; a new kind of truth also needs its ``TRUTHS`` entry (a check
in _validation.py) and a way to draw it in tests/conftest.py's ``make_truth``.

This module needs NumPy only (no compiled code), like fastnet.reference.
"""
from dataclasses import dataclass, field, fields
from typing import Callable, Dict, FrozenSet, Tuple

import numpy as np

from fastnet import _validation as check


class Registry(dict):
    """Name -> entry, in code order; ``lookup`` raises a ValueError that lists the
    registered names."""

    def __init__(self, kind, entries):
        super().__init__((e.name, e) for e in sorted(entries, key=lambda e: e.code))
        self.kind = kind
        if [e.code for e in self.values()] != list(range(len(self))):
            raise AssertionError(f"{kind} codes must be 0..{len(self) - 1}")

    @property
    def names(self) -> Tuple[str, ...]:
        """The registered names, in code order."""
        return tuple(self)

    def lookup(self, value, what=None):
        """The entry named `value`; ValueError naming the choices otherwise."""
        return self[check.check_choice(what or self.kind, value, self.names)]


# ---------------------------------------------------------------------------------
# Weight initialisation rules (drawn in float64; biases start at zero)
# ---------------------------------------------------------------------------------

def glorot_uniform(rng, fan_in, fan_out):
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)); shape (fan_out, fan_in)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_out, fan_in))


def he_normal(rng, fan_in, fan_out):
    """N(0, 2 / fan_in); shape (fan_out, fan_in). For ReLU layers, whose outputs have
    half the variance of their inputs otherwise."""
    return rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)


INIT_RULES: Dict[str, Callable] = {"glorot_uniform": glorot_uniform, "he_normal": he_normal}


# ---------------------------------------------------------------------------------
# Hidden activations
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """A hidden activation h = g(z), applied elementwise.

    Attributes
    ----------
    name : str
        Public name (scikit-learn's where it has one).
    code : int
        Its value in the C enum ``fnet_activation`` (_components.h).
    init : str
        Initialisation rule of the weights of a layer it follows (INIT_RULES).
    layer : str
        Class name of its layer in fastnet.layers and fastnet.reference.layers; also
        torch.nn's name for it, which the PyTorch comparisons (tests, bench) use.
    formula : str
        g and g' (written from the output h), for documentation.

    The NumPy twin is ``<name>_forward`` / ``<name>_backward`` in
    fastnet.reference.kernels.
    """
    name: str
    code: int
    init: str
    layer: str
    formula: str

    def init_weights(self, rng, fan_in, fan_out):
        """Initial weights (fan_out, fan_in) of a layer followed by this activation."""
        return INIT_RULES[self.init](rng, fan_in, fan_out)


ACTIVATIONS = Registry("activation", [
    Activation("sigmoid", 0, "glorot_uniform", "Sigmoid",
               "h = 1 / (1 + exp(-z)); g' = h (1 - h)"),
    Activation("tanh", 1, "glorot_uniform", "Tanh", "h = tanh(z); g' = 1 - h^2"),
    Activation("relu", 2, "he_normal", "ReLU", "h = max(0, z); g' = 1 where h > 0, else 0"),
    Activation("identity", 3, "glorot_uniform", "Identity", "h = z; g' = 1"),
])

# The output layer's weights take the Glorot rule whatever the head.
OUTPUT_LAYER_INIT = "glorot_uniform"


# ---------------------------------------------------------------------------------
# Output heads: output transform + loss
# ---------------------------------------------------------------------------------

def accuracy(predicted, truth):
    """Fraction of rows predicted exactly: the label, or every indicator of the row
    (scikit-learn's accuracy_score, subset accuracy for multilabel rows)."""
    n = predicted.shape[0]
    return float(np.mean(np.all(predicted.reshape(n, -1) == truth.reshape(n, -1), axis=1)))


def r2(predicted, targets):
    """Coefficient of determination averaged over outputs (scikit-learn's r2_score)."""
    t = targets.astype(np.float64)
    out = predicted.reshape(t.shape)
    ss_res = ((t - out) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_output = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                              np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(per_output))


METRICS = {"accuracy": accuracy, "r2": r2}


def _squeeze(a):
    """(n, 1) -> (n,), as predict returns for one output."""
    return a[:, 0] if a.shape[1] == 1 else a


@dataclass(frozen=True)
class Truth:
    """A kind of truth a head's loss compares with.

    Attributes
    ----------
    check : callable
        (y, n, k, dtype, name) -> the checked truth (ValueError saying what was
        expected otherwise).
    predict : callable
        Outputs (n, k) -> what predict returns.
    proba : bool
        Whether the head's outputs are probabilities (predict_proba is defined).
    """
    check: Callable
    predict: Callable
    proba: bool


# What a head's loss compares with, each kind with its check and its prediction rule:
#   "labels":     class indices (n,) (or one-hot rows); predict the most probable class
#   "indicators": 0/1 (or soft) values in [0, 1], (n, k); predict p > 0.5 per unit
#   "targets":    real values (n, k); predict the outputs
#   "counts":     non-negative real values (n, k) (counts, rates); predict the outputs
TRUTHS = {
    "labels": Truth(lambda y, n, k, dtype, name: check.check_labels(y, n, k, name),
                    lambda out: np.argmax(out, axis=1), proba=True),
    "indicators": Truth(check.check_indicators,
                        lambda out: _squeeze((out > 0.5).astype(np.intp)), proba=True),
    "targets": Truth(check.check_targets, _squeeze, proba=False),
    "counts": Truth(check.check_counts, _squeeze, proba=False),
}


@dataclass(frozen=True)
class Head:
    """An output head: the transform of the last layer's pre-activations and the loss.

    Attributes
    ----------
    name, code : str, int
        Public name; value in the C enum ``fnet_output``.
    min_outputs : int
        Fewest output units it makes sense with.
    truth : {"labels", "indicators", "targets", "counts"}
        What its loss compares with (TRUTHS): class indices (n,), indicators in
        [0, 1] (n, k), values (n, k), or non-negative values (n, k). Decides how y is
        checked, what predict returns and whether predict_proba is defined.
    metric : str
        What ``score`` reports ("accuracy", "r2"); fit's validation key is
        ``"val_" + metric``.
    loss_kernel : str
        Its NumPy loss pair ``<loss_kernel>_forward`` / ``_backward``.
    output_kernel : str or None
        Its NumPy ``<output_kernel>_forward`` turning pre-activations into outputs
        (None: the outputs are the pre-activations).
    layer : str
        Class name of its loss layer in fastnet.layers / fastnet.reference.layers.
    formula : str
        Outputs, loss and its gradient, for documentation.

    The compiled kernels reach every head through ``head_output``,
    ``head_loss_forward`` and ``head_loss_backward`` (its math in _components.h); the
    NumPy twins are reference.kernels' ``<output_kernel>_forward`` and
    ``<loss_kernel>_forward`` / ``_backward``, behind the same three names.
    """
    name: str
    code: int
    min_outputs: int
    truth: str
    metric: str
    loss_kernel: str
    output_kernel: object
    layer: str
    formula: str

    # Whether its outputs are probabilities (predict_proba is defined), as its truth
    # kind says. Stored, not a property: predict_proba of one row takes ~1.5 us.
    classifier: bool = field(init=False)

    def __post_init__(self):
        if self.truth not in TRUTHS:
            raise AssertionError(f"head {self.name!r}: unknown truth {self.truth!r}; "
                                 f"expected one of {', '.join(TRUTHS)}")
        object.__setattr__(self, "classifier", TRUTHS[self.truth].proba)

    def check_outputs(self, k):
        """ValueError when a network with k output units is too small for this head
        (softmax needs two classes)."""
        if k < self.min_outputs:
            unit = "classes" if self.truth == "labels" else "outputs"
            raise ValueError(f"output={self.name!r} needs at least {self.min_outputs} "
                             f"{unit}, got layer_sizes[-1] = {k}; for a single output use "
                             f"output='logistic' (binary) or 'linear' (regression)")

    def convert(self, y, n, k, dtype, name="y"):
        """Checked truth of n samples: intp labels (n,), or indicators, targets or
        counts (n, k) of dtype."""
        return TRUTHS[self.truth].check(y, n, k, dtype, name)

    def predict(self, out):
        """What predict returns for outputs (n, k): class indices (n,), indicators
        (n, k), or the outputs; (n,) when k == 1."""
        return TRUTHS[self.truth].predict(out)

    def score(self, out, truth):
        """The head's metric of outputs (n, k) against converted truth."""
        expected = truth if self.truth != "indicators" else (truth > 0.5).astype(np.intp)
        return METRICS[self.metric](self.predict(out) if self.classifier else out, expected)


HEADS = Registry("output", [
    Head("softmax", 0, min_outputs=2, truth="labels", metric="accuracy",
         loss_kernel="softmax_xent", output_kernel="softmax", layer="SoftmaxCrossEntropy",
         formula="p = softmax(z) per row; L = mean_i -log p[i, y_i]; "
                 "dL/dz = (p - onehot(y)) / n"),
    Head("linear", 1, min_outputs=1, truth="targets", metric="r2",
         loss_kernel="squared_error", output_kernel=None, layer="SquaredError",
         formula="outputs z; L = mean_i sum_j (z_ij - y_ij)^2 (no 1/2); "
                 "dL/dz = 2 (z - y) / n"),
    Head("logistic", 2, min_outputs=1, truth="indicators", metric="accuracy",
         loss_kernel="logistic_xent", output_kernel="logistic",
         layer="LogisticCrossEntropy",
         formula="p = sigmoid(z) per unit; L = mean_i sum_j -(y log p + (1 - y) "
                 "log(1 - p)), from the logits; dL/dz = (p - y) / n"),
    Head("poisson", 3, min_outputs=1, truth="counts", metric="r2",
         loss_kernel="poisson_deviance", output_kernel="exp", layer="PoissonDeviance",
         formula="p = exp(z) per unit (log link); L = mean_i sum_j (y log(y / p) - y + p) "
                 "(half the Poisson deviance, 0 log 0 = 0), from the logits; "
                 "dL/dz = (p - y) / n"),
])


# ---------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------

def _check_hyperparameters(cfg):
    """Check and store (as floats) the real fields of a frozen config, by its RULES:
    name -> (low, high, low_open, high_open)."""
    for name, (low, high, low_open, high_open) in cfg.RULES.items():
        object.__setattr__(cfg, name, check.check_real(
            name, getattr(cfg, name), low, high, low_open=low_open, high_open=high_open))


def check_in_dtype(cfg, dtype):
    """ValueError when a hyper-parameter leaves its range once rounded to the model's
    dtype, where the compiled code and the NumPy twin use it (float32: epsilon=1e-50
    becomes 0, beta_1 = 1 - 1e-9 becomes 1)."""
    if dtype == np.float64:                # the values are already finite doubles
        return
    kind, largest = np.dtype(dtype).type, float(np.finfo(dtype).max)
    for name, (low, high, low_open, high_open) in cfg.RULES.items():
        value = getattr(cfg, name)
        rounded = float(kind(value)) if abs(value) <= largest else np.inf
        bad = (rounded == np.inf or (low_open and rounded <= low)
               or (high_open and rounded >= high))
        if bad:
            raise ValueError(f"{name} = {value!r} is {rounded!r} in {np.dtype(dtype).name}, "
                             f"outside its range; choose a value the model's dtype can hold")


_SCHEDULE_RULES = dict(learning_rate=(0, np.inf, True, False), lr_decay=(0, np.inf, False, False),
                       l2=(0, np.inf, False, False))


@dataclass(frozen=True)
class SGDConfig:
    """Stochastic gradient descent with momentum and l2: with g the gradient plus
    ``l2 * W`` (weights only) and ``eta_t = learning_rate / (1 + lr_decay * t)``,
    ``v <- momentum v - eta_t g; theta <- theta + v`` (``theta -= eta_t g`` when
    momentum is 0); with ``nesterov``, ``theta <- theta + momentum v - eta_t g``
    (scikit-learn's Nesterov momentum). Carried to C as the struct ``fnet_optim``."""
    learning_rate: float = 0.01
    lr_decay: float = 0.0
    l2: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    name = "sgd"
    RULES = dict(_SCHEDULE_RULES, momentum=(0, 1, False, False))

    def __post_init__(self):
        _check_hyperparameters(self)
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {self.nesterov!r}")
        object.__setattr__(self, "nesterov", bool(self.nesterov))


@dataclass(frozen=True)
class AdamConfig:
    """Adam (Kingma and Ba), as scikit-learn computes it: with g the gradient plus
    ``l2 * W`` (weights only), ``m <- beta_1 m + (1 - beta_1) g``,
    ``v <- beta_2 v + (1 - beta_2) g^2``,
    ``theta <- theta - eta_t sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon)``
    for update number t (from 1), ``eta_t = learning_rate / (1 + lr_decay (t - 1))``.
    Carried to C as the struct ``fnet_optim``."""
    learning_rate: float = 0.001
    lr_decay: float = 0.0
    l2: float = 0.0
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    name = "adam"
    RULES = dict(_SCHEDULE_RULES, beta_1=(0, 1, False, True), beta_2=(0, 1, False, True),
                 epsilon=(0, np.inf, True, False))

    def __post_init__(self):
        _check_hyperparameters(self)


@dataclass(frozen=True)
class Optimizer:
    """An update rule over the flat parameter buffer.

    Attributes
    ----------
    name, code : str, int
        Public name; value in the C enum ``fnet_optimizer``.
    config : type
        Its configuration (a frozen dataclass with checked hyper-parameters, carried
        to C as one ``fnet_optim`` struct).
    state : tuple of str
        Names of its parameter-shaped state buffers: pickled, saved, snapshotted at
        each epoch start and restored on divergence, in this order.
    fast_paths : callable
        config -> the compiled fast paths it can take with that configuration:
        "persample" (the per-sample C loop), "folded" (the minibatch step
        folded into the backward GEMMs).
    update_args : tuple of str
        What its NumPy twin ``<name>_update(params, grads, *state, n_weights, eta,
        *update_args)`` in fastnet.reference.kernels takes after the step size:
        configuration fields, or "step" (the update's 1-based number).
    nonnegative : tuple of str
        State buffers that can hold no negative value (Adam's second moment): loaded
        state is checked for it.
    """
    name: str
    code: int
    config: type
    state: Tuple[str, ...]
    fast_paths: Callable[[object], FrozenSet[str]]
    update_args: Tuple[str, ...]
    nonnegative: Tuple[str, ...] = ()

    # The configuration's field names (stored once: fit reads them on every call).
    hyperparameters: Tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "hyperparameters", tuple(f.name for f in fields(self.config)))

    def configure(self, values, defaults):
        """Its configuration from keyword values (fit's): its own hyper-parameters
        are taken; any other one set away from its default is a ValueError."""
        own = self.hyperparameters
        foreign = sorted(k for k, v in values.items() if k not in own and v != defaults[k])
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not an option of optimizer="
                             f"{self.name!r} (its options: {', '.join(own)})")
        return self.config(**{k: values[k] for k in own if k in values})


def _sgd_fast_paths(cfg):
    plain = cfg.momentum == 0 and cfg.l2 == 0
    return frozenset({"persample", "folded"} if plain else {"persample"})


OPTIMIZERS = Registry("optimizer", [
    Optimizer("sgd", 0, SGDConfig, state=("velocity",), fast_paths=_sgd_fast_paths,
              update_args=("momentum", "l2", "nesterov")),
    # Adam runs the general path (kernels, gradient buffer, one update pass) at every
    # batch size: it has no fused per-sample loop or folded step.
    Optimizer("adam", 1, AdamConfig, state=("m", "v"), fast_paths=lambda cfg: frozenset(),
              update_args=("step", "beta_1", "beta_2", "epsilon", "l2"), nonnegative=("v",)),
])

FAST_PATHS = ("persample", "folded")
