"""Fused elementwise kernels: each a CuPy ``ElementwiseKernel`` declared once, beside its NumPy twin.

A kernel is called with its inputs, then its outputs (always given: they are workspace
buffers), e.g. ``sigmoid_grad(A, dA, dZ)``. On CuPy arrays the CUDA source below runs (compiled
by CuPy on first use, generic over float32/float64 through ``T``); on NumPy arrays the twin runs,
which means the same thing and writes through ``out=`` so that it makes no temporary array. The
modules above call kernels by name and never ask which backend they are on.

Derivatives are taken from the forward output ``A`` wherever the activation allows (sigmoid:
``A (1 - A)``, tanh: ``1 - A^2``, relu and leaky_relu: the sign of ``A``), so the backward pass
needs no stored ``Z`` for hidden layers.

Each kernel's source is plain C++ over scalars; ``tests/test_kernels.py`` compiles the same
strings with the host C++ compiler and checks them against the twins on every machine, and the
``gpu`` tests check the device against the twins.
"""

import functools

import numpy as np

from . import backend


class Kernel:
    """One elementwise operation: its CUDA source and its NumPy twin.

    ``in_params`` / ``out_params`` / ``operation`` are exactly what ``cupy.ElementwiseKernel``
    takes. ``twin(*inputs, *outputs, scratch=None)`` computes the same numbers with NumPy;
    ``scratch`` is an optional buffer shaped like the outputs for twins that cannot avoid one
    temporary (the optimizers), so that a training step allocates nothing.
    """

    def __init__(self, name, in_params, out_params, operation, twin):
        self.name = name
        self.in_params = in_params
        self.out_params = out_params
        self.operation = operation
        self.twin = twin

    @property
    def params(self):
        """``[(name, is_output), ...]`` in call order."""
        ins = [(p.split()[-1], False) for p in self.in_params.split(",")]
        outs = [(p.split()[-1], True) for p in self.out_params.split(",")]
        return ins + outs

    _fused = False  # not looked up yet; then gpubp.fused's one-pass function, or None

    def __call__(self, *args, scratch=None):
        if type(args[0]) is np.ndarray:  # the CPU (every kernel's first argument is an array)
            fn, args, keywords = self._on_numpy(args, scratch)
            fn(*args, **keywords)
            return
        arrays = [a for a in args if hasattr(a, "dtype") and getattr(a, "ndim", 0) > 0]
        dtype = arrays[0].dtype
        # Scalars take the arrays' dtype: T is one type for the whole kernel, never an upcast.
        args = [a if hasattr(a, "ndim") and a.ndim > 0 else dtype.type(a) for a in args]
        xp = backend.xp_of(*arrays)
        if xp is np:
            self.twin(*args, scratch=scratch)
        else:
            backend.elementwise_kernel(self.in_params, self.out_params, self.operation,
                                       self.name)(*args)

    def bind(self, *args, scratch=None):
        """This kernel's call on these arguments as a function of no arguments, resolved once:
        ``k.bind(*args)()`` does what ``k(*args)`` does. A plan binds its buffers when it is
        built, so that each step skips the dispatch."""
        if type(args[0]) is not np.ndarray:  # CuPy: the compiled kernel, through the same call
            return functools.partial(self, *args, scratch=scratch)
        fn, args, keywords = self._on_numpy(args, scratch)
        return functools.partial(fn, *args, **keywords)

    def _on_numpy(self, args, scratch):
        """``(function, arguments, keywords)`` that compute this kernel on NumPy arrays: the
        fused loop where it applies, else the twin; scalars in the arrays' dtype."""
        first = args[0]
        dtype = first.dtype.type
        args = [a if type(a) is np.ndarray else dtype(a) for a in args]
        # a fused loop pays off once the arrays are big enough to cost more than its call (and
        # below that size numba is not even imported)
        if first.size >= FUSED_FROM:
            fused = self._fused
            if fused is False:
                fused = self._fused = _fused_version(self.name)
            if fused is not None and fused[1](*args):
                return fused[0], args, {}
        return self.twin, args, {"scratch": scratch}

    def __repr__(self):
        return f"<kernel {self.name}: ({self.in_params}) -> ({self.out_params}): {self.operation}>"


KERNELS = {}

#: elements from which a kernel call takes the fused loop (below it, NumPy's calls are as fast)
FUSED_FROM = 1024


def fused_passes(array):
    """:mod:`gpubp.fused` when its loops are on (numba installed, ``GPUBP_FUSED`` not 0) and
    ``array`` is big enough for them to pay off (``FUSED_FROM``), else None: for the passes that
    are not elementwise kernels (softmax, the cross-entropy cost's columns). Imported on first
    use, so that ``import gpubp`` never imports numba."""
    if type(array) is not np.ndarray or array.size < FUSED_FROM:
        return None
    from . import fused

    return fused if fused.ENABLED else None


def _fused_version(name):
    """The numba one-pass version of a twin and the test of the arrays it takes
    (:func:`gpubp.fused.get`), or None: imported at the first kernel call, so that ``import
    gpubp`` never imports numba."""
    from . import fused

    return fused.get(name)


def _declare(name, in_params, out_params, operation):
    """Decorator: the function below is the NumPy twin of this CUDA source."""
    def wrap(twin):
        k = Kernel(name, in_params, out_params, operation, twin)
        KERNELS[name] = k
        return k
    return wrap


# ---- activations, forward: A = chi(Z) ------------------------------------------------------
# sigmoid as 1 / (1 + exp(-z)) is accurate to a few ulps everywhere: for z << 0, exp(-z) is large
# and its reciprocal keeps full relative precision; exp(-z) overflowing to inf gives exactly 0,
# the right limit (IEEE arithmetic, no trap on the GPU; NumPy's overflow warning is silenced).

def _np_sigmoid(z, a):
    with np.errstate(over="ignore"):
        np.negative(z, out=a)
        np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


@_declare("gpubp_sigmoid", "T z", "T a", "a = 1 / (1 + exp(-z))")
def sigmoid(z, a, scratch=None):
    _np_sigmoid(z, a)


@_declare("gpubp_tanh", "T z", "T a", "a = tanh(z)")
def tanh(z, a, scratch=None):
    np.tanh(z, out=a)


# relu and leaky_relu on special values, the same bits on the device, on the host and in the twins:
#   relu(z)        = z if z > 0, NaN if z is NaN, else +0 (so relu(-0) = +0, relu(-inf) = +0)
#   leaky_relu(z)  = z if z > 0, else alpha z (a NaN stays NaN, -0 stays -0, -inf stays -inf)
# The C test z != z is true only for a NaN (CuPy compiles without fast math, which would drop it).
# The twin np.maximum(z, 0) keeps a NaN of z and gives +0, not -0, for z = -0: NumPy's SIMD max
# returns its second operand on a tie, as x86 MAXPS does and as ARM FMAX's +0 > -0 gives; the
# host tests check these bits wherever they run.

@_declare("gpubp_relu", "T z", "T a", "a = z > 0 ? z : (z != z ? z : (T)0)")
def relu(z, a, scratch=None):
    _max0(z, a, scratch)


def _max0(z, a, zeros):
    """``a = max(z, 0)``. NumPy's maximum against a whole array of zeros runs its vector loop,
    about 4x faster than against the scalar 0 (same bits: NaN kept, +0 for -0); ``zeros`` is a
    scratch buffer the workspace lends, when it lends one."""
    if zeros is None:
        np.maximum(z, 0, out=a)
    else:
        zeros.fill(0)
        np.maximum(z, zeros, out=a)


@_declare("gpubp_leaky_relu", "T z, T alpha", "T a", "a = z > 0 ? z : alpha * z")
def leaky_relu(z, alpha, a, scratch=None):
    # alpha in (0, 1): leaky_relu(z) = max(z, alpha z); alpha z needs a second buffer
    s = np.multiply(z, alpha, out=scratch)
    np.maximum(z, s, out=a)


# ---- bias add fused with the activation: A = chi(Z + b), b broadcast over the m columns -----

@_declare("gpubp_bias_identity", "T z, T b", "T a", "a = z + b")
def bias_identity(z, b, a, scratch=None):
    np.add(z, b, out=a)


@_declare("gpubp_bias_sigmoid", "T z, T b", "T a", "a = 1 / (1 + exp(-(z + b)))")
def bias_sigmoid(z, b, a, scratch=None):
    np.add(z, b, out=a)
    _np_sigmoid(a, a)


@_declare("gpubp_bias_tanh", "T z, T b", "T a", "a = tanh(z + b)")
def bias_tanh(z, b, a, scratch=None):
    np.add(z, b, out=a)
    np.tanh(a, out=a)


@_declare("gpubp_bias_relu", "T z, T b", "T a", "T t = z + b; a = t > 0 ? t : (t != t ? t : (T)0)")
def bias_relu(z, b, a, scratch=None):
    np.add(z, b, out=a)
    _max0(a, a, scratch)


@_declare("gpubp_bias_leaky_relu", "T z, T b, T alpha", "T a",
          "T t = z + b; a = t > 0 ? t : alpha * t")
def bias_leaky_relu(z, b, alpha, a, scratch=None):
    np.add(z, b, out=a)
    s = np.multiply(a, alpha, out=scratch)
    np.maximum(a, s, out=a)


# ---- derivatives from the output: dZ = dA * chi'(Z), with chi' written in terms of A ---------
# In the backward pass dA[l] = W[l+1]^T dZ[l+1] comes from a matrix product; these kernels are the
# "* chi'(Z[l])" of dZ[l] = (W[l+1]^T dZ[l+1]) * chi'(Z[l]), one pass over the arrays. Each
# source is written gA * (chi'), chi' parenthesized in the twin's order, so both round alike.

@_declare("gpubp_sigmoid_grad", "T a, T gA", "T gZ", "gZ = gA * (a * (1 - a))")
def sigmoid_grad(a, gA, gZ, scratch=None):
    np.subtract(1, a, out=gZ)
    gZ *= a
    gZ *= gA


@_declare("gpubp_tanh_grad", "T a, T gA", "T gZ", "gZ = gA * (1 - a * a)")
def tanh_grad(a, gA, gZ, scratch=None):
    np.multiply(a, a, out=gZ)
    np.subtract(1, gZ, out=gZ)
    gZ *= gA


# relu and leaky_relu: chi' read from A (A > 0 exactly where Z > 0, and A is NaN where Z is), and
# dZ = dA * chi' literally, a product even where chi' is 0 (so inf * 0 = NaN, -1 * +0 = -0):
#   relu'       = 1 if a > 0, else +0 (relu'(0) = 0; a NaN a masks like an inactive unit: its
#                 NaN is already in the cost, and the mask is one fast comparison)
#   leaky_relu' = 1 if a > 0, NaN if a is NaN, else alpha   (leaky_relu'(0) = alpha)
# The twins build chi' with no boolean array (and not with np.heaviside, 10 to 17 times slower
# than np.sign): relu's is greater(a, 0) written as 1.0 or 0.0; for leaky_relu, sign(a) is 1,
# NaN, -1 or +0 (+0 for both zeros), so max(sign(a), alpha) is 1, NaN or alpha (0 < alpha < 1).

@_declare("gpubp_relu_grad", "T a, T gA", "T gZ", "gZ = gA * (a > 0 ? (T)1 : (T)0)")
def relu_grad(a, gA, gZ, scratch=None):
    np.greater(a, 0, out=gZ, casting="unsafe")  # 1 or 0 (0 for a NaN a), no boolean array
    gZ *= gA


@_declare("gpubp_leaky_relu_grad", "T a, T gA, T alpha", "T gZ",
          "gZ = gA * (a > 0 ? (T)1 : (a != a ? a : alpha))")
def leaky_relu_grad(a, gA, alpha, gZ, scratch=None):
    np.sign(a, out=gZ)
    np.maximum(gZ, alpha, out=gZ)
    gZ *= gA


# ---- the fused output delta of the canonical pairs: dZ[L] = c (A[L] - Y), c = loss constant / m

@_declare("gpubp_output_delta", "T a, T y, T c", "T dz", "dz = c * (a - y)")
def output_delta(a, y, c, dz, scratch=None):
    np.subtract(a, y, out=dz)
    dz *= c


# ---- L2 penalty: dW += c W (c = alpha / m), in place on the gradient -------------------------

@_declare("gpubp_axpy", "T x, T c", "T y", "y += c * x")
def axpy(x, c, y, scratch=None):
    s = np.multiply(x, c, out=scratch)
    y += s


# ---- optimizer updates, in place on the parameter (and its state) --------------------------

@_declare("gpubp_sgd", "T g, T lr", "T w", "w -= lr * g")
def sgd(g, lr, w, scratch=None):
    s = np.multiply(g, lr, out=scratch)
    w -= s


@_declare("gpubp_momentum", "T g, T lr, T mu", "T w, T v", "v = mu * v - lr * g; w += v")
def momentum(g, lr, mu, w, v, scratch=None):
    v *= mu
    s = np.multiply(g, lr, out=scratch)
    v -= s
    w += v


# Adam with the bias corrections folded into the step size and epsilon (exactly equal to
# w -= lr * mhat / (sqrt(vhat) + eps)): lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), eps_t = eps sqrt(1 - b2^t).
# The parentheses are the twin's order of operations, so that both round alike.
@_declare("gpubp_adam", "T g, T b1, T b2, T lr_t, T eps_t", "T w, T m, T v",
          "m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * (g * g); "
          "w -= lr_t * (m / (sqrt(v) + eps_t))")
def adam(g, b1, b2, lr_t, eps_t, w, m, v, scratch=None):
    m *= b1
    s = np.multiply(g, 1 - b1, out=scratch)
    m += s
    v *= b2
    np.multiply(g, g, out=s)
    s *= 1 - b2
    v += s
    np.sqrt(v, out=s)
    s += eps_t
    np.divide(m, s, out=s)
    s *= lr_t
    w -= s
