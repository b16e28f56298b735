"""Lazy BLAS loading, aligned model buffers and the softmax's exp: regressions found
by a review of those changes (each test failed on the first version of them)."""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import fastnet
import fastnet.reference

# the folder holding the fastnet under test (installed or built in place), for the
# subprocesses' PYTHONPATH: the repository root holds an unbuilt tree under CI
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))


@pytest.mark.parametrize("cls", [fastnet.MLP, fastnet.reference.MLP], ids=["compiled", "reference"])
def test_views_stay_live_when_fit_switches_optimizer(cls):
    """net.weights / net.parameters are live views; fit with another optimizer installs
    new state buffers but keeps the (already aligned) parameter buffer, so views taken
    before the fit still reach the model."""
    X = np.random.default_rng(0).standard_normal((20, 4)).astype("float32")
    y = np.arange(20) % 3
    net = cls([4, 8, 3], seed=0)
    w, p = net.weights[0], net.parameters
    net.fit(X, y, epochs=1, batch_size=5, optimizer="adam")
    assert np.shares_memory(w, net.weights[0])
    assert np.shares_memory(p, net.parameters)
    w[...] = 0                      # a write through the old view reaches the model
    assert np.all(net.weights[0] == 0)


def test_constructing_a_model_peaks_at_the_memory_it_guards():
    """check_training_memory checks params, grads and the optimizer's state (3 buffers
    with SGD); making a model allocates them aligned from the start, never as copies,
    so its peak stays at what the guard checked."""
    fastnet.MLP([2, 2])             # imports and first-use allocations outside the trace
    tracemalloc.start()
    try:
        net = fastnet.MLP([1000, 1000, 10], dtype="float64", seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    buffers = peak / (net.n_params * 8)
    assert buffers <= 3.5, f"peak of {buffers:.2f} parameter-sized buffers"


def test_blas_that_cannot_load_raises_instead_of_aborting(tmp_path):
    """scipy's BLAS is loaded by the first matrix product; when it cannot be used
    (simulated: a module without __pyx_capi__) that product raises a Python exception
    in the caller (the entry points load it with the GIL), never aborts."""
    code = textwrap.dedent("""
        import sys, types
        import numpy as np
        sys.modules["scipy.linalg.cython_blas"] = types.ModuleType("scipy.linalg.cython_blas")
        import fastnet
        net = fastnet.MLP([4, 8, 3], seed=0)      # no BLAS needed yet
        try:
            net.predict(np.ones((5, 4)))
        except Exception as exc:
            print("raised", type(exc).__name__)
        else:
            print("no error")
    """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-500:])
    assert "raised AttributeError" in proc.stdout   # the stub has no __pyx_capi__


@pytest.mark.parametrize("dtype,x", [("float32", -87.2), ("float64", -708.2)])
def test_softmax_keeps_probabilities_that_are_normal_numbers(dtype, x):
    """The softmax's exp gives 0 only below the smallest normal number:
    exp(-87.2) = 1.35e-38 (float32) and exp(-708.2) = 2.7e-308 (float64) are normal
    numbers and come out as such (so predict_log_proba stays finite there)."""
    net = fastnet.MLP([1, 2], output="softmax", dtype=dtype, seed=0)
    net.weights[0][...] = [[1.0], [0.0]]
    net.biases[0][...] = 0
    p0 = net.predict_proba(np.array([[x]], dtype=dtype))[0, 0]
    exact = np.exp(np.float64(x))
    assert exact > np.finfo(dtype).tiny          # a normal number of the dtype
    assert p0 > 0
    np.testing.assert_allclose(p0, exact, rtol=1e-5)


_RACE_PROBE = textwrap.dedent("""
    import sys, threading
    import numpy as np
    import fastnet
    sys.setswitchinterval(1e-6)     # switch threads often
    nets = [fastnet.MLP([6, 16, 3], seed=i) for i in range(8)]
    X = np.ones((50, 6))
    out = [None] * 8
    barrier = threading.Barrier(8)
    def go(i):
        barrier.wait()
        out[i] = nets[i].predict_proba(X).sum()     # each thread's first matrix product
    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(abs(o - 50) < 1e-3 for o in out), out
    print("ok")
""")


def test_first_matrix_products_from_several_threads_at_once(tmp_path):
    """Batch predictions that start together in several threads of a fresh process (a
    server's first requests) all load scipy's BLAS at once: one loads it, the others
    wait (unserialised, a second thread took the half-executed module and the process
    aborted about 2 runs in 10), so up to 15 runs."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for _ in range(15):
        proc = subprocess.run([sys.executable, "-c", _RACE_PROBE], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "ok" in proc.stdout, (proc.returncode,
                                                              proc.stderr[-500:])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [(1, 64, 64, 2), (3, 5, 7, 2), (64, 32, 10)])
@pytest.mark.parametrize("capacity", [1, 3])
def test_every_layer_slot_of_a_workspace_starts_on_a_cache_line(dtype, sizes, capacity):
    # the per-sample loop reads each layer's values from its slot: misaligned, vector
    # loads straddle lines (G float32 was ~30% slower in some processes)
    net = fastnet.MLP(sizes, "tanh", "softmax", dtype=dtype, seed=0)
    plan = net._plan(capacity)
    itemsize = np.dtype(dtype).itemsize
    for buf in (plan.acts, plan.deltas):
        base = buf.ctypes.data
        assert base % 64 == 0
        start = 0
        for s in sizes:                 # each slot holds capacity rows of s values
            assert (base + start * itemsize) % 64 == 0
            start += capacity * (-(-s * itemsize // 64) * 64 // itemsize)
        assert start <= buf.shape[0]
    # and the padding changes no value: a fit and a forward pass as the reference's
    X = np.random.default_rng(1).standard_normal((20, sizes[0])).astype(dtype)
    y = np.arange(20) % sizes[-1]
    ref = fastnet.reference.MLP(sizes, "tanh", "softmax", dtype=dtype, seed=0)
    for m in (net, ref):
        m.fit(X, y, epochs=2, learning_rate=0.05, batch_size=capacity)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(net.forward(X), ref.forward(X), rtol=tol, atol=tol)
