"""The model file, format version 2 (issue 14): named per-layer arrays that numpy.load
reads alone, in PyTorch's names and layout; files of version 1 (fastnet 0.1, flat
buffers) still load, checked against files written by the version-1 code."""
import json
import pathlib

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet import _format
from fastnet.components import OPTIMIZERS

DATA = pathlib.Path(__file__).parent / "data"


def _trained(impl, optimizer="sgd", dtype="float64"):
    net = impl.MLP([3, 5, 4, 2], activation=["tanh", "relu"], dtype=dtype, seed=1)
    X = np.random.default_rng(0).standard_normal((10, 3))
    net.fit(X, np.arange(10) % 2, epochs=2, batch_size=3, optimizer=optimizer,
            **({"momentum": 0.9} if optimizer == "sgd" else {}))
    return net


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_reads_the_layers(tmp_path, impl, optimizer, dtype):
    net = _trained(impl, optimizer, dtype)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["meta"][()]))
        assert meta["version"] == 2 and meta["optimizer"] == optimizer
        names = [f"layers.{l}.{kind}" for l in range(3) for kind in ("weight", "bias")]
        state = OPTIMIZERS[optimizer].state
        assert sorted(f.files) == sorted(["meta"] + names + [f"{s}.{n}" for s in state
                                                             for n in names])
        for l in range(3):
            assert f[f"layers.{l}.weight"].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(f[f"layers.{l}.weight"], net.weights[l])
            np.testing.assert_array_equal(f[f"layers.{l}.bias"], net.biases[l])
        # the state buffers in the same per-layer layout as the parameters
        for s in state:
            flat = net.state_dict()[s]
            back = np.concatenate([f[f"{s}.layers.{l}.weight"].ravel() for l in range(3)]
                                  + [f[f"{s}.layers.{l}.bias"] for l in range(3)])
            np.testing.assert_array_equal(back, flat)
            assert np.any(flat != 0)
    for other in (fastnet, fastnet.reference):
        back = other.load(tmp_path / "m.npz")
        for key, value in net.state_dict().items():
            np.testing.assert_array_equal(back.state_dict()[key], value)


def test_weights_edited_with_numpy_load(tmp_path, impl):
    """A file rewritten with numpy alone (np.savez of edited arrays) loads the edit,
    a column-major matrix included."""
    net = _trained(impl)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        arrays = {k: f[k] for k in f.files}
    W = np.arange(20.0).reshape(4, 5)
    arrays["layers.1.weight"] = np.asfortranarray(W)
    arrays["layers.2.bias"] = np.array([0.5, -0.5])
    np.savez(tmp_path / "edited.npz", **arrays)
    back = impl.load(tmp_path / "edited.npz")
    np.testing.assert_array_equal(back.weights[1], W)
    np.testing.assert_array_equal(back.biases[2], [0.5, -0.5])
    np.testing.assert_array_equal(back.weights[0], net.weights[0])


def test_version_1_written_today_round_trips(tmp_path, impl):
    net = _trained(impl, "adam")
    _format.save(net, tmp_path / "old.npz", version=1)
    with np.load(tmp_path / "old.npz") as f:
        assert sorted(f.files) == ["m", "meta", "params", "v"]
        np.testing.assert_array_equal(f["params"], net.parameters)
    back = impl.load(tmp_path / "old.npz")
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)
    with pytest.raises(ValueError, match="version"):
        _format.save(net, tmp_path / "x.npz", version=3)


@pytest.mark.parametrize("name", ["sgd_float64", "adam_float32"])
def test_version_1_files_load(impl, name):
    """Files written by fastnet's version-1 code (before this format existed; see
    tests/data) load with their parameters, optimizer state and update count, and
    compute what they computed then."""
    path = DATA / f"v1_{name}.npz"
    expected = np.load(DATA / "v1_expected.npz")
    net = impl.load(path)
    with np.load(path) as f:
        assert json.loads(str(f["meta"][()]))["version"] == 1
        for key in f.files:
            if key != "meta":
                np.testing.assert_array_equal(net.state_dict()[key], f[key])
    assert net.state_dict()["updates"] == int(expected[name.split("_")[0] + "_updates"])
    np.testing.assert_allclose(net.forward(expected["X"]), expected[name],
                               rtol=1e-5 if "32" in name else 1e-12, atol=1e-7)
    # and it keeps training, then saves in the current version
    net.fit(expected["X"], np.zeros((12, 2)) if "adam" in name else np.zeros(12, int))
