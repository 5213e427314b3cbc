"""Script of record: gpubp.sklearn.MLPClassifier against sklearn.neural_network.MLPClassifier on
the digits, the same fit in the same run.

    python benchmarks/bench_sklearn_digits.py [--max-iter 200] [--repeats 7] [--quick]

The problem: ``sklearn.datasets.load_digits`` (1797 images, 64 features, 10 classes), a stratified
75/25 split (``random_state=0``), ``StandardScaler`` fitted on the training part. Both estimators
get the same parameters: ``hidden_layer_sizes=(100,)``, relu, ``solver="adam"``,
``batch_size=200``, ``max_iter`` epochs, ``tol=0`` and ``n_iter_no_change=max_iter`` so that the
stopping rule never fires and both run exactly ``max_iter`` epochs (checked: ``n_iter_``), the
same ``random_state`` (the same initialization), shuffling on.

Timed: ``fit`` (a new estimator each time), each configuration warmed up once, then ``--repeats``
rounds in which the configurations alternate (so that a slow spell of the machine falls on all of
them alike); medians, min-max spread, and the ratios of the medians. Configurations:

- ``sklearn f64``: scikit-learn on the float64 data (its default);
- ``sklearn f32``: scikit-learn on float32 data (it then computes in float32);
- ``gpubp f64``: ``dtype="float64"`` (the default);
- ``gpubp f32``: ``dtype="float32"``.

Then where gpubp's time goes, per batch of 200 (``--no-breakdown`` skips it): the matrix products
of one training step alone (the floor of any implementation that does the same products, gpubp's
or scikit-learn's), gpubp's ``plan`` stages (stage, forward, cost, backward, step), and what fit
adds around them.
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

from gpubp import backend


def machine():
    """Lines on the machine, the versions and the BLAS, and the OPENBLAS_* variables."""
    import importlib.metadata

    import sklearn

    # without importing gpubp.fused: that would load the loops, which a fit of digits' size
    # never loads in a fresh process (gpubp.kernels.FUSED_WORK)
    try:
        numba = f"numba {importlib.metadata.version('numba')}"
    except importlib.metadata.PackageNotFoundError:
        numba = "numba not installed"
    loaded = "gpubp.fused" in sys.modules
    lines = [f"# {datetime.date.today()}  {platform.node()}  {platform.machine()}  "
             f"{platform.processor() or ''}  {os.cpu_count()} logical CPUs",
             f"# python {platform.python_version()}; numpy {np.__version__}; "
             f"scikit-learn {sklearn.__version__}; gpubp device cpu; {numba}, fused loops "
             f"{'loaded' if loaded else 'not loaded'} when this line was written; GPUBP_FUSED="
             f"{os.environ.get('GPUBP_FUSED', '(unset)')}"]
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), None)
        if model:
            lines.append(f"# cpu: {model}")
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        for p in threadpool_info():
            lines.append(f"# {p.get('user_api')}: {p.get('internal_api')} {p.get('version')} "
                         f"threads={p.get('num_threads')} arch={p.get('architecture')} "
                         f"({os.path.basename(p.get('filepath', ''))})")
    except ImportError:
        lines.append("# threadpoolctl not installed: BLAS unknown")
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}
    lines.append("# env: " + (" ".join(f"{k}={v}" for k, v in sorted(env.items())) or
                              "no OPENBLAS_*/OMP_*/MKL_* variables"))
    return lines


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def configurations(args):
    from sklearn.neural_network import MLPClassifier as SkMLP

    from gpubp.sklearn import MLPClassifier

    common = dict(hidden_layer_sizes=(args.hidden,), activation="relu", solver="adam",
                  batch_size=args.batch_size, max_iter=args.max_iter, tol=0.0,
                  n_iter_no_change=args.max_iter, random_state=args.seed, shuffle=True)
    return {
        "sklearn f64": (lambda: SkMLP(**common), np.float64),
        "sklearn f32": (lambda: SkMLP(**common), np.float32),
        "gpubp f64": (lambda: MLPClassifier(**common, dtype="float64", device="cpu"), np.float64),
        "gpubp f32": (lambda: MLPClassifier(**common, dtype="float32", device="cpu"), np.float64),
    }


def time_fits(args, data):
    Xtr, Xte, ytr, yte = data
    configs = configurations(args)
    times = {name: [] for name in configs}
    accuracy, epochs = {}, {}

    def one(name):
        make, dtype = configs[name]
        X = Xtr.astype(dtype)
        est = make()
        t0 = time.perf_counter()
        est.fit(X, ytr)
        dt = time.perf_counter() - t0
        accuracy[name] = est.score(Xte.astype(dtype), yte)
        epochs[name] = est.n_iter_
        return dt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is reached on purpose
        for name in configs:             # warm-up: imports, BLAS threads, first plans
            one(name)
        for r in range(args.repeats):
            order = list(configs) if r % 2 == 0 else list(reversed(configs))
            for name in order:
                times[name].append(one(name))
    return times, accuracy, epochs


def per_batch(fn, n=300, rounds=5):
    """Median over ``rounds`` of the mean microseconds of ``fn()`` over ``n`` calls."""
    fn()
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(out)


def breakdown(args, data, dtype, fit_seconds):
    """Where gpubp's time per batch goes, in microseconds (``fit_seconds``: the median fit)."""
    import gpubp
    from gpubp.sklearn import SklearnAdam

    Xtr, _, ytr, _ = data
    n0, m, M = Xtr.shape[1], args.batch_size, Xtr.shape[0]
    net = gpubp.Network([n0, args.hidden, 10], activation="relu", output="softmax",
                        loss="cross_entropy", dtype=dtype, device="cpu", seed=0)
    X = np.ascontiguousarray(Xtr.T, dtype=dtype)
    Y = np.ascontiguousarray(np.eye(10, dtype=dtype)[ytr].T)
    plan, opt = net.plan(m), SklearnAdam(1e-3)
    idx = np.random.default_rng(0).permutation(M)[:m]
    stage = lambda: plan.stage({"X": X}, {"A[2]": Y}, columns=idx)  # noqa: E731
    stage()
    l2 = 1e-4
    parts = {
        "stage (gather the batch)": stage,
        "forward": plan.forward,
        "cost (+ l2 penalty)": lambda: plan.cost(l2),
        "backward (+ l2 gradient)": lambda: plan.backward(None, l2),
        "step (Adam)": lambda: plan.step(opt),
    }
    rows = [(k, per_batch(f)) for k, f in parts.items()]
    whole = per_batch(lambda: (stage(), plan.train_step(opt, l2=l2)))
    # the floor: the step's matrix products alone, into kept outputs
    B1, B2 = plan.buffers["A[1]"], plan.buffers["A[2]"]
    W1, W2, ones = net.W[1], net.W[2], plan.ones
    A0 = plan.X["X"]
    dW1, dW2, db1, db2 = (np.empty_like(a) for a in (W1, W2, net.b[1], net.b[2]))
    dA1 = np.empty_like(B1.A)
    products = [(W1, A0, B1.Z), (W2, B1.A, B2.Z), (B2.dZ, B1.A.T, dW2), (B2.dZ, ones, db2),
                (W2.T, B2.dZ, dA1), (B1.dZ, A0.T, dW1), (B1.dZ, ones, db1)]
    floor = per_batch(lambda: [np.matmul(a, b, out=c) for a, b, c in products])
    batches = args.max_iter * -(-M // m)
    in_fit = fit_seconds / batches * 1e6
    lines = [f"# where gpubp {np.dtype(dtype).name} spends a batch of {m} (microseconds; "
             f"{batches} batches per fit)"]
    lines += [f"#   {k:28s} {v:8.1f}" for k, v in rows]
    lines.append(f"#   {'stage + train_step':28s} {whole:8.1f}")
    lines.append(f"#   {'fit, per batch':28s} {in_fit:8.1f}   (fit adds {in_fit - whole:.1f}: "
                 f"the loop, validation of the data, the estimator's bookkeeping)")
    lines.append(f"#   {'floor: the 7 products alone':28s} {floor:8.1f}   "
                 f"({floor / in_fit:.0%} of fit's time per batch)")
    return lines, floor * batches / 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-iter", type=int, default=200, help="epochs of every fit (default 200)")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    p.add_argument("--seed", type=int, default=0, help="random_state of both estimators")
    p.add_argument("--quick", action="store_true", help="20 epochs, 3 rounds: a smoke run")
    p.add_argument("--no-breakdown", action="store_true", help="skip the per-batch breakdown")
    p.add_argument("--load-loops", action="store_true",
                   help="load the fused loops (numba) before the fits, as a process that has run "
                        "a long fit has them; by default a fit of digits' size never loads them "
                        "(gpubp.kernels.FUSED_WORK)")
    args = p.parse_args(argv)
    if args.load_loops:
        from gpubp import fused  # noqa: F401  (loaded: every fit's plans bind the loops)
    if args.quick:
        args.max_iter, args.repeats = 20, 3
    if backend.resolve("cpu") != "cpu":
        raise SystemExit("the CPU backend is not available")

    print("\n".join(machine()))
    print(f"# command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# fused loops loaded before the fits: {'yes' if args.load_loops else 'no'}")
    data = digits()
    print(f"# digits: {len(data[2])} training / {len(data[3])} test examples, 64 features, "
          f"10 classes; MLP (64, {args.hidden}, 10) relu, adam, batch {args.batch_size}, "
          f"{args.max_iter} epochs (tol=0, n_iter_no_change=max_iter), random_state={args.seed}")
    times, accuracy, epochs = time_fits(args, data)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"# fit seconds over {args.repeats} alternating rounds after one warm-up each")
    print(f"{'configuration':14s} {'median s':>9s} {'min-max':>15s} {'epochs':>6s} {'test acc':>8s}")
    for k, v in times.items():
        print(f"{k:14s} {med[k]:9.4f} {min(v):7.4f}-{max(v):<7.4f} {epochs[k]:6d} "
              f"{accuracy[k]:8.4f}")
    ratios = [("sklearn f64", "gpubp f64"), ("sklearn f64", "gpubp f32"),
              ("sklearn f32", "gpubp f32")]
    print("# speedup = median sklearn fit / median gpubp fit")
    for a, b in ratios:
        print(f"speedup {a} / {b}: {med[a] / med[b]:.2f}x")
    same_epochs = len(set(epochs.values())) == 1 and args.max_iter in epochs.values()
    print(f"# every fit ran {args.max_iter} epochs: {'yes' if same_epochs else 'NO: ' + str(epochs)}")
    best = max(med[a] / med[b] for a, b in ratios[:2])
    print(f"# criteria: gpubp test accuracy >= 0.97: "
          f"{'PASS' if min(accuracy['gpubp f64'], accuracy['gpubp f32']) >= 0.97 else 'FAIL'}"
          f" ({accuracy['gpubp f64']:.4f} f64, {accuracy['gpubp f32']:.4f} f32); "
          f"gpubp fit >= 3x faster than sklearn's (its default f64): "
          f"{'PASS' if best >= 3 else 'FAIL'} (best {best:.2f}x)")
    if not args.no_breakdown:
        for dtype, name in ((np.float64, "gpubp f64"), (np.float32, "gpubp f32")):
            lines, floor_s = breakdown(args, data, dtype, med[name])
            print("\n".join(lines))
            sk = "sklearn f64" if dtype == np.float64 else "sklearn f32"
            print(f"#   the products alone take {floor_s:.4f} s per fit in {np.dtype(dtype).name}:"
                  f" {sk} at {med[sk]:.4f} s can be beaten by at most "
                  f"{med[sk] / floor_s:.2f}x in that dtype (sklearn f64 by "
                  f"{med['sklearn f64'] / floor_s:.2f}x)")


if __name__ == "__main__":
    main()
