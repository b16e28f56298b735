"""fastnet.MLP: the network over the compiled kernels.

The public API is shared with the reference (fastnet/_base.py); this class supplies
the arithmetic from fastnet/_train.pyx, where forward, backward and whole SGD epochs
run in compiled code without the GIL.
"""
import numpy as np

from fastnet import _train
from fastnet._base import BaseMLP
from fastnet._kernels import ACTIVATION_CODES, OUTPUT_CODES

# Rows per forward chunk: large enough for BLAS to run at speed, small enough that
# the workspace stays a few MB for the widest networks.
FORWARD_CHUNK = 1024


class MLP(BaseMLP):
    __doc__ = BaseMLP.__doc__

    def _on_state_change(self):
        self._forward_plans = {}

    def _plan(self, capacity):
        return _train.Plan(self._sizes, self._w_off, self._b_off, self._n_weights,
                           [ACTIVATION_CODES[a] for a in self._activations],
                           OUTPUT_CODES[self._output], self._dtype, capacity)

    def _forward(self, X):
        # Workspaces are made once per model: one for single rows (the latency
        # path), one for chunks.
        capacity = 1 if X.shape[0] == 1 else FORWARD_CHUNK
        plan = self._forward_plans.get(capacity)
        if plan is None:
            plan = self._forward_plans[capacity] = self._plan(capacity)
        out = np.empty((X.shape[0], self._sizes[-1]), dtype=self._dtype)
        _train.forward(plan, self._params, X, out)
        return out

    def _loss_and_gradients(self, X, labels, targets, with_grad):
        return _train.loss_and_gradients(self._plan(X.shape[0]), self._params,
                                         self._grads if with_grad else None,
                                         X, labels, targets)

    def _make_trainer(self, batch_size):
        return self._plan(batch_size)

    def _train_epoch(self, trainer, X, labels, targets, order, batch_size, learning_rate,
                     lr_decay, momentum, l2, t0):
        return _train.train_epoch(trainer, self._params, self._grads, self._velocity, X,
                                  labels, targets, order, batch_size, learning_rate,
                                  lr_decay, momentum, l2, t0)


def load(path):
    """Load a model saved by MLP.save (either implementation) as a compiled MLP."""
    return MLP._load(path)
