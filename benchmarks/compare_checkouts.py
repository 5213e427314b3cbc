"""Script of record: the chain Network's training step in this checkout against another checkout
of gpubp (for example the commit before a change), interleaved in one process.

    git worktree add /tmp/before <commit>
    python benchmarks/compare_checkouts.py /tmp/before [--repeats 30] [--rounds 5]
    python benchmarks/compare_checkouts.py /tmp/before --fit [--rounds 15]

Both packages are imported side by side (the other one under the name ``gpubp_other``) and run
the same step on the same data: an Adam step of a relu MLP with a softmax + cross_entropy output,
float32, on the CPU, cost not computed. The two are timed in alternating rounds, so that the
machine's drift hits both; each round takes the median of ``--repeats`` steps after a warm-up.
Printed: the median over rounds, the spread (min-max of the round medians) and the ratio.

With ``--fit``: ``fit``'s real loop instead (SGD, cost included) on ``bench_step.py``'s tiny and
small networks and data, per step, the ratio taken round by round; and whether the two trained
networks hold the same bits.
"""

import argparse
import datetime
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import gpubp  # noqa: E402  (this checkout)


def load_other(path):
    spec = importlib.util.spec_from_file_location(
        "gpubp_other", os.path.join(path, "gpubp", "__init__.py"),
        submodule_search_locations=[os.path.join(path, "gpubp")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpubp_other"] = module
    spec.loader.exec_module(module)
    return module


def step_of(lib, sizes, m, seed=0):
    """A function running one training step of ``lib``'s Network, whichever API it has."""
    net = lib.Network(sizes, activation="relu", output="softmax", loss="cross_entropy",
                      dtype="float32", device="cpu", seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(sizes[0], m))
    Y = np.zeros((sizes[-1], m))
    Y[rng.integers(0, sizes[-1], m), np.arange(m)] = 1
    opt = lib.optim.Adam(1e-3)
    if hasattr(net, "plan"):  # the engine of Graph and Plan
        plan = net.plan(m)
        plan.stage(net.check_inputs(X), net.check_targets(Y, m))
        return lambda: plan.train_step(opt, cost=False)
    X, Y = net.check_X(X), net.check_Y(Y, m)  # the first engine
    return lambda: net.train_step(X, Y, opt)


def median_of(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fit_of(lib, case):
    """A function running ``fit`` as bench_step.py's gpubp runner does (fresh network, its data)."""
    import bench_step
    net = lib.Network(case["sizes"], activation=case["activation"], output=case["output"],
                      loss=case["loss"], dtype="float32", device="cpu", seed=bench_step.SEED)
    X, _, T = bench_step.make_data(case, np.float32)
    steps = bench_step.steps_of(case)

    def call():
        net.fit(X.T, T.T, epochs=case["epochs"], batch_size=case["m"], optimizer="sgd",
                lr=bench_step.LR)
        return steps
    return net, call


def compare_fits(other, rounds):
    import bench_step
    print(f"{'network':<8} {'sizes':<16} {'m':>4} {'this us':>8} {'other us':>9} "
          f"{'this/other':>10} {'by round (min-max)':>20} same bits")
    for case in bench_step.CPU_CASES[:2]:
        nets, per = {}, {"this": [], "other": []}
        for name, lib in (("this", gpubp), ("other", other)):
            nets[name], fn = fit_of(lib, case)
            per[name] = fn
        times = {"this": [], "other": []}
        for k in range(rounds):
            for name in (("this", "other") if k % 2 else ("other", "this")):
                fn = per[name]
                fn()  # warm-up call
                calls = []
                for _ in range(case["calls"]):
                    t0 = time.perf_counter()
                    steps = fn()
                    calls.append((time.perf_counter() - t0) / steps)
                times[name].append(statistics.median(calls))
        ratios = [a / b for a, b in zip(times["this"], times["other"])]
        same = np.array_equal(nets["this"].params.flat, nets["other"].params.flat)
        print(f"{case['name']:<8} {'-'.join(map(str, case['sizes'])):<16} {case['m']:>4} "
              f"{1e6 * statistics.median(times['this']):>8.1f} "
              f"{1e6 * statistics.median(times['other']):>9.1f} {statistics.median(ratios):>10.3f} "
              f"{min(ratios):>12.3f}-{max(ratios):.3f} {same}")
    print(f"# fit's loop per step, SGD lr {bench_step.LR}, float32, CPU, cost included; each round "
          f"the median of {bench_step.CPU_CASES[0]['calls']} calls after one warm-up call, "
          f"{rounds} alternating rounds; same bits: the trained parameters are equal")


def git_head(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return "?"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("other", help="path of another gpubp checkout (its root folder)")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--fit", action="store_true", help="fit's loop on bench_step.py's tiny and small")
    args = p.parse_args(argv)
    import gpubp.optim  # noqa: F401
    other = load_other(args.other)
    importlib.import_module("gpubp_other.optim")
    cases = [([784, 256, 10], 256), ([784, 1024, 1024, 10], 1024), ([64, 128, 128, 10], 256),
             ([2, 3, 2], 4)]
    print(f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; numpy {np.__version__}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    print(f"# BLAS: {blas.get('name')} {blas.get('version')}; {blas.get('openblas configuration', '')}")
    print(f"# this: {git_head(os.path.dirname(HERE))}  other: {args.other} at {git_head(args.other)}")
    if args.fit:
        sys.path.insert(0, HERE)
        return compare_fits(other, args.rounds)
    print(f"{'sizes':<22} {'m':>5} {'this ms':>9} {'spread':>15} {'other ms':>9} {'spread':>15} "
          f"{'this/other':>10}")
    for sizes, m in cases:
        fns = {"this": step_of(gpubp, sizes, m), "other": step_of(other, sizes, m)}
        rounds = {"this": [], "other": []}
        for _ in range(args.rounds):
            for name in ("this", "other"):
                rounds[name].append(median_of(fns[name], args.repeats))
        med = {k: statistics.median(v) for k, v in rounds.items()}
        spread = {k: f"{1e3 * min(v):.3f}-{1e3 * max(v):.3f}" for k, v in rounds.items()}
        print(f"{str(sizes):<22} {m:>5} {1e3 * med['this']:>9.3f} {spread['this']:>15} "
              f"{1e3 * med['other']:>9.3f} {spread['other']:>15} {med['this'] / med['other']:>10.3f}")
    print(f"# Adam step, float32, CPU, cost not computed; median over {args.rounds} alternating rounds "
          f"of the median of {args.repeats} steps")


if __name__ == "__main__":
    main()
