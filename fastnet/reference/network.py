"""fastnet.reference.MLP: the network in plain NumPy, layer by layer.

This is the specification fastnet.MLP is tested and benchmarked against: the same
public API (shared in fastnet/_base.py), with forward, backward and every SGD step
written out in Python over the NumPy kernels of reference/kernels.py.
"""
import numpy as np

from fastnet._base import BaseMLP
from fastnet.reference import kernels
from fastnet.reference.layers import ACTIVATION_LAYERS, Dense, SoftmaxCrossEntropy, SquaredError


class MLP(BaseMLP):
    __doc__ = BaseMLP.__doc__

    def _on_state_change(self):
        # Layers over views of the flat buffers: updating params updates the layers.
        self._dense = [Dense(W, b, dW, db) for W, b, dW, db in
                       zip(self._weights, self._biases, self._dweights, self._dbiases)]
        self._hidden = [ACTIVATION_LAYERS[a]() for a in self._activations]
        self._head = SoftmaxCrossEntropy() if self._output == "softmax" else SquaredError()

    def _logits(self, X):
        h = X
        for l, dense in enumerate(self._dense):
            h = dense.forward(h)
            if l < len(self._hidden):
                h = self._hidden[l].forward(h)
        return h

    def _forward(self, X):
        out = self._logits(X)
        if self._output == "softmax":
            probs = np.empty_like(out)
            kernels.softmax_xent_forward(probs, out, np.zeros(out.shape[0], dtype=np.intp))
            return probs
        return out

    def _loss_and_gradients(self, X, labels, targets, with_grad, weights=None):
        loss = self._head.forward(self._logits(X),
                                  labels if self._output == "softmax" else targets, weights)
        if with_grad:
            d = self._head.backward()
            for l in range(len(self._dense) - 1, -1, -1):
                d = self._dense[l].backward(d, need_input_grad=l > 0)
                if l > 0:
                    d = self._hidden[l - 1].backward(d)
        return loss

    def _make_trainer(self, batch_size):
        return None

    def _train_epoch(self, trainer, X, labels, targets, weights, order, batch_size,
                     learning_rate, lr_decay, momentum, l2, t0):
        # Overflow on the way to divergence is reported by fit as one clear error
        # (as the compiled code does), not as a stream of NumPy warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._steps(X, labels, targets, weights, order, batch_size,
                               learning_rate, lr_decay, momentum, l2, t0)

    def _steps(self, X, labels, targets, weights, order, batch_size, learning_rate,
               lr_decay, momentum, l2, t0):
        total, t, eta = 0.0, t0, learning_rate
        for start in range(0, order.shape[0], batch_size):
            idx = order[start:start + batch_size]
            self._grads[...] = 0
            loss = self._loss_and_gradients(
                X[idx], None if labels is None else labels[idx],
                None if targets is None else targets[idx], True,
                None if weights is None else weights[idx])
            if not np.isfinite(loss):
                break     # diverged: this step is not taken; the caller decides
            total += loss * idx.shape[0]
            eta = learning_rate / (1.0 + lr_decay * t)
            kernels.sgd_update(self._params, self._grads, self._velocity, self._n_weights,
                               eta, momentum, l2)
            t += 1
        return total, t - t0, eta


def load(path):
    """Load a model saved by MLP.save (either implementation) as a reference MLP."""
    return MLP._load(path)
