"""
The zig-zag construction: 2ᵏ linear pieces from 2k units
========================================================

A ReLU network computes a piecewise-linear function; the number of linear pieces
measures how complex a function it can make. One hidden layer of ``h`` units on a
one-dimensional input makes at most ``h + 1`` pieces: each unit adds one kink.

Depth multiplies instead of adding. The **tent map**
:math:`t(x) = \\mathrm{ReLU}(2x) - \\mathrm{ReLU}(4(x - 1/2))` (``2x`` up to 1/2, then
``2 - 2x``) folds :math:`[0, 1]` onto itself, and composing it ``k`` times gives a
zig-zag with :math:`2^k` pieces. As a network, each composition is one hidden layer
of two ReLU units: :func:`fastnet.theory.sawtooth_network` writes the weights.
"""
import time

import matplotlib.pyplot as plt
import numpy as np

import fastnet
from fastnet import datasets, theory

net = theory.sawtooth_network(3)
print("layer sizes:", net.layer_sizes)
for l, (W, b) in enumerate(zip(net.weights, net.biases)):
    print(f"layer {l}: W = {W.tolist()}, b = {b.tolist()}")

x = np.linspace(0, 1, 2049)[:, None]
fig, axes = plt.subplots(1, 4, figsize=(11, 2.8), sharey=True)
for k, ax in zip((1, 2, 3, 4), axes):
    saw = theory.sawtooth_network(k)
    ax.plot(x[:, 0], saw.predict(x), lw=1.5)
    pieces = theory.count_linear_pieces(saw, 0.0, 1.0).count
    ax.set_title(f"k = {k}: {pieces} pieces")
    ax.set_xlabel("x")
fig.tight_layout()

# %%
# The network agrees with the tent map composed ``k`` times
# (:func:`fastnet.datasets.zigzag`) to rounding:

for k in (1, 5, 10):
    X, y = datasets.zigzag(k, 4097, grid=True)
    err = np.max(np.abs(theory.sawtooth_network(k).predict(X) - y))
    print(f"k = {k:2d}: max |network - t^k| = {err:.1e}")

# %%
# Counting the pieces exactly
# ---------------------------
# Sampling cannot count :math:`2^{20}` pieces reliably.
# :func:`fastnet.theory.count_linear_pieces` follows the network layer by layer
# instead: on each interval every unit's pre-activation is affine in ``x``, so the
# interval is split where one crosses zero; adjacent intervals with equal slopes at the
# output are merged. The counts are exact.

for k in (5, 10, 15, 20):
    start = time.perf_counter()
    count = theory.count_linear_pieces(theory.sawtooth_network(k), 0.0, 1.0).count
    print(f"k = {k:2d}: {count:>9,} pieces (2**k = {2 ** k:>9,}), "
          f"counted in {time.perf_counter() - start:.2f} s")

# %%
# What one layer, bounds and random weights give
# ----------------------------------------------
# :func:`fastnet.theory.montufar_bounds` gives, for ``d`` inputs and layers of ``h``
# units, the most one hidden layer can make (:math:`\sum_{i \le d} \binom{h}{i}`, here
# with all ``k h`` units in one layer) and Montúfar et al.'s (2014) lower bound for
# the deep network. Beside them: networks of the same shape ``[1, 2, ..., 2, 1]`` with
# random weights (He-normal, biases uniform in [-1, 1]), counted exactly too.

rng = np.random.default_rng(0)
ks = np.arange(1, 13)
shallow, deep_bound, random_mean = [], [], []
for k in ks:
    bounds = theory.montufar_bounds(1, 2, int(k))
    shallow.append(bounds.one_layer_same_units)
    deep_bound.append(bounds.deep_lower)
    counts = []
    for _ in range(20):
        rnd = fastnet.MLP([1] + [2] * int(k) + [1], "relu", "linear", dtype="float64",
                          seed=int(rng.integers(2 ** 31)))
        for b in rnd.biases:
            b[...] = rng.uniform(-1, 1, b.shape)
        counts.append(theory.count_linear_pieces(rnd, 0.0, 1.0).count)
    random_mean.append(np.mean(counts))

fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogy(ks, 2.0 ** ks, "o-", label="zig-zag construction ($2^k$)")
ax.semilogy(ks, deep_bound, "--", label="Montúfar et al. lower bound")
ax.semilogy(ks, shallow, "s-", label="one hidden layer of 2k units (max)")
ax.semilogy(ks, random_mean, "^-", label="random weights, same shape (mean of 20)")
ax.set_xlabel("hidden layers k (2 ReLU units each)")
ax.set_ylabel("linear pieces on [0, 1]")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The construction reaches :math:`2^k` pieces with :math:`2k` units; a single layer
# with the same units can make at most :math:`2k + 1`. Random weights of the same
# shape make only a handful: exponentially many pieces are *possible* with depth, but
# they take carefully arranged weights (next page: does SGD find them?).
