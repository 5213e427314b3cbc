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
        self.closing = False

    def __enter__(self):
        # the handler is installed by the first hold(), inside the with block, so that a signal
        # at any moment after it is installed ends in __exit__, which puts the old one back
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(self.signum)  # None: set outside Python, left alone
        return self

    def __exit__(self, *exc):
        self.closing = True  # a signal from here on is held, so the handler is always restored
        try:
            self._restore()
        finally:
            self.holding = self.closing = False
        pending, self.pending = self.pending, None
        if pending is not None and exc[0] is None:
            self._deliver(*pending)
        return False

    def _restore(self):
        if self.installed:
            signal.signal(self.signum, self.previous)
            self.installed = False

    def hold(self):
        self.holding = True
        if not self.installed and self.previous is not None:
            self.installed = True
            signal.signal(self.signum, self._handle)

    def release(self):
        self.holding = False
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._deliver(*pending)

    def _handle(self, signum, frame):
        if (self.holding or self.closing) and self.pending is None:
            self.pending = (signum, frame)
            return
        # outside a step, or a second signal: at once, with the old handler put back first (what
        # it raises may leave the with block at any point, even before __exit__'s first line;
        # the next hold() installs this one again)
        self._restore()
        self._deliver(signum, frame)

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
