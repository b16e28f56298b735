"""ONNX export (issue 14): MLP.export_onnx for every registered activation and head in
both dtypes, run by onnxruntime against forward; the scikit-learn estimators'
export_onnx and the skl2onnx converter (alone and in a Pipeline) against predict and
predict_proba."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnet
from fastnet import _onnx
from fastnet.components import ACTIVATIONS, HEADS

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

# onnxruntime against fastnet, relative to the largest output: the same operations in
# the model's dtype, summed in other orders (issue 14: float32 to ~1e-6).
RTOL = {"float32": 2e-6, "float64": 1e-13}


def _run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds), session


def _close(actual, expected, dtype):
    expected = np.asarray(expected, dtype=np.float64)
    err = np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected))
    assert err <= RTOL[np.dtype(dtype).name] * np.max(np.abs(expected)), err


def _net(impl, head, dtype, activation):
    k = max(HEADS[head].min_outputs, 3)
    net = impl.MLP([4, 6, 5, 3, k], activation=activation, output=head, dtype=dtype, seed=2)
    # non-zero biases, so that a dropped bias or a transposed weight shows
    for b in net.biases:
        b[...] = np.linspace(-0.5, 0.5, b.size)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head", HEADS.names)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_forward_in_onnxruntime(tmp_path, impl, head, dtype, activation):
    net = _net(impl, head, dtype, [activation, activation, ACTIVATIONS.names[0]])
    path = tmp_path / "m.onnx"
    model = net.export_onnx(path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert model.opset_import[0].version == _onnx.DEFAULT_OPSET
    X = np.random.default_rng(0).standard_normal((9, 4)) * 2
    for rows in (X, X[:1]):                       # any batch size: the dimension is symbolic
        (Y,), session = _run(onnx.load(path), {"X": rows.astype(dtype)})
        assert Y.dtype == np.dtype(dtype) and Y.shape == (len(rows), net.layer_sizes[-1])
        _close(Y, net.forward(rows), dtype)
    assert session.get_inputs()[0].shape[0] == "N"


def test_layers_named_and_every_opset(impl):
    net = _net(impl, "softmax", "float64", "tanh")
    for opset in range(_onnx.MIN_OPSET, onnx.defs.onnx_opset_version() + 1):
        model = net.export_onnx(opset_version=opset)
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        np.testing.assert_array_equal(inits["layers.0.weight"], net.weights[0])
        np.testing.assert_array_equal(inits["layers.3.bias"], net.biases[3])
        if opset <= 21:                           # what this onnxruntime runs, at least
            (Y,), _ = _run(model, {"X": np.ones((2, 4))})
            _close(Y, net.forward(np.ones((2, 4))), "float64")
    for bad in (12, onnx.defs.onnx_opset_version() + 1, 17.0, "17", True):
        with pytest.raises(ValueError, match="opset_version"):
            net.export_onnx(opset_version=bad)


def test_every_component_translated():
    """A component registered without its ONNX operator fails here, not in a user's
    export."""
    assert set(_onnx.ACTIVATION_OPS) == set(ACTIVATIONS)
    assert set(_onnx.HEAD_OPS) == set(HEADS)


# -- the scikit-learn estimators ---------------------------------------------------

fs = pytest.importorskip("fastnet.sklearn")


def _classifiers():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    return X, {
        "multiclass": np.arange(60) % 3,
        "binary_strings": np.array(["no", "yes"])[np.arange(60) % 2],
        "int_labels": np.array([-4, 10, 7])[np.arange(60) % 3],
        "multilabel": rng.integers(0, 2, (60, 3)),
    }


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(_classifiers()[1]))
def test_classifier_export_onnx(kind, dtype):
    X, ys = _classifiers()
    est = fs.MLPClassifier((7, 4), activation="tanh", max_iter=30, dtype=dtype,
                           random_state=0).fit(X, ys[kind])
    (label, proba), session = _run(est.export_onnx(), {"X": X.astype(dtype)})
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    np.testing.assert_array_equal(label.astype(est.classes_.dtype), est.predict(X))
    _close(proba, est.predict_proba(X), dtype)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,standardize", [("squared_error", False),
                                              ("squared_error", True), ("poisson", False)])
def test_regressor_export_onnx(loss, standardize, dtype):
    X = np.random.default_rng(1).standard_normal((50, 4))
    y = np.abs(X[:, :2] * 3 + 1)
    est = fs.MLPRegressor(loss, (6,), max_iter=30, dtype=dtype, random_state=0,
                          standardize_y=standardize).fit(X, y)
    (out,), session = _run(est.export_onnx(), {"X": X.astype(dtype)})
    assert [o.name for o in session.get_outputs()] == ["variable"]
    _close(out, est.predict(X), dtype)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_label_kinds():
    """Integral float classes become int64 labels (skl2onnx's rule); others are
    refused rather than truncated."""
    X = np.random.default_rng(0).standard_normal((30, 3))
    est = fs.MLPClassifier((4,), max_iter=5, random_state=0).fit(X, np.arange(30) % 2 * 3.0)
    (label, _), _ = _run(est.export_onnx(), {"X": X})           # a float64 model
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label, est.predict(X))
    est.classes_ = np.array([0.0, 1.5])      # scikit-learn's fit refuses such labels
    with pytest.raises(ValueError, match="not integers"):
        est.export_onnx()


def test_unfitted_estimator_refused():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        fs.MLPClassifier().export_onnx()


skl2onnx = pytest.importorskip("skl2onnx")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("in_pipeline", [False, True])
@pytest.mark.parametrize("input_dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(_classifiers()[1]))
def test_skl2onnx_classifier(kind, input_dtype, in_pipeline):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, ys = _classifiers()
    est = fs.MLPClassifier((7,), max_iter=30, random_state=0)    # float32 model
    model = make_pipeline(StandardScaler(), est) if in_pipeline else est
    model.fit(X, ys[kind])
    Xd = X.astype(input_dtype)
    onx = skl2onnx.to_onnx(model, Xd[:1], options={id(est): {"zipmap": False}})
    (label, proba), session = _run(onx, {session_input(onx): Xd})
    np.testing.assert_array_equal(label.astype(est.classes_.dtype), model.predict(Xd))
    assert proba.dtype == np.dtype(input_dtype)     # skl2onnx: outputs in the input's type
    _close(proba, model.predict_proba(Xd), "float32")


def session_input(model):
    return model.graph.input[0].name


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_skl2onnx_zipmap_and_nocl():
    X, ys = _classifiers()
    y = ys["binary_strings"]
    est = fs.MLPClassifier((7,), max_iter=30, random_state=0, dtype="float64").fit(X, y)
    # zipmap (the default) takes float input only, as for scikit-learn's MLP
    X32 = X.astype(np.float32)
    (label, maps), _ = _run(skl2onnx.to_onnx(est, X32[:1]), {"X": X32})
    assert label.tolist() == est.predict(X).tolist()
    proba = est.predict_proba(X)
    assert sorted(maps[0]) == ["no", "yes"]
    np.testing.assert_allclose([[m["no"], m["yes"]] for m in maps], est.predict_proba(X32),
                               rtol=1e-6)
    (label, proba_onnx), _ = _run(
        skl2onnx.to_onnx(est, X[:1], options={id(est): {"zipmap": False, "nocl": True}}),
        {"X": X})
    np.testing.assert_array_equal(label, np.argmax(proba, axis=1))
    _close(proba_onnx, proba, "float64")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("in_pipeline", [False, True])
def test_skl2onnx_regressor(in_pipeline):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X = np.random.default_rng(1).standard_normal((50, 4))
    y = X[:, :2] * 3 + 1
    est = fs.MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0,
                          standardize_y=True, dtype="float64")
    model = (make_pipeline(StandardScaler(), est) if in_pipeline else est).fit(X, y)
    (out,), _ = _run(skl2onnx.to_onnx(model, X[:1]), {session_input(skl2onnx.to_onnx(
        model, X[:1])): X})
    _close(out, model.predict(X), "float64")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_skl2onnx_integer_input():
    """An int64 input (allowed by skl2onnx) is cast to the model's dtype."""
    X = np.random.default_rng(0).integers(-3, 4, (30, 3))
    est = fs.MLPClassifier((4,), max_iter=5, random_state=0).fit(X, np.arange(30) % 3)
    onx = skl2onnx.to_onnx(est, X[:1], options={id(est): {"zipmap": False}})
    (label, proba), _ = _run(onx, {"X": X})
    np.testing.assert_array_equal(label, est.predict(X))
    _close(proba, est.predict_proba(X.astype(np.float32)), "float32")


_ORDER = """
import sys
import numpy as np
first = sys.argv[1] == "skl2onnx_first"
if first:
    import skl2onnx
import fastnet.sklearn
if not first:
    assert "skl2onnx" not in sys.modules     # fastnet.sklearn does not import it
    import skl2onnx
X = np.random.default_rng(0).standard_normal((20, 3))
est = fastnet.sklearn.MLPClassifier((4,), max_iter=5, random_state=0).fit(X, np.arange(20) % 2)
onx = skl2onnx.to_onnx(est, X[:1].astype(np.float32))
print(sorted(o.name for o in onx.graph.output))
"""


@pytest.mark.parametrize("order", ["skl2onnx_first", "fastnet_first"])
def test_converter_registered_in_either_import_order(tmp_path, order):
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, "-c", _ORDER, order], capture_output=True,
                         text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['output_label', 'output_probability']"
