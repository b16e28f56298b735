"""Layers in the lecture's "layerwise differentiation" form, over NumPy kernels.

Each layer knows the two derivatives the lecture names: ``backward`` accumulates
the gradients of its own parameters (Dense.dW, Dense.db) and returns the gradient
with respect to its input. ``forward`` saves what ``backward`` needs.

fastnet.layers holds the same classes over the compiled kernels: they differ only
in the kernel module they call (the ``kernels`` class attribute).

Every input check is made here, before any kernel runs (fastnet._validation's
``check_layer_*`` helpers; truths as fastnet.components.TRUTHS checks them for the MLP),
so both implementations raise the same ValueErrors on the same calls: batches must be
2-D and non-empty, of real numbers; truths and weights as the MLP's y and
sample_weight (labels integer-valued in 0..k-1, one per row; NaN/inf refused);
gradients of the shape the last forward produced; backward only after a forward.
Values flowing between layers (x, z, gradients) may be NaN or infinite: a diverging
network carries them to its loss, which reports the divergence.
"""
import numpy as np

from fastnet import _validation as _check
from fastnet.components import ACTIVATIONS, HEADS
from fastnet.reference import kernels as _numpy_kernels


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
        W = _check.check_layer_parameter("W", W, (None, None))
        out, dtype = W.shape[0], W.dtype
        self.W = W
        self.b = _check.check_layer_parameter("b", b, (out,), dtype)
        self.dW = np.zeros_like(W) if dW is None else \
            _check.check_layer_parameter("dW", dW, W.shape, dtype, writable=True)
        self.db = np.zeros_like(self.b) if db is None else \
            _check.check_layer_parameter("db", db, (out,), dtype, writable=True)
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
        return self._forward(_check.check_layer_input("x", x, self.W.shape[1], self.W.dtype))

    def _forward(self, x, out=None):
        # forward without the checks, for the network (its rows are checked once per
        # fit or predict, not at every step); into `out`, when given (a training step's
        # workspace), else into a new array
        self.x = x
        if out is None:
            out = np.empty((x.shape[0], self.W.shape[0]), dtype=self.W.dtype)
        self.kernels.dense_forward(out, x, self.W, self.b)
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
        _check.check_forward_done(self, self.x)
        dout = _check.check_layer_gradient("dout", dout, (self.x.shape[0], self.W.shape[0]),
                                           self.W.dtype)
        return self._backward(dout, need_input_grad)

    def _backward(self, dout, need_input_grad=True, dx=None):
        # backward without the checks, for the network; dx into `dx`, when given
        if not need_input_grad:
            dx = None
        elif dx is None:
            dx = np.empty_like(self.x)
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
        return self._forward(_check.check_layer_input("z", z))

    def _forward(self, z, out=None):
        # forward without the checks, for the network; into `out`, when given
        self.out = np.empty_like(z) if out is None else out
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
        _check.check_forward_done(self, self.out)
        return self._backward(
            _check.check_layer_gradient("dout", dout, self.out.shape, self.out.dtype))

    def _backward(self, dout, dz=None):
        # backward without the checks, for the network; into `dz`, when given
        if dz is None:
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
            Labels (n,) of class indices 0..k-1 (integer-valued; or one-hot rows) for
            a head whose truth is "labels", else values (n, k): targets, indicators
            in [0, 1], or non-negative counts ((n,) when k == 1); checked as the
            MLP checks y (fastnet.components.TRUTHS).
        weights : array-like, shape (n,), optional
            Non-negative and finite, as the MLP's sample_weight.

        Returns
        -------
        loss : float
        """
        head = HEADS[self.head]
        z = _check.check_layer_input("z", z)
        n, k = z.shape
        if k < head.min_outputs:
            raise ValueError(f"{type(self).__name__} (output={head.name!r}) needs at least "
                             f"{head.min_outputs} columns in z, got {k}")
        truth = head.convert(truth, n, k, z.dtype, name="truth")
        if weights is not None:
            weights = _check.check_sample_weight(weights, n, z.dtype, name="weights")
        return self._forward(z, truth, weights)

    def _forward(self, z, truth, weights=None, out=None):
        # forward without the checks, for the network (truth and weights converted
        # and checked once per fit); the outputs into `out`, when given
        self.truth, self.weights = truth, weights
        self.out = np.empty_like(z) if out is None else out
        return self.kernels.head_loss_forward(self.head, self.out, z, self.truth,
                                              self.weights)

    def backward(self):
        """dL/dz, shape (n, k), of the last forward's loss."""
        _check.check_forward_done(self, self.out)
        return self._backward()

    def _backward(self, dz=None):
        # backward without the check, for the network; into `dz`, when given
        if dz is None:
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
