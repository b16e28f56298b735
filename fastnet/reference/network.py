"""fastnet.reference.MLP: the network in plain NumPy, layer by layer.

This is the specification fastnet.MLP is tested and benchmarked against: the same
public API (shared in fastnet/_base.py), with forward, backward and every optimizer
step written out in Python over the NumPy kernels of reference/kernels.py.
"""
import copy
import math

import numpy as np

from fastnet._base import BaseMLP
from fastnet.reference import kernels, layers


class Workspace:
    """The arrays one training step writes, for batches of `rows` rows: per dense layer
    l, ``z[l]`` its output (the logits last) and ``dz[l]`` = dL/dz[l]; per hidden layer
    l, ``h[l]`` the activation's output and ``dh[l]`` = dL/dh[l]; ``out`` the head's
    outputs. Made once per chunk of steps and written again at every step: making them
    anew at every step, for the same arithmetic, cost a per-sample step about 2 us of
    its 30. With rows None every slot is None: the layers make new arrays (predict,
    loss, gradients)."""

    def __init__(self, sizes, dtype, rows=None):
        def arrays(widths):
            return [None if rows is None else np.empty((rows, w), dtype) for w in widths]
        self.z, self.dz = arrays(sizes[1:]), arrays(sizes[1:])
        self.h, self.dh = arrays(sizes[1:-1]), arrays(sizes[1:-1])
        self.out = arrays(sizes[-1:])[0]

    def first_rows(self, rows):
        """The same arrays' first `rows` rows (views), for a shorter last batch."""
        part = copy.copy(self)
        for name in ("z", "dz", "h", "dh"):
            setattr(part, name, [a[:rows] for a in getattr(self, name)])
        part.out = self.out[:rows]
        return part


class MLP(BaseMLP):
    __doc__ = BaseMLP.__doc__

    def _on_state_change(self):
        # Layers over views of the flat buffers: updating params updates the layers.
        self._dense = [layers.Dense(W, b, dW, db) for W, b, dW, db in
                       zip(self._weights, self._biases, self._dweights, self._dbiases)]
        self._hidden = [layers.ACTIVATION_LAYERS[a]() for a in self._activations]
        self._loss_layer = layers.HEAD_LAYERS[self._head.name]()
        self._new_arrays = Workspace(self._sizes, self._dtype)   # all None

    def _logits(self, X, work=None):
        work = work or self._new_arrays
        h = X
        for l, dense in enumerate(self._dense):
            h = dense._forward(h, work.z[l])
            if l < len(self._hidden):
                h = self._hidden[l]._forward(h, work.h[l])
        return h

    def _forward(self, X):
        z = self._logits(X)
        kernels.head_output(self._head.name, z, z)
        return z

    def _loss_and_gradients(self, X, truth, with_grad, weights=None, outputs=None,
                            work=None):
        # the layers' unchecked passes: X, truth and weights were checked once (fit,
        # loss, gradients), so every step does only the arithmetic; into the arrays of
        # `work` (a training step's Workspace), or into new ones; the head's outputs
        # into `outputs`, when given
        work = work or self._new_arrays
        loss = self._loss_layer._forward(self._logits(X, work), truth, weights,
                                         work.out if outputs is None else outputs)
        if with_grad:
            d = self._loss_layer._backward(work.dz[-1])
            for l in range(len(self._dense) - 1, -1, -1):
                if l > 0:
                    d = self._dense[l]._backward(d, True, work.dh[l - 1])
                    d = self._hidden[l - 1]._backward(d, work.dz[l - 1])
                else:       # nobody needs the gradient with respect to the inputs
                    self._dense[l]._backward(d, need_input_grad=False)
        return loss

    def _make_trainer(self, batch_size):
        return None

    def _optimizer_update(self, config, eta, step):
        with np.errstate(over="ignore", invalid="ignore"):   # divergence: see _train_steps
            kernels.optimizer_update(config, self._params, self._grads,
                                     tuple(self._state.values()), self._n_weights, eta, step)

    def _train_steps(self, trainer, X, truth, weights, order, batch_size, config, t0,
                     fast_paths):
        # Overflow on the way to divergence is reported by fit as one clear error
        # (as the compiled code does), not as a stream of NumPy warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._steps(X, truth, weights, order, batch_size, config, t0)

    def _steps(self, X, truth, weights, order, batch_size, config, t0):
        total, step, eta = 0.0, t0, config.learning_rate
        # made once for the loop: the optimizer's step as a function of (eta, step), and
        # the arrays every step writes
        update = kernels._optimizer_steps(config, self._params, self._grads,
                                         tuple(self._state.values()), self._n_weights)
        work = Workspace(self._sizes, self._dtype, batch_size)
        for start in range(0, order.shape[0], batch_size):
            if batch_size == 1:
                # one row: the slice i:i+1, a view, is the same row as the fancy-indexed
                # X[order[start:start + 1]] without its copy (about 1 us)
                i = order[start]
                idx, rows = slice(i, i + 1), 1
            else:
                idx = order[start:start + batch_size]
                rows = idx.shape[0]
                if rows < batch_size:   # the last, shorter batch
                    work = work.first_rows(rows)
            self._grads.fill(0)         # the backward passes add into the gradients
            loss = self._loss_and_gradients(X[idx], truth[idx], True,
                                            None if weights is None else weights[idx],
                                            work=work)
            if not math.isfinite(loss):
                break     # diverged: this step is not taken; the caller decides
            total += loss * rows
            eta = config.learning_rate / (1.0 + config.lr_decay * step)
            update(eta, step + 1)
            step += 1
        if batch_size == 1 and self._dense[0].x is not None:
            # the layers keep the last step's inputs: views into the caller's arrays
            # here, which they must not keep alive (nor see change) after fit
            self._dense[0].x = self._dense[0].x.copy()
            lossl = self._loss_layer
            if lossl.truth is not None:
                lossl.truth = lossl.truth.copy()
            if lossl.weights is not None:
                lossl.weights = lossl.weights.copy()
        return total, step - t0, eta


def load(path):
    """Load a model saved by MLP.save (either implementation) as a reference MLP."""
    return MLP._load(path)
