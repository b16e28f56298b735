"""fastnet: compact multilayer perceptrons with compiled kernels.

``fastnet.MLP`` trains with SGD in typed Cython; ``fastnet.reference.MLP`` is its
pure-NumPy twin with the same API and the same results.
"""
from fastnet.network import MLP, load

__version__ = "0.1.0"
__all__ = ["MLP", "load", "__version__"]
