"""fastnet.reference.MLP: the network in plain NumPy, layer by layer.

This is the specification fastnet.MLP is tested and benchmarked against: the same
public API (shared in fastnet/_base.py), with forward, backward and every optimizer
step written out in Python over the NumPy kernels of reference/kernels.py.
"""
import math

import numpy as np

from fastnet._base import BaseMLP
from fastnet.reference import kernels, layers


class MLP(BaseMLP):
    __doc__ = BaseMLP.__doc__

    def _on_state_change(self):
        # Layers over views of the flat buffers: updating params updates the layers.
        self._dense = [layers.Dense(W, b, dW, db) for W, b, dW, db in
                       zip(self._weights, self._biases, self._dweights, self._dbiases)]
        self._hidden = [layers.ACTIVATION_LAYERS[a]() for a in self._activations]
        self._loss_layer = layers.HEAD_LAYERS[self._head.name]()

    def _logits(self, X):
        h = X
        for l, dense in enumerate(self._dense):
            h = dense._forward(h)
            if l < len(self._hidden):
                h = self._hidden[l]._forward(h)
        return h

    def _forward(self, X):
        z = self._logits(X)
        kernels.head_output(self._head.name, z, z)
        return z

    def _loss_and_gradients(self, X, truth, with_grad, weights=None):
        # the layers' unchecked passes: X, truth and weights were checked once (fit,
        # loss, gradients), so every step does only the arithmetic
        loss = self._loss_layer._forward(self._logits(X), truth, weights)
        if with_grad:
            d = self._loss_layer._backward()
            for l in range(len(self._dense) - 1, -1, -1):
                d = self._dense[l]._backward(d, need_input_grad=l > 0)
                if l > 0:
                    d = self._hidden[l - 1]._backward(d)
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
        state = tuple(self._state.values())
        for start in range(0, order.shape[0], batch_size):
            idx = order[start:start + batch_size]
            if batch_size == 1:         # one row: the slice i:i+1, a view, is the same
                idx = slice(idx[0], idx[0] + 1)   # row as X[idx] without the copy (~1 us)
            self._grads.fill(0)         # the backward passes add into the gradients
            loss = self._loss_and_gradients(X[idx], truth[idx], True,
                                            None if weights is None else weights[idx])
            if not math.isfinite(loss):
                break     # diverged: this step is not taken; the caller decides
            total += loss * min(batch_size, order.shape[0] - start)
            eta = config.learning_rate / (1.0 + config.lr_decay * step)
            kernels.optimizer_update(config, self._params, self._grads, state,
                                     self._n_weights, eta, step + 1)
            step += 1
        return total, step - t0, eta


def load(path):
    """Load a model saved by MLP.save (either implementation) as a reference MLP."""
    return MLP._load(path)
