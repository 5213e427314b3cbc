"""Mutation gaps of gpubp/equations.py: an equation's symbols, the note of a layer read by two
layers, and the db equations of a bias after a shared weight's term and of a shared bias (their
symbols and use indices, which explain's check reads)."""

import gpubp


def test_an_equations_symbols_are_its_result_then_its_factors():
    net = gpubp.Network([2, 3, 2], device="cpu", seed=0)
    z, a = net.layers[list(net.layers)[0]].equations()
    assert [str(s) for s in z.symbols()] == ["Z[1]", "W[1]", "A[0]", "b[1]"]
    assert [str(s) for s in a.symbols()] == ["A[1]", "Z[1]"]
    dw = next(e for e in net.backward_equations() if e.kind == "dW")
    assert [str(s) for s in dw.symbols()] == ["dW[2]", "dZ[2]", "A[1]^T"]


def _read_twice():
    """H1 is read by H2 and by Y; H2 by Y alone."""
    g = gpubp.Graph(device="cpu", seed=0)
    X = g.input("X", 2)
    W1, W2, V, U = (g.weight("W1", (3, 2)), g.weight("W2", (3, 3)), g.weight("V", (1, 3)),
                    g.weight("U", (1, 3)))
    H1 = g.layer("H1", W1 @ X, activation="tanh")
    H2 = g.layer("H2", W2 @ H1, activation="tanh")
    g.output(g.layer("Y", V @ H2 + U @ H1), loss="half_sse")
    return g


def test_a_layer_read_by_two_layers_sums_what_both_send_back():
    eqs = {str(e.result): e for e in _read_twice().backward_equations() if e.kind == "dA"}
    assert str(eqs["dH1"]) == "dH1 = W2^T dZ_H2 + U^T dZ_Y"
    assert eqs["dH1"].note == "the sum of what every layer that reads it sends back"
    assert str(eqs["dH2"]) == "dH2 = V^T dZ_Y" and eqs["dH2"].note == ""
    d = gpubp.explain(_read_twice(), m=3, check=True)
    step = next(s for s in d.steps if str(s.equation.result) == "dZ_H1")  # from dH1's sum
    assert step.error is not None and step.error < 1e-12


def test_a_bias_after_a_shared_weights_second_term():
    """H2 = Wh H1 + Wx X2 + c: the term before c is Wx's second use, c's only use is the first."""
    g = gpubp.Graph(device="cpu", seed=0)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, V = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("V", (1, 3))
    c = g.bias("c", 3)
    H1 = g.layer("H1", Wx @ X1, activation="tanh")
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2 + c, activation="tanh")
    g.output(g.layer("Y", V @ H2), loss="half_sse")
    db = [e for e in g.backward_equations() if e.kind == "db"]
    assert [(str(e), e.param, e.use) for e in db] == [("dc = dZ_H2 1^T", "c", 0)]
    d = gpubp.explain(g, m=4, check=True)
    step = next(s for s in d.steps if s.equation.kind == "db")
    assert step.fd_error is not None and step.fd_error < 1e-7


def test_a_shared_bias_has_one_part_per_layer_each_checked():
    g = gpubp.Graph(device="cpu", seed=0)
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    Wx, Wh, V = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("V", (1, 3))
    b = g.bias("b", 3)
    H1 = g.layer("H1", Wx @ X1 + b, activation="tanh")
    H2 = g.layer("H2", Wh @ H1 + Wx @ X2 + b, activation="tanh")
    g.output(g.layer("Y", V @ H2), loss="half_sse")
    eqs = g.backward_equations()
    db = sorted((str(e), e.use) for e in eqs if e.kind == "db")
    assert db == [("db|H1 = dZ_H1 1^T", 0), ("db|H2 = dZ_H2 1^T", 1)]
    assert "db = db|H1 + db|H2" in [str(e) for e in eqs if e.kind == "parts"]
    d = gpubp.explain(g, m=4, check=True)
    parts = [s for s in d.steps if s.equation.kind == "db"]
    assert len(parts) == 2 and all(s.error is not None and s.error < 1e-12 for s in parts)
    total = next(s for s in d.steps if str(s.equation) == "db = db|H1 + db|H2")
    assert total.error < 1e-12 and total.fd_error < 1e-7
