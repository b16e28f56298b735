"""The report: the Markdown table ``fastnet bench`` prints, and the JSON file.

The column names (:data:`HEADER`) and the JSON keys are quoted in the README and
notes; keep them as they are.
"""
import json
from typing import Any, Dict

from fastnet.bench.configs import CONFIGS

#: Columns of the printed table.
HEADER = ("config", "dtype", "reference", "fastnet", "torch", "speedup", "target",
          "GFLOP/s", "% peak", "% shape peak", "extra mem")


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
        The float32 target cell says ``ok`` or ``MISSED``.
    """
    per = CONFIGS[row["config"]].unit
    met = "" if row["dtype"] != "float32" else (" ok" if row["speedup"] >= row["target"] else " MISSED")
    cells = (f'{row["config"]} {row["title"]}', row["dtype"], _fmt_time(row["reference_s"], per),
             _fmt_time(row["fastnet_s"], per),
             "-" if row["torch_s"] is None else _fmt_time(row["torch_s"], per),
             f'{row["speedup"]:.1f}x', f'>={row["target"]}x{met}', f'{row["gflops"]:.1f}',
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
    lines.append("speedup = reference / fastnet, medians in the same run; % peak: fastnet's "
                 "GFLOP/s over numpy's square matmul above; % shape peak: over numpy's "
                 "matmul on this configuration's own products (the BLAS ceiling for it); "
                 "extra mem: peak of new allocations during one run (tracemalloc).")
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
