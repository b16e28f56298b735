"""fastnet: compact multilayer perceptrons with compiled kernels.

``fastnet.MLP`` trains with SGD in typed Cython; ``fastnet.reference.MLP`` is its
pure-NumPy twin with the same API and the same results.
"""
try:
    from fastnet.network import MLP, load
except ImportError as exc:  # pragma: no cover - only in an unbuilt source tree
    import os as _os
    _here = _os.path.dirname(_os.path.abspath(__file__))
    _built = [f for f in _os.listdir(_here) if f.startswith("_train.") and f != "_train.pyx"]
    if _os.path.exists(_os.path.join(_here, "_train.pyx")) and not _built:
        raise ImportError(
            f"fastnet is being imported from its source tree ({_here}), whose compiled "
            f"kernels are not built. Run from another directory to use the installed "
            f"fastnet (pip install .), or build in place: python setup.py build_ext "
            f"--inplace") from exc
    raise


def plot_history(history, path=None):
    """Plot what fit returned (loss, validation curves); needs matplotlib. See
    fastnet.plotting.plot_history."""
    from fastnet.plotting import plot_history as plot
    return plot(history, path)


__version__ = "0.1.0"
__all__ = ["MLP", "load", "plot_history", "__version__"]
