"""``gpubp predict``: the labels (or probabilities, or regression values) a model saved by
``gpubp train`` gives for the examples of a .csv or .npz file, as a CSV."""

import csv
import io
import os
import sys

import numpy as np

from .. import backend, datasets, saving
from ..atomic import write_atomic
from ..errors import CheckpointError, DataError, GpubpError
from . import about, files, record
from .options import DATA_FLAGS, PROG


def cmd_predict(args):
    if args.output is not None:
        files.check_writable("--output", args.output)
        files.check_not_an_input("predict", "--output", args.output,
                                 {"--model": args.model, "--input": args.input})
    meta = record.read(args.model)
    net = saving.load(args.model, device=args.device)
    names = meta["feature_names"]
    X = read_features(args, meta)
    files.check_fits(net, args.model, len(names))
    scaler = datasets.Standardizer(meta["x_mean"], meta["x_std"])
    if scaler.mean.shape != (len(names),) or scaler.std.shape != (len(names),):
        raise CheckpointError(f"{args.model}: its standardization does not match its "
                              f"{len(names)} features")
    A = backend.to_host(net.forward(scaler(X).T)).astype(np.float64)  # (n[L], m)
    header, rows = (probabilities if args.proba else predictions)(net, meta, A)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    first = out.getvalue().rstrip("\n")
    w.writerows(rows)
    text = out.getvalue()
    if args.output:
        files.check_replaceable("--output", args.output,
                                lambda path: files.starts_with_line(path, first),
                                f"a predictions file of this model (first line {first!r})",
                                args.force)
        # atomic: an interrupted write leaves the old predictions file whole
        write_atomic(args.output, lambda f: f.write(text.encode("utf-8")))
        print(f"{PROG}: wrote {X.shape[0]} {'probabilities' if args.proba else 'predictions'} "
              f"to {args.output}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def read_features(args, meta):
    """The input's features ``(m, n)``, in the model's order; an error about the input says
    where to see what the model expects (and a transposed .npz is told to transpose)."""
    names = meta["feature_names"]
    try:
        return datasets.features(args.input, names, target=meta.get("target"),
                                 header=args.header, separator=args.separator,
                                 option_names=DATA_FLAGS)
    except DataError as e:
        if not os.path.exists(args.input) or not str(args.input).lower().endswith((".csv",
                                                                                   ".npz")):
            raise
        raise DataError(f"{e}{transposed(args.input, len(names), meta.get('target'))}; "
                        f"{about.hint(args.model)}") from None


def transposed(path, n, target):
    """``"; it looks transposed ..."`` for an .npz whose features are (n, m) instead of (m, n)."""
    if not str(path).lower().endswith(".npz"):
        return ""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = [k for k in f.files if k != target]
            key = "X" if "X" in f.files else (keys[0] if len(keys) == 1 else None)
            shape = None if key is None else f[key].shape
    except (OSError, ValueError, KeyError):
        return ""
    if shape is None or len(shape) != 2 or shape[0] != n or shape[1] == n:
        return ""
    return (f"; {key!r} is {shape}, which looks transposed: the model takes one row per "
            f"example, ({shape[1]}, {n}); save {key}.T")


def probabilities(net, meta, A):
    """The header (the class labels) and one row of probabilities per example."""
    task, out_act = meta["task"], net.activations[-1].name
    if task == "regression" or out_act not in ("sigmoid", "softmax"):
        raise GpubpError(f"--proba needs a classifier with a sigmoid or softmax output; this "
                         f"model is a {task} with a {out_act} output")
    P = np.vstack([1 - A[0], A[0]]) if A.shape[0] == 1 else A
    if out_act == "sigmoid" and A.shape[0] > 1:
        P = A / A.sum(axis=0, keepdims=True)  # one sigmoid per class: normalized
    return [str(c) for c in meta["classes"]], ([repr(float(v)) for v in col] for col in P.T)


def predictions(net, meta, A):
    """The header (the target's name) and one row per example: its label or value."""
    header = [meta.get("target") or "prediction"]
    if meta["task"] == "regression":
        values = A[0] * float(meta["y_std"]) + float(meta["y_mean"])
        return header, ([repr(float(v))] for v in values)
    return header, ([label] for label in datasets.decode(A, meta["classes"]))
