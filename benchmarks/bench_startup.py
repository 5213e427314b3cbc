"""Script of record (issue 17, item 6): what a small ``gpubp train`` costs, and what the fused
loops save and cost, on this machine.

    python benchmarks/bench_startup.py [--runs 5] [--out FILE]

1. ``gpubp train`` with no options (digits, 64-128-10, 20 epochs), ``--runs`` times in a scratch
   folder: the wall time and the CPU time (user + sys, from ``os.wait4``) of the whole process,
   and the "s in all" and "s training" it prints; whether it imported numba.
2. ``python -X importtime -m gpubp train`` once: the cumulative import time of gpubp, numba,
   matplotlib and scikit-learn (absent: not imported).
3. The load of the fused loops: CPU seconds of a process that imports gpubp.fused and fits the
   default network for one epoch (every loop that fit uses), minus the same with GPUBP_FUSED=0.
4. CPU time per training step of 64-128-10 (m = 32) and of 784-1024-1024-10 (m = 1024), with the
   loops loaded and with GPUBP_FUSED=0, each in its own process (median of 5 fits): the saving
   per element of work that ``kernels.FUSED_WORK`` divides the load by.

CPU times are the honest figure on a shared machine: the wall times grow with the load average,
which is printed.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable

STEP = r"""
import os, sys, time, numpy as np, gpubp
from gpubp import kernels
sizes, m, batches = {sizes}, {m}, {batches}
if os.environ.get("GPUBP_FUSED") != "0":
    from gpubp import fused  # noqa: F401  (the loops loaded, whatever the fit's work)
net = gpubp.Network(sizes, activation="relu", output="softmax", loss="cross_entropy", seed=0,
                    device="cpu")
M = m * batches
rng = np.random.default_rng(0)
X = rng.normal(size=(sizes[0], M)).astype(np.float32)
Y = np.eye(sizes[-1], dtype=np.float32)[:, rng.integers(0, sizes[-1], M)]
net.fit(X, Y, epochs=1, batch_size=m, verbose=False)  # warm-up (and the loops' first calls)
cpu = []
for _ in range(5):
    c = time.process_time()
    net.fit(X, Y, epochs=1, batch_size=m, verbose=False)
    cpu.append((time.process_time() - c) / batches)
work = m * sum(sizes[1:]) + net.params.flat.size
print(sorted(cpu)[2], work)
"""

LOAD = r"""
import time, numpy as np
c = time.process_time()
from gpubp import fused  # noqa: F401  (the loops loaded, unless GPUBP_FUSED=0)
import gpubp
net = gpubp.Network([64, 128, 10], output="softmax", loss="cross_entropy", seed=0, device="cpu")
X = np.random.default_rng(0).normal(size=(64, 1438)).astype(np.float32)
Y = np.eye(10, dtype=np.float32)[:, np.arange(1438) % 10]
net.fit(X, Y, epochs=1, batch_size=32, verbose=False)
print(time.process_time() - c)
"""


def child_cpu(cmd, env=None, cwd=None):
    """(wall s, user + sys CPU s, output) of one child process, from os.wait4."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    data = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{data.decode()}")
    return wall, usage.ru_utime + usage.ru_stime, data.decode()


def env_with(**kw):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               GPUBP_DEVICE="cpu")
    env.pop("GPUBP_FUSED", None)
    env.update(kw)
    return env


def median(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", help="also write the report here")
    args = ap.parse_args()
    lines = [f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
             f"python {sys.version.split()[0]}; load average before: "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"]

    def say(s):
        print(s, flush=True)
        lines.append(s)

    say(lines[0])
    say(f"1. gpubp train (no options), {args.runs} runs: wall s, CPU s (user+sys), printed "
        f"'s in all', printed 's training', numba imported")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import runpy, sys; sys.argv = ['gpubp', 'train']; "
                "import atexit; atexit.register(lambda: print('numba imported:', "
                "'numba' in sys.modules)); runpy.run_module('gpubp', run_name='__main__')")
        for i in range(args.runs):
            wall, cpu, out = child_cpu([PY, "-c", code], env=env_with(), cwd=tmp)
            total = float(re.search(r"([\d.]+) s in all", out).group(1))
            fit = float(re.search(r"([\d.]+) s training", out).group(1))
            numba = re.search(r"numba imported: (\w+)", out).group(1)
            rows.append((wall, cpu, total, fit))
            say(f"   run {i + 1}: wall {wall:.2f}  CPU {cpu:.2f}  in all {total:.2f}  "
                f"training {fit:.2f}  numba {numba}")
        med = [median([r[k] for r in rows]) for k in range(4)]
        say(f"   median: wall {med[0]:.2f}  CPU {med[1]:.2f}  in all {med[2]:.2f}  "
            f"training {med[3]:.2f}")
        _, _, out = child_cpu([PY, "-X", "importtime", "-m", "gpubp", "train"], env=env_with(),
                              cwd=tmp)
    say("2. -X importtime, cumulative (s) of the top-level imports:")
    for name in ("gpubp", "numba", "matplotlib", "matplotlib.figure",
                 "matplotlib.backends.backend_agg", "sklearn"):
        hits = [int(m.group(1)) for m in re.finditer(
            r"import time:\s+\d+ \|\s+(\d+) \|( *)" + re.escape(name) + r"\s*$", out, re.M)]
        say(f"   {name}: {max(hits) / 1e6:.3f}" if hits else f"   {name}: not imported")
    on = [child_cpu([PY, "-c", LOAD], env=env_with())[1] for _ in range(3)]
    off = [child_cpu([PY, "-c", LOAD], env=env_with(GPUBP_FUSED="0"))[1] for _ in range(3)]
    load = median(on) - median(off)
    say(f"3. loading the loops (numba's import, the compiled loops from the cache): "
        f"{load:.3f} CPU s (process {median(on):.3f} with, {median(off):.3f} without)")
    say("4. CPU time per step, loops loaded vs GPUBP_FUSED=0 (median of 5 fits):")
    for sizes, m, batches in (([64, 128, 10], 32, 45), ([784, 1024, 1024, 10], 1024, 3)):
        code = STEP.format(sizes=sizes, m=m, batches=batches)
        fused_cpu, work = map(float, child_cpu([PY, "-c", code], env=env_with())[2].split())
        plain_cpu = float(child_cpu([PY, "-c", code], env=env_with(GPUBP_FUSED="0"))[2].split()[0])
        saving = (plain_cpu - fused_cpu) / work
        say(f"   {'-'.join(map(str, sizes))} m={m}: fused {fused_cpu * 1e6:.0f} us, numpy "
            f"{plain_cpu * 1e6:.0f} us per step; work {work:.3g} elements/step; saving "
            f"{saving * 1e9:.2f} ns/element; the load repaid after {load / max(saving, 1e-12):.2g}"
            f" elements of work")
    say(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
