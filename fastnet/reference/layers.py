"""Layers in the lecture's "layerwise differentiation" form, over NumPy kernels.

Each layer knows the two derivatives the lecture names: ``backward`` accumulates
the gradients of its own parameters (Dense.dW, Dense.db) and returns the gradient
with respect to its input. ``forward`` saves what ``backward`` needs.

fastnet.layers holds the same classes over the compiled kernels: they differ only
in the kernel module they call (the ``kernels`` class attribute).
"""
import numpy as np

from fastnet.components import ACTIVATIONS
from fastnet.reference import kernels as _numpy_kernels


def _as(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


class Dense:
    """Affine layer z = x W^T + b on rows.

    Parameters
    ----------
    W : ndarray, shape (out, in)
        Weights; used in place (a view into a network's parameters works).
    b : ndarray, shape (out,)
        Biases.
    dW, db : ndarray, optional
        Gradient accumulators of the same shapes; zero arrays when omitted.
    """

    kernels = _numpy_kernels

    def __init__(self, W, b, dW=None, db=None):
        self.W, self.b = W, b
        self.dW = np.zeros_like(W) if dW is None else dW
        self.db = np.zeros_like(b) if db is None else db
        self.x = None

    def forward(self, x):
        """Affine map of a batch; saves x for backward.

        Parameters
        ----------
        x : array-like, shape (n, in)

        Returns
        -------
        z : ndarray, shape (n, out)
        """
        self.x = _as(x, self.W.dtype)
        out = np.empty((self.x.shape[0], self.W.shape[0]), dtype=self.W.dtype)
        self.kernels.dense_forward(out, self.x, self.W, self.b)
        return out

    def backward(self, dout, need_input_grad=True):
        """The lecture's two derivatives: adds dL/dW and dL/db into dW and db, and
        returns dL/dx.

        Parameters
        ----------
        dout : array-like, shape (n, out)
            dL/dz, the gradient flowing back from the layer above.
        need_input_grad : bool
            False for the first layer, whose input gradient nobody needs.

        Returns
        -------
        dx : ndarray, shape (n, in), or None
        """
        dout = _as(dout, self.W.dtype)
        dx = np.empty_like(self.x) if need_input_grad else None
        self.kernels.dense_backward(dx, self.dW, self.db, dout, self.x, self.W)
        return dx

    def zero_grad(self):
        """Set dW and db to zero (backward adds into them)."""
        self.dW[...] = 0
        self.db[...] = 0


class Activation:
    """Elementwise activation ``name`` (fastnet.components.ACTIVATIONS); backward uses
    the saved output only. One subclass per registered activation (Sigmoid, Tanh,
    ReLU, Identity, ...) fixes the name."""

    kernels = _numpy_kernels
    name = None

    def __init__(self):
        self.out = None

    def forward(self, z):
        """Apply the activation to a batch; saves the output for backward.

        Parameters
        ----------
        z : array-like, shape (n, m)

        Returns
        -------
        h : ndarray, shape (n, m)
        """
        z = np.ascontiguousarray(z)
        if z.dtype not in (np.float32, np.float64):
            z = z.astype(np.float64)
        self.out = np.empty_like(z)
        self.kernels.activation_forward(self.name, self.out, z)
        return self.out

    def backward(self, dout):
        """dL/dz from dL/dh, with the derivative written from the saved output.

        Parameters
        ----------
        dout : array-like, shape (n, m)

        Returns
        -------
        dz : ndarray, shape (n, m)
        """
        dout = _as(dout, self.out.dtype)
        dz = np.empty_like(dout)
        self.kernels.activation_backward(self.name, dz, dout, self.out)
        return dz


def activation_layers(base, module):
    """{name: layer class} for every registered activation: subclasses of `base`
    named as the registry says (ReLU, Tanh, ...), defined in `module`."""
    return {a.name: type(a.layer, (base,), {"name": a.name, "__module__": module,
                                            "__doc__": f"{a.name}: {a.formula}."})
            for a in ACTIVATIONS.values()}


ACTIVATION_LAYERS = activation_layers(Activation, __name__)
globals().update({cls.__name__: cls for cls in ACTIVATION_LAYERS.values()})


class _ProbabilityLoss:
    """An output transform into probabilities with its canonical cross-entropy:
    forward(logits, truth, weights=None) returns the mean loss (each row's times its
    weight, when given) and saves the probabilities; backward() returns
    dL/dlogits = weights * (p - truth) / n, through the kernel pair
    ``<loss_kernel>_forward`` / ``_backward``."""

    kernels = _numpy_kernels
    loss_kernel = None

    def __init__(self):
        self.probs = self.truth = self.weights = None

    def _truth(self, truth, logits):
        raise NotImplementedError

    def forward(self, logits, truth, weights=None):
        """Mean loss of a batch; saves the probabilities.

        Parameters
        ----------
        logits : array-like, shape (n, k)
        truth : array-like
            What the head compares with (see the subclass).
        weights : array-like, shape (n,), optional

        Returns
        -------
        loss : float
        """
        logits = np.ascontiguousarray(logits)
        self.truth = self._truth(truth, logits)
        self.weights = None if weights is None else _as(weights, logits.dtype)
        self.probs = np.empty_like(logits)
        forward = getattr(self.kernels, f"{self.loss_kernel}_forward")
        return forward(self.probs, logits, self.truth, self.weights)

    def backward(self):
        """dL/dlogits, shape (n, k), of the last forward's loss."""
        dlogits = np.empty_like(self.probs)
        backward = getattr(self.kernels, f"{self.loss_kernel}_backward")
        backward(dlogits, self.probs, self.truth, self.weights)
        return dlogits


class SoftmaxCrossEntropy(_ProbabilityLoss):
    """Softmax output with cross-entropy loss, L = mean over rows of -log p_y; the
    truth is integer labels (n,). dL/dlogits = weights * (p - onehot(y)) / n."""

    loss_kernel = "softmax_xent"

    def _truth(self, labels, logits):
        return np.ascontiguousarray(labels, dtype=np.intp)


class LogisticCrossEntropy(_ProbabilityLoss):
    """Element-wise sigmoid output with binary cross-entropy, L = mean over rows of
    sum_j -(y_j log p_j + (1 - y_j) log(1 - p_j)); the truth is indicators (n, k) in
    [0, 1] (one unit for binary problems, k for multilabel ones).
    dL/dlogits = weights * (p - y) / n."""

    loss_kernel = "logistic_xent"

    def _truth(self, target, logits):
        return _as(target, logits.dtype).reshape(logits.shape)


class SquaredError:
    """Linear output with squared error, L = mean over rows of sum_j (pred_j - y_j)^2.

    forward(pred, target, weights=None) returns the loss (each row's times its weight,
    when given); backward() returns weights * 2 (pred - y) / n.
    """

    kernels = _numpy_kernels

    def __init__(self):
        self.pred = self.target = self.weights = None

    def forward(self, pred, target, weights=None):
        """Mean squared error of a batch.

        Parameters
        ----------
        pred, target : array-like, shape (n, k)
        weights : array-like, shape (n,), optional

        Returns
        -------
        loss : float
        """
        self.pred = np.ascontiguousarray(pred)
        self.target = _as(target, self.pred.dtype).reshape(self.pred.shape)
        self.weights = None if weights is None else _as(weights, self.pred.dtype)
        return self.kernels.squared_error_forward(self.pred, self.target, self.weights)

    def backward(self):
        """dL/dpred, shape (n, k), of the last forward's loss."""
        dpred = np.empty_like(self.pred)
        self.kernels.squared_error_backward(dpred, self.pred, self.target, self.weights)
        return dpred

