"""PyTorch interop: a fastnet network as a ``torch.nn.Sequential`` and back.

``nn.Linear`` stores its weight as (out, in), as fastnet does, so the weights copy
over unchanged. The hidden activations map to the torch.nn modules named by each
registry entry's ``layer`` (fastnet.components.ACTIVATIONS); the heads' output
transforms map through HEAD_MODULES. torch is imported here only (optional).
"""
import numpy as np

from fastnet.components import ACTIVATIONS


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError('PyTorch interop needs torch: pip install "fastnet[torch]"') \
            from None
    return torch


_EXP = None


def exp_module():
    """The class ``Exp`` (an nn.Module computing torch.exp), made on first use so that
    this module imports without torch; torch.nn has no exp module, and the poisson
    head's output transform needs one."""
    global _EXP
    if _EXP is None:
        torch = _torch()

        class Exp(torch.nn.Module):
            """Elementwise exp: the poisson head's output (log link)."""

            def forward(self, input):
                return torch.exp(input)

        Exp.__module__ = __name__
        Exp.__qualname__ = "Exp"
        _EXP = Exp
    return _EXP


def __getattr__(name):
    # fastnet._torch.Exp, for users and for pickles of exported Sequentials
    if name == "Exp":
        return exp_module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The head's output transform as a module factory (None: no module, the linear head).
HEAD_MODULES = {
    "softmax": lambda nn: nn.Softmax(dim=1),
    "linear": None,
    "logistic": lambda nn: nn.Sigmoid(),
    "poisson": lambda nn: exp_module()(),
}

_TORCH_DTYPES = {"float32": "float32", "float64": "float64"}


def to_torch(net):
    """See BaseMLP.to_torch."""
    torch = _torch()
    nn = torch.nn
    if net.output not in HEAD_MODULES:
        raise NotImplementedError(f"output={net.output!r} has no PyTorch translation yet "
                                  f"(fastnet/_torch.py)")
    dtype = getattr(torch, net.dtype.name)
    modules = []
    last = len(net.weights) - 1
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        modules.append(linear)
        if l < last:
            modules.append(getattr(nn, ACTIVATIONS[net.activation[l]].layer)())
    head = HEAD_MODULES[net.output]
    if head is not None:
        modules.append(head(nn))
    return nn.Sequential(*modules)


def _flatten(module, nn):
    if isinstance(module, nn.Sequential):
        for child in module:
            yield from _flatten(child, nn)
    else:
        yield module


def _head_of(module, nn):
    """The head a module after the last Linear stands for, or None."""
    if isinstance(module, nn.Softmax):
        # dim None is torch's implicit (deprecated) choice: 1 for 2-D input
        return "softmax" if module.dim in (1, -1, None) else None
    if isinstance(module, nn.Sigmoid):
        return "logistic"
    if isinstance(module, nn.Identity):
        return "linear"
    if isinstance(module, exp_module()):
        return "poisson"
    return None


def from_torch(cls, module, dtype, seed):
    """See BaseMLP.from_torch."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential of Linear layers and "
                        f"activations, got {type(module).__name__}")
    activations = {getattr(nn, a.layer): name for name, a in ACTIVATIONS.items()}
    supported = ", ".join(f"nn.{a.layer}" for a in ACTIVATIONS.values())
    items = list(_flatten(module, nn))
    linears, hidden, head = [], [], "linear"
    i = 0
    while i < len(items):
        m = items[i]
        where = f"module {i} ({m!r})"
        if not isinstance(m, nn.Linear):
            raise ValueError(f"{where}: expected nn.Linear here (a Sequential of Linear "
                             f"layers, each followed by at most one of {supported}, the "
                             f"last by at most the head)")
        linears.append(m)
        nxt = items[i + 1] if i + 1 < len(items) else None
        more = any(isinstance(x, nn.Linear) for x in items[i + 1:])
        if not more:
            rest = items[i + 1:]
            if len(rest) > 1:
                raise ValueError(f"module {i + 2} ({rest[1]!r}): nothing may follow the "
                                 f"output head {rest[0]!r}")
            if rest:
                head = _head_of(rest[0], nn)
                if head is None:
                    raise ValueError(
                        f"module {i + 1} ({rest[0]!r}) after the last Linear has no fastnet "
                        f"output head; supported: nn.Softmax(dim=1) (softmax), nn.Sigmoid "
                        f"(logistic), fastnet._torch.Exp (poisson), nn.Identity or nothing "
                        f"(linear)")
            break
        if isinstance(nxt, nn.Linear):
            hidden.append("identity")
            i += 1
        elif type(nxt) in activations:
            hidden.append(activations[type(nxt)])
            i += 2
        else:
            raise ValueError(f"module {i + 1} ({nxt!r}) has no fastnet equivalent; a hidden "
                             f"Linear may be followed by one of {supported} (or directly "
                             f"by the next Linear)")
    if not linears:
        raise ValueError("module holds no nn.Linear layer")
    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    for l in range(1, len(linears)):
        if linears[l].in_features != linears[l - 1].out_features:
            raise ValueError(f"Linear layers {l - 1} and {l} do not chain: "
                             f"{linears[l - 1].out_features} outputs into "
                             f"{linears[l].in_features} inputs")
    if dtype is None:
        kinds = {str(m.weight.dtype).replace("torch.", "") for m in linears}
        if len(kinds) != 1 or not kinds <= set(_TORCH_DTYPES):
            raise ValueError(f"the Linear weights are {', '.join(sorted(kinds))}; pass "
                             f"dtype='float32' or 'float64' to convert them")
        dtype = kinds.pop()
    net = cls(sizes, activation=hidden or "relu", output=head, dtype=dtype, seed=seed)
    dtype = net.dtype
    weights, biases = net.weights, net.biases
    for l, m in enumerate(linears):
        W = m.weight.detach().to("cpu", torch.float64).numpy()
        b = (m.bias.detach().to("cpu", torch.float64).numpy() if m.bias is not None
             else np.zeros(W.shape[0]))
        with np.errstate(over="ignore"):
            W, b = W.astype(dtype), b.astype(dtype)
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"Linear layer {l} holds NaN or infinity (in {dtype.name})")
        weights[l][...] = W
        biases[l][...] = b
    return net
