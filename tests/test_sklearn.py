"""fastnet.sklearn: scikit-learn's own estimator checks, and the usual workflows."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastnet.components import ACTIVATIONS  # noqa: E402
from fastnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


# The one check skipped, and why: it asks that integer weights equal repeated rows
# and zero weights equal removed rows. With stochastic SGD the repeated or removed
# rows change every epoch's sample order and batches, so the two trajectories differ
# (as for scikit-learn's own SGD estimators). The weights themselves are exact per
# sample: tests/test_sample_weight.py checks them against finite differences and the
# NumPy reference, and weights of 0 or 1 against leaving them out.
SKIPPED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "stochastic SGD: repeating or removing rows changes the sample order",
}


@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda estimator: SKIPPED_CHECKS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_sample_weight_in_the_estimators():
    X, y = make_classification(200, 6, random_state=6)
    w = np.random.default_rng(0).uniform(0, 2, len(y))
    a = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y, sample_weight=w)
    b = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    c = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y, sample_weight=np.ones(len(y)))
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(b.predict_proba(X), c.predict_proba(X))
    MLPClassifier((8,), max_iter=5, early_stopping=True, random_state=0).fit(X, y, sample_weight=w)


def test_labels_of_any_type_and_partial_fit():
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    names = np.array(["cat", "dog", "eel"])[y]
    clf = MLPClassifier((16,), random_state=0).fit(X, names)
    assert list(clf.classes_) == ["cat", "dog", "eel"] and clf.n_features_in_ == 6
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.8
    inc = MLPClassifier((16,), learning_rate=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.partial_fit(X[:50], names[:50])
    inc.partial_fit(X[:50], names[:50], classes=["cat", "dog", "eel"])
    for _ in range(30):
        inc.partial_fit(X, names)
    assert inc.n_iter_ == 31 and inc.score(X, names) > 0.8
    with pytest.raises(ValueError, match="not in classes_"):
        inc.partial_fit(X[:3], ["cat", "dog", "fox"])
    inc.fit(X, y)                                     # a later fit starts afresh
    assert list(inc.classes_) == [0, 1, 2] and inc.n_iter_ <= inc.max_iter


def test_warm_start_continues_and_cold_start_restarts():
    X, y = make_classification(120, 5, random_state=1)
    warm = MLPClassifier((8,), max_iter=5, warm_start=True, random_state=0)
    warm.fit(X, y)
    first = warm.net_
    warm.fit(X, y)
    assert warm.net_ is first and len(warm.loss_curve_) == 10
    cold = MLPClassifier((8,), max_iter=5, random_state=0)
    cold.fit(X, y)
    net = cold.net_
    cold.fit(X, y)
    assert cold.net_ is not net and len(cold.loss_curve_) == 5


def test_early_stopping_keeps_the_best_epoch():
    X, y = make_classification(400, 10, random_state=2, flip_y=0.2)
    clf = MLPClassifier((64,), early_stopping=True, validation_fraction=0.25,
                        n_iter_no_change=5, max_iter=300, learning_rate=0.01,
                        random_state=0).fit(X, y)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    seed = check_random_state(0).randint(2 ** 31 - 1)
    _, Xv, _, yv = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    assert clf.score(Xv, yv) == clf.best_validation_score_
    assert len(clf.validation_scores_) < 300


def test_regressor_multi_output_in_original_units():
    X, y = make_regression(300, 5, n_targets=2, noise=1.0, random_state=0)
    y = y * 100 + 1000                                # large targets: standardised inside
    reg = MLPRegressor((32,), max_iter=300, random_state=0).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (300, 2) and reg.score(X, y) > 0.95
    assert abs(pred.mean() - y.mean()) < 0.05 * abs(y.mean())
    assert MLPRegressor((8,), max_iter=3).fit(X, y[:, 0]).predict(X).shape == (300,)


def test_pipeline_cross_validation_and_grid_search():
    X, y = make_classification(300, 8, random_state=3)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=50, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(MLPClassifier(max_iter=30, random_state=0),
                        {"hidden_layer_sizes": [(4,), (16,)], "learning_rate": [0.001, 0.01]},
                        cv=3, n_jobs=2).fit(X, y)
    assert grid.best_score_ > 0.8 and len(grid.cv_results_["params"]) == 4


def test_grid_search_with_threads_matches_serial():
    """fit releases the GIL: joblib's threading backend runs fits side by side, with
    exactly the serial results."""
    import joblib
    X, y = make_classification(200, 8, random_state=4)
    params = {"hidden_layer_sizes": [(8,), (16,)], "batch_size": [1, 16]}
    serial = GridSearchCV(MLPClassifier(max_iter=10, random_state=0), params, cv=3).fit(X, y)
    with joblib.parallel_backend("threading", n_jobs=2):
        threaded = GridSearchCV(MLPClassifier(max_iter=10, random_state=0), params, cv=3,
                                n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  threaded.cv_results_["mean_test_score"])


def test_grid_search_on_a_dask_cluster():
    """A sweep on a real distributed.LocalCluster (scheduler and worker processes)
    through joblib's dask backend; point Client at a real scheduler's address instead."""
    pytest.importorskip("distributed")
    import joblib
    from distributed import Client, LocalCluster
    X, y = make_classification(150, 6, random_state=5)
    params = {"hidden_layer_sizes": [(4,), (12,)], "learning_rate": [0.001, 0.01]}
    serial = GridSearchCV(MLPClassifier(max_iter=15, random_state=0), params, cv=3).fit(X, y)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        with joblib.parallel_backend("dask"):
            on_dask = GridSearchCV(MLPClassifier(max_iter=15, random_state=0), params,
                                   cv=3, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  on_dask.cv_results_["mean_test_score"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_every_activation_in_the_estimators(activation):
    X, y = make_classification(60, 4, random_state=7)
    clf = MLPClassifier((5, 4), activation=activation, max_iter=3, random_state=0).fit(X, y)
    assert clf.net_.activation == [activation] * 2 and clf.predict(X).shape == (60,)
    reg = MLPRegressor((5,), activation=activation, max_iter=3, random_state=0).fit(X, X[:, 0])
    assert reg.net_.activation == [activation] and np.isfinite(reg.predict(X)).all()
