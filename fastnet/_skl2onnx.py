"""skl2onnx converters for fastnet.sklearn.MLPClassifier and MLPRegressor, so that
``skl2onnx.to_onnx(estimator, X[:1])`` converts them (alone or inside a Pipeline) as
it converts scikit-learn's MLPs.

The outputs follow skl2onnx's conventions for scikit-learn's classifiers and
regressors: a classifier has ``label`` (int64 for integer classes, strings
otherwise; int64 indicators (N, k) for a multilabel model) and ``probabilities``
(N, k), which skl2onnx's default parser turns into a list of maps by class (ZipMap)
unless ``options={id(est): {"zipmap": False}}``; the options ``nocl`` (labels as
class indices) and ``zipmap="columns"`` work as for scikit-learn's models. A
regressor has ``variable`` (N, k). The graph itself is fastnet/_onnx.py's, which
``export_onnx`` also writes.

Registration is automatic: importing skl2onnx takes seconds, so fastnet.sklearn does
not import it; ``register_when_imported`` registers the converters at once when
skl2onnx is already imported, and otherwise when it is (a finder on sys.meta_path
that steps aside at skl2onnx's import and runs ``register`` after its module code).
"""
import sys
import warnings

import numpy as np

from fastnet import _onnx


def register():
    """Register the converters with skl2onnx (idempotent). Called automatically; call
    it by hand after reloading skl2onnx."""
    from skl2onnx import update_registered_converter

    from fastnet.sklearn import MLPClassifier, MLPRegressor
    update_registered_converter(
        MLPClassifier, "FastnetMLPClassifier", _classifier_shapes, _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]})
    update_registered_converter(MLPRegressor, "FastnetMLPRegressor", _regressor_shapes,
                                _convert_regressor)


def _register_quietly():
    # A converter that cannot register must not break the user's import of skl2onnx.
    try:
        register()
    except Exception as exc:  # pragma: no cover - only with an incompatible skl2onnx
        warnings.warn(f"fastnet could not register its skl2onnx converters: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


class _RegisterOnImport:
    """A sys.meta_path finder that, at ``import skl2onnx``, removes itself, finds the
    real module spec through the other finders and wraps its loader's exec_module
    to register the converters once skl2onnx's own code has run."""

    def find_spec(self, name, path=None, target=None):
        if name != "skl2onnx":
            return None
        _remove_finder()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            _register_quietly()

        loader.exec_module = exec_module   # this spec's loader instance only
        return spec


def _remove_finder():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegisterOnImport)]


def register_when_imported():
    """Register now when skl2onnx is imported, else at its import."""
    if "skl2onnx" in sys.modules:
        _register_quietly()
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())


# -- shape calculators and converters (called by skl2onnx) -------------------------

def _types():
    from skl2onnx.common import data_types
    return data_types


def _check_input(operator, outputs):
    from skl2onnx.common.utils import (check_input_and_output_numbers,
                                       check_input_and_output_types)
    t = _types()
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=outputs)
    check_input_and_output_types(operator, good_input_types=[
        t.FloatTensorType, t.DoubleTensorType, t.Int64TensorType])
    return operator.inputs[0].get_first_dimension()


def _float_type(operator):
    """skl2onnx's rule: double outputs for double input, float otherwise."""
    t = _types()
    return (t.DoubleTensorType if isinstance(operator.inputs[0].type, t.DoubleTensorType)
            else t.FloatTensorType)


def _nocl(scope, est):
    return bool(scope.get_options(est, dict(nocl=False))["nocl"])


def _classifier_shapes(operator):
    t = _types()
    N = _check_input(operator, 2)
    est = operator.raw_operator
    k = len(est.classes_)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        label = t.Int64TensorType([N, k])
    elif _nocl(operator.scope_inst, est) or _onnx.label_classes(est).dtype != object:
        label = t.Int64TensorType([N])
    else:
        label = t.StringTensorType([N])
    operator.outputs[0].type = label
    operator.outputs[1].type = _float_type(operator)([N, k])


def _regressor_shapes(operator):
    N = _check_input(operator, 1)
    operator.outputs[0].type = _float_type(operator)(
        [N, operator.raw_operator.net_.layer_sizes[-1]])


class _ContainerGraph(_onnx._Graph):
    """fastnet/_onnx.py's graph, its names from skl2onnx's scope."""

    def __init__(self, scope):
        super().__init__(scope.get_unique_variable_name)


def _emit(g, scope, container):
    from onnx import helper
    from skl2onnx.proto import onnx_proto
    for name, array in g.initializers:
        if array.dtype == object:
            container.add_initializer(name, onnx_proto.TensorProto.STRING,
                                      list(array.shape), list(array))
        else:
            container.add_initializer(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                      list(array.shape), np.ascontiguousarray(array).ravel())
    for op_type, inputs, outputs, attributes, domain in g.nodes:
        container.add_node(op_type, inputs, outputs, op_domain=domain or "",
                           name=scope.get_unique_operator_name(op_type), **attributes)


def _input_in(g, operator, dtype):
    """The input, cast to the model's dtype when it has another type."""
    from onnx import helper
    x = operator.inputs[0].full_name
    want = helper.np_dtype_to_tensor_dtype(dtype)
    if operator.inputs[0].type.to_onnx_type().tensor_type.elem_type == want:
        return x
    return g.op("Cast", [x], hint="cast_input", to=want)


def _output_as(g, operator, index, name):
    """Cast tensor `name` (the model's dtype) to the declared output's type."""
    out = operator.outputs[index]
    g.op("Cast", [name], output=out.full_name,
         to=out.type.to_onnx_type().tensor_type.elem_type)


def _convert_classifier(scope, operator, container):
    est = operator.raw_operator
    net = est.net_
    g = _ContainerGraph(scope)
    x = _input_in(g, operator, net.dtype)
    proba = g.unique("probabilities")
    # skl2onnx's nocl option: labels are the class indices
    classes = np.arange(len(est.classes_), dtype=np.int64) if _nocl(scope, est) else None
    _onnx.classifier_outputs(g, est, x, operator.outputs[0].full_name, proba, classes)
    _output_as(g, operator, 1, proba)
    _emit(g, scope, container)


def _convert_regressor(scope, operator, container):
    est = operator.raw_operator
    g = _ContainerGraph(scope)
    x = _input_in(g, operator, est.net_.dtype)
    out = g.unique("variable")
    _onnx.regressor_outputs(g, est, x, out)
    _output_as(g, operator, 0, out)
    _emit(g, scope, container)
