"""The suite: for every (configuration, dtype), check agreement, then time the
reference, the lean NumPy baseline, scikit-learn and torch (when installed), and
fastnet side by side, and derive the report's figures (speedup over the reference,
"vs best" over the fastest of the others, the target, GFLOP/s, share of the BLAS
ceiling, memory)."""
import os
import platform
from typing import Any, Callable, Dict, Iterable, Optional

import numpy as np

import fastnet
from fastnet import reference
from fastnet.bench.agreement import check_agreement, check_lean_agreement
from fastnet.bench.configs import CONFIGS, Config, get_config
from fastnet.bench.report import format_row
from fastnet.bench.timing import (lean_time, matmul_peak, matmul_peak_for, sklearn_time,
                                   time_impl)
from fastnet.bench.torch_compare import torch_time


def machine_info() -> Dict[str, Any]:
    """What the figures were measured on.

    Returns
    -------
    dict
        ``cpu``, ``cores``, ``python``, ``numpy``, ``fastnet`` and
        ``openblas_threads`` (``OPENBLAS_NUM_THREADS``, or ``"default"``).
    """
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


def measure(config: Config, dtype: str, n: int, repeats: int, peak: float,
            torch: bool = True, sklearn: bool = True) -> Dict[str, Any]:
    """One row of the report: agreement first, then the timings side by side.

    The other implementations (reference, lean, sklearn, torch) run on
    :meth:`Config.reference_samples` samples, fastnet on ``n``; all figures are per
    sample or per call, medians in the same run.

    Parameters
    ----------
    config : Config
    dtype : str
    n : int
        fastnet's workload (:meth:`Config.samples`).
    repeats : int
    peak : float
        numpy's square-matmul GFLOP/s for this dtype (:func:`matmul_peak`).
    torch : bool, default True
        Time PyTorch too (skipped, ``torch_s`` None, when it is not installed).
    sklearn : bool, default True
        Time scikit-learn too (``sklearn_s`` None when it is not installed or cannot
        express the configuration).

    Returns
    -------
    dict
        The row, with the keys of the JSON report: the times ``reference_s``,
        ``lean_s``, ``sklearn_s``, ``torch_s``, ``fastnet_s`` (None: not measured);
        ``speedup`` (reference / fastnet); ``best_other`` and ``best_other_s`` (the
        fastest non-fastnet implementation and its time) and ``vs_best`` (its time /
        fastnet's); ``lean_blas_threads`` (1 when the lean baseline ran faster on one
        BLAS thread, :func:`~fastnet.bench.lean_time`, else None); ``target``
        (``{"kind", "value", "text"}``, see
        :class:`~fastnet.bench.Target`) and ``target_met`` (True, False, or
        None when the row lacks the figure); GFLOP/s, ceilings, memory, agreement.

    Raises
    ------
    AssertionError
        If fastnet disagrees with the reference or the lean baseline: nothing is
        timed then.
    """
    agree = check_agreement(config, dtype)
    agree_lean = check_lean_agreement(config, dtype)
    # the others are cut short where they are slow; the figures are per sample or call
    n_ref = config.reference_samples(n)
    others = {}
    others["reference"], mem_ref = time_impl(reference, config, dtype, n_ref, repeats)
    others["lean"], lean_threads = ((None, None) if agree_lean is None
                                    else lean_time(config, dtype, n_ref, repeats))
    others["sklearn"] = sklearn_time(config, dtype, n_ref, repeats) if sklearn else None
    others["torch"] = torch_time(config, dtype, n_ref, repeats) if torch else None
    t_fast, mem_fast = time_impl(fastnet, config, dtype, n, repeats)
    best = min((name for name in others if others[name] is not None), key=others.get)
    gflops = config.flops_per_sample / t_fast / 1e9 * config.rows_per_call
    shape_peak = matmul_peak_for(config, dtype)
    row = {
        "config": config.name, "title": config.title, "dtype": dtype, "unit": config.unit,
        "reference_s": others["reference"], "lean_s": others["lean"],
        "sklearn_s": others["sklearn"], "torch_s": others["torch"], "fastnet_s": t_fast,
        "speedup": others["reference"] / t_fast,
        "best_other": best, "best_other_s": others[best], "vs_best": others[best] / t_fast,
        "gflops": gflops, "peak_share": gflops / peak,
        "shape_peak_gflops": shape_peak,
        "shape_peak_share": None if shape_peak is None else gflops / shape_peak,
        "fastnet_peak_bytes": mem_fast, "reference_peak_bytes": mem_ref,
        "param_bytes": config.n_params * np.dtype(dtype).itemsize,
        "agreement": agree, "lean_agreement": agree_lean, "lean_blas_threads": lean_threads,
        "samples": n,
    }
    row["target"] = {"kind": config.target.kind, "value": config.target.value(dtype),
                     "text": config.target.describe(dtype)}
    row["target_met"] = config.target.met(row)
    return row


def run(configs: Optional[Iterable] = None, dtypes=("float32", "float64"), full: bool = False,
        repeats: Optional[int] = None, torch: bool = True, sklearn: bool = True,
        progress: Optional[Callable[[str], object]] = print) -> Dict[str, Any]:
    """Run the suite.

    Parameters
    ----------
    configs : iterable of str or Config, optional
        Names in :data:`CONFIGS` (or records); all of them by default.
    dtypes : tuple of str, default ("float32", "float64")
    full : bool, default False
        The full run: larger workloads, 7 repeats instead of 5, and a 2048 (not 1024)
        square matmul for the peak (the best of 5 measurements in both runs, taken
        before and after the rows: the better one is ``peak``).
    repeats : int, optional
        Overrides the number of repeats.
    torch : bool, default True
        Add the PyTorch column (when torch is installed).
    sklearn : bool, default True
        Add the scikit-learn column (when it is installed).
    progress : callable, optional
        Called with each formatted row as soon as it is measured; None for silence.

    Returns
    -------
    dict
        ``machine`` (:func:`machine_info`), ``mode`` (``"quick"`` or ``"full"``),
        ``peak`` (dtype -> GFLOP/s) and ``rows``, one dict per (config, dtype).
    """
    configs = [get_config(c) for c in (configs or CONFIGS)]
    repeats = repeats or (7 if full else 5)
    result = {"machine": machine_info(), "mode": "full" if full else "quick", "peak": {},
              "rows": []}
    size = 2048 if full else 1024
    for dtype in dtypes:
        result["peak"][dtype] = matmul_peak(dtype, size)
    for config in configs:
        n = config.samples(full)
        for dtype in dtypes:
            row = measure(config, dtype, n, repeats, result["peak"][dtype], torch=torch,
                          sklearn=sklearn)
            result["rows"].append(row)
            if progress:
                progress(format_row(row))
    # The peak again after the rows, the better of the two kept: on a shared machine
    # one measurement (itself the best of 5) was once half the other (float64 45
    # against 86 GFLOP/s, shares of 150-175%). The rows printed as they came keep the
    # first; the returned rows (the final table, the JSON) the better one.
    for dtype in dtypes:
        again = matmul_peak(dtype, size)
        if again > result["peak"][dtype]:
            result["peak"][dtype] = again
            for row in result["rows"]:
                if row["dtype"] == dtype:
                    row["peak_share"] = row["gflops"] / again
    return result
