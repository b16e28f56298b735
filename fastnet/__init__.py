"""fastnet: compact multilayer perceptrons with compiled kernels.

``fastnet.MLP`` trains with SGD in typed Cython; ``fastnet.reference.MLP`` is its
pure-NumPy twin with the same API and the same results.

The compiled network is imported on first use (``fastnet.MLP``, ``fastnet.load``), so
``import fastnet.reference`` and ``fastnet.components`` work with NumPy alone, from an
unbuilt source tree too.
"""
import importlib as _importlib
import os as _os

__version__ = "0.1.0"
__all__ = ["MLP", "load", "plot_history", "__version__"]


def __getattr__(name):
    if name in ("MLP", "load"):
        return getattr(_compiled_network(), name)
    raise AttributeError(f"module 'fastnet' has no attribute {name!r}")


def _compiled_network():
    try:
        return _importlib.import_module("fastnet.network")
    except ImportError as exc:
        here = _os.path.dirname(_os.path.abspath(__file__))
        built = [f for f in _os.listdir(here) if f.startswith("_train.") and f != "_train.pyx"]
        if _os.path.exists(_os.path.join(here, "_train.pyx")) and not built:
            raise ImportError(
                f"fastnet is being imported from its source tree ({here}), whose compiled "
                f"kernels are not built. Run from another directory to use the installed "
                f"fastnet (pip install .), or build in place: python setup.py build_ext "
                f"--inplace") from exc
        raise


def plot_history(history, path=None):
    """Plot what fit returned (loss, validation curves); needs matplotlib. See
    fastnet.plotting.plot_history."""
    from fastnet.plotting import plot_history as plot
    return plot(history, path)
