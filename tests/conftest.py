"""Shared test machinery: the implementations, the tolerance table, the one
finite-difference helper, and data and parameters derived from the component
registries (fastnet/components.py).

Tests that cover components parametrize over ``components.ACTIVATIONS``,
``components.HEADS`` and ``components.OPTIMIZERS`` (never over hand-typed names), so a
newly registered component is tested without touching the tests.
"""
import os
import shutil
import subprocess
from collections import namedtuple

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS

# From an unbuilt source tree (`python -m pytest` at the repository root, or in an
# unpacked sdist) stop here with fastnet's clear message, once, instead of failing
# every test module on a missing compiled module.
fastnet._compiled_network()


def pytest_report_header(config):
    """Which fastnet is under test: the installed wheel, or an in-place build."""
    return f"fastnet {fastnet.__version__} from {os.path.dirname(fastnet.__file__)}"


IMPLEMENTATIONS = {"fastnet": fastnet, "reference": fastnet.reference}
DTYPES = ("float32", "float64")


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    """Each public-API test runs on both implementations."""
    return IMPLEMENTATIONS[request.param]


# ---------------------------------------------------------------------------------
# Tolerances: ONE table, keyed (check, dtype name)
# ---------------------------------------------------------------------------------

Tol = namedtuple("Tol", "rel abs")
Tol.__new__.__defaults__ = (0.0,)

TOL = {
    # Compiled kernel against its NumPy twin (fastnet._kernels vs reference.kernels),
    # relative to the largest value compared: a few roundings of float32 / of double.
    ("kernel", "float32"): Tol(2e-5),
    ("kernel", "float64"): Tol(1e-12),
    # The optimizer update: the same operations in the same order in C and NumPy
    # (eta, momentum and l2 rounded to the dtype first), so bitwise equal.
    ("update", "float32"): Tol(0.0),
    ("update", "float64"): Tol(0.0),
    # A chain of compiled layers against the NumPy layers: the kernel tolerance,
    # grown by one order for the gradients going back through three layers.
    ("layers", "float32"): Tol(2e-4),
    ("layers", "float64"): Tol(1e-11),
    # A whole network, fastnet vs reference, on the same parameters: forward, loss
    # and gradient (BLAS sums in other orders; the loss is accumulated in chunks).
    ("network", "float32"): Tol(1e-4, 1e-6),
    ("network", "float64"): Tol(1e-12, 1e-15),
    # One epoch of steps on a fast path (fused per-sample C loop, SGD folded into the
    # backward GEMMs) against the general compiled path, relative to the whole
    # parameter vector (a single bias near 0 has no scale of its own).
    ("fast_path", "float32"): Tol(1e-5),
    ("fast_path", "float64"): Tol(1e-13),
    # Training trajectories, fastnet vs reference, same seed, after a few epochs:
    # rounding differences grow with every step of a stable run.
    ("trajectory", "float32"): Tol(1e-4),
    ("trajectory", "float64"): Tol(1e-9),
    # The optimizer's state after those epochs: Adam's moments follow the gradients,
    # whose smallest entries (differences of near-equal sums) carry the two paths'
    # rounding differences undamped; in float32 that is ~1e-4 of the largest moment.
    ("trajectory_state", "float32"): Tol(1e-3),
    ("trajectory_state", "float64"): Tol(1e-9),
    # The single-row latency path (C loops) against the batch path (BLAS).
    ("single_row", "float32"): Tol(1e-5),
    ("single_row", "float64"): Tol(1e-13),
    # export_c's generated C (printed with 17 digits) against net.forward.
    ("export", "float32"): Tol(2e-5, 4e-7),
    ("export", "float64"): Tol(1e-12, 1e-14),
    # Central finite differences (fd_gradient, eps 1e-6) against the analytic
    # gradient, float64 only: truncation O(eps^2) plus roundoff ~1e-16 / eps gives
    # ~1e-10; deep sigmoid gradients are ~1e-4, so the bound mixes abs and rel.
    ("finite_difference", "float64"): Tol(1e-6, 1e-8),
    # Analytic gradients against PyTorch autograd of the same network, float64.
    ("autograd", "float64"): Tol(1e-10, 1e-14),
}


def tol(check, dtype):
    """The Tol (rel, abs) of a check at a dtype (a name, numpy dtype or scalar type)."""
    return TOL[(check, np.dtype(dtype).name)]


def max_rel_diff(a, b):
    """Largest |a - b| relative to the largest |b| (0 when both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(b)), 1e-300)
    return float(np.max(np.abs(a - b)) / scale)


def assert_close(actual, expected, check, dtype, err_msg=""):
    """max |actual - expected| <= rel * max |expected| + abs, with (rel, abs) the
    table's entry for (check, dtype); the error is relative to the scale of the whole
    array compared. An infinity (an output that overflowed, as exp does) must be the
    same infinity at the same place in both; NaN anywhere fails (the kernel tests fill
    outputs with NaN to catch entries never written)."""
    t = tol(check, dtype)
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{err_msg}: shapes {a.shape} and {e.shape}"
    assert not (np.isnan(a).any() or np.isnan(e).any()), f"{err_msg}: NaN in the results"
    infinite = np.isinf(e)
    assert np.array_equal(np.isinf(a), infinite) and np.array_equal(a[infinite], e[infinite]), \
        f"{err_msg}: the infinities differ"
    a, e = a[~infinite], e[~infinite]
    if a.size == 0:
        return
    err = float(np.max(np.abs(a - e)))
    bound = t.rel * float(np.max(np.abs(e))) + t.abs
    assert err <= bound, (f"{err_msg} [{check}, {np.dtype(dtype).name}]: max error "
                          f"{err:.3g} > {bound:.3g} (rel {t.rel:g}, abs {t.abs:g})")


# ---------------------------------------------------------------------------------
# The finite-difference helper: every gradient check goes through it
# ---------------------------------------------------------------------------------

FD_EPS = 1e-6


def fd_gradient(f, x, eps=FD_EPS):
    """Central finite differences of the scalar ``f()`` with respect to every entry of
    the float64 array ``x``, which f reads (a live view: model parameters, a kernel's
    input). Each entry is moved by +-eps in place and restored exactly.

    Returns an array shaped like x.
    """
    assert x.dtype == np.float64, "finite differences are meaningful in float64 only"
    flat = x.reshape(-1)
    assert np.shares_memory(flat, x), "x must be reshapeable without a copy"
    grad = np.empty(flat.size)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad.reshape(x.shape)


# ---------------------------------------------------------------------------------
# Data and parameters derived from the registries
# ---------------------------------------------------------------------------------

def make_truth(head, rng, n, k):
    """Truth of n samples for a head with k outputs, as the head's ``truth`` says:
    integer classes 0..k-1 for "labels", 0/1 values (n, k) for "indicators", real
    values (n, k) for "targets", Poisson counts (n, k) (zeros among them) for
    "counts"."""
    if head.truth == "labels":
        return rng.integers(0, k, n)
    if head.truth == "indicators":
        return rng.integers(0, 2, (n, k)).astype(np.float64)
    if head.truth == "targets":
        return rng.standard_normal((n, k))
    if head.truth == "counts":
        return rng.poisson(1.5, (n, k)).astype(np.float64)
    raise AssertionError(f"head {head.name!r} has unknown truth {head.truth!r}")


def make_problem(head, n, d, k, seed=0):
    """(X, y): n standard-normal rows of d features and their truth for the head."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, make_truth(head, rng, n, k)


def all_activations(n_layers):
    """One activation per hidden layer cycling through every registered activation:
    a network that mixes them all."""
    names = ACTIVATIONS.names
    return [names[i % len(names)] for i in range(n_layers)]


# Non-default settings the tests give each optimizer hyperparameter (a configuration
# field of an OPTIMIZERS entry), with whatever makes it take effect (Nesterov needs
# momentum); learning_rate is chosen by each test for stability.
HYPERPARAMETER_VALUES = {
    "lr_decay": {"lr_decay": 0.1}, "momentum": {"momentum": 0.9}, "l2": {"l2": 0.01},
    "nesterov": {"nesterov": True, "momentum": 0.9},
    "beta_1": {"beta_1": 0.8}, "beta_2": {"beta_2": 0.99}, "epsilon": {"epsilon": 1e-3},
}


def optimizer_variants():
    """pytest params (optimizer name, hyperparameters) for every registered optimizer:
    its defaults, each hyperparameter moved off its default alone, and all together."""
    params = []
    for opt in OPTIMIZERS.values():
        tuned = [h for h in opt.hyperparameters if h != "learning_rate"]
        missing = set(tuned) - set(HYPERPARAMETER_VALUES)
        if missing:
            raise AssertionError(f"optimizer {opt.name!r}: give the tests a value for "
                                 f"{sorted(missing)} in HYPERPARAMETER_VALUES")
        params.append(pytest.param(opt.name, {}, id=f"{opt.name}-plain"))
        for h in tuned:
            params.append(pytest.param(opt.name, dict(HYPERPARAMETER_VALUES[h]),
                                       id=f"{opt.name}-{h}"))
        if len(tuned) > 1:
            every = {}
            for h in tuned:
                every.update(HYPERPARAMETER_VALUES[h])
            if "momentum" in every:
                every["momentum"] = 0.5
            params.append(pytest.param(opt.name, every, id=f"{opt.name}-all"))
    return params


def stable_learning_rate(base, hyperparameters):
    """A step size that keeps a run stable: with momentum mu the effective step is
    lr / (1 - mu), and an unstable run amplifies rounding differences until any two
    runs part ways."""
    return base * (1 - hyperparameters.get("momentum", 0.0))


HEAD_PARAMS = [pytest.param(h, id=h.name) for h in HEADS.values()]


# ---------------------------------------------------------------------------------
# export_c: compile the generated C with the system compiler and run it
# ---------------------------------------------------------------------------------

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")

EXPORT_MAIN = r"""
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


def run_exported(net, tmp_path, X, name="model"):
    """Export `net` to C, compile it with a small driver (warnings are errors) and run
    it on the rows of X. Returns (returned class per row, outputs (n, k))."""
    if CC is None:
        pytest.skip("no C compiler on this machine")
    c_path, _ = net.export_c(tmp_path / f"{name}.c")
    main = tmp_path / f"{name}_main.c"
    main.write_text(EXPORT_MAIN.replace("UPPER", name.upper()).replace("NAME", name))
    exe = tmp_path / f"{name}_run"
    build = subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Werror", "-o", str(exe),
                            str(main), c_path, "-lm"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in X)
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True,
                         check=True).stdout
    rows = np.array([[float(t) for t in line.split()] for line in out.strip().splitlines()])
    return rows[:, 0].astype(int), rows[:, 1:]
