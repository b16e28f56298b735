"""export_c: the generated C compiles with the system compiler (warnings as errors) and
agrees with net.forward / predict, for every registered activation and head."""
import numpy as np
import pytest

import fastnet
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
