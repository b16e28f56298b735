"""Feedback while fit runs: one progress line (or a tqdm bar) per epoch."""
import sys


class Progress:
    """Reports epoch records: with tqdm installed, a bar over the epochs (its own
    time-left estimate) with the loss, validation metric and samples per second;
    without it, one plain line per epoch with the same figures and the time left."""

    def __init__(self, epochs, samples, enabled, file=None):
        self.epochs, self.samples, self.enabled = epochs, samples, enabled
        self.file = file if file is not None else sys.stdout
        self.bar = None
        self.elapsed = 0.0
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=epochs, unit="epoch", file=self.file, leave=True)

    @staticmethod
    def _figures(record):
        figures = {"loss": f"{record['loss']:.4g}"}
        for key in ("val_loss", "val_accuracy", "val_r2"):
            if key in record:
                figures[key] = f"{record[key]:.4g}"
        return figures

    def update(self, record):
        if not self.enabled:
            return
        self.elapsed += record["seconds"]
        rate = self.samples / max(record["seconds"], 1e-12)
        figures = self._figures(record)
        if self.bar is not None:
            self.bar.set_postfix(figures, refresh=False)
            self.bar.set_postfix_str(self.bar.postfix + f", {rate:.3g} samples/s", refresh=False)
            self.bar.update(1)
            return
        done = record["epoch"]
        left = self.elapsed / done * (self.epochs - done)
        text = "  ".join(f"{k} {v}" for k, v in figures.items())
        print(f"epoch {done}/{self.epochs}  {text}  lr {record['learning_rate']:.4g}  "
              f"{rate:.3g} samples/s  {record['seconds']:.3f}s  {left:.1f}s left",
              file=self.file, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
