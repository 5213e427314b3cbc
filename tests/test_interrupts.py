"""Held interrupts: a SIGINT during a step is delivered after it, to the handler that was there."""

import signal
import threading

import pytest

from gpubp.interrupts import Held


def test_a_signal_during_a_step_arrives_after_its_bookkeeping():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with Held() as held:
            held.hold()
            signal.raise_signal(signal.SIGINT)   # as a Ctrl-C in the middle of the step
            done.append("update")
            done.append("bookkeeping")
            held.release()
            done.append("next step")             # never reached
    assert done == ["update", "bookkeeping"]


def test_a_signal_outside_a_step_and_a_second_one_inside_arrive_at_once():
    with Held() as held:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        held.hold()
        signal.raise_signal(signal.SIGINT)       # held
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)   # a second one: the way out of a step that hangs
        held.holding = False
        held.pending = None


def test_the_previous_handler_gets_the_signal_and_comes_back():
    seen = []

    def mine(signum, frame):
        seen.append(signum)

    old = signal.signal(signal.SIGINT, mine)
    try:
        with Held() as held:
            held.hold()
            signal.raise_signal(signal.SIGINT)
            assert seen == []
            held.release()
            assert seen == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_signal_held_when_the_loop_ends_is_delivered_at_its_end():
    with pytest.raises(KeyboardInterrupt):
        with Held() as held:
            held.hold()
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_signal_stays_ignored():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Held() as held:
            held.hold()
            signal.raise_signal(signal.SIGINT)
            held.release()
    finally:
        signal.signal(signal.SIGINT, old)


def test_outside_the_main_thread_nothing_is_installed():
    out = {}

    def run():
        with Held() as held:
            out["installed"] = held.installed
            held.hold()
            held.release()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert out == {"installed": False}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
