"""The command line: `gpubp train | predict | gradcheck | info | demo`, run as a user would (the
installed console script and `python -m gpubp`, in subprocesses) where the process matters (the
defaults, Ctrl-C, one-line errors), and in-process through `main(argv)` for the rest."""

import csv
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gpubp
from gpubp import checkpoint, cli, datasets

SCRIPT = Path(sys.executable).with_name("gpubp")
ENV = dict(os.environ, GPUBP_DEVICE="cpu", PYTHONUNBUFFERED="1")
LAUNCHERS = {"script": [str(SCRIPT)], "module": [sys.executable, "-m", "gpubp"]}


def run(*argv, launcher="script", cwd=None, timeout=120):
    if launcher == "script" and not SCRIPT.exists():
        pytest.fail(f"the console script {SCRIPT} is missing: pip install -e .")
    return subprocess.run(LAUNCHERS[launcher] + [str(a) for a in argv], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout)


def main(capsys, *argv):
    """``gpubp ARGV`` in this process: (exit status, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def train(capsys, tmp_path, *argv, name="m.npz"):
    """A CPU training run with no picture; the path of the saved model and what it printed.
    (Not --quiet: that prints nothing but errors.)"""
    path = tmp_path / name
    code, out, err = main(capsys, "train", "--device", "cpu", "--no-plot", "--save", path, *argv)
    assert code == 0, err
    return path, out


def saved(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def assert_same_run(a, b):
    """Two model files hold the same training, bit for bit (parameters, optimizer moments, the
    shuffling generator, the epoch and the history)."""
    a, b = saved(a), saved(b)
    assert a["params"].tobytes() == b["params"].tobytes()
    assert a["optimizer_state_0"].tobytes() == b["optimizer_state_0"].tobytes()
    assert a["optimizer_state_1"].tobytes() == b["optimizer_state_1"].tobytes()
    assert json.loads(str(a["training"])) == json.loads(str(b["training"]))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def flowers(tmp_path_factory):
    """iris as a CSV with string labels in a middle column."""
    d = datasets.load("iris")
    path = tmp_path_factory.mktemp("data") / "flowers.csv"
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    write_csv(path, names[:2] + ["species"] + names[2:],
              [[*x[:2], y, *x[2:]] for x, y in zip(d.X, d.y)])
    return path


# ---- the installed command, as a new user runs it ---------------------------------------------

def test_gpubp_train_with_no_arguments(tmp_path):
    """digits, 64-128-10, softmax + cross_entropy, Adam: >= 0.95 held out in a few seconds."""
    t = time.perf_counter()
    p = run("train", cwd=tmp_path)
    took = time.perf_counter() - t
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert re.search(r"digits \(1797 examples, 64 features, 10 classes\): 1438 to train, 359 held",
                     out)
    assert "network 64-128-10, relu hidden, softmax output, cross_entropy; adam lr 0.001" in out
    epochs = re.findall(r"^epoch (\d+)/20  cost (\S+)  val_cost (\S+)", out, re.M)  # not a tty
    assert [int(e[0]) for e in epochs] == list(range(1, 21))
    assert float(epochs[-1][1]) < float(epochs[0][1]) / 10
    acc = re.search(r"train accuracy ([\d.]+) \(1438 examples\)   held-out accuracy ([\d.]+) "
                    r"\(359 examples\)", out)
    assert float(acc.group(1)) > 0.99 and float(acc.group(2)) >= 0.95
    assert re.search(r"time: [\d.]+ s training \(20 epochs run, 20 in all\), [\d.]+ s in all, on "
                     r"cpu", out)
    assert "model: gpubp-model.npz" in out and "loss curve: gpubp-loss.png" in out
    assert took < 30
    png = (tmp_path / "gpubp-loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    net = gpubp.load(tmp_path / "gpubp-model.npz", device="cpu")
    assert net.sizes == (64, 128, 10) and net.training.epoch == 20
    assert net.metadata["classes"] == list(range(10))
    assert p.stderr == ""


def test_python_m_gpubp_is_the_same_command():
    a, b = run("info"), run("info", launcher="module")
    assert a.returncode == b.returncode == 0

    def same(out):  # the interpreter's path may be spelt python or python3 (one venv, two names)
        return re.sub(r"/python3?\)", "/python)", out)
    assert same(a.stdout) == same(b.stdout) and "gpubp 0.1.0" in a.stdout
    h = run("--help", launcher="module")
    assert h.returncode == 0 and all(c in h.stdout for c in ("train", "predict", "gradcheck",
                                                              "info", "demo"))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, flowers):
    path = tmp_path_factory.mktemp("model") / "flowers.npz"
    assert cli.main(["train", "--data", str(flowers), "--target", "species", "--epochs", "2",
                     "--save", str(path), "--no-plot", "--quiet", "--device", "cpu"]) == 0
    return path


@pytest.mark.parametrize("launcher", ["script", "module"])
@pytest.mark.parametrize("case", ["bad option", "bad value", "unknown command", "missing file",
                                  "bad column", "corrupt model", "data that do not fit",
                                  "not a model of gpubp train", "nowhere to save"])
def test_errors_are_one_line_and_a_nonzero_exit(case, launcher, tmp_path, flowers, small_model):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(small_model.read_bytes()[:3000])
    other = write_csv(tmp_path / "other.csv", ["a", "b"], [[1, 2], [3, 4]])
    plain = tmp_path / "plain.npz"
    gpubp.Network([4, 3], output="softmax", loss="cross_entropy").save(plain)
    argv, code, match = {
        "bad option": (["train", "--epoch", "3"], 2, r"gpubp: error: unrecognized arguments: "
                                                    r"--epoch 3 \(see gpubp --help\)"),
        "bad value": (["train", "--lr", "fast"], 2, r"gpubp train: error: argument --lr: "
                                                    r"expected a number; got 'fast'"),
        "unknown command": (["fly"], 2, "invalid choice: 'fly'"),
        "missing file": (["train", "--data", tmp_path / "none.csv"], 1, r"none.csv: no such file"),
        "bad column": (["train", "--data", flowers, "--target", "colour"], 1,
                       r"no column named 'colour' \(--target\); the columns are: sepal length"),
        "corrupt model": (["predict", "--model", corrupt, "--input", flowers], 1,
                          r"corrupt.npz: not a readable .npz checkpoint"),
        "data that do not fit": (["predict", "--model", small_model, "--input", other], 1,
                                 r"other.csv: lacks the columns 'sepal length', 'sepal width'"),
        "not a model of gpubp train": (["predict", "--model", plain, "--input", flowers], 1,
                                       r"plain.npz: a gpubp checkpoint without the data options"),
        "nowhere to save": (["train", "--save", tmp_path / "no" / "m.npz"], 1,
                            r"--save \S+m.npz: the folder \S+no does not exist"),
    }[case]
    p = run(*argv, launcher=launcher, cwd=tmp_path)
    assert p.returncode == code
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("gpubp")
    assert re.search(match, p.stderr), p.stderr


# ---- Ctrl-C and SIGTERM -------------------------------------------------------------------------

LONG = ["train", "--data", "synthetic-classification", "--samples", "8000", "--features", "40",
        "--hidden", "64", "--batch-size", "8", "--device", "cpu", "--no-plot"]


def interrupt(tmp_path, sig):
    """Start a long training, wait for its second epoch and a third of another, send ``sig``;
    (process, stdout, stderr). (Sent at once, the signal tends to arrive before the end-of-epoch
    check that follows the line: the reader, woken by the line, runs first. The second epoch's
    time is the one to go by: the first may include numba compiling the fused kernels.)"""
    path = tmp_path / "long.npz"
    p = subprocess.Popen([str(SCRIPT)] + LONG + ["--epochs", "50", "--save", str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         cwd=tmp_path)
    lines = []
    try:
        for line in p.stdout:  # plain lines: stdout is a pipe
            lines.append(line)
            if line.startswith("epoch 2/50"):
                time.sleep(float(re.search(r"\(([\d.]+) s\)$", line).group(1)) / 3)
                p.send_signal(sig)
                break
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    return p, "".join(lines) + out, err, path


def test_sigint_saves_a_checkpoint_that_resumes_bit_for_bit(tmp_path, capsys):
    p, out, err, path = interrupt(tmp_path, signal.SIGINT)
    assert p.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    m = re.fullmatch(r"gpubp: SIGINT: stopped in epoch (\d+)/50 \(after (\d+) of its 6400 "
                     r"examples\); saved (\S+); resume with: (gpubp train --resume \S+)\n", err)
    assert m, err
    assert int(m.group(1)) <= 4 and m.group(3) == str(path)
    net = gpubp.load(path, device="cpu")  # the file loads, in the middle of an epoch
    assert net.training.mid_epoch and net.training.position == int(m.group(2))
    assert net.training.epoch == int(m.group(1)) - 1
    # resume as the message says, to 4 epochs in all; and 4 epochs without a stop
    resume = shlex.split(m.group(4))[1:]
    code, out, err = main(capsys, *resume, "--epochs", "4", "--save", tmp_path / "resumed.npz",
                          "--no-plot")
    assert code == 0, err
    # the resume names the epoch the interrupt named
    assert f"resuming in epoch {m.group(1)}/4 (after {m.group(2)} of its 6400 examples)" in out
    code, _, err = main(capsys, *LONG, "--epochs", "4", "--save", tmp_path / "straight.npz",
                        "--quiet")
    assert code == 0, err
    assert_same_run(tmp_path / "resumed.npz", tmp_path / "straight.npz")
    assert gpubp.load(tmp_path / "resumed.npz").training.epoch == 4


def test_sigterm_saves_and_says_how_to_resume(tmp_path):
    p, out, err, path = interrupt(tmp_path, signal.SIGTERM)
    assert p.returncode == 143, err
    assert re.fullmatch(r"gpubp: SIGTERM: stopped in epoch \d+/50 .*; saved \S+long.npz; resume "
                        r"with: gpubp train --resume \S+long.npz\n", err), err
    assert gpubp.load(path, device="cpu").training.mid_epoch


# ---- exact resume, in-process -------------------------------------------------------------------

def test_resume_gives_the_parameters_of_an_uninterrupted_run(tmp_path, capsys):
    """3 epochs, then --resume to 5, against 5 in one go: the saved arrays, bit for bit."""
    options = ["--data", "iris", "--epochs", "3", "--batch-size", "16", "--lr", "0.01"]
    three, _ = train(capsys, tmp_path, *options, name="three.npz")
    five, _ = train(capsys, tmp_path, *options[:-4], "--epochs", "5", *options[-2:],
                    "--batch-size", "16", name="five.npz")
    resumed, out = train(capsys, tmp_path, "--resume", three, "--epochs", "5", name="resumed.npz")
    assert "2 epochs run, 5 in all" in out
    assert_same_run(resumed, five)
    three_again = saved(three)["params"]
    assert three_again.tobytes() != saved(five)["params"].tobytes()  # the test can fail
    # the metadata say 5 epochs in all now, and --resume with no --epochs has nothing to do
    assert checkpoint.load_metadata(resumed)["training"]["epochs"] == 5
    code, out, _ = main(capsys, "train", "--resume", resumed, "--no-plot", "--save",
                        tmp_path / "again.npz")
    assert code == 0 and "has been trained for 5 epochs already" in out
    assert_same_run(tmp_path / "again.npz", five)


def test_resume_with_early_stopping_is_exact(tmp_path, capsys):
    """The early-stopping bookkeeping (best cost, its parameters, epochs waited) survives the
    checkpoint: stopped one epoch after its best epoch, then resumed, the run stops where one
    uninterrupted run stops, and keeps the best epoch's parameters."""
    options = ["--data", "digits", "--patience", "2", "--lr", "0.003"]
    whole, out = train(capsys, tmp_path, *options, "--epochs", "60", name="whole.npz")
    stop = re.search(r"kept epoch (\d+)'s parameters", out)
    assert stop, out
    best = int(stop.group(1))
    ended = checkpoint.load_metadata(whole)["stopped_early"]
    assert ended["best_epoch"] == best and ended["epoch"] == best + 2
    assert f"({best + 2} epochs run, {best + 2} in all)" in out
    w = saved(whole)  # the parameters kept are the best epoch's
    assert w["params"].tobytes() == w["best_params"].tobytes()
    history = json.loads(str(w["training"]))["history"]
    assert min(history["val_cost"]) == history["val_cost"][best - 1]
    # a run stopped one epoch after the best, then resumed: the watch must not start afresh
    part, _ = train(capsys, tmp_path, *options, "--epochs", str(best + 1), name="part.npz")
    resumed, out = train(capsys, tmp_path, "--resume", part, "--epochs", "60", name="res.npz")
    assert f"kept epoch {best}'s parameters" in out and "(1 epoch run" in out
    assert_same_run(resumed, whole)
    assert saved(resumed)["params"].tobytes() == w["params"].tobytes()
    code, out, _ = main(capsys, "train", "--resume", whole, "--epochs", "80", "--no-plot",
                        "--save", tmp_path / "x.npz")
    assert code == 0 and "stopped early at epoch" in out and "nothing to resume" in out


def test_resume_reloads_the_same_data_from_another_folder(tmp_path, capsys, monkeypatch):
    data = tmp_path / "work"
    data.mkdir()
    d = datasets.load("wine")
    write_csv(data / "wine.csv", [f"f{i}" for i in range(13)] + ["kind"],
              [[*x, y] for x, y in zip(d.X, d.y)])
    monkeypatch.chdir(data)
    train(capsys, data, "--data", "wine.csv", "--epochs", "2", "--seed", "3", name="w.npz")
    train(capsys, data, "--data", "wine.csv", "--epochs", "4", "--seed", "3", name="w4.npz")
    monkeypatch.chdir(tmp_path)
    resumed, _ = train(capsys, tmp_path, "--resume", data / "w.npz", "--epochs", "4",
                       name="r.npz")
    assert_same_run(resumed, data / "w4.npz")
    # the data changed since: refused
    text = (data / "wine.csv").read_text().splitlines()
    text[5] = text[5].replace(",", ",1", 1)
    (data / "wine.csv").write_text("\n".join(text) + "\n")
    code, _, err = main(capsys, "train", "--resume", data / "w.npz", "--no-plot")
    assert code == 1 and re.fullmatch(r"gpubp: error: \S+w.npz: its data \(wine.csv\) have "
                                      r"changed since it was saved; an exact resume needs the "
                                      r"same data\n", err)


def test_resume_refuses_other_data_or_network_and_notes_other_training_options(tmp_path, capsys):
    path, _ = train(capsys, tmp_path, "--data", "iris", "--epochs", "1")
    for flag, value in [("--hidden", "64"), ("--sizes", "4,64,3"), ("--data", "wine"), ("--seed", "1"),
                        ("--loss", "mse"), ("--validation-fraction", "0.3")]:
        code, _, err = main(capsys, "train", "--resume", path, flag, value)
        assert code == 2 and f"{flag} {value} " in err and "differs from" in err, err
        assert f"leave {flag} out" in err
    # the same value again is fine; a new learning rate is taken, with a note
    code, out, err = main(capsys, "train", "--resume", path, "--data", "iris", "--hidden", "128",
                          "--lr", "0.1", "--epochs", "2", "--no-plot")
    assert code == 0
    assert "note: --lr 0.1 replaces 0.001: the run will differ from an uninterrupted one" in err
    assert checkpoint.load_metadata(path)["training"]["lr"] == 0.1
    code, out, err = main(capsys, "train", "--resume", path, "--sizes", "4,128,3", "--epochs", "3",
                          "--no-plot")
    assert code == 0 and "resuming after epoch 2/3" in out, err



def test_resume_takes_again_the_values_a_left_out_option_had(tmp_path, capsys):
    """Options left out when training (None in the file) compare with what that run used:
    --samples 1000 (the default) and --task binary are the same run; --task regression and
    --features 7 are not, and the message names the value used, never None."""
    path, _ = train(capsys, tmp_path, "--data", "synthetic-classification", "--epochs", "1",
                    "--hidden", "8")
    code, _, err = main(capsys, "train", "--resume", path, "--samples", "1000", "--task", "binary",
                        "--epochs", "2", "--no-plot", "--quiet")
    assert code == 0, err
    code, _, err = main(capsys, "train", "--resume", path, "--task", "regression")
    assert code == 2 and "--task regression differs from binary" in err, err
    code, _, err = main(capsys, "train", "--resume", path, "--features", "7")  # never given
    assert code != 0 and "have changed since it was saved" in err and "None" not in err, err
    code, _, err = main(capsys, "train", "--resume", path, "--samples", "500")  # given on resume
    assert code == 2 and "--samples 500 differs from 1000" in err, err


@pytest.mark.parametrize("command", ["train", "gradcheck", "explain"])
def test_a_negative_seed_is_named(command, capsys):
    code, _, err = main(capsys, command, "--seed", "-1")
    assert code == 2 and "argument --seed: expected an integer >= 0; got '-1'" in err, err


def test_plot_and_save_on_the_same_file_is_refused_before_training(tmp_path, capsys):
    same = tmp_path / "same.out"
    code, _, err = main(capsys, "train", "--device", "cpu", "--quiet", "--epochs", "1",
                        "--save", same, "--plot", same)
    assert code == 2 and "--plot and --save name the same file" in err, err
    assert not same.exists()

# ---- what a run prints and saves ----------------------------------------------------------------

def test_the_model_file_holds_what_predict_and_resume_need(tmp_path, capsys, flowers):
    path, _ = train(capsys, tmp_path, "--data", flowers, "--target", "species", "--epochs", "2",
                    "--validation-fraction", "0.3", "--seed", "7", "--hidden", "8,6",
                    "--activation", "tanh,relu")
    meta = checkpoint.load_metadata(path)
    ds = datasets.load(str(flowers), target="species")
    train_rows, _ = datasets.split(ds, 0.3, seed=7)
    assert meta["data"] == {"data": str(flowers), "target": "species", "samples": None,
                            "features": None, "classes": None, "task": None, "header": None,
                            "separator": None, "validation_fraction": 0.3, "seed": 7}
    assert meta["task"] == "multiclass" and meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["feature_names"] == ["sepal length", "sepal width", "petal length", "petal width"]
    assert np.array_equal(meta["x_mean"], ds.X[train_rows].mean(axis=0))  # training rows only
    assert np.array_equal(meta["x_std"], ds.X[train_rows].std(axis=0))
    assert meta["network"] == {"hidden": [8, 6], "activation": ["tanh", "relu"],
                               "output": "softmax", "loss": "cross_entropy", "dtype": "float32"}
    assert meta["output"] == {"plot": None, "no_plot": True}
    assert meta["training"] == {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "l2": 0.0,
                                "patience": None, "min_delta": 0.0, "epochs": 2}
    net = gpubp.load(path)
    assert net.sizes == (4, 8, 6, 3) and [a.name for a in net.activations[1:]] == \
        ["tanh", "relu", "softmax"]


@pytest.mark.parametrize("data, output, loss, rows", [
    ("breast_cancer", "sigmoid", "bce", 1),      # the notes' case: one sigmoid unit
    ("wine", "softmax", "cross_entropy", 3),
    ("synthetic-regression", "identity", "mse", 1),
])
def test_the_task_picks_the_output_and_loss(tmp_path, capsys, data, output, loss, rows):
    path, out = train(capsys, tmp_path, "--data", data, "--epochs", "1")
    net = gpubp.load(path)
    assert net.activations[-1].name == output and net.loss.name == loss and net.sizes[-1] == rows
    if data == "synthetic-regression":
        assert re.search(r"train R\^2 [-\d.]+, mse [\d.e+]+ in the target's units, [\d.e+-]+ "
                         r"standardized \(800 examples\)   held-out R\^2", out)
    else:
        assert "held-out accuracy" in out


def test_binary_with_a_softmax_output_uses_two_rows(tmp_path, capsys):
    path, out = train(capsys, tmp_path, "--data", "breast_cancer", "--output", "softmax",
                      "--epochs", "3")
    net = gpubp.load(path)
    assert net.sizes[-1] == 2 and net.loss.name == "cross_entropy"
    assert float(re.search(r"held-out accuracy ([\d.]+)", out).group(1)) > 0.9


def test_progress_lines_quiet_and_a_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    code, out, err = main(capsys, "train", "--data", "iris", "--epochs", "3", "--no-plot",
                          "--save", tmp_path / "a.npz")
    assert code == 0 and err == ""
    assert re.findall(r"^epoch (\d)/3  cost [\d.e-]+  val_cost [\d.e-]+  \([\d.]+ s\)$", out,
                      re.M) == ["1", "2", "3"]
    code, out, err = main(capsys, "train", "--data", "iris", "--epochs", "3", "--no-plot",
                          "--save", tmp_path / "a.npz", "--quiet")
    assert code == 0 and out == "" and err == ""  # --quiet: nothing but errors

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    code = cli.main(["train", "--data", "iris", "--epochs", "3", "--no-plot", "--save",
                     str(tmp_path / "a.npz")])
    out = capsys.readouterr().out
    assert code == 0 and "epoch 1/3" not in out
    bar = term.getvalue()
    assert "3/3" in bar and "cost=" in bar and "val_cost=" in bar


def test_the_loss_curve_picture(tmp_path, capsys):
    import matplotlib.image

    png = tmp_path / "curve.png"
    code, out, _ = main(capsys, "train", "--data", "iris", "--epochs", "4", "--plot",
                        png, "--save", tmp_path / "m.npz")
    assert code == 0 and f"loss curve: {png}" in out
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (450, 700) and image.std() > 0.05  # a picture, not a blank
    code, out, _ = main(capsys, "train", "--data", "iris", "--epochs", "1",
                        "--no-plot", "--save", tmp_path / "m.npz")
    assert "loss curve" not in out and not (tmp_path / "gpubp-loss.png").exists()


# ---- predict ------------------------------------------------------------------------------------

def expected_outputs(path, X):
    """What the saved model gives for rows ``X``, computed here from the file's own parts."""
    net, meta = gpubp.load(path, device="cpu"), checkpoint.load_metadata(path)
    Xs = (X - np.array(meta["x_mean"])) / np.array(meta["x_std"])
    return gpubp.backend.to_host(net.forward(Xs.T)).astype(np.float64), meta


def test_predict_class_labels_round_trip(tmp_path, capsys, flowers):
    path, out = train(capsys, tmp_path, "--data", flowers, "--target", "species", "--epochs",
                      "40", "--lr", "0.01")
    # the training file itself: the target column is ignored
    code, text, err = main(capsys, "predict", "--model", path, "--input", flowers)
    assert code == 0 and err == ""
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["species"] and len(rows) == 151
    labels = [r[0] for r in rows[1:]]
    ds = datasets.load(str(flowers), target="species")
    A, meta = expected_outputs(path, ds.X)
    assert labels == [meta["classes"][k] for k in A.argmax(axis=0)]
    assert np.mean(np.array(labels) == ds.y.astype(str)) > 0.9
    # probabilities to a file
    code, text, _ = main(capsys, "predict", "--model", path, "--input", flowers, "--proba",
                         "--output", tmp_path / "p.csv")
    assert code == 0 and text == f"gpubp: wrote 150 probabilities to {tmp_path / 'p.csv'}\n"
    rows = list(csv.reader(open(tmp_path / "p.csv")))
    assert rows[0] == ["setosa", "versicolor", "virginica"]
    P = np.array(rows[1:], dtype=np.float64)
    assert np.allclose(P.sum(axis=1), 1, atol=1e-6) and np.array_equal(P, A.T.astype(np.float32))
    assert [meta["classes"][k] for k in P.argmax(axis=1)] == labels


def test_predict_binary_labels_and_npz_input(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    path, _ = train(capsys, tmp_path, "--data", tmp_path / "d.npz", "--epochs", "30")
    np.savez(tmp_path / "new.npz", X=X[:20])
    code, text, _ = main(capsys, "predict", "--model", path, "--input", tmp_path / "new.npz")
    labels = text.split()[1:]
    A, _ = expected_outputs(path, X[:20])
    assert code == 0 and labels == ["yes" if a > 0.5 else "no" for a in A[0]]
    assert np.mean(np.array(labels) == y[:20]) >= 0.9
    code, text, _ = main(capsys, "predict", "--model", path, "--input", tmp_path / "new.npz",
                         "--proba")
    P = np.array([r.split(",") for r in text.split()[1:]], dtype=np.float64)
    assert text.split()[0] == "no,yes" and np.allclose(P[:, 1], A[0].astype(np.float32))
    assert np.allclose(P.sum(axis=1), 1)


def test_predict_regression_values(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = 100 + 30 * X[:, 0] - 5 * X[:, 1]
    write_csv(tmp_path / "r.csv", ["a", "b", "price"], [[*x, v] for x, v in zip(X, y)])
    path, out = train(capsys, tmp_path, "--data", tmp_path / "r.csv", "--epochs", "40")
    assert float(re.search(r"held-out R\^2 ([\d.]+)", out).group(1)) > 0.95
    code, text, _ = main(capsys, "predict", "--model", path, "--input", tmp_path / "r.csv")
    values = np.array(text.split()[1:], dtype=np.float64)
    A, meta = expected_outputs(path, X)
    assert code == 0 and text.split()[0] == "price"
    assert np.array_equal(values, A[0] * meta["y_std"] + meta["y_mean"])  # in the data's units
    assert np.abs(values - y).mean() < 5
    code, _, err = main(capsys, "predict", "--model", path, "--input", tmp_path / "r.csv",
                        "--proba")
    assert code == 1 and "--proba needs a classifier" in err


# ---- gradcheck, info, help ----------------------------------------------------------------------

def test_gradcheck_784_256_10(capsys):
    t = time.perf_counter()
    code, out, err = main(capsys, "gradcheck", "--device", "cpu")
    assert code == 0 and err == "" and time.perf_counter() - t < 20
    assert "Network([784, 256, 10]" in out and "checking W[1] ..." in out
    errors = dict(re.findall(r"^(W\[1\]|b\[1\]|W\[2\]|b\[2\]) +(?:50|10) +0 +(\S+)$", out, re.M))
    assert len(errors) == 4 and max(map(float, errors.values())) < 1e-7  # b[2] has 10 entries
    assert re.search(r"^ok: worst relative error \S+ <= tol 1e-07", out, re.M)


def test_gradcheck_fails_above_tol_and_takes_other_networks(capsys):
    code, out, _ = main(capsys, "gradcheck", "--sizes", "5,4,3,2", "--activation", "relu,sigmoid",
                        "--output", "sigmoid", "--entries", "5", "--tol", "1e-30")
    assert code == 1 and re.search(r"^FAILED: worst relative error \S+ > tol 1e-30", out, re.M)
    assert "checking W[3] ..." in out and "loss='bce'" in out
    code, out, _ = main(capsys, "gradcheck", "--sizes", "3,2", "--output", "identity", "--all",
                        "--quiet")
    assert code == 0 and "checking" not in out and "Network" not in out
    assert re.search(r"^W\[1\] +6 ", out, re.M)  # all the entries


def test_info(capsys):
    code, out, _ = main(capsys, "info")
    assert code == 0
    for pattern in [r"^gpubp 0\.1\.0", r"^python 3\.", rf"^numpy {re.escape(np.__version__)}, "
                    r"BLAS: \S+", r"^cupy", r"^default device: (cpu|gpu)$", r"^backend: "]:
        assert re.search(pattern, out, re.M), (pattern, out)


@pytest.mark.parametrize("command", ["train", "predict", "gradcheck", "info", "demo"])
def test_help_on_every_command(capsys, command):
    code, out, _ = main(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: gpubp {command}")


def test_no_command_prints_the_help(capsys):
    code, out, _ = main(capsys)
    assert code == 2 and out.startswith("usage: gpubp") and "train" in out


# ---- explain ------------------------------------------------------------------------------------

def test_explain_prints_every_shape_and_checks(capsys):
    code, out, err = main(capsys, "explain", "--sizes", "2,3,2", "--activation", "sigmoid",
                          "--output", "sigmoid", "--loss", "half_sse", "--batch", "5", "--check")
    assert code == 0, err
    assert "Z[1] (3, 5) = W[1] (3, 2) A[0] (2, 5) + b[1] (3, 1)" in out
    assert "dW[1] (3, 2) = dZ[1] (3, 5) A[0]^T (5, 2)" in out
    assert max(float(x) for x in re.findall(r"finite diff\. ([0-9.e+-]+)", out)) < 1e-7


def test_explain_a_saved_model_in_markdown_with_a_picture(capsys, tmp_path, small_model):
    picture = tmp_path / "net.svg"
    code, out, err = main(capsys, "explain", "--model", str(small_model), "--format", "markdown",
                          "--picture", str(picture))
    assert code == 0, err
    assert out.startswith("**Network [") and "| `dW[1] = dZ[1] A[0]^T` |" in out
    assert b"<svg" in picture.read_bytes()


def test_explain_errors_are_one_line(capsys):
    code, out, err = main(capsys, "explain", "--sizes", "2,3,3,2", "--activation", "tanh,relu,relu")
    assert code == 2 and "--activation lists 3 names" in err and len(err.strip().splitlines()) == 1
