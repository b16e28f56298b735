"""export_c: the generated C compiles with the system compiler (warnings as errors) and
agrees with net.forward / predict, for every registered activation and head."""
import os
import subprocess

try:
    import resource            # POSIX only: the stack limit of the compiled driver
except ImportError:            # pragma: no cover
    resource = None

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet.components import ACTIVATIONS

from conftest import CC, DTYPES, HEAD_PARAMS, assert_close, make_problem, run_exported

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler on this machine")

# One hidden layer per activation, then no hidden layer at all (just the head).
HIDDEN = [pytest.param([a], id=a) for a in ACTIVATIONS.names] + [pytest.param([], id="none")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEAD_PARAMS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_exported_c_matches_forward(tmp_path, hidden, head, dtype):
    k = max(head.min_outputs, 3)
    sizes = [4] + [9, 7][:2 * len(hidden)] + [k]
    activation = hidden * 2 if hidden else ACTIVATIONS.names[0]
    X, y = make_problem(head, 40, 4, k)
    X = X.astype(dtype)
    net = fastnet.MLP(sizes, activation, head.name, dtype=dtype, seed=1)
    # A step size every head trains at (per-sample SGD through the Poisson head's exp
    # diverges on a network of identity layers at 0.05).
    net.fit(X, y, epochs=3, learning_rate=0.02)
    classes, outputs = run_exported(net, tmp_path, X)
    assert_close(outputs, net.forward(X), "export", dtype)
    if head.truth == "labels":            # the generated forward returns the class
        np.testing.assert_array_equal(classes, net.predict(X))
    else:
        assert not classes.any()


def test_export_writes_both_files_and_checks_the_name(tmp_path):
    net = fastnet.MLP([2, 3, 2], seed=0)
    c_path, h_path = net.export_c(tmp_path / "my_net.c")
    assert h_path.endswith("my_net.h")
    assert "int my_net_forward(const my_net_real *x, my_net_real *out);" in open(h_path).read()
    with pytest.raises(ValueError, match="C identifier"):
        net.export_c(tmp_path / "bad-name.c")
    net.export_c(tmp_path / "bad-name.c", name="ok_name")


# --- issue 12: the exported C works for every network Python runs ------------------

WS_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "NAME.h"
int main(void) {
    NAME_real x[UPPER_N_INPUTS], out[UPPER_N_OUTPUTS], out_ws[UPPER_N_OUTPUTS];
    NAME_real *ws = malloc(sizeof(NAME_real) * UPPER_WORKSPACE_SIZE);
    double v;
    int i, cls, cls_ws;
    if (!ws) return 2;
    for (;;) {
        for (i = 0; i < UPPER_N_INPUTS; i++)
            if (scanf("%lf", &v) != 1) { free(ws); return 0; } else x[i] = (NAME_real)v;
        cls = NAME_forward(x, out);
        cls_ws = NAME_forward_ws(x, out_ws, ws);
        printf("%d %d", cls, cls_ws);
        for (i = 0; i < UPPER_N_OUTPUTS; i++) printf(" %.17g %.17g", (double)out[i], (double)out_ws[i]);
        printf("\n");
    }
}
"""


def _run_both(net, tmp_path, X, name="model", stack_bytes=8 << 20, opt="-O2"):
    """Export, compile with a driver calling both model_forward and model_forward_ws
    (workspace from malloc), run under a stack limit of `stack_bytes` (the common
    default, 8 MiB). Returns (classes (n, 2), outputs (n, k, 2))."""
    c_path, _ = net.export_c(tmp_path / f"{name}.c")
    main = tmp_path / f"{name}_main.c"
    main.write_text(WS_MAIN.replace("UPPER", name.upper()).replace("NAME", name))
    exe = tmp_path / f"{name}_run"
    build = subprocess.run([CC, "-std=c99", opt, "-Wall", "-Werror", "-o", str(exe),
                            str(main), c_path, "-lm"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr

    def limit_stack():
        if resource is not None:
            resource.setrlimit(resource.RLIMIT_STACK, (stack_bytes, stack_bytes))

    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in X)
    run = subprocess.run([str(exe)], input=text, capture_output=True, text=True,
                         preexec_fn=limit_stack if resource is not None else None)
    assert run.returncode == 0, f"the compiled model failed: returncode {run.returncode}"
    rows = np.array([[float(t) for t in line.split()] for line in run.stdout.strip().splitlines()])
    k = net.layer_sizes[-1]
    return rows[:, :2].astype(int), rows[:, 2:].reshape(len(rows), k, 2)


def test_wide_network_runs_within_an_8_mib_stack(tmp_path):
    # [1, W, 1] float64 with 2 * W * 8 bytes > 8 MiB: the hidden activations on the
    # stack (the old `REAL buf[2][W]`) crashed the generated forward. Weights with short
    # literals keep the source cheap to compile.
    width = 600_000
    net = fastnet.MLP([1, width, 1], "identity", "linear", dtype="float64", seed=0)
    net.weights[0][...] = 1.0
    net.biases[0][...] = 0.0
    net.weights[1][...] = 0.5
    net.biases[1][...] = 0.25
    X = np.array([[0.25], [-1.0], [3.0]])
    classes, outputs = _run_both(net, tmp_path, X, opt="-O0")
    assert not classes.any()
    np.testing.assert_array_equal(outputs[..., 0], outputs[..., 1])   # forward == forward_ws
    np.testing.assert_allclose(outputs[..., 0], net.forward(X), rtol=1e-12)
    np.testing.assert_allclose(outputs[:, 0, 0], 0.5 * width * X[:, 0] + 0.25, rtol=1e-12)
    src = open(tmp_path / "model.c").read()
    assert f"static double model_static_workspace[{width}];" in src.replace("REAL", "double")


def test_header_documents_reentrancy_and_the_workspace_variant(tmp_path):
    net = fastnet.MLP([3, 5, 4, 2], ["relu", "tanh"], seed=0)
    _, h_path = net.export_c(tmp_path / "m.c")
    header = open(h_path).read()
    assert "#define M_WORKSPACE_SIZE 10" in header
    assert "int m_forward_ws(const m_real *x, m_real *out, m_real *workspace);" in header
    assert "NOT reentrant" in header and "thread-safe" in header
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    classes, outputs = _run_both(net, tmp_path, X, name="m")
    np.testing.assert_array_equal(classes[:, 0], classes[:, 1])
    np.testing.assert_array_equal(outputs[..., 0], outputs[..., 1])
    np.testing.assert_array_equal(classes[:, 0], net.predict(X))


@pytest.mark.parametrize("where", ["weights", "biases"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused_before_writing(tmp_path, where, bad):
    for cls in (fastnet.MLP, fastnet.reference.MLP):
        net = cls([2, 3, 2], seed=0)
        getattr(net, where)[1][0] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            net.export_c(tmp_path / "bad.c")
        assert not (tmp_path / "bad.c").exists() and not (tmp_path / "bad.h").exists()


def test_extreme_finite_parameters_compile(tmp_path):
    # The largest, smallest and subnormal values of each dtype are valid C literals.
    for dtype in DTYPES:
        info = np.finfo(dtype)
        net = fastnet.MLP([2, 2], "identity", "linear", dtype=dtype, seed=0)
        net.weights[0][...] = [[info.max, -info.max], [info.smallest_subnormal, -0.0]]
        net.biases[0][...] = [info.tiny, 0.0]
        X = np.array([[0.0, 0.0], [1.0, 0.0]], dtype=dtype)
        classes, outputs = _run_both(net, tmp_path, X, name=f"x_{dtype}")
        np.testing.assert_array_equal(outputs[..., 0], net.forward(X))


@pytest.mark.parametrize("suffix", [".h", ".H"])
def test_header_path_is_refused(tmp_path, suffix):
    net = fastnet.MLP([2, 3, 2], seed=0)
    target = tmp_path / f"model{suffix}"
    with pytest.raises(ValueError, match=r"pass the \.c path"):
        net.export_c(target)
    assert list(tmp_path.iterdir()) == []


def test_source_symlinked_to_its_header_is_refused(tmp_path):
    net = fastnet.MLP([2, 3, 2], seed=0)
    (tmp_path / "real.c").write_text("/* keep */")
    os.symlink(tmp_path / "real.c", tmp_path / "model.h")
    os.symlink(tmp_path / "real.c", tmp_path / "model.c")
    with pytest.raises(ValueError, match=r"pass the \.c path"):
        net.export_c(tmp_path / "model.c")
    assert (tmp_path / "real.c").read_text() == "/* keep */"


@pytest.mark.parametrize("dtype", DTYPES)
def test_near_tie_softmax_class_is_predicts(tmp_path, dtype):
    # Logits differing by less than the softmax's rounding: the probabilities round
    # equal, so predict (argmax of the probabilities) gives the lower index, while an
    # argmax of the logits would give the higher one. The weights are 0 so the logits
    # are the biases exactly, whatever the summation order.
    eps = {"float32": 1e-8, "float64": 1e-17}[dtype]
    net = fastnet.MLP([2, 4], "identity", "softmax", dtype=dtype, seed=0)
    net.weights[0][...] = 0.0
    net.biases[0][...] = np.array([0.0, eps, -1.0, eps], dtype=dtype)
    X = np.array([[0.5, -0.5], [1.0, 2.0]], dtype=dtype)
    probs = net.forward(X)
    assert probs[0, 0] == probs[0, 1] == probs[0, 3]               # a true tie after rounding
    assert np.argmax(net.biases[0]) == 1                            # the logits' choice
    python = net.predict(X)
    np.testing.assert_array_equal(python, [0, 0])
    np.testing.assert_array_equal(net.predict(X[:1]), [0])        # the single-row path
    classes, outputs = _run_both(net, tmp_path, X)
    np.testing.assert_array_equal(outputs[..., 0], probs)
    np.testing.assert_array_equal(classes[:, 0], python)
    np.testing.assert_array_equal(classes[:, 1], python)


@pytest.mark.parametrize("dtype", DTYPES)
def test_near_tie_logistic_indicators_are_predicts(tmp_path, dtype):
    # A logit just above 0 whose probability rounds to 0.5: predict says 0 (p > 0.5 is
    # false); the header tells C callers to use out[j] > 0.5, which agrees.
    eps = {"float32": 1e-8, "float64": 1e-17}[dtype]
    net = fastnet.MLP([2, 3], "identity", "logistic", dtype=dtype, seed=0)
    net.weights[0][...] = 0.0
    net.biases[0][...] = np.array([eps, -eps, 1.0], dtype=dtype)
    X = np.array([[0.5, -0.5]], dtype=dtype)
    np.testing.assert_array_equal(net.predict(X), [[0, 0, 1]])
    classes, outputs = _run_both(net, tmp_path, X)
    assert not classes.any()
    np.testing.assert_array_equal((outputs[..., 0] > 0.5).astype(int), net.predict(X))
    assert "out[j] > 0.5" in open(tmp_path / "model.h").read()
