"""Build the compiled kernels of fastnet.

The package metadata lives in pyproject.toml; this file only describes the
Cython extensions. Flags are portable on purpose: no -march=native and no
-ffast-math, which would change what the kernels compute.
"""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

import os
import sys

MSVC = sys.platform == "win32"

# -ffp-contract=off: no fused multiply-add contraction, so the multiversioned
# kernels of _persample.c (AVX-512, AVX2, SSE2 clones) compute bitwise the same.
# -fno-math-errno: sqrt becomes the (correctly rounded) instruction instead of a libm
# call that may set errno, so loops over it vectorise (Adam's update); no value changes.
# -fno-trapping-math: floating-point operations are not assumed to trap (clang's
# default), so GCC may turn selects such as tanh's clamp into blends and vectorise
# the loop on every instruction set (with traps assumed it did so only for AVX-512);
# no value changes, only which exception flags may be raised.
# -pthread: _pool.c's worker thread.
# MSVC: /O2 is its highest level, and it contracts nothing into FMA unless asked
# (/fp:contract); /std:c11 for the C99 `restrict` of the per-sample kernels.
COMPILE_ARGS = (["/O2", "/std:c11"] if MSVC
                else ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
                      "-pthread"])
LINK_ARGS = [] if MSVC else ["-pthread"]
if os.environ.get("FASTNET_NATIVE"):
    # Opt-in build for this machine only (not portable); results may differ in the
    # last bits from the portable build.
    COMPILE_ARGS.append("-march=native")

# A wheel (pip install ., python -m build, cibuildwheel) gets shared objects without
# debug info: Python's own CFLAGS carry -g, which made them ten times larger.
# In-place builds (development, tools/sanitize.sh) keep it, as does FASTNET_DEBUG=1.
if "bdist_wheel" in sys.argv and not MSVC and not os.environ.get("FASTNET_DEBUG"):
    COMPILE_ARGS.append("-g0")
    if sys.platform.startswith("linux"):
        LINK_ARGS.append("-s")   # and no symbol table (Python finds PyInit_* dynamically)

# Extra C sources per extension: the per-sample kernels are plain C, for
# restrict pointers and function multiversioning, which Cython cannot express.
SOURCES = {"_train": ["fastnet/_persample.c", "fastnet/_pool.c"]}

extensions = [
    Extension(
        f"fastnet.{name}",
        [f"fastnet/{name}.pyx"] + SOURCES.get(name, []),
        include_dirs=[np.get_include(), "fastnet"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=COMPILE_ARGS,
        extra_link_args=LINK_ARGS,
        depends=["fastnet/_components.h", "fastnet/_components_impl.h", "fastnet/_persample.h",
                 "fastnet/_persample_impl.h", "fastnet/_cols_blocks.h",
                 "fastnet/_pool.h"],
    )
    for name in ("_blas", "_kernels", "_train")
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
