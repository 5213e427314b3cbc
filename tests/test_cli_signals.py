"""Signals at every moment of `gpubp train`, sent to a real process: before training (nothing is
written), after the last epoch but before or while saving (the save finishes; the exit status
says a signal came), while drawing the loss curve, and a second signal while saving (it cuts the
save short at once; the old file stays). No temporary file is ever left behind, and every saved
model loads and resumes bit for bit. (Training itself is interrupted in tests/test_cli.py.)

The moment is made wide by a driver that runs the command line with a pause at one place
(``DRIVER``): the test waits for the pause, then signals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gpubp
from gpubp import cli

ENV = dict(os.environ, GPUBP_DEVICE="cpu", PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1",
           PYTHONPATH=str(Path(__file__).resolve().parents[1]))
SMALL = ["--data", "iris", "--hidden", "8", "--batch-size", "16", "--device", "cpu"]

DRIVER = r"""
import os, sys, time
from gpubp import cli
from gpubp.cli import train as cli_train

where, seconds = sys.argv[1], float(sys.argv[2])


def pause():
    open("paused", "w").close()  # the test signals now
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # short sleeps: a signal another thread took is seen soon
        time.sleep(0.02)


def before(owner, name):
    original = getattr(owner, name)

    def paused(*args, **kwargs):
        pause()
        return original(*args, **kwargs)
    setattr(owner, name, paused)


if where == "setup":
    before(cli_train.datasets, "load")
elif where == "before-save":
    before(cli_train.saving, "save")
elif where == "in-save":  # the temporary file is written; the rename is next
    replace = os.replace

    def paused_replace(src, dst, **kwargs):
        if str(src).endswith(".tmp") and str(dst).endswith(".npz"):
            pause()
        return replace(src, dst, **kwargs)
    os.replace = paused_replace
elif where == "training":  # after the first epoch's line, inside fit
    before(cli_train.Progress, "update")
elif where == "drawing":
    before(cli_train.TrainRun, "draw")
sys.exit(cli.main(sys.argv[3:]))
"""


def signalled(tmp_path, where, signals, *argv, seconds=3.0):
    """``gpubp train ARGV`` paused at ``where``; the ``signals`` sent in the pause, 0.3 s apart.
    Returns (exit status, stdout, stderr, seconds from the first signal to the exit)."""
    flag = tmp_path / "paused"
    if flag.exists():
        flag.unlink()
    p = subprocess.Popen([sys.executable, "-c", DRIVER, where, str(seconds), "train", *argv],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.02)
        t = time.monotonic()
        for i, sig in enumerate(signals):
            if i:
                time.sleep(0.3)
            p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        return p.returncode, out, err, time.monotonic() - t
    finally:
        if p.poll() is None:
            p.kill()


def temporaries(folder):
    return [f for f in os.listdir(folder) if f.endswith(".tmp")]


def same_run(a, b):
    with np.load(a) as fa, np.load(b) as fb:
        assert fa["params"].tobytes() == fb["params"].tobytes()
        assert json.loads(str(fa["training"])) == json.loads(str(fb["training"]))


def resumes_exactly(tmp_path, capsys, path, epochs):
    """``path`` resumed to ``epochs`` in all equals a run of ``epochs`` without a stop."""
    code = cli.main(["train", "--resume", str(path), "--epochs", str(epochs), "--no-plot",
                     "--quiet", "--save", str(tmp_path / "resumed.npz")])
    assert code == 0, capsys.readouterr().err
    code = cli.main(["train", *SMALL, "--epochs", str(epochs), "--no-plot", "--quiet", "--save",
                     str(tmp_path / "straight.npz")])
    assert code == 0, capsys.readouterr().err
    same_run(tmp_path / "resumed.npz", tmp_path / "straight.npz")


@pytest.mark.parametrize("where", ["before-save", "in-save"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_last_epoch_lets_the_save_finish(tmp_path, capsys, where, sig):
    code, out, err, _ = signalled(tmp_path, where, [sig], *SMALL, "--epochs", "3", "--save",
                                  "m.npz", "--plot", "loss.png")
    assert code == 128 + sig, err
    assert err.splitlines() == [
        f"gpubp: {sig.name}: came after the training had ended (epoch 3/3); saved m.npz; left "
        f"out the summary and the loss curve"]
    assert "model: m.npz" not in out and not (tmp_path / "loss.png").exists()
    assert temporaries(tmp_path) == []
    assert gpubp.load(tmp_path / "m.npz").training.epoch == 3
    resumes_exactly(tmp_path, capsys, tmp_path / "m.npz", 5)


def test_a_signal_while_drawing_finishes_the_drawing_and_says_so(tmp_path):
    code, out, err, _ = signalled(tmp_path, "drawing", [signal.SIGTERM], *SMALL, "--epochs", "2",
                                  "--save", "m.npz", "--plot", "loss.png")
    assert code == 143, err
    assert err.splitlines() == ["gpubp: SIGTERM: came after the training had ended (epoch 2/2); "
                                "saved m.npz"]
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert gpubp.load(tmp_path / "m.npz").training.epoch == 2
    assert temporaries(tmp_path) == []
    assert out.splitlines()[-2:] == ["model: m.npz", "loss curve: loss.png"]


def test_a_second_signal_after_the_save_says_the_model_is_saved(tmp_path):
    """Two signals while the loss curve is drawn (the model already written): the second stops at
    once, and the line says the model was saved (never "nothing was saved")."""
    code, out, err, _ = signalled(tmp_path, "drawing", [signal.SIGTERM, signal.SIGINT], *SMALL,
                                  "--epochs", "2", "--save", "m.npz", "--plot", "loss.png",
                                  seconds=8)
    assert code == 130, err
    assert err.splitlines() == ["gpubp: SIGTERM then SIGINT: saved m.npz; stopped at once"]
    assert gpubp.load(tmp_path / "m.npz").training.epoch == 2
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_before_training_writes_nothing(tmp_path, sig):
    code, out, err, seconds = signalled(tmp_path, "setup", [sig], *SMALL, "--save", "m.npz",
                                        seconds=10)
    assert code == 128 + sig and seconds < 5, err  # at once, not after the pause
    assert err.splitlines() == [f"gpubp: {sig.name}: interrupted before training; nothing was "
                                f"written"]
    assert os.listdir(tmp_path) == ["paused"]


@pytest.mark.parametrize("first, second", [(signal.SIGINT, signal.SIGINT),
                                           (signal.SIGTERM, signal.SIGINT)])
def test_a_second_signal_cuts_the_save_short_at_once(tmp_path, capsys, first, second):
    """The first signal lets the save finish; a second one, while it runs, interrupts at once:
    the temporary file is removed and the model there before is left as it was."""
    code = cli.main(["train", *SMALL, "--epochs", "1", "--no-plot", "--quiet", "--save",
                     str(tmp_path / "m.npz")])
    assert code == 0
    before = (tmp_path / "m.npz").read_bytes()
    code, out, err, seconds = signalled(tmp_path, "in-save", [first, second], "--resume", "m.npz",
                                        "--epochs", "3", seconds=8)
    assert code == 128 + second and seconds < 5, err
    assert err.splitlines() == [f"gpubp: {first.name} then {second.name}: the save was cut "
                                f"short; m.npz was left as it was"]
    assert temporaries(tmp_path) == []
    assert (tmp_path / "m.npz").read_bytes() == before
    resumes_exactly(tmp_path, capsys, tmp_path / "m.npz", 3)


def test_a_second_signal_interrupts_at_once_in_process():
    """The Stopper itself: before defer() a signal interrupts; after it the first only sets the
    flag and the second interrupts (Interrupted, a KeyboardInterrupt, with its signal)."""
    from gpubp.cli.progress import Interrupted, Stopper

    stopper, before = Stopper(), signal.getsignal(signal.SIGINT)
    with stopper.installed():
        with pytest.raises(Interrupted) as caught:
            signal.raise_signal(signal.SIGTERM)
        assert caught.value.signum == signal.SIGTERM and not stopper()
        stopper.defer()
        signal.raise_signal(signal.SIGINT)
        assert stopper() and stopper.name == "SIGINT"
        with pytest.raises(KeyboardInterrupt) as caught:
            signal.raise_signal(signal.SIGINT)
        assert caught.value.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) == before  # put back


def test_a_second_signal_during_training_stops_at_once_and_saves_nothing(tmp_path, capsys):
    """The way out of a run that will not stop: the first signal asks for a stop at the end of
    the batch; a second one, before that, interrupts at once; the model there is left alone."""
    code = cli.main(["train", *SMALL, "--epochs", "1", "--no-plot", "--quiet", "--save",
                     str(tmp_path / "m.npz")])
    assert code == 0
    before = (tmp_path / "m.npz").read_bytes()
    code, out, err, seconds = signalled(tmp_path, "training", [signal.SIGTERM, signal.SIGTERM],
                                        "--resume", "m.npz", "--epochs", "3", seconds=8)
    assert code == 143 and seconds < 5, err
    assert err.splitlines() == ["gpubp: SIGTERM then SIGTERM: stopped at once; nothing was saved "
                                "(m.npz was left as it was)"]
    assert (tmp_path / "m.npz").read_bytes() == before and temporaries(tmp_path) == []
