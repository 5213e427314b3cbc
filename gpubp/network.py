"""Network: forward and backward propagation of seed 004, vectorized over the m examples.

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

All of it runs in buffers kept from one call to the next (:class:`Workspace`), so that once
warmed up a training step allocates nothing.
"""

import collections

import numpy as np

from . import activations as _activations
from . import backend
from . import losses as _losses
from .errors import DataError, ShapeError

DTYPES = ("float32", "float64")


def linear_shapes(l, W_shape, A_shape, b_shape=None):
    """Check that ``Z[l] = W[l] A[l-1] + b[l]`` can be formed; raise a :class:`ShapeError` that
    names the equation, the layer and both shapes if not."""
    eq = f"Z[{l}] = W[{l}] A[{l - 1}] + b[{l}]"
    a_name = f"A[{l - 1}]" + (" = X" if l == 1 else "")
    if len(A_shape) != 2:
        raise ShapeError(f"{eq}: {a_name} must be 2-D (n[{l - 1}], m), one column per example; "
                         f"got shape {tuple(A_shape)}"
                         + ("; for a single example use x.reshape(-1, 1)" if len(A_shape) == 1 else ""))
    if W_shape[1] != A_shape[0]:
        hint = ""
        if l == 1 and len(A_shape) == 2 and A_shape[1] == W_shape[1]:
            hint = "; X looks transposed (rows as examples): pass X.T"
        raise ShapeError(f"{eq}: W[{l}] is {tuple(W_shape)} but {a_name} is {tuple(A_shape)}; "
                         f"inner sizes {W_shape[1]} != {A_shape[0]} (columns are examples: "
                         f"{a_name} must be (n[{l - 1}], m) = ({W_shape[1]}, m)){hint}")
    if b_shape is not None and tuple(b_shape) != (W_shape[0], 1):
        raise ShapeError(f"{eq}: b[{l}] is {tuple(b_shape)} but must be (n[{l}], 1) = ({W_shape[0]}, 1)")


class LayerList:
    """Per-layer arrays numbered ``1..L`` as in the notes: ``net.W[1]`` is ``W[1]``.

    Reading gives the live array. Assigning checks the shape and copies the values into the
    live array (on the network's device, in its dtype), so optimizer state stays attached.
    """

    def __init__(self, symbol, arrays, dtype=None, xp=None):
        self._symbol = symbol
        self._arrays = arrays  # index 0 unused, so that index l is layer l
        self._dtype = dtype
        self._xp = xp

    def _check(self, l):
        L = len(self._arrays) - 1
        if not isinstance(l, (int, np.integer)) or not 1 <= l <= L:
            raise IndexError(f"{self._symbol}[{l!r}] does not exist: layers are numbered 1..{L} as in "
                             f"the notes (A[0] = X is the input, not a layer)")

    def __getitem__(self, l):
        self._check(l)
        return self._arrays[l]

    def __setitem__(self, l, value):
        self._check(l)
        if self._xp is None:
            raise TypeError(f"{self._symbol}[{l}] is read-only here")
        target = self._arrays[l]
        value = backend.to_device(value, self._xp)
        if value.shape != target.shape:
            cols = f"n[{l - 1}]" if self._symbol == "W" else "1"
            raise ShapeError(f"{self._symbol}[{l}] must be (n[{l}], {cols}) = {target.shape}; "
                             f"got {value.shape}")
        target[...] = value.astype(self._dtype, copy=False)

    def __len__(self):
        return len(self._arrays) - 1

    def __iter__(self):
        return iter(self._arrays[1:])

    def __repr__(self):
        return "{" + ", ".join(f"{self._symbol}[{l}]: {a.shape}" for l, a in enumerate(self._arrays) if l) + "}"


class Gradients:
    """``grads.W[l]`` = dCost/dW[l] and ``grads.b[l]`` = dCost/db[l], shaped like ``W[l]``, ``b[l]``."""

    def __init__(self, dW, db):
        self.W = LayerList("dW", dW)
        self.b = LayerList("db", db)


class Workspace:
    """The buffers of one batch size m: ``Z[l]``, ``A[l]``, ``dZ[l]``, each ``(n[l], m)``.

    ``Z[L]`` holds the output logits after a forward pass. For hidden layers the bias is added
    inside the fused kernel ``A[l] = chi(W[l] A[l-1] + b[l])``, so ``Z[l]`` holds ``W[l] A[l-1]``
    (no derivative needs Z: all are read from A). The backward pass reuses ``Z[l]`` to hold
    ``dA[l] = W[l+1]^T dZ[l+1]``. ``X`` and ``Y`` are batch buffers for the training loop.

    ``db[l] = dZ[l] 1^T`` is a matrix product with the column of ``ones``, as the notes write it
    (eq. 20): on CuPy a reduction with ``out=`` allocates scratch, a product does not.
    """

    def __init__(self, xp, sizes, m, dtype):
        self.m = m
        self.Z = [None] + [xp.empty((n, m), dtype) for n in sizes[1:]]   # (n[l], m)
        self.A = [None] + [xp.empty((n, m), dtype) for n in sizes[1:]]   # (n[l], m); A[0] is X
        self.dZ = [None] + [xp.empty((n, m), dtype) for n in sizes[1:]]  # (n[l], m)
        self.ones = xp.ones((m, 1), dtype)                               # (m, 1): 1^T of eq. (20)
        self.X = xp.empty((sizes[0], m), dtype)                          # (n[0], m)
        self.Y = xp.empty((sizes[-1], m), dtype)                         # (n[L], m)


def _init_scale(activation, fan_in, fan_out):
    """Glorot (uniform) for sigmoid, tanh, identity and softmax; He (normal) for relu and leaky_relu."""
    if activation.name in ("relu", "leaky_relu"):
        return "normal", np.sqrt(2.0 / fan_in)
    return "uniform", np.sqrt(6.0 / (fan_in + fan_out))


class Network:
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
        mse, half_sse, bce or cross_entropy (see :mod:`gpubp.losses` for each formula).
    dtype : "float32" (default) or "float64"
    device : "auto", "cpu", "gpu" or None (the environment variable GPUBP_DEVICE, default auto).
    seed : int or None
        Seeds the initialization (and the shuffling of :meth:`fit`).
    """

    def __init__(self, sizes, activation="relu", output="sigmoid", loss="bce", dtype="float32",
                 device=None, seed=None):
        sizes = list(sizes)
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
            raise ValueError(f"sizes must be [n[0], ..., n[L]]: at least two positive integers "
                             f"(inputs and outputs); got {sizes}")
        if str(dtype) not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
        self.sizes = tuple(int(n) for n in sizes)
        self.L = len(sizes) - 1
        hidden = activation if isinstance(activation, (list, tuple)) else [activation] * (self.L - 1)
        if len(hidden) != self.L - 1:
            raise ValueError(f"activation lists one name per hidden layer: {self.L - 1} for sizes "
                             f"{list(self.sizes)}; got {len(hidden)}: {list(hidden)}")
        acts = [_activations.get(a) for a in hidden]
        for l, a in enumerate(acts, 1):
            if not a.hidden_ok:
                raise ValueError(f"layer {l}: {a.name} is for the output layer only")
        self.activations = [None] + acts + [_activations.get(output)]  # chi[l], l = 1..L
        self.loss = _losses.get(loss, self.output)
        self.fused = _losses.is_fused(self.loss, self.output)
        self.dtype = np.dtype(str(dtype))
        self.device = backend.resolve(device)
        self.xp = backend.xp_for(self.device)
        self.seed = seed

        rng = np.random.default_rng(seed)
        xp = self.xp
        self._W, self._b, self._dW, self._db = [None], [None], [None], [None]
        for l in range(1, self.L + 1):
            fan_in, fan_out = self.sizes[l - 1], self.sizes[l]
            kind, scale = _init_scale(self.activations[l], fan_in, fan_out)
            W = (rng.normal(0, scale, (fan_out, fan_in)) if kind == "normal"
                 else rng.uniform(-scale, scale, (fan_out, fan_in)))
            self._W.append(xp.asarray(W, dtype=self.dtype))                # (n[l], n[l-1])
            self._b.append(xp.zeros((fan_out, 1), dtype=self.dtype))       # (n[l], 1)
            self._dW.append(xp.zeros((fan_out, fan_in), dtype=self.dtype))  # (n[l], n[l-1])
            self._db.append(xp.zeros((fan_out, 1), dtype=self.dtype))      # (n[l], 1)
        self.W = LayerList("W", self._W, self.dtype, xp)
        self.b = LayerList("b", self._b, self.dtype, xp)
        self._workspaces = collections.OrderedDict()

    # ---- description -----------------------------------------------------------------------

    @property
    def output(self):
        """The output activation chi[L]."""
        return self.activations[self.L]

    @property
    def n(self):
        """``(n[0], ..., n[L])``."""
        return self.sizes

    def __repr__(self):
        hidden = [a.name for a in self.activations[1:-1]]
        act = hidden[0] if len(set(hidden)) == 1 else hidden
        return (f"Network({list(self.sizes)}, activation={act!r}, output={self.output.name!r}, "
                f"loss={self.loss.name!r}, dtype={self.dtype.name!r}, device={self.device!r})")

    def parameters(self):
        """``[W[1], b[1], ..., W[L], b[L]]``: the live arrays, in the order of :meth:`grads`."""
        return [p for l in range(1, self.L + 1) for p in (self._W[l], self._b[l])]

    def grads(self):
        """The gradient buffers ``[dW[1], db[1], ...]`` written by the last backward pass (live)."""
        return [g for l in range(1, self.L + 1) for g in (self._dW[l], self._db[l])]

    def copy(self, dtype=None, device=None):
        """A new network with the same architecture and parameter values (cast/moved as asked)."""
        other = Network(self.sizes, [a for a in self.activations[1:-1]], self.output, self.loss.name,
                        dtype=dtype or self.dtype.name, device=device or self.device, seed=self.seed)
        for l in range(1, self.L + 1):
            other.W[l] = backend.to_host(self._W[l])
            other.b[l] = backend.to_host(self._b[l])
        return other

    # ---- the public edge: validation, then the math ----------------------------------------

    def check_X(self, X):
        """``X`` as an array on this network's device and dtype, checked: 2-D ``(n[0], m)``,
        ``m >= 1``, finite. Raises :class:`ShapeError` / :class:`DataError` that say what is wrong."""
        xp = self.xp
        X = backend.to_device(X, xp)
        linear_shapes(1, self._W[1].shape, X.shape)
        if X.shape[1] == 0:
            raise DataError(f"X has no examples: shape {X.shape}; a batch needs m >= 1 columns")
        X = X.astype(self.dtype, copy=False)
        _check_finite("X", X)
        return X

    def check_Y(self, Y, m):
        """``Y`` as an ``(n[L], m)`` array on this device, checked against the loss."""
        xp = self.xp
        Y = backend.to_device(Y, xp)
        nL = self.sizes[-1]
        if Y.ndim == 1 and nL == 1:
            Y = Y.reshape(1, -1)  # a row of labels, as in seed 004's Y = (y^1 ... y^m)
        if Y.shape != (nL, m):
            hint = "; Y looks transposed (rows as examples): pass Y.T" if Y.shape == (m, nL) else ""
            raise ShapeError(f"the cost compares A[{self.L}] with Y: A[{self.L}] is ({nL}, {m}) but "
                             f"Y is {Y.shape}; Y must be (n[L], m) = ({nL}, {m}){hint}")
        Y = Y.astype(self.dtype, copy=False)
        _check_finite("Y", Y)
        self.loss.check_targets(Y)
        return Y

    def forward(self, X):
        """``A[L]`` for the examples in the columns of ``X`` ``(n[0], m)``: a new ``(n[L], m)`` array."""
        X = self.check_X(X)
        return self._forward(self._workspace(X.shape[1]), X).copy()

    def cost(self, X, Y):
        """The cost (mean loss over the m examples) as a Python float."""
        X = self.check_X(X)
        Y = self.check_Y(Y, X.shape[1])
        ws = self._workspace(X.shape[1])
        self._forward(ws, X)
        return float(self._cost(ws, Y))

    def gradients(self, X, Y):
        """``(cost, grads)``: the cost and its gradients ``grads.W[l]``, ``grads.b[l]`` (copies)."""
        X = self.check_X(X)
        Y = self.check_Y(Y, X.shape[1])
        ws = self._workspace(X.shape[1])
        self._forward(ws, X)
        cost = float(self._cost(ws, Y))
        self._backward(ws, X, Y)
        return cost, Gradients([None] + [g.copy() for g in self._dW[1:]],
                               [None] + [g.copy() for g in self._db[1:]])

    def fit(self, X, Y, **options):
        """Train by mini-batch gradient descent; see :func:`gpubp.train.fit` for the options."""
        from .train import fit  # train.py builds on this module; the method is a convenience

        return fit(self, X, Y, **options)

    # ---- the math, on checked device arrays ------------------------------------------------

    def _workspace(self, m):
        ws = self._workspaces.get(m)
        if ws is None:
            ws = self._workspaces[m] = Workspace(self.xp, self.sizes, m, self.dtype)
            while len(self._workspaces) > 3:  # a fit uses two sizes: the batch and the remainder
                self._workspaces.popitem(last=False)
        self._workspaces.move_to_end(m)
        return ws

    def _forward(self, ws, X):
        """``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = chi[l](Z[l])`` for l = 1..L; returns ``A[L]``."""
        xp = self.xp
        A_prev = X  # A[0] = X, (n[0], m)
        for l in range(1, self.L + 1):
            xp.matmul(self._W[l], A_prev, out=ws.Z[l])  # W[l] A[l-1], (n[l], m)
            if l < self.L:
                self.activations[l].forward_bias(ws.Z[l], self._b[l], ws.A[l], scratch=ws.dZ[l])
            else:
                ws.Z[l] += self._b[l]  # the output keeps Z[L]: the stable costs read the logits
                self.output.forward(ws.Z[l], ws.A[l], scratch=ws.dZ[l])
            A_prev = ws.A[l]
        return ws.A[self.L]

    def _cost(self, ws, Y):
        """The cost as a 0-d array on the device (no transfer), from ``A[L]`` (and the logits)."""
        logits = ws.Z[self.L] if self.fused else None
        return self.loss.value(ws.A[self.L], Y, logits)

    def _backward(self, ws, X, Y, m=None):
        """Fill the gradient buffers ``dW[l]``, ``db[l]``. ``m`` is the global batch size that the
        ``1/m`` of the cost uses (default: the columns of X); it differs for data-parallel work."""
        xp = self.xp
        L = self.L
        m = ws.m if m is None else m
        A, Z, dZ = ws.A, ws.Z, ws.dZ
        if self.fused:
            self.loss.output_delta(self.output, A[L], Y, m, dZ[L])  # dZ[L] = c (A[L] - Y) / m
        else:
            self.loss.dA(A[L], Y, m, out=Z[L], scratch=dZ[L])     # dA[L] = dCost/dA[L]
            self.output.backward(A[L], Z[L], dZ[L])                # dZ[L] = dA[L] * chi'(Z[L])
        for l in range(L, 0, -1):
            A_prev = X if l == 1 else A[l - 1]
            xp.matmul(dZ[l], A_prev.T, out=self._dW[l])           # dW[l] = dZ[l] A[l-1]^T
            xp.matmul(dZ[l], ws.ones, out=self._db[l])            # db[l] = dZ[l] 1^T
            if l > 1:
                xp.matmul(self._W[l].T, dZ[l], out=Z[l - 1])      # dA[l-1] = W[l]^T dZ[l]
                self.activations[l - 1].backward(A[l - 1], Z[l - 1], dZ[l - 1])  # * chi'(Z[l-1])

    def train_step(self, X, Y, optimizer, cost=False):
        """One step of gradient descent on a checked batch ``X (n[0], m)``, ``Y (n[L], m)``
        already on the device. Returns the batch cost as a 0-d device array if ``cost``."""
        ws = self._workspace(X.shape[1])
        self._forward(ws, X)
        c = self._cost(ws, Y) if cost else None
        self._backward(ws, X, Y)
        optimizer.step(self.parameters(), self.grads())
        return c


def _check_finite(name, a):
    xp = backend.xp_of(a)
    finite = xp.isfinite(a)
    if not bool(finite.all()):
        bad = backend.to_host(~finite)
        i, j = np.argwhere(bad)[0]
        raise DataError(f"{name} contains {int(bad.sum())} NaN or Inf value(s) (first at row {i}, "
                        f"column {j}); remove or impute them first")
