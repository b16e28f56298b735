"""Command line: ``fastnet [demo | bench | experiment NAME]`` (or ``python -m fastnet ...``).

demo (the default) trains the same networks with fastnet and with its NumPy
reference on built-in data, and prints a table: time, final loss, score, speedup
and how far apart the two sets of trained weights are.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import fastnet
from fastnet import datasets
from fastnet import reference
from fastnet._report import text_table


def _tasks(quick):
    n = 2000 if quick else 10000
    Xs, ys = datasets.two_spirals(n, seed=0)
    Xr, yr = datasets.sine(n, seed=0)
    return [
        # name, data, MLP arguments, fit arguments
        ("spirals 2-64-64-2 relu softmax, batch 1", (Xs, ys),
         dict(layer_sizes=[2, 64, 64, 2], activation="relu", output="softmax"),
         dict(epochs=3, batch_size=1, learning_rate=0.01)),
        ("spirals 2-64-64-2 relu softmax, batch 32", (Xs, ys),
         dict(layer_sizes=[2, 64, 64, 2], activation="relu", output="softmax"),
         dict(epochs=10, batch_size=32, learning_rate=0.1, momentum=0.9)),
        ("sine 1-32-1 tanh linear, batch 1", (Xr, yr),
         dict(layer_sizes=[1, 32, 1], activation="tanh", output="linear"),
         dict(epochs=3, batch_size=1, learning_rate=0.01)),
    ]


def demo(quick=True):
    rows = []
    for name, (X, y), net_args, fit_args in _tasks(quick):
        for dtype in ("float32", "float64"):
            results = {}
            for impl in (fastnet, reference):
                net = impl.MLP(**net_args, dtype=dtype, seed=0)
                start = time.perf_counter()
                history = net.fit(X, y, **fit_args)
                results[impl] = (time.perf_counter() - start, history["loss"][-1],
                                 net.score(X, y), net)
            t_fast, loss, score, net_fast = results[fastnet]
            t_ref, _, score_ref, net_ref = results[reference]
            diff = max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))
                       for a, b in zip(net_fast.weights, net_ref.weights))
            rows.append((name, dtype, t_ref, t_fast, t_ref / t_fast, loss, score, score_ref, diff))
    header = ("task", "dtype", "reference s", "fastnet s", "speedup", "final loss",
              "score", "ref score", "max rel diff")
    print(text_table(header, [(r[0], r[1], f"{r[2]:.3f}", f"{r[3]:.3f}", f"{r[4]:.1f}x",
                               f"{r[5]:.4f}", f"{r[6]:.3f}", f"{r[7]:.3f}", f"{r[8]:.1e}")
                              for r in rows], left=2))
    print("\nscore: training accuracy (spirals) or R^2 (sine); max rel diff: largest "
          "difference between the two implementations' trained weights, relative to "
          "the largest weight.")
    return rows


def _bench_sklearn(args):
    """``fastnet bench --sklearn``: print the table; exit status 1 if a row disagreed."""
    from fastnet import bench
    from fastnet.bench import sklearn_compare
    dtypes = (args.dtype,) if args.dtype else ("float64", "float32")
    command = " ".join(["fastnet bench --sklearn"] + (["--full"] if args.full else [])
                       + ([f"--only {','.join(args.only)}"] if args.only else [])
                       + ([f"--dtype {args.dtype}"] if args.dtype else [])
                       + ([f"--blas-threads {args.blas_threads}"]
                          if args.blas_threads is not None else []))
    result = bench.compare_sklearn(args.only, dtypes, repeats=7 if args.full else 5,
                                   blas_threads=args.blas_threads, command=command,
                                   progress=lambda line: print(line, flush=True))
    print()
    print(bench.format_sklearn_table(result))
    if args.json:
        bench.save_json(result, args.json)
    return 1 if sklearn_compare.any_disagreement(result) else 0


DESCRIPTION = """\
fastnet: multilayer perceptrons trained by compiled kernels, beside a pure-NumPy
reference twin that computes the same steps.

commands:
  demo        (the default) train the same networks with fastnet and with the
              reference on built-in data; print time, loss, score and speedup
  bench       time fastnet against the reference (and PyTorch, scikit-learn)
  experiment  the lecture's depth experiments: parity, zigzag, depth

Run "fastnet COMMAND --help" for a command's options."""

EXAMPLES = """\
examples:
  fastnet demo --full
  fastnet bench --only A,E --dtype float32 --json results.json
  fastnet bench --sklearn --only digits,iris
  fastnet experiment depth --quick --out figures"""


def _bench_epilog():
    """The configurations of ``fastnet bench``, read from their one table."""
    from fastnet.bench.configs import CONFIGS
    from fastnet.bench.sklearn_compare import DATASETS
    lines = ["configurations (--only A,B,...; each timed in float32 and float64):"]
    for c in CONFIGS.values():
        what = (f"target: {c.target.describe('float32')} (float32), "
                f"{c.target.describe('float64')} (float64)")
        if c.activation not in c.title:
            what = f"{c.activation}, {c.output}; {what}"
        lines.append(f"  {c.name}  {c.title} ({what})")
    lines += ["", "data sets of --sklearn (--only a,b,...): " + ", ".join(DATASETS)]
    return "\n".join(lines)


def _parser():
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="fastnet", description=DESCRIPTION,
                                     epilog=EXAMPLES, formatter_class=formatter)
    parser.add_argument("--version", action="version",
                        version=f"fastnet {fastnet.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,bench,experiment}")
    p_demo = sub.add_parser("demo", help="train with fastnet and the reference, compare",
                            description="Train the same networks with fastnet and with its "
                                        "NumPy reference on built-in data, and print a table.")
    p_demo.add_argument("--full", action="store_true", help="5x more data")
    p_bench = sub.add_parser("bench", help="the benchmark suite: fastnet vs the reference",
                             description="Time fastnet against its NumPy reference (and "
                                         "PyTorch when installed), after checking\nthat the "
                                         "two agree on each configuration.",
                             epilog=_bench_epilog(), formatter_class=formatter)
    mode = p_bench.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="(default) under a minute")
    mode.add_argument("--full", action="store_true", help="larger runs, more repeats")
    p_bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p_bench.add_argument("--only", metavar="A,B,...",
                         help="run only these configurations (listed below)")
    p_bench.add_argument("--dtype", choices=["float32", "float64"], help="only this dtype")
    p_bench.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    p_bench.add_argument("--sklearn", action="store_true",
                         help="instead: fastnet.sklearn vs scikit-learn's MLPClassifier/"
                              "MLPRegressor, default parameters, on scikit-learn's data sets "
                              "(--only: data set names; --full: 7 repeats instead of 5)")
    p_bench.add_argument("--blas-threads", type=int, metavar="N",
                         help="with --sklearn: limit numpy's and scipy's BLAS to N threads "
                              "during the run (threadpoolctl); default: as they are")
    p_exp = sub.add_parser("experiment", help="the lecture's depth experiments",
                           description="Run one of the lecture's depth experiments, print "
                                       "its table and, with matplotlib installed, save a "
                                       "PNG of it.")
    p_exp.add_argument("name", choices=["parity", "zigzag", "depth"])
    p_exp.add_argument("--quick", action="store_true", help="reduced sizes, seconds")
    p_exp.add_argument("--out", default=".", metavar="DIR",
                       help="folder for the PNGs, made if missing (default: here)")
    return parser, p_bench, p_exp


def _writable_file(path):
    """Why `path` cannot be written as a new or replaced file, or None if it can."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{path!r} is a folder"
    if not os.path.isdir(folder):
        return f"no folder {folder!r} to write {path!r} in"
    try:
        # a real write, not os.access: it also answers for read-only mounts
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return f"cannot write in {folder!r} ({e.strerror})"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"{path!r} is not writable"
    return None


def _names(text, known, case):
    """The comma-separated names of --only in `case`, checked against `known`:
    (names, None), or (None, the first unknown or empty name)."""
    names = [case(n.strip()) for n in text.split(",")]
    for n in names:
        if n not in known:
            return None, n
    return names, None


def _check_bench_args(args, p_bench):
    """Every argument mistake of ``fastnet bench`` as a usage error (exit status 2),
    before anything is run: a benchmark that ends in a traceback loses its results."""
    from fastnet.bench.configs import CONFIGS
    from fastnet.bench.sklearn_compare import DATASETS
    if args.only is not None:
        known, case, what = ((DATASETS, str.lower, "data set") if args.sklearn
                             else (CONFIGS, str.upper, "configuration"))
        names, bad = _names(args.only, known, case)
        if names is None:
            p_bench.error(f"argument --only: unknown {what} {bad!r} "
                          f"(choose from {', '.join(known)})")
        args.only = list(dict.fromkeys(names))      # in the given order, once each
    if args.blas_threads is not None:
        if not args.sklearn:
            p_bench.error("argument --blas-threads: only with --sklearn")
        if args.blas_threads < 1:
            p_bench.error(f"argument --blas-threads: must be at least 1, "
                          f"not {args.blas_threads}")
    if args.json is not None:
        why = _writable_file(args.json)
        if why:
            p_bench.error(f"argument --json: {why}")


def main(argv=None):
    """The ``fastnet`` command; returns the exit status (a usage error exits with 2)."""
    parser, p_bench, p_exp = _parser()
    args = parser.parse_args(argv)
    if args.command in (None, "demo"):
        demo(quick=not getattr(args, "full", False))
    elif args.command == "experiment":
        from fastnet import experiments
        from fastnet.plotting import pyplot_or_none
        if pyplot_or_none() is not None:         # without matplotlib nothing is saved
            try:
                experiments.check_out_dir(args.out)
            except ValueError as e:
                p_exp.error(f"argument --out: {e}")
        experiments.run(args.name, quick=args.quick, out_dir=args.out)
    elif args.command == "bench":
        _check_bench_args(args, p_bench)
        if args.sklearn:
            return _bench_sklearn(args)
        from fastnet import bench
        dtypes = (args.dtype,) if args.dtype else ("float32", "float64")
        result = bench.run(args.only, dtypes, full=args.full, torch=not args.no_torch,
                           progress=lambda line: print(line, flush=True))
        if args.full and args.only is None:
            print("scaling and BLAS threads ...", flush=True)
            result["scaling"] = bench.scaling()
            result["threads"] = bench.threads_compare()
            result["sweep"] = bench.sweep_throughput()
        print()
        print(bench.format_table(result))
        print(bench.format_extras(result))
        if args.json:
            bench.save_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
