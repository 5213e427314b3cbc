"""Script of record: how far the device drifts from the host over training steps.

    python benchmarks/parity_drift.py [--steps 50]

For every hidden activation x (output, loss) pair, the same network (sizes 7-16-9-3, seed 0,
Adam lr 1e-2, m = 64) is trained on the host (NumPy) and on the GPU (CuPy) side by side; after
step 1 and after the last step it prints the largest relative difference of any parameter,
``max |W_gpu - W_cpu| / max |W_cpu|``, in float64 and float32. These are the measurements behind
the bounds of ``tests/test_gpu.py::test_training_steps``.
"""

import argparse

import numpy as np

import gpubp
from gpubp import backend, optim

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
# every defined pair: squared errors with any output; bce and cross_entropy with their canonical one
PAIRS = [(out, loss) for loss in ("mse", "sse", "half_sse")
         for out in ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")] + \
    [("sigmoid", "bce"), ("softmax", "cross_entropy")]


def targets(rng, loss, n, m):
    if loss == "cross_entropy":
        Y = rng.uniform(0.05, 1, (n, m))
        return Y / Y.sum(axis=0, keepdims=True)
    return rng.uniform(0, 1, (n, m)) if loss == "bce" else rng.normal(0, 1, (n, m))


def drift(act, out, loss, dtype, steps, m=64):
    rng = np.random.default_rng(1)
    host = gpubp.Network([7, 16, 9, 3], activation=act, output=out, loss=loss, dtype=dtype,
                         device="cpu", seed=0)
    dev = host.copy(device="gpu")
    X, Y = rng.normal(0, 1.5, (7, m)), targets(rng, loss, 3, m)
    plans = []
    for net in (host, dev):
        plan = net.plan(m)
        plan.stage(net.check_inputs(X), net.check_targets(Y, m))
        plans.append(plan)
    oh, od = optim.Adam(1e-2), optim.Adam(1e-2)
    out_rows = {}
    for step in range(1, steps + 1):
        plans[0].train_step(oh, cost=False)
        plans[1].train_step(od, cost=False)
        if step in (1, steps):
            out_rows[step] = max(float(np.abs(backend.to_host(pd) - ph).max() / np.abs(ph).max())
                                 for ph, pd in zip(host.params.values(), dev.params.values()))
    return out_rows[1], out_rows[steps]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args()
    try:
        backend.resolve("gpu")
    except gpubp.DeviceError as e:  # a script for a GPU machine: one line, no traceback
        raise SystemExit(f"parity_drift.py compares the GPU with the host and needs a GPU: {e}")
    print(backend.describe())
    worst = {}
    print(f"{'activation':<11} {'output':<11} {'loss':<14} {'f64 step 1':>11} {'f64 last':>11} "
          f"{'f32 step 1':>11} {'f32 last':>11}")
    for act in HIDDEN:
        for out, loss in PAIRS:
            row = []
            for dtype in ("float64", "float32"):
                first, last = drift(act, out, loss, dtype, args.steps)
                row += [first, last]
                worst[dtype] = max(worst.get(dtype, (0, 0)), (first, last), key=lambda t: t[1])
                worst[dtype + "_first"] = max(worst.get(dtype + "_first", 0), first)
            print(f"{act:<11} {out:<11} {loss:<14} " + " ".join(f"{v:>11.2e}" for v in row))
    print(f"worst float64: step 1 {worst['float64_first']:.2e}, step {args.steps} {worst['float64'][1]:.2e}")
    print(f"worst float32: step 1 {worst['float32_first']:.2e}, step {args.steps} {worst['float32'][1]:.2e}")


if __name__ == "__main__":
    main()
