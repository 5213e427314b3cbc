"""Records of the pieces of a model, as JSON data: activations, losses, seeds, parameter lists.

:meth:`gpubp.graph.Graph.spec` and ``from_spec`` (and those of Network and ElmanRNN) write and
read a model's architecture with these; each reader takes a :class:`gpubp.checkpoint.Fields`,
so a malformed record is a :class:`~gpubp.errors.CheckpointError` naming the field. An
activation is ``{"name": ...}`` (plus ``"alpha"`` for leaky_relu), a loss its name: only
gpubp's own can be stored (a custom subclass has code, and a checkpoint holds none).
"""

import numpy as np

from . import activations as _activations
from . import checkpoint
from . import losses as _losses
from .errors import CheckpointError

#: a rebuilt model has at most this many inputs and layers
MAX_NODES = 100_000

#: the kinds a checkpoint's architecture names: "Graph", and each class registered with
#: :func:`register` (Network, ElmanRNN), which writes and reads its own constructor's fields
KINDS = {}


def register(cls):
    """Class decorator: ``cls`` (a Graph subclass) is a kind of model of its own in checkpoints:
    :meth:`Graph.spec` writes it with ``cls.spec_fields`` and :meth:`Graph.from_spec` rebuilds
    it with ``cls.from_spec_fields``; ``cls.spec_counts`` gives its size without building it."""
    KINDS[cls.__name__] = cls
    return cls


def spec_kind(spec, f):
    """The class that rebuilds ``spec`` (by its ``"kind"``), or a CheckpointError."""
    kind = f.get(spec, "kind", str)
    if kind not in KINDS:
        raise f.error(f"unknown model kind {kind!r}; this gpubp builds {', '.join(KINDS)}")
    return KINDS[kind]


def seed_spec(seed):
    """The seed as JSON data, or None: it matters after a load only to a first fit without
    training state (its shuffling); one that is not plain data (a Generator) is not stored."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    return None


def activation_spec(a):
    """``{"name": ...}`` (plus ``"alpha"`` for leaky_relu): gpubp's own activations only."""
    if type(a) is not _activations.ACTIVATIONS.get(a.name):
        raise CheckpointError(f"activation {a!r} ({type(a).__name__}) is not one of gpubp's "
                              f"({', '.join(_activations.ACTIVATIONS)}); a checkpoint stores "
                              f"activations by name and holds no code")
    return a.spec()


def activation_from_spec(spec, f):
    f.get(spec, "name", str)
    try:
        return _activations.from_spec(spec)  # its own fields, checked by its declaration
    except ValueError as e:  # ConfigError, and a declaration's refusal of a constant
        raise f.error(str(e)) from None


def loss_spec(loss):
    if type(loss) is not _losses.LOSSES.get(loss.name):
        raise CheckpointError(f"loss {loss!r} ({type(loss).__name__}) is not one of gpubp's "
                              f"({', '.join(_losses.LOSSES)}); a checkpoint stores losses by name")
    return loss.spec()["name"]  # stored as the bare name (format version 1)


def loss_from_spec(spec, f):
    name = f.get(spec, "loss", str)
    if name not in _losses.LOSSES:
        raise f.error(f"unknown loss {name!r}; valid losses are: {', '.join(sorted(_losses.LOSSES))}")
    return name


def listed_shape(p, f):
    shape = f.get(p, "shape", list)
    if len(shape) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1
                                  for s in shape):
        raise f.error(f"parameter {p.get('name')!r}: shape must be two positive integers; got {shape!r}")
    return tuple(shape)


def within_caps(P, nodes, f):
    if P > checkpoint.MAX_PARAMS or nodes > MAX_NODES:
        raise f.error(f"the model has {P} parameters and {nodes} inputs and layers; a checkpoint "
                      f"holds at most {checkpoint.MAX_PARAMS} and {MAX_NODES}")
    return P, nodes


def layer_sum(spec, name, params, nodes, f):
    """The sum ``W_1 A_1 + ... (+ b)`` a layer's spec names."""
    expr = None
    for term in f.get(spec, "terms", list):
        if not (isinstance(term, list) and len(term) == 2 and all(isinstance(t, str) for t in term)):
            raise f.error(f"layer {name!r}: a term is [weight name, input or layer name]; got {term!r}")
        W, A = term
        if W not in params or A not in nodes:
            raise f.error(f"layer {name!r}: term {W} {A} names "
                          + (f"no parameter {W!r}" if W not in params else f"no earlier node {A!r}"))
        expr = params[W] @ nodes[A] if expr is None else expr + params[W] @ nodes[A]
    if expr is None:
        raise f.error(f"layer {name!r} has no terms")
    b = f.get(spec, "bias", str, optional=True)
    if b is not None:
        if b not in params:
            raise f.error(f"layer {name!r}: no parameter {b!r} for its bias")
        expr = expr + params[b]
    return expr


def check_params(spec, model, f):
    """The parameters the rebuilt model has are the ones the spec lists, in the same order."""
    listed = [(f.get(p, "name", str), listed_shape(p, f), f.get(p, "role", str))
              for p in f.get(spec, "params", list)]
    built = [(p.name, p.shape, p.role) for p in model.param_nodes.values()]
    for i, (a, b) in enumerate(zip(listed, built)):
        if a != b:
            raise f.error(f"parameter {i + 1} is listed as {a[2]} {a[0]} {a[1]} but the model it "
                          f"builds has {b[2]} {b[0]} {b[1]}")
    if len(listed) != len(built):
        raise f.error(f"{len(listed)} parameters are listed but the model it builds has {len(built)}")


def graph_fields(g):
    """A plain graph's spec fields: inputs, parameters, layers (terms ``[W, A]``, bias,
    activation, symbols), outputs, loss and seed; rebuilt by :func:`build_graph`."""
    return {
        "inputs": [{"name": i.name, "n": i.n, "symbol": i.symbol, "size": i.size}
                   for i in g.inputs.values()],
        "params": g.param_specs(),
        "layers": [{"name": l.name, "terms": [[t.W.name, t.A.name] for t in l.terms],
                    "bias": l.bias.name if l.bias is not None else None,
                    "activation": activation_spec(l.activation), "symbol": l.symbol, "z": l.z,
                    "dz": l.dz, "size": l.size}
                   for l in g.layers.values()],
        "outputs": [o.name for o in g.outputs],
        "loss": loss_spec(g.loss),
        "seed": seed_spec(g.seed),
    }


def build_graph(g, spec, f):
    """Build :func:`graph_fields`'s ``spec`` into the empty graph ``g`` with its public builder
    (``g.input``, ``g.weight``, ``g.bias``, ``g.layer``, ``g.output``); returns ``g``."""
    text = {"symbol", "z", "dz", "size"}
    nodes, params = {}, {}
    for i in f.get(spec, "inputs", list):
        name = f.get(i, "name", str)
        nodes[name] = g.input(name, f.count(i, "n"), symbol=f.get(i, "symbol", str, True),
                              size=f.get(i, "size", str, True))
    for p in f.get(spec, "params", list):
        name, role, shape = f.get(p, "name", str), f.get(p, "role", str), listed_shape(p, f)
        if role not in ("weight", "bias") or role == "bias" and shape[1] != 1:
            raise f.error(f"parameter {name!r} is a {role!r} of shape {shape}; expected a "
                          f"'weight' or a 'bias' of shape (n, 1)")
        params[name] = g.weight(name, shape) if role == "weight" else g.bias(name, shape[0])
    for layer in f.get(spec, "layers", list):
        name = f.get(layer, "name", str)
        nodes[name] = g.layer(name, layer_sum(layer, name, params, nodes, f),
                              activation=activation_from_spec(f.get(layer, "activation", dict), f),
                              **{k: f.get(layer, k, str, True) for k in text})
    outputs = []
    for name in f.get(spec, "outputs", list):
        if not isinstance(name, str) or name not in g.layers:
            raise f.error(f"output {name!r} is not a layer")
        outputs.append(g.layers[name])
    g.output(outputs, loss=loss_from_spec(spec, f))
    return g
