"""Handwritten digits: fastnet against its NumPy reference.

Classify scikit-learn's 8x8 handwritten digits with fastnet, and with the NumPy
reference: same calls, same result, less time.

    python examples/digits.py            (needs scikit-learn for the data)
    python examples/digits.py --quick
"""
import sys
import time

import numpy as np

import fastnet
from fastnet import datasets, reference


def main(quick=False):
    X, y = datasets.digits(dtype="float32", seed=0)
    split = int(0.8 * len(y))
    X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]
    epochs = 3 if quick else 30
    for impl in (fastnet, reference):
        net = impl.MLP([64, 128, 10], activation="relu", seed=0)
        start = time.perf_counter()
        history = net.fit(X_train, y_train, epochs=epochs, batch_size=1, learning_rate=0.01,
                          lr_decay=1e-4, validation_data=(X_test, y_test))
        seconds = time.perf_counter() - start
        print(f"{impl.__name__:18s} {seconds:7.3f} s  train loss {history['loss'][-1]:.4f}  "
              f"test accuracy {history['val_accuracy'][-1]:.3f}")
    return float(np.mean(net.predict(X_test) == y_test))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
