"""Script of record: one training step (forward + backward + update) against its matrix-multiply
floor and against PyTorch, side by side in one run.

    python benchmarks/bench_step.py [--device cpu|gpu] [--dtype float32] [--quick] [--json out.json]

For each network size it times, each after a warm-up, as the median of ``--repeats`` runs:

- ``gpubp``: ``plan.train_step`` of a ``Network`` (Adam, cost not computed), the whole step;
- ``floor``: the same step's matrix products alone, into preallocated outputs (forward
  ``W[l] A[l-1]``; backward ``dZ[l] A[l-1]^T``, ``dZ[l] 1^T`` and ``W[l]^T dZ[l]``): no version of
  the step can be faster than its products;
- ``torch``: the same network in PyTorch (``nn.Linear`` + activation, Adam, ``loss.backward()``),
  if PyTorch is importable, on the same device and dtype.

Ratios are ``gpubp / floor`` and ``gpubp / torch`` (below 1: gpubp faster).
"""

import argparse
import datetime
import json
import platform
import statistics
import time

import numpy as np

import gpubp
from gpubp import backend, optim


def timer(xp, fn, repeats, warmup=3):
    """Median seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs (device synced)."""
    for _ in range(warmup):
        fn()
    backend.synchronize(xp)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        backend.synchronize(xp)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor_step(net, plan):
    xp = net.xp
    mats = []  # (a, b, out) of every product in a training step
    A_prev = plan.X["X"]
    for l in range(1, net.L + 1):
        B = plan.buffers[f"A[{l}]"]
        mats.append((net.W[l], A_prev, B.Z))
        mats.append((B.dZ, A_prev.T, xp.empty_like(net.W[l])))
        mats.append((B.dZ, plan.ones, xp.empty_like(net.b[l])))
        if l > 1:
            mats.append((net.W[l].T, B.dZ, xp.empty_like(A_prev)))
        A_prev = B.A

    def run():
        for a, b, out in mats:
            xp.matmul(a, b, out=out)
    return run


def torch_step(sizes, act, dtype, device, m, seed):
    try:
        import torch
    except ImportError:
        return None, "PyTorch not installed"
    dev = "cuda" if device == "gpu" else "cpu"
    if dev == "cuda" and not torch.cuda.is_available():
        return None, "PyTorch sees no CUDA device"
    torch.manual_seed(seed)
    tdtype = getattr(torch, dtype)
    layers = []
    for l in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[l - 1], sizes[l]))
        if l < len(sizes) - 1:
            layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[act]())
    model = torch.nn.Sequential(*layers).to(dev, tdtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X = torch.randn(m, sizes[0], device=dev, dtype=tdtype)  # torch: rows are examples
    y = torch.randint(0, sizes[-1], (m,), device=dev)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        opt.zero_grad(set_to_none=False)
        loss_fn(model(X), y).backward()
        opt.step()

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()
    return (run, sync), f"torch {torch.__version__}"


def bench(sizes, m, act, dtype, device, repeats, seed=0):
    net = gpubp.Network(sizes, activation=act, output="softmax", loss="cross_entropy",
                        dtype=dtype, device=device, seed=seed)
    rng = np.random.default_rng(seed)
    Y = np.zeros((sizes[-1], m))
    Y[rng.integers(0, sizes[-1], m), np.arange(m)] = 1
    plan = net.plan(m)
    plan.stage(net.check_inputs(rng.normal(size=(sizes[0], m))), net.check_targets(Y, m))
    opt = optim.Adam(1e-3)
    xp = net.xp
    t_step = timer(xp, lambda: plan.train_step(opt, cost=False), repeats)
    t_floor = timer(xp, floor_step(net, plan), repeats)
    row = dict(sizes=list(sizes), m=m, activation=act, dtype=dtype, device=net.device,
               gpubp_ms=1e3 * t_step, floor_ms=1e3 * t_floor, ratio_floor=t_step / t_floor)
    flops = 6 * m * sum(sizes[l - 1] * sizes[l] for l in range(1, len(sizes)))
    row["gpubp_tflops"] = flops / t_step / 1e12
    torch_fns, torch_info = torch_step(sizes, act, dtype, net.device, m, seed)
    if torch_fns is not None:
        run, sync = torch_fns
        for _ in range(3):
            run()
        sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            sync()
            times.append(time.perf_counter() - t0)
        t_torch = statistics.median(times)
        row.update(torch_ms=1e3 * t_torch, ratio_torch=t_step / t_torch)
    row["torch"] = torch_info
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu, gpu or auto (default: GPUBP_DEVICE or auto)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--activation", default="relu")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="two small sizes, 10 repeats")
    p.add_argument("--json", help="write the rows and the machine description here")
    args = p.parse_args(argv)
    device = backend.resolve(args.device)
    if args.quick:
        cases = [([784, 256, 10], 256), ([784, 1024, 1024, 10], 1024)]
        repeats = 10
    elif device == "gpu":
        cases = [([784, 256, 10], 256), ([784, 1024, 1024, 10], 1024), ([784, 1024, 1024, 10], 8192),
                 ([1024, 4096, 4096, 4096, 1024], 8192)]
        repeats = args.repeats
    else:
        cases = [([784, 256, 10], 256), ([784, 1024, 1024, 10], 1024), ([784, 1024, 1024, 10], 4096)]
        repeats = args.repeats
    rows = [bench(s, m, args.activation, args.dtype, device, repeats) for s, m in cases]
    print(f"# {datetime.date.today()} {platform.node()}\n# " + backend.describe().replace("\n", "\n# "))
    print(f"{'sizes':<30} {'m':>6} {'gpubp ms':>9} {'floor ms':>9} {'/floor':>7} {'torch ms':>9} "
          f"{'/torch':>7} {'TFLOP/s':>8}")
    for r in rows:
        print(f"{str(r['sizes']):<30} {r['m']:>6} {r['gpubp_ms']:>9.3f} {r['floor_ms']:>9.3f} "
              f"{r['ratio_floor']:>7.2f} {r.get('torch_ms', float('nan')):>9.3f} "
              f"{r.get('ratio_torch', float('nan')):>7.2f} {r['gpubp_tflops']:>8.2f}")
    print(f"# {rows[0]['dtype']}, activation {args.activation}, softmax + cross_entropy, Adam; "
          f"median of {repeats}; {rows[0]['torch']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(date=str(datetime.date.today()), machine=backend.describe(), rows=rows), f,
                      indent=1)


if __name__ == "__main__":
    main()
