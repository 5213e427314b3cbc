"""gradcheck: it passes on correct backprop, and it catches wrong backprop."""

import numpy as np
import pytest

import gpubp
from gpubp import activations, losses


def _data(rng, n0=3, nL=2, m=4):
    return rng.normal(size=(n0, m)), rng.uniform(size=(nL, m))


def test_catches_a_wrong_derivative(monkeypatch, rng):
    net = gpubp.Network([3, 4, 2], activation="sigmoid", seed=0, device="cpu")
    X, Y = _data(rng)
    assert gpubp.gradcheck(net, X, Y).ok()
    # plant the learner's classic slip: sigma'(z) written as A instead of A (1 - A)
    monkeypatch.setattr(activations.Sigmoid, "backward",
                        lambda self, A, dA, dZ: np.multiply(dA, A, out=dZ))
    net = gpubp.Network([3, 4, 2], activation="sigmoid", seed=0, device="cpu")  # plans bind anew
    report = gpubp.gradcheck(net, X, Y)
    assert report["W[1]"] > 1e-2 and not report.ok()
    assert report["W[2]"] < 1e-7  # the output layer's delta is fused: only layer 1 is wrong


def test_catches_a_missing_one_over_m(monkeypatch, rng):
    net = gpubp.Network([3, 4, 2], activation="tanh", output="identity", loss="half_sse",
                        seed=0, device="cpu")
    X, Y = _data(rng)
    real = losses.Loss.output_delta
    monkeypatch.setattr(losses.HalfSSE, "output_delta",
                        lambda self, out, A, Y_, m, dZ: real(self, out, A, Y_, 1, dZ))
    assert gpubp.gradcheck(net, X, Y).max_error > 0.5


def test_report_and_original_untouched(rng):
    net = gpubp.Network([3, 4, 2], activation="tanh", seed=0, device="cpu")  # float32
    X, Y = _data(rng)
    before = {k: p.copy() for k, p in net.params.items()}
    report = gpubp.gradcheck(net, X, Y, max_entries=5)
    assert list(report.errors) == ["W[1]", "b[1]", "W[2]", "b[2]"]
    assert report.checked == {"W[1]": 5, "b[1]": 4, "W[2]": 5, "b[2]": 2}
    assert "worst" in str(report) and report.max_error < 1e-7
    for p, q in zip(before.values(), net.params.values()):
        assert p.dtype == q.dtype == np.float32 and np.array_equal(p, q)


def test_relu_kinks_are_skipped_and_counted():
    net = gpubp.Network([1, 2, 1], activation="relu", output="identity", loss="mse",
                        dtype="float64", device="cpu", seed=0)
    net.W[1] = [[1.0], [-1.0]]
    net.b[1] = [[0.0], [0.5]]
    X, Y = np.array([[0.0, 1.0]]), np.array([[0.3, 0.2]])  # unit 1 sits at Z = 0 for x = 0
    report = gpubp.gradcheck(net, X, Y)
    assert report.kinks["b[1]"] >= 1 and report.ok()


def test_a_bug_that_lives_only_in_small_gradients_is_caught(monkeypatch, rng):
    """A deep chain of one-unit sigmoid layers: dW[1] is below 1e-5. A derivative off by 0.1% must still
    show above the tolerance there, so the floor under the denominator must stay small."""
    net = gpubp.Network([1] * 9, activation="sigmoid", output="sigmoid", loss="bce",
                        dtype="float64", device="cpu", seed=0)
    X, Y = rng.normal(size=(1, 5)), rng.uniform(size=(1, 5))
    _, g = net.gradients(X, Y)
    assert np.abs(g["W[1]"]).max() < 1e-5
    assert gpubp.gradcheck(net, X, Y).ok(1e-7)
    real = activations.Sigmoid.backward

    def off_by_a_thousandth(self, A, dA, dZ):
        real(self, A, dA, dZ)
        dZ *= 1.001
    monkeypatch.setattr(activations.Sigmoid, "backward", off_by_a_thousandth)
    net = gpubp.Network([1] * 9, activation="sigmoid", output="sigmoid", loss="bce",
                        dtype="float64", device="cpu", seed=0)  # its plans bind the planted step
    assert gpubp.gradcheck(net, X, Y)["W[1]"] > 1e-6


def test_large_gradients_of_a_correct_network_pass(rng):
    """Targets of 1e4 give gradients of ~1e4: the error is relative to the gradient's own size, so
    a correct network passes (an absolute error would be ~1e-5 here)."""
    net = gpubp.Network([3, 4, 2], activation="tanh", output="identity", loss="sse",
                        dtype="float64", device="cpu", seed=0)
    X, Y = rng.normal(size=(3, 5)), rng.normal(size=(2, 5)) * 1e4
    _, g = net.gradients(X, Y)
    assert min(np.abs(v).max() for v in g.values()) > 1e2
    assert gpubp.gradcheck(net, X, Y).ok(1e-7)


@pytest.mark.parametrize("z0", [1.5e-4, -1.5e-4])
def test_a_kink_crossed_by_one_step_only_is_skipped(z0):
    """A relu unit at Z = +-1.5 h: only the step of -2h (or +2h) carries it across 0. The entry
    must be skipped and counted, whichever side the crossing is on (a check of one side only
    would compare a difference across the kink with the one-sided derivative)."""
    net = gpubp.Network([1, 1, 1], activation="relu", output="identity", loss="mse",
                        dtype="float64", device="cpu", seed=0)
    net.W[1], net.b[1], net.W[2] = [[1.0]], [[z0]], [[2.0]]
    X, Y = np.array([[0.0]]), np.array([[1.0]])
    report = gpubp.gradcheck(net, X, Y, h=1e-4)
    assert report.kinks["b[1]"] == 1 and report.checked["b[1]"] == 0
    assert report.ok()


def test_the_error_is_relative_to_the_larger_of_the_two_gradients(monkeypatch, rng):
    """Backprop planted at 3 times the true gradient: the error is |g - 3g| / |3g| = 2/3 (the
    larger of the two is the scale), not 2 (the numerical one alone)."""
    net = gpubp.Network([3, 4, 2], activation="tanh", dtype="float64", device="cpu", seed=0)
    X, Y = _data(rng)
    real = gpubp.graph.Graph.gradients

    def tripled(self, X, Y):
        cost, grads = real(self, X, Y)
        for g in grads.values():
            g *= 3
        return cost, grads
    monkeypatch.setattr(gpubp.graph.Graph, "gradients", tripled)
    report = gpubp.gradcheck(net, X, Y)
    for name in ("W[1]", "W[2]"):
        assert report[name] == pytest.approx(2 / 3, rel=1e-6)


def test_a_float64_network_is_checked_in_a_copy(rng):
    """The check never runs in the network itself, even when it is already float64: its
    parameters and its gradient buffer are as they were."""
    net = gpubp.Network([3, 4, 2], activation="tanh", dtype="float64", device="cpu", seed=0)
    X, Y = _data(rng)
    net.gradients(*_data(np.random.default_rng(7)))   # the buffer holds other data's gradients
    params, grads = net.params.flat.copy(), net.grads.flat.copy()
    assert gpubp.gradcheck(net, X, Y).ok()
    assert net.params.flat.tobytes() == params.tobytes()
    assert net.grads.flat.tobytes() == grads.tobytes()


def test_at_an_exact_minimum_the_check_passes():
    """Targets equal to the outputs: cost 0 and every gradient exactly 0. The floor under the
    scale is 1e-4 max(1, |cost|), so the error is finite and small (not 0/0)."""
    net = gpubp.Network([2, 3, 2], activation="identity", output="identity", loss="half_sse",
                        dtype="float64", device="cpu", seed=0)
    X = np.random.default_rng(3).normal(size=(2, 5))
    Y = net.forward(X)
    cost, grads = net.gradients(X, Y)
    assert cost == 0 and all(not g.any() for g in grads.values())
    report = gpubp.gradcheck(net, X, Y)
    assert np.isfinite(report.max_error) and report.ok()
