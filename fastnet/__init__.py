"""fastnet: compact multilayer perceptrons with compiled kernels.

``fastnet.MLP`` trains with SGD in typed Cython; ``fastnet.reference.MLP`` is its
pure-NumPy twin with the same API and the same results.

The compiled network is imported on first use (``fastnet.MLP``, ``fastnet.load``), so
``import fastnet.reference`` and ``fastnet.components`` work with NumPy alone, from an
unbuilt source tree too, and ``import fastnet`` itself imports nothing heavy.
"""
import importlib as _importlib
import importlib.machinery as _machinery
import os as _os

__version__ = "0.1.0"
__all__ = ["MLP", "load", "plot_history", "__version__"]

# The compiled modules (setup.py's extensions).
_COMPILED = ("_blas", "_kernels", "_train")


def __getattr__(name):
    if name in ("MLP", "load"):
        return getattr(_compiled_network(), name)
    if name in _COMPILED:
        # `from fastnet import _train` lands here when the submodule cannot be
        # imported: say why when it is not built, instead of "cannot import name".
        _check_built()
    raise AttributeError(f"module 'fastnet' has no attribute {name!r}")


def _compiled_network():
    try:
        return _importlib.import_module("fastnet.network")
    except ImportError as exc:
        _check_built(exc)
        raise


def _check_built(cause=None):
    """Raise the clear ImportError when this package is a source tree whose compiled
    modules are not built for this interpreter.

    A module counts as built only by its compiled file (``_train`` plus one of
    ``importlib.machinery.EXTENSION_SUFFIXES``, e.g. ``.cpython-311-x86_64-linux-gnu.so``):
    the ``_train.c`` that a build leaves behind, or a build for another Python, is not."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    if not _os.path.exists(_os.path.join(here, "_train.pyx")):
        return      # not a source tree: the original error says more than a guess here
    names = set(_os.listdir(here))
    missing = [m for m in _COMPILED
               if not any(m + suffix in names for suffix in _machinery.EXTENSION_SUFFIXES)]
    if missing:
        raise ImportError(
            f"fastnet is being imported from its source tree ({here}), whose compiled "
            f"kernels are not built for this Python (no {missing[0]}"
            f"{_machinery.EXTENSION_SUFFIXES[0]}). Run from another directory to use the "
            f"installed fastnet (pip install .), or build in place: python setup.py "
            f"build_ext --inplace") from cause


def plot_history(history, path=None):
    """Plot what fit returned (loss, validation curves); needs matplotlib. See
    fastnet.plotting.plot_history."""
    from fastnet.plotting import plot_history as plot
    return plot(history, path)
