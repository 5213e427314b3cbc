"""Data sets for the command line: load, split, standardize, encode.

Everything here is **row-major**, as scikit-learn and a CSV file have it: the features ``X`` are
``(m, n)``, one row per example. The command line turns them into gpubp's column view
(``A[0] = X.T`` is ``(n[0], m)``) only when it hands them to a network.

A :class:`Dataset` is the features (float64), the targets as they were in the data (class labels:
strings or integers; or numbers for regression) and the task: ``"binary"``, ``"multiclass"`` or
``"regression"``. Sources (:func:`load`):

``digits``, ``breast_cancer``, ``iris``, ``wine``
    scikit-learn's bundled data sets (no download; read from its files by :mod:`gpubp.bundled`
    without importing scikit-learn). ``breast_cancer`` is the binary case of the notes
    (sigmoid + bce).
``synthetic-classification``, ``synthetic-regression``
    ``make_classification`` / ``make_regression`` with ``samples`` rows and ``features`` columns,
    seeded.
``path.csv``
    A header row of column names, then one example per row. ``target`` names the target column
    (default: the last one); every other column is a numeric feature.
``path.npz``
    ``target`` names the array of targets (default ``y``); the features are the array ``X``, or
    the one other array.

The task of a file's target is read from its values: strings, or integers with at most
:data:`MAX_CLASSES` distinct values, are class labels (two: binary, more: multiclass); other
numbers are a regression target. ``task=`` overrides it.

Every problem with the data is a :class:`~gpubp.errors.DataError` whose one-line message names
the file, the column or row, and what was expected.
"""

import csv
import dataclasses
import hashlib
import json
import math
import os

import numpy as np

from . import bundled
from .errors import DataError

BUILTIN = bundled.NAMES
SYNTHETIC = ("synthetic-classification", "synthetic-regression")
SOURCES = BUILTIN + SYNTHETIC
TASKS = ("binary", "multiclass", "regression")

#: integer targets with more distinct values than this are taken for a regression target
MAX_CLASSES = 20


@dataclasses.dataclass
class Dataset:
    """``X`` ``(m, n)`` float64 features; ``y`` ``(m,)`` targets as in the data (labels or values);
    ``task``; ``feature_names`` (n names); ``classes``: the sorted class labels (None for
    regression); ``name``: where it came from; ``target``: the target's name."""

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list
    classes: list = None
    name: str = ""
    target: str = "target"

    @property
    def m(self):
        return self.X.shape[0]

    @property
    def n(self):
        return self.X.shape[1]

    def fingerprint(self):
        """A SHA-256 of the features and targets: a resumed run checks that its data are the
        same."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        h.update(json.dumps(_plain_list(self.y)).encode())
        return h.hexdigest()

    def describe(self):
        what = (f"{len(self.classes)} classes" if self.task == "multiclass" else
                "2 classes" if self.task == "binary" else "regression")
        return f"{self.name} ({self.m} examples, {self.n} features, {what})"


# ---- loading ------------------------------------------------------------------------------------

def load(source="digits", target=None, samples=None, features=None, classes=None, seed=0,
         task=None):
    """The :class:`Dataset` named by ``source`` (see the module docstring).

    ``samples``, ``features`` and ``classes`` apply to the synthetic sets only; ``seed`` makes
    them; ``target`` applies to files only; ``task`` overrides the task read from a file's target.
    """
    if task is not None and task not in TASKS:
        raise DataError(f"unknown task {task!r}; valid tasks are: {', '.join(TASKS)}")
    source = os.fspath(source)
    synthetic_opts = {"--samples": samples, "--features": features, "--classes": classes}
    if source not in SYNTHETIC:
        given = [k for k, v in synthetic_opts.items() if v is not None]
        if given:
            raise DataError(f"{', '.join(given)} only apply to the synthetic data sets "
                            f"({', '.join(SYNTHETIC)}), not to {source}")
    if source in SOURCES:
        if target is not None:
            raise DataError(f"--target names a column of a .csv or an array of a .npz file; "
                            f"{source} has its own targets")
        ds = _synthetic(source, samples, features, classes, seed) if source in SYNTHETIC \
            else _builtin(source)
        if task is not None and task != ds.task:
            raise DataError(f"{source} is a {ds.task} data set; it cannot be used for {task}")
        return ds
    ext = os.path.splitext(source)[1].lower()
    if ext not in (".csv", ".npz"):
        raise DataError(f"unknown data {source!r}: give a .csv or .npz file, or one of "
                        f"{', '.join(SOURCES)}")
    if not os.path.exists(source):
        raise DataError(f"{source}: no such file")
    if os.path.isdir(source):
        raise DataError(f"{source}: is a folder, not a data file")
    X, names, y, target = _read_csv(source, target) if ext == ".csv" else _read_npz(source, target)
    return _labelled(X, y, names, source, target, task)


def _builtin(name):
    X, codes, labels, names = bundled.read(name)
    if name == "digits":
        y = codes  # its class names are the digits themselves
    else:
        y = np.array([labels[t] for t in codes], dtype=object)
    ds = Dataset(X, y, "", names, name=name)
    ds.classes = _classes(y)
    ds.task = "binary" if len(ds.classes) == 2 else "multiclass"
    return ds


def _synthetic(name, samples, features, classes, seed):
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(f"the {name} data set is made by scikit-learn, which is not installed: "
                        f"pip install 'gpubp[cli]'") from None
    samples = 1000 if samples is None else samples
    features = 20 if features is None else features
    if not (isinstance(samples, int) and samples >= 2):
        raise DataError(f"--samples must be an integer >= 2; got {samples!r}")
    if not (isinstance(features, int) and features >= 1):
        raise DataError(f"--features must be a positive integer; got {features!r}")
    names = [f"x{i}" for i in range(features)]
    if name == "synthetic-regression":
        if classes is not None:
            raise DataError("--classes applies to synthetic-classification, not to "
                            "synthetic-regression")
        X, y = datasets.make_regression(n_samples=samples, n_features=features,
                                        n_informative=min(features, 10), noise=10.0,
                                        random_state=seed)
        return Dataset(X, y.astype(np.float64), "regression", names, name=name)
    k = 2 if classes is None else classes
    if not (isinstance(k, int) and k >= 2):
        raise DataError(f"--classes must be an integer >= 2; got {k!r}")
    informative = max(1, math.ceil(math.log2(k)), min(features, max(2, features // 2)))
    if informative > features:
        raise DataError(f"{k} classes need at least {informative} features (--features); "
                        f"got {features}")
    if samples < 2 * k:
        raise DataError(f"{k} classes need at least {2 * k} examples (--samples); got {samples}")
    X, y = datasets.make_classification(n_samples=samples, n_features=features,
                                        n_informative=informative, n_redundant=0,
                                        n_repeated=0, n_classes=k, n_clusters_per_class=1,
                                        random_state=seed)
    y = y.astype(np.int64)
    return Dataset(X, y, "binary" if k == 2 else "multiclass", names, _classes(y), name=name)


def _read_csv(path, target, columns=None):
    """``(X, feature names, y, target)`` of a CSV file. With ``columns`` (the feature names of a
    trained model), those columns are the features, in that order, the column ``target`` is
    ignored if present, any other column is an error, and ``y`` is None."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text CSV file ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise DataError(f"{path}: not a readable CSV file ({e})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines carry nothing
    if not rows:
        raise DataError(f"{path}: the file is empty; a CSV needs a header row of column names")
    header = [h.strip() for h in rows[0]]
    if all(_number(h) is not None for h in header):
        raise DataError(f"{path}: the first row ({', '.join(header[:4])}"
                        f"{', ...' if len(header) > 4 else ''}) is numbers; the first row must "
                        f"name the columns")
    seen = set()
    for h in header:
        if not h:
            raise DataError(f"{path}: a column has no name in the header row")
        if h in seen:
            raise DataError(f"{path}: two columns are named {h!r}")
        seen.add(h)
    if columns is None:
        if len(header) < 2:
            raise DataError(f"{path}: has 1 column; it needs at least one feature and the target")
        if target is None:
            target = header[-1]
        if target not in header:
            raise DataError(f"{path}: no column named {target!r} (--target); the columns are: "
                            f"{', '.join(header)}")
        names = [h for h in header if h != target]
    else:
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(f"{path}: lacks the column{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(map(repr, missing[:5]))}"
                            f"{', ...' if len(missing) > 5 else ''} that the model was trained on")
        extra = [h for h in header if h not in columns and h != target]
        if extra:
            raise DataError(f"{path}: has column{'s' if len(extra) > 1 else ''} "
                            f"{', '.join(map(repr, extra[:5]))} that the model was not trained on")
        names = list(columns)
    body = rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise DataError(f"{path}: row {i + 2} has {len(r)} fields; the header has "
                            f"{len(header)}")
    X = np.empty((len(body), len(names)))
    for j, name in enumerate(names):
        col = header.index(name)
        for i, r in enumerate(body):
            v = _number(r[col])
            if v is None:
                cell = r[col].strip()
                what = "is empty (a missing value)" if not cell else f"is {cell!r}"
                raise DataError(f"{path}: column {name!r} is not numeric: row {i + 2} {what}; "
                                f"features must be numbers (encode it, drop it, or name it with "
                                f"--target)")
            X[i, j] = v
    if columns is not None:
        return X, names, None, target
    t = header.index(target)
    y = []
    for i, r in enumerate(body):
        cell = r[t].strip()
        if not cell:
            raise DataError(f"{path}: target column {target!r} is empty in row {i + 2}")
        y.append(cell)
    _check_finite_target(path, target, y)
    return X, names, np.array(y, dtype=object), target


def _check_finite_target(path, target, cells):
    """A column of numbers with a NaN or an inf in it is a missing value, not a column of class
    labels (which it would become if that cell were read as the string it is)."""
    values = []
    for c in cells:
        try:
            values.append(float(c))
        except ValueError:
            return  # labels written as words: not numbers
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        raise DataError(f"{path}: target column {target!r} is {cells[bad]!r} in row {bad + 2}; "
                        f"targets must be finite numbers (drop or fill that row)")


def _read_npz(path, target):
    data = _npz_arrays(path)
    target = "y" if target is None else target
    if target not in data:
        raise DataError(f"{path}: no array named {target!r} (--target); it holds: "
                        f"{', '.join(data) or 'nothing'}")
    X = _features_of(data, path, exclude=target)
    y = data[target]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: the targets {target!r} must be one value per example, (m,); "
                        f"got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise DataError(f"{path}: the features have {X.shape[0]} rows (examples) but the targets "
                        f"{target!r} have {y.shape[0]}")
    if y.dtype.kind in "US":
        y = np.array([str(v) for v in y], dtype=object)
    elif y.dtype.kind in "biuf":
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            raise DataError(f"{path}: target {target!r} is {y[i]} in example {i}; targets must "
                            f"be finite")
        y = np.array([_plain(v) for v in y], dtype=object)
    else:
        raise DataError(f"{path}: the targets {target!r} are {y.dtype}; they must be numbers or "
                        f"strings")
    return X, [f"x{i}" for i in range(X.shape[1])], y, target


def _npz_arrays(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise DataError(f"{path}: a single .npy array, not an .npz of named arrays")
            out = {}
            for k in f.files:
                try:
                    out[k] = f[k]
                except ValueError:
                    raise DataError(f"{path}: array {k!r} holds Python objects (pickle), which "
                                    f"gpubp will not load") from None
            return out
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({' '.join(str(e).split())})") from None
    except Exception as e:  # zipfile.BadZipFile and friends
        raise DataError(f"{path}: not a readable .npz file ({type(e).__name__}: "
                        f"{' '.join(str(e).split())})") from None


def _features_of(data, path, exclude=None):
    """The feature array of an .npz: "X", or its one array other than ``exclude``, as (m, n)."""
    if "X" in data and exclude != "X":
        key = "X"
    else:
        others = [k for k in data if k != exclude]
        if len(others) != 1:
            raise DataError(f"{path}: cannot tell which array holds the features: name it 'X' "
                            f"(it holds: {', '.join(data) or 'nothing'})")
        key = others[0]
    X = data[key]
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"{path}: the features {key!r} must be (m, n), one row per example; got "
                        f"shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: the features {key!r} are {X.dtype}; features must be numbers")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise DataError(f"{path}: the features {key!r} hold {X[i, j]} at row {i}, column {j}; "
                        f"features must be finite")
    return X


def _number(s):
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _plain(v):
    """A Python int for an integral number, else a float (JSON-ready, prints as in the data)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def _plain_list(y):
    return [_plain(v) if not isinstance(v, str) else v for v in y]


def _classes(y):
    """The sorted distinct labels: integers before strings, each sorted."""
    values = set(_plain_list(y))
    return sorted(v for v in values if not isinstance(v, str)) + \
        sorted(v for v in values if isinstance(v, str))


def _labelled(X, y, names, source, target, task):
    """A Dataset from file data: reads the task from the targets (strings from a CSV included)."""
    m = X.shape[0]
    if m == 0:
        raise DataError(f"{source}: has no examples (no rows after the header)")
    if X.shape[1] == 0:
        raise DataError(f"{source}: has no feature columns besides the target {target!r}")
    values = [v if not isinstance(v, str) else (_number(v) if _number(v) is not None else v)
              for v in y]
    numeric = all(not isinstance(v, str) for v in values)
    if numeric:
        values = [_plain(v) for v in values]
        integral = all(isinstance(v, int) for v in values)
        distinct = len(set(values))
        guessed = ("regression" if not integral or distinct > MAX_CLASSES else
                   "binary" if distinct == 2 else "multiclass")
        if distinct == 1 and integral and task is None:
            guessed = "binary"  # refused below, with the message about classes
    else:
        guessed = "binary" if len(set(values)) == 2 else "multiclass"
    task = task or guessed
    if task == "regression":
        if not numeric:
            first = next(v for v in values if isinstance(v, str))
            raise DataError(f"{source}: target {target!r} holds {first!r}; a regression target "
                            f"must be numbers")
        return Dataset(X, np.array(values, dtype=np.float64), task, names, None, source, target)
    # class labels: as they were written ("3" and "3.0" in a CSV are the same number, 3)
    labels = np.array(values if numeric else [str(v) for v in y], dtype=object)
    classes = _classes(labels)
    if len(classes) < 2:
        raise DataError(f"{source}: target {target!r} has only one class ({classes[0]!r}); "
                        f"classification needs at least two")
    if task == "binary" and len(classes) != 2:
        raise DataError(f"{source}: target {target!r} has {len(classes)} classes; binary needs 2")
    # two classes are binary (one sigmoid output) unless multiclass was asked for (a softmax of 2)
    return Dataset(X, labels, "multiclass" if task == "multiclass" or len(classes) > 2 else "binary",
                   names, classes, source, target)


def features(path, feature_names, target=None):
    """The features of a .csv or .npz file for a trained model, ``(m, n)`` float64, in the order
    of ``feature_names``. A CSV's columns are matched by name (the target column, if present, is
    ignored); an .npz gives "X" (or its one array other than ``target``) with n columns."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".npz"):
        raise DataError(f"{path}: give a .csv or .npz file of features")
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    n = len(feature_names)
    if ext == ".npz":
        X = _features_of(_npz_arrays(path), path, exclude=target)
        if X.shape[1] != n:
            raise DataError(f"{path}: the features have {X.shape[1]} columns; the model takes "
                            f"{n} (the columns of its training data)")
        return X
    X = _read_csv(path, target, columns=list(feature_names))[0]
    if X.shape[0] == 0:
        raise DataError(f"{path}: has no examples (no rows after the header)")
    return X


# ---- split, standardize, encode -----------------------------------------------------------------

def split(ds, fraction=0.2, seed=0):
    """``(train, held_out)``: sorted row indices. Stratified for classification (each class keeps
    its share in both parts), seeded. ``fraction`` of the examples are held out (at least one of
    each class when ``fraction > 0``); ``fraction = 0`` holds none out."""
    if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
        raise DataError(f"--validation-fraction must be in [0, 1); got {fraction!r}")
    rng = np.random.default_rng(seed)
    if ds.task == "regression":
        groups = [np.arange(ds.m)]
        if fraction > 0 and ds.m < 2:
            raise DataError(f"{ds.name}: has {ds.m} example; holding some out needs at least 2 "
                            f"(or --validation-fraction 0)")
    else:
        index = {c: i for i, c in enumerate(ds.classes)}
        codes = np.array([index[_plain(v) if not isinstance(v, str) else v] for v in ds.y])
        groups = [np.flatnonzero(codes == k) for k in range(len(ds.classes))]
        if fraction > 0:
            for c, g in zip(ds.classes, groups):
                if len(g) < 2:
                    raise DataError(f"{ds.name}: class {c!r} has {len(g)} example; a held-out "
                                    f"split needs at least 2 of each class (or "
                                    f"--validation-fraction 0)")
    train, held = [], []
    for g in groups:
        g = rng.permutation(g)
        k = 0 if fraction == 0 else min(len(g) - 1, max(1, round(fraction * len(g))))
        held.append(g[:k])
        train.append(g[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


class Standardizer:
    """``(X - mean) / std`` per feature, with the training rows' statistics (a constant feature
    gets std 1: it becomes 0, and stays 0 for new data that has that constant)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, X):
        std = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, X):
        return (X - self.mean) / self.std


def encode(y, classes, rows):
    """Targets as gpubp's ``Y`` ``(rows, m)``: one-hot columns when ``rows`` = number of classes,
    else (``rows == 1``, two classes) 1 for ``classes[1]`` and 0 for ``classes[0]``."""
    index = {c: i for i, c in enumerate(classes)}
    try:
        codes = np.array([index[_plain(v) if not isinstance(v, str) else v] for v in y])
    except KeyError as e:
        raise DataError(f"label {e.args[0]!r} is not one of the model's classes "
                        f"{classes}") from None
    if rows == 1:
        return codes[None, :].astype(np.float64)
    Y = np.zeros((rows, len(codes)))
    Y[codes, np.arange(len(codes))] = 1.0
    return Y


def decode(A, classes):
    """Class labels from an output ``A`` ``(rows, m)``: ``argmax`` over the rows, or for one row
    ``classes[1]`` where ``A > 0.5``."""
    codes = (A[0] > 0.5).astype(np.int64) if A.shape[0] == 1 else A.argmax(axis=0)
    return [classes[c] for c in codes]
