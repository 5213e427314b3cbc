"""Losses: hand-computed costs, finite differences of the cost in float64, the fused output deltas
against the chain rule, numerical stability at large logits, and the checks on targets and pairs.

The cost is the mean over the m columns (examples) of a per-example loss summed over the output
units. Every expected number is worked out by hand in a comment or computed by central finite
differences of ``value()``; nothing is copied from gpubp's own output.
"""

import math

import numpy as np
import pytest

from gpubp import activations, losses
from gpubp.backend import to_host
from gpubp.errors import DataError, NameNotFound
from conftest import OUTPUT_LOSS_PAIRS, random_targets

H = 1e-6  # central-difference step (float64)
FUSED = [("sigmoid", "bce"), ("softmax", "cross_entropy"), ("identity", "mse"),
         ("identity", "sse"), ("identity", "half_sse")]
SQUARED = ["mse", "sse", "half_sse"]
OUTPUTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]


def _c(name, n):
    """The constant of the fused delta c (A - Y) / m, written out: 2/n, 2, 1, 1, 1."""
    return {"mse": 2.0 / n, "sse": 2.0, "half_sse": 1.0, "bce": 1.0, "cross_entropy": 1.0}[name]


def _loss(name, output):
    out = activations.get(output)
    return losses.get(name, out), out


def _value(loss, xp, A, Y, Z=None, dtype=np.float64):
    Zd = None if Z is None else xp.asarray(Z, dtype=dtype)
    return float(loss.value(xp.asarray(A, dtype=dtype), xp.asarray(Y, dtype=dtype), Zd))


def _ref_sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


def _ref_softmax(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _fd_grad(f, X):
    """Gradient of the scalar f at X by central differences, entry by entry, in float64."""
    X = np.asarray(X, dtype=np.float64)
    g = np.empty_like(X)
    for idx in np.ndindex(X.shape):
        Xp, Xm = X.copy(), X.copy()
        Xp[idx] += H
        Xm[idx] -= H
        g[idx] = (f(Xp) - f(Xm)) / (2 * H)
    return g


def _away_from_zero(rng, shape, lo=0.2, hi=2.5):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def _forward(out, xp, Z):
    Zd = xp.asarray(Z)
    A = xp.empty_like(Zd)
    out.forward(Zd, A, xp.empty_like(Zd))
    return A


# reference definitions with rows as examples (y_true, y_pred of shape (m, n)), written out in NumPy

def _ref_sklearn_mse(y_true, y_pred):
    """sklearn.metrics.mean_squared_error, multioutput='uniform_average', no sample weights:
    the mean over the examples of each output's squared error, then the mean over the outputs."""
    output_errors = np.average((y_true - y_pred) ** 2, axis=0)
    return np.average(output_errors)


def _ref_torch_mse(y_pred, y_true):
    """torch.nn.functional.mse_loss(input, target), reduction='mean': mean over every element."""
    return ((y_pred - y_true) ** 2).mean()


def _ref_sse(y_true, y_pred):
    """Per example sum over the outputs of (y_hat - y)^2, mean over the examples (seed 001)."""
    return ((y_pred - y_true) ** 2).sum(axis=1).mean()


# ---- value(): the documented formulas, by hand ---------------------------------------------

# n = 3 outputs, m = 2 examples (n = 3 keeps 2/n, 2 and 1 apart: with n = 2, mse = half_sse)
# A = [[1, 2], [3, 4], [0, 1]], Y = [[0, 2], [1, 1], [-1, 3]]: A - Y = [[1, 0], [2, 3], [1, -2]]
# squares [[1, 0], [4, 9], [1, 4]]: column 0 sums to 6, column 1 to 13, all six entries to 19
A3 = [[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]
Y3 = [[0.0, 2.0], [1.0, 1.0], [-1.0, 3.0]]


def test_mse_by_hand(device, xp):
    # mean over all n m = 6 entries: 19 / 6
    loss, _ = _loss("mse", "identity")
    assert _value(loss, xp, A3, Y3) == pytest.approx(19 / 6, rel=1e-15)


def test_sse_by_hand(device, xp):
    # per example sum over the outputs: 6 and 13; mean over m = 2 columns: 19 / 2
    loss, _ = _loss("sse", "identity")
    assert _value(loss, xp, A3, Y3) == pytest.approx(19 / 2, rel=1e-15)


def test_half_sse_by_hand(device, xp):
    # per example 1/2 sum (a - y)^2 -> 3 and 6.5; mean over m = 2: 19 / 4
    loss, _ = _loss("half_sse", "identity")
    assert _value(loss, xp, A3, Y3) == pytest.approx(19 / 4, rel=1e-15)


def test_sse_divides_by_columns_not_by_entries(device, xp):
    # one example (m = 1), three outputs each off by 1: loss 1 + 1 + 1 = 3 (not 3 / 3)
    loss, _ = _loss("sse", "identity")
    assert _value(loss, xp, [[1.0], [2.0], [3.0]], [[0.0], [1.0], [2.0]]) == pytest.approx(3.0)


def test_mse_divides_by_entries(device, xp):
    # the same example: mean over the 3 entries, (1 + 1 + 1) / 3 = 1
    loss, _ = _loss("mse", "identity")
    assert _value(loss, xp, [[1.0], [2.0], [3.0]], [[0.0], [1.0], [2.0]]) == pytest.approx(1.0)


@pytest.mark.parametrize("n, m", [(1, 1), (1, 7), (3, 1), (3, 5), (7, 2)])
def test_squared_losses_match_the_sklearn_and_torch_definitions(n, m, device, xp, rng):
    A, Y = rng.normal(0, 2, (n, m)), rng.normal(0, 1, (n, m))
    mse, _ = _loss("mse", "identity")
    sse, _ = _loss("sse", "identity")
    half, _ = _loss("half_sse", "identity")
    # the references take rows as examples: (m, n)
    assert _value(mse, xp, A, Y) == pytest.approx(_ref_sklearn_mse(Y.T, A.T), rel=1e-13)
    assert _value(mse, xp, A, Y) == pytest.approx(_ref_torch_mse(A.T, Y.T), rel=1e-13)
    assert _value(sse, xp, A, Y) == pytest.approx(_ref_sse(Y.T, A.T), rel=1e-13)
    assert _value(half, xp, A, Y) == pytest.approx(_ref_sse(Y.T, A.T) / 2, rel=1e-13)


@pytest.mark.parametrize("m", [1, 6])
def test_mse_equals_sse_for_one_output(m, device, xp, rng):
    A, Y = rng.normal(0, 2, (1, m)), rng.normal(0, 1, (1, m))
    mse, _ = _loss("mse", "identity")
    sse, _ = _loss("sse", "identity")
    assert _value(mse, xp, A, Y) == pytest.approx(_value(sse, xp, A, Y), rel=1e-14)
    # and so do their derivatives and fused deltas: 2 (A - Y) / m either way
    Ad, Yd = xp.asarray(A), xp.asarray(Y)
    d_mse, d_sse, scratch = xp.empty_like(Ad), xp.empty_like(Ad), xp.empty_like(Ad)
    mse.dA(Ad, Yd, m, d_mse, scratch)
    sse.dA(Ad, Yd, m, d_sse, scratch)
    np.testing.assert_allclose(to_host(d_mse), to_host(d_sse), rtol=1e-15)
    np.testing.assert_allclose(to_host(d_sse), 2 * (A - Y) / m, rtol=1e-15)
    identity = activations.get("identity")
    mse.output_delta(identity, Ad, Yd, m, d_mse)
    sse.output_delta(identity, Ad, Yd, m, d_sse)
    np.testing.assert_allclose(to_host(d_mse), to_host(d_sse), rtol=1e-15)


@pytest.mark.parametrize("n", [2, 3, 10])
def test_mse_is_sse_over_n_and_half_sse_is_half_sse(n, device, xp, rng):
    A, Y = rng.normal(0, 2, (n, 5)), rng.normal(0, 1, (n, 5))
    mse, sse, half = (_loss(name, "identity")[0] for name in SQUARED)
    assert _value(mse, xp, A, Y) == pytest.approx(_value(sse, xp, A, Y) / n, rel=1e-14)
    assert _value(half, xp, A, Y) == pytest.approx(_value(sse, xp, A, Y) / 2, rel=1e-14)


@pytest.mark.parametrize("name", SQUARED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_squared_loss_value_keeps_the_dtype(name, dtype, device, xp, rng):
    loss, _ = _loss(name, "identity")
    A = xp.asarray(rng.normal(size=(3, 4)), dtype=dtype)
    Y = xp.asarray(rng.normal(size=(3, 4)), dtype=dtype)
    assert loss.value(A, Y).dtype == dtype


def test_bce_by_hand(device, xp):
    # A = [[0.5, 0.8], [0.25, 0.5]], Y = [[1, 0], [0, 1]]
    # (0,0): y=1 -> -ln 0.5 = ln 2        (0,1): y=0 -> -ln(1 - 0.8) = ln 5
    # (1,0): y=0 -> -ln(0.75) = ln(4/3)   (1,1): y=1 -> -ln 0.5 = ln 2
    # total ln(2 * 5 * 4/3 * 2) = ln(80/3), mean over m = 2: ln(80/3) / 2
    loss, _ = _loss("bce", "sigmoid")
    A = [[0.5, 0.8], [0.25, 0.5]]
    Y = [[1.0, 0.0], [0.0, 1.0]]
    assert _value(loss, xp, A, Y) == pytest.approx(math.log(80 / 3) / 2, rel=1e-14)


def test_bce_soft_targets_by_hand(device, xp):
    # y = 1/2, a = 1/2: -(1/2 ln 1/2 + 1/2 ln 1/2) = ln 2; y = 1/4, a = 1/2: also ln 2
    # y = 1/2, a = 3/4: -(1/2 ln 3/4 + 1/2 ln 1/4) = ln 4 - 1/2 ln 3
    # one column (m = 1) holding the three: 2 ln 2 + ln 4 - 1/2 ln 3 = 4 ln 2 - 1/2 ln 3
    loss, _ = _loss("bce", "sigmoid")
    A = [[0.5], [0.5], [0.75]]
    Y = [[0.5], [0.25], [0.5]]
    assert _value(loss, xp, A, Y) == pytest.approx(4 * math.log(2) - 0.5 * math.log(3), rel=1e-14)


def test_cross_entropy_by_hand(device, xp):
    # A = [[0.5, 0.25], [0.5, 0.75]], Y one-hot [[1, 0], [0, 1]]
    # column 0: -ln 0.5 = ln 2; column 1: -ln 0.75 = ln(4/3); mean: ln(8/3) / 2
    loss, _ = _loss("cross_entropy", "softmax")
    A = [[0.5, 0.25], [0.5, 0.75]]
    Y = [[1.0, 0.0], [0.0, 1.0]]
    assert _value(loss, xp, A, Y) == pytest.approx(math.log(8 / 3) / 2, rel=1e-14)


def test_cross_entropy_soft_labels_by_hand(device, xp):
    # one column, y = (1/2, 1/2), a = (1/4, 3/4): -(1/2 ln 1/4 + 1/2 ln 3/4) = 2 ln 2 - 1/2 ln 3
    loss, _ = _loss("cross_entropy", "softmax")
    assert _value(loss, xp, [[0.25], [0.75]], [[0.5], [0.5]]) == pytest.approx(
        2 * math.log(2) - 0.5 * math.log(3), rel=1e-14)


# ---- dA(): finite differences of value() w.r.t. A ------------------------------------------

@pytest.mark.parametrize("name", SQUARED)
@pytest.mark.parametrize("n", [1, 3])
def test_dA_is_finite_difference_gradient_of_value(name, n, device, xp, rng):
    loss, _ = _loss(name, "identity")
    m = 4
    A = rng.normal(0, 2, (n, m))
    Y = random_targets(rng, name, n, m)
    expected = _fd_grad(lambda a: _value(loss, xp, a, Y), A)
    Ad, Yd = xp.asarray(A), xp.asarray(Y)
    out, scratch = xp.empty_like(Ad), xp.empty_like(Ad)
    loss.dA(Ad, Yd, m, out, scratch)
    np.testing.assert_allclose(to_host(out), expected, rtol=1e-6, atol=1e-9)
    # the constant, written out: c (A - Y) / m with c = 2/n, 2, 1
    np.testing.assert_allclose(to_host(out), _c(name, n) * (A - Y) / m, rtol=1e-14)
    np.testing.assert_array_equal(to_host(Ad), A)  # A and Y are inputs
    np.testing.assert_array_equal(to_host(Yd), Y)


@pytest.mark.parametrize("name", SQUARED)
def test_dA_uses_the_global_batch_size_and_n_from_A(name, device, xp, rng):
    """m is the global batch size, not A.shape[1]; mse's n is A.shape[0], the outputs."""
    loss, _ = _loss(name, "identity")
    A, Y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    out = xp.empty_like(xp.asarray(A))
    loss.dA(xp.asarray(A), xp.asarray(Y), 40, out, xp.empty_like(out))
    np.testing.assert_allclose(to_host(out), _c(name, 3) * (A - Y) / 40, rtol=1e-14)


@pytest.mark.parametrize("name", ["bce", "cross_entropy"])
def test_log_losses_have_no_dA(name):
    """They meet only their canonical output, which takes the fused delta: no dA to lose precision."""
    loss, _ = _loss(name, losses.LOSSES[name].canonical)
    assert not hasattr(loss, "dA")


# ---- the fused output delta is the chain rule ----------------------------------------------

@pytest.mark.parametrize("name", SQUARED)
def test_fused_delta_equals_chain_rule(name, device, xp, rng):
    loss, out = _loss(name, "identity")
    assert losses.is_fused(loss, out)
    n, m = 4, 6
    Z = rng.normal(0, 1.5, (n, m))
    Y = random_targets(rng, name, n, m)
    Yd = xp.asarray(Y)
    A = _forward(out, xp, Z)
    # chain rule: dZ = dA * chi'(Z), dA from the loss, the product from the activation's backward
    dA, scratch, chain = xp.empty_like(A), xp.empty_like(A), xp.empty_like(A)
    loss.dA(A, Yd, m, dA, scratch)
    out.backward(A, dA, chain)
    fused = xp.empty_like(A)
    loss.output_delta(out, A, Yd, m, fused)
    np.testing.assert_allclose(to_host(fused), to_host(chain), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("output, name", FUSED)
@pytest.mark.parametrize("n", [1, 3])
def test_fused_delta_is_finite_difference_of_value_in_z(output, name, n, device, xp, rng):
    """The fused constants: output_delta = d value(chi(Z)) / dZ = c (A - Y) / m, c = 2/n, 2, 1, 1, 1."""
    loss, out = _loss(name, output)
    if output == "softmax" and n == 1:
        n = 2  # softmax of one unit is constant 1
    m = 5
    Z = rng.normal(0, 2, (n, m))
    Y = random_targets(rng, name, n, m)
    expected = _fd_grad(lambda z: float(loss.value(_forward(out, xp, z), xp.asarray(Y))), Z)
    A = _forward(out, xp, Z)
    dZ = xp.empty_like(A)
    loss.output_delta(out, A, xp.asarray(Y), m, dZ)
    np.testing.assert_allclose(to_host(dZ), expected, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(to_host(dZ), _c(name, n) * (to_host(A) - Y) / m, rtol=1e-14,
                               atol=1e-16)


@pytest.mark.parametrize("output, name", FUSED)
def test_fused_delta_uses_the_global_batch_size(output, name, device, xp, rng):
    """m is the global batch size, not A.shape[1] (a chunk of a larger batch)."""
    loss, out = _loss(name, output)
    Z = rng.normal(0, 1, (3, 4))
    Y = random_targets(rng, name, 3, 4)
    A = xp.empty_like(xp.asarray(Z))
    out.forward(xp.asarray(Z), A, xp.empty_like(A))
    d4, d40 = xp.empty_like(A), xp.empty_like(A)
    loss.output_delta(out, A, xp.asarray(Y), 4, d4)
    loss.output_delta(out, A, xp.asarray(Y), 40, d40)
    np.testing.assert_allclose(to_host(d40) * 10, to_host(d4), rtol=1e-14)
    # n is A.shape[0] (3), m the argument (40): c (A - Y) / 40
    np.testing.assert_allclose(to_host(d40), _c(name, 3) * (to_host(A) - Y) / 40, rtol=1e-14)


@pytest.mark.parametrize("output, name", [(o, n) for o, n in OUTPUT_LOSS_PAIRS
                                          if (o, n) not in FUSED])
def test_output_delta_refuses_a_non_canonical_pair(output, name, xp):
    loss, out = _loss(name, output)
    A = xp.zeros((2, 3))
    with pytest.raises(ValueError, match="output='identity'"):
        loss.output_delta(out, A, A, 3, xp.empty_like(A))


def test_softmax_cross_entropy_delta_is_finite_difference_in_logits(device, xp, rng):
    loss, out = _loss("cross_entropy", "softmax")
    n, m = 4, 5
    Z = rng.normal(0, 2, (n, m))
    Y = random_targets(rng, "cross_entropy", n, m)
    expected = _fd_grad(lambda z: _value(loss, xp, _ref_softmax(z), Y), Z)
    # the same through the logits path of value()
    expected_logits = _fd_grad(lambda z: _value(loss, xp, _ref_softmax(z), Y, z), Z)
    np.testing.assert_allclose(expected_logits, expected, rtol=1e-6, atol=1e-10)
    A = xp.empty_like(xp.asarray(Z))
    out.forward(xp.asarray(Z), A, xp.empty_like(A))
    dZ = xp.empty_like(A)
    loss.output_delta(out, A, xp.asarray(Y), m, dZ)
    np.testing.assert_allclose(to_host(dZ), expected, rtol=1e-6, atol=1e-10)


def test_sigmoid_bce_delta_is_finite_difference_in_logits(device, xp, rng):
    loss, out = _loss("bce", "sigmoid")
    n, m = 3, 5
    Z = rng.normal(0, 2, (n, m))
    Y = random_targets(rng, "bce", n, m)
    expected = _fd_grad(lambda z: _value(loss, xp, _ref_sigmoid(z), Y, z), Z)
    A = xp.empty_like(xp.asarray(Z))
    out.forward(xp.asarray(Z), A, xp.empty_like(A))
    dZ = xp.empty_like(A)
    loss.output_delta(out, A, xp.asarray(Y), m, dZ)
    np.testing.assert_allclose(to_host(dZ), expected, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("output, name", OUTPUT_LOSS_PAIRS)
def test_every_pair_is_finite_difference_in_z(output, name, device, xp, rng):
    """Every defined pair, as the network runs it (the fused delta for the canonical pairs, else
    dZ = dA * chi'(Z)): check it against d value(chi(Z)) / dZ."""
    loss, out = _loss(name, output)
    n, m = 3, 4
    Z = _away_from_zero(rng, (n, m))  # relu / leaky_relu: no kink within a step
    Y = random_targets(rng, name, n, m)

    def cost(z):
        a = xp.empty_like(xp.asarray(z))
        out.forward(xp.asarray(z), a, xp.empty_like(a))
        return float(loss.value(a, xp.asarray(Y)))

    expected = _fd_grad(cost, Z)
    A = _forward(out, xp, Z)
    dA, scratch, dZ = xp.empty_like(A), xp.empty_like(A), xp.empty_like(A)
    if losses.is_fused(loss, out):
        loss.output_delta(out, A, xp.asarray(Y), m, dZ)
    else:
        loss.dA(A, xp.asarray(Y), m, dA, scratch)
        out.backward(A, dA, dZ)
    np.testing.assert_allclose(to_host(dZ), expected, rtol=1e-6, atol=1e-9)


def test_output_loss_pairs_are_every_defined_pair():
    """conftest's OUTPUT_LOSS_PAIRS lists exactly the pairs get() accepts."""
    accepted = set()
    for name in losses.LOSSES:
        for output in OUTPUTS:
            try:
                losses.get(name, activations.get(output))
            except ValueError:
                continue
            accepted.add((output, name))
    assert accepted == set(OUTPUT_LOSS_PAIRS)
    assert len(OUTPUT_LOSS_PAIRS) == len(set(OUTPUT_LOSS_PAIRS)) == 3 * 6 + 2


def test_only_canonical_pairs_are_fused():
    for output, name in OUTPUT_LOSS_PAIRS:
        loss, out = _loss(name, output)
        assert losses.is_fused(loss, out) == ((output, name) in FUSED), (output, name)


# ---- numerical stability -------------------------------------------------------------------

def test_bce_from_logits_equals_value_from_outputs(device, xp, rng):
    loss, _ = _loss("bce", "sigmoid")
    Z = rng.normal(0, 3, (4, 9))
    Y = random_targets(rng, "bce", 4, 9)
    A = _ref_sigmoid(Z)
    from_a = _value(loss, xp, A, Y)
    from_z = _value(loss, xp, A, Y, Z)
    assert from_z == pytest.approx(from_a, rel=1e-12)
    # and both are the formula -[y ln a + (1 - y) ln(1 - a)] summed, over m
    ref = -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).sum() / 9
    assert from_z == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("z, y, per_element", [
    (1000.0, 0.0, 1000.0),  # -ln(1 - sigma(1000)) = ln(1 + e^1000) = 1000 + ln(1 + e^-1000)
    (-1000.0, 0.0, 0.0),    # -ln(1 - sigma(-1000)) = ln(1 + e^-1000) ~ 0
    (1000.0, 1.0, 0.0),     # -ln sigma(1000) ~ 0
    (-1000.0, 1.0, 1000.0),  # -ln sigma(-1000) = 1000 + ln(1 + e^-1000)
    (1000.0, 0.5, 500.0),   # half of each
])
def test_bce_from_logits_is_finite_at_large_logits(z, y, per_element, dtype, device, xp):
    loss, out = _loss("bce", "sigmoid")
    n, m = 2, 3
    Z = xp.full((n, m), z, dtype=dtype)
    A = xp.empty_like(Z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out.forward(Z, A, xp.empty_like(Z))
        v = float(loss.value(A, xp.full((n, m), y, dtype=dtype), Z))
    assert math.isfinite(v)
    # per example: n outputs of per_element each
    assert v == pytest.approx(n * per_element, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_logits_is_finite_at_large_logits(dtype, device, xp):
    loss, out = _loss("cross_entropy", "softmax")
    # column 0: z = (1000, 0, -1000), y on unit 1: -ln softmax_1 = 1000 + ln(1 + e^-1000 + e^-2000) = 1000
    # column 1: same z, y on unit 0: -ln softmax_0 = ln(1 + e^-1000 + e^-2000) = 0
    # column 2: z = (-1000, -1000, 1000), y = (1/2, 1/2, 0): 2000 + ln(1 + 2 e^-2000) = 2000
    # mean over 3 columns: 3000 / 3 = 1000
    Z = xp.asarray([[1000.0, 1000.0, -1000.0], [0.0, 0.0, -1000.0], [-1000.0, -1000.0, 1000.0]],
                   dtype=dtype)
    Y = xp.asarray([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5], [0.0, 0.0, 0.0]], dtype=dtype)
    A = xp.empty_like(Z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out.forward(Z, A, xp.empty_like(Z))
        v = float(loss.value(A, Y, Z))
    assert math.isfinite(v)
    assert v == pytest.approx(1000.0, rel=1e-6)


def test_cross_entropy_from_logits_equals_value_from_outputs(device, xp, rng):
    loss, _ = _loss("cross_entropy", "softmax")
    Z = rng.normal(0, 3, (5, 7))
    Y = random_targets(rng, "cross_entropy", 5, 7)
    A = _ref_softmax(Z)
    assert _value(loss, xp, A, Y, Z) == pytest.approx(_value(loss, xp, A, Y), rel=1e-12)
    assert _value(loss, xp, A, Y, Z) == pytest.approx(-(Y * np.log(A)).sum() / 7, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_from_outputs_takes_no_log_of_zero(dtype, device, xp):
    loss, _ = _loss("bce", "sigmoid")
    # outputs exactly 0 and 1 that match their targets: loss exactly 0
    A = [[0.0, 1.0], [1.0, 0.0]]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        v = _value(loss, xp, A, A, dtype=dtype)
        assert math.isfinite(v) and abs(v) < 1e-30
        # outputs saturated the wrong way: a large but finite loss
        w = _value(loss, xp, A, [[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    assert math.isfinite(w) and w > 50


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_outputs_takes_no_log_of_zero(dtype, device, xp):
    loss, _ = _loss("cross_entropy", "softmax")
    # a = (1, 0): y = (1, 0) costs 0; y = (0, 1) costs a large but finite amount
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        v = _value(loss, xp, [[1.0], [0.0]], [[1.0], [0.0]], dtype=dtype)
        w = _value(loss, xp, [[1.0], [0.0]], [[0.0], [1.0]], dtype=dtype)
    assert math.isfinite(v) and abs(v) < 1e-30
    assert math.isfinite(w) and w > 50


# ---- check_targets -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [1.5, -0.1])
def test_bce_targets_outside_unit_interval_are_refused(bad, device, xp):
    loss, _ = _loss("bce", "sigmoid")
    Y = xp.asarray([[0.0, 1.0, 0.3], [0.5, bad, 1.0]])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        loss.check_targets(Y)


def test_bce_targets_inside_unit_interval_pass(device, xp, rng):
    loss, _ = _loss("bce", "sigmoid")
    loss.check_targets(xp.asarray([[0.0, 1.0, 0.3], [0.5, 0.999, 1.0]]))
    loss.check_targets(xp.asarray(random_targets(rng, "bce", 3, 8), dtype=np.float32))


def test_cross_entropy_column_not_summing_to_one_is_refused(device, xp):
    loss, _ = _loss("cross_entropy", "softmax")
    # columns 0 and 1 sum to 1; column 2 sums to 0.9
    Y = xp.asarray([[1.0, 0.25, 0.4], [0.0, 0.75, 0.5]])
    with pytest.raises(DataError, match="column 2") as info:
        loss.check_targets(Y)
    assert "0.9" in str(info.value)


def test_cross_entropy_targets_outside_unit_interval_are_refused(device, xp):
    loss, _ = _loss("cross_entropy", "softmax")
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        loss.check_targets(xp.asarray([[1.5, 0.0], [-0.5, 1.0]]))  # columns still sum to 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_valid_targets_pass(dtype, device, xp, rng):
    loss, _ = _loss("cross_entropy", "softmax")
    loss.check_targets(xp.asarray(random_targets(rng, "cross_entropy", 5, 9), dtype=dtype))
    loss.check_targets(xp.asarray(np.eye(4)[:, [0, 2, 1, 3, 3]], dtype=dtype))  # one-hot


# ---- get() ---------------------------------------------------------------------------------

CANONICAL = {"bce": "sigmoid", "cross_entropy": "softmax"}


@pytest.mark.parametrize("name", ["bce", "cross_entropy"])
@pytest.mark.parametrize("output", ["tanh", "relu", "identity", "leaky_relu"])
def test_get_refuses_log_loss_on_output_outside_unit_interval(name, output):
    with pytest.raises(ValueError, match=r"\(0, 1\)") as info:
        losses.get(name, activations.get(output))
    msg = str(info.value)
    assert f"output={output!r}" in msg
    assert f"loss {name!r} needs output={CANONICAL[name]!r} (its canonical pair" in msg
    assert not isinstance(info.value, NameNotFound)


def test_get_refuses_bce_with_softmax_naming_the_canonical_pairs():
    with pytest.raises(ValueError) as info:
        losses.get("bce", activations.get("softmax"))
    assert str(info.value) == (
        "loss 'bce' needs output='sigmoid' (its canonical pair, dZ[L] = (A[L] - Y)/m); with "
        "output='softmax' the gradient is lost in float32 when the output saturates; for one "
        "class per column use output='softmax' with loss='cross_entropy'")


def test_get_refuses_cross_entropy_with_sigmoid_naming_the_canonical_pairs():
    with pytest.raises(ValueError) as info:
        losses.get("cross_entropy", activations.get("sigmoid"))
    msg = str(info.value)
    assert msg.startswith("loss 'cross_entropy' needs output='softmax' (its canonical pair, "
                          "dZ[L] = (A[L] - Y)/m); with output='sigmoid' the gradient is lost in "
                          "float32 when the output saturates")
    assert "output='sigmoid' with loss='bce'" in msg


@pytest.mark.parametrize("name, output", CANONICAL.items())
def test_get_accepts_log_loss_on_its_canonical_output(name, output):
    loss, out = _loss(name, output)
    assert loss.name == name and losses.is_fused(loss, out)


@pytest.mark.parametrize("name", SQUARED)
@pytest.mark.parametrize("output", OUTPUTS)
def test_get_accepts_squared_losses_on_any_output(name, output):
    loss, out = _loss(name, output)
    assert loss.name == name
    assert losses.is_fused(loss, out) == (output == "identity")


def test_get_unknown_loss_lists_the_valid_names():
    with pytest.raises(NameNotFound) as info:
        losses.get("hinge", activations.get("identity"))
    msg = str(info.value)
    assert "'hinge'" in msg
    for name in ("mse", "sse", "half_sse", "bce", "cross_entropy"):
        assert name in msg


def test_get_returns_a_loss_object_itself_but_still_checks_the_pair():
    bce = losses.BCE()
    assert losses.get(bce, activations.get("sigmoid")) is bce
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        losses.get(bce, activations.get("tanh"))
    with pytest.raises(ValueError, match="gradient is lost in float32"):
        losses.get(bce, activations.get("softmax"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, s", [(1000, 0.0), (200, 0.85), (10, 0.992)])
def test_cross_entropy_bad_column_is_refused_with_many_outputs(n, s, dtype, device, xp):
    """A float32 sum of n labels that add to 1 is off by ~1e-6 even for n = 1e5; a column that
    sums to 0 (no label at all) or to 0.85 is not rounding error, however many outputs there are."""
    loss, _ = _loss("cross_entropy", "softmax")
    Y = np.zeros((n, 3))
    Y[0, 0] = 1.0
    Y[1, 1] = s          # column 1 sums to s != 1
    Y[:, 2] = 1.0 / n    # column 2 is a valid (uniform) distribution
    with pytest.raises(DataError, match="column 1"):
        loss.check_targets(xp.asarray(Y, dtype=dtype))


@pytest.mark.parametrize("margin, shift", [(15.0, 0.0), (30.0, 0.0), (3.0, 1e4)])
def test_cross_entropy_from_logits_keeps_its_precision_over_many_columns(margin, shift):
    """Confident or shifted logits over 10^5 columns, float32: the cost is summed column by
    column (each >= 0), so it stays near the float64 log-softmax and never goes negative."""
    from gpubp import activations, losses
    rng = np.random.default_rng(0)
    n, m = 10, 100_000
    labels = rng.integers(0, n, m)
    Z = rng.normal(size=(n, m)) + shift
    Z[labels, np.arange(m)] += margin
    Y = np.eye(n)[:, labels]
    shifted = Z - Z.max(axis=0)
    want = -(Y * (shifted - np.log(np.exp(shifted).sum(axis=0)))).sum() / m
    Z32 = Z.astype(np.float32)
    A32 = np.empty_like(Z32)
    activations.get("softmax").forward(Z32, A32)
    ce = losses.get("cross_entropy", activations.get("softmax"))
    for scratch in (None, (np.empty_like(Z32),)):  # with the plan's scratch rows, and without
        got = float(ce.value(A32, Y.astype(np.float32), Z32, scratch=scratch))
        assert got >= 0 and got == pytest.approx(want, rel=2e-3, abs=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["mse", "sse", "half_sse", "bce", "cross_entropy"])
def test_the_cost_in_lent_buffers_is_the_cost(name, dtype, xp):
    """The plan lends ``loss.scratches`` buffers (holding anything: NaN here) so that the cost
    makes no (n, m) temporary; the cost is the same, bit for bit, as without them."""
    from gpubp import activations, losses
    rng = np.random.default_rng(1)
    out = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(name, "identity")
    act = activations.get(out)
    loss = losses.get(name, act)
    n, m = 5, 300
    Z = xp.asarray(rng.normal(0, 8, (n, m)).astype(dtype))
    A = xp.empty_like(Z)
    act.forward(Z, A, xp.empty_like(Z))
    Y = rng.uniform(size=(n, m)) if name != "cross_entropy" else np.eye(n)[:, rng.integers(0, n, m)]
    Y = xp.asarray(Y.astype(dtype))
    logits = Z if losses.is_fused(loss, act) else None
    scratch = tuple(xp.full_like(Z, np.nan) for _ in range(loss.scratches))
    lent = loss.value(A, Y, logits, scratch=scratch)
    assert to_host(lent).tobytes() == to_host(loss.value(A, Y, logits)).tobytes()
    assert float(lent) > 0
