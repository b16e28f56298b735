"""Timing: medians of repeats after a warm-up, and numpy's matmul as the BLAS ceiling.

The machine is shared and noisy, so every figure of an implementation is a median,
and the figures that are compared (fastnet, reference, lean NumPy, scikit-learn,
torch) are measured side by side in one run. A ceiling is the opposite question (how
fast can numpy's matmul go), so it is the best of several measurements, not a median:
noise only ever makes a run slower, and a ceiling measured low puts fastnet "above
100%" of it.
"""
import time
import tracemalloc
import warnings
from typing import Callable, Optional, Tuple

import numpy as np

from fastnet.bench import lean
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


def best_time(fn: Callable[[], object], repeats: int, min_seconds: float = 2e-3) -> float:
    """Fastest seconds per call of ``fn``, over ``repeats`` measurements, each of a
    loop of calls lasting at least about ``min_seconds`` (so that a call of a few
    microseconds is not lost in the clock's and the loop's own cost).

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeats : int
    min_seconds : float, default 2e-3

    Returns
    -------
    float
    """
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_seconds / once))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def predict_runner(predict: Callable[[np.ndarray], object], X: np.ndarray, config: Config,
                   n: int) -> Tuple[Callable[[], None], int]:
    """(run, per) timing a predict configuration: with one row, ``n`` calls in a loop
    (Python call to result), per call; with many rows, one call.

    Parameters
    ----------
    predict : callable
        The implementation's ``predict``.
    X : ndarray of shape (config.rows, d)
    config : Config
    n : int
        Calls for one-row predict.

    Returns
    -------
    run : callable
    per : int
        What one run's time is divided by.
    """
    if config.rows == 1:
        def run():
            for _ in range(n):
                predict(X)
        return run, n
    return (lambda: predict(X)), 1


def time_impl(impl, config: Config, dtype: str, n: int, repeats: int) -> Tuple[float, int]:
    """Time one implementation on one configuration.

    ``"fit"``: one epoch over ``n`` samples. ``"predict"`` with one row: ``n``
    calls in a loop (Python call to result). ``"predict"`` with many rows: one call.

    Parameters
    ----------
    impl : module
        ``fastnet``, ``fastnet.reference`` or ``fastnet.bench.lean``
        (:meth:`Config.make_net`).
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
        run, per = predict_runner(net.predict, X, config, n)
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


def lean_time(config: Config, dtype: str, n: int, repeats: int) -> Tuple[float, Optional[int]]:
    """Seconds per sample (or call) of the lean NumPy baseline, with the better of
    numpy's default BLAS threads and one thread where there are matrix products.

    fastnet itself runs small products on one BLAS thread (fastnet._threads); on a
    busy machine numpy's second OpenBLAS thread can make a 32-row product many times
    slower, and the strongest baseline is the one with the better setting. The
    setting is changed with threadpoolctl, when installed (a dependency of
    scikit-learn); without it only the default is timed.

    Parameters
    ----------
    config : Config
    dtype : str
    n : int
        Samples (fit) or calls (one-row predict).
    repeats : int

    Returns
    -------
    seconds : float
    blas_threads : int or None
        1 when one BLAS thread was faster, None for numpy's default.
    """
    seconds = time_impl(lean, config, dtype, n, repeats)[0]
    if config.one_at_a_time:
        return seconds, None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return seconds, None
    with threadpool_limits(1, user_api="blas"):
        one = time_impl(lean, config, dtype, n, repeats)[0]
    return (one, 1) if one < seconds else (seconds, None)


def matmul_peak(dtype: str, size: int, repeats: int = 5) -> float:
    """GFLOP/s of numpy's matmul on (size, size) matrices: the machine's BLAS limit,
    the best of ``repeats`` measurements (:func:`~fastnet.bench.best_time`), with numpy's default BLAS
    threads or one, whichever is faster.

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
    out = np.empty((size, size), dtype)
    return _best_blas_setting(
        lambda: 2 * size ** 3 / best_time(lambda: np.matmul(a, b, out=out), repeats) / 1e9)


def matmul_peak_for(config: Config, dtype: str, repeats: int = 7) -> Optional[float]:
    """GFLOP/s numpy's matmul reaches on exactly this configuration's products: the
    BLAS ceiling for it (best of ``repeats`` measurements of each product, into a
    preallocated output, :func:`~fastnet.bench.best_time`; numpy's default BLAS threads or one,
    whichever is faster).

    It still includes numpy's cost per call (about a microsecond), which is a large
    part of a small product's time: a fused kernel can beat this "ceiling" on small
    shapes (B), and the report then says it is above 100%.

    Parameters
    ----------
    config : Config
    dtype : str
    repeats : int, default 7

    Returns
    -------
    float or None
        None for the one-sample-at-a-time configurations, which have no GEMM.
    """
    if config.one_at_a_time:
        return None
    rng = np.random.default_rng(0)
    products = []
    for m, k, n in config.gemm_shapes():
        products.append((rng.standard_normal((m, k)).astype(dtype),
                         rng.standard_normal((k, n)).astype(dtype), np.empty((m, n), dtype)))
    flops = sum(2.0 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in products)

    def gflops():
        return flops / sum(best_time(lambda: np.matmul(a, b, out=out), repeats)
                           for a, b, out in products) / 1e9
    return _best_blas_setting(gflops)


def _best_blas_setting(gflops: Callable[[], float]) -> float:
    """The larger of ``gflops()`` with numpy's default BLAS threads and with one
    (threadpoolctl, when installed): a ceiling is the best numpy's matmul can do, and
    on a busy machine a second OpenBLAS thread can make it many times slower."""
    best = gflops()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return best
    with threadpool_limits(1, user_api="blas"):
        return max(best, gflops())


# -- scikit-learn ------------------------------------------------------------------
#: scikit-learn's names of the hidden activations it has.
SKLEARN_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic",
                       "identity": "identity"}


def sklearn_model(config: Config):
    """The configuration as scikit-learn's MLP, or None where it cannot express it
    (scikit-learn not installed, another head or activation, a softmax of 2 outputs,
    which scikit-learn makes one logistic unit).

    ``MLPClassifier`` (softmax) or ``MLPRegressor`` (linear) with the configuration's
    hidden sizes and activation, ``solver="sgd"``, its batch size, ``momentum=0``,
    a constant learning rate, ``alpha=0``, one epoch per ``partial_fit``. The
    regressor's loss is half fastnet's (scikit-learn's squared error has the 1/2), so
    its learning rate is doubled to take the same steps.

    Parameters
    ----------
    config : Config

    Returns
    -------
    estimator or None
    """
    try:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:
        return None
    act = SKLEARN_ACTIVATIONS.get(config.activation)
    classes = config.output == "softmax" and config.sizes[-1] > 2
    if act is None or not (classes or (config.output == "linear" and config.sizes[-1] == 1)):
        return None
    lr = config.fit_args()["learning_rate"] if config.kind == "fit" else 0.01
    cls = MLPClassifier if classes else MLPRegressor
    return cls(hidden_layer_sizes=config.sizes[1:-1], activation=act, solver="sgd",
               batch_size=config.batch_size or 200, learning_rate="constant",
               learning_rate_init=lr if classes else 2 * lr, momentum=0.0,
               nesterovs_momentum=False, alpha=0.0, max_iter=1, shuffle=True,
               random_state=0)


def sklearn_time(config: Config, dtype: str, n: int, repeats: int) -> Optional[float]:
    """Seconds per sample (fit) or per call (predict) of the same work in scikit-learn,
    timed as :func:`time_impl` times fastnet; None where ``sklearn_model`` is None.

    Training: one ``partial_fit`` (one epoch, shuffled) over ``n`` samples.
    Prediction: ``predict`` after a first ``partial_fit`` made the weights.

    Parameters
    ----------
    config : Config
    dtype : str
    n : int
        Samples (fit) or calls (one-row predict); unused for many-row predict.
    repeats : int

    Returns
    -------
    float or None
    """
    model = sklearn_model(config)
    if model is None:
        return None
    classes = np.arange(config.sizes[-1]) if config.output == "softmax" else None
    kw = {} if classes is None else {"classes": classes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if config.kind == "fit":
            X, y = make_data(config, n, dtype)
            model.partial_fit(X, y, **kw)       # warm-up; makes the weights
            run = lambda: model.partial_fit(X, y)  # noqa: E731
            per = n
        else:
            X0, y0 = make_data(config, 256, dtype, seed=1)
            model.partial_fit(X0, y0, **kw)
            X, _ = make_data(config, config.rows, dtype)
            run, per = predict_runner(model.predict, X, config, n)
            run()
        return median_time(run, repeats) / per
