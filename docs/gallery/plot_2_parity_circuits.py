"""
Parity: small deep circuits, exponential shallow ones
=====================================================

The parity of ``d`` bits (1 when the number of ones is odd) is the lecture's example of
a function that depth makes cheap. As a Boolean circuit:

* a balanced tree of 2-input XOR gates needs ``d - 1`` gates and depth
  :math:`\\lceil \\log_2 d \\rceil`;
* written with AND/OR/NOT, each XOR costs 3 gates and 2 levels;
* any depth-2 circuit (an OR of ANDs, the disjunctive normal form) needs one AND per
  odd-weight input: :math:`2^{d-1}` of them.

:func:`fastnet.theory.parity_circuit_sizes` returns these counts.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastnet
from fastnet import datasets, theory

ds = np.arange(2, 17)
sizes = [theory.parity_circuit_sizes(int(d)) for d in ds]
print(" d | gates (depth): XOR tree | AND/OR/NOT |     DNF")
for d, s in zip(ds[:8], sizes):
    cells = [f"{s[c]['gates']} ({s[c]['depth']})"
             for c in ("xor_tree", "and_or_not", "dnf")]
    print(f"{d:2d} | {cells[0]:>23} | {cells[1]:>10} | {cells[2]:>7}")

fig, ax = plt.subplots(figsize=(7, 4))
for key, label in (("xor_tree", "XOR tree"), ("and_or_not", "AND/OR/NOT tree"),
                   ("dnf", "depth 2 (DNF)")):
    ax.semilogy(ds, [s[key]["gates"] for s in sizes], "o-", label=label)
ax.set_xlabel("input bits d")
ax.set_ylabel("gates")
ax.set_title("Circuit size for parity")
ax.legend()
fig.tight_layout()

# %%
# The XOR tree as a ReLU network
# ------------------------------
# On bits, :math:`a \oplus b = \mathrm{ReLU}(a + b) - 2\,\mathrm{ReLU}(a + b - 1)`: two
# ReLU units per gate. A level of the tree is one hidden layer; the subtraction that
# forms each XOR is linear, so it folds into the weights of the next layer. The
# network below computes the parity of ``d = 2**L`` bits with ``L`` hidden layers and
# ``2 (d - 1)`` ReLU units in all, weights written by hand.


def xor_tree_network(levels):
    """[d, d, d/2, ..., 2, 1] ReLU network: the parity of d = 2**levels bits."""
    d = 2 ** levels
    widths = [d >> l for l in range(levels)]            # 2 units per XOR gate
    net = fastnet.MLP([d] + widths + [1], activation="relu", output="linear",
                      dtype="float64")
    # each gate's value from the two units below it: [1, -2] . (u, v)
    combine = np.array([1.0, -2.0])
    for l, units in enumerate(widths):
        gates = units // 2
        W = np.zeros((units, d if l == 0 else widths[l - 1]))
        for g in range(gates):
            # inputs of gate g: bits 2g, 2g+1 (first layer) or gates 2g, 2g+1 below
            for i in (2 * g, 2 * g + 1):
                cols = [i] if l == 0 else [2 * i, 2 * i + 1]
                w = [1.0] if l == 0 else combine
                W[2 * g, cols] = w                        # ReLU(a + b)
                W[2 * g + 1, cols] = w                    # ReLU(a + b - 1)
        net.weights[l][...] = W
        net.biases[l][...] = np.tile([0.0, -1.0], gates)
    net.weights[levels][...] = combine[None, :]
    net.biases[levels][...] = 0.0
    return net


for levels in (1, 2, 3, 4):
    net = xor_tree_network(levels)
    X, y = datasets.parity(2 ** levels)
    exact = np.array_equal(net.predict(X), y.astype(float))
    units = sum(net.layer_sizes[1:-1])
    print(f"d = {2 ** levels:2d}: layer sizes {net.layer_sizes}, {units} ReLU units, "
          f"exact on all {len(y)} inputs: {exact}")

# %%
# Does SGD find such solutions?
# -----------------------------
# Knowing a small deep network exists is not the same as training one. The experiment
# behind ``fastnet experiment parity`` gives a three-hidden-layer network and a
# one-hidden-layer network the same number of parameters and trains both with
# per-sample SGD on all :math:`2^d` inputs until 100% training accuracy. Its reduced
# run (``quick=True``, at most 200 epochs):

import tempfile  # noqa: E402

from fastnet import experiments  # noqa: E402

with tempfile.TemporaryDirectory() as out:
    result = experiments.parity(quick=True, out_dir=out)
print(" d | shallow: units params accuracy epochs | deep: units params accuracy epochs")
for d, h, p1, a1, e1, w, p2, a2, e2, *_ in result["rows"]:
    print(f"{d:2d} | {h:>14} {p1:6d} {a1:>8} {e1!s:>6} "
          f"| {w:>11} {p2:6d} {a2:>8} {e2!s:>6}")

# %%
# Compare the epochs each network needed, where it got there at all. In the full run
# (``fastnet experiment parity``: d up to 12, 2000 epochs) the one-hidden-layer network
# reaches 100% training accuracy up to d = 7 and the three-layer one only for d = 2, 3
# and 5: given time, the wide layer memorises the :math:`2^d` points, and SGD does not
# find the XOR tree above. Depth changes what a network *can represent* cheaply, not by
# itself what SGD finds.
