"""The additional measurements of ``fastnet bench --full``: how time grows with the
data, sweeps of fits in threads, and the effect of the BLAS thread count."""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Sequence

import fastnet
from fastnet.bench.configs import CONFIGS, make_data
from fastnet.bench.timing import median_time, time_impl


def scaling(cfg_name: str = "A", sizes: Sequence[int] = (1000, 10000, 100000),
            dtype: str = "float32", repeats: int = 3) -> List[Dict]:
    """Seconds per epoch of fastnet at several data sizes: per-sample time should be
    flat (time per epoch linear in n).

    Parameters
    ----------
    cfg_name : str, default "A"
    sizes : sequence of int
        Samples per epoch.
    dtype : str, default "float32"
    repeats : int, default 3

    Returns
    -------
    list of dict
        ``config``, ``samples``, ``epoch_s``, ``per_sample_s`` per size.
    """
    config = CONFIGS[cfg_name]
    rows = []
    for n in sizes:
        seconds, _ = time_impl(fastnet, config, dtype, n, repeats)
        rows.append({"config": cfg_name, "samples": n, "epoch_s": seconds * n,
                     "per_sample_s": seconds})
    return rows


def sweep_throughput(models: int = 8, workers: Sequence[int] = (1, 2), n: int = 20000,
                     repeats: int = 3) -> List[Dict]:
    """Models trained per second when a sweep runs fits side by side in threads (fit
    releases the GIL): config A networks, one epoch of per-sample SGD each.

    Parameters
    ----------
    models : int, default 8
        Fits per sweep.
    workers : sequence of int, default (1, 2)
        Thread counts to compare.
    n : int, default 20000
        Samples per fit.
    repeats : int, default 3

    Returns
    -------
    list of dict
        ``workers``, ``models_per_s`` per thread count.
    """
    config = CONFIGS["A"]
    X, y = make_data(config, n, "float32")

    def one(seed):
        net = config.make_net(fastnet, "float32", seed=seed)
        net.fit(X, y, **config.fit_args())

    rows = []
    for w in workers:
        with ThreadPoolExecutor(w) as pool:
            run = lambda: list(pool.map(one, range(models)))  # noqa: E731
            run()
            seconds = median_time(run, repeats)
        rows.append({"workers": w, "models_per_s": models / seconds})
    return rows


def threads_compare(configs: Sequence[str] = ("B", "C", "D", "F"),
                    dtype: str = "float32") -> List[Dict]:
    """fastnet with 1 BLAS thread vs the default (2 here), each in a fresh process
    (the BLAS thread count is fixed when the library loads).

    Parameters
    ----------
    configs : sequence of str, default ("B", "C", "D", "F")
        The BLAS-bound configurations.
    dtype : str, default "float32"

    Returns
    -------
    list of dict
        ``config``, ``one_thread_s``, ``default_threads_s`` and ``gain`` (their ratio).
    """
    # only fastnet is timed in the child (its agreement is checked in the main table)
    code = ("import json, sys, fastnet\n"
            "from fastnet.bench.configs import CONFIGS\n"
            "from fastnet.bench.timing import time_impl\n"
            "names, dtype = sys.argv[1].split(','), sys.argv[2]\n"
            "print(json.dumps({c: time_impl(fastnet, CONFIGS[c], dtype, CONFIGS[c].samples(),"
            " 5)[0] for c in names}))\n")
    out = {}
    for threads in ("1", None):
        env = dict(os.environ)
        if threads:
            env["OPENBLAS_NUM_THREADS"] = threads
        else:
            env.pop("OPENBLAS_NUM_THREADS", None)
        child = subprocess.run([sys.executable, "-c", code, ",".join(configs), dtype], env=env,
                               check=True, stdout=subprocess.PIPE, text=True)
        out[threads or "default"] = json.loads(child.stdout.strip().splitlines()[-1])
    return [{"config": c, "one_thread_s": out["1"][c], "default_threads_s": out["default"][c],
             "gain": out["1"][c] / out["default"][c]} for c in configs]
