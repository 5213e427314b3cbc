"""gpubp.datasets: the data sets of the command line, row-major (m, n), with their task; the
stratified seeded split; standardization with the training rows' statistics; errors in one line
that name the file, the column or the row."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from gpubp import bundled, datasets
from gpubp.errors import DataError, GpubpError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def data_error(match, *args, **kwargs):
    with pytest.raises(DataError, match=match) as e:
        datasets.load(*args, **kwargs)
    assert isinstance(e.value, GpubpError) and "\n" not in str(e.value)
    return str(e.value)


# ---- the bundled and synthetic sets -------------------------------------------------------------

def test_digits_is_the_default_and_needs_no_download():
    ds = datasets.load()
    assert ds.name == "digits" and ds.X.shape == (1797, 64) and ds.X.dtype == np.float64
    assert ds.task == "multiclass" and ds.classes == list(range(10))
    assert ds.y.shape == (1797,) and set(ds.y) == set(range(10))
    assert len(ds.feature_names) == 64


@pytest.mark.parametrize("name, shape, task, classes", [
    ("breast_cancer", (569, 30), "binary", ["benign", "malignant"]),
    ("iris", (150, 4), "multiclass", ["setosa", "versicolor", "virginica"]),
    ("wine", (178, 13), "multiclass", ["class_0", "class_1", "class_2"]),
])
def test_bundled_sets_keep_their_class_names(name, shape, task, classes):
    ds = datasets.load(name)
    assert ds.X.shape == shape and ds.task == task and ds.classes == classes
    assert set(ds.y) == set(classes)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "iris", "wine"])
def test_bundled_sets_are_scikit_learns_arrays(name):
    # gpubp reads scikit-learn's data files itself (importing scikit-learn is slow): the same data
    sk = getattr(pytest.importorskip("sklearn.datasets"), f"load_{name}")()
    ds = datasets.load(name)
    assert ds.X.dtype == np.float64 and np.array_equal(ds.X, sk.data)
    assert ds.feature_names == [str(f) for f in sk.feature_names]
    labels = [t if name == "digits" else str(sk.target_names[t]) for t in sk.target]
    assert list(ds.y) == labels
    assert ds.classes == sorted(int(t) if name == "digits" else str(t) for t in sk.target_names)


def test_the_bundled_sets_are_read_without_importing_scikit_learn():
    code = ("import sys; from gpubp import datasets\n"
            "for name in datasets.BUILTIN: datasets.load(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    assert out.strip() == "[]"


def test_bundled_sets_without_their_files_fall_back_to_scikit_learn(monkeypatch, tmp_path):
    monkeypatch.setattr(bundled, "data_folder", lambda: str(tmp_path))  # no files there
    pytest.importorskip("sklearn")
    ds = datasets.load("iris")
    assert ds.X.shape == (150, 4) and ds.classes == ["setosa", "versicolor", "virginica"]


def test_bundled_sets_without_scikit_learn_say_what_to_install(monkeypatch):
    monkeypatch.setattr(bundled, "data_folder", lambda: None)
    data_error(r"comes with scikit-learn, which is not installed: pip install", "digits")


def test_synthetic_sets_are_seeded_and_sized():
    a = datasets.load("synthetic-classification", samples=300, features=7, seed=4)
    b = datasets.load("synthetic-classification", samples=300, features=7, seed=4)
    c = datasets.load("synthetic-classification", samples=300, features=7, seed=5)
    assert a.X.shape == (300, 7) and a.task == "binary" and a.classes == [0, 1]
    assert np.array_equal(a.X, b.X) and list(a.y) == list(b.y)
    assert not np.array_equal(a.X, c.X)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    k = datasets.load("synthetic-classification", samples=200, features=3, classes=5, seed=0)
    assert k.task == "multiclass" and k.classes == [0, 1, 2, 3, 4]
    r = datasets.load("synthetic-regression", samples=50, features=2, seed=0)
    assert r.task == "regression" and r.X.shape == (50, 2) and r.y.dtype == np.float64
    assert r.classes is None and len(set(r.y)) == 50


def test_synthetic_option_errors():
    data_error("^samples only applies to the synthetic data sets", "digits", samples=10)
    data_error("^samples, classes only apply to the synthetic", "digits", samples=10, classes=3)
    data_error("^classes applies to synthetic-classification", "synthetic-regression", classes=3)
    data_error("^samples must be an integer >= 2", "synthetic-regression", samples=1)
    data_error(r"8 classes need at least 3 features \(features\)", "synthetic-classification",
               features=2, classes=8)
    data_error(r"3 classes need at least 6 examples \(samples\)", "synthetic-classification",
               samples=5, classes=3)
    data_error("^target applies to a .csv file or an .npz file; iris is not a file", "iris",
               target="species")
    data_error("^header applies to a .csv file; iris is not a file", "iris", header=False)
    data_error("iris is a multiclass data set; it cannot be used for regression", "iris",
               task="regression")
    data_error("unknown data 'mnist'", "mnist")
    data_error("unknown task 'ranking'", "iris", task="ranking")


# ---- CSV -----------------------------------------------------------------------------------------

def test_csv_string_labels(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a", "kind", "b"],
                     [[1, "cat", 2.5], [2, "dog", -1], [3, "cat", 0], [4, "bird", 1e3]])
    ds = datasets.load(path, target="kind")
    assert ds.task == "multiclass" and ds.classes == ["bird", "cat", "dog"]
    assert ds.feature_names == ["a", "b"] and ds.target == "kind"
    assert np.array_equal(ds.X, [[1, 2.5], [2, -1], [3, 0], [4, 1000]])
    assert list(ds.y) == ["cat", "dog", "cat", "bird"]


def test_csv_target_defaults_to_the_last_column_and_integer_labels_stay_integers(tmp_path):
    # "1.0" and "1" are the same class, 1; a blank line is skipped
    path = tmp_path / "d.csv"
    path.write_text("x,y,label\n0.5,1,1.0\n\n0.25,2,0\n1,3,1\n2,4,0\n")
    ds = datasets.load(str(path))
    assert ds.target == "label" and ds.task == "binary" and ds.classes == [0, 1]
    assert list(ds.y) == [1, 0, 1, 0] and ds.X.shape == (4, 2)


def test_csv_task_is_read_from_the_target(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    floats = write_csv(tmp_path / "f.csv", ["a", "b", "t"], [[*x, v] for x, v in zip(X, X[:, 0])])
    assert datasets.load(floats).task == "regression"
    many = write_csv(tmp_path / "i.csv", ["a", "b", "t"], [[*x, i] for i, x in enumerate(X)])
    assert datasets.load(many).task == "regression"  # 40 distinct integers: a quantity
    few = write_csv(tmp_path / "k.csv", ["a", "b", "t"], [[*x, i % 5] for i, x in enumerate(X)])
    assert datasets.load(few).task == "multiclass" and datasets.load(few).classes == [0, 1, 2, 3, 4]
    assert datasets.load(few, task="regression").task == "regression"
    assert datasets.load(many, task="multiclass").classes == list(range(40))
    two = write_csv(tmp_path / "b.csv", ["a", "b", "t"], [[*x, i % 2] for i, x in enumerate(X)])
    assert datasets.load(two).task == "binary"
    assert datasets.load(two, task="multiclass").task == "multiclass"  # asked for: a softmax of 2


@pytest.mark.parametrize("content, target, match", [
    ("", None, "the file is empty"),
    ("\n\n  \n", None, "the file is empty"),
    ("a,b,t\n1,x,0\n2,3,1\n", None, r"line 2, column 2 \('b'\) is 'x'; features must be finite "
                                    r"numbers \(encode the column, drop it, or make it the target\)"),
    ("a,b,t\n1,2,0\n2,,1\n", None, r"line 3, column 2 \('b'\) is empty \(a missing value\)"),
    ("a,b,t\n1,nan,0\n2,3,1\n", None, r"line 2, column 2 \('b'\) is 'nan'"),
    ("a,b,t\n\n1,2,0\n\n2,x,1\n", None, r"line 5, column 2 \('b'\) is 'x'"),  # blank lines count
    ("1,2,0\n3,x,1\n", None, r"line 2, column 2 is 'x'"),                   # no header: no name
    ("a,b,t\n1,2,0\n2,3\n", None, r"line 3 has 2 fields; the header \(line 1\) has 3 \(comma"),
    ("a;b;t\n1;2;0\n2;3\n", None, r"line 3 has 2 fields; .* has 3 \(semicolon-separated\)"),
    ("a,b,t\n1,2,0\n2,3,1\n", "c", r"no column named 'c' \(target\); the columns are: a, b, t"),
    ("1,2,0\n2,3,1\n", "c", r"no column named 'c' \(target\); the file has no header row \(line "
                             r"1 is numbers\), so its columns are column 1 to column 3; .* or say "
                             r"header=True"),
    ("a,a,t\n1,2,0\n", None, r"two columns are named 'a' \(line 1\)"),
    ("a,,t\n1,2,0\n", None, r"column 2 has no name in the header row \(line 1\)"),
    ("t\n1\n", None, "has 1 column: no comma, semicolon, tab or space separates the fields of line 1"),
    ("a,t\n1,0\n2,\n", None, r"line 3, column 2 \('t'\), the target, is empty"),
    ("a,t\n1,0.5\n2,NaN\n3,1.25\n", None,
     r"line 3, column 2 \('t'\), the target, is 'NaN'; targets must be finite numbers"),
    ("a,t\n1,-inf\n2,1\n3,2\n", None, r"line 2, column 2 \('t'\), the target, is '-inf'"),
    ("a,t\n1,0\n2,0\n", None, r"has only one class \(0\)"),
    ("a,t\n", None, "has no examples"),
    ('a,t\n1,"x\ny"\n2,z\n3,"w"x\n', None, None),  # a quoted field over two lines: fine
    ("a,t\n1,x\n2,y\n", None, None),  # fine
])
def test_csv_errors(tmp_path, content, target, match):
    path = tmp_path / "d.csv"
    path.write_text(content)
    if match is None:
        assert datasets.load(str(path)).task in ("binary", "multiclass")
        return
    message = data_error(match, str(path), target=target)
    assert str(path) in message


def test_csv_string_target_cannot_be_a_regression(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a", "t"], [[1, "x"], [2, "y"], [3, "z"]])
    data_error("a regression target must be numbers", path, task="regression")
    data_error("has 3 classes; binary needs 2", path, task="binary")


def test_missing_and_unknown_files(tmp_path):
    data_error("no such file", str(tmp_path / "nope.csv"))
    (tmp_path / "dir.csv").mkdir()
    data_error("is a folder", str(tmp_path / "dir.csv"))
    data_error("give a .csv or .npz file", str(tmp_path / "data.txt"))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81")
    data_error("not a text CSV file", str(tmp_path / "bin.csv"))


# ---- npz -----------------------------------------------------------------------------------------

def test_npz_features_and_targets(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    np.savez(tmp_path / "a.npz", X=X, y=y)
    ds = datasets.load(str(tmp_path / "a.npz"))
    assert ds.task == "regression" and np.array_equal(ds.X, X) and np.array_equal(ds.y, y)
    assert ds.feature_names == ["x0", "x1", "x2"]
    # other names: --target names the targets, the one other array holds the features
    np.savez(tmp_path / "b.npz", inputs=X.astype(np.float32), labels=(y > 0).astype(np.int8))
    ds = datasets.load(str(tmp_path / "b.npz"), target="labels")
    assert ds.task == "binary" and ds.classes == [0, 1] and ds.X.dtype == np.float64
    np.savez(tmp_path / "c.npz", X=X[:, 0], y=np.array(["a", "b", "c"] * 10))
    ds = datasets.load(str(tmp_path / "c.npz"))
    assert ds.X.shape == (30, 1) and ds.classes == ["a", "b", "c"]


def test_npz_errors(tmp_path):
    X = np.zeros((4, 2))
    np.savez(tmp_path / "a.npz", X=X, y=np.arange(4))
    data_error(r"no array named 'target' \(target\); it holds: X, y", str(tmp_path / "a.npz"),
               target="target")
    np.savez(tmp_path / "b.npz", X=X, y=np.arange(3))
    data_error("the features have 4 rows .* but the targets 'y' have 3", str(tmp_path / "b.npz"))
    np.savez(tmp_path / "c.npz", A=X, B=X, y=np.arange(4))
    data_error("cannot tell which array holds the features", str(tmp_path / "c.npz"))
    np.savez(tmp_path / "d.npz", X=np.array([[1.0, np.inf]] * 2), y=np.arange(2))
    data_error(r"'X' hold inf at X\[0, 1\] \(row 0, column 1, from 0\)", str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", X=X, y=np.array([{}, 1, 2, 3], dtype=object))
    data_error("holds Python objects", str(tmp_path / "e.npz"))
    (tmp_path / "f.npz").write_bytes(b"not a zip")
    data_error("not a readable .npz file", str(tmp_path / "f.npz"))
    np.savez(tmp_path / "g.npz", X=np.zeros((4, 2, 2)), y=np.arange(4))
    data_error(r"must be \(m, n\)", str(tmp_path / "g.npz"))
    np.savez(tmp_path / "h.npz", X=X, y=np.zeros((4, 2)))
    data_error(r"one value per example, \(m,\)", str(tmp_path / "h.npz"))


# ---- split, standardize, encode ------------------------------------------------------------------

def test_split_is_stratified_seeded_and_disjoint():
    ds = datasets.load("iris")
    train, held = datasets.split(ds, 0.2, seed=0)
    assert len(train) == 120 and len(held) == 30
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(150))
    for c in ds.classes:  # 50 of each class: 10 held out of each
        assert sum(ds.y[i] == c for i in held) == 10
    again = datasets.split(ds, 0.2, seed=0)
    other = datasets.split(ds, 0.2, seed=1)
    assert np.array_equal(again[1], held) and not np.array_equal(other[1], held)


def test_split_of_an_unbalanced_set_keeps_each_class_in_both_parts():
    ds = datasets.Dataset(np.zeros((23, 1)), np.array(["a"] * 20 + ["b"] * 3, dtype=object),
                          "binary", ["x"], ["a", "b"], "toy")
    train, held = datasets.split(ds, 0.1, seed=0)
    assert sorted(ds.y[held]) == ["a", "a", "b"]  # 10% of 20 = 2, and at least 1 of 3
    assert "b" in set(ds.y[train])


def test_split_regression_and_no_held_out():
    ds = datasets.load("synthetic-regression", samples=50, features=2)
    train, held = datasets.split(ds, 0.3, seed=0)
    assert len(held) == 15 and len(train) == 35
    train, held = datasets.split(ds, 0.0)
    assert len(held) == 0 and len(train) == 50


def test_split_errors():
    ds = datasets.Dataset(np.zeros((5, 1)), np.array(["a"] * 4 + ["b"], dtype=object),
                          "binary", ["x"], ["a", "b"], "toy")
    with pytest.raises(DataError, match="class 'b' has 1 example; a held-out split needs at least 2"):
        datasets.split(ds, 0.2)
    assert len(datasets.split(ds, 0.0)[0]) == 5
    with pytest.raises(DataError, match=r"^fraction must be in \[0, 1\)"):
        datasets.split(ds, 1.0)
    with pytest.raises(DataError, match=r"^--validation-fraction must be in \[0, 1\)"):
        datasets.split(ds, 1.0, option_names={"fraction": "--validation-fraction"})
    with pytest.raises(DataError, match=r"at least 2 of each class \(or fraction=0\)"):
        datasets.split(ds, 0.2)
    with pytest.raises(DataError, match=r"at least 2 of each class \(or --validation-fraction 0\)"):
        datasets.split(ds, 0.2, option_names={"fraction": "--validation-fraction"})
    one = datasets.Dataset(np.zeros((1, 1)), np.zeros(1), "regression", ["x"], name="toy")
    with pytest.raises(DataError, match="has 1 example; holding some out needs at least 2"):
        datasets.split(one, 0.5)


def test_standardizer_uses_the_training_rows():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [100.0, 5.0]])
    s = datasets.Standardizer.fit(X[:2])
    assert np.array_equal(s.mean, [2.0, 5.0]) and np.array_equal(s.std, [1.0, 1.0])  # constant: 1
    assert np.array_equal(s(X), [[-1, 0], [1, 0], [98, 0]])


def test_encode_and_decode():
    classes = ["a", "b", "c"]
    Y = datasets.encode(np.array(["b", "a", "c", "b"], dtype=object), classes, 3)
    assert np.array_equal(Y, [[0, 1, 0, 0],    # a
                              [1, 0, 0, 1],    # b
                              [0, 0, 1, 0]])   # c: one-hot columns
    assert datasets.decode(Y, classes) == ["b", "a", "c", "b"]
    y2 = datasets.encode(np.array([7, 3, 7]), [3, 7], 1)
    assert np.array_equal(y2, [[1, 0, 1]])
    assert datasets.decode(np.array([[0.9, 0.2, 0.51]]), [3, 7]) == [7, 3, 7]
    with pytest.raises(DataError, match="label 'z' is not one of the model's classes"):
        datasets.encode(np.array(["z"], dtype=object), classes, 3)


# ---- features of new data for a trained model -----------------------------------------------------

def test_features_match_columns_by_name(tmp_path):
    path = write_csv(tmp_path / "new.csv", ["b", "label", "a"], [[2, "x", 1], [4, "y", 3]])
    X = datasets.features(path, ["a", "b"], target="label")
    assert np.array_equal(X, [[1, 2], [3, 4]])
    path = write_csv(tmp_path / "new2.csv", ["b", "a"], [[2, 1]])
    assert np.array_equal(datasets.features(path, ["a", "b"], target="label"), [[1, 2]])


def test_features_errors(tmp_path):
    path = write_csv(tmp_path / "n.csv", ["a", "c"], [[1, 2]])
    with pytest.raises(DataError, match=r"lacks the column 'b' that the model was trained on"):
        datasets.features(path, ["a", "b"])
    path = write_csv(tmp_path / "e.csv", ["a", "b", "zz"], [[1, 2, 3]])
    with pytest.raises(DataError, match="has column 'zz' that the model was not trained on"):
        datasets.features(path, ["a", "b"], target="t")
    path = write_csv(tmp_path / "s.csv", ["a", "b"], [[1, "x"]])
    with pytest.raises(DataError, match=r"line 2, column 2 \('b'\) is 'x'; features must be "
                                        r"finite numbers$"):  # no target to make of it
        datasets.features(path, ["a", "b"])
    path = write_csv(tmp_path / "h.csv", ["a", "b"], [])
    with pytest.raises(DataError, match="has no examples"):
        datasets.features(path, ["a", "b"])
    np.savez(tmp_path / "x.npz", X=np.zeros((3, 5)))
    with pytest.raises(DataError, match="the features have 5 columns; the model takes 2"):
        datasets.features(str(tmp_path / "x.npz"), ["a", "b"])
    with pytest.raises(DataError, match="no such file"):
        datasets.features(str(tmp_path / "none.csv"), ["a"])


def test_fingerprint_sees_a_changed_value_or_label():
    ds = datasets.load("iris")
    f = ds.fingerprint()
    ds.X[3, 1] = np.nextafter(ds.X[3, 1], np.inf)
    assert ds.fingerprint() != f
    ds = datasets.load("iris")
    ds.y[0] = "virginica"
    assert ds.fingerprint() != f


# ---- CSV: the separator, the header, the file's own lines and columns (issue 19 item 6) ---------

@pytest.mark.parametrize("content, header, names, X, y", [
    # a header over numbers; the target is the last column
    ("a,b,t\n1,2,x\n3,4,y\n", None, ["a", "b"], [[1, 2], [3, 4]], ["x", "y"]),
    # a first row of numbers is data, not a header
    ("1,2,0\n3,4,1\n", None, ["column 1", "column 2"], [[1, 2], [3, 4]], [0, 1]),
    # words only in a column of words: labels, not names (the first example is kept)
    ("5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,2.9,virginica\n", None, ["column 1", "column 2"],
     [[5.1, 3.5], [4.9, 3.0], [6.3, 2.9]], ["setosa", "setosa", "virginica"]),
    # one name over a column of numbers is enough, whatever the other names are
    ("a,2,kind\n1,2,x\n3,4,y\n", None, ["a", "2"], [[1, 2], [3, 4]], ["x", "y"]),
    # told: numbers as names, and words taken as data
    ("10,20,30\n1,2,0\n3,4,1\n", True, ["10", "20"], [[1, 2], [3, 4]], [0, 1]),
    ("5,6,x\n1,2,y\n3,4,x\n", False, ["column 1", "column 2"], [[5, 6], [1, 2], [3, 4]],
     ["x", "y", "x"]),
])
def test_csv_header_is_detected_or_told(tmp_path, content, header, names, X, y):
    path = tmp_path / "d.csv"
    path.write_text(content)
    ds = datasets.load(str(path), header=header)
    assert ds.feature_names == names
    assert np.array_equal(ds.X, X) and list(ds.y) == y


@pytest.mark.parametrize("content, separator", [
    ("a,b,t\n1.5,2,0\n3,4,1\n", None),
    ("a;b;t\n1.5;2;0\n3;4;1\n", None),
    ("a\tb\tt\n1.5\t2\t0\n3\t4\t1\n", None),
    ("a  b t\n 1.5 2   0\n3 4 1\n", None),               # any run of spaces
    ("a, b, t\n1.5, 2, 0\n3, 4, 1\n", None),             # a comma and a space: a comma
    ('"a;1",b,t\n1.5,2,0\n3,4,1\n', None),               # a quoted semicolon is in a name
    ("a;b;t\n1.5;2;0\n3;4;1\n", ";"),
    ("a b t\r\n1.5 2 0\r\n3 4 1\r\n", None),             # Windows line ends
])
def test_csv_separator_is_sniffed_or_told(tmp_path, content, separator):
    path = tmp_path / "d.csv"
    path.write_text(content, newline="")
    ds = datasets.load(str(path), separator=separator)
    assert ds.X.tolist() == [[1.5, 2], [3, 4]] and ds.classes == [0, 1]
    assert ds.feature_names[1] == "b"


@pytest.mark.parametrize("content, kwargs, match", [
    # a semicolon file read with a comma: one column, and the message says why
    ("a;b;t\n1;2;0\n3;4;1\n", {"separator": ","}, "has 1 column: no comma, semicolon, tab or space"),
    ("a,b,t\n1,2,0\n", {"separator": "|"}, r"separator must be one of ',', ';', '\\t', ' '"),
    ("a,b,t\n1,2,0\n", {"header": "yes"}, "header must be True, False or None"),
    # values whose spread overflows float64: before training, in the file's line and column
    ("a,b,t\n1,2e200,0\n2,-1e200,1\n3,0,0\n4,1,1\n", {},
     r"line 2, column 2 \('b'\) is 2e\+200: the spread \(standard deviation\) of that column "
     r"overflows float64"),
    ("a,b,t\n1,1e308,0\n2,1.7e308,1\n3,1e308,0\n", {},
     r"line 3, column 2 \('b'\) is 1.7e\+308: the spread"),
    ("1,2,0.5\n2,3,1e200\n3,4,-1e200\n", {},
     r"line 2, column 3, the target, is 1e\+200: its spread"),
    # did you mean
    (b"a,b,t\n1,2,0\n3,\xe9,1\n", {}, r"not a text CSV file in UTF-8 \(invalid continuation "
                                     r"byte on line 3, byte 14\); save it as UTF-8"),
    ("", {"source": "digit"}, r"unknown data 'digit': did you mean digits\? give a .csv"),
    ("", {"source": "synthetic-clasification"},
     r"did you mean synthetic-classification\?"),
    ("", {"source": "mnist"}, r"unknown data 'mnist': give a .csv or .npz file"),
    ("", {"source": "/home/me/wine-data"}, r"unknown data '/home/me/wine-data': did you mean wine"),
    # the caller's names for the parameters
    ("1,2,0\n2,3,1\n", {"target": "c", "option_names": {"target": "--target",
                                                        "header": "--header"}},
     r"no column named 'c' \(--target\); .* or say --header if line 1 names"),
])
def test_csv_data_errors(tmp_path, content, kwargs, match):
    path = tmp_path / "d.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    source = kwargs.pop("source", str(path))
    message = data_error(match, source, **kwargs)
    assert "--" not in message or "option_names" in kwargs


def test_npz_spread_overflow_names_the_array_entry(tmp_path):
    X = np.array([[1.0, 1e300], [2.0, -1e300], [3.0, 0.0]])
    np.savez(tmp_path / "a.npz", X=X, y=np.array([0, 1, 0]))
    data_error(r"X\[0, 1\] is 1e\+300: the spread", str(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", X=X[:, :1], y=np.array([0.5, 1e300, -1e300]))
    data_error(r"y\[1\], the target, is 1e\+300: its spread", str(tmp_path / "b.npz"))


def test_standardizer_refuses_an_overflowing_spread():
    X = np.array([[1.0, 1e200], [2.0, -1e200]])
    with pytest.raises(DataError, match="feature 'b': its spread .* overflows float64"):
        datasets.Standardizer.fit(X, ["a", "b"])
    assert np.isfinite(datasets.Standardizer.fit(X / 1e100).std).all()


def test_csv_rows_are_named_by_their_first_line_in_the_file(tmp_path):
    # a quoted field over two lines: the next row starts two lines later
    path = tmp_path / "d.csv"
    path.write_text('a,b,t\n1,2,"two\nlines"\n\n3,x,y\n')
    data_error(r"line 5, column 2 \('b'\) is 'x'", str(path))


def test_features_of_a_headerless_file_are_taken_in_the_models_order(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("1,2\n3,4\n")
    assert np.array_equal(datasets.features(str(path), ["a", "b"]), [[1, 2], [3, 4]])
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match=r"has no header row and 3 columns; the model takes 2 "
                                        r"features, in this order: 'a', 'b'"):
        datasets.features(str(path), ["a", "b"])
    # a model trained on a headerless file: its columns are named by position, target included
    train = tmp_path / "train.csv"
    train.write_text("1,2,0\n3,4,1\n")
    ds = datasets.load(str(train))
    X = datasets.features(str(train), ds.feature_names, target=ds.target)
    assert np.array_equal(X, ds.X)
    named = write_csv(tmp_path / "named.csv", ["b", "a"], [[2, 1]])
    with pytest.raises(DataError, match=r"lacks the columns 'column 1', 'column 2' that the model "
                                        r"was trained on \(all 2 of them; its columns are 'b', "
                                        r"'a'\)"):
        datasets.features(named, ds.feature_names)
