"""PyTorch interop (issue 14): MLP.to_torch gives an nn.Sequential computing forward,
MLP.from_torch reads one back, for every registered activation and head, both dtypes
and both implementations; what fastnet cannot represent is refused by name."""
import pickle

import numpy as np
import pytest

import fastnet
import fastnet.reference
from fastnet.components import ACTIVATIONS, HEADS

torch = pytest.importorskip("torch")
nn = torch.nn
from fastnet import _torch  # noqa: E402  (after the skip: it is imported lazily anyway)

# torch against fastnet on the same weights, relative to the largest output.
RTOL = {"float32": 2e-6, "float64": 1e-13}


def _close(actual, expected, dtype):
    expected = np.asarray(expected, dtype=np.float64)
    err = np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected))
    assert err <= RTOL[dtype] * np.max(np.abs(expected)), err


def _X(dtype, n=8, d=4):
    return np.random.default_rng(0).standard_normal((n, d)).astype(dtype) * 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head", HEADS.names)
@pytest.mark.parametrize("activation", ACTIVATIONS.names)
def test_to_torch_and_back(impl, activation, head, dtype):
    k = max(HEADS[head].min_outputs, 3)
    acts = [activation, ACTIVATIONS.names[(ACTIVATIONS[activation].code + 1) % len(ACTIVATIONS)]]
    net = impl.MLP([4, 6, 5, k], activation=acts, output=head, dtype=dtype, seed=3)
    for b in net.biases:
        b[...] = np.linspace(-0.5, 0.5, b.size)
    X = _X(dtype)
    seq = net.to_torch()
    assert isinstance(seq, nn.Sequential)
    linears = [m for m in seq if isinstance(m, nn.Linear)]
    assert [m.weight.dtype for m in linears] == [getattr(torch, dtype)] * 3
    np.testing.assert_array_equal(linears[1].weight.detach().numpy(), net.weights[1])
    with torch.no_grad():
        _close(seq(torch.from_numpy(X)).numpy(), net.forward(X), dtype)
    # the copy is independent of the model
    with torch.no_grad():
        linears[0].weight.add_(1.0)
    back = impl.MLP.from_torch(seq)
    assert type(back) is impl.MLP
    assert (back.layer_sizes, back.activation, back.output, back.dtype) == \
        (net.layer_sizes, net.activation, net.output, net.dtype)
    with torch.no_grad():
        _close(back.forward(X), seq(torch.from_numpy(X)).numpy(), dtype)
    assert not np.array_equal(back.weights[0], net.weights[0])


def test_every_head_has_a_module():
    assert set(_torch.HEAD_MODULES) == set(HEADS)


def test_from_torch_of_a_torch_model(impl):
    """A Sequential written in torch (no head module, a Linear without bias, an
    activation between Linears left out, nested Sequentials) trains on in fastnet."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Sequential(nn.Linear(3, 8), nn.ReLU()), nn.Linear(8, 5, bias=False),
                        nn.Linear(5, 2))
    net = impl.MLP.from_torch(seq, seed=0)
    assert net.layer_sizes == [3, 8, 5, 2]
    assert net.activation == ["relu", "identity"] and net.output == "linear"
    assert net.dtype == np.float32
    np.testing.assert_array_equal(net.biases[1], 0)
    X = _X("float32", d=3)
    with torch.no_grad():
        _close(net.forward(X), seq(torch.from_numpy(X)).numpy(), "float32")
    net.fit(X, np.zeros((8, 2)), epochs=2)
    # converting dtypes on request
    assert impl.MLP.from_torch(seq, dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="dtype"):
        impl.MLP.from_torch(seq.to(torch.float16))


@pytest.mark.parametrize("modules,match", [
    (lambda: [nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)], "GELU"),
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1), nn.Linear(4, 2)], "Dropout"),
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.ReLU(), nn.Linear(4, 2)], "ReLU"),
    (lambda: [nn.Linear(3, 4), nn.LogSoftmax(dim=1)], "LogSoftmax"),
    (lambda: [nn.Linear(3, 4), nn.Softmax(dim=0)], "Softmax"),
    (lambda: [nn.Linear(3, 4), nn.Softmax(dim=1), nn.Identity()], "nothing may follow"),
    (lambda: [nn.ReLU(), nn.Linear(3, 4)], "expected nn.Linear"),
    (lambda: [nn.Linear(3, 4), nn.Linear(5, 2)], "do not chain"),
    (lambda: [], "no nn.Linear"),
    (lambda: [nn.Linear(3, 1), nn.Softmax(dim=1)], "at least 2"),
])
def test_unrepresentable_refused(impl, modules, match):
    with pytest.raises(ValueError, match=match):
        impl.MLP.from_torch(nn.Sequential(*modules()))


def test_refused_arguments(impl):
    with pytest.raises(TypeError, match="Sequential"):
        impl.MLP.from_torch(nn.Linear(3, 2))
    seq = nn.Sequential(nn.Linear(3, 2))
    with torch.no_grad():
        seq[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        impl.MLP.from_torch(seq)
    seq = seq.double()
    with torch.no_grad():
        seq[0].weight[0, 0] = 1e300
    impl.MLP.from_torch(seq)                                     # float64: fine
    with pytest.raises(ValueError, match="infinity"):
        impl.MLP.from_torch(seq, dtype="float32")


def test_poisson_module_pickles():
    seq = fastnet.reference.MLP([2, 3, 1], output="poisson", seed=0).to_torch()
    assert type(seq[-1]) is _torch.Exp
    back = pickle.loads(pickle.dumps(seq))
    x = torch.ones(1, 2)
    assert torch.equal(back(x), seq(x))
