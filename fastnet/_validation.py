"""Input checks shared by fastnet and fastnet.reference.

Both implementations call these, so they raise the same exceptions with the same
messages. Every check names the argument and says what was expected.
"""
import math
import numbers

import numpy as np

SAMPLINGS = ("shuffle", "uniform")
DTYPES = ("float32", "float64")


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, choices))}")
    return value


def check_layer_sizes(layer_sizes):
    try:
        sizes = list(layer_sizes)
    except TypeError:
        raise ValueError(f"layer_sizes must be a list of positive integers, got {layer_sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least 2 entries [inputs, ..., outputs], got {sizes!r}")
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s <= 0:
            raise ValueError(f"layer_sizes must be positive integers, got {sizes!r}")
    return [int(s) for s in sizes]


def check_activations(activation, n_hidden, choices):
    """One activation name per hidden layer, each one of `choices`."""
    if isinstance(activation, str):
        return [check_choice("activation", activation, choices)] * n_hidden
    try:
        acts = list(activation)
    except TypeError:
        raise ValueError(f"unknown activation {activation!r}; expected one of "
                         f"{', '.join(map(repr, choices))} or a list of them") from None
    if len(acts) != n_hidden:
        raise ValueError(f"activation lists {len(acts)} entries, but the network has "
                         f"{n_hidden} hidden layers")
    return [check_choice("activation", a, choices) for a in acts]


def _shown(value, limit=60):
    """repr(value), shortened: a huge integer's digits (which Python may even refuse
    to print) are not worth an error message."""
    try:
        text = repr(value)
    except ValueError:          # an int beyond sys.get_int_max_str_digits()
        return f"an {type(value).__name__} too large to print"
    if len(text) > limit:
        text = f"{text[:limit // 2]}...({len(text)} characters)"
    return text


def check_dtype(dtype):
    """float32 or float64, by name or numpy dtype. None is refused: np.dtype(None) is
    float64, a silent choice (the scikit-learn estimators' dtype=None, "follow X", is
    resolved there before a model is made)."""
    expected = "expected 'float32' or 'float64'"
    if dtype is None:
        raise ValueError(f"dtype must be given: {expected}, got None")
    try:
        name = np.dtype(dtype).name
    except Exception:           # TypeError mostly; anything np.dtype cannot read
        name = None
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {_shown(dtype)}; {expected}")
    return np.dtype(name)


def check_seed(seed):
    """The model's own random generator from `seed`: None (fresh entropy), a
    non-negative integer (``numpy.random.default_rng(seed)``), or a numpy Generator,
    from which one draw seeds the model's generator: the caller's generator advances
    (two models made from it differ) but is never held by the model (training does not
    advance it, and the model's generator is always a PCG64 that save and pickle can
    restore)."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return np.random.default_rng(int(seed.integers(0, 2 ** 63)))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) \
            or seed < 0:
        raise ValueError(f"seed must be None, a non-negative integer or a "
                         f"numpy.random.Generator, got {_shown(seed)}")
    return np.random.default_rng(int(seed))


def _as_numeric_array(name, a):
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr


def _all_finite(arr):
    return bool(np.isfinite(arr).all())


def _check_finite(name, arr, all_finite=_all_finite):
    if arr.dtype.kind == "f" and not all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity")


def _converted_finite(name, arr, dtype, all_finite=_all_finite):
    """arr as a C-contiguous array of the float `dtype`, checked finite by
    `all_finite` (the same answer as numpy's isfinite(arr).all()). One check, of the
    converted array: NaN and infinity survive the conversion, and a value beyond the
    dtype's range (a float64 converted to float32) becomes infinite; integers convert
    to finite values. (A fit's data is read once here, not twice.)"""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f":
        _check_finite(name, out, all_finite)
    return out


def check_X(X, n_features, dtype, name="X", all_finite=_all_finite):
    """Return X as a C-contiguous (n, n_features) array of `dtype`. all_finite: the
    finiteness test (the compiled MLP passes a compiled one)."""
    arr = _as_numeric_array(name, X)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {arr.ndim}-D "
                         f"with shape {arr.shape}; reshape a single sample with x.reshape(1, -1)")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but the network expects "
                         f"{n_features} (layer_sizes[0])")
    return _converted_finite(name, arr, dtype, all_finite)


def _x_name(y_name):
    """The name of the X that goes with the truth named `y_name` ("validation_data
    X" for "validation_data y"): a length mismatch names both arrays."""
    return y_name[:-1] + "X" if y_name.endswith("y") else "X"


def check_labels(y, n, k, name="y"):
    """Class labels 0..k-1 (integers, or one-hot rows) as a C-contiguous intp array."""
    arr = _as_numeric_array(name, y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        if arr.shape[1] != k:
            raise ValueError(f"{name} has one-hot rows of width {arr.shape[1]}, but the "
                             f"network has {k} classes")
        ok = np.isin(arr, (0, 1)).all() and (arr.sum(axis=1) == 1).all()
        if not ok:
            raise ValueError(f"{name} is 2-D but its rows are not one-hot (a single 1, "
                             f"zeros elsewhere)")
        labels = np.argmax(arr, axis=1)
    elif arr.ndim == 1:
        _check_finite(name, arr)
        if arr.dtype.kind == "f" and not (arr == np.round(arr)).all():
            raise ValueError(f"{name} holds non-integer class labels; expected integers "
                             f"0..{k - 1}")
        if arr.size and (arr.min() < 0 or arr.max() > k - 1):
            raise ValueError(f"{name} has labels outside 0..{k - 1} (found "
                             f"{arr.min():g}..{arr.max():g})")
        labels = arr
    else:
        raise ValueError(f"{name} must be 1-D labels or 2-D one-hot rows, got shape {arr.shape}")
    if labels.shape[0] != n:
        raise ValueError(f"{_x_name(name)} has {n} samples but {name} has {labels.shape[0]}")
    return np.ascontiguousarray(labels, dtype=np.intp)


def check_targets(y, n, k, dtype, name="y"):
    """Regression targets as a C-contiguous (n, k) array of `dtype`."""
    arr = _as_numeric_array(name, y)
    if arr.ndim == 1 and k == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != k:
        raise ValueError(f"{name} must have shape (n_samples, {k})"
                         f"{' or (n_samples,)' if k == 1 else ''}, got {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{_x_name(name)} has {n} samples but {name} has {arr.shape[0]}")
    return _converted_finite(name, arr, dtype)


def check_indicators(y, n, k, dtype, name="y"):
    """0/1 indicators (or probabilities in [0, 1]) as a C-contiguous (n, k) array of
    dtype: one column for a binary problem, k for k labels (multilabel)."""
    out = check_targets(y, n, k, dtype, name)
    if ((out < 0) | (out > 1)).any():
        raise ValueError(f"{name} must hold 0/1 indicators (or probabilities in [0, 1]), "
                         f"one column per output unit; found values outside [0, 1]")
    return out


def check_counts(y, n, k, dtype, name="y"):
    """Non-negative finite values (counts, or rates: a Poisson loss's targets) as a
    C-contiguous (n, k) array of dtype."""
    arr = _as_numeric_array(name, y)
    expected = (f"{name} must hold non-negative finite values (counts or rates, the "
                f"targets of a Poisson loss)")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{expected}; found NaN or infinity")
    if (arr < 0).any():
        raise ValueError(f"{expected}; found negative values (as low as {arr.min():g})")
    return check_targets(arr, n, k, dtype, name)


def check_positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {_shown(value)}")
    return int(value)


def check_real(name, value, low, high=np.inf, low_open=False, high_open=False):
    """A real number in [low, high] (bounds excluded where *_open)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {_shown(value)}")
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):   # 10**400: no float holds it
        v = math.nan
    bad = (not math.isfinite(v) or v < low or v > high or (low_open and v == low)
           or (high_open and v == high))
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open or high == np.inf else "]"
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {_shown(value)}")
    return v


def check_sample_weight(w, n, dtype, name="sample_weight"):
    """Non-negative, finite weights, one per sample, as a C-contiguous array of dtype."""
    arr = _as_numeric_array(name, w)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), one weight per sample, got "
                         f"{arr.shape}")
    _check_finite(name, arr)
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    _check_finite(name, out)
    return out


# Update counts reach the compiled code as a signed 64-bit integer; far below any
# count a model can reach by training, far above where the C arithmetic would wrap.
MAX_UPDATES = 2 ** 62


def check_update_count(name, value):
    """A model's update count: an integer in [0, 2**62)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or not 0 <= value < MAX_UPDATES:
        raise ValueError(f"{name} must be an integer count in [0, 2**62), got {_shown(value)}")
    return int(value)


# ---------------------------------------------------------------------------------
# The layers API (fastnet.layers, fastnet.reference.layers): both run these checks.
# Values flowing between layers (x, z, gradients) may be non-finite: a diverging
# network's forward pass carries them to the loss, which reports the divergence.
# ---------------------------------------------------------------------------------

_FLOAT_DTYPES = frozenset(np.dtype(d) for d in DTYPES)


def check_layer_input(name, a, width=None, dtype=None):
    """A batch (n, m), n, m >= 1 (m == width when given), as a C-contiguous array of
    `dtype`; dtype None keeps float32 and float64 and turns anything else into
    float64."""
    if (type(a) is np.ndarray and a.ndim == 2 and a.dtype in _FLOAT_DTYPES and a.size
            and (dtype is None or a.dtype == dtype) and (width is None or a.shape[1] == width)
            and a.flags.c_contiguous):
        return a                # already what the kernels take (the network's case)
    arr = _as_numeric_array(name, a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_units), got {arr.ndim}-D "
                         f"with shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} has {arr.shape[1]} columns, expected {width}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in _FLOAT_DTYPES else np.float64
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(arr, dtype=dtype)


def check_layer_gradient(name, a, shape, dtype):
    """A gradient of exactly `shape` as a C-contiguous array of `dtype`."""
    if (type(a) is np.ndarray and a.dtype == dtype and a.shape == tuple(shape)
            and a.flags.c_contiguous):
        return a
    arr = _as_numeric_array(name, a)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(shape)} (the "
                         f"shape of the last forward's output)")
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(arr, dtype=dtype)


def check_layer_parameter(name, a, shape, dtype=None, writable=False):
    """A parameter (or gradient accumulator) array used in place: a C-contiguous
    float32/float64 ndarray (of `dtype`, when given) of `shape` (None entries: any
    size >= 1), writable when `writable`."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array (it is used in place), got "
                         f"{type(a).__name__}")
    if a.dtype not in _FLOAT_DTYPES or (dtype is not None and a.dtype != dtype):
        expected = f"{np.dtype(dtype).name}" if dtype is not None else "float32 or float64"
        raise ValueError(f"{name} has dtype {a.dtype}, expected {expected}")
    if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
        want = tuple("any" if s is None else s for s in shape)
        raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is used in place)")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")
    return a


def check_forward_done(layer, saved):
    """backward needs what the last forward saved."""
    if saved is None:
        raise ValueError(f"{type(layer).__name__}.backward called before forward")
