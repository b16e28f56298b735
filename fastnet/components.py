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

This module needs NumPy only (no compiled code), like fastnet.reference.
"""
from dataclasses import dataclass, fields
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

@dataclass(frozen=True)
class Head:
    """An output head: the transform of the last layer's pre-activations and the loss.

    Attributes
    ----------
    name, code : str, int
        Public name; value in the C enum ``fnet_output``.
    min_outputs : int
        Fewest output units it makes sense with.
    truth : {"labels", "targets"}
        What its loss compares with: class indices (n,) or values (n, k).
    metric : str
        What ``score`` reports ("accuracy", "r2"); fit's validation key is
        ``"val_" + metric``.
    loss_kernel : str
        Kernel pair ``<loss_kernel>_forward`` / ``_backward`` (both kernel modules).
    output_kernel : str or None
        Kernel ``<output_kernel>_forward`` turning pre-activations into outputs at
        inference (None: the outputs are the pre-activations).
    layer : str
        Class name of its loss layer in fastnet.layers / fastnet.reference.layers.
    classifier : bool
        Whether its outputs are class probabilities (predict gives class indices).
    """
    name: str
    code: int
    min_outputs: int
    truth: str
    metric: str
    loss_kernel: str
    output_kernel: object
    layer: str
    classifier: bool

    def check_outputs(self, k):
        if k < self.min_outputs:
            unit, hint = ("classes", "; use output='linear' for a single output") \
                if self.classifier else ("outputs", "")
            raise ValueError(f"output={self.name!r} needs at least {self.min_outputs} "
                             f"{unit}, got layer_sizes[-1] = {k}{hint}")

    def convert(self, y, n, k, dtype, name="y"):
        """Checked truth of n samples: intp labels (n,) or targets (n, k) of dtype."""
        if self.truth == "labels":
            return check.check_labels(y, n, k, name)
        return check.check_targets(y, n, k, dtype, name)

    def predict(self, out):
        """What predict returns for outputs (n, k)."""
        if self.classifier:
            return np.argmax(out, axis=1)
        return out[:, 0] if out.shape[1] == 1 else out

    def score(self, out, truth):
        """The head's metric of outputs (n, k) against converted truth."""
        return METRICS[self.metric](out, truth)


def accuracy(out, labels):
    """Fraction of rows whose largest output is at the label."""
    return float(np.mean(np.argmax(out, axis=1) == labels))


def r2(out, targets):
    """Coefficient of determination averaged over outputs (scikit-learn's r2_score)."""
    t = targets.astype(np.float64)
    ss_res = ((t - out) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_output = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                              np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(per_output))


METRICS = {"accuracy": accuracy, "r2": r2}

HEADS = Registry("output", [
    Head("softmax", 0, min_outputs=2, truth="labels", metric="accuracy",
         loss_kernel="softmax_xent", output_kernel="softmax", layer="SoftmaxCrossEntropy",
         classifier=True),
    Head("linear", 1, min_outputs=1, truth="targets", metric="r2",
         loss_kernel="squared_error", output_kernel=None, layer="SquaredError",
         classifier=False),
])


# ---------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SGDConfig:
    """Stochastic gradient descent with momentum and l2: with g the gradient plus
    ``l2 * W`` (weights only) and ``eta_t = learning_rate / (1 + lr_decay * t)``,
    ``v <- momentum v - eta_t g; theta <- theta + v`` (``theta -= eta_t g`` when
    momentum is 0). Mirrors the C struct ``fnet_optim``."""
    learning_rate: float = 0.01
    lr_decay: float = 0.0
    momentum: float = 0.0
    l2: float = 0.0
    name = "sgd"

    def __post_init__(self):
        object.__setattr__(self, "learning_rate", check.check_real(
            "learning_rate", self.learning_rate, 0, low_open=True))
        object.__setattr__(self, "lr_decay", check.check_real("lr_decay", self.lr_decay, 0))
        object.__setattr__(self, "momentum", check.check_real(
            "momentum", self.momentum, 0, 1, high_open=True))
        object.__setattr__(self, "l2", check.check_real("l2", self.l2, 0))


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
        The hyper-parameters its NumPy twin ``<name>_update(params, grads, *state,
        n_weights, eta, *update_args)`` in fastnet.reference.kernels takes after the
        step size (the schedule's own, learning_rate and lr_decay, give eta).
    """
    name: str
    code: int
    config: type
    state: Tuple[str, ...]
    fast_paths: Callable[[object], FrozenSet[str]]
    update_args: Tuple[str, ...]

    @property
    def hyperparameters(self) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(self.config))


def _sgd_fast_paths(cfg):
    plain = cfg.momentum == 0 and cfg.l2 == 0
    return frozenset({"persample", "folded"} if plain else {"persample"})


OPTIMIZERS = Registry("optimizer", [
    Optimizer("sgd", 0, SGDConfig, state=("velocity",), fast_paths=_sgd_fast_paths,
              update_args=("momentum", "l2")),
])

FAST_PATHS = ("persample", "folded")
