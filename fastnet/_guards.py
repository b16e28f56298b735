"""Memory and thread guards of a model.

Memory: refuse, before any work, what cannot fit in this machine's RAM (with memory
overcommit a huge allocation can succeed and the process is killed later, when the
pages are touched). Threads: one model, one thread at a time; reads are serialised
(they share the compiled workspaces) and fit takes the model for itself.
"""
import contextlib
import functools
import os
import threading

import numpy as np

from fastnet._params import workspace_sizes


@functools.lru_cache(maxsize=None)   # asked by every fit: two system calls each time
def physical_memory():
    """Bytes of RAM of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(nbytes, what):
    """MemoryError before any work when `what` (a text, or a function that makes it:
    only a failing check needs it) needs more bytes than the machine has."""
    limit = physical_memory() or 2 ** 46
    if nbytes > limit:
        what = what() if callable(what) else what
        raise MemoryError(f"{what} need {_gib(nbytes)} GiB, more than this machine's "
                          f"{limit / 2**30:.4g} GiB of memory")


def _gib(nbytes):
    """nbytes in GiB for a message, also for integers beyond any float."""
    try:
        return f"{nbytes / 2**30:.4g}"
    except OverflowError:
        return f"about 10^{len(str(int(nbytes) // 2**30)) - 1}"


def check_training_memory(n_params, dtype, optimizer, what):
    """MemoryError before any work when the parameters, their gradients and the
    optimizer's state buffers (each n_params values of dtype) cannot fit."""
    check_fits_in_memory((2 + len(optimizer.state)) * n_params * dtype.itemsize,
                         f"the parameters, gradients and {optimizer.name} state of {what}")


def check_fit_memory(n_params, dtype, optimizer, sizes, workspace_rows, n, weighted, n_val,
                     keep_best, what):
    """MemoryError before any work when what a fit holds at once cannot fit together:
    the parameters, gradients and optimizer state; the epoch's snapshot of params and
    state (and the best epoch's, keep_best: restore_best_weights); workspaces of
    activations and deltas for `workspace_rows` rows; the epoch's order of n rows, n
    weights (weighted) and the outputs of n_val validation rows. what: as in
    check_fits_in_memory."""
    n_state = len(optimizer.state)
    values = ((2 + n_state) * n_params + (1 + n_state) * n_params * (2 if keep_best else 1)
              + 2 * workspace_rows * sum(workspace_sizes(sizes, dtype))
              + (n if weighted else 0)
              + n_val * sizes[-1])
    check_fits_in_memory(values * dtype.itemsize + n * np.dtype(np.intp).itemsize,
                         lambda: f"the parameters, gradients, {optimizer.name} state, "
                                 f"snapshots and workspaces of the "
                                 f"{what() if callable(what) else what}")


class ModelLock:
    """The lock of one model: ``reading()`` for reads, ``exclusive(what)`` for fit.

    A read while another thread fits, or a second fit, raises RuntimeError at once
    instead of waiting or corrupting the model. Not pickled (remade on load)."""

    def __init__(self):
        self._lock = threading.RLock()
        self._owner = None

    def reading(self):
        """The lock a read holds; raises at once while another thread trains."""
        owner = self._owner
        if owner is not None and owner != threading.get_ident():
            raise RuntimeError("this model is being trained by fit in another thread; read "
                               "it after fit returns (one model, one thread at a time)")
        return self._lock

    @contextlib.contextmanager
    def exclusive(self, what):
        """The model to this thread alone (for fit); raises at once if it is in use,
        also by this thread (fit called from fit's own callback)."""
        if self._owner == threading.get_ident():
            raise RuntimeError(f"cannot {what}: this model is being trained by a fit that "
                               f"has not returned (fit called from its own callback?)")
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"cannot {what}: this model is in use by another thread "
                               f"(one model, one thread at a time)")
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()
