"""The benchmark scripts: on a machine without a GPU, asking one for the GPU is one line on
stderr and exit status 1, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import gpu_usable

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(gpu_usable(), reason="a GPU answers here: the scripts would run")
@pytest.mark.parametrize("argv", [["parity_drift.py"], ["bench_step.py", "--device", "gpu"],
                                  ["bench_sweep.py", "--device", "gpu"]])
def test_a_gpu_script_without_a_gpu_says_so_in_one_line(argv):
    env = dict(os.environ, GPUBP_DEVICE="auto", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / argv[0]), *argv[1:]],
                         capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "no GPU is usable" in lines[0], run.stderr
