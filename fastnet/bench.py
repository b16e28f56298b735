"""The benchmark suite behind ``fastnet bench``: fastnet against its NumPy reference.

Every configuration is timed for both implementations in the same run (this machine
is shared and noisy: each figure is a median of repeats, and only ratios measured
side by side are compared). Before anything is timed, the two implementations are
checked to agree on that configuration.

Configurations (float32 is the target dtype; float64 is reported too):

==  ========================================  ===============================
A   per-sample SGD, 64-32-10 relu softmax     the lecture's algorithm
B   minibatch 32, 64-128-128-10
C   minibatch 128, 784-256-256-10
D   minibatch 256, 784-1024-1024-10           BLAS-bound: compared to matmul
E   predict one sample, 64-32-10              Python call to result
F   predict 10,000 rows, 784-256-256-10
G   per-sample SGD, 1-64-64-1 tanh linear     regression
==  ========================================  ===============================
"""
import json
import os
import platform
import time
import tracemalloc

import numpy as np

import fastnet
from fastnet import reference

CONFIGS = {
    "A": dict(title="per-sample SGD 64-32-10", sizes=[64, 32, 10], activation="relu",
              output="softmax", kind="fit", batch_size=1, n=(4000, 20000), target=60),
    "B": dict(title="minibatch 32, 64-128-128-10", sizes=[64, 128, 128, 10],
              activation="relu", output="softmax", kind="fit", batch_size=32,
              n=(8192, 32768), target=3),
    "C": dict(title="minibatch 128, 784-256-256-10", sizes=[784, 256, 256, 10],
              activation="relu", output="softmax", kind="fit", batch_size=128,
              n=(2048, 8192), target=1.1),
    "D": dict(title="minibatch 256, 784-1024-1024-10", sizes=[784, 1024, 1024, 10],
              activation="relu", output="softmax", kind="fit", batch_size=256,
              n=(1024, 4096), target=0.95),
    "E": dict(title="predict one sample, 64-32-10", sizes=[64, 32, 10], activation="relu",
              output="softmax", kind="predict", rows=1, n=(3000, 20000), target=10),
    "F": dict(title="predict 10,000 rows, 784-256-256-10", sizes=[784, 256, 256, 10],
              activation="relu", output="softmax", kind="predict", rows=10000, n=(5, 20),
              target=1.0),
    "G": dict(title="per-sample SGD 1-64-64-1 tanh linear", sizes=[1, 64, 64, 1],
              activation="tanh", output="linear", kind="fit", batch_size=1,
              n=(4000, 20000), target=40),
}

AGREE_TOL = {"float32": 1e-4, "float64": 1e-9}


def n_params(sizes):
    return sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1))


def flops_per_sample(cfg):
    """Multiply-adds counted as 2 flops: forward 2 per weight; training adds the
    weight gradient (2) and the input gradient (2, not for the first layer)."""
    sizes = cfg["sizes"]
    weights = [sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)]
    if cfg["kind"] == "predict":
        return 2 * sum(weights)
    return 2 * sum(weights) + 2 * sum(weights) + 2 * sum(weights[1:])


def make_data(cfg, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, cfg["sizes"][0])).astype(dtype)
    if cfg["output"] == "softmax":
        y = rng.integers(0, cfg["sizes"][-1], n)
    else:
        y = np.sin(X.sum(axis=1)).astype(dtype)
    return X, y


def _fit_args(cfg):
    return dict(batch_size=cfg["batch_size"], learning_rate=0.01 if cfg["batch_size"] == 1 else 0.05)


def check_agreement(cfg, dtype):
    """Train both implementations from the same seed on the same data and compare.
    Returns the largest relative weight difference; raises if over tolerance."""
    n = 256
    X, y = make_data(cfg, n, dtype, seed=1)
    nets = [impl.MLP(cfg["sizes"], cfg["activation"], cfg["output"], dtype=dtype, seed=7)
            for impl in (fastnet, reference)]
    if cfg["kind"] == "fit":
        for net in nets:
            net.fit(X, y, epochs=2, **_fit_args(cfg))
    out = [net.forward(X[:64]) for net in nets]
    diffs = [float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))
             for a, b in zip(nets[0].weights + nets[0].biases + [out[0]],
                             nets[1].weights + nets[1].biases + [out[1]])]
    worst = max(diffs)
    if not worst <= AGREE_TOL[dtype]:
        raise AssertionError(f"fastnet and reference disagree on this configuration "
                             f"({dtype}): max relative difference {worst:.3g}")
    return worst


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_impl(impl, cfg, dtype, n, repeats):
    """(seconds per sample or per call, peak extra bytes during one run)."""
    net = impl.MLP(cfg["sizes"], cfg["activation"], cfg["output"], dtype=dtype, seed=0)
    if cfg["kind"] == "fit":
        X, y = make_data(cfg, n, dtype)
        args = _fit_args(cfg)
        run = lambda: net.fit(X, y, **args)  # noqa: E731
        per = n
    else:
        X, _ = make_data(cfg, cfg["rows"], dtype)
        if cfg["rows"] == 1:
            calls = n

            def run():
                for _ in range(calls):
                    net.predict(X)
            per = n
        else:
            run = lambda: net.predict(X)  # noqa: E731
            per = 1
    run()  # warm-up: workspaces, BLAS threads, caches
    seconds = _median_time(run, repeats) / per
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    if cfg["kind"] == "fit" or cfg["rows"] > 1:
        run()
    else:
        net.predict(X)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return seconds, peak


def matmul_peak(dtype, size, repeats=5):
    """GFLOP/s of numpy's matmul on (size, size) matrices: the machine's BLAS limit."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    a @ b
    seconds = _median_time(lambda: a @ b, repeats)
    return 2 * size ** 3 / seconds / 1e9


def gemm_shapes(cfg):
    """The (m, k, n) matrix products one batch (or one predict call) performs."""
    sizes = cfg["sizes"]
    rows = cfg.get("rows") or cfg["batch_size"]
    shapes = []
    for l in range(len(sizes) - 1):
        d, h = sizes[l], sizes[l + 1]
        shapes.append((rows, d, h))                  # forward: x @ W^T
        if cfg["kind"] == "fit":
            shapes.append((h, rows, d))              # weight gradient: dout^T @ x
            if l > 0:
                shapes.append((rows, h, d))          # input gradient: dout @ W
    return shapes


def matmul_peak_for(cfg, dtype, repeats=5):
    """GFLOP/s numpy's matmul reaches on exactly this configuration's products: the
    BLAS ceiling for it (None for the per-sample configurations, which have no GEMM)."""
    if cfg["kind"] == "fit" and cfg["batch_size"] == 1 or cfg.get("rows") == 1:
        return None
    rng = np.random.default_rng(0)
    flops = seconds = 0.0
    for m, k, n in gemm_shapes(cfg):
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        a @ b
        seconds += _median_time(lambda: a @ b, repeats)
        flops += 2.0 * m * n * k
    return flops / seconds / 1e9


def _torch_time(cfg, dtype, n, repeats):
    """The same work in PyTorch (CPU, eager), when torch is installed; else None."""
    try:
        import torch
    except ImportError:
        return None
    torch_dtype = torch.float32 if dtype == "float32" else torch.float64
    sizes = cfg["sizes"]
    layers = []
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[cfg["activation"]]
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers).to(torch_dtype)
    X, y = make_data(cfg, n if cfg["kind"] == "fit" else cfg["rows"], dtype)
    Xt = torch.from_numpy(X)
    if cfg["kind"] == "fit":
        yt = torch.from_numpy(y) if cfg["output"] == "softmax" else torch.from_numpy(y)[:, None]
        opt = torch.optim.SGD(model.parameters(), lr=_fit_args(cfg)["learning_rate"])
        loss_fn = (torch.nn.CrossEntropyLoss() if cfg["output"] == "softmax"
                   else lambda a, b: ((a - b) ** 2).sum(dim=1).mean())
        bs = cfg["batch_size"]

        def run():
            perm = torch.randperm(n)
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                opt.zero_grad()
                loss_fn(model(Xt[idx]), yt[idx]).backward()
                opt.step()
        per = n
    elif cfg["rows"] == 1:
        def run():
            with torch.no_grad():
                for _ in range(n):
                    model(Xt).argmax(dim=1).numpy()
        per = n
    else:
        def run():
            with torch.no_grad():
                model(Xt).argmax(dim=1).numpy()
        per = 1
    run()
    return _median_time(run, repeats) / per


def run(configs=None, dtypes=("float32", "float64"), full=False, repeats=None, torch=True,
        progress=print):
    """Run the suite; returns a dict with the machine, the matmul peaks and one row
    per (config, dtype)."""
    configs = list(configs or CONFIGS)
    repeats = repeats or (7 if full else 5)
    result = {"machine": machine_info(), "mode": "full" if full else "quick", "peak": {},
              "rows": []}
    for dtype in dtypes:
        result["peak"][dtype] = matmul_peak(dtype, 2048 if full else 1024)
    for name in configs:
        cfg = CONFIGS[name]
        n = cfg["n"][1 if full else 0]
        for dtype in dtypes:
            agree = check_agreement(cfg, dtype)
            # reference runs are cut short where they are slow; the ratio is per sample
            n_ref = max(n // 4, 256) if cfg["kind"] == "fit" and cfg["batch_size"] == 1 else n
            if cfg["kind"] == "predict" and cfg["rows"] == 1:
                n_ref = max(n // 4, 500)
            t_ref, mem_ref = time_impl(reference, cfg, dtype, n_ref, repeats)
            t_fast, mem_fast = time_impl(fastnet, cfg, dtype, n, repeats)
            t_torch = _torch_time(cfg, dtype, n_ref, repeats) if torch else None
            gflops = flops_per_sample(cfg) / t_fast / 1e9 * (cfg.get("rows", 1))
            shape_peak = matmul_peak_for(cfg, dtype)
            row = {
                "config": name, "title": cfg["title"], "dtype": dtype,
                "reference_s": t_ref, "fastnet_s": t_fast, "torch_s": t_torch,
                "speedup": t_ref / t_fast, "target": cfg["target"],
                "gflops": gflops, "peak_share": gflops / result["peak"][dtype],
                "shape_peak_gflops": shape_peak,
                "shape_peak_share": None if shape_peak is None else gflops / shape_peak,
                "fastnet_peak_bytes": mem_fast, "reference_peak_bytes": mem_ref,
                "param_bytes": n_params(cfg["sizes"]) * np.dtype(dtype).itemsize,
                "agreement": agree, "samples": n,
            }
            result["rows"].append(row)
            if progress:
                progress(format_row(row))
    return result


def scaling(cfg_name="A", sizes=(1000, 10000, 100000), dtype="float32", repeats=3):
    """Seconds per epoch of fastnet at several data sizes: per-sample time should be
    flat (time per epoch linear in n)."""
    cfg = CONFIGS[cfg_name]
    rows = []
    for n in sizes:
        seconds, _ = time_impl(fastnet, cfg, dtype, n, repeats)
        rows.append({"config": cfg_name, "samples": n, "epoch_s": seconds * n,
                     "per_sample_s": seconds})
    return rows


def sweep_throughput(models=8, workers=(1, 2), n=20000, repeats=3):
    """Models trained per second when a sweep runs fits side by side in threads (fit
    releases the GIL): config A networks, one epoch of per-sample SGD each."""
    from concurrent.futures import ThreadPoolExecutor
    cfg = CONFIGS["A"]
    X, y = make_data(cfg, n, "float32")

    def one(seed):
        net = fastnet.MLP(cfg["sizes"], cfg["activation"], cfg["output"], seed=seed)
        net.fit(X, y, **_fit_args(cfg))

    rows = []
    for w in workers:
        with ThreadPoolExecutor(w) as pool:
            run = lambda: list(pool.map(one, range(models)))  # noqa: E731
            run()
            seconds = _median_time(run, repeats)
        rows.append({"workers": w, "models_per_s": models / seconds})
    return rows


def threads_compare(configs=("B", "C", "D", "F"), dtype="float32"):
    """fastnet with 1 BLAS thread vs the default (2 here), each in a fresh process
    (the BLAS thread count is fixed when the library loads)."""
    import subprocess
    import sys
    import tempfile
    out = {}
    for threads in ("1", None):
        env = dict(os.environ)
        if threads:
            env["OPENBLAS_NUM_THREADS"] = threads
        else:
            env.pop("OPENBLAS_NUM_THREADS", None)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            subprocess.run([sys.executable, "-m", "fastnet", "bench", "--only", ",".join(configs),
                            "--dtype", dtype, "--no-torch", "--json", path], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            with open(path) as f:
                result = json.load(f)
        out[threads or "default"] = {r["config"]: r["fastnet_s"] for r in result["rows"]}
    return [{"config": c, "one_thread_s": out["1"][c], "default_threads_s": out["default"][c],
             "gain": out["1"][c] / out["default"][c]} for c in configs]


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "fastnet": fastnet.__version__,
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}


def _fmt_time(seconds, per):
    return f"{seconds * 1e6:.3g} us/{per}" if seconds < 1e-3 else f"{seconds * 1e3:.3g} ms/{per}"


HEADER = ("config", "dtype", "reference", "fastnet", "torch", "speedup", "target",
          "GFLOP/s", "% peak", "% shape peak", "extra mem")


def format_row(row):
    cfg = CONFIGS[row["config"]]
    per = "call" if cfg["kind"] == "predict" else "sample"
    met = "" if row["dtype"] != "float32" else (" ok" if row["speedup"] >= row["target"] else " MISSED")
    cells = (f'{row["config"]} {row["title"]}', row["dtype"], _fmt_time(row["reference_s"], per),
             _fmt_time(row["fastnet_s"], per),
             "-" if row["torch_s"] is None else _fmt_time(row["torch_s"], per),
             f'{row["speedup"]:.1f}x', f'>={row["target"]}x{met}', f'{row["gflops"]:.1f}',
             f'{100 * row["peak_share"]:.0f}%',
             "-" if row["shape_peak_share"] is None else f'{100 * row["shape_peak_share"]:.0f}%',
             f'{row["fastnet_peak_bytes"] / 2**20:.2f} MiB')
    return " | ".join(cells)


def format_table(result):
    lines = [f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; "
             f"numpy matmul peak: " + ", ".join(
                 f"{dt} {p:.0f} GFLOP/s" for dt, p in result["peak"].items()),
             "| " + " | ".join(HEADER) + " |",
             "|" + "---|" * len(HEADER)]
    lines += ["| " + format_row(r) + " |" for r in result["rows"]]
    lines.append("speedup = reference / fastnet, medians in the same run; % peak: fastnet's "
                 "GFLOP/s over numpy's square matmul above; % shape peak: over numpy's "
                 "matmul on this configuration's own products (the BLAS ceiling for it); "
                 "extra mem: peak of new allocations during one run (tracemalloc).")
    return "\n".join(lines)


def format_extras(result):
    lines = []
    if result.get("scaling"):
        lines.append("\nscaling (config A, float32): time per epoch vs samples")
        for r in result["scaling"]:
            lines.append(f"  n = {r['samples']:>7}: {r['epoch_s']:.4f} s/epoch, "
                         f"{r['per_sample_s'] * 1e6:.3f} us/sample")
    if result.get("sweep"):
        lines.append("\nsweep throughput (config A fits in threads; fit releases the GIL)")
        for r in result["sweep"]:
            lines.append(f"  {r['workers']} worker(s): {r['models_per_s']:.1f} models/s")
    if result.get("threads"):
        lines.append("\nBLAS threads (fastnet, float32): 1 thread vs default")
        for r in result["threads"]:
            lines.append(f"  {r['config']}: {r['one_thread_s'] * 1e6:.3g} us -> "
                         f"{r['default_threads_s'] * 1e6:.3g} us ({r['gain']:.2f}x)")
    return "\n".join(lines)


def save_json(result, path):
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
