"""
Universal approximation: one hidden layer is enough, given enough units
=======================================================================

The universal approximation theorem says that a network with one hidden layer can
approximate any continuous function on a compact set as closely as we like, provided
the layer is wide enough. It says nothing about *how* wide. This page shows both
halves of the story on :math:`f(x) = \\sin(x)` on :math:`[0, 2\\pi]`:

1. a **construction**: the piecewise-linear interpolant of ``f`` at ``m + 1`` knots
   is exactly a one-hidden-layer ReLU network with ``m`` units, written down by hand
   (no training); its error shrinks like :math:`1/m^2`;
2. **training**: the same architecture fitted by SGD with :class:`fastnet.MLP`.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastnet
from fastnet import datasets, theory

# %%
# The construction
# ----------------
# With knots :math:`x_0 < x_1 < \dots < x_m` and slopes :math:`s_j` of the interpolant
# on :math:`[x_j, x_{j+1}]`,
#
# .. math:: g(x) = f(x_0) + s_0 (x - x_0) + \sum_{j=1}^{m-1} (s_j - s_{j-1})\,
#           \mathrm{ReLU}(x - x_j)
#
# For :math:`x \ge x_0` the first term is itself :math:`s_0\,\mathrm{ReLU}(x - x_0)`, so
# ``g`` is a network ``[1, m, 1]``: hidden unit ``j`` has weight 1 and bias
# :math:`-x_j`, the output weights are the slope changes. We write them into the
# network's weight views.


def interpolant_network(f, lo, hi, m):
    """A [1, m, 1] ReLU network equal to the linear interpolant of f at m + 1 knots."""
    knots = np.linspace(lo, hi, m + 1)
    slopes = np.diff(f(knots)) / np.diff(knots)
    net = fastnet.MLP([1, m, 1], activation="relu", output="linear", dtype="float64")
    net.weights[0][...] = 1.0
    net.biases[0][...] = -knots[:-1]
    net.weights[1][...] = np.concatenate([[slopes[0]], np.diff(slopes)])[None, :]
    net.biases[1][...] = f(knots[0])
    return net


grid = np.linspace(0, 2 * np.pi, 2001)[:, None]
widths = [3, 5, 9, 17, 33, 65, 129]
errors = []
for m in widths:
    net = interpolant_network(np.sin, 0.0, 2 * np.pi, m)
    errors.append(np.max(np.abs(net.predict(grid) - np.sin(grid[:, 0]))))
    pieces = theory.count_linear_pieces(net, 0.0, 2 * np.pi).count
    print(f"m = {m:3d} units: {pieces:3d} linear pieces, max error {errors[-1]:.2e}")

# %%
# Each unit adds one kink, so ``m`` units make ``m`` pieces (counted exactly by
# :func:`fastnet.theory.count_linear_pieces`, which follows the network's breakpoints
# instead of sampling it; odd ``m`` here, because for even ``m`` the sine's symmetry
# gives the two pieces around :math:`\pi` the same slope, and they merge into one). The error of linear interpolation of a smooth function falls
# like :math:`h^2 \max|f''| / 8` with knot spacing :math:`h = 2\pi / m`:

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.plot(grid[:, 0], np.sin(grid[:, 0]), "k-", lw=2.5, label="sin(x)")
for m in (3, 5, 9):
    net = interpolant_network(np.sin, 0.0, 2 * np.pi, m)
    ax1.plot(grid[:, 0], net.predict(grid), lw=1.2, label=f"{m} ReLU units")
ax1.set_xlabel("x")
ax1.set_title("One hidden layer, weights by construction")
ax1.legend(fontsize=8)
ax2.loglog(widths, errors, "o-", label="network (measured)")
h = 2 * np.pi / np.array(widths)
ax2.loglog(widths, h ** 2 / 8, "--", label=r"$h^2/8$ (interpolation bound)")
ax2.set_xlabel("hidden units m")
ax2.set_ylabel("max |error| on [0, 2π]")
ax2.set_title("Error vs width")
ax2.legend(fontsize=8)
fig.tight_layout()

# %%
# Training the same architecture
# ------------------------------
# The theorem guarantees that good weights exist; SGD still has to find them. Here the
# networks ``[1, m, 1]`` (tanh hidden units, linear output, squared error) are trained
# with minibatch SGD and momentum on 512 samples of the sine.

X, y = datasets.sine(512, seed=0)
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(grid[:, 0], np.sin(grid[:, 0]), "k-", lw=2.5, label="sin(x)")
for m in (1, 3, 12):
    net = fastnet.MLP([1, m, 1], activation="tanh", output="linear", dtype="float64",
                      seed=0)
    history = net.fit(X / np.pi - 1, y, epochs=400, batch_size=16, learning_rate=0.05,
                      momentum=0.9)
    mse = float(np.mean((net.predict(grid / np.pi - 1) - np.sin(grid[:, 0])) ** 2))
    print(f"{m:2d} tanh units: training loss {history['loss'][-1]:.2e}, "
          f"mse on the grid {mse:.2e}")
    ax.plot(grid[:, 0], net.predict(grid / np.pi - 1), lw=1.2, label=f"{m} tanh units")
ax.set_xlabel("x")
ax.set_title("One hidden layer, trained by SGD")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Inputs are scaled to :math:`[-1, 1]` first (``X / pi - 1``): with raw inputs up to
# :math:`2\pi` the tanh units start saturated and SGD crawls. One unit can only make
# one S-shaped bend; three already follow the sine closely. What the theorem does not
# say, and the next pages show, is that for some functions the width needed by one
# layer grows exponentially while a deeper network stays small.
