#!/bin/sh
# Build the documentation site (docs/) into docs/_build/html, warnings as errors:
# a broken cross-reference, a malformed docstring or a failing gallery script fails
# the build. Needs the docs extra in the Python that runs it:
#     pip install ".[docs]" && tools/build_docs.sh
# Options: -j N  parallel readers (default 1); -t SECONDS  time budget (default 600,
# 0 for none; exceeding it is a failure: the gallery is meant to stay small).
# PYTHON picks the interpreter (default python3). FASTNET_DOCS_INPLACE=1 documents
# the in-place build of this tree (python setup.py build_ext --inplace) instead of
# the installed fastnet.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
budget=600
jobs=1
while getopts "t:j:" opt; do
    case $opt in
        t) budget=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) echo "usage: $0 [-t SECONDS] [-j N]" >&2; exit 2 ;;
    esac
done
out="$here/docs/_build"
# a fresh build every time: a stale environment can hide a warning
rm -rf "$out" "$here/docs/theory" "$here/docs/api/generated" "$here/docs/_generated"
log="$out/build.log"
mkdir -p "$out"
start=$(date +%s)
# run from docs/: "python -m sphinx" puts the current directory on sys.path, and from
# the repository root that would import the unbuilt source tree instead of the
# installed fastnet
cd "$here/docs"
# matplotlib without a display; the gallery scripts' figures go into the pages
export MPLBACKEND=Agg
set +e
if [ "$budget" -gt 0 ]; then
    timeout "$budget" "$python" -m sphinx -b html -W --keep-going -j "$jobs" -q \
        -w "$log" "$here/docs" "$out/html"
else
    "$python" -m sphinx -b html -W --keep-going -j "$jobs" -q -w "$log" \
        "$here/docs" "$out/html"
fi
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
warnings=$(grep -c -E "WARNING|ERROR" "$log" || true)
if [ "$status" -eq 124 ]; then
    echo "build_docs: over the time budget of ${budget} s" >&2
elif [ "$status" -ne 0 ]; then
    echo "build_docs: failed (status $status), $warnings warnings/errors in $log:" >&2
    cat "$log" >&2
else
    echo "build_docs: $out/html/index.html in ${elapsed} s, $warnings warnings"
fi
exit "$status"
