"""`gpubp info --model FILE`: what a model expects from predict (its columns, in order) and what it
gives (its classes, or its target in the target's units); predict's input errors point to it,
never to options predict lacks, and a transposed .npz is told to transpose."""

import numpy as np
import pytest

from gpubp import cli, datasets


def main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for data, name in (("iris", "iris.npz"), ("synthetic-regression", "reg.npz")):
        code = cli.main(["train", "--data", data, "--epochs", "1", "--hidden", "8", "--no-plot",
                         "--quiet", "--device", "cpu", "--save", str(folder / name)])
        assert code == 0
    return folder


def test_info_on_a_classifier_lists_its_columns_in_order_and_its_classes(models, capsys):
    path = models / "iris.npz"
    code, out, err = main(capsys, "info", "--model", path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{path}: a model saved by 'gpubp train' on iris (1 epoch)"
    assert lines[1] == ("task: multiclass, 3 classes: setosa, versicolor, virginica; predict "
                        "writes one per example (--proba: the probability of each, in this order)")
    assert lines[2] == "network: 4-8-3, relu hidden, softmax output, cross_entropy (float32)"
    assert lines[3].startswith("input: 4 feature columns, one row per example, in this order")
    assert "(m, 4)" in lines[3]
    names = datasets.load("iris").feature_names
    assert lines[4:8] == [f"  {i}  {name}" for i, name in enumerate(names, 1)]
    assert lines[8] == "target column: 'target' (ignored if the input has it)"


def test_info_on_a_regression_names_the_target_and_its_units(models, capsys):
    code, out, err = main(capsys, "info", "--model", models / "reg.npz")
    assert code == 0, err
    ds = datasets.load("synthetic-regression")
    train, _ = datasets.split(ds, 0.2, 0)
    y = ds.y[train].astype(float)
    task = out.splitlines()[1]
    assert task == (f"task: regression of 'target'; predict writes its values in the units of "
                    f"the training data's 'target' (there: mean {y.mean():.6g}, std "
                    f"{y.std():.6g})")
    assert "  20  x19" in out.splitlines()


def test_info_on_a_file_that_is_not_a_model(tmp_path, capsys):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    code, out, err = main(capsys, "info", "--model", tmp_path / "x.npz")
    assert code == 1 and out == "" and len(err.splitlines()) == 1


@pytest.fixture
def inputs(tmp_path):
    d = datasets.load("iris")
    np.savez(tmp_path / "transposed.npz", X=d.X[:10].T)
    nan = d.X[:10].copy()
    nan[1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=nan)
    header = ",".join(d.feature_names)
    rows = [",".join(map(str, r)) for r in d.X[:5].tolist()]
    (tmp_path / "nan.csv").write_text("\n".join([header, rows[0], "5.1,nan,1.4,0.2"]) + "\n")
    (tmp_path / "three.csv").write_text("\n".join(",".join(r.split(",")[:3]) for r in rows))
    return tmp_path


@pytest.mark.parametrize("name, words", [
    ("transposed.npz", "'X' is (4, 10), which looks transposed: the model takes one row per "
                       "example, (10, 4); save X.T"),
    ("nan.npz", "features must be finite"),
    ("nan.csv", "is 'nan'; features must be finite numbers"),
    ("three.csv", "has no header row and 3 columns; the model takes 4 features"),
])
def test_predict_errors_point_to_info_and_never_to_target(models, inputs, capsys, name, words):
    code, out, err = main(capsys, "predict", "--model", models / "iris.npz", "--input",
                          inputs / name)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1
    assert words in err
    assert err.rstrip().endswith(f"'gpubp info --model {models / 'iris.npz'}' lists the columns "
                                 f"it expects")
    assert "--target" not in err


def test_an_npz_of_the_right_shape_is_not_called_transposed(models, inputs, capsys):
    d = datasets.load("iris")
    np.savez(inputs / "square.npz", X=d.X[:5, :3])  # (5, 3): neither way round is (m, 4)
    code, out, err = main(capsys, "predict", "--model", models / "iris.npz", "--input",
                          inputs / "square.npz")
    assert code == 1 and "transposed" not in err
