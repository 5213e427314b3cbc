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


def explained_and_checked(*lines):
    """An example that prints its explanation (with these lines) and passes its checks."""
    def check(out):
        for line in lines:
            assert line in out, line
        errors = [float(x) for x in re.findall(r"NumPy ([0-9.e+-]+)", out)]
        fd = [float(x) for x in re.findall(r"finite diff\. ([0-9.e+-]+)", out)]
        assert errors and max(errors) < 1e-12 and fd and max(fd) < 1e-7
        assert number(out, "worst:") < 1e-7
        if "max relative difference" in out:
            assert number(out, "max relative difference") < 1e-12
    return check


def check_seed_000_explained(out):
    check_seed_000(out)
    explained_and_checked("dWx (3, 2) = dWx|H1 (3, 2) + dWx|H2 (3, 2)")(out)


CHECKS = {
    "seed_000_shared_weight.py": check_seed_000_explained,
    "seed_001_deep_single_output.py": explained_and_checked(
        "dZ[4] (1, 6) = dA[4] (1, 6) * sigmoid'(Z[4] (1, 6))", "dW[1] (5, 4) = dZ[1] (5, 6) A[0]^T (6, 4)"),
    "seed_002_two_three_two.py": explained_and_checked(
        "dW[2] (2, 3) = dZ[2] (2, 1) A[1]^T (1, 3)", "dW[2] has shape (2, 3), like W[2] (2, 3)"),
    "seed_003_one_layer_closed_form.py": explained_and_checked(
        "Z[1] (5, 1) = W[1] (5, 4) A[0] (4, 1)", "sigmoid'(Z[1]) = A[1] (1 - A[1])"),
    "seed_004_binary_classifier.py": explained_and_checked(
        "dZ[2] (1, 8) = (A[2] (1, 8) - Y (1, 8)) / m", "tanh'(Z[1]) = 1 - A[1]^2"),
    "elman_rnn.py": check_elman_rnn,
}


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
