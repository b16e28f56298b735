"""Control of the thread count of the BLAS fastnet calls (the one behind
scipy.linalg.cython_blas), through threadpoolctl.

The BLAS decides alone how many threads a GEMM gets. For the small products of
minibatch training on small layers (32 x 128 x 128, say) a second thread gains at
most a few percent on an idle machine, and loses up to half when the other core is
busy (measured with ``fastnet bench --full``). For such problems fastnet asks for one
thread during the epoch and restores the setting after.

threadpoolctl finds the library on Linux, macOS and Windows, whichever it is
(OpenBLAS, MKL, BLIS, FlexiBLAS). Where it finds none, or is not installed, this does
nothing.
"""
import contextlib
import os

_libs = None


def _blas_libraries():
    """threadpoolctl's controllers of the BLAS that fastnet's GEMMs run in (a list,
    empty when there is none to control). Found once: the library is loaded with
    fastnet's kernels and stays loaded."""
    global _libs
    if _libs is not None:
        return _libs
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        _libs = []
        return _libs
    import scipy

    from fastnet import _blas
    _blas.load()   # scipy's BLAS is loaded on first use, not with fastnet
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    # numpy's wheels bundle their own OpenBLAS (in numpy.libs); fastnet's GEMMs run in
    # scipy's (scipy.libs, scipy/.dylibs). Where no library lives in scipy's folders,
    # numpy and scipy share one (conda, MKL, a system BLAS): steer every BLAS found.
    scipy_prefix = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy")
    own = [lib for lib in blas
           if os.path.normcase(str(lib.filepath)).startswith(os.path.normcase(scipy_prefix))]
    _libs = own or blas
    return _libs


def blas_threads():
    """Current thread count of fastnet's BLAS (the largest, when several libraries
    are steered), or None when none can be controlled."""
    libs = _blas_libraries()
    return max(lib.get_num_threads() for lib in libs) if libs else None


@contextlib.contextmanager
def limit_blas_threads(n):
    """Run the block with at most n BLAS threads (no-op when not controllable)."""
    before = [(lib, lib.get_num_threads()) for lib in _blas_libraries()]
    limited = [(lib, count) for lib, count in before if count is not None and count > n]
    for lib, _ in limited:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, count in limited:
            lib.set_num_threads(count)
