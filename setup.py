"""Build the compiled kernels of fastnet.

The package metadata lives in pyproject.toml; this file only describes the
Cython extensions. Flags are portable on purpose: no -march=native and no
-ffast-math, which would change what the kernels compute.
"""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

COMPILE_ARGS = ["-O3"]

extensions = [
    Extension(
        f"fastnet.{name}",
        [f"fastnet/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=COMPILE_ARGS,
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
