#!/usr/bin/env python
"""fastnet's fuzz campaign: generated inputs at every public entry point, run in
subprocess batches, every outcome classified.

    python tools/fuzz.py --cases 10000 --jobs 2      # the campaign, a table at the end
    python tools/fuzz.py --entries fit,load --cases 500
    python tools/fuzz.py --replay fit 0 123          # one case, here, with its traceback

Each case is made from ``numpy.random.default_rng([seed, entry number, case index])``,
so (entry, seed, index) reproduces it. Most inputs are valid ones with zero, one or two
arguments replaced by hostile values (NaN, inf, 10**400, -1, strings, huge sizes, odd
dtypes and layouts), so that both the checks and the code behind them are reached.

Outcomes:

- ``ok``: a result; ``clean``: an exception the entry point documents (ValueError,
  TypeError, ...; see ``Entry.allowed``);
- ``unexpected``: any other exception (IndexError, OverflowError, ...), or a result
  that breaks a promise: a refused call that changed the model, non-finite parameters
  after a normal return, a model no longer usable after its views were played with,
  exported C that does not compile;
- ``disagree``: the compiled implementation and the NumPy reference gave different
  outcomes (exception type and message) or different values beyond the dtype's
  tolerance;
- ``crash``: the interpreter died (a signal, or an exit without an answer);
- ``hang``: no answer within ``--timeout`` seconds.

Workers run with one BLAS thread and an address-space limit (``--memory``, GiB), so
an allocation the memory guard misses is a MemoryError, not the machine's memory.

New entry points are one line in ENTRY_POINTS: a function ``make(rng)`` returning a
``run(impl)`` that calls the entry point on one implementation (a module) and returns
what to compare, and the implementations to compare.
"""
import argparse
import contextlib
import io
import json
import math
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
import zipfile
from collections import Counter, namedtuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTCOMES = ("ok", "clean", "unexpected", "disagree", "crash", "hang")
FINDINGS = ("unexpected", "disagree", "crash", "hang")


class Broken(Exception):
    """A promise broken without an exception of the library's own (model changed by a
    refused call, non-finite parameters, ...): classified as unexpected."""


# ---------------------------------------------------------------------------------
# Hostile and valid values
# ---------------------------------------------------------------------------------

HOSTILE = [None, True, -1, 0, 1.5, 10 ** 20, 2 ** 63, 10 ** 400, -10 ** 400, math.nan,
           math.inf, -math.inf, 1e-320, 1e308, -0.0, "abc", "", b"1", [], [[]], (1, 2),
           {}, object(), np.float32(3), np.int64(-5), np.array([]), np.array(1.0),
           np.array([math.nan]), complex(1, 1), np.ones((2, 2), dtype=object)]


def hostile(rng):
    return HOSTILE[int(rng.integers(len(HOSTILE)))]


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def array(rng, shape, dtype=None, scale=None):
    """A float array of `shape`, sometimes with extreme values, NaN or inf, another
    dtype or layout (list, Fortran, strided, read-only)."""
    scale = scale if scale is not None else pick(rng, [1.0, 1.0, 1.0, 1e-30, 1e3, 1e30, 1e300])
    a = rng.standard_normal(shape) * scale
    with np.errstate(all="ignore"):              # the casts below may overflow: wanted
        return _dress(rng, a, dtype)


def _dress(rng, a, dtype):
    if a.size and rng.random() < 0.08:
        a.flat[int(rng.integers(a.size))] = pick(rng, [math.nan, math.inf, -math.inf])
    a = a.astype(dtype or pick(rng, ["float64", "float64", "float32", "float16", "int64",
                                     "float64"]))
    form = int(rng.integers(8))
    if form == 0:
        return a.tolist()
    if form == 1:
        return np.asfortranarray(a)
    if form == 2 and a.ndim:
        return np.repeat(a, 2, axis=0)[::2]
    if form == 3:
        a.setflags(write=False)
    return a


def mutate(rng, kwargs, n_max=2):
    """kwargs with up to n_max values replaced by hostile ones (none in about half)."""
    kwargs = dict(kwargs)
    for _ in range(int(rng.integers(n_max + 1)) if rng.random() < 0.35 else 0):
        kwargs[pick(rng, sorted(kwargs))] = hostile(rng)
    return kwargs


HEADS = ["softmax", "linear", "logistic", "poisson"]
ACTIVATIONS = ["relu", "tanh", "sigmoid", "identity"]


def net_kwargs(rng):
    depth = int(rng.integers(0, 3))
    head = pick(rng, HEADS)
    out = int(rng.integers(2, 4)) if head == "softmax" else int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 5))] + [int(rng.integers(1, 7)) for _ in range(depth)] + [out]
    return {"layer_sizes": sizes, "activation": pick(rng, ACTIVATIONS), "output": head,
            "dtype": pick(rng, ["float32", "float64"]), "seed": int(rng.integers(100))}


def truth(rng, head, n, k):
    if head == "softmax":
        return rng.integers(0, k, n) if rng.random() < 0.8 else np.eye(k)[rng.integers(0, k, n)]
    if head == "logistic":
        y = rng.integers(0, 2, (n, k)).astype(float)
        return y[:, 0] if k == 1 and rng.random() < 0.5 else y
    if head == "poisson":
        return rng.poisson(2.0, (n, k)).astype(float)
    return rng.standard_normal((n, k))


def data(rng, kw):
    """(X, y) for a network made from kw, sometimes of the wrong shape."""
    sizes = kw["layer_sizes"]
    n = int(rng.integers(1, 12))
    d = sizes[0] if isinstance(sizes, list) else 2
    k = sizes[-1] if isinstance(sizes, list) else 2
    if rng.random() < 0.1:
        d = int(rng.integers(1, 5))
    X = array(rng, (n, d), scale=pick(rng, [1.0, 1.0, 1.0, 1e3, 1e30]))
    head = kw["output"] if kw["output"] in HEADS else "softmax"
    y = truth(rng, head, n if rng.random() > 0.05 else n + 1, k)
    return X, y


# ---------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------

def _model(impl, kw):
    return impl.MLP(**kw)


def fuzz_constructor(rng):
    kw = mutate(rng, net_kwargs(rng))
    if rng.random() < 0.1:      # sizes the memory guard must refuse without work
        kw["layer_sizes"] = [1, pick(rng, [10 ** 7, 2 ** 40, 10 ** 12]), 1]

    def run(impl):
        net = _model(impl, kw)
        if kw.get("seed") is None:        # fresh entropy: each draws its own weights
            return net.parameters.shape, str(net.dtype)
        return net.parameters.copy()
    return run


def _snapshot(net):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in net.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=True) if isinstance(a[k], np.ndarray)
        else a[k] == b[k] for k in a)


def fuzz_fit(rng):
    kw = net_kwargs(rng)
    X, y = data(rng, kw)
    fit = {"epochs": int(rng.integers(1, 4)), "batch_size": int(rng.integers(1, 8)),
           "learning_rate": pick(rng, [0.01, 0.1, 1e-3, 10.0]),
           "momentum": pick(rng, [0.0, 0.5, 0.9]), "l2": pick(rng, [0.0, 1e-3]),
           "lr_decay": pick(rng, [0.0, 0.1]), "sampling": pick(rng, ["shuffle", "uniform"]),
           "optimizer": pick(rng, ["sgd", "sgd", "adam"])}
    if fit["optimizer"] == "sgd" and rng.random() < 0.2:
        fit["nesterov"] = True
    if fit["optimizer"] == "adam":
        del fit["momentum"]
        fit["beta_1"] = pick(rng, [0.9, 0.5])
    if rng.random() < 0.2:
        fit["sample_weight"] = np.abs(array(rng, (len(X),), "float64", 1.0))
    if rng.random() < 0.15:
        fit["validation_data"] = data(rng, kw)
    elif rng.random() < 0.15:
        fit["validation_split"] = pick(rng, [0.2, 0.5, 0.01, 0.99])
    if rng.random() < 0.15:     # Keras-style early stopping
        fit["patience"] = pick(rng, [0, 1, 2])
        fit["monitor"] = pick(rng, ["loss", "val_loss", "val_accuracy", "val_r2"])
        fit["restore_best_weights"] = pick(rng, [True, False])
        fit["min_delta"] = pick(rng, [0.0, 1e-3])
    if rng.random() < 0.1:
        fit["class_weight"] = pick(rng, ["balanced", {0: 2.0}, {1: 0.5, 0: 1.5}])
    fit = mutate(rng, fit)

    def run(impl):
        net = _model(impl, kw)
        before = _snapshot(net)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                history = net.fit(X, y, **fit)
        except (ValueError, TypeError) as exc:
            # a refused fit leaves the model bit for bit as it was
            if not _same_state(before, _snapshot(net)):
                raise Broken(f"fit raised {exc!r} and changed the model") from exc
            raise
        except FloatingPointError:
            if not np.isfinite(net.parameters).all():
                raise Broken("fit diverged and left non-finite parameters") from None
            raise
        if not np.isfinite(net.parameters).all():
            raise Broken("fit returned normally with non-finite parameters")
        params = net.parameters.copy()
        if fit.get("optimizer") == "adam" and net.dtype == np.float32:
            # Adam divides by sqrt(v): where gradients are rounding noise (saturated
            # units), the two implementations' float32 roundings move a weight by up
            # to eta in different directions; compared at float16's tolerance
            params = params.astype(np.float16)
        return params, np.asarray(history["loss"], dtype=net.dtype)
    return run


def fuzz_method(method):
    def make(rng):
        kw = net_kwargs(rng)
        X, y = data(rng, kw)
        args = [X] if method in ("forward", "predict", "predict_proba") else [X, y]
        if method in ("loss", "gradients") and rng.random() < 0.3:
            args.append(np.abs(array(rng, (len(X),), "float64", 1.0)))
        if rng.random() < 0.3:
            args[int(rng.integers(len(args)))] = hostile(rng)

        def run(impl):
            net = _model(impl, kw)
            before = net.parameters.copy()
            out = getattr(net, method)(*args)
            if not np.array_equal(before, net.parameters, equal_nan=True):
                raise Broken(f"{method} changed the parameters")
            return out, before            # (the parameters: the dtype, for the tolerance)
        return run
    return make


def fuzz_load(rng):
    kw = net_kwargs(rng)
    damage = pick(rng, ["flip", "truncate", "overwrite", "insert", "meta", "none"])

    def run(impl):
        import fastnet.reference
        path = os.path.abspath(f"fuzz_{os.getpid()}.npz")
        # one file for both (each loads the other's files): the same bytes get damaged
        net = _model(fastnet.reference, kw)
        if rng.random() < 0.3:
            X, y = data(np.random.default_rng(0), kw)
            with contextlib.suppress(Exception):
                net.fit(X, y, epochs=1)
        net.save(path)
        blob = bytearray(open(path, "rb").read())
        r = np.random.default_rng(len(blob) + kw["seed"])    # the same damage for both
        if damage == "flip":
            for i in r.integers(0, len(blob), int(r.integers(1, 6))):
                blob[i] ^= 1 << int(r.integers(8))
        elif damage == "truncate":
            blob = blob[:int(r.integers(len(blob)))]
        elif damage == "overwrite":
            i = int(r.integers(len(blob)))
            blob[i:i + 16] = r.bytes(16)
        elif damage == "insert":
            i = int(r.integers(len(blob)))
            blob[i:i] = r.bytes(int(r.integers(1, 64)))
        elif damage == "meta":
            blob = _damage_metadata(path, r)
        with open(path, "wb") as f:
            f.write(blob)
        loaded = impl.load(path)
        X = np.zeros((1, loaded.layer_sizes[0]), dtype=loaded.dtype)
        return loaded.parameters.copy(), loaded.forward(X)
    return run


def _damage_metadata(path, r):
    """The archive with one value of its metadata replaced by a hostile one."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    meta = np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)
    text = meta.item() if meta.dtype.kind == "U" else bytes(meta).decode("latin-1")
    try:
        doc = json.loads(text)
    except ValueError:
        return bytearray(open(path, "rb").read())
    keys = sorted(doc)
    key = keys[int(r.integers(len(keys)))]
    doc[key] = [None, -1, 2 ** 64, 1e308, "x", [[[[1]]]], {"a": 1}, [1, 2 ** 40, 1], True,
                10 ** 30][int(r.integers(10))]
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(doc)) if meta.dtype.kind == "U"
            else np.frombuffer(json.dumps(doc).encode(), dtype=meta.dtype))
    members["meta.npy"] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return bytearray(out.getvalue())


def fuzz_export_c(rng):
    kw = net_kwargs(rng)
    path = pick(rng, ["m.c", "m.c", "model.c", "m.h", "M.H", "no/such/dir/m.c", "m", "",
                      "m.c.c"])
    name = pick(rng, [None, None, None, None, "model", "net_1", "1abc", "int", "a b", "x" * 300,
                      "", 5])
    poison = pick(rng, [None, None, None, math.nan, math.inf, 1e38, 1e-45])

    def run(impl):
        net = _model(impl, kw)
        if poison is not None:
            net.parameters[int(rng.integers(net.n_params))] = poison
        c_path, h_path = net.export_c(path, name)
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc:
            build = subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-c", "-o", os.devnull,
                                    c_path], capture_output=True, text=True)
            if build.returncode:
                raise Broken(f"exported C does not compile: {build.stderr[:300]}")
        return open(c_path).read().count("\n")
    return run


def fuzz_export_onnx(rng):
    kw = net_kwargs(rng)
    X, _ = data(rng, kw)
    opset = pick(rng, [17, 17, 13, 21, 12, 10**6, "17", None])
    poison = pick(rng, [None, None, None, math.nan, math.inf])

    def run(impl):
        import onnxruntime
        net = _model(impl, kw)
        if poison is not None:
            net.parameters[int(rng.integers(net.n_params))] = poison
        model = net.export_onnx(None, opset_version=opset)
        want = net.forward(X)   # first: fastnet's own checks of X (onnxruntime's differ)
        session = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        got = session.run(None, {"X": np.ascontiguousarray(X, dtype=net.dtype)})[0]
        scale = max(float(np.abs(want).max()), 1e-30)
        if np.abs(got - want).max() > 1e-5 * scale:
            raise Broken(f"onnxruntime differs from forward by {np.abs(got - want).max():.3g}")
        return got, net.parameters.copy()
    return run


def fuzz_torch(rng):
    kw = net_kwargs(rng)
    X, _ = data(rng, kw)
    dtype = pick(rng, [None, None, "float32", "float64", "float16", "int64", 3])

    def run(impl):
        import torch  # noqa: F401  (an ImportError is a clean refusal)
        net = _model(impl, kw)
        back = type(net).from_torch(net.to_torch(), dtype=dtype)
        want, got = net.forward(X), back.forward(X)
        if dtype is None and not np.array_equal(want, got):
            raise Broken("from_torch(to_torch()) changed the network's outputs")
        return got, back.parameters.copy()
    return run


def fuzz_layers(rng):
    n, i, o = int(rng.integers(1, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    dtype = pick(rng, ["float32", "float64"])
    kind = pick(rng, ["dense", "activation", "head"])
    W, b = array(rng, (o, i), dtype, 1.0), array(rng, (o,), dtype, 1.0)
    x, dout = array(rng, (n, i)), array(rng, (n, o), dtype, 1.0)
    act, head = pick(rng, ACTIVATIONS), pick(rng, HEADS)
    z = array(rng, (n, o))
    t = truth(rng, head, n, o)
    if head == "softmax" and o < 2:
        head = "linear"
    weights = array(rng, (n,), "float64", 1.0) if rng.random() < 0.3 else None
    args = [W, b, x, dout, z, t]
    if rng.random() < 0.4:
        args[int(rng.integers(len(args)))] = hostile(rng)
    W, b, x, dout, z, t = args

    def run(layers):
        if kind == "dense":
            layer = layers.Dense(W, b)
            out = layer.forward(x)
            return out, layer.backward(dout), layer.dW.copy(), layer.db.copy()
        if kind == "activation":
            layer = layers.ACTIVATION_LAYERS[act]()
            out = layer.forward(z)
            return out, layer.backward(dout)
        layer = layers.HEAD_LAYERS[head]()
        return layer.forward(z, t, weights), layer.backward()
    return run


def fuzz_sklearn(rng):
    regress = rng.random() < 0.4
    params = {"hidden_layer_sizes": tuple(int(h) for h in rng.integers(1, 6, rng.integers(0, 3))),
              "activation": pick(rng, ["relu", "tanh", "logistic", "identity"]),
              "solver": pick(rng, ["adam", "sgd", "lbfgs"]), "max_iter": int(rng.integers(1, 6)),
              "batch_size": pick(rng, ["auto", 1, 4]), "alpha": pick(rng, [1e-4, 0.0, 1.0]),
              "learning_rate_init": pick(rng, [1e-3, 0.1]),
              "early_stopping": bool(rng.random() < 0.2), "random_state": int(rng.integers(9)),
              "dtype": pick(rng, [None, "float32", "float64"])}
    params = mutate(rng, params, 1)
    n = int(rng.integers(4, 20))
    X = array(rng, (n, int(rng.integers(1, 4))), scale=pick(rng, [1.0, 1.0, 1e3]))
    y = (rng.standard_normal(n) if regress else
         pick(rng, [rng.integers(0, 3, n), rng.integers(0, 2, n),
                    np.array(["a", "b"])[rng.integers(0, 2, n)]]))

    def run(impl):
        from fastnet import sklearn as fsk
        est = (fsk.MLPRegressor if regress else fsk.MLPClassifier)(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
            return est.predict(X), est.score(X, y)
    return run


DATASETS = {"parity": ("d", "n", "seed", "dtype"), "two_spirals": ("n", "noise", "turns", "seed"),
            "sine": ("n", "seed", "dtype"), "zigzag": ("k", "n", "seed", "grid"),
            "blobs": ("n", "centers", "dim", "std", "seed"), "digits": ("dtype", "seed")}
VALID = {"d": [1, 3, 8], "n": [0, 1, 10, 100], "seed": [None, 0, 5], "dtype": ["float32",
         "float64"], "noise": [0.0, 0.1], "turns": [0.5, 1.5], "k": [0, 3, 10, 60],
         "grid": [False, True], "centers": [1, 3], "dim": [1, 2, 5], "std": [0.0, 0.5]}


def fuzz_datasets(rng):
    name = pick(rng, sorted(DATASETS))
    kw = mutate(rng, {a: pick(rng, VALID[a]) for a in DATASETS[name]})

    def run(impl):
        from fastnet import datasets
        X, y = getattr(datasets, name)(**kw)
        if len(X) != len(y) or (X.dtype.kind == "f" and not np.isfinite(X).all()):
            raise Broken(f"{name}: X {X.shape}, y {y.shape}, finite {np.isfinite(X).all()}")
        return X, y
    return run


def fuzz_theory(rng):
    what = pick(rng, ["count", "count", "sawtooth", "montufar", "parity_sizes"])
    widths = [int(w) for w in rng.integers(1, 7, rng.integers(1, 4))]
    biases = [rng.uniform(-1, 1, w) * 10.0 ** rng.integers(-3, 4) for w in widths]
    lo = float(rng.uniform(-10, 0)) * 10.0 ** int(rng.integers(0, 6))
    hi = lo + 10.0 ** float(rng.uniform(-3, 7))
    args = mutate(rng, {"k": int(rng.integers(1, 12)), "d": int(rng.integers(1, 6)),
                        "h": int(rng.integers(1, 30)), "lo": lo, "hi": hi}, 1)

    def run(impl):
        from fastnet import theory
        if what == "count":
            net = impl.MLP([1] + widths + [1], "relu", "linear", dtype="float64", seed=3)
            for b, v in zip(net.biases, biases):
                b[...] = v
            result = theory.count_linear_pieces(net, args["lo"], args["hi"])
            _check_pieces(net, args["lo"], args["hi"], result)
            return result.count, result.breakpoints
        if what == "sawtooth":
            net = theory.sawtooth_network(args["k"], impl=impl)
            return theory.count_linear_pieces(net, 0.0, 1.0).count
        if what == "montufar":
            return tuple(str(v) for v in theory.montufar_bounds(args["d"], args["h"], args["k"]))
        return theory.parity_circuit_sizes(args["d"])
    return run


def _check_pieces(net, lo, hi, result):
    """The network is affine with the reported slope on every reported piece (three
    points inside each), and the slope changes at every breakpoint."""
    edges = np.concatenate([[float(lo)], result.breakpoints, [float(hi)]])
    if len(edges) != result.count + 1 or not np.all(np.diff(edges) > 0):
        raise Broken(f"{result.count} pieces but breakpoints {result.breakpoints[:5]}")
    a, w = edges[:-1], np.diff(edges)
    xs = np.stack([a + w / 4, a + w / 2, a + 3 * w / 4], axis=1)
    ys = net.predict(xs.reshape(-1, 1)).reshape(xs.shape)
    slope = result.slopes[:, 0]
    size = np.abs(ys).max(axis=1) + np.abs(slope) * np.maximum(np.abs(xs).max(axis=1), 1)
    wrong = np.abs((ys[:, 2] - ys[:, 0]) - slope * (xs[:, 2] - xs[:, 0])) > 1e-7 * size
    if np.any(wrong & (w > 1e-6 * np.maximum(np.abs(a), 1))):     # resolvable pieces
        raise Broken(f"not affine with the reported slope on piece {np.argmax(wrong)}")
    if np.any(np.diff(slope) == 0):
        raise Broken("two adjacent pieces with the same slope")


def fuzz_state_dict(rng):
    kw = net_kwargs(rng)
    key = pick(rng, ["params", "velocity", "updates", "extra", "missing"])
    value = pick(rng, [hostile(rng), None, -1, 2 ** 62, 2 ** 63, "params"])

    def run(impl):
        net = _model(impl, kw)
        state = net.state_dict()
        if key == "missing":
            state.pop(pick(rng, sorted(state)))
        elif key in state and isinstance(state[key], np.ndarray) and rng.random() < 0.5:
            state[key] = array(rng, pick(rng, [state[key].shape, (1,), (2, 2)]))
        else:
            state[key] = value
        before = _snapshot(net)
        try:
            net.load_state_dict(state)
        except Exception:
            if not _same_state(before, _snapshot(net)):
                raise Broken("a refused load_state_dict changed the model") from None
            raise
        return net.parameters.copy()
    return run


def fuzz_views(rng):
    kw = net_kwargs(rng)
    X, _ = data(np.random.default_rng(1), kw)
    target = pick(rng, ["weights", "biases", "parameters"])
    op = pick(rng, ["assign_list", "replace", "shape", "dtype", "base_shape", "base_dtype",
                    "base_readonly", "readonly", "write", "append"])

    def run(impl):
        net = _model(impl, kw)
        Xc = np.asarray(X, dtype=net.dtype)
        before = net.forward(Xc)
        views = getattr(net, target)
        v = views if target == "parameters" else views[0]
        try:
            if op == "assign_list":
                views[0] = np.zeros_like(v)
            elif op == "replace":
                setattr(net, target, [])
            elif op == "shape":
                v.shape = (-1,)
            elif op == "dtype":
                v.dtype = np.uint8
            elif op == "base_shape" and v.base is not None:
                v.base.shape = (-1, 1)
            elif op == "base_dtype" and v.base is not None:
                v.base.dtype = np.uint8
            elif op == "base_readonly" and v.base is not None:
                v.base.flags.writeable = False
            elif op == "readonly":
                v.flags.writeable = False
            elif op == "write":
                v[...] = 0.5
            elif op == "append":
                views.append(1)
        except (TypeError, AttributeError, ValueError):
            pass
        try:
            after = net.forward(Xc)
            # a divergence (hostile X, or the weights written) is fit's clean refusal
            with contextlib.suppress(FloatingPointError):
                net.fit(Xc, truth(np.random.default_rng(2), net.output, len(Xc),
                                  net.layer_sizes[-1]))
        except Exception as exc:                      # noqa: BLE001 - the model is broken
            raise Broken(f"net.{target}: {op} broke the model: {exc!r}") from exc
        writes = op == "write" or (op == "assign_list" and target == "parameters")
        if not writes and not np.array_equal(before, after, equal_nan=True):
            raise Broken(f"net.{target}: {op} changed the model's outputs")
        return net.forward(Xc)
    return run


Entry = namedtuple("Entry", "make impls allowed")
BOTH = ("fastnet", "fastnet.reference")
COMPILED = ("fastnet",)
USAGE = (ValueError, TypeError, MemoryError, FloatingPointError)

# One line per entry point: how to make an input, which implementations to compare,
# which exceptions are clean.
ENTRY_POINTS = {
    "MLP": Entry(fuzz_constructor, BOTH, USAGE),
    "fit": Entry(fuzz_fit, BOTH, USAGE),
    "loss": Entry(fuzz_method("loss"), BOTH, USAGE),
    "gradients": Entry(fuzz_method("gradients"), BOTH, USAGE),
    "predict": Entry(fuzz_method("predict"), BOTH, USAGE),
    "predict_proba": Entry(fuzz_method("predict_proba"), BOTH, USAGE),
    "forward": Entry(fuzz_method("forward"), BOTH, USAGE),
    "score": Entry(fuzz_method("score"), BOTH, USAGE),
    "load": Entry(fuzz_load, BOTH, (ValueError,)),
    "export_c": Entry(fuzz_export_c, COMPILED, (ValueError, TypeError, OSError)),
    "layers": Entry(fuzz_layers, ("fastnet.layers", "fastnet.reference.layers"), USAGE),
    "sklearn": Entry(fuzz_sklearn, COMPILED, USAGE + (ImportError,)),
    "datasets": Entry(fuzz_datasets, COMPILED, USAGE + (ImportError,)),
    "theory": Entry(fuzz_theory, BOTH, USAGE),
    "views": Entry(fuzz_views, BOTH, USAGE),
    "load_state_dict": Entry(fuzz_state_dict, BOTH, (ValueError, TypeError)),
    "export_onnx": Entry(fuzz_export_onnx, BOTH, USAGE + (ImportError,)),
    "torch": Entry(fuzz_torch, BOTH, USAGE + (ImportError,)),
}


# ---------------------------------------------------------------------------------
# Running and classifying one case
# ---------------------------------------------------------------------------------

# Relative to the larger of 1 and the largest value compared; float32 when any array
# of a result is float32 (a float32 model's loss comes back as a Python float).
TOLERANCE = {np.dtype("float16"): 2e-2, np.dtype("float32"): 2e-3, np.dtype("float64"): 1e-8}


def _arrays(x):
    if isinstance(x, (tuple, list)):
        return [a for y in x for a in _arrays(y)]
    return [x] if isinstance(x, np.ndarray) else []


def _close(a, b, tol):
    """Values of the two implementations agree (tolerance tol, NaN where NaN)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind not in "fc":
        return np.array_equal(a, b)
    finite = np.isfinite(a) & np.isfinite(b)
    if not (np.array_equal(np.isnan(a), np.isnan(b))          # NaN where NaN, inf where inf
            and np.array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(b)])):
        return False
    scale = max(1.0, float(np.max(np.abs(b[finite]), initial=0.0)))
    return bool(np.all(np.abs(a[finite] - b[finite]) <= tol * scale))


def run_case(name, seed, index, verbose=False):
    """(outcome, detail) of one case, in this process."""
    import importlib
    entry = ENTRY_POINTS[name]
    number = sorted(ENTRY_POINTS).index(name)
    results = []
    for module in entry.impls:
        rng = np.random.default_rng([seed, number, index])    # the same input for each
        run = entry.make(rng)
        impl = importlib.import_module(module)
        try:
            with np.errstate(all="ignore"):
                results.append(("ok", run(impl)))
        except Broken as exc:
            return "unexpected", f"{module}: {exc}"
        except Exception as exc:                       # noqa: BLE001 - classifying
            if verbose:
                traceback.print_exc()
            results.append(("raise", exc))
    kinds = [(r[0], type(r[1]).__name__, str(r[1])) if r[0] == "raise" else ("ok",)
             for r in results]
    if len(set(kinds)) > 1:
        return "disagree", " | ".join(":".join(k)[:200] for k in kinds)
    if results[0][0] == "raise":
        exc = results[0][1]
        if isinstance(exc, entry.allowed):
            return "clean", type(exc).__name__
        return "unexpected", f"{type(exc).__name__}: {str(exc)[:300]}"
    tol = max(TOLERANCE.get(a.dtype, 0.0) for a in _arrays(results[0][1]) + [np.zeros(0)])
    if len(results) > 1 and not all(_close(results[0][1], r[1], tol) for r in results[1:]):
        return "disagree", "values differ"
    return "ok", ""


def worker(name, seed, start, count):
    """Cases start..start+count-1 of one entry point, one JSON line each (a line
    before each case, so the parent knows which one crashed or hung)."""
    limit = int(float(os.environ.get("FASTNET_FUZZ_MEMORY_GIB", "4")) * 2 ** 30)
    if "asan" not in os.environ.get("LD_PRELOAD", ""):   # ASan reserves terabytes
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for index in range(start, start + count):
        print(json.dumps({"start": index}), flush=True)
        outcome, detail = run_case(name, seed, index)
        print(json.dumps({"done": index, "outcome": outcome, "detail": detail}), flush=True)


# ---------------------------------------------------------------------------------
# The campaign: subprocess batches
# ---------------------------------------------------------------------------------

def _package_path():
    """The folder holding the fastnet to test: this checkout when it is built in
    place, else the installed one (an unbuilt checkout cannot run)."""
    here = os.path.join(ROOT, "fastnet")
    files = os.listdir(here) if os.path.isdir(here) else []
    if any(f.startswith("_train.") and f.endswith((".so", ".pyd")) for f in files):
        return ROOT
    import importlib.util
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != ROOT]
    spec = importlib.util.find_spec("fastnet")
    return os.path.dirname(os.path.dirname(spec.origin))


def run_batch(name, seed, start, count, timeout, workdir, path, memory, program=None):
    """Outcomes {index: (outcome, detail)} of a batch, restarting the worker (this
    file, or `program`) after a crash or a hang."""
    env = dict(os.environ, PYTHONPATH=path, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", FASTNET_FUZZ_MEMORY_GIB=str(memory))
    done, index = {}, start
    while index < start + count:
        proc = subprocess.Popen([sys.executable, program or os.path.abspath(__file__),
                                 "--worker", name,
                                 str(seed), str(index), str(start + count - index)],
                                cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)],
                         daemon=True).start()
        current = None
        while True:
            try:
                line = lines.get(timeout=timeout + (30 if current is None else 0))
            except queue.Empty:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait()
                at = index if current is None else current
                done[at] = ("hang", f"no answer in {timeout} s")
                index = at + 1
                break
            if line is None:                            # the worker is gone
                code = proc.wait()
                if current is not None:
                    done[current] = ("crash", f"exit status {code}")
                    index = current + 1
                else:
                    index = start + count
                break
            msg = json.loads(line)
            if "start" in msg:
                current = msg["start"]
            else:
                done[msg["done"]] = (msg["outcome"], msg["detail"])
                current, index = None, msg["done"] + 1
        if proc.poll() is None:
            proc.wait()
    return done


def campaign(names, cases, seed, jobs, batch, timeout, memory, path=None):
    """Run `cases` inputs spread over the entry points `names`; returns
    {entry: Counter of outcomes} and the list of findings."""
    per = {n: cases // len(names) + (i < cases % len(names)) for i, n in enumerate(names)}
    tasks = [(n, s, min(batch, per[n] - s)) for n in names for s in range(0, per[n], batch)]
    path = path or _package_path()
    counts = {n: Counter() for n in names}
    findings = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="fastnet-fuzz-") as work:
        def go(task):
            name, start, count = task
            workdir = tempfile.mkdtemp(dir=work)
            result = run_batch(name, seed, start, count, timeout, workdir, path, memory)
            with lock:
                for index, (outcome, detail) in sorted(result.items()):
                    counts[name][outcome] += 1
                    if outcome in FINDINGS:
                        findings.append((name, seed, index, outcome, detail))
        pending = list(tasks)
        threads = []

        def loop():
            while True:
                with lock:
                    if not pending:
                        return
                    task = pending.pop(0)
                go(task)
        for _ in range(jobs):
            threads.append(threading.Thread(target=loop))
            threads[-1].start()
        for t in threads:
            t.join()
    return counts, findings


def report(counts, findings, seconds, out=sys.stdout):
    total = Counter()
    print(f"{'entry point':14s} " + " ".join(f"{o:>10s}" for o in OUTCOMES), file=out)
    for name, c in counts.items():
        total.update(c)
        print(f"{name:14s} " + " ".join(f"{c[o]:10d}" for o in OUTCOMES), file=out)
    print(f"{'total':14s} " + " ".join(f"{total[o]:10d}" for o in OUTCOMES), file=out)
    print(f"{sum(total.values())} inputs in {seconds:.0f} s; {len(findings)} findings",
          file=out)
    for f in findings:
        print("  replay: python tools/fuzz.py --replay {} {} {}  # {}: {}".format(*f), file=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10000, help="inputs in all (default 10000)")
    p.add_argument("--entries", default=",".join(ENTRY_POINTS),
                   help="comma-separated entry points (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="workers at once (default 2)")
    p.add_argument("--batch", type=int, default=200, help="cases per worker process")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case (hang)")
    p.add_argument("--memory", type=float, default=4.0, help="GiB of address space per worker")
    p.add_argument("--json", help="also write the counts and findings to this file")
    p.add_argument("--path", help="folder holding the fastnet package to test (default: "
                                  "this checkout if built in place, else the installed one)")
    p.add_argument("--worker", nargs=4, metavar=("ENTRY", "SEED", "START", "COUNT"),
                   help=argparse.SUPPRESS)
    p.add_argument("--replay", nargs=3, metavar=("ENTRY", "SEED", "INDEX"),
                   help="run one case here, with its traceback")
    args = p.parse_args(argv)
    if args.worker:
        name, seed, start, count = args.worker
        worker(name, int(seed), int(start), int(count))
        return 0
    if args.replay:
        name, seed, index = args.replay
        outcome, detail = run_case(name, int(seed), int(index), verbose=True)
        print(outcome, detail)
        return 0
    names = [n for n in args.entries.split(",") if n]
    unknown = [n for n in names if n not in ENTRY_POINTS]
    if unknown:
        p.error(f"unknown entry points {unknown}; known: {', '.join(ENTRY_POINTS)}")
    t0 = time.time()
    counts, findings = campaign(names, args.cases, args.seed, args.jobs, args.batch,
                                args.timeout, args.memory, args.path)
    report(counts, findings, time.time() - t0)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"counts": {n: dict(c) for n, c in counts.items()},
                       "findings": findings}, f, indent=1)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
