"""The model file format: an .npz archive (no pickle) with a JSON ``meta`` entry and
the parameters and optimizer state as arrays, readable with ``numpy.load`` alone.

Version 2 (written since issue 14) stores named per-layer arrays, PyTorch's names
and layout: ``layers.{l}.weight`` (out, in) and ``layers.{l}.bias`` (out,) for each
layer l, then the same for each optimizer state buffer, prefixed by its name
(``velocity.layers.0.weight``, ... for SGD; ``m.`` and ``v.`` for Adam). Version 1
(fastnet 0.1) stored the flat buffers whole (``params``, ``velocity``, ...; see
fastnet/_params.py for the layout); it still loads. Files without an ``optimizer``
entry in meta are SGD's.

Pickles (``pickled_state`` / ``restore_pickled``) carry the same state, without the
model's lock and workspaces, which are remade on the other side.

``load`` validates everything before it builds the model: a damaged or hostile file
raises ValueError naming the file and never yields a broken model; ``save`` writes only
what ``load`` accepts. The zip directory, the metadata (size-capped) and each entry's
.npy header are checked against each other and the machine before any array is
allocated or inflated, so a small file cannot cost much time or memory.
"""
import json
import struct
import zipfile
import zlib

import numpy as np

from fastnet import _validation as check
from fastnet._guards import ModelLock, check_training_memory
from fastnet._params import aligned, n_params, param_layout
from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS

FORMAT_NAME = "fastnet-mlp"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)


def entries(sizes, buffers, version=FORMAT_VERSION):
    """The arrays a file of `version` holds for a network of layer sizes `sizes` with
    flat buffers `buffers` ("params" first, then the optimizer's state): a list of
    (entry name, buffer name, offset into the flat buffer, shape)."""
    if version == 1:
        total = n_params(sizes)
        return [(name, name, 0, (total,)) for name in buffers]
    w_off, b_off, _, _ = param_layout(sizes)
    out = []
    for name in buffers:
        prefix = "" if name == "params" else name + "."
        for l in range(len(sizes) - 1):
            out.append((f"{prefix}layers.{l}.weight", name, int(w_off[l]),
                        (sizes[l + 1], sizes[l])))
            out.append((f"{prefix}layers.{l}.bias", name, int(b_off[l]), (sizes[l + 1],)))
    return out


def save(net, path, version=FORMAT_VERSION):
    """Write `net` (either implementation) to `path` (`version`: 2, or 1 for files
    that fastnet 0.1 reads)."""
    if version not in READ_VERSIONS:
        raise ValueError(f"version must be one of {READ_VERSIONS}, got {version!r}")
    meta = {
        "format": FORMAT_NAME,
        "version": version,
        "layer_sizes": net.layer_sizes,
        "activation": net.activation,
        "output": net.output,
        "dtype": net.dtype.name,
        "optimizer": net._optimizer.name,
        "updates": int(net._updates),
        "rng_state": net._rng.bit_generator.state,
    }
    buffers = {"params": net._params, **net._state}
    for name, arr in buffers.items():
        if not np.isfinite(arr).all():
            raise ValueError(f"cannot save a model whose {name} hold NaN or infinity "
                             f"(load would refuse the file)")
    arrays = {entry: buffers[buf][off:off + int(np.prod(shape))].reshape(shape)
              for entry, buf, off, shape in entries(net._sizes, buffers, version)}
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load(cls, path):
    """A model of class `cls` read from `path`, or ValueError saying what is wrong.

    Cheap on hostile files: the zip directory, the JSON metadata (read with a size
    cap) and each array's .npy header are checked against each other and against
    this machine before any array is allocated or decompressed, so a small file
    cannot make load allocate or inflate much more than the model it describes."""
    label = repr(path)
    if hasattr(path, "read"):
        return _load_from(cls, path, label)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise
    except (OSError, TypeError, ValueError) as exc:
        raise ValueError(f"{label} is not a readable fastnet model file: {exc}") from None
    with f:
        return _load_from(cls, f, label)


# Caps on what a file may ask load to read or inflate before the checks that need it.
MAX_META_BYTES = 1 << 20      # the JSON metadata (a few hundred bytes in practice)
MAX_HEADER_BYTES = 10000      # an .npy header (numpy's own default cap)
MAX_DEFLATE_RATIO = 16        # a deflated array may inflate to 16x its compressed size
_CHUNK = 1 << 24              # arrays are inflated into their buffer 16 MiB at a time


class _Bad(Exception):
    """A damaged or hostile file; load turns it into ValueError naming the file."""


def _load_from(cls, f, label):
    try:
        try:
            size = f.seek(0, 2)
            f.seek(0)
            archive = zipfile.ZipFile(f)
        except Exception as exc:  # zipfile raises many kinds on damaged directories
            raise _Bad(f"is not a readable fastnet model file: {type(exc).__name__}: "
                       f"{exc}") from None
        with archive:
            members = _members(archive, size)
            meta = _read_meta(archive, members)
            spec = _check_meta(meta, members)
            headers = {entry: _array_header(archive, members[entry + ".npy"], entry, shape,
                                            spec)
                       for entry, _, _, shape in spec["entries"]}
            try:
                check_training_memory(spec["n"], spec["dtype"], spec["optimizer"],
                                      f"layer_sizes {spec['sizes']}")
            except MemoryError as exc:
                raise _Bad(f"describes a model this machine cannot hold: {exc}") from None
            # the flat buffers, each entry read straight into its place
            arrays = {name: np.empty(spec["n"], dtype=spec["dtype"])
                      for name in spec["buffers"]}
            for entry, buf, off, shape in spec["entries"]:
                _read_array(archive, members[entry + ".npy"], entry, shape,
                            arrays[buf][off:off + int(np.prod(shape))], headers[entry])
    except _Bad as exc:
        message = str(exc)
        raise ValueError(label + ("" if message.startswith(":") else " ") + message) from None
    except (ValueError, KeyError, EOFError, OSError, RuntimeError, NotImplementedError,
            OverflowError, TypeError, struct.error, zlib.error, MemoryError,
            zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        # a damaged member found while inflating (bad CRC, truncated stream, ...)
        raise ValueError(f"{label} is not a readable fastnet model file: "
                         f"{type(exc).__name__}: {exc}") from None
    for name, arr in arrays.items():
        _check_values(arr, name, spec["optimizer"], f"{label}: {name}")
    # Everything is checked before the model is built: never a broken model.
    net = cls(spec["sizes"], spec["activations"], spec["output"], spec["dtype"])
    net._rng = spec["rng"]
    net._optimizer = spec["optimizer"]
    net._set_state(arrays["params"], {name: arrays[name] for name in spec["optimizer"].state},
                   spec["updates"])
    return net


def _members(archive, size):
    """{name: ZipInfo} of the archive, each checked against the file's real size
    (nothing is read or inflated here)."""
    members = {}
    for info in archive.infolist():
        name = info.filename
        if name in members:
            raise _Bad(f"is damaged: the archive lists {name!r} twice")
        if info.flag_bits & 0x1:
            raise _Bad(f"is not a readable fastnet model file: {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Bad(f"is not a readable fastnet model file: {name!r} uses zip "
                       f"compression method {info.compress_type}; fastnet reads stored "
                       f"or deflated entries")
        if info.header_offset < 0 or info.compress_size < 0 \
                or info.header_offset + info.compress_size > size:
            raise _Bad(f"is truncated or damaged: {name!r} claims "
                       f"{info.compress_size} bytes at offset {info.header_offset}, "
                       f"beyond the file's {size} bytes")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _Bad(f"is damaged: the stored entry {name!r} claims {info.file_size} "
                       f"bytes but holds {info.compress_size}")
        if info.file_size > max(MAX_DEFLATE_RATIO * info.compress_size, 1 << 20):
            raise _Bad(f"is refused: {name!r} would inflate {info.compress_size} bytes to "
                       f"{info.file_size} (more than {MAX_DEFLATE_RATIO}:1, a possible "
                       f"decompression bomb; fastnet's save writes uncompressed files)")
        members[name] = info
    return members


def _open_npy(archive, info, name, max_header=MAX_HEADER_BYTES):
    """(open member, shape, fortran_order, dtype, header length) from the .npy header
    alone (at most a few KiB are inflated)."""
    fp = None
    try:
        fp = archive.open(info)
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, max_header)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, max_header)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except Exception as exc:
        if fp is not None:
            fp.close()
        raise _Bad(f"is not a readable fastnet model file: the {name} entry has no valid "
                   f".npy header ({type(exc).__name__}: {exc})") from None
    return fp, shape, fortran, dtype, fp.tell()


def _read_exactly(fp, out, name):
    """Fill the bytes of `out` from fp, in chunks, and check the entry ends there."""
    view = memoryview(out).cast("B")
    pos = 0
    while pos < len(view):
        chunk = fp.read(min(_CHUNK, len(view) - pos))
        if not chunk:
            raise _Bad(f"is truncated: the {name} entry ends after {pos} of "
                       f"{len(view)} data bytes")
        view[pos:pos + len(chunk)] = chunk
        pos += len(chunk)
    if fp.read(1):
        raise _Bad(f"is damaged: the {name} entry holds more than its declared data")


def _read_meta(archive, members):
    info = members.get("meta.npy")
    if info is None:
        raise _Bad("is not a readable fastnet model file: it has no meta entry")
    if info.file_size > MAX_META_BYTES + MAX_HEADER_BYTES:
        raise _Bad(f"has invalid metadata: the meta entry declares {info.file_size} bytes "
                   f"(at most {MAX_META_BYTES} are read)")
    fp, shape, _, dtype, start = _open_npy(archive, info, "meta")
    with fp:
        if shape != () or dtype.kind != "U" or dtype.itemsize > MAX_META_BYTES \
                or info.file_size != start + dtype.itemsize:
            raise _Bad(f"has invalid metadata: the meta entry is {dtype} of shape {shape} "
                       f"in {info.file_size} bytes, not one JSON string")
        raw = bytearray(dtype.itemsize)
        _read_exactly(fp, raw, "meta")
    try:
        meta = json.loads(str(np.frombuffer(bytes(raw), dtype=dtype)[0]))
    except (ValueError, RecursionError, UnicodeError, MemoryError) as exc:
        raise _Bad(f"has invalid metadata: not JSON ({type(exc).__name__}: "
                   f"{str(exc)[:200]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise _Bad("is not a fastnet model file")
    version = meta.get("version")
    if type(version) is not int or version not in READ_VERSIONS:
        raise _Bad(f"has format version {_short(version)}; this fastnet reads versions "
                   f"{', '.join(map(str, READ_VERSIONS))}")
    return meta


def _short(value, limit=200):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_meta(meta, members):
    """The model the metadata describes, every field checked (nothing allocated)."""
    try:
        sizes = check.check_layer_sizes(_typed(meta, "layer_sizes", list))
        activations = check.check_activations(meta["activation"], len(sizes) - 2,
                                              ACTIVATIONS.names)
        head = HEADS.lookup(_typed(meta, "output", str))
        head.check_outputs(sizes[-1])
        dtype = _typed(meta, "dtype", str)
        if dtype not in check.DTYPES:
            raise ValueError(f"unknown dtype {_short(dtype)}; expected 'float32' or 'float64'")
        dtype = np.dtype(dtype)
        optimizer = OPTIMIZERS.lookup(meta.get("optimizer", "sgd"))
        updates = check.check_update_count("updates", meta["updates"])
        rng = _checked_rng(meta["rng_state"])
    except KeyError as exc:
        raise _Bad(f"has invalid metadata: no {exc} entry") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Bad(f"has invalid metadata: {str(exc)[:400]}") from None
    buffers = ("params",) + optimizer.state
    expected = entries(sizes, buffers, meta["version"])
    for entry, _, _, _ in expected:
        if entry + ".npy" not in members:
            raise _Bad(f"has no {entry!r} array")
    extra = sorted(set(members) - {"meta.npy"} - {e[0] + ".npy" for e in expected})
    if extra:
        raise _Bad(f"holds entries a {optimizer.name} model of layer_sizes {sizes} does "
                   f"not have: {_short(extra)}")
    return dict(sizes=sizes, activations=activations, output=head.name, dtype=dtype,
                optimizer=optimizer, updates=updates, rng=rng, buffers=buffers,
                entries=expected, n=n_params(sizes))


def _typed(meta, key, kind):
    value = meta[key]
    if not isinstance(value, kind):
        raise ValueError(f"{key} must be a {kind.__name__}, got {_short(value)}")
    return value


def _checked_rng(state):
    """A generator in the saved state; the state's integers are range-checked first
    (numpy raises OverflowError, or silently wraps, on others)."""
    def integer(value, bits, what):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** bits:
            raise ValueError(f"rng_state {what} must be an integer in [0, 2**{bits}), "
                             f"got {_short(value)}")
    rng = np.random.default_rng(0)
    if not isinstance(state, dict) or state.get("bit_generator") != rng.bit_generator.state[
            "bit_generator"] or set(state) != {"bit_generator", "state", "has_uint32",
                                               "uinteger"}:
        raise ValueError(f"rng_state is not a {rng.bit_generator.state['bit_generator']} "
                         f"state: {_short(state)}")
    inner = state["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        raise ValueError(f"rng_state's state must hold 'state' and 'inc', got {_short(inner)}")
    integer(inner["state"], 128, "state")
    integer(inner["inc"], 128, "inc")
    integer(state["has_uint32"], 1, "has_uint32")
    integer(state["uinteger"], 32, "uinteger")
    rng.bit_generator.state = state
    return rng


def _array_header(archive, info, name, want_shape, spec):
    """Check an array entry's declared .npy header and size against the metadata
    (inflates only the header). Returns (data offset, fortran order)."""
    fp, shape, fortran, dtype, start = _open_npy(archive, info, name)
    fp.close()
    want = spec["dtype"]
    if shape != want_shape or dtype != want:
        raise _Bad(f": {name} has shape {shape} and dtype {dtype}, but layer_sizes "
                   f"{spec['sizes']} in {want.name} need {want_shape}")
    nbytes = int(np.prod(want_shape)) * want.itemsize
    if info.file_size != start + nbytes:
        raise _Bad(f"is damaged: the {name} entry declares {info.file_size} bytes, but "
                   f"its header says {start} + {nbytes}")
    return start, bool(fortran)


def _read_array(archive, info, name, shape, out, header):
    """Read the entry into `out` (a slice of a flat buffer) in row-major order."""
    start, fortran = header
    with archive.open(info) as fp:
        fp.read(start)
        if fortran and len(shape) == 2:
            # a column-major (out, in) matrix, e.g. numpy.save of a transposed array:
            # its bytes are the row-major (in, out) transpose (one layer's copy)
            tmp = np.empty(shape[::-1], dtype=out.dtype)
            _read_exactly(fp, tmp, name)
            out.reshape(shape)[...] = tmp.T
        else:
            _read_exactly(fp, out, name)


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
    net._set_state(aligned(np.asarray(state["params"]), copy=True),
                   {k: aligned(np.asarray(v), copy=True) for k, v in buffers.items()},
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
        except OverflowError:   # a Python int beyond any float (10**400)
            raise ValueError(f"state[{name!r}] holds a number too large for "
                             f"{net.dtype.name}; expected finite values") from None
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
