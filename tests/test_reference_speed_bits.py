"""The NumPy reference's cheaper forms of its per-sample step (issue 11) compute exactly
what its plain forms compute, bit for bit: one row's softmax cross-entropy (its label's
entry, its gradient, its mean), the training step's reused arrays (Workspace) and row
views, and the optimizer's step looked up once (_optimizer_steps). The plain forms are
written out here, as the reference had them."""
import math

import numpy as np
import pytest

from fastnet import _training
from fastnet.reference import MLP, kernels as ref

DTYPES = (np.float32, np.float64)
SPECIAL = (0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 1e-30)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), (a, b)


def _plain_softmax_xent_forward(probs, logits, labels, weights=None):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    z_label = shifted[np.arange(n), labels]
    e = np.exp(shifted, out=probs)
    s = e.sum(axis=1, keepdims=True)
    probs /= s
    rows = np.log(s[:, 0]) - z_label
    rows = ref._weighted(rows, weights)
    return float(rows.astype(np.float64, copy=False).sum() / n)


def _plain_softmax_xent_backward(dlogits, probs, labels, weights=None):
    n, k = probs.shape
    scale = ref._row_scale(probs.dtype.type(1) / probs.dtype.type(n), weights, n)
    onehot = np.arange(k) == labels.reshape(n, 1)
    if weights is None:
        np.multiply(probs - onehot, scale, out=dlogits)
    else:
        dlogits[...] = ref._scaled(probs - onehot, scale)


def _rows(rng, n, k, dtype, special):
    z = rng.standard_normal((n, k)).astype(dtype) * 3
    if special:
        for _ in range(rng.integers(1, 3)):
            z.flat[rng.integers(z.size)] = rng.choice(SPECIAL)
    return z


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_xent_equals_its_plain_form(dtype, n, weighted):
    rng = np.random.default_rng(n * 10 + weighted)
    for trial in range(200):
        k = int(rng.integers(2, 7))
        logits = _rows(rng, n, k, dtype, special=trial % 3 == 0)
        labels = rng.integers(0, k, n).astype(np.intp)
        weights = None
        if weighted:
            weights = rng.random(n).astype(dtype)
            weights[rng.random(n) < 0.3] = 0
        with np.errstate(all="ignore"):
            got_p, want_p = np.empty_like(logits), np.empty_like(logits)
            got = ref.softmax_xent_forward(got_p, logits, labels, weights)
            want = _plain_softmax_xent_forward(want_p, logits, labels, weights)
            _same(got_p, want_p)
            assert np.float64(got).tobytes() == np.float64(want).tobytes()
            # probabilities with special values too: the gradient takes any probs
            probs = got_p if trial % 2 else _rows(rng, n, k, dtype, special=True)
            got_d, want_d = np.empty_like(probs), np.empty_like(probs)
            ref.softmax_xent_backward(got_d, probs, labels, weights)
            _plain_softmax_xent_backward(want_d, probs, labels, weights)
            _same(got_d, want_d)
            # in place (probs may be logits; dlogits may be probs)
            inplace = logits.copy()
            ref.softmax_xent_forward(inplace, inplace, labels, weights)
            _same(inplace, want_p)
            ref.softmax_xent_backward(inplace, inplace, labels, weights)
            want_d = np.empty_like(want_p)
            _plain_softmax_xent_backward(want_d, want_p, labels, weights)
            _same(inplace, want_d)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mean_of_one_row_equals_the_sum(dtype):
    for v in SPECIAL + (-1e-40, 3.5, -2.0):
        rows = np.array([v], dtype)
        want = float(rows.astype(np.float64, copy=False).sum() / 1)
        got = ref._mean(rows, 1)
        assert np.float64(got).tobytes() == np.float64(want).tobytes(), v


def _plain_steps(net, X, truth, weights, order, batch_size, config, t0):
    # the reference's training loop as it was: fancy-indexed copies of the rows, new
    # arrays at every step, optimizer_update at every step
    total, step, eta = 0.0, t0, config.learning_rate
    state = tuple(net._state.values())
    for start in range(0, order.shape[0], batch_size):
        idx = order[start:start + batch_size]
        net._grads.fill(0)
        loss = net._loss_and_gradients(X[idx], truth[idx], True,
                                       None if weights is None else weights[idx])
        if not math.isfinite(loss):
            break
        total += loss * idx.shape[0]
        eta = config.learning_rate / (1.0 + config.lr_decay * step)
        ref.optimizer_update(config, net._params, net._grads, state, net._n_weights, eta,
                             step + 1)
        step += 1
    return total, step - t0, eta


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "linear", "logistic", "poisson"])
@pytest.mark.parametrize("batch_size", [1, 4, 7])
@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9, nesterov=True, l2=1e-2),
                                     dict(optimizer="adam", lr_decay=0.1)])
def test_training_steps_equal_the_plain_loop(dtype, output, batch_size, options):
    rng = np.random.default_rng(batch_size)
    n, sizes = 30, [5, 7, 6, 3]
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = {"softmax": rng.integers(0, 3, n), "linear": rng.standard_normal((n, 3)),
         "logistic": (rng.random((n, 3)) > 0.5) * 1.0,
         "poisson": rng.poisson(1.0, (n, 3)) * 1.0}[output]
    w = rng.random(n).astype(dtype)
    w[::4] = 0
    args = dict(learning_rate=0.05, lr_decay=0.0, momentum=0.0, l2=0.0, nesterov=False,
                beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    options = dict(options)
    optimizer = options.pop("optimizer", "sgd")
    args.update(options)
    order = np.random.default_rng(5).permutation(n)
    chunks = (order, order[:11], order[3:20])      # the last batches of some are short
    for weights in (None, w):
        nets = [MLP(sizes, ["tanh", "relu"], output, dtype=dtype, seed=1) for _ in range(2)]
        results = []
        for net, steps in zip(nets, (MLP._steps, _plain_steps)):
            # the optimizer is taken up as fit does (fresh state), then three chunks
            net.fit(X[:2], y[:2], epochs=1, batch_size=2, optimizer=optimizer, **options)
            config = _training.configure(optimizer, args, net.dtype)
            Xc, truth, wc = net._data(X, y, weights)
            t0, out = net._updates, []
            with np.errstate(over="ignore", invalid="ignore"):
                for chunk in chunks:
                    out.append(steps(net, Xc, truth, wc, chunk, batch_size, config, t0))
                    t0 += out[-1][1]
            results.append((out, net._params.copy(),
                            [s.copy() for s in net._state.values()]))
        (got, got_p, got_s), (want, want_p, want_s) = results
        assert [np.float64(v).tobytes() for r in got for v in r] == \
            [np.float64(v).tobytes() for r in want for v in r]
        _same(got_p, want_p)
        for a, b in zip(got_s, want_s):
            _same(a, b)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_steps_equals_optimizer_update(optimizer):
    rng = np.random.default_rng(3)
    config = _training.configure(optimizer, dict(learning_rate=0.1, momentum=0.0
                                                 if optimizer == "adam" else 0.5, l2=1e-3),
                                 np.dtype(np.float32))
    n_state = 2 if optimizer == "adam" else 1
    p, g = rng.standard_normal(20).astype(np.float32), rng.standard_normal(20).astype(np.float32)
    pa, sa = p.copy(), tuple(np.zeros(20, np.float32) for _ in range(n_state))
    pb, sb = p.copy(), tuple(np.zeros(20, np.float32) for _ in range(n_state))
    step = ref._optimizer_steps(config, pa, g, sa, 15)
    for t in range(1, 6):
        step(0.1 / t, t)
        ref.optimizer_update(config, pb, g, sb, 15, 0.1 / t, t)
        _same(pa, pb)
        for a, b in zip(sa, sb):
            _same(a, b)
    with pytest.raises(ValueError, match="1-based"):
        step(0.1, 0)
