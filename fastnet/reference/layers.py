"""Layers in the lecture's "layerwise differentiation" form, over NumPy kernels.

Each layer knows the two derivatives the lecture names: ``backward`` accumulates
the gradients of its own parameters (Dense.dW, Dense.db) and returns the gradient
with respect to its input. ``forward`` saves what ``backward`` needs.

fastnet.layers holds the same classes over the compiled kernels: they differ only
in the kernel module they call (the ``kernels`` class attribute).
"""
import numpy as np

from fastnet.components import ACTIVATIONS, HEADS
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


class HeadLoss:
    """The output head ``head`` (fastnet.components.HEADS) with its loss: forward(z,
    truth, weights=None) returns the mean loss (each row's times its weight, when
    given) and saves the head's outputs (``out``: probabilities, or z itself);
    backward() returns dL/dz. One subclass per registered head (SoftmaxCrossEntropy,
    SquaredError, LogisticCrossEntropy, ...) fixes the head."""

    kernels = _numpy_kernels
    head = None

    def __init__(self):
        self.out = self.truth = self.weights = None

    def forward(self, z, truth, weights=None):
        """Mean loss of a batch; saves the outputs.

        Parameters
        ----------
        z : array-like, shape (n, k)
            The last layer's pre-activations.
        truth : array-like
            Labels (n,) of class indices for a head whose truth is "labels", else
            values (n, k) (targets, or 0/1 indicators).
        weights : array-like, shape (n,), optional

        Returns
        -------
        loss : float
        """
        z = np.ascontiguousarray(z)
        if HEADS[self.head].truth == "labels":
            self.truth = np.ascontiguousarray(truth, dtype=np.intp)
        else:
            self.truth = _as(truth, z.dtype).reshape(z.shape)
        self.weights = None if weights is None else _as(weights, z.dtype)
        self.out = np.empty_like(z)
        return self.kernels.head_loss_forward(self.head, self.out, z, self.truth,
                                              self.weights)

    def backward(self):
        """dL/dz, shape (n, k), of the last forward's loss."""
        dz = np.empty_like(self.out)
        self.kernels.head_loss_backward(self.head, dz, self.out, self.truth, self.weights)
        return dz


def head_layers(base, module):
    """{name: loss layer class} for every registered head: subclasses of `base` named
    as the registry says (SoftmaxCrossEntropy, ...), defined in `module`."""
    return {h.name: type(h.layer, (base,), {"head": h.name, "__module__": module,
                                            "__doc__": f"Output head {h.name!r}: "
                                                       f"{h.formula}."})
            for h in HEADS.values()}


HEAD_LAYERS = head_layers(HeadLoss, __name__)
globals().update({cls.__name__: cls for cls in HEAD_LAYERS.values()})
