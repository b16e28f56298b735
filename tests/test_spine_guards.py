"""The spine's public state accessors, the test hook and the exporter refuse what
they cannot honour, before changing anything; fastnet.reference imports with NumPy
alone."""
import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnet
from fastnet.testing import run_steps


def _trained(impl, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    net = impl.MLP([3, 4, 2], dtype="float64", seed=seed)
    net.fit(X, y, epochs=2, momentum=0.5, learning_rate=0.1)
    return net, X, y


@pytest.mark.parametrize("change, match", [
    (dict(velocity=np.array(["x"] * 26)), "not numeric"),
    (dict(velocity=np.zeros(5)), "shape"),
    (dict(velocity=np.full(26, np.nan)), "NaN or infinity"),
    (dict(updates=-1), "updates"),
    (dict(updates=2 ** 64), "updates"),
    (dict(updates="3"), "updates"),
])
def test_load_state_dict_checks_everything_before_copying(impl, change, match):
    net, _, _ = _trained(impl)
    before = net.state_dict()
    state = net.state_dict()
    state["params"] = state["params"] + 1         # valid, and must not be applied
    state.update(change)
    with pytest.raises(ValueError, match=match):
        net.load_state_dict(state)
    after = net.state_dict()
    for key in ("params", "velocity"):
        np.testing.assert_array_equal(after[key], before[key])
    assert after["updates"] == before["updates"]


def test_state_dict_round_trip_restores_training_state(impl):
    # Full batches: the sampling order (not part of the state) changes only the order
    # of a sum, so the restored model takes the same steps as an untouched copy.
    net, X, y = _trained(impl)
    twin = pickle.loads(pickle.dumps(net))
    snapshot = net.state_dict()
    net.fit(X, y, epochs=3, batch_size=20, momentum=0.5, learning_rate=0.1, lr_decay=0.5)
    assert net.state_dict()["updates"] == snapshot["updates"] + 3
    net.load_state_dict(snapshot)
    for model in (net, twin):
        model.fit(X, y, epochs=2, batch_size=20, momentum=0.5, learning_rate=0.1,
                  lr_decay=0.5)
    np.testing.assert_allclose(net.parameters, twin.parameters, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.state_dict()["velocity"], twin.state_dict()["velocity"],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs, match", [
    (dict(order=[0, 1.5]), "integer row indices"),
    (dict(order=[True, False]), "integer row indices"),
    (dict(order=[0, 20]), "integer row indices"),
    (dict(order=[[0, 1]]), "integer row indices"),
    (dict(t0=-1), "t0"),
    (dict(t0=1.5), "t0"),
    (dict(batch_size="2"), "batch_size"),
    (dict(batch_size=0), "batch_size"),
    (dict(fast_paths=("warp",)), "unknown fast paths"),
])
def test_run_steps_refuses_bad_arguments(impl, kwargs, match):
    net, X, y = _trained(impl)
    before = net.state_dict()
    with pytest.raises(ValueError, match=match):
        run_steps(net, X, y, learning_rate=0.1, **kwargs)
    np.testing.assert_array_equal(net.parameters, before["params"])


def test_fit_from_its_own_callback_is_refused(impl):
    net, X, y = _trained(impl)
    errors = []

    def callback(record):
        try:
            net.fit(X, y)
        except RuntimeError as exc:
            errors.append(str(exc))

    net.fit(X, y, epochs=2, callback=callback)
    assert len(errors) == 2 and all("has not returned" in e for e in errors)


def test_export_refuses_what_it_cannot_write(tmp_path):
    net, _, _ = _trained(fastnet)
    with pytest.raises(ValueError, match="overwritten by its own header"):
        net.export_c(tmp_path / "model.h")
    with pytest.raises(ValueError, match="fnet_"):
        net.export_c(tmp_path / "m.c", name="fnet_model")
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.export_c(tmp_path / "model.c")
    assert not os.path.exists(tmp_path / "model.c")


def test_load_refuses_overflowing_metadata(tmp_path):
    import json
    import zipfile
    net, _, _ = _trained(fastnet)
    path = tmp_path / "m.npz"
    net.save(path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop("meta")[()]))
    meta["rng_state"]["state"]["state"] = 2 ** 200
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    assert zipfile.is_zipfile(path)
    with pytest.raises(ValueError, match="invalid metadata"):
        fastnet.load(path)


def test_reference_imports_with_numpy_alone_from_an_unbuilt_tree(tmp_path):
    """fastnet.reference and fastnet.components need no compiled code and no scipy:
    a copy of the package's Python files, with scipy made unimportable, trains."""
    src = os.path.dirname(fastnet.__file__)
    dst = tmp_path / "fastnet"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c",
                                                             "__pycache__", "build"))
    script = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("scipy", "sklearn", "torch"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        import fastnet.reference as R
        from fastnet import components
        X = np.random.default_rng(0).standard_normal((30, 2)); y = (X[:, 0] > 0).astype(int)
        net = R.MLP([2, 6, 2], "identity", seed=0)
        net.fit(X, y, epochs=20, learning_rate=0.1)
        assert net.score(X, y) > 0.9, net.score(X, y)
        try:
            import fastnet; fastnet.MLP
        except ImportError as exc:
            assert "not built" in str(exc), exc
        else:
            raise AssertionError("the unbuilt tree imported a compiled MLP")
        assert "scipy" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


CC = shutil.which("cc") or shutil.which("gcc")


@pytest.mark.skipif(CC is None, reason="no C compiler on this machine")
def test_a_missing_case_in_the_component_header_fails_the_build(tmp_path):
    """Every dispatch in _components.h is an exhaustive switch whose missing case is a
    compile error, with the build's own warning flags (-Wall turns on -Wswitch)."""
    src = os.path.dirname(fastnet.__file__)
    for name in ("_components.h", "_components_impl.h"):
        shutil.copy(os.path.join(src, name), tmp_path / name)
    main = tmp_path / "main.c"
    main.write_text('#include "_components.h"\nint main(void) { return 0; }\n')
    ok = subprocess.run([CC, "-std=c99", "-Wall", "-c", str(main), "-o", str(tmp_path / "m.o")],
                        cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    impl = (tmp_path / "_components_impl.h").read_text()
    case = "    case FNET_ACT_IDENTITY:         /* derivative 1 */\n        return 0;\n"
    assert impl.count(case) == 1
    (tmp_path / "_components_impl.h").write_text(impl.replace(case, ""))
    bad = subprocess.run([CC, "-std=c99", "-Wall", "-c", str(main), "-o", str(tmp_path / "m.o")],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0 and "FNET_ACT_IDENTITY" in bad.stderr


@pytest.mark.parametrize("dtype, lr", [("float32", 3e38), ("float64", 1e308)])
def test_a_last_step_that_overflows_is_divergence(impl, dtype, lr):
    """One sample (or full batches): every step is the last of its epoch, and no loss
    after it is ever computed; the parameters are checked at the end of every chunk."""
    net = impl.MLP([1, 1], output="linear", dtype=dtype, seed=0)
    before = net.parameters.copy()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        net.fit([[10.0]], [1.0], learning_rate=lr)
    np.testing.assert_array_equal(net.parameters, before)   # back to the epoch start
    assert np.isfinite(net.parameters).all()


def test_adam_second_moment_overflow_is_divergence(impl, tmp_path):
    """A loss of 1e36 is finite in float32, its squared gradient is not: the state
    overflows while every loss stays finite. fit raises and rolls back; the model can
    still be saved."""
    net = impl.MLP([1, 1], output="linear", seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError):
        net.fit([[100.0]], [1e18], optimizer="adam")
    state = net.state_dict()
    assert all(np.isfinite(state[k]).all() for k in ("params", "m", "v"))
    net.save(tmp_path / "m.npz")
    net.load_state_dict(state)


@pytest.mark.parametrize("option", [dict(epsilon=1e-50), dict(beta_1=1 - 1e-9),
                                    dict(beta_2=1 - 1e-9)])
def test_hyperparameters_are_checked_in_the_models_dtype(impl, option):
    X, y = [[1.0, 0.0], [0.0, 1.0]], [1, 0]
    net32 = impl.MLP([2, 1], output="logistic", dtype="float32", seed=0)
    before = net32.state_dict()
    with pytest.raises(ValueError, match="in float32"):
        net32.fit(X, y, optimizer="adam", **option)
    assert net32.state_dict().keys() == before.keys()         # still SGD: nothing changed
    with pytest.raises(ValueError, match="in float32"):
        net32.fit(X, y, learning_rate=1e-50)
    impl.MLP([2, 1], output="logistic", dtype="float64", seed=0).fit(
        X, y, optimizer="adam", **option)                     # representable in float64


def test_state_checks_know_each_buffers_range(impl):
    net = impl.MLP([2, 1], output="logistic", dtype="float64", seed=0)
    net.fit([[1.0, 0.0], [0.0, 1.0]], [1, 0], optimizer="adam")
    state = net.state_dict()
    with pytest.raises(ValueError, match="negative"):
        net.load_state_dict(dict(state, v=-np.ones_like(state["v"])))
    with pytest.raises(ValueError, match="complex"):
        net.load_state_dict(dict(state, m=state["m"] + 1j))
    np.testing.assert_array_equal(net.state_dict()["v"], state["v"])


def test_update_count_limit_is_refused_before_training(impl):
    net, X, y = _trained(impl)
    state = net.state_dict()
    net.load_state_dict(dict(state, updates=2 ** 62 - 5))
    before = net.state_dict()
    with pytest.raises(ValueError, match="2\\*\\*62"):
        net.fit(X, y, momentum=0.5)
    after = net.state_dict()
    assert after["updates"] == before["updates"]
    np.testing.assert_array_equal(after["params"], before["params"])
