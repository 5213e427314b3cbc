"""Script of record: a TF-IDF text pipeline, gpubp.sklearn's MLPClassifier against scikit-learn's
on sparse X, the same fits in the same run.

    python benchmarks/bench_sklearn_tfidf.py [--repeats 5] [--max-iter 15] [--docs 10000] [--out F]

The problem (generated, so it needs no download): 20 categories of short documents (20 to 60
words each). A vocabulary of 40,000 words is drawn from by Zipf's law; each category also has
300 words of its own, from which one in ten of its documents' words comes (so that the test
accuracy is not near 1). ``TfidfVectorizer
(max_features=20000)`` makes X (CSR, about 40 stored entries per row); a stratified 75/25 split
(``random_state=0``).

The pipeline, for both: ``make_pipeline(TfidfVectorizer(max_features=20000), MLPClassifier(
hidden_layer_sizes=(100,), solver="adam", max_iter, tol=0, n_iter_no_change=max_iter,
random_state=0))`` (the stopping rule never fires: both run exactly ``max_iter`` epochs, checked
with ``n_iter_``), gpubp on the CPU, float64 (TfidfVectorizer's dtype, which both follow).

Timed: the pipeline's ``fit`` on the training texts (a new pipeline each time), each warmed up
once, then ``--repeats`` rounds in which the two alternate; medians, min-max spread, the ratio of
the medians, and the test accuracy of each. The vectorizer's own fit_transform is timed in the
same rounds (it is the same code in both pipelines).
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_sklearn_digits


def texts(n_docs, n_classes=20, vocabulary=40000, own=300, seed=0):
    """``(documents, labels)``: ``n_docs`` short texts of ``n_classes`` categories."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(vocabulary)])
    zipf = 1.0 / np.arange(1, vocabulary + 1)
    zipf /= zipf.sum()
    topics = rng.choice(vocabulary, size=(n_classes, own), replace=False)
    labels = rng.integers(0, n_classes, n_docs)
    docs = []
    for c in labels:
        k = int(rng.integers(20, 61))
        n_topic = rng.binomial(k, 0.1)
        picked = np.concatenate([rng.choice(topics[c], n_topic),
                                 rng.choice(vocabulary, k - n_topic, p=zipf)])
        docs.append(" ".join(words[picked]))
    return np.array(docs, dtype=object), labels


def pipelines(max_iter):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neural_network import MLPClassifier as SkMLP
    from sklearn.pipeline import make_pipeline

    from gpubp.sklearn import MLPClassifier

    common = dict(hidden_layer_sizes=(100,), solver="adam", max_iter=max_iter, tol=0.0,
                  n_iter_no_change=max_iter, random_state=0)
    return {"sklearn": lambda: make_pipeline(TfidfVectorizer(max_features=20000),
                                             SkMLP(**common)),
            "gpubp": lambda: make_pipeline(TfidfVectorizer(max_features=20000),
                                           MLPClassifier(**common, device="cpu"))}


def timed(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: both alike
        t0 = time.perf_counter()
        out = f()
        return time.perf_counter() - t0, out


def run(args):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import train_test_split

    from bench_sklearn_lbfgs import machine

    docs, y = texts(args.docs)
    dtr, dte, ytr, yte = train_test_split(docs, y, test_size=0.25, stratify=y, random_state=0)
    X = TfidfVectorizer(max_features=20000).fit_transform(dtr)
    lines = machine()
    lines.append(f"# {args.docs} generated documents of 20 categories, {X.shape[0]} to train: "
                 f"TF-IDF X {X.shape[0]} x {X.shape[1]}, {X.nnz / X.shape[0]:.1f} stored "
                 f"entries per row ({X.format}, {X.dtype}); MLPClassifier(hidden_layer_sizes="
                 f"(100,), adam, batch 200, max_iter={args.max_iter}, tol=0, random_state=0); "
                 f"{args.repeats} interleaved rounds after one warm-up each; seconds")
    configs = pipelines(args.max_iter)
    times, fitted = {name: [] for name in [*configs, "vectorizer alone"]}, {}
    for name, make in configs.items():  # warm-up
        fitted[name] = timed(lambda: make().fit(dtr, ytr))[1]
    for _ in range(args.repeats):
        for name, make in configs.items():
            t, fitted[name] = timed(lambda: make().fit(dtr, ytr))
            times[name].append(t)
        times["vectorizer alone"].append(
            timed(lambda: TfidfVectorizer(max_features=20000).fit_transform(dtr))[0])
    for name, ts in times.items():
        line = f"  {name:<17} median {statistics.median(ts):8.3f}  [{min(ts):.3f}, {max(ts):.3f}]"
        if name in fitted:
            mlp = fitted[name][-1]
            line += (f"  test accuracy {fitted[name].score(dte, yte):.4f}  n_iter_ "
                     f"{mlp.n_iter_}  loss_ {mlp.loss_:.6f}")
        lines.append(line)
    ratio = statistics.median(times["sklearn"]) / statistics.median(times["gpubp"])
    vec = statistics.median(times["vectorizer alone"])
    mlp = ((statistics.median(times["sklearn"]) - vec) /
           (statistics.median(times["gpubp"]) - vec))
    lines.append(f"  sklearn / gpubp (medians): pipeline {ratio:.2f}x; the MLP's part "
                 f"(pipeline minus the vectorizer's median) {mlp:.2f}x")
    return lines


def main(argv=None):
    from bench_sklearn_lbfgs import record

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=15)
    parser.add_argument("--docs", type=int, default=10000)
    record(run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
