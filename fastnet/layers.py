"""Layers over the compiled kernels, in the lecture's layerwise form.

The same classes as fastnet.reference.layers (Dense, one activation layer per
registered activation: Sigmoid, Tanh, ReLU, Identity, ...; one loss layer per
registered head: SoftmaxCrossEntropy, SquaredError, LogisticCrossEntropy, ...; each
with forward and backward); they call the compiled kernels of
fastnet._kernels instead of the NumPy ones. The input checks are inherited, not
repeated: both implementations run the same ones (fastnet.reference.layers' base
classes) and raise the same ValueErrors.
"""
from fastnet import _kernels
from fastnet.reference import layers as _ref


class Dense(_ref.Dense):
    __doc__ = _ref.Dense.__doc__
    kernels = _kernels


class Activation(_ref.Activation):
    __doc__ = _ref.Activation.__doc__
    kernels = _kernels


class HeadLoss(_ref.HeadLoss):
    __doc__ = _ref.HeadLoss.__doc__
    kernels = _kernels


ACTIVATION_LAYERS = _ref.activation_layers(Activation, __name__)
globals().update({cls.__name__: cls for cls in ACTIVATION_LAYERS.values()})
HEAD_LAYERS = _ref.head_layers(HeadLoss, __name__)
globals().update({cls.__name__: cls for cls in HEAD_LAYERS.values()})
