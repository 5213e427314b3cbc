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
    One example per line, the fields separated by commas, semicolons, tabs or spaces (sniffed, or
    ``separator=``), under an optional header row of column names (detected, or ``header=``;
    without one the columns are ``column 1``, ``column 2``, ...: :mod:`gpubp.table`). ``target``
    names the target column (default: the last one); every other column is a numeric feature.
``path.npz``
    ``target`` names the array of targets (default ``y``); the features are the array ``X``, or
    the one other array.

The task of a file's target is read from its values: strings, or integers with at most
:data:`MAX_CLASSES` distinct values, are class labels (two: binary, more: multiclass); other
numbers are a regression target. ``task=`` overrides it.

Every problem with the data is a :class:`~gpubp.errors.DataError` whose one-line message names
the file, its own line and column (1-based, as an editor shows them), and what was expected: a
column whose spread overflows float64 too, at load, before any training. Messages name the
functions' parameters; ``option_names=`` gives a caller's own names for them (the command line's
flags).
"""

import dataclasses
import difflib
import hashlib
import json
import math
import os

import numpy as np

from . import bundled, datafiles, table
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
         task=None, *, header=None, separator=None, option_names=None):
    """The :class:`Dataset` named by ``source`` (see the module docstring).

    ``samples``, ``features`` and ``classes`` apply to the synthetic sets only; ``seed`` makes
    them; ``target`` applies to files only; ``task`` overrides the task read from a file's target.
    ``header`` (True, False, or None: tell from the data) and ``separator`` (``","``, ``";"``,
    ``"\\t"``, ``" "`` for whitespace, or None: tell from the data) apply to .csv files
    (:mod:`gpubp.table`). Messages name these parameters; ``option_names`` maps them to the
    names a caller's user knows (the command line passes its flags: :func:`datafiles.spell`).
    """
    def say(*a):
        return datafiles.spell(option_names, *a)

    if task is not None and task not in TASKS:
        raise DataError(f"unknown task {task!r}; valid tasks are: {', '.join(TASKS)}")
    source = os.fspath(source)
    synthetic_opts = {"samples": samples, "features": features, "classes": classes}
    if source not in SYNTHETIC:
        given = [say(k) for k, v in synthetic_opts.items() if v is not None]
        if given:
            raise DataError(f"{', '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to "
                            f"the synthetic data sets ({', '.join(SYNTHETIC)}), not to {source}")
    if source in SOURCES:
        for k, v, files in (("target", target, "a .csv file or an .npz file"),
                            ("header", header, "a .csv file"),
                            ("separator", separator, "a .csv file")):
            if v is not None:
                raise DataError(f"{say(k)} applies to {files}; {source} is not a file")
        ds = _synthetic(source, samples, features, classes, seed, say) if source in SYNTHETIC \
            else _builtin(source)
        if task is not None and task != ds.task:
            raise DataError(f"{source} is a {ds.task} data set; it cannot be used for {task}")
        return ds
    ext = os.path.splitext(source)[1].lower()
    if ext not in (".csv", ".npz"):
        # by its last part: the command line makes a file name absolute before it gets here
        close = difflib.get_close_matches(os.path.basename(source), SOURCES, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise DataError(f"unknown data {source!r}: {hint}give a .csv or .npz file, or one of "
                        f"{', '.join(SOURCES)}")
    if not os.path.exists(source):
        raise DataError(f"{source}: no such file")
    if os.path.isdir(source):
        raise DataError(f"{source}: is a folder, not a data file")
    X, names, y, target, locate = datafiles.read(source, target, header=header,
                                                 separator=separator, option_names=option_names)
    ds = _labelled(X, y, names, source, target, task)
    _check_spread(ds, locate)
    return ds


def _check_spread(ds, locate):
    """Standardizing divides by each column's spread: a column whose mean or spread overflows
    float64 (values near 1e154 and up) would become zeros or NaN, silently."""
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(ds.X.mean(axis=0)) & np.isfinite(ds.X.std(axis=0))
    if not finite.all():
        j = int(np.flatnonzero(~finite)[0])
        i = int(np.argmax(np.abs(ds.X[:, j])))
        raise DataError(f"{ds.name}: {locate(i, j)} is {ds.X[i, j]:.6g}: the spread (standard "
                        f"deviation) of that column overflows float64, as it does beyond about "
                        f"1e150; rescale the column (other units) before training")
    if ds.task == "regression":
        with np.errstate(over="ignore", invalid="ignore"):
            ok = np.isfinite(ds.y.mean()) and np.isfinite(ds.y.std())
        if not ok:
            i = int(np.argmax(np.abs(ds.y)))
            raise DataError(f"{ds.name}: {locate(i, None)}, the target, is {ds.y[i]:.6g}: its "
                            f"spread (standard deviation) overflows float64, as it does beyond "
                            f"about 1e150; rescale it (other units) before training")


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


def _synthetic(name, samples, features, classes, seed, say):
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(f"the {name} data set is made by scikit-learn, which is not installed: "
                        f"pip install 'gpubp[cli]'") from None
    samples = 1000 if samples is None else samples
    features = 20 if features is None else features
    if not (isinstance(samples, int) and samples >= 2):
        raise DataError(f"{say('samples')} must be an integer >= 2; got {samples!r}")
    if not (isinstance(features, int) and features >= 1):
        raise DataError(f"{say('features')} must be a positive integer; got {features!r}")
    names = [f"x{i}" for i in range(features)]
    if name == "synthetic-regression":
        if classes is not None:
            raise DataError(f"{say('classes')} applies to synthetic-classification, not to "
                            f"synthetic-regression")
        X, y = datasets.make_regression(n_samples=samples, n_features=features,
                                        n_informative=min(features, 10), noise=10.0,
                                        random_state=seed)
        return Dataset(X, y.astype(np.float64), "regression", names, name=name)
    k = 2 if classes is None else classes
    if not (isinstance(k, int) and k >= 2):
        raise DataError(f"{say('classes')} must be an integer >= 2; got {k!r}")
    informative = max(1, math.ceil(math.log2(k)), min(features, max(2, features // 2)))
    if informative > features:
        raise DataError(f"{k} classes need at least {informative} features "
                        f"({say('features')}); "
                        f"got {features}")
    if samples < 2 * k:
        raise DataError(f"{k} classes need at least {2 * k} examples "
                        f"({say('samples')}); got {samples}")
    X, y = datasets.make_classification(n_samples=samples, n_features=features,
                                        n_informative=informative, n_redundant=0,
                                        n_repeated=0, n_classes=k, n_clusters_per_class=1,
                                        random_state=seed)
    y = y.astype(np.int64)
    return Dataset(X, y, "binary" if k == 2 else "multiclass", names, _classes(y), name=name)


def _plain_list(y):
    return [datafiles.plain(v) if not isinstance(v, str) else v for v in y]


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
    values = [v if not isinstance(v, str) or table.number(v) is None else table.number(v)
              for v in y]
    numeric = all(not isinstance(v, str) for v in values)
    if numeric:
        values = [datafiles.plain(v) for v in values]
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


def features(path, feature_names, target=None, *, header=None, separator=None,
             option_names=None):
    """The features of a .csv or .npz file for a trained model, ``(m, n)`` float64, in the order
    of ``feature_names``. A CSV's columns are matched by name (the target column, if present, is
    ignored; a CSV without a header row of exactly n columns is taken in the model's order); an
    .npz gives "X" (or its one array other than ``target``) with n columns. ``header``,
    ``separator`` and ``option_names``: as for :func:`load`."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".npz"):
        raise DataError(f"{path}: give a .csv or .npz file of features")
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    X = datafiles.read(path, target, columns=list(feature_names), header=header,
                       separator=separator, option_names=option_names)[0]
    if X.shape[0] == 0:
        raise DataError(f"{path}: has no examples (no rows after the header)")
    return X


# ---- split, standardize, encode -----------------------------------------------------------------

def split(ds, fraction=0.2, seed=0, *, option_names=None):
    """``(train, held_out)``: sorted row indices. Stratified for classification (each class keeps
    its share in both parts), seeded. ``fraction`` of the examples are held out (at least one of
    each class when ``fraction > 0``); ``fraction = 0`` holds none out. ``option_names``: as for
    :func:`load`."""
    if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
        raise DataError(f"{datafiles.spell(option_names, 'fraction')} must be in [0, 1); got "
                        f"{fraction!r}")
    none_out = datafiles.spell(option_names, "fraction", 0)
    rng = np.random.default_rng(seed)
    if ds.task == "regression":
        groups = [np.arange(ds.m)]
        if fraction > 0 and ds.m < 2:
            raise DataError(f"{ds.name}: has {ds.m} example; holding some out needs at least 2 "
                            f"(or {none_out})")
    else:
        index = {c: i for i, c in enumerate(ds.classes)}
        codes = np.array([index[datafiles.plain(v) if not isinstance(v, str) else v]
                          for v in ds.y])
        groups = [np.flatnonzero(codes == k) for k in range(len(ds.classes))]
        if fraction > 0:
            for c, g in zip(ds.classes, groups):
                if len(g) < 2:
                    raise DataError(f"{ds.name}: class {c!r} has {len(g)} example; a held-out "
                                    f"split needs at least 2 of each class (or {none_out})")
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
    def fit(cls, X, names=None):
        """The statistics of ``X`` (m, n); a feature whose mean or spread overflows float64 is a
        DataError naming it (``names``: the n feature names; :func:`load` checks this first, in
        the file's own lines and columns)."""
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = X.mean(axis=0), X.std(axis=0)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
        if bad.size:
            j = int(bad[0])
            name = repr(names[j]) if names is not None else f"{j + 1} (from 1)"
            raise DataError(f"feature {name}: its spread (standard deviation) overflows float64, "
                            f"as it does beyond about 1e150 (it reaches "
                            f"{np.abs(X[:, j]).max():.6g}); rescale it (other units)")
        return cls(mean, np.where(std > 0, std, 1.0))

    def __call__(self, X):
        return (X - self.mean) / self.std


def encode(y, classes, rows):
    """Targets as gpubp's ``Y`` ``(rows, m)``: one-hot columns when ``rows`` = number of classes,
    else (``rows == 1``, two classes) 1 for ``classes[1]`` and 0 for ``classes[0]``."""
    index = {c: i for i, c in enumerate(classes)}
    try:
        codes = np.array([index[datafiles.plain(v) if not isinstance(v, str) else v] for v in y])
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
