"""Every registry entry (fastnet.components) is wired into every dispatcher, and the
compiled kernels keep the names and signatures of their NumPy twins.

- the C header's enums name exactly the registry's entries, in code order;
- each activation has its NumPy pair and a layer class in both layer modules;
- each head's loss / output kernels and its loss layer exist in both modules;
- each optimizer has its NumPy update, and the compiled update keeps its state;
- export_c, save / load and the single-row latency path work for every activation
  and head.
"""
import dataclasses
import inspect
import re

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet import _kernels
from fastnet import layers as fast_layers
from fastnet.components import (ACTIVATIONS, FAST_PATHS, HEADS, INIT_RULES, METRICS, TRUTHS,
                                OPTIMIZERS)
from fastnet.reference import kernels as ref_kernels
from fastnet.reference import layers as ref_layers

from conftest import (DTYPES, HEAD_PARAMS, HYPERPARAMETER_VALUES, all_activations,
                      assert_close, make_problem,
                      run_exported)

REGISTRIES = [pytest.param(r, id=r.kind) for r in (ACTIVATIONS, HEADS, OPTIMIZERS)]


# -- the C enums -----------------------------------------------------------------------

@pytest.mark.parametrize("registry", REGISTRIES)
def test_c_enum_names_the_registry_entries_in_code_order(registry):
    """_c_names lists the names the C header gives codes 0, 1, ... up to the first
    unknown code: equal to the registry's names, the C enum has exactly its entries."""
    assert _kernels._c_names(registry.kind) == list(registry.names)
    for position, entry in enumerate(registry.values()):
        assert entry.code == position and registry[entry.name] is entry


def test_c_names_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown component kind"):
        _kernels._c_names("loss")


# -- kernel twins: names and signatures --------------------------------------------------

_REQUIRED = "<required>"


def _doc_parameters(f):
    """Parameters from an embedded signature, the first line of the docstring
    ("name(a, b, c=None)"), as Cython writes it with embedsignature."""
    first = (getattr(f, "__doc__", None) or "").strip().splitlines()[:1]
    match = re.fullmatch(rf"{re.escape(f.__name__)}\((.*)\)(\s*->.*)?", first[0] if first else "")
    if not match:
        return None
    params = []
    text = re.sub(r"\[[^\]]*\]", "", match.group(1))     # memoryview shapes hold commas
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, default = part.partition("=")
        name = name.split()[-1].lstrip("*")            # drop a C type ("double eta")
        params.append((name, default.strip() if default else _REQUIRED))
    return params


def parameters(f):
    """[(name, default)] of a callable, default "<required>" when there is none; from
    inspect.signature, else the code object, else the docstring's signature line.
    Raises AssertionError when none of these says."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        pass
    else:
        return [(p.name, _REQUIRED if p.default is p.empty else repr(p.default))
                for p in sig.parameters.values()]
    code = getattr(f, "__code__", None)
    if code is not None:
        names = list(code.co_varnames[:code.co_argcount])
        defaults = [repr(d) for d in (getattr(f, "__defaults__", None) or ())]
        return [(n, d) for n, d in zip(names, [_REQUIRED] * (len(names) - len(defaults))
                                        + defaults)]
    params = _doc_parameters(f)
    assert params is not None, f"cannot read the parameters of {f!r}"
    return params


def _public_callables(module):
    return {name: obj for name, obj in vars(module).items()
            if not name.startswith("_") and callable(obj)}


def test_compiled_kernels_and_numpy_twins_have_the_same_signatures():
    compiled = _public_callables(_kernels)
    assert compiled, "fastnet._kernels exports no kernels?"
    twins = _public_callables(ref_kernels)
    for name, f in sorted(compiled.items()):
        assert name in twins, f"fastnet._kernels.{name} has no NumPy twin in reference.kernels"
        assert parameters(f) == parameters(twins[name]), \
            f"{name}: compiled {parameters(f)} != NumPy {parameters(twins[name])}"


def test_parameters_reader_falls_back_to_code_and_docstring():
    def plain(a, b, c=None):
        pass

    class Builtin:          # a callable without signature or code object
        __name__ = "kernel"
        __doc__ = "kernel(out, const double[:, ::1] z, weights=None)\nThe kernel."

        def __call__(self, *args):
            pass

    assert parameters(plain) == [("a", _REQUIRED), ("b", _REQUIRED), ("c", "None")]
    assert _doc_parameters(Builtin()) == [("out", _REQUIRED), ("z", _REQUIRED),
                                          ("weights", "None")]
    assert _doc_parameters(len) is None


# -- activations -------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_activation_is_wired(activation):
    entry = ACTIVATIONS[activation]
    assert entry.init in INIT_RULES
    for suffix, args in (("forward", ["out", "z"]), ("backward", ["dz", "dout", "out"])):
        twin = getattr(ref_kernels, f"{activation}_{suffix}", None)
        assert callable(twin), f"reference.kernels has no {activation}_{suffix}"
        assert [n for n, _ in parameters(twin)] == args
    for module, kernels in ((fast_layers, _kernels), (ref_layers, ref_kernels)):
        cls = module.ACTIVATION_LAYERS[activation]
        assert cls.__name__ == entry.layer and getattr(module, entry.layer) is cls
        assert cls.name == activation and cls.kernels is kernels
        z = np.linspace(-2, 2, 6).reshape(2, 3)
        layer = cls()
        assert layer.forward(z).shape == z.shape
        assert layer.backward(np.ones_like(z)).shape == z.shape
    for impl in (fastnet, fastnet.reference):
        assert impl.MLP([2, 3, 2], activation=activation).activation == [activation]


# -- heads -------------------------------------------------------------------------------

@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_head_is_wired(head):
    assert head.truth in TRUTHS and head.metric in METRICS
    twins = [f"{head.loss_kernel}_forward", f"{head.loss_kernel}_backward"]
    if head.output_kernel is not None:
        twins.append(f"{head.output_kernel}_forward")
    for name in twins:                                # the NumPy head's own functions
        assert callable(getattr(ref_kernels, name, None)), f"reference has no {name}"
    for module in (_kernels, ref_kernels):            # the generic kernels reach it
        z = np.linspace(-1, 1, 6).reshape(2, 3)
        module.head_output(head.name, np.empty_like(z), z)
    for module, kernel_module in ((fast_layers, _kernels), (ref_layers, ref_kernels)):
        cls = module.HEAD_LAYERS[head.name]
        assert cls.__name__ == head.layer and getattr(module, head.layer) is cls
        assert cls.kernels is kernel_module and cls.head == head.name
    k = max(head.min_outputs, 2)
    X, y = make_problem(head, 7, 3, k)
    for impl in (fastnet, fastnet.reference):
        net = impl.MLP([3, 4, k], output=head.name, seed=0)
        assert net.output == head.name
        assert np.isfinite(net.loss(X, y)) and isinstance(net.score(X, y), float)
        history = net.fit(X, y, validation_data=(X, y))
        assert f"val_{head.metric}" in history
        if head.classifier:
            proba = net.predict_proba(X)
            assert proba.shape == (7, k) and np.all((proba >= 0) & (proba <= 1))
            if head.truth == "labels":
                np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
        else:
            with pytest.raises(ValueError, match="predict_proba"):
                net.predict_proba(X)
        if head.min_outputs > 1:
            with pytest.raises(ValueError, match=f"at least {head.min_outputs}"):
                impl.MLP([3, head.min_outputs - 1], output=head.name)


def test_every_truth_kind_is_used_and_decides_classifier():
    """A head's truth kind (TRUTHS) says whether its outputs are probabilities: real
    targets and counts are not (no predict_proba). A head with a truth kind that is not
    registered is refused when it is defined."""
    assert {h.truth for h in HEADS.values()} == set(TRUTHS)
    for head in HEADS.values():
        assert head.classifier == TRUTHS[head.truth].proba
    assert not TRUTHS["targets"].proba and not TRUTHS["counts"].proba
    with pytest.raises(AssertionError, match="unknown truth"):
        dataclasses.replace(HEADS["linear"], truth="ranks")


# -- optimizers --------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", OPTIMIZERS.names)
def test_optimizer_is_wired(optimizer):
    opt = OPTIMIZERS[optimizer]
    assert callable(getattr(ref_kernels, f"{optimizer}_update", None))
    assert dataclasses.is_dataclass(opt.config) and opt.config.name == optimizer
    assert "learning_rate" in opt.hyperparameters
    config = opt.config()
    assert opt.fast_paths(config) <= set(FAST_PATHS)
    m = 5
    for module in (_kernels, ref_kernels):
        params, grads = np.ones(m), np.ones(m)
        state = tuple(np.zeros(m) for _ in opt.state)        # as many as C keeps
        module.optimizer_update(config, params, grads, state, 3, 0.5, 1)
        # SGD: 1 - 0.5 * 1; Adam's first step: 1 - 0.5 * (bias-corrected m / sqrt(v) = 1)
        np.testing.assert_allclose(params, 0.5, rtol=1e-6)


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names)
def test_every_optimizer_is_reachable_from_the_model(impl, optimizer):
    """fit(optimizer=name) trains with it: the model's state becomes that optimizer's
    buffers, which save/load and pickle carry; the other optimizers' options are
    refused unless left at their defaults."""
    opt = OPTIMIZERS[optimizer]
    X, y = make_problem(HEADS["softmax"], 12, 3, 2)
    net = impl.MLP([3, 4, 2], dtype="float64", seed=0)
    own = {}
    for h in opt.hyperparameters:           # every option on, so every buffer is used
        own.update(HYPERPARAMETER_VALUES.get(h, {}))
    net.fit(X, y, epochs=2, optimizer=optimizer, **own)
    state = net.state_dict()
    assert set(state) - {"params", "updates"} == set(opt.state)
    assert state["updates"] == 24 and any(state[name].any() for name in opt.state)
    other = [h for o in OPTIMIZERS.values() for h in o.hyperparameters
             if h not in opt.hyperparameters and h in HYPERPARAMETER_VALUES]
    for h in other:
        with pytest.raises(ValueError, match="not an option"):
            net.fit(X, y, optimizer=optimizer, **{h: HYPERPARAMETER_VALUES[h][h]})
    assert net.state_dict()["updates"] == 24                 # a refused fit changes nothing


# -- export_c, save / load, the single-row path: every activation and head -----------------

@pytest.mark.parametrize("head", HEAD_PARAMS)
def test_export_c_wires_every_activation(tmp_path, head):
    """One network with every activation (one hidden layer each) and the head, exported,
    compiled and run: the C dispatch knows every code."""
    k = max(head.min_outputs, 2)
    sizes = [3] + [5] * len(ACTIVATIONS) + [k]
    net = fastnet.MLP(sizes, all_activations(len(ACTIVATIONS)), head.name, dtype="float64",
                      seed=0)
    for b in net.biases:
        b[...] = np.linspace(-0.5, 0.5, b.size)
    X, _ = make_problem(head, 9, 3, k)
    classes, outputs = run_exported(net, tmp_path, X)
    assert_close(outputs, net.forward(X), "export", "float64")
    if head.truth == "labels":
        np.testing.assert_array_equal(classes, net.predict(X))


@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_save_load_round_trip_every_component(tmp_path, activation, head):
    k = max(head.min_outputs, 2)
    X, y = make_problem(head, 12, 3, k)
    for save_with in (fastnet, fastnet.reference):
        net = save_with.MLP([3, 4, k], activation, head.name, dtype="float64", seed=0)
        net.fit(X, y, epochs=2, learning_rate=0.05, momentum=0.5)
        path = tmp_path / f"{save_with.__name__}.npz"
        net.save(path)
        for load_with in (fastnet, fastnet.reference):
            back = load_with.load(path)
            assert (back.activation, back.output, back.layer_sizes) == \
                (net.activation, net.output, net.layer_sizes)
            saved, loaded = net.state_dict(), back.state_dict()
            assert saved.keys() == loaded.keys()
            for key in saved:
                np.testing.assert_array_equal(loaded[key], saved[key])
            assert_close(back.forward(X), net.forward(X), "network", "float64")
        other = save_with.MLP([3, 4, k], activation, head.name, dtype="float64", seed=1)
        other.load_state_dict(net.state_dict())
        np.testing.assert_array_equal(other.forward(X), net.forward(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_single_row_path_agrees_with_the_batch_path(activation, head, dtype):
    """net.forward / predict of one C-contiguous (1, d) row of the model's dtype take
    the latency path (C loops); more rows take the batch path (BLAS)."""
    k = max(head.min_outputs, 4)
    net = fastnet.MLP([6, 9, 7, k], activation, head.name, dtype=dtype, seed=0)
    for b in net.biases:
        b[...] = np.linspace(-0.5, 0.5, b.size)
    X = np.random.default_rng(1).standard_normal((3, 6)).astype(dtype)
    batch = net.forward(X)
    labels = net.predict(X)
    for i in range(3):
        row = X[i:i + 1]
        assert row.flags.c_contiguous and row.dtype == np.dtype(dtype)
        out = net.forward(row)
        assert out.shape == (1, k) and out.dtype == np.dtype(dtype)
        assert_close(out[0], batch[i], "single_row", dtype)
        if head.classifier:
            np.testing.assert_array_equal(net.predict(row), labels[i:i + 1])
    bad = X[:1].copy()
    bad[0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.forward(bad)
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.predict(bad)
    before = net.forward(X[:1]).copy()
    net.weights[-1][...] *= 2                               # the row path sees live weights
    assert not np.array_equal(net.forward(X[:1]), before)
