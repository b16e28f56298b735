"""Pictures of training, with matplotlib (an optional extra: pip install "fastnet[plot]").

Every figure fastnet draws follows the same rules, so that it can be read on its own:
a title, labelled axes, integer ticks for integer quantities, one legend that sits
outside the axes (it can cover no data, and twin axes share it), and failures drawn
as failures, never joined to the points around them by a line.
"""


def pyplot_or_none():
    """matplotlib.pyplot (drawing to files when there is no screen), or None when
    matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    if not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _pyplot():
    plt = pyplot_or_none()
    if plt is None:
        raise ImportError("plotting needs matplotlib: pip install matplotlib "
                          "(or pip install 'fastnet[plot]')")
    return plt


def _has_display():
    import os
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def new_figure(figsize=(7, 5)):
    """A figure with one axes, laid out by matplotlib's constrained layout (which
    makes room for a legend placed outside the axes by :func:`legend_outside`).

    Returns
    -------
    fig, ax : matplotlib Figure and Axes
    """
    plt = _pyplot()
    try:
        return plt.subplots(figsize=figsize, layout="constrained")
    except TypeError:           # matplotlib < 3.6 names it differently
        return plt.subplots(figsize=figsize, constrained_layout=True)


def legend_outside(fig, *axes, fontsize=8, ncol=2):
    """One legend for all the lines of `axes` (an axes and its twins), placed below
    them, outside every axes: a legend inside an axes can hide data (the curve of a
    twin axis runs through a legend drawn on the first one), and one beside the
    axes can run into the title.

    Parameters
    ----------
    fig : matplotlib Figure
        Made by :func:`new_figure`.
    *axes : matplotlib Axes
        The axes whose labelled artists the legend lists, in this order.
    fontsize : float, default 8
    ncol : int, default 2
        Columns of legend entries.

    Returns
    -------
    matplotlib.legend.Legend
    """
    handles, labels = [], []
    for ax in axes:
        h, l = ax.get_legend_handles_labels()
        handles += h
        labels += l
    ncol = min(ncol, len(labels))
    try:
        # matplotlib >= 3.7: the layout engine shrinks the axes to make room
        return fig.legend(handles, labels, loc="outside lower center", fontsize=fontsize,
                          ncol=ncol)
    except ValueError:
        # older: hung below the figure; savefig(bbox_inches="tight") keeps it
        return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                          fontsize=fontsize, ncol=ncol)


def set_title(fig, text):
    """The figure's title, above the axes and the outside legend (an axes title as
    wide as the figure would run into a legend placed beside the axes)."""
    return fig.suptitle(text, fontsize=11)


def plain_log_ticks(axis):
    """Tick labels on a logarithmic `axis` as plain numbers (0.2, 200), not as
    2 x 10^-1; matplotlib still decides which ticks get a label."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainLogFormatter(LogFormatterSciNotation):
        def __call__(self, x, pos=None):
            # the parent returns "" for the ticks it leaves unlabelled
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(PlainLogFormatter())
    # label a few minor ticks (2, 5) up to 2.5 decades, all of them below one
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2.5, 1)))


def integer_ticks(axis):
    """Ticks at whole numbers only on `axis` (``ax.xaxis`` or ``ax.yaxis``), for
    counts such as epochs, bits or layers."""
    from matplotlib.ticker import MaxNLocator
    # steps of 1, 2 or 5 times a power of ten: 0, 5, 10, 15 rather than 3, 6, 9
    axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def save_figure(fig, path, dpi=120):
    """Save `fig` to `path` (the format from the suffix), the outside legend
    included, and close it."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)


# The metrics fit records for validation data, with their axis labels (mathtext for
# R^2: a literal caret is not a label).
_METRIC_LABELS = (("val_accuracy", "validation accuracy"),
                  ("val_r2", "validation $R^2$"))


def plot_history(history, path=None, loss_name=None):
    """Plot a fit history: the training loss and, when present, the validation loss
    (left axis, logarithmic when all losses are positive) and the validation accuracy
    or $R^2$ (right axis), per epoch, with one legend outside the axes.

    Parameters
    ----------
    history : dict
        What MLP.fit returns.
    path : str or path-like, optional
        Save the figure there (PNG by the suffix) and close it.
    loss_name : str, optional
        The model's loss, for the y label (for example ``"cross-entropy"``); the
        label says "mean loss per sample" without it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(history, dict) or not history.get("loss"):
        raise ValueError("history must be the dict fit returns, with at least one epoch")
    if loss_name is not None and not isinstance(loss_name, str):
        raise TypeError(f"loss_name must be a str or None, got {type(loss_name).__name__}")
    fig, ax = new_figure()
    epochs = range(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], marker="." if len(epochs) < 30 else None,
            label="training loss")
    losses = list(history["loss"])
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], marker="." if len(epochs) < 30 else None,
                label="validation loss")
        losses += list(history["val_loss"])
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"mean {loss_name} per sample" if loss_name else "mean loss per sample")
    if min(losses) > 0:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    integer_ticks(ax.xaxis)
    axes = [ax]
    for key, label in _METRIC_LABELS:
        if history.get(key):
            twin = ax.twinx()
            twin.plot(epochs, history[key], color="tab:green", ls="--",
                      marker="." if len(epochs) < 30 else None, label=label)
            twin.set_ylabel(label)
            axes.append(twin)
    set_title(fig, "Training history")
    legend_outside(fig, *axes)
    if path is not None:
        save_figure(fig, path)
    return fig
