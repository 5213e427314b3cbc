"""What `gpubp train` decides when an option is left out: the learning rate of a resumed run
given another optimizer, and the loss of a regression given a sigmoid output. (Each test was
checked against the mutant it is for: the old rate kept; bce for a sigmoid regression.)"""

import pytest

import gpubp
from gpubp import cli, optim
from gpubp.cli.train import output_and_loss

SMALL = ["--data", "iris", "--hidden", "8", "--device", "cpu", "--no-plot"]


def train(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


@pytest.mark.parametrize("first, then, lr, want", [
    ([], "sgd", None, optim.get("sgd").lr),                   # adam's 0.001 -> sgd's default
    (["--lr", "0.005"], "momentum", None, optim.get("momentum").lr),  # a given rate is not kept
    ([], "sgd", "0.05", 0.05),                                # the rate given again wins
    (["--optimizer", "sgd"], "adam", None, optim.get("adam").lr),
])
def test_resume_with_another_optimizer_takes_its_rate(tmp_path, capsys, first, then, lr, want):
    path = tmp_path / "m.npz"
    train(capsys, "train", *SMALL, "--epochs", "1", "--save", path, *first)
    old = gpubp.load(path).training.optimizer.lr
    assert old != want  # else the test could not tell the rates apart
    again = ["--lr", lr] if lr else []
    out, err = train(capsys, "train", "--resume", path, "--epochs", "2", "--optimizer", then,
                     *again, "--no-plot")
    assert f"{then} lr {want:g}, batch" in out
    net = gpubp.load(path)
    assert type(net.training.optimizer).__name__.lower() == then
    assert net.training.optimizer.lr == pytest.approx(want)
    assert net.metadata["training"]["lr"] == pytest.approx(want)
    assert "--optimizer " + then + " replaces" in err


@pytest.mark.parametrize("output, loss", [("sigmoid", "mse"), ("tanh", "mse"),
                                          ("identity", "mse")])
def test_a_regression_squares_its_error_whatever_its_output(output, loss):
    """bce is a loss for probabilities of classes; a regression target is a number (here
    standardized, so negative half the time): squared error, as for the identity output."""
    assert output_and_loss("regression", output, None) == (output, loss)


def test_a_sigmoid_regression_trains_with_mse(tmp_path, capsys):
    path = tmp_path / "r.npz"
    out, _ = train(capsys, "train", "--data", "synthetic-regression", "--samples", "200",
                   "--hidden", "8", "--epochs", "1", "--device", "cpu", "--no-plot", "--save",
                   path, "--output", "sigmoid")
    assert "sigmoid output, mse;" in out
    net = gpubp.load(path)
    assert net.loss.name == "mse" and net.metadata["network"]["loss"] == "mse"


@pytest.mark.parametrize("task, output, want", [
    ("binary", "sigmoid", ("sigmoid", "bce")), ("binary", "softmax", ("softmax", "cross_entropy")),
    ("multiclass", "sigmoid", ("sigmoid", "bce")), ("binary", "tanh", ("tanh", "mse")),
    ("regression", None, ("identity", "mse")),
])
def test_classes_keep_their_losses(task, output, want):
    assert output_and_loss(task, output, None) == want
