"""A network's plans are bound to the loops or to the twins as they were when each plan was made:
a plan made before the loops were loaded (a short fit) is not reused after a long fit loads them,
so that the later fit runs the loops (same bits, faster)."""

import subprocess
import sys

import gpubp
from gpubp import kernels


def test_plans_are_keyed_by_whether_the_loops_are_loaded(monkeypatch):
    net = gpubp.Network([3, 4, 2], device="cpu", seed=0)
    monkeypatch.setattr(kernels, "loops_loaded", lambda: False)
    a = net.plan(5)
    assert net.plan(5) is a
    monkeypatch.setattr(kernels, "loops_loaded", lambda: True)
    b = net.plan(5)
    assert b is not a and net.plan(5) is b
    assert net.forward_plan(5) is not a


def test_a_long_fit_after_a_short_one_runs_the_loops():
    """In a fresh process: a short fit binds twins; loading the loops (as a long fit does) and
    fitting again with the same batch size binds the loops: the relu backward kernel's loop runs."""
    code = """
import numpy as np, gpubp
from gpubp import kernels
net = gpubp.Network([64, 40, 3], activation="relu", output="softmax", loss="cross_entropy",
                    device="cpu", seed=0)
X = np.random.default_rng(0).normal(size=(64, 64)); Y = gpubp.one_hot(np.arange(64) % 3, 3)
net.fit(X, Y, epochs=1, batch_size=32)
assert not kernels.loops_loaded()
from gpubp import fused
if not fused.ENABLED:
    print("no numba"); raise SystemExit(0)
net.fit(X, Y, epochs=1, batch_size=32)
plan = net.plan(32)
names = [getattr(getattr(c, "func", c), "__name__", "") for c in plan._backward_calls]
print("loop" if any("loop" in n for n in names) else "twin", names)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout.split()
    assert out[0] in ("loop", "no")
    if out[0] != "no":
        assert out[0] == "loop", run.stdout
