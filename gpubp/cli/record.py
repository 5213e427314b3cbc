"""What a model file written by ``gpubp train`` records besides the model (its checkpoint's
``metadata``): the options of the run by section (:data:`options.RECORDED`), the data's
fingerprint and standardization, the classes, the task. ``predict`` reads it to prepare new data;
``--resume`` reads it to take the run further with the same data, split and network."""

import os
import sys

from .. import checkpoint, datasets
from ..errors import CheckpointError
from .options import PROG, RECORDED, TRAIN, TRAIN_DEFAULTS, flag, show, usage

META_FORMAT = "gpubp.cli"
META_VERSION = 2  # 2: the network's hidden sizes are "hidden" (1: "sizes"); the output section


def metadata(ds, opts, fingerprint, scaler, y_mean, y_std, stopped_early):
    """The metadata of a model file: the run's options by section, and the data's description."""
    meta = {"format": META_FORMAT, "version": META_VERSION}
    meta.update({section: {k: opts[k] for k in names} for section, names in RECORDED.items()})
    meta.update({
        "fingerprint": fingerprint, "task": ds.task, "target": ds.target,
        "feature_names": list(ds.feature_names), "classes": ds.classes,
        "x_mean": scaler.mean.tolist(), "x_std": scaler.std.tolist(),
        "y_mean": y_mean, "y_std": y_std, "stopped_early": stopped_early,
    })
    return meta


def read(path):
    """The metadata of a model file written by `gpubp train`, checked."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    meta = checkpoint.load_metadata(path)
    if meta is None or meta.get("format") != META_FORMAT:
        raise CheckpointError(f"{path}: a gpubp checkpoint without the data options of 'gpubp "
                              f"train' (saved from Python?); predict and --resume need a model "
                              f"saved by gpubp train")
    if not isinstance(meta.get("version"), int) or meta["version"] > META_VERSION:
        raise CheckpointError(f"{path}: written by a newer gpubp (command-line metadata version "
                              f"{meta.get('version')!r}); upgrade gpubp")
    need = {"data": dict, "fingerprint": str, "task": str, "feature_names": list,
            "x_mean": list, "x_std": list, "network": dict, "training": dict}
    for key, kind in need.items():
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{path}: its metadata lack {key!r} (a damaged file?)")
    if meta["task"] not in datasets.TASKS:
        raise CheckpointError(f"{path}: its metadata name an unknown task {meta['task']!r}")
    if meta["task"] != "regression" and not (isinstance(meta.get("classes"), list)
                                             and len(meta["classes"]) >= 2):
        raise CheckpointError(f"{path}: its metadata lack the class labels (a damaged file?)")
    if meta["task"] == "regression" and not all(isinstance(meta.get(k), (int, float))
                                                for k in ("y_mean", "y_std")):
        raise CheckpointError(f"{path}: its metadata lack the target's mean and std")
    for k in RECORDED["data"]:
        if k not in meta["data"]:
            raise CheckpointError(f"{path}: its metadata lack the data option {k!r}")
    return meta


def recorded(meta):
    """The options a model file recorded, in one dict (an option it lacks: None)."""
    saved = {}
    for section, names in RECORDED.items():
        values = meta.get(section) if isinstance(meta.get(section), dict) else {}
        saved.update({k: values.get(k, TRAIN_DEFAULTS[k]) for k in names})  # newer options
    if meta.get("version") == 1:  # its "sizes" were the hidden sizes
        saved["hidden"] = meta["network"].get("sizes")
    return saved


#: the option under which :func:`resume_options` notes the path a resumed run's data file had
#: when the model was trained, where ``--data`` names it at another path (not recorded)
MOVED = "data_moved_from"


def resume_options(args, meta, quiet=False, spelled=None):
    """The options of a resumed run: the recorded ones; data and network options given again
    must agree with them (a data file given at another path is taken if its contents are the
    same: ``opts[MOVED]`` notes the old path, and the fingerprint decides when the data are
    read); training options given again replace them (with a note unless
    ``quiet``); output options given again replace them. ``spelled``: option -> how the command
    line gave it, where that was another flag (``--sizes 4,64,3`` for ``hidden``)."""
    saved = recorded(meta)
    spelled = spelled or {}
    for k in RECORDED["data"] + RECORDED["network"]:
        v = getattr(args, k)
        if v is None:
            continue
        w = saved[k]
        if w is None:  # left out when it was trained: compare with what that run used
            w = {"task": meta.get("task"), "target": meta.get("target")}.get(k)
            if w is None:  # --samples, --features, --classes: the data's fingerprint decides
                saved[k] = v
                continue
        if k == "data" and v not in datasets.SOURCES:
            v = os.path.abspath(v)
            if w not in datasets.SOURCES and v != w:  # moved? the data's fingerprint decides
                saved["data"], saved[MOVED] = v, w
                continue
        if v != w:
            given = (f"{spelled[k]} ({flag(k)} {show(v)})" if k in spelled else
                     f"{flag(k)} {show(v)}")
            raise usage(TRAIN, f"{given} differs from {show(w)}, with which {args.resume} was "
                        f"trained; a resumed run keeps its data, split and network (leave "
                        f"{given.split()[0]} out)")
    if args.optimizer is not None and args.optimizer != saved["optimizer"] and args.lr is None:
        saved["lr"] = None  # the new optimizer's default, not the old one's rate
    for k in RECORDED["training"]:
        v = getattr(args, k)
        if v is None or v == saved[k]:
            continue
        if k != "epochs" and not quiet:
            print(f"{PROG}: note: {flag(k)} {show(v)} replaces {show(saved[k])}: the run will "
                  f"differ from an uninterrupted one", file=sys.stderr)
        saved[k] = v
    if args.plot is not None or args.no_plot:  # output options: the latest word counts
        saved["plot"], saved["no_plot"] = args.plot, bool(args.no_plot)
    return saved
