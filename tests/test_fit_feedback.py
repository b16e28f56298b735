"""Feedback while training (issue 14): the whole-fit progress bar, Keras-style early
stopping with best-weight restore, validation_split and class_weight; and fit's work
cut by its multiply-adds (large batches' gradients in slices, inference in slices),
which must not change what is computed beyond rounding."""
import sys

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet import _progress, _training
from conftest import HEAD_PARAMS, assert_close, make_problem


def _classes(n=120, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, rng.integers(0, k, n)


def _same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


# -- progress ----------------------------------------------------------------------

class _Recorder(_progress.Progress):
    """What fit reports, without printing."""
    instances = []

    def __init__(self, epochs, samples, enabled, file=None):
        super().__init__(epochs, samples, False, file)
        self.events = []
        _Recorder.instances.append(self)

    def advance(self, rows):
        super().advance(rows)
        self.events.append(("rows", rows))

    def epoch_done(self, record):
        self.events.append(("epoch", record["epoch"]))


def test_progress_moves_within_every_epoch_over_the_whole_fit(impl, monkeypatch):
    """The bar counts epochs x samples and moves after every chunk: an epoch of 3000
    per-sample steps is at least two chunks (the first holds at most 1024 rows)."""
    monkeypatch.setattr(_training, "Progress", _Recorder)
    _Recorder.instances.clear()
    X, y = _classes(3000)
    impl.MLP([4, 8, 3], seed=0).fit(X, y, epochs=2, learning_rate=0.01)
    (progress,) = _Recorder.instances
    assert (progress.epochs, progress.samples) == (2, 3000)
    assert progress.done == 6000
    ends = [i for i, event in enumerate(progress.events) if event[0] == "epoch"]
    assert len(ends) == 2
    first_epoch = progress.events[:ends[0]]
    assert len(first_epoch) >= 2 and sum(rows for _, rows in first_epoch) == 3000
    assert first_epoch[0][1] <= 1024


def test_tqdm_bar_spans_the_whole_fit(impl, capsys):
    pytest.importorskip("tqdm")
    X, y = _classes(300)
    impl.MLP([4, 6, 3], seed=0).fit(X, y, epochs=3, validation_data=(X, y), verbose=True)
    text = capsys.readouterr()
    text = text.out + text.err
    assert "900/900" in text and "epoch 3/3" in text and "val_loss" in text
    assert text.count("\n") == 1                  # one bar, not one per epoch


def test_line_progress_within_a_long_epoch(impl, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)         # the plain-line progress
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)    # (also once tqdm was imported)
    monkeypatch.setattr(_progress, "LINE_SECONDS", 0.0)    # a line after every chunk
    X, y = _classes(3000)
    impl.MLP([4, 8, 3], seed=0).fit(X, y, epochs=2, verbose=True)
    out = capsys.readouterr().out
    inside = [line for line in out.splitlines() if "/3000 samples" in line]
    assert inside and inside[0].startswith("epoch 1/2  ") and "s left" in inside[0]
    assert out.count("samples/s") == 2 and "epoch 2/2  loss" in out


# -- validation_split --------------------------------------------------------------

def test_validation_split_is_the_last_fraction_before_shuffling(impl):
    X, y = _classes(10)
    split = impl.MLP([4, 5, 3], seed=0)
    h1 = split.fit(X, y, epochs=3, batch_size=2, validation_split=0.25)
    given = impl.MLP([4, 5, 3], seed=0)              # Keras: floor(10 * 0.75) = 7 rows
    h2 = given.fit(X[:7], y[:7], epochs=3, batch_size=2, validation_data=(X[7:], y[7:]))
    assert h1 == h2 | {"seconds": h1["seconds"]}
    _same_model(split, given)


def test_validation_split_keeps_the_training_rows_sample_weights(impl):
    X, y = _classes(20)
    w = np.linspace(0.5, 2, 20)
    a = impl.MLP([4, 5, 3], seed=0)
    a.fit(X, y, epochs=2, sample_weight=w, validation_split=0.5)
    b = impl.MLP([4, 5, 3], seed=0)
    b.fit(X[:10], y[:10], epochs=2, sample_weight=w[:10], validation_data=(X[10:], y[10:]))
    _same_model(a, b)


@pytest.mark.parametrize("bad, match", [
    (1.0, r"validation_split must be in \[0, 1\)"),
    (-0.1, r"validation_split must be in \[0, 1\)"),
    ("0.2", "validation_split must be a real number"),
    (0.95, "leaves no rows for training"),
    (1e-17, "leaves no rows for validation"),      # 10 * (1 - 1e-17) rounds to 10
])
def test_validation_split_errors(impl, bad, match):
    X, y = _classes(10)
    net = impl.MLP([4, 5, 3], seed=0)
    before = net.state_dict()
    with pytest.raises(ValueError, match=match):
        net.fit(X, y, validation_split=bad)
    with pytest.raises(ValueError, match="validation_data or validation_split, not both"):
        net.fit(X, y, validation_split=0.5, validation_data=(X, y))
    np.testing.assert_array_equal(net.parameters, before["params"])


def test_validation_length_mismatch_names_both_arrays(impl):
    X, y = _classes(10)
    net = impl.MLP([4, 5, 3], seed=0)
    with pytest.raises(ValueError, match="validation_data X has 5 samples but "
                                         "validation_data y has 2"):
        net.fit(X, y, validation_data=(X[:5], y[:2]))
    reg = impl.MLP([4, 5, 1], output="linear", seed=0)
    with pytest.raises(ValueError, match="validation_data X has 5 samples but "
                                         "validation_data y has 2"):
        reg.fit(X, y * 1.0, validation_data=(X[:5], y[:2] * 1.0))
    with pytest.raises(ValueError, match="^X has 10 samples but y has 2"):
        net.fit(X, y[:2])


# -- class_weight ------------------------------------------------------------------

def test_class_weight_dict_is_a_per_class_sample_weight(impl):
    X, y = _classes(60)
    a = impl.MLP([4, 5, 3], dtype="float64", seed=0)
    a.fit(X, y, epochs=2, batch_size=4, class_weight={0: 2.0, 2: 0.5})   # class 1: 1
    b = impl.MLP([4, 5, 3], dtype="float64", seed=0)
    b.fit(X, y, epochs=2, batch_size=4, sample_weight=np.array([2.0, 1.0, 0.5])[y])
    _same_model(a, b)


def test_class_weight_multiplies_sample_weight(impl):
    X, y = _classes(60)
    w = np.random.default_rng(1).uniform(0, 3, 60)
    a = impl.MLP([4, 5, 3], dtype="float64", seed=0)
    a.fit(X, y, epochs=2, batch_size=4, sample_weight=w, class_weight={1: 3.0})
    b = impl.MLP([4, 5, 3], dtype="float64", seed=0)
    b.fit(X, y, epochs=2, batch_size=4, sample_weight=w * np.array([1.0, 3.0, 1.0])[y])
    _same_model(a, b)


@pytest.mark.parametrize("weighted", [False, True])
def test_balanced_is_scikit_learns(impl, weighted):
    sklearn_cw = pytest.importorskip("sklearn.utils.class_weight")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 4))
    y = np.r_[np.zeros(35, int), np.ones(10, int), np.full(5, 3)]     # class 2 absent
    w = rng.uniform(0.1, 2, 50) if weighted else None
    present = np.unique(y)
    expected = np.ones(4)
    expected[present] = sklearn_cw.compute_class_weight("balanced", classes=present, y=y,
                                                        sample_weight=w)
    a = impl.MLP([4, 5, 4], dtype="float64", seed=0)
    a.fit(X, y, epochs=2, batch_size=5, sample_weight=w, class_weight="balanced")
    b = impl.MLP([4, 5, 4], dtype="float64", seed=0)
    b.fit(X, y, epochs=2, batch_size=5,
          sample_weight=expected[y] * (1.0 if w is None else w))
    assert_close(a.parameters, b.parameters, "update", "float64")


def test_class_weight_on_a_one_unit_logistic_head(impl):
    X, y = _classes(40, k=2)
    a = impl.MLP([4, 5, 1], output="logistic", dtype="float64", seed=0)
    a.fit(X, y, epochs=2, class_weight={1: 4.0})
    b = impl.MLP([4, 5, 1], output="logistic", dtype="float64", seed=0)
    b.fit(X, y, epochs=2, sample_weight=np.where(y == 1, 4.0, 1.0))
    _same_model(a, b)


def test_class_weight_applies_to_the_training_rows_only(impl):
    X, y = _classes(40)
    a = impl.MLP([4, 5, 3], dtype="float64", seed=0)
    h = a.fit(X, y, epochs=2, class_weight="balanced", validation_split=0.25)
    assert h["val_loss"][-1] == pytest.approx(a.loss(X[30:], y[30:]), rel=1e-12)
    counts = np.bincount(y[:30], minlength=3)
    b = impl.MLP([4, 5, 3], dtype="float64", seed=0)
    b.fit(X[:30], y[:30], epochs=2, sample_weight=(30 / (3 * counts))[y[:30]],
          validation_data=(X[30:], y[30:]))
    assert_close(a.parameters, b.parameters, "update", "float64")


@pytest.mark.parametrize("output, k, cw, match", [
    ("softmax", 3, {3: 1.0}, "class_weight has key 3"),
    ("softmax", 3, {-1: 1.0}, "class_weight has key -1"),
    ("softmax", 3, {"a": 1.0}, "class_weight has key 'a'"),
    ("softmax", 3, {0: -1.0}, r"class_weight\[0\] must be in \[0, inf\)"),
    ("softmax", 3, {0: float("nan")}, r"class_weight\[0\] must be in"),
    ("softmax", 3, "balance", "unknown class_weight 'balance'"),
    ("softmax", 3, [1, 2, 3], "class_weight must be None, a dict"),
    ("linear", 1, {0: 1.0}, "class_weight needs one class per sample"),
    ("logistic", 2, {0: 1.0}, "class_weight needs one class per sample"),
])
def test_class_weight_errors(impl, output, k, cw, match):
    X, y = _classes(10, k=2)
    truth = y if output == "softmax" else (np.c_[y, 1 - y] if k == 2 else y * 1.0)
    net = impl.MLP([4, 5, k], output=output, seed=0)
    before = net.parameters.copy()
    with pytest.raises(ValueError, match=match):
        net.fit(X, truth, class_weight=cw)
    np.testing.assert_array_equal(net.parameters, before)


def test_class_weight_refuses_probabilities(impl):
    X, _ = _classes(10)
    net = impl.MLP([4, 5, 1], output="logistic", seed=0)
    with pytest.raises(ValueError, match="class_weight needs 0/1 targets"):
        net.fit(X, np.linspace(0, 1, 10), class_weight="balanced")


# -- early stopping ----------------------------------------------------------------

def _overfitting(n=40, seed=0):
    """Random labels: the training loss falls while the validation loss, on other
    random labels, soon rises, so early stopping has something to stop."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2 * n, 6))
    return X[:n], rng.integers(0, 2, n), X[n:], rng.integers(0, 2, n)


def _keras_rule(values, patience, min_delta, higher=False):
    """Keras's EarlyStopping decisions over a sequence of monitored values:
    (best epoch, stopped epoch or None), both 1-based."""
    best, best_epoch, wait = (-np.inf if higher else np.inf), None, 0
    for epoch, value in enumerate(values):
        if best_epoch is None:
            best_epoch = epoch
        wait += 1
        better = value - min_delta > best if higher else value + min_delta < best
        if better:
            best, best_epoch, wait = value, epoch, 0
            continue
        if patience is not None and wait >= patience and epoch > 0:
            return best_epoch + 1, epoch + 1
    return best_epoch + 1, None


@pytest.mark.parametrize("patience, min_delta", [(0, 0.0), (3, 0.0), (3, 1e-3)])
def test_early_stopping_follows_keras_rule(impl, patience, min_delta):
    X, y, Xv, yv = _overfitting()
    net = impl.MLP([6, 32, 2], dtype="float64", seed=0)
    h = net.fit(X, y, epochs=300, batch_size=4, learning_rate=0.05, momentum=0.9,
                validation_data=(Xv, yv), patience=patience, min_delta=min_delta)
    best, stopped = _keras_rule(h["val_loss"], patience, min_delta)
    assert stopped is not None and stopped < 300        # it did stop early
    assert h["stopped_epoch"] == stopped == len(h["loss"]) and h["best_epoch"] == best
    # without restore_best_weights the model is the one of the last epoch
    plain = impl.MLP([6, 32, 2], dtype="float64", seed=0)
    plain.fit(X, y, epochs=stopped, batch_size=4, learning_rate=0.05, momentum=0.9)
    _same_model(net, plain)


def test_restore_best_weights_puts_back_the_best_epochs_state(impl):
    X, y, Xv, yv = _overfitting()
    net = impl.MLP([6, 32, 2], dtype="float64", seed=0)
    h = net.fit(X, y, epochs=300, batch_size=4, learning_rate=0.05, momentum=0.9,
                validation_data=(Xv, yv), patience=5, restore_best_weights=True)
    best = h["best_epoch"]
    assert best == int(np.argmin(h["val_loss"])) + 1 < h["stopped_epoch"]
    assert net.loss(Xv, yv) == pytest.approx(h["val_loss"][best - 1], rel=1e-12)
    again = impl.MLP([6, 32, 2], dtype="float64", seed=0)
    again.fit(X, y, epochs=best, batch_size=4, learning_rate=0.05, momentum=0.9)
    _same_model(net, again)          # parameters, velocity and update count


@pytest.mark.parametrize("monitor", ["loss", "val_accuracy"])
def test_monitor_direction(impl, monitor):
    X, y, Xv, yv = _overfitting()
    net = impl.MLP([6, 32, 2], dtype="float64", seed=0)
    h = net.fit(X, y, epochs=60, batch_size=4, learning_rate=0.05,
                validation_data=(Xv, yv), patience=2, monitor=monitor,
                restore_best_weights=True)
    higher = monitor == "val_accuracy"
    best, stopped = _keras_rule(h[monitor], 2, 0.0, higher)
    assert h["best_epoch"] == best and h.get("stopped_epoch") == stopped


def test_restore_best_weights_without_patience_runs_every_epoch(impl):
    X, y, Xv, yv = _overfitting()
    net = impl.MLP([6, 32, 2], dtype="float64", seed=0)
    h = net.fit(X, y, epochs=40, batch_size=4, learning_rate=0.05, momentum=0.9,
                validation_split=0.5, restore_best_weights=True)
    assert len(h["loss"]) == 40 and "stopped_epoch" not in h
    assert h["best_epoch"] == int(np.argmin(h["val_loss"])) + 1
    assert net.state_dict()["updates"] == h["best_epoch"] * 5


def test_both_implementations_stop_alike():
    X, y, Xv, yv = _overfitting()
    histories = []
    for impl in (fastnet, fastnet.reference):
        net = impl.MLP([6, 32, 2], dtype="float64", seed=0)
        histories.append(net.fit(X, y, epochs=300, batch_size=4, learning_rate=0.05,
                                 momentum=0.9, validation_data=(Xv, yv), patience=3,
                                 restore_best_weights=True))
    a, b = histories
    assert (a["best_epoch"], a["stopped_epoch"]) == (b["best_epoch"], b["stopped_epoch"])
    assert_close(np.array(a["val_loss"]), np.array(b["val_loss"]), "trajectory", "float64")


@pytest.mark.parametrize("kwargs, match", [
    (dict(patience=2), "unknown monitor 'val_loss'.*need validation_data or validation_split"),
    (dict(patience=-1), "patience must be None or an integer >= 0"),
    (dict(patience=1.5), "patience must be None or an integer >= 0"),
    (dict(patience=True), "patience must be None or an integer >= 0"),
    (dict(patience=2, monitor="accuracy"), "unknown monitor 'accuracy'"),
    (dict(patience=2, monitor="loss", min_delta=-1e-3), r"min_delta must be in \[0, inf\)"),
    (dict(monitor="loss"), "monitor and min_delta need patience"),
    (dict(min_delta=0.1), "monitor and min_delta need patience"),
    (dict(restore_best_weights=1), "restore_best_weights must be True or False"),
])
def test_early_stopping_errors_leave_the_model_unchanged(impl, kwargs, match):
    X, y = _classes(20)
    net = impl.MLP([4, 5, 3], seed=0)
    before = net.state_dict()
    with pytest.raises(ValueError, match=match):
        net.fit(X, y, **kwargs)
    _same_model(net, impl.MLP([4, 5, 3], seed=0))
    assert before["updates"] == 0


# -- work in slices: the same arithmetic up to rounding -------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer, options", [
    ("sgd", dict(momentum=0.9, l2=1e-3, lr_decay=0.1)),
    ("sgd", dict(nesterov=True, momentum=0.5)),
    ("adam", dict(l2=1e-3)),
])
def test_a_batch_split_in_slices_takes_the_same_step(impl, monkeypatch, dtype, optimizer,
                                                      options):
    """A batch too large for one chunk of work has its gradient summed over slices
    (Ctrl-C is looked at between them) and takes one step: the trajectory is the
    unsplit one up to rounding, with and without sample weights."""
    X, y = _classes(64)
    w = np.random.default_rng(3).uniform(0, 2, 64)
    runs = []
    for work in (_training.CHUNK_WORK, 3 * (4 * 7 + 7 * 3) * 5):   # 5-row slices
        monkeypatch.setattr(_training, "CHUNK_WORK", work)
        net = impl.MLP([4, 7, 3], "tanh", dtype=dtype, seed=0)
        h = net.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, sample_weight=w,
                    learning_rate=0.05, **options)
        runs.append((net.state_dict(), h))
    (a, ha), (b, hb) = runs
    assert _training.Schedule([4, 7, 3], 16).split == 5              # it did split
    assert a["updates"] == b["updates"] == 12
    for key in a:
        if key != "updates":
            assert_close(a[key], b[key], "trajectory", dtype)
    assert_close(np.array(ha["loss"]), np.array(hb["loss"]), "trajectory", dtype)
    assert ha["learning_rate"] == hb["learning_rate"]


def test_split_batches_agree_between_implementations(monkeypatch):
    monkeypatch.setattr(_training, "CHUNK_WORK", 3 * (4 * 7 + 7 * 3) * 5)
    X, y = _classes(64)
    nets = []
    for impl in (fastnet, fastnet.reference):
        net = impl.MLP([4, 7, 3], dtype="float64", seed=0)
        net.fit(X, y, epochs=3, batch_size=16, learning_rate=0.05, momentum=0.9)
        nets.append(net)
    assert_close(nets[0].parameters, nets[1].parameters, "trajectory", "float64")


def test_split_batch_divergence_rolls_back(impl, monkeypatch):
    """A split batch meeting a non-finite loss does not step; fit rolls back and raises
    as on the unsplit path: the same message, the same model afterwards."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)) * 10
    outcomes = []
    for work in (_training.CHUNK_WORK, 3 * 3 * 2):                  # 2-row slices
        monkeypatch.setattr(_training, "CHUNK_WORK", work)
        net = impl.MLP([3, 1], output="linear", dtype="float64", seed=0)
        with pytest.raises(FloatingPointError, match="NaN or infinite") as info:
            net.fit(X, X @ [1.0, -2.0, 3.0], epochs=50, batch_size=8, learning_rate=1e30)
        outcomes.append((str(info.value), info.value.history["loss"], net.state_dict()))
    (m1, h1, s1), (m2, h2, s2) = outcomes
    assert m1 == m2 and len(h1) == len(h2) and s1["updates"] == s2["updates"]
    assert np.isfinite(s2["params"]).all()
    assert_close(s1["params"], s2["params"], "trajectory", "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_in_slices_is_the_same(impl, monkeypatch, dtype):
    """forward, predict, loss, gradients, score and the validation pass over many rows
    run in slices (Ctrl-C between them): the same values up to rounding."""
    X, y = _classes(50)
    w = np.random.default_rng(4).uniform(0, 2, 50)
    net = impl.MLP([4, 7, 3], dtype=dtype, seed=0)
    whole = (net.forward(X), net.loss(X, y, w), net.gradients(X, y, w), net.score(X, y))
    unweighted = net.loss(X, y)
    monkeypatch.setattr(_training, "CHUNK_WORK", (4 * 7 + 7 * 3) * 8)   # 8-row slices
    assert _training.pass_rows(net.layer_sizes) == 8
    sliced = (net.forward(X), net.loss(X, y, w), net.gradients(X, y, w), net.score(X, y))
    assert_close(sliced[0], whole[0], "network", dtype)
    assert sliced[1] == pytest.approx(whole[1], rel=TOL_REL[dtype])
    for a, b in zip(sliced[2][0] + sliced[2][1], whole[2][0] + whole[2][1]):
        assert_close(a, b, "network", dtype)
    assert sliced[3] == whole[3]
    loss, accuracy = _training.evaluate(net, net._X(X), net._truth(y, 50), 8)
    assert loss == pytest.approx(unweighted, rel=TOL_REL[dtype])
    assert accuracy == whole[3]


TOL_REL = {"float32": 1e-5, "float64": 1e-12}


@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("rows", [8, 100])
def test_validation_pass_is_one_forward_pass(impl, head, rows, monkeypatch):
    """evaluate (fit's validation figures) takes the metric's outputs from the loss's
    own pass, in one slice or several: no second forward pass, and the same loss and
    metric as loss() and score()."""
    X, y = make_problem(head, 50, 4, 3, seed=5)
    net = impl.MLP([4, 7, 3], "tanh", head.name, dtype="float64", seed=1)
    expected = (net.loss(X, y), net.score(X, y))
    Xc, truth = net._X(X), net._truth(y, 50)

    def no_forward(*args):
        raise AssertionError("evaluate ran a second forward pass")
    monkeypatch.setattr(net, "_forward", no_forward)
    loss, metric = _training.evaluate(net, Xc, truth, rows)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    assert metric == pytest.approx(expected[1], rel=1e-12)


# -- the memory guard counts what fit holds at once -------------------------------------

def test_fit_memory_counts_snapshots_and_workspaces(impl, monkeypatch):
    """The model's parameters, gradients and velocity (3 P values) fit; a momentum
    fit also holds the epoch's snapshot of params and velocity (2 P more) and its
    workspaces: refused before any step, the model unchanged. A best-epoch copy
    (restore_best_weights) needs more again."""
    from fastnet import _guards
    sizes = [50, 400, 400, 10]
    net = impl.MLP(sizes, seed=0)
    P = net.n_params
    X, y = _classes(64)
    X = np.tile(X, (1, 13))[:, :50]

    def fits(memory, **kwargs):
        monkeypatch.setattr(_guards, "physical_memory", lambda: int(memory))
        try:
            impl.MLP(sizes, seed=0).fit(X, y, momentum=0.9, **kwargs)
            return True
        except MemoryError as exc:
            assert "snapshots and workspaces of the fit" in str(exc)
            return False

    monkeypatch.setattr(_guards, "physical_memory", lambda: int(3.5 * P * 4))
    with pytest.raises(MemoryError, match="snapshots and workspaces of the fit"):
        net.fit(X, y, momentum=0.9)
    _same_model(net, impl.MLP(sizes, seed=0))
    low, high = 3.5 * P * 4, 100 * P * 4          # refused, accepted
    assert not fits(low) and fits(high)
    while high - low > 0.01 * P * 4:
        middle = (low + high) / 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    assert high > 5 * P * 4                       # the snapshot was counted
    assert not fits(high, validation_split=0.5, restore_best_weights=True)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_sgd_without_momentum_leaves_the_velocity_alone(impl, batch_size):
    """What lets fit skip checking the velocity after every chunk of such a fit
    (_training.written_state): the steps never write it."""
    X, y = _classes(40)
    net = impl.MLP([4, 5, 3], seed=0)
    state = net.state_dict()
    state["velocity"][...] = np.linspace(-1, 1, state["velocity"].size)
    net.load_state_dict(state)
    net.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=0.1, l2=1e-3)
    np.testing.assert_array_equal(net.state_dict()["velocity"], state["velocity"])
    assert _training.written_state(_training.configure("sgd", {"momentum": 0.0},
                                                       np.dtype("float32"))) == ()
