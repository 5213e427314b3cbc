"""docker/Dockerfile: hadolint-clean, a cuda12/cuda13 switch, a CMD that runs the whole suite."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def instructions(text):
    """(INSTRUCTION, arguments) pairs: comment lines dropped, continuation lines joined."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    return [(op.upper(), rest.strip())
            for op, _, rest in (line.strip().partition(" ") for line in text.splitlines())
            if op]


def test_hadolint_is_clean():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip('hadolint not found: pip install -e ".[lint]"')
    r = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"hadolint exited {r.returncode}:\n{r.stdout}{r.stderr}"


def test_cmd_runs_whole_suite_and_arg_picks_cuda_extra():
    ins = instructions(DOCKERFILE.read_text())

    cmds = [rest for op, rest in ins if op == "CMD"]
    assert len(cmds) == 1
    script = " ".join(json.loads(cmds[0]))  # exec (JSON) form
    steps = [step.strip() for step in script.split("&&")]
    pytest_step = next(s for s in steps if s.startswith("pytest")).split()
    assert pytest_step[:2] == ["pytest", "tests"]
    assert "-m" not in pytest_step and "-k" not in pytest_step  # nothing deselected: gpu tests run
    assert "python benchmarks/bench_step.py --quick" in steps[-1]

    args = {name: value.strip('"') for name, _, value in
            (rest.partition("=") for op, rest in ins if op == "ARG")}
    assert args["CUDA_EXTRA"] == "cuda12"
    # the default base image has the CUDA major version of the default extra
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-(base|runtime)-ubuntu2[24]\.04",
                        args["CUDA_IMAGE"])
    assert [rest for op, rest in ins if op == "FROM"] == ["${CUDA_IMAGE}"]
    assert any('"./[${CUDA_EXTRA},test]"' in rest for op, rest in ins if op == "RUN")
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in ("cuda12", "cuda13"):  # both values of CUDA_EXTRA name a real extra
        assert re.search(rf'^\s*{extra}\s*=\s*\[\s*"cupy-{extra}x\[ctk\]', pyproject, re.M)
