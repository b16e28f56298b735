"""The public contract, shared by fastnet.MLP and fastnet.reference.MLP."""
import sys

import numpy as np
import pytest

import fastnet
import fastnet.reference

from conftest import assert_close


def _data(n=30, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, rng.integers(0, k, n)


def test_shapes_and_types(impl):
    X, y = _data()
    net = impl.MLP([4, 6, 3], seed=0)
    assert net.layer_sizes == [4, 6, 3]
    assert [w.shape for w in net.weights] == [(6, 4), (3, 6)]
    assert [b.shape for b in net.biases] == [(6,), (3,)]
    assert net.n_params == 6 * 4 + 3 * 6 + 6 + 3
    P = net.forward(X)
    assert P.shape == (30, 3) and P.dtype == np.float32
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(net.predict_proba(X), P)
    np.testing.assert_array_equal(net.predict(X), P.argmax(axis=1))
    assert isinstance(net.loss(X, y), float)
    dW, db = net.gradients(X, y)
    assert [g.shape for g in dW] == [(6, 4), (3, 6)] and [g.shape for g in db] == [(6,), (3,)]
    assert 0 <= net.score(X, y) <= 1


def test_no_hidden_layer_is_logistic_regression(impl):
    X, y = _data()
    net = impl.MLP([4, 3], seed=0, dtype="float64")
    W, b = net.weights[0], net.biases[0]
    z = X @ W.T + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert_close(net.forward(X), p, "network", "float64")
    assert_close(net.loss(X, y), -np.mean(np.log(p[np.arange(30), y])), "network", "float64")


def test_linear_output_predict_shapes(impl):
    X, _ = _data()
    one = impl.MLP([4, 5, 1], output="linear", seed=0)
    two = impl.MLP([4, 5, 2], output="linear", seed=0)
    assert one.predict(X).shape == (30,)
    assert two.predict(X).shape == (30, 2)
    assert one.forward(X).shape == (30, 1)


def test_r2_score(impl):
    X, _ = _data()
    net = impl.MLP([4, 5, 1], output="linear", dtype="float64", seed=0)
    pred = net.predict(X)
    assert net.score(X, pred) == pytest.approx(1.0)
    y = pred + np.random.default_rng(1).standard_normal(30)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert net.score(X, y) == pytest.approx(r2, rel=1e-12)


def test_weights_are_live(impl):
    X, _ = _data()
    net = impl.MLP([4, 6, 3], seed=0, dtype="float64")
    before = net.forward(X)
    net.weights[1][...] = 0
    net.biases[1][...] = [0, 0, 10]
    assert not np.allclose(net.forward(X), before)
    np.testing.assert_array_equal(net.predict(X), 2)


@pytest.mark.parametrize("name", ["weights", "biases"])
def test_assigning_to_the_lists_raises_and_says_how(impl, name):
    X, _ = _data()
    net = impl.MLP([4, 6, 3], seed=0, dtype="float64")
    before = net.forward(X)
    views = getattr(net, name)
    for change in (lambda: views.__setitem__(0, np.zeros_like(views[0])),
                   lambda: views.__delitem__(0), lambda: views.append(views[0]),
                   lambda: views.insert(0, views[0]), lambda: views.pop(),
                   lambda: views.clear(), lambda: views.reverse()):
        with pytest.raises(TypeError, match=rf"net\.{name}\[l\]\[\.\.\.\] = "):
            change()
    with pytest.raises(TypeError, match="write into a view"):
        getattr(net, name)[0] = 0
    with pytest.raises(AttributeError, match=rf"net\.{name}\[l\]\[\.\.\.\] = "):
        setattr(net, name, [np.zeros_like(v) for v in views])
    with pytest.raises(AttributeError, match=r"net\.parameters\[\.\.\.\] = p"):
        net.parameters = np.zeros(net.n_params)
    np.testing.assert_array_equal(net.forward(X), before)
    both = net.weights + net.biases                   # plain list operations still work
    assert type(both) is list and len(both) == 4 and len(net.biases[1:]) == 1
    import copy
    import pickle
    assert type(copy.copy(views)) is list and type(pickle.loads(pickle.dumps(views))) is list


def test_handed_out_views_cannot_corrupt_the_model(impl, tmp_path):
    import warnings
    X, _ = _data()
    net = impl.MLP([4, 6, 3], seed=0, dtype="float64")
    before = net.forward(X)
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    net.export_c(tmp_path / "before" / "net.c")
    W, b, p = net.weights[0], net.biases[1], net.parameters
    assert W is not net.weights[0] and p is not net.parameters   # fresh on every access
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # setting .dtype/.shape
        W.shape = (-1,)
        b.dtype = np.float32
        p.shape = (3, -1)
        p.dtype = np.float32
    assert net.weights[0].shape == (6, 4) and net.biases[1].dtype == np.float64
    assert net.parameters.shape == (net.n_params,) and net.parameters.dtype == np.float64
    np.testing.assert_array_equal(net.forward(X), before)
    net.export_c(tmp_path / "after" / "net.c")
    for f in ("net.c", "net.h"):
        assert (tmp_path / "after" / f).read_text() == (tmp_path / "before" / f).read_text()


def test_in_place_writes_into_the_views_change_the_model(impl):
    X, _ = _data()
    net = impl.MLP([4, 6, 3], seed=0, dtype="float64")
    before = net.forward(X)
    net.weights[0][1, 2] = 5
    assert net.parameters[1 * 4 + 2] == 5 and net.weights[0][1, 2] == 5
    assert not np.allclose(net.forward(X), before)
    net.weights[1][...] = 0
    net.biases[1][...] = [0, 0, 10]
    np.testing.assert_array_equal(net.predict(X), 2)
    net.parameters[...] = 0
    assert all((w == 0).all() for w in net.weights + net.biases)
    np.testing.assert_allclose(net.forward(X), 1 / 3)


def test_activation_per_layer(impl):
    X, _ = _data()
    net = impl.MLP([4, 5, 5, 3], activation=["tanh", "relu"], seed=0, dtype="float64")
    assert net.activation == ["tanh", "relu"]
    h = np.tanh(X @ net.weights[0].T + net.biases[0])
    h = np.maximum(h @ net.weights[1].T + net.biases[1], 0)
    z = h @ net.weights[2].T + net.biases[2]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close(net.forward(X), p / p.sum(axis=1, keepdims=True), "network", "float64")


def test_history(impl, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)         # the plain-line progress
    X, y = _data()
    net = impl.MLP([4, 6, 3], seed=0)
    h = net.fit(X, y, epochs=4, batch_size=5, learning_rate=0.1, lr_decay=0.5,
                validation_data=(X[:10], y[:10]), verbose=True)
    assert set(h) == {"loss", "learning_rate", "seconds", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in h.values())
    # 6 updates per epoch; the last update of epoch e is number t = 6 e - 1.
    np.testing.assert_allclose(h["learning_rate"], [0.1 / (1 + 0.5 * (6 * e - 1)) for e in (1, 2, 3, 4)])
    assert h["val_loss"][-1] == pytest.approx(net.loss(X[:10], y[:10]))
    assert h["val_accuracy"][-1] == net.score(X[:10], y[:10])
    out = capsys.readouterr().out
    assert out.count("epoch ") == 4 and out.count("samples/s") == 4
    assert "epoch 4/4" in out and "val_accuracy" in out and "0.0s left" in out
    net2 = impl.MLP([4, 6, 1], output="linear", seed=0)
    h2 = net2.fit(X, y.astype(float), validation_data=(X, y.astype(float)))
    assert "val_r2" in h2


def test_dtype_is_kept(impl):
    X, y = _data()
    for dtype in ("float32", "float64"):
        net = impl.MLP([4, 6, 3], seed=0, dtype=dtype)
        net.fit(X, y)
        assert net.forward(X).dtype == np.dtype(dtype)
        assert all(w.dtype == np.dtype(dtype) for w in net.weights + net.biases)


@pytest.mark.parametrize("save_with,load_with", [
    (fastnet, fastnet), (fastnet, fastnet.reference), (fastnet.reference, fastnet)])
def test_save_load_round_trip(tmp_path, save_with, load_with):
    X, y = _data()
    net = save_with.MLP([4, 6, 3], activation=["sigmoid"], seed=0, dtype="float64")
    net.fit(X, y, epochs=2, momentum=0.9, learning_rate=0.05)
    path = tmp_path / "model.fastnet"
    net.save(path)
    assert path.exists()
    back = load_with.load(path)
    assert isinstance(back, load_with.MLP)
    assert back.layer_sizes == net.layer_sizes and back.activation == ["sigmoid"]
    for a, b in zip(back.weights + back.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
    # Resuming continues the uninterrupted trajectory (optimiser and sampling state saved).
    net.fit(X, y, epochs=1, momentum=0.9, learning_rate=0.05)
    back.fit(X, y, epochs=1, momentum=0.9, learning_rate=0.05)
    for a, b in zip(back.weights, net.weights):
        assert_close(a, b, "trajectory", "float64")


def test_load_rejects_bad_files(tmp_path, impl):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable fastnet model"):
        impl.load(bad)
    net = impl.MLP([4, 6, 3], seed=0)
    good = tmp_path / "good.npz"
    net.save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable fastnet model"):
        impl.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(ValueError):
        impl.load(tmp_path / "foreign.npz")


def test_progress_bar_with_tqdm(impl, capsys):
    pytest.importorskip("tqdm")
    X, y = _data()
    net = impl.MLP([4, 6, 3], seed=0)
    net.fit(X, y, epochs=3, validation_data=(X, y), verbose=True)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "3/3" in text and "samples/s" in text and "val_loss" in text


def test_callback_sees_every_epoch_and_can_stop(impl):
    X, y = _data()
    net = impl.MLP([4, 6, 3], seed=0)
    records = []
    history = net.fit(X, y, epochs=10, validation_data=(X, y),
                      callback=lambda r: records.append(r) or r["epoch"] == 3)
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert history["stopped"] is True and len(history["loss"]) == 3
    assert records[-1]["loss"] == history["loss"][-1]
    assert set(records[0]) == {"epoch", "loss", "learning_rate", "seconds", "val_loss",
                               "val_accuracy"}
    with pytest.raises(ValueError, match="callback must be callable"):
        net.fit(X, y, callback=3)


def test_plot_history(tmp_path, monkeypatch):
    X, y = _data()
    net = fastnet.MLP([4, 6, 3], seed=0)
    history = net.fit(X, y, epochs=3, validation_data=(X, y))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install matplotlib"):
            fastnet.plot_history(history, tmp_path / "h.png")
    else:
        fig = fastnet.plot_history(history, tmp_path / "h.png")
        assert (tmp_path / "h.png").stat().st_size > 1000
        assert len(fig.axes) == 2                    # loss, and accuracy on its own axis
        history.plot(tmp_path / "h2.png")            # the same, from the history itself
        assert (tmp_path / "h2.png").stat().st_size > 1000
        assert isinstance(history, dict)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        fastnet.plot_history(history)
    with pytest.raises(ValueError, match="history"):
        fastnet.plot_history({})


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickle_and_copy_keep_the_model_and_its_trajectory(impl, how):
    import copy
    import pickle
    X, y = _data()
    net = impl.MLP([4, 6, 3], seed=0, dtype="float64")
    net.fit(X, y, epochs=2, momentum=0.9)
    other = pickle.loads(pickle.dumps(net)) if how == "pickle" else copy.deepcopy(net)
    assert type(other) is type(net)
    np.testing.assert_array_equal(other.forward(X), net.forward(X))
    saved = other.weights[0].copy()
    other.weights[0][...] += 1                        # an independent copy, live views
    assert not np.array_equal(other.forward(X), net.forward(X))
    other.weights[0][...] = saved
    net.fit(X, y, epochs=1, momentum=0.9)
    other.fit(X, y, epochs=1, momentum=0.9)
    for a, b in zip(net.weights, other.weights):
        np.testing.assert_array_equal(a, b)
