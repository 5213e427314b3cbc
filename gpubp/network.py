"""Network: the notes' chain ``n[0] -> n[1] -> ... -> n[L]`` (seed 004), built as a Graph.

Notation (kept in every name and message): columns are examples; ``A[0] = X`` is
``(n[0], m)``; layers are numbered ``1..L``; ``W[l]`` is ``(n[l], n[l-1])``, ``b[l]`` is
``(n[l], 1)``, ``Z[l]`` and ``A[l]`` are ``(n[l], m)``; a gradient has the shape of what it
differentiates, and ``dZ[l]`` means dCost/dZ[l].

Forward::

    Z[l] = W[l] A[l-1] + b[l]          A[l] = chi[l](Z[l])            for l = 1..L

Backward::

    dZ[L] = c (A[L] - Y) / m                          (canonical pairs; else dA[L] * chi'[L](Z[L]))
    dW[l] = dZ[l] A[l-1]^T      db[l] = dZ[l] 1^T      for l = L..1
    dZ[l-1] = (W[l]^T dZ[l]) * chi'[l-1](Z[l-1])

It is the special case of :class:`gpubp.graph.Graph` with one term per layer: the same plan runs
it, and its parameters are ``net.params["W[1]"]``, ``net.params["b[1]"]``, ...
"""

import numpy as np

from . import activations as _activations
from .errors import ArgumentTypeError, ConfigError, GpubpError, LayerIndexError, ShapeError
from .graph import Gradients as _GraphGradients
from .checks import check_flag
from .graph import Graph
from .specs import (activation_from_spec, activation_spec, loss_from_spec, loss_spec, register,
                    seed_spec, within_caps)


class LayerList:
    """Per-layer arrays numbered ``1..L`` as in the notes: ``net.W[1]`` is ``params["W[1]"]``.

    Reading gives the live array. Assigning checks the shape and copies the values into the
    live array (on the network's device, in its dtype), so optimizer state stays attached.
    """

    def __init__(self, symbol, arrays, L, shown=None):
        self.symbol, self.arrays, self.L = symbol, arrays, L
        self.shown = shown or symbol  # "dW" for gradients

    def _name(self, l):
        if not isinstance(l, (int, np.integer)) or isinstance(l, bool) or not 1 <= l <= self.L:
            raise LayerIndexError(f"{self.shown}[{l!r}] does not exist: layers are numbered 1..{self.L} "
                             f"as in the notes (A[0] = X is the input, not a layer)")
        return f"{self.symbol}[{l}]"

    def __getitem__(self, l):
        return self.arrays[self._name(l)]

    def __setitem__(self, l, value):
        name = self._name(l)
        if not hasattr(self.arrays, "layout"):
            raise ArgumentTypeError(f"{self.shown}[{l}] is read-only here")
        target = self.arrays[name]
        shape = np.shape(value) if not hasattr(value, "shape") else tuple(value.shape)
        if shape != target.shape:
            cols = f"n[{l - 1}]" if self.symbol == "W" else "1"
            raise ShapeError(f"{name} must be (n[{l}], {cols}) = {target.shape}; got {shape}")
        self.arrays[name] = value

    def __len__(self):
        return self.L

    def __iter__(self):
        return (self[l] for l in range(1, self.L + 1))

    def __repr__(self):
        return "{" + ", ".join(f"{self.shown}[{l}]: {self[l].shape}" for l in range(1, self.L + 1)) + "}"


class Gradients(_GraphGradients):
    """``grads.W[l]`` = dCost/dW[l] and ``grads.b[l]`` = dCost/db[l], shaped like ``W[l]``, ``b[l]``;
    also ``grads["W[1]"]`` as for any graph."""

    def __init__(self, grads, contributions, L, bias):
        super().__init__(grads, contributions)
        self.W = LayerList("W", self, L, shown="dW")
        self.b = LayerList("b", self, L, shown="db") if bias else None


@register
class Network(Graph):
    """A fully connected network ``n[0] -> n[1] -> ... -> n[L]`` trained by backpropagation.

    Parameters
    ----------
    sizes : sequence of int
        ``[n[0], n[1], ..., n[L]]``: the input size, the hidden layer sizes, the output size.
    activation : str or list of str
        The hidden layers' activation, or one name per hidden layer (``L - 1`` names):
        identity, sigmoid, tanh, relu, leaky_relu (or an :class:`~gpubp.activations.Activation`).
    output : str
        The output layer's activation: any of the above, or softmax.
    loss : str
        mse, sse, half_sse, bce or cross_entropy (see :mod:`gpubp.losses` for each formula).
    dtype : float32 (default) or float64, in any NumPy spelling
    device : "auto", "cpu", "gpu" or None (the environment variable GPUBP_DEVICE, default auto).
    seed : int or None
        Seeds the initialization (and the shuffling of :meth:`fit`).
    bias : bool
        ``False`` for layers ``Z[l] = W[l] A[l-1]`` without ``b[l]`` (seeds 001 and 003).
    """

    def __init__(self, sizes, activation="relu", output="sigmoid", loss="bce", dtype="float32",
                 device=None, seed=None, bias=True):
        try:
            sizes = list(sizes)
        except TypeError:
            raise ConfigError(f"sizes must be a list [n[0], ..., n[L]] of at least two positive "
                              f"integers (inputs and outputs); got {sizes!r}") from None
        bias = check_flag("bias", bias)
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                                     and n >= 1 for n in sizes):
            raise ConfigError(f"sizes must be [n[0], ..., n[L]]: at least two positive integers "
                             f"(inputs and outputs); got {sizes}")
        super().__init__(dtype, device, seed)
        self.sizes = tuple(int(n) for n in sizes)
        self.L = L = len(sizes) - 1
        self.bias_terms = bool(bias)
        hidden = activation if isinstance(activation, (list, tuple)) else [activation] * (L - 1)
        if len(hidden) != L - 1:
            raise ConfigError(f"activation lists one name per hidden layer: {L - 1} for sizes "
                             f"{list(self.sizes)}; got {len(hidden)}: {list(hidden)}")
        acts = [_activations.get(a) for a in hidden] + [_activations.get(output)]
        for l, a in enumerate(acts[:-1], 1):
            if not a.hidden_ok:
                raise ConfigError(f"layer {l}: {a.name} is for the output layer only")
        A = self.input("X", self.sizes[0], symbol="A[0]", size="n[0]")
        for l in range(1, L + 1):
            W = self.weight(f"W[{l}]", (self.sizes[l], self.sizes[l - 1]))
            b = self.bias(f"b[{l}]", self.sizes[l]) if bias else None
            A = self.layer(f"A[{l}]", W @ A + b, activation=acts[l - 1], z=f"Z[{l}]",
                           dz=f"dZ[{l}]", size=f"n[{l}]")
        super().output(A, loss=loss)

    def output(self, *args, **kwargs):
        raise GpubpError("a Network is complete when made; build a gpubp.Graph for other outputs")

    # ---- its record: the constructor's arguments ---------------------------------------------

    def spec_fields(self):
        acts = self.activations
        return {"sizes": list(self.sizes), "activation": [activation_spec(a) for a in acts[1:-1]],
                "output": activation_spec(acts[-1]), "loss": loss_spec(self.loss),
                "bias": self.bias_terms, "seed": seed_spec(self.seed), "params": self.param_specs()}

    @classmethod
    def spec_counts(cls, spec, f):
        sizes, bias = f.get(spec, "sizes", list), f.get(spec, "bias", bool)
        if len(sizes) < 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                     for n in sizes):
            raise f.error(f"field 'sizes' must be [n[0], ..., n[L]], at least two positive "
                          f"integers; got {sizes!r}")
        P = sum(n * (m + bias) for m, n in zip(sizes, sizes[1:]))
        return within_caps(P, len(sizes), f)

    @classmethod
    def from_spec_fields(cls, spec, f, dtype, device, seed):
        hidden = [activation_from_spec(a, f) for a in f.get(spec, "activation", list)]
        return cls(f.get(spec, "sizes", list), activation=hidden,
                   output=activation_from_spec(f.get(spec, "output", dict), f),
                   loss=loss_from_spec(spec, f), dtype=dtype, device=device, seed=seed,
                   bias=f.get(spec, "bias", bool))

    # ---- the notes' names ------------------------------------------------------------------

    @property
    def n(self):
        """``(n[0], ..., n[L])``."""
        return self.sizes

    @property
    def activations(self):
        """``[None, chi[1], ..., chi[L]]``: index l is layer l."""
        return [None] + [layer.activation for layer in self.layers.values()]

    @property
    def W(self):
        """``W[l]``, l = 1..L: the live weight arrays."""
        return LayerList("W", self.params, self.L)

    @property
    def b(self):
        """``b[l]``, l = 1..L: the live bias arrays."""
        if not self.bias_terms:
            raise GpubpError("this network has no biases (it was made with bias=False)")
        return LayerList("b", self.params, self.L)

    def __repr__(self):
        hidden = [a.name for a in self.activations[1:-1]]
        act = hidden[0] if len(set(hidden)) == 1 else hidden
        return (f"Network({list(self.sizes)}, activation={act!r}, output="
                f"{self.activations[-1].name!r}, loss={self.loss.name!r}, dtype={self.dtype.name!r}, "
                f"device={self.device!r}" + ("" if self.bias_terms else ", bias=False") + ")")

    def gradients(self, X, Y):
        """``(cost, grads)``: the cost and its gradients ``grads.W[l]``, ``grads.b[l]`` (copies)."""
        cost, grads = super().gradients(X, Y)
        return cost, Gradients(grads, {k: grads.contributions(k) for k in grads}, self.L,
                               self.bias_terms)
