"""ONNX export: a fastnet network (or a fitted fastnet.sklearn estimator) as an ONNX
graph that onnxruntime and other ONNX runtimes execute.

Each dense layer is one ``Gemm`` (``Y = X W^T + b``, ``transB=1``: fastnet stores W
as (out, in), ONNX's B for transB) followed by its activation's operator; the head
adds its output transform (``Softmax`` over axis 1, ``Sigmoid``, ``Exp``, or nothing
for the linear head). The batch dimension is symbolic (``"N"``), so any number of
rows runs. The computation stays in the model's dtype (float32 or float64).

The graph is described once, as operator and initializer lists (``_Graph``), and
emitted either as an ``onnx.ModelProto`` (``to_model``, needs ``onnx`` alone) or into
a skl2onnx container (fastnet/_skl2onnx.py), so the two paths compute the same.
"""
import numpy as np

from fastnet.components import ACTIVATIONS, HEADS

# Opset 13 is the first whose Softmax normalises one axis (earlier ones flatten the
# trailing axes: the same for 2-D inputs, but 13 says what is meant); 17 is the
# default of current exporters (torch.onnx, skl2onnx), run by onnxruntime since 1.12.
MIN_OPSET = 13
DEFAULT_OPSET = 17

# The ONNX operator of each hidden activation, and of each head's output transform
# (None: the head's outputs are the pre-activations). Every registered component
# must have an entry: the lookup below fails loudly otherwise, and the tests loop
# over the registries.
ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                  "identity": "Identity"}
HEAD_OPS = {"softmax": ("Softmax", {"axis": 1}), "linear": None,
            "logistic": ("Sigmoid", {}), "poisson": ("Exp", {})}


def _op_of(table, name, kind):
    try:
        return table[name]
    except KeyError:
        raise NotImplementedError(f"the {kind} {name!r} has no ONNX translation yet "
                                  f"(fastnet/_onnx.py)") from None


class _Graph:
    """Operators and initializers of a graph in construction; names come from
    `unique` (a hint -> a fresh name; skl2onnx's scope supplies its own)."""

    def __init__(self, unique=None):
        self.nodes = []          # (op_type, inputs, outputs, attributes, domain)
        self.initializers = []   # (name, ndarray)
        if unique is None:
            taken = set()

            def unique(hint):
                name, i = hint, 0
                while name in taken:
                    i += 1
                    name = f"{hint}_{i}"
                taken.add(name)
                return name
        self.unique = unique

    def const(self, hint, array):
        name = self.unique(hint)
        self.initializers.append((name, np.asarray(array)))
        return name

    def op(self, op_type, inputs, hint=None, output=None, domain="", **attributes):
        out = output if output is not None else self.unique(hint or op_type.lower())
        self.nodes.append((op_type, list(inputs), [out], attributes, domain))
        return out


def forward(g, net, x, output=None):
    """Add the nodes computing ``net.forward`` of tensor `x` (the model's dtype) to
    graph g; returns the name of the result (`output` when given)."""
    for name in net.activation:
        _op_of(ACTIVATION_OPS, name, "activation")
    head = _op_of(HEAD_OPS, net.output, "output head")
    weights, biases = net.weights, net.biases
    last = len(weights) - 1
    h = x
    for l, (W, b) in enumerate(zip(weights, biases)):
        final = l == last and head is None
        h = g.op("Gemm", [h, g.const(f"layers.{l}.weight", W.copy()),
                          g.const(f"layers.{l}.bias", b.copy())],
                 hint=f"layers.{l}.z", output=output if final else None, transB=1)
        if l < last:
            h = g.op(ACTIVATION_OPS[net.activation[l]], [h], hint=f"layers.{l}.h")
    if head is not None:
        op_type, attributes = head
        h = g.op(op_type, [h], hint="head", output=output, **attributes)
    return h


def classifier_outputs(g, est, x, label, probabilities, classes=None):
    """Add a fastnet.sklearn.MLPClassifier's ``predict`` (tensor `label`) and
    ``predict_proba`` (tensor `probabilities`, the model's dtype) of `x` to g, as
    skl2onnx writes scikit-learn's classifiers: labels int64 (integer classes) or
    string, shape (N,); a multilabel model's indicators int64 (N, k). `classes`: the
    label of each class (default: label_classes(est))."""
    net = est.net_
    p = forward(g, net, x)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        g.op("Identity", [p], output=probabilities)
        return g.op("Cast", [g.op("Greater", [p, g.const("half", np.array(0.5, net.dtype))])],
                    output=label, to=_onnx().TensorProto.INT64)
    if est.n_outputs_ == 1:
        # binary: one logistic unit p, columns [1 - p, p] as predict_proba
        one = g.const("one", np.array(1.0, net.dtype))
        p = g.op("Concat", [g.op("Sub", [one, p]), p], output=probabilities, axis=1)
    else:
        g.op("Identity", [p], output=probabilities)
    best = g.op("ArgMax", [p], hint="argmax", axis=1, keepdims=0)
    classes = label_classes(est) if classes is None else classes
    return g.op("Gather", [g.const("classes", classes), best], output=label, axis=0)


def label_classes(est):
    """classes_ as the label tensor holds them: int64 for integer (or integral float,
    or bool) classes, as skl2onnx does; strings otherwise."""
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)):
            raise ValueError(f"classes_ {classes} are not integers; ONNX labels are "
                             f"int64 or strings (fit with integer or string labels)")
        return classes.astype(np.int64)
    if all(isinstance(c, str) for c in classes):
        return np.array([c.encode("utf-8") for c in classes], dtype=object)
    raise ValueError(f"classes_ of kind {classes.dtype} cannot be ONNX labels; use "
                     f"integer or string labels")


def regressor_outputs(g, est, x, variable):
    """Add a fastnet.sklearn.MLPRegressor's ``predict`` of `x` to g, shape (N, k)
    (skl2onnx's shape for regressors), undoing standardize_y's scaling."""
    net = est.net_
    if "_y_mean" not in est.__dict__:
        return forward(g, net, x, output=variable)
    out = forward(g, net, x)
    scaled = g.op("Mul", [out, g.const("y_scale", np.asarray(est._y_scale, net.dtype))])
    return g.op("Add", [scaled, g.const("y_mean", np.asarray(est._y_mean, net.dtype))],
                output=variable)


# -- as an onnx.ModelProto --------------------------------------------------------

def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install '
                          '"fastnet[onnx]"') from None
    return onnx


def check_opset(opset_version):
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)) \
            or not MIN_OPSET <= opset_version <= newest:
        raise ValueError(f"opset_version must be an integer in [{MIN_OPSET}, {newest}] "
                         f"(the installed onnx's newest), got {opset_version!r}")
    return int(opset_version)


def to_model(g, inputs, outputs, opset_version, doc):
    """An onnx.ModelProto of graph g; inputs and outputs: (name, numpy dtype, shape)
    with None for the symbolic batch dimension."""
    onnx = _onnx()
    from onnx import helper, numpy_helper

    def info(name, dtype, shape):
        elem = (onnx.TensorProto.STRING if np.dtype(dtype) == object
                else helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
        return helper.make_tensor_value_info(name, elem, ["N" if s is None else s
                                                          for s in shape])

    nodes = [helper.make_node(op, ins, outs, name=outs[0] + "_op", domain=domain, **attrs)
             for op, ins, outs, attrs, domain in g.nodes]
    initializers = []
    for name, array in g.initializers:
        if array.dtype == object:       # strings (class labels)
            initializers.append(helper.make_tensor(name, onnx.TensorProto.STRING,
                                                   array.shape, list(array)))
        else:
            initializers.append(numpy_helper.from_array(array, name))
    graph = helper.make_graph(nodes, "fastnet", [info(*i) for i in inputs],
                              [info(*o) for o in outputs], initializers)
    opsets = [helper.make_opsetid("", opset_version)]
    from fastnet import __version__
    # the oldest IR version that carries this opset, so that older runtimes load it
    model = helper.make_model(graph, opset_imports=opsets, producer_name="fastnet",
                              producer_version=__version__, doc_string=doc,
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    return model


def save(model, path):
    """Write `model` to `path` (when given) and return it."""
    if path is not None:
        _onnx().save_model(model, path)
    return model


def export_net(net, path, opset_version):
    """See BaseMLP.export_onnx."""
    opset_version = check_opset(opset_version)
    g = _Graph()
    forward(g, net, "X", output="Y")
    d, k = net.layer_sizes[0], net.layer_sizes[-1]
    model = to_model(g, [("X", net.dtype, (None, d))], [("Y", net.dtype, (None, k))],
                     opset_version, f"fastnet {net!r}: Y = forward(X)")
    return save(model, path)


def export_estimator(est, path, opset_version):
    """See fastnet.sklearn's export_onnx."""
    opset_version = check_opset(opset_version)
    net = est.net_
    d = net.layer_sizes[0]
    g = _Graph()
    if hasattr(est, "classes_"):
        classes = label_classes(est)
        label_dtype = np.int64 if classes.dtype != object else object
        k = len(est.classes_)
        multilabel = est._label_binarizer.y_type_ == "multilabel-indicator"
        classifier_outputs(g, est, "X", "label", "probabilities")
        outputs = [("label", label_dtype, (None, k) if multilabel else (None,)),
                   ("probabilities", net.dtype, (None, k))]
    else:
        regressor_outputs(g, est, "X", "variable")
        outputs = [("variable", net.dtype, (None, net.layer_sizes[-1]))]
    model = to_model(g, [("X", net.dtype, (None, d))], outputs, opset_version,
                     f"fastnet.sklearn.{type(est).__name__}")
    return save(model, path)
