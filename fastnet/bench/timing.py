"""Timing: medians of repeats after a warm-up, and numpy's matmul as the BLAS ceiling.

The machine is shared and noisy, so every figure is a median, and the figures that
are compared (fastnet, reference, torch) are measured side by side in one run.
"""
import time
import tracemalloc
from typing import Callable, Optional, Tuple

import numpy as np

from fastnet.bench.configs import Config, make_data


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fn`` (no warm-up).

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeats : int

    Returns
    -------
    float
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_impl(impl, config: Config, dtype: str, n: int, repeats: int) -> Tuple[float, int]:
    """Time one implementation on one configuration.

    ``"fit"``: one epoch over ``n`` samples. ``"predict"`` with one row: ``n``
    calls in a loop (Python call to result). ``"predict"`` with many rows: one call.

    Parameters
    ----------
    impl : module
        ``fastnet`` or ``fastnet.reference``.
    config : Config
    dtype : str
    n : int
        Samples (fit) or calls (one-row predict); unused for many-row predict.
    repeats : int
        The median of this many runs is taken, after one warm-up run.

    Returns
    -------
    seconds : float
        Per sample (fit) or per call (predict).
    peak_bytes : int
        Peak of new allocations during one run (tracemalloc).
    """
    net = config.make_net(impl, dtype, seed=0)
    if config.kind == "fit":
        X, y = make_data(config, n, dtype)
        args = config.fit_args()
        run = lambda: net.fit(X, y, **args)  # noqa: E731
        per = n
    else:
        X, _ = make_data(config, config.rows, dtype)
        if config.rows == 1:
            calls = n

            def run():
                for _ in range(calls):
                    net.predict(X)
            per = n
        else:
            run = lambda: net.predict(X)  # noqa: E731
            per = 1
    run()  # warm-up: workspaces, BLAS threads, caches
    seconds = median_time(run, repeats) / per
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    if config.kind == "fit" or config.rows > 1:
        run()
    else:
        net.predict(X)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return seconds, peak


def matmul_peak(dtype: str, size: int, repeats: int = 5) -> float:
    """GFLOP/s of numpy's matmul on (size, size) matrices: the machine's BLAS limit.

    Parameters
    ----------
    dtype : str
    size : int
    repeats : int, default 5

    Returns
    -------
    float
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    a @ b
    seconds = median_time(lambda: a @ b, repeats)
    return 2 * size ** 3 / seconds / 1e9


def matmul_peak_for(config: Config, dtype: str, repeats: int = 5) -> Optional[float]:
    """GFLOP/s numpy's matmul reaches on exactly this configuration's products: the
    BLAS ceiling for it.

    Parameters
    ----------
    config : Config
    dtype : str
    repeats : int, default 5

    Returns
    -------
    float or None
        None for the one-sample-at-a-time configurations, which have no GEMM.
    """
    if config.one_at_a_time:
        return None
    rng = np.random.default_rng(0)
    flops = seconds = 0.0
    for m, k, n in config.gemm_shapes():
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        a @ b
        seconds += median_time(lambda: a @ b, repeats)
        flops += 2.0 * m * n * k
    return flops / seconds / 1e9
