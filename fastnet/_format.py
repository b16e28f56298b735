"""The model file format: an .npz archive (no pickle) with a JSON ``meta`` entry,
the flat ``params`` buffer and one entry per optimizer state buffer (``velocity``
for SGD). Version 1 is the format of fastnet 0.1; files without an ``optimizer``
entry in meta are SGD's.

Pickles (``pickled_state`` / ``restore_pickled``) carry the same state, without the
model's lock and workspaces, which are remade on the other side.

``load`` validates everything before it builds the model: a damaged or hostile file
raises ValueError and never yields a broken model; ``save`` writes only what ``load``
accepts.
"""
import json
import zipfile

import numpy as np

from fastnet import _validation as check
from fastnet._guards import ModelLock
from fastnet.components import HEADS, OPTIMIZERS

FORMAT_NAME = "fastnet-mlp"
FORMAT_VERSION = 1


def save(net, path):
    """Write `net` (either implementation) to `path`."""
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "layer_sizes": net.layer_sizes,
        "activation": net.activation,
        "output": net.output,
        "dtype": net.dtype.name,
        "optimizer": net._optimizer.name,
        "updates": int(net._updates),
        "rng_state": net._rng.bit_generator.state,
    }
    arrays = {"params": net._params, **net._state}
    for name, arr in arrays.items():
        if not np.isfinite(arr).all():
            raise ValueError(f"cannot save a model whose {name} hold NaN or infinity "
                             f"(load would refuse the file)")
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load(cls, path):
    """A model of class `cls` read from `path`, or ValueError saying what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"][()]))
            arrays = {name: np.array(archive[name]) for name in archive.files if name != "meta"}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path!r} is not a readable fastnet model file: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{path!r} is not a fastnet model file")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {meta.get('version')!r}; this "
                         f"fastnet reads version {FORMAT_VERSION}")
    # Everything is checked before the model is built: never a broken model.
    try:
        net = cls(meta["layer_sizes"], meta["activation"], meta["output"], meta["dtype"])
        optimizer = OPTIMIZERS.lookup(meta.get("optimizer", "sgd"))
        updates = check.check_update_count("updates", meta["updates"])
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng_state"]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{path!r} has invalid metadata: {exc}") from None
    expected = (net._params.size,)
    for name in ("params",) + optimizer.state:
        if name not in arrays:
            raise ValueError(f"{path!r} has no {name!r} array")
        arr = arrays[name]
        if arr.shape != expected or arr.dtype != net.dtype:
            raise ValueError(f"{path!r}: {name} has shape {arr.shape} and dtype {arr.dtype}, "
                             f"but layer_sizes {net.layer_sizes} in {net.dtype.name} need "
                             f"{expected}")
        _check_values(arr, name, optimizer, f"{path!r}: {name}")
    net._rng = rng
    net._optimizer = optimizer
    net._set_state(np.ascontiguousarray(arrays["params"]),
                   {name: np.ascontiguousarray(arrays[name]) for name in optimizer.state},
                   updates)
    return net


def pickled_state(net):
    """The model's state for pickle and copy (joblib, multiprocessing)."""
    return {"sizes": net._sizes, "activations": net._activations,
            "output": net._head.name, "dtype": net._dtype.name,
            "optimizer": net._optimizer.name,
            "rng": net._rng.bit_generator.state, "params": net._params.copy(),
            "state": {k: v.copy() for k, v in net._state.items()},
            "updates": net._updates}


def restore_pickled(net, state):
    """Rebuild a model (made without __init__) from pickled_state's dict (or from the
    dict of fastnet 0.1, whose only optimizer state was "velocity")."""
    net._sizes = list(state["sizes"])
    net._activations = list(state["activations"])
    net._head = HEADS[state["output"]]
    net._dtype = np.dtype(state["dtype"])
    net._optimizer = OPTIMIZERS[state.get("optimizer", "sgd")]
    net._guard = ModelLock()
    net._rng = np.random.default_rng()
    net._rng.bit_generator.state = state["rng"]
    buffers = state["state"] if "state" in state else {"velocity": state["velocity"]}
    # own, writable copies (the pickled arrays may come back read-only or mapped)
    net._set_state(np.array(state["params"], order="C", copy=True),
                   {k: np.array(v, order="C", copy=True) for k, v in buffers.items()},
                   state["updates"])


def checked_state(net, state):
    """(arrays by name, update count) of a state_dict for `net`, converted to its
    dtype and checked (shapes, finite values, the count): ValueError otherwise."""
    arrays = {}
    for name in ("params",) + net._optimizer.state:
        if name not in state:
            raise ValueError(f"state has no {name!r} entry")
        if np.iscomplexobj(state[name]):
            raise ValueError(f"state[{name!r}] is complex; expected real numbers")
        try:
            with np.errstate(over="ignore"):
                arrays[name] = np.asarray(state[name], dtype=net.dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"state[{name!r}] is not numeric: {exc}") from None
        if arrays[name].shape != net._params.shape:
            raise ValueError(f"state[{name!r}] has shape {arrays[name].shape}, expected "
                             f"{net._params.shape}")
        _check_values(arrays[name], name, net._optimizer,
                      f"state[{name!r}] (in {net.dtype.name})")
    updates = check.check_update_count("state['updates']", state.get("updates", net._updates))
    return arrays, updates


def _check_values(arr, name, optimizer, label):
    """The values a buffer (params or an optimizer state) may hold: finite, and
    non-negative for the buffers the optimizer declares so (Adam's second moment)."""
    if not np.isfinite(arr).all():
        raise ValueError(f"{label} holds NaN or infinity")
    if name in optimizer.nonnegative and (arr < 0).any():
        raise ValueError(f"{label} holds negative values")
