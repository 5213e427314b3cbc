"""Elementwise kernels: each a CuPy ``ElementwiseKernel`` declared once, beside its NumPy twin
and, optionally, the one-pass loop that numba compiles from it.

A kernel is called with its inputs, then its outputs (always given: they are workspace
buffers), e.g. ``sigmoid_grad(A, dA, dZ)``. On CuPy arrays the CUDA source runs (compiled by
CuPy on first use, generic over float32/float64 through ``T``); on NumPy arrays the twin runs,
which means the same thing and writes through ``out=`` so that it makes no temporary array; on
NumPy arrays of ``FUSED_FROM`` elements or more, once the loops are loaded (:func:`loops_for`:
by a big array or a long fit), the kernel's loop where it has one (see :meth:`Kernel.loop`).
The modules above call kernel objects and never ask which backend they are on.

Declaring a kernel (:func:`declare`) is all it takes::

    @declare("gpubp_axpy", "T x, T c", "T y", "y += c * x")     # the CUDA source
    def axpy(x, c, y, scratch=None):                              # its NumPy twin
        ...

    @axpy.loop                                                    # optional: the numba loop
    def _axpy_loop(x, c, y):
        for i in range(x.size):
            y[i] = y[i] + x[i] * c

The kernels of an activation are declared with it, in :mod:`gpubp.activations`; this module
holds the machinery and the kernels of the losses, the L2 penalty and the optimizers.

Aliasing: an output may be the very array of an input (``relu_grad(a, g, g)``): every kernel
then reads the input as it was before the call, on every path (CUDA reads each element before it
writes it; the loops read every input of an element first; the twins compute into a buffer apart,
:func:`apart`, or from a copy, :func:`unshared`, where the arrays share memory).

Each kernel's source is plain C++ over scalars; ``tests/test_kernels.py`` compiles the same
strings with the host C++ compiler and checks them against the twins on every machine, and the
``gpu`` tests check the device against the twins.
"""

import functools
import sys

import numpy as np

from . import backend
from .errors import ConfigError


class Kernel:
    """One elementwise operation: its CUDA source, its NumPy twin and, optionally, its loop.

    ``in_params`` / ``out_params`` / ``operation`` are exactly what ``cupy.ElementwiseKernel``
    takes. ``twin(*inputs, *outputs, scratch=None)`` computes the same numbers with NumPy;
    ``scratch`` is an optional buffer shaped like the outputs for twins that cannot avoid one
    temporary (the optimizers), so that a training step allocates nothing. ``bias``: a bias
    kernel, whose first two inputs are ``z`` (n, m) and a bias (n, 1) added to each column.
    """

    def __init__(self, name, in_params, out_params, operation, twin, bias=False):
        self.name = name
        self.in_params = in_params
        self.out_params = out_params
        self.operation = operation
        self.twin = twin
        self._loop = None     # a Loop, or a function of the twin's arguments (loop(passes=True))
        self._passes = False
        #: the bias kernels take z (n, m) and b (n, 1): their loops index both in 2-D
        self.bias = bool(bias)
        if self.bias and sum(not out for _, out in self.params) < 2:
            raise ConfigError(f"kernel {name!r} is declared a bias kernel (bias=True) but takes "
                              f"{in_params!r}: a bias kernel's first two inputs are z (n, m) and "
                              f"the bias (n, 1)")

    @property
    def params(self):
        """``[(name, is_output), ...]`` in call order."""
        ins = [(p.split()[-1], False) for p in self.in_params.split(",")]
        outs = [(p.split()[-1], True) for p in self.out_params.split(",")]
        return ins + outs

    @property
    def has_loop(self):
        """Has a loop been attached (:meth:`loop`)?"""
        return self._loop is not None

    def loop(self, fn=None, *, passes=False):
        """Decorator: ``fn`` computes this kernel on C-contiguous NumPy arrays in one pass, the
        twin's operations in the twin's order and precision (so with its bits), reading every
        input of an element before writing it. ``fn`` takes the twin's arguments (scalars in the
        arrays' dtype; write constants as ``x.dtype.type(1)``), its arrays flattened to 1-D except
        for a bias kernel's (``declare(..., bias=True)``) ``z`` (n, m) and ``b`` (n, 1); numba
        compiles it on first use.

        With ``passes=True``, ``fn`` is plain Python over the twin's arguments that calls
        :class:`Loop` objects and NumPy (for the kernels whose ``exp`` or ``tanh`` must stay
        NumPy's). Returns the :class:`Loop` (or ``fn``)."""
        if fn is None:
            return functools.partial(self.loop, passes=passes)
        self._loop, self._passes = (fn if passes else Loop(fn)), passes
        return self._loop

    def fused(self, *args):
        """``(function, arguments)`` that compute this kernel on these NumPy arguments (scalars
        already in the arrays' dtype) with its loop, or None: no loop, numba off
        (``GPUBP_FUSED=0`` or not installed), or arrays the loop does not take (not
        C-contiguous; a bias not (n, 1)). A call takes it as :func:`loops_for` says."""
        first = args[0]
        if self._loop is None:
            return None
        arrays = [a for a in args if type(a) is np.ndarray]
        if not all(a.flags.c_contiguous for a in arrays):
            return None
        if self.bias and not (first.ndim == 2 and args[1].shape == (first.shape[0], 1)):
            return None
        from . import fused

        if not fused.ENABLED:
            return None
        if self._passes:
            return self._loop, args
        if not self.bias:
            args = [a.reshape(-1) if type(a) is np.ndarray else a for a in args]
        return self._loop.compiled(), args

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
        loop where it applies, else the twin; scalars in the arrays' dtype."""
        dtype = args[0].dtype.type
        args = [a if type(a) is np.ndarray else dtype(a) for a in args]
        # a loop pays off once the arrays are big enough to cost more than its call, and once
        # the loops are loaded (see loops_for: a small fit never pays numba's import)
        if loops_for(args[0].size) is not None:
            fast = self.fused(*args)
            if fast is not None:
                return fast[0], fast[1], {}
        return self.twin, args, {"scratch": scratch}

    def __repr__(self):
        return f"<kernel {self.name}: ({self.in_params}) -> ({self.out_params}): {self.operation}>"


class Loop:
    """A plain-Python loop over NumPy arrays, compiled by numba (:func:`gpubp.fused.jit`) on its
    first call, so that defining one never imports numba."""

    def __init__(self, fn):
        self.fn = fn
        self._compiled = None

    def compiled(self):
        if self._compiled is None:
            from . import fused

            self._compiled = fused.jit(self.fn)
        return self._compiled

    def __call__(self, *args):
        return self.compiled()(*args)


#: every declared kernel, by name
KERNELS = {}

#: elements from which a kernel call takes its loop, once the loops are loaded (below it, NumPy's
#: calls are as fast)
FUSED_FROM = 1024

#: elements of one array from which the loops are loaded (numba's import and its compiled loops
#: from the cache: about 0.45 s of CPU, once per process) whatever the fit: at this size a step
#: is long, and a pass over such an array costs about 1/1000 of the load. (784-1024-1024-10 with
#: batches of 1024 has Z buffers of 1024 x 1024 elements.)
FUSED_LOAD_FROM = 1 << 20

#: elementwise work, ``steps x (m x sum of n[l] + parameters)``, that a fit announces
#: (:func:`expect_work`) from which the loops are loaded before it starts. Measured on a 2-core
#: EPYC VM under load (benchmarks/bench_startup.py, benchmarks/results/2026-12-04_cpu_startup.txt):
#: loading them costs 0.43-0.78 s of CPU and they save 0.6-2.3 ns per element of that work
#: (digits' 64-128-10, m = 32: 107 -> 85 us of CPU per step), so they repay their load from
#: 2e8-1.3e9. The default ``gpubp train`` (digits, 20 epochs) announces 1.3e7.
FUSED_WORK = 5 * 10**8


def loops_for(size):
    """:mod:`gpubp.fused` when a call over arrays of ``size`` elements takes the loops, else None:
    ``size`` at least ``FUSED_FROM``, the loops on (numba installed, ``GPUBP_FUSED`` not 0) and
    loaded. They are loaded by the first array of ``FUSED_LOAD_FROM`` elements or more, by a fit
    that announces enough work (:func:`expect_work`), or by anything that imports
    :mod:`gpubp.fused`; until then numba is not imported."""
    if size < FUSED_FROM:
        return None
    fused = sys.modules.get(__package__ + ".fused")
    if fused is None:
        if size < FUSED_LOAD_FROM:
            return None
        from . import fused
    return fused if fused.ENABLED else None


def loops_loaded():
    """Are the loops loaded and on? (What a plan's bound calls depend on: a plan bound before
    they were loaded keeps the twins, so a network keys its plans by this too.)"""
    fused = sys.modules.get(__package__ + ".fused")
    return fused is not None and fused.ENABLED


def expect_work(work):
    """A fit on NumPy arrays announces its elementwise work (``steps x (m x sum of n[l] +
    parameters)``) before it makes its plans: from ``FUSED_WORK`` on, the loops are loaded, and
    its plans bind them. Returns whether the loops are loaded (and on)."""
    size = max(FUSED_FROM, FUSED_LOAD_FROM) if work >= FUSED_WORK else FUSED_FROM
    return loops_for(size) is not None  # a size that loads them, or one that only asks


def declare(name, in_params, out_params, operation, *, bias=False):
    """Decorator: the function below is the NumPy twin of this CUDA source; returns the
    :class:`Kernel` (registered in ``KERNELS``; a name is taken once). ``bias=True`` declares a
    bias kernel: its first two inputs are ``z`` (n, m) and a bias (n, 1) broadcast over the m
    columns, and its loop takes them in 2-D (the other kernels' loops take every array flat)."""
    def wrap(twin):
        if name in KERNELS:
            raise ConfigError(f"a kernel named {name!r} is already declared; kernel names are "
                              f"unique (CuPy caches the compiled source by name)")
        k = KERNELS[name] = Kernel(name, in_params, out_params, operation, twin, bias=bias)
        return k
    return wrap


def fused_passes(array):
    """:mod:`gpubp.fused` when its loops are on (numba installed, ``GPUBP_FUSED`` not 0) and
    ``array`` is big enough for them to pay off (:func:`loops_for`), else None: for the passes that
    are not elementwise kernels (softmax, the cross-entropy cost's columns). Never imports numba
    for a small array or fit (``import gpubp`` never does)."""
    if type(array) is not np.ndarray:
        return None
    return loops_for(array.size)


def apart(out, *inputs, scratch=None):
    """Where a twin computes before its last step: ``out`` itself, or, where ``out`` shares memory
    with one of ``inputs`` (an aliased call), ``scratch`` (if it shares none) or a new array."""
    for x in inputs:  # (a loop, not any() over a generator: this runs at every twin's call)
        if isinstance(x, np.ndarray) and np.may_share_memory(out, x):  # subclasses too
            break
    else:
        return out
    if scratch is not None and not any(isinstance(x, np.ndarray) and np.may_share_memory(scratch, x)
                                       for x in (out, *inputs)):
        return scratch
    return np.empty_like(out)


def unshared(x, *outputs):
    """``x``, or a copy of it where it shares memory with one of ``outputs`` (an aliased call)."""
    for o in outputs:
        if np.may_share_memory(x, o):
            return x.copy()
    return x


# ---- the bias add: A = Z + b, b broadcast over the m columns (identity's, and the output's
# logits Z, which the plan keeps with their bias) --------------------------------------------

@declare("gpubp_bias_identity", "T z, T b", "T a", "a = z + b", bias=True)
def bias_identity(z, b, a, scratch=None):
    np.add(z, b, out=a)


@bias_identity.loop
def _bias_identity_loop(z, b, a):
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            a[i, j] = z[i, j] + b[i, 0]


# ---- the fused output delta of the canonical pairs: dZ[L] = c (A[L] - Y), c = loss constant / m

@declare("gpubp_output_delta", "T a, T y, T c", "T dz", "dz = c * (a - y)")
def output_delta(a, y, c, dz, scratch=None):
    np.subtract(a, y, out=dz)
    dz *= c


@output_delta.loop
def _output_delta_loop(a, y, c, dz):
    for i in range(a.size):
        t = a[i] - y[i]
        dz[i] = t * c


# ---- L2 penalty: dW += c W (c = alpha / m), in place on the gradient -------------------------

@declare("gpubp_axpy", "T x, T c", "T y", "y += c * x")
def axpy(x, c, y, scratch=None):
    s = np.multiply(x, c, out=scratch)
    y += s


@axpy.loop
def _axpy_loop(x, c, y):
    for i in range(x.size):
        y[i] = y[i] + x[i] * c


# ---- optimizer updates, in place on the parameter (and its state) --------------------------

@declare("gpubp_sgd", "T g, T lr", "T w", "w -= lr * g")
def sgd(g, lr, w, scratch=None):
    s = np.multiply(g, lr, out=scratch)
    w -= s


@sgd.loop
def _sgd_loop(g, lr, w):
    for i in range(g.size):
        w[i] = w[i] - g[i] * lr


@declare("gpubp_momentum", "T g, T lr, T mu", "T w, T v", "v = mu * v - lr * g; w += v")
def momentum(g, lr, mu, w, v, scratch=None):
    g = unshared(g, v)
    v *= mu
    s = np.multiply(g, lr, out=scratch)
    v -= s
    w += v


@momentum.loop
def _momentum_loop(g, lr, mu, w, v):
    for i in range(g.size):
        gi = g[i]
        vi = v[i] * mu
        vi = vi - gi * lr
        v[i] = vi
        w[i] = w[i] + vi


# Adam with the bias corrections folded into the step size and epsilon (exactly equal to
# w -= lr * mhat / (sqrt(vhat) + eps)): lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), eps_t = eps sqrt(1 - b2^t).
# The parentheses are the twin's order of operations, so that both round alike.
@declare("gpubp_adam", "T g, T b1, T b2, T lr_t, T eps_t", "T w, T m, T v",
         "m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * (g * g); "
         "w -= lr_t * (m / (sqrt(v) + eps_t))")
def adam(g, b1, b2, lr_t, eps_t, w, m, v, scratch=None):
    g = unshared(g, m, v)
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


@adam.loop
def _adam_loop(g, b1, b2, lr_t, eps_t, w, m, v):
    one = g.dtype.type(1)
    omb1, omb2 = one - b1, one - b2  # as the twin computes them, in the arrays' dtype
    for i in range(g.size):
        gi = g[i]                    # read before m, v or w (any of which may be g) is written
        mi = m[i] * b1
        mi = mi + gi * omb1
        m[i] = mi
        vi = v[i] * b2
        s = gi * gi
        vi = vi + s * omb2
        v[i] = vi
        s = np.sqrt(vi)
        s = s + eps_t
        s = mi / s
        w[i] = w[i] - s * lr_t
