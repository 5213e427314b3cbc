"""Mutation gaps of the checkpoint file format (gpubp/checkpoint.py): the reader's checks at their
boundaries (the version entry's shape and kind, the text length, the zip directory's sizes, the
.npy header's order), each check on its own, and what a good file still passes."""

import io
import os
import stat
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


# ---- the zip directory -------------------------------------------------------------------------

def deflated(tmp_path, n=4096):
    """A checkpoint whose 'params' entry (n zero bytes of data) is deflated: it compresses well."""
    return zip_of(tmp_path / "a.npz", [("params.npy", _bytes(np.zeros(n, np.uint8)),
                                        zipfile.ZIP_DEFLATED)])


def test_a_deflated_entry_may_expand_up_to_the_ratio_and_no_more(tmp_path):
    path = deflated(tmp_path)
    _, packed = central(path, "params", COMPRESS_SIZE)
    most = checkpoint.MAX_RATIO * packed + 2 ** 16
    set_central(path, "params", FILE_SIZE, most)
    checkpoint.Reader(path).close()  # the directory passes (the entry is not read)
    set_central(path, "params", FILE_SIZE, most + 1)
    with pytest.raises(CheckpointError, match=rf"entry 'params' says it holds {most + 1} bytes in "
                                              rf"{packed} of a \d+-byte file"):
        checkpoint.Reader(path)


def test_a_stored_entry_smaller_in_the_directory_than_stored_is_refused(tmp_path):
    path = write(tmp_path / "a.npz", params=np.zeros(10, np.float32))
    _, size = central(path, "params", FILE_SIZE)
    set_central(path, "params", FILE_SIZE, size - 1)  # no ratio, no overrun: only stored != size
    with pytest.raises(CheckpointError, match=rf"entry 'params' says it holds {size - 1} bytes"):
        checkpoint.Reader(path)


def test_an_entry_that_runs_past_the_end_of_the_file_is_refused(tmp_path):
    path = deflated(tmp_path)
    total = path.stat().st_size
    _, offset = central(path, "params", 42)  # the local header's offset
    set_central(path, "params", COMPRESS_SIZE, total - offset)  # ends exactly at the file's end
    checkpoint.Reader(path).close()
    set_central(path, "params", COMPRESS_SIZE, total - offset + 1)  # one byte past it
    with pytest.raises(CheckpointError, match=rf"entry 'params' says it holds \d+ bytes in "
                                              rf"{total - offset + 1} of a {total}-byte file"):
        checkpoint.Reader(path)


# ---- the .npy header ---------------------------------------------------------------------------

def test_fortran_order_matters_only_for_two_or_more_dimensions(tmp_path):
    data = np.arange(6, dtype="<f8").tobytes()
    path = zip_of(tmp_path / "a.npz", [
        ("params.npy", npy({"descr": "<f8", "fortran_order": True, "shape": (6,)}, data), 0),
        ("order.npy", npy({"descr": "<f8", "fortran_order": True, "shape": (2, 3)}, data), 0),
        ("dtype.npy", npy({"descr": "<f8", "fortran_order": False, "shape": (2, 3)}, data), 0)])
    with checkpoint.Reader(path) as r:
        assert r.header("params") == ((6,), np.dtype("<f8"))
        np.testing.assert_array_equal(r.array("params"), np.arange(6.0))
        assert r.header("dtype") == ((2, 3), np.dtype("<f8"))
        with pytest.raises(CheckpointError, match=r"entry 'order' is in Fortran order; gpubp "
                                                  r"writes C order"):
            r.header("order")


def test_a_version_2_npy_header_is_read(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_2_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": (3,)})
    buf.write(np.ones(3, "<f4").tobytes())
    path = zip_of(tmp_path / "a.npz", [("params.npy", buf.getvalue(), 0)])
    with checkpoint.Reader(path) as r:
        np.testing.assert_array_equal(r.array("params"), np.ones(3, np.float32))


# ---- reading an entry --------------------------------------------------------------------------

def test_array_lets_nan_through_unless_asked_for_finite_values(tmp_path):
    a = np.array([1.0, np.nan, np.inf])
    path = write(tmp_path / "a.npz", params=a, order=np.array([1, 2]))
    with checkpoint.Reader(path) as r:
        np.testing.assert_array_equal(r.array("params"), a)  # finite=False by default
        with pytest.raises(CheckpointError, match=r"'params' holds 2 NaN or inf value\(s\)"):
            r.array("params", finite=True)
        np.testing.assert_array_equal(r.array("order", finite=True), [1, 2])  # not a float
    with checkpoint.Reader(path, allow_nonfinite=True) as r:
        np.testing.assert_array_equal(r.array("params", finite=True), a)


@pytest.mark.parametrize("entry, words", [
    (np.zeros(3, np.complex64), r"entry 'params' has dtype complex64"),
    (np.zeros(3, ">f4"), r"entry 'params' is stored big-endian"),
])
def test_array_checks_the_header_itself(entry, words, tmp_path):
    """array() with no header() before it: the header's checks still run."""
    with checkpoint.Reader(write(tmp_path / "a.npz", params=entry)) as r, \
            pytest.raises(CheckpointError, match=words):
        r.array("params")


def test_array_checks_the_size_in_the_directory(tmp_path):
    path = zip_of(tmp_path / "a.npz", [("params.npy", npy(
        {"descr": "<f4", "fortran_order": False, "shape": (10 ** 6,)}, b"\0" * 40), 0)])
    with checkpoint.Reader(path) as r, pytest.raises(
            CheckpointError, match=r"entry 'params' is \d+ bytes in the zip directory but its "
                                   r"header says float32 of shape \(1000000,\)"):
        r.array("params")


# ---- writing -----------------------------------------------------------------------------------

def test_write_refuses_nan_by_default(tmp_path):
    with pytest.raises(CheckpointError, match=r"cannot save .*'params' holds 1 NaN or inf"):
        checkpoint.write(tmp_path / "a", {"params": np.array([1.0, np.nan])})
    assert list(tmp_path.iterdir()) == []
    checkpoint.write(tmp_path / "a", {"params": np.array([1.0, np.nan])}, allow_nonfinite=True)
    with checkpoint.Reader(tmp_path / "a", allow_nonfinite=True) as r:
        assert np.isnan(r.array("params", finite=True)[1])


def test_a_fortran_ordered_array_is_written_in_c_order(tmp_path):
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    checkpoint.write(tmp_path / "a", {"params": a})
    with checkpoint.Reader(tmp_path / "a") as r:  # the reader refuses Fortran order
        np.testing.assert_array_equal(r.array("params"), np.arange(6.0).reshape(2, 3))


def test_a_new_file_has_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        checkpoint.write(tmp_path / "a", {"params": np.zeros(2)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o644


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_write_fsyncs_the_file_then_the_folder_and_closes_what_it_opened(tmp_path, monkeypatch):
    synced, sizes, fsync = [], [], os.fsync

    def record(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        sizes.append(os.fstat(fd).st_size)  # what is on disk when it is synced
        fsync(fd)

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fsync", record)
    checkpoint.write(tmp_path / "a", {"params": np.zeros(2)})
    monkeypatch.undo()
    assert len(os.listdir("/proc/self/fd")) == before
    assert len(synced) == 2 and synced[1] == str(tmp_path)
    assert os.path.dirname(synced[0]) == str(tmp_path)
    assert os.path.basename(synced[0]).startswith(f".a.{os.getpid()}-")
    assert sizes[0] == os.path.getsize(tmp_path / "a")  # flushed before the fsync


def stale_tmp(folder, pid):
    from gpubp.atomic import HOST

    p = folder / f".a.{pid}-0123456789ab@{HOST}.tmp"
    p.write_bytes(b"PK\x03\x04 half a zip")
    return p


def test_a_save_keeps_the_temporaries_of_its_own_process(tmp_path):
    own = stale_tmp(tmp_path, os.getpid())  # another thread's save in progress
    checkpoint.write(tmp_path / "a", {"params": np.zeros(2)})
    assert own.exists()


def test_a_save_keeps_a_temporary_whose_process_it_cannot_ask_about(tmp_path, monkeypatch):
    os_kill = os.kill
    huge = stale_tmp(tmp_path, 10 ** 30)  # os.kill: OverflowError
    other = stale_tmp(tmp_path, 12345)

    def kill(pid, sig):
        assert sig == 0, "a check must send no signal"
        raise PermissionError("someone else's")

    monkeypatch.setattr(os, "kill", kill)
    checkpoint.write(tmp_path / "a", {"params": np.zeros(2)})
    assert huge.exists() and other.exists()

    def ended(pid, sig):  # 12345 has ended; 10 ** 30 still cannot be asked about
        if pid == 12345:
            raise ProcessLookupError(pid)
        return os_kill(pid, sig)

    monkeypatch.setattr(os, "kill", ended)
    checkpoint.write(tmp_path / "a", {"params": np.zeros(2)})
    assert huge.exists() and not other.exists()


class _PathLike:
    """A path that is only os.PathLike (its str() is not the path)."""

    def __init__(self, path):
        self.path = str(path)

    def __fspath__(self):
        return self.path


def test_write_names_a_path_like_by_its_path(tmp_path):
    with pytest.raises(CheckpointError, match=rf"cannot save to {tmp_path}: it is a folder"):
        checkpoint.write(_PathLike(tmp_path), {"params": np.zeros(2)})
    with pytest.raises(CheckpointError, match=rf"cannot save {tmp_path / 'a'}: 'params' holds"):
        checkpoint.write(_PathLike(tmp_path / "a"), {"params": np.array([np.inf])})


@pytest.mark.parametrize("key", ["extra", "optimizer_state_8", "optimizer_state_01"])
def test_write_refuses_an_unknown_entry_and_writes_nothing(key, tmp_path):
    with pytest.raises(CheckpointError, match=rf"a\.npz: unknown entry '{key}'"):
        checkpoint.write(tmp_path / "a.npz", {"params": np.zeros(2), key: np.zeros(2)})
    assert list(tmp_path.iterdir()) == []


def test_write_takes_lists_and_numbers(tmp_path):
    checkpoint.write(tmp_path / "a", {"params": [1.5, 2.5], "order": [2, 0, 1],
                                      "dtype": "float64"})
    with checkpoint.Reader(tmp_path / "a") as r:
        np.testing.assert_array_equal(r.flat("params", 2, np.float64, "the parameters"), [1.5, 2.5])
        np.testing.assert_array_equal(r.array("order"), [2, 0, 1])
        assert r.string("dtype") == "float64"
