"""ElmanRNN: backpropagation through time against finite differences, against a hand-written
loop, against the chain Network at T = 1; outputs at every step; a sequence task learned."""

import numpy as np
import pytest

import gpubp
from gpubp.errors import ShapeError
from conftest import random_targets

TOL = 1e-7  # finite differences vs backprop, float64


def rnn(T, n_x=2, n_h=3, n_y=2, act="tanh", out="sigmoid", loss="bce", outputs="last", **kw):
    kw.setdefault("dtype", "float64")
    kw.setdefault("device", "cpu")
    kw.setdefault("seed", 0)
    return gpubp.ElmanRNN(n_x, n_h, n_y, T, activation=act, output=out, loss=loss,
                          outputs=outputs, **kw)


def targets(rng, loss, r, m):
    if r.outputs_at == "last":
        return random_targets(rng, loss, r.n_y, m)
    return np.stack([random_targets(rng, loss, r.n_y, m) for _ in range(r.T)])


def randomize_biases(r, rng):
    for name in ("bh", "by"):
        r.params[name] = rng.normal(0, 0.5, r.params[name].shape)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---- finite differences through time -------------------------------------------------------

@pytest.mark.parametrize("act, out, loss", [("tanh", "sigmoid", "bce"), ("relu", "identity", "mse"),
                                            ("sigmoid", "softmax", "cross_entropy")])
@pytest.mark.parametrize("outputs", ["last", "all"])
@pytest.mark.parametrize("T", [1, 2, 5])
def test_bptt_matches_finite_differences(T, outputs, act, out, loss, rng):
    r = rnn(T, act=act, out=out, loss=loss, outputs=outputs)
    randomize_biases(r, rng)
    m = 4
    X = rng.normal(size=(T, 2, m))
    Y = targets(rng, loss, r, m)
    report = gpubp.gradcheck(r, X, Y)
    assert report.max_error < TOL, f"{r}\n{report}"
    assert report.checked["Wx"] > 0 and report.checked["Wy"] > 0
    if T > 1:
        assert report.checked["Wh"] > 0
    _, grads = r.gradients(X, Y)
    assert sorted(grads.contributions("Wx")) == [f"h[{t}]" for t in range(1, T + 1)]


# ---- T = 1 is the chain n_x -> n_h -> n_y ---------------------------------------------------

@pytest.mark.parametrize("act, out, loss", [("tanh", "sigmoid", "bce"), ("relu", "identity", "half_sse")])
def test_one_step_rnn_is_a_network(act, out, loss, rng):
    n_x, n_h, n_y, m = 3, 4, 2, 6
    r = rnn(1, n_x, n_h, n_y, act, out, loss)
    randomize_biases(r, rng)
    net = gpubp.Network([n_x, n_h, n_y], activation=act, output=out, loss=loss,
                        dtype="float64", device="cpu")
    net.W[1], net.b[1], net.W[2], net.b[2] = (r.params["Wx"], r.params["bh"], r.params["Wy"],
                                              r.params["by"])
    X = rng.normal(size=(n_x, m))
    Y = random_targets(rng, loss, n_y, m)
    c_r, g_r = r.gradients(X[None], Y)
    c_n, g_n = net.gradients(X, Y)
    assert c_r == pytest.approx(c_n, rel=1e-14)
    np.testing.assert_allclose(r.forward(X[None]), net.forward(X), rtol=1e-14)
    for mine, theirs in (("Wx", "W[1]"), ("bh", "b[1]"), ("Wy", "W[2]"), ("by", "b[2]")):
        np.testing.assert_allclose(g_r[mine], g_n[theirs], rtol=1e-13, atol=1e-16, err_msg=mine)
    np.testing.assert_array_equal(g_r["Wh"], np.zeros((n_h, n_h)))  # h[0] = 0: Wh never used


# ---- BPTT by hand ---------------------------------------------------------------------------

def bptt_by_hand(P, X, Y, outputs):
    """tanh hidden state, sigmoid output, bce: the forward loop, then the backward loop that
    accumulates dWx, dWh, dbh over time. Returns the cost, the gradients and dZ_h[t]."""
    T, _, m = X.shape
    n_h = P["Wh"].shape[0]
    h = [np.zeros((n_h, m))]                                  # h[0] = 0
    for t in range(1, T + 1):
        h.append(np.tanh(P["Wh"] @ h[t - 1] + P["Wx"] @ X[t - 1] + P["bh"]))
    steps = range(1, T + 1) if outputs == "all" else [T]
    Y_t = {t: (Y[t - 1] if outputs == "all" else Y) for t in steps}
    y_hat = {t: sigmoid(P["Wy"] @ h[t] + P["by"]) for t in steps}
    cost = sum(-np.sum(Y_t[t] * np.log(y_hat[t]) + (1 - Y_t[t]) * np.log(1 - y_hat[t])) / m
               for t in steps)
    g = {k: np.zeros_like(v) for k, v in P.items()}
    dZ_h = {}
    dh = np.zeros((n_h, m))                                   # dCost/dh[t] from h[t+1]
    for t in range(T, 0, -1):
        if t in steps:
            dZ_y = (y_hat[t] - Y_t[t]) / m                    # sigmoid + bce
            g["Wy"] += dZ_y @ h[t].T
            g["by"] += dZ_y.sum(axis=1, keepdims=True)
            dh = dh + P["Wy"].T @ dZ_y
        dZ = dh * (1 - h[t] ** 2)
        dZ_h[t] = dZ
        g["Wx"] += dZ @ X[t - 1].T
        g["Wh"] += dZ @ h[t - 1].T
        g["bh"] += dZ.sum(axis=1, keepdims=True)
        dh = P["Wh"].T @ dZ
    return cost, g, dZ_h, y_hat


@pytest.mark.parametrize("outputs", ["last", "all"])
def test_bptt_equals_hand_written_loop(outputs, rng):
    T, m = 3, 5
    r = rnn(T, n_x=2, n_h=4, n_y=1, outputs=outputs)
    randomize_biases(r, rng)
    X = rng.normal(size=(T, 2, m))
    Y = rng.integers(0, 2, (T, 1, m) if outputs == "all" else (1, m)).astype(float)
    P = {k: v.copy() for k, v in r.params.items()}
    cost, want, dZ_h, y_hat = bptt_by_hand(P, X, Y, outputs)
    got_cost, grads = r.gradients(X, Y)
    assert got_cost == pytest.approx(cost, rel=1e-13)
    for name in P:
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-12, atol=1e-16, err_msg=name)
    # one contribution per step, dZ_h[t] x[t]^T for Wx and dZ_h[t] h[t-1]^T for Wh
    c = grads.contributions("Wx")
    for t in range(1, T + 1):
        np.testing.assert_allclose(c[f"h[{t}]"], dZ_h[t] @ X[t - 1].T, rtol=1e-12, atol=1e-16)
    assert sorted(grads.contributions("Wh")) == ["h[2]", "h[3]"]
    np.testing.assert_allclose(sum(c.values()), grads["Wx"], rtol=1e-13, atol=1e-16)
    t = gpubp.trace(r, X, Y)
    for step in range(1, T + 1):
        np.testing.assert_allclose(t[f"dZ_h[{step}]"], dZ_h[step], rtol=1e-12, atol=1e-16)
    out = r.forward(X)
    if outputs == "all":
        assert out.shape == (T, 1, m)
        np.testing.assert_allclose(out, np.stack([y_hat[s] for s in range(1, T + 1)]), rtol=1e-13)
    else:
        assert out.shape == (1, m)
        np.testing.assert_allclose(out, y_hat[T], rtol=1e-13)


# ---- outputs="all" ----------------------------------------------------------------------------

def test_outputs_all_cost_is_the_sum_over_steps(rng):
    """mse: each step's cost is the mean over its n_y x m entries; the cost sums the steps. The
    same as the sum over t of an outputs="last" RNN cut after t steps, and so are the gradients."""
    T, n_x, n_h, n_y, m = 4, 2, 3, 2, 5
    r = rnn(T, n_x, n_h, n_y, "tanh", "identity", "mse", outputs="all")
    randomize_biases(r, rng)
    X, Y = rng.normal(size=(T, n_x, m)), rng.normal(size=(T, n_y, m))
    out = r.forward(X)
    assert out.shape == (T, n_y, m)
    per_step = [np.mean((out[t] - Y[t]) ** 2) for t in range(T)]
    assert r.cost(X, Y) == pytest.approx(sum(per_step), rel=1e-13)
    cost, grads = r.gradients(X, Y)
    assert cost == pytest.approx(sum(per_step), rel=1e-13)
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for t in range(1, T + 1):
        cut = rnn(t, n_x, n_h, n_y, "tanh", "identity", "mse", outputs="last")
        cut.params.flat[...] = r.params.flat  # the same layout: Wx, Wh, bh, Wy, by
        np.testing.assert_allclose(cut.forward(X[:t]), out[t - 1], rtol=1e-13)
        c_t, g_t = cut.gradients(X[:t], Y[t - 1])
        assert c_t == pytest.approx(per_step[t - 1], rel=1e-13)
        for k in total:
            total[k] += g_t[k]
    for k in total:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-12, atol=1e-16, err_msg=k)


def test_outputs_all_with_bce_cost(rng):
    T, m = 3, 6
    r = rnn(T, n_x=1, n_h=4, n_y=1, outputs="all")
    X, Y = rng.normal(size=(T, 1, m)), rng.integers(0, 2, (T, 1, m)).astype(float)
    A = r.forward(X)
    want = sum(-np.sum(Y[t] * np.log(A[t]) + (1 - Y[t]) * np.log(1 - A[t])) / m for t in range(T))
    assert r.cost(X, Y) == pytest.approx(want, rel=1e-13)


# ---- shape errors ---------------------------------------------------------------------------

def test_X_shape_errors(rng):
    r = rnn(5, n_x=1, n_h=4, n_y=1)
    for bad in [(4, 1, 7), (5, 2, 7), (7, 5, 1), (5, 7)]:
        with pytest.raises(ShapeError, match=r"takes X as \(T, n_x, m\) = \(5, 1, m\).*got X of "
                                             rf"shape {re_shape(bad)}"):
            r.forward(rng.normal(size=bad))
    with pytest.raises(ShapeError, match=r"\(T, n_x, m\)"):
        r.fit(rng.normal(size=(5, 7)), np.zeros((1, 7)))


def re_shape(shape):
    return r"\(" + ", ".join(map(str, shape)) + r"\)"


def test_Y_shape_errors(rng):
    last = rnn(3, n_x=1, n_h=4, n_y=1)
    X = rng.normal(size=(3, 1, 6))
    with pytest.raises(ShapeError, match=r"y_hat is \(1, 6\) but Y is \(6, 1\).*pass Y.T"):
        last.gradients(X, np.zeros((6, 1)))
    with pytest.raises(ShapeError, match=r"y_hat is \(1, 6\) but Y is \(3, 1, 6\)"):
        last.gradients(X, np.zeros((3, 1, 6)))
    every = rnn(3, n_x=1, n_h=4, n_y=1, outputs="all")
    with pytest.raises(ShapeError, match=r"with outputs='all' Y is \(T, n_y, m\) = \(3, 1, m\): "
                                         r"the target of y_hat\[t\] is Y\[t-1\]; got Y of shape "
                                         r"\(1, 6\)"):
        every.gradients(X, np.zeros((1, 6)))
    with pytest.raises(ShapeError, match=r"y_hat\[1\] is \(1, 6\)"):
        every.gradients(X, np.zeros((3, 1, 5)))


@pytest.mark.parametrize("kw, match", [(dict(T=0), "T must be a positive integer"),
                                       (dict(n_h=2.5), "n_h must be a positive integer"),
                                       (dict(outputs="first"), "outputs must be 'last' or 'all'")])
def test_bad_configuration(kw, match):
    args = dict(n_x=1, n_h=3, n_y=1, T=2)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        gpubp.ElmanRNN(**args)


def test_an_rnn_is_complete_when_made():
    with pytest.raises(gpubp.GpubpError, match="complete when made"):
        rnn(2).output(None)


# ---- it learns a task that needs memory -----------------------------------------------------

def parity_data(T):
    """All 2^T bit strings, one per column: X (T, 1, 2^T); Y (1, 2^T) = 1 if an odd number of 1s."""
    bits = (np.arange(2 ** T)[:, None] >> np.arange(T)) & 1      # (2^T, T)
    return bits.T[:, None, :].astype(float), (bits.sum(axis=1) % 2).reshape(1, -1).astype(float)


def test_learns_parity_of_four_bits():
    """Every input bit flips the answer, so the hidden state must carry it through all 4 steps.
    Measured: accuracy 1.0 and final cost ~7e-5 for seeds 0-4 (float32 and float64), 0.15 s."""
    X, Y = parity_data(4)
    r = gpubp.ElmanRNN(1, 8, 1, T=4, device="cpu", seed=0)
    before = ((r.forward(X) > 0.5) == (Y > 0.5)).mean()
    history = r.fit(X, Y, epochs=1500, batch_size=16, lr=0.05)
    accuracy = ((r.forward(X) > 0.5) == (Y > 0.5)).mean()
    assert before < 0.75
    assert accuracy == 1.0, accuracy
    assert history["cost"][-1] < 0.01


def test_learns_whether_a_sum_exceeds_a_threshold():
    """y = 1 if more than 5 of 10 bits are 1, on held-out sequences. Measured: 0.996 test accuracy
    (seeds 1, 2: 0.989, 1.0); always answering 0 scores 0.62."""
    rng = np.random.default_rng(0)

    def data(m):
        X = rng.integers(0, 2, (10, 1, m)).astype(float)
        return X, (X.sum(axis=0) > 5).astype(float)

    X, Y = data(1000)
    Xt, Yt = data(1000)
    r = gpubp.ElmanRNN(1, 8, 1, T=10, device="cpu", seed=0)
    r.fit(X, Y, epochs=30, batch_size=32, lr=0.02)
    accuracy = ((r.forward(Xt) > 0.5) == (Yt > 0.5)).mean()
    assert accuracy > 0.95, accuracy


def test_a_weight_no_layer_uses_gets_only_the_penalty_gradient_each_step():
    """With T = 1 no layer reads Wh: its gradient is the l2 penalty's alone, (l2/m) Wh, written
    anew each step (not piled up), so SGD shrinks it by (1 - lr l2/m) a step, in closed form."""
    rnn = gpubp.ElmanRNN(2, 3, 1, T=1, loss="bce", dtype="float64", seed=0, device="cpu")
    rnn.params["Wh"] = np.ones((3, 3))
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(1, 2, 4)), rng.integers(0, 2, (1, 4)).astype(float)
    lr, l2, m, steps = 0.1, 1.0, 4, 5
    rnn.fit(X, Y, epochs=steps, batch_size=m, optimizer="sgd", lr=lr, l2=l2, shuffle=False)
    np.testing.assert_allclose(rnn.params["Wh"], np.full((3, 3), (1 - lr * l2 / m) ** steps),
                               rtol=1e-14)


@pytest.mark.parametrize("X, words", [
    ([[[1.0, 2.0], [3.0]], [[1.0], [2.0]]], r"X must be an array of numbers \(T, n, m\); .*inhomogeneous"),
    (np.full((2, 2, 3), "a"), r"x\[1\] must be an array of numbers; got an array of <U1"),
    (np.ones((2, 2, 3)) * 1j, r"x\[1\] is complex"),
])
def test_data_that_are_not_real_numbers_are_a_data_error(X, words):
    from gpubp.errors import DataError

    with pytest.raises(DataError, match=words):
        gpubp.ElmanRNN(2, 3, 1, 2, device="cpu").forward(X)
