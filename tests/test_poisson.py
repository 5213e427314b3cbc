"""The ``exp`` output and the ``poisson`` loss (half the Poisson deviance, scikit-learn's
``MLPRegressor(loss="poisson")``): in gpubp itself and in the estimator."""

import warnings

import numpy as np
import pytest

import gpubp
from gpubp import activations, losses
from gpubp.errors import ConfigError, DataError


def _xlogy(y, x):
    return np.where(y == 0, 0.0, y * np.log(np.where(y == 0, 1.0, x)))


def _deviance(A, Y):
    """scikit-learn's poisson_loss, written out: mean over columns of sum_i y log(y/a) - y + a."""
    return (_xlogy(Y, Y / A) - Y + A).sum(axis=0).mean()


def _data(rng, m=60):
    X = rng.normal(size=(3, m))
    Y = rng.poisson(np.exp(0.5 * X[:1] + 0.3 * X[1:2] - 0.2 * X[2:3]) * [[1.0], [3.0]])
    return X, Y.astype(float)


def _net(output="exp", loss="poisson", **kw):
    kw = {"dtype": "float64", "seed": 0, **kw}
    return gpubp.Network([3, 5, 2], activation="tanh", output=output, loss=loss, device="cpu",
                         **kw)


def test_value_from_logits_and_from_outputs_is_the_half_deviance(rng):
    loss = losses.get("poisson", activations.get("exp"))
    Z = rng.normal(0, 2, (2, 9))
    A = np.exp(Z)
    Y = rng.poisson(2.0, (2, 9)).astype(float)
    Y[0, :3] = 0  # y log y = 0 at y = 0
    want = _deviance(A, Y)
    assert float(loss.value(A, Y, Z)) == pytest.approx(want, rel=1e-13)
    assert float(loss.value(A, Y)) == pytest.approx(want, rel=1e-13)
    scratch = (np.empty_like(A), np.empty_like(A))
    assert float(loss.value(A, Y, Z, scratch)) == float(loss.value(A, Y, Z))


def test_fused_delta_is_the_derivative_of_the_cost_in_the_logits(rng):
    """dZ[L] = (A - Y) / m against central differences of the cost in Z."""
    out = activations.get("exp")
    loss = losses.get("poisson", out)
    Z = rng.normal(size=(2, 5))
    Y = rng.poisson(2.0, (2, 5)).astype(float)
    dZ = np.empty_like(Z)
    loss.output_delta(out, np.exp(Z), Y, 5, dZ)
    h, fd = 1e-6, np.empty_like(Z)
    for i in np.ndindex(Z.shape):
        E = np.zeros_like(Z)
        E[i] = h
        fd[i] = (float(loss.value(np.exp(Z + E), Y, Z + E))
                 - float(loss.value(np.exp(Z - E), Y, Z - E))) / (2 * h)
    np.testing.assert_allclose(dZ, fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("output, loss", [("exp", "poisson"), ("exp", "mse")])
def test_gradcheck_and_explain(output, loss, rng):
    """exp + poisson takes the fused delta; exp + mse the chain rule through exp' = A."""
    X, Y = _data(rng)
    assert gpubp.gradcheck(_net(output, loss), X[:, :8], Y[:, :8]).ok(1e-7)
    d = gpubp.explain(_net(output, loss, dtype="float32"), m=4, check=True)
    assert "A[2] (2, 4) = exp(Z[2] (2, 4))" in str(d)
    assert max(s.error for s in d.steps if s.error is not None) < 1e-5
    assert max(s.fd_error for s in d.steps if s.fd_error is not None) < 1e-2


def test_exp_as_a_hidden_activation_passes_gradcheck(rng):
    X, Y = _data(rng, 8)
    net = gpubp.Network([3, 4, 2], activation="exp", output="exp", loss="poisson",
                        dtype="float64", device="cpu", seed=1)
    assert gpubp.gradcheck(net, X, Y).ok(1e-7)


def test_fit_learns_and_survives_a_checkpoint(rng, tmp_path):
    X, Y = _data(rng, 200)
    net = _net()
    before = float(net.cost(X, Y))
    net.fit(X, Y, epochs=60, batch_size=20, lr=0.01)
    after = float(net.cost(X, Y))
    assert after < 0.7 * before
    assert after == pytest.approx(_deviance(net.forward(X), Y), rel=1e-12)
    net.save(tmp_path / "p.npz")
    back = gpubp.load(tmp_path / "p.npz")
    assert back.loss.name == "poisson" and back.activations[-1].name == "exp"
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    back.fit(X, Y, epochs=1, batch_size=20)  # and trains on
    net.fit(X, Y, epochs=1, batch_size=20)
    np.testing.assert_array_equal(back.forward(X), net.forward(X))


@pytest.mark.parametrize("output", ["identity", "relu", "sigmoid", "softmax"])
def test_poisson_takes_only_exp(output):
    with pytest.raises(ConfigError, match=f"loss 'poisson' needs output='exp'.*"
                                          f"output='{output}' may give 0"):
        losses.get("poisson", activations.get(output))


def test_poisson_refuses_negative_targets(rng):
    X, Y = _data(rng, 10)
    Y[1, 4] = -1e-300
    with pytest.raises(DataError, match="poisson needs targets Y >= 0 .* from -1e-300"):
        _net().fit(X, Y, epochs=1)


# ---- the estimator against scikit-learn -------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor_matches_scikit_learn(solver, n_outputs):
    sklearn_nn = pytest.importorskip("sklearn.neural_network")
    from gpubp.sklearn import MLPRegressor

    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 4))
    rate = np.exp(0.4 * X[:, :1] + 0.3 * X[:, 1:2] * np.arange(1, n_outputs + 1))
    y = rng.poisson(rate).astype(float)
    y = y.ravel() if n_outputs == 1 else y
    kw = dict(loss="poisson", hidden_layer_sizes=(6,), activation="tanh", solver=solver,
              max_iter=25, random_state=2, shuffle=False, batch_size=15,
              learning_rate_init=0.01, alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on both sides
        ours = MLPRegressor(**kw, device="cpu").fit(X, y)
        theirs = sklearn_nn.MLPRegressor(**kw).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_regressor_refuses_negative_targets():
    pytest.importorskip("sklearn")
    from gpubp.sklearn import MLPRegressor

    X = np.arange(20.0).reshape(10, 2)
    with pytest.raises(ValueError, match="poisson needs targets Y >= 0"):
        MLPRegressor(loss="poisson", max_iter=2, device="cpu").fit(X, np.linspace(-1, 1, 10))
