# BLAS shim over scipy.linalg.cython_blas (the BLAS scipy ships, OpenBLAS on PyPI).
#
# The two GEMMs are taken from scipy.linalg.cython_blas's table of C functions
# (__pyx_capi__), as `cimport` would, but without `cimport`: that imports the
# package scipy.linalg first, whose __init__ pulls in all of scipy.linalg (LAPACK
# wrappers, array-API layers, numpy.testing): two-thirds of fastnet's import time.
# Only the extension module cython_blas itself is loaded here.
import importlib.machinery
import importlib.util
import os
import sys
import threading

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdlib cimport abort

ctypedef void (*sgemm_ptr)(char *transa, char *transb, int *m, int *n, int *k,
                           float *alpha, float *a, int *lda, float *b, int *ldb,
                           float *beta, float *c, int *ldc) noexcept nogil
ctypedef void (*dgemm_ptr)(char *transa, char *transb, int *m, int *n, int *k,
                           double *alpha, double *a, int *lda, double *b, int *ldb,
                           double *beta, double *c, int *ldc) noexcept nogil

_MODULE = "scipy.linalg.cython_blas"


def _signature(letter):
    """The capsule name Cython gives ?gemm in scipy.linalg.cython_blas (the C
    signature, with scipy's typedef s or d): the check `cimport` makes, made here."""
    t = f"__pyx_t_5scipy_6linalg_11cython_blas_{letter} *"
    return (f"void (char *, char *, int *, int *, int *, {t}, {t}, int *, {t}, int *, "
            f"{t}, {t}, int *)").encode()


def _cython_blas():
    """scipy.linalg.cython_blas, loaded from its file without importing scipy.linalg."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    if os.name == "nt":
        # scipy's __init__ adds the folder of its DLLs (OpenBLAS) to the search path
        import scipy  # noqa: F401
    # Elsewhere the module finds its BLAS by its own run path: locating it needs no
    # import. (Loading it may import scipy's top level all the same: scipy >= 1.15
    # shares Cython's utility code in scipy._cyutility. ~12 ms here, most of it
    # scipy._lib._testutils importing subprocess.)
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        import scipy.linalg.cython_blas as module   # an unusual layout: let it explain
        return module
    folder = os.path.join(list(spec.submodule_search_locations)[0], "linalg")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, "cython_blas" + suffix)
        if os.path.exists(path):
            break
    else:  # an unusual layout (zipped, frozen): the ordinary import
        import scipy.linalg.cython_blas as module
        return module
    spec = importlib.util.spec_from_file_location(_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Cython's module init registers itself in sys.modules; take it out again, so a
    # later `import scipy.linalg` imports the submodule the ordinary way (Cython hands
    # back this same module object) and binds it as scipy.linalg.cython_blas.
    sys.modules.pop(_MODULE, None)
    return module


# The pointers are taken on first use, not at import: per-sample training and
# single-row predictions multiply no matrices, and loading scipy's BLAS (scipy's top
# level, the library and its thread pool) was most of what `import fastnet` cost.
# load() runs (with the GIL) in the entry points that multiply matrices (_train's
# forward, loss_and_gradients, minibatch epochs; the kernels' dense_forward and
# dense_backward), where a failure raises; gemm checks all the same.
cdef sgemm_ptr sgemm = NULL
cdef dgemm_ptr dgemm = NULL

# Fail at import, not at the first product, when scipy is missing.
if importlib.util.find_spec("scipy") is None:
    raise ImportError("fastnet needs scipy (its BLAS does fastnet's matrix products): "
                      "pip install scipy")


# One thread loads; the others wait for it (a second thread must not take the module
# while the first is still executing it: its table of functions is not there yet).
_loading = threading.Lock()


def load():
    """Take the two GEMMs from scipy.linalg.cython_blas (once; later calls return at
    once). Raises what loading raises (ImportError, AttributeError)."""
    global sgemm, dgemm
    if sgemm != NULL and dgemm != NULL:
        return
    with _loading:
        if sgemm != NULL and dgemm != NULL:
            return
        capi = _cython_blas().__pyx_capi__
        dgemm = <dgemm_ptr>PyCapsule_GetPointer(capi["dgemm"], _signature("d"))
        sgemm = <sgemm_ptr>PyCapsule_GetPointer(capi["sgemm"], _signature("s"))


def loaded():
    """Whether load() has run."""
    return sgemm != NULL and dgemm != NULL


cdef void _load_late() noexcept nogil:
    # A product reached before load() ran (an entry point that does not call it):
    # load now, under the GIL. Without a BLAS there is nothing to call and no way to
    # report it from here: stop with the reason rather than call a NULL pointer.
    with gil:
        try:
            load()
        except BaseException as error:
            sys.stderr.write(f"fastnet: cannot load scipy's BLAS: {error!r}\n")
            sys.stderr.flush()
    if sgemm == NULL or dgemm == NULL:
        abort()


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil:
    # Swapped operands: see _blas.pxd.
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if sgemm == NULL or dgemm == NULL:
        _load_late()
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float*>b, &ldb, <float*>a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double*>b, &ldb, <double*>a, &lda,
              &beta, c, &ldc)
