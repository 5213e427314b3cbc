"""The one atomic writer (gpubp.atomic.write_atomic) that checkpoints, the loss curve and
predict's --output share: the old file or the whole new one, never a part, and no temporary
left behind."""

import os
import stat

import pytest

from gpubp.atomic import write_atomic


def half_then(error):
    """A writer that writes part of a file, then fails with ``error``."""
    def write(f):
        f.write(b"half of the new")
        f.flush()
        raise error
    return write


@pytest.mark.parametrize("error", [ValueError("the writer failed"), KeyboardInterrupt()])
def test_a_failing_writer_leaves_the_old_file_whole_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.csv"
    path.write_bytes(b"the old file")
    with pytest.raises(type(error)):
        write_atomic(path, half_then(error))
    assert path.read_bytes() == b"the old file"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_a_failing_writer_of_a_new_file_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        write_atomic(tmp_path / "new.png", half_then(OSError("disk full")))
    assert os.listdir(tmp_path) == []


def test_the_new_file_replaces_the_old_one_and_keeps_its_mode(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"the old file, longer than the new one")
    os.chmod(path, 0o600)

    def write(f):
        f.write(b"new")
    write_atomic(str(path), write)
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.csv"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_temporary_sits_beside_the_file_and_names_this_process(tmp_path, monkeypatch):
    renamed, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append((src, dst)), replace(src, dst)))
    write_atomic(tmp_path / "a.png", lambda f: f.write(b"x"))
    ((src, dst),) = renamed
    assert os.path.dirname(src) == str(tmp_path) and dst == str(tmp_path / "a.png")
    assert os.path.basename(src).startswith(f".a.png.{os.getpid()}-") and src.endswith(".tmp")
