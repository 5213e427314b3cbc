"""Shared fixtures: one test body runs on NumPy and, where a CUDA device answers, on CuPy."""

import numpy as np
import pytest

import gpubp
from gpubp import backend


def gpu_usable():
    return backend.cupy_status()[0] is not None


requires_gpu = pytest.mark.skipif(not gpu_usable(), reason="no usable CUDA device (CuPy + GPU)")


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=[pytest.mark.gpu, requires_gpu])])
def device(request):
    """Each test that takes ``device`` runs once per backend."""
    return request.param


@pytest.fixture
def xp(device):
    return backend.xp_for(device)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_targets(rng, loss, n, m):
    """Targets Y (n, m) valid for ``loss``: probabilities for bce, distributions for cross_entropy."""
    if loss == "cross_entropy":
        Y = rng.uniform(0.05, 1, (n, m))
        return Y / Y.sum(axis=0, keepdims=True)
    if loss == "bce":
        return rng.uniform(0, 1, (n, m))
    return rng.normal(0, 1, (n, m))


# Every (output activation, loss) pair that is defined: the squared-error losses with any output,
# the log losses only with their canonical output (bce + sigmoid, cross_entropy + softmax).
OUTPUT_LOSS_PAIRS = [
    (out, loss)
    for loss in ("mse", "sse", "half_sse")
    for out in ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
] + [("sigmoid", "bce"), ("softmax", "cross_entropy")]
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]


def seed_000_graph(act="identity", device="cpu", dtype="float32"):
    """Seed 000's network: H1 = Wx X1, H2 = Wh H1 + Wx X2, Y_hat = Wy H2 (Wx used twice),
    3 hidden units and 2-D inputs as in the follow-up; ``act`` on H1 and H2."""
    g = gpubp.Graph(dtype=dtype, device=device, seed=0)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
    H1 = g.layer("H1", Wx @ X1, activation=act)
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2, activation=act)
    g.output(g.layer("Y_hat", Wy @ H2), loss="half_sse")
    return g


def allocated_per_step(net, X, Y, opt, m):
    """``(kept, peak)``: bytes a warmed-up plan step (``train_step``, no cost) keeps and its peak
    of new memory, over three steps, measured with tracemalloc."""
    import tracemalloc
    plan = net.plan(m)
    plan.stage(net.check_inputs(X), net.check_targets(Y, m))
    for _ in range(2):
        plan.train_step(opt, cost=False)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(3):
            plan.train_step(opt, cost=False)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - base, peak - base
