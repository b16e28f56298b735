"""The same work in PyTorch (CPU, eager), for the ``torch`` column.

torch is optional: it is imported only when a comparison is asked for, and every
function here answers None (or False) when it is not installed, so fastnet and the
rest of the bench work without it.
"""
from typing import Optional

from fastnet.components import ACTIVATIONS, HEADS
from fastnet.bench.configs import Config, make_data
from fastnet.bench.timing import median_time


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    return _import_torch() is not None


def _model(torch, config: Config, torch_dtype):
    # the registry's layer class names are torch.nn's (ReLU, Tanh, Sigmoid, Identity)
    act = getattr(torch.nn, ACTIVATIONS[config.activation].layer)
    sizes = config.sizes
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    # the output activation is left to the loss (cross-entropy) or absent (linear)
    return torch.nn.Sequential(*layers).to(torch_dtype)


def torch_time(config: Config, dtype: str, n: int, repeats: int) -> Optional[float]:
    """Seconds per sample (fit) or per call (predict) of the same work in PyTorch.

    Timed like :func:`fastnet.bench.time_impl`: one warm-up run, then the median of
    ``repeats`` runs. Training is plain SGD over a random permutation in minibatches
    of the configuration's size with its learning rate; prediction includes the
    argmax and the conversion to NumPy (call to result).

    Parameters
    ----------
    config : Config
    dtype : str
        ``"float32"`` or ``"float64"``.
    n : int
        Samples (fit) or calls (one-row predict); unused for many-row predict.
    repeats : int

    Returns
    -------
    float or None
        None when torch is not installed.
    """
    torch = _import_torch()
    if torch is None:
        return None
    torch_dtype = torch.float32 if dtype == "float32" else torch.float64
    model = _model(torch, config, torch_dtype)
    X, y = make_data(config, n if config.kind == "fit" else config.rows, dtype)
    Xt = torch.from_numpy(X)
    if config.kind == "fit":
        classes = HEADS[config.output].truth == "labels"
        yt = torch.from_numpy(y) if classes else torch.from_numpy(y)[:, None]
        opt = torch.optim.SGD(model.parameters(), lr=config.fit_args()["learning_rate"])
        # fastnet's losses: mean cross-entropy, or the per-sample sum of squares
        loss_fn = (torch.nn.CrossEntropyLoss() if classes
                   else lambda a, b: ((a - b) ** 2).sum(dim=1).mean())
        bs = config.batch_size

        def run():
            perm = torch.randperm(n)
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                opt.zero_grad()
                loss_fn(model(Xt[idx]), yt[idx]).backward()
                opt.step()
        per = n
    elif config.rows == 1:
        def run():
            with torch.no_grad():
                for _ in range(n):
                    model(Xt).argmax(dim=1).numpy()
        per = n
    else:
        def run():
            with torch.no_grad():
                model(Xt).argmax(dim=1).numpy()
        per = 1
    run()
    return median_time(run, repeats) / per
