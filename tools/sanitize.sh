#!/usr/bin/env bash
# Build fastnet's compiled kernels with AddressSanitizer and UndefinedBehaviorSanitizer
# and run the whole test suite against that build. Zero reports is the pass mark: any
# out-of-bounds access, use-after-free or undefined behaviour aborts the run.
#
#   tools/sanitize.sh            (about 3 minutes on 2 cores)
#
# The build happens in a temporary copy of the sources and a fresh virtual environment,
# so it never mixes with a normal build. Python, NumPy and SciPy themselves are not
# instrumented; leak detection is off (the interpreter keeps memory on purpose).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
pip install -q "numpy>=1.25" "scipy>=1.11" "Cython>=3.0" "setuptools>=77" pytest hypothesis \
    pytest-benchmark matplotlib scikit-learn tqdm "dask[distributed]"
mkdir "$work/src"
cp -r "$here/fastnet" "$here/tests" "$here/examples" "$here/setup.py" \
      "$here/pyproject.toml" "$here/README.md" "$here/MANIFEST.in" "$here/LICENSE" "$work/src/"
cd "$work/src"
rm -f fastnet/*.so fastnet/_blas.c fastnet/_kernels.c fastnet/_train.c
CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1" \
LDFLAGS="-fsanitize=address,undefined" \
    python setup.py -q build_ext --inplace
for so in fastnet/*.so; do   # make sure the build really is instrumented
    # (grep reads all of nm's output: grep -q would stop early and, with pipefail,
    # nm's broken pipe would fail the check)
    nm -D "$so" | grep __asan_report > /dev/null || { echo "$so is not instrumented" >&2; exit 1; }
done
# allocator_may_return_null: a huge allocation fails as malloc does (MemoryError)
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
PYTHONPATH=. python -m pytest -q -p no:cacheprovider tests "$@"
echo "sanitizers: no errors"
