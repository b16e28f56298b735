"""The lecture's depth experiments, run on fastnet's own networks.

``fastnet experiment NAME`` (parity, zigzag, depth) runs one, prints its table and,
when matplotlib is installed (``pip install "fastnet[plot]"``), saves PNGs. Each
function here returns a dict with ``header``, ``rows`` and ``figures`` (paths), and
takes ``quick=True`` for a reduced run (the test suite runs them that way).

Each experiment is a table function (the runs; rows as printed) and a figure
function (a matplotlib Figure drawn from what the table function returned), so that
the table is printed before any file is written, and the figures can be checked
without running the experiment again.
"""
import os
import tempfile

import numpy as np

import fastnet
from fastnet import datasets, theory
from fastnet._report import text_table
from fastnet.plotting import (integer_ticks, legend_outside, new_figure, plain_log_ticks,
                              pyplot_or_none, save_figure, set_title)


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


PARITY_HEADER = ("d", "shallow units", "params", "accuracy", "epochs to 100%", "deep units",
                 "params", "accuracy", "epochs to 100%", "XOR gates", "AND/OR gates",
                 "DNF gates")


def _parity_table(quick=False, seed=0):
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
    return {"header": PARITY_HEADER, "rows": rows, "max_epochs": max_epochs}


def _parity_figure(result):
    """Epochs to 100% training accuracy against d; a run that stopped at the epoch
    cap short of 100% is a failure: a cross at the cap, labelled with the accuracy
    it reached, and no line joins it to its neighbours."""
    rows, cap = result["rows"], result["max_epochs"]
    fig, ax = new_figure()
    series = (("shallow (1 hidden layer)", 3, 4, "tab:blue", "o", -0.12),
              ("deep (3 hidden layers)", 7, 8, "tab:orange", "s", 0.12))
    for label, acc_col, ep_col, color, marker, dodge in series:
        d = np.array([r[0] for r in rows], dtype=float)
        ok = np.array([isinstance(r[ep_col], int) for r in rows])
        # NaN breaks the line: successes on either side of a failure are not joined
        y = np.array([r[ep_col] if isinstance(r[ep_col], int) else np.nan for r in rows],
                     dtype=float)
        if ok.any():
            ax.plot(d, y, marker=marker, color=color, label=f"{label}: reached 100%")
        if not ok.all():
            # side by side when both depths fail at the same d
            ax.plot(d[~ok] + dodge, np.full((~ok).sum(), cap), "x", color=color, ms=9,
                    mew=2, ls="none", label=f"{label}: below 100% after {cap} epochs")
            for r in (r for r, good in zip(rows, ok) if not good):
                # shallow's below its cross, deep's above: the two never meet
                ax.annotate(r[acc_col], (r[0] + dodge, cap), textcoords="offset points",
                            xytext=(0, -15 if dodge < 0 else 9), ha="center", fontsize=7,
                            color=color)
    ax.axhline(cap, color="grey", lw=0.8, ls=":", label=f"epoch cap ({cap})")
    ax.set_yscale("log")
    lo = min([r[c] for r in rows for c in (4, 8) if isinstance(r[c], int)], default=cap)
    ax.set_ylim(lo / 1.5, cap * 1.6)        # room for the accuracies above the cap
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("input bits d")
    ax.set_ylabel("epochs to 100% training accuracy")
    integer_ticks(ax.xaxis)
    set_title(fig, "Parity: shallow vs deep with the same parameter budget\n"
                   "(numbers at the crosses: the training accuracy reached)")
    legend_outside(fig, ax)
    return fig


def parity(quick=False, out_dir=".", seed=0):
    """Shallow vs deep ReLU networks with the same parameter budget on d-bit parity.

    Deep: three hidden layers of width max(4, d). Shallow: one hidden layer, as wide as
    makes the same number of parameters. Both train on all 2**d inputs with per-sample
    SGD (learning rate 0.01, momentum 0.5) until 100% training accuracy or the epoch
    cap. The lecture's circuit sizes for the same d are printed beside them.
    """
    _check_if_plotting(out_dir)
    return _finish("parity", _parity_table(quick=quick, seed=seed), out_dir)


ZIGZAG_HEADER = ("depth", "widths", "params", "mse", "pieces learned", "target pieces")


def _zigzag_table(quick=False, seed=0):
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
        fits.append(net.predict(grid))
    return {"header": ZIGZAG_HEADER, "rows": rows, "k": k, "units": units,
            "grid": grid[:, 0], "fits": fits}


def _zigzag_figure(result):
    """The target and each depth's fit on [0, 1], the legend beside the axes."""
    k, grid = result["k"], result["grid"]
    fig, ax = new_figure(figsize=(8, 5.5))
    ax.plot(grid, datasets.zigzag(k, len(grid), grid=True)[1], color="black", lw=2.5,
            label=f"target ({2 ** k} pieces)")
    for row, pred in zip(result["rows"], result["fits"]):
        ax.plot(grid, pred, lw=1,
                label=f"depth {row[0]} ({row[1]}): {row[4]} pieces, mse {row[3]}")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    set_title(fig, f"Fits by SGD to the zig-zag target, {result['units']} ReLU units "
                   f"at each depth")
    legend_outside(fig, ax)
    return fig


def zigzag(quick=False, out_dir=".", seed=0):
    """Networks of depth 1..6 with the same number of ReLU units, fitted to the
    zig-zag target with 2**k pieces; the error and the number of linear pieces each
    learned, counted exactly.

    With one input on [0, 1] and zero initial biases every first-layer kink sits at
    x = 0, outside the data; the first layer's biases are therefore drawn so that its
    kinks fall uniformly in [0, 1] (b = -w u, u uniform), and deeper biases uniformly
    in [-0.1, 0.1]. Per-sample SGD, learning rate 0.005 with a slow decay.
    """
    _check_if_plotting(out_dir)
    return _finish("zigzag", _zigzag_table(quick=quick, seed=seed), out_dir)


DEPTH_HEADER = ("hidden layers k", "units", "sawtooth pieces", "2^k",
                "1 layer, same units (max)", "Montufar deep lower bound",
                "random nets (mean)", "random nets (max)")


def _depth_table(quick=False, seed=0, random_nets=5):
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
    return {"header": DEPTH_HEADER, "rows": rows, "random_nets": random_nets}


def _depth_figure(result):
    """Pieces against k: the construction, the bounds on the maximum a network of
    k layers of 2 units can make (Montufar's lower bound, and 3**k above), one wide
    layer's maximum, and random networks."""
    rows = result["rows"]
    k = np.array([r[0] for r in rows])
    fig, ax = new_figure(figsize=(7, 6))
    # every layer of 2 units splits each piece of the line into at most 3
    ax.fill_between(k, [r[5] for r in rows], 3.0 ** k, color="tab:orange", alpha=0.12,
                    lw=0, label="where the maximum for k layers of 2 units lies")
    ax.semilogy(k, 3.0 ** k, ":", color="tab:orange",
                label="upper bound on the maximum: $3^k$")
    ax.semilogy(k, [r[5] for r in rows], "--", color="tab:orange",
                label="Montufar et al. 2014: lower bound on\nthe maximum, "
                      "$3 \\cdot 2^{k-1}$")
    ax.semilogy(k, [r[2] for r in rows], "o-", color="tab:blue",
                label="sawtooth construction: $2^k$")
    ax.semilogy(k, [r[4] for r in rows], "s-", color="tab:green",
                label="one hidden layer of $2k$ units:\nmaximum, $2k + 1$")
    ax.semilogy(k, [float(r[6]) for r in rows], "^-", color="tab:red",
                label=f"random networks, k layers of 2 units\n"
                      f"(mean of {result['random_nets']})")
    ax.set_xlabel("hidden layers k (2 ReLU units each)")
    ax.set_ylabel("linear pieces on [0, 1]")
    integer_ticks(ax.xaxis)
    set_title(fig, "Depth makes pieces exponentially (counted exactly)")
    legend_outside(fig, ax)
    return fig


def depth(quick=False, out_dir=".", seed=0, random_nets=5):
    """Pieces of the sawtooth construction against depth, beside the one-layer maximum
    for the same number of units, Montufar's lower bound on the maximum for the deep
    shape, and random networks of the same shape (He-normal weights, biases uniform
    in [-1, 1]), all counted exactly on [0, 1]."""
    _check_if_plotting(out_dir)
    return _finish("depth", _depth_table(quick=quick, seed=seed, random_nets=random_nets),
                   out_dir)


EXPERIMENTS = {"parity": parity, "zigzag": zigzag, "depth": depth}

# name -> (table function, figure function)
_PARTS = {"parity": (_parity_table, _parity_figure),
          "zigzag": (_zigzag_table, _zigzag_figure),
          "depth": (_depth_table, _depth_figure)}


def check_out_dir(out_dir):
    """Raise ValueError unless the figures can be saved in `out_dir`: a folder that
    exists and takes a new file, or a path whose nearest existing parent does (the
    missing folders are made when the figures are saved). Checked before any run, so
    a long experiment never ends in a failed save.

    Parameters
    ----------
    out_dir : str or path-like
    """
    path = os.path.abspath(os.fspath(out_dir))
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"cannot save figures in {os.fspath(out_dir)!r}: {existing!r} "
                         f"is a file, not a folder")
    try:
        # a real write, not os.access: it also answers for read-only mounts and ACLs
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise ValueError(f"cannot save figures in {os.fspath(out_dir)!r}: no new file can "
                         f"be written in {existing!r} ({e.strerror})") from None


def _save_figures(name, result, out_dir):
    plt = pyplot_or_none()
    if plt is None:
        return []
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.png")
    save_figure(_PARTS[name][1](result), path)
    return [path]


def _check_if_plotting(out_dir):
    # without matplotlib nothing is written, and out_dir does not matter
    if pyplot_or_none() is not None:
        check_out_dir(out_dir)


def _finish(name, result, out_dir):
    return {"header": result["header"], "rows": result["rows"],
            "figures": _save_figures(name, result, out_dir)}


def run(name, quick=False, out_dir=".", print_fn=print):
    """Run experiment `name`, print its table, save its figures, and return its
    result dict.

    Parameters
    ----------
    name : {"parity", "zigzag", "depth"}
    quick : bool, default False
        A reduced run (seconds).
    out_dir : str or path-like, default "."
        Folder for the PNGs (made if missing), checked before the run starts.
    print_fn : callable, default print

    Returns
    -------
    dict
        ``header``, ``rows`` and ``figures`` (the paths saved).

    Raises
    ------
    ValueError
        For an unknown name, or an `out_dir` where no figure can be saved.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of "
                         f"{', '.join(map(repr, EXPERIMENTS))}")
    _check_if_plotting(out_dir)
    result = _PARTS[name][0](quick=quick)
    # the table first: it stands even if saving the figure fails after the run
    print_fn(text_table(result["header"], result["rows"], left=0))
    figures = _save_figures(name, result, out_dir)
    if figures:
        print_fn("saved " + ", ".join(figures))
    elif pyplot_or_none() is None:
        print_fn("(install matplotlib for the figures: pip install matplotlib)")
    return {"header": result["header"], "rows": result["rows"], "figures": figures}
