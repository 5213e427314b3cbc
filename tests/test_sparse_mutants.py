"""Tests that kill the mutants of gpubp/sparse.py that tests/test_sparse.py let live (issue 16's
mutation run, benchmarks/results/2026-12-04_mutation_issue16.txt): what counts as sparse, the
attributes of SparseColumns, the conversion of another dtype, and that numba's loops are the
products that run on NumPy when numba is there."""

import numpy as np
import pytest

import gpubp
from gpubp import sparse

sp = pytest.importorskip("scipy.sparse")


def small(dtype=np.float64, fmt="csc"):
    """A (4, 3) sparse matrix with an exact zero and a -0 stored."""
    rows, cols = np.array([0, 1, 3, 2, 0]), np.array([0, 0, 1, 2, 2])
    vals = np.array([1.5, -2.0, 0.0, -0.0, 3.0])
    return sp.coo_matrix((vals.astype(dtype), (rows, cols)), shape=(4, 3)).asformat(fmt)


def test_only_scipys_and_cupyxs_matrices_with_tocsr_are_sparse():
    """Both halves of the test: a SciPy sparse module's object without ``tocsr`` (a
    LinearOperator) is not a matrix, nor is an object of another module that has one."""
    from scipy.sparse.linalg import aslinearoperator

    class Impostor:
        def tocsr(self):
            return None

    assert sparse.is_sparse(small())
    assert sparse.is_sparse(sp.csr_array(np.eye(2)))
    assert sparse.is_sparse(sparse.columns(small(), np, np.float64, "X"))
    assert not sparse.is_sparse(aslinearoperator(np.eye(2)))
    assert not sparse.is_sparse(Impostor())
    assert not sparse.is_sparse(np.eye(2))


def test_sparse_columns_reports_the_n_by_m_matrix():
    cols = sparse.columns(small(np.float32), np, np.float32, "X")
    assert cols.shape == (4, 3) and cols.ndim == 2 and cols.dtype == np.float32
    assert repr(cols) == "SparseColumns(shape=(4, 3), stored=5, dtype=float32)"
    data, indices, indptr, shape = cols.parts()
    # CSR rows of X^T: example j's stored entries in row j (-0.0 == 0.0 here; signs below)
    assert indptr.tolist() == [0, 2, 3, 5]
    np.testing.assert_array_equal(shape, [4, 3])
    dense = np.zeros((3, 4), np.float32)
    for j in range(3):
        for k in range(indptr[j], indptr[j + 1]):
            dense[j, indices[k]] += data[k]
    np.testing.assert_array_equal(dense.T, small().toarray())


@pytest.mark.parametrize("given", [np.float64, np.int64, np.bool_])
def test_another_dtype_is_converted_to_the_networks(given):
    """A float64, int (word counts) or boolean sparse X becomes the network's float32 (float64
    for the others), and forward equals the dense twin's (the int counts are exact)."""
    X = small(np.float64)
    X = (X != 0).astype(given) if given is np.bool_ else X.astype(given)
    cols = sparse.columns(X, np, np.float32, "X")
    assert cols.dtype == np.float32 and cols.rows.data.dtype == np.float32
    net = gpubp.Network([4, 3, 2], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype="float32", device="cpu", seed=0)
    got = net.forward(X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, net.forward(X.toarray().astype(np.float32)), rtol=1e-6)
    assert sparse.columns(X, np, np.float64, "X").dtype == np.float64


def test_numba_loops_run_the_products_on_numpy(monkeypatch):
    """With numba, the first layer's two products are the loops (counted here), compiled at
    the first call, not SciPy's fallback; results equal the dense products."""
    from gpubp import fused

    if not fused.ENABLED:
        pytest.skip("numba not installed (or GPUBP_FUSED=0)")
    monkeypatch.setattr(sparse, "_LOOPS", {})  # compiled afresh: the first call returns them
    loops = sparse._loops()
    assert sorted(loops) == ["gradient", "product"] and sparse._loops() is loops
    calls = []

    def counted(name):
        f = loops[name]
        return lambda *a: (calls.append(name), f(*a))[1]

    monkeypatch.setitem(sparse._LOOPS, "product", counted("product"))
    monkeypatch.setitem(sparse._LOOPS, "gradient", counted("gradient"))
    X = small()
    cols = sparse.columns(X, np, np.float64, "X")
    W = np.arange(8.0).reshape(2, 4) - 3
    out = np.full((2, 3), np.nan)
    sparse.product(W, cols, out)
    np.testing.assert_array_equal(out, W @ X.toarray())
    dZ = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    G = np.full((2, 4), np.nan)
    sparse.weight_gradient(dZ, cols, G)
    np.testing.assert_array_equal(G, dZ @ X.toarray().T)
    assert calls == ["product", "gradient"]
    # an F-ordered W, or a non-contiguous dZ, goes to SciPy's product instead: same numbers
    sparse.product(np.asfortranarray(W), cols, out)
    np.testing.assert_array_equal(out, W @ X.toarray())
    assert calls == ["product", "gradient"]


@pytest.mark.parametrize("path", ["loops", "scipy"])
def test_scipys_sparse_arrays_as_its_matrices(path, monkeypatch):
    """A csr_array / coo_array X (SciPy's newer sparse arrays, whose ``*`` multiplies entry by
    entry) gives the dense twin's cost and gradients on either path of the products."""
    if path == "scipy":
        monkeypatch.setattr(sparse, "_LOOPS", {"product": None})
    X = sp.random(6, 9, density=0.4, random_state=2, format="csr")
    Y = gpubp.one_hot(np.arange(9) % 3, 3)
    net = gpubp.Network([6, 5, 3], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype="float64", device="cpu", seed=1)
    c0, g0 = net.gradients(X.toarray(), Y)
    for cls in (sp.csr_array, sp.coo_array, sp.csc_array):
        c1, g1 = net.gradients(cls(X), Y)
        assert abs(c1 - c0) < 1e-14
        for name in g0:
            np.testing.assert_allclose(g1[name], g0[name], rtol=1e-12, atol=1e-15)
