"""Sparse inputs: ``X`` ``(n[0], M)`` as a SciPy sparse matrix (on the GPU, cupyx's).

Only the first layer's two products read ``A[0] = X``: ``Z[1] = W[1] A[0]`` (+ b) forward and
``dW[1] = dZ[1] A[0]^T`` backward (no ``dA[0]`` is ever formed). Those two are sparse-dense
products; every other array stays dense. Text features (TF-IDF over tens of thousands of words,
a few dozen in each document) are the case this is for.

gpubp holds sparse data example-major, as :class:`SparseColumns`: the ``(n, M)`` matrix by its
transpose's CSR rows ``(M, n)``, one row per example, so that a batch is ``m`` rows gathered
(``rows[columns]``) and the notes' ``(n, m)`` shapes hold for every check and message. A plan
holds one ``SparseColumns`` per sparse input and stages each batch's rows into it (a sparse
batch is a new matrix each step: the dense buffers are kept, the batch's rows are not).

The products keep ``W[l]`` and ``dW[l]`` in the flat buffers' C order. On NumPy, with numba
(the ``cpu`` extra), two loops: forward, the batch by features (CSC), so that each column of
``W`` is read once for all the examples that store that feature; backward, row by row of
``dW``, a scatter along each example's stored entries. Without numba, SciPy's product runs
through a transposed copy of ``W`` (several times slower for wide ``W``). On CuPy, cuSPARSE's product. Results equal the dense
product's to round-off (another order of summation), not bit for bit.

``import gpubp`` imports neither SciPy nor numba: a sparse matrix brings its own module, and the
loops are compiled the first time they run.
"""

import numpy as np

from . import backend
from .errors import DataError

_LOOPS = {}


def is_sparse(a):
    """Is ``a`` a SciPy or cupyx sparse matrix (or array), or a :class:`SparseColumns`? Asked
    without importing either library."""
    module = type(a).__module__
    return isinstance(a, SparseColumns) or (
        module.startswith(("scipy.sparse", "cupyx.scipy.sparse")) and hasattr(a, "tocsr"))


class SparseColumns:
    """``A[0]`` ``(n, M)``, sparse, held as the CSR rows ``(M, n)`` of its transpose.

    ``shape``, ``ndim`` and ``dtype`` are the ``(n, M)`` matrix's; ``x[:, cols]`` (a slice or an
    index array of columns, i.e. examples) is another ``SparseColumns``."""

    ndim = 2

    def __init__(self, rows):
        self.rows = rows  # (M, n) CSR: row j holds example j's stored entries

    @property
    def shape(self):
        M, n = self.rows.shape
        return (n, M)

    @property
    def dtype(self):
        return self.rows.dtype

    def __getitem__(self, key):
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)):
            raise TypeError("a SparseColumns picks examples only: x[:, columns]")
        return SparseColumns(self.rows[key[1]])

    def parts(self):
        """The host arrays that define it (for a fingerprint of the data)."""
        r = self.rows
        return [backend.to_host(a) for a in (r.data, r.indices, r.indptr)] + [
            np.array(self.shape)]

    def __repr__(self):
        return f"SparseColumns(shape={self.shape}, stored={self.rows.nnz}, dtype={self.dtype})"


def columns(a, xp, dtype, label):
    """The sparse matrix ``a`` ``(n, M)`` as :class:`SparseColumns` on ``xp``'s device, in
    ``dtype``, checked: real numbers, finite. ``label`` names it in errors. ``a`` may be a
    :class:`SparseColumns` already (checked again: a copy only for another device or dtype)."""
    if isinstance(a, SparseColumns):
        a = a.rows.T
    if a.dtype.kind == "c":
        raise DataError(f"{label} is complex ({a.dtype}); gpubp trains on real numbers")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{label} must be a sparse matrix of numbers; got {a.dtype}")
    rows = a.T.tocsr()  # (M, n): one row per example
    if rows.dtype != dtype:  # first, on its own device: cupyx holds floating types only
        rows = rows.astype(dtype)
    rows = backend.sparse_to_device(rows, xp)
    # (duplicate or unsorted entries need no sorting out: each product adds every stored entry)
    finite = xp.isfinite(rows.data)
    if not bool(finite.all()):
        k = int(backend.to_host(xp.argmin(finite)))
        example = int(np.searchsorted(backend.to_host(rows.indptr), k, side="right")) - 1
        raise DataError(f"{label} contains {int(backend.to_host((~finite).sum()))} NaN or Inf "
                        f"value(s) (first at row {int(rows.indices[k])}, column {example}); "
                        f"remove or impute them first")
    return SparseColumns(rows)


def names(X):
    """The names of the sparse inputs of a checked ``{name: array}``, as a frozenset (a plan's
    key)."""
    return frozenset(k for k, v in X.items() if isinstance(v, SparseColumns))


def times(W, A):
    """``W A`` as a new array, for ``A`` dense or a :class:`SparseColumns`."""
    if not isinstance(A, SparseColumns):
        return backend.xp_of(W).matmul(W, A)
    out = backend.xp_of(W).empty((W.shape[0], A.shape[1]), W.dtype)
    product(W, A, out)
    return out


def product(W, X, out, accumulate=False):
    """``out = W X`` or ``out += W X``: ``W`` ``(n1, n)`` dense, ``X`` a :class:`SparseColumns`
    ``(n, m)``, ``out`` ``(n1, m)``: the first layer's forward product."""
    rows = X.rows
    if type(out) is np.ndarray:
        loops = _loops()
        if loops is not None and W.flags.c_contiguous:
            by_feature = rows.tocsc()  # (m, n) by columns: each feature's examples together
            P = np.empty(out.shape[::-1], out.dtype)  # Z^T (m, n1): one row per example
            loops["product"](W, by_feature.indptr, by_feature.indices, by_feature.data, P,
                             out.dtype.type(0))
            if accumulate:
                out += P.T
            else:
                out[...] = P.T
            return
    P = (rows @ W.T).T  # (n1, m); SciPy copies W.T to C order first
    if accumulate:
        out += P
    else:
        out[...] = P


def weight_gradient(dZ, X, out, accumulate=False):
    """``out = dZ X^T`` or ``out += dZ X^T``: ``dZ`` ``(n1, m)``, ``X`` a :class:`SparseColumns`
    ``(n, m)``, ``out`` ``(n1, n)``: the first layer's ``dW``."""
    rows = X.rows
    if type(out) is np.ndarray:
        loops = _loops()
        if loops is not None and dZ.flags.c_contiguous and out.flags.c_contiguous:
            loops["gradient"](dZ, rows.indptr, rows.indices, rows.data, out, accumulate)
            return
    G = (rows.T @ dZ.T).T  # (n1, n)
    if accumulate:
        out += G
    else:
        out[...] = G


def _loops():
    """The numba loops of the two products, compiled at their first use; None without numba."""
    if "product" in _LOOPS:
        return _LOOPS["product"] and _LOOPS
    from . import fused

    if not fused.ENABLED:
        _LOOPS["product"] = None
        return None

    @fused.jit
    def product_loop(W, indptr, indices, data, P, zero):
        # P[i, :] = sum over the stored X[j, i] of X[j, i] W[:, j], features j in order: the
        # cache lines of W's columns j, j + 1, ... are read once for all the examples that
        # store them (3x faster than a gather along each example's entries, row by row of W)
        P[:, :] = zero
        for j in range(W.shape[1]):
            for k in range(indptr[j], indptr[j + 1]):
                p, v = P[indices[k]], data[k]
                for r in range(W.shape[0]):
                    p[r] += v * W[r, j]

    @fused.jit
    def gradient_loop(dZ, indptr, indices, data, G, accumulate):
        # G[r, j] (+)= sum over the examples i that store column j of dZ[r, i] X[j, i]
        for r in range(G.shape[0]):
            g = G[r]
            if not accumulate:
                g[:] = 0
            for i in range(dZ.shape[1]):
                d = dZ[r, i]
                for k in range(indptr[i], indptr[i + 1]):
                    g[indices[k]] += d * data[k]

    _LOOPS.update(product=product_loop, gradient=gradient_loop)
    return _LOOPS
