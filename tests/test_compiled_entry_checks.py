"""Issue 12 (memory safety): every entry into the compiled code checks its buffers
against the plan it is given (ValueError, never an out-of-bounds read or write), and
a fit whose callback replaces the model with one of another layout stops with a
ValueError instead of crashing the interpreter."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnet
from fastnet import _train, _training

D, H, K, N, BATCH = 5, 7, 3, 40, 8


def _setup(output="softmax", optimizer="sgd", dtype="float64"):
    net = fastnet.MLP([D, H, K], output=output, dtype=dtype, seed=0)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, D)).astype(net.dtype)
    if output == "softmax":
        labels, targets = rng.integers(0, K, size=N).astype(np.intp), None
    else:
        labels, targets = None, rng.normal(size=(N, K)).astype(net.dtype)
    config = _training.configure(optimizer, dict(_training.FIT_DEFAULTS), net.dtype)
    _training.take_up(net, fastnet.components.OPTIMIZERS[optimizer])
    args = dict(plan=net._plan(BATCH), config=config, params=net._params, grads=net._grads,
                state=tuple(net._state.values()), X=X, labels=labels, targets=targets,
                weights=np.ones(N, dtype=net.dtype), order=np.arange(N, dtype=np.intp),
                batch_size=BATCH, t0=0)
    return net, args


def _train_epoch(a, fast_paths=()):
    return _train.train_epoch(a["plan"], a["config"], a["params"], a["grads"], a["state"],
                              a["X"], a["labels"], a["targets"], a["weights"], a["order"],
                              a["batch_size"], a["t0"], fast_paths)


def _train_epoch_sklearn(a):
    return _train.train_epoch_sklearn(a["plan"], a["config"], a["params"], a["grads"],
                                      a["state"], a["X"], a["labels"], a["targets"],
                                      a["weights"], a["order"], a["batch_size"], a["t0"])


def _loss_and_gradients(a):
    return _train.loss_and_gradients(a["plan"], a["params"], a["grads"], a["X"],
                                     a["labels"], a["targets"], a["weights"])


def _short(a, name, by=1):
    return a[name][:-by].copy()


# mismatches of every buffer a step reads or writes: (name, change)
_BAD = {
    "params short": lambda a: {"params": _short(a, "params")},
    "params long": lambda a: {"params": np.zeros(a["params"].size + 50, a["params"].dtype)},
    "params of a smaller model": lambda a: {
        "params": fastnet.MLP([D, 2, K], dtype=a["params"].dtype)._params},
    "grads short": lambda a: {"grads": _short(a, "grads")},
    "X too narrow": lambda a: {"X": np.ascontiguousarray(a["X"][:, :-1])},
    "X too wide": lambda a: {"X": np.zeros((N, D + 3), a["X"].dtype)},
    "labels short": lambda a: {"labels": _short(a, "labels")},
    "labels missing": lambda a: {"labels": None},
    "label out of range": lambda a: {"labels": np.full(N, K, dtype=np.intp)},
    "negative label": lambda a: {"labels": np.full(N, -1, dtype=np.intp)},
    "weights short": lambda a: {"weights": _short(a, "weights")},
    "order past the rows": lambda a: {"order": np.array([0, N], dtype=np.intp)},
    "negative order": lambda a: {"order": np.array([-1, 0], dtype=np.intp)},
    "huge order": lambda a: {"order": np.array([2 ** 40], dtype=np.intp)},
}
_BAD_STEPS = dict(_BAD, **{
    "state short": lambda a: {"state": tuple(_short({"s": s}, "s") for s in a["state"])},
    "state None": lambda a: {"state": (None,) * len(a["state"])},
    "state count": lambda a: {"state": a["state"] + (a["params"].copy(),)},
    "batch_size 0": lambda a: {"batch_size": 0},
    "batch_size over the workspace": lambda a: {"batch_size": BATCH + 1},
})


_ENTRIES = {"general": _train_epoch, "persample": lambda a: _train_epoch(a, ("persample",)),
            "folded": lambda a: _train_epoch(a, ("folded",)), "sklearn": _train_epoch_sklearn}


# the fast paths are SGD's (adam has neither)
@pytest.mark.parametrize("path,optimizer", [(p, "sgd") for p in sorted(_ENTRIES)]
                         + [("general", "adam"), ("sklearn", "adam")])
@pytest.mark.parametrize("bad", sorted(_BAD_STEPS))
def test_training_entries_refuse_mismatched_buffers(path, optimizer, bad):
    net, args = _setup(optimizer=optimizer)
    entry = _ENTRIES[path]
    if path == "persample":
        args["batch_size"] = 1
    entry(dict(args))   # the well-formed call runs
    before = net._params.copy()
    args.update(_BAD_STEPS[bad](args))
    with pytest.raises(ValueError):
        entry(args)
    np.testing.assert_array_equal(net._params, before)   # nothing was stepped


@pytest.mark.parametrize("bad", ["targets short", "targets narrow", "targets missing"])
@pytest.mark.parametrize("entry", [_train_epoch, _train_epoch_sklearn, _loss_and_gradients])
def test_regression_truth_checked(entry, bad):
    net, args = _setup(output="linear")
    entry(dict(args))
    t = args["targets"]
    args["targets"] = {"targets short": np.ascontiguousarray(t[:-1]),
                       "targets narrow": np.ascontiguousarray(t[:, :-1]),
                       "targets missing": None}[bad]
    with pytest.raises(ValueError, match="targets"):
        entry(args)


@pytest.mark.parametrize("bad", sorted(k for k in _BAD if "order" not in k))
def test_loss_and_gradients_refuses_mismatched_buffers(bad):
    net, args = _setup()
    _loss_and_gradients(dict(args))
    args.update(_BAD[bad](args))
    with pytest.raises(ValueError):
        _loss_and_gradients(args)


def test_loss_and_gradients_outputs_and_no_grads():
    net, args = _setup()
    args["grads"] = None
    assert np.isfinite(_loss_and_gradients(args))   # grads=None: the loss only
    with pytest.raises(ValueError, match="outputs"):
        _train.loss_and_gradients(args["plan"], args["params"], None, args["X"],
                                  args["labels"], None, None, np.empty((N, K + 1)))


def test_sklearn_second_plan_must_be_the_same_network():
    net, args = _setup()
    other = fastnet.MLP([D, H, K], activation="tanh", dtype=net.dtype)
    with pytest.raises(ValueError, match="plan2"):
        _train.train_epoch_sklearn(args["plan"], args["config"], args["params"],
                                   args["grads"], args["state"], args["X"], args["labels"],
                                   None, None, args["order"], BATCH, 0, 1.0,
                                   other._plan(BATCH), np.zeros_like(args["params"]))


def test_forward_refuses_mismatched_buffers():
    net, args = _setup()
    plan, X = args["plan"], args["X"]
    out = np.empty((N, K))
    _train.forward(plan, net._params, X, out)
    with pytest.raises(ValueError):
        _train.forward(plan, net._params[:-1].copy(), X, out)
    with pytest.raises(ValueError):
        _train.forward(plan, net._params, np.zeros((N, D + 1)), out)
    with pytest.raises(ValueError):
        _train.forward(plan, net._params, X, np.empty((N, K + 1)))
    with pytest.raises(ValueError):
        _train.forward(plan, net._params, X, None)


def test_single_row_path_checks_its_arrays():
    net, args = _setup()
    plan = net._plan(1)
    x, out = np.zeros((1, D)), np.empty((1, K))
    with pytest.raises(ValueError, match="bind"):
        plan.forward_row(x, out)   # nothing bound yet
    for params in (net._params[:-1].copy(), net._params.astype(np.float32),
                   net._params.reshape(1, -1)):
        with pytest.raises(ValueError, match="params"):
            plan.bind(params)
    plan.bind(net._params)
    assert plan.forward_row(x, out) >= 0
    read_only = np.empty((1, K))
    read_only.flags.writeable = False
    for bad_x, bad_out in [(np.zeros((1, D + 1)), out), (np.zeros((2, D)), out),
                           (np.zeros(D), out), (np.zeros((1, D), np.float32), out),
                           (np.zeros((1, 2 * D))[:, ::2], out), (x, np.empty((1, K - 1))),
                           (x, read_only), (x, np.empty((1, K), np.float32))]:
        with pytest.raises(ValueError, match="forward_row"):
            plan.forward_row(bad_x, bad_out)
    with pytest.raises(TypeError):
        plan.forward_row(None, out)


def test_plan_refuses_a_layout_that_is_not_its_sizes():
    net, _ = _setup()
    w_off, b_off, n_weights = net._w_off, net._b_off, net._n_weights
    codes = [0]
    _train.Plan(net._sizes, w_off, b_off, n_weights, codes, 0, net.dtype, 4)
    for bad in [dict(w_off=w_off + 1), dict(b_off=b_off - 1), dict(n_weights=n_weights + 1),
                dict(sizes=[D, H + 1, K]), dict(capacity=0), dict(codes=[])]:
        kw = dict(sizes=net._sizes, w_off=w_off, b_off=b_off, n_weights=n_weights,
                  codes=codes, capacity=4, **{})
        kw.update(bad)
        with pytest.raises(ValueError):
            _train.Plan(kw["sizes"], kw["w_off"], kw["b_off"], kw["n_weights"],
                        kw["codes"], 0, net.dtype, kw["capacity"])


# -- a callback that replaces the model during fit ---------------------------------------

_REPLACE = """
import numpy as np, fastnet
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 20)); y = (X[:, 0] > 0).astype(int)
net = fastnet.MLP([20, {hidden}, {hidden}, 2], seed=0, dtype={dtype!r})
other = fastnet.MLP({other}, seed=0, dtype={other_dtype!r})
def callback(record):
    {action}
try:
    history = net.fit(X, y, epochs=3, batch_size={batch}, callback=callback,
                      optimizer={optimizer!r}, momentum=0.0)
    print("RESULT finished", len(history["loss"]))
except ValueError as exc:
    print("RESULT ValueError", exc)
print("SIZES", net.layer_sizes if hasattr(net, "layer_sizes") else net._sizes)
net.fit(X[:, :net._sizes[0]], y, epochs=1)   # the model left behind is usable
print("OK")
"""


def _run(tmp_path, **fields):
    values = dict(hidden=512, dtype="float32", other="[1, 1, 2]", other_dtype="float32",
                  batch=32,
                  optimizer="sgd", action="net.__setstate__(other.__getstate__())")
    values.update(fields)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_REPLACE.format(**values))],
                          capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    return proc.stdout


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("change", [
    dict(),                                                  # a smaller model
    dict(hidden=4096),      # before the checks: SIGSEGV (batch 32), 16.8 M parameters
    dict(other="[20, 8, 2]"),                                # same input width
    dict(other="[20, 512, 512, 2]", other_dtype="float64"),  # another dtype
    dict(action="net.__init__([1, 1, 2])"),                  # re-initialised in place
    dict(optimizer="adam"),                                  # the state of another optimizer
])
def test_callback_replacing_the_model_stops_fit(tmp_path, batch, change):
    """Used to be SIGSEGV (hidden=4096, batch 32) or silent heap corruption (the old
    plan's kernels read and wrote through the smaller model's buffers); now the next chunk raises ValueError, and the model is the one
    the callback installed, intact and usable."""
    out = _run(tmp_path, batch=batch, **change)
    assert "RESULT ValueError the model was replaced during fit" in out, out
    assert "OK" in out


def test_callback_replacing_with_the_same_layout_trains_on(tmp_path):
    out = _run(tmp_path, other="[20, 512, 512, 2]")
    assert "RESULT finished 3" in out, out


def test_callback_load_state_dict_of_another_shape_is_refused(tmp_path):
    out = _run(tmp_path, action="net.load_state_dict(other.state_dict())")
    assert "RESULT ValueError state['params'] has shape" in out, out
