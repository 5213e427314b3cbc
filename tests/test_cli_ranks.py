"""`gpubp train --comm mpi` under mpiexec: one rank's failure before training ends every rank at
once with that rank's one-line message (never a hang), ranks given other options or other data
stop with one line naming the difference, only rank 0 speaks, and the run says how many ranks.
Each rank gets its own command line through mpiexec's `A : B` form."""

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

import gpubp
from gpubp import datasets

MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
needs_mpiexec = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install -e '.[mpi]')")
SCRIPT = Path(sys.executable).with_name("gpubp")
ENV = dict(os.environ, GPUBP_DEVICE="cpu", OPENBLAS_NUM_THREADS="1",
           PYTHONPATH=str(Path(__file__).resolve().parents[1]))
BASE = ["train", "--comm", "mpi", "--epochs", "2", "--data", "iris", "--no-plot", "--save", "m.npz",
        "--hidden", "8"]


def ranks(tmp_path, *extras, timeout=60):
    """Rank r runs ``gpubp BASE + extras[r]``; returns (the run, its seconds)."""
    import subprocess

    argv = [MPIEXEC]
    for i, extra in enumerate(extras):
        argv += ([":"] if i else []) + ["-n", "1", str(SCRIPT)] + BASE + list(extra)
    t = time.monotonic()
    run = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=timeout,
                         cwd=tmp_path)
    return run, time.monotonic() - t


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


@needs_mpiexec
@pytest.mark.parametrize("bad, words", [
    (["--data", "missing.csv"], "DataError: {tmp}/missing.csv: no such file"),
    (["--lr", "-1"], "UsageError: gpubp train: error: argument --lr: expected a number > 0; got "
                     "'-1'"),
    (["--epochs", "two"], "argument --epochs: expected an integer >= 0; got 'two'"),
])
def test_a_rank_that_fails_before_training_ends_every_rank_with_its_line(tmp_path, bad, words):
    run, seconds = ranks(tmp_path, [], bad)
    assert seconds < 30 and run.returncode != 0
    said = lines(run.stderr)
    assert len(said) == 1, run.stderr  # rank 0 says it; rank 1 is silent
    assert said[0].startswith("gpubp: error: rank 1 of 2 failed: ")
    assert words.format(tmp=tmp_path) in said[0]
    assert run.stdout == "" and not (tmp_path / "m.npz").exists()


@needs_mpiexec
def test_rank_0_failing_says_its_own_line_once(tmp_path):
    run, seconds = ranks(tmp_path, ["--data", "missing.csv"], [])
    assert seconds < 30 and run.returncode != 0
    assert lines(run.stderr) == [f"gpubp: error: {tmp_path}/missing.csv: no such file"]


@needs_mpiexec
@pytest.mark.parametrize("bad, words", [
    (["--batch-size", "16"], "--batch-size: rank 0 has 32, rank 1 has 16"),
    (["--comm", "nccl"], "--comm: rank 0 has 'mpi', rank 1 has 'nccl'"),
    (["--seed", "1"], "--seed: rank 0 has 0, rank 1 has 1"),
])
def test_ranks_with_other_options_stop_with_one_line(tmp_path, bad, words):
    run, seconds = ranks(tmp_path, [], bad)
    assert seconds < 30 and run.returncode != 0
    said = lines(run.stderr)
    assert len(said) == 1, run.stderr
    assert said[0].startswith("gpubp: error: gpubp train --comm mpi: the 2 ranks were given "
                              "different arguments or data")
    assert words in said[0]
    assert not (tmp_path / "m.npz").exists()


@needs_mpiexec
def test_ranks_reading_other_data_of_the_same_shape_stop_with_one_line(tmp_path):
    d = datasets.load("iris")
    header = ",".join(d.feature_names + ["species"])
    for name, shift in (("a.csv", 0.0), ("b.csv", 0.1)):  # the same shape, one value off
        X = d.X.copy()
        X[7, 2] += shift
        rows = [",".join(f"{v:.6g}" for v in x) + f",{y}" for x, y in zip(X, d.y)]
        (tmp_path / name).write_text("\n".join([header] + rows) + "\n")
    run, seconds = ranks(tmp_path, ["--data", "a.csv"], ["--data", "b.csv"])
    assert seconds < 30 and run.returncode != 0
    said = lines(run.stderr)
    assert len(said) == 1, run.stderr
    assert "the 2 ranks were given different arguments or data" in said[0]
    assert "data: rank 0 has '" in said[0] and "rank 1 has '" in said[0]
    same, seconds = ranks(tmp_path, ["--data", "a.csv"], ["--data", str(tmp_path / "a.csv")])
    assert same.returncode == 0, same.stderr  # the same file by other names trains


@needs_mpiexec
def test_three_ranks_train_say_so_and_only_rank_0_speaks(tmp_path):
    run, _ = ranks(tmp_path, [], [], [], timeout=120)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("gpubp: network 4-8-3") == 1
    assert "on cpu (float32), 3 ranks over MPI" in out
    assert out.count("model: m.npz") == 1 and out.count("epoch 2/2") == 1
    assert re.search(r"time: .* s in all, on cpu, 3 ranks over MPI", out)
    assert gpubp.load(tmp_path / "m.npz").training.epoch == 2


@needs_mpiexec
def test_a_divergence_on_ranks_is_one_line_from_rank_0(tmp_path):
    run, seconds = ranks(tmp_path, *[["--optimizer", "sgd", "--lr", "1e6", "--data",
                                      "synthetic-regression"]] * 2)
    assert seconds < 30 and run.returncode == 1
    said = lines(run.stderr)
    assert len(said) == 1 and said[0].startswith("gpubp: error: training diverged in epoch 1/2")
    assert not (tmp_path / "m.npz").exists()


def test_the_comm_of_a_command_line_that_did_not_parse():
    from gpubp.cli.ranks import comm_of

    assert comm_of(["train", "--comm", "mpi", "--lr", "-1"]) == "mpi"
    assert comm_of(["train", "--lr=-1", "--comm=nccl"]) == "nccl"
    assert comm_of(["train", "--lr", "-1"]) is None
    assert comm_of(["predict", "--comm", "mpi"]) is None
    assert comm_of([]) is None
    assert comm_of(["--version"]) is None


def test_ranks_launched_without_comm_are_told_they_train_alone(tmp_path, capsys, monkeypatch):
    from gpubp import cli
    from gpubp.cli.ranks import alone_note, launched

    assert launched({"PMI_RANK": "3", "PMI_SIZE": "4"}) == (3, 4)
    assert launched({"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2"}) == (0, 2)
    assert launched({"PMI_RANK": "0", "PMI_SIZE": "1"}) is None  # one rank: nothing to say
    assert launched({}) is None
    assert alone_note(object(), {"PMI_RANK": "1", "PMI_SIZE": "4"}) is None  # with --comm
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("PMI_SIZE", "4")
    code = cli.main(["train", "--data", "iris", "--epochs", "1", "--no-plot", "--device", "cpu",
                     "--save", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert code == 0
    assert ("gpubp: note: rank 1 of 4 ranks launched without --comm: each rank trains alone on "
            "all the data and writes the same files; add --comm mpi to train together") in err


def test_a_bad_command_line_with_comm_but_no_mpi_says_its_own_error(capsys, monkeypatch):
    from gpubp import distributed
    from gpubp.cli import main
    from gpubp.errors import ConfigError

    def no_mpi():
        raise ConfigError("comm='mpi' needs mpi4py")
    monkeypatch.setattr(distributed, "MPIComm", no_mpi)
    code = main(["train", "--comm", "mpi", "--lr", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and "argument --lr: expected a number > 0" in err and "mpi4py" not in err
