"""Saving and loading a model: its records (:meth:`~gpubp.graph.Graph.spec`, the parameters,
:meth:`~gpubp.state.TrainingState.record`, metadata) as the entries of a checkpoint file
(:mod:`gpubp.checkpoint`), and back.

``save(model, path, metadata=None)`` writes, ``load(path, device=None)`` rebuilds;
``net.save(path)``, ``gpubp.save`` and ``gpubp.load`` are the same calls. After ``load``, ``fit``
continues as if it had never stopped: the optimizer's moments, its step count ``t``, the
shuffling generator, the epoch count and the history come back, so 3 epochs + save + load + 2
epochs gives bit for bit the parameters and history of 5 epochs in one go (with early
stopping's ``patience``, when the first fit was stopped by ``fit(stop=...)``: without a stop
each fit's watch is its own, see :func:`gpubp.fit`).
"""

import json
import os

import numpy as np

from . import backend, checkpoint, specs, state
from .checks import as_dtype
from .errors import ArgumentTypeError, CheckpointError


def save(model, path, metadata=None, allow_nonfinite=False):
    """Write ``model`` (a Network, ElmanRNN or any complete Graph) and its training state to
    ``path``, atomically (see :mod:`gpubp.checkpoint` for the file).

    ``metadata``: a dict of JSON data (str keys; str, finite numbers, bool, None, lists, dicts)
    kept beside the model; :func:`load` gives it back as ``model.metadata``. By default the
    model's own ``model.metadata`` (set by :func:`load`) travels on. A model whose parameters
    (or optimizer state, or best parameters) hold NaN or inf is refused with a CheckpointError,
    writing nothing, unless ``allow_nonfinite=True``.
    """
    if not isinstance(model, specs.KINDS["Graph"]):  # gpubp.graph.Graph (this module is below it)
        raise ArgumentTypeError(f"save needs a gpubp Network, ElmanRNN or Graph; got "
                                f"{type(model).__name__}")
    if model.params is None:
        raise CheckpointError("cannot save an incomplete graph: call output(layer, loss=...) first")
    if metadata is None:
        metadata = getattr(model, "metadata", None)
    bad = [name for name, p in model.params.items() if not bool(model.xp.isfinite(p).all())]
    if bad and not allow_nonfinite:
        raise CheckpointError(f"cannot save {os.fspath(path)}: the parameters {', '.join(bad)} hold "
                              f"NaN or inf (did the training diverge?); pass allow_nonfinite=True "
                              f"to write them anyway")
    entries = {"architecture": np.array(json.dumps(model.spec())),
               "dtype": np.array(model.dtype.name),
               "params": backend.to_host(model.params.flat)}
    if model.training is not None:
        record, arrays = model.training.record(model)
        entries["training"] = np.array(json.dumps(record))
        entries.update(arrays)
    if metadata is not None:
        entries["metadata"] = np.array(checkpoint.metadata_json(metadata))
    checkpoint.write(path, entries, allow_nonfinite=allow_nonfinite)


def load(path, device=None, allow_nonfinite=False):
    """The model saved at ``path``, on ``device`` ("auto", "cpu", "gpu"; default GPUBP_DEVICE or
    auto), with its training state if it had one: ``fit`` then continues exactly.

    Raises :class:`~gpubp.errors.CheckpointError` for a file that is not a readable gpubp
    checkpoint of a version this gpubp reads, whose entries do not match its architecture, or
    whose parameters hold NaN or inf (unless ``allow_nonfinite=True``). Sizes are checked
    against the architecture before anything is allocated.
    """
    path = os.fspath(path)
    device = backend.resolve(device)  # a bad device name is the caller's error, not the file's
    with checkpoint.Reader(path, allow_nonfinite=allow_nonfinite) as f:
        arch = f.json("architecture")
        dtype_name = f.string("dtype")
        try:
            dtype = as_dtype(dtype_name)
        except ValueError:
            raise f.error(f"'dtype' is {dtype_name!r}; a checkpoint holds float32 or "
                          f"float64") from None
        fields = f.fields("architecture")
        kind = specs.spec_kind(arch, fields)
        P = kind.spec_counts(arch, fields)[0]  # from the architecture alone: nothing allocated
        shape, stored = f.header("params")
        if stored != dtype:
            raise f.error(f"'params' is {stored.name} but 'dtype' says {dtype.name}")
        if shape != (P,):
            raise f.error(f"'params' has shape {shape} but the architecture needs ({P},), the "
                          f"sizes of its parameters summed")
        model = kind.from_spec(arch, dtype, device, fields)
        model.params.flat[...] = backend.to_device(f.array("params", finite=True), model.xp)
        if "training" in f:
            model.training = state.TrainingState.restore(model, f.json("training"), f)
        model.metadata = f.json("metadata", finite=True) if "metadata" in f else None
        f.check_all_read()
    return model
