"""The closed forms and worked examples of the seeds (../shared/seeds), against gpubp's backprop."""

import numpy as np
import pytest

import gpubp
from gpubp import optim


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def net64(sizes, act, out, loss, seed=0, bias=True):
    return gpubp.Network(sizes, activation=act, output=out, loss=loss, dtype="float64",
                         device="cpu", seed=seed, bias=bias)


def test_seed_003_closed_form(rng):
    """E = 1/2 ||sigmoid(W x) - y||^2  =>  dE/dW = (S - S^2)(s - y) x^T with S = Diag(s)."""
    x, y = rng.normal(size=(4, 1)), rng.uniform(size=(5, 1))
    net = net64([4, 5], None, "sigmoid", "half_sse", bias=False)  # the seed has no bias
    assert list(net.params) == ["W[1]"]
    s = sigmoid(net.W[1] @ x)
    S = np.diag(s.ravel())
    cost, grads = net.gradients(x, y)
    assert cost == pytest.approx(0.5 * np.sum((s - y) ** 2), rel=1e-14)
    np.testing.assert_allclose(grads.W[1], (S - S @ S) @ (s - y) @ x.T, rtol=1e-13)


def test_seed_004_vectorized_equations(rng):
    """Eqs. (13)-(23): one tanh hidden layer, a sigmoid output, binary cross-entropy, m examples."""
    m = 9
    X, Y = rng.normal(size=(3, m)), rng.integers(0, 2, size=(1, m)).astype(float)
    net = net64([3, 4, 1], "tanh", "sigmoid", "bce")
    W1, b1, W2, b2 = net.W[1], net.b[1], net.W[2], net.b[2]
    A1 = np.tanh(W1 @ X + b1)                                   # (13), (14)
    A2 = sigmoid(W2 @ A1 + b2)                                  # (15), (16)
    ones = np.ones((1, m))
    cost = -(np.log(A2) @ Y.T + np.log(1 - A2) @ (1 - Y).T).item() / m  # (17), with log(1 - A)
    dZ2 = (A2 - Y) / m                                          # (18)
    dW2, db2 = dZ2 @ A1.T, dZ2 @ ones.T                         # (19), (20)
    dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)                          # (21), tanh' = 1 - A^2
    dW1, db1 = dZ1 @ X.T, dZ1 @ ones.T                          # (22), (23)
    got_cost, g = net.gradients(X, Y)
    assert got_cost == pytest.approx(cost, rel=1e-13)
    for got, want in [(g.W[2], dW2), (g.b[2], db2), (g.W[1], dW1), (g.b[1], db1)]:
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_seed_004_single_example_equations(rng):
    """Eqs. (8)-(11) for one example: dz2 = a2 - y, dW2 = dz2 a1^T, dz1 = W2^T dz2 * chi'(z1)."""
    x, y = rng.normal(size=(2, 1)), np.array([[1.0]])
    net = net64([2, 3, 1], "sigmoid", "sigmoid", "bce")
    a1 = sigmoid(net.W[1] @ x + net.b[1])
    a2 = sigmoid(net.W[2] @ a1 + net.b[2])
    dz2 = a2 - y
    dz1 = (net.W[2].T @ dz2) * a1 * (1 - a1)
    _, g = net.gradients(x, y)
    np.testing.assert_allclose(g.W[2], dz2 @ a1.T, rtol=1e-13)
    np.testing.assert_allclose(g.b[2], dz2, rtol=1e-13)
    np.testing.assert_allclose(g.W[1], dz1 @ x.T, rtol=1e-13)
    np.testing.assert_allclose(g.b[1], dz1, rtol=1e-13)


def test_seed_002_two_three_two_network(rng):
    """The 2-3-2 sigmoid network with L = 1/2 sum (y_hat - y)^2, in denominator layout:
    dL/dW3 = [(a3 - y) * a3 * (1 - a3)] a2^T and dL/dW2 = [(W3^T delta3) * a2 * (1 - a2)] a1^T."""
    x, y = rng.normal(size=(2, 1)), rng.uniform(size=(2, 1))
    net = net64([2, 3, 2], "sigmoid", "sigmoid", "half_sse")
    W2, W3 = net.W[1], net.W[2]  # the seed numbers layers from 1 = input, so its W(2) is our W[1]
    a2 = sigmoid(W2 @ x + net.b[1])
    a3 = sigmoid(W3 @ a2 + net.b[2])
    delta3 = (a3 - y) * a3 * (1 - a3)            # (2, 1)
    delta2 = (W3.T @ delta3) * a2 * (1 - a2)      # (3, 2)(2, 1) -> (3, 1)
    _, g = net.gradients(x, y)
    assert g.W[2].shape == W3.shape == (2, 3) and g.W[1].shape == W2.shape == (3, 2)
    np.testing.assert_allclose(g.W[2], delta3 @ a2.T, rtol=1e-13)
    np.testing.assert_allclose(g.W[1], delta2 @ x.T, rtol=1e-13)
    # the second answer's entry form: dJ/dW_ij = dJ/dz_i a_j
    i, j = 1, 2
    assert g.W[2][i, j] == pytest.approx(delta3[i, 0] * a2[j, 0], rel=1e-13)


@pytest.mark.parametrize("hidden_layers", [1, 3, 5])
def test_seed_001_deep_single_output_mse(hidden_layers, rng):
    """m hidden sigmoid layers, one output, (y_hat - y)^2 per example (sse), no bias; the answer's
    recursion run example by example: dMSE/dz_i = W_{i+1}^T delta_{i+1}, delta_i = (that) * f'."""
    p, n, m = 4, 5, 6
    sizes = [p] + [n] * hidden_layers + [1]
    net = net64(sizes, "sigmoid", "sigmoid", "sse", seed=hidden_layers, bias=False)
    L = net.L
    X, Y = rng.normal(size=(p, m)), rng.uniform(size=(1, m))
    W = [None] + [net.W[l] for l in range(1, L + 1)]
    want = [None] + [np.zeros_like(W[l]) for l in range(1, L + 1)]
    for e in range(m):  # one example at a time, the way the learner wrote it
        z = [X[:, [e]]]
        for l in range(1, L + 1):
            z.append(sigmoid(W[l] @ z[-1]))
        y_hat = z[L]
        delta = 2 * (y_hat - Y[:, [e]]) * y_hat * (1 - y_hat)   # k_n = 2 (y_hat - y) f'(W_{n+1} z_n)
        for l in range(L, 0, -1):
            want[l] += delta @ z[l - 1].T / m                  # cost = mean over examples
            delta = (W[l].T @ delta) * z[l - 1] * (1 - z[l - 1])
    _, g = net.gradients(X, Y)
    for l in range(1, L + 1):
        np.testing.assert_allclose(g.W[l], want[l], rtol=1e-12)


def test_one_training_step_worked_by_hand():
    """Matt Mazur's "A Step by Step Backpropagation Example" (2015): a 2-2-2 sigmoid network,
    E = sum 1/2 (target - out)^2, one example, one step of gradient descent with rate 0.5. The
    expected numbers are the ones worked by hand there."""
    net = net64([2, 2, 2], "sigmoid", "sigmoid", "half_sse")
    net.W[1] = [[0.15, 0.20], [0.25, 0.30]]   # w1 w2 / w3 w4
    net.b[1] = [[0.35], [0.35]]
    net.W[2] = [[0.40, 0.45], [0.50, 0.55]]   # w5 w6 / w7 w8
    net.b[2] = [[0.60], [0.60]]
    x, y = np.array([[0.05], [0.10]]), np.array([[0.01], [0.99]])
    np.testing.assert_allclose(net.forward(x), [[0.75136507], [0.772928465]], rtol=1e-8)
    assert net.cost(x, y) == pytest.approx(0.298371109, rel=1e-8)
    plan = net.plan(1)
    plan.stage(net.check_inputs(x), net.check_targets(y, 1))
    plan.train_step(optim.SGD(0.5))
    # the tutorial prints 8 or 9 decimals: agree to half a unit in the 8th
    np.testing.assert_allclose(net.W[2], [[0.35891648, 0.408666186], [0.511301270, 0.561370121]],
                               rtol=0, atol=5e-9)
    np.testing.assert_allclose(net.W[1], [[0.149780716, 0.19956143], [0.24975114, 0.29950229]],
                               rtol=0, atol=5e-9)
