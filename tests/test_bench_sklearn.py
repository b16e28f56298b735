"""The machinery of ``fastnet bench --sklearn`` (fastnet/bench/sklearn_compare.py):
rows and columns of the table, the JSON, the CLI, and that the agreement check flags
(and does not time) estimators that disagree. Tiny ``max_iter``; scikit-learn's own
estimators stand on both sides unless said otherwise. No timing assertions."""
import functools
import json
import math

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

from fastnet import bench  # noqa: E402
from fastnet.__main__ import main  # noqa: E402
from fastnet.bench import sklearn_compare as sc  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """One BLAS thread inside these tests only: OpenBLAS threads on a busy 2-core
    machine turn a 0.1 s test into seconds (the benchmark itself leaves them alone)."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        yield


SAME = {"classifier": (MLPClassifier, MLPClassifier),
        "regressor": (MLPRegressor, MLPRegressor)}
TINY = {"max_iter": 3}


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    """No pause before the timed fits (sklearn_compare.SETTLE_S): nothing is judged on time."""
    monkeypatch.setattr(sc, "SETTLE_S", 0.0)


@pytest.fixture(scope="module")
def result():
    return bench.compare_sklearn(estimators=SAME, params=TINY, repeats=3, settle=0.0,
                                 progress=None)


def test_rows_cover_every_dataset_and_dtype(result):
    rows = result["rows"]
    assert [(r["dtype"], r["dataset"]) for r in rows] == [
        (dt, name) for dt in ("float64", "float32") for name in sc.DATASETS]
    for r in rows:
        assert r["agree"] and r["problems"] == []
        assert r["n_iter"] == r["fastnet_n_iter"] == 3
        assert len(r["sklearn_times"]) == len(r["fastnet_times"]) == 3
        assert r["sklearn_s"] == np.median(r["sklearn_times"])
        assert r["ratio"] == pytest.approx(r["sklearn_s"] / r["fastnet_s"])
        assert r["prediction_share"] == 1.0 and r["loss_max_rel_diff"] == 0.0
    shapes = {r["dataset"]: (r["n_samples"], r["n_features"], r["n_outputs"]) for r in rows}
    assert shapes == {"digits": (1797, 64, 10), "iris": (150, 4, 3), "wine": (178, 13, 3),
                      "breast_cancer": (569, 30, 2), "diabetes": (442, 10, 1)}
    for dtype in ("float64", "float32"):
        ratios = [r["ratio"] for r in rows if r["dtype"] == dtype]
        assert result["geomean"][dtype] == pytest.approx(
            math.exp(np.mean(np.log(ratios))))
    assert result["custom"] and result["random_state"] == sc.RANDOM_STATE


def test_table_has_the_columns_and_the_geometric_means(result):
    text = bench.format_sklearn_table(result)
    lines = text.splitlines()
    header = "| " + " | ".join(bench.SKLEARN_HEADER) + " |"
    assert lines.count(header) == 2
    assert "float64:" in lines and "float32:" in lines
    table_rows = [line for line in lines if line.startswith("| ") and line != header]
    assert len(table_rows) == 2 * (len(sc.DATASETS) + 1)
    for line in table_rows:
        assert len(line.strip("|").split("|")) == len(bench.SKLEARN_HEADER)
    assert sum(line.startswith("| geometric mean |") for line in table_rows) == 2
    assert "| digits | 1797 x 64 | 10 classes | 3 |" in text
    assert "| diabetes | 442 x 10 | 1 output | 3 |" in text
    assert "BLAS:" in text and "OPENBLAS_NUM_THREADS=" in text
    assert "reproduce: fastnet bench --sklearn" in text and "not the default comparison" in text


def test_json_round_trip(result, tmp_path):
    path = tmp_path / "sk.json"
    bench.save_json(result, str(path))
    back = json.loads(path.read_text())
    assert len(back["rows"]) == len(result["rows"])
    assert back["geomean"] == pytest.approx(result["geomean"])
    assert back["blas"] == result["blas"]


def _counting(cls, counter, **override):
    def make(**kwargs):
        counter.append(1)
        return cls(**{**kwargs, **override})
    return make


def test_a_different_trajectory_is_flagged_and_not_timed():
    fits = []
    other = {"classifier": (_counting(MLPClassifier, fits, learning_rate_init=0.01),
                            MLPClassifier), "regressor": SAME["regressor"]}
    row = sc.measure("iris", "float64", repeats=3, estimators=other, params=TINY)
    assert not row["agree"] and len(fits) == 1          # the agreement fit only
    assert row["ratio"] is None and row["fastnet_times"] == []
    assert any("loss_curve_" in p for p in row["problems"])
    assert any("learning_rate_init" in p for p in row["problems"])
    assert "DISAGREES" in " | ".join(sc.format_row(row))
    with pytest.raises(AssertionError, match="disagree"):
        sc.measure("iris", "float64", repeats=3, estimators=other, params=TINY, strict=True)


def test_a_different_iteration_count_is_flagged():
    other = {"regressor": (_counting(MLPRegressor, [], max_iter=4), MLPRegressor),
             "classifier": SAME["classifier"]}
    row = sc.measure("diabetes", "float32", repeats=3, estimators=other, params=TINY)
    assert not row["agree"] and row["fastnet_n_iter"] == 4 and row["n_iter"] == 3
    assert any("n_iter_" in p for p in row["problems"])
    assert "3 / 4" in sc.format_row(row)


class _OneWrongLabel(MLPClassifier):
    def predict(self, X):
        p = super().predict(X).copy()
        p[0] = self.classes_[(np.searchsorted(self.classes_, p[0]) + 1) % len(self.classes_)]
        return p


def test_predictions_exact_in_float64_loose_in_float32():
    est = {"classifier": (_OneWrongLabel, MLPClassifier), "regressor": SAME["regressor"]}
    row64 = sc.measure("digits", "float64", repeats=3, estimators=est, params=TINY)
    assert not row64["agree"] and any("predictions" in p for p in row64["problems"])
    row32 = sc.measure("digits", "float32", repeats=3, estimators=est, params=TINY)
    assert row32["agree"] and row32["prediction_share"] == pytest.approx(1 - 1 / 1797)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_missing_attributes_are_flagged():
    X, y = sc.load_dataset("iris")
    ref = MLPClassifier(random_state=0, max_iter=3).fit(X, y)
    problems, _ = sc.compare_fitted(object(), ref, X, y, "float64")
    assert problems == ["fastnet has no n_iter_", "fastnet has no loss_curve_",
                        "fastnet has no coefs_"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_dtype_must_be_kept():
    X64, y = sc.load_dataset("iris", "float64")
    X32 = X64.astype(np.float32)
    fast = MLPClassifier(random_state=0, max_iter=3).fit(X64, y)   # float64 weights
    ref = MLPClassifier(random_state=0, max_iter=3).fit(X32, y)
    problems, _ = sc.compare_fitted(fast, ref, X32, y, "float32")
    assert any("fastnet keeps coefs_ in float64" in p for p in problems)


def test_data_and_arguments():
    X, y = sc.load_dataset("wine", "float32")
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert np.allclose(X.mean(axis=0), 0, atol=1e-5) and np.allclose(X.std(axis=0), 1, atol=1e-4)
    Xd, yd = sc.load_dataset("diabetes")
    assert yd.dtype == np.float64 and yd.min() > 20        # targets not standardised
    with pytest.raises(ValueError, match="unknown data set"):
        sc.load_dataset("mnist")
    with pytest.raises(ValueError, match="repeats"):
        sc.measure("iris", "float64", repeats=2, estimators=SAME, params=TINY)
    with pytest.raises(ValueError, match="dtype"):
        sc.measure("iris", "float16", estimators=SAME, params=TINY)


def test_cli(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "compare_sklearn",
                        functools.partial(sc.run, estimators=SAME, params=TINY))
    path = tmp_path / "out.json"
    assert main(["bench", "--sklearn", "--only", "iris,diabetes", "--dtype", "float64",
                 "--blas-threads", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| iris | 150 x 4 | 3 classes | 3 |" in out and "float32:" not in out
    assert ("reproduce: fastnet bench --sklearn --only iris,diabetes --dtype float64 "
            "--blas-threads 1") in out
    assert "limited to 1 thread(s) during the run" in out
    saved = json.loads(path.read_text())
    assert [r["dataset"] for r in saved["rows"]] == ["iris", "diabetes"]
    assert saved["repeats"] == 5 and saved["blas_threads"] == 1

    other = {"classifier": (_OneWrongLabel, MLPClassifier), "regressor": SAME["regressor"]}
    monkeypatch.setattr(bench, "compare_sklearn",
                        functools.partial(sc.run, estimators=other, params=TINY))
    assert main(["bench", "--sklearn", "--only", "iris", "--dtype", "float64"]) == 1
    assert "DISAGREES" in capsys.readouterr().out


def test_default_side_is_fastnet_sklearn():
    import fastnet.sklearn
    est = sc.default_estimators()
    assert est["classifier"][0] is fastnet.sklearn.MLPClassifier
    assert est["regressor"][0] is fastnet.sklearn.MLPRegressor
    assert est["classifier"][1].__module__.startswith("sklearn.")
    for name in ("iris", "diabetes"):     # the real pair, a few iterations, float64
        row = sc.measure(name, "float64", repeats=3, params=TINY)
        assert row["agree"], row["problems"]
