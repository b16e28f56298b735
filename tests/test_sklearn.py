"""fastnet.sklearn in the usual scikit-learn workflows (its API is scikit-learn's own
MLPClassifier / MLPRegressor: tests/test_sklearn_parity.py checks the exact parity and
runs scikit-learn's estimator checks).

With FASTNET_PARITY_ORACLE=sklearn these tests run on scikit-learn's own classes
(a self-test of the tests)."""
import os
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

if os.environ.get("FASTNET_PARITY_ORACLE") == "sklearn":     # self-test of the tests
    from sklearn.neural_network import MLPClassifier, MLPRegressor
else:
    from fastnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_sample_weight_in_the_estimators():
    """Weights change the fit, unit weights do not; accepted with early stopping and
    in partial_fit, for the classifier and the regressor."""
    X, y = make_classification(200, 6, random_state=6)
    w = np.random.default_rng(0).uniform(0, 2, len(y))
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    a = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    b = MLPClassifier(**kw).fit(X, y)
    c = MLPClassifier(**kw).fit(X, y, sample_weight=np.ones(len(y)))
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_allclose(b.predict_proba(X), c.predict_proba(X), rtol=1e-12)
    MLPClassifier(early_stopping=True, **kw).fit(X, y, sample_weight=w)
    MLPClassifier(**kw).partial_fit(X, y, sample_weight=w, classes=[0, 1])
    r1 = MLPRegressor(**kw).fit(X, X[:, 0], sample_weight=w)
    r2 = MLPRegressor(**kw).fit(X, X[:, 0])
    assert not np.array_equal(r1.predict(X), r2.predict(X))


def test_labels_of_any_type_and_partial_fit():
    """String labels in fit and partial_fit (classes= on the first call, required);
    partial_fit counts samples in t_ and one epoch per call; unknown labels refused;
    a later fit starts afresh."""
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    names = np.array(["cat", "dog", "eel"])[y]
    clf = MLPClassifier((16,), random_state=0).fit(X, names)
    assert list(clf.classes_) == ["cat", "dog", "eel"] and clf.n_features_in_ == 6
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.8
    inc = MLPClassifier((16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.partial_fit(X[:50], names[:50])
    inc.partial_fit(X[:50], names[:50], classes=["cat", "dog", "eel"])
    for _ in range(30):
        inc.partial_fit(X, names)
    assert inc.n_iter_ == 1 and inc.t_ == 50 + 30 * 200 and len(inc.loss_curve_) == 31
    assert inc.score(X, names) > 0.7
    with pytest.raises(ValueError, match="has classes not in `self.classes_`"):
        inc.partial_fit(X[:3], ["cat", "dog", "fox"])
    inc.fit(X, y)                                     # a later fit starts afresh
    assert list(inc.classes_) == [0, 1, 2] and inc.n_iter_ <= inc.max_iter


def test_warm_start_continues_and_cold_start_restarts():
    """warm_start=True continues from the fitted weights (the loss curve grows);
    without it a second fit repeats the first exactly (same random_state)."""
    X, y = make_classification(120, 5, random_state=1)
    cold = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    first = [c.copy() for c in cold.coefs_]
    cold.fit(X, y)
    assert len(cold.loss_curve_) == 5
    for a, b in zip(cold.coefs_, first):
        np.testing.assert_array_equal(a, b)
    warm = MLPClassifier((8,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
    warm.fit(X, y)
    assert len(warm.loss_curve_) == 10
    assert not np.array_equal(warm.coefs_[0], first[0])
    assert warm.loss_curve_[5] < warm.loss_curve_[0]


def test_early_stopping_keeps_the_best_epoch():
    """early_stopping restores the best weights: their score on the validation split
    (drawn from random_state after the weight initialisation, stratified) is
    best_validation_score_."""
    X, y = make_classification(400, 10, random_state=2, flip_y=0.2)
    clf = MLPClassifier((64,), early_stopping=True, validation_fraction=0.25,
                        n_iter_no_change=5, max_iter=300, learning_rate_init=0.01,
                        random_state=0).fit(X, y)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_ < 300
    rs = np.random.RandomState(0)                    # replay the initialisation draws
    for fan_in, fan_out in [(10, 64), (64, 1)]:
        rs.uniform(-1, 1, (fan_in, fan_out))
        rs.uniform(-1, 1, fan_out)
    _, Xv, _, yv = train_test_split(X, y, test_size=0.25, stratify=y, random_state=rs)
    assert clf.score(Xv, yv) == clf.best_validation_score_


def test_regressor_single_and_multi_output():
    """Multi-output targets give (n, k) predictions, one target (n,); a good fit."""
    X, y = make_regression(300, 5, n_targets=2, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.05,
                       random_state=0).fit(X, y)
    assert reg.predict(X).shape == (300, 2) and reg.n_outputs_ == 2
    assert reg.score(X, y) > 0.99
    one = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3).fit(X, y[:, 0])
    assert one.predict(X).shape == (300,) and one.n_outputs_ == 1


def test_pipeline_cross_validation_and_grid_search():
    """Inside a Pipeline, cross_val_score and a process-parallel GridSearchCV."""
    X, y = make_classification(300, 8, random_state=3)
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier((16,), max_iter=50, learning_rate_init=0.01,
                                       random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(MLPClassifier(max_iter=30, random_state=0),
                        {"hidden_layer_sizes": [(4,), (16,)],
                         "learning_rate_init": [0.001, 0.01]},
                        cv=3, n_jobs=2).fit(X, y)
    assert grid.best_score_ > 0.8 and len(grid.cv_results_["params"]) == 4


def test_grid_search_with_threads_matches_serial():
    """joblib's threading backend runs fits side by side, with exactly the serial
    results."""
    import joblib
    X, y = make_classification(200, 8, random_state=4)
    params = {"hidden_layer_sizes": [(8,), (16,)], "batch_size": [1, 16],
              "solver": ["sgd", "adam"]}
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
    params = {"hidden_layer_sizes": [(4,), (12,)], "learning_rate_init": [0.001, 0.01]}
    serial = GridSearchCV(MLPClassifier(max_iter=15, random_state=0), params, cv=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            with joblib.parallel_backend("dask"):
                on_dask = GridSearchCV(MLPClassifier(max_iter=15, random_state=0), params,
                                       cv=3, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  on_dask.cv_results_["mean_test_score"])


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_every_activation_and_solver_in_the_estimators(activation, solver):
    """Each of sklearn's activations with each solver, in both estimators: finite
    outputs of the right shapes."""
    X, y = make_classification(60, 4, random_state=7)
    clf = MLPClassifier((5, 4), activation=activation, solver=solver, max_iter=3,
                        random_state=0).fit(X, y)
    assert clf.predict(X).shape == (60,) and clf.predict_proba(X).shape == (60, 2)
    assert np.isfinite(clf.predict_proba(X)).all()
    reg = MLPRegressor(hidden_layer_sizes=(5,), activation=activation, solver=solver,
                       max_iter=3, random_state=0).fit(X, X[:, 0])
    assert reg.predict(X).shape == (60,) and np.isfinite(reg.predict(X)).all()


fastnet_only = pytest.mark.skipif(os.environ.get("FASTNET_PARITY_ORACLE") == "sklearn",
                                  reason="fastnet's own options")


@fastnet_only
def test_fastnet_options_default_to_sklearns_behaviour_and_change_it_when_set():
    """dtype, sampling and standardize_y: defaults give scikit-learn's model; set, they
    change what they say."""
    from sklearn.neural_network import MLPRegressor as SkRegressor
    X, y = make_regression(80, 4, random_state=1)
    y = y / 50
    ours = MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", max_iter=5, random_state=0).fit(X, y)
    theirs = SkRegressor(hidden_layer_sizes=(6,), solver="sgd", max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-9)
    f32 = MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", max_iter=5, random_state=0,
                       dtype="float32").fit(X, y)
    assert f32.coefs_[0].dtype == np.float32
    assert f32.predict(X.astype(np.float32)).dtype == np.float32
    assert f32.predict(X).dtype == np.float64           # NumPy's promotion, as sklearn
    uniform = MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", max_iter=5, random_state=0,
                           sampling="uniform").fit(X, y)
    assert not np.allclose(uniform.coefs_[0], ours.coefs_[0])
    scaled = MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", max_iter=5, random_state=0,
                          standardize_y=True).fit(X, y * 1000 + 5)
    pred = scaled.predict(X)
    assert abs(np.mean(pred) - np.mean(y * 1000 + 5)) < 0.5 * np.std(y * 1000)


@fastnet_only
def test_coefs_are_scikit_learns_plain_arrays_and_the_network_follows_them():
    """coefs_[i] (fan_in, fan_out) and intercepts_ are plain arrays as in
    scikit-learn: modified in place, replaced element by element or as a whole list,
    the next predict uses them; a warm fit trains from them; shapes that do not chain
    are refused with a ValueError (never read out of bounds)."""
    X, y = make_classification(40, 3, n_informative=2, n_redundant=0, random_state=2)
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(3, 4), (4, 1)]
    assert all(c.flags.c_contiguous for c in clf.coefs_)
    before = clf.predict_proba(X)
    clf.coefs_[1][...] = 0
    clf.intercepts_[1] = np.zeros(1)
    np.testing.assert_allclose(clf.predict_proba(X), 0.5)
    clf.coefs_ = [np.ones((3, 4)), np.ones((4, 1))]
    assert not np.allclose(clf.predict_proba(X), before)
    assert np.shares_memory(clf.coefs_[0], clf.coefs_[0])      # a stored list, not a copy
    weights = clf.coefs_[0]
    clf.set_params(warm_start=True, solver="sgd").fit(X, y)
    assert clf.coefs_[0] is weights and not np.allclose(weights, 1)   # trained in place
    clf.coefs_[0] = np.ones((4, 3))
    with pytest.raises(ValueError, match="coefs_"):
        clf.predict(X)


@fastnet_only
def test_activation_and_alpha_are_read_when_used_as_in_sklearn():
    """set_params(activation=...) after a fit changes predict (scikit-learn reads it
    in every forward pass); set_params(alpha=...) between partial_fit calls changes
    the next steps (it reads alpha at every batch)."""
    from sklearn.neural_network import MLPClassifier as SkClassifier
    X, y = make_classification(60, 4, random_state=6)
    ours, theirs = (cls((5,), max_iter=3, random_state=0).fit(X, y)
                    for cls in (MLPClassifier, SkClassifier))
    for est in (ours, theirs):
        est.set_params(activation="identity")
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)
    ours, theirs = (cls((5,), solver="sgd", random_state=0).partial_fit(X, y, classes=[0, 1])
                    for cls in (MLPClassifier, SkClassifier))
    for est in (ours, theirs):
        est.set_params(alpha=1.0).partial_fit(X, y)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


@fastnet_only
def test_sparse_input_too_wide_to_densify_is_refused_clearly():
    """fastnet's kernels take dense rows: sparse X is densified (predict a chunk of
    rows at a time); when the dense copy cannot fit, a clear error, not a crash."""
    import scipy.sparse
    X = scipy.sparse.random(100, 3, density=0.5, format="csr", random_state=0)
    y = np.arange(100) % 2
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(X.toarray()))
    huge = scipy.sparse.csr_matrix((2 ** 18, 2 ** 18))        # 512 GiB dense
    with pytest.raises((MemoryError, ValueError), match="dense"):
        MLPClassifier((4,), max_iter=1).fit(huge, np.arange(2 ** 18) % 2)


@fastnet_only
def test_poisson_refuses_negative_targets():
    """scikit-learn documents y >= 0 for loss='poisson' (and trains on to a NaN loss);
    fastnet says so."""
    X, y = make_regression(30, 3, random_state=3)
    with pytest.raises(ValueError, match="y >= 0"):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, y)


@pytest.fixture
def split_every_batch(monkeypatch):
    """Every batch split in two halves (this thread and the pool's worker), and a
    record of whether the split path ran."""
    import fastnet.sklearn as fs
    from fastnet import _train
    monkeypatch.setattr(fs, "_SPLIT_ABOVE", 0)
    monkeypatch.setattr(fs, "_thread_budget", lambda: 2)
    calls = []
    real = _train.train_epoch_sklearn

    def spy(*args):
        calls.append(len(args) > 13)        # plan2 and grads2 passed
        return real(*args)
    monkeypatch.setattr(_train, "train_epoch_sklearn", spy)
    return calls


@fastnet_only
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_split_in_two_threads_train_the_same_model(split_every_batch, weighted):
    """With every batch split (odd sizes, sample weights), the model is still
    scikit-learn's to 1e-9, and bitwise the same from run to run (each half has its
    own buffers; the sum's order is fixed whichever thread ran which half)."""
    from sklearn.neural_network import MLPClassifier as SkClassifier
    X, y = make_classification(157, 6, n_informative=4, n_classes=3, random_state=4)
    w = np.random.default_rng(0).uniform(0.5, 2, len(y)) if weighted else None
    params = dict(hidden_layer_sizes=(9, 5), batch_size=37, max_iter=12, random_state=0)
    ours = MLPClassifier(**params).fit(X, y, sample_weight=w)
    theirs = SkClassifier(**params).fit(X, y, sample_weight=w)
    assert split_every_batch and all(split_every_batch)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    again = MLPClassifier(**params).fit(X, y, sample_weight=w)
    for a, b in zip(ours.coefs_, again.coefs_):
        np.testing.assert_array_equal(a, b)


@fastnet_only
def test_split_batches_from_several_threads_at_once(split_every_batch):
    """Fits in four Python threads at once share one pool worker (the others compute
    both halves themselves): every model equals the one fitted alone, bitwise."""
    from concurrent.futures import ThreadPoolExecutor
    X, y = make_regression(300, 8, n_targets=2, random_state=5)
    params = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=1e-3,
                  batch_size=50, max_iter=8, random_state=1)
    alone = MLPRegressor(**params).fit(X, y / 100)
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: MLPRegressor(**params).fit(X, y / 100), range(8)))
    for model in models:
        for a, b in zip(model.coefs_ + model.intercepts_, alone.coefs_ + alone.intercepts_):
            np.testing.assert_array_equal(a, b)


def test_float32_input_keeps_sklearns_dtypes_per_solver():
    """float32 X: adam/sgd keep float32 coefs_; lbfgs ends with float64 coefs_ (as
    scikit-learn, which unpacks scipy's float64 vector); outputs follow NumPy's
    promotion of X's dtype with the model's."""
    X, y = make_classification(80, 5, random_state=8)
    X32 = X.astype(np.float32)
    adam = MLPClassifier((6,), max_iter=3, random_state=0).fit(X32, y)
    assert adam.coefs_[0].dtype == np.float32
    assert adam.predict_proba(X32).dtype == np.float32
    assert adam.predict_proba(X).dtype == np.float64
    lbfgs = MLPClassifier((6,), solver="lbfgs", max_iter=5, random_state=0).fit(X32, y)
    assert lbfgs.coefs_[0].dtype == np.float64 and lbfgs.intercepts_[0].dtype == np.float64
    assert lbfgs.predict_proba(X32).dtype == np.float64


@fastnet_only
@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_sklearns_docstring_examples_give_sklearns_results_with_the_import_swapped(name):
    """scikit-learn's own docstring example of each estimator, run twice: as written,
    and with only the import line swapped for fastnet.sklearn; every value it shows
    agrees to 1e-9."""
    import doctest
    import sklearn.neural_network as skn
    doc = getattr(skn, name).__doc__
    examples = doctest.DocTestParser().get_examples(doc[doc.index("Examples"):])
    theirs, ours = {}, {}
    shown = 0
    for example in examples:
        values = []
        for namespace, swap in ((theirs, False), (ours, True)):
            source = example.source
            if swap:
                source = source.replace("from sklearn.neural_network import",
                                        "from fastnet.sklearn import")
            try:
                code = compile(source, name, "eval")
            except SyntaxError:
                exec(compile(source, name, "exec"), namespace)
                values.append(None)
            else:
                values.append(eval(code, namespace))
        if values[0] is not None and not hasattr(values[0], "fit"):
            np.testing.assert_allclose(np.asarray(values[1], dtype=float),
                                       np.asarray(values[0], dtype=float), rtol=1e-9)
            shown += 1
    assert any(type(v).__module__ == "fastnet.sklearn" for v in ours.values())
    assert shown >= 2


@fastnet_only
def test_sklearn_names_map_onto_the_registries():
    """Every scikit-learn activation and output activation the estimators accept names
    a registered fastnet component (fastnet.components), and every loss the regressor
    accepts has its output head."""
    import fastnet.sklearn as fs
    from fastnet.components import ACTIVATIONS, HEADS
    constraint = fs.MLPClassifier._parameter_constraints["activation"][0]
    assert set(fs._ACTIVATIONS) == set(constraint.options)
    assert set(fs._ACTIVATIONS.values()) <= set(ACTIVATIONS.names)
    assert {head for head, _, _ in fs._OUTPUTS.values()} <= set(HEADS.names)
    for loss in fs.MLPRegressor._parameter_constraints["loss"][0].options:
        assert MLPRegressor(loss=loss)._out_activation() in fs._OUTPUTS


@fastnet_only
def test_concurrent_fits_with_default_settings_are_bitwise_the_lone_fit(monkeypatch):
    """Nothing patched but the environment: fits running in four threads at once
    (which lower the BLAS's thread count while they run) make the same split decision
    as a lone fit, so every model is bitwise the lone one."""
    from concurrent.futures import ThreadPoolExecutor
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    X, y = make_classification(600, 32, n_informative=12, n_classes=4, random_state=9)
    params = dict(hidden_layer_sizes=(64,), max_iter=3, random_state=0)
    alone = MLPClassifier(**params).fit(X, y)
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: MLPClassifier(**params).fit(X, y), range(8)))
    for model in models:
        for a, b in zip(model.coefs_, alone.coefs_):
            np.testing.assert_array_equal(a, b)


def test_predictions_from_two_threads_at_once_are_the_serial_ones():
    """One fitted estimator predicting in two threads at once: the network's workspace
    is used by one forward pass at a time (the model's read lock), so each thread gets
    exactly what it gets alone (without the lock, 19-34 of 40 were wrong)."""
    import threading
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((500, 50)), rng.standard_normal(500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(256,), max_iter=2, random_state=0).fit(X, y)
    batches = [rng.standard_normal((3000, 50)) for _ in range(2)]
    wanted = [reg.predict(b) for b in batches]
    wrong = []

    def predict(X, want):
        for _ in range(10):
            if not np.array_equal(reg.predict(X), want):
                wrong.append(1)
    threads = [threading.Thread(target=predict, args=pair) for pair in zip(batches, wanted)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
