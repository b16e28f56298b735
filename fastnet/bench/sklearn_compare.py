"""fastnet.sklearn against scikit-learn: the same estimators, the same defaults, timed
side by side (``fastnet bench --sklearn``).

``fastnet.sklearn.MLPClassifier`` / ``MLPRegressor`` are meant as exact drop-ins for
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``: same constructor and
defaults, same training trajectory for the same ``random_state``. This benchmark takes
scikit-learn's DEFAULT parameters (adam, one hidden layer of 100 ReLU units,
``batch_size="auto"``, ``max_iter=200``) with a fixed ``random_state`` on the data sets
that ship with scikit-learn (no download): digits, iris, wine and breast_cancer for the
classifier, diabetes for the regressor. X is standardised (``StandardScaler``); y is left
as scikit-learn users have it (diabetes targets are raw: adam converges slowly on them
with the defaults, identically in both libraries). ConvergenceWarnings are silenced.

For every (data set, dtype), agreement comes first: both estimators are fitted once and
must have the same ``n_iter_``, close ``loss_curve_`` and the same predictions on the
training data (:data:`TOLERANCES`). A row that disagrees is flagged (or, with
``strict=True``, raises) and is not timed. Then ``fit`` is timed for both, interleaved
(the order alternates at every repeat; the agreement fits served as warm-up; every
timed fit follows a short pause, :data:`SETTLE_S`), and the medians are compared: ratio = sklearn seconds / fastnet seconds. The headline is the
geometric mean of the float64 ratios; float32 (X cast to float32, which both libraries
keep) is reported beside it with a looser agreement check.

scikit-learn (and threadpoolctl, which it installs) is needed; this module imports it
only when it runs.
"""
import math
import time
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

#: The data sets, in report order: name -> ``"classifier"`` or ``"regressor"``; each is
#: ``sklearn.datasets.load_<name>``.
DATASETS: Dict[str, str] = {"digits": "classifier", "iris": "classifier",
                            "wine": "classifier", "breast_cancer": "classifier",
                            "diabetes": "regressor"}

#: The ``random_state`` both estimators get.
RANDOM_STATE = 0

#: Agreement per dtype. ``loss_rtol``: relative tolerance on every entry of
#: ``loss_curve_`` (which must have the same length: the same ``n_iter_``);
#: ``min_share``: the share of training rows whose predictions must agree (classes
#: equal; regression outputs within ``loss_rtol`` of each other, relative to the
#: largest output).
TOLERANCES: Dict[str, Dict[str, float]] = {
    "float64": {"loss_rtol": 1e-6, "min_share": 1.0},
    "float32": {"loss_rtol": 1e-3, "min_share": 0.99},
}

#: Columns of the printed table.
HEADER = ("dataset", "n x d", "classes/outputs", "n_iter_", "sklearn s", "fastnet s", "ratio")

#: Seconds of pause before every timed fit. Each library multiplies through its own
#: copy of OpenBLAS (scikit-learn through numpy's, fastnet through scipy's), whose idle
#: worker threads keep spinning for a moment after a call: without the pause, the fit
#: that follows a fit of the other library shares the cores with those spinning
#: threads (on 2 cores, digits: fastnet 0.23 -> 0.29 s, scikit-learn 0.57 -> 0.63 s),
#: which a user running one library never sees.
SETTLE_S = 0.3

#: The command that reproduces the default run.
COMMAND = "fastnet bench --sklearn"


def default_estimators() -> Dict[str, Tuple[Callable, Callable]]:
    """kind -> (fastnet class, scikit-learn class), for ``"classifier"`` and ``"regressor"``."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    import fastnet.sklearn as fsk
    return {"classifier": (fsk.MLPClassifier, MLPClassifier),
            "regressor": (fsk.MLPRegressor, MLPRegressor)}


def load_dataset(name: str, dtype: str = "float64") -> Tuple[np.ndarray, np.ndarray]:
    """One of :data:`DATASETS`: X standardised then cast to ``dtype``, y as loaded.

    Parameters
    ----------
    name : str
    dtype : str, default "float64"

    Returns
    -------
    X : ndarray of shape (n, d), C-contiguous, of ``dtype``
    y : ndarray of shape (n,)
        Class labels (integers) or the regression target (float64, not scaled).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; one of {sorted(DATASETS)}")
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    return np.ascontiguousarray(X, dtype=dtype), np.asarray(y)


def blas_info() -> List[Dict[str, Any]]:
    """The BLAS libraries loaded in this process and their thread counts (threadpoolctl).

    Returns
    -------
    list of dict
        ``internal_api`` (e.g. ``"openblas"``), ``version``, ``num_threads`` and
        ``owner``: the package whose copy it is (numpy's and scipy's wheels each bundle
        one: scikit-learn's MLP multiplies through numpy's, fastnet through scipy's).
    """
    from threadpoolctl import threadpool_info
    out = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        path = lib.get("filepath", "") or ""
        owner = next((p for p in ("numpy", "scipy", "torch") if p in path.lower()), "other")
        out.append({"internal_api": lib.get("internal_api"), "version": lib.get("version"),
                    "num_threads": lib.get("num_threads"), "owner": owner})
    return out


def _fit(make: Callable[[], Any], X, y, settle: float = 0.0):
    from sklearn.exceptions import ConvergenceWarning
    est = make()
    if settle:
        time.sleep(settle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
    return est, seconds


def compare_fitted(fast, ref, X, y, dtype: str) -> Tuple[List[str], Dict[str, Any]]:
    """Compare two fitted estimators on their training data.

    Parameters
    ----------
    fast, ref : fitted estimators
        fastnet's and scikit-learn's (any pair with ``n_iter_``, ``loss_curve_``,
        ``coefs_`` and ``predict``).
    X, y : the training data
    dtype : str
        Selects :data:`TOLERANCES`; both estimators must also keep X's dtype in
        ``coefs_``.

    Returns
    -------
    problems : list of str
        Empty when they agree; else one line per disagreement.
    stats : dict
        ``loss_max_rel_diff`` (over the common length of the curves) and
        ``prediction_share`` (share of rows whose predictions agree).
    """
    tol = TOLERANCES[dtype]
    missing = [f"{who} has no {attr}" for who, est in (("fastnet", fast), ("sklearn", ref))
               for attr in ("n_iter_", "loss_curve_", "coefs_") if not hasattr(est, attr)]
    if missing:
        return missing, {"loss_max_rel_diff": None, "prediction_share": None}
    problems = []
    fp, rp = _params(fast), _params(ref)
    differing = sorted(k for k in set(fp) & set(rp) if not _same_value(fp[k], rp[k]))
    if differing:
        problems.append("parameters differ: " + ", ".join(
            f"{k}={fp[k]!r} vs {rp[k]!r}" for k in differing))
    if fast.n_iter_ != ref.n_iter_:
        problems.append(f"n_iter_ {fast.n_iter_} (fastnet) vs {ref.n_iter_} (sklearn)")
    lf = np.asarray(fast.loss_curve_, dtype=np.float64)
    lr = np.asarray(ref.loss_curve_, dtype=np.float64)
    m = min(len(lf), len(lr))
    if len(lf) != len(lr):
        problems.append(f"loss_curve_ lengths {len(lf)} vs {len(lr)}")
    rel = np.abs(lf[:m] - lr[:m]) / np.maximum(np.abs(lr[:m]), 1e-300)
    loss_diff = float(np.max(rel)) if m else 0.0
    if not (loss_diff <= tol["loss_rtol"]):   # also catches NaN
        worst = int(np.nanargmax(rel)) if np.any(np.isfinite(rel)) else 0
        problems.append(f"loss_curve_ differs by {loss_diff:.2e} relative (tolerance "
                        f"{tol['loss_rtol']:g}), most at iteration {worst + 1}: "
                        f"{lf[worst]:.7g} vs {lr[worst]:.7g}")
    pf, pr = np.asarray(fast.predict(X)), np.asarray(ref.predict(X))
    if pf.shape != pr.shape:
        problems.append(f"prediction shapes {pf.shape} vs {pr.shape}")
        share = 0.0
    else:
        if np.issubdtype(pr.dtype, np.floating) and np.issubdtype(pf.dtype, np.floating):
            scale = float(np.max(np.abs(pr))) if pr.size else 0.0
            same = np.isclose(pf, pr, rtol=tol["loss_rtol"], atol=tol["loss_rtol"] * scale)
        else:
            same = pf == pr
        same = same.reshape(len(pr), -1).all(axis=1) if pr.size else same
        share = float(np.mean(same)) if len(same) else 1.0
        if share < tol["min_share"]:
            problems.append(f"predictions agree on {100 * share:.2f}% of the training rows "
                            f"(required {100 * tol['min_share']:g}%)")
    for who, est in (("fastnet", fast), ("sklearn", ref)):
        kept = np.asarray(est.coefs_[0]).dtype
        if kept != np.dtype(dtype):
            problems.append(f"{who} keeps coefs_ in {kept}, not {dtype}")
    return problems, {"loss_max_rel_diff": loss_diff, "prediction_share": share}


def _qualname(factory) -> str:
    name = getattr(factory, "__qualname__", repr(factory))
    return f'{getattr(factory, "__module__", "?")}.{name}'


def _params(est) -> Dict[str, Any]:
    try:
        return est.get_params(deep=False)
    except AttributeError:
        return {}


def _same_value(a, b) -> bool:
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else np.array_equal(a, b)
    except (TypeError, ValueError):
        return a is b


def measure(name: str, dtype: str, repeats: int = 5,
            estimators: Optional[Mapping[str, Tuple[Callable, Callable]]] = None,
            params: Optional[Mapping[str, Any]] = None, strict: bool = False,
            settle: Optional[float] = None) -> Dict[str, Any]:
    """One row: agreement first, then interleaved timing of ``fit``.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    dtype : str
        ``"float64"`` or ``"float32"``.
    repeats : int, default 5
        Timed fits per library (at least 3); the median is reported.
    estimators : mapping, optional
        kind -> (fastnet factory, sklearn factory); :func:`default_estimators` by
        default. A factory is called with the keyword arguments below.
    params : mapping, optional
        Extra constructor arguments for both (the tests pass a tiny ``max_iter``);
        ``random_state`` is :data:`RANDOM_STATE` unless given here.
    strict : bool, default False
        Raise ``AssertionError`` on disagreement instead of flagging the row.
    settle : float, optional
        Seconds of pause before every timed fit; :data:`SETTLE_S` by default.

    Returns
    -------
    dict
        The row (JSON-ready). ``agree`` False means ``problems`` says why and the
        times and ratio are None.
    """
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be one of {sorted(TOLERANCES)}, got {dtype!r}")
    if repeats < 3:
        raise ValueError(f"repeats must be at least 3 (a median), got {repeats}")
    kind = DATASETS.get(name)
    if kind is None:
        raise ValueError(f"unknown data set {name!r}; one of {sorted(DATASETS)}")
    fast_cls, sk_cls = (estimators or default_estimators())[kind]
    settle = SETTLE_S if settle is None else settle
    kwargs = {"random_state": RANDOM_STATE, **(params or {})}
    X, y = load_dataset(name, dtype)
    make_fast = lambda: fast_cls(**kwargs)  # noqa: E731
    make_sk = lambda: sk_cls(**kwargs)  # noqa: E731

    # agreement (these two fits are also the warm-up)
    fast, _ = _fit(make_fast, X, y)
    ref, _ = _fit(make_sk, X, y)
    problems, stats = compare_fitted(fast, ref, X, y, dtype)
    row = {"dataset": name, "kind": kind, "dtype": dtype, "n_samples": int(X.shape[0]),
           "n_features": int(X.shape[1]),
           "n_outputs": int(len(ref.classes_)) if kind == "classifier" else
           (1 if np.ndim(y) == 1 else int(np.shape(y)[1])),
           "n_iter": int(ref.n_iter_), "fastnet_n_iter": int(fast.n_iter_),
           "final_loss": float(ref.loss_curve_[-1]), **stats,
           "agree": not problems, "problems": problems,
           "sklearn_s": None, "fastnet_s": None, "ratio": None,
           "sklearn_times": [], "fastnet_times": [], "repeats": repeats,
           "params": {k: v for k, v in kwargs.items()}}
    if problems:
        if strict:
            raise AssertionError(f"{name} {dtype}: fastnet.sklearn and sklearn disagree: "
                                 + "; ".join(problems))
        return row

    times = {"fastnet": [], "sklearn": []}
    for r in range(repeats):
        order = (("fastnet", make_fast), ("sklearn", make_sk))
        for who, make in (order if r % 2 == 0 else order[::-1]):
            times[who].append(_fit(make, X, y, settle)[1])
    row["fastnet_times"], row["sklearn_times"] = times["fastnet"], times["sklearn"]
    row["fastnet_s"] = float(np.median(times["fastnet"]))
    row["sklearn_s"] = float(np.median(times["sklearn"]))
    row["ratio"] = row["sklearn_s"] / row["fastnet_s"]
    return row


def geometric_mean(ratios: Iterable[float]) -> Optional[float]:
    """exp(mean(log r)), or None for no ratios."""
    ratios = [r for r in ratios if r is not None]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None


def run(datasets: Optional[Iterable[str]] = None, dtypes=("float64", "float32"),
        repeats: int = 5, estimators=None, params=None, strict: bool = False,
        blas_threads: Optional[int] = None, settle: Optional[float] = None,
        command: Optional[str] = None,
        progress: Optional[Callable[[str], object]] = print) -> Dict[str, Any]:
    """The comparison: one row per (dtype, data set).

    Parameters
    ----------
    datasets : iterable of str, optional
        Names in :data:`DATASETS`; all of them by default.
    dtypes : tuple of str, default ("float64", "float32")
    repeats : int, default 5
        Timed fits per library and row (at least 3).
    estimators, params, strict, settle
        As in :func:`measure`.
    blas_threads : int, optional
        Limit every BLAS library (numpy's and scipy's alike, through threadpoolctl)
        to this many threads during the run, restored after. By default the
        settings are left as they are (and printed).
    command : str, optional
        The command line recorded in the result (:data:`COMMAND` by default).
    progress : callable, optional
        Called with a line per measured row; None for silence.

    Returns
    -------
    dict
        ``machine`` (:func:`fastnet.bench.machine_info`), ``blas`` (:func:`blas_info`),
        ``versions``, ``random_state``, ``repeats``, ``blas_threads``, ``command``,
        ``custom`` (True when estimators or params were given: not the published
        comparison), ``rows`` and ``geomean`` (dtype -> geometric mean of the ratios
        of the rows that agree, or None).
    """
    import contextlib

    import sklearn
    from threadpoolctl import threadpool_limits

    import fastnet
    from fastnet.bench.suite import machine_info

    names = list(datasets) if datasets is not None else list(DATASETS)
    for name in names:
        if name not in DATASETS:
            raise ValueError(f"unknown data set {name!r}; one of {sorted(DATASETS)}")
    custom = estimators is not None or bool(params)
    estimators = estimators or default_estimators()   # imports both before blas_info
    result = {"machine": machine_info(), "blas": blas_info(),
              "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__,
                           "fastnet": fastnet.__version__},
              "random_state": RANDOM_STATE, "repeats": repeats, "blas_threads": blas_threads,
              "settle_s": SETTLE_S if settle is None else settle,
              "command": command or COMMAND, "custom": custom,
              "estimators": {kind: [_qualname(f) for f in pair]
                             for kind, pair in estimators.items()},
              "rows": [], "geomean": {}}
    limit = (threadpool_limits(limits=blas_threads, user_api="blas")
             if blas_threads is not None else contextlib.nullcontext())
    with limit:
        for dtype in dtypes:
            for name in names:
                row = measure(name, dtype, repeats, estimators, params, strict, settle)
                result["rows"].append(row)
                if progress:
                    progress(f"{dtype} " + " | ".join(format_row(row)))
    for dtype in dtypes:
        result["geomean"][dtype] = geometric_mean(
            r["ratio"] for r in result["rows"] if r["dtype"] == dtype and r["agree"])
    return result


def format_row(row: Dict[str, Any]) -> Tuple[str, ...]:
    """The cells of one row, in the order of :data:`HEADER`."""
    outputs = (f'{row["n_outputs"]} classes' if row["kind"] == "classifier"
               else f'{row["n_outputs"]} output' + ("s" if row["n_outputs"] > 1 else ""))
    n_iter = (str(row["n_iter"]) if row["n_iter"] == row["fastnet_n_iter"]
              else f'{row["n_iter"]} / {row["fastnet_n_iter"]}')
    if not row["agree"]:
        timing = ("-", "-", "DISAGREES: " + "; ".join(row["problems"]))
    else:
        ratio = row["ratio"]
        timing = (f'{row["sklearn_s"]:.3f}', f'{row["fastnet_s"]:.3f}',
                  f'{ratio:.1f}x' if ratio >= 10 else f'{ratio:.2f}x')
    return (row["dataset"], f'{row["n_samples"]} x {row["n_features"]}', outputs, n_iter) + timing


def format_table(result: Dict[str, Any]) -> str:
    """The machine and BLAS lines, then a Markdown table per dtype with its geometric
    mean, then the legend and the command that reproduces it.

    Parameters
    ----------
    result : dict
        What :func:`run` returned.

    Returns
    -------
    str
    """
    m = result["machine"]
    v = result["versions"]
    blas = "; ".join(f'{b["owner"]}\'s {b["internal_api"]} {b["version"] or ""}'.rstrip()
                     + f' {b["num_threads"]} threads' for b in result["blas"]) or "none found"
    lines = [f'machine: {m["cpu"]}, {m["cores"]} cores; Python {m["python"]}, NumPy '
             f'{v["numpy"]}, scikit-learn {v["sklearn"]}, fastnet {v["fastnet"]}',
             f'BLAS: {blas}; OPENBLAS_NUM_THREADS={m["openblas_threads"]}'
             + ("" if result["blas_threads"] is None
                else f'; limited to {result["blas_threads"]} thread(s) during the run')]
    for dtype, gm in result["geomean"].items():
        rows = [r for r in result["rows"] if r["dtype"] == dtype]
        n_agree = sum(r["agree"] for r in rows)
        lines += ["", f"{dtype}:", "| " + " | ".join(HEADER) + " |",
                  "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(format_row(r)) + " |" for r in rows]
        mean = "-" if gm is None else (f"**{gm:.1f}x**" if gm >= 10 else f"**{gm:.2f}x**")
        note = "" if n_agree == len(rows) else f" ({n_agree} of {len(rows)} data sets)"
        lines.append("| geometric mean" + note + " | | | | | | " + mean + " |")
    lines += ["", f'MLPClassifier() / MLPRegressor() defaults, random_state='
                  f'{result["random_state"]}, X standardised, y as loaded; fit time, '
                  f'median of {result["repeats"]} interleaved fits each (each after a '
                  f'{result["settle_s"]:g} s pause: idle BLAS threads of the other library '
                  f'go to sleep); ratio = sklearn s / '
                  f'fastnet s, agreement (n_iter_, loss_curve_, predictions) checked first.',
              f'reproduce: {result["command"]}'
              + (" (custom estimators or parameters: not the default comparison; "
                 "fastnet column: " + ", ".join(p[0] for p in result["estimators"].values())
                 + ")" if result["custom"] else "")]
    return "\n".join(lines)


def any_disagreement(result: Dict[str, Any]) -> bool:
    """True when a row of ``result`` was flagged."""
    return any(not r["agree"] for r in result["rows"])
