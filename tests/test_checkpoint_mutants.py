"""Mutation gaps of the checkpoint file format (gpubp/checkpoint.py): the reader's checks at their
boundaries (the version entry's shape and kind, the text length, the zip directory's sizes, the
.npy header's order), each check on its own, and what a good file still passes."""

import io
import zipfile

import numpy as np
import pytest

from gpubp import checkpoint
from gpubp.errors import CheckpointError


def write(path, **entries):
    """A checkpoint of ``entries`` (format and version added) written by np.savez, as given."""
    arrays = {"format": np.array(checkpoint.FORMAT), "version": np.array(1)}
    arrays.update(entries)
    with open(path, "wb") as f:
        np.savez(f, **{k: v for k, v in arrays.items() if v is not None})
    return path


def npy(header, tail=b""):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(tail)
    return buf.getvalue()


def zip_of(path, items):
    """A zip of ``[(name, bytes, compress_type)]`` with a format and version first."""
    base = [(f"{k}.npy", _bytes(v), zipfile.ZIP_STORED)
            for k, v in (("format", np.array(checkpoint.FORMAT)), ("version", np.array(1)))]
    with zipfile.ZipFile(path, "w") as z:
        for name, data, compress in base + items:
            z.writestr(name, data, compress_type=compress)
    return path


def _bytes(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def central(path, entry, offset, size=4):
    """(position, value) of a 4-byte field of ``entry``'s central directory record."""
    raw = path.read_bytes()
    at = raw.find(b"PK\x01\x02")
    while raw[at + 46:at + 46 + int.from_bytes(raw[at + 28:at + 30], "little")] != \
            f"{entry}.npy".encode():
        at = raw.find(b"PK\x01\x02", at + 1)
    return at + offset, int.from_bytes(raw[at + offset:at + offset + size], "little")


def set_central(path, entry, offset, value, size=4):
    at, _ = central(path, entry, offset, size)
    raw = bytearray(path.read_bytes())
    raw[at:at + size] = value.to_bytes(size, "little")
    path.write_bytes(bytes(raw))


COMPRESS_SIZE, FILE_SIZE = 20, 24


# ---- the version entry -------------------------------------------------------------------------

def test_a_reader_knows_the_version_it_read(tmp_path):
    with checkpoint.Reader(write(tmp_path / "a.npz")) as r:
        assert r.version == 1


@pytest.mark.parametrize("version, what", [
    (np.array(1.0), "float64 of shape ()"),  # the right shape, the wrong kind
    (np.array([1]), "int64 of shape (1,)"),  # the right kind, the wrong shape
])
def test_a_version_wrong_in_one_way_is_refused(version, what, tmp_path):
    with pytest.raises(CheckpointError, match=r"'version' must be a 0-d integer array; got "
                                              + what.replace("(", r"\(").replace(")", r"\)")):
        checkpoint.Reader(write(tmp_path / "a.npz", version=version))


def test_an_unsigned_version_is_read(tmp_path):
    with checkpoint.Reader(write(tmp_path / "a.npz", version=np.array(1, np.uint8))) as r:
        assert r.version == 1


# ---- text length -------------------------------------------------------------------------------

@pytest.mark.parametrize("chars, words", [
    (checkpoint.MAX_TEXT, r"entry 'metadata' is \d+ bytes in the zip directory"),  # allowed length
    (checkpoint.MAX_TEXT + 1, r"entry 'metadata' holds 16777217 characters; a gpubp checkpoint's "
                              r"text holds at most 16777216"),
])
def test_text_of_exactly_the_most_characters_passes_the_length_check(chars, words, tmp_path):
    path = zip_of(tmp_path / "a.npz", [("metadata.npy", npy(
        {"descr": f"<U{chars}", "fortran_order": False, "shape": ()}), zipfile.ZIP_STORED)])
    with checkpoint.Reader(path) as r, pytest.raises(CheckpointError, match=words):
        r.header("metadata")
