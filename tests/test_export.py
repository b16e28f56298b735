"""export_c: the generated C compiles with the system compiler and agrees with predict."""
import shutil
import subprocess

import numpy as np
import pytest

import fastnet

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler on this machine")

MAIN = r"""
#include <stdio.h>
#include "NAME.h"
int main(void) {
    NAME_real x[UPPER_N_INPUTS], out[UPPER_N_OUTPUTS];
    double v;
    int i, cls;
    for (;;) {
        for (i = 0; i < UPPER_N_INPUTS; i++)
            if (scanf("%lf", &v) != 1) return 0; else x[i] = (NAME_real)v;
        cls = NAME_forward(x, out);
        printf("%d", cls);
        for (i = 0; i < UPPER_N_OUTPUTS; i++) printf(" %.17g", (double)out[i]);
        printf("\n");
    }
}
"""


def _compile_and_run(net, tmp_path, X, name="model"):
    c_path, h_path = net.export_c(tmp_path / f"{name}.c")
    (tmp_path / "main.c").write_text(MAIN.replace("UPPER", name.upper()).replace("NAME", name))
    exe = tmp_path / "run"
    subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(tmp_path / "main.c"), c_path, "-lm"], check=True, capture_output=True)
    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in X)
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True).stdout
    rows = np.array([[float(t) for t in line.split()] for line in out.strip().splitlines()])
    return rows[:, 0].astype(int), rows[:, 1:]


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("net_args", [
    ([4, 9, 7, 3], ["relu", "tanh"], "softmax"),
    ([4, 6, 3], "sigmoid", "softmax"),
    ([4, 5, 2], "tanh", "linear"),
    ([4, 2], [], "linear"),
])
def test_exported_c_matches_predict(tmp_path, net_args, dtype, rtol):
    sizes, activation, output = net_args
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(dtype)
    y = rng.integers(0, sizes[-1], 40) if output == "softmax" else rng.standard_normal((40, sizes[-1]))
    net = fastnet.MLP(sizes, activation or "relu", output, dtype=dtype, seed=1)
    net.fit(X, y, epochs=3, learning_rate=0.05)
    classes, outputs = _compile_and_run(net, tmp_path, X)
    np.testing.assert_allclose(outputs, net.forward(X), rtol=rtol, atol=rtol * 1e-2)
    if output == "softmax":
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
