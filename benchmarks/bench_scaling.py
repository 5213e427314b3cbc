"""Script of record: data-parallel scaling over MPI ranks on this machine, and a model of 8 GPUs.

    python benchmarks/bench_scaling.py [--ranks 1,2,4] [--sizes 784,1024,1024,10] [--batch 1024]

For each rank count N it launches ``mpiexec -n N`` (the mpich wheel's, next to this Python) on
this script in worker mode. Every rank trains the same network with ``fit(comm="mpi")`` on the
same synthetic data (float32, Adam, relu, softmax + cross_entropy), one OpenBLAS thread per rank,
and reports the median seconds per epoch over ``--epochs`` epochs after one warm-up epoch, and the
median time of one all-reduce of the flat gradient buffer. Printed: time per epoch, speed-up over
one rank, the all-reduce's share of a step.

Then a model on paper (not measured here): a step of N GPUs on a global batch B costs
``t(B/N) + allreduce(N)``, with ``t`` the measured single-GPU step of
``benchmarks/results/2026-11-23_h100_step.json`` (H100, the first engine) scaled by the share of
the batch, and a ring all-reduce of P float32 parameters in ``2 (N-1)/N * 4P / bandwidth + 2 (N-1)
latency``, for NVLink (bus bandwidth and latency given as options) and for machines joined by
InfiniBand.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def worker(args):
    sys.path.insert(0, ROOT)
    import gpubp
    from gpubp import distributed
    from mpi4py import MPI

    comm = distributed.MPIComm()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    M = args.examples
    X = rng.normal(size=(sizes[0], M)).astype(np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[:, rng.integers(0, sizes[-1], M)]
    net = gpubp.Network(sizes, activation="relu", output="softmax", loss="cross_entropy",
                        dtype="float32", device="cpu", seed=0)
    net.fit(X, Y, epochs=1, batch_size=args.batch, comm=comm)  # warm-up
    times = []
    for _ in range(args.epochs):
        comm.comm.Barrier()
        t = time.perf_counter()
        net.fit(X, Y, epochs=1, batch_size=args.batch, comm=comm)
        comm.comm.Barrier()
        times.append(time.perf_counter() - t)
    flat = net.grads.flat
    reduce_times = []
    for _ in range(20):
        comm.comm.Barrier()
        t = time.perf_counter()
        comm.allreduce(flat)
        reduce_times.append(time.perf_counter() - t)
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "epoch_s": statistics.median(times),
                          "epoch_min": min(times), "epoch_max": max(times),
                          "allreduce_s": statistics.median(reduce_times) if comm.size > 1 else 0.0,
                          "steps": -(-M // args.batch), "params": int(flat.size)}))
    MPI.COMM_WORLD.Barrier()


def ring(n, nbytes, bandwidth, latency):
    return 0.0 if n == 1 else 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--sizes", default="784,1024,1024,10")
    p.add_argument("--batch", type=int, default=1024, help="the global batch (default 1024)")
    p.add_argument("--examples", type=int, default=8192)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--nvlink-gbs", type=float, default=450.0,
                   help="NVLink all-reduce bus bandwidth in GB/s for the model (default 450)")
    p.add_argument("--nvlink-latency-us", type=float, default=8.0)
    p.add_argument("--ib-gbs", type=float, default=25.0,
                   help="inter-machine bandwidth in GB/s for the model (default 25: 200 Gb/s)")
    p.add_argument("--ib-latency-us", type=float, default=20.0)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", GPUBP_DEVICE="cpu")
    print(f"# {datetime.date.today()} {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}; OPENBLAS_NUM_THREADS=1 per rank; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"# command: python benchmarks/bench_scaling.py --ranks {args.ranks} --sizes {args.sizes} "
          f"--batch {args.batch} --examples {args.examples} --epochs {args.epochs}")
    print(f"# network {args.sizes}, relu, softmax + cross_entropy, Adam, float32; global batch "
          f"{args.batch}, {args.examples} examples; median of {args.epochs} epochs after one")
    print(f"{'ranks':>5} {'s/epoch':>9} {'spread':>17} {'speed-up':>9} {'allreduce ms':>13} "
          f"{'its share':>10}")
    rows = []
    for n in [int(r) for r in args.ranks.split(",")]:
        cmd = [mpiexec, "-n", str(n), sys.executable, os.path.abspath(__file__), "--worker",
               "--sizes", args.sizes, "--batch", str(args.batch), "--examples", str(args.examples),
               "--epochs", str(args.epochs)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        step = row["epoch_s"] / row["steps"]
        print(f"{n:>5} {row['epoch_s']:>9.3f} {row['epoch_min']:>8.3f}-{row['epoch_max']:<8.3f} "
              f"{rows[0]['epoch_s'] / row['epoch_s']:>9.2f} {1e3 * row['allreduce_s']:>13.3f} "
              f"{row['allreduce_s'] / step:>10.1%}")

    # ---- the model of 8 GPUs ----
    P = rows[0]["params"]
    with open(os.path.join(HERE, "results", "2026-11-23_h100_step.json")) as f:
        h100 = {(tuple(r["sizes"]), r["m"]): r["gpubp_ms"] / 1e3 for r in json.load(f)["rows"]}
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(f"\n# model (not measured): {P} float32 parameters ({4 * P / 1e6:.1f} MB); ring all-reduce; "
          f"NVLink {args.nvlink_gbs:g} GB/s, {args.nvlink_latency_us:g} us; InfiniBand "
          f"{args.ib_gbs:g} GB/s, {args.ib_latency_us:g} us; the step of a GPU's share scaled "
          f"from the measured H100 step (first engine)")
    for (s, m), t1 in sorted(h100.items()):
        if s != sizes:
            continue
        print(f"# global batch {m}: one H100 step {1e3 * t1:.3f} ms")
        for n in (1, 2, 4, 8):
            compute = t1 / n  # optimistic: the share's step scales with its columns
            nv = ring(n, 4 * P, args.nvlink_gbs * 1e9, args.nvlink_latency_us * 1e-6)
            ib = ring(n, 4 * P, args.ib_gbs * 1e9, args.ib_latency_us * 1e-6)
            print(f"#   {n} GPUs: NVLink step {1e3 * (compute + nv):.3f} ms (speed-up "
                  f"{t1 / (compute + nv):.2f}, all-reduce {nv / (compute + nv):.0%}); across "
                  f"machines {1e3 * (compute + ib):.3f} ms (speed-up {t1 / (compute + ib):.2f})")


if __name__ == "__main__":
    main()
