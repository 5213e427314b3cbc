"""scikit-learn's bundled data sets, read from the files it ships, without importing scikit-learn.

``import sklearn`` brings SciPy and most of scikit-learn's machinery: 0.7 s or more on a small
machine, for ``gpubp train``'s default data set that trains in a tenth of that. The four
classification sets that ``gpubp train`` offers are plain CSV files in scikit-learn's
``datasets/data`` folder, found here through ``importlib.util.find_spec("sklearn")`` (which locates
a package without running it) and read with NumPy. The arrays are the ones scikit-learn's
``load_digits``, ``load_iris``, ``load_breast_cancer`` and ``load_wine`` return, bit for bit
(``tests/test_datasets.py`` compares them); the feature names are scikit-learn's.

If the files are not where this scikit-learn keeps them (another layout in some future release),
:func:`read` falls back to scikit-learn's own loader.
"""

import gzip
import importlib.util
import os

import numpy as np

from .errors import DataError

NAMES = ("digits", "breast_cancer", "iris", "wine")

_FILES = {"digits": "digits.csv.gz", "breast_cancer": "breast_cancer.csv", "iris": "iris.csv",
          "wine": "wine_data.csv"}

_CANCER = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
           "concave points", "symmetry", "fractal dimension")

FEATURE_NAMES = {
    "digits": [f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
    "breast_cancer": ([f"mean {f}" for f in _CANCER] + [f"{f} error" for f in _CANCER]
                      + [f"worst {f}" for f in _CANCER]),
    "iris": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    "wine": ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
             "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
             "od280/od315_of_diluted_wines", "proline"],
}


def data_folder():
    """scikit-learn's ``datasets/data`` folder, or None when scikit-learn is not installed."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")


def read(name):
    """``(X (m, n) float64, codes (m,) int64, class names, feature names)`` of a bundled set."""
    folder = data_folder()
    if folder is None:
        raise DataError(f"the {name} data set comes with scikit-learn, which is not installed: "
                        f"pip install 'gpubp[cli]'")
    path = os.path.join(folder, _FILES[name])
    try:
        X, codes, classes = _read_file(name, path)
    except (OSError, ValueError, IndexError):
        X, codes, classes = _read_with_sklearn(name)
    return X, codes, classes, list(FEATURE_NAMES[name])


def _read_file(name, path):
    if name == "digits":  # no header; the last column is the digit
        with gzip.open(path, "rt") as f:
            data = np.loadtxt(f, delimiter=",")
        return data[:, :-1], data[:, -1].astype(np.int64), list(range(10))
    # first line: m, n, then the class names; each row: n features, then the class's index
    with open(path, encoding="utf-8") as f:
        head = f.readline().strip().split(",")
        data = np.loadtxt(f, delimiter=",", ndmin=2)
    m, n = int(head[0]), int(head[1])
    if data.shape != (m, n + 1):
        raise ValueError(f"{path}: {data.shape}, expected {(m, n + 1)}")
    return data[:, :n], data[:, n].astype(np.int64), head[2:]


def _read_with_sklearn(name):
    from sklearn import datasets  # slow (SciPy and more); only if the files moved
    bunch = getattr(datasets, f"load_{name}")()
    classes = [int(t) for t in bunch.target_names] if name == "digits" else \
        [str(t) for t in bunch.target_names]
    return np.asarray(bunch.data, dtype=np.float64), bunch.target.astype(np.int64), classes
