"""Example weights: ``gpubp.fit(..., sample_weight=w)`` and the estimators' ``sample_weight``.

The weighted cost of a batch is ``sum_j w_j loss_j / s`` (+ ``l2 / (2 s) sum ||W||^2``), ``s`` the
batch's sum of weights; the gradient is that cost's (``dZ[L]`` scaled column by column). So
integer weights are repeated examples, and zero weights removed ones.
"""

import warnings

import numpy as np
import pytest

import gpubp
from gpubp.errors import DataError, ShapeError

PAIRS = [("identity", "mse"), ("tanh", "sse"), ("softmax", "mse"), ("sigmoid", "bce"),
         ("softmax", "cross_entropy"), ("exp", "poisson")]


def _targets(rng, loss, n, m):
    if loss == "cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, m)]
    if loss == "bce":
        return rng.uniform(0, 1, (n, m))
    if loss == "poisson":
        return rng.poisson(2.0, (n, m)).astype(float)
    return rng.normal(size=(n, m))


def _net(output, loss, seed=0):
    return gpubp.Network([3, 5, 2], activation="tanh", output=output, loss=loss,
                         dtype="float64", device="cpu", seed=seed)


@pytest.mark.parametrize("output, loss", PAIRS)
def test_weights_of_two_are_the_duplicated_data_set(output, loss, rng):
    """One full batch, sgd, with l2: weights 2 give the step of every example twice."""
    M = 30
    X, Y = rng.normal(size=(3, M)), _targets(rng, loss, 2, M)
    weighted, repeated = _net(output, loss), _net(output, loss)
    h1 = weighted.fit(X, Y, epochs=4, batch_size=M, optimizer="sgd", lr=0.2, l2=0.5,
                      sample_weight=np.full(M, 2.0))
    X2, Y2 = np.hstack([X, X]), np.hstack([Y, Y])
    h2 = repeated.fit(X2, Y2, epochs=4, batch_size=2 * M, optimizer="sgd", lr=0.2, l2=0.5)
    np.testing.assert_allclose(weighted.params.flat, repeated.params.flat, rtol=1e-13,
                               atol=1e-15)
    np.testing.assert_allclose(h1["cost"], h2["cost"], rtol=1e-13)


@pytest.mark.parametrize("output, loss", PAIRS)
def test_integer_and_zero_weights_are_repeated_and_removed_examples(output, loss, rng):
    M = 25
    X, Y = rng.normal(size=(3, M)), _targets(rng, loss, 2, M)
    w = rng.integers(0, 4, M)
    w[0] = 0
    idx = np.repeat(np.arange(M), w)
    weighted, repeated = _net(output, loss), _net(output, loss)
    weighted.fit(X, Y, epochs=3, batch_size=M, optimizer="adam", lr=0.05, l2=0.1,
                 sample_weight=w)
    repeated.fit(X[:, idx], Y[:, idx], epochs=3, batch_size=len(idx), optimizer="adam",
                 lr=0.05, l2=0.1)
    np.testing.assert_allclose(weighted.params.flat, repeated.params.flat, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("output, loss", PAIRS)
def test_the_weighted_gradient_is_the_weighted_costs(output, loss, rng):
    """The plan staged with weights: its backward against central differences of its cost
    (with l2), and its cost against the weighted mean of the per-example losses."""
    m = 6
    net = _net(output, loss, seed=3)
    X, Y, w = rng.normal(size=(3, m)), _targets(rng, loss, 2, m), rng.uniform(0, 2, m)
    plan = net.plan(m)
    Xs, Ys = net.check_inputs(X), net.check_targets(Y, m)
    s = w.sum()

    def cost():
        plan.stage(Xs, Ys, weights=w, divisor=s)
        plan.forward()
        return float(plan.cost(0.3))

    c = cost()
    per = [float(_net(output, loss, seed=3).cost(X[:, j:j + 1], Y[:, j:j + 1]))
           for j in range(m)]
    penalty = 0.3 / (2 * s) * sum(float((net.W[l] ** 2).sum()) for l in range(1, net.L + 1))
    assert c == pytest.approx(np.dot(w, per) / s + penalty, rel=1e-12)
    plan.backward(l2=0.3)
    grad = np.array(net.grads.flat)
    flat, h = net.params.flat, 1e-6
    fd = np.empty_like(grad)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = cost()
        flat[i] = keep - h
        down = cost()
        flat[i] = keep
        fd[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_a_stage_without_weights_is_unweighted_again(rng):
    net = _net("identity", "mse")
    X, Y = rng.normal(size=(3, 8)), rng.normal(size=(2, 8))
    plan = net.plan(8)
    Xs, Ys = net.check_inputs(X), net.check_targets(Y, 8)
    plan.stage(Xs, Ys, weights=np.arange(8.0), divisor=28.0)
    plan.forward()
    weighted = float(plan.cost())
    plan.stage(Xs, Ys)
    plan.forward()
    assert float(plan.cost()) == float(net.cost(X, Y)) != weighted


def test_unit_weights_change_nothing_but_mini_batches_divide_by_their_own_sums(rng):
    M = 40
    X, Y = rng.normal(size=(3, M)), rng.normal(size=(2, M))
    a, b = _net("identity", "mse"), _net("identity", "mse")
    a.fit(X, Y, epochs=3, batch_size=7, sample_weight=np.ones(M))
    b.fit(X, Y, epochs=3, batch_size=7)
    np.testing.assert_allclose(a.params.flat, b.params.flat, rtol=1e-13, atol=1e-15)
    c = _net("identity", "mse")
    c.fit(X, Y, epochs=3, batch_size=7, sample_weight=np.full(M, 3.0))  # scale: the same steps
    np.testing.assert_allclose(c.params.flat, b.params.flat, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("w, error, message", [
    (np.ones(5), ShapeError,
     "sample_weight must have shape \\(M,\\) = \\(6,\\).*got shape \\(5,\\)"),
    (np.ones((6, 1)), ShapeError, "got shape \\(6, 1\\)"),
    (np.array([1, 1, np.nan, 1, 1, 1.0]), DataError, "sample_weight must be finite; example 2"),
    (np.zeros(6), DataError, "at least one non-zero weight"),
    (["a"] * 6, TypeError, "sample_weight must be an array of 6 numbers"),
])
def test_fit_refuses_weights_it_cannot_take(w, error, message, rng):
    net = _net("identity", "mse")
    before = net.params.flat.copy()
    with pytest.raises(error, match=message):
        net.fit(rng.normal(size=(3, 6)), rng.normal(size=(2, 6)), sample_weight=w)
    assert net.training is None and np.array_equal(net.params.flat, before)


# ---- data-parallel ------------------------------------------------------------------------------

WEIGHTED_RANKS = """
    import sys
    import numpy as np
    import gpubp
    from mpi4py import MPI

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 61)), rng.uniform(size=(2, 61))
    w = rng.uniform(0, 3, 61)
    net = gpubp.Network([4, 6, 2], activation="tanh", output="sigmoid", loss="bce",
                        dtype="float64", device="cpu", seed=2)
    h = net.fit(X, Y, epochs=3, batch_size=16, optimizer="sgd", lr=0.5, l2=0.1, sample_weight=w,
                comm="mpi")
    if MPI.COMM_WORLD.rank == 0:
        np.savez(sys.argv[1], params=np.array(net.params.flat), cost=h["cost"])
"""


def test_ranks_divide_by_the_global_batchs_sum_of_weights(tmp_path):
    test_distributed = pytest.importorskip("test_distributed")
    if test_distributed.MPIEXEC is None:
        pytest.skip("no mpiexec")
    run = test_distributed.mpiexec(3, WEIGHTED_RANKS, tmp_path, tmp_path / "out.npz")
    assert run.returncode == 0, run.stderr
    got = np.load(tmp_path / "out.npz")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 61)), rng.uniform(size=(2, 61))
    w = rng.uniform(0, 3, 61)
    net = gpubp.Network([4, 6, 2], activation="tanh", output="sigmoid", loss="bce",
                        dtype="float64", device="cpu", seed=2)
    h = net.fit(X, Y, epochs=3, batch_size=16, optimizer="sgd", lr=0.5, l2=0.1, sample_weight=w)
    np.testing.assert_allclose(got["params"], net.params.flat, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["cost"], h["cost"], rtol=1e-12)


# ---- the estimators against scikit-learn --------------------------------------------------------

def _problem(kind):
    from sklearn.datasets import make_classification, make_regression
    if kind == "regression":
        X, y = make_regression(n_samples=120, n_features=5, n_targets=2, random_state=0)
        return X, y / 100
    X, y = make_classification(n_samples=120, n_features=5, n_classes=3, n_informative=3,
                               random_state=0)
    return X, y


@pytest.mark.parametrize("kind", ["regression", "classification"])
@pytest.mark.parametrize("solver, early_stopping", [("sgd", False), ("adam", False),
                                                    ("adam", True), ("lbfgs", False)])
def test_estimators_match_scikit_learn_with_weights(kind, solver, early_stopping):
    sk = pytest.importorskip("sklearn.neural_network")
    import gpubp.sklearn as gs

    name = "MLPRegressor" if kind == "regression" else "MLPClassifier"
    X, y = _problem(kind)
    sw = np.random.default_rng(1).uniform(0, 3, len(y))
    kw = dict(hidden_layer_sizes=(6,), activation="tanh", solver=solver, max_iter=15,
              random_state=1, batch_size=25, learning_rate_init=0.01, alpha=0.01,
              early_stopping=early_stopping, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(sk, name)(**kw).fit(X, y, sample_weight=sw)
        ours = getattr(gs, name)(**kw, device="cpu").fit(X, y, sample_weight=sw)
        unweighted = getattr(gs, name)(**kw, device="cpu").fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    assert abs(unweighted.loss_ - theirs.loss_) > 1e-6  # the weights matter
    method = "predict" if kind == "regression" else "predict_proba"
    np.testing.assert_allclose(getattr(ours, method)(X), getattr(theirs, method)(X),
                               rtol=1e-8, atol=1e-12)
    if early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                   rtol=1e-10)


def test_the_lbfgs_objective_with_weights_is_its_own_gradient(rng):
    """L-BFGS barely notices a gradient off by a constant factor (its steps scale with it), so
    the fits above would not see one: the objective's gradient against central differences."""
    pytest.importorskip("sklearn")
    from gpubp.sklearn.solvers import objective

    net = _net("softmax", "cross_entropy", seed=4)
    X, Y, w = rng.normal(size=(3, 20)), _targets(rng, "cross_entropy", 2, 20), rng.uniform(0, 3, 20)
    f = objective(net, X, Y, 0.2, sample_weight=w)
    x = f.x0
    cost, grad = f(x)
    fd = np.empty_like(grad)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = 1e-6
        fd[i] = (f(x + e)[0] - f(x - e)[0]) / 2e-6
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    per = [float(_net("softmax", "cross_entropy", seed=4).cost(X[:, j:j + 1], Y[:, j:j + 1]))
           for j in range(20)]
    penalty = 0.2 / (2 * w.sum()) * sum(float((net.W[l] ** 2).sum()) for l in (1, 2))
    assert cost == pytest.approx(np.dot(w, per) / w.sum() + penalty, rel=1e-12)


def test_partial_fit_takes_weights_as_scikit_learn_does():
    sk = pytest.importorskip("sklearn.neural_network")
    import gpubp.sklearn as gs

    X, y = _problem("classification")
    sw = np.random.default_rng(2).uniform(0, 2, len(y))
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", random_state=0, batch_size=30,
              shuffle=False, learning_rate_init=0.05)
    ours, theirs = gs.MLPClassifier(**kw, device="cpu"), sk.MLPClassifier(**kw)
    for _ in range(3):  # sample_weight third, classes fourth, as in scikit-learn
        ours.partial_fit(X, y, sw, [0, 1, 2])
        theirs.partial_fit(X, y, sw, [0, 1, 2])
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("sw, message", [
    (np.ones(7), "sample_weight.shape == \\(7,\\), expected \\(120,\\)!"),
    (np.ones((120, 2)), "Sample weights must be 1D array or scalar"),
    (np.zeros(120), "Sample weights must contain at least one non-zero number"),
    (np.full(120, np.inf), "Input sample_weight contains NaN or infinity"),
])
def test_estimators_refuse_weights_as_scikit_learn_does(sw, message):
    pytest.importorskip("sklearn")
    import gpubp.sklearn as gs

    X, y = _problem("regression")
    with pytest.raises(ValueError, match=message):
        gs.MLPRegressor(max_iter=2, device="cpu").fit(X, y, sample_weight=sw)
