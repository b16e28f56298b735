"""Layers over the compiled kernels, in the lecture's layerwise form.

The same classes as fastnet.reference.layers (Dense, one activation layer per
registered activation: Sigmoid, Tanh, ReLU, Identity, ...; SoftmaxCrossEntropy,
LogisticCrossEntropy, SquaredError; each with forward and backward); they call the compiled kernels of
fastnet._kernels instead of the NumPy ones.
"""
from fastnet import _kernels
from fastnet.reference import layers as _ref


class Dense(_ref.Dense):
    __doc__ = _ref.Dense.__doc__
    kernels = _kernels


class Activation(_ref.Activation):
    __doc__ = _ref.Activation.__doc__
    kernels = _kernels


class SoftmaxCrossEntropy(_ref.SoftmaxCrossEntropy):
    __doc__ = _ref.SoftmaxCrossEntropy.__doc__
    kernels = _kernels


class LogisticCrossEntropy(_ref.LogisticCrossEntropy):
    __doc__ = _ref.LogisticCrossEntropy.__doc__
    kernels = _kernels


class SquaredError(_ref.SquaredError):
    __doc__ = _ref.SquaredError.__doc__
    kernels = _kernels


ACTIVATION_LAYERS = _ref.activation_layers(Activation, __name__)
globals().update({cls.__name__: cls for cls in ACTIVATION_LAYERS.values()})
