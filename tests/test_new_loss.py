"""A new loss in one declaration, here in the test file, works everywhere; and the losses' specs.

log_cosh: per example ``sum_i log(cosh(a_i - y_i))``, like half_sse near the target and like
``|a - y|`` far from it; ``dCost/dA = tanh(A - Y) / m``. It has no canonical output, so every
output meets it through the chain rule ``dZ = dA * chi'(Z)``. Declared below and registered with
:func:`gpubp.losses.register`, it trains, passes the gradient check, is explained (its own dA
formula, checked through dZ), and survives a checkpoint.
"""

import numpy as np
import pytest

import gpubp
from gpubp import losses
from gpubp.backend import xp_of
from gpubp.errors import ConfigError, NameNotFound


class LogCosh(losses.Loss):
    """``log_cosh``: per example ``sum_i log(cosh(a_i - y_i))``, computed as
    ``|d| + log1p(exp(-2 |d|)) - log 2`` (no overflow); ``dCost/dA[L] = tanh(A[L] - Y) / m``."""

    name = "log_cosh"
    delta_formula = None
    dA_formula = "tanh(A - Y) / m"

    def value(self, A, Y, Z=None, scratch=None):
        xp = xp_of(A)
        d = xp.abs(A - Y)
        return (d + xp.log1p(xp.exp(-2 * d)) - np.log(2.0)).sum() / A.shape[1]

    def dA(self, A, Y, m, out, scratch):
        xp = xp_of(A)
        xp.subtract(A, Y, out=out)
        xp.tanh(out, out=out)
        out /= m


@pytest.fixture
def log_cosh(monkeypatch):
    """Registered for one test: the registry is restored afterwards."""
    monkeypatch.setattr(losses, "LOSSES", dict(losses.LOSSES))
    return losses.register(LogCosh)


def _net(output="identity", **kw):
    return gpubp.Network([3, 5, 2], activation="tanh", output=output, loss="log_cosh",
                         device="cpu", seed=0, **kw)


def _data(rng, m=32):
    X = rng.normal(size=(3, m))
    return X, np.vstack([X[0] - 2 * X[1], X[2] * 0.5])


def test_unregistered_it_is_unknown():
    with pytest.raises(NameNotFound, match="unknown loss 'log_cosh'"):
        losses.get("log_cosh", gpubp.activations.get("identity"))


def test_value_and_dA_against_numpy_and_finite_differences(log_cosh, rng):
    loss = losses.get("log_cosh", gpubp.activations.get("identity"))
    A, Y = rng.normal(0, 3, (2, 5)), rng.normal(size=(2, 5))
    assert float(loss.value(A, Y)) == pytest.approx(np.log(np.cosh(A - Y)).sum() / 5, rel=1e-13)
    out = np.empty_like(A)
    loss.dA(A, Y, 5, out, np.empty_like(A))
    h, fd = 1e-6, np.empty_like(A)
    for i in np.ndindex(A.shape):
        E = np.zeros_like(A)
        E[i] = h
        fd[i] = (float(loss.value(A + E, Y)) - float(loss.value(A - E, Y))) / (2 * h)
    np.testing.assert_allclose(out, fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("output", ["identity", "tanh"])
def test_fit_gradcheck_and_explain(log_cosh, output, rng):
    X, Y = _data(rng)
    assert gpubp.gradcheck(_net(output), X[:, :6], Y[:, :6]).ok(1e-7)
    d = gpubp.explain(_net(output), m=4, check=True)
    assert "dA[2] (2, 4) = tanh(A[2] (2, 4) - Y (2, 4)) / m" in str(d)
    errors = [s.error for s in d.steps if s.error is not None]
    fd = [s.fd_error for s in d.steps if s.fd_error is not None]
    assert max(errors) < 1e-12 and max(fd) < 1e-7
    net = _net(output, dtype="float64")
    before = net.cost(X, Y)
    net.fit(X, Y, epochs=100, batch_size=8, lr=0.05, optimizer="adam")
    assert net.cost(X, Y) < before / 2


def test_explain_checks_the_printed_dA_formula(log_cosh, monkeypatch):
    """Planted: the engine's dA forgets the tanh; explain's check of dZ (from the printed
    formula) catches it."""
    monkeypatch.setattr(LogCosh, "dA", lambda self, A, Y, m, out, scratch:
                        np.divide(np.subtract(A, Y, out=out), m, out=out))
    d = gpubp.explain(_net(), m=4, check=True)
    bad = [str(s.equation) for s in d.steps if s.error is not None and s.error > 1e-3]
    assert "dZ[2] = dA[2] * identity'(Z[2])" in bad


def test_checkpoint_round_trip(log_cosh, rng, tmp_path):
    X, Y = _data(rng)
    net = _net(dtype="float64")
    net.fit(X, Y, epochs=2, batch_size=8)
    net.save(tmp_path / "lc.npz")
    back = gpubp.load(tmp_path / "lc.npz")
    assert type(back.loss) is LogCosh and back.loss.spec() == {"name": "log_cosh"}
    np.testing.assert_array_equal(back.forward(X), net.forward(X))


# ---- spec, from_spec, register ------------------------------------------------------------------

@pytest.mark.parametrize("name, output", [("mse", "identity"), ("sse", "tanh"),
                                          ("half_sse", "sigmoid"), ("bce", "sigmoid"),
                                          ("cross_entropy", "softmax")])
def test_spec_round_trip(name, output):
    out = gpubp.activations.get(output)
    loss = losses.get(name, out)
    assert loss.spec() == {"name": name}
    assert type(losses.from_spec(loss.spec(), out)) is type(loss)
    assert type(losses.from_spec(name, out)) is type(loss)  # the bare name checkpoints store


@pytest.mark.parametrize("spec, message", [
    ({"name": "huber"}, "unknown loss 'huber'; valid losses are: bce, cross_entropy"),
    ({"name": "mse", "delta": 1.0}, "a loss spec is"),
    ({}, "a loss spec is"),
    (3, "a loss spec is"),
])
def test_from_spec_refuses_what_it_cannot_build(spec, message):
    with pytest.raises(ConfigError, match=message):
        losses.from_spec(spec, gpubp.activations.get("identity"))


def test_from_spec_still_checks_the_pair():
    with pytest.raises(ConfigError, match="needs output='sigmoid'"):
        losses.from_spec({"name": "bce"}, gpubp.activations.get("identity"))


def test_register_takes_a_name_once(monkeypatch):
    monkeypatch.setattr(losses, "LOSSES", dict(losses.LOSSES))

    class Other(losses.MSE):
        pass

    with pytest.raises(ConfigError, match="loss name 'mse' is taken by MSE"):
        losses.register(Other)
    assert losses.register(losses.MSE) is losses.MSE
    with pytest.raises(ConfigError, match="takes a Loss subclass"):
        losses.register(int)


@pytest.mark.parametrize("name, n, c", [("mse", 1, 2.0), ("mse", 3, 2.0 / 3), ("sse", 4, 2.0),
                                        ("half_sse", 4, 1.0), ("bce", 2, 1.0),
                                        ("cross_entropy", 5, 1.0)])
def test_the_fused_constant_comes_from_the_printed_delta(name, n, c):
    assert losses.LOSSES[name]().constant(n) == c


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_the_printed_formulas_are_what_the_loss_computes(name, rng):
    loss_cls = losses.LOSSES[name]
    out = gpubp.activations.get(loss_cls.canonical)
    loss = losses.get(name, out)
    n, m = 3, 7
    A = rng.uniform(0.05, 0.95, (n, m))
    Y = loss.sample_targets(rng, n, m)
    dZ = np.empty_like(A)
    loss.output_delta(out, A, Y, 40, dZ)
    np.testing.assert_allclose(loss.reference_delta(A, Y, 40), dZ, rtol=1e-14)
    if loss.dA_formula is not None:
        dA = np.empty_like(A)
        loss.dA(A, Y, 40, dA, np.empty_like(A))
        np.testing.assert_allclose(loss.reference_dA(A, Y, 40), dA, rtol=1e-14)
