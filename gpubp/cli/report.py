"""What a training run shows at its end: the accuracy (R^2 and mse for regression) on the
training and held-out examples, and the loss curve drawn into a PNG.

A regression trains on the standardized target, ``(y - mean) / std``: its costs (each epoch's
line, the loss curve) are in that unit, and say so; the summary gives the mse in the target's
units and standardized, so that the two can be told apart and compared."""

import sys

import numpy as np

from .. import backend, datasets
from ..atomic import write_atomic
from .options import PROG


def report(net, ds, Xs, train, held, y_mean, y_std):
    def outputs(rows):
        return backend.to_host(net.forward(Xs[rows].T)).astype(np.float64)

    parts = []
    for what, rows in (("train", train), ("held-out", held)):
        if rows.size == 0:
            continue
        A = outputs(rows)
        if ds.task == "regression":
            pred = A[0] * y_std + y_mean
            y = ds.y[rows]
            mse = float(np.mean((pred - y) ** 2))
            var = float(np.var(y))
            r2 = 1.0 - mse / var if var > 0 else float("nan")
            # the costs of training are of the standardized target: both units, named
            scaled = float(np.mean((A[0] - (y - y_mean) / y_std) ** 2))
            parts.append(f"{what} R^2 {r2:.4f}, mse {mse:.6g} in the target's units, "
                         f"{scaled:.6g} standardized ({rows.size} examples)")
        else:
            pred = datasets.decode(A, ds.classes)
            acc = float(np.mean([p == t for p, t in zip(pred, ds.y[rows])]))
            parts.append(f"{what} accuracy {acc:.4f} ({rows.size} examples)")
    print("   ".join(parts))


def standardized_note(y_mean, y_std):
    """The line that says in which unit a regression's costs are (those of its epochs and loss
    curve: the standardized target; the summary gives both)."""
    return (f"{PROG}: the costs are those of the standardized target, (target - {y_mean:.6g}) / "
            f"{y_std:.6g}; the summary gives the mse in the target's units too")


def plot(history, path, title, loss, best_epoch=None, quiet=False, standardized=False):
    """The loss curve: the cost of each epoch (mean over its batches) and the held-out cost, drawn
    with matplotlib's Agg backend (no display needed) into a PNG at ``path``. Returns whether it
    was drawn (not without matplotlib: a note says so, unless ``quiet``)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        if not quiet:
            print(f"{PROG}: note: matplotlib is not installed, so no loss curve (pip install "
                  f"'gpubp[cli]')", file=sys.stderr)
        return False
    cost = history["cost"]
    val = history.get("val_cost", [])
    epochs = np.arange(1, len(cost) + 1)
    fig = Figure(figsize=(7, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    marker = "o" if len(cost) <= 30 else None
    ax.plot(epochs, cost, marker=marker, ms=3,
            label="training cost (mean over the epoch's batches)")
    if len(val) == len(cost):
        ax.plot(epochs, val, marker=marker, ms=3, label="held-out cost (after the epoch)")
    if best_epoch is not None:
        ax.axvline(best_epoch, color="gray", ls="--", lw=1,
                   label=f"best epoch ({best_epoch}), kept")
    values = np.asarray(cost + (val if len(val) == len(cost) else []))
    log = bool(values.size and (values > 0).all())
    if log:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    of = " of the standardized target" if standardized else ""
    ax.set_ylabel(f"cost ({loss}{of}{', log scale' if log else ''})")
    ax.set_title(title)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"))
    return True
