"""The lean NumPy baseline: the MLP a competent NumPy user writes in an afternoon.

Independent of fastnet on purpose (it imports NumPy only, neither fastnet's reference
nor its components): `@`, in-place updates, buffers made once per epoch, no input
checks. It is the "lean NumPy" column of ``fastnet bench``, the baseline the targets
of issue 11 are set against, and it is checked to agree with fastnet (same initial
weights copied in, same sample order) before it is timed. Supported: hidden
activations relu, tanh and sigmoid; outputs softmax (mean cross-entropy) and linear
(mean over samples of the summed squared error, no 1/2 factor: fastnet's losses).
"""
import numpy as np

ACT = {"relu": lambda z: np.maximum(z, 0, out=z), "tanh": lambda z: np.tanh(z, out=z),
       "sigmoid": lambda z: np.divide(1, 1 + np.exp(-z, out=z), out=z)}
# derivative from the saved output h, multiplied into the upstream gradient d in place
DACT = {"relu": lambda d, h: np.multiply(d, h > 0, out=d),
        "tanh": lambda d, h: np.multiply(d, 1 - h * h, out=d),
        "sigmoid": lambda d, h: np.multiply(d, h * (1 - h), out=d)}


def lean_supports(activation, output):
    """Whether the lean baseline has this hidden activation and output."""
    return activation in ACT and output in ("softmax", "linear")


class LeanMLP:
    """Weights ``W[l]`` (out, in) and biases ``b[l]``, copied; ``seed`` drives the
    per-epoch shuffle. ``fit`` is one epoch of plain SGD, ``predict`` gives labels
    (softmax) or values (linear)."""

    def __init__(self, weights, biases, activation="relu", output="softmax", seed=0):
        if not lean_supports(activation, output):
            raise ValueError(f"the lean baseline has no {activation!r} / {output!r}")
        self.W = [np.array(W) for W in weights]
        self.b = [np.array(b) for b in biases]
        self.act, self.dact, self.softmax = ACT[activation], DACT[activation], output == "softmax"
        self.rng = np.random.default_rng(seed)

    def _forward(self, hs):
        # hs[0] holds the inputs; hs[l + 1] = g(hs[l] @ W[l].T + b[l]), logits last
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            np.matmul(hs[l], W.T, out=hs[l + 1])
            hs[l + 1] += b
            if l < len(self.W) - 1:
                self.act(hs[l + 1])
        return hs[-1]

    def fit(self, X, y, batch_size=1, learning_rate=0.01, order=None):
        """One epoch of SGD over the rows ``order`` (a fresh permutation by default)."""
        order = self.rng.permutation(len(X)) if order is None else order
        if batch_size == 1:
            return self._fit_per_sample(X, y, learning_rate, order)
        sizes = [X.shape[1]] + [W.shape[0] for W in self.W]
        full_h = [np.empty((batch_size, s), X.dtype) for s in sizes]
        full_d = [np.empty((batch_size, s), X.dtype) for s in sizes]
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            m = len(idx)
            h, ds = (full_h, full_d) if m == batch_size else \
                ([a[:m] for a in full_h], [a[:m] for a in full_d])    # the last, short batch
            np.take(X, idx, axis=0, out=h[0])
            z = self._forward(h)
            if self.softmax:        # d(mean cross-entropy)/dz = (softmax(z) - onehot) / m
                z -= z.max(axis=1, keepdims=True)
                np.exp(z, out=z)
                z /= z.sum(axis=1, keepdims=True)
                z[np.arange(m), y[idx]] -= 1
                z *= z.dtype.type(1) / m
            else:                   # d(mean sum (z - y)^2)/dz = 2 (z - y) / m
                z -= y[idx].reshape(m, -1)
                z *= z.dtype.type(2) / m
            d = z
            for l in range(len(self.W) - 1, -1, -1):
                if l > 0:           # the input gradient, from the weights before the update
                    np.matmul(d, self.W[l], out=ds[l])
                self.W[l] -= learning_rate * (d.T @ h[l])
                self.b[l] -= learning_rate * d.sum(axis=0)
                if l > 0:
                    d = self.dact(ds[l], h[l])
        return self

    def _fit_per_sample(self, X, y, lr, order):
        # vectors, not (1, n) matrices: what one writes for the lecture's per-sample SGD
        W, b, last = self.W, self.b, len(self.W) - 1
        hs = [None] * (last + 2)
        for i in order:
            h = hs[0] = X[i]
            for l in range(last + 1):
                h = W[l] @ h
                h += b[l]
                if l < last:
                    self.act(h)
                hs[l + 1] = h
            if self.softmax:
                h -= h.max()
                np.exp(h, out=h)
                h /= h.sum()
                h[y[i]] -= 1
            else:
                h -= y[i]
                h *= 2
            d = h
            for l in range(last, -1, -1):
                dx = d @ W[l] if l > 0 else None
                W[l] -= lr * np.outer(d, hs[l])
                b[l] -= lr * d
                if l > 0:
                    d = self.dact(dx, hs[l])
        return self

    def _logits(self, X):
        h = X
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            h = h @ W.T
            h += b
            if l < len(self.W) - 1:
                self.act(h)
        return h

    def forward(self, X):
        """Softmax probabilities, or the linear outputs, of the rows of X."""
        h = self._logits(X)
        if self.softmax:
            h -= h.max(axis=1, keepdims=True)
            np.exp(h, out=h)
            h /= h.sum(axis=1, keepdims=True)
        return h

    def predict(self, X):
        """Labels (softmax: the largest logit), or values ((n,) for one output)."""
        h = self._logits(X)
        return h.argmax(axis=1) if self.softmax else h[:, 0] if h.shape[1] == 1 else h
