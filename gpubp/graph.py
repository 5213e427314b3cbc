"""Graph: a network written as its equations. Inputs, weights, biases, layers, outputs with a loss.

A layer is ``Z = sum_k W_k A_k (+ b)``, ``A = chi(Z)``: any number of terms, each a parameter
times an input or an earlier layer, and any parameter may be used by any number of layers
(seed 000's shared ``Wx``). Seed 000, as its equations::

    g = Graph(dtype="float64", seed=0)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)        # (2, m) each
    Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
    H1 = g.layer("H1", Wx @ X1)                          # identity unless activation= is given
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2)
    Y_hat = g.layer("Y_hat", Wy @ H2)
    g.output(Y_hat, loss="half_sse")

Backward through a graph, for a layer ``Z = W_1 A_1 + W_2 A_2 + b``, ``A = chi(Z)``::

    dZ   = dA * chi'(Z)          dA: the sum of what every consumer of A sent back
    dW_k = dZ A_k^T              (+= when W_k is used by several layers: one gradient, a sum of uses)
    dA_k = W_k^T dZ              (+= when A_k feeds several layers)
    db   = dZ 1^T

Shapes are checked when the graph is built; :meth:`Graph.output` completes it and allocates the
parameters (one flat buffer, :mod:`gpubp.params`). The schedule that runs these equations is
:class:`gpubp.plan.Plan`. The equations, names and shapes that error messages (and explanations)
show are written in :class:`gpubp.nodes.Layer`, once.

A graph writes its own record: :meth:`Graph.spec` is its architecture as JSON data and
:meth:`Graph.from_spec` rebuilds it (Network and ElmanRNN register as kinds of their own, see
:mod:`gpubp.specs`); :meth:`Graph.save` writes it with its parameters and training state
(:mod:`gpubp.saving`). This module is over 500 lines because it is one class, the graph: its
building, the checks of data at its edge and its plans; the pieces of its equations live in
:mod:`gpubp.nodes`, its records' fields in :mod:`gpubp.specs`.
"""

import collections
import math
import copy as _copy
import difflib
import inspect
import threading

import numpy as np

from . import activations as _activations
from . import backend, checkpoint, kernels, saving, sparse, specs
from . import equations as _equations
from . import losses as _losses
from . import train as _train
from .checks import as_dtype, check_batch_size, check_flag, check_seed
from .errors import ArgumentTypeError, CheckpointError, ConfigError, DataError, GpubpError, ShapeError
from .nodes import Expr, Input, Layer, Param, check_name
from .params import FlatArrays, Layout
from .plan import Plan

# ---- the graph ------------------------------------------------------------------------------

class Graph:
    """A network of layers ``Z = sum_k W_k A_k (+ b)``, ``A = chi(Z)``, built as its equations.

    Parameters
    ----------
    dtype : float32 (default) or float64, in any NumPy spelling
    device : "auto", "cpu", "gpu" or None (the environment variable GPUBP_DEVICE, default auto)
    seed : int or None
        Seeds the initialization (and the shuffling of :meth:`fit`).

    Build with :meth:`input`, :meth:`weight`, :meth:`bias`, :meth:`layer`, then :meth:`output`,
    which completes the graph. Then ``params`` holds the live parameter arrays by name.
    """

    #: NumPy scratch and the layer buffers of a forward pass stay under about this many bytes
    FORWARD_BYTES = 64 * 2**20

    def __init__(self, dtype="float32", device=None, seed=None):
        self.dtype = as_dtype(dtype)
        self.device = backend.resolve(device)
        self.xp = backend.xp_for(self.device)
        self.seed = check_seed(seed)
        self.inputs = {}         # name -> Input
        self.param_nodes = {}    # name -> Param, in declaration order
        self.layers = {}         # name -> Layer, in order of creation (a topological order)
        self.outputs = []        # the output layers
        self.loss = None
        self.params = None       # FlatArrays, once output() completes the graph
        self.grads = None        # FlatArrays: what the last backward pass wrote
        self.training = None     # the state fit() keeps between calls (gpubp.state.TrainingState)
        self._names = {}
        self._plans = collections.OrderedDict()
        self._local = threading.local()
        self._lock = threading.RLock()  # one training plan, its buffers and grads: one user at a time

    # ---- building ------------------------------------------------------------------------

    def _building(self, what):
        if self.params is not None:
            raise GpubpError(f"cannot add {what}: the graph was completed by output(); build a new one")

    def input(self, name, n, symbol=None, size=None):
        """An input of ``n`` rows per example: its data is ``(n, m)``, one column per example."""
        self._building(f"input {name!r}")
        check_name(name, self._names)
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"input {name!r}: n must be a positive integer; got {n!r}")
        node = Input(name, n, symbol, size)
        self.inputs[name] = node
        self._names[name] = repr(node)
        return node

    def weight(self, name, shape):
        """A weight matrix ``(rows, cols)``: ``W @ A`` needs ``A`` with ``cols`` rows, gives ``rows``.

        Initialized when the graph completes: Glorot (uniform) if the first layer using it is
        sigmoid, tanh, identity or softmax; He (normal) if it is relu or leaky_relu.
        """
        return self._param(name, shape, "weight")

    def bias(self, name, n):
        """A bias ``(n, 1)``, broadcast over the m columns; initialized to 0."""
        return self._param(name, (n, 1), "bias")

    def _param(self, name, shape, role):
        self._building(f"{role} {name!r}")
        check_name(name, self._names)
        given = shape
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else None
        if shape is None or len(shape) != 2 or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape):
            raise ConfigError(f"{role} {name!r}: shape must be two positive integers (rows, cols); "
                             f"got {given!r}")
        p = Param(name, shape, role)
        self.param_nodes[name] = p
        self._names[name] = repr(p)
        return p

    def layer(self, name, expr, activation="identity", bias=False, symbol=None, z=None, dz=None,
              size=None):
        """A layer ``A = chi(Z)``, ``Z = expr``: a sum of ``W @ A`` terms (and a bias).

        ``bias=True`` adds a new bias parameter ``b_<name>`` (zeros) when ``expr`` has none.
        """
        self._building(f"layer {name!r}")
        check_name(name, self._names)
        if isinstance(expr, Param):
            raise ArgumentTypeError(f"layer {name!r}: {expr.name} alone is not a layer's sum; write "
                            f"{expr.name} @ A for a term")
        if not isinstance(expr, Expr) or not expr.terms:
            raise ArgumentTypeError(f"layer {name!r}: expected a sum of terms W @ A (+ a bias); got {expr!r}")
        act = _activations.get(activation)
        layer = Layer(name, expr, act, symbol, z, dz, size)
        for t in layer.terms:
            if self.param_nodes.get(t.W.name) is not t.W:
                raise GpubpError(f"layer {name!r}: {t.W.name} is not a parameter of this graph")
            if self.inputs.get(t.A.name) is not t.A and self.layers.get(t.A.name) is not t.A:
                raise GpubpError(f"layer {name!r}: {t.A.symbol} is not an input or an earlier "
                                 f"layer of this graph")
            layer.check_term(t, (t.A.n,))
            if t.W.shape[0] != layer.n:
                first = layer.terms[0]
                raise ShapeError(f"{layer.equation()}: term {first} gives ({layer.n}, m) but term "
                                 f"{t} gives ({t.W.shape[0]}, m); every term of a layer must give "
                                 f"the same rows")
        b = layer.bias
        if b is not None:
            if self.param_nodes.get(b.name) is not b:
                raise GpubpError(f"layer {name!r}: {b.name} is not a parameter of this graph")
            if b.shape != (layer.n, 1):
                raise ShapeError(f"{layer.equation()}: {b.name} is {b.shape} but the terms give "
                                 f"({layer.n}, m), so {b.name} must be ({layer.n}, 1)")
        elif check_flag("bias", bias):  # made only now, so that a refused layer leaves nothing
            check_name(f"b_{name}", self._names)
            layer = Layer(name, expr + self.bias(f"b_{name}", layer.n), act, symbol, z, dz, size)
        self.layers[name] = layer
        self._names[name] = repr(layer)
        return layer

    def output(self, layers, loss="half_sse"):
        """Make ``layers`` (one layer or a list) the outputs, compared with the targets by ``loss``.

        The cost is the sum over the outputs of the loss, each a mean over the m examples. This
        completes the graph: the parameters are allocated and initialized.
        """
        self._building("an output")
        layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
        if not layers:
            raise ConfigError("output() needs at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer) or self.layers.get(layer.name) is not layer:
                raise GpubpError(f"output: {layer!r} is not a layer of this graph")
        if len({layer.name for layer in layers}) != len(layers):
            raise GpubpError(f"output: a layer is listed twice in {[l.name for l in layers]}")
        for layer in layers:
            if layer.activation.name == "softmax" and layer.n == 1:
                raise ConfigError(
                    f"output {layer.name}: a softmax over one output is always 1 and learns "
                    f"nothing; for two classes use one output with output='sigmoid' and "
                    f"loss='bce', or two outputs with output='softmax' and loss='cross_entropy'")
        loss = _losses.get(loss, layers[0].activation)
        for layer in layers[1:]:
            _losses.get(loss, layer.activation)
        consumers = self.consumers()
        for layer in layers:
            if consumers[layer.name]:
                users = ", ".join(c.name for c, _ in consumers[layer.name])
                raise GpubpError(f"output {layer.name} also feeds {users}; an output layer must "
                                 f"not feed other layers")
        for layer in self.layers.values():
            if layer not in layers and not layer.activation.hidden_ok:
                raise ConfigError(f"layer {layer.name}: {layer.activation.name} is for the output "
                                 f"layer only")
        # every layer must lead to an output: else nothing sends its dA back
        reaches = {layer.name for layer in layers}
        for layer in reversed(list(self.layers.values())):
            if layer.name in reaches:
                reaches.update(t.A.name for t in layer.terms)
        lost = [name for name in self.layers if name not in reaches]
        if lost:
            raise GpubpError(f"layer(s) {', '.join(lost)} lead to no output; remove them or "
                             f"connect them")
        layout = Layout((p.name, p.shape) for p in self.param_nodes.values())
        try:
            self.params = FlatArrays(layout, self.xp, self.dtype)
            self.grads = self.params.like()  # a parameter no layer uses keeps gradient 0
            self._initialize()
        except MemoryError:
            self.params = self.grads = None
            size = layout.size * self.dtype.itemsize
            raise ConfigError(f"the graph's {layout.size} parameters need {_bytes(size)} "
                              f"({self.dtype.name}), and as much again for their gradients; "
                              f"this {self.device.upper()} cannot allocate them: make the layers "
                              f"smaller") from None
        self.outputs, self.loss = layers, loss
        return self

    def _initialize(self):
        rng = np.random.default_rng(self.seed)
        first_use = {}
        for layer in self.layers.values():
            for t in layer.terms:
                first_use.setdefault(t.W.name, layer)
        for p in self.param_nodes.values():
            if p.role == "bias" or p.name not in first_use:
                continue  # biases (and unused parameters) start at 0
            fan_out, fan_in = p.shape
            if first_use[p.name].activation.init == "he":
                W = rng.normal(0, np.sqrt(2.0 / fan_in), p.shape)                  # He
            else:
                s = np.sqrt(6.0 / (fan_in + fan_out))
                W = rng.uniform(-s, s, p.shape)                                     # Glorot
            self.params[p.name] = W

    # ---- description ---------------------------------------------------------------------

    def _complete(self):
        if self.params is None:
            raise GpubpError("the graph is not complete: call output(layer, loss=...) first")

    def consumers(self):
        """``{node name: [(layer, term), ...]}``: who reads each input and layer."""
        out = {name: [] for name in list(self.inputs) + list(self.layers)}
        for layer in self.layers.values():
            for t in layer.terms:
                out[t.A.name].append((layer, t))
        return out

    def backward_equations(self):
        """The backward pass as :class:`gpubp.equations.Equation` objects, last layer first."""
        self._complete()
        return _equations.backward(self, lambda layer: _losses.is_fused(self.loss, layer.activation))

    def uses(self):
        """``{parameter name: [(layer, term or None for a bias), ...]}``, in layer order."""
        out = {name: [] for name in self.param_nodes}
        for layer in self.layers.values():
            for t in layer.terms:
                out[t.W.name].append((layer, t))
            if layer.bias is not None:
                out[layer.bias.name].append((layer, None))
        return out

    def __repr__(self):
        lines = [f"{type(self).__name__}(dtype={self.dtype.name!r}, device={self.device!r})"]
        lines += [f"  {node!r}" for node in self.inputs.values()]
        lines += [f"  {layer!r}" for layer in self.layers.values()]
        if self.outputs:
            lines.append(f"  output {', '.join(o.name for o in self.outputs)}, loss {self.loss.name}")
        return "\n".join(lines)

    # ---- data at the public edge -----------------------------------------------------------

    def feed(self, X, what="X"):
        """The inputs as ``{input name: (n, m) array}``. A bare array feeds a single input."""
        if isinstance(X, dict):
            missing = [n for n in self.inputs if n not in X]
            extra = [n for n in X if n not in self.inputs]
            if missing or extra:
                raise GpubpError(f"{what} must give every input of the graph by name: "
                                 f"{', '.join(self.inputs)}; "
                                 + (f"missing {', '.join(missing)}" if missing else "")
                                 + ("; " if missing and extra else "")
                                 + (f"unknown {', '.join(map(str, extra))}" if extra else ""))
            return dict(X)
        if len(self.inputs) != 1:
            raise ArgumentTypeError(f"this graph has {len(self.inputs)} inputs; pass {what} as a dict "
                            f"{{name: array}} with {', '.join(self.inputs)}")
        return {next(iter(self.inputs)): X}

    def feed_targets(self, Y, what="Y"):
        """The targets as ``{output name: (n, m) array}``. A bare array for a single output."""
        if isinstance(Y, dict):
            names = [o.name for o in self.outputs]
            if sorted(Y) != sorted(names):
                raise GpubpError(f"{what} must give a target for each output by name: "
                                 f"{', '.join(names)}; got {', '.join(map(str, Y))}")
            return dict(Y)
        if len(self.outputs) != 1:
            raise ArgumentTypeError(f"this graph has {len(self.outputs)} outputs; pass {what} as a dict "
                            f"{{output name: array}}")
        return {self.outputs[0].name: Y}

    def unfeed(self, outputs):
        """What :meth:`forward` returns, from ``{output name: array}``: the array for one output."""
        return outputs[self.outputs[0].name] if len(outputs) == 1 else outputs

    def check_inputs(self, X, what="X"):
        """``{name: (n, m) device array}``: on this device and dtype, 2-D, one m for all, finite."""
        self._complete()
        data = self.feed(X, what)
        consumers = self.consumers()
        out, m = {}, None
        for name, node in self.inputs.items():
            label = what if len(self.inputs) == 1 else name if what == "X" else f"{what}[{name!r}]"
            if sparse.is_sparse(data[name]):  # A[0] sparse: checked and held as its CSR rows
                a = sparse.columns(data[name], self.xp, self.dtype, label)
            else:
                a = _numbers(data[name], label, self.xp)
            shape = tuple(a.shape)
            readers = consumers[name]
            if readers:
                layer, term = readers[0]
                layer.check_term(term, shape, data=label)
            elif len(shape) != 2 or shape[0] != node.n:
                raise ShapeError(f"input {name} must be ({node.n}, m); got {shape}")
            if m is None:
                m = shape[1]
                if m == 0:
                    raise DataError(f"{what} has no examples: {name} is {shape}; a batch needs "
                                    f"m >= 1 columns")
            elif shape[1] != m:
                raise ShapeError(f"every input needs the same m (columns): "
                                 f"{next(iter(out))} has {m}, {name} has {shape[1]}")
            if not isinstance(a, sparse.SparseColumns):
                a = a.astype(self.dtype, copy=False)
                _check_finite(label, a)
            out[name] = a
        return out

    def check_targets(self, Y, m, what="Y"):
        """``{output name: (n, m) device array}``, checked against the loss."""
        self._complete()
        data = self.feed_targets(Y, what)
        out = {}
        for layer in self.outputs:
            y = _numbers(data[layer.name], what if len(self.outputs) == 1 else
                         f"{what}[{layer.name!r}]", self.xp)
            if y.ndim == 1 and layer.n == 1:
                y = y.reshape(1, -1)  # a row of labels, as in seed 004's Y = (y^1 ... y^m)
            elif y.ndim == 1 and y.shape[0] == m and layer.n > 1:
                raise ShapeError(
                    f"the cost compares {layer.symbol} ({layer.n}, {m}) with {what}, but {what} is a "
                    f"vector of {m} values: class labels? A {layer.activation.name} output with "
                    f"{layer.n} rows needs one column per example with one row per class: pass "
                    f"gpubp.one_hot({what}, {layer.n}), which is ({layer.n}, {m})")
            if y.shape != (layer.n, m):
                name = what if len(self.outputs) == 1 else f"{what}[{layer.name!r}]"
                hint = f"; {name} looks transposed (rows as examples): pass {name}.T" \
                    if y.shape == (m, layer.n) else ""
                raise ShapeError(f"the cost compares {layer.symbol} with {name}: {layer.symbol} is "
                                 f"({layer.n}, {m}) but {name} is {y.shape}; {name} must be "
                                 f"({layer.size or layer.n}, m) = ({layer.n}, {m}){hint}")
            y = y.astype(self.dtype, copy=False)
            _check_finite(what if len(self.outputs) == 1 else f"{what}[{layer.name!r}]", y)
            self.loss.check_targets(y)
            out[layer.name] = y
        return out

    # ---- plans ---------------------------------------------------------------------------------

    def plan(self, m, sparse=frozenset()):
        """The training step for batches of ``m`` examples (:class:`gpubp.plan.Plan`), kept for
        reuse; ``sparse``: the names of the inputs given as sparse matrices (:mod:`gpubp.sparse`)."""
        self._complete()
        # keyed by the loops too: a plan bound before a long fit loaded them keeps the twins
        key = (m, frozenset(sparse), kernels.loops_loaded())
        p = self._plans.get(key)
        if p is None:
            p = self._plans[key] = Plan(self, m, train=True, sparse=key[1])
            while len(self._plans) > 3:  # a fit uses two sizes: the batch and the remainder
                self._plans.popitem(last=False)
        self._plans.move_to_end(key)
        return p

    def forward_plan(self, m, sparse=frozenset()):
        """A forward-only plan for ``m`` examples, one set per thread (so threads never share it)."""
        self._complete()
        plans = getattr(self._local, "plans", None)
        if plans is None:
            plans = self._local.plans = collections.OrderedDict()
        key = (m, frozenset(sparse), kernels.loops_loaded())
        p = plans.get(key)
        if p is None:
            p = plans[key] = Plan(self, m, train=False, sparse=key[1])
            while len(plans) > 2:  # the chunk and the remainder
                plans.popitem(last=False)
        return p

    def chunk_size(self, M):
        """Columns per forward chunk: the layer buffers stay under ``FORWARD_BYTES``."""
        rows = sum(node.n for node in self.inputs.values()) + 2 * sum(
            layer.n for layer in self.layers.values())
        return int(max(1, min(M, self.FORWARD_BYTES // (rows * self.dtype.itemsize))))

    # ---- the public API --------------------------------------------------------------------

    def forward(self, X, batch_size=None):
        """The outputs ``A`` for the examples in the columns of ``X``: new arrays, ``(n, m)`` each.

        Runs in chunks of ``batch_size`` columns (default: what fits in ``FORWARD_BYTES``), so any
        number of examples takes bounded memory; safe to call from several threads at once.
        """
        X = self.check_inputs(X)
        M = next(iter(X.values())).shape[1]
        chunk = check_batch_size(batch_size) or self.chunk_size(M)
        out = {o.name: self.xp.empty((o.n, M), self.dtype) for o in self.outputs}
        for start in range(0, M, chunk):
            cols = slice(start, min(start + chunk, M))
            plan = self.forward_plan(cols.stop - cols.start, sparse.names(X))
            plan.stage({k: v[:, cols] for k, v in X.items()})
            for name, A in plan.forward().items():
                out[name][:, cols] = A
        return self.unfeed(out)

    def predict_proba(self, X, batch_size=None):
        """The output probabilities ``(n, m)`` of a single sigmoid or softmax output: ``forward``."""
        out = self._single_output("predict_proba")
        if out.activation.name not in ("sigmoid", "softmax"):
            raise GpubpError(f"predict_proba needs a sigmoid or softmax output; {out.name} is "
                             f"{out.activation.name} (use forward for its values)")
        return self.forward(X, batch_size)

    def predict(self, X, batch_size=None):
        """What a single output predicts for each column of ``X``, as a NumPy array.

        softmax: the class of each example, ``argmax`` over the rows, ``(m,)``; sigmoid with one
        output: 0 or 1 for each example, ``(m,)``; sigmoid with n outputs: n labels per example,
        ``(n, m)`` (multi-label); any other output: the values ``A`` ``(n, m)`` (regression).
        """
        out = self._single_output("predict")
        A = backend.to_host(self.forward(X, batch_size))
        if out.activation.name == "softmax":
            return A.argmax(axis=0)
        if out.activation.name == "sigmoid":
            labels = (A > 0.5).astype(np.int64)
            return labels[0] if out.n == 1 else labels
        return A

    def _single_output(self, what):
        self._complete()
        if len(self.outputs) != 1:
            raise GpubpError(f"{what} needs a model with one output; this one has "
                             f"{len(self.outputs)}: use forward")
        return self.outputs[0]

    def cost(self, X, Y, batch_size=None):
        """The cost (sum over outputs of the mean loss over the m examples) as a Python float."""
        X = self.check_inputs(X)
        M = next(iter(X.values())).shape[1]
        Y = self.check_targets(Y, M)
        return self.cost_of_checked(X, Y, check_batch_size(batch_size) or self.chunk_size(M))

    def cost_of_checked(self, X, Y, chunk):
        """The cost of checked device data ``X``, ``Y`` in chunks of ``chunk`` columns, as a float."""
        M = next(iter(X.values())).shape[1]
        total = self.xp.zeros((), self.dtype)
        for start in range(0, M, chunk):
            cols = slice(start, min(start + chunk, M))
            plan = self.forward_plan(cols.stop - cols.start, sparse.names(X))
            plan.stage({k: v[:, cols] for k, v in X.items()}, {k: v[:, cols] for k, v in Y.items()})
            plan.forward()
            total += plan.cost() * (cols.stop - cols.start)
        return float(backend.to_host(total)) / M

    def forward_pass(self, X, Y):
        """``(plan, cost)``: ``X``, ``Y`` checked, staged whole in a training plan, and run
        forward; the cost as a float. ``plan.backward()`` is the next step (gradients, trace and
        gradcheck all start here)."""
        X = self.check_inputs(X)
        m = next(iter(X.values())).shape[1]
        Y = self.check_targets(Y, m)
        plan = self.plan(m, sparse.names(X))
        plan.stage(X, Y)
        plan.forward()
        return plan, float(backend.to_host(plan.cost()))

    def gradients(self, X, Y):
        """``(cost, grads)``: the cost and ``grads[name]`` = dCost/d(parameter), copies shaped like
        the parameters; ``grads.contributions(name)`` gives one term per use of a shared parameter."""
        with self._lock:  # threads share the training plan and grads: one call at a time
            plan, cost = self.forward_pass(X, Y)
            plan.backward()
            return cost, Gradients({k: v.copy() for k, v in self.grads.items()},
                                   plan.contributions())

    def save(self, path, metadata=None, allow_nonfinite=False):
        """Write this model and its training state to ``path`` (:func:`gpubp.saving.save`);
        ``gpubp.load(path)`` brings it back, and ``fit`` then continues exactly."""
        saving.save(self, path, metadata=metadata, allow_nonfinite=allow_nonfinite)

    def fit(self, X, Y, **options):
        """Train by mini-batch gradient descent; see :func:`gpubp.train.fit` for the options."""
        known = [k for k in inspect.signature(_train.fit).parameters if k not in ("net", "X", "Y")]
        for k in options:
            if k not in known:
                close = difflib.get_close_matches(k, known, n=1)
                raise ArgumentTypeError(f"fit has no option {k!r}"
                                        + (f"; did you mean {close[0]!r}?" if close else "")
                                        + f" Its options are: {', '.join(known)}")
        return _train.fit(self, X, Y, **options)

    def copy(self, dtype=None, device=None):
        """A new model with the same architecture and parameter values (cast and moved as asked),
        without training state."""
        self._complete()
        other = _copy.copy(self)  # nodes, activations and the loss are immutable once built: shared
        other.dtype = as_dtype(dtype) if dtype is not None else self.dtype
        other.device = backend.resolve(device) if device is not None else self.device
        other.xp = backend.xp_for(other.device)
        other.params = FlatArrays(self.params.layout, other.xp, other.dtype)
        other.params.flat[...] = backend.to_device(backend.to_host(self.params.flat), other.xp,
                                                   other.dtype)
        other.grads = other.params.like()
        other.training = None
        other._plans, other._local = collections.OrderedDict(), threading.local()
        other._lock = threading.RLock()
        return other

    # ---- its record: the architecture as JSON data (a checkpoint's "architecture") ------------

    def spec(self):
        """The architecture as JSON data: enough to rebuild the model, without parameter values.

        ``{"kind": ...}`` names a registered kind (:data:`gpubp.specs.KINDS`), whose class writes its own
        fields (``spec_fields``: a Network its constructor's arguments); any other graph, a
        subclass of Network included, is written as a plain ``"Graph"`` (its inputs, parameters,
        layers and outputs) and comes back as a :class:`Graph`. Every kind lists ``params``."""
        self._complete()
        cls = type(self) if specs.KINDS.get(type(self).__name__) is type(self) else Graph
        return {"kind": cls.__name__, **cls.spec_fields(self)}

    def spec_fields(self):
        """The fields of this kind's spec (besides "kind"): a plain graph's inputs, parameters,
        layers, outputs, loss and seed. A registered kind writes its constructor's instead."""
        return specs.graph_fields(self)

    def param_specs(self):
        """``[{"name", "shape", "role"}, ...]``: enough to cut the flat buffer into parameters."""
        return [{"name": p.name, "shape": list(p.shape), "role": p.role}
                for p in self.param_nodes.values()]

    @staticmethod
    def from_spec(spec, dtype="float32", device=None, fields=None):
        """The model :meth:`spec` describes, with fresh parameters (initialized by its seed).
        ``fields``: a :class:`gpubp.checkpoint.Fields` naming where the spec comes from; every
        malformed spec is a :class:`~gpubp.errors.CheckpointError`."""
        f = fields or checkpoint.Fields("architecture")
        cls = specs.spec_kind(spec, f)
        cls.spec_counts(spec, f)  # sizes checked before anything is allocated
        seed = f.get(spec, "seed", int, optional=True)
        try:
            model = cls.from_spec_fields(spec, f, dtype, device, seed)
        except CheckpointError:
            raise
        except (GpubpError, ValueError, TypeError, KeyError, OverflowError, MemoryError) as e:
            # the builders' own checks: a duplicate name, a layer leading to no output, ...
            why = " ".join(str(e).split()) or type(e).__name__
            raise f.error(f"cannot be rebuilt: {why}") from None
        specs.check_params(spec, model, f)
        return model

    @classmethod
    def spec_counts(cls, spec, f):
        """``(parameters, nodes)`` that ``spec`` builds, computed without building it."""
        # math.prod: Python ints, where np.prod would wrap around to 0 for a shape of 2^64 entries
        P = sum(math.prod(specs.listed_shape(p, f)) for p in f.get(spec, "params", list))
        nodes = len(f.get(spec, "inputs", list)) + len(f.get(spec, "layers", list))
        return specs.within_caps(P, nodes, f)

    @classmethod
    def from_spec_fields(cls, spec, f, dtype, device, seed):
        """The model of :meth:`spec_fields`'s fields (read with ``f``), through the public builder."""
        return specs.build_graph(cls(dtype=dtype, device=device, seed=seed), spec, f)

    # ---- pickling: no module objects, no buffers; they are rebuilt -------------------------

    def __getstate__(self):
        state = dict(self.__dict__)
        for k in ("xp", "_plans", "_local", "_lock"):
            state.pop(k)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.xp = backend.xp_for(self.device)
        self._plans, self._local = collections.OrderedDict(), threading.local()
        self._lock = threading.RLock()


class Gradients(dict):
    """``grads[name]``: dCost/d(parameter), shaped like the parameter (copies).

    ``grads.contributions(name)`` is ``{layer name: array}``, one term per use, which sum to
    ``grads[name]``: seed 000's ``dWx = dZ_H1 X1^T + dZ_H2 X2^T``.
    """

    def __init__(self, grads, contributions):
        super().__init__(grads)
        self._contributions = contributions

    def contributions(self, name):
        if name not in self._contributions:
            raise GpubpError(f"no parameter named {name!r}; the parameters are: {', '.join(self)}")
        return dict(self._contributions[name])


def _numbers(data, label, xp):
    """``data`` as a device array of real numbers; a DataError for strings, objects, ragged
    lists or complex numbers (whose imaginary part a cast would drop without a word)."""
    try:
        a = backend.to_device(data, xp)
    except (ValueError, TypeError) as e:
        raise DataError(f"{label} must be an array of numbers (one column per example); "
                        f"{' '.join(str(e).split())}") from None
    if a.dtype.kind == "c":
        raise DataError(f"{label} is complex ({a.dtype}); gpubp trains on real numbers: pass "
                        f"{label}.real if the imaginary parts are 0")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{label} must be an array of numbers; got an array of {a.dtype} "
                        f"(strings or objects): convert it first, e.g. {label}.astype(float)")
    return a


def _bytes(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}" if unit != "bytes" else f"{n} bytes"
        n /= 1024


def _check_finite(name, a):
    xp = backend.xp_of(a)
    # a NaN or an infinity makes the sum NaN or infinite, so a finite sum clears the array with no
    # temporary of its size; an infinite sum (an overflow, or a bad value) takes the full check
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum()
    if bool(xp.isfinite(total)):
        return
    finite = xp.isfinite(a)
    if not bool(finite.all()):
        bad = backend.to_host(~finite)
        i, j = np.argwhere(bad)[0]
        raise DataError(f"{name} contains {int(bad.sum())} NaN or Inf value(s) (first at row {i}, "
                        f"column {j}); remove or impute them first")


specs.register(Graph)
