"""pytest-benchmark view of the suite: one group per configuration, fastnet, the
reference and the lean NumPy baseline side by side in the same run, so that
pytest-benchmark's own compare works.

    pytest benchmarks/ --benchmark-only
    pytest benchmarks/ --benchmark-only --benchmark-group-by=group --benchmark-compare

The table a user reads (ratios, GFLOP/s, memory) is ``fastnet bench``; both use the
one configuration table, ``fastnet.bench.CONFIGS``, and check agreement before timing.
"""
import pytest

import fastnet
from fastnet import bench, reference
from fastnet.bench import lean
from fastnet.bench.agreement import check_lean_agreement

IMPLS = {"fastnet": fastnet, "reference": reference, "lean": lean}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("name", sorted(bench.CONFIGS))
def test_config(benchmark, name, impl, dtype):
    config = bench.CONFIGS[name]
    benchmark.group = f"{name} {config.title} {dtype}"
    bench.check_agreement(config, dtype)
    check_lean_agreement(config, dtype)
    net = config.make_net(IMPLS[impl], dtype, seed=0)
    if config.kind == "fit":
        # a few batches per round: enough to time, short enough for the reference
        n = 1000 if config.batch_size == 1 else config.batch_size * 8
        X, y = bench.make_data(config, n, dtype)
        benchmark.extra_info["samples_per_round"] = n
        benchmark.pedantic(net.fit, args=(X, y), kwargs=config.fit_args(), rounds=5,
                           warmup_rounds=1)
    else:
        X, _ = bench.make_data(config, config.rows, dtype)
        benchmark.extra_info["rows_per_call"] = config.rows
        one_row = config.rows == 1
        benchmark.pedantic(net.predict, args=(X,), rounds=50 if one_row else 5,
                           iterations=100 if one_row else 1, warmup_rounds=1)
