"""Every script in examples/ runs (on the CPU) and prints what it promises its reader."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def number(out, label):
    """The number printed after ``label`` (a literal string) in ``out``."""
    match = re.search(re.escape(label) + r"\s*([-+0-9.eE]+)", out)
    assert match, f"{label!r} not in the output:\n{out}"
    return float(match.group(1))


def check_seed_000(out):
    assert "layer H2 = identity(Wh H1 + Wx X2)" in out
    assert "dZ_H1 (3, 4)" in out  # the trace lists every intermediate with its shape
    for line in ("dWx (3, 2) =", "from H1: dH1 X1^T (3, 2) =", "from H2: dH2 X2^T (3, 2) ="):
        assert line in out
    assert number(out, "sum of the two uses - dWx: max |difference| =") < 1e-12
    assert number(out, "by hand, dH1 X1^T + dH2 X2^T: max |difference| from gpubp =") < 1e-12
    assert number(out, "worst:") < 1e-7


def check_elman_rnn(out):
    assert "from h[1]: dZ_h[1] x[1]^T (3, 2)" in out and "from h[2]: dZ_h[2] x[2]^T (3, 2)" in out
    assert number(out, "they sum to dWx: max |difference| =") < 1e-12
    assert number(out, "seed 000's graph gives the same dWx: max |difference| =") < 1e-12
    assert number(out, "parity accuracy:") == 1.0
    assert number(out, "worst:") < 1e-7


CHECKS = {"seed_000_shared_weight.py": check_seed_000, "elman_rnn.py": check_elman_rnn}


def test_every_example_has_its_checks():
    assert EXAMPLES, "no examples found"
    unchecked = sorted({p.name for p in EXAMPLES} - set(CHECKS))
    assert not unchecked, f"add a check of what these examples print to CHECKS: {unchecked}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example(path):
    env = dict(os.environ, GPUBP_DEVICE="cpu")
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                         timeout=120, cwd=path.parent)
    assert run.returncode == 0, run.stderr
    assert "device='gpu'" not in run.stdout
    CHECKS.get(path.name, lambda out: None)(run.stdout)
