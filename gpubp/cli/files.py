"""The files a command reads and writes: checked before any work, so that a long run never ends
unable to write, and an output never destroys what it was made from."""

import os

from .. import datasets
from ..errors import CheckpointError, GpubpError


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
