"""A fast slice of the fuzz campaign (tools/fuzz.py): every entry point, a few dozen
generated inputs each, in subprocess batches; nothing may crash, hang, raise an
undocumented exception, break a promise or make the two implementations disagree.
The whole campaign: ``python tools/fuzz.py --cases 10000``."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastnet

FUZZ = Path(__file__).resolve().parents[1] / "tools" / "fuzz.py"
pytestmark = pytest.mark.skipif(not FUZZ.exists(), reason="tools/fuzz.py is not here")

# Findings known and reported, with where the fix belongs: (entry point, text in the
# finding's detail).
# entry points that need an optional package (torch is not in the test extra)
OPTIONAL = {"torch": "torch", "export_onnx": "onnxruntime", "sklearn": "sklearn"}

KNOWN = [
    # the scikit-learn wrappers: alpha or learning_rate_init = 10**400 (float() in
    # fastnet/sklearn.py), hidden_layer_sizes=[nan] (the weight draw): OverflowError,
    # exactly as scikit-learn 1.9's own MLPClassifier/MLPRegressor
    ("sklearn", "OverflowError"),
]


def _campaign(tmp_path, *args):
    out = tmp_path / "fuzz.json"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastnet.__file__)))
    run = subprocess.run([sys.executable, str(FUZZ), "--json", str(out),
                          "--path", env["PYTHONPATH"], *args],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.exists(), run.stdout + run.stderr
    return json.loads(out.read_text()), run.stdout


def test_fuzz_slice_finds_nothing_new(tmp_path):
    result, table = _campaign(tmp_path, "--cases", "300", "--seed", "1", "--batch", "100",
                              "--timeout", "120")
    counts = result["counts"]
    assert sum(sum(c.values()) for c in counts.values()) == 300, table
    new = [f for f in result["findings"]
           if not any(f[0] == entry and text in f[4] for entry, text in KNOWN)]
    assert not new, table
    # every entry point was reached past its checks at least once (those whose
    # optional package is not installed can only refuse with ImportError)
    missing = {entry for entry, module in OPTIONAL.items()
               if importlib.util.find_spec(module) is None}
    assert all(c.get("ok", 0) > 0 for entry, c in counts.items() if entry not in missing), \
        table


def test_the_campaign_classifies_crashes_and_hangs(tmp_path):
    """The harness itself: a worker killed by a signal is a crash, one that stops
    answering is a hang, and the cases after them still run."""
    sys.path.insert(0, str(FUZZ.parent))
    try:
        import fuzz
    finally:
        sys.path.pop(0)
    script = tmp_path / "fake_fuzz.py"
    # a stand-in worker: case 1 kills itself, case 3 sleeps, the rest answer
    script.write_text(
        "import json, os, signal, sys, time\n"
        "start, count = int(sys.argv[4]), int(sys.argv[5])\n"
        "for i in range(start, start + count):\n"
        "    print(json.dumps({'start': i}), flush=True)\n"
        "    if i == 1: os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    if i == 3: time.sleep(60)\n"
        "    print(json.dumps({'done': i, 'outcome': 'ok', 'detail': ''}), flush=True)\n")
    done = fuzz.run_batch("fit", 0, 0, 6, 2.0, str(tmp_path), str(tmp_path), 4,
                          program=str(script))
    outcomes = {i: o for i, (o, _) in done.items()}
    assert outcomes == {0: "ok", 1: "crash", 2: "ok", 3: "hang", 4: "ok", 5: "ok"}
