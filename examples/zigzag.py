"""Deep versus shallow ReLU networks on the zig-zag target.

The lecture's zig-zag target (the tent map composed k times) has 2**k linear pieces
on [0, 1]. A deep network of k hidden layers of 2 ReLU units represents it exactly
(``theory.sawtooth_network``). One hidden layer of the same 2k units makes at most
2k + 1 pieces, however it is trained: this script trains one by SGD, counts the
pieces of both networks exactly and draws them over the target. (SGD from a random
start seldom finds the deep solution by itself; ``fastnet experiment zigzag``
shows how close it gets.)

    python examples/zigzag.py            (saves zigzag_fit.png when matplotlib is installed)
    python examples/zigzag.py --quick
"""
import sys

import numpy as np

import fastnet
from fastnet import datasets, theory
from fastnet.plotting import legend_outside, new_figure, pyplot_or_none, save_figure, \
    set_title


def main(quick=False, out="zigzag_fit.png"):
    k = 3 if quick else 4
    units = 2 * k
    X, y = datasets.zigzag(k, 256, grid=True)
    deep = theory.sawtooth_network(k)
    shallow = fastnet.MLP([1, units, 1], "relu", "linear", dtype="float64", seed=0)
    # with zero biases every kink would sit at x = 0; spread them over [0, 1] instead
    w0 = shallow.weights[0][:, 0]
    shallow.biases[0][...] = -w0 * np.random.default_rng(0).uniform(0, 1, w0.shape)
    shallow.fit(X, y, epochs=300 if quick else 5000, learning_rate=0.005, lr_decay=1e-5)
    results = {}
    for name, net, how in (("deep", deep, f"{k} layers of 2 units, exact construction"),
                           ("shallow", shallow, f"1 layer of {units} units, trained by SGD")):
        pieces = theory.count_linear_pieces(net, 0, 1).count
        mse = float(np.mean((net.predict(X) - y) ** 2))
        results[name] = (net, how, mse, pieces)
        print(f"{name:7s} ({how}): mse {mse:.4f}, {pieces} linear pieces "
              f"(target: {2 ** k})")
    print(f"(the constant 0.5 has mse {np.mean((y - 0.5) ** 2):.4f})")
    plt = pyplot_or_none()
    if plt is not None and out:
        grid = np.linspace(0, 1, 1001)[:, None]
        fig, ax = new_figure(figsize=(7, 4.8))
        ax.plot(grid[:, 0], datasets.zigzag(k, 1001, grid=True)[1], color="0.75", lw=5,
                label=f"target: zig-zag, {2 ** k} pieces")
        for (name, (net, how, mse, pieces)), style in zip(results.items(), ("--", "-")):
            ax.plot(grid[:, 0], net.predict(grid), style, lw=1.5,
                    label=f"{name} ({how}): {pieces} pieces, mse {mse:.3f}")
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        set_title(fig, f"The same {units} ReLU units: deep represents all {2 ** k} pieces, "
                       f"one layer at most {units + 1}")
        legend_outside(fig, ax, ncol=1)
        save_figure(fig, out)
        print(f"saved {out}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
