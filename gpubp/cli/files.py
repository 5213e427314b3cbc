"""The files a command reads and writes: checked before any work, so that a long run never ends
unable to write, and an output never destroys what it was made from."""

import os

from .. import checkpoint, datasets
from ..errors import CheckpointError, GpubpError
from .options import usage


def check_writable(what, path):
    """``path`` can be written: not a folder, in a folder that exists and is writable."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise GpubpError(f"{what} {path}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise GpubpError(f"{what} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise GpubpError(f"{what} {path}: cannot write in {folder}")


def check_fits(net, path, n, rows=None):
    """The model at ``path`` is a Network taking ``n`` features (and giving ``rows`` outputs)."""
    sizes = getattr(net, "sizes", None)
    if sizes is None:
        raise CheckpointError(f"{path}: holds a {type(net).__name__}, not the Network that gpubp "
                              f"train saves")
    if sizes[0] != n or (rows is not None and sizes[-1] != rows):
        raise CheckpointError(f"{path}: the network takes {sizes[0]} features and gives "
                              f"{sizes[-1]} outputs; its data have {n} features"
                              + (f" and need {rows} outputs" if rows is not None else ""))


def data_label(source):
    """A data set's name, or a data file's name without its folder."""
    return source if source in datasets.SOURCES else os.path.basename(source)


def same_file(a, b):
    """Do ``a`` and ``b`` name one file (through links, relative paths, other spellings)?"""
    if a is None or b is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the resolved names
        return os.path.realpath(a) == os.path.realpath(b)


def check_not_an_input(command, what, path, inputs):
    """The output ``path`` (flag ``what``) is none of ``inputs`` (flag -> path): writing it would
    destroy what the command reads."""
    for name, source in inputs.items():
        if source is not None and source not in datasets.SOURCES and same_file(path, source):
            raise usage(command, f"{what} {path} is the {name} file: writing it would destroy "
                        f"what it was made from; give {what} another path")


def is_model(path):
    """A gpubp checkpoint (readable)."""
    try:
        checkpoint.load_metadata(path)
    except (GpubpError, OSError, ValueError):
        return False
    return True


def is_picture(path):
    """A PNG or an SVG (by its first bytes)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return True
    text = head.lstrip().lower()
    return text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text)


def starts_with_line(path, line):
    """The file's first line is ``line`` (a predictions file of the same model has its header)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.readline().rstrip("\r\n") == line
    except (UnicodeDecodeError, OSError):
        return False


def check_replaceable(what, path, is_kind, kind, force):
    """An existing file at ``path`` is replaced only if it is of the ``kind`` written (or
    ``force``): an output never silently destroys another file."""
    if force or path is None or not os.path.exists(path) or is_kind(path):
        return
    raise GpubpError(f"{what} {path}: the file exists and is not {kind}; not replacing it (give "
                     f"{what} another path, or --force to replace it)")
