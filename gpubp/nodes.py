"""The pieces of a graph's equations: inputs and layers (nodes, ``A`` of shape ``(n, m)``),
parameters (``W`` and ``b``), terms ``W A`` and the sums ``W_1 A_1 + ... (+ b)`` a layer forms.

:class:`gpubp.graph.Graph` builds these (``g.input``, ``g.weight``, ``g.layer``, ...); a layer
holds the equations, names and shapes that error messages and explanations show.
"""

from . import equations as _equations
from .errors import ArgumentTypeError, GpubpError, ShapeError


def check_name(name, taken):
    if not isinstance(name, str) or not name:
        raise ArgumentTypeError(f"a name must be a non-empty string; got {name!r}")
    if name in taken:
        raise GpubpError(f"the name {name!r} is already used in this graph by {taken[name]}; "
                         f"every input, parameter and layer needs its own name")


class Node:
    """Something with ``n`` rows per example: an input or a layer. ``A`` of it is ``(n, m)``."""

    kind = "node"
    __array_ufunc__ = None  # an array @ node reaches __rmatmul__ and its message, not NumPy's

    def __init__(self, name, n, symbol=None, size=None):
        self.name = name            # the key of its data (inputs) or of its trace (layers)
        self.n = int(n)
        self.symbol = symbol or name  # how equations write it: A[0], A[1], H1, ...
        self.size = size            # how the notes write n: "n[0]", or None

    def __rmatmul__(self, W):
        raise ArgumentTypeError(f"{W!r} @ {self.symbol}: the left factor must be a parameter from "
                        f"graph.weight(...)")

    def __repr__(self):
        return f"{self.kind} {self.symbol} ({self.n}, m)"

    @property
    def label(self):
        """``A[0] = X`` where the symbol and the name differ, else the name."""
        return self.symbol if self.symbol == self.name else f"{self.symbol} = {self.name}"


class Input(Node):
    kind = "input"


class Param:
    """A weight ``(rows, cols)`` or a bias ``(n, 1)``: ``W @ A`` makes a term, ``... + b`` adds a bias."""

    def __init__(self, name, shape, role):
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.role = role  # "weight" or "bias"

    def __matmul__(self, node):
        if not isinstance(node, Node):
            raise ArgumentTypeError(f"{self.name} @ {node!r}: the right factor must be an input or a layer "
                            f"of the graph")
        return Expr([Term(self, node)], None)

    def __add__(self, other):
        return Expr([], self) + other

    __radd__ = __add__

    def __repr__(self):
        return f"{self.role} {self.name} {self.shape}"


class Term:
    """``W A``: one product of a layer's sum."""

    def __init__(self, W, A):
        self.W, self.A = W, A

    def __str__(self):
        return f"{self.W.name} {self.A.symbol}"


class Expr:
    """``W_1 A_1 + W_2 A_2 + ... (+ b)``: what a layer sums before its activation."""

    def __init__(self, terms, bias):
        self.terms, self.bias = list(terms), bias

    def __add__(self, other):
        if other is None:
            return self
        if isinstance(other, Param):
            other = Expr([], other)
        if not isinstance(other, Expr):
            raise ArgumentTypeError(f"cannot add {other!r} to {self}: a layer sums terms W @ A and one "
                            f"bias parameter")
        if self.bias is not None and other.bias is not None:
            raise GpubpError(f"{self} + {other}: a layer takes at most one bias")
        return Expr(self.terms + other.terms, self.bias or other.bias)

    __radd__ = __add__

    def __str__(self):
        parts = [str(t) for t in self.terms] + ([self.bias.name] if self.bias else [])
        return " + ".join(parts)


class Layer(Node):
    """``Z = sum_k W_k A_k (+ b)``, ``A = chi(Z)``; ``A`` is ``(n, m)``.

    ``z`` and ``dz`` are the symbols of its pre-activation and of dCost/dZ (``Z[1]``, ``dZ[1]`` in
    a chain; ``Z_H1``, ``dZ_H1`` in a graph).
    """

    kind = "layer"

    def __init__(self, name, expr, activation, symbol=None, z=None, dz=None, size=None):
        self.terms, self.bias, self.activation = expr.terms, expr.bias, activation
        super().__init__(name, expr.terms[0].W.shape[0], symbol, size)
        self.z = z or f"Z_{name}"
        self.dz = dz or f"d{self.z}"

    def equations(self):
        """``[Z = sum_k W_k A_k (+ b), A = chi(Z)]`` as :class:`gpubp.equations.Equation` objects."""
        return _equations.forward(self)

    def equation(self):
        """``Z[1] = W[1] A[0] + b[1]``: the sum this layer forms (error messages quote it)."""
        return str(self.equations()[0])

    def check_term(self, term, A_shape, data=None):
        """Raise a :class:`ShapeError` naming the equation, the term and both shapes if ``W A``
        cannot be formed with ``A`` of shape ``A_shape``: ``(n,)`` when the graph is built, or the
        shape of data the user passed, named ``data`` (``"X"``, ``"validation X"``, ...)."""
        W, A = term.W, term.A
        shape = tuple(A_shape) if data else (A_shape[0], "m")
        show = "(" + ", ".join(str(s) for s in shape) + ")"
        label = A.label if not data else (data if data == A.symbol else f"{A.symbol} = {data}")
        if data and len(shape) != 2:
            hint = ""
            if len(shape) == 1 and A.n == 1:
                hint = (f"; with {A.size or 'n'} = 1 input row, {data} is one row of m examples: "
                        f"pass {data}.reshape(1, -1)")
            elif len(shape) == 1 and shape[0] == A.n:
                hint = f"; for a single example use {data}.reshape(-1, 1)"
            raise ShapeError(f"{self.equation()}: {label} must be 2-D ({A.size or A.n}, m) = "
                             f"({A.n}, m), one column per example; got shape {shape}{hint}")
        if W.shape[1] != A_shape[0]:
            must = f"({A.size}, m) = ({W.shape[1]}, m)" if A.size else f"({W.shape[1]}, m)"
            hint = ""
            if data and isinstance(A, Input) and A_shape[1] == W.shape[1]:
                hint = f"; {data} looks transposed (rows as examples): pass {data}.T"
            raise ShapeError(f"{self.equation()}: {W.name} is {W.shape} but {label} is {show}; "
                             f"inner sizes {W.shape[1]} != {A_shape[0]} (columns are examples: "
                             f"{label} must be {must}){hint}")

    def __repr__(self):
        return f"layer {self.symbol} = {self.activation.name}({Expr(self.terms, self.bias)})"
