"""``gpubp info --model FILE``: what a model saved by ``gpubp train`` expects and gives, so that
``gpubp predict`` can be fed without guessing: the feature columns in their order, the classes
(or the regression target and its units), the task and the network. Predict's errors point here
(:func:`hint`)."""

import shlex

from .. import saving
from .options import PROG
from . import files, record


def hint(model):
    """The words predict's input errors end with."""
    return f"'{PROG} info --model {shlex.quote(str(model))}' lists the columns it expects"


def lines(path):
    """The description of the model file at ``path``, line by line."""
    meta = record.read(path)
    net = saving.load(path, device="cpu")
    names, task, target = meta["feature_names"], meta["task"], meta.get("target")
    state = net.training
    trained = state.epoch if state is not None else 0
    data = files.data_label(meta["data"]["data"])
    out = [f"{path}: a model saved by '{PROG} train' on {data} ({trained} epoch"
           f"{'s' if trained != 1 else ''})",
           f"task: {task}" + _task(meta, net)]
    hidden = [a.name for a in net.activations[1:-1]]
    acts = (hidden[0] if len(set(hidden)) == 1 else ",".join(hidden)) if hidden else "no"
    out.append(f"network: {'-'.join(map(str, net.sizes))}, {acts} hidden, "
               f"{net.activations[-1].name} output, {net.loss.name} ({net.dtype.name})")
    out.append(f"input: {len(names)} feature columns, one row per example, in this order (a .csv "
               f"names them in its first row, in any order; a .csv without a header row, or an "
               f".npz array X of shape (m, {len(names)}), gives them in this order):")
    width = len(str(len(names)))
    out += [f"  {i:>{width}}  {name}" for i, name in enumerate(names, 1)]
    if target is not None:
        out.append(f"target column: {target!r} (ignored if the input has it)")
    return out


def _task(meta, net):
    """What predict writes, per task."""
    if meta["task"] == "regression":
        target = meta.get("target") or "the target"
        return (f" of {target!r}; predict writes its values in the units of the training "
                f"data's {target!r} (there: mean {float(meta['y_mean']):.6g}, std "
                f"{float(meta['y_std']):.6g})")
    classes = meta["classes"]
    return (f", {len(classes)} classes: {', '.join(map(str, classes))}; predict writes one "
            f"per example (--proba: the probability of each, in this order)")
