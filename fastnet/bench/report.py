"""The report: the Markdown table ``fastnet bench`` prints, and the JSON file.

The column names (:data:`HEADER`) and the JSON keys are quoted in the README and
notes; keep them as they are.
"""
import json
from typing import Any, Dict

from fastnet.bench.configs import CONFIGS

#: Columns of the printed table.
HEADER = ("config", "dtype", "reference", "lean NumPy", "scikit-learn", "torch", "fastnet",
          "speedup", "vs best", "target", "GFLOP/s", "% peak", "% ceiling", "extra mem")


def _fmt_time(seconds, per):
    return f"{seconds * 1e6:.3g} us/{per}" if seconds < 1e-3 else f"{seconds * 1e3:.3g} ms/{per}"


def format_row(row: Dict[str, Any]) -> str:
    """The cells of one measured row, joined by ``" | "`` (no outer bars).

    Parameters
    ----------
    row : dict
        One of ``run(...)["rows"]``.

    Returns
    -------
    str
        The target cell says ``ok`` or ``MISSED`` (``?`` when the row lacks the
        figure), in both dtypes; a time not measured is ``-``.
    """
    per = row["unit"] if "unit" in row else CONFIGS[row["config"]].unit
    met = {True: "ok", False: "MISSED", None: "?"}[row["target_met"]]
    times = [("-" if row[key] is None else _fmt_time(row[key], per))
             for key in ("reference_s", "lean_s", "sklearn_s", "torch_s", "fastnet_s")]
    if row.get("lean_blas_threads") == 1:
        times[1] += " (1t)"
    cells = (f'{row["config"]} {row["title"]}', row["dtype"], *times,
             f'{row["speedup"]:.1f}x', f'{row["vs_best"]:.1f}x {row["best_other"]}',
             f'{row["target"]["text"]} {met}', f'{row["gflops"]:.1f}',
             f'{100 * row["peak_share"]:.0f}%',
             "-" if row["shape_peak_share"] is None else f'{100 * row["shape_peak_share"]:.0f}%',
             f'{row["fastnet_peak_bytes"] / 2**20:.2f} MiB')
    return " | ".join(cells)


def format_table(result: Dict[str, Any]) -> str:
    """The machine line, the Markdown table and its legend.

    Parameters
    ----------
    result : dict
        What :func:`fastnet.bench.run` returned.

    Returns
    -------
    str
    """
    lines = [f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; "
             f"numpy matmul peak: " + ", ".join(
                 f"{dt} {p:.0f} GFLOP/s" for dt, p in result["peak"].items()),
             "| " + " | ".join(HEADER) + " |",
             "|" + "---|" * len(HEADER)]
    lines += ["| " + format_row(r) + " |" for r in result["rows"]]
    lines.append("Medians in the same run, per sample (training) or per call (predict). "
                 "speedup = reference / fastnet (fastnet.reference, the readable NumPy "
                 "specification); vs best = the fastest non-fastnet implementation of the "
                 "row / fastnet, and which one it was; lean NumPy: an independent plain "
                 "NumPy MLP (fastnet.bench.lean), checked to agree with fastnet first, "
                 "timed with the better of numpy's default BLAS threads and one (marked "
                 "'1t'); "
                 "scikit-learn: MLPClassifier/MLPRegressor, solver='sgd', same batch size, "
                 "momentum 0, alpha 0, one partial_fit epoch ('-': not installed or cannot "
                 "express it); target: issue 11's, per dtype; % peak: fastnet's GFLOP/s "
                 "over numpy's square matmul above (the better of its measurements "
                 "before and after the rows); % ceiling: over numpy's matmul on this "
                 "configuration's own products (best of 7 each, default BLAS threads or one, "
                 "numpy's per-call cost included, so a fused kernel may exceed it on small shapes); extra mem: "
                 "peak of new allocations during one run (tracemalloc).")
    return "\n".join(lines)


def format_extras(result: Dict[str, Any]) -> str:
    """The scaling, sweep and BLAS-thread sections, for those present in ``result``.

    Parameters
    ----------
    result : dict
        What :func:`fastnet.bench.run` returned, with the optional ``scaling``,
        ``sweep`` and ``threads`` entries added (``fastnet bench --full``).

    Returns
    -------
    str
        Empty when there is none.
    """
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


def save_json(result: Dict[str, Any], path: str) -> None:
    """Write ``result`` as indented JSON.

    Parameters
    ----------
    result : dict
        What :func:`fastnet.bench.run` returned (plus the ``--full`` extras).
    path : str
    """
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
