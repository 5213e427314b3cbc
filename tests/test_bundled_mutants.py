"""gpubp/bundled.py on files of its own (the gaps a mutation run found): where scikit-learn's data
folder is, how its two file layouts are read, and when the reader falls back to scikit-learn."""

import gzip
import importlib.util
import types

import numpy as np
import pytest

from gpubp import bundled
from gpubp.errors import DataError


@pytest.mark.parametrize("spec, folder", [
    (None, None),
    (types.SimpleNamespace(submodule_search_locations=None), None),
    (types.SimpleNamespace(submodule_search_locations=[]), None),
    (types.SimpleNamespace(submodule_search_locations=["/s/sklearn", "/t/sklearn"]),
     "/s/sklearn/datasets/data"),
])
def test_data_folder(monkeypatch, spec, folder):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    assert bundled.data_folder() == folder


@pytest.mark.parametrize("error", [ImportError, ValueError])
def test_data_folder_when_find_spec_fails(monkeypatch, error):
    def find_spec(name):
        raise error(name)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert bundled.data_folder() is None


def test_data_folder_of_this_scikit_learn():
    pytest.importorskip("sklearn")
    assert bundled.data_folder().replace("\\", "/").endswith("sklearn/datasets/data")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "data_folder", lambda: str(tmp_path))
    sklearn = []
    monkeypatch.setattr(bundled, "_read_with_sklearn", lambda name: sklearn.append(name) or (
        np.zeros((1, 1)), np.zeros(1, dtype=np.int64), ["from sklearn"]))
    return types.SimpleNamespace(path=tmp_path, sklearn=sklearn)


def test_a_file_with_its_shape_and_class_names_first(folder):
    (folder.path / "iris.csv").write_text("3,2,setosa,versicolor\n1.5,2,0\n3,4,1\n5,6,1\n")
    X, codes, classes, names = bundled.read("iris")
    assert X.dtype == np.float64 and X.tolist() == [[1.5, 2], [3, 4], [5, 6]]
    assert codes.dtype == np.int64 and codes.tolist() == [0, 1, 1]
    assert classes == ["setosa", "versicolor"] and folder.sklearn == []
    assert names == bundled.FEATURE_NAMES["iris"]
    names.append("mine")  # a copy: the module's names stay
    assert len(bundled.FEATURE_NAMES["iris"]) == 4


def test_one_row(folder):
    (folder.path / "wine_data.csv").write_text("1,2,a,b\n7,8,1\n")
    X, codes, classes, _ = bundled.read("wine")
    assert X.tolist() == [[7, 8]] and codes.tolist() == [1] and classes == ["a", "b"]


@pytest.mark.parametrize("text", [
    "4,2,a,b\n1,2,0\n3,4,1\n5,6,1\n",   # one row fewer than it says
    "3,3,a,b\n1,2,0\n3,4,1\n5,6,1\n",   # one column fewer
    "3,2,a,b\n1,2,0\n3,x,1\n5,6,1\n",   # not a number
    "x,2,a,b\n1,2,0\n",                 # no shape
])
def test_a_file_not_as_expected_falls_back_to_scikit_learn(folder, text):
    (folder.path / "breast_cancer.csv").write_text(text)
    assert bundled.read("breast_cancer")[2] == ["from sklearn"]
    assert folder.sklearn == ["breast_cancer"]


def test_a_missing_file_falls_back_to_scikit_learn(folder):
    assert bundled.read("wine")[2] == ["from sklearn"] and folder.sklearn == ["wine"]


def test_digits_a_gzipped_file_whose_last_column_is_the_digit(folder):
    with gzip.open(folder.path / "digits.csv.gz", "wt") as f:
        f.write("0,1,2,9\n3,4,5,0\n")
    X, codes, classes, names = bundled.read("digits")
    assert X.tolist() == [[0, 1, 2], [3, 4, 5]] and codes.tolist() == [9, 0]
    assert codes.dtype == np.int64 and classes == list(range(10))
    assert names[0] == "pixel_0_0" and names[9] == "pixel_1_1" and len(names) == 64


def test_without_scikit_learn(monkeypatch):
    monkeypatch.setattr(bundled, "data_folder", lambda: None)
    with pytest.raises(DataError, match=r"the wine data set comes with scikit-learn, which is not "
                                        r"installed: pip install 'gpubp\[cli\]'"):
        bundled.read("wine")


@pytest.mark.parametrize("name", bundled.NAMES)
def test_scikit_learns_own_loader_gives_what_the_files_give(name):
    pytest.importorskip("sklearn")
    X, codes, classes, _ = bundled.read(name)
    X2, codes2, classes2 = bundled._read_with_sklearn(name)
    assert X2.dtype == np.float64 and codes2.dtype == np.int64
    assert np.array_equal(X, X2) and np.array_equal(codes, codes2) and classes == classes2
    assert all(type(c) is (int if name == "digits" else str) for c in classes2)
