"""The suite: for every (configuration, dtype), check agreement, then time the
reference, fastnet and (optionally) torch side by side, and derive the report's
figures (speedup, GFLOP/s, share of the BLAS peak, memory)."""
import os
import platform
from typing import Any, Callable, Dict, Iterable, Optional

import numpy as np

import fastnet
from fastnet import reference
from fastnet.bench.agreement import check_agreement
from fastnet.bench.configs import CONFIGS, Config, get_config
from fastnet.bench.report import format_row
from fastnet.bench.timing import matmul_peak, matmul_peak_for, time_impl
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
            torch: bool = True) -> Dict[str, Any]:
    """One row of the report: agreement first, then the timings side by side.

    Parameters
    ----------
    config : Config
    dtype : str
    n : int
        fastnet's workload (:meth:`Config.samples`); the reference and torch get
        :meth:`Config.reference_samples` of it.
    repeats : int
    peak : float
        numpy's square-matmul GFLOP/s for this dtype (:func:`matmul_peak`).
    torch : bool, default True
        Time PyTorch too (skipped, ``torch_s`` None, when it is not installed).

    Returns
    -------
    dict
        The row, with the keys of the JSON report.

    Raises
    ------
    AssertionError
        If fastnet and the reference disagree: nothing is timed then.
    """
    agree = check_agreement(config, dtype)
    # reference runs are cut short where they are slow; the ratio is per sample
    n_ref = config.reference_samples(n)
    t_ref, mem_ref = time_impl(reference, config, dtype, n_ref, repeats)
    t_fast, mem_fast = time_impl(fastnet, config, dtype, n, repeats)
    t_torch = torch_time(config, dtype, n_ref, repeats) if torch else None
    gflops = config.flops_per_sample / t_fast / 1e9 * config.rows_per_call
    shape_peak = matmul_peak_for(config, dtype)
    return {
        "config": config.name, "title": config.title, "dtype": dtype,
        "reference_s": t_ref, "fastnet_s": t_fast, "torch_s": t_torch,
        "speedup": t_ref / t_fast, "target": config.target,
        "gflops": gflops, "peak_share": gflops / peak,
        "shape_peak_gflops": shape_peak,
        "shape_peak_share": None if shape_peak is None else gflops / shape_peak,
        "fastnet_peak_bytes": mem_fast, "reference_peak_bytes": mem_ref,
        "param_bytes": config.n_params * np.dtype(dtype).itemsize,
        "agreement": agree, "samples": n,
    }


def run(configs: Optional[Iterable] = None, dtypes=("float32", "float64"), full: bool = False,
        repeats: Optional[int] = None, torch: bool = True,
        progress: Optional[Callable[[str], object]] = print) -> Dict[str, Any]:
    """Run the suite.

    Parameters
    ----------
    configs : iterable of str or Config, optional
        Names in :data:`CONFIGS` (or records); all of them by default.
    dtypes : tuple of str, default ("float32", "float64")
    full : bool, default False
        The full run: larger workloads, 7 repeats instead of 5, and a 2048 (not 1024)
        square matmul for the peak.
    repeats : int, optional
        Overrides the number of repeats.
    torch : bool, default True
        Add the PyTorch column (when torch is installed).
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
    for dtype in dtypes:
        result["peak"][dtype] = matmul_peak(dtype, 2048 if full else 1024)
    for config in configs:
        n = config.samples(full)
        for dtype in dtypes:
            row = measure(config, dtype, n, repeats, result["peak"][dtype], torch=torch)
            result["rows"].append(row)
            if progress:
                progress(format_row(row))
    return result
