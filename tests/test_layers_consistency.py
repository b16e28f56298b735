"""Fuzz: the compiled layers (fastnet.layers) and the NumPy layers
(fastnet.reference.layers) give the same outcome on the same calls.

Thousands of random call sequences, with a fixed seed, over every layer class (Dense,
every ACTIVATION_LAYERS and HEAD_LAYERS entry), with random shapes, dtypes and values,
bad ones included (wrong shapes and lengths, label -1 or k, non-integer labels,
indicators outside [0, 1], negative counts, NaN/inf truths and weights, backward
before forward, wrong gradient shapes, ...). Both must raise a ValueError on the same
calls, and return the same results (within tolerance) on the others.
"""
import copy
import warnings

import numpy as np

from fastnet import layers as fast_layers
from fastnet.components import HEADS
from fastnet.reference import layers as ref_layers

SEED = 12
N_CASES = 4000

_TOL = {np.dtype(np.float32): (2e-4, 1e-5), np.dtype(np.float64): (1e-9, 1e-12)}


# -- random inputs -----------------------------------------------------------------------

def _values(rng, shape, scale=None):
    a = rng.normal(size=shape) * (scale if scale is not None else rng.choice([0.5, 2.0, 10.0]))
    if a.size and rng.random() < 0.08:
        a.flat[rng.integers(a.size)] = rng.choice([np.nan, np.inf, -np.inf])
    return a


def _dtyped(rng, a, bad=True):
    """a as one of the numeric dtypes (or, when `bad`, a non-numeric one or a list)."""
    kinds = ["float64"] * 5 + ["float32"] * 4 + ["int64", "float16", "bool"]
    if bad:
        kinds += ["complex", "str", "list", "fortran"]
    kind = kinds[rng.integers(len(kinds))]
    if kind == "complex":
        return a.astype(np.complex128)
    if kind == "str":
        return a.astype(str)
    if kind == "list":
        return a.tolist()
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind in ("int64", "bool"):
        return np.nan_to_num(a).round().astype(kind)
    return a.astype(kind)


def _shape(rng, shape, p_bad=0.2):
    """`shape`, or now and then a wrong one (other ndim, rows or columns)."""
    if rng.random() >= p_bad:
        return shape
    shape = list(shape)
    what = rng.integers(5)
    if what == 0:
        return tuple(shape[:-1]) if len(shape) > 1 else (shape[0], 1, 1)
    if what == 1:
        return tuple(shape) + (1,)
    if what == 2:
        shape[0] = max(0, shape[0] + rng.choice([-1, 1]))
    elif what == 3:
        shape[-1] = max(0, shape[-1] + rng.choice([-1, 1]))
    else:
        shape[0] = 0
    return tuple(shape)


def _array(rng, shape, scale=None):
    return _dtyped(rng, _values(rng, _shape(rng, shape), scale))


def _labels(rng, n, k):
    y = rng.integers(0, k, size=n)
    what = rng.integers(12)
    if what == 0 and n:
        y[rng.integers(n)] = -1                  # wraps to the last class in NumPy
    elif what == 1 and n:
        y[rng.integers(n)] = k
    elif what == 2:
        y = y.astype(np.float64)                 # integer-valued floats: fine
    elif what == 3 and n:
        y = y + 0.5                              # non-integer: truncated by astype
    elif what == 4:
        y = rng.integers(0, k, size=max(0, n + rng.choice([-1, 1])))
    elif what == 5:
        y = rng.integers(0, k, size=1)           # broadcast in NumPy
    elif what == 6:
        y = np.eye(k, dtype=int)[y]              # one-hot rows: fine
    elif what == 7:
        y = rng.integers(0, 2, size=(n, k))      # 2-D, not one-hot
    elif what == 8:
        y = y.reshape(-1, 1)                     # a column: fine
    elif what == 9 and n:
        y = y.astype(np.float64)
        y[rng.integers(n)] = np.nan
    elif what == 10:
        y = y.astype(str)
    return y


def _truth(rng, kind, n, k):
    if kind == "labels":
        return _labels(rng, n, k)
    shape = _shape(rng, (n, k))
    if kind == "targets":
        t = _values(rng, shape)
    elif kind == "indicators":
        t = rng.integers(0, 2, size=shape).astype(float) if rng.random() < 0.5 \
            else rng.random(shape)
        if t.size and rng.random() < 0.15:
            t.flat[rng.integers(t.size)] = rng.choice([-0.5, 1.5, np.nan])
    else:                                        # counts
        t = rng.poisson(2.0, size=shape).astype(float)
        if t.size and rng.random() < 0.15:
            t.flat[rng.integers(t.size)] = rng.choice([-1.0, np.nan, np.inf])
    if k == 1 and rng.random() < 0.2 and t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]                              # (n,) for one output: fine
    return _dtyped(rng, t)


def _weights(rng, n):
    if rng.random() < 0.5:
        return None
    w = rng.random(_shape(rng, (n,))) * 2
    if w.size and rng.random() < 0.15:
        w.flat[rng.integers(w.size)] = rng.choice([-1.0, np.nan, np.inf])
    return _dtyped(rng, w)


# -- random call sequences ---------------------------------------------------------------

def _dense_case(rng):
    d, h, n = (int(v) for v in rng.integers(1, 6, size=3))
    dtype = rng.choice([np.float32, np.float64])
    W = _values(rng, (h, d), 1.0).astype(dtype)
    b = _values(rng, (h,), 1.0).astype(dtype)
    ctor = [W, b]
    r = rng.random()
    if r < 0.05:
        ctor[0] = W.astype(np.int64)
    elif r < 0.10:
        ctor[1] = b.astype(np.float32 if dtype == np.float64 else np.float64)
    elif r < 0.15:
        ctor[1] = np.zeros(h + 1, dtype)
    elif r < 0.18:
        ctor[0] = np.asfortranarray(W) if h > 1 and d > 1 else W.ravel()
    elif r < 0.21:
        ctor[0] = W.tolist()
    if rng.random() < 0.3:
        ctor += [np.zeros(_shape(rng, (h, d), 0.1), dtype), np.zeros(_shape(rng, (h,), 0.1), dtype)]
    calls = []
    if rng.random() < 0.1:
        calls.append(("backward", (_array(rng, (n, h)),), {}))
    for _ in range(rng.integers(1, 3)):
        calls.append(("forward", (_array(rng, (n, d)),), {}))
    for _ in range(rng.integers(0, 3)):
        calls.append(("backward", (_array(rng, (n, h)),),
                      {"need_input_grad": bool(rng.random() < 0.7)}))
    return "Dense", None, ctor, calls


def _activation_case(rng):
    name = list(ref_layers.ACTIVATION_LAYERS)[rng.integers(len(ref_layers.ACTIVATION_LAYERS))]
    n, m = (int(v) for v in rng.integers(1, 6, size=2))
    calls = []
    if rng.random() < 0.1:
        calls.append(("backward", (_array(rng, (n, m)),), {}))
    calls.append(("forward", (_array(rng, (n, m)),), {}))
    for _ in range(rng.integers(0, 3)):
        calls.append(("backward", (_array(rng, (n, m)),), {}))
    return "ACTIVATION_LAYERS", name, [], calls


def _head_case(rng):
    name = list(ref_layers.HEAD_LAYERS)[rng.integers(len(ref_layers.HEAD_LAYERS))]
    head = HEADS[name]
    n = int(rng.integers(1, 6))
    k = int(rng.integers(max(1, head.min_outputs - 1), 5))
    calls = []
    if rng.random() < 0.1:
        calls.append(("backward", (), {}))
    z = _array(rng, (n, k), scale=rng.choice([1.0, 3.0, 30.0]))
    truth = _truth(rng, head.truth, n, k)
    weights = _weights(rng, n)
    if weights is None and rng.random() < 0.5:
        calls.append(("forward", (z, truth), {}))
    elif rng.random() < 0.5:
        calls.append(("forward", (z, truth, weights), {}))
    else:
        calls.append(("forward", (z, truth), {"weights": weights}))
    if rng.random() < 0.8:
        calls.append(("backward", (), {}))
    return "HEAD_LAYERS", name, [], calls


def random_case(rng):
    r = rng.random()
    return (_dense_case if r < 0.35 else _activation_case if r < 0.6 else _head_case)(rng)


# -- running and comparing ---------------------------------------------------------------

def _snapshot(value, layer):
    if isinstance(value, np.ndarray):
        value = value.copy()
    extra = () if not hasattr(layer, "dW") else (layer.dW.copy(), layer.db.copy())
    return (value,) + extra


def run(module, case):
    """The outcome of a case on one implementation: a list with one entry per call made
    (('ok', results) or ('error', exception type)), stopping at the first error."""
    where, name, ctor, calls = copy.deepcopy(case)
    cls = module.Dense if where == "Dense" else getattr(module, where)[name]
    outcome = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            layer = cls(*ctor)
            outcome.append(("ok", ()))
            for method, args, kwargs in calls:
                outcome.append(("ok", _snapshot(getattr(layer, method)(*args, **kwargs), layer)))
        except Exception as exc:                 # noqa: BLE001 -- recorded and compared
            outcome.append(("error", type(exc)))
    return outcome


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        return np.allclose(a, b, rtol=2e-4, atol=1e-6, equal_nan=True)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    rtol, atol = _TOL[a.dtype]
    return np.allclose(a, b, rtol=rtol, atol=atol * max(1.0, np.nanmax(np.abs(
        np.where(np.isfinite(b), b, 0)), initial=0)), equal_nan=True)


def differs(case):
    """None if both implementations give the same outcome on `case`, else why not."""
    fast, ref = run(fast_layers, case), run(ref_layers, case)
    if len(fast) != len(ref) or any(f[0] != r[0] for f, r in zip(fast, ref)):
        return f"outcomes differ: compiled {fast[-1]}, reference {ref[-1]} at call {len(ref)}"
    for (kind, f), (_, r) in zip(fast, ref):
        if kind == "error":
            if f is not r:
                return f"exception types differ: compiled {f.__name__}, reference {r.__name__}"
            if f is not ValueError:
                return f"both raised {f.__name__}, expected ValueError"
        elif not all(_same(x, y) for x, y in zip(f, r)):
            return "results differ"
    return None


def fuzz(n_cases=N_CASES, seed=SEED):
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        cases = [random_case(rng) for _ in range(n_cases)]
    return cases, [(case, why) for case in cases if (why := differs(case)) is not None]


def test_layers_consistency():
    cases, bad = fuzz()
    n_calls = sum(1 + len(c[3]) for c in cases)
    assert n_calls > 3 * N_CASES // 2
    kinds = {(c[0], c[1]) for c in cases}
    assert kinds == ({("Dense", None)}
                     | {("ACTIVATION_LAYERS", a) for a in ref_layers.ACTIVATION_LAYERS}
                     | {("HEAD_LAYERS", h) for h in ref_layers.HEAD_LAYERS})
    shown = "\n".join(f"{c[0]} {c[1]}: {why}" for c, why in bad[:5])
    assert not bad, f"{len(bad)} of {len(cases)} cases differ, e.g.\n{shown}"


def test_errors_are_exercised():
    """The fuzz reaches both outcomes: errors (ValueError) and successes."""
    rng = np.random.default_rng(SEED)
    with np.errstate(all="ignore"):
        cases = [random_case(rng) for _ in range(500)]
    outcomes = [run(ref_layers, case)[-1][0] for case in cases]
    assert 0.2 < outcomes.count("error") / len(outcomes) < 0.8
