"""Activations chi: one declaration each, holding everything about it.

A declaration is a subclass of :class:`Activation` with

``name``, ``range``, ``hidden_ok``, ``kink``, ``init``  what it is called, where it maps, where it
                                 may go, whether chi' jumps at 0, the weights' initialization
``formula``                      chi(Z) as an expression in ``Z`` (:mod:`gpubp.formulas`)
``derivative_formula``           chi'(Z) as an expression in the output ``A``: the backward
                                 pass reads chi' from ``A``, so it needs no stored ``Z``
``parameters``                   its constants (``("alpha",)``): passed to each kernel before
                                 its outputs, kept in :meth:`Activation.spec`
``forward_kernel``               ``A = chi(Z)``: a :class:`gpubp.kernels.Kernel`, CUDA source
                                 beside its NumPy twin, with the numba loop attached to it
``bias_kernel``                  ``A = chi(Z + b)`` in one pass (optional: else add, then chi),
                                 declared with ``kernels.declare(..., bias=True)``
``backward_kernel``              ``dZ = dA * chi'(Z)`` with chi' written in terms of ``A``

and :func:`register` makes it known by name (to :func:`get`, :func:`from_spec` and so to
checkpoints, ``Network(activation="name")``). Explain prints and checks the formulas; gradcheck
skips entries that cross a ``kink``. ``tests/test_new_activation.py`` declares softplus so.

The steps ``forward(Z, A)``, ``forward_bias(Z, b, A, scratch)``, ``backward(A, dA, dZ)`` work on
whole ``(n[l], m)`` buffers they are given (an output may be an input: the kernels read their
inputs first); ``bind(step, *buffers)`` returns one as a function of no arguments, resolved once.

This module is over 500 lines because it holds every built-in declaration, each with its CUDA
source beside its NumPy twin (the point of one declaration per activation); the machinery above
them is about 150 lines.
"""

import functools

import numpy as np

from . import formulas, kernels, registry
from .backend import xp_of
from .errors import ConfigError, unknown_name


class Activation:
    """Base class: one activation function chi and its derivative (see the module docstring)."""

    name = None
    #: the interval chi maps into, for checking that a loss can use this output
    range = (float("-inf"), float("inf"))
    hidden_ok = True
    #: chi' jumps at Z = 0: finite differences across it are skipped (gradcheck)
    kink = False
    #: the initialization its weights want: "glorot" (uniform) or "he" (normal, for relu's kind)
    init = "glorot"
    #: the activation's constants, attributes of the object, by name
    parameters = ()
    formula = None
    derivative_formula = None
    forward_kernel = bias_kernel = backward_kernel = None

    def __repr__(self):
        if not self.parameters:
            return self.name
        return f"{self.name}({', '.join(f'{p}={getattr(self, p)}' for p in self.parameters)})"

    def spec(self):
        """What a checkpoint stores: ``{"name": ...}`` and each of :attr:`parameters`."""
        return {"name": self.name, **{p: getattr(self, p) for p in self.parameters}}

    def _arguments(self, buffers):
        """A kernel's arguments: the buffers, this activation's constants before the output."""
        constants = [getattr(self, p) for p in self.parameters]
        return (*buffers[:-1], *constants, buffers[-1])

    def forward(self, Z, A, scratch=None):
        """``A = chi(Z)``."""
        self.forward_kernel(*self._arguments((Z, A)), scratch=scratch)

    def forward_bias(self, Z, b, A, scratch=None):
        """``A = chi(Z + b)``: one pass where there is a bias kernel, else add then activate."""
        if self.bias_kernel is not None:
            self.bias_kernel(*self._arguments((Z, b, A)), scratch=scratch)
        else:
            xp_of(Z).add(Z, b, out=A)
            self.forward(A, A, scratch)

    def backward(self, A, dA, dZ):
        """``dZ = dA * chi'(Z)``, chi' read from ``A = chi(Z)``."""
        self.backward_kernel(*self._arguments((A, dA, dZ)))

    def bind(self, step, *buffers, scratch=None):
        """``step`` ("forward", "forward_bias" or "backward") on these buffers, as a function of
        no arguments: ``bind("forward", Z, A)()`` does ``forward(Z, A)``. A step that is one
        kernel binds that kernel (its loop or twin chosen once); a subclass's own step is bound
        as it is."""
        kernel = {"forward": self.forward_kernel, "forward_bias": self.bias_kernel,
                  "backward": self.backward_kernel}[step]
        if kernel is None or getattr(type(self), step) is not getattr(Activation, step):
            if step == "backward":
                return functools.partial(self.backward, *buffers)
            return functools.partial(getattr(self, step), *buffers, scratch=scratch)
        return kernel.bind(*self._arguments(buffers), scratch=scratch)

    # ---- for learners: the formulas ---------------------------------------------------------

    def _constants(self):
        return {p: getattr(self, p) for p in self.parameters}

    def derivative_text(self, A):
        """``chi'(Z)`` written with the output ``A`` (a symbol), as the backward pass reads it."""
        return formulas.render(self.derivative_formula, A=A, **self._constants())

    def reference_forward(self, Z):
        """``chi(Z)`` from :attr:`formula`, in plain NumPy (what explain checks the engine by)."""
        return np.array(formulas.evaluate(self.formula, Z=Z, **self._constants()), dtype=Z.dtype)

    def reference_backward(self, A, dA):
        """``dZ = dA * chi'(Z)`` from :attr:`derivative_formula`, in plain NumPy."""
        return dA * formulas.evaluate(self.derivative_formula, A=A, **self._constants())

    def derivative(self, A):
        """``chi'(Z)`` as a new array, from ``A = chi(Z)``, by the engine's backward step."""
        xp = xp_of(A)
        out = xp.empty_like(A)
        self.backward(A, xp.ones_like(A), out)
        return out


#: every registered activation, by name
ACTIVATIONS = {}


def register(cls):
    """Make the declaration ``cls`` (an :class:`Activation` subclass) known by its name; usable
    as a class decorator. A name is taken once; registering the same class again does nothing.
    A ``bias_kernel`` must be declared a bias kernel (``kernels.declare(..., bias=True)``)."""
    bias = getattr(cls, "bias_kernel", None)
    if bias is not None and not getattr(bias, "bias", False):
        raise ConfigError(f"activation {getattr(cls, 'name', cls.__name__)!r}: its bias_kernel "
                          f"must be declared with kernels.declare(..., bias=True)")
    return registry.add(ACTIVATIONS, cls, Activation, "activation")


def get(name_or_activation):
    """An :class:`Activation` from its name (or the object itself)."""
    if isinstance(name_or_activation, Activation):
        return name_or_activation
    if isinstance(name_or_activation, str) and name_or_activation in ACTIVATIONS:
        return ACTIVATIONS[name_or_activation]()
    raise unknown_name("activation", name_or_activation, ACTIVATIONS)


def from_spec(d):
    """The activation that :meth:`Activation.spec` wrote: ``{"name": ..., constants...}``.
    Raises :class:`ConfigError` for an unknown name, a missing, extra or non-numeric field."""
    if not isinstance(d, dict) or not isinstance(d.get("name"), str):
        raise ConfigError(f"an activation spec is a dict with a string 'name'; got {d!r}")
    cls = ACTIVATIONS.get(d["name"])
    if cls is None:
        raise ConfigError(f"unknown activation {d['name']!r}; valid activations are: "
                          f"{', '.join(sorted(ACTIVATIONS))}")
    fields = set(d) - {"name"}
    if fields != set(cls.parameters):
        extra, missing = sorted(fields - set(cls.parameters)), sorted(set(cls.parameters) - fields)
        raise ConfigError(f"activation {cls.name!r} takes the fields "
                          f"{['name', *cls.parameters]}; got {sorted(d)} "
                          f"(extra {extra}, missing {missing})")
    for p in cls.parameters:
        if isinstance(d[p], bool) or not isinstance(d[p], (int, float)):
            raise ConfigError(f"activation {cls.name!r}: {p} must be a number; got {d[p]!r}")
    return cls(**{p: d[p] for p in cls.parameters})


# ==== the declarations ========================================================================

def _max0(z, a, zeros):
    """``a = max(z, 0)``. NumPy's maximum against a whole array of zeros runs its vector loop,
    about 4x faster than against the scalar 0 (same bits: NaN kept, +0 for -0); ``zeros`` is a
    scratch buffer the workspace lends, when it lends one."""
    if zeros is None or np.may_share_memory(zeros, z):
        np.maximum(z, 0, out=a)
    else:
        zeros.fill(0)
        np.maximum(z, zeros, out=a)


@register
class Identity(Activation):
    """``chi(z) = z``, ``chi'(z) = 1``."""

    name = "identity"
    formula = "Z"
    derivative_formula = "1"
    bias_kernel = kernels.bias_identity

    def forward(self, Z, A, scratch=None):
        if A is not Z:
            xp_of(Z).copyto(A, Z)

    def backward(self, A, dA, dZ):
        if dZ is not dA:
            xp_of(dA).copyto(dZ, dA)


# sigmoid as 1 / (1 + exp(-z)) is accurate to a few ulps everywhere: for z << 0, exp(-z) is large
# and its reciprocal keeps full relative precision; exp(-z) overflowing to inf gives exactly 0,
# the right limit (IEEE arithmetic, no trap on the GPU; NumPy's overflow warning is silenced).
# Its loops keep NumPy's exp (its bits are NumPy's own) and fuse the arithmetic around it.

def _np_sigmoid(z, a):
    with np.errstate(over="ignore"):
        np.negative(z, out=a)
        np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


@kernels.Loop
def _one_over_one_plus(a):
    one = a.dtype.type(1)
    for i in range(a.size):
        t = a[i] + one
        a[i] = one / t


@kernels.Loop
def _bias_negative(z, b, a):
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            a[i, j] = -(z[i, j] + b[i, 0])


def _exp_then_one_over_one_plus(a):
    with np.errstate(over="ignore"):
        np.exp(a, out=a)
    _one_over_one_plus(a.reshape(-1))


@register
class Sigmoid(Activation):
    """``sigma(z) = 1 / (1 + exp(-z))``, ``sigma'(z) = A (1 - A)``."""

    name = "sigmoid"
    range = (0.0, 1.0)
    formula = "1 / (1 + exp(-Z))"
    derivative_formula = "A * (1 - A)"

    @kernels.declare("gpubp_sigmoid", "T z", "T a", "a = 1 / (1 + exp(-z))")
    def forward_kernel(z, a, scratch=None):
        _np_sigmoid(z, a)

    @forward_kernel.loop(passes=True)
    def forward_loop(z, a):
        np.negative(z, out=a)
        _exp_then_one_over_one_plus(a)

    @kernels.declare("gpubp_bias_sigmoid", "T z, T b", "T a", "a = 1 / (1 + exp(-(z + b)))",
                     bias=True)
    def bias_kernel(z, b, a, scratch=None):
        np.add(z, b, out=a)
        _np_sigmoid(a, a)

    @bias_kernel.loop(passes=True)
    def bias_loop(z, b, a):
        _bias_negative(z, b, a)
        _exp_then_one_over_one_plus(a)

    # each source is written gA * (chi'), chi' parenthesized in the twin's order: both round alike
    @kernels.declare("gpubp_sigmoid_grad", "T a, T gA", "T gZ", "gZ = gA * (a * (1 - a))")
    def backward_kernel(a, gA, gZ, scratch=None):
        t = kernels.apart(gZ, a, gA, scratch=scratch)
        np.subtract(1, a, out=t)
        t *= a
        np.multiply(t, gA, out=gZ)

    @backward_kernel.loop
    def backward_loop(a, gA, gZ):
        one = a.dtype.type(1)
        for i in range(a.size):
            t = one - a[i]
            t = t * a[i]
            gZ[i] = t * gA[i]


@register
class Tanh(Activation):
    """``tanh(z)``, ``tanh'(z) = 1 - A^2``."""

    name = "tanh"
    range = (-1.0, 1.0)
    formula = "tanh(Z)"
    derivative_formula = "1 - A**2"

    @kernels.declare("gpubp_tanh", "T z", "T a", "a = tanh(z)")
    def forward_kernel(z, a, scratch=None):
        np.tanh(z, out=a)

    @kernels.declare("gpubp_bias_tanh", "T z, T b", "T a", "a = tanh(z + b)", bias=True)
    def bias_kernel(z, b, a, scratch=None):
        np.add(z, b, out=a)
        np.tanh(a, out=a)

    @bias_kernel.loop(passes=True)
    def bias_loop(z, b, a):
        kernels.bias_identity(z, b, a)  # its loop: the arrays are the ones this loop takes
        np.tanh(a, out=a)

    @kernels.declare("gpubp_tanh_grad", "T a, T gA", "T gZ", "gZ = gA * (1 - a * a)")
    def backward_kernel(a, gA, gZ, scratch=None):
        t = kernels.apart(gZ, a, gA, scratch=scratch)
        np.multiply(a, a, out=t)
        np.subtract(1, t, out=t)
        np.multiply(t, gA, out=gZ)

    @backward_kernel.loop
    def backward_loop(a, gA, gZ):
        one = a.dtype.type(1)
        for i in range(a.size):
            t = a[i] * a[i]
            t = one - t
            gZ[i] = t * gA[i]


# relu and leaky_relu on special values, the same bits on the device, on the host and in the twins:
#   relu(z)        = z if z > 0, NaN if z is NaN, else +0 (so relu(-0) = +0, relu(-inf) = +0)
#   leaky_relu(z)  = z if z > 0, else alpha z (a NaN stays NaN, -0 stays -0, -inf stays -inf)
# The C test z != z is true only for a NaN (CuPy compiles without fast math, which would drop it).
# The twin np.maximum(z, 0) keeps a NaN of z and gives +0, not -0, for z = -0: NumPy's SIMD max
# returns its second operand on a tie, as x86 MAXPS does and as ARM FMAX's +0 > -0 gives; the
# host tests check these bits wherever they run.
# Their derivatives are read from A (A > 0 exactly where Z > 0, and A is NaN where Z is), and
# dZ = dA * chi' literally, a product even where chi' is 0 (so inf * 0 = NaN, -1 * +0 = -0):
#   relu'       = 1 if a > 0, else +0 (relu'(0) = 0; a NaN a masks like an inactive unit: its
#                 NaN is already in the cost, and the mask is one fast comparison)
#   leaky_relu' = 1 if a > 0, NaN if a is NaN, else alpha   (leaky_relu'(0) = alpha)
# The twins build chi' with no boolean array (and not with np.heaviside, 10 to 17 times slower
# than np.sign): relu's is greater(a, 0) written as 1.0 or 0.0; for leaky_relu, sign(a) is 1,
# NaN, -1 or +0 (+0 for both zeros), so max(sign(a), alpha) is 1, NaN or alpha (0 < alpha < 1).

@register
class ReLU(Activation):
    """``relu(z) = max(z, 0)``; ``relu'(z) = 1 for z > 0, else 0`` (we take ``relu'(0) = 0``)."""

    name = "relu"
    range = (0.0, float("inf"))
    kink = True
    init = "he"
    formula = "maximum(Z, 0)"
    derivative_formula = "where(A > 0, 1, 0)"

    @kernels.declare("gpubp_relu", "T z", "T a", "a = z > 0 ? z : (z != z ? z : (T)0)")
    def forward_kernel(z, a, scratch=None):
        _max0(z, a, scratch)

    @forward_kernel.loop
    def forward_loop(z, a):
        for i in range(z.size):
            t = z[i]
            a[i] = t if t > 0 else (t if t != t else 0.0)  # NaN stays, -0 and below give +0

    @kernels.declare("gpubp_bias_relu", "T z, T b", "T a",
                     "T t = z + b; a = t > 0 ? t : (t != t ? t : (T)0)", bias=True)
    def bias_kernel(z, b, a, scratch=None):
        np.add(z, b, out=a)
        _max0(a, a, scratch)

    @bias_kernel.loop
    def bias_loop(z, b, a):
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                t = z[i, j] + b[i, 0]
                a[i, j] = t if t > 0 else (t if t != t else 0.0)

    @kernels.declare("gpubp_relu_grad", "T a, T gA", "T gZ", "gZ = gA * (a > 0 ? (T)1 : (T)0)")
    def backward_kernel(a, gA, gZ, scratch=None):
        t = kernels.apart(gZ, a, gA, scratch=scratch)
        np.greater(a, 0, out=t, casting="unsafe")  # 1 or 0 (0 for a NaN a), no boolean array
        np.multiply(t, gA, out=gZ)

    @backward_kernel.loop
    def backward_loop(a, gA, gZ):
        for i in range(a.size):
            gZ[i] = gA[i] * (1.0 if a[i] > 0 else 0.0)  # exact: 1.0 and 0.0 in any precision


@register
class LeakyReLU(Activation):
    """``z for z > 0, else alpha z``; derivative 1 for z > 0, else alpha (so ``alpha`` at 0).

    ``0 < alpha < 1``: the sign of ``A`` is then the sign of ``Z``, which lets the derivative be
    read from ``A``.
    """

    name = "leaky_relu"
    kink = True
    init = "he"
    parameters = ("alpha",)
    formula = "where(Z > 0, Z, alpha * Z)"
    derivative_formula = "where(A > 0, 1, alpha)"

    def __init__(self, alpha=0.01):
        alpha = float(alpha)
        if not 0 < alpha < 1:
            raise ConfigError(f"leaky_relu needs 0 < alpha < 1; got alpha={alpha}")
        self.alpha = alpha

    @kernels.declare("gpubp_leaky_relu", "T z, T alpha", "T a", "a = z > 0 ? z : alpha * z")
    def forward_kernel(z, alpha, a, scratch=None):
        # alpha in (0, 1): leaky_relu(z) = max(z, alpha z); alpha z needs a second buffer
        s = np.multiply(z, alpha, out=kernels.apart(scratch, z) if scratch is not None else None)
        np.maximum(z, s, out=a)

    @forward_kernel.loop
    def forward_loop(z, alpha, a):
        for i in range(z.size):
            s = z[i] * alpha
            a[i] = z[i] if z[i] >= s else s  # max(z, alpha z): a NaN z gives s, a NaN

    @kernels.declare("gpubp_bias_leaky_relu", "T z, T b, T alpha", "T a",
                     "T t = z + b; a = t > 0 ? t : alpha * t", bias=True)
    def bias_kernel(z, b, alpha, a, scratch=None):
        np.add(z, b, out=a)
        s = np.multiply(a, alpha, out=kernels.apart(scratch, a) if scratch is not None else None)
        np.maximum(a, s, out=a)

    @bias_kernel.loop
    def bias_loop(z, b, alpha, a):
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                t = z[i, j] + b[i, 0]
                s = t * alpha
                a[i, j] = t if t >= s else s

    @kernels.declare("gpubp_leaky_relu_grad", "T a, T gA, T alpha", "T gZ",
                     "gZ = gA * (a > 0 ? (T)1 : (a != a ? a : alpha))")
    def backward_kernel(a, gA, alpha, gZ, scratch=None):
        t = kernels.apart(gZ, a, gA, scratch=scratch)
        np.sign(a, out=t)
        np.maximum(t, alpha, out=t)
        np.multiply(t, gA, out=gZ)

    @backward_kernel.loop
    def backward_loop(a, gA, alpha, gZ):
        one = a.dtype.type(1)
        for i in range(a.size):
            f = one if a[i] > 0 else (a[i] if a[i] != a[i] else alpha)
            gZ[i] = f * gA[i]


@register
class Exp(Activation):
    """``exp(z)``, ``exp'(z) = A``: the canonical output of ``poisson`` (its log link)."""

    name = "exp"
    range = (0.0, float("inf"))
    formula = "exp(Z)"
    derivative_formula = "A"

    @kernels.declare("gpubp_exp", "T z", "T a", "a = exp(z)")
    def forward_kernel(z, a, scratch=None):
        with np.errstate(over="ignore"):  # inf above ~709 (float64), ~88 (float32)
            np.exp(z, out=a)

    @kernels.declare("gpubp_exp_grad", "T a, T gA", "T gZ", "gZ = gA * a")
    def backward_kernel(a, gA, gZ, scratch=None):
        np.multiply(gA, a, out=gZ)


@register
class Softmax(Activation):
    """Column-wise ``softmax(z)_i = exp(z_i) / sum_k exp(z_k)``, for the output layer only.

    Its Jacobian is not diagonal: ``dZ = A * (dA - sum_i(dA * A))`` per column
    (:attr:`backward_formula`). Paired with ``cross_entropy`` the fused delta
    ``dZ = (A - Y) / m`` is used instead.
    """

    name = "softmax"
    range = (0.0, 1.0)
    hidden_ok = False
    formula = "exp(Z - max_i(Z)) / sum_i(exp(Z - max_i(Z)))"
    backward_formula = "A * (dA - sum_i(dA * A))"

    def derivative_text(self, A):
        vjp = formulas.render(self.backward_formula, A=A)
        return f"Diag({A}) - {A} {A}^T per column (so dZ = {vjp})"

    def reference_backward(self, A, dA):
        return formulas.evaluate(self.backward_formula, A=A, dA=dA)

    def forward(self, Z, A, scratch=None):
        xp = xp_of(Z)
        # subtracting the column maximum keeps exp from overflowing; it does not change the result.
        # The (1, m) column maximum and sum go in the first row of the scratch the plan lends
        # (else in (1, m) temporaries).
        row = scratch[:1] if scratch is not None and not _shares(scratch, Z, A) else None
        xp.subtract(Z, Z.max(axis=0, keepdims=True, out=row), out=A)
        xp.exp(A, out=A)
        A /= A.sum(axis=0, keepdims=True, out=row)

    def bind(self, step, *buffers, scratch=None):
        if step == "forward" and scratch is not None:  # the same passes, in three calls, not five
            Z, A = buffers
            fused = kernels.fused_passes(Z)
            if fused is not None and fused.takes_columns(Z, A, scratch):
                return functools.partial(fused.softmax, Z, A, scratch[:1])
        return super().bind(step, *buffers, scratch=scratch)

    def backward(self, A, dA, dZ):
        xp = xp_of(A)
        if _shares(dZ, A, dA):  # an aliased call: dA and A are read after dZ is first written
            A, dA = A.copy(), dA.copy()
        xp.multiply(dA, A, out=dZ)
        s = dZ.sum(axis=0, keepdims=True)  # (1, m)
        xp.subtract(dA, s, out=dZ)
        dZ *= A


def _shares(out, *inputs):
    xp = xp_of(out)
    return any(xp.may_share_memory(out, x) for x in inputs)
