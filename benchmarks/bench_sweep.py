"""Script of record (issue 9): how the step time of ``fit``'s loop grows with the batch size and the
width, against the matrix-multiply floor; a table and a PNG.

    python benchmarks/bench_sweep.py [--device cpu|gpu] [--batch-sizes 16,32,...] [--widths 64,...]
                                     [--quick] [--json out.json] [--png out.png]

The network is a 2-hidden-layer relu MLP ``784-w-w-10`` with a softmax + cross_entropy output,
float32, trained by ``net.fit(X, Y, epochs=E, batch_size=m, optimizer="sgd", shuffle=True)`` on
data of several whole batches; the time per step is the call's wall time over its steps (as in
``bench_step.py``, whose runners this script uses). For each point a short probe fit sets the
number of batches and epochs so that one call takes about ``--target`` seconds (at least 2
batches); then gpubp's fit and the floor (the same step's matrix products alone, NumPy or CuPy,
into preallocated outputs) alternate, one warm-up call each and ``--calls`` timed calls, and each
reports the median. One process: there is no PyTorch here (``bench_step.py`` has it).

The PNG shows the time per example against the batch size, one color per width, gpubp solid and
the floor dashed (left), and gpubp / floor (right).
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from bench_step import CpuWatch, floor_runner, fmt_t, gpubp_runner, machine, steps_of  # noqa: E402

POOL = 16384  # at most this many examples of data per point


def case_of(width, m, batches=1, epochs=1):
    return dict(name=f"w{width}-m{m}", sizes=[784, width, width, 10], activation="relu",
                output="softmax", loss="cross_entropy", m=m, batches=batches, epochs=epochs)


def point(width, m, device, dtype, target, calls):
    probe = gpubp_runner(case_of(width, m), device, dtype)
    probe()  # builds the plan (and compiles the fused passes on first use)
    t0 = time.perf_counter()
    probe()
    t_step = time.perf_counter() - t0
    del probe
    batches = int(min(max(2, round(target / t_step)), max(2, min(256, POOL // m))))
    epochs = int(max(1, round(target / (t_step * batches))))
    case = case_of(width, m, batches, epochs)
    runs = {"gpubp": gpubp_runner(case, device, dtype), "floor": floor_runner(case, device, dtype)}
    times = {k: [] for k in runs}
    for k, call in runs.items():
        call()  # warm-up
    for _ in range(calls):
        for k, call in runs.items():
            t0 = time.perf_counter()
            call()
            times[k].append((time.perf_counter() - t0) / steps_of(case))
    g, f = statistics.median(times["gpubp"]), statistics.median(times["floor"])
    flops = 6 * m * sum(a * b for a, b in zip(case["sizes"], case["sizes"][1:]))
    return dict(width=width, m=m, sizes=case["sizes"], batches=batches, epochs=epochs,
                steps_per_call=steps_of(case), gpubp_s=g, floor_s=f, gpubp_calls_s=times["gpubp"],
                floor_calls_s=times["floor"], ratio_floor=g / f, gpubp_us_per_example=1e6 * g / m,
                floor_us_per_example=1e6 * f / m, gpubp_gflops=flops / g / 1e9,
                floor_gflops=flops / f / 1e9)


def plot(rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    widths = sorted({r["width"] for r in rows})
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, w in enumerate(widths):
        rs = sorted((r for r in rows if r["width"] == w), key=lambda r: r["m"])
        ms = [r["m"] for r in rs]
        c = colors[i % len(colors)]
        ax.plot(ms, [r["gpubp_us_per_example"] for r in rs], "o-", color=c, label=f"w = {w}: gpubp fit")
        ax.plot(ms, [r["floor_us_per_example"] for r in rs], "s--", color=c, alpha=0.8, markersize=4,
                label=f"w = {w}: matmul floor")
        ax2.plot(ms, [r["ratio_floor"] for r in rs], "o-", color=c, label=f"w = {w}")
    ticks = sorted({r["m"] for r in rows})
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xticks(ticks, [str(m) for m in ticks])
        a.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        a.set_xlabel("batch size m")
        a.grid(True, which="both", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("time per example (us) = step time / m")
    ax.set_title("step time per example: gpubp fit (solid), floor (dashed)")
    ax.legend(fontsize=7, ncol=2)
    ax2.axhline(1, color="k", lw=0.8)
    ax2.set_ylabel("gpubp fit / matmul floor")
    ax2.set_title("gpubp / floor")
    ax2.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu, gpu or auto (default: GPUBP_DEVICE or auto)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--batch-sizes", default="16,32,64,128,256,512,1024,2048,4096")
    p.add_argument("--widths", default="64,256,1024,2048")
    p.add_argument("--target", type=float, default=0.25, help="seconds per timed call (about)")
    p.add_argument("--calls", type=int, default=3, help="timed calls per point and runner")
    p.add_argument("--quick", action="store_true", help="3 batch sizes, 2 widths, short calls")
    p.add_argument("--json", help="write the rows and the machine description here")
    p.add_argument("--png", help="write the plot here")
    args = p.parse_args(argv)
    from gpubp import backend, fused
    from gpubp.errors import DeviceError

    try:
        device = backend.resolve(args.device)
    except DeviceError as e:  # one line, no traceback
        raise SystemExit(f"{__file__.rsplit('/', 1)[-1]}: {e}")
    batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    widths = [int(x) for x in args.widths.split(",")]
    target, calls = args.target, args.calls
    if args.quick:
        batch_sizes, widths, target, calls = [16, 256, 4096], [64, 1024], 0.05, 2
    info = machine(device)
    load_before = os.getloadavg()
    watch = CpuWatch()
    t_start = time.perf_counter()
    rows = []
    for w in widths:
        for m in batch_sizes:
            rows.append(point(w, m, device, args.dtype, target, calls))
            print(f"  w {w:>5} m {m:>5}: gpubp {fmt_t(rows[-1]['gpubp_s'])}, floor "
                  f"{fmt_t(rows[-1]['floor_s'])}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t_start
    load_after = os.getloadavg()
    quiet = watch.stop()
    info.update(fused_enabled=bool(fused.ENABLED), loadavg_before=load_before, loadavg_after=load_after,
                others_cpu=quiet)
    out = [f"# bench_sweep.py, {info['date']}: {' '.join(sys.argv[1:]) or '(defaults)'}",
           f"# {info['host']}: {info['cpu']}, {info['cpu_count']} CPUs ({info['cpus_usable']} usable); "
           f"{info['platform']}",
           f"# python {info['python']}, gpubp {info['gpubp']} at {info['gpubp_commit']}, numpy "
           f"{info['numpy']}, numba {info['numba']}, gpubp.fused.ENABLED={info['fused_enabled']}"
           + (f", cupy {info['cupy']}" if info["cupy"] else ""),
           f"# BLAS: {info['blas']}",
           f"# environment: {' '.join(f'{k}={v}' for k, v in info['env'].items()) or '(none set)'}",
           f"# load average before {' '.join(f'{x:.2f}' for x in load_before)}, after "
           f"{' '.join(f'{x:.2f}' for x in load_after)}",
           f"# during the timing: {CpuWatch.describe(quiet)}"]
    if "gpu" in info:
        out.append("# " + info["gpu"].replace("\n", "\n# "))
    out.append(f"# 784-w-w-10 relu, softmax + cross_entropy, {args.dtype}, SGD; per step: a fit call's "
               f"wall time / its steps (calls of ~{target} s), median of {calls} calls after a warm-up, "
               f"gpubp and floor alternating; {elapsed:.0f} s")
    out.append(f"{'width':>6} {'m':>5} {'steps':>6} {'gpubp/step':>11} {'floor/step':>11} "
               f"{'gpubp us/ex':>11} {'floor us/ex':>11} {'g/floor':>7} {'gpubp GF/s':>10} {'floor GF/s':>10}")
    for r in rows:
        out.append(f"{r['width']:>6} {r['m']:>5} {r['steps_per_call']:>6} {fmt_t(r['gpubp_s']):>11} "
                   f"{fmt_t(r['floor_s']):>11} {r['gpubp_us_per_example']:>11.2f} "
                   f"{r['floor_us_per_example']:>11.2f} {r['ratio_floor']:>7.2f} "
                   f"{r['gpubp_gflops']:>10.1f} {r['floor_gflops']:>10.1f}")
    print("\n".join(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=info, rows=rows), f, indent=1)
    if args.png:
        if device == "cpu":
            where = f"{info['cpu']}, {info['cpus_usable']} cores, {info['blas'].split(';')[0]}"
        else:
            where = next((line for line in info["gpu"].splitlines() if line.startswith("GPU ")), "GPU")
        plot(rows, args.png, f"gpubp {info['gpubp']} ({info['gpubp_commit']}), fused passes "
                             f"{'on' if info['fused_enabled'] else 'off'}, {args.dtype}; {where}; "
                             f"{info['date'][:10]}")


if __name__ == "__main__":
    main()
