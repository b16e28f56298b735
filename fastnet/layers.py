"""Layers over the compiled kernels, in the lecture's layerwise form.

The same classes as fastnet.reference.layers (Dense, Sigmoid, Tanh, ReLU,
SoftmaxCrossEntropy, SquaredError, each with forward and backward); they call the
compiled kernels of fastnet._kernels instead of the NumPy ones.
"""
from fastnet import _kernels
from fastnet.reference import layers as _ref


class Dense(_ref.Dense):
    __doc__ = _ref.Dense.__doc__
    kernels = _kernels


class Sigmoid(_ref.Sigmoid):
    __doc__ = _ref.Sigmoid.__doc__
    kernels = _kernels


class Tanh(_ref.Tanh):
    __doc__ = _ref.Tanh.__doc__
    kernels = _kernels


class ReLU(_ref.ReLU):
    __doc__ = _ref.ReLU.__doc__
    kernels = _kernels


class SoftmaxCrossEntropy(_ref.SoftmaxCrossEntropy):
    __doc__ = _ref.SoftmaxCrossEntropy.__doc__
    kernels = _kernels


class SquaredError(_ref.SquaredError):
    __doc__ = _ref.SquaredError.__doc__
    kernels = _kernels


ACTIVATION_LAYERS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
