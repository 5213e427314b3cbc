"""gpubp train --loss poisson: an exp output, and the counts trained in their own unit (a
standardized target would have negative values, which Poisson's deviance refuses)."""

import numpy as np

import gpubp
from gpubp import checkpoint, cli


def test_poisson_from_the_command_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = rng.poisson(np.exp(0.7 * X[:, 0]))
    data = tmp_path / "counts.csv"
    data.write_text("a,b,count\n" + "".join(f"{a},{b},{c}.0\n" for (a, b), c in zip(X, y)))
    model = tmp_path / "m.npz"
    code = cli.main(["train", "--data", str(data), "--loss", "poisson", "--epochs", "40",
                     "--device", "cpu", "--no-plot", "--save", str(model), "--lr", "0.01"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "exp output, poisson" in out and "standardized target" not in out
    meta = checkpoint.load_metadata(model)
    assert (meta["y_mean"], meta["y_std"]) == (0.0, 1.0)
    net = gpubp.load(model)
    assert net.outputs[0].activation.name == "exp" and net.loss.name == "poisson"
    code = cli.main(["predict", "--model", str(model), "--input", str(data)])
    out, err = capsys.readouterr()
    assert code == 0, err
    pred = np.array([float(v) for v in out.split()[1:]])
    assert pred.shape == (120,) and (pred > 0).all()
    assert np.corrcoef(pred, np.exp(0.7 * X[:, 0]))[0, 1] > 0.8   # it learned the rate


def test_each_output_takes_its_canonical_loss_in_every_command(capsys):
    """The default loss for an output is the loss that declares it canonical, in train's and in
    gradcheck's network alike (exp: poisson, whose random targets are counts >= 0)."""
    from gpubp.cli import tools
    from gpubp.cli.train import output_and_loss

    assert [tools.default_loss(o) for o in ("softmax", "sigmoid", "exp", "tanh")] == \
        ["cross_entropy", "bce", "poisson", "mse"]
    assert output_and_loss("regression", "exp", None) == ("exp", "poisson")
    assert output_and_loss("regression", None, "poisson") == ("exp", "poisson")
    assert output_and_loss("regression", "sigmoid", None) == ("sigmoid", "mse")
    assert output_and_loss("binary", None, "bce") == ("sigmoid", "bce")
    code = cli.main(["gradcheck", "--sizes", "3,4,2", "--output", "exp", "--batch", "4",
                     "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "output='exp', loss='poisson'" in out and "ok: worst relative error" in out
