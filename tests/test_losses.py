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
         ("identity", "half_sse")]


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


# ---- value(): the documented formulas, by hand ---------------------------------------------

def test_mse_by_hand(device, xp):
    # A = [[1, 2], [3, 4]], Y = [[0, 2], [1, 1]]: A - Y = [[1, 0], [2, 3]]
    # column 0: 1 + 4 = 5, column 1: 0 + 9 = 9; mean over m = 2 columns: (5 + 9) / 2 = 7
    loss, _ = _loss("mse", "identity")
    A = [[1.0, 2.0], [3.0, 4.0]]
    Y = [[0.0, 2.0], [1.0, 1.0]]
    assert _value(loss, xp, A, Y) == pytest.approx(7.0, rel=1e-15)


def test_half_sse_by_hand(device, xp):
    # same A, Y as above: per example 1/2 sum (a - y)^2 -> 2.5 and 4.5; mean = 3.5
    loss, _ = _loss("half_sse", "identity")
    A = [[1.0, 2.0], [3.0, 4.0]]
    Y = [[0.0, 2.0], [1.0, 1.0]]
    assert _value(loss, xp, A, Y) == pytest.approx(3.5, rel=1e-15)


def test_mse_divides_by_columns_not_by_entries(device, xp):
    # one example (m = 1), three outputs each off by 1: loss 1 + 1 + 1 = 3 (not 3 / 3)
    loss, _ = _loss("mse", "identity")
    assert _value(loss, xp, [[1.0], [2.0], [3.0]], [[0.0], [1.0], [2.0]]) == pytest.approx(3.0)


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

@pytest.mark.parametrize("name, output", [("mse", "identity"), ("half_sse", "identity"),
                                          ("bce", "sigmoid"), ("cross_entropy", "softmax")])
def test_dA_is_finite_difference_gradient_of_value(name, output, device, xp, rng):
    loss, _ = _loss(name, output)
    n, m = 3, 4
    if name in ("bce", "cross_entropy"):
        A = rng.uniform(0.05, 0.95, (n, m))
    else:
        A = rng.normal(0, 2, (n, m))
    Y = random_targets(rng, name, n, m)
    expected = _fd_grad(lambda a: _value(loss, xp, a, Y), A)
    Ad, Yd = xp.asarray(A), xp.asarray(Y)
    out, scratch = xp.empty_like(Ad), xp.empty_like(Ad)
    loss.dA(Ad, Yd, m, out, scratch)
    np.testing.assert_allclose(to_host(out), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(to_host(Ad), A)  # A and Y are inputs
    np.testing.assert_array_equal(to_host(Yd), Y)


# ---- the fused output delta is the chain rule ----------------------------------------------

@pytest.mark.parametrize("output, name", FUSED)
def test_fused_delta_equals_chain_rule(output, name, device, xp, rng):
    loss, out = _loss(name, output)
    assert losses.is_fused(loss, out)
    n, m = 4, 6
    Z = rng.normal(0, 1.5, (n, m))
    Y = random_targets(rng, name, n, m)
    Zd, Yd = xp.asarray(Z), xp.asarray(Y)
    A = xp.empty_like(Zd)
    out.forward(Zd, A, xp.empty_like(Zd))
    # chain rule: dZ = dA * chi'(Z), dA from the loss, the product from the activation's backward
    dA, scratch, chain = xp.empty_like(A), xp.empty_like(A), xp.empty_like(A)
    loss.dA(A, Yd, m, dA, scratch)
    out.backward(A, dA, chain)
    fused = xp.empty_like(A)
    loss.output_delta(out, A, Yd, m, fused)
    np.testing.assert_allclose(to_host(fused), to_host(chain), rtol=1e-10, atol=1e-14)
    # and the constant: c (A - Y) / m with c = 2 for mse, else 1
    c = 2.0 if name == "mse" else 1.0
    np.testing.assert_allclose(to_host(fused), c * (to_host(A) - Y) / m, rtol=1e-14, atol=1e-16)


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
def test_chain_rule_for_every_pair_is_finite_difference_in_z(output, name, device, xp, rng):
    """Any output meets any loss through dZ = dA * chi'(Z): check it against d value(chi(Z)) / dZ."""
    loss, out = _loss(name, output)
    n, m = 3, 4
    Z = _away_from_zero(rng, (n, m))  # relu / leaky_relu: no kink within a step
    Y = random_targets(rng, name, n, m)

    def cost(z):
        a = xp.empty_like(xp.asarray(z))
        out.forward(xp.asarray(z), a, xp.empty_like(a))
        return float(loss.value(a, xp.asarray(Y)))

    expected = _fd_grad(cost, Z)
    A = xp.empty_like(xp.asarray(Z))
    out.forward(xp.asarray(Z), A, xp.empty_like(A))
    dA, scratch, dZ = xp.empty_like(A), xp.empty_like(A), xp.empty_like(A)
    loss.dA(A, xp.asarray(Y), m, dA, scratch)
    out.backward(A, dA, dZ)
    np.testing.assert_allclose(to_host(dZ), expected, rtol=1e-6, atol=1e-9)


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

@pytest.mark.parametrize("name", ["bce", "cross_entropy"])
@pytest.mark.parametrize("output", ["tanh", "relu", "identity", "leaky_relu"])
def test_get_refuses_log_loss_on_output_outside_unit_interval(name, output):
    with pytest.raises(ValueError, match=r"\(0, 1\)") as info:
        losses.get(name, activations.get(output))
    assert output in str(info.value)


@pytest.mark.parametrize("name", ["bce", "cross_entropy"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_get_accepts_log_loss_on_unit_interval_output(name, output):
    assert losses.get(name, activations.get(output)).name == name


@pytest.mark.parametrize("name", ["mse", "half_sse"])
@pytest.mark.parametrize("output", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"])
def test_get_accepts_squared_losses_on_any_output(name, output):
    assert losses.get(name, activations.get(output)).name == name


def test_get_unknown_loss_lists_the_valid_names():
    with pytest.raises(NameNotFound) as info:
        losses.get("hinge", activations.get("identity"))
    msg = str(info.value)
    assert "'hinge'" in msg
    for name in ("mse", "half_sse", "bce", "cross_entropy"):
        assert name in msg


def test_get_returns_a_loss_object_itself_but_still_checks_the_pair():
    bce = losses.BCE()
    assert losses.get(bce, activations.get("sigmoid")) is bce
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        losses.get(bce, activations.get("tanh"))


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
