"""The command line says one thing and does it: one meaning of --sizes, --quiet prints nothing but
errors, no file is announced that was not written, a resumed run keeps its outputs, a resume with
nothing to do leaves its file alone, and no output destroys an input or a file of another kind."""

import os
import sys

import numpy as np
import pytest

import gpubp
from gpubp import checkpoint, cli


def main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def train(capsys, *argv):
    return main(capsys, "train", "--device", "cpu", "--data", "iris", *argv)


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---- --sizes: all the sizes, in every command --------------------------------------------------

def test_sizes_are_all_the_sizes_in_train(here, capsys):
    code, out, err = train(capsys, "--sizes", "4,16,8,3", "--epochs", "1", "--no-plot")
    assert code == 0, err
    assert "network 4-16-8-3," in out
    assert gpubp.load("gpubp-model.npz").sizes == (4, 16, 8, 3)
    assert checkpoint.load_metadata("gpubp-model.npz")["network"]["hidden"] == [16, 8]
    code, out, err = train(capsys, "--hidden", "16,8", "--epochs", "1", "--no-plot", "--save",
                           "h.npz")
    assert code == 0 and gpubp.load("h.npz").sizes == (4, 16, 8, 3), err


@pytest.mark.parametrize("sizes, words", [
    ("64,128,3", "n[0] = 4 (features)"),          # digits' sizes on iris: not quietly fixed
    ("4,128,10", "n[L] = 3 (outputs for 3 classes with a softmax output)"),
])
def test_sizes_the_data_decide_otherwise_are_an_error(here, capsys, sizes, words):
    code, out, err = train(capsys, "--sizes", sizes, "--epochs", "1", "--no-plot")
    assert code == 2 and words in err and "give --sizes 4,128,3" in err
    assert "--hidden 128" in err and len(err.splitlines()) == 1
    assert list(here.iterdir()) == []


def test_one_size_or_both_flags_are_refused(here, capsys):
    code, _, err = train(capsys, "--sizes", "64")
    assert code == 2 and "expected all the sizes n[0],...,n[L]" in err and "--hidden" in err
    code, _, err = train(capsys, "--sizes", "4,8,3", "--hidden", "8")
    assert code == 2 and "not both" in err
    assert list(here.iterdir()) == []


# ---- what is said is what is done ----------------------------------------------------------------

def test_quiet_prints_nothing_but_errors(here, capsys):
    assert train(capsys, "--epochs", "1", "--quiet") == (0, "", "")
    assert (here / "gpubp-model.npz").exists() and (here / "gpubp-loss.png").exists()
    assert train(capsys, "--resume", "gpubp-model.npz", "--epochs", "2", "--lr", "0.01",
                 "--quiet") == (0, "", "")  # not even the note about the new rate
    code, out, err = train(capsys, "--epochs", "1", "--quiet", "--lr", "-1")
    assert code == 2 and out == "" and err.startswith("gpubp train: error: argument --lr")


def test_no_loss_curve_is_announced_without_matplotlib(here, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)  # import fails
    code, out, err = train(capsys, "--epochs", "1")
    assert code == 0 and "matplotlib is not installed, so no loss curve" in err
    assert "loss curve:" not in out and not (here / "gpubp-loss.png").exists()


def test_a_resumed_run_keeps_no_plot_and_its_plot_path(here, capsys):
    assert train(capsys, "--epochs", "1", "--no-plot", "--save", "a.npz")[0] == 0
    code, out, _ = train(capsys, "--resume", "a.npz", "--epochs", "2")
    assert code == 0 and "loss curve" not in out and not (here / "gpubp-loss.png").exists()
    # a picture named at first is drawn there again, wherever the resume runs from
    (here / "pics").mkdir()
    assert train(capsys, "--epochs", "1", "--plot", "pics/c.png", "--save", "b.npz")[0] == 0
    os.remove(here / "pics" / "c.png")
    os.chdir(here / "pics")
    code, out, _ = train(capsys, "--resume", here / "b.npz", "--epochs", "2")
    assert code == 0 and (here / "pics" / "c.png").exists()
    assert f"loss curve: {here / 'pics' / 'c.png'}" in out
    # given again, --plot wins over a first run's --no-plot
    code, out, _ = train(capsys, "--resume", here / "a.npz", "--epochs", "3", "--plot", "d.png")
    assert code == 0 and (here / "pics" / "d.png").exists()


def test_a_resume_with_nothing_to_do_leaves_its_file_alone(here, capsys):
    assert train(capsys, "--epochs", "2", "--save", "r.npz", "--plot", "r.png")[0] == 0
    before = snapshot(here)
    os.utime(here / "r.npz", (1, 1))
    code, out, err = train(capsys, "--resume", "r.npz", "--epochs", "2")
    assert code == 0 and "has been trained for 2 epochs already" in out, err
    assert "model: r.npz (unchanged: nothing to resume)" in out and "loss curve" not in out
    assert snapshot(here) == before and os.stat(here / "r.npz").st_mtime == 1


def test_replacing_a_model_says_so(here, capsys):
    assert train(capsys, "--epochs", "1", "--no-plot", "--save", "m.npz")[0] == 0
    code, out, _ = train(capsys, "--epochs", "1", "--no-plot", "--save", "m.npz", "--seed", "1")
    assert code == 0 and "model: m.npz (replaced the model that was there)" in out
    code, out, _ = train(capsys, "--resume", "m.npz", "--epochs", "2", "--no-plot")
    assert code == 0 and "model: m.npz (updated)" in out


def test_zero_epochs_never_write_an_untrained_model_over_a_model(here, capsys):
    assert train(capsys, "--epochs", "3", "--no-plot", "--save", "m.npz")[0] == 0
    before = (here / "m.npz").read_bytes()
    code, _, err = train(capsys, "--epochs", "0", "--no-plot", "--save", "m.npz")
    assert code == 1 and "--epochs 0 would write an untrained model over" in err
    assert (here / "m.npz").read_bytes() == before
    code, _, err = train(capsys, "--epochs", "0", "--no-plot", "--save", "new.npz")
    assert code == 0 and gpubp.load("new.npz").training is None, err


# ---- no output destroys an input, or a file of another kind --------------------------------------

@pytest.fixture
def data(here):
    d = gpubp.datasets.load("iris")
    path = here / "flowers.csv"
    path.write_text("a,b,c,d,kind\n" + "".join(f"{','.join(map(str, x))},{y}\n"
                                               for x, y in zip(d.X, d.y)))
    return path


@pytest.mark.parametrize("flag", ["--save", "--plot"])
def test_train_never_writes_over_its_data(data, capsys, flag):
    before = data.read_bytes()
    code, _, err = main(capsys, "train", "--device", "cpu", "--data", data, "--epochs", "1",
                        flag, "./flowers.csv")
    assert code == 2 and f"{flag} ./flowers.csv is the --data file" in err, err
    assert data.read_bytes() == before


def test_a_plot_over_the_resumed_model_is_refused(here, capsys):
    assert train(capsys, "--epochs", "1", "--no-plot", "--save", "m.npz")[0] == 0
    before = (here / "m.npz").read_bytes()
    code, _, err = train(capsys, "--resume", "m.npz", "--epochs", "2", "--plot", "m.npz")
    assert code == 2 and (here / "m.npz").read_bytes() == before


@pytest.mark.parametrize("flag, kind", [("--save", "a gpubp model"),
                                        ("--plot", "a PNG or SVG picture")])
def test_a_file_of_another_kind_is_replaced_only_with_force(here, capsys, flag, kind):
    notes = here / "notes.txt"
    notes.write_text("my notes\n")
    other = {"--save": ["--no-plot"], "--plot": ["--save", "m.npz"]}[flag]
    code, _, err = train(capsys, "--epochs", "1", flag, notes, *other)
    assert code == 1 and f"the file exists and is not {kind}" in err and "--force" in err
    assert notes.read_text() == "my notes\n" and not (here / "m.npz").exists()
    code, _, err = train(capsys, "--epochs", "1", flag, notes, *other, "--force")
    assert code == 0 and notes.read_bytes() != b"my notes\n", err


def test_a_picture_or_a_model_is_replaced_without_force(here, capsys):
    assert train(capsys, "--epochs", "1", "--save", "m.npz", "--plot", "c.png")[0] == 0
    png = (here / "c.png").read_bytes()
    assert train(capsys, "--epochs", "2", "--save", "m.npz", "--plot", "c.png")[0] == 0
    assert (here / "c.png").read_bytes() != png and gpubp.load("m.npz").training.epoch == 2


def test_predict_never_writes_over_its_model_or_input(data, capsys):
    assert main(capsys, "train", "--device", "cpu", "--data", data, "--epochs", "1",
                "--no-plot", "--save", "m.npz")[0] == 0
    model, csv = (data.parent / "m.npz").read_bytes(), data.read_bytes()
    for flag, path in (("--model", "m.npz"), ("--input", "flowers.csv")):
        code, _, err = main(capsys, "predict", "--model", "m.npz", "--input", "flowers.csv",
                            "--output", path)
        assert code == 2 and f"--output {path} is the {flag} file" in err, err
    assert (data.parent / "m.npz").read_bytes() == model and data.read_bytes() == csv


def test_predict_replaces_only_its_own_kind_of_file(data, capsys):
    here = data.parent
    assert main(capsys, "train", "--device", "cpu", "--data", data, "--epochs", "1",
                "--no-plot", "--save", "m.npz")[0] == 0
    other = here / "other.csv"
    other.write_text("x,y\n1,2\n")
    code, _, err = main(capsys, "predict", "--model", "m.npz", "--input", data, "--output", other)
    assert code == 1 and "not a predictions file of this model (first line 'kind')" in err, err
    assert other.read_text() == "x,y\n1,2\n"
    code, _, err = main(capsys, "predict", "--model", "m.npz", "--input", data, "--output", other,
                        "--force")
    assert code == 0 and other.read_text().startswith("kind\n"), err
    code, _, err = main(capsys, "predict", "--model", "m.npz", "--input", data, "--output", other)
    assert code == 0, err  # its own predictions: replaced without --force
    code, _, err = main(capsys, "predict", "--model", "m.npz", "--input", data, "--output", other,
                        "--proba")  # another header: another kind of predictions
    assert code == 1 and "first line" in err


def test_explain_never_draws_over_its_model(here, capsys):
    assert train(capsys, "--epochs", "1", "--no-plot", "--save", "m.npz")[0] == 0
    before = (here / "m.npz").read_bytes()
    code, _, err = main(capsys, "explain", "--model", "m.npz", "--picture", "m.npz")
    assert code == 2 and "--picture m.npz is the --model file" in err
    assert (here / "m.npz").read_bytes() == before
    np.testing.assert_equal(gpubp.load("m.npz").sizes, (4, 128, 3))


def test_a_model_file_of_metadata_version_1_resumes(here, capsys):
    """Version 1 recorded the hidden sizes as "sizes" and no output section."""
    assert train(capsys, "--epochs", "1", "--hidden", "8", "--no-plot", "--save", "v2.npz")[0] == 0
    assert train(capsys, "--epochs", "2", "--hidden", "8", "--no-plot", "--save", "two.npz")[0] == 0
    net, meta = gpubp.load("v2.npz"), checkpoint.load_metadata("v2.npz")
    meta["version"], meta["network"]["sizes"] = 1, meta["network"].pop("hidden")
    del meta["output"]
    gpubp.save(net, "v1.npz", metadata=meta)
    code, _, err = train(capsys, "--resume", "v1.npz", "--hidden", "9")
    assert code == 2 and "--hidden 9 differs from 8" in err
    code, out, err = train(capsys, "--resume", "v1.npz", "--epochs", "2", "--hidden", "8")
    assert code == 0 and "resuming after epoch 1/2" in out, err
    assert np.array_equal(gpubp.load("v1.npz").params.flat, gpubp.load("two.npz").params.flat)
    assert checkpoint.load_metadata("v1.npz")["network"]["hidden"] == [8]


def test_min_delta_is_fits_own(here, capsys):
    """No epoch after the first improves by more than 1000: patience 2 stops after epoch 3."""
    code, out, err = train(capsys, "--epochs", "10", "--patience", "2", "--min-delta", "1000",
                           "--no-plot")
    assert code == 0, err
    assert "kept epoch 1's parameters" in out and "(3 epochs run, 3 in all)" in out
    assert checkpoint.load_metadata("gpubp-model.npz")["training"]["min_delta"] == 1000
