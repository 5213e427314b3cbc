"""Mutation gaps of gpubp/cli/train.py (the setup steps, the options and outputs, load_data,
check_finite, fit's progress): --sizes and --hidden, the ends the data decide, --activation per
hidden layer, the outputs a task needs, a regression's targets (standardized, and back through
predict), a relative --data path, an unwritable --save, a resume's checks, the epochs counted:
each refusal's exit status and message, and what is built where the options agree."""

import re

import numpy as np
import pytest

import gpubp
from gpubp import cli

QUICK = ["--device", "cpu", "--no-plot", "--epochs", "1", "--quiet"]


def main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, " ".join(err.split())


@pytest.mark.parametrize("argv, message", [
    (["--data", "iris", "--sizes", "4,8,3", "--hidden", "8"],
     "gpubp train: error: --sizes 4,8,3 and --hidden 8: give all the sizes (--sizes) or the "
     "hidden ones (--hidden), not both"),
    (["--data", "iris", "--sizes", "5,8,3"],
     "gpubp train: error: --sizes 5,8,3: the data decide n[0] = 4 (features) and n[L] = 3 "
     "(outputs for 3 classes with a softmax output); give --sizes 4,8,3, or the hidden sizes "
     "alone: --hidden 8"),
    (["--data", "iris", "--sizes", "4,8,2"],
     "the data decide n[0] = 4 (features) and n[L] = 3 (outputs for 3 classes with a softmax "
     "output); give --sizes 4,8,3"),
    (["--data", "breast_cancer", "--sizes", "30,8,6,2"],
     "the data decide n[0] = 30 (features) and n[L] = 1 (outputs for 2 classes with a sigmoid "
     "output); give --sizes 30,8,6,1, or the hidden sizes alone: --hidden 8,6"),
    (["--data", "synthetic-regression", "--features", "3", "--sizes", "3,2"],
     "the data decide n[0] = 3 (features) and n[L] = 1 (outputs for a regression); give "
     "--sizes 3,1, or the hidden sizes alone: --hidden none"),
    (["--data", "iris", "--hidden", "8", "--activation", "relu,tanh"],
     "gpubp train: error: --activation lists 2 names; there is 1 hidden layer (--hidden 8)"),
    (["--data", "iris", "--hidden", "8,6", "--activation", "relu,tanh,relu"],
     "gpubp train: error: --activation lists 3 names; there are 2 hidden layers (--hidden 8,6)"),
    (["--data", "iris", "--hidden", "none", "--activation", "relu"],
     "gpubp train: error: --activation was given but there is no hidden layer (--hidden none)"),
])
def test_options_that_disagree_are_refused_before_training(capsys, tmp_path, argv, message):
    model = tmp_path / "m.npz"
    code, err = main(capsys, "train", *argv, *QUICK, "--save", model)
    assert code == 2 and message in err, err
    assert not model.exists()


@pytest.mark.parametrize("argv, sizes, acts", [
    (["--data", "iris", "--sizes", "4,8,3"], (4, 8, 3), ["relu", "softmax"]),
    (["--data", "iris", "--sizes", "4,3"], (4, 3), ["softmax"]),
    (["--data", "iris", "--hidden", "8,6", "--activation", "tanh,relu"], (4, 8, 6, 3),
     ["tanh", "relu", "softmax"]),
    (["--data", "iris", "--hidden", "5", "--activation", "sigmoid"], (4, 5, 3),
     ["sigmoid", "softmax"]),
    (["--data", "breast_cancer", "--sizes", "30,4,1"], (30, 4, 1), ["relu", "sigmoid"]),
])
def test_options_that_agree_build_that_network(capsys, tmp_path, argv, sizes, acts):
    model = tmp_path / "m.npz"
    code, err = main(capsys, "train", *argv, *QUICK, "--save", model)
    assert code == 0, err
    net = gpubp.load(model)
    assert net.sizes == sizes and [a.name for a in net.activations[1:]] == acts


def test_a_regressions_targets_are_standardized_on_the_training_rows(capsys, tmp_path):
    """y is standardized with the mean and standard deviation of the training rows, recorded in
    the model; a constant target (std 0) is divided by 1, not 0."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    cases = [(3 * X[:, 0] + 7 + rng.normal(size=40), None),            # std about 3
             (0.1 * X[:, 1] - 2 + 0.05 * rng.normal(size=40), None),    # std about 0.1
             (np.full(40, 5.0), 1.0)]                                   # std 0
    for y, want_std in cases:
        data = tmp_path / "r.npz"
        np.savez(data, X=X, y=y)
        model = tmp_path / "m.npz"
        code, err = main(capsys, "train", "--data", data, "--task", "regression", "--hidden", "4",
                         "--validation-fraction", "0", *QUICK, "--save", model, "--force")
        assert code == 0, err
        meta = gpubp.load(model).metadata
        assert float(meta["y_mean"]) == pytest.approx(y.mean())
        assert float(meta["y_std"]) == pytest.approx(y.std() if want_std is None else want_std)
        if want_std is None:  # a resume reads them back from the model and keeps them
            code, err = main(capsys, "train", "--resume", model, "--epochs", "2", "--quiet")
            assert code == 0, err
            again = gpubp.load(model).metadata
            assert (again["y_mean"], again["y_std"]) == (meta["y_mean"], meta["y_std"])


def test_a_resume_names_the_option_as_it_was_given(capsys, tmp_path):
    """--sizes on a resume is checked as the hidden sizes it spells, and the message says
    --sizes; a resume without it goes on."""
    model = tmp_path / "m.npz"
    assert main(capsys, "train", "--data", "iris", "--hidden", "8", *QUICK, "--save", model)[0] == 0
    code, err = main(capsys, "train", "--resume", model, "--sizes", "4,16,3", "--epochs", "2",
                     "--quiet")
    assert code == 2 and ("--sizes 4,16,3 (--hidden 16) differs from 8, with which" in err
                          and "(leave --sizes out)" in err), err
    code, err = main(capsys, "train", "--resume", model, "--hidden", "16", "--epochs", "2",
                     "--quiet")
    assert code == 2 and "--hidden 16 differs from 8" in err and "(leave --hidden out)" in err
    code, err = main(capsys, "train", "--resume", model, "--epochs", "2", "--quiet")
    assert code == 0, err
    assert gpubp.load(model).training.epoch == 2


def test_a_regression_learns_its_targets_in_their_unit(capsys, tmp_path):
    """y = 3 x0 - 2 x1 + 7 (mean 7 and std 3.6 here, far from 0 and 1): a linear network trained
    on the standardized targets predicts y itself, to 0.05 (it reaches about 0.002)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 7
    data, model, out = tmp_path / "lin.npz", tmp_path / "m.npz", tmp_path / "p.csv"
    np.savez(data, X=X, y=y)
    code, err = main(capsys, "train", "--data", data, "--task", "regression", "--hidden", "none",
                     "--epochs", "150", "--batch-size", "40", "--lr", "0.05",
                     "--validation-fraction", "0", "--device", "cpu", "--no-plot", "--quiet",
                     "--save", model)
    assert code == 0, err
    assert main(capsys, "predict", "--model", model, "--input", data, "--output", out)[0] == 0
    predicted = np.genfromtxt(out, delimiter=",", skip_header=1)
    assert np.abs(predicted - y).max() < 0.05


def test_a_relative_data_path_is_recorded_absolute(capsys, tmp_path, monkeypatch):
    """So that a resume from another folder finds the data."""
    rng = np.random.default_rng(0)
    work = tmp_path / "work"
    work.mkdir()
    np.savez(work / "r.npz", X=rng.normal(size=(20, 2)), y=rng.normal(size=20))
    monkeypatch.chdir(work)
    code, err = main(capsys, "train", "--data", "r.npz", "--task", "regression", "--hidden", "3",
                     *QUICK, "--save", "m.npz")
    assert code == 0, err
    assert gpubp.load(work / "m.npz").metadata["data"]["data"] == str(work / "r.npz")
    monkeypatch.chdir(tmp_path)
    code, err = main(capsys, "train", "--resume", work / "m.npz", "--epochs", "2", "--quiet")
    assert code == 0, err


def test_an_unwritable_save_path_is_refused_before_training(capsys, tmp_path):
    code, err = main(capsys, "train", "--data", "iris", "--hidden", "4", "--device", "cpu",
                     "--no-plot", "--epochs", "1", "--save", tmp_path / "nodir" / "m.npz")
    assert code == 1 and f"--save {tmp_path / 'nodir' / 'm.npz'}: the folder" in err
    assert "does not exist" in err


def test_parameters_not_finite_at_the_end_are_not_saved_and_say_which_epoch():
    """check_finite (a signal can stop a run mid-epoch after the parameters overflowed): the
    epoch it names is the one under way, state.epoch + 1, or 1 before any."""
    from gpubp.cli.train import TrainRun
    from gpubp.errors import TrainingDiverged

    net = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    rng = np.random.default_rng(0)
    net.fit(rng.normal(size=(2, 8)), rng.uniform(size=(1, 8)), epochs=3, batch_size=8,
            verbose=False)
    run = TrainRun.__new__(TrainRun)  # the step alone, on a network and options
    run.net, run.opts = net, {"epochs": 10, "lr": 0.01}
    run.check_finite(net.training)  # finite: nothing to say
    net.params.flat[0] = np.nan
    with pytest.raises(TrainingDiverged, match=r"training diverged in epoch 4/10 \(the parameters "
                       r"are not finite\); nothing was saved; try a smaller --lr than 0.01"):
        run.check_finite(net.training)
    with pytest.raises(TrainingDiverged, match=r"in epoch 1/10 "):
        run.check_finite(None)


def test_progress_counts_the_epochs_in_all(capsys, tmp_path):
    model = tmp_path / "m.npz"
    argv = ["train", "--data", "iris", "--hidden", "4", "--device", "cpu", "--no-plot"]
    assert cli.main([*argv, "--epochs", "2", "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "\nepoch 1/2  cost " in out and "\nepoch 2/2  cost " in out and "epoch 3/" not in out
    seconds = [float(s) for s in re.findall(r"\((\d+\.\d+) s\)\n", out)]
    assert len(seconds) == 2 and all(0 <= s < 60 for s in seconds), out  # each epoch's own time
    assert cli.main(["train", "--resume", str(model), "--epochs", "3", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "\nepoch 3/3  cost " in out and "epoch 1/" not in out and "epoch 4/" not in out


@pytest.mark.parametrize("argv, rows, loss", [
    (["--data", "iris", "--output", "sigmoid"], 3, "bce"),               # one sigmoid per class
    (["--data", "breast_cancer", "--output", "softmax"], 2, "cross_entropy"),
    (["--data", "breast_cancer"], 1, "bce"),
])
def test_the_outputs_a_task_needs(capsys, tmp_path, argv, rows, loss):
    model = tmp_path / "m.npz"
    code, err = main(capsys, "train", *argv, "--hidden", "4", *QUICK, "--save", model)
    assert code == 0, err
    net = gpubp.load(model)
    assert net.sizes[-1] == rows and net.loss.name == loss


def test_a_resume_refuses_a_standardization_for_other_features(capsys, tmp_path):
    from gpubp import saving

    model = tmp_path / "m.npz"
    assert main(capsys, "train", "--data", "iris", "--hidden", "4", *QUICK, "--save", model)[0] == 0
    for key in ("x_mean", "x_std"):  # one of the two wrong is enough
        net = gpubp.load(model)
        meta = dict(net.metadata)
        good = meta[key]
        meta[key] = good[:3]
        bad = tmp_path / f"bad_{key}.npz"
        saving.save(net, bad, metadata=meta)
        code, err = main(capsys, "train", "--resume", bad, "--epochs", "2", "--quiet")
        assert code == 1 and "its standardization is for" in err and "the data have 4" in err, err


def test_a_stretch_with_patience_resumed_is_the_uninterrupted_run(capsys, tmp_path):
    """--patience watched across a resume: 5 epochs (the held-out cost rises in epoch 5 here)
    then a resume to 8 give the parameters of 8 epochs in one run, bit for bit."""
    argv = ["--data", "iris", "--hidden", "8", "--lr", "0.05", "--patience", "50", "--device",
            "cpu", "--no-plot", "--quiet"]
    straight, split = tmp_path / "straight.npz", tmp_path / "split.npz"
    assert main(capsys, "train", *argv, "--epochs", "8", "--save", straight)[0] == 0
    assert main(capsys, "train", *argv, "--epochs", "5", "--save", split)[0] == 0
    val = gpubp.load(split).training.history["val_cost"]
    assert val[4] > min(val[:4]), "the premise: epoch 5 is not the best one"
    assert main(capsys, "train", "--resume", split, "--epochs", "8", "--quiet")[0] == 0
    a, b = gpubp.load(straight), gpubp.load(split)
    assert b.training.epoch == 8
    assert np.array_equal(gpubp.backend.to_host(a.params.flat), gpubp.backend.to_host(b.params.flat))


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_what_a_run_announces(capsys, tmp_path):
    """The data and its split, the network with its hidden activations (one name, a list, or -
    for none), and on a resume where it goes on from, or that nothing is left."""
    model = tmp_path / "m.npz"
    run = ["--device", "cpu", "--no-plot"]
    out = _run(capsys, "train", "--data", "iris", "--hidden", "8,6", "--activation", "tanh,relu",
               "--epochs", "2", *run, "--save", model)
    assert out.startswith("gpubp: iris (150 examples, 4 features, 3 classes): 120 to train, 30 "
                          "held out\ngpubp: network 4-8-6-3, tanh,relu hidden, softmax output, "
                          "cross_entropy; adam lr 0.001, batch 32, on cpu (float32)\nepoch 1/2 ")
    assert "(2 epochs run, 2 in all)" in out
    out = _run(capsys, "train", "--data", "iris", "--hidden", "8,6", "--epochs", "1", *run,
               "--save", tmp_path / "same.npz")
    assert "\ngpubp: network 4-8-6-3, relu hidden, softmax output" in out
    assert "(1 epoch run, 1 in all)" in out
    out = _run(capsys, "train", "--data", "iris", "--hidden", "none", "--epochs", "1", *run,
               "--save", tmp_path / "none.npz")
    assert "\ngpubp: network 4-3, - hidden, softmax output" in out
    out = _run(capsys, "train", "--resume", model, "--epochs", "3", "--no-plot")
    assert "cpu (float32); resuming after epoch 2/3\nepoch 3/3 " in out
    assert "(1 epoch run, 3 in all)" in out
    out = _run(capsys, "train", "--resume", model, "--epochs", "3", "--no-plot")
    assert f"gpubp: {model} has been trained for 3 epochs already (--epochs 3 in all); nothing " \
           f"to resume\n" in out
    assert "epoch 3/3 " not in out


def test_a_regression_says_its_costs_are_of_the_standardized_target(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    data = tmp_path / "r.npz"
    np.savez(data, X=X, y=10 + 4 * X[:, 0])
    out = _run(capsys, "train", "--data", data, "--task", "regression", "--hidden", "3",
               "--epochs", "1", "--device", "cpu", "--no-plot", "--validation-fraction", "0",
               "--save", tmp_path / "m.npz")
    y = 10 + 4 * X[:, 0]
    assert (f"gpubp: the costs are those of the standardized target, (target - {y.mean():g}) / "
            f"{y.std():g}; the summary gives the mse in the target's units too") in out


def test_what_a_run_sums_up(capsys, tmp_path):
    model, other = tmp_path / "m.npz", tmp_path / "other.npz"
    run = ["--device", "cpu", "--no-plot"]
    out = _run(capsys, "train", "--data", "iris", "--hidden", "4", "--epochs", "0", *run,
               "--save", model)
    assert "(0 epochs run, 0 in all)" in out and "train accuracy" in out
    assert f"\nmodel: {model}\n" in out
    out = _run(capsys, "train", "--resume", model, "--epochs", "1", "--no-plot")
    assert "(1 epoch run, 1 in all)" in out and f"\nmodel: {model} (updated)\n" in out
    total = float(re.search(r"training \(.*\), (\d+\.\d+) s in all", out).group(1))
    assert 0 <= total < 600
    out = _run(capsys, "train", "--resume", model, "--epochs", "2", "--no-plot", "--save", other)
    assert f"\nmodel: {other}\n" in out, "a resume saved elsewhere: a new file, not updated"
    out = _run(capsys, "train", "--resume", model, "--epochs", "1", "--no-plot")
    assert f"\nmodel: {model} (unchanged: nothing to resume)\n" in out


def test_a_resume_with_nothing_left_prints_no_standardization_note(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    data, model = tmp_path / "r.npz", tmp_path / "m.npz"
    np.savez(data, X=X, y=10 + 4 * X[:, 0])
    argv = ["--hidden", "3", "--device", "cpu", "--no-plot", "--validation-fraction", "0"]
    _run(capsys, "train", "--data", data, "--task", "regression", "--epochs", "1", *argv,
         "--save", model)
    out = _run(capsys, "train", "--resume", model, "--epochs", "1", "--no-plot")
    assert "nothing to resume" in out and "standardized target" not in out


def test_a_model_saved_untrained_resumes_as_a_fresh_run(capsys, tmp_path):
    """--epochs 0 saves an untrained model (no training state); --resume then trains it (it
    raised AttributeError in announce: state.mid_epoch on None), to the fresh run's bits."""
    untrained, fresh = tmp_path / "u.npz", tmp_path / "f.npz"
    run = ["--data", "iris", "--hidden", "4", "--device", "cpu", "--no-plot", "--quiet"]
    assert main(capsys, "train", *run, "--epochs", "0", "--save", untrained)[0] == 0
    assert gpubp.load(untrained).training is None
    out = _run(capsys, "train", "--resume", untrained, "--epochs", "2", "--no-plot")  # not quiet
    assert "; resuming after epoch 0/2\nepoch 1/2 " in out
    assert main(capsys, "train", *run, "--epochs", "2", "--save", fresh)[0] == 0
    a, b = gpubp.load(untrained), gpubp.load(fresh)
    assert a.training.epoch == 2
    assert np.array_equal(gpubp.backend.to_host(a.params.flat), gpubp.backend.to_host(b.params.flat))


def test_a_model_that_stopped_early_has_nothing_to_resume(capsys, tmp_path):
    model = tmp_path / "m.npz"
    out = _run(capsys, "train", "--data", "iris", "--hidden", "8", "--lr", "0.05", "--patience",
               "1", "--epochs", "20", "--device", "cpu", "--no-plot", "--save", model)
    stopped = int(re.search(r"\((\d+) epochs run, \1 in all\)", out).group(1))
    assert stopped < 20 and "early stop: the held-out cost has not improved for 1 epochs" in out
    before = gpubp.backend.to_host(gpubp.load(model).params.flat)
    out = _run(capsys, "train", "--resume", model, "--epochs", "20", "--no-plot")
    assert f"gpubp: {model} stopped early at epoch {stopped} (--patience); nothing to resume" in out
    assert f"(0 epochs run, {stopped} in all)" in out and "\nepoch " not in out
    assert np.array_equal(gpubp.backend.to_host(gpubp.load(model).params.flat), before)
