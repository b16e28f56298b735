"""Parameter layout and initialisation, shared by both implementations.

All parameters live in ONE flat buffer, weights of every layer first, then every
bias, so that the l2 term (weights only) applies to the prefix ``params[:n_weights]``;
gradients and optimizer state are parallel flat buffers with the same layout, and
``weights[l]`` / ``biases[l]`` are views into it.
"""
import numpy as np

from fastnet.components import ACTIVATIONS, INIT_RULES, OUTPUT_LAYER_INIT


def param_layout(sizes):
    """Offsets of each layer's weights and biases in the flat parameter buffer.

    Returns (w_off, b_off, n_weights, n_params).
    """
    w_sizes = [sizes[l + 1] * sizes[l] for l in range(len(sizes) - 1)]
    w_off = np.concatenate([[0], np.cumsum(w_sizes)[:-1]]).astype(np.intp)
    n_weights = int(sum(w_sizes))
    b_off = (n_weights + np.concatenate([[0], np.cumsum(sizes[1:])[:-1]])).astype(np.intp)
    return w_off, b_off, n_weights, n_weights + int(sum(sizes[1:]))


def n_params(sizes):
    """Number of parameters of a network with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


# Init rules whose weights are elementwise in the draws (a scale times standard
# normals or uniforms): called once with a _Stacked generator they give a run of
# layers of one shape exactly as one call per layer would. Any other rule is called
# once per layer.
STACKABLE_RULES = frozenset({"he_normal", "glorot_uniform"})


class _Stacked:
    """Stands in for a numpy Generator: every array asked for comes with a leading
    axis of `run` copies, drawn in one call. A Generator fills an array element by
    element from one stream, so one draw of run x m values is the run draws of m
    that one call per layer would make, in the same order."""

    def __init__(self, rng, run):
        self._rng, self._run = rng, run

    def standard_normal(self, size):
        return self._rng.standard_normal((self._run,) + tuple(size))

    def uniform(self, low, high, size):
        return self._rng.uniform(low, high, (self._run,) + tuple(size))


# Byte alignment of the flat buffers a model trains in: a cache line (and an
# AVX-512 register), so the compiled kernels' vector loads and stores of a layer's
# rows do not straddle two lines (numpy's own allocations are 16-byte aligned).
ALIGN = 64


def workspace_sizes(sizes, dtype):
    """Each layer's slot in a row of a compiled workspace (fastnet._train.Plan): its
    width padded to a multiple of ALIGN bytes, so every slot starts on a cache line.
    The memory checks count these, not the bare widths."""
    pad = max(1, ALIGN // np.dtype(dtype).itemsize)
    return [-(-int(s) // pad) * pad for s in sizes]


def aligned_zeros(n, dtype):
    """A 1-D array of n zeros whose first element starts on an ALIGN-byte boundary."""
    dtype = np.dtype(dtype)
    buf = np.zeros(n * dtype.itemsize + ALIGN, dtype=np.uint8)
    start = -buf.ctypes.data % ALIGN
    return buf[start:start + n * dtype.itemsize].view(dtype)


def aligned(a, copy=False):
    """The 1-D array a itself when it starts on an ALIGN-byte boundary (and no copy is
    asked for), else an aligned copy: a model's own buffer, installed again, stays the
    same buffer, so its views stay live."""
    if not copy and a.ctypes.data % ALIGN == 0:
        return a
    out = aligned_zeros(a.shape[0], a.dtype)
    out[...] = a
    return out


def init_params(sizes, activations, rng, dtype):
    """Initial flat parameter buffer: each hidden layer's weights by the rule of the
    activation that follows it (fastnet.components), the output layer's by Glorot's;
    zero biases. Drawn in float64 and then cast, so both dtypes and both
    implementations see the same draws. Runs of layers of one shape and rule are
    drawn at once (STACKABLE_RULES): a network of 100,000 layers in milliseconds."""
    w_off, _, n_weights, total = param_layout(sizes)
    params = aligned_zeros(total, dtype)
    rules = [ACTIVATIONS[a].init for a in activations] + [OUTPUT_LAYER_INIT]
    ends = list(w_off[1:]) + [n_weights]
    l, L = 0, len(sizes) - 1
    while l < L:
        fan_in, fan_out = sizes[l], sizes[l + 1]
        end = l + 1
        if rules[l] in STACKABLE_RULES:
            while (end < L and rules[end] == rules[l]
                   and sizes[end] == fan_in and sizes[end + 1] == fan_out):
                end += 1
        rule = INIT_RULES[rules[l]]
        block = params[w_off[l]:ends[end - 1]]
        if end - l == 1:
            block[...] = rule(rng, fan_in, fan_out).ravel()
        else:
            block[...] = rule(_Stacked(rng, end - l), fan_in, fan_out).ravel()
        l = end
    return params


def _stacked_views(buffer, start, shapes):
    """Views of consecutive blocks of `shapes` in buffer from `start`. A run of
    blocks of one shape is one reshape iterated in C, so a network of 100,000 layers
    of one width gets its views in milliseconds, not a second of Python slicing."""
    views, i, n = [], 0, len(shapes)
    while i < n:
        end = i + 1
        while end < n and shapes[end] == shapes[i]:
            end += 1
        size = (end - i) * int(np.prod(shapes[i]))
        views.extend(buffer[start:start + size].reshape(end - i, *shapes[i]))
        start, i = start + size, end
    return views


def layer_views(buffer, sizes):
    """(weights, biases): lists of views into a flat buffer, W_l (out, in), b_l (out,)."""
    _, _, n_weights, _ = param_layout(sizes)
    weights = _stacked_views(buffer, 0, list(zip(sizes[1:], sizes[:-1])))
    biases = _stacked_views(buffer, n_weights, [(s,) for s in sizes[1:]])
    return weights, biases


class LayerViews(list):
    """What ``net.weights`` / ``net.biases`` return: a list of fresh views, made on
    each access, into the model's parameter buffer. Writing INTO a view
    (``net.weights[l][...] = W``) changes the model; changing a view's metadata
    (``.shape``, ``.dtype``) changes only that view object, and their ``.base`` is a
    flat array made for this access, not the model's buffer. Changing the list itself
    would be silently ignored, so it raises TypeError saying how to set parameters.
    ``+``, slicing, copying and pickling give plain lists."""

    __slots__ = ("_name",)

    def __init__(self, views, name):
        super().__init__(views)
        self._name = name

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"net.{self._name} is a fresh list of views, changing the list does not "
            f"change the model; write into a view instead: "
            f"net.{self._name}[l][...] = value (or net.{self._name}[l][i, j] = v)")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce_ex__(self, protocol):
        return list, (list(self),)


class _Memory:
    """The memory of a model's buffer, for the views handed out, without the buffer.

    numpy reports as a view's ``.base`` the first array up its chain that owns its
    memory, so views made directly from the model's flat buffer hand that buffer
    out: ``net.weights[0].base.shape = (-1, 1)`` (or ``.dtype = ...``,
    ``.flags.writeable = False``) would change the model's own array, and predict,
    fit and save fail afterwards. Views made from an array over this object have a
    fresh array of this access as their base instead; this object keeps the model's
    memory alive (through a view into it) and exposes only its address."""

    __slots__ = ("__array_interface__", "_keep")

    def __init__(self, first, n):
        self._keep = first
        self.__array_interface__ = {"data": (first.__array_interface__["data"][0], False),
                                    "shape": (n,), "typestr": first.dtype.str,
                                    "version": 3}


def public_flat(first, n):
    """A new, writable 1-D array of n values over the memory at the start of `first`
    (a C-contiguous view into a model's flat buffer) whose ``.base`` is not the
    model's buffer: what the public views are made from. A view of an array over
    the memory, so that its ``.base`` is an array too (made for this call)."""
    return np.asarray(_Memory(first, n))[:]


def fresh_views(views, name):
    """A LayerViews of new view objects onto the same memory as `views`: consecutive
    blocks of one flat buffer, as layer_views makes them. Made from one public_flat
    array per access, so no view (nor its ``.base``) is the model's own array."""
    flat = public_flat(views[0], sum(v.size for v in views))
    return LayerViews(_stacked_views(flat, 0, [v.shape for v in views]), name)
