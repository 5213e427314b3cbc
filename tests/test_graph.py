"""Graph: seed 000's shared weight against its closed form, finite differences on graphs that are
not chains (shared weights and biases, fan-out, several outputs), errors that teach, trace."""

import numpy as np
import pytest

import gpubp
from gpubp.errors import GpubpError, ShapeError
from conftest import HIDDEN, random_targets

TOL = 1e-7  # finite differences vs backprop, float64


def graph(**kw):
    kw.setdefault("dtype", "float64")
    kw.setdefault("device", "cpu")
    kw.setdefault("seed", 0)
    return gpubp.Graph(**kw)


def seed000(act="identity", out="identity", loss="half_sse", n_y=1, bias=False, seed=0):
    """Seed 000's follow-up: 2-D inputs X1, X2, 3 hidden units, Wx shared by H1 and H2::

        H1 = chi(Wx X1)          H2 = chi(Wh H1 + Wx X2)          Y_hat = chi_out(Wy H2)
    """
    g = graph(seed=seed)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (n_y, 3))
    H1 = g.layer("H1", Wx @ X1, activation=act, bias=bias)
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2, activation=act, bias=bias)
    Y_hat = g.layer("Y_hat", Wy @ H2, activation=out, bias=bias)
    g.output(Y_hat, loss=loss)
    return g


def seed000_data(rng, m=5, n_y=1, loss="half_sse"):
    X = {"X1": rng.normal(size=(2, m)), "X2": rng.normal(size=(2, m))}
    return X, random_targets(rng, loss, n_y, m)


# ---- seed 000: dWx = dH1 X1^T + dH2 X2^T ------------------------------------------------------

@pytest.mark.parametrize("act", ["identity", "tanh"])
def test_seed_000_closed_form(act, rng):
    """The seed's graph with half_sse and m examples, by hand:

    dY_hat = (Y_hat - Y) / m,  dH2 = Wy^T dY_hat,  dH1 = Wh^T dH2  (times chi' for tanh),
    dWx = dH1 X1^T + dH2 X2^T: one gradient, one term per use of Wx.
    """
    m = 5
    g = seed000(act=act)
    X, Y = seed000_data(rng, m)
    X1, X2 = X["X1"], X["X2"]
    Wx, Wh, Wy = g.params["Wx"], g.params["Wh"], g.params["Wy"]
    chi = (lambda z: z) if act == "identity" else np.tanh
    dchi = (lambda a: np.ones_like(a)) if act == "identity" else (lambda a: 1 - a ** 2)
    H1 = chi(Wx @ X1)                              # (3, m)
    H2 = chi(Wh @ H1 + Wx @ X2)                    # (3, m)
    Y_hat = Wy @ H2                                # (1, m)
    dY_hat = (Y_hat - Y) / m                       # (1, m)
    dH2 = (Wy.T @ dY_hat) * dchi(H2)               # (3, m): dZ_H2
    dH1 = (Wh.T @ dH2) * dchi(H1)                  # (3, m): dZ_H1
    dWx = dH1 @ X1.T + dH2 @ X2.T                  # (3, 2)

    cost, grads = g.gradients(X, Y)
    assert cost == pytest.approx(0.5 * np.sum((Y_hat - Y) ** 2) / m, rel=1e-13)
    assert grads["Wx"].shape == (3, 2)
    np.testing.assert_allclose(grads["Wx"], dWx, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["Wh"], dH2 @ H1.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["Wy"], dY_hat @ H2.T, rtol=1e-12, atol=1e-15)

    c = grads.contributions("Wx")
    assert sorted(c) == ["H1", "H2"]
    np.testing.assert_allclose(c["H1"], dH1 @ X1.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c["H2"], dH2 @ X2.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c["H1"] + c["H2"], grads["Wx"], rtol=1e-13, atol=1e-15)
    # each use alone is not the gradient (else the test could not tell a dropped term)
    assert not np.allclose(c["H1"], grads["Wx"]) and not np.allclose(c["H2"], grads["Wx"])
    # a parameter used once has one contribution, named by its layer, equal to its gradient
    assert list(grads.contributions("Wh")) == ["H2"]
    np.testing.assert_array_equal(grads.contributions("Wh")["H2"], grads["Wh"])


def test_seed_000_substituted_form(rng):
    """With identity layers, H2 = Wh Wx X1 + Wx X2; differentiating the substituted form gives
    dWx = Wh^T Wy^T dY_hat X1^T + Wy^T dY_hat X2^T (the seed's question, answered)."""
    m = 4
    g = seed000()
    X, Y = seed000_data(rng, m)
    Wx, Wh, Wy = g.params["Wx"], g.params["Wh"], g.params["Wy"]
    dY = (Wy @ (Wh @ Wx @ X["X1"] + Wx @ X["X2"]) - Y) / m
    want = Wh.T @ Wy.T @ dY @ X["X1"].T + Wy.T @ dY @ X["X2"].T
    np.testing.assert_allclose(g.gradients(X, Y)[1]["Wx"], want, rtol=1e-12)


def test_gradients_are_copies_and_contributions_need_a_known_name(rng):
    g = seed000()
    X, Y = seed000_data(rng)
    _, g1 = g.gradients(X, Y)
    before = g1["Wx"].copy()
    g.gradients({k: 2 * v for k, v in X.items()}, Y)
    np.testing.assert_array_equal(g1["Wx"], before)
    with pytest.raises(GpubpError, match="no parameter named 'Wz'"):
        g1.contributions("Wz")


# ---- finite differences ---------------------------------------------------------------------

PAIRS = [("identity", "half_sse"), ("sigmoid", "bce"), ("softmax", "cross_entropy"),
         ("tanh", "mse"), ("relu", "sse")]


@pytest.mark.parametrize("out, loss", PAIRS)
@pytest.mark.parametrize("act", HIDDEN)
def test_seed_000_finite_differences(act, out, loss, rng):
    n_y = 3 if out == "softmax" else 2
    g = seed000(act=act, out=out, loss=loss, n_y=n_y, bias=(act == "tanh"))
    X, Y = seed000_data(rng, m=4, n_y=n_y, loss=loss)
    report = gpubp.gradcheck(g, X, Y)
    assert report.max_error < TOL, f"{g}\n{report}"
    assert report.checked["Wx"] > 0


def test_parameter_used_twice_in_one_layer(rng):
    """Z = W X1 + W X2: dW = dZ X1^T + dZ X2^T, two contributions named by their terms."""
    m = 6
    g = graph()
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    W, V = g.weight("W", (3, 2)), g.weight("V", (1, 3))
    H = g.layer("H", W @ X1 + W @ X2, activation="tanh", bias=True)
    g.output(g.layer("Y", V @ H), loss="half_sse")
    X = {"X1": rng.normal(size=(2, m)), "X2": rng.normal(size=(2, m))}
    Y = rng.normal(size=(1, m))
    A = np.tanh(g.params["W"] @ (X["X1"] + X["X2"]) + g.params["b_H"])
    dZ = (g.params["V"].T @ ((g.params["V"] @ A - Y) / m)) * (1 - A ** 2)
    _, grads = g.gradients(X, Y)
    np.testing.assert_allclose(grads["W"], dZ @ (X["X1"] + X["X2"]).T, rtol=1e-12)
    c = grads.contributions("W")
    assert sorted(c) == ["H: W X1", "H: W X2"]
    np.testing.assert_allclose(c["H: W X1"], dZ @ X["X1"].T, rtol=1e-12)
    np.testing.assert_allclose(c["H: W X2"], dZ @ X["X2"].T, rtol=1e-12)
    assert gpubp.gradcheck(g, X, Y).max_error < TOL


def test_same_term_twice_in_one_layer_has_the_gradient_of_twice_the_term(rng):
    """Z = W X + W X = 2 W X: backprop must add both uses (dW = 2 dZ X^T)."""
    g = graph()
    X = g.input("X", 2)
    W, V = g.weight("W", (3, 2)), g.weight("V", (1, 3))
    H = g.layer("H", W @ X + W @ X, activation="tanh")
    g.output(g.layer("Y", V @ H + V @ H), loss="half_sse")
    x, y = rng.normal(size=(2, 5)), rng.normal(size=(1, 5))
    assert gpubp.gradcheck(g, x, y).max_error < TOL
    A = np.tanh(2 * g.params["W"] @ x)
    dZ = (2 * g.params["V"].T @ ((2 * g.params["V"] @ A - y) / 5)) * (1 - A ** 2)
    np.testing.assert_allclose(g.gradients(x, y)[1]["W"], 2 * dZ @ x.T, rtol=1e-12)


def test_contributions_of_the_same_term_twice_sum_to_the_gradient(rng):
    g = graph()
    X = g.input("X", 2)
    W, V = g.weight("W", (3, 2)), g.weight("V", (1, 3))
    g.output(g.layer("Y", V @ g.layer("H", W @ X + W @ X)), loss="half_sse")
    _, grads = g.gradients(rng.normal(size=(2, 5)), rng.normal(size=(1, 5)))
    parts = grads.contributions("W")
    assert list(parts) == ["H: W X (1)", "H: W X (2)"]
    np.testing.assert_allclose(sum(parts.values()), grads["W"], rtol=1e-13)


def fan_out_graph(act="tanh"):
    """H1 feeds H2 and H3, which both feed the output: dA_H1 = W2^T dZ_H2 + W3^T dZ_H3."""
    g = graph()
    X = g.input("X", 2)
    W1, W2, W3 = g.weight("W1", (4, 2)), g.weight("W2", (3, 4)), g.weight("W3", (2, 4))
    U2, U3 = g.weight("U2", (1, 3)), g.weight("U3", (1, 2))
    H1 = g.layer("H1", W1 @ X, activation=act)
    H2 = g.layer("H2", W2 @ H1, activation=act)
    H3 = g.layer("H3", W3 @ H1, activation=act)
    g.output(g.layer("Y", U2 @ H2 + U3 @ H3), loss="half_sse")
    return g


def test_layer_feeding_two_layers_accumulates_dA(rng):
    m = 5
    g = fan_out_graph("identity")
    x, y = rng.normal(size=(2, m)), rng.normal(size=(1, m))
    P = g.params
    H1 = P["W1"] @ x
    H2, H3 = P["W2"] @ H1, P["W3"] @ H1
    dY = (P["U2"] @ H2 + P["U3"] @ H3 - y) / m
    dH2, dH3 = P["U2"].T @ dY, P["U3"].T @ dY
    dH1 = P["W2"].T @ dH2 + P["W3"].T @ dH3                  # the sum of both consumers
    _, grads = g.gradients(x, y)
    np.testing.assert_allclose(grads["W1"], dH1 @ x.T, rtol=1e-12)
    np.testing.assert_allclose(grads["W2"], dH2 @ H1.T, rtol=1e-12)
    np.testing.assert_allclose(grads["W3"], dH3 @ H1.T, rtol=1e-12)
    t = gpubp.trace(g, x, y)
    np.testing.assert_allclose(t["dZ_H1"], dH1, rtol=1e-12)


@pytest.mark.parametrize("act", HIDDEN)
def test_layer_feeding_two_layers_finite_differences(act, rng):
    g = fan_out_graph(act)
    x, y = rng.normal(size=(2, 6)), rng.normal(size=(1, 6))
    report = gpubp.gradcheck(g, x, y)
    assert report.max_error < TOL, report
    assert report.checked["W1"] > 0


def test_shared_bias(rng):
    """One bias b in H1 and H2: db = dZ_H1 1 + dZ_H2 1."""
    m = 7
    g = graph()
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
    b = g.bias("b", 3)
    H1 = g.layer("H1", Wx @ X1 + b, activation="tanh")
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2 + b, activation="tanh")
    g.output(g.layer("Y_hat", Wy @ H2, activation="sigmoid", bias=True), loss="bce")
    g.params["b"] = rng.normal(size=(3, 1))  # not 0, so that a lost use of b shows in Z
    X = {"X1": rng.normal(size=(2, m)), "X2": rng.normal(size=(2, m))}
    Y = rng.integers(0, 2, (1, m)).astype(float)
    assert gpubp.gradcheck(g, X, Y).max_error < TOL
    t = gpubp.trace(g, X, Y)
    c = t.contributions["b"]
    assert sorted(c) == ["H1", "H2"]
    np.testing.assert_allclose(c["H1"], t["dZ_H1"].sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(c["H2"], t["dZ_H2"].sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(t["db"], c["H1"] + c["H2"], rtol=1e-12)


def several_outputs_graph(out="identity", loss="half_sse"):
    """A shared trunk H and two heads: cost = loss(Y1) + loss(Y2), each a mean over m."""
    g = graph()
    X = g.input("X", 3)
    H = g.layer("H", g.weight("W", (4, 3)) @ X, activation="tanh", bias=True)
    Y1 = g.layer("Y1", g.weight("V1", (2, 4)) @ H, activation=out, bias=True)
    Y2 = g.layer("Y2", g.weight("V2", (1, 4)) @ H + g.weight("U", (1, 3)) @ X, activation=out,
                 bias=True)
    g.output([Y1, Y2], loss=loss)
    return g


def test_several_outputs(rng):
    m = 6
    g = several_outputs_graph()
    x = rng.normal(size=(3, m))
    Y = {"Y1": rng.normal(size=(2, m)), "Y2": rng.normal(size=(1, m))}
    out = g.forward(x)
    assert sorted(out) == ["Y1", "Y2"] and out["Y1"].shape == (2, m) and out["Y2"].shape == (1, m)
    want = sum(0.5 * np.sum((out[k] - Y[k]) ** 2) / m for k in Y)
    assert g.cost(x, Y) == pytest.approx(want, rel=1e-13)
    cost, _ = g.gradients(x, Y)
    assert cost == pytest.approx(want, rel=1e-13)
    assert gpubp.gradcheck(g, x, Y).max_error < TOL


def test_several_outputs_with_bce(rng):
    m = 5
    g = several_outputs_graph("sigmoid", "bce")
    x = rng.normal(size=(3, m))
    Y = {"Y1": rng.integers(0, 2, (2, m)).astype(float), "Y2": rng.uniform(size=(1, m))}
    out = g.forward(x)
    want = sum(-np.sum(Y[k] * np.log(out[k]) + (1 - Y[k]) * np.log(1 - out[k])) / m for k in Y)
    assert g.cost(x, Y) == pytest.approx(want, rel=1e-12)
    assert gpubp.gradcheck(g, x, Y).max_error < TOL


def test_unused_weight_has_gradient_zero(rng):
    g = graph()
    X = g.input("X", 2)
    W = g.weight("W", (3, 2))
    g.weight("spare", (2, 2))
    g.output(g.layer("Y", g.weight("V", (1, 3)) @ g.layer("H", W @ X, activation="tanh")),
             loss="half_sse")
    x, y = rng.normal(size=(2, 4)), rng.normal(size=(1, 4))
    for _ in range(2):  # and stays 0 after a pass that wrote every used gradient
        _, grads = g.gradients(x, y)
        np.testing.assert_array_equal(grads["spare"], np.zeros((2, 2)))
        assert grads.contributions("spare") == {}
    assert gpubp.gradcheck(g, x, y)["spare"] == 0.0
    g.params["spare"] = np.ones((2, 2))
    g.fit(x, y, epochs=3, batch_size=2)
    np.testing.assert_array_equal(g.params["spare"], np.ones((2, 2)))


# ---- build-time errors ----------------------------------------------------------------------

def partial_seed000():
    g = graph()
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
    H1 = g.layer("H1", Wx @ X1)
    return g, X1, X2, Wx, Wh, Wy, H1


def test_wrong_inner_size_names_equation_term_and_shapes():
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    with pytest.raises(ShapeError) as e:
        g.layer("H2", Wh @ H1 + Wh @ X2)  # the seed's slip: Wh where Wx belongs
    msg = str(e.value)
    assert msg.startswith("Z_H2 = Wh H1 + Wh X2: ")
    assert "Wh is (3, 3) but X2 is (2, m)" in msg and "inner sizes 3 != 2" in msg
    assert "H2" not in g.layers  # nothing half-built stays


def test_terms_with_different_rows():
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    with pytest.raises(ShapeError) as e:
        g.layer("H2", Wh @ H1 + Wy @ H1)
    msg = str(e.value)
    assert "Z_H2 = Wh H1 + Wy H1" in msg
    assert "term Wh H1 gives (3, m) but term Wy H1 gives (1, m)" in msg


def test_wrong_bias_shape():
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    b = g.bias("b", 2)
    with pytest.raises(ShapeError, match=r"Z_H2 = Wh H1 \+ Wx X2 \+ b: b is \(2, 1\) but the "
                                         r"terms give \(3, m\), so b must be \(3, 1\)"):
        g.layer("H2", Wh @ H1 + Wx @ X2 + b)


def test_malformed_layers():
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    with pytest.raises(GpubpError, match="at most one bias"):
        Wh @ H1 + g.bias("b1", 3) + g.bias("b2", 3)
    with pytest.raises(TypeError, match="Wh alone is not a layer's sum"):
        g.layer("H2", Wh)
    other = graph()
    Wo = other.weight("Wo", (3, 3))
    with pytest.raises(GpubpError, match="Wo is not a parameter of this graph"):
        g.layer("H2", Wo @ H1)
    with pytest.raises(GpubpError, match="H1 lead to no output"):
        g.output(g.layer("Y", Wy @ g.layer("H2", Wh @ g.layer("H0", Wx @ X2))))


def test_output_must_not_feed_other_layers():
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    g.layer("H2", Wh @ H1)
    with pytest.raises(GpubpError, match="output H1 also feeds H2"):
        g.output([H1, g.layers["H2"]])


def test_a_refused_layer_leaves_nothing_behind():
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    with pytest.raises(ShapeError):
        g.layer("H2", Wh @ H1 + Wh @ X2, bias=True)
    assert "b_H2" not in g.param_nodes
    g.layer("H2", Wh @ H1 + Wx @ X2, bias=True)  # the corrected equation


def test_params_are_live_views_of_one_flat_buffer():
    g = seed000()
    live = g.params["Wx"]
    g.params["Wx"] = np.arange(6.0).reshape(3, 2)
    assert g.params["Wx"] is live and live[2, 1] == 5.0
    assert np.shares_memory(live, g.params.flat)
    np.testing.assert_array_equal(g.params.flat[:6], np.arange(6.0))  # Wx is declared first
    with pytest.raises(ShapeError, match=r"Wx must be \(3, 2\); got \(2, 3\)"):
        g.params["Wx"] = np.zeros((2, 3))


def test_building_after_output_is_an_error():
    g = seed000()
    X1, H1, Wx = g.inputs["X1"], g.layers["H1"], g.param_nodes["Wx"]
    for build in (lambda: g.input("X3", 2), lambda: g.weight("W2", (3, 3)),
                  lambda: g.bias("b", 3), lambda: g.layer("H3", Wx @ X1),
                  lambda: g.output(H1)):
        with pytest.raises(GpubpError, match="completed by output"):
            build()


@pytest.mark.parametrize("second", ["input", "weight", "bias", "layer"])
def test_duplicate_names(second):
    g, X1, X2, Wx, Wh, Wy, H1 = partial_seed000()
    make = {"input": lambda: g.input("H1", 2), "weight": lambda: g.weight("X1", (2, 2)),
            "bias": lambda: g.bias("Wx", 3), "layer": lambda: g.layer("Wh", Wh @ H1)}[second]
    with pytest.raises(GpubpError, match="is already used in this graph"):
        make()


def test_gradients_before_output_is_an_error():
    g, X1, *_ = partial_seed000()
    with pytest.raises(GpubpError, match="not complete"):
        g.forward({"X1": np.zeros((2, 1)), "X2": np.zeros((2, 1))})


# ---- data-time errors -----------------------------------------------------------------------

def test_missing_or_unknown_input_name(rng):
    g = seed000()
    with pytest.raises(GpubpError, match="every input of the graph by name: X1, X2; missing X2"):
        g.forward({"X1": rng.normal(size=(2, 3))})
    with pytest.raises(GpubpError, match="unknown X3"):
        g.forward({"X1": rng.normal(size=(2, 3)), "X2": rng.normal(size=(2, 3)),
                   "X3": rng.normal(size=(2, 3))})
    with pytest.raises(TypeError, match="has 2 inputs; pass X as a dict"):
        g.forward(rng.normal(size=(2, 3)))


def test_wrong_input_shape_names_the_layer_and_hints_transpose(rng):
    g = seed000()
    with pytest.raises(ShapeError) as e:
        g.forward({"X1": rng.normal(size=(2, 5)), "X2": rng.normal(size=(5, 2))})
    msg = str(e.value)
    assert "Z_H2 = Wh H1 + Wx X2: Wx is (3, 2) but X2 is (5, 2); inner sizes 2 != 5" in msg
    assert "X2 looks transposed (rows as examples): pass X2.T" in msg
    with pytest.raises(ShapeError, match=r"Z_H1 = Wx X1: Wx is \(3, 2\) but X1 is \(4, 5\)") as e:
        g.forward({"X1": rng.normal(size=(4, 5)), "X2": rng.normal(size=(2, 5))})
    assert "transposed" not in str(e.value)
    with pytest.raises(ShapeError, match="every input needs the same m"):
        g.forward({"X1": rng.normal(size=(2, 5)), "X2": rng.normal(size=(2, 4))})


def test_wrong_Y(rng):
    g = seed000()
    X, Y = seed000_data(rng, m=5)
    with pytest.raises(ShapeError, match=r"Y_hat is \(1, 5\) but Y is \(5, 1\).*pass Y.T"):
        g.gradients(X, Y.T)
    with pytest.raises(ShapeError, match=r"Y_hat is \(1, 5\) but Y is \(1, 4\)"):
        g.gradients(X, Y[:, :4])
    h = several_outputs_graph()
    x = rng.normal(size=(3, 5))
    with pytest.raises(GpubpError, match="a target for each output by name: Y1, Y2; got Y1"):
        h.gradients(x, {"Y1": np.zeros((2, 5))})
    with pytest.raises(ShapeError, match=r"Y\['Y2'\] is \(2, 5\)"):
        h.gradients(x, {"Y1": np.zeros((2, 5)), "Y2": np.zeros((2, 5))})
    with pytest.raises(TypeError, match="has 2 outputs"):
        h.gradients(x, np.zeros((3, 5)))


# ---- trace: every intermediate, against NumPy -----------------------------------------------

def test_trace_is_the_equations_in_numpy(rng):
    m = 6
    g = seed000(act="tanh", out="sigmoid", loss="bce", bias=True)
    for name in ("b_H1", "b_H2", "b_Y_hat"):
        g.params[name] = rng.normal(size=g.params[name].shape)
    X, Y = seed000_data(rng, m, loss="bce")
    P = {k: v.copy() for k, v in g.params.items()}
    ones = np.ones((m, 1))
    Z_H1 = P["Wx"] @ X["X1"] + P["b_H1"]
    H1 = np.tanh(Z_H1)
    Z_H2 = P["Wh"] @ H1 + P["Wx"] @ X["X2"] + P["b_H2"]
    H2 = np.tanh(Z_H2)
    Z_Y = P["Wy"] @ H2 + P["b_Y_hat"]
    Y_hat = 1 / (1 + np.exp(-Z_Y))
    cost = -np.sum(Y * np.log(Y_hat) + (1 - Y) * np.log(1 - Y_hat)) / m
    dZ_Y = (Y_hat - Y) / m
    dZ_H2 = (P["Wy"].T @ dZ_Y) * (1 - H2 ** 2)
    dZ_H1 = (P["Wh"].T @ dZ_H2) * (1 - H1 ** 2)
    want = {"Z_H1": Z_H1, "H1": H1, "Z_H2": Z_H2, "H2": H2, "Z_Y_hat": Z_Y, "Y_hat": Y_hat,
            "dZ_Y_hat": dZ_Y, "dZ_H2": dZ_H2, "dZ_H1": dZ_H1,
            "dWx": dZ_H1 @ X["X1"].T + dZ_H2 @ X["X2"].T, "dWh": dZ_H2 @ H1.T,
            "dWy": dZ_Y @ H2.T, "db_H1": dZ_H1 @ ones, "db_H2": dZ_H2 @ ones,
            "db_Y_hat": dZ_Y @ ones}

    t = gpubp.trace(g, X, Y)
    assert t.cost == pytest.approx(cost, rel=1e-12)
    assert sorted(t) == sorted(want)
    assert list(t)[:6] == ["Z_H1", "H1", "Z_H2", "H2", "Z_Y_hat", "Y_hat"]  # forward, then back
    for symbol, value in want.items():
        assert isinstance(t[symbol], np.ndarray) and t[symbol].shape == value.shape, symbol
        np.testing.assert_allclose(t[symbol], value, rtol=1e-11, atol=1e-15, err_msg=symbol)
    assert list(t.layers) == ["H1", "H2", "Y_hat"]
    np.testing.assert_allclose(t.layers["H2"].Z, Z_H2, rtol=1e-12)
    np.testing.assert_allclose(t.layers["H2"].dZ, dZ_H2, rtol=1e-12)
    np.testing.assert_allclose(t.contributions["Wx"]["H1"], dZ_H1 @ X["X1"].T, rtol=1e-12)
    np.testing.assert_allclose(t.contributions["Wx"]["H2"], dZ_H2 @ X["X2"].T, rtol=1e-12)
    # the trace leaves the parameters as they were
    for k, v in P.items():
        np.testing.assert_array_equal(g.params[k], v)


# ---- a Network is a chain Graph ---------------------------------------------------------------

@pytest.mark.parametrize("act, out, loss", [("tanh", "sigmoid", "bce"), ("relu", "identity", "mse"),
                                            ("sigmoid", "softmax", "cross_entropy")])
def test_network_equals_hand_built_graph(act, out, loss, rng):
    sizes = [3, 4, 5, 2]
    net = gpubp.Network(sizes, activation=act, output=out, loss=loss, dtype="float64",
                        device="cpu", seed=4)
    g = graph(seed=4)
    A = g.input("X", 3)
    for l in (1, 2, 3):
        W = g.weight(f"W[{l}]", (sizes[l], sizes[l - 1]))
        b = g.bias(f"b[{l}]", sizes[l])
        A = g.layer(f"A[{l}]", W @ A + b, activation=act if l < 3 else out)
    g.output(A, loss=loss)
    # the same seed initializes the same way (He for relu, Glorot otherwise)
    np.testing.assert_array_equal(g.params.flat, net.params.flat)
    for name in net.params:
        net.params[name] = rng.normal(size=net.params[name].shape)
        g.params[name] = net.params[name]
    X, Y = rng.normal(size=(3, 7)), random_targets(rng, loss, 2, 7)
    c_net, g_net = net.gradients(X, Y)
    c_g, g_g = g.gradients(X, Y)
    assert c_net == c_g
    assert sorted(g_net) == sorted(g_g)
    for name in g_g:
        np.testing.assert_array_equal(g_net[name], g_g[name])
    np.testing.assert_array_equal(g_net.W[2], g_g["W[2]"])
    np.testing.assert_array_equal(net.forward(X), g.forward(X))


# ---- fit ------------------------------------------------------------------------------------

def test_fit_on_seed_000_graph_lowers_the_cost(rng):
    """A teacher graph makes the targets; the seed's graph, from another start, fits them."""
    m = 200
    X = {"X1": rng.normal(size=(2, m)), "X2": rng.normal(size=(2, m))}
    teacher = seed000(act="tanh", seed=1)
    Y = teacher.forward(X)
    g = seed000(act="tanh", seed=2)
    before = g.cost(X, Y)
    history = g.fit(X, Y, epochs=40, batch_size=16, lr=0.02)
    after = g.cost(X, Y)
    assert history.epochs == 40
    assert after < before / 10, (before, after)
    assert history["cost"][-1] < history["cost"][0]


def test_an_output_listed_twice_is_refused():
    g = graph()
    X = g.input("X", 2)
    O = g.layer("O", g.weight("W", (1, 2)) @ X)
    with pytest.raises(gpubp.GpubpError, match="listed twice"):
        g.output([O, O])


def test_an_array_times_a_node_teaches():
    g = graph()
    X = g.input("X", 2)
    with pytest.raises(TypeError, match="the left factor must be a parameter from graph.weight"):
        np.ones((3, 2)) @ X


# ---- records: spec() and from_spec(), a registry of kinds ---------------------------------------

def _seed000(seed=0):
    g = gpubp.Graph(dtype="float64", device="cpu", seed=seed)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
    H1 = g.layer("H1", Wx @ X1, activation="tanh")
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2, bias=True, z="Z2")
    g.output(g.layer("Y_hat", Wy @ H2), loss="half_sse")
    return g


@pytest.mark.parametrize("make", [
    _seed000,
    lambda: gpubp.Network([3, 4, 2], activation="tanh", output="softmax", loss="cross_entropy",
                          device="cpu", seed=1, bias=False),
    lambda: gpubp.Network([2, 5, 3, 1], activation=["relu", "leaky_relu"], device="cpu", seed=4),
    lambda: gpubp.ElmanRNN(2, 3, 1, 4, outputs="all", device="cpu", seed=2),
], ids=["graph", "network", "network-bias", "rnn"])
def test_from_spec_rebuilds_the_same_model(make):
    """spec() is JSON data; from_spec(spec) is a model of the same class, equations and
    parameter layout, initialized alike by the stored seed."""
    import json

    a = make()
    spec = a.spec()
    assert json.loads(json.dumps(spec)) == spec
    b = gpubp.Graph.from_spec(spec, dtype=a.dtype, device="cpu")
    assert type(b) is type(a) and repr(b) == repr(a) and b.spec() == spec
    assert [l.equation() for l in b.layers.values()] == [l.equation() for l in a.layers.values()]
    assert np.array_equal(b.params.flat, a.params.flat)  # the same seed, the same initialization
    from gpubp.checkpoint import Fields

    assert type(a).spec_counts(spec, Fields("architecture"))[0] == a.params.layout.size


def test_a_subclass_of_network_is_written_as_a_plain_graph():
    class Network(gpubp.Network):  # even of the same name: the class itself is not registered
        pass

    net = Network([2, 3, 1], device="cpu", seed=0)
    spec = net.spec()
    assert spec["kind"] == "Graph" and "sizes" not in spec
    back = gpubp.Graph.from_spec(spec, device="cpu")
    assert type(back) is gpubp.Graph and np.array_equal(back.params.flat, net.params.flat)


def test_a_registered_kind_writes_and_reads_its_own_fields(monkeypatch):
    """A new kind of model: its constructor's arguments are its record (what Network does)."""
    from gpubp import specs

    class Perceptron(gpubp.Graph):
        def __init__(self, n, dtype="float32", device=None, seed=None):
            super().__init__(dtype, device, seed)
            self.n_in = n
            X = self.input("X", n)
            super().output(self.layer("y", self.weight("w", (1, n)) @ X, activation="sigmoid",
                                      bias=True), loss="bce")

        def spec_fields(self):
            return {"n": self.n_in, "seed": self.seed, "params": self.param_specs()}

        @classmethod
        def spec_counts(cls, spec, f):
            return specs.within_caps(f.count(spec, "n") + 1, 2, f)

        @classmethod
        def from_spec_fields(cls, spec, f, dtype, device, seed):
            return cls(f.count(spec, "n"), dtype, device, seed)

    monkeypatch.setitem(specs.KINDS, "Perceptron", Perceptron)
    p = Perceptron(4, device="cpu", seed=3)
    spec = p.spec()
    assert spec == {"kind": "Perceptron", "n": 4, "seed": 3, "params": p.param_specs()}
    back = gpubp.Graph.from_spec(spec, device="cpu")
    assert type(back) is Perceptron and back.n_in == 4
    assert np.array_equal(back.params.flat, p.params.flat)


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.update(kind="Tree"), "unknown model kind 'Tree'; this gpubp builds Graph, Network"),
    (lambda s: s["layers"][1].update(name="H1"), "cannot be rebuilt: the name 'H1' is already used"),
    (lambda s: s.update(outputs=["H2"]), r"cannot be rebuilt: output H2 also feeds Y_hat"),
    (lambda s: s["params"][0].update(shape=[3, 0]), r"parameter 'Wx': shape must be two positive integers; got \[3, 0\]"),
    (lambda s: s["params"][0].update(shape=[10 ** 6, 10 ** 4]), r"the model has 10000000015 parameters"),
    (lambda s: s["layers"][0].update(terms=[["Wx", "H2"]]), r"layer 'H1': term Wx H2 names no earlier node 'H2'"),
])
def test_a_malformed_spec_is_a_checkpoint_error(edit, words):
    spec = _seed000().spec()
    edit(spec)
    with pytest.raises(gpubp.CheckpointError, match=f"^architecture: {words}"):
        gpubp.Graph.from_spec(spec, device="cpu")


def test_gradients_from_several_threads_are_the_serial_ones():
    """Threads share a model's training plan: gradients() takes its turn, never a wrong number."""
    import threading

    net = gpubp.Network([6, 16, 3], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype="float64", device="cpu", seed=0)
    rng = np.random.default_rng(0)
    data = []
    for i in range(8):
        X = rng.normal(size=(6, 40))
        Y = np.eye(3)[:, rng.integers(0, 3, 40)]
        data.append((X, Y))
    serial = [net.gradients(X, Y) for X, Y in data]
    results, errors = {}, []

    def work(t):
        try:
            for r in range(25):
                i = (t + r) % len(data)
                results[(t, r)] = (i, net.gradients(*data[i]))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(results) == 100
    for i, (cost, grads) in results.values():
        assert cost == serial[i][0]
        for k in grads:
            assert np.array_equal(grads[k], serial[i][1][k])
