"""Data files for the command line: a .csv or .npz file's features and targets, row-major (m, n).

:func:`read` gives ``(X, feature names, targets, target name, locate)``, where ``locate(i, j)``
names row ``i``, feature ``j`` as the file has it (``line 7, column 3 ('b')`` in a CSV,
``X[6, 2]`` in an .npz; ``j = None``: the target), so that any later check (a column whose spread overflows, say) can name
the file's own place. :func:`read` with ``columns`` reads the features of new data for a trained
model. Every problem is a :class:`~gpubp.errors.DataError` naming the file, its line and column.

Messages name the parameters of the Python functions (``target``, ``header``); a caller whose user
knows them by other names (the command line's ``--target``) passes ``option_names``, a dict from
parameter to that name, and :func:`spell` writes them.
"""

import math

import numpy as np

from . import table
from .errors import DataError

_UNSET = object()


def spell(option_names, param, value=_UNSET):
    """How a message names parameter ``param`` (set to ``value``): ``target`` / ``header=True``,
    or with ``option_names = {"header": "--header"}``: ``--header`` / ``--no-header``."""
    flag = (option_names or {}).get(param)
    if flag is None:
        return param if value is _UNSET else f"{param}={value!r}"
    if value is _UNSET or value is True:
        return flag
    if value is False:
        return "--no-" + flag.lstrip("-")
    return f"{flag} {value}"


def read(path, target, columns=None, header=None, separator=None, option_names=None):
    """``(X, names, y, target, locate)`` of the .csv or .npz file at ``path`` (see the module
    docstring). With ``columns`` (the feature names of a trained model), those are the features,
    in that order, and ``y`` is None."""
    if path.lower().endswith(".npz"):
        if header is not None or separator is not None:
            raise DataError(f"{path}: {spell(option_names, 'header')} and "
                            f"{spell(option_names, 'separator')} apply to .csv files only")
        return _read_npz(path, target, columns, option_names)
    t = table.read(path, header, separator)
    if columns is None:
        if len(t.names) < 2:
            raise DataError(f"{path}: has 1 column: no {table.separator_names()} separates "
                            f"the fields of line {t.header or t.lines[0]}; it needs at least one "
                            f"feature and the target")
        target = t.names[-1] if target is None else target
        if target not in t.names:
            raise DataError(f"{path}: no column named {target!r} "
                            f"({spell(option_names, 'target')}); {_columns(t, option_names)}")
        names = [h for h in t.names if h != target]
    else:
        names = _match(t, columns, target, option_names)
    for i, r in enumerate(t.rows):
        if len(r) != len(t.names):
            raise DataError(f"{path}: line {t.lines[i]} has {len(r)} fields; "
                            f"{_shape_of(t)} has {len(t.names)} "
                            f"({table.SEPARATORS[t.separator]}-separated)")
    X = np.empty((len(t.rows), len(names)))
    js = [t.names.index(n) for n in names]
    for k, j in enumerate(js):
        for i, r in enumerate(t.rows):
            v = table.number(r[j])
            if v is None:
                what = "empty (a missing value)" if not r[j] else repr(r[j])
                hint = "" if columns is not None else \
                    " (encode the column, drop it, or make it the target)"
                raise DataError(f"{path}: {t.where(i, j)} is {what}; features must be finite "
                                f"numbers{hint}")
            X[i, k] = v

    def locate(i, k):
        return t.where(i, js[k] if k is not None else t.names.index(target))

    if columns is not None:
        return X, names, None, target, locate
    j = t.names.index(target)
    y = []
    for i, r in enumerate(t.rows):
        if not r[j]:
            raise DataError(f"{path}: {t.where(i, j)}, the target, is empty; every example "
                            f"needs its target (drop or fill that line)")
        y.append(r[j])
    _check_finite_target(t, j, y)
    return X, names, np.array(y, dtype=object), target, locate


def _shape_of(t):
    return f"the header (line {t.header})" if t.header is not None else f"line {t.lines[0]}"


def _columns(t, option_names):
    if t.header is not None:
        return f"the columns are: {', '.join(t.names)}"
    return (f"the file has no header row (line {t.lines[0]} is numbers), so its columns are "
            f"column 1 to column {len(t.names)}; name one of those, or say "
            f"{spell(option_names, 'header', True)} if line {t.lines[0]} names the columns")


def _match(t, columns, target, option_names):
    """The feature columns of ``t`` for a model trained on ``columns``, matched by name; a file
    without a header row of exactly ``len(columns)`` columns is taken in the model's order."""
    n = len(columns)
    if t.header is None and len(t.names) == n:
        t.names = list(columns)
        return list(columns)
    missing = [c for c in columns if c not in t.names]
    if missing and t.header is None:
        raise DataError(f"{t.path}: has no header row and {len(t.names)} column"
                        f"{'s' if len(t.names) != 1 else ''}; the model takes {n} features, in "
                        f"this order: {_listed(columns)}: give exactly those {n} columns, or "
                        f"name them in a first row")
    if missing and len(missing) == n > 1:
        raise DataError(f"{t.path}: lacks the columns {_listed(columns)} that the model was "
                        f"trained on (all {n} of them; its columns are {_listed(t.names)})")
    if missing:
        raise DataError(f"{t.path}: lacks the column{'s' if len(missing) > 1 else ''} "
                        f"{_listed(missing)} that the model was trained on (it takes {n}: "
                        f"{_listed(columns)})")
    extra = [h for h in t.names if h not in columns and h != target]
    if extra:
        raise DataError(f"{t.path}: has column{'s' if len(extra) > 1 else ''} {_listed(extra)} "
                        f"that the model was not trained on")
    return list(columns)


def _listed(names, k=5):
    return ", ".join(map(repr, names[:k])) + (", ..." if len(names) > k else "")


def _check_finite_target(t, j, cells):
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
        raise DataError(f"{t.path}: {t.where(bad, j)}, the target, is {cells[bad]!r}; targets "
                        f"must be finite numbers (drop or fill that line)")


def _read_npz(path, target, columns, option_names):
    data = _npz_arrays(path)
    if columns is not None:
        X, key = _features_of(data, path, exclude=target)
        if X.shape[1] != len(columns):
            raise DataError(f"{path}: the features have {X.shape[1]} columns; the model takes "
                            f"{len(columns)} (the columns of its training data)")
        return X, list(columns), None, target, _npz_locate(key)
    target = "y" if target is None else target
    if target not in data:
        raise DataError(f"{path}: no array named {target!r} ({spell(option_names, 'target')}); "
                        f"it holds: {', '.join(data) or 'nothing'}")
    X, key = _features_of(data, path, exclude=target)
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
            raise DataError(f"{path}: target {target!r} is {y[i]} at {target}[{i}]; targets "
                            f"must be finite")
        y = np.array([plain(v) for v in y], dtype=object)
    else:
        raise DataError(f"{path}: the targets {target!r} are {y.dtype}; they must be numbers or "
                        f"strings")
    return X, [f"x{i}" for i in range(X.shape[1])], y, target, _npz_locate(key, target)


def _npz_locate(key, target=None):
    return lambda i, j: f"{key}[{i}, {j}]" if j is not None else f"{target}[{i}]"


def _npz_arrays(path):
    try:
        f = np.load(path, allow_pickle=False)  # an .npy: an array, read and closed already
        if not hasattr(f, "files"):
            raise DataError(f"{path}: a single .npy array, not an .npz of named arrays")
        with f:
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
    """``(X (m, n) float64, key)``: the features of an .npz: "X", or its one array other than
    ``exclude``."""
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
        raise DataError(f"{path}: the features {key!r} hold {X[i, j]} at {key}[{i}, {j}] (row "
                        f"{i}, column {j}, from 0); features must be finite")
    return X, key


def plain(v):
    """A Python int for an integral number, else a float (JSON-ready, prints as in the data)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v
