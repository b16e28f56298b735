"""The pure-NumPy reference implementation of fastnet's API.

``fastnet.reference.MLP`` has exactly the public contract of ``fastnet.MLP``; it is
the readable specification, the oracle of the tests and the baseline of the
benchmarks.
"""
from fastnet.reference import kernels, layers
from fastnet.reference.network import MLP, load

__all__ = ["MLP", "load", "kernels", "layers"]
