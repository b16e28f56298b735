"""Property tests (hypothesis) over shapes, dtypes, memory orders and values for every
public entry point, on both implementations: a correct result or a documented
exception (ValueError), never a crash or anything else."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnet
import fastnet.reference
from fastnet.components import ACTIVATIONS, HEADS

from conftest import assert_close

IMPLS = [fastnet, fastnet.reference]
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.uint8, np.bool_,
                          np.float16])
values = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def arrays(draw, max_rows=6, max_cols=5):
    """Arrays of many dtypes, ndim 0..3, in C order, Fortran order, or strided."""
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, max(max_rows, max_cols)), min_size=ndim,
                                max_size=ndim)))
    dtype = draw(dtypes)
    elements = values if np.dtype(dtype).kind == "f" else None
    a = draw(hnp.arrays(dtype, shape, elements=elements))
    layout = draw(st.sampled_from(["C", "F", "strided", "readonly"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    return a


@st.composite
def good_X(draw, d):
    rows = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int32]))
    elements = st.floats(-1e3, 1e3, width=32) if np.dtype(dtype).kind == "f" else st.integers(-50, 50)
    a = draw(hnp.arrays(dtype, (rows, d), elements=elements))
    return np.asfortranarray(a) if draw(st.booleans()) else a


NET_ARGS = dict(layer_sizes=[3, 4, 3], activation="tanh", seed=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("impl", IMPLS, ids=["fastnet", "reference"])
@SETTINGS
@given(X=st.one_of(arrays(), good_X(3)))
def test_inference_entry_points_on_anything(impl, X):
    net = impl.MLP(**NET_ARGS)
    for call in (net.forward, net.predict, net.predict_proba):
        try:
            out = call(X)
        except ValueError:
            continue
        assert X.ndim == 2 and X.shape[1] == 3 and X.shape[0] > 0
        assert np.all(np.isfinite(out))
        assert out.shape[0] == X.shape[0]


@st.composite
def labels(draw):
    """Mostly plausible targets: integer labels (some out of range), floats, one-hot."""
    n = draw(st.integers(0, 7))
    kind = draw(st.sampled_from(["int", "float", "onehot"]))
    if kind == "int":
        return np.array(draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n)))
    if kind == "float":
        return draw(hnp.arrays(np.float64, (n,), elements=values))
    return np.eye(3)[draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("impl", IMPLS, ids=["fastnet", "reference"])
@SETTINGS
@given(X=st.one_of(arrays(), good_X(3)), y=st.one_of(arrays(), labels()), kwargs=st.fixed_dictionaries({}, optional={
    "epochs": st.one_of(st.integers(-2, 3), st.floats(0, 3), st.none()),
    "batch_size": st.one_of(st.integers(-2, 9), st.floats(0, 3), st.text(max_size=2)),
    "learning_rate": st.one_of(st.floats(-1, 1), st.just(float("nan")), st.integers(-1, 1)),
    "momentum": st.floats(-0.5, 1.5),
    "l2": st.floats(-1, 1),
    "lr_decay": st.floats(-1, 1),
    "sampling": st.sampled_from(["shuffle", "uniform", "other"]),
}))
def test_training_entry_points_on_anything(impl, X, y, kwargs):
    net = impl.MLP(**NET_ARGS)
    before = net.parameters.copy()
    for call in (net.loss, net.gradients, net.score):
        try:
            call(X, y)
        except ValueError:
            pass
    try:
        net.fit(X, y, **kwargs)
    except ValueError:
        np.testing.assert_array_equal(net.parameters, before)   # a refused fit changes nothing
    except FloatingPointError:
        assert np.isfinite(net.parameters).all()
    assert np.isfinite(net.parameters).all()


@pytest.mark.parametrize("output", HEADS.names)
@SETTINGS
@given(data=st.data())
def test_valid_input_gives_identical_results_in_any_layout(output, data):
    X = data.draw(good_X(3))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    net = fastnet.MLP([3, 4, 3], "relu", output, dtype=dtype, seed=1)
    clean = np.ascontiguousarray(X, dtype=dtype)
    expected = net.forward(clean)
    np.testing.assert_array_equal(net.forward(X), expected)
    np.testing.assert_array_equal(net.forward(X.tolist()), expected)
    broadcast = np.broadcast_to(clean[:1], clean.shape)       # zero-stride rows
    np.testing.assert_array_equal(net.forward(broadcast), np.repeat(expected[:1], len(X), axis=0))
    ref = fastnet.reference.MLP([3, 4, 3], "relu", output, dtype=dtype, seed=1)
    assert_close(ref.forward(X), expected, "network", dtype)


@SETTINGS
@given(sizes=st.lists(st.one_of(st.integers(-3, 6), st.floats(-1, 5), st.text(max_size=1),
                                st.none()), max_size=5),
       activation=st.one_of(st.sampled_from(ACTIVATIONS.names + ("gelu", "")),
                            st.lists(st.sampled_from(ACTIVATIONS.names + ("x",)), max_size=4),
                            st.integers()),
       output=st.sampled_from(HEADS.names + ("hinge", None)),
       dtype=st.sampled_from(["float32", "float64", "float16", "int8", None, 3]))
def test_constructor_on_anything(sizes, activation, output, dtype):
    for impl in IMPLS:
        try:
            net = impl.MLP(sizes, activation=activation, output=output, dtype=dtype, seed=0)
        except ValueError:
            continue
        assert net.layer_sizes == sizes and all(isinstance(s, int) and s > 0 for s in sizes)


def test_memory_mapped_input(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 3))
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    for impl in IMPLS:
        net = impl.MLP(**NET_ARGS)
        np.testing.assert_array_equal(net.forward(mm), net.forward(X))
        history = net.fit(mm, np.arange(20) % 3, epochs=1)
        assert np.isfinite(history["loss"]).all()
