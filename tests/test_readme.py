"""README.md: every ```python block runs as written and prints what the README shows under it.

Each block is self-contained (its own imports and data) and runs in a fresh subprocess on the CPU
(``GPUBP_DEVICE=cpu``), from the repository root. Its output is compared with the fenced block that
follows it (the next fenced block, with at most a line of prose such as "On the CPU this prints:"
between them), token by token: the words must be the same, the numbers equal within a tolerance:

- an ordinary number (a cost, an accuracy, a prediction, a shape) must agree to a relative 1e-3, or
  to half a unit in the last digit the README prints, whichever is larger: the README rounds, and
  another BLAS sums a matrix product in another order, which moves float32 results in their last
  bits and, over hundreds of Adam steps, a printed cost in its fourth digit at most;
- a round-off measurement (|shown| < 1e-8: a finite-difference error or a NumPy-versus-gpubp
  difference of a float64 computation) is itself made of rounding errors, so it moves by a large
  factor with the summation order: it must agree to a relative 0.25, or an absolute 1e-15 (below
  that, float64 round-off is all there is). That still tells 9.694e-12 from 1.333e-11.

Run as a script (``python tests/test_readme.py``) it prints each block's actual output, to
regenerate the README's after a real change.
"""

import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

RTOL = 1e-3            # ordinary numbers
ROUNDOFF = 1e-8        # below this a shown number is a round-off measurement
ROUNDOFF_RTOL = 0.25
ROUNDOFF_ATOL = 1e-15

FENCE = re.compile(r"^```(\w*)\s*$")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def blocks(text):
    """``[(line, code, expected output or None)]`` for each ```python block, in order."""
    lines = text.splitlines()
    fences = []  # (start line index, language, body lines)
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and not FENCE.match(lines[j]):
                j += 1
            fences.append((i, j, m.group(1), lines[i + 1:j]))
            i = j + 1
        else:
            i += 1
    out = []
    for k, (start, end, lang, body) in enumerate(fences):
        if lang != "python":
            continue
        expected = None
        if k + 1 < len(fences):
            nstart, _, nlang, nbody = fences[k + 1]
            between = [s for s in lines[end + 1:nstart] if s.strip()]
            if nlang == "" and len(between) <= 1:
                expected = "\n".join(nbody)
        out.append((start + 1, "\n".join(body) + "\n", expected))
    return out


def run_block(code):
    env = dict(os.environ, GPUBP_DEVICE="cpu", PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    env.pop("PYTHONSTARTUP", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


def _decimals_ulp(token):
    """Half a unit in the last digit of a number as printed ("0.0006" -> 5e-5)."""
    mant, _, exp = token.lower().partition("e")
    digits = len(mant.split(".")[1]) if "." in mant else 0
    return 0.5 * 10.0 ** (-digits + (int(exp) if exp else 0))


def mismatch(expected, actual):
    """None if ``actual`` prints what ``expected`` shows (within the tolerances), else a line
    saying where they differ."""
    exp_lines = [s.rstrip() for s in expected.strip("\n").splitlines()]
    act_lines = [s.rstrip() for s in actual.strip("\n").splitlines()]
    if len(exp_lines) != len(act_lines):
        return f"{len(act_lines)} lines printed, {len(exp_lines)} shown"
    for n, (e, a) in enumerate(zip(exp_lines, act_lines), 1):
        e_words, a_words = NUMBER.split(e), NUMBER.split(a)
        e_nums, a_nums = NUMBER.findall(e), NUMBER.findall(a)
        if [w.split() for w in e_words] != [w.split() for w in a_words] or \
                len(e_nums) != len(a_nums):
            return f"line {n}: printed {a!r}, shown {e!r}"
        for et, at in zip(e_nums, a_nums):
            ev, av = float(et), float(at)
            if abs(ev) < ROUNDOFF:
                ok = abs(av - ev) <= max(ROUNDOFF_RTOL * abs(ev), ROUNDOFF_ATOL)
            else:
                ok = math.isclose(av, ev, rel_tol=RTOL, abs_tol=_decimals_ulp(et))
            if not ok:
                return f"line {n}: printed {at} where {et} is shown ({a!r})"
    return None


BLOCKS = blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_its_python_blocks_each_with_its_output():
    assert len(BLOCKS) >= 6
    missing = [line for line, _, expected in BLOCKS if expected is None]
    assert not missing, f"README.md: the python blocks at lines {missing} show no output under them"


@pytest.mark.parametrize("line, code, expected", BLOCKS, ids=[f"line{b[0]}" for b in BLOCKS])
def test_readme_block_runs_and_prints_what_is_shown(line, code, expected):
    rc, out, err = run_block(code)
    assert rc == 0, f"README.md line {line}: the block failed:\n{err[-3000:]}"
    assert expected is not None
    problem = mismatch(expected, out)
    assert problem is None, f"README.md line {line}: {problem}\nprinted:\n{out}"


def test_the_error_that_teaches_is_the_one_raised():
    # "Errors that teach" shows a session with the 2-3-2 network of "The Python API"
    text = README.read_text(encoding="utf-8")
    shown = re.search(r"```\n>>> (net\.forward\(.*\))\n(\w+): (.*?)```", text, re.S)
    assert shown, "README.md: the '>>> net.forward' example is gone"
    call, kind, message = shown.groups()
    code = ("import numpy as np, gpubp\n"
            "net = gpubp.Network([2, 3, 2], activation='sigmoid', output='sigmoid', "
            "loss='half_sse', dtype='float64', device='cpu', seed=0)\n"
            f"try:\n    {call}\nexcept gpubp.GpubpError as e:\n"
            "    print(type(e).__name__ + ': ' + str(e))\n")
    rc, out, err = run_block(code)
    assert rc == 0, err
    assert out.split() == f"{kind}: {message}".split()


@pytest.mark.parametrize("expected, actual, same", [
    ("cost 0.754 -> 0.0006", "cost 0.754 -> 0.0006", True),
    ("cost 0.754 -> 0.0006", "cost 0.7542 -> 0.00061", True),      # the README rounds
    ("cost 0.754 -> 0.0006", "cost 0.755 -> 0.0006", False),
    ("cost 0.754 -> 0.0006", "loss 0.754 -> 0.0006", False),
    ("W[1]  16  0  9.694e-12", "W[1]  16  0  1.333e-11", False),    # a stale round-off figure
    ("W[1]  16  0  9.694e-12", "W[1]  16  0  1.01e-11", True),
    ("[NumPy 0.0e+00]", "[NumPy 4.9e-17]", True),                   # float64 round-off
    ("[NumPy 0.0e+00]", "[NumPy 3.0e-14]", False),
    ("a\nb", "a", False),
    ("(3, 2)", "(3, 2)", True),
    ("(3, 2)", "(2, 3)", False),
])
def test_the_comparison_tells_a_changed_figure(expected, actual, same):
    assert (mismatch(expected, actual) is None) == same


if __name__ == "__main__":
    for line, code, expected in BLOCKS:
        rc, out, err = run_block(code)
        print(f"---- README.md line {line}: exit {rc}")
        print(out, end="")
        if rc:
            print(err[-2000:])
        if expected is not None and rc == 0:
            print(f"     [{mismatch(expected, out) or 'as shown'}]")
