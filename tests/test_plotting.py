"""The figures fastnet draws can be read on their own: checked on the Figure objects,
not on pixels (a title, labelled axes, no literal caret, integer ticks for integer
quantities, one legend that covers no data, failures drawn as failures)."""
import os
import re
import runpy

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import fastnet  # noqa: E402
from fastnet import datasets, experiments  # noqa: E402
from fastnet.plotting import plot_history  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig):
    """Every piece of text the figure shows."""
    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _title(fig):
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return " ".join([suptitle] + [ax.get_title() for ax in fig.axes])


def _legends(fig):
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes
                                if ax.get_legend() is not None]


def _data_points(ax):
    """Display coordinates of every data point of the lines and filled areas of ax."""
    points = [ax.transData.transform(np.asarray(line.get_xydata(), dtype=float))
              for line in ax.get_lines()]
    for coll in ax.collections:
        for path in coll.get_paths():
            points.append(ax.transData.transform(path.vertices))
    points = np.concatenate(points) if points else np.zeros((0, 2))
    return points[np.isfinite(points).all(axis=1)]


def check_figure(fig, integer_x=True):
    """The rules every fastnet figure follows; returns the one legend."""
    texts = _texts(fig)
    assert _title(fig).strip(), "no title"
    for ax in fig.axes:
        assert ax.get_ylabel().strip(), "an axis without a y label"
    # twin axes share the x label of the first axes
    assert fig.axes[0].get_xlabel().strip(), "no x label"
    for text in texts:
        # a caret belongs in mathtext ($R^2$), never printed as it is
        assert "^" not in re.sub(r"\$[^$]*\$", "", text), text
    legends = _legends(fig)
    assert len(legends) == 1, f"{len(legends)} legends, expected one for all axes"
    legend = legends[0]
    box = legend.get_window_extent()
    for ax in fig.axes:
        x, y = _data_points(ax).T
        inside = (x >= box.x0) & (x <= box.x1) & (y >= box.y0) & (y <= box.y1)
        assert not inside.any(), "the legend covers data"
    for ax in fig.axes:
        # stricter: beside the axes, it can cover no data whatever is drawn later
        assert not box.overlaps(ax.get_window_extent()), "the legend lies on an axes"
    if integer_x:
        ax = fig.axes[0]
        lo, hi = sorted(ax.get_xlim())
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    return legend


# --------------------------------------------------------------------------------
# History.plot
# --------------------------------------------------------------------------------

def _history(task, epochs):
    if task == "classification":
        X, y = datasets.two_spirals(200, seed=0)
        net = fastnet.MLP([2, 8, 2], seed=0)
    else:
        X, y = datasets.sine(200, seed=0)
        net = fastnet.MLP([1, 8, 1], "tanh", "linear", seed=0)
    return net.fit(X, y, epochs=epochs, validation_data=(X[:50], y[:50]))


@pytest.mark.parametrize("task,metric_label", [("classification", "validation accuracy"),
                                                ("regression", "validation $R^2$")])
def test_history_plot_reads_on_its_own(task, metric_label):
    history = _history(task, epochs=7)
    fig = history.plot()
    legend = check_figure(fig)
    loss_ax, metric_ax = fig.axes
    assert "loss" in loss_ax.get_ylabel()
    assert metric_ax.get_ylabel() == metric_label
    labels = [t.get_text() for t in legend.get_texts()]
    # one legend names the curves of both axes: the twin's curve is not left out
    assert labels == ["training loss", "validation loss", metric_label]


def test_history_plot_says_which_loss():
    fig = plot_history(_history("regression", epochs=3), loss_name="squared error")
    assert fig.axes[0].get_ylabel() == "mean squared error per sample"
    with pytest.raises(TypeError, match="loss_name"):
        plot_history(_history("regression", epochs=1), loss_name=3)


def test_history_without_validation_has_one_axes(tmp_path):
    X, y = datasets.sine(100, seed=0)
    history = fastnet.MLP([1, 4, 1], "tanh", "linear", seed=0).fit(X, y, epochs=40)
    fig = plot_history(history)
    check_figure(fig)
    assert len(fig.axes) == 1
    plot_history(history, tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000


# --------------------------------------------------------------------------------
# The experiments' figures, drawn from made-up or reduced results (fast)
# --------------------------------------------------------------------------------

def _parity_result():
    # d, shallow units, params, accuracy, epochs, deep units, params, accuracy, epochs,
    # gates x3: the deep network fails at d = 4 between two successes, and both fail
    # at d = 6
    def row(d, shallow, deep):
        return (d, "10", 70, shallow[0], shallow[1], "3x4", 70, deep[0], deep[1], 1, 2, 3)
    rows = [row(2, ("1.000", 75), ("1.000", 50)),
            row(3, ("1.000", 375), ("1.000", 75)),
            row(4, ("1.000", 425), ("0.938", ">2000")),
            row(5, ("1.000", 625), ("1.000", 150)),
            row(6, ("0.969", ">2000"), ("0.578", ">2000"))]
    return {"header": experiments.PARITY_HEADER, "rows": rows, "max_epochs": 2000}


def test_parity_figure_marks_failures_and_draws_no_line_across_them():
    fig = experiments._parity_figure(_parity_result())
    legend = check_figure(fig)
    ax = fig.axes[0]
    deep = next(l for l in ax.get_lines() if l.get_label() == "deep (3 hidden layers): "
                                                              "reached 100%")
    x, y = deep.get_xdata(), deep.get_ydata()
    # the deep run failed at d = 4: no finite point there, so the line breaks
    assert list(x[np.isfinite(y)]) == [2, 3, 5]
    assert np.isnan(y[list(x).index(4)])
    failures = {l.get_label(): l for l in ax.get_lines() if "below 100%" in l.get_label()}
    assert set(failures) == {"shallow (1 hidden layer): below 100% after 2000 epochs",
                             "deep (3 hidden layers): below 100% after 2000 epochs"}
    for line in failures.values():
        assert line.get_linestyle() in ("None", "none", "")     # markers, no line
        assert np.all(line.get_ydata() == 2000)
    deep_fail = failures["deep (3 hidden layers): below 100% after 2000 epochs"]
    assert np.allclose(np.round(deep_fail.get_xdata()), [4, 6])
    # the accuracy each failed run reached is written beside its mark
    annotations = [t.get_text() for t in ax.texts]
    assert sorted(annotations) == ["0.578", "0.938", "0.969"]
    assert any("below 100%" in t.get_text() for t in legend.get_texts())
    assert ax.get_yscale() == "log"


def test_depth_figure_says_montufar_is_a_lower_bound_on_the_maximum():
    result = experiments._depth_table(quick=True, random_nets=2)
    fig = experiments._depth_figure(result)
    legend = check_figure(fig)
    labels = [t.get_text() for t in legend.get_texts()]
    montufar = [l for l in labels if "Montufar" in l]
    assert len(montufar) == 1
    assert "lower bound" in montufar[0] and "maximum" in montufar[0]
    # the construction stays below that bound and above the one-layer maximum from k=3
    rows = result["rows"]
    assert all(r[2] <= r[5] for r in rows)


def test_zigzag_figure_labels_both_axes():
    grid = np.linspace(0, 1, 101)
    _, target = datasets.zigzag(3, 101, grid=True)
    result = {"header": experiments.ZIGZAG_HEADER, "k": 3, "units": 24, "grid": grid,
              "rows": [(1, "24", 73, "0.0460", 22, 8), (3, "8-8-8", 169, "0.0001", 21, 8)],
              "fits": [np.full(101, 0.5), target]}
    fig = experiments._zigzag_figure(result)
    check_figure(fig, integer_x=False)
    assert fig.axes[0].get_ylabel() == "f(x)"
    # the legend is below the axes: the target's last peaks (x near 1) are uncovered
    legend = _legends(fig)[0].get_window_extent()
    assert legend.y1 < fig.axes[0].get_window_extent().y0


def test_zigzag_example_figure_shows_deep_versus_shallow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = runpy.run_path(os.path.join(EXAMPLES, "zigzag.py"))["main"]
    drawn = []
    monkeypatch.setitem(main.__globals__, "save_figure",
                        lambda fig, path: drawn.append(fig))
    results = main(quick=True)
    (fig,) = drawn
    check_figure(fig, integer_x=False)
    assert fig.axes[0].get_xlabel() == "x"
    # the contrast the example sets out to show: the deep network has every piece,
    # the shallow one of the same units at most 2k + 1 = 7 of the target's 8
    assert results["deep"][3] == 8 and results["deep"][2] < 1e-20
    assert results["shallow"][3] <= 7
