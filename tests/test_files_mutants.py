"""gpubp/cli/files.py, function by function (the gaps a mutation run found): the checks on the
files a command reads and writes, each with a case it takes and a case it refuses."""

import os
import types

import numpy as np
import pytest

import gpubp
from gpubp.cli import files
from gpubp.cli.options import UsageError
from gpubp.errors import CheckpointError, GpubpError


def test_check_writable(tmp_path):
    files.check_writable("--save", None)  # nothing to write
    files.check_writable("--save", str(tmp_path / "m.npz"))
    (tmp_path / "old.npz").write_text("x")
    files.check_writable("--save", str(tmp_path / "old.npz"))  # an existing file: replaceable
    with pytest.raises(GpubpError, match=f"--save {tmp_path}: is a folder; give a file name"):
        files.check_writable("--save", str(tmp_path))
    missing = tmp_path / "no" / "m.npz"
    with pytest.raises(GpubpError, match=f"--plot {missing}: the folder {tmp_path / 'no'} does "
                                         f"not exist"):
        files.check_writable("--plot", str(missing))


def test_check_writable_refuses_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: every folder is writable")
        with pytest.raises(GpubpError, match=f"cannot write in {ro}"):
            files.check_writable("--save", str(ro / "m.npz"))
    finally:
        ro.chmod(0o700)


def test_check_fits():
    net = types.SimpleNamespace(sizes=[4, 8, 3])
    files.check_fits(net, "m.npz", 4)
    files.check_fits(net, "m.npz", 4, rows=3)
    with pytest.raises(CheckpointError, match=r"m.npz: the network takes 4 features and gives 3 "
                                              r"outputs; its data have 5 features$"):
        files.check_fits(net, "m.npz", 5)
    with pytest.raises(CheckpointError, match=r"its data have 4 features and need 2 outputs$"):
        files.check_fits(net, "m.npz", 4, rows=2)
    with pytest.raises(CheckpointError, match="m.npz: holds a SimpleNamespace, not the Network"):
        files.check_fits(types.SimpleNamespace(), "m.npz", 4)


def test_data_label():
    assert files.data_label("digits") == "digits"
    assert files.data_label(os.path.join("a", "b", "d.csv")) == "d.csv"


def test_same_file(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x")
    os.symlink(a, tmp_path / "link.csv")
    assert files.same_file(str(a), str(tmp_path / "link.csv"))
    assert files.same_file(str(a), str(tmp_path / "sub" / ".." / "a.csv"))
    assert not files.same_file(str(a), str(tmp_path / "b.csv"))
    # neither exists yet: the resolved names decide
    assert files.same_file(str(tmp_path / "n.csv"), str(tmp_path / "." / "n.csv"))
    assert not files.same_file(str(tmp_path / "n.csv"), str(tmp_path / "m.csv"))
    assert files.same_file(None, str(a)) is False and files.same_file(str(a), None) is False


def test_check_not_an_input(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x")
    inputs = {"--data": str(data), "--resume": None, "--set": "digits"}
    files.check_not_an_input("train", "--save", str(tmp_path / "m.npz"), inputs)
    files.check_not_an_input("train", "--save", "digits", inputs)  # a data set is no file
    with pytest.raises(UsageError, match=f"gpubp train: error: --save {data} is the --data file: "
                                         f"writing it would destroy"):
        files.check_not_an_input("train", "--save", str(data), inputs)


def test_is_model(tmp_path):
    gpubp.save(gpubp.Network([2, 3, 1], device="cpu"), str(tmp_path / "m.npz"))
    assert files.is_model(str(tmp_path / "m.npz"))
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    (tmp_path / "t.txt").write_text("hello")
    assert files.is_model(str(tmp_path / "plain.npz")) is False  # a bool, as the docstring says
    assert files.is_model(str(tmp_path / "t.txt")) is False
    assert files.is_model(str(tmp_path / "none.npz")) is False


@pytest.mark.parametrize("head, picture", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, True),
    (b"\x89PNG\r\n" + b"\0" * 20, False),
    (b"  <svg xmlns='http://www.w3.org/2000/svg'></svg>", True),
    (b"<SVG></SVG>", True),
    (b"<?xml version='1.0'?>\n<svg></svg>", True),
    (b"<?xml version='1.0'?>\n<html></html>", False),
    (b"<html><svg></svg></html>", False),
    (b"a,b\n1,2\n", False),
])
def test_is_picture(tmp_path, head, picture):
    path = tmp_path / "p"
    path.write_bytes(head)
    assert files.is_picture(str(path)) is picture


def test_starts_with_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("prediction,p0\r\n1,0.5\n", newline="")
    assert files.starts_with_line(str(path), "prediction,p0")
    assert not files.starts_with_line(str(path), "prediction")
    assert not files.starts_with_line(str(path), "1,0.5")
    path.write_bytes(b"\xff\xfe\x81")
    assert files.starts_with_line(str(path), "prediction,p0") is False
    assert files.starts_with_line(str(tmp_path / "none.csv"), "") is False


def test_check_replaceable(tmp_path):
    path = tmp_path / "out.png"
    yes, no = (lambda p: True), (lambda p: False)
    files.check_replaceable("--plot", str(path), no, "a picture", False)  # nothing there
    files.check_replaceable("--plot", None, no, "a picture", False)
    path.write_text("notes")
    files.check_replaceable("--plot", str(path), yes, "a picture", False)  # its own kind
    files.check_replaceable("--plot", str(path), no, "a picture", True)   # forced
    with pytest.raises(GpubpError, match=rf"--plot {path}: the file exists and is not a picture; "
                                         rf"not replacing it \(give --plot another path, or "
                                         rf"--force to replace it\)"):
        files.check_replaceable("--plot", str(path), no, "a picture", False)
