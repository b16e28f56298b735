"""Pictures of training, with matplotlib (an optional extra: pip install "fastnet[plot]")."""


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


def plot_history(history, path=None):
    """Plot a fit history: the training loss and, when present, the validation loss
    (left axis) and the validation accuracy or R^2 (right axis), per epoch.

    Parameters
    ----------
    history : dict
        What MLP.fit returns.
    path : str or path-like, optional
        Save the figure there (PNG by the suffix) and close it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(history, dict) or not history.get("loss"):
        raise ValueError("history must be the dict fit returns, with at least one epoch")
    plt = _pyplot()
    epochs = range(1, len(history["loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history["loss"], label="training loss")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if min(history["loss"]) > 0 else "linear")
    lines, labels = ax.get_legend_handles_labels()
    for key, label in (("val_accuracy", "validation accuracy"), ("val_r2", "validation R^2")):
        if history.get(key):
            ax2 = ax.twinx()
            ax2.plot(epochs, history[key], color="tab:green", label=label)
            ax2.set_ylabel(label)
            more = ax2.get_legend_handles_labels()
            lines, labels = lines + more[0], labels + more[1]
    ax.legend(lines, labels, loc="best")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
