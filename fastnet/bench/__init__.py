"""The benchmark suite behind ``fastnet bench``: fastnet against the NumPy reference,
an independent lean NumPy MLP, scikit-learn's MLP and PyTorch.

Every configuration is timed for every implementation in the same run (this machine
is shared and noisy: each figure is a median of repeats, and only ratios measured
side by side are compared). Before anything is timed, the reference and the lean
baseline are checked to agree with fastnet on that configuration.

The configurations (float32 is the target dtype; float64 is reported too) are the
typed records of :data:`CONFIGS`, defined once in :mod:`fastnet.bench.configs` and
shared by ``fastnet bench`` and the pytest-benchmark suite in ``benchmarks/``.

The package is split by concern:

=========================  ==========================================================
``configs``                :class:`Config` records, the :data:`CONFIGS` table, data
``agreement``              fastnet vs fastnet.reference and vs the lean baseline,
                           checked before any timing
``lean``                   the lean NumPy MLP a competent user writes (the baseline)
``timing``                 medians of repeats, per-sample timing (also scikit-learn's
                           MLP), numpy matmul ceilings
``torch_compare``          the same work in PyTorch (optional: torch may be absent)
``sklearn_compare``        fastnet.sklearn vs scikit-learn's MLP, default parameters,
                           on scikit-learn's bundled data (``fastnet bench --sklearn``)
``suite``                  :func:`run`: one row per (configuration, dtype)
``extras``                 scaling with data size, sweep throughput, BLAS threads
``report``                 the printed table and the JSON file
=========================  ==========================================================
"""
from fastnet.bench.agreement import AGREE_TOL, check_agreement
from fastnet.bench.configs import CONFIGS, Config, Target, get_config, make_data
from fastnet.bench.extras import scaling, sweep_throughput, threads_compare
from fastnet.bench.report import HEADER, format_extras, format_row, format_table, save_json
from fastnet.bench.suite import machine_info, measure, run
from fastnet.bench.timing import (best_time, lean_time, matmul_peak, matmul_peak_for,
                                  median_time, sklearn_time, time_impl)
from fastnet.bench.torch_compare import torch_available, torch_time
from fastnet.bench.sklearn_compare import (DATASETS as SKLEARN_DATASETS,
                                           HEADER as SKLEARN_HEADER,
                                           format_table as format_sklearn_table,
                                           run as compare_sklearn)

__all__ = [
    "AGREE_TOL", "CONFIGS", "Config", "HEADER", "Target", "best_time", "check_agreement",
    "format_extras", "lean_time", "sklearn_time",
    "format_row", "format_table", "get_config", "machine_info", "make_data",
    "matmul_peak", "matmul_peak_for", "measure", "median_time", "run", "save_json", "scaling",
    "sweep_throughput", "threads_compare", "time_impl", "torch_available", "torch_time",
    "SKLEARN_DATASETS", "SKLEARN_HEADER", "compare_sklearn", "format_sklearn_table",
]
