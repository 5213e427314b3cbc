"""explain: the equations with every shape, checked against NumPy and finite differences."""

import numpy as np
import pytest

import gpubp
from gpubp import activations, picture
from gpubp.errors import ConfigError, NameNotFound, ShapeError
from conftest import HIDDEN, OUTPUT_LOSS_PAIRS, seed_000_graph


def net(sizes=(2, 3, 2), act="sigmoid", out="sigmoid", loss="half_sse", **kw):
    return gpubp.Network(list(sizes), activation=act, output=out, loss=loss, device="cpu", seed=0, **kw)


def test_the_chain_with_every_shape():
    text = str(gpubp.explain(net(), m=5))
    for line in ["Z[1] (3, 5) = W[1] (3, 2) A[0] (2, 5) + b[1] (3, 1)",
                 "b[1] (3, 1) is broadcast over the 5 columns",
                 "A[1] (3, 5) = sigmoid(Z[1] (3, 5))",
                 "dA[2] (2, 5) = (A[2] (2, 5) - Y (2, 5)) / m",
                 "sigmoid'(Z[2]) = A[2] (1 - A[2])",
                 "dW[2] (2, 3) = dZ[2] (2, 5) A[1]^T (5, 3)",
                 "db[2] (2, 1) = dZ[2] (2, 5) 1^T (5, 1)",
                 "dA[1] (3, 5) = W[2]^T (3, 2) dZ[2] (2, 5)",
                 "dZ[1] (3, 5) = dA[1] (3, 5) * sigmoid'(Z[1] (3, 5))",
                 "every gradient has the shape of what it differentiates"]:
        assert line in text, line


def test_every_product_lines_up():
    """In every printed product the inner sizes agree, and each gradient is shaped like its
    parameter: the shapes are not decoration."""
    for model in (net((4, 6, 5, 3), "tanh", "softmax", "cross_entropy"), seed_000_graph(),
                  gpubp.ElmanRNN(2, 4, 3, 3, device="cpu")):
        d = gpubp.explain(model, m=7)
        for s in d.steps:
            eq = s.equation
            if eq.kind in ("dW", "db"):
                a, b = [t for t in eq.rhs if isinstance(t, gpubp.equations.Sym)]
                sa, sb = s.shape_of(a), s.shape_of(b)
                assert sa[1] == sb[0] and (sa[0], sb[1]) == s.result_shape
                assert s.result_shape == model.param_nodes[eq.param].shape


def test_fused_delta_and_relu_derivative():
    text = str(gpubp.explain(net((2, 3, 1), "relu", "sigmoid", "bce"), m=4))
    assert "dZ[2] (1, 4) = (A[2] (1, 4) - Y (1, 4)) / m" in text
    assert "bce with its canonical output sigmoid: the fused delta" in text
    assert "relu'(Z[1]) = where(A[1] > 0, 1, 0)" in text
    assert "mse" not in text


def test_seed_000_shows_wx_as_the_sum_of_its_two_uses():
    text = str(gpubp.explain(seed_000_graph(), m=4))
    assert "Z_H2 (3, 4) = Wh (3, 3) H1 (3, 4) + Wx (3, 2) X2 (2, 4)" in text
    assert "dWx|H2 (3, 2) = dZ_H2 (3, 4) X2^T (4, 2)" in text
    assert "dWx|H1 (3, 2) = dZ_H1 (3, 4) X1^T (4, 2)" in text
    assert "dWx (3, 2) = dWx|H1 (3, 2) + dWx|H2 (3, 2)" in text
    assert "Wx is used 2 times" in text


def test_the_rnn_sums_over_time():
    text = str(gpubp.explain(gpubp.ElmanRNN(1, 4, 1, 3, device="cpu"), m=8))
    assert "dWx (4, 1) = dWx|h[1] (4, 1) + dWx|h[2] (4, 1) + dWx|h[3] (4, 1)" in text
    assert "dWh (4, 4) = dWh|h[2] (4, 4) + dWh|h[3] (4, 4)" in text


@pytest.mark.parametrize("out, loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("act", HIDDEN)
def test_check_agrees_with_numpy_and_finite_differences(act, out, loss):
    sizes = (3, 4, 3) if out == "softmax" or loss == "cross_entropy" else (3, 4, 2)
    d = gpubp.explain(net(sizes, act, out, loss), m=5, check=True)
    errors = [s.error for s in d.steps if s.error is not None]
    fd = [s.fd_error for s in d.steps if s.fd_error is not None]
    assert len(errors) >= 10 and len(fd) == 4
    assert max(errors) < 1e-12 and max(fd) < 1e-7


def test_check_catches_a_wrong_derivative(monkeypatch):
    # the kernel the plan runs, planted: A, not A (1 - A)
    kernel = activations.Sigmoid.backward_kernel
    monkeypatch.setattr(kernel, "twin", lambda A, dA, dZ, scratch=None: np.multiply(dA, A, out=dZ))
    monkeypatch.setattr(kernel, "fused", lambda *args: None)
    d = gpubp.explain(net((2, 3, 1), "sigmoid", "sigmoid", "bce"), m=5, check=True)
    bad = [s for s in d.steps if s.error is not None and s.error > 1e-3]
    assert "dZ[1] = dA[1] * sigmoid'(Z[1])" in [str(s.equation) for s in bad]
    assert max(s.fd_error for s in d.steps if s.fd_error is not None) > 1e-3


def test_check_on_the_shared_weight_graph():
    d = gpubp.explain(seed_000_graph("tanh"), m=4, check=True)
    parts = [s for s in d.steps if s.equation.kind == "parts"]
    assert len(parts) == 1 and parts[0].fd_error < 1e-7 and parts[0].error < 1e-12
    assert all(s.error < 1e-12 for s in d.steps if s.error is not None)


def test_error_messages_quote_the_same_equation():
    model = net()
    with pytest.raises(ShapeError) as e:
        model.forward(np.zeros((5, 4)))
    first = gpubp.explain(model, m=4).steps[0]
    assert str(e.value).startswith(str(first.equation) + ":")


def test_markdown_and_latex():
    d = gpubp.explain(net(), m=5, check=True)
    md = d.render("markdown")
    assert "| `Z[1] = W[1] A[0] + b[1]` | (3, 5) |" in md and "finite diff." in md
    tex = d.render("latex")
    assert r"\underset{3\times5}{Z^{[1]}} &= \underset{3\times2}{W^{[1]}}" in tex
    assert r"\mathrm{sigmoid}'(" in tex and r"{A^{[1]}}^{\top}" in tex
    with pytest.raises(NameNotFound, match="valid formats are: latex, markdown, text"):
        d.render("html")


def test_bad_m():
    with pytest.raises(ConfigError, match="m .* must be a positive integer"):
        gpubp.explain(net(), m=0)


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_picture(ext, tmp_path):
    path = tmp_path / f"seed000.{ext}"
    picture.draw(seed_000_graph(), path, m=4)
    data = path.read_bytes()
    assert len(data) > 1000
    if ext == "svg":
        assert b"<svg" in data and b"shared" in data
    with pytest.raises(ConfigError, match=".svg or .png"):
        picture.draw(seed_000_graph(), tmp_path / "x.pdf")


def test_check_reaches_the_parts_of_a_weight_used_twice_in_one_layer():
    g = gpubp.Graph(device="cpu", seed=0)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    W, V = g.weight("W", (3, 2)), g.weight("V", (1, 3))
    g.output(g.layer("Y", V @ g.layer("H", W @ X1 + W @ X2, activation="tanh")), loss="half_sse")
    d = gpubp.explain(g, m=4, check=True)
    parts = {str(s.equation.result): s for s in d.steps if "|" in str(s.equation.result)}
    assert set(parts) == {"dW|H:X1", "dW|H:X2"}
    assert all(s.error is not None and s.error < 1e-12 for s in parts.values())
    total = next(s for s in d.steps if s.equation.kind == "parts")
    assert str(total.equation) == "dW = dW|H:X1 + dW|H:X2"


def test_picture_leaves_the_callers_matplotlib_backend_alone(tmp_path):
    import matplotlib
    before = matplotlib.get_backend()
    picture.draw(seed_000_graph(), tmp_path / "x.svg")
    assert matplotlib.get_backend() == before


def test_a_term_used_twice_in_one_layer_has_two_parts_both_checked():
    """Wx @ X1 + Wx @ X1: two parts with two symbols, each checked against the plan's own term
    (its key read from the plan), and their sum against finite differences."""
    g = gpubp.Graph(device="cpu", seed=0)
    X1 = g.input("X1", 2)
    Wx, V = g.weight("Wx", (3, 2)), g.weight("V", (1, 3))
    g.output(g.layer("Y", V @ g.layer("H", Wx @ X1 + Wx @ X1, activation="tanh")), loss="half_sse")
    d = gpubp.explain(g, m=4, check=True)
    parts = [s for s in d.steps if s.equation.kind == "dW" and s.equation.param == "Wx"]
    assert [str(s.equation.result) for s in parts] == ["dWx|H:X1(1)", "dWx|H:X1(2)"]
    assert all(s.error is not None and s.error < 1e-12 for s in parts)
    total = next(s for s in d.steps if s.equation.kind == "parts")
    assert str(total.equation) == "dWx = dWx|H:X1(1) + dWx|H:X1(2)"
    assert total.error < 1e-12 and total.fd_error < 1e-7


def test_the_parts_are_checked_against_the_plans_terms(monkeypatch):
    """A plan whose second term is planted wrong: the check of that part (and only it) fails."""
    from gpubp import plan as plan_module
    contributions = plan_module.Plan.contributions

    def planted(self):
        out = contributions(self)
        key = self.contribution_keys()["W"][1]
        out["W"][key] = out["W"][key] * 2
        return out

    monkeypatch.setattr(plan_module.Plan, "contributions", planted)
    g = gpubp.Graph(device="cpu", seed=0)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    W, V = g.weight("W", (3, 2)), g.weight("V", (1, 3))
    g.output(g.layer("Y", V @ g.layer("H", W @ X1 + W @ X2, activation="tanh")), loss="half_sse")
    d = gpubp.explain(g, m=4, check=True)
    errors = {str(s.equation.result): s.error for s in d.steps if s.equation.kind == "dW"}
    assert errors["dW|H:X1"] < 1e-12 and errors["dW|H:X2"] > 0.5
