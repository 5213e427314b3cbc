"""Activations chi: name -> object with the forward pass and the derivative taken from the output.

Every activation works on whole ``(n[l], m)`` arrays and writes into buffers it is given:

``forward(Z, A)``                 ``A = chi(Z)``
``forward_bias(Z, b, A, scratch)`` ``A = chi(Z + b)`` in one pass (Z holds ``W[l] A[l-1]``)
``backward(A, dA, dZ)``           ``dZ = dA * chi'(Z)``, with chi' written in terms of ``A``

``dA`` and ``dZ`` are different buffers. The elementwise ones call :mod:`gpubp.kernels`.
``bind(step, *buffers, scratch=None)`` returns one of these steps on fixed buffers as a function
of no arguments, resolved once: a plan binds its buffers when it is built.
"""

import functools

from . import kernels
from .backend import xp_of
from .errors import ConfigError, unknown_name


class Activation:
    """Base class: one activation function chi and its derivative."""

    name = None
    #: the interval chi maps into, for checking that a loss can use this output
    range = (float("-inf"), float("inf"))
    hidden_ok = True

    def __repr__(self):
        return self.name

    def forward_bias(self, Z, b, A, scratch=None):
        """``A = chi(Z + b)``; this default adds then activates (two passes)."""
        xp_of(Z).add(Z, b, out=A)
        self.forward(A, A, scratch)

    def bind(self, step, *buffers, scratch=None):
        """``step`` ("forward", "forward_bias" or "backward") on these buffers, as a function of
        no arguments: ``bind("forward", Z, A)()`` does ``forward(Z, A)``."""
        if step == "backward":
            return functools.partial(self.backward, *buffers)
        return functools.partial(getattr(self, step), *buffers, scratch=scratch)

    def derivative_text(self, A):
        """``chi'(Z)`` written with the output ``A`` (a symbol), as the backward pass reads it."""
        return self.derivative_formula.format(A=A)

    def derivative(self, A):
        """``chi'(Z)`` as a new array, from ``A = chi(Z)`` (for explanations and tests)."""
        xp = xp_of(A)
        out = xp.empty_like(A)
        self.backward(A, xp.ones_like(A), out)
        return out


class Identity(Activation):
    """``chi(z) = z``, ``chi'(z) = 1``."""

    name = "identity"
    derivative_formula = "1"

    def forward(self, Z, A, scratch=None):
        if A is not Z:
            xp_of(Z).copyto(A, Z)

    def forward_bias(self, Z, b, A, scratch=None):
        kernels.bias_identity(Z, b, A)

    def backward(self, A, dA, dZ):
        xp_of(dA).copyto(dZ, dA)


class _Kernels(Activation):
    """An activation whose three steps are the kernels ``<name>``, ``bias_<name>``, ``<name>_grad``."""

    _KERNELS = {"forward": "{}", "forward_bias": "bias_{}", "backward": "{}_grad"}

    def _kernel(self, step):
        return getattr(kernels, self._KERNELS[step].format(self.name))

    def _arguments(self, buffers):
        """The kernel's arguments: the buffers (and the activation's constants, if any)."""
        return buffers

    def forward(self, Z, A, scratch=None):
        self._kernel("forward")(*self._arguments((Z, A)), scratch=scratch)

    def forward_bias(self, Z, b, A, scratch=None):
        self._kernel("forward_bias")(*self._arguments((Z, b, A)), scratch=scratch)

    def backward(self, A, dA, dZ):
        self._kernel("backward")(*self._arguments((A, dA, dZ)))

    def bind(self, step, *buffers, scratch=None):
        if getattr(type(self), step) is not getattr(_Kernels, step):  # a subclass's own step
            return super().bind(step, *buffers, scratch=scratch)
        return self._kernel(step).bind(*self._arguments(buffers), scratch=scratch)


class Sigmoid(_Kernels):
    """``sigma(z) = 1 / (1 + exp(-z))``, ``sigma'(z) = A (1 - A)``."""

    name = "sigmoid"
    range = (0.0, 1.0)
    derivative_formula = "{A} (1 - {A})"


class Tanh(_Kernels):
    """``tanh(z)``, ``tanh'(z) = 1 - A^2``."""

    name = "tanh"
    range = (-1.0, 1.0)
    derivative_formula = "1 - {A}^2"


class ReLU(_Kernels):
    """``relu(z) = max(z, 0)``; ``relu'(z) = 1 for z > 0, else 0`` (we take ``relu'(0) = 0``)."""

    name = "relu"
    range = (0.0, float("inf"))
    derivative_formula = "1 where {A} > 0, else 0"


class LeakyReLU(_Kernels):
    """``z for z > 0, else alpha z``; derivative 1 for z > 0, else alpha (so ``alpha`` at 0).

    ``0 < alpha < 1``: the sign of ``A`` is then the sign of ``Z``, which lets the derivative be
    read from ``A``.
    """

    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        alpha = float(alpha)
        if not 0 < alpha < 1:
            raise ConfigError(f"leaky_relu needs 0 < alpha < 1; got alpha={alpha}")
        self.alpha = alpha

    def __repr__(self):
        return f"leaky_relu(alpha={self.alpha})"

    def derivative_text(self, A):
        return f"1 where {A} > 0, else {self.alpha:g}"

    def _arguments(self, buffers):
        return (*buffers[:-1], self.alpha, buffers[-1])  # each kernel takes alpha before its output


class Softmax(Activation):
    """Column-wise ``softmax(z)_i = exp(z_i) / sum_k exp(z_k)``, for the output layer only.

    Its Jacobian is not diagonal: ``dZ = A * (dA - sum_i(dA * A))`` per column. Paired with
    ``cross_entropy`` the fused delta ``dZ = (A - Y) / m`` is used instead.
    """

    name = "softmax"
    range = (0.0, 1.0)
    hidden_ok = False
    derivative_formula = "Diag({A}) - {A} {A}^T per column (so dZ = {A} * (dA - sum_i dA_i {A}_i))"

    def forward(self, Z, A, scratch=None):
        xp = xp_of(Z)
        # subtracting the column maximum keeps exp from overflowing; it does not change the result.
        # The (1, m) column maximum and sum go in the first row of the scratch the plan lends
        # (else in (1, m) temporaries).
        row = scratch[:1] if scratch is not None else None
        xp.subtract(Z, Z.max(axis=0, keepdims=True, out=row), out=A)
        xp.exp(A, out=A)
        A /= A.sum(axis=0, keepdims=True, out=row)

    def bind(self, step, *buffers, scratch=None):
        if step == "forward" and scratch is not None:  # the same passes, three calls in place of five
            Z, A = buffers
            fused = kernels.fused_passes(Z)
            if fused is not None and fused.takes_columns(Z, A, scratch):
                return functools.partial(fused.softmax, Z, A, scratch[:1])
        return super().bind(step, *buffers, scratch=scratch)

    def backward(self, A, dA, dZ):
        xp = xp_of(A)
        xp.multiply(dA, A, out=dZ)
        s = dZ.sum(axis=0, keepdims=True)  # (1, m)
        xp.subtract(dA, s, out=dZ)
        dZ *= A


ACTIVATIONS = {c.name: c for c in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax)}


def get(name_or_activation):
    """An :class:`Activation` from its name (or the object itself)."""
    if isinstance(name_or_activation, Activation):
        return name_or_activation
    if isinstance(name_or_activation, str) and name_or_activation in ACTIVATIONS:
        return ACTIVATIONS[name_or_activation]()
    raise unknown_name("activation", name_or_activation, ACTIVATIONS)
