"""Faults during training and in files: clear errors, nothing lost, nothing corrupted."""
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import zipfile

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet import _format


def _regression(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) * 10
    return X, X @ [1.0, -2.0, 3.0]


# -- divergence --------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_divergence_stops_with_a_clear_error_and_finite_weights(impl, batch_size, dtype):
    X, y = _regression()
    net = impl.MLP([3, 8, 1], "relu", "linear", dtype=dtype, seed=0)
    with pytest.raises(FloatingPointError, match="diverged in epoch 1.*smaller learning_rate") as info:
        net.fit(X, y, epochs=50, batch_size=batch_size, learning_rate=10.0)
    for w in net.weights + net.biases:
        assert np.isfinite(w).all()
    assert np.isfinite(net.predict(X)).all()
    assert info.value.history["loss"] == []          # diverged within the first epoch
    start = impl.MLP([3, 8, 1], "relu", "linear", dtype=dtype, seed=0)
    for a, b in zip(net.weights + net.biases, start.weights + start.biases):
        np.testing.assert_array_equal(a, b)          # back to the start of that epoch
    assert net.state_dict()["updates"] == 0 and not net.state_dict()["velocity"].any()


def test_after_divergence_the_model_trains_on(impl):
    X, y = _regression()
    net = impl.MLP([3, 8, 1], "relu", "linear", dtype="float64", seed=0)
    net.fit(X, y, epochs=2, learning_rate=1e-5)
    with pytest.raises(FloatingPointError):
        net.fit(X, y, epochs=5, learning_rate=10.0)
    assert all(np.isfinite(w).all() for w in net.weights + net.biases)
    assert np.isfinite(net.state_dict()["velocity"]).all()
    history = net.fit(X, y, epochs=2, learning_rate=1e-5)
    assert np.isfinite(history["loss"]).all()


def test_both_implementations_raise_the_same_divergence_error():
    X, y = _regression()
    messages = []
    for impl in (fastnet, fastnet.reference):
        net = impl.MLP([3, 8, 1], "relu", "linear", dtype="float64", seed=0)
        with pytest.raises(FloatingPointError) as info:
            net.fit(X, y, epochs=5, batch_size=4, learning_rate=10.0)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_overflow_is_divergence_not_a_crash(impl, batch_size, dtype):
    """The Poisson head's exp overflows to inf for a large pre-activation: the outputs
    and the loss are inf (no NaN, no warning), and fit reports the divergence and
    rolls back."""
    X, y = np.full((20, 3), 1000.0), np.ones((20, 1))
    net = impl.MLP([3, 1], output="poisson", dtype=dtype, seed=0)
    net.weights[0][...] = 1                          # z = 3000: exp overflows
    start = net.parameters.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(net.forward(X) == np.inf) and net.loss(X, y) == np.inf
        with pytest.raises(FloatingPointError, match="diverged in epoch 1"):
            net.fit(X, y, epochs=3, batch_size=batch_size)
    np.testing.assert_array_equal(net.parameters, start)
    assert net.state_dict()["updates"] == 0


# -- Ctrl-C ------------------------------------------------------------------------

def test_ctrl_c_returns_within_half_a_second_at_a_completed_step():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200000, 64)).astype(np.float32)
    y = rng.integers(0, 10, 200000)
    net = fastnet.MLP([64, 256, 256, 10], seed=0)
    fired = {}

    def interrupt():
        fired["at"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    # A process that ignores SIGINT (a background job) would keep ignoring it during
    # fit, and this fit would run all its epochs: give the test Python's usual handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.5, interrupt)
        timer.start()
        with pytest.warns(RuntimeWarning, match="interrupted in epoch 1"):
            history = net.fit(X, y, epochs=100, batch_size=1, learning_rate=0.001)
        returned = time.perf_counter()
        timer.join()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # restored
    finally:
        signal.signal(signal.SIGINT, previous)
    assert history["interrupted"] is True and history["loss"] == []
    assert returned - fired["at"] < 0.5
    assert 0 < net.state_dict()["updates"] < 200000                 # some steps done, all completed
    assert all(np.isfinite(w).all() for w in net.weights)
    net.fit(X[:100], y[:100])                          # and the model trains on


@pytest.mark.parametrize("name", ["fastnet", "fastnet.reference"])
def test_an_ignored_sigint_stays_ignored(name, tmp_path):
    """Where SIGINT is ignored (background jobs, nohup), fit leaves it so: a SIGINT
    during fit changes nothing, and the handler is still SIG_IGN afterwards."""
    script = textwrap.dedent(f"""
        import os, signal, warnings
        import numpy as np
        import {name} as impl
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        X = np.random.default_rng(0).standard_normal((40, 3)); y = (X[:, 0] > 0).astype(int)
        net = impl.MLP([3, 4, 2], seed=0)
        def callback(record):
            os.kill(os.getpid(), signal.SIGINT)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            history = net.fit(X, y, epochs=5, callback=callback)
        assert len(history["loss"]) == 5 and "interrupted" not in history, history
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        print("ok")
    """)
    # cwd away from the repository (there "import fastnet" would find the unbuilt
    # tree), the package found where this process found it
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_fit_restores_the_sigint_handler_it_found():
    """Any other handler is put back exactly, also after a Ctrl-C during fit."""
    X, y = _regression(50)
    net = fastnet.MLP([3, 4, 1], "tanh", "linear", seed=0)
    seen = []

    def mine(signum, frame):
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with pytest.warns(RuntimeWarning, match="interrupted"):
            net.fit(X / 10, y / 10, epochs=3,
                    callback=lambda record: os.kill(os.getpid(), signal.SIGINT))
        assert signal.getsignal(signal.SIGINT) is mine and seen == []
        net.fit(X / 10, y / 10)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


# -- threads -----------------------------------------------------------------------

def _train_one(seed, results):
    X, y = _regression(500, seed)
    net = fastnet.MLP([3, 32, 32, 1], "tanh", "linear", seed=seed)
    net.fit(X / 10, y / 10, epochs=5, batch_size=1 if seed % 2 else 16, learning_rate=0.01)
    results[seed] = [w.copy() for w in net.weights + net.biases]


def test_two_threads_train_two_models_as_two_serial_runs_do():
    serial, threaded = {}, {}
    for seed in (1, 2):
        _train_one(seed, serial)
    threads = [threading.Thread(target=_train_one, args=(seed, threaded)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        for a, b in zip(serial[seed], threaded[seed]):
            np.testing.assert_array_equal(a, b)


def test_one_model_from_two_threads_is_refused_not_corrupted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100000, 32)).astype(np.float32)
    y = rng.integers(0, 4, 100000)
    net = fastnet.MLP([32, 64, 4], seed=0)
    errors = []
    started = threading.Event()

    def train():
        started.set()
        net.fit(X, y, epochs=3, learning_rate=0.001)

    t = threading.Thread(target=train)
    t.start()
    started.wait()
    time.sleep(0.05)
    for call in (lambda: net.fit(X[:10], y[:10]), lambda: net.predict(X[:5]),
                 lambda: net.predict(X[:1]), lambda: net.loss(X[:5], y[:5])):
        try:
            call()
        except RuntimeError as exc:
            errors.append(str(exc))
    t.join()
    assert len(errors) == 4 and all("another thread" in e for e in errors)
    assert all(np.isfinite(w).all() for w in net.weights)
    net.predict(X[:1])                              # free again once fit returned
    net.predict(X[:3])                               # usable again


def test_reads_from_two_threads_are_serialised():
    net = fastnet.MLP([8, 16, 3], seed=0)
    X = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    expected = net.forward(X)
    expected_row = net.forward(X[:1])
    bad = []

    def read():
        for _ in range(300):
            if not (np.array_equal(net.forward(X), expected)
                    and np.array_equal(net.forward(X[:1]), expected_row)):
                bad.append(1)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


# -- memory ------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[10 ** 6, 10 ** 6, 10 ** 6], [10 ** 12, 10 ** 12, 2]])
def test_too_large_for_memory_is_a_memory_error(impl, sizes):
    with pytest.raises(MemoryError):
        impl.MLP(sizes)


# -- files -------------------------------------------------------------------------

def _saved(tmp_path, name="m.npz", version=1):
    """A saved model; format version 1 (flat params and velocity) by default, which
    _rewrite edits (tests/test_hostile_files.py covers version 2's per-layer entries)."""
    net = fastnet.MLP([3, 4, 2], seed=0, dtype="float64")
    net.fit(np.eye(3), [0, 1, 0], momentum=0.5)
    path = tmp_path / name
    _format.save(net, path, version=version)
    return net, path


def _rewrite(path, out, meta=None, params=None, velocity=None):
    with np.load(path, allow_pickle=False) as a:
        m = json.loads(str(a["meta"][()]))
        p, v = a["params"], a["velocity"]
    if meta:
        m.update(meta)
    with open(out, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(m)), params=p if params is None else params,
                 velocity=v if velocity is None else velocity)


@pytest.mark.parametrize("change,match", [
    (dict(meta={"version": 3}), "format version 3"),
    (dict(meta={"format": "something-else"}), "not a fastnet model file"),
    (dict(meta={"layer_sizes": [3, 5, 2]}), "need"),
    (dict(meta={"layer_sizes": [3, -4, 2]}), "invalid metadata"),
    (dict(meta={"activation": ["swish"]}), "invalid metadata"),
    (dict(meta={"dtype": "float32"}), "need"),
    (dict(meta={"updates": -1}), "invalid metadata"),
    (dict(meta={"rng_state": {"bit_generator": "nope"}}), "invalid metadata"),
    (dict(params=np.zeros(5)), "params has shape"),
    (dict(params=np.full(26, np.nan)), "NaN or infinity"),
])
def test_bad_files_never_build_a_model(tmp_path, impl, change, match):
    _, path = _saved(tmp_path)
    bad = tmp_path / "bad.npz"
    _rewrite(path, bad, **change)
    with pytest.raises(ValueError, match=match):
        impl.load(bad)


def test_corrupted_bytes_and_missing_members(tmp_path, impl):
    _, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    for cut in (10, len(data) // 3, len(data) - 5):
        (tmp_path / "t.npz").write_bytes(bytes(data[:cut]))
        with pytest.raises(ValueError):
            impl.load(tmp_path / "t.npz")
    data[len(data) // 2] ^= 0xFF                      # a flipped byte inside the archive
    (tmp_path / "f.npz").write_bytes(bytes(data))
    try:
        impl.load(tmp_path / "f.npz")                   # may still be a valid archive
    except ValueError:
        pass
    with zipfile.ZipFile(tmp_path / "nometa.npz", "w") as z:
        z.writestr("params.npy", b"")
    with pytest.raises(ValueError):
        impl.load(tmp_path / "nometa.npz")
    with pytest.raises(FileNotFoundError):
        impl.load(tmp_path / "absent.npz")


@pytest.mark.parametrize("version", [1, 2])
def test_file_holds_no_pickle(tmp_path, version):
    _, path = _saved(tmp_path, version=version)
    layers = {f"layers.{l}.{kind}" for l in range(2) for kind in ("weight", "bias")}
    expected = ({"meta", "params", "velocity"} if version == 1 else
                {"meta"} | layers | {"velocity." + name for name in layers})
    with np.load(path, allow_pickle=False) as a:      # would raise on object arrays
        assert set(a.files) == expected
        assert all(a[k].dtype != object for k in a.files)


# -- silent wrong results (issue 12) -------------------------------------------------

def _unstable_regression():
    """Full-batch least squares with a learning rate just past the stable one: the
    loss grows geometrically but stays finite in float64 for hundreds of epochs."""
    X, y = _regression()
    return X, y, dict(epochs=100, batch_size=200, learning_rate=0.02)


def test_a_finite_blowup_is_divergence(impl):
    X, y, options = _unstable_regression()
    net = impl.MLP([3, 1], output="linear", dtype="float64", seed=0)
    with pytest.raises(FloatingPointError,
                       match="diverged in epoch 8: its mean loss passed .*1e\\+06 times.*"
                             "smaller learning_rate") as info:
        net.fit(X, y, **options)
    history = info.value.history["loss"]
    assert len(history) == 7 and history[-1] < 1e6 * history[0]
    before = impl.MLP([3, 1], output="linear", dtype="float64", seed=0)
    before.fit(X, y, **dict(options, epochs=7))
    np.testing.assert_array_equal(net.parameters, before.parameters)   # epoch 8's start
    assert net.state_dict()["updates"] == 7


def test_the_blowup_factor_is_configurable(impl, monkeypatch):
    from fastnet import _training
    X, y, options = _unstable_regression()
    monkeypatch.setattr(_training, "BLOWUP_FACTOR", math.inf)       # check off: as before
    history = impl.MLP([3, 1], output="linear", dtype="float64", seed=0).fit(X, y, **options)
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] > 1e30
    monkeypatch.setattr(_training, "BLOWUP_FACTOR", 10.0)
    with pytest.raises(FloatingPointError, match="diverged in epoch 3: its mean loss"):
        impl.MLP([3, 1], output="linear", dtype="float64", seed=0).fit(X, y, **options)


def test_both_implementations_report_a_finite_blowup_alike():
    X, y, options = _unstable_regression()
    messages = []
    for impl in (fastnet, fastnet.reference):
        with pytest.raises(FloatingPointError) as info:
            impl.MLP([3, 1], output="linear", dtype="float64", seed=0).fit(X, y, **options)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("output, optimizer, batch_size", [
    ("softmax", "sgd", 1), ("softmax", "adam", 32), ("linear", "sgd", 8),
    ("logistic", "adam", 1), ("poisson", "sgd", 16)])
def test_ordinary_fits_never_trip_the_blowup_check(impl, output, optimizer, batch_size):
    """Training that converges, also from a model that already fits well (its loss
    at the start near 0), with noisy per-sample steps, never comes near the limit."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 4))
    truth = {"softmax": (X[:, 0] > 0).astype(int), "linear": X @ [1.0, -1.0, 2.0, 0.5],
             "logistic": (X[:, :2] > 0).astype(float),
             "poisson": rng.poisson(np.exp(0.3 * X[:, :1]))}[output]
    k = {"softmax": 2, "linear": 1, "logistic": 2, "poisson": 1}[output]
    net = impl.MLP([4, 16, k], "relu", output, dtype="float64", seed=0)
    rate = 0.01 if optimizer == "sgd" else 0.003
    for _ in range(2):                   # the second fit starts from a trained model
        history = net.fit(X, truth, epochs=15, batch_size=batch_size, optimizer=optimizer,
                          learning_rate=rate, momentum=0.9 if optimizer == "sgd" else 0.0)
        assert max(history["loss"]) < 1e3 * max(1.0, history["loss"][0])


def _weight_zero_overflow(dtype):
    """Poisson regression whose row 0 has weight 0 and a pre-activation whose exp
    overflows (loss inf), and the same data with a harmless row 0."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = rng.poisson(2.0, size=(20, 1)).astype(float)
    weights = rng.uniform(0.5, 2.0, size=20)
    weights[0] = 0
    bad = X.copy()
    bad[0] = 1000.0
    return bad, X, y, weights


@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_sample_of_weight_0_contributes_nothing(impl, batch_size, dtype):
    bad, good, y, weights = _weight_zero_overflow(dtype)
    results = []
    for X in (bad, good):
        net = impl.MLP([3, 1], output="poisson", dtype=dtype, seed=0)
        net.weights[0][...] = 1                      # row 0 of bad: z = 3000, exp = inf
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            history = net.fit(X, y, epochs=3, batch_size=batch_size, sample_weight=weights,
                              learning_rate=0.01, momentum=0.5)
        results.append((history["loss"], net.parameters))
    assert np.isfinite(results[0][0]).all()
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_weighted_loss_that_overflows_is_divergence(impl, dtype):
    """The per-sample loop checks what it adds, the weighted loss: finite losses times
    finite (huge) weights that overflow are divergence, as in the batched code."""
    big = float(np.finfo(dtype).max) / 1.1
    net = impl.MLP([1, 2], dtype=dtype, seed=0)
    start = net.parameters.copy()
    with pytest.raises(FloatingPointError, match="diverged in epoch") as info:
        net.fit(np.zeros((2, 1)), [0, 1], epochs=2, sample_weight=[big, big])
    assert all(np.isfinite(info.value.history["loss"]))
    assert np.isfinite(net.parameters).all()
    assert net.state_dict()["updates"] in (0, 2)
    if net.state_dict()["updates"] == 0:
        np.testing.assert_array_equal(net.parameters, start)


def test_the_issue_weighted_overflow_raises_alike_in_both():
    messages = []
    for impl in (fastnet, fastnet.reference):
        with pytest.raises(FloatingPointError) as info:
            impl.MLP([1, 2], seed=0).fit(np.zeros((2, 1)), [0, 1], epochs=2,
                                         sample_weight=[3e38, 3e38])
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_the_base_of_handed_out_views_is_not_the_models_buffer(impl, tmp_path):
    """numpy gives as a view's .base the array that owns its memory: for views made
    directly from the model's flat buffer that was the buffer itself, and
    ``net.weights[0].base.shape = (-1, 1)`` (or .dtype, or making it read-only)
    broke predict, fit and save. The views' base is now a fresh array of each access."""
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.arange(8) % 2
    net = impl.MLP([2, 3, 2], seed=0, dtype="float64")
    expected = net.predict_proba(X)
    for views in (net.weights, net.biases):
        base = views[0].base
        assert base is not None and base.size < net.n_params
        assert all(v.base is base for v in views)   # one flat array per access
        base.shape = (base.size, 1)
        base.dtype = np.float32
        base.flags.writeable = False
    np.testing.assert_array_equal(net.predict_proba(X), expected)
    net.fit(X, y, epochs=2)
    net.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(impl.load(tmp_path / "m.npz").parameters, net.parameters)
    # the views are still live, and keep the memory alive after the model is gone
    w = net.weights
    w[1][0, 0] = 7.0
    assert net.parameters[6] == 7.0
    b = net.biases
    del net, w
    import gc
    gc.collect()
    b[1][...] += 1.0
    assert np.isfinite(b[1]).all()


def test_the_base_of_net_parameters_is_not_the_models_buffer(impl):
    # found by tools/fuzz.py (entry point "views"); the same hazard as weights' .base
    X = np.random.default_rng(0).normal(size=(4, 2))
    net = impl.MLP([2, 3, 2], seed=0, dtype="float64")
    expected = net.predict_proba(X)
    net.parameters.base.flags.writeable = False
    np.testing.assert_array_equal(net.predict_proba(X), expected)
    net.fit(X, [0, 1, 0, 1])


@pytest.mark.parametrize("seed", range(8))
def test_initial_weights_of_runs_of_layers_are_the_per_layer_draws(seed):
    """init_params draws a run of layers of one shape and rule in one call (so a
    100,000-layer sawtooth network builds in well under a second): the weights, and
    the generator's state after them, are exactly those of one draw per layer."""
    from fastnet._params import init_params, param_layout
    from fastnet.components import ACTIVATIONS, INIT_RULES, OUTPUT_LAYER_INIT
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 4))]
    for _ in range(int(rng.integers(1, 12))):         # runs of repeated widths
        sizes.append(sizes[-1] if rng.random() < 0.6 else int(rng.integers(1, 4)))
    names = sorted(ACTIVATIONS.names)
    acts = [names[int(rng.integers(len(names)))] for _ in range(len(sizes) - 2)]
    acts = [a if rng.random() < 0.3 or not i else acts[i - 1] for i, a in enumerate(acts)]
    if seed < 2:      # runs of both the normal (relu) and the uniform rule, for certain
        sizes, acts = [2, 3, 3, 3, 3, 2, 2, 2], ["relu"] * 3 + ["tanh"] * 3
    for dtype in (np.dtype("float32"), np.dtype("float64")):
        mine, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        params = init_params(sizes, acts, mine, dtype)
        expected = []
        for l in range(len(sizes) - 1):
            rule = (ACTIVATIONS[acts[l]].init_weights if l < len(acts)
                    else lambda r, i, o: INIT_RULES[OUTPUT_LAYER_INIT](r, i, o))
            expected.append(rule(theirs, sizes[l], sizes[l + 1]).ravel())
        n_weights = param_layout(sizes)[2]
        np.testing.assert_array_equal(params[:n_weights],
                                      np.concatenate(expected).astype(dtype))
        assert not params[n_weights:].any()
        assert mine.bit_generator.state == theirs.bit_generator.state


@pytest.mark.parametrize("impl", [fastnet, fastnet.reference])
def test_load_state_dict_refuses_a_number_beyond_any_float(impl):
    """A Python int like 10**400 in a state_dict: ValueError naming the entry (was
    OverflowError from numpy's conversion); the model is unchanged."""
    net = impl.MLP([2, 3, 2], seed=0)
    state = net.state_dict()
    before = net.parameters.copy()
    state["params"] = [10 ** 400] + [0.0] * (net.n_params - 1)
    with pytest.raises(ValueError, match=r"state\['params'\].*too large"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.parameters, before)
