"""The checkpoint file format: plain arrays in one ``.npz``, written atomically, read safely.

This module knows the file, not the models: each class writes and reads its own record
(:meth:`gpubp.graph.Graph.spec` / ``from_spec``, :meth:`gpubp.optim.Optimizer.record` /
:meth:`gpubp.optim.Optimizer.restore`, :meth:`gpubp.state.TrainingState.record` / ``restore``), and
:func:`gpubp.saving.save` / :func:`gpubp.saving.load` put the records into entries and back.

The file is a NumPy ``.npz`` (a zip of ``.npy`` arrays, written by ``np.savez``, read without
pickle): nothing in it is code and reading runs none. Its entries::

    format             0-d str    "gpubp.checkpoint"
    version            0-d int    FORMAT_VERSION (a reader refuses a newer one)
    architecture       0-d str    JSON: how to rebuild the model (Graph.spec)
    dtype              0-d str    "float32" or "float64"
    params             (P,)       the flat parameter buffer (gpubp.params), in the order and with
                                  the shapes of architecture["params"]
    training           0-d str    JSON, only if the model was trained (TrainingState.record):
                                  optimizer kind and hyperparameters (lr, t, mu / beta1, beta2,
                                  eps), the shuffling generator's state, epoch, history, watch
    optimizer_state_0  (P,)       the optimizer's state arrays (Optimizer.state_names): none for
    optimizer_state_1  (P,)       sgd; the velocity v for momentum; the moments m, v for adam
    order              (M,)       only for an epoch stopped between batches: its permutation
    best_params        (P,)       only while early stopping holds a best: its parameters
    metadata           0-d str    JSON object, only if given: what the caller keeps with the model

Writing (:func:`write`) is atomic (:func:`gpubp.atomic.write_atomic`): a temporary file in the
same folder, flushed and fsynced, then ``os.replace``; on any failure (KeyboardInterrupt included)
the temporary is removed and the file that was at ``path`` is untouched. Float entries must be finite unless ``allow_nonfinite``.

Reading (:class:`Reader`) looks before it reads: the zip directory is checked first (every entry
known, stored or deflated, its size consistent with the file and with its own ``.npy`` header),
an entry's header before its data, so that a small file cannot make a reader allocate much;
anything malformed is a :class:`~gpubp.errors.CheckpointError` that names the file and the entry.
"""

import json
import os
import re
import zipfile
import zlib

import numpy as np

from .atomic import write_atomic
from .errors import ArgumentTypeError, CheckpointError, ConfigError

FORMAT = "gpubp.checkpoint"
FORMAT_VERSION = 1

#: the entries a version-1 file may hold (optimizer_state_<i>: i < MAX_STATES)
ENTRIES = ("format", "version", "architecture", "dtype", "params", "training", "order",
           "best_params", "metadata")
MAX_STATES = 8
#: a text entry holds at most this many characters
MAX_TEXT = 2 ** 24
#: a model of at most this many parameters (the file's own ``params`` entry must match it too)
MAX_PARAMS = 2 ** 31
#: a deflated entry may expand at most this many times (plus 64 KiB)
MAX_RATIO = 200


# ---- writing -----------------------------------------------------------------------------------

def write(path, entries, allow_nonfinite=False):
    """Write ``entries`` ({name: host array}; ``format`` and ``version`` are added) to ``path``,
    atomically, exactly at ``path`` (no ``.npz`` is added).

    Raises CheckpointError, writing nothing, for a folder or a missing folder, an unknown entry,
    or a float entry with NaN or inf unless ``allow_nonfinite``."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"cannot save to {path}: it is a folder; give a file name, such as "
                              f"{os.path.join(path, 'model.npz')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointError(f"cannot save to {path}: the folder {folder} does not exist; "
                              f"create it first")
    arrays = {"format": np.array(FORMAT), "version": np.array(FORMAT_VERSION)}
    for key, a in entries.items():
        _known(key, path)
        a = np.asarray(a)  # (np.ascontiguousarray would make a 0-d entry 1-d)
        a = a if a.flags.c_contiguous else a.copy()
        if not allow_nonfinite and a.dtype.kind == "f":
            _check_finite(a, f"cannot save {path}: {key!r}", "; pass allow_nonfinite=True to "
                          "write it anyway")
        arrays[key] = a
    write_atomic(path, lambda f: np.savez(f, **arrays))


def _check_finite(a, what, hint=""):
    if not bool(np.isfinite(a).all()):
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        raise CheckpointError(f"{what} holds {bad} NaN or inf value(s) (did the training "
                              f"diverge?){hint}")


def metadata_json(metadata):
    """``metadata`` as JSON text; TypeError / ValueError say what cannot be stored."""
    if not isinstance(metadata, dict):
        raise ArgumentTypeError(f"metadata must be a dict (a JSON object); got {type(metadata).__name__}")
    try:
        text = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        # TypeError: an object JSON has no form for (an array, a set...); ValueError: NaN or inf,
        # or a circular reference. Keys that are not strings would come back as strings: refused.
        error = ArgumentTypeError if isinstance(e, TypeError) else ConfigError
        raise error(f"metadata must be JSON data (str keys; str, finite numbers, bool, None, "
                    f"lists, dicts): {_one_line(e)}") from None
    if json.loads(text) != metadata:
        raise ArgumentTypeError("metadata must be JSON data that comes back as it went in: its keys must "
                                "be strings and its sequences lists (not tuples)")
    return text


def _known(key, path):
    m = re.fullmatch(r"optimizer_state_(0|[1-9]\d*)", key)  # no leading zeros: one name each
    if key not in ENTRIES and not (m and int(m.group(1)) < MAX_STATES):
        raise CheckpointError(f"{path}: unknown entry {key!r}; a gpubp checkpoint holds "
                              f"{', '.join(ENTRIES)} and optimizer_state_0..{MAX_STATES - 1}")


# ---- reading -----------------------------------------------------------------------------------

def load_metadata(path):
    """The ``metadata`` dict saved with the model at ``path`` (None if it has none), without
    building the model. CheckpointError for a file that is not a readable gpubp checkpoint."""
    with Reader(path) as f:
        return f.json("metadata", finite=True) if "metadata" in f else None


class Reader:
    """An open checkpoint: its format and version checked, its entries listed, none read yet.

    ``"params" in reader``; ``reader.header(key)`` is ``(shape, dtype)`` from the entry's
    ``.npy`` header (its data unread); ``reader.array(key)`` reads it; ``reader.string(key)``,
    ``reader.json(key)`` read text entries; ``reader.fields(where)`` reads fields of a JSON record.
    ``allow_nonfinite``: whether :meth:`array` with ``finite=True`` lets NaN and inf through.
    Use as a context manager (the file stays open until the block ends).
    """

    def __init__(self, path, allow_nonfinite=False):
        self.path = os.fspath(path)
        self.allow_nonfinite = allow_nonfinite
        self._zip = _open_zip(self.path)
        self._read = set()  # the entries asked for so far
        try:
            self._infos = _directory(self._zip, self.path)
            self._check_format()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._zip.close()

    def __contains__(self, key):
        return key in self._infos

    def error(self, message):
        return CheckpointError(f"{self.path}: {message}")

    def _check_format(self):
        if "format" not in self:
            raise self.error("not a gpubp checkpoint (no 'format' entry)")
        fmt = self.string("format")
        if fmt != FORMAT:
            raise self.error(f"not a gpubp checkpoint (format {fmt!r}, expected {FORMAT!r})")
        for key in self._infos:
            _known(key, self.path)
        shape, dtype = self.header("version")
        if shape != () or dtype.kind not in "iu":
            raise self.error(f"'version' must be a 0-d integer array; got {dtype} of shape {shape}")
        version = int(self.array("version"))
        if version > FORMAT_VERSION:
            raise self.error(f"checkpoint format version {version} was written by a newer gpubp; "
                             f"this one reads versions up to {FORMAT_VERSION}: upgrade gpubp")
        if version < 1:
            raise self.error(f"invalid checkpoint format version {version}")
        self.version = version

    # ---- entries ----------------------------------------------------------------------------

    def _info(self, key):
        info = self._infos.get(key)
        if info is None:
            raise self.error(f"the checkpoint has no {key!r} entry (an incomplete file, or not "
                             f"written by gpubp.save)")
        return info

    def header(self, key):
        """``(shape, dtype)`` of entry ``key``, from its ``.npy`` header; its data is not read.
        Checks that the zip directory's size of the entry is the one its header gives."""
        info = self._info(key)
        self._read.add(key)
        with self._guard(key):
            with self._zip.open(info) as fp:
                shape, dtype, offset = _npy_header(fp, key, self.path)
        if dtype.hasobject:
            raise self.error(f"entry {key!r} is an object array, which needs pickle; gpubp never "
                             f"writes one and will not load it (loading it could run code)")
        if dtype.str[0] == ">":
            little = dtype.newbyteorder("<").str
            raise self.error(f"entry {key!r} is stored big-endian ({dtype.str!r}); a gpubp "
                             f"checkpoint holds little-endian arrays ({little!r})")
        if dtype.kind not in "iufbU":
            raise self.error(f"entry {key!r} has dtype {dtype}; a gpubp checkpoint holds numbers "
                             f"and strings")
        if dtype.kind == "U" and dtype.itemsize // 4 > MAX_TEXT:
            raise self.error(f"entry {key!r} holds {dtype.itemsize // 4} characters; a gpubp "
                             f"checkpoint's text holds at most {MAX_TEXT}")
        size = offset + int(np.prod(shape, dtype=object)) * dtype.itemsize
        if size != info.file_size:
            raise self.error(f"entry {key!r} is {info.file_size} bytes in the zip directory but "
                             f"its header says {dtype} of shape {shape} ({size} bytes): a corrupt "
                             f"or tampered file")
        return shape, dtype

    def array(self, key, finite=False):
        """The host array of entry ``key`` (:meth:`header` checked first). ``finite``: NaN and inf
        are a CheckpointError unless the reader was opened with ``allow_nonfinite``."""
        self.header(key)
        with self._guard(key):
            with self._zip.open(self._info(key)) as fp:
                a = np.lib.format.read_array(fp, allow_pickle=False)
        if finite and not self.allow_nonfinite and a.dtype.kind == "f":
            _check_finite(a, f"{self.path}: {key!r}", "; load(..., allow_nonfinite=True) reads "
                          "it anyway")
        return a

    def flat(self, key, P, dtype, what):
        """Entry ``key``: a finite ``(P,)`` array of ``dtype``, shaped like the parameters."""
        shape, dt = self.header(key)
        if shape != (P,) or dt != dtype:
            raise self.error(f"{key!r} ({what}) is {dt.name} of shape {shape}; the parameters are "
                             f"{np.dtype(dtype).name} of shape ({P},)")
        return self.array(key, finite=True)

    def string(self, key):
        """Entry ``key``: a 0-d string array, as a str."""
        shape, dtype = self.header(key)
        if shape != () or dtype.kind != "U":
            raise self.error(f"{key!r} must be a 0-d string array; got {dtype} of shape {shape}")
        return str(self.array(key))

    def json(self, key, finite=False):
        """Entry ``key`` as a JSON object (a dict). ``finite``: NaN and Infinity are refused."""
        text = self.string(key)
        try:
            value = json.loads(text, parse_constant=_no_constant if finite else None)
        except RecursionError:
            raise self.error(f"{key!r} is JSON nested too deeply to read") from None
        except ValueError as e:
            raise self.error(f"{key!r} is not valid JSON ({e})") from None
        if not isinstance(value, dict):
            raise self.error(f"{key!r} must be a JSON object; got {type(value).__name__}")
        return value

    def check_all_read(self):
        """Every entry of the file was asked for: one that no record reads (an optimizer state
        beyond what its optimizer keeps, a best_params without a watch) means a tampered file."""
        left = sorted(set(self._infos) - self._read)
        if left:
            raise self.error(f"entries {', '.join(map(repr, left))} belong to none of the "
                             f"checkpoint's records (a tampered or mixed-up file)")

    def fields(self, where):
        """A :class:`Fields` reader whose errors name this file and ``where``."""
        return Fields(where, self.path)

    def _guard(self, key):
        return _Guard(self, key)


class _Guard:
    """Turns what zipfile, zlib and NumPy raise for a damaged entry into one CheckpointError."""

    def __init__(self, reader, key):
        self.reader, self.key = reader, key

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if kind is None or issubclass(kind, CheckpointError):
            return False
        if issubclass(kind, (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
                             NotImplementedError, RuntimeError, OverflowError)):
            raise self.reader.error(f"entry {self.key!r} cannot be read (truncated or corrupt "
                                    f"file: {_one_line(e)})") from None
        return False


def _open_zip(path):
    with open(path, "rb") as f:  # FileNotFoundError and the like stay what they are
        head = f.read(4)
    # np.load would take any other file for a pickle; look first, and open only zips
    if not head:
        raise CheckpointError(f"{path}: the file is empty (truncated?); not a gpubp checkpoint")
    if head[:1] == b"\x80":
        raise CheckpointError(f"{path}: holds pickled data, which gpubp never writes and will not "
                              f"load (loading it could run code)")
    if head == b"\x93NUM":
        with open(path, "rb") as f:
            try:
                _, dtype, _ = _npy_header(f, "the array", path)
            except CheckpointError:
                dtype = None
        if dtype is not None and dtype.hasobject:
            raise CheckpointError(f"{path}: holds pickled data, which gpubp never writes and will "
                                  f"not load (loading it could run code)")
        raise CheckpointError(f"{path}: not a gpubp checkpoint (a single .npy array, not an .npz)")
    if head != b"PK\x03\x04":
        raise CheckpointError(f"{path}: not a gpubp checkpoint (not an .npz file)")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint (truncated or corrupt file: "
                              f"{_one_line(e)})") from None


def _directory(zf, path):
    """``{entry name: ZipInfo}`` after checking the zip directory (nothing read from entries)."""
    total = os.path.getsize(path)
    infos = {}
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key is None or key in infos:
            what = "twice" if key in infos else "(not an .npy array)"
            raise CheckpointError(f"{path}: the zip holds {info.filename!r} {what}; a gpubp "
                                  f"checkpoint holds one .npy array per entry")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"{path}: entry {key!r} uses zip compression method "
                                  f"{info.compress_type}; a checkpoint's entries are stored or "
                                  f"deflated (a corrupt file?)")
        stored = info.compress_type == zipfile.ZIP_STORED
        if (info.header_offset + info.compress_size > total
                or (stored and info.file_size != info.compress_size)
                or info.file_size > MAX_RATIO * info.compress_size + 2 ** 16):
            raise CheckpointError(f"{path}: entry {key!r} says it holds {info.file_size} bytes in "
                                  f"{info.compress_size} of a {total}-byte file; a truncated, "
                                  f"corrupt or tampered file")
        infos[key] = info
    return infos


def _npy_header(fp, key, path):
    """``(shape, dtype, header bytes)`` of the ``.npy`` stream ``fp``; CheckpointError if malformed."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f".npy format version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RecursionError) as e:
        raise CheckpointError(f"{path}: entry {key!r} has no readable .npy header (truncated or "
                              f"corrupt file: {_one_line(e)})") from None
    if fortran and len(shape) > 1:
        raise CheckpointError(f"{path}: entry {key!r} is in Fortran order; gpubp writes C order")
    return tuple(shape), dtype, fp.tell()


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


def _no_constant(name):
    raise ConfigError(f"{name} is not a finite number; metadata holds finite numbers only")


class Fields:
    """Read fields of a JSON record, with a CheckpointError that names the file, the record
    (``where``: "architecture", "training") and what is wrong."""

    def __init__(self, where, path=None):
        self.where, self.path = where, path

    def error(self, message):
        return CheckpointError(f"{self.path + ': ' if self.path else ''}{self.where}: {message}")

    def get(self, d, key, types, optional=False):
        """``d[key]`` if it is of ``types`` (bool only if named); None if optional and absent."""
        if not isinstance(d, dict):
            raise self.error(f"expected a JSON object; got {d!r}")
        if key not in d:
            if optional:
                return None
            raise self.error(f"missing field {key!r}")
        v = d[key]
        if optional and v is None:
            return None
        types = types if isinstance(types, tuple) else (types,)
        if not isinstance(v, types) or isinstance(v, bool) and bool not in types:
            raise self.error(f"field {key!r} has the wrong type ({type(v).__name__}): {v!r}")
        return v

    def count(self, d, key, least=1):
        """``d[key]``: an integer >= ``least``."""
        v = self.get(d, key, int)
        if v < least:
            raise self.error(f"field {key!r} must be an integer >= {least}; got {v}")
        return v

    def number(self, d, key):
        """``d[key]`` as a float: an int or a float in the JSON."""
        return float(self.get(d, key, (int, float)))
