"""The benchmark configurations: typed records, and the one table of them.

``fastnet bench`` and ``benchmarks/test_configs.py`` both read :data:`CONFIGS`; a
configuration is changed here and nowhere else.
"""
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

import fastnet
from fastnet.bench import lean
from fastnet.components import HEADS


@dataclass(frozen=True)
class Target:
    """What fastnet is expected to reach on a configuration, per dtype (issue 11).

    Parameters
    ----------
    kind : {"lean", "time", "ceiling"}
        ``"lean"``: a speedup over the lean NumPy baseline of at least the value;
        ``"time"``: at most the value in seconds per sample (or call); ``"ceiling"``:
        at least the value as a share of numpy's matmul on the configuration's own
        products (``shape_peak_share``).
    float32, float64 : float
        The value for each dtype.
    """

    kind: str
    float32: float
    float64: float

    def __post_init__(self):
        if self.kind not in ("lean", "time", "ceiling"):
            raise ValueError(f"target kind must be 'lean', 'time' or 'ceiling', not "
                             f"{self.kind!r}")

    def value(self, dtype: str) -> float:
        """The value for ``dtype``."""
        return self.float64 if dtype == "float64" else self.float32

    def describe(self, dtype: str) -> str:
        """The target as the table prints it: ``>=70x lean``, ``<=0.7 us``, ``>=90% ceiling``."""
        v = self.value(dtype)
        if self.kind == "lean":
            return f">={v:g}x lean"
        if self.kind == "time":
            return f"<={v * 1e6:g} us"
        return f">={100 * v:g}% ceiling"

    def met(self, row: Mapping[str, Any]) -> Optional[bool]:
        """Whether a measured row (``fastnet.bench.run(...)["rows"]``) reaches it; None
        when the row lacks the figure (no lean time, no ceiling)."""
        v = self.value(row["dtype"])
        if self.kind == "lean":
            lean = row.get("lean_s")
            return None if lean is None else lean / row["fastnet_s"] >= v
        if self.kind == "time":
            return row["fastnet_s"] <= v
        share = row.get("shape_peak_share")
        return None if share is None else share >= v


@dataclass(frozen=True)
class Config:
    """One benchmark configuration: a network, a workload and a speedup target.

    Parameters
    ----------
    name : str
        One letter, the key in :data:`CONFIGS` and the ``config`` column of reports.
    title : str
        Short description printed next to the name.
    sizes : tuple of int
        Layer sizes, input first.
    activation : str
        Hidden activation (``"relu"``, ``"tanh"``, ``"sigmoid"``).
    output : str
        Output layer (``"softmax"`` for classification, ``"linear"`` for regression).
    kind : {"fit", "predict"}
        Whether one epoch of training or prediction is timed.
    n : tuple of int
        Workload size in the quick and the full run: samples per epoch for ``"fit"``,
        calls for one-row ``"predict"``; a many-row predict is one call per run, and
        its ``n`` is only reported (``samples``).
    target : Target
        What fastnet is expected to reach, per dtype.
    batch_size : int, optional
        Minibatch size; required for ``"fit"``.
    rows : int, optional
        Rows per predict call; required for ``"predict"``.
    """

    name: str
    title: str
    sizes: Tuple[int, ...]
    activation: str
    output: str
    kind: str
    n: Tuple[int, int]
    target: Target
    batch_size: Optional[int] = None
    rows: Optional[int] = None

    def __post_init__(self):
        # stored as tuples so that the record is hashable and cannot be changed
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        object.__setattr__(self, "n", tuple(int(v) for v in self.n))
        if self.kind == "fit":
            if self.batch_size is None:
                raise ValueError(f"configuration {self.name}: kind 'fit' needs batch_size")
        elif self.kind == "predict":
            if self.rows is None:
                raise ValueError(f"configuration {self.name}: kind 'predict' needs rows")
        else:
            raise ValueError(f"configuration {self.name}: kind must be 'fit' or 'predict', "
                             f"not {self.kind!r}")

    @property
    def unit(self) -> str:
        """What one timed figure is per: ``"sample"`` (fit) or ``"call"`` (predict)."""
        return "call" if self.kind == "predict" else "sample"

    @property
    def one_at_a_time(self) -> bool:
        """True for per-sample SGD and one-row prediction: no matrix product, so no
        BLAS ceiling, and the slow reference runs are cut short."""
        return self.batch_size == 1 if self.kind == "fit" else self.rows == 1

    @property
    def rows_per_call(self) -> int:
        """Samples one timed unit covers: the rows of a predict call, else 1."""
        return self.rows if self.kind == "predict" else 1

    @property
    def n_params(self) -> int:
        """Number of weights and biases of the network."""
        s = self.sizes
        return sum(s[i] * s[i + 1] + s[i + 1] for i in range(len(s) - 1))

    @property
    def flops_per_sample(self) -> int:
        """Multiply-adds counted as 2 flops: forward 2 per weight; training adds the
        weight gradient (2) and the input gradient (2, not for the first layer)."""
        s = self.sizes
        weights = [s[i] * s[i + 1] for i in range(len(s) - 1)]
        if self.kind == "predict":
            return 2 * sum(weights)
        return 2 * sum(weights) + 2 * sum(weights) + 2 * sum(weights[1:])

    def samples(self, full: bool = False) -> int:
        """The workload size ``n`` of the quick (default) or the full run."""
        return self.n[1 if full else 0]

    def reference_samples(self, n: int) -> int:
        """Workload for the reference (and torch): cut short where the reference is
        slow, one sample at a time; the figures compared are per sample or per call."""
        if self.one_at_a_time:
            return max(n // 4, 256 if self.kind == "fit" else 500)
        return n

    def fit_args(self) -> Dict[str, Any]:
        """Keyword arguments of ``fit`` for this configuration (one epoch).

        Returns
        -------
        dict
            ``batch_size`` and ``learning_rate`` (0.01 per sample, 0.05 in minibatches).

        Raises
        ------
        ValueError
            For a ``"predict"`` configuration.
        """
        if self.kind != "fit":
            raise ValueError(f"configuration {self.name} times predict, not fit")
        return dict(batch_size=self.batch_size,
                    learning_rate=0.01 if self.batch_size == 1 else 0.05)

    def make_net(self, impl, dtype: str, seed: int = 0):
        """This configuration's network, built by ``impl`` (``fastnet`` or
        ``fastnet.reference``) through its public ``MLP``; for the lean baseline
        (:mod:`fastnet.bench.lean`), fastnet's network of this seed copied into a
        :class:`~fastnet.bench.lean.LeanMLP` (same initial weights).

        Parameters
        ----------
        impl : module
            A module with an ``MLP`` class (``fastnet``, ``fastnet.reference``), or
            ``fastnet.bench.lean``.
        dtype : str
            ``"float32"`` or ``"float64"``.
        seed : int, default 0
            Seed of the weight initialisation.

        Returns
        -------
        MLP or LeanMLP
        """
        if impl is lean:
            net = self.make_net(fastnet, dtype, seed)
            return lean.LeanMLP(net.weights, net.biases, self.activation, self.output,
                                seed=seed)
        return impl.MLP(list(self.sizes), self.activation, self.output, dtype=dtype,
                        seed=seed)

    def gemm_shapes(self) -> List[Tuple[int, int, int]]:
        """The (m, k, n) matrix products one batch (or one predict call) performs."""
        sizes = self.sizes
        rows = self.rows if self.kind == "predict" else self.batch_size
        shapes = []
        for l in range(len(sizes) - 1):
            d, h = sizes[l], sizes[l + 1]
            shapes.append((rows, d, h))                  # forward: x @ W^T
            if self.kind == "fit":
                shapes.append((h, rows, d))              # weight gradient: dout^T @ x
                if l > 0:
                    shapes.append((rows, h, d))          # input gradient: dout @ W
        return shapes


# Targets (issue 11, float32 unless said): A >= 70x the lean baseline, float64 >= 50x;
# B >= 3x lean (float64: 2x, our choice: the BLAS-bound share doubles in float64, the
# overheads do not shrink); E >= 15x lean in both dtypes (one row: the dtype hardly
# matters); G <= 0.7 us per sample, float64 included; C, D, F >= 90% of numpy's matmul
# on their own products.
_TABLE = (
    # the lecture's algorithm
    Config("A", "per-sample SGD 64-32-10", (64, 32, 10), "relu", "softmax", "fit",
           n=(4000, 20000), target=Target("lean", 70, 50), batch_size=1),
    Config("B", "minibatch 32, 64-128-128-10", (64, 128, 128, 10), "relu", "softmax", "fit",
           n=(8192, 32768), target=Target("lean", 3, 2), batch_size=32),
    Config("C", "minibatch 128, 784-256-256-10", (784, 256, 256, 10), "relu", "softmax",
           "fit", n=(2048, 8192), target=Target("ceiling", 0.9, 0.9), batch_size=128),
    # BLAS-bound: compared to numpy's matmul
    Config("D", "minibatch 256, 784-1024-1024-10", (784, 1024, 1024, 10), "relu", "softmax",
           "fit", n=(1024, 4096), target=Target("ceiling", 0.9, 0.9), batch_size=256),
    # Python call to result
    Config("E", "predict one sample, 64-32-10", (64, 32, 10), "relu", "softmax", "predict",
           n=(3000, 20000), target=Target("lean", 15, 15), rows=1),
    Config("F", "predict 10,000 rows, 784-256-256-10", (784, 256, 256, 10), "relu",
           "softmax", "predict", n=(5, 20), target=Target("ceiling", 0.9, 0.9), rows=10000),
    # regression
    Config("G", "per-sample SGD 1-64-64-1 tanh linear", (1, 64, 64, 1), "tanh", "linear",
           "fit", n=(4000, 20000), target=Target("time", 0.7e-6, 0.7e-6), batch_size=1),
)

#: name -> :class:`Config`, in report order; read-only.
CONFIGS: Mapping[str, Config] = MappingProxyType({c.name: c for c in _TABLE})


def get_config(config) -> Config:
    """A configuration by name (``"A"``), or the :class:`Config` itself.

    Parameters
    ----------
    config : str or Config

    Returns
    -------
    Config

    Raises
    ------
    ValueError
        For a name not in :data:`CONFIGS`.
    """
    if isinstance(config, Config):
        return config
    try:
        return CONFIGS[config]
    except KeyError:
        raise ValueError(f"unknown benchmark configuration {config!r}; "
                         f"known: {', '.join(CONFIGS)}") from None


def make_data(config: Config, n: int, dtype: str, seed: int = 0):
    """Random inputs and targets for a configuration.

    Parameters
    ----------
    config : Config
    n : int
        Number of rows.
    dtype : str
        dtype of ``X`` (and of ``y`` for regression).
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n, sizes[0])
        Standard normal inputs.
    y : ndarray of shape (n,)
        Class labels for classification heads; ``sin(sum of the inputs)`` for
        regression heads.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, config.sizes[0])).astype(dtype)
    if HEADS[config.output].truth == "labels":
        y = rng.integers(0, config.sizes[-1], n)
    else:
        y = np.sin(X.sum(axis=1)).astype(dtype)
    return X, y
