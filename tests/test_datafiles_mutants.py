"""gpubp/datafiles.py through :func:`datafiles.read`, :func:`datafiles.spell` and
:func:`datafiles.plain` (the gaps a mutation run found): what each returns, and each refusal's
words."""

import numpy as np
import pytest

from gpubp import datafiles
from gpubp.errors import DataError


def csv(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_spell():
    assert datafiles.spell(None, "target") == "target"
    assert datafiles.spell({}, "header", True) == "header=True"
    assert datafiles.spell(None, "target", "y") == "target='y'"
    names = {"header": "--header", "target": "--target"}
    assert datafiles.spell(names, "header") == "--header"
    assert datafiles.spell(names, "header", True) == "--header"
    assert datafiles.spell(names, "header", False) == "--no-header"
    assert datafiles.spell(names, "target", "y") == "--target y"
    assert datafiles.spell(names, "separator", ";") == "separator=';'"


def test_read_a_csv_gives_features_names_targets_and_places(tmp_path):
    path = csv(tmp_path, "a,t,b\n1,x,2.5\n\n3,y,-4\n")
    X, names, y, target, locate = datafiles.read(path, "t")
    assert X.dtype == np.float64 and X.tolist() == [[1, 2.5], [3, -4]]
    assert names == ["a", "b"] and target == "t"
    assert y.dtype == object and list(y) == ["x", "y"]
    assert locate(1, 1) == "line 4, column 3 ('b')"
    assert locate(0, 0) == "line 2, column 1 ('a')"
    assert locate(1, None) == "line 4, column 2 ('t')"


def test_read_new_data_for_a_model_takes_its_columns_in_its_order(tmp_path):
    path = csv(tmp_path, "b,t,a\n2,x,1\n4,y,3\n")
    X, names, y, target, locate = datafiles.read(path, "t", columns=["a", "b"])
    assert X.tolist() == [[1, 2], [3, 4]] and names == ["a", "b"] and y is None
    assert target == "t" and locate(1, 0) == "line 3, column 3 ('a')"
    X = datafiles.read(csv(tmp_path, "5,6\n7,8\n"), None, columns=["a", "b"])[0]
    assert X.tolist() == [[5, 6], [7, 8]]


def test_a_model_of_one_feature_on_a_headerless_file_of_two_columns(tmp_path):
    path = csv(tmp_path, "1,2\n3,4\n")
    with pytest.raises(DataError, match=r"has no header row and 2 columns; the model takes 1 "
                                        r"features, in this order: 'a': give exactly those 1"):
        datafiles.read(path, None, columns=["a"])
    path = csv(tmp_path, "1\n3\n", name="one.csv")
    with pytest.raises(DataError, match=r"has no header row and 1 column; the model takes 2"):
        datafiles.read(path, None, columns=["a", "b"])


@pytest.mark.parametrize("text, columns, match", [
    ("c,d\n1,2\n", ["a", "b"], r"lacks the columns 'a', 'b' that the model was trained on \(all "
                               r"2 of them; its columns are 'c', 'd'\)"),
    ("c,d\n1,2\n", ["a"], r"lacks the column 'a' that the model was trained on \(it takes 1: "
                          r"'a'\)"),
    ("a,d\n1,2\n", ["a", "b", "c"], r"lacks the columns 'b', 'c' that the model was trained on "
                                    r"\(it takes 3: 'a', 'b', 'c'\)"),
    ("a,b,x,y\n1,2,3,4\n", ["a", "b"], r"has columns 'x', 'y' that the model was not trained on"),
    ("a,b,x\n1,2,3\n", ["a", "b"], r"has column 'x' that the model was not trained on"),
    ("c1,c2,c3,c4,c5,c6,c7\n" + ",".join("1" * 7) + "\n", ["a", "b"],
     r"its columns are 'c1', 'c2', 'c3', 'c4', 'c5', \.\.\.\)"),
    ("c1,c2,c3,c4,c5\n1,2,3,4,5\n", ["a", "b"], r"its columns are 'c1', 'c2', 'c3', 'c4', 'c5'\)"),
])
def test_new_data_whose_columns_differ(tmp_path, text, columns, match):
    with pytest.raises(DataError, match=match):
        datafiles.read(csv(tmp_path, text), "t", columns=columns)


def test_the_target_column_of_new_data_is_no_extra_column(tmp_path):
    X = datafiles.read(csv(tmp_path, "a,t,b\n1,x,2\n"), "t", columns=["a", "b"])[0]
    assert X.tolist() == [[1, 2]]


@pytest.mark.parametrize("text, match", [
    ("a,t\n1,0\n2,1,3\n", r"line 3 has 3 fields; the header \(line 1\) has 2 \(comma-separated\)"),
    ("\n1;0\n2;1;3\n", r"line 3 has 3 fields; line 2 has 2 \(semicolon-separated\)"),
    ("a,t\n1,2\nx,3\n", r"line 3, column 1 \('a'\) is 'x'; features must be finite numbers "
                        r"\(encode the column, drop it, or make it the target\)$"),
    ("a,t\n1,2\ninf,3\n", r"line 3, column 1 \('a'\) is 'inf'"),
    ("a,t\n1,2\n,3\n", r"line 3, column 1 \('a'\) is empty \(a missing value\)"),
    ("a,t\n1,2\n2,\n", r"line 3, column 2 \('t'\), the target, is empty"),
    ("a,t\n1,2\n2,inf\n3,4\n", r"line 3, column 2 \('t'\), the target, is 'inf'; targets must be "
                               r"finite numbers"),
    ("a,t\n1,nan\n2,3\n", r"line 2, column 2 \('t'\), the target, is 'nan'"),
    ("\n\n1,2\n2,3\n", None),
])
def test_csv_cells_refused(tmp_path, text, match):
    path = csv(tmp_path, text)
    if match is None:
        X, names, y, target, locate = datafiles.read(path, None)
        assert names == ["column 1"] and target == "column 2" and list(y) == ["2", "3"]
        assert locate(1, None) == "line 4, column 2"
        return
    with pytest.raises(DataError, match=match):
        datafiles.read(path, None)


def test_a_target_of_words_and_numbers_is_labels(tmp_path):
    y = datafiles.read(csv(tmp_path, "a,t\n1,nan\n2,x\n"), None)[2]
    assert list(y) == ["nan", "x"]  # a column of words with "nan" in it: labels


def test_a_csv_of_one_column(tmp_path):
    with pytest.raises(DataError, match="has 1 column: .* the fields of line 1; it needs"):
        datafiles.read(csv(tmp_path, "t\n1\n2\n"), None)
    with pytest.raises(DataError, match="the fields of line 2;"):
        datafiles.read(csv(tmp_path, "\n1\n2\n"), None)


def test_header_and_separator_are_for_csv_files_only(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.zeros((2, 2)), y=np.arange(2))
    for kwargs in ({"header": True}, {"separator": ","}, {"header": False}):
        with pytest.raises(DataError, match=r"--header and separator apply to .csv files only"):
            datafiles.read(str(tmp_path / "a.npz"), None, option_names={"header": "--header"},
                           **kwargs)


# ---- npz -----------------------------------------------------------------------------------------

def npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    with open(path, "wb") as f:  # a file object: savez adds no ".npz" to the name
        np.savez(f, **arrays)
    return str(path)


def test_read_an_npz(tmp_path):
    X = np.arange(6, dtype=np.int32).reshape(3, 2)
    path = npz(tmp_path, "D.NPZ", X=X, y=np.array([[1.0], [2.5], [3.0]]))
    X2, names, y, target, locate = datafiles.read(path, None)
    assert X2.dtype == np.float64 and X2.tolist() == X.tolist()
    assert names == ["x0", "x1"] and target == "y"
    assert list(y) == [1, 2.5, 3] and type(y[0]) is int and type(y[1]) is float
    assert locate(2, 1) == "X[2, 1]" and locate(2, None) == "y[2]"


def test_read_an_npz_of_other_names(tmp_path):
    path = npz(tmp_path, inputs=np.ones(3), labels=np.array(["a", "b", "a"]))
    X, names, y, target, locate = datafiles.read(path, "labels")
    assert X.shape == (3, 1) and names == ["x0"] and target == "labels"
    assert list(y) == ["a", "b", "a"] and all(type(v) is str for v in y)
    assert locate(1, 0) == "inputs[1, 0]" and locate(1, None) == "labels[1]"
    # the target may be named X: the features are the other array
    path = npz(tmp_path, "x.npz", X=np.array([0, 1, 1]), F=np.ones((3, 2)))
    X, names, y, target, _ = datafiles.read(path, "X")
    assert X.shape == (3, 2) and list(y) == [0, 1, 1] and target == "X"


def test_read_an_npz_of_booleans(tmp_path):
    y = datafiles.read(npz(tmp_path, X=np.ones((2, 1)), y=np.array([True, False])), None)[2]
    assert list(y) == [1, 0] and type(y[0]) is int


def test_read_new_npz_data_for_a_model(tmp_path):
    path = npz(tmp_path, X=np.ones((4, 3)), t=np.arange(4))
    X, names, y, target, locate = datafiles.read(path, "t", columns=["a", "b", "c"])
    assert X.shape == (4, 3) and names == ["a", "b", "c"] and y is None and target == "t"
    assert locate(3, 2) == "X[3, 2]"
    with pytest.raises(DataError, match=r"the features have 3 columns; the model takes 2 \(the "
                                        r"columns of its training data\)"):
        datafiles.read(path, "t", columns=["a", "b"])


@pytest.mark.parametrize("arrays, target, match", [
    ({"X": np.ones((2, 2))}, None, r"no array named 'y' \(target\); it holds: X"),
    ({"X": np.ones((2, 2)), "y": np.array([0.5, np.nan])}, None,
     r"target 'y' is nan at y\[1\]; targets must be finite"),
    ({"X": np.ones((2, 2)), "y": np.array([np.inf, 1.0])}, None, r"is inf at y\[0\]"),
    ({"X": np.ones((2, 2)), "y": np.array([1j, 2j])}, None,
     r"the targets 'y' are complex128; they must be numbers or strings"),
    ({"X": np.ones((2, 2)), "y": np.zeros((2, 2))}, None,
     r"the targets 'y' must be one value per example, \(m,\); got shape \(2, 2\)"),
    ({"X": np.ones((2, 2)), "y": np.zeros(3)}, None,
     r"the features have 2 rows \(examples\) but the targets 'y' have 3"),
    ({"X": np.array([["a", "b"]]), "y": np.zeros(1)}, None,
     r"the features 'X' are <U1; features must be numbers"),
    ({"X": np.ones((1, 2, 1)), "y": np.zeros(1)}, None,
     r"the features 'X' must be \(m, n\), one row per example; got shape \(1, 2, 1\)"),
    ({"X": np.array([[0.0, 1.0], [2.0, -np.inf]]), "y": np.zeros(2)}, None,
     r"the features 'X' hold -inf at X\[1, 1\] \(row 1, column 1, from 0\)"),
    ({"y": np.zeros(2)}, None, r"cannot tell which array holds the features: name it 'X' \(it "
                               r"holds: y\)"),
    ({}, "t", r"no array named 't' \(target\); it holds: nothing"),
])
def test_npz_refused(tmp_path, arrays, target, match):
    with pytest.raises(DataError, match=match):
        datafiles.read(npz(tmp_path, **arrays), target)


def test_an_npy_array_named_npz(tmp_path):
    path = tmp_path / "a.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(DataError, match="a single .npy array, not an .npz of named arrays"):
        datafiles.read(str(path), None)
    path.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=r"not a readable .npz file \("):
        datafiles.read(str(path), None)


@pytest.mark.parametrize("value, plain", [
    (np.float64(2.0), 2), (np.float32(-3.0), -3), (2.5, 2.5), (np.int64(7), 7), (True, 1),
    (np.bool_(False), 0), (float(2 ** 53), float(2 ** 53)), (-float(2 ** 53), -float(2 ** 53)),
    (float(2 ** 53 - 1), 2 ** 53 - 1), (-float(2 ** 53 - 1), -(2 ** 53 - 1)), ("a", "a")])
def test_plain(value, plain):
    v = datafiles.plain(value)
    assert v == plain and type(v) is type(plain)
