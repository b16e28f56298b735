"""onnx, onnxruntime, skl2onnx and torch stay optional (issue 14): fastnet and
fastnet.sklearn import without them, and each export says which extra to install."""
import os
import subprocess
import sys

import fastnet

_WITHOUT = """
import sys


# Imports of these packages raise ImportError, as when they are not installed (a None
# in sys.modules would confuse libraries that look there, as scipy does).
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("onnx", "onnxruntime", "skl2onnx", "torch"):
            raise ImportError(f"No module named {name!r}")


sys.meta_path.insert(0, Absent())
import numpy as np
import fastnet, fastnet.reference
for impl in (fastnet, fastnet.reference):
    net = impl.MLP([2, 3, 2], seed=0)
    for call, extra in ((net.export_onnx, "fastnet[onnx]"), (net.to_torch, "fastnet[torch]"),
                        (lambda: impl.MLP.from_torch(None), "fastnet[torch]")):
        try:
            call()
        except ImportError as exc:
            assert extra in str(exc), exc
        else:
            raise AssertionError("no ImportError")
try:
    import sklearn
except ImportError:
    pass
else:
    import fastnet.sklearn
    X = np.random.default_rng(0).standard_normal((10, 2))
    est = fastnet.sklearn.MLPClassifier((3,), max_iter=2).fit(X, np.arange(10) % 2)
    try:
        est.export_onnx()
    except ImportError as exc:
        assert "fastnet[onnx]" in str(exc), exc
    else:
        raise AssertionError("no ImportError")
print("ok")
"""


def test_exports_without_the_optional_packages(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, "-c", _WITHOUT], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
