"""The benchmark suite's baselines and table (issue 11): the lean NumPy baseline agrees
with fastnet before it is timed, scikit-learn is configured to take the same steps,
"vs best" names the fastest non-fastnet implementation, targets are marked per dtype.
No test here asserts a timing."""
import numpy as np
import pytest

import fastnet
from fastnet import bench
from fastnet.bench import lean, report, timing
from fastnet.bench.agreement import check_lean_agreement
from fastnet.bench.configs import Config, Target

TOL = {"float32": 1e-4, "float64": 1e-9}

# small versions of the suite's kinds of configuration, quick to run
TINY = {
    "per_sample": Config("T", "per-sample 5-7-3", (5, 7, 3), "relu", "softmax", "fit",
                         n=(40, 40), target=Target("lean", 70, 50), batch_size=1),
    "minibatch": Config("M", "minibatch 4, 5-6-6-4", (5, 6, 6, 4), "tanh", "softmax", "fit",
                        n=(48, 48), target=Target("ceiling", 0.9, 0.9), batch_size=4),
    "regression": Config("R", "per-sample 1-8-1", (1, 8, 1), "tanh", "linear", "fit",
                         n=(40, 40), target=Target("time", 1e-6, 1e-6), batch_size=1),
    "predict": Config("P", "predict one row", (5, 7, 3), "sigmoid", "softmax", "predict",
                      n=(20, 20), target=Target("lean", 15, 15), rows=1),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(bench.CONFIGS))
def test_lean_agrees_with_fastnet_on_every_configuration(name, dtype):
    config = bench.CONFIGS[name]
    if config.sizes[0] > 100 and dtype == "float64":
        pytest.skip("the large configurations once, in float32, are enough")
    assert check_lean_agreement(config, dtype) <= TOL[dtype]


@pytest.mark.parametrize("kind", sorted(TINY))
def test_lean_agreement_check_fails_on_a_wrong_baseline(kind, monkeypatch):
    config = TINY[kind]
    assert check_lean_agreement(config, "float64") <= TOL["float64"]
    # a baseline whose hidden layers compute something else must be refused
    monkeypatch.setitem(lean.ACT, config.activation, lambda z: np.multiply(z, 0.5, out=z))
    with pytest.raises(AssertionError, match="lean baseline disagree"):
        check_lean_agreement(config, "float64")


def test_lean_step_by_hand():
    # one per-sample step of a 1-1 linear network: z = w x + b = 2 * 1 + 0.5 = 2.5,
    # y = 1, dL/dz = 2 (z - y) = 3; w -= 0.1 * 3 * x = 2 - 0.3, b -= 0.1 * 3 = 0.5 - 0.3
    net = lean.LeanMLP([np.array([[2.0]])], [np.array([0.5])], "relu", "linear")
    net.fit(np.array([[1.0]]), np.array([1.0]), learning_rate=0.1, order=[0])
    assert net.W[0][0, 0] == pytest.approx(1.7) and net.b[0][0] == pytest.approx(0.2)


def test_lean_refuses_what_it_cannot_express():
    assert not lean.lean_supports("relu", "logistic")
    with pytest.raises(ValueError, match="lean baseline"):
        lean.LeanMLP([np.eye(2)], [np.zeros(2)], "relu", "poisson")
    config = Config("L", "logistic head", (4, 3, 2), "relu", "logistic", "fit", n=(8, 8),
                    target=Target("lean", 1, 1), batch_size=2)
    assert check_lean_agreement(config, "float32") is None
    assert timing.sklearn_model(config) is None


def test_lean_keeps_its_own_copy_of_the_weights():
    net = fastnet.MLP([3, 4, 2], seed=0)
    before = net.parameters.copy()
    baseline = lean.LeanMLP(net.weights, net.biases)
    X = np.random.default_rng(0).standard_normal((10, 3)).astype("float32")
    baseline.fit(X, np.arange(10) % 2, batch_size=3, learning_rate=0.5)
    np.testing.assert_array_equal(net.parameters, before)
    assert not np.array_equal(baseline.W[0], net.weights[0])


def test_target_met_and_described():
    row = {"dtype": "float32", "fastnet_s": 1e-6, "lean_s": 80e-6, "shape_peak_share": 0.95}
    assert Target("lean", 70, 50).met(row) is True
    assert Target("lean", 90, 50).met(row) is False
    assert Target("lean", 90, 50).met(dict(row, dtype="float64")) is True
    assert Target("lean", 70, 50).met(dict(row, lean_s=None)) is None
    assert Target("time", 0.7e-6, 2e-6).met(row) is False
    assert Target("time", 0.7e-6, 2e-6).met(dict(row, dtype="float64")) is True
    assert Target("ceiling", 0.9, 0.99).met(row) is True
    assert Target("ceiling", 0.9, 0.99).met(dict(row, dtype="float64")) is False
    assert Target("ceiling", 0.9, 0.9).met(dict(row, shape_peak_share=None)) is None
    assert Target("lean", 70, 50).describe("float64") == ">=50x lean"
    assert Target("time", 0.7e-6, 0.7e-6).describe("float32") == "<=0.7 us"
    assert Target("ceiling", 0.9, 0.9).describe("float32") == ">=90% ceiling"
    with pytest.raises(ValueError, match="target kind"):
        Target("reference", 1, 1)


def test_every_configuration_has_targets_for_both_dtypes():
    for config in bench.CONFIGS.values():
        assert isinstance(config.target, Target)
        assert config.target.float32 > 0 and config.target.float64 > 0


def test_best_time_loops_short_calls():
    calls = []
    seconds = timing.best_time(lambda: calls.append(1), repeats=3, min_seconds=1e-4)
    assert seconds > 0
    assert len(calls) > 3 + 1      # the first call, then loops of several per measurement


@pytest.mark.parametrize("kind", sorted(TINY))
def test_measure_row_names_the_fastest_other_implementation(kind):
    config = TINY[kind]
    row = bench.measure(config, "float32", config.samples(), repeats=1, peak=100.0,
                        torch=False, sklearn=False)
    others = {name: row[f"{name}_s"] for name in ("reference", "lean", "sklearn", "torch")}
    assert others["sklearn"] is None and others["torch"] is None
    measured = {k: v for k, v in others.items() if v is not None}
    assert set(measured) == {"reference", "lean"}
    assert row["best_other"] == min(measured, key=measured.get)
    assert row["best_other_s"] == measured[row["best_other"]]
    assert row["vs_best"] == pytest.approx(row["best_other_s"] / row["fastnet_s"])
    assert row["speedup"] == pytest.approx(row["reference_s"] / row["fastnet_s"])
    assert row["target"]["text"] == config.target.describe("float32")
    assert row["target_met"] == config.target.met(row)
    cells = report.format_row(row).split(" | ")
    assert len(cells) == len(report.HEADER)
    assert cells[report.HEADER.index("scikit-learn")] == "-"
    assert cells[report.HEADER.index("vs best")].endswith(row["best_other"])
    marker = {True: "ok", False: "MISSED", None: "?"}[row["target_met"]]
    assert cells[report.HEADER.index("target")].endswith(marker)


def test_format_table_says_what_the_columns_mean():
    config = TINY["per_sample"]
    rows = [bench.measure(config, dt, 40, repeats=1, peak=100.0, torch=False, sklearn=False)
            for dt in ("float32", "float64")]
    text = report.format_table({"machine": {"cpu": "test cpu", "cores": 2},
                                "peak": {"float32": 100.0}, "rows": rows})
    assert "| " + " | ".join(report.HEADER) + " |" in text
    assert "vs best" in text and "lean NumPy" in text and "best of" in text
    # float64 rows are marked too
    assert sum(line.count(" ok |") + line.count(" MISSED |") for line in text.splitlines()
               if "float64" in line) == 1


# -- scikit-learn ----------------------------------------------------------------------

def test_sklearn_model_is_plain_sgd_with_the_configurations_batch():
    pytest.importorskip("sklearn")
    config = bench.CONFIGS["B"]
    model = timing.sklearn_model(config)
    assert type(model).__name__ == "MLPClassifier"
    params = model.get_params()
    assert params["solver"] == "sgd" and params["momentum"] == 0 and params["alpha"] == 0
    assert params["learning_rate"] == "constant" and params["batch_size"] == 32
    assert params["learning_rate_init"] == config.fit_args()["learning_rate"]
    assert params["hidden_layer_sizes"] == (128, 128)
    regressor = timing.sklearn_model(bench.CONFIGS["G"])
    assert type(regressor).__name__ == "MLPRegressor"
    assert regressor.get_params()["activation"] == "tanh"
    # its squared error has the 1/2 that fastnet's has not: twice the rate, same steps
    assert regressor.get_params()["learning_rate_init"] == 2 * 0.01
    two_classes = Config("2", "two classes", (4, 3, 2), "relu", "softmax", "fit", n=(8, 8),
                         target=Target("lean", 1, 1), batch_size=2)
    assert timing.sklearn_model(two_classes) is None


@pytest.mark.parametrize("kind", ["minibatch", "regression"])
def test_sklearn_model_takes_fastnets_steps(kind):
    # the column times the same work: from fastnet's weights, in fastnet's order,
    # one epoch of scikit-learn's partial_fit ends where fastnet's fit does
    pytest.importorskip("sklearn")
    import warnings
    config = TINY[kind]
    X, y = bench.make_data(config, 48, "float64", seed=3)
    net = config.make_net(fastnet, "float64", seed=5)
    model = timing.sklearn_model(config).set_params(shuffle=False)
    kw = {"classes": np.arange(config.sizes[-1])} if config.output == "softmax" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X[:4], y[:4], **kw)        # makes the weights; replaced below
        for coef, W in zip(model.coefs_, net.weights):
            coef[...] = W.T
        for intercept, b in zip(model.intercepts_, net.biases):
            intercept[...] = b
        import copy
        order = copy.deepcopy(net._rng).permutation(48)
        net.fit(X, y, **config.fit_args())
        model.partial_fit(X[order], y[order])
    for coef, W in zip(model.coefs_, net.weights):
        np.testing.assert_allclose(coef.T, W, rtol=1e-9, atol=1e-12)


def test_sklearn_time_is_none_without_a_model():
    config = Config("L", "logistic head", (4, 3, 2), "relu", "logistic", "fit", n=(8, 8),
                    target=Target("lean", 1, 1), batch_size=2)
    assert timing.sklearn_time(config, "float32", 8, 1) is None


def test_threads_compare_times_fastnet_in_fresh_processes(tmp_path, monkeypatch):
    import os
    from fastnet.bench import extras
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(os.path.dirname(fastnet.__file__)))
    (row,) = extras.threads_compare(("B",))
    assert row["config"] == "B" and row["one_thread_s"] > 0 and row["default_threads_s"] > 0
    assert row["gain"] == pytest.approx(row["one_thread_s"] / row["default_threads_s"])


def test_lean_time_tries_one_blas_thread_only_where_there_are_products():
    seconds, threads = timing.lean_time(TINY["per_sample"], "float32", 20, 1)
    assert seconds > 0 and threads is None
    pytest.importorskip("threadpoolctl")
    seconds, threads = timing.lean_time(TINY["minibatch"], "float32", 48, 1)
    assert seconds > 0 and threads in (1, None)


def test_format_row_marks_a_lean_time_on_one_blas_thread():
    config = TINY["minibatch"]
    row = bench.measure(config, "float32", 48, repeats=1, peak=100.0, torch=False,
                        sklearn=False)
    row["lean_blas_threads"] = 1
    cells = report.format_row(row).split(" | ")
    assert cells[report.HEADER.index("lean NumPy")].endswith("(1t)")


def test_ceilings_are_the_better_blas_setting(monkeypatch):
    assert timing.matmul_peak_for(TINY["per_sample"], "float32") is None
    assert timing.matmul_peak_for(TINY["minibatch"], "float32", repeats=2) > 0
    assert timing.matmul_peak("float64", 32, repeats=2) > 0
    pytest.importorskip("threadpoolctl")
    figures = iter([1.0, 3.0, 5.0, 2.0])
    assert timing._best_blas_setting(lambda: next(figures)) == 3.0   # one thread faster
    assert timing._best_blas_setting(lambda: next(figures)) == 5.0   # default faster


@pytest.mark.parametrize("first, second", [(50.0, 100.0), (100.0, 50.0)])
def test_run_keeps_the_better_of_the_peaks_before_and_after_the_rows(first, second,
                                                                     monkeypatch):
    from fastnet.bench import suite
    peaks = iter([first, second])
    monkeypatch.setattr(suite, "matmul_peak", lambda dtype, size: next(peaks))
    printed = []
    result = bench.run([TINY["per_sample"]], dtypes=("float32",), repeats=1, torch=False,
                       sklearn=False, progress=printed.append)
    assert next(peaks, None) is None                  # measured twice
    assert result["peak"]["float32"] == 100.0
    (row,) = result["rows"]
    assert row["peak_share"] == pytest.approx(row["gflops"] / 100.0)
    # the row printed as it came carries the first measurement
    share = printed[0].split(" | ")[report.HEADER.index("% peak")]
    assert share == f'{100 * row["gflops"] / first:.0f}%'
