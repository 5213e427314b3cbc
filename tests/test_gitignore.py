"""The files that the README's commands write into a clone are ignored by git."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("git") is None or not os.path.exists(os.path.join(ROOT, ".git")),
                    reason="not a git checkout")
@pytest.mark.parametrize("path", ["gpubp-model.npz", "gpubp-loss.png", ".venv/bin/python",
                                  "gpubp/__pycache__/x.cpython-311.pyc", ".pytest_cache/v",
                                  ".hypothesis/examples/x", "gpubp.egg-info/PKG-INFO"])
def test_written_files_are_ignored(path):
    r = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", "--no-index", path])
    assert r.returncode == 0, f"{path} is not ignored by .gitignore"


def test_sources_are_not_ignored():
    if shutil.which("git") is None or not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout")
    for path in ("gpubp/datasets.py", "README.md", "docs/loss_curve.png", "tests/test_readme.py"):
        r = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", "--no-index", path])
        assert r.returncode == 1, f"{path} is ignored by .gitignore"
