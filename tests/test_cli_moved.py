"""--resume after the data file moved (issue 17 item 4): the run is tied to the data's contents
(the fingerprint the model records), not to the path it had."""

import numpy as np

import gpubp
from gpubp import cli


def main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _csv(path, rng, rows=60, shift=0.0):
    X = rng.normal(size=(rows, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    lines = ["a,b,c,label"] + [f"{a + shift:.6f},{b:.6f},{c:.6f},{t}" for (a, b, c), t in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")


def test_resume_on_moved_data_whose_contents_match(tmp_path, capsys):
    rng = np.random.default_rng(0)
    first, moved, other = tmp_path / "d.csv", tmp_path / "elsewhere" / "d2.csv", tmp_path / "o.csv"
    _csv(first, rng)
    model = tmp_path / "m.npz"
    args = ["--device", "cpu", "--no-plot", "--hidden", "4", "--save", model]
    code, _, err = main(capsys, "train", "--data", first, "--epochs", "2", *args)
    assert code == 0, err
    straight = tmp_path / "s.npz"
    code, _, err = main(capsys, "train", "--data", first, "--epochs", "4", "--device", "cpu",
                        "--no-plot", "--hidden", "4", "--save", straight)
    assert code == 0, err
    moved.parent.mkdir()
    first.rename(moved)
    # the old path is gone: say so, and how to go on
    code, _, err = main(capsys, "train", "--resume", model, "--epochs", "4", "--no-plot")
    assert code == 1 and "which is not there any more; if it moved, give --data" in err, err
    # other contents at a new path: refused, naming both
    _csv(other, np.random.default_rng(1))
    code, _, err = main(capsys, "train", "--resume", model, "--data", other, "--epochs", "4",
                        "--no-plot")
    assert code == 1 and f"--data {other}: its contents are not those of {first}" in err, err
    # the same contents at the new path: resumed, with a note, exactly as an uninterrupted run
    code, out, err = main(capsys, "train", "--resume", model, "--data", moved, "--epochs", "4",
                          "--no-plot")
    assert code == 0, err
    assert f"the data moved from {first} to {moved}" in err
    assert np.array_equal(gpubp.load(model).params.flat, gpubp.load(straight).params.flat)
    # the model now records the new path: the next resume needs no --data
    code, _, err = main(capsys, "train", "--resume", model, "--epochs", "5", "--no-plot")
    assert code == 0, err
