"""The test hook: white-box access to the optimizer steps, for fastnet's own tests and
for anyone checking a fast path against the general one.

``run_steps`` takes exactly the steps fit takes for one chunk of an epoch, over rows
in a given order, with the compiled fast paths allowed or not; everything else
about fit (sampling, chunks, validation, divergence rollback) is left out.
"""
import numpy as np

from fastnet import _training
from fastnet import _validation as check
from fastnet.components import FAST_PATHS, OPTIMIZERS


def run_steps(net, X, y, order=None, batch_size=1, sample_weight=None, fast_paths=None,
              t0=None, optimizer=None, **hyperparameters):
    """Optimizer steps of `net` over the rows `order` of (X, y), batch_size at a time.

    Parameters
    ----------
    net : fastnet.MLP or fastnet.reference.MLP
    X, y, sample_weight : as for fit
    order : array of int, optional
        Rows to visit (default: 0..n-1 in order).
    batch_size : int, default 1
    fast_paths : iterable of str, optional
        Compiled fast paths allowed (fastnet.components.FAST_PATHS). Default: what the
        optimizer allows with this configuration, as fit does; ``()`` forces the
        general path (kernels, gradient buffer, separate update).
    t0 : int, optional
        Update count before the first step (default: the model's); the model's count
        advances by the updates taken.
    optimizer : str, optional
        As fit's (default: the model's current optimizer); a different one is taken
        up as fit does (fresh state, update count 0).
    **hyperparameters
        The optimizer's configuration (fit's keywords: learning_rate, lr_decay, l2,
        momentum and nesterov for SGD; beta_1, beta_2, epsilon for Adam).

    Returns
    -------
    (summed loss, updates taken, last step size)
    """
    X, truth, weights = net._data(X, y, sample_weight)
    n = X.shape[0]
    order = np.arange(n) if order is None else np.asarray(order)
    if order.ndim != 1 or (order.size and order.dtype.kind not in "iu") \
            or (order.size and (order.min() < 0 or order.max() >= n)):
        raise ValueError(f"order must be a 1-D array of integer row indices in 0..{n - 1}")
    order = np.ascontiguousarray(order, dtype=np.intp)
    batch_size = min(check.check_positive_int("batch_size", batch_size), n)
    values = dict(_training.FIT_DEFAULTS, **hyperparameters)
    config = _training.configure(optimizer or net._optimizer.name, values, net.dtype)
    entry = OPTIMIZERS[config.name]
    allowed = entry.fast_paths(config)
    if fast_paths is not None:
        unknown = set(fast_paths) - set(FAST_PATHS)
        if unknown:
            raise ValueError(f"unknown fast paths {sorted(unknown)}; expected {FAST_PATHS}")
        allowed = allowed & frozenset(fast_paths)
    if t0 is not None:
        t0 = check.check_update_count("t0", t0)
        if t0 + n >= check.MAX_UPDATES:
            raise ValueError("t0 is too close to the update count limit of 2**62")
    with net._guard.exclusive("run_steps"):
        _training.take_up(net, entry)
        t0 = net._updates if t0 is None else t0
        trainer = net._make_trainer(batch_size)
        result = net._train_steps(trainer, X, truth, weights, order, batch_size, config, t0,
                                  allowed)
        net._updates = t0 + result[1]
    return result
