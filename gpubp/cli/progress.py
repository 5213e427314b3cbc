"""Progress on the terminal (a tqdm bar, plain lines, or nothing) and the signals that stop a
training run between two batches (SIGINT, SIGTERM)."""

import contextlib
import io
import os
import signal
import sys
import threading


class Progress:
    """A tqdm bar over epochs on a terminal, one plain line per epoch otherwise, or nothing."""

    def __init__(self, total, initial, quiet, what="epoch"):
        self.total, self.done, self.what = total, initial, what
        self.bar = None
        self.mode = "none" if quiet else "lines"
        if not quiet and _isatty(sys.stderr):
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.mode = "bar"
                # a terminal that reports no width (some ptys) would get an empty bar
                sized = _columns(sys.stderr) > 0
                self.bar = tqdm(total=total, initial=initial, unit=what, file=sys.stderr,
                                dynamic_ncols=sized, ncols=None if sized else 100, leave=True)

    def update(self, postfix, seconds=None):
        self.done += 1
        if self.mode == "bar":
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self.bar.update(1)
        elif self.mode == "lines":
            parts = "  ".join(f"{k} {v:.6g}" for k, v in postfix.items())
            took = f"  ({seconds:.2f} s)" if seconds is not None else ""
            print(f"{self.what} {self.done}/{self.total}  {parts}{took}", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _columns(stream):
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return 0


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ---- signals ------------------------------------------------------------------------------------

class Interrupted(KeyboardInterrupt):
    """A signal that interrupts at once (the first before training, a second one during it):
    ``signum`` and the line that says what became of the run."""

    def __init__(self, signum, message=None):
        super().__init__(message or f"{signal.Signals(signum).name}: interrupted")
        self.signum, self.message = signum, message

    @property
    def name(self):
        return signal.Signals(self.signum).name


class Stopper:
    """SIGINT and SIGTERM, from the start of a run to its end. Before :meth:`defer` (nothing
    trained, nothing to save) a signal interrupts at once (:class:`Interrupted`); after it, the
    first signal only sets a flag, which ``fit(stop=stopper)`` asks after every batch and the
    command asks before and after saving; a second signal interrupts at once (the way out of a
    stop that takes too long)."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self):
        self.signum = None
        self.deferring = False

    def __call__(self):
        return self.signum is not None

    @property
    def name(self):
        return signal.Signals(self.signum).name if self.signum is not None else None

    def defer(self):
        """From now on a first signal sets the flag (the run stops where it can and saves)."""
        self.deferring = True

    def _handle(self, signum, frame):
        if self.signum is not None or not self.deferring:
            raise Interrupted(signum)
        self.signum = signum

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers can only be set in the main thread
            return
        previous = {}
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
