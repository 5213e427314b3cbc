"""Optional: numba compiles the kernels' one-pass loops (the ``cpu`` extra), and the column passes.

A NumPy twin makes one pass over memory per operation (Adam's makes twelve); on small and medium
networks these passes, not the matrix products, take most of a CPU step. A kernel's loop
(declared with it: :meth:`gpubp.kernels.Kernel.loop`) does the same operations, in the same
order and in the same precision, element by element in one loop, so its results are bitwise
equal to the twin's (``tests/test_fused.py`` checks every one on random and on special values).
exp and tanh stay NumPy's (their bits are NumPy's own): sigmoid and tanh forward fuse the
arithmetic around them and call NumPy's exp or tanh between two loops.

This module holds what compiles them (:func:`jit`) and the column passes of softmax and of the
cross-entropy cost, which are not elementwise kernels. Used on C-contiguous NumPy arrays when
numba is installed and the environment variable ``GPUBP_FUSED`` is not ``0``; ``import gpubp``
never imports numba: this module is imported, and numba with it, by a fit of enough work or the
first array of ``FUSED_LOAD_FROM`` elements (:func:`gpubp.kernels.loops_for`), so a small fit
never pays its load.
"""

import os

import numpy as np

#: ``GPUBP_FUSED=0`` turns the loops off; numba is then not even imported (its import takes a
#: process about 0.2 s)
WANTED = os.environ.get("GPUBP_FUSED", "1") != "0"
numba = None
if WANTED:
    try:
        import numba
    except ImportError:  # the cpu extra is not installed: the twins run
        numba = None

ENABLED = numba is not None


def jit(f):
    """``f`` compiled by numba, with NumPy's arithmetic: error_model="numpy" (x / 0 gives inf or
    NaN, never an exception); no fastmath (IEEE semantics, no reassociation, no contraction into
    fused multiply-adds)."""
    return numba.njit(cache=True, nogil=True, error_model="numpy")(f)


if ENABLED:
    # column passes of softmax and of the cross-entropy cost over (n, m) arrays, C order: a
    # column's maximum and sum run down i for every j at once, as NumPy's reductions over axis 0
    # do (each column's sum in the order i = 0, 1, ..., so the bits are NumPy's)

    @jit
    def _column_max(z, mx):
        for j in range(z.shape[1]):
            mx[j] = z[0, j]
        for i in range(1, z.shape[0]):
            for j in range(z.shape[1]):
                v, c = z[i, j], mx[j]
                mx[j] = v if (v > c or v != v) and c == c else c  # a NaN is kept, as np.max does

    @jit
    def _softmax_shift(z, mx, a):
        _column_max(z, mx)
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                a[i, j] = z[i, j] - mx[j]

    @jit
    def _softmax_scale(a, s):
        for j in range(a.shape[1]):
            s[j] = a[0, j]
        for i in range(1, a.shape[0]):
            for j in range(a.shape[1]):
                s[j] = s[j] + a[i, j]
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                a[i, j] = a[i, j] / s[j]

    @jit
    def _cross_entropy_columns(z, y, a, gap, amax, zero):
        for j in range(z.shape[1]):   # gap = max_i z; the dot products sum in amax for a while
            gap[j] = z[0, j]
            amax[j] = zero + y[0, j] * z[0, j]  # from +0, as einsum
        for i in range(1, z.shape[0]):
            for j in range(z.shape[1]):
                v, c = z[i, j], gap[j]
                gap[j] = v if (v > c or v != v) and c == c else c  # as _column_max
                amax[j] = amax[j] + y[i, j] * v  # the einsum's order: i = 0, 1, ...
        for j in range(z.shape[1]):
            gap[j] = gap[j] - amax[j]  # max_i z - sum_i y z
        _column_max(a, amax)           # max_i a


def softmax(Z, A, row):
    """Column-wise softmax of ``Z`` (n, m) into ``A``, ``row`` a (1, m) scratch: as
    :class:`gpubp.activations.Softmax`'s NumPy passes, in three (NumPy's exp in the middle)."""
    mx = row.reshape(-1)
    _softmax_shift(Z, mx, A)
    np.exp(A, out=A)
    _softmax_scale(A, mx)


def cross_entropy_columns(Z, Y, A, gap, amax):
    """``gap[j] = max_i Z[i, j] - sum_i Y[i, j] Z[i, j]`` and ``amax[j] = max_i A[i, j]``, (m,)
    each, in one call: the column terms of the cross-entropy cost, with NumPy's bits."""
    _cross_entropy_columns(Z, Y, A, gap, amax, Z.dtype.type(0))


def takes_columns(*arrays):
    """Do the column passes take these arrays (2-D NumPy arrays, C-contiguous, more than one
    column: NumPy sums a single column as one contiguous run, pairwise, in other bits)?"""
    return (arrays[0].ndim == 2 and arrays[0].shape[1] > 1
            and all(type(a) is np.ndarray and a.flags.c_contiguous for a in arrays))
