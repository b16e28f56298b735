"""The lecture's depth experiments, run on fastnet's own networks.

``fastnet experiment NAME`` (parity, zigzag, depth) runs one, prints its table and,
when matplotlib is installed (``pip install "fastnet[plot]"``), saves PNGs. Each
function here returns a dict with ``header``, ``rows`` and ``figures`` (paths), and
takes ``quick=True`` for a reduced run (the test suite runs them that way).
"""
import os

import numpy as np

import fastnet
from fastnet import datasets, theory
from fastnet._report import text_table
from fastnet.plotting import pyplot_or_none


def _fit_until_perfect(net, X, y, max_epochs, chunk, **fit_args):
    """Train in chunks of epochs until training accuracy is 100%; returns the number
    of epochs it took, or None if max_epochs passed first."""
    done = 0
    while done < max_epochs:
        step = min(chunk, max_epochs - done)
        net.fit(X, y, epochs=step, **fit_args)
        done += step
        if net.score(X, y) == 1.0:
            return done
    return None


def parity(quick=False, out_dir=".", seed=0):
    """Shallow vs deep ReLU networks with the same parameter budget on d-bit parity.

    Deep: three hidden layers of width max(4, d). Shallow: one hidden layer, as wide as
    makes the same number of parameters. Both train on all 2**d inputs with per-sample
    SGD (learning rate 0.01, momentum 0.5) until 100% training accuracy or the epoch
    cap. The lecture's circuit sizes for the same d are printed beside them.
    """
    ds = range(2, 7) if quick else range(2, 13)
    max_epochs = 200 if quick else 2000
    fit_args = dict(batch_size=1, learning_rate=0.01, momentum=0.5)
    rows = []
    for d in ds:
        X, y = datasets.parity(d)
        w = max(4, d)
        deep = fastnet.MLP([d, w, w, w, 2], "relu", dtype="float32", seed=seed)
        # d*H + H (first layer) + 2*H + 2 (output) = budget
        H = max(1, round((deep.n_params - 2) / (d + 3)))
        shallow = fastnet.MLP([d, H, 2], "relu", dtype="float32", seed=seed)
        results = []
        for net in (shallow, deep):
            epochs = _fit_until_perfect(net, X, y, max_epochs, 10 if quick else 25, **fit_args)
            results.append((net.score(X, y), epochs))
        gates = theory.parity_circuit_sizes(d)
        rows.append((d, f"{H}", shallow.n_params, f"{results[0][0]:.3f}",
                     results[0][1] or f">{max_epochs}", f"3x{w}", deep.n_params,
                     f"{results[1][0]:.3f}", results[1][1] or f">{max_epochs}",
                     gates["xor_tree"]["gates"], gates["and_or_not"]["gates"],
                     gates["dnf"]["gates"]))
    header = ("d", "shallow units", "params", "accuracy", "epochs to 100%", "deep units",
              "params", "accuracy", "epochs to 100%", "XOR gates", "AND/OR gates",
              "DNF gates")
    figures = []
    plt = pyplot_or_none()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        for col, label in ((4, "shallow (1 hidden layer)"), (8, "deep (3 hidden layers)")):
            pts = [(r[0], r[col]) for r in rows if isinstance(r[col], int)]
            if pts:
                ax.plot(*zip(*pts), "o-", label=label)
        ax.set_xlabel("input bits d")
        ax.set_ylabel("epochs to 100% training accuracy")
        ax.set_title("Parity: same parameter budget, shallow vs deep")
        ax.legend()
        figures.append(_save(fig, out_dir, "parity.png"))
    return {"header": header, "rows": rows, "figures": figures}


def zigzag(quick=False, out_dir=".", seed=0):
    """Networks of depth 1..6 with the same number of ReLU units, fitted to the
    zig-zag target with 2**k pieces; the error and the number of linear pieces each
    learned, counted exactly.

    With one input on [0, 1] and zero initial biases every first-layer kink sits at
    x = 0, outside the data; the first layer's biases are therefore drawn so that its
    kinks fall uniformly in [0, 1] (b = -w u, u uniform), and deeper biases uniformly
    in [-0.1, 0.1]. Per-sample SGD, learning rate 0.005 with a slow decay.
    """
    k, units = (3, 24) if quick else (4, 48)
    depths = (1, 2, 3) if quick else (1, 2, 3, 4, 6)
    epochs = 1000 if quick else 10000
    X, y = datasets.zigzag(k, 256, grid=True)
    grid = np.linspace(0, 1, 1001)[:, None]
    rng = np.random.default_rng(seed)
    rows, fits = [], []
    for depth in depths:
        widths = [units // depth] * depth
        net = fastnet.MLP([1] + widths + [1], "relu", "linear", dtype="float64", seed=seed)
        w0 = net.weights[0][:, 0]
        net.biases[0][...] = -w0 * rng.uniform(0, 1, w0.shape)
        for b in net.biases[1:-1]:
            b[...] = rng.uniform(-0.1, 0.1, b.shape)
        net.fit(X, y, epochs=epochs, batch_size=1, learning_rate=0.005, lr_decay=1e-5)
        mse = float(np.mean((net.predict(X) - y) ** 2))
        pieces = theory.count_linear_pieces(net, 0.0, 1.0).count
        rows.append((depth, "-".join(map(str, widths)), net.n_params, f"{mse:.4f}", pieces,
                     2 ** k))
        fits.append((depth, net.predict(grid)))
    header = ("depth", "widths", "params", "mse", "pieces learned", "target pieces")
    figures = []
    plt = pyplot_or_none()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(grid[:, 0], datasets.zigzag(k, 1001, grid=True)[1], "k-", lw=2,
                label=f"target ({2 ** k} pieces)")
        for depth, pred in fits:
            ax.plot(grid[:, 0], pred, lw=1, label=f"depth {depth}")
        ax.set_title(f"Fits to the zig-zag target with {units} ReLU units")
        ax.set_xlabel("x")
        ax.legend(fontsize=8)
        figures.append(_save(fig, out_dir, "zigzag.png"))
    return {"header": header, "rows": rows, "figures": figures}


def depth(quick=False, out_dir=".", seed=0, random_nets=5):
    """Pieces of the sawtooth construction against depth, beside the one-layer maximum
    for the same number of units, Montufar's deep lower bound, and random networks of
    the same shape (He-normal weights, biases uniform in [-1, 1]), all counted exactly
    on [0, 1]."""
    ks = range(1, 9) if quick else range(1, 21)
    rng = np.random.default_rng(seed)
    rows = []
    for k in ks:
        saw = theory.count_linear_pieces(theory.sawtooth_network(k), 0.0, 1.0).count
        bounds = theory.montufar_bounds(1, 2, k)
        counts = []
        for r in range(random_nets):
            net = fastnet.MLP([1] + [2] * k + [1], "relu", "linear", dtype="float64",
                              seed=int(rng.integers(2 ** 31)))
            for b in net.biases:
                b[...] = rng.uniform(-1, 1, b.shape)
            counts.append(theory.count_linear_pieces(net, 0.0, 1.0).count)
        rows.append((k, 2 * k, saw, 2 ** k, bounds.one_layer_same_units, bounds.deep_lower,
                     f"{np.mean(counts):.1f}", max(counts)))
    header = ("hidden layers k", "units", "sawtooth pieces", "2^k", "1 layer, same units (max)",
              "Montufar deep lower bound", "random nets (mean)", "random nets (max)")
    figures = []
    plt = pyplot_or_none()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        kk = [r[0] for r in rows]
        ax.semilogy(kk, [r[2] for r in rows], "o-", label="sawtooth construction")
        ax.semilogy(kk, [r[5] for r in rows], "--", label="Montufar et al. lower bound")
        ax.semilogy(kk, [r[4] for r in rows], "s-", label="one hidden layer, same units (max)")
        ax.semilogy(kk, [float(r[6]) for r in rows], "^-", label="random networks (mean)")
        ax.set_xlabel("hidden layers of 2 ReLU units")
        ax.set_ylabel("linear pieces on [0, 1]")
        ax.set_title("Depth makes pieces exponentially")
        ax.legend(fontsize=8)
        figures.append(_save(fig, out_dir, "depth.png"))
    return {"header": header, "rows": rows, "figures": figures}


EXPERIMENTS = {"parity": parity, "zigzag": zigzag, "depth": depth}


def _save(fig, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def run(name, quick=False, out_dir=".", print_fn=print):
    """Run experiment `name`, print its table, and return its result dict."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of "
                         f"{', '.join(map(repr, EXPERIMENTS))}")
    result = EXPERIMENTS[name](quick=quick, out_dir=out_dir)
    print_fn(text_table(result["header"], result["rows"], left=0))
    if result["figures"]:
        print_fn("saved " + ", ".join(result["figures"]))
    elif pyplot_or_none() is None:
        print_fn("(install matplotlib for the figures: pip install matplotlib)")
    return result
