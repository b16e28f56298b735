"""fastnet: compact multilayer perceptrons with compiled kernels.

``fastnet.MLP`` trains with SGD in typed Cython; ``fastnet.reference.MLP`` is its
pure-NumPy twin with the same API and the same results.
"""
from fastnet.network import MLP, load


def plot_history(history, path=None):
    """Plot what fit returned (loss, validation curves); needs matplotlib. See
    fastnet.plotting.plot_history."""
    from fastnet.plotting import plot_history as plot
    return plot(history, path)


__version__ = "0.1.0"
__all__ = ["MLP", "load", "plot_history", "__version__"]
