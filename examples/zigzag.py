"""Fit the lecture's zig-zag target with a deep and a shallow ReLU network of the same
number of units, and count the linear pieces each learned (exactly).

    python examples/zigzag.py            (saves zigzag_fit.png when matplotlib is installed)
    python examples/zigzag.py --quick
"""
import sys

import numpy as np

import fastnet
from fastnet import datasets, theory
from fastnet.plotting import pyplot_or_none


def main(quick=False, out="zigzag_fit.png"):
    k = 3 if quick else 4
    X, y = datasets.zigzag(k, 256, grid=True)
    rng = np.random.default_rng(0)
    results = {}
    for widths in ([24], [8, 8, 8]):
        net = fastnet.MLP([1, *widths, 1], "relu", "linear", dtype="float64", seed=0)
        w0 = net.weights[0][:, 0]
        net.biases[0][...] = -w0 * rng.uniform(0, 1, w0.shape)   # kinks inside [0, 1]
        net.fit(X, y, epochs=300 if quick else 10000, learning_rate=0.005, lr_decay=1e-5)
        pieces = theory.count_linear_pieces(net, 0, 1).count
        mse = float(np.mean((net.predict(X) - y) ** 2))
        results[tuple(widths)] = (net, mse, pieces)
        print(f"widths {widths}: mse {mse:.4f}, {pieces} linear pieces (target: {2 ** k})")
    plt = pyplot_or_none()
    if plt is not None and out:
        grid = np.linspace(0, 1, 1001)[:, None]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(grid[:, 0], datasets.zigzag(k, 1001, grid=True)[1], "k", lw=2, label="target")
        for widths, (net, mse, pieces) in results.items():
            ax.plot(grid[:, 0], net.predict(grid), label=f"{list(widths)}: {pieces} pieces")
        ax.legend()
        fig.savefig(out, dpi=120)
        print(f"saved {out}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
