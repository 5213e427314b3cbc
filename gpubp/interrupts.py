"""Held interrupts: a Ctrl-C (SIGINT) that arrives during a training step is delivered after it.

A step changes several things that must change together: the parameters (several calls of an
optimizer's NumPy twin), the optimizer's step count ``t`` and moments, and fit's record of the
batches done. Python runs a signal's handler between any two bytecodes, so an interrupt landing
inside a step would leave the parameters half updated, or updated but not recorded, and the
resumed run would not equal an uninterrupted one. :class:`Held` holds the signal while a step
runs and delivers it, to whatever handler was there before, as soon as the step and its
bookkeeping are done; outside steps (and on a second signal during one, the way out of a step
that hangs) it is delivered at once.

Signal handlers can only be set in the main thread: elsewhere :class:`Held` changes nothing (an
interrupt cannot reach another thread anyway).
"""

import signal
import threading


class Held:
    """``with Held() as held:`` around a loop of steps; ``held.hold()`` before each step and
    ``held.release()`` after its bookkeeping (which delivers a signal that came meanwhile)."""

    def __init__(self, signum=signal.SIGINT):
        self.signum = signum
        self.holding = False
        self.pending = None
        self.previous = None
        self.installed = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(self.signum)
            if previous is not None:  # None: a handler set outside Python, left as it is
                self.previous = previous
                signal.signal(self.signum, self._handle)
                self.installed = True
        return self

    def __exit__(self, *exc):
        self.holding = False
        if self.installed:
            signal.signal(self.signum, self.previous)
            self.installed = False
        pending, self.pending = self.pending, None
        if pending is not None and exc[0] is None:
            self._deliver(*pending)
        return False

    def hold(self):
        self.holding = True

    def release(self):
        self.holding = False
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._deliver(*pending)

    def _handle(self, signum, frame):
        if self.holding and self.pending is None:
            self.pending = (signum, frame)
            return
        self._deliver(signum, frame)  # outside a step, or a second signal: at once

    def _deliver(self, signum, frame):
        previous = self.previous
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL and signum == signal.SIGINT:
            raise KeyboardInterrupt
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        # SIG_IGN: ignored, as before
