"""Check that every instruction-set variant of the compiled kernels computes the same bits.

The per-sample kernels (fastnet/_persample.c) are compiled several ways: GCC picks an
AVX-512, AVX2 or baseline clone at load time (function multiversioning), and sums dot
products with GCC's vector extensions where available, row by row elsewhere. All of
them must give bitwise the same results. This builds the package's kernels in
temporary copies of the source tree, once per variant (CFLAGS), trains the same
per-sample fits and single-row forwards in each, and compares the bits.

    python tools/isa_variants.py            # about 1 minute per variant

Variants: the default build (the best clone for this CPU; on an AVX-512 CPU with the
first layer's 64-byte vectors), the baseline clone only (-DFASTNET_NO_MULTIVERSION), AVX2
only (-march=x86-64-v3, no multiversioning), and no vector extensions at all
(-DFASTNET_NO_VECTOR_EXT, baseline); all but the default with -DFASTNET_NO_WIDE_COLS, so
that they run their own clone's code on any CPU. Exit status 1 on any difference.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {
    "default (best clone)": "",
    "baseline clone only": "-DFASTNET_NO_MULTIVERSION -DFASTNET_NO_WIDE_COLS",
    "AVX2 only": "-DFASTNET_NO_MULTIVERSION -DFASTNET_NO_WIDE_COLS -march=x86-64-v3",
    "no vector extensions": "-DFASTNET_NO_MULTIVERSION -DFASTNET_NO_VECTOR_EXT",
}

# Run in each variant's tree: per-sample fits (every activation and head, odd and
# round widths, momentum and l2) and single-row forwards, saved to an .npz.
PROBE = r'''
import sys
import numpy as np
import fastnet
from fastnet.components import ACTIVATIONS, HEADS
out = {}
rng = np.random.default_rng(0)
for dtype in ("float32", "float64"):
    for act in ACTIVATIONS.names:
        for head in HEADS.values():
            for sizes in ([64, 32, 10], [1, 64, 64, 1], [37, 19, 23, 5], [16, 8], [70, 33, 17]):
                k = max(sizes[-1], head.min_outputs)
                sizes = sizes[:-1] + [k]
                X = rng.standard_normal((300, sizes[0])).astype(dtype)
                if head.truth == "labels":
                    y = rng.integers(0, k, 300)
                elif head.truth == "indicators":
                    y = (rng.random((300, k)) < 0.5).astype(dtype)
                else:
                    y = np.abs(rng.standard_normal((300, k))).astype(dtype)
                net = fastnet.MLP(sizes, act, head.name, dtype=dtype, seed=1)
                key = f"{dtype}-{act}-{head.name}-{'x'.join(map(str, sizes))}"
                for opts in (dict(), dict(momentum=0.9, l2=1e-3, nesterov=True)):
                    try:   # a divergence is a result too: the variants must agree on it
                        net.fit(X, y, epochs=2, batch_size=1, learning_rate=0.01, **opts)
                    except FloatingPointError:
                        out[key + "-diverged"] = np.array(1)
                out[key + "-params"] = net.parameters.copy()
                out[key + "-row"] = np.concatenate([net.forward(X[i:i + 1]) for i in range(20)])
np.savez(sys.argv[1], **out)
'''


def build(variant_flags, where):
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(os.path.join(ROOT, name), where)
    shutil.copytree(os.path.join(ROOT, "fastnet"), os.path.join(where, "fastnet"),
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "_train.c",
                                                  "_kernels.c", "_blas.c"))
    env = dict(os.environ, CFLAGS=variant_flags)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=where,
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in VARIANTS.items():
            where = os.path.join(tmp, str(len(results)))
            os.mkdir(where)
            build(flags, where)
            path = os.path.join(tmp, f"{len(results)}.npz")
            subprocess.run([sys.executable, "-c", PROBE, path], cwd=tmp, check=True,
                           env=dict(os.environ, PYTHONPATH=where))
            with np.load(path) as f:
                results[name] = {k: f[k] for k in f.files}
            print(f"built and ran: {name} ({flags or 'no extra flags'}), "
                  f"{len(results[name])} arrays")
    first, *others = results
    bad = 0
    for name in others:
        diff = [k for k in results[first]
                if k not in results[name]
                or results[first][k].shape != results[name][k].shape
                or results[first][k].tobytes() != results[name][k].tobytes()]
        bad += len(diff)
        print(f"{name} vs {first}: {len(results[first]) - len(diff)} of "
              f"{len(results[first])} arrays bitwise equal" + (f"; differ: {diff[:5]}" if diff else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
