"""Sparse inputs (gpubp.sparse): a SciPy sparse X trains, predicts and differentiates as its dense
twin does (to round-off: another order of summation), on both of the products' paths (numba's
loops and SciPy's fallback), through the plan, fit, gradcheck and the estimators."""

import numpy as np
import pytest

import gpubp
from gpubp import sparse
from gpubp.errors import DataError, GpubpError

sp = pytest.importorskip("scipy.sparse")


@pytest.fixture(params=["loops", "scipy"])
def path(request, monkeypatch):
    """Each test runs on numba's loops (where numba is installed) and on SciPy's fallback."""
    if request.param == "scipy":
        monkeypatch.setattr(sparse, "_LOOPS", {"product": None})
    else:
        from gpubp import fused
        if not fused.ENABLED:
            pytest.skip("numba not installed (or GPUBP_FUSED=0): SciPy's path only")
    return request.param


def random_columns(n, m, density=0.2, seed=0, dtype=np.float64, fmt="csc"):
    """A sparse ``(n, m)`` with some exact zeros stored and a duplicate entry."""
    rng = np.random.default_rng(seed)
    A = sp.random(n, m, density=density, format="coo", random_state=seed, dtype=dtype)
    rows = np.concatenate([A.row, [0, 0, 1]])
    cols = np.concatenate([A.col, [1, 1, 2]])
    vals = np.concatenate([A.data * rng.choice([-3, 3], A.nnz), [0.5, 0.25, 0.0]])  # duplicate, 0
    return sp.coo_matrix((vals.astype(dtype), (rows, cols)), shape=(n, m)).asformat(fmt)


def network(sizes=(40, 7, 3), **kw):
    kw.setdefault("dtype", "float64")
    kw.setdefault("device", "cpu")
    return gpubp.Network(list(sizes), activation="tanh", output="softmax",
                         loss="cross_entropy", seed=3, **kw)


def targets(m, k=3, seed=1):
    return gpubp.one_hot(np.random.default_rng(seed).integers(0, k, m), k)


@pytest.mark.parametrize("fmt", ["csc", "csr", "coo"])
def test_gradients_equal_the_dense_ones(path, fmt):
    X = random_columns(40, 30, fmt=fmt)
    Y = targets(30)
    c1, g1 = network().gradients(X, Y)
    c2, g2 = network().gradients(X.toarray(), Y)
    assert abs(c1 - c2) < 1e-14
    for name in g2:
        np.testing.assert_allclose(g1[name], g2[name], rtol=1e-12, atol=1e-15)
    assert np.abs(g1["W[1]"]).max() > 0


def test_finite_differences(path):
    X = random_columns(12, 9, density=0.3)
    assert gpubp.gradcheck(network((12, 5, 3)), X, targets(9)).max_error < 1e-6


def test_fit_equals_the_dense_fit(path):
    X, Y = random_columns(40, 200, density=0.1), targets(200)
    a, b = network(), network()
    ha = a.fit(X, Y, epochs=3, batch_size=32, l2=0.01, validation_data=(X, Y), patience=5)
    hb = b.fit(X.toarray(), Y, epochs=3, batch_size=32, l2=0.01,
               validation_data=(X.toarray(), Y), patience=5)
    np.testing.assert_allclose(ha["cost"], hb["cost"], rtol=1e-12)
    np.testing.assert_allclose(ha["val_cost"], hb["val_cost"], rtol=1e-12)
    np.testing.assert_allclose(a.params.flat, b.params.flat, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a.forward(X), b.forward(X.toarray()), rtol=1e-12)
    assert not np.allclose(a.params.flat, network().params.flat)  # it did train


def test_float32(path):
    X, Y = random_columns(40, 64, dtype=np.float32), targets(64)
    a, b = network(dtype="float32"), network(dtype="float32")
    a.fit(X, Y, epochs=2, batch_size=16)
    b.fit(X.toarray(), Y, epochs=2, batch_size=16)
    assert a.params.flat.dtype == np.float32
    np.testing.assert_allclose(a.params.flat, b.params.flat, rtol=1e-4, atol=1e-6)


def test_a_weight_used_twice_on_sparse_inputs_accumulates(path):
    """Z = W X1 + W X2 (+ V X1): the products add into Z, the gradients into dW."""
    g = gpubp.Graph(dtype="float64", device="cpu", seed=0)
    X1, X2 = g.input("X1", 6), g.input("X2", 6)
    W, V, U = g.weight("W", (4, 6)), g.weight("V", (4, 6)), g.weight("U", (1, 4))
    H = g.layer("H", W @ X1 + W @ X2 + V @ X1, activation="tanh", bias=True)
    g.output(g.layer("Y", U @ H), loss="half_sse")
    m = 7
    Xs = {"X1": random_columns(6, m, density=0.4, seed=1), "X2": random_columns(6, m, seed=2)}
    Xd = {k: v.toarray() for k, v in Xs.items()}
    Y = np.random.default_rng(0).normal(size=(1, m))
    c1, g1 = g.gradients(Xs, Y)
    c2, g2 = g.gradients(Xd, Y)
    assert abs(c1 - c2) < 1e-14
    for name in g2:
        np.testing.assert_allclose(g1[name], g2[name], rtol=1e-12, atol=1e-15)
    parts = g1.contributions("W")
    assert sorted(parts) == ["H: W X1", "H: W X2"]
    np.testing.assert_allclose(parts["H: W X1"] + parts["H: W X2"], g2["W"], rtol=1e-12)
    # a sparse and a dense input together
    c3, g3 = g.gradients({"X1": Xs["X1"], "X2": Xd["X2"]}, Y)
    np.testing.assert_allclose(g3["W"], g2["W"], rtol=1e-12)


def test_special_values_in_stored_entries(path):
    """Exact zeros, -0, subnormals and huge values stored: as the dense product."""
    n, m = 5, 4
    vals = np.array([0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300, 1.0, 2.0])
    rows = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    cols = np.array([0, 0, 1, 1, 2, 3, 3, 3])
    X = sp.csc_matrix((vals, (rows, cols)), shape=(n, m))
    W = np.linspace(-1, 1, 3 * n).reshape(3, n)
    got = np.empty((3, m))
    sparse.product(W, sparse.columns(X, np, np.float64, "X"), got)
    np.testing.assert_array_equal(got, W @ X.toarray())
    dZ = np.linspace(-2, 2, 3 * m).reshape(3, m)
    G = np.full((3, n), 7.0)
    sparse.weight_gradient(dZ, sparse.columns(X, np, np.float64, "X"), G)
    np.testing.assert_allclose(G, dZ @ X.toarray().T, rtol=1e-15)
    sparse.weight_gradient(dZ, sparse.columns(X, np, np.float64, "X"), G, accumulate=True)
    np.testing.assert_allclose(G, 2 * (dZ @ X.toarray().T), rtol=1e-15)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_entries_are_named(bad):
    X = random_columns(6, 5, density=0.5).tolil()
    X[4, 3] = bad
    with pytest.raises(DataError, match=r"1 NaN or Inf value\(s\) \(first at row 4, column 3\)"):
        network((6, 3, 3)).fit(X.tocsc(), targets(5), epochs=1)


def test_complex_and_unsorted():
    X = random_columns(6, 5).astype(np.complex128)
    with pytest.raises(DataError, match="complex"):
        network((6, 3, 3)).forward(X)
    # CSR rows of X^T with their columns out of order: the same numbers as sorted ones
    R = random_columns(6, 5, density=0.6).T.tocsr()
    shuffled = R.copy()
    for i in range(R.shape[0]):
        lo, hi = R.indptr[i], R.indptr[i + 1]
        shuffled.indices[lo:hi] = R.indices[lo:hi][::-1]
        shuffled.data[lo:hi] = R.data[lo:hi][::-1]
    shuffled.has_sorted_indices = False
    net = network((6, 3, 3))
    np.testing.assert_allclose(net.forward(shuffled.T), net.forward(R.T.toarray()), rtol=1e-14)


def test_the_users_matrix_is_not_changed():
    X = random_columns(40, 30).T.tocsr().T  # CSC whose transpose (CSR) gpubp holds as is
    before = [X.data.copy(), X.indices.copy(), X.indptr.copy()]
    network().fit(X, targets(30), epochs=2, batch_size=8)
    for a, b in zip(before, [X.data, X.indices, X.indptr]):
        np.testing.assert_array_equal(a, b)


def test_a_sparse_plan_refuses_dense_batches():
    net = network()
    plan = net.plan(4, sparse={"X"})
    with pytest.raises(GpubpError, match="input X of this plan is sparse"):
        plan.stage({"X": np.zeros((40, 4))})
    cols = sparse.columns(random_columns(40, 6), np, np.float64, "X")
    with pytest.raises(GpubpError, match="m = 4 examples; input X has 6"):
        plan.stage({"X": cols})
    assert cols[:, [0, 2]].shape == (40, 2)
    with pytest.raises(TypeError, match="picks examples only"):
        cols[0]


# ---- the scikit-learn estimators ----------------------------------------------------------------

def _sklearn_data(seed=0, n=300, d=50):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.1, format="csr", random_state=seed)
    y = np.asarray(X[:, :5].sum(axis=1)).ravel() + 0.1 * rng.normal(size=n)
    return X, y, (y > np.median(y)).astype(int) + (y > np.quantile(y, 0.8))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_estimators_fit_sparse_as_dense(path, solver, kind):
    """fit (with sample weights, and early stopping for the stochastic solvers), predict either
    way round, and partial_fit: sparse X as its dense twin."""
    from gpubp.sklearn import MLPClassifier, MLPRegressor

    X, y_reg, y_cls = _sklearn_data()
    est, y = ((MLPClassifier, y_cls) if kind == "classifier" else (MLPRegressor, y_reg))
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=15, random_state=0,
              early_stopping=solver != "lbfgs", device="cpu")
    w = np.random.default_rng(1).integers(1, 4, X.shape[0]).astype(float)
    a = est(**kw).fit(X, y, sample_weight=w)
    b = est(**kw).fit(X.toarray(), y, sample_weight=w)
    assert a.n_iter_ == b.n_iter_
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(ca, cb, rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(a.predict(X.tocsc()), b.predict(X.toarray()))
    np.testing.assert_allclose(b.predict(X), a.predict(X.toarray()))
    if solver != "lbfgs":
        kw["early_stopping"] = False
        a, b = est(**kw), est(**kw)
        for _ in range(2):
            a.partial_fit(X, y, **({"classes": [0, 1, 2]} if kind == "classifier" else {}))
            b.partial_fit(X.toarray(), y,
                          **({"classes": [0, 1, 2]} if kind == "classifier" else {}))
        np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-8, atol=1e-11)


@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_on_the_gpu_sparse_equals_dense(device):
    """On the GPU (cupyx.scipy.sparse, cuSPARSE's products): a sparse fit as the dense one on the
    same device, for the engine and the estimator (another order of summation: not bits)."""
    if device != "gpu":
        pytest.skip("the CPU runs every test above")
    from gpubp import backend
    from gpubp.sklearn import MLPClassifier

    X, Y = random_columns(40, 200, density=0.1), targets(200)
    a, b = network(device="gpu"), network(device="gpu")
    a.fit(X, Y, epochs=3, batch_size=32)
    b.fit(X.toarray(), Y, epochs=3, batch_size=32)
    np.testing.assert_allclose(backend.to_host(a.params.flat), backend.to_host(b.params.flat),
                               rtol=1e-9, atol=1e-12)
    Xs, _, y = _sklearn_data()
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="gpu")
    ea, eb = MLPClassifier(**kw).fit(Xs, y), MLPClassifier(**kw).fit(Xs.toarray(), y)
    np.testing.assert_allclose(ea.coefs_[0], eb.coefs_[0], rtol=1e-8, atol=1e-11)
    np.testing.assert_array_equal(ea.predict(Xs), eb.predict(Xs.toarray()))


def test_trace_of_a_sparse_input_equals_the_dense_one(path):
    X, Y = random_columns(12, 9, density=0.3), targets(9)
    a, b = gpubp.trace(network((12, 5, 3)), X, Y), gpubp.trace(network((12, 5, 3)), X.toarray(), Y)
    assert list(a) == list(b)
    for symbol in b:
        np.testing.assert_allclose(a[symbol], b[symbol], rtol=1e-12, atol=1e-15)


def test_integer_and_boolean_matrices_become_the_networks_dtype():
    X = (random_columns(12, 9, density=0.3) != 0)
    net = network((12, 5, 3))
    dense = net.forward(X.toarray() * 1.0)
    assert X.dtype == bool
    np.testing.assert_allclose(net.forward(X.astype(np.int64)), dense, rtol=1e-12)
    np.testing.assert_allclose(net.forward(X), dense, rtol=1e-12)
