"""A new activation in one declaration, here in the test file, works everywhere.

softplus(z) = log(1 + exp(z)), softplus'(z) = sigmoid(z) = 1 - exp(-A) (computed as -expm1(-A),
which keeps its precision where A is small): declared below as a
subclass of :class:`gpubp.activations.Activation` with its formulas and its kernels (CUDA source,
NumPy twin, and a numba loop for the backward step), then registered with
:func:`gpubp.activations.register`. Nothing else in gpubp is told about it, and it then trains,
passes the gradient check, is explained and checked by explain, survives a checkpoint, and runs
its loop above ``FUSED_FROM`` (its CUDA kernel on a GPU, where one answers).
"""

import numpy as np
import pytest

import gpubp
from gpubp import activations, kernels
from gpubp.errors import CheckpointError, NameNotFound
from conftest import requires_gpu


class Softplus(activations.Activation):
    """``softplus(z) = log(1 + exp(z))`` (written ``max(z, 0) + log1p(exp(-|z|))``, which never
    overflows), ``softplus'(z) = sigmoid(z) = 1 - exp(-A) = -expm1(-A)``."""

    name = "softplus"
    range = (0.0, float("inf"))
    formula = "maximum(Z, 0) + log1p(exp(-abs(Z)))"
    derivative_formula = "-expm1(-A)"

    @kernels.declare("test_softplus", "T z", "T a",
                     "a = (z > 0 ? z : (T)0) + log1p(exp(-fabs(z)))")
    def forward_kernel(z, a, scratch=None):
        t = kernels.apart(a, z, a, scratch=scratch)  # a buffer apart from z and a
        np.abs(z, out=t)
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        np.maximum(z, 0, out=a)
        a += t

    @kernels.declare("test_softplus_grad", "T a, T gA", "T gZ", "gZ = gA * (-expm1(-a))")
    def backward_kernel(a, gA, gZ, scratch=None):
        t = kernels.apart(gZ, a, gA, scratch=scratch)
        np.negative(a, out=t)
        np.expm1(t, out=t)
        np.negative(t, out=t)
        np.multiply(gA, t, out=gZ)

    @backward_kernel.loop(passes=True)  # NumPy's expm1 (its bits), then one loop for the rest
    def backward_loop(a, gA, gZ):
        t = kernels.apart(gZ, a, gA)
        np.negative(a, out=t)
        np.expm1(t, out=t)
        _times_minus(t.reshape(-1), gA.reshape(-1), gZ.reshape(-1))


@kernels.Loop
def _times_minus(t, gA, gZ):
    for i in range(gZ.size):
        gZ[i] = gA[i] * (-t[i])


@pytest.fixture
def softplus(monkeypatch):
    """Registered for one test: the registry is restored afterwards."""
    monkeypatch.setattr(activations, "ACTIVATIONS", dict(activations.ACTIVATIONS))
    activations.register(Softplus)
    return Softplus


def _net(**kw):
    return gpubp.Network([3, 6, 2], activation="softplus", output="identity", loss="mse",
                         device="cpu", seed=0, **kw)


def _data(rng, m=64):
    X = rng.normal(size=(3, m))
    return X, np.vstack([np.sin(X[0]) + X[1] ** 2, X[2] - X[0]])


def test_unregistered_it_is_unknown():
    with pytest.raises(NameNotFound, match="unknown activation 'softplus'"):
        activations.get("softplus")


def test_forward_and_derivative_against_numpy_and_finite_differences(softplus, rng):
    act = activations.get("softplus")
    Z = rng.normal(0, 3, (4, 9))
    A = np.empty_like(Z)
    act.forward(Z, A)
    np.testing.assert_allclose(A, np.logaddexp(0, Z), rtol=1e-14)
    h = 1e-6
    fd = (np.logaddexp(0, Z + h) - np.logaddexp(0, Z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(A), fd, rtol=1e-7, atol=1e-9)
    A2 = np.empty_like(Z)
    act.forward_bias(Z, np.ones((4, 1)), A2)  # no bias kernel: add, then the forward kernel
    np.testing.assert_allclose(A2, np.logaddexp(0, Z + 1), rtol=1e-14)


def test_fit_lowers_the_cost(softplus, rng):
    net = _net(dtype="float64")
    X, Y = _data(rng)
    before = net.cost(X, Y)
    net.fit(X, Y, epochs=200, batch_size=16, lr=0.05, optimizer="adam")
    assert net.cost(X, Y) < before / 4


def test_gradcheck(softplus, rng):
    X, Y = _data(rng, m=8)
    report = gpubp.gradcheck(_net(), X, Y)
    assert report.ok(1e-7), report


def test_explain_prints_and_checks_its_formulas(softplus):
    d = gpubp.explain(_net(), m=5, check=True)
    text = str(d)
    assert "A[1] (6, 5) = softplus(Z[1] (6, 5))" in text
    assert "softplus'(Z[1]) = -expm1(-A[1])" in text
    errors = [s.error for s in d.steps if s.error is not None]
    fd = [s.fd_error for s in d.steps if s.fd_error is not None]
    assert len(errors) >= 8 and max(errors) < 1e-12 and max(fd) < 1e-7


def test_explain_catches_a_wrong_kernel(softplus, monkeypatch):
    """Planted: the twin computes gA * exp(-A) (1 - sigmoid), not gA * (1 - exp(-A))."""
    monkeypatch.setattr(Softplus.backward_kernel, "twin",
                        lambda a, gA, gZ, scratch=None: np.multiply(gA, np.exp(-a), out=gZ))
    d = gpubp.explain(_net(), m=5, check=True)
    bad = [str(s.equation) for s in d.steps if s.error is not None and s.error > 1e-3]
    assert "dZ[1] = dA[1] * softplus'(Z[1])" in bad


def test_checkpoint_round_trip(softplus, rng, tmp_path):
    net = _net(dtype="float64")
    X, Y = _data(rng)
    net.fit(X, Y, epochs=2, batch_size=16)
    assert net.activations[1].spec() == {"name": "softplus"}
    net.save(tmp_path / "softplus.npz")
    back = gpubp.load(tmp_path / "softplus.npz")
    assert type(back.activations[1]) is Softplus
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    assert type(activations.from_spec({"name": "softplus"})) is Softplus


def test_without_registration_a_checkpoint_refuses_it(rng, tmp_path):
    net = gpubp.Network([3, 6, 2], activation=Softplus(), device="cpu", seed=0)
    with pytest.raises(CheckpointError, match="softplus"):
        net.save(tmp_path / "x.npz")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_loop_runs_above_fused_from_with_the_twins_bits(dtype, rng, monkeypatch):
    from gpubp import fused
    if not fused.ENABLED:
        pytest.skip("numba not installed (the cpu extra)")
    kernel = Softplus.backward_kernel
    calls, fused_version = [], kernel.fused
    monkeypatch.setattr(kernel, "fused", lambda *a: calls.append(1) or fused_version(*a))
    shape = (8, 4 * kernels.FUSED_FROM // 8)
    A = np.abs(rng.normal(0, 3, shape)).astype(dtype)
    A.flat[:6] = [0.0, -0.0, np.inf, np.nan, 1e-40, 700]
    gA = rng.normal(size=shape).astype(dtype)
    got = np.empty_like(A)
    with np.errstate(all="ignore"):
        Softplus().backward(A, gA, got)
        want = np.empty_like(A)
        kernel.twin(A, gA, want)
    assert calls == [1] and got.dtype == dtype
    np.testing.assert_array_equal(got, want)  # bitwise, NaN where NaN


@pytest.mark.gpu
@requires_gpu
def test_the_cuda_kernels_match_the_twins(rng):
    import cupy
    act = Softplus()
    Z = rng.normal(0, 4, (64, 1031))
    A, dZ = np.empty_like(Z), np.empty_like(Z)
    act.forward(Z, A)
    gA = rng.normal(size=Z.shape)
    act.backward(A, gA, dZ)
    Zd = cupy.asarray(Z)
    Ad, dZd = cupy.empty_like(Zd), cupy.empty_like(Zd)
    act.forward(Zd, Ad)
    act.backward(Ad, cupy.asarray(gA), dZd)
    np.testing.assert_allclose(Ad.get(), A, rtol=1e-12)
    np.testing.assert_allclose(dZd.get(), dZ, rtol=1e-12, atol=1e-300)
