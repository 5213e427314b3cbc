"""Script of record: ``solver="lbfgs"`` of gpubp.sklearn against scikit-learn's, the same fits in
the same run, on breast_cancer and on the digits.

    python benchmarks/bench_sklearn_lbfgs.py [--repeats 7] [--max-iter 200] [--out FILE]

The problems: ``load_breast_cancer`` (569 x 30, two classes) and ``load_digits`` (1797 x 64, ten
classes), each split 75/25 (stratified, ``random_state=0``) and scaled with a ``StandardScaler``
fitted on the training part. Both estimators get the same parameters: ``hidden_layer_sizes=
(100,)``, relu, ``solver="lbfgs"``, ``max_iter``, ``alpha=1e-4``, ``tol=1e-4``, ``max_fun=15000``
and the same ``random_state`` (so the same initial coefficients), float64, gpubp on the CPU.

Timed: ``fit`` (a new estimator each time), each configuration warmed up once, then
``--repeats`` rounds in which the configurations alternate (a slow spell of a shared machine
falls on all of them alike); medians, min-max spread, the ratio of the medians, and for each the
test accuracy, ``n_iter_`` and ``loss_`` (the same path gives the same numbers).
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_sklearn_digits


def machine():
    """Comment lines naming the machine, the versions and the BLAS (bench_sklearn_digits.py's),
    with SciPy's version and the load at the start."""
    import scipy
    from bench_sklearn_digits import machine as described

    lines = described() + [f"# scipy {scipy.__version__}"]
    try:
        lines.append(f"# load average at the start: {os.getloadavg()[0]:.2f}")
    except OSError:
        pass
    return lines


def problems():
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    out = {}
    for name, load in (("breast_cancer", load_breast_cancer), ("digits", load_digits)):
        X, y = load(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        scaler = StandardScaler().fit(Xtr)
        out[name] = scaler.transform(Xtr), scaler.transform(Xte), ytr, yte
    return out


def configurations(max_iter):
    from sklearn.neural_network import MLPClassifier as SkMLP

    from gpubp.sklearn import MLPClassifier

    common = dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=max_iter, alpha=1e-4,
                  tol=1e-4, random_state=0)
    return {"sklearn lbfgs": lambda: SkMLP(**common),
            "gpubp lbfgs": lambda: MLPClassifier(**common, device="cpu")}


def timed_fit(make, Xtr, ytr):
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: both alike
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        return time.perf_counter() - t0, est


def run(args):
    lines = machine()
    lines.append(f"# fit of MLPClassifier(hidden_layer_sizes=(100,), solver='lbfgs', "
                 f"max_iter={args.max_iter}, alpha=1e-4, tol=1e-4, random_state=0), float64; "
                 f"{args.repeats} interleaved rounds after one warm-up each; seconds")
    configs = configurations(args.max_iter)
    for problem, (Xtr, Xte, ytr, yte) in problems().items():
        times, fitted = {name: [] for name in configs}, {}
        for name, make in configs.items():          # warm-up
            fitted[name] = timed_fit(make, Xtr, ytr)[1]
        for _ in range(args.repeats):
            for name, make in configs.items():
                t, fitted[name] = timed_fit(make, Xtr, ytr)
                times[name].append(t)
        lines.append(f"{problem} ({Xtr.shape[0]} train x {Xtr.shape[1]} features, "
                     f"{len(np.unique(ytr))} classes)")
        for name in configs:
            est, ts = fitted[name], times[name]
            lines.append(f"  {name:<14} median {statistics.median(ts):8.4f}  "
                         f"[{min(ts):.4f}, {max(ts):.4f}]  accuracy "
                         f"{est.score(Xte, yte):.4f}  n_iter_ {est.n_iter_:4d}  "
                         f"loss_ {est.loss_:.6e}")
        ratio = statistics.median(times["sklearn lbfgs"]) / statistics.median(times["gpubp lbfgs"])
        lines.append(f"  sklearn / gpubp (medians): {ratio:.2f}x")
    return lines


def record(run, parser, argv):
    """Parse ``argv`` (with ``--out``), ``run(args)``, print its lines, and write them to
    ``--out`` if given: the main of the scikit-learn benchmarks."""
    parser.add_argument("--out", help="also write the lines to this file")
    args = parser.parse_args(argv)
    lines = run(args)
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-iter", type=int, default=200)
    record(run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
