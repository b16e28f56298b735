"""Packaging: the source-tree guard, what `import fastnet` costs in modules, the BLAS
thread control through threadpoolctl, and the metadata a wheel carries.

The wheel pipeline itself (build, auditwheel, twine, a fresh install, the tests from
the unpacked sdist) is tools/wheel_pipeline.sh, run by .ci/run.
"""
import importlib.machinery
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastnet

PACKAGE = os.path.dirname(os.path.abspath(fastnet.__file__))
# The repository or unpacked sdist these tests come from (absent when they were copied).
PROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
PYPROJECT = os.path.join(PROJECT, "pyproject.toml")
NOT_BUILT = "compiled kernels are not built"


def run_python(args, cwd, pythonpath):
    """Run this Python on args in cwd with only pythonpath added to sys.path."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


# -- the source-tree guard -----------------------------------------------------------

def unbuilt_tree(tmp_path, leftovers):
    """A copy of the fastnet sources in tmp_path/tree, without compiled modules, plus
    the given leftover file names (what builds leave, or builds for other Pythons)."""
    tree = tmp_path / "tree"
    shutil.copytree(PACKAGE, tree / "fastnet", ignore=shutil.ignore_patterns(
        *("*" + s for s in importlib.machinery.EXTENSION_SUFFIXES), "*.c", "__pycache__"))
    if not (tree / "fastnet" / "_train.pyx").exists():
        pytest.skip("the installed package carries no .pyx sources to copy")
    for name in leftovers:
        (tree / "fastnet" / name).write_text("")
    return tree


LEFTOVERS = {
    # what `pip install .` leaves in the tree: Cython's C
    "generated C": ["_blas.c", "_kernels.c", "_train.c"],
    # built in place for another Python
    "another Python": ["_blas.cpython-38-x86_64-linux-gnu.so",
                       "_kernels.cpython-38-x86_64-linux-gnu.so",
                       "_train.cpython-38-x86_64-linux-gnu.so"],
    # a build stopped after its first module
    "part built": ["_blas" + importlib.machinery.EXTENSION_SUFFIXES[0]],
    "nothing": [],
}
ENTRY_POINTS = {
    "fastnet.MLP": ["-c", "import fastnet; fastnet.MLP"],
    "fastnet.load": ["-c", "import fastnet; fastnet.load"],
    "from fastnet import _kernels": ["-c", "from fastnet import _kernels"],
    "import fastnet.network": ["-c", "import fastnet.network"],
    "python -m fastnet": ["-m", "fastnet", "demo"],
}


@pytest.mark.parametrize("leftovers", LEFTOVERS)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_unbuilt_source_tree_gives_the_clear_message(tmp_path, leftovers, entry):
    tree = unbuilt_tree(tmp_path, LEFTOVERS[leftovers])
    result = run_python(ENTRY_POINTS[entry], cwd=tree, pythonpath=tree)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError") and NOT_BUILT in last, result.stderr
    assert "partially initialized" not in last and "circular import" not in last


def test_unbuilt_source_tree_still_serves_the_numpy_reference(tmp_path):
    tree = unbuilt_tree(tmp_path, ["_train.c"])
    code = ("import numpy as np, fastnet.reference as r; "
            "print(r.MLP([2, 3, 2], seed=0).predict(np.zeros((1, 2)))[0])")
    result = run_python(["-c", code], cwd=tree, pythonpath=tree)
    assert result.returncode == 0 and result.stdout.strip() == "0", result.stderr


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        fastnet.nonexistent  # noqa: B018
    assert hasattr(fastnet, "_train")   # built: the compiled modules import as usual


# -- import cost (in modules: what is imported, not how long it takes) --------------

def imported_after(code, tmp_path):
    """The modules `code` adds to sys.modules, in a fresh interpreter."""
    probe = (f"import sys; before = set(sys.modules); {code}; "
             f"print('\\n'.join(sorted(set(sys.modules) - before)))")
    result = run_python(["-c", probe], cwd=tmp_path, pythonpath=os.path.dirname(PACKAGE))
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_import_fastnet_alone_imports_neither_numpy_nor_the_kernels(tmp_path):
    added = imported_after("import fastnet", tmp_path)
    assert "fastnet" in added
    assert not {m for m in added if m.split(".")[0] in ("numpy", "scipy")}
    assert not {m for m in added if m.startswith("fastnet.")}


def test_the_compiled_network_takes_blas_without_scipy_linalg(tmp_path):
    added = imported_after("import fastnet; fastnet.MLP", tmp_path)
    assert "fastnet._blas" in added and "fastnet.network" in added
    # scipy.linalg's __init__ (LAPACK wrappers, array-API layers) was most of the cost
    assert "scipy.linalg" not in added
    # the optional parts are imported on use only
    optional = {"matplotlib", "tqdm", "sklearn", "torch", "dask", "distributed", "threadpoolctl"}
    assert not {m.split(".")[0] for m in added} & optional
    # nor what only some calls need: the file format (zipfile, json) for save/load and
    # pickling, numpy.random for a model's seed (numpy imports it lazily on first use)
    assert not added & {"fastnet._format", "zipfile", "json", "numpy.random"}
    # nor scipy: its BLAS is loaded by the first matrix product
    assert not {m for m in added if m.split(".")[0] == "scipy"}


def test_scipy_blas_is_loaded_by_the_first_matrix_product_only(tmp_path):
    # per-sample training and single-row predictions multiply no matrices
    code = ("import fastnet, numpy as np; net = fastnet.MLP([4, 8, 3]); "
            "net.fit(np.ones((6, 4)), np.zeros(6, int), batch_size=1, epochs=1); "
            "net.predict(np.ones((1, 4))); assert not fastnet._blas.loaded()")
    added = imported_after(code, tmp_path)
    assert not {m for m in added if m.split(".")[0] == "scipy"}
    code = ("import fastnet, numpy as np; fastnet.MLP([4, 8, 3]).predict(np.ones((5, 4))); "
            "assert fastnet._blas.loaded()")
    added = imported_after(code, tmp_path)
    assert "scipy.linalg.cython_blas" not in added and "scipy.linalg" not in added


def test_scipy_linalg_imported_after_fastnet_binds_the_same_cython_blas(tmp_path):
    code = ("import fastnet, numpy as np; fastnet.MLP([4, 8, 3]).predict(np.ones((5, 4))); "
            "import scipy.linalg; "
            "import scipy.linalg.cython_blas as c; "
            "assert scipy.linalg.cython_blas is c is sys.modules['scipy.linalg.cython_blas']; "
            "np.testing.assert_allclose(scipy.linalg.blas.dgemm(2.0, np.eye(2), np.ones((2, 2))), "
            "2 * np.ones((2, 2)))")
    imported_after(code, tmp_path)    # fails on an error in the subprocess


def test_gemm_through_the_loaded_pointers_matches_numpy():
    """The pointers taken from cython_blas's table compute what numpy computes (both
    transposes, both dtypes: a wrong pointer or signature would not)."""
    from fastnet import _kernels
    from fastnet.reference import kernels as ref
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((5, 3)).astype(dtype)
        W = rng.standard_normal((4, 3)).astype(dtype)
        b = rng.standard_normal(4).astype(dtype)
        out, expected = np.full((5, 4), np.nan, dtype), np.empty((5, 4), dtype)
        _kernels.dense_forward(out, x, W, b)
        ref.dense_forward(expected, x, W, b)
        np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


# -- BLAS threads through threadpoolctl -----------------------------------------------

def test_the_thread_limit_reaches_the_blas_of_fastnets_gemms():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastnet import _threads
    libs = _threads._blas_libraries()
    if not libs:
        pytest.skip("threadpoolctl finds no controllable BLAS here")
    scipy_blas = [lib for lib in threadpoolctl.threadpool_info()
                  if lib["user_api"] == "blas" and lib["filepath"] in {l.filepath for l in libs}]
    assert scipy_blas
    others = {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
              if lib["user_api"] == "blas" and lib not in scipy_blas}
    with _threads.limit_blas_threads(1):
        inside = {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()}
        assert all(inside[lib.filepath] == 1 for lib in libs)
        # numpy's own OpenBLAS (PyPI wheels), which fastnet does not call, is left alone
        assert all(inside[path] == n for path, n in others.items())
    after = {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()}
    assert all(after[lib["filepath"]] == lib["num_threads"] for lib in scipy_blas)


def test_the_thread_limit_is_restored_when_the_block_raises():
    from fastnet import _threads
    before = _threads.blas_threads()
    if before is None or before < 2:
        pytest.skip("one BLAS thread already, or no controllable BLAS")
    with pytest.raises(ZeroDivisionError):
        with _threads.limit_blas_threads(1):
            assert _threads.blas_threads() == 1
            1 / 0
    assert _threads.blas_threads() == before


# -- metadata ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pyproject():
    if not os.path.exists(PYPROJECT):
        pytest.skip("no pyproject.toml beside the tests (a copied test suite)")
    try:
        import tomllib
    except ImportError:
        tomllib = pytest.importorskip("tomli")
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)


def test_distribution_name_and_licence(pyproject):
    project = pyproject["project"]
    # "fastnet" on PyPI is an unrelated package with the same import name
    assert project["name"] != "fastnet" and project["scripts"]["fastnet"]
    assert project["license"] == "BSD-3-Clause"      # an SPDX expression, not a table
    assert not any(c.startswith("License ::") for c in project["classifiers"])
    for name in project["license-files"]:
        with open(os.path.join(PROJECT, name)) as f:
            assert "Redistribution and use in source and binary forms" in f.read()
    assert any(d.startswith("threadpoolctl") for d in project["dependencies"])


def test_classifiers_and_wheel_builds_cover_the_same_pythons(pyproject):
    classifiers = pyproject["project"]["classifiers"]
    minors = [c.rsplit(".", 1)[1] for c in classifiers
              if c.startswith("Programming Language :: Python :: 3.")]
    cibw = pyproject["tool"]["cibuildwheel"]
    assert cibw["build"].split() == [f"cp3{m}-*" for m in minors]
    assert f">=3.{minors[0]}" == pyproject["project"]["requires-python"]
    assert set(cibw["linux"]["archs"]) == {"x86_64", "aarch64"}
    assert set(cibw["macos"]["archs"]) == {"x86_64", "arm64"}
    assert "pytest" in cibw["test-command"] and "{project}/tests" in cibw["test-command"]
    for system in ("Linux", "MacOS", "Windows"):
        assert any(c.startswith("Operating System") and system in c for c in classifiers)


def test_optional_dependencies_one_extra_per_line():
    """Branches add extras; one line each keeps their merges apart."""
    if not os.path.exists(PYPROJECT):
        pytest.skip("no pyproject.toml beside the tests")
    with open(PYPROJECT) as f:
        text = f.read()
    table = text.split("[project.optional-dependencies]")[1].split("\n[")[0]
    lines = [l for l in table.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert lines and all(re.fullmatch(r'[a-z0-9-]+ = \[("[^"]+"(, )?)+\]', l) for l in lines), lines
