"""Script of record (issue 9): the tiny network's step written out by hand in NumPy, the least
Python a NumPy step can have, beside gpubp's plan step and fit loop, in one process.

    python benchmarks/tiny_by_hand.py [--rounds 15]

The network is bench_step.py's tiny one (2-3-2, sigmoid, bce, m = 4, SGD lr 0.01, float32).
``by_hand`` is one Python function making the same NumPy calls gpubp's step makes (gather the
batch, forward, bce from the logits, backward, update): no dispatch, no checks, every buffer a
global. It is first checked against gpubp's own step on the same batch (the same parameters to
float32 rounding), then the three are timed in alternating rounds. With NumPy alone, no step
can do much better than ``by_hand``: it is the cost of NumPy's calls on arrays this small.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import gpubp  # noqa: E402

F = np.float32
M, M_BATCH, LR = 256, 4, F(0.01)


def by_hand_step(net, X_all, Y_all):
    """The step of ``net`` (2-3-2) written out; returns ``step(columns)`` and the cost total."""
    W1, b1, W2, b2 = (net.params[k] for k in ("W[1]", "b[1]", "W[2]", "b[2]"))
    m = M_BATCH
    X, Y = np.empty((m, 2), F).T, np.empty((2, m), F)
    Z1, A1, Z2, A2, dZ2, dZ1, s1, s2 = (np.empty(s, F) for s in [(3, m), (3, m), (2, m), (2, m),
                                                                   (2, m), (3, m), (2, m), (2, m)])
    gW1, gW2, gb1, gb2 = (np.empty_like(p) for p in (W1, W2, b1, b2))
    ones, c = np.ones((m, 1), F), F(1 / m)
    total = np.zeros((), F)
    over = {"over": "ignore"}

    def step(columns):
        X_all.T.take(columns, 0, X.T, "clip")                    # gather the batch
        Y_all.take(columns, 1, Y, "clip")
        np.matmul(W1, X, out=Z1)                                 # A1 = sigmoid(W1 X + b1)
        np.add(Z1, b1, out=A1)
        with np.errstate(**over):
            np.negative(A1, out=A1)
            np.exp(A1, out=A1)
        np.add(A1, 1, out=A1)
        np.reciprocal(A1, out=A1)
        np.matmul(W2, A1, out=Z2)                                # Z2 = W2 A1 + b2, A2 = sigmoid
        np.add(Z2, b2, out=Z2)
        with np.errstate(**over):
            np.negative(Z2, out=A2)
            np.exp(A2, out=A2)
        np.add(A2, 1, out=A2)
        np.reciprocal(A2, out=A2)
        np.maximum(Z2, 0, out=s1)                                # bce from the logits
        np.subtract(s1, np.multiply(Z2, Y, out=s2), out=s1)
        np.abs(Z2, out=s2)
        np.negative(s2, out=s2)
        np.exp(s2, out=s2)
        np.add(s1, np.log1p(s2, out=s2), out=s1)
        np.add(total, s1.sum() / m * m, out=total)
        np.subtract(A2, Y, out=dZ2)                              # dZ2 = (A2 - Y) / m
        np.multiply(dZ2, c, out=dZ2)
        np.matmul(dZ2, A1.T, out=gW2)
        np.matmul(dZ2, ones, out=gb2)
        np.matmul(W2.T, dZ2, out=Z1)                             # dA1, in Z1
        np.subtract(1, A1, out=dZ1)                              # dZ1 = dA1 * A1 (1 - A1)
        np.multiply(dZ1, A1, out=dZ1)
        np.multiply(dZ1, Z1, out=dZ1)
        np.matmul(dZ1, X.T, out=gW1)
        np.matmul(dZ1, ones, out=gb1)
        for w, g in ((W1, gW1), (W2, gW2), (b1, gb1), (b2, gb2)):  # SGD
            np.subtract(w, np.multiply(g, LR, out=g), out=w)
    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=2000)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    X_all = np.asfortranarray(rng.standard_normal((2, M)).astype(F))
    Y_all = rng.integers(0, 2, (2, M)).astype(F)
    nets = [gpubp.Network([2, 3, 2], activation="sigmoid", output="sigmoid", loss="bce",
                          dtype="float32", device="cpu", seed=0) for _ in range(3)]
    hand, plan_net, fit_net = nets
    columns = rng.permutation(M)[:M_BATCH]

    # the same numbers: one step by hand and one gpubp step, on the same batch
    by_hand = by_hand_step(hand, X_all, Y_all)
    by_hand(columns)
    plan = plan_net.plan(M_BATCH)
    opt = gpubp.optim.get("sgd", float(LR))
    Xs = {k: np.asfortranarray(v) for k, v in plan_net.check_inputs(X_all).items()}
    Ys = plan_net.check_targets(Y_all, M)  # as fit holds them
    plan.stage(Xs, Ys, columns=columns)
    plan.train_step(opt)
    gap = max(float(np.abs(hand.params[k] - plan_net.params[k]).max()) for k in hand.params)
    assert gap < 1e-6, f"the step by hand is not gpubp's step (largest difference {gap})"

    total = np.zeros((), F)

    def plan_step(columns):
        nonlocal total
        plan.stage(Xs, Ys, columns=columns)
        total += plan.train_step(opt) * M_BATCH

    batches = [rng.permutation(M)[:M_BATCH] for _ in range(64)]

    def run(step):
        def call():
            for i in range(args.steps):
                step(batches[i % 64])
            return args.steps
        return call

    epochs = max(1, args.steps // (M // M_BATCH))

    def fit_call():
        fit_net.fit(X_all, Y_all, epochs=epochs, batch_size=M_BATCH, optimizer="sgd",
                    lr=float(LR))
        return epochs * (M // M_BATCH)

    runners = {"by hand": run(by_hand), "gpubp plan step": run(plan_step), "gpubp fit": fit_call}
    times = {k: [] for k in runners}
    for r in range(args.rounds):
        names = list(runners)[r % 3:] + list(runners)[:r % 3]
        for name in names:
            runners[name]()  # warm-up
            t0 = time.perf_counter()
            steps = runners[name]()
            times[name].append((time.perf_counter() - t0) / steps)
    print(f"# tiny_by_hand.py: numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores; {args.rounds} alternating rounds of {args.steps} steps; "
          f"largest parameter difference after one step, by hand against gpubp: {gap:.2g}")
    base = times["by hand"]
    for name, v in times.items():
        ratio = statistics.median(a / b for a, b in zip(v, base))
        print(f"{name:<16} {1e6 * statistics.median(v):6.1f} us a step "
              f"(spread {1e6 * min(v):.1f}-{1e6 * max(v):.1f}), {ratio:.2f}x by hand")


if __name__ == "__main__":
    main()
