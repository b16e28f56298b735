"""Feedback while fit runs: one progress bar for the whole fit (epochs x samples),
moving after every chunk of steps (about 0.1 s), so a long epoch does not sit at 0%."""
import sys
import time

# Without tqdm, a line within an epoch at most this often (the end of every epoch
# always gets its line).
LINE_SECONDS = 1.0


class Progress:
    """Reports fit's progress: with tqdm installed, one bar over all the samples of all
    the epochs (its own rate and time left), its postfix the epoch and the last
    epoch's loss and validation figures; without it, plain lines with the same
    figures and the time left of the whole fit: one at the end of every epoch, and
    within a long epoch one at most every LINE_SECONDS."""

    def __init__(self, epochs, samples, enabled, file=None):
        self.epochs, self.samples, self.enabled = epochs, samples, enabled
        self.file = file if file is not None else sys.stdout
        self.bar = None
        self.done = 0                    # samples trained on in this fit
        self.epoch = 1                   # the epoch running (1-based)
        self.start = self.last_line = time.perf_counter()
        self.figures = {}
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                total = epochs * samples
                # " samples" reads "12.3k samples/s"; k and M only where counts are large
                self.bar = tqdm(total=total, unit=" samples", unit_scale=total >= 100_000,
                                file=self.file, leave=True, desc=self._desc())

    def _desc(self):
        return f"epoch {self.epoch}/{self.epochs}"

    def _left(self):
        elapsed = time.perf_counter() - self.start
        return elapsed / max(self.done, 1) * (self.epochs * self.samples - self.done)

    def advance(self, rows):
        """`rows` more samples were trained on (a chunk of steps)."""
        running = min(self.done // self.samples + 1, self.epochs)
        new_epoch, self.epoch = running != self.epoch, running
        self.done += rows
        if not self.enabled:
            return
        if self.bar is not None:
            if new_epoch:                   # the first chunk of the next epoch
                self.bar.set_description(self._desc(), refresh=False)
            self.bar.update(rows)
            return
        now = time.perf_counter()
        in_epoch = self.done - (self.epoch - 1) * self.samples
        if now - self.last_line >= LINE_SECONDS and in_epoch < self.samples:
            self.last_line = now
            print(f"{self._desc()}  {in_epoch}/{self.samples} samples  "
                  f"{self._left():.1f}s left", file=self.file, flush=True)

    @staticmethod
    def _figures(record):
        figures = {"loss": f"{record['loss']:.4g}"}
        for key in ("val_loss", "val_accuracy", "val_r2"):
            if key in record:
                figures[key] = f"{record[key]:.4g}"
        return figures

    def epoch_done(self, record):
        """An epoch ended with this record (fit's history entry)."""
        if not self.enabled:
            return
        done = record["epoch"]
        figures = self._figures(record)
        if self.bar is not None:
            self.bar.set_postfix(figures)
            return
        self.last_line = time.perf_counter()
        rate = self.samples / max(record["seconds"], 1e-12)
        text = "  ".join(f"{k} {v}" for k, v in figures.items())
        print(f"epoch {done}/{self.epochs}  {text}  lr {record['learning_rate']:.4g}  "
              f"{rate:.3g} samples/s  {record['seconds']:.3f}s  {self._left():.1f}s left",
              file=self.file, flush=True)

    def note(self, text):
        """A line about the fit (early stopping), below the bar."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
