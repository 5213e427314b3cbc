"""Regression costs in stated units: the epochs' costs and the loss curve are of the standardized
target (and say so, with the mean and std that standardize it); the summary gives the mse in the
target's units and standardized, the latter the very number the last epoch's held-out cost was."""

import re

import numpy as np
import pytest

from gpubp import cli, datasets
from gpubp.cli import report


def run(capsys, tmp_path, *argv):
    code = cli.main(["train", "--device", "cpu", "--no-plot", "--save", str(tmp_path / "m.npz"),
                     "--hidden", "16", *map(str, argv)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_regression_costs_say_their_unit_and_the_summary_gives_both(tmp_path, capsys):
    out = run(capsys, tmp_path, "--data", "synthetic-regression", "--epochs", "3")
    ds = datasets.load("synthetic-regression")
    train, held = datasets.split(ds, 0.2, 0)
    y = ds.y.astype(float)
    mean, std = y[train].mean(), y[train].std()
    assert (f"gpubp: the costs are those of the standardized target, (target - {mean:.6g}) / "
            f"{std:.6g}; the summary gives the mse in the target's units too") in out
    last = float(re.findall(r"epoch 3/3  cost \S+  val_cost (\S+)", out)[0])
    found = re.search(r"held-out R\^2 \S+, mse (\S+) in the target's units, (\S+) standardized "
                      r"\(200 examples\)", out)
    assert found, out
    units, scaled = float(found.group(1)), float(found.group(2))
    assert scaled == pytest.approx(last, rel=1e-5)  # the same number: the held-out cost
    assert units == pytest.approx(scaled * std ** 2, rel=1e-5)  # the same error, other units
    assert re.search(r"^train R\^2 \S+, mse \S+ in the target's units, \S+ standardized \(800 "
                     r"examples\)", out, re.M)


def test_classes_have_no_units_to_state(tmp_path, capsys):
    out = run(capsys, tmp_path, "--data", "iris", "--epochs", "1")
    assert "standardized" not in out


def test_the_loss_curve_of_a_regression_names_its_unit(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    labels = []
    real = Axes.set_ylabel
    monkeypatch.setattr(Axes, "set_ylabel", lambda ax, text, **kw: (labels.append(text),
                                                                    real(ax, text, **kw))[1])
    history = {"cost": [1.0, 0.5], "val_cost": [1.1, 0.6]}
    assert report.plot(history, tmp_path / "a.png", "t", "mse", standardized=True)
    assert report.plot(history, tmp_path / "b.png", "t", "cross_entropy")
    assert labels == ["cost (mse of the standardized target, log scale)",
                      "cost (cross_entropy, log scale)"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
