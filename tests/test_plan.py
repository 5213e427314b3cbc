"""The plan: one schedule per batch size; forward in bounded memory, from any thread; no allocation."""

import threading
import tracemalloc

import numpy as np
import pytest

import gpubp
from gpubp import optim
from conftest import allocated_per_step


def _net(**kw):
    return gpubp.Network([5, 16, 8, 3], activation="relu", output="softmax", loss="cross_entropy",
                         device="cpu", seed=0, **kw)


def test_forward_in_chunks_equals_one_pass(rng):
    net = _net(dtype="float64")
    X = rng.normal(size=(5, 1001))
    whole = net.forward(X)
    net.FORWARD_BYTES = 8 * (5 + 2 * (16 + 8 + 3)) * 50  # inputs, Z and A: 50 columns a chunk
    assert net.chunk_size(1001) == 50
    np.testing.assert_allclose(net.forward(X), whole, rtol=1e-14)
    np.testing.assert_allclose(net.forward(X, batch_size=7), whole, rtol=1e-14)
    assert net.cost(X, whole) == pytest.approx(net.cost(X, whole, batch_size=1001), rel=1e-12)


def test_forward_returns_a_new_array_that_later_calls_leave_alone(rng):
    net = _net()
    X1, X2 = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    A1 = net.forward(X1)
    kept = A1.copy()
    net.forward(X2)
    net.gradients(X2, net.forward(X2))
    np.testing.assert_array_equal(A1, kept)


def test_forward_memory_is_bounded_by_the_chunk(rng):
    net = _net()
    M = 200_000
    X = rng.normal(size=(5, M)).astype(np.float32)
    net.FORWARD_BYTES = 2**20
    net.forward(X[:, :10])
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        A = net.forward(X)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # one pass over all columns at once would hold 2 * (16 + 8 + 3) * M floats: 43 MB
    assert peak < A.nbytes + 4 * 2**20, f"forward held {peak / 2**20:.1f} MiB"


def test_concurrent_forward_calls_from_threads(rng):
    net = _net(dtype="float64")
    inputs = [rng.normal(size=(5, 300)) for _ in range(8)]
    expected = [net.forward(X) for X in inputs]
    results = [None] * 8

    def work(i):
        for _ in range(20):
            results[i] = net.forward(inputs[i])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_backward_takes_the_global_batch_size(rng):
    """Data-parallel work: a share of m columns of a global batch of 2m gives half the gradient."""
    net = _net(dtype="float64")
    X, Y = rng.normal(size=(5, 6)), np.eye(3)[:, rng.integers(0, 3, 6)]
    _, g = net.gradients(X, Y)
    plan = net.plan(6)
    plan.stage(net.check_inputs(X), net.check_targets(Y, 6))
    plan.forward()
    plan.backward(m=12)
    for name in net.params:
        np.testing.assert_allclose(net.grads[name], g[name] / 2, rtol=1e-13)


def test_a_step_of_a_graph_with_shared_weights_allocates_nothing(rng):
    """The RNN shares Wx, Wh, bh over time: later contributions add through kept scratch."""
    m = 4096
    rnn = gpubp.ElmanRNN(n_x=10, n_h=256, n_y=10, T=4, output="identity", loss="mse",
                         outputs="all", device="cpu", seed=0)
    X, Y = rng.normal(size=(4, 10, m)), rng.normal(size=(4, 10, m))
    kept, peak = allocated_per_step(rnn, X, Y, optim.Adam(1e-3), m)
    # the smallest (n, m) array is 160 kB, Wh 256 kB; NumPy's own ufunc buffer (8192 elements) is below half
    assert kept < 4096 and peak < 4 * 10 * m // 2, f"a step made a temporary of {peak} bytes"


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_forward_and_cost_refuse_a_bad_batch_size(bad, rng):
    net = _net()
    X = rng.normal(size=(5, 6))
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        net.forward(X, batch_size=bad)
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        net.cost(X, net.forward(X), batch_size=bad)


def test_l2_adds_its_penalty_and_its_gradient_to_the_weights_only(rng):
    """cost + l2/(2m) sum ||W||^2 and dW + (l2/m) W, as scikit-learn's alpha; biases untouched."""
    net = _net(dtype="float64")
    m, l2 = 6, 0.3
    X, Y = rng.normal(size=(5, m)), np.eye(3)[:, rng.integers(0, 3, m)]
    plan = net.plan(m)
    plan.stage(net.check_inputs(X), net.check_targets(Y, m))
    plan.forward()
    c0 = float(plan.cost())
    plan.backward()
    g0 = {k: v.copy() for k, v in net.grads.items()}
    c1 = float(plan.cost(l2))
    plan.backward(l2=l2)
    penalty = sum((net.params[f"W[{l}]"] ** 2).sum() for l in (1, 2, 3)) * l2 / (2 * m)
    assert c1 == pytest.approx(c0 + penalty, rel=1e-13)
    for name in net.params:
        extra = l2 / m * net.params[name] if name.startswith("W") else 0
        np.testing.assert_allclose(net.grads[name], g0[name] + extra, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("out, loss", [("identity", "mse"), ("sigmoid", "bce"),
                                       ("softmax", "cross_entropy"), ("tanh", "half_sse")])
def test_cost_after_backward_leaves_the_contributions_alone(out, loss, rng):
    """cost() once lent the output's dZ as its scratch: after backward() it overwrote dZ[L], and the
    contributions read afterwards (dW[L] = dZ[L] A[L-1]^T) were wrong."""
    net = gpubp.Network([3, 4, 2], activation="tanh", output=out, loss=loss, device="cpu",
                        dtype="float64", seed=0)
    X = rng.normal(size=(3, 6))
    Y = np.eye(2)[:, rng.integers(0, 2, 6)] if loss in ("bce", "cross_entropy") else rng.normal(size=(2, 6))
    plan = net.plan(6)
    plan.stage({"X": X}, {net.outputs[0].name: Y})
    plan.forward()
    plan.backward()
    grads = {name: g.copy() for name, g in net.grads.items()}
    before = plan.contributions()
    plan.cost()
    after = plan.contributions()
    for name, uses in before.items():
        for use, value in uses.items():
            np.testing.assert_array_equal(after[name][use], value)
            np.testing.assert_allclose(value, grads[name], rtol=1e-12, atol=1e-15)
