"""Divergence: a cost or parameters that are not finite end the fit with TrainingDiverged at the end
of the epoch where they appear, the training state put back as it was before that epoch; the
command line exits non-zero with one line that suggests a smaller --lr and writes no model."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpubp
from gpubp.errors import GpubpError, TrainingDiverged

SCRIPT = Path(sys.executable).with_name("gpubp")


def regression(rng, m=64, dtype="float64"):
    X = rng.normal(size=(3, m))
    net = gpubp.Network([3, 8, 1], output="identity", loss="mse", device="cpu", seed=0,
                        dtype=dtype)
    return net, X, X[:1] * 3 + X[1:2]


def test_sgd_at_lr_1e4_raises_and_keeps_the_initial_parameters(rng):
    net, X, Y = regression(rng, m=200, dtype="float32")
    first = net.params.flat.copy()
    with pytest.raises(TrainingDiverged, match=r"training diverged in epoch 1 \(cost nan.*the "
                       r"initial parameters are restored; try a smaller learning rate than "
                       r"lr=10000") as e:
        net.fit(X, Y, epochs=5, optimizer="sgd", lr=1e4)
    assert isinstance(e.value, GpubpError) and e.value.epoch == 1
    assert np.array_equal(net.params.flat, first)
    assert net.training.epoch == 0 and net.training.history["cost"] == []


def test_the_parameters_of_the_last_finite_epoch_are_restored(rng):
    """lr=0.4 grows the cost by orders of magnitude each batch until it overflows (epoch 3)."""
    net, X, Y = regression(rng)
    ends, shuffles = [], []

    def callback(epoch, history):
        ends.append(net.params.flat.copy())
        shuffles.append(net.training.rng.bit_generator.state)
    with pytest.raises(TrainingDiverged) as e:
        net.fit(X, Y, epochs=30, optimizer="sgd", lr=0.4, batch_size=16, callback=callback)
    bad = e.value.epoch
    assert bad >= 3 and len(ends) == bad - 1  # the diverged epoch called no callback
    assert f"epoch {bad - 1}'s parameters are restored" in str(e.value)
    assert np.array_equal(net.params.flat, ends[-1])  # the last finite epoch's, bit for bit
    h = net.training.history
    assert net.training.epoch == bad - 1 == len(h["cost"]) and np.isfinite(h["cost"]).all()
    assert not net.training.mid_epoch
    assert net.training.rng.bit_generator.state == shuffles[-1]  # its shuffle not drawn
    # the same fit again goes the same way: the same epoch diverges, from the same state
    with pytest.raises(TrainingDiverged, match=f"in epoch {bad} "):
        net.fit(X, Y, epochs=30, optimizer="sgd", lr=0.4, batch_size=16)
    assert np.array_equal(net.params.flat, ends[-1])


def test_an_optimizer_whose_moments_diverged_starts_afresh(rng):
    """Momentum's velocity holds the non-finite gradients of the diverged epoch: kept, the next
    fit at a small rate would diverge at once."""
    net, X, Y = regression(rng, m=200, dtype="float32")
    with pytest.raises(TrainingDiverged, match="in epoch 1 "):
        net.fit(X, Y, epochs=20, optimizer="momentum", lr=1e4)
    assert np.isfinite(net.params.flat).all()
    h = net.fit(X, Y, epochs=3, optimizer="momentum", lr=1e-3)
    assert np.isfinite(h["cost"]).all() and np.isfinite(net.params.flat).all()


def test_with_patience_and_no_finite_best_the_parameters_stay_finite(rng):
    net, X, Y = regression(rng, m=200, dtype="float32")
    first = net.params.flat.copy()
    for kw in ({}, {"validation_data": (X, Y)}):
        with pytest.raises(TrainingDiverged):
            net.fit(X, Y, epochs=10, optimizer="sgd", lr=1e4, patience=2, **kw)
        assert np.array_equal(net.params.flat, first)


def test_finite_inputs_that_overflow_float32_are_divergence(rng):
    net, X, Y = regression(rng, dtype="float32")
    X = (X * 1e30).astype(np.float32)  # finite, but the cost overflows float32
    first = net.params.flat.copy()
    with pytest.raises(TrainingDiverged, match=r"epoch 1 \(cost (inf|nan)"):
        net.fit(X, Y, epochs=3, optimizer="sgd", lr=1e-3)
    assert np.array_equal(net.params.flat, first) and net.training.history["cost"] == []


def test_a_stopped_epoch_that_diverges_is_put_back_where_it_stopped(rng):
    net, X, Y = regression(rng, m=200, dtype="float32")
    net.fit(X, Y, epochs=1, batch_size=16, optimizer="sgd", lr=1e-3, stop=lambda: True)
    assert net.training.mid_epoch and net.training.position == 16
    where = net.params.flat.copy()
    partial, order = net.training.partial, net.training.order
    with pytest.raises(TrainingDiverged):
        net.fit(X, Y, epochs=1, batch_size=16, optimizer="sgd", lr=1e4)
    t = net.training
    assert t.mid_epoch and t.position == 16 and t.partial == partial and t.order is order
    assert np.array_equal(net.params.flat, where)


def test_the_command_line_exits_nonzero_and_writes_no_model(tmp_path):
    env = dict(os.environ, GPUBP_DEVICE="cpu")
    p = subprocess.run([str(SCRIPT), "train", "--data", "synthetic-regression", "--optimizer",
                        "sgd", "--lr", "1e6", "--epochs", "2", "--save", "nan.npz"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert p.returncode == 1
    assert len(p.stderr.splitlines()) == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("gpubp: error: training diverged in epoch 1/2 (cost nan")
    assert "try a smaller --lr than 1e+06" in p.stderr and "nothing was saved" in p.stderr
    assert not (tmp_path / "nan.npz").exists() and not (tmp_path / "gpubp-loss.png").exists()
    assert os.listdir(tmp_path) == []


def test_parameters_that_overflow_in_the_last_step_are_divergence(rng):
    """One full batch: the epoch's cost is measured before its update, finite; the update at
    lr=1e38 overflows float32, so only the parameters tell."""
    net, X, Y = regression(rng, m=32, dtype="float32")
    first = net.params.flat.copy()
    with pytest.raises(TrainingDiverged, match=r"epoch 1 \(the parameters are not finite\)"):
        net.fit(X, Y, epochs=1, batch_size=32, optimizer="sgd", lr=1e38)
    assert np.array_equal(net.params.flat, first)


DIVERGE_ON_RANKS = """
    import numpy as np
    import gpubp
    from gpubp.errors import TrainingDiverged
    from mpi4py import MPI

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 200))
    Y = X[:1] * 3 + X[1:2]
    net = gpubp.Network([3, 8, 1], output="identity", loss="mse", device="cpu", seed=0)
    first = np.array(net.params.flat)
    try:
        net.fit(X, Y, epochs=5, optimizer="sgd", lr=1e4, comm="mpi")
    except TrainingDiverged as e:
        same = np.array_equal(np.array(net.params.flat), first)
        rank = MPI.COMM_WORLD.rank  # one file per rank: their prints would interleave
        with open(f"rank{rank}.txt", "w") as f:
            f.write(f"rank {rank} diverged in epoch {e.epoch}, restored {same}")
"""


def test_data_parallel_ranks_diverge_together_and_nobody_hangs(tmp_path):
    import shutil
    import textwrap
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                           + os.environ.get("PATH", ""))
    if mpiexec is None:
        pytest.skip("no mpiexec (pip install -e '.[mpi]')")
    (tmp_path / "job.py").write_text(textwrap.dedent(DIVERGE_ON_RANKS))
    env = dict(os.environ, GPUBP_DEVICE="cpu", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([mpiexec, "-n", "2", sys.executable, str(tmp_path / "job.py")],
                         capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    for r in (0, 1):
        said = (tmp_path / f"rank{r}.txt").read_text()
        assert said == f"rank {r} diverged in epoch 1, restored True"


def test_a_signal_mid_epoch_after_an_overflow_saves_nothing(tmp_path, capsys, monkeypatch):
    """fit checks at the end of each epoch; a stop between two batches after the parameters
    overflowed must not write them."""
    from gpubp import cli
    from gpubp.cli.progress import Stopper
    asked = []

    def stop_at_the_tenth(self):
        asked.append(1)
        if len(asked) >= 10:
            self.signum = 2  # as SIGINT's handler sets it
        return self.signum is not None
    monkeypatch.setattr(Stopper, "__call__", stop_at_the_tenth)
    code = cli.main(["train", "--device", "cpu", "--data", "synthetic-regression", "--optimizer",
                     "sgd", "--lr", "1e6", "--no-plot", "--save", str(tmp_path / "m.npz")])
    out, err = capsys.readouterr()
    assert code == 1 and len(asked) >= 10
    assert err == ("gpubp: error: training diverged in epoch 1/20 (the parameters are not "
                   "finite); nothing was saved; try a smaller --lr than 1e+06\n")
    assert not (tmp_path / "m.npz").exists()


def test_an_optimizer_object_drops_its_state_too(rng):
    net, X, Y = regression(rng, m=200, dtype="float32")
    opt = gpubp.optim.Momentum(lr=1e4, mu=0.5)
    with pytest.raises(TrainingDiverged):
        net.fit(X, Y, epochs=3, optimizer=opt)
    assert opt.t == 0 and opt.state is None and opt.mu == 0.5
    opt.lr = 1e-3
    h = net.fit(X, Y, epochs=2, optimizer=opt)
    assert np.isfinite(h["cost"]).all() and opt.t > 0


def test_check_finite_false_trains_on_through_nan_as_scikit_learn_does(rng):
    net, X, Y = regression(rng, m=200, dtype="float32")
    h = net.fit(X, Y, epochs=3, optimizer="sgd", lr=1e4, check_finite=False)
    assert len(h["cost"]) == 3 and not np.isfinite(h["cost"][-1])
    assert not np.isfinite(net.params.flat).all()
    with pytest.raises(gpubp.errors.ArgumentTypeError, match="check_finite must be True or False"):
        net.fit(X, Y, epochs=1, check_finite="no")


@pytest.mark.parametrize("watch", [dict(validation_data="same"), dict(patience=2)])
def test_parameters_that_overflow_in_the_last_step_are_named_alone(rng, watch):
    """Found missing by a mutation run of train.py. One batch per epoch: its cost (measured
    before the update) is finite, the update overflows the parameters. The held-out / training
    cost is not computed on them; the error names the parameters alone."""
    net, X, Y = regression(rng, m=16)
    Y = Y * 100  # gradients far above 1: lr * dW overflows
    if watch.get("validation_data") == "same":
        watch = dict(validation_data=(X, Y))
    first = net.params.flat.copy()
    with np.errstate(all="ignore"):
        with pytest.raises(TrainingDiverged) as e:
            net.fit(X, Y, epochs=2, optimizer="sgd", lr=1e308, batch_size=16, **watch)
    assert (e.value.epoch, e.value.what) == (1, "the parameters are not finite")
    assert np.array_equal(net.params.flat, first)
    # put back as before the epoch, not as a stopped fit: the next fit starts a fresh watch
    assert not net.training.interrupted and not net.training.mid_epoch
