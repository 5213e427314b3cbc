"""Initialization: He (normal, std sqrt(2 / fan_in)) for relu and leaky_relu layers, Glorot
(uniform on +-sqrt(6 / (fan_in + fan_out))) for the others; a shared weight is initialized for
its first use. fan_in is n[l-1], the columns of W[l] (n[l], n[l-1])."""

import numpy as np
import pytest

import gpubp


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_he_is_scaled_by_fan_in(act):
    net = gpubp.Network([400, 40, 1], activation=act, device="cpu", dtype="float64", seed=0)
    W = net.W[1]                                    # (40, 400): fan_in 400, fan_out 40
    assert W.shape == (40, 400)
    assert np.std(W) == pytest.approx(np.sqrt(2 / 400), rel=0.05)   # fan-out would give 0.22
    assert abs(np.mean(W)) < 0.01


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "identity"])
def test_glorot_fills_its_bounds_uniformly(act):
    net = gpubp.Network([400, 40, 1], activation=act, device="cpu", dtype="float64", seed=0)
    s = np.sqrt(6 / 440)
    W = net.W[1]
    assert np.abs(W).max() <= s and np.abs(W).max() > 0.99 * s
    assert np.std(W) == pytest.approx(s / np.sqrt(3), rel=0.05)
    assert not net.b[1].any()


def _shared(first, second):
    g = gpubp.Graph(dtype="float64", device="cpu", seed=0)
    X1, X2 = g.input("X1", 40), g.input("X2", 40)
    W = g.weight("W", (50, 40))
    H1 = g.layer("H1", W @ X1, activation=first)
    H2 = g.layer("H2", W @ X2, activation=second)
    V = g.weight("V", (1, 50))
    out = g.layer("out", V @ H1 + V @ H2)
    g.output(out, loss="half_sse")
    return g.params["W"]


def test_a_shared_weight_is_initialized_for_its_first_use():
    he = _shared("relu", "tanh")            # He: normal, std sqrt(2/40) = 0.224
    glorot = _shared("tanh", "relu")        # Glorot: uniform within sqrt(6/90) = 0.258
    bound = np.sqrt(6 / 90)
    assert np.std(he) == pytest.approx(np.sqrt(2 / 40), rel=0.05)
    assert np.abs(he).max() > 1.5 * bound
    assert np.abs(glorot).max() <= bound
    assert np.std(glorot) == pytest.approx(bound / np.sqrt(3), rel=0.05)
