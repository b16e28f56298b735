"""The NumPy twins of fastnet's compiled kernels (fastnet/_kernels.pyx).

Same names, same argument order (outputs, inputs), same conventions:
backward kernels ADD into parameter gradients (dW, db) and OVERWRITE input
gradients (dx, dz); derivatives come from saved forward outputs. This file is the
readable specification the compiled kernels are tested against.

Activations: ``<name>_forward`` / ``<name>_backward`` for every entry of
fastnet.components.ACTIVATIONS, reached through ``activation_forward`` /
``activation_backward`` (the compiled module's generic kernels, same arguments).
Output heads: each head's ``<output_kernel>_forward`` and ``<loss_kernel>_forward`` /
``_backward`` (fastnet.components.HEADS), reached through ``head_output``,
``head_loss_forward`` and ``head_loss_backward``. Optimizers: ``<name>_update``,
reached through ``optimizer_update``.
"""
import functools

import numpy as np

from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS


def _product(a, b, out=None):
    """a @ b for 2-D arrays (into out, C-contiguous of the result's dtype, if given).

    np.dot makes the same BLAS call as @ (the same bits), at a fraction of the matmul
    ufunc's set-up cost, which dominates a per-sample step (for the outer product
    dout.T @ x of one row, about 2 us against 6). Except with a one-element operand:
    np.dot takes it as a scalar and calls BLAS axpy, which skips a factor of 0, so that
    0 * NaN gives 0 there; @ (and the compiled kernels) give NaN.
    """
    if a.size == 1 or b.size == 1:
        return np.matmul(a, b, out=out)
    return np.dot(a, b, out=out)


def dense_forward(out, x, W, b):
    """out (n, h) = x (n, d) @ W (h, d).T + b (h)."""
    _product(x, W.T, out=out)
    out += b


def dense_backward(dx, dW, db, dout, x, W):
    """dW += dout.T @ x; db += dout.sum(0); dx = dout @ W (skipped when dx is None)."""
    dW += _product(dout.T, x)
    db += np.add.reduce(dout, axis=0)      # dout.sum(axis=0) without its Python wrapper
    if dx is not None:
        _product(dout, W, out=dx)


def sigmoid_forward(out, z):
    """``out = 1 / (1 + exp(-z))``, using ``exp(-|z|)`` so that exp never overflows."""
    e = np.exp(-np.abs(z))
    out[...] = np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(dz, dout, out):
    """dz = dout * out * (1 - out): sigma' = sigma (1 - sigma)."""
    dz[...] = dout * (out * (1 - out))


def tanh_forward(out, z):
    """out = tanh(z)."""
    np.tanh(z, out=out)


def tanh_backward(dz, dout, out):
    """dz = dout * (1 - out**2): tanh' = 1 - tanh^2."""
    dz[...] = dout * (1 - out * out)


def relu_forward(out, z):
    """out = max(0, z)."""
    # fmax, not maximum: a NaN z gives 0, as the compiled z > 0 ? z : 0 does
    np.fmax(z, 0, out=out)


def relu_backward(dz, dout, out):
    """dz = dout where out > 0, else 0 (the derivative at 0 is taken as 0)."""
    dz[...] = np.where(out > 0, dout, 0)


def identity_forward(out, z):
    """out = z."""
    out[...] = z


def identity_backward(dz, dout, out):
    """dz = dout: the identity's derivative is 1."""
    dz[...] = dout


@functools.lru_cache(maxsize=None)
def _activation_kernel(activation, direction):
    # resolved once per name: the registry's lookup (and its error for an unknown
    # name) is not repeated at every step
    return globals()[f"{ACTIVATIONS.lookup(activation).name}_{direction}"]


def activation_forward(activation, out, z):
    """out = g(z) for the registered activation named `activation`."""
    _activation_kernel(activation, "forward")(out, z)


def activation_backward(activation, dz, dout, out):
    """dz = dout * g'(z), the derivative written from the saved output out = g(z)."""
    _activation_kernel(activation, "backward")(dz, dout, out)


def softmax_forward(probs, logits):
    """probs = softmax(logits), rows; the row max is subtracted before exp."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs[...] = e / e.sum(axis=1, keepdims=True)


def head_output(output, out, z):
    """out = the head's outputs for pre-activations z (n, k); out may be z."""
    kernel = HEADS.lookup(output).output_kernel
    if kernel is None:          # the outputs are the pre-activations
        out[...] = z
    else:
        globals()[f"{kernel}_forward"](out, z)


@functools.lru_cache(maxsize=None)
def _head_kernels(output):
    # (head, loss forward, loss backward), resolved once per name
    head = HEADS.lookup(output)
    return (head, globals()[f"{head.loss_kernel}_forward"],
            globals()[f"{head.loss_kernel}_backward"])


def head_loss_forward(output, out, z, truth, weights=None):
    """out = the head's outputs for z (n, k) (out may be z); returns the mean over rows
    of weights[i] * the row's loss against its truth (labels (n,) or values (n, k))."""
    head, loss, _ = _head_kernels(output)
    if head.output_kernel is None:
        out[...] = z
        return loss(out, truth, weights)
    return loss(out, z, truth, weights)


def head_loss_backward(output, dz, out, truth, weights=None):
    """dz = d(mean loss)/dz from the head's outputs out (n, k)."""
    _head_kernels(output)[2](dz, out, truth, weights)


def _row_scale(scale, weights, n):
    """Per-row factor of the loss gradient: scale, times the sample weights if any."""
    return scale if weights is None else (scale * weights).reshape(n, 1)


def _weighted(rows, weights):
    """weights[i] * rows[i], 0 where weights[i] == 0: a sample of weight 0 contributes
    nothing, even when its loss overflowed (0 * inf would be NaN)."""
    if weights is None:
        return rows
    with np.errstate(invalid="ignore"):
        return np.where(weights != 0, rows * weights, rows.dtype.type(0))


def _mean(rows, n):
    """The mean loss, a float, from the n rows' losses: summed in double (float32 rows
    converted first; float64 ones are not copied)."""
    if n == 1:
        # per-sample SGD: the row's loss itself, the same bits as the sum below (NumPy's
        # sum of one number is 0 + it: -0 becomes +0) without its set-up (about 1 us)
        return 0.0 + float(rows[0])
    return float(rows.astype(np.float64, copy=False).sum() / n)


def _scaled(values, scale):
    """values * scale (scale a number or a column of per-row factors), rows of factor 0
    exactly 0, even where the row's outputs overflowed (0 * inf would be NaN)."""
    if np.ndim(scale) == 0:
        return values * scale
    with np.errstate(invalid="ignore"):
        return np.where(scale != 0, values * scale, values.dtype.type(0))


def softmax_xent_forward(probs, logits, labels, weights=None):
    """probs = softmax(logits), rows; returns the mean of weights[i] * -log
    probs[i, labels[i]] (weights None: all 1).

    Stable: the row max is subtracted before exp, and the loss is the log-softmax
    log(sum_j exp(z_j - max)) - (z_y - max), never log of a probability that may be 0.
    """
    n = logits.shape[0]
    # in place in probs (element by element, so probs may be logits); the row max and
    # sum by the ufuncs' reduce, what ndarray.max and .sum call through a Python wrapper
    shifted = np.subtract(logits, np.maximum.reduce(logits, axis=1, keepdims=True),
                          out=probs)
    # each row's entry at its label, a copy taken before exp (one row: the 1-D index
    # of that row, a fraction of the cost of the 2-D one)
    z_label = shifted[0][labels] if n == 1 else shifted[np.arange(n), labels]
    e = np.exp(shifted, out=probs)
    s = np.add.reduce(e, axis=1, keepdims=True)
    probs /= s
    rows = np.log(s[:, 0]) - z_label
    rows = _weighted(rows, weights)
    return _mean(rows, n)


def softmax_xent_backward(dlogits, probs, labels, weights=None):
    """dlogits = weights[i] * (probs - onehot(labels)) / n.

    d(-log p_y)/dz_j = p_j - [j == y]: the softmax Jacobian and the log's 1/p_y
    cancel, so the gradient of the mean loss needs only the saved probabilities.
    """
    n, k = probs.shape
    t = probs.dtype.type
    if n == 1:
        # one row (per-sample SGD): p - 1 at its label alone, a number, not the (1, k)
        # arrays of the one-hot below (the same bits, a fraction of the cost)
        dlogits[...] = probs
        if 0 <= labels[0] < k:      # as the one-hot below: nothing outside 0..k-1
            dlogits[0, labels[0]] -= 1
    else:
        # (n, k) booleans; probs - onehot is exact where it is 0 (p - 0 = p) and rounds
        # p - 1 once, as the subtraction at the label alone does
        onehot = np.arange(k) == labels.reshape(n, 1)
        np.subtract(probs, onehot, out=dlogits)
    if weights is not None:
        dlogits[...] = _scaled(dlogits, _row_scale(t(1) / t(n), weights, n))
    elif n > 1:     # the mean's 1/n, one factor for all rows: no row can be 0 * inf
        dlogits *= t(1) / t(n)      # (one row: the factor is 1, it would change nothing)


def squared_error_forward(pred, target, weights=None):
    """Mean over rows of weights[i] * sum_j (pred - target)**2 (no 1/2 factor, as in the
    lecture; weights None: all 1)."""
    r = pred - target
    rows = (r * r).sum(axis=1)
    rows = _weighted(rows, weights)
    return _mean(rows, pred.shape[0])


def squared_error_backward(dpred, pred, target, weights=None):
    """dpred = weights[i] * 2 (pred - target) / n: the gradient of the mean loss."""
    n = pred.shape[0]
    scale = _row_scale(pred.dtype.type(1) / pred.dtype.type(n), weights, n)
    if weights is None:         # in place, the same roundings: 2 r is exact
        np.subtract(pred, target, out=dpred)
        dpred *= 2
        dpred *= scale
    else:
        dpred[...] = _scaled(2 * (pred - target), scale)


def logistic_forward(probs, logits):
    """probs = 1 / (1 + exp(-logits)), element-wise (the logistic head's outputs)."""
    sigmoid_forward(probs, logits)


def logistic_xent_forward(probs, logits, target, weights=None):
    """probs = sigmoid(logits); returns the mean over rows of weights[i] * sum_j of
    -(t log p + (1 - t) log(1 - p)), t = target[i, j] in [0, 1] (weights None: all 1).

    Stable: from the logits, ``max(z, 0) - z t + log1p(exp(-|z|))``, never the log of a
    probability that may have rounded to 0 or 1.
    """
    z = logits
    rows = ((np.maximum(z, 0) - z * target) + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)
    sigmoid_forward(probs, logits)          # after the loss: probs may alias logits
    rows = _weighted(rows, weights)
    return _mean(rows, logits.shape[0])


def logistic_xent_backward(dlogits, probs, target, weights=None):
    """dlogits = weights[i] * (probs - target) / n: the sigmoid's Jacobian and the
    binary cross-entropy's 1/(p (1 - p)) cancel, as for softmax and cross-entropy."""
    n = probs.shape[0]
    scale = _row_scale(probs.dtype.type(1) / probs.dtype.type(n), weights, n)
    dlogits[...] = _scaled(probs - target, scale)


def exp_forward(out, z):
    """out = exp(z), element-wise (the poisson head's outputs: the inverse of its log
    link). A large z gives inf, as in C, without a NumPy warning: training reports the
    non-finite loss as divergence."""
    with np.errstate(over="ignore"):
        np.exp(z, out=out)


def _xlogx(y):
    """y log y element-wise, with 0 log 0 = 0 (scipy.special.xlogy(y, y)), for y >= 0."""
    positive = y > 0
    return np.where(positive, y * np.log(np.where(positive, y, 1)), 0)


def poisson_deviance_forward(out, z, target, weights=None):
    """out = exp(z); returns the mean over rows of weights[i] * sum_j of the half
    Poisson deviance t log(t / p) - t + p, p = exp(z), t = target[i, j] >= 0 (0 log 0 =
    0; weights None: all 1): scikit-learn's MLPRegressor(loss="poisson").

    From the logits, t log t - t z - t + exp(z): no log of a p that may have rounded to
    0. A large z overflows exp, and the loss, to inf.
    """
    with np.errstate(over="ignore"):
        rows = (((_xlogx(target) - target * z) - target) + np.exp(z)).sum(axis=1)
    exp_forward(out, z)                 # after the loss: out may alias z
    rows = _weighted(rows, weights)
    return _mean(rows, z.shape[0])


def poisson_deviance_backward(dz, out, target, weights=None):
    """dz = weights[i] * (out - target) / n: d(t log(t / p) - t + p)/dz = p - t for p =
    exp(z) (exp is the Poisson deviance's canonical link)."""
    n = out.shape[0]
    scale = _row_scale(out.dtype.type(1) / out.dtype.type(n), weights, n)
    dz[...] = _scaled(out - target, scale)


def sgd_update(params, grads, velocity, n_weights, lr, momentum=0.0, l2=0.0, nesterov=False):
    """One SGD step in place on the flat buffers (weights first, n_weights of them):

    g = grads + l2 * params (weights only); v = momentum * v - lr * g; params += v, or
    with Nesterov's momentum params += momentum * v - lr * g (scikit-learn's form).
    With momentum == 0 the velocity is left alone and params -= lr * g.
    """
    t = params.dtype.type
    lr, momentum, l2 = t(lr), t(momentum), t(l2)
    g = grads
    if l2 != 0:                 # a copy: grads themselves stay the loss's gradient
        g = grads.copy()
        g[:n_weights] += l2 * params[:n_weights]
    if momentum != 0:
        velocity[...] = momentum * velocity - lr * g
        params += (momentum * velocity - lr * g) if nesterov else velocity
    else:
        params -= lr * g


def adam_update(params, grads, m, v, n_weights, lr, step, beta_1, beta_2, epsilon, l2=0.0):
    """One Adam step in place (scikit-learn's arithmetic), update number `step` from 1:

    g = grads + l2 * params (weights only); m = beta_1 m + (1 - beta_1) g;
    v = beta_2 v + (1 - beta_2) g^2; params += -lr_t m / (sqrt(v) + epsilon), with
    lr_t = lr sqrt(1 - beta_2^step) / (1 - beta_1^step) computed in double.
    """
    t = params.dtype.type
    lr_t = t(lr * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step))
    b1, b2, eps, l2 = t(beta_1), t(beta_2), t(epsilon), t(l2)
    g = grads
    if l2 != 0:                 # a copy: grads themselves stay the loss's gradient
        g = grads.copy()
        g[:n_weights] += l2 * params[:n_weights]
    m[...] = b1 * m + (1 - b1) * g
    v[...] = b2 * v + (1 - b2) * (g * g)
    params += ((-lr_t) * m) / (np.sqrt(v) + eps)


def optimizer_update(config, params, grads, state, n_weights, eta, step):
    """One step of the optimizer `config` (fastnet.components) in place on the flat
    buffers, with step size eta, update number `step` (from 1): this module's
    ``<name>_update(params, grads, *state, n_weights, eta, *update_args)``, state being
    the optimizer's buffers and update_args what its registry entry lists."""
    _optimizer_steps(config, params, grads, state, n_weights)(eta, step)


def _optimizer_steps(config, params, grads, state, n_weights):
    """optimizer_update on these buffers as a function of (eta, step) alone, for a loop
    of steps: what does not change from step to step (the optimizer's kernel, the check
    of its state, the values of update_args but "step") is looked up once, not at every
    step (for a per-sample step, about a third of the optimizer's time)."""
    optimizer, update = _optimizer_kernel(config.name)
    if len(state) != len(optimizer.state):
        raise ValueError(f"the optimizer keeps {len(optimizer.state)} state buffers, got "
                         f"{len(state)}")
    args = [None if name == "step" else getattr(config, name)
            for name in optimizer.update_args]
    step_at = [i for i, name in enumerate(optimizer.update_args) if name == "step"]

    def step_with(eta, step):
        if step < 1:
            raise ValueError(f"step = {step} is not a 1-based update number")
        for i in step_at:           # the update number, where the kernel takes it (Adam)
            args[i] = step
        update(params, grads, *state, n_weights, eta, *args)
    return step_with


@functools.lru_cache(maxsize=None)
def _optimizer_kernel(name):
    # (registry entry, <name>_update), resolved once per name, not at every step
    optimizer = OPTIMIZERS[name]
    return optimizer, globals()[f"{optimizer.name}_update"]
