"""Best-effort control of the thread count of the BLAS fastnet calls (scipy's
OpenBLAS, reached through scipy.linalg.cython_blas).

OpenBLAS decides alone how many threads a GEMM gets. For the small products of
minibatch training on small layers (32 x 128 x 128, say) a second thread gains at
most a few percent on an idle machine, and loses up to half when the other core is
busy (measured with ``fastnet bench --full``). For such problems fastnet asks for one
thread during the epoch and restores the setting after. Where the library or its
setter cannot be found (another BLAS, another platform), this does nothing.
"""
import contextlib
import ctypes
import os

_SETTERS = ("scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads", "openblas_get_num_threads")
_lib = None
_searched = False


def _find_blas():
    """(setter, getter) of scipy's OpenBLAS, already loaded in this process, or None."""
    global _lib, _searched
    if _searched:
        return _lib
    _searched = True
    import scipy.linalg.cython_blas  # noqa: F401  (makes sure the library is loaded)
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        # numpy bundles its own copy (named libscipy_openblas64_ too, in numpy.libs):
        # the one to steer is in scipy's directories.
        folder = os.path.dirname(path)
        if "scipy" not in folder or "numpy" in folder:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            _lib = (setter, getter)
            return _lib
    return None


def blas_threads():
    """Current thread count of scipy's OpenBLAS, or None when it cannot be read."""
    lib = _find_blas()
    return None if lib is None else lib[1]()


@contextlib.contextmanager
def limit_blas_threads(n):
    """Run the block with at most n BLAS threads (no-op when not controllable)."""
    lib = _find_blas()
    before = None if lib is None else lib[1]()
    if before is None or before <= n:
        yield
        return
    lib[0](n)
    try:
        yield
    finally:
        lib[0](before)
