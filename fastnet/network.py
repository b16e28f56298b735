"""fastnet.MLP: the network over the compiled kernels.

The public API is shared with the reference (fastnet/_base.py); this class supplies
the arithmetic from fastnet/_train.pyx, where forward, backward and whole epochs of
optimizer steps run in compiled code without the GIL.
"""
import contextlib
from typing import TYPE_CHECKING

import numpy as np

from fastnet import _kernels, _train
from fastnet import _validation as check
from fastnet._base import BaseMLP
from fastnet._guards import check_fits_in_memory
from fastnet._params import workspace_sizes
from fastnet._threads import limit_blas_threads
from fastnet.components import ACTIVATIONS

# Rows per forward chunk: large enough for BLAS to run at speed, small enough that
# the workspace stays a few MB for the widest networks.
FORWARD_CHUNK = 1024

# Minibatch epochs whose largest GEMM (batch rows x layer inputs x layer outputs)
# is below this many multiply-adds run with one BLAS thread (see _threads.py):
# measured on 2 cores, 64-128-128-10 at batch 32 (0.5 M) gains nothing from a
# second thread, while at 1 M and above a second thread pays.
ONE_THREAD_BELOW = 1_000_000


def _public(method, name):
    """A compiled method of _train, named and documented as BaseMLP's method name."""
    method.__doc__ = getattr(BaseMLP, name).__doc__
    method.__annotations__ = dict(getattr(BaseMLP, name).__annotations__)
    method.__name__ = name
    method.__qualname__ = f"MLP.{name}"
    method.__module__ = __name__
    return method


class MLP(BaseMLP):
    __doc__ = BaseMLP.__doc__

    def _on_state_change(self):
        self._forward_plans = {}
        self._row_call_plan = None   # made by the first clean row (see forward)

    def _plan(self, capacity):
        # activations and deltas of `capacity` rows for every layer
        check_fits_in_memory(2 * capacity * sum(workspace_sizes(self._sizes, self._dtype))
                             * self._dtype.itemsize, f"workspaces for {capacity} rows")
        return _train.Plan(self._sizes, self._w_off, self._b_off, self._n_weights,
                           [ACTIVATIONS[a].code for a in self._activations],
                           self._head.code, self._dtype, capacity)

    def _X(self, X, name="X"):
        # the same checks, finiteness tested by one compiled pass over the data
        return check.check_X(X, self._sizes[0], self._dtype, name, _train.all_finite)

    def _split(self, truth):
        """(labels, targets) for the compiled code: the truth goes in its head's slot."""
        return (truth, None) if self._head.truth == "labels" else (None, truth)

    # The latency path for one clean row (Python call to result in about a
    # microsecond): skips the general conversion when X is already a C-contiguous
    # (1, d) array of the model's dtype; anything else takes the checked path.
    def _clean_row(self, X):
        return (type(X) is np.ndarray and X.ndim == 2 and X.shape[0] == 1
                and X.shape[1] == self._sizes[0] and X.dtype == self._dtype
                and X.flags.c_contiguous)

    def _row_plan(self):
        plan = self._forward_plans.get(1)
        if plan is None:
            plan = self._forward_plans[1] = self._plan(1)
            plan.bind(self._params)
        return plan

    # The fastest path, for one clean row of a small network: the public forward,
    # predict_proba and predict are compiled functions (_train.forward_method and
    # co.) that check the row, run the forward pass and make the result in one C
    # call, holding the GIL throughout, through the row plan made here by the first
    # clean row; anything they do not serve goes to the _general methods below.
    def _make_row_call_plan(self):   # called for a clean row that row_call did not serve
        if (self._row_call_plan is None
                and self._params.shape[0] <= _train.ROW_CALL_MAX_PARAMS):
            plan = self._plan(1)
            plan.bind_rows(self._params, self._guard, self._head.classifier)
            self._row_call_plan = plan

    if not TYPE_CHECKING:   # type checkers read BaseMLP's annotated signatures
        forward = _public(_train.forward_method, "forward")
        predict_proba = _public(_train.predict_proba_method, "predict_proba")
        predict = _public(_train.predict_method, "predict")

    def _forward_general(self, X):
        if self._clean_row(X):
            self._make_row_call_plan()
            out = np.empty((1, self._sizes[-1]), dtype=self._dtype)
            with self._guard.reading():
                if self._row_plan().forward_row(X, out) >= 0:
                    return out
        return super(MLP, self).forward(X)   # also raises the usual errors for NaN or infinity

    def _predict_proba_general(self, X):
        return super(MLP, self).predict_proba(X)

    def _predict_general(self, X):
        if self._head.truth == "labels" and self._clean_row(X):   # predict = argmax
            self._make_row_call_plan()
            with self._guard.reading():
                best = self._row_plan().forward_row(X, np.empty((1, self._sizes[-1]),
                                                                self._dtype))
            if best >= 0:
                return np.array([best])
        return super(MLP, self).predict(X)

    def _forward(self, X):
        # Workspaces are made once per model: one for single rows (the latency
        # path), one for chunks.
        plan = self._row_plan() if X.shape[0] == 1 else self._chunk_plan()
        out = np.empty((X.shape[0], self._sizes[-1]), dtype=self._dtype)
        _train.forward(plan, self._params, X, out)
        return out

    def _chunk_plan(self):
        plan = self._forward_plans.get(FORWARD_CHUNK)
        if plan is None:
            plan = self._forward_plans[FORWARD_CHUNK] = self._plan(FORWARD_CHUNK)
        return plan

    def _loss_and_gradients(self, X, truth, with_grad, weights=None, outputs=None):
        return _train.loss_and_gradients(self._chunk_plan(), self._params,
                                         self._grads if with_grad else None,
                                         X, *self._split(truth), weights, outputs)

    def _layout(self):
        # what a training plan was made for (_train_steps compares, every chunk)
        return (tuple(self._sizes), tuple(self._activations), self._head.name,
                self._dtype, self._optimizer.name)

    def _layout_text(self):
        return (f"layer_sizes {list(self._sizes)}, activations {list(self._activations)}, "
                f"output {self._head.name!r}, dtype {self._dtype.name}, optimizer "
                f"{self._optimizer.name!r}")

    def _optimizer_update(self, config, eta, step):
        _kernels.optimizer_update(config, self._params, self._grads,
                                  tuple(self._state.values()), self._n_weights, eta, step)

    def _make_trainer(self, batch_size):
        return self._plan(batch_size), self._layout()

    def _train_steps(self, trainer, X, truth, weights, order, batch_size, config, t0,
                     fast_paths):
        trainer, layout = trainer
        if layout != self._layout() or config.name != self._optimizer.name:
            # e.g. fit's callback called __setstate__ with another model's state: the
            # plan no longer describes the buffers (train_epoch would refuse them too)
            raise ValueError(
                f"the model was replaced during fit (now {self._layout_text()}, fit began "
                f"with layer_sizes {list(layout[0])}, activations {list(layout[1])}, "
                f"output {layout[2]!r}, dtype {layout[3].name}, optimizer "
                f"{config.name!r}); fit stopped before the next step and the model is "
                f"the one installed (a callback may change values, e.g. with "
                f"load_state_dict, not the model's layout)")
        work = batch_size * max(a * b for a, b in zip(self._sizes, self._sizes[1:]))
        threads = limit_blas_threads(1) if 1 < batch_size and work < ONE_THREAD_BELOW \
            else contextlib.nullcontext()
        state = tuple(self._state.values())
        with threads:
            return _train.train_epoch(trainer, config, self._params, self._grads, state, X,
                                      *self._split(truth), weights, order, batch_size, t0,
                                      fast_paths)


def load(path) -> MLP:
    """Load a model saved by MLP.save (either implementation) as a compiled MLP.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        For a file that is not a complete, consistent fastnet model file.
    """
    return MLP._load(path)
