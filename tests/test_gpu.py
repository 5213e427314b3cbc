"""The device computes what the host computes: whole networks on CuPy against NumPy (``gpu``).

Skipped cleanly where no CUDA device answers; run with ``pytest -m gpu`` on a GPU machine.
"""

import numpy as np
import pytest

import gpubp
from gpubp import backend, optim
from conftest import HIDDEN, OUTPUT_LOSS_PAIRS, random_targets, requires_gpu, seed_000_graph

pytestmark = [pytest.mark.gpu, requires_gpu]

SIZES = [7, 16, 9, 3]


def _pair(act, out, loss, dtype, seed=0):
    host = gpubp.Network(SIZES, activation=act, output=out, loss=loss, dtype=dtype, device="cpu", seed=seed)
    return host, host.copy(device="gpu")


def _data(loss, m=37, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.5, (SIZES[0], m)), random_targets(rng, loss, SIZES[-1], m)


def _rel(a, b):
    a, b = backend.to_host(a), backend.to_host(b)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("out, loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("act", HIDDEN)
def test_forward_and_gradients_float64(act, out, loss):
    host, dev = _pair(act, out, loss, "float64")
    X, Y = _data(loss)
    assert dev.xp is not np and backend.xp_of(dev.W[1]) is not np
    assert _rel(dev.forward(X), host.forward(X)) < 1e-12
    c_h, g_h = host.gradients(X, Y)
    c_d, g_d = dev.gradients(X, Y)
    assert abs(c_d - c_h) <= 1e-12 * abs(c_h)
    for l in range(1, host.L + 1):
        assert _rel(g_d.W[l], g_h.W[l]) < 1e-12 and _rel(g_d.b[l], g_h.b[l]) < 1e-12


@pytest.mark.parametrize("out, loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("act", HIDDEN)
@pytest.mark.parametrize("dtype, one_step, fifty_steps", [("float64", 1e-12, 1e-12),
                                                          ("float32", 1e-5, 1e-4)])
def test_training_steps(act, out, loss, dtype, one_step, fifty_steps):
    """One and 50 Adam steps on the device against the host.

    Bound for 50 steps: each step adds a relative difference of a few ulps (FMA contraction,
    the GPU's exp and tanh) and later steps carry it on; Adam's normalized step keeps the growth
    modest. Measured on an H100 over every pair (benchmarks/parity_drift.py, recorded in
    benchmarks/results/2026-11-23_h100_parity_drift.txt): float64 at most 5.2e-16 after one step
    and 6.5e-15 after 50; float32 1.9e-7 and 3.0e-6. The bounds keep a margin of 30 or more.
    """
    host, dev = _pair(act, out, loss, dtype)
    X, Y = _data(loss, m=64)
    ph_, pd_ = host.plan(64), dev.plan(64)
    ph_.stage(host.check_inputs(X), host.check_targets(Y, 64))
    pd_.stage(dev.check_inputs(X), dev.check_targets(Y, 64))
    oh, od = optim.Adam(1e-2), optim.Adam(1e-2)
    for step in range(1, 51):
        ph_.train_step(oh, cost=False)
        pd_.train_step(od, cost=False)
        if step in (1, 50):
            bound = one_step if step == 1 else fifty_steps
            for ph, pd in zip(host.params.values(), dev.params.values()):
                assert _rel(pd, ph) < bound, f"step {step}: {_rel(pd, ph):.2e}"


def _pool_allocations_per_step(act, out, loss, m=512, steps=10):
    """Run warmed-up training steps on the device; return (pool allocations per step, whether
    the pool's used bytes stayed flat)."""
    import cupy

    class Count(cupy.cuda.MemoryHook):
        name = "count"
        n = 0

        def malloc_preprocess(self, **kw):
            self.n += 1

    _, dev = _pair(act, out, loss, "float32")
    X, Y = _data(loss, m=m)
    plan = dev.plan(m)
    plan.stage(dev.check_inputs(X), dev.check_targets(Y, m))
    opt = optim.Adam(1e-3)
    for _ in range(3):
        plan.train_step(opt, cost=False)
    cupy.cuda.runtime.deviceSynchronize()
    pool = cupy.get_default_memory_pool()
    used = pool.used_bytes()
    hook = Count()
    with hook:
        for _ in range(steps):
            plan.train_step(opt, cost=False)
    cupy.cuda.runtime.deviceSynchronize()
    return hook.n / steps, pool.used_bytes() == used


@pytest.mark.parametrize("act, out, loss", [("tanh", "sigmoid", "bce"), ("relu", "identity", "mse"),
                                            ("leaky_relu", "sigmoid", "half_sse")])
def test_training_step_makes_no_pool_allocation(act, out, loss):
    assert _pool_allocations_per_step(act, out, loss) == (0, True)


def test_softmax_step_allocates_only_its_column_reductions():
    per_step, flat = _pool_allocations_per_step("relu", "softmax", "cross_entropy")
    # softmax's two (1, m) column reductions (max and sum) are its only allocations, from the pool
    assert per_step <= 2 and flat


def test_cost_crosses_to_host_once_per_epoch(monkeypatch):
    host, dev = _pair("tanh", "sigmoid", "bce", "float32")
    X, Y = _data("bce", m=100)
    calls = []
    real = backend.to_host
    monkeypatch.setattr(gpubp.train.backend, "to_host", lambda a: calls.append(a) or real(a))
    dev.fit(X, Y, epochs=3, batch_size=10)  # 10 steps an epoch
    assert len(calls) == 3


def test_fit_on_device_matches_host():
    host, dev = _pair("relu", "sigmoid", "bce", "float64", seed=4)
    X, Y = _data("bce", m=90)
    h1 = host.fit(X, Y, epochs=5, batch_size=16, optimizer="momentum", lr=0.05)
    h2 = dev.fit(X, Y, epochs=5, batch_size=16, optimizer="momentum", lr=0.05)
    np.testing.assert_allclose(h2["cost"], h1["cost"], rtol=1e-10)
    for ph, pd in zip(host.params.values(), dev.params.values()):
        assert _rel(pd, ph) < 1e-10


def test_gradcheck_on_device():
    _, dev = _pair("tanh", "softmax", "cross_entropy", "float32")
    X, Y = _data("cross_entropy", m=5)
    assert gpubp.gradcheck(dev, X, Y).max_error < 1e-7


@pytest.mark.parametrize("act", HIDDEN)
def test_shared_weight_graph_on_device_matches_host(act):
    """Seed 000's graph: Wx's two contributions add through cuBLAS with beta = 1 on the device."""
    host = seed_000_graph(act, "cpu", "float64")
    dev = host.copy(device="gpu")
    rng = np.random.default_rng(2)
    X = {"X1": rng.normal(size=(2, 33)), "X2": rng.normal(size=(2, 33))}
    Y = rng.normal(size=(1, 33))
    c_h, g_h = host.gradients(X, Y)
    c_d, g_d = dev.gradients(X, Y)
    assert abs(c_d - c_h) <= 1e-12 * abs(c_h)
    for name in host.params:
        assert _rel(g_d[name], g_h[name]) < 1e-12, name
        for use, term in g_h.contributions(name).items():
            assert _rel(g_d.contributions(name)[use], term) < 1e-12


@pytest.mark.parametrize("outputs", ["last", "all"])
def test_rnn_on_device_matches_host(outputs):
    host = gpubp.ElmanRNN(n_x=3, n_h=16, n_y=2, T=5, output="sigmoid", loss="bce", outputs=outputs,
                          dtype="float64", device="cpu", seed=0)
    dev = host.copy(device="gpu")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 3, 40))
    Y = rng.uniform(size=(2, 40) if outputs == "last" else (5, 2, 40))
    h1 = host.fit(X, Y, epochs=3, batch_size=16, optimizer="adam", lr=1e-2)
    h2 = dev.fit(X, Y, epochs=3, batch_size=16, optimizer="adam", lr=1e-2)
    np.testing.assert_allclose(h2["cost"], h1["cost"], rtol=1e-10)
    for name in host.params:
        assert _rel(dev.params[name], host.params[name]) < 1e-10, name


def test_rnn_step_on_device_makes_no_pool_allocation():
    import cupy

    rnn = gpubp.ElmanRNN(n_x=8, n_h=64, n_y=4, T=6, output="identity", loss="mse", outputs="all",
                         device="gpu", seed=0)
    rng = np.random.default_rng(4)
    plan = rnn.plan(256)
    plan.stage(rnn.check_inputs(rng.normal(size=(6, 8, 256))),
               rnn.check_targets(rng.normal(size=(6, 4, 256)), 256))
    opt = optim.Adam(1e-3)
    for _ in range(3):
        plan.train_step(opt, cost=False)
    cupy.cuda.runtime.deviceSynchronize()

    class Count(cupy.cuda.MemoryHook):
        name = "count"
        n = 0

        def malloc_preprocess(self, **kw):
            self.n += 1
    hook = Count()
    with hook:
        for _ in range(5):
            plan.train_step(opt, cost=False)
    cupy.cuda.runtime.deviceSynchronize()
    assert hook.n == 0
