"""pytest-benchmark view of the suite: one group per configuration, fastnet and the
reference side by side in the same run, so that pytest-benchmark's own compare works.

    pytest benchmarks/ --benchmark-only
    pytest benchmarks/ --benchmark-only --benchmark-group-by=group --benchmark-compare

The table a user reads (ratios, GFLOP/s, memory) is ``fastnet bench``; both use the
configurations of fastnet/bench.py and check agreement before timing.
"""
import pytest

import fastnet
from fastnet import bench, reference

IMPLS = {"fastnet": fastnet, "reference": reference}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("impl", ["fastnet", "reference"])
@pytest.mark.parametrize("name", sorted(bench.CONFIGS))
def test_config(benchmark, name, impl, dtype):
    cfg = bench.CONFIGS[name]
    benchmark.group = f"{name} {cfg['title']} {dtype}"
    bench.check_agreement(cfg, dtype)
    net = IMPLS[impl].MLP(cfg["sizes"], cfg["activation"], cfg["output"], dtype=dtype, seed=0)
    if cfg["kind"] == "fit":
        n = 1000 if cfg["batch_size"] == 1 else cfg["batch_size"] * 8
        X, y = bench.make_data(cfg, n, dtype)
        args = bench._fit_args(cfg)
        benchmark.extra_info["samples_per_round"] = n
        benchmark.pedantic(net.fit, args=(X, y), kwargs=args, rounds=5, warmup_rounds=1)
    else:
        X, _ = bench.make_data(cfg, cfg["rows"], dtype)
        benchmark.extra_info["rows_per_call"] = cfg["rows"]
        benchmark.pedantic(net.predict, args=(X,), rounds=50 if cfg["rows"] == 1 else 5,
                           iterations=100 if cfg["rows"] == 1 else 1, warmup_rounds=1)
