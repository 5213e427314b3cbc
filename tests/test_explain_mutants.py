"""Mutation gaps of gpubp/explain.py: the three renderings whole (their headings, blank lines,
tables, notes, LaTeX escapes), the checks' text, the sections, and explain's defaults (m = 5, no
check, seed 0). The expected texts below were worked by hand from the notes' equations for the
smallest graph with a bias: Z_Y = W_in X + b_Y, (1, 3) = (1, 2)(2, 3) + (1, 1)."""

import re

import gpubp


def tiny():
    g = gpubp.Graph(device="cpu", seed=0)
    X = g.input("X", 2)
    W = g.weight("W_in", (1, 2))
    g.output(g.layer("Y", W @ X, bias=True), loss="half_sse")
    return g


LAYOUT = ("layout: every gradient has the shape of what it differentiates (dW is shaped like W), "
          "so W - lr dW lines up")
COLUMNS = ("columns are examples: the cost is the mean over the m = 3 columns, so the 1/m rides "
           "in the output's dZ")
FUSED = "half_sse with its canonical output identity: the fused delta"
ONES = "the sum over the 3 columns: a product with a column of ones"


def test_text_whole():
    want = "\n".join([
        "Graph: 1 layers, loss half_sse, m = 3 examples (columns)",
        "",
        "forward:",
        "  Z_Y (1, 3) = W_in (1, 2) X (2, 3) + b_Y (1, 1)    b_Y (1, 1) is broadcast over the 3 "
        "columns",
        "  Y (1, 3) = identity(Z_Y (1, 3))",
        "",
        "backward:",
        f"  dZ_Y (1, 3) = (Y (1, 3) - Y_Y (1, 3)) / m    {FUSED}",
        "  dW_in (1, 2) = dZ_Y (1, 3) X^T (3, 2)",
        f"  db_Y (1, 1) = dZ_Y (1, 3) 1^T (3, 1)         {ONES}",
        "",
        LAYOUT,
        COLUMNS])
    assert str(gpubp.explain(tiny(), m=3)) == want


def test_markdown_whole():
    want = "\n".join([
        "**Graph: 1 layers, loss half_sse, m = 3 examples (columns)**",
        "",
        "*forward*",
        "",
        "| equation | shape | note |",
        "| --- | --- | --- |",
        "| `Z_Y = W_in X + b_Y` | (1, 3) | b_Y (1, 1) is broadcast over the 3 columns |",
        "| `Y = identity(Z_Y)` | (1, 3) |  |",
        "",
        "*backward*",
        "",
        "| equation | shape | note |",
        "| --- | --- | --- |",
        f"| `dZ_Y = (Y - Y_Y) / m` | (1, 3) | {FUSED} |",
        "| `dW_in = dZ_Y X^T` | (1, 2) |  |",
        f"| `db_Y = dZ_Y 1^T` | (1, 1) | {ONES} |",
        "",
        f"- {LAYOUT}",
        f"- {COLUMNS}"])
    assert gpubp.explain(tiny(), m=3).render("markdown") == want


def test_latex_whole():
    u = r"\underset"
    want = "\n".join([
        "% Graph: 1 layers, loss half_sse, m = 3 examples (columns)",
        r"\begin{align*}",
        rf"  {u}{{1\times3}}{{Z\_Y}} &= {u}{{1\times2}}{{W\_in}} {u}{{2\times3}}{{X}} + "
        rf"{u}{{1\times1}}{{b\_Y}} \\",
        rf"  {u}{{1\times3}}{{Y}} &= \mathrm{{identity}}({u}{{1\times3}}{{Z\_Y}}) \\",
        rf"  {u}{{1\times3}}{{dZ\_Y}} &= ({u}{{1\times3}}{{Y}} - {u}{{1\times3}}{{Y\_Y}}) / m \\",
        rf"  {u}{{1\times2}}{{dW\_in}} &= {u}{{1\times3}}{{dZ\_Y}} {u}{{3\times2}}{{{{X}}^{{\top}}}} \\",
        rf"  {u}{{1\times1}}{{db\_Y}} &= {u}{{1\times3}}{{dZ\_Y}} {u}{{3\times1}}{{{{1}}^{{\top}}}} \\",
        r"\end{align*}"])
    assert gpubp.explain(tiny(), m=3).render("latex") == want


def test_latex_of_a_derivative_and_of_a_part():
    net = gpubp.Network([2, 3, 1], activation="tanh", output="sigmoid", loss="bce", device="cpu",
                        seed=0)
    tex = gpubp.explain(net, m=4).render("latex")
    assert (r"\underset{3\times4}{dZ^{[1]}} &= \underset{3\times4}{dA^{[1]}} \odot "
            r"\mathrm{tanh}'(\underset{3\times4}{Z^{[1]}}) \\") in tex.splitlines()[10]
    rnn = gpubp.explain(gpubp.ElmanRNN(1, 4, 1, 2, device="cpu"), m=3).render("latex")
    assert r"{dWx\,|\,h^{[1]}}" in rnn and r"{dWx\,|\,h^{[2]}}" in rnn


def test_the_checks_are_printed_beside_each_line():
    d = gpubp.explain(tiny(), m=3, check=True)
    text = str(d).splitlines()
    num = r"\d\.\de[+-]\d\d"
    assert re.fullmatch(rf"  dW_in \(1, 2\) = dZ_Y \(1, 3\) X\^T \(3, 2\) +\[NumPy {num}, "
                        rf"finite diff\. {num}\]", text[8]), text[8]
    assert re.fullmatch(rf"  Y \(1, 3\) = identity\(Z_Y \(1, 3\)\) +\[NumPy {num}\]", text[4]), text[4]
    assert re.fullmatch(rf"  db_Y .* {ONES}  \[NumPy {num}, finite diff\. {num}\]", text[9])
    md = d.render("markdown").splitlines()
    assert md[4] == "| equation | shape | note | check |" and md[5].endswith("| --- | --- |")
    assert re.fullmatch(rf"\| `dW_in = dZ_Y X\^T` \| \(1, 2\) \|  \| NumPy {num}, finite diff\. "
                        rf"{num} \|", md[14]), md[14]


def test_sections():
    d = gpubp.explain(tiny(), m=3)
    assert [str(s.equation) for s in d.section("forward")] == ["Z_Y = W_in X + b_Y",
                                                               "Y = identity(Z_Y)"]
    assert [s.equation.kind for s in d.section("backward")] == ["delta", "dW", "db"]
    assert d.section("sideways") == []


def test_defaults_are_five_examples_no_check_seed_0():
    d = gpubp.explain(tiny())
    assert d.m == 5 and "m = 5 examples" in d.title and d.checked is False
    assert all(s.error is None and s.fd_error is None for s in d.steps)
    fd = [s.fd_error for s in gpubp.explain(tiny(), check=True).steps]
    assert fd == [s.fd_error for s in gpubp.explain(tiny(), check=True, seed=0).steps]
    assert fd != [s.fd_error for s in gpubp.explain(tiny(), check=True, seed=1).steps]


def test_the_check_reads_the_models_own_biases():
    """The NumPy side adds b (a new network's biases are 0, which would hide a b taken away or
    not added): with nonzero biases, Z = W A + b agrees to rounding, and so does every step."""
    net = gpubp.Network([2, 3, 1], activation="tanh", output="sigmoid", loss="bce", device="cpu",
                        seed=0)
    for name, p in net.params.items():
        if name.startswith("b"):
            p[...] = 0.5 * (1 + gpubp.backend.to_host(p).size) * (1 if name == "b[1]" else -1)
    d = gpubp.explain(net, m=4, check=True)
    z = [s for s in d.steps if s.equation.kind == "sum"]
    assert len(z) == 2 and all(s.error is not None and s.error < 1e-12 for s in z)
    assert max(s.error for s in d.steps if s.error is not None) < 1e-12


def test_one_example_is_enough_and_m_must_be_a_positive_integer():
    import pytest
    from gpubp.errors import ConfigError

    d = gpubp.explain(tiny(), m=1, check=True)
    assert "Z_Y (1, 1) = W_in (1, 2) X (2, 1) + b_Y (1, 1)" in str(d)
    assert max(s.error for s in d.steps if s.error is not None) < 1e-12
    for bad in (True, 2.0, -3, 0):
        with pytest.raises(ConfigError, match="must be a positive integer"):
            gpubp.explain(tiny(), m=bad)


def test_a_networks_title_gives_its_sizes():
    net = gpubp.Network([2, 3, 1], activation="tanh", output="sigmoid", loss="bce", device="cpu")
    assert gpubp.explain(net, m=4).title == "Network [2, 3, 1]: loss bce, m = 4 examples (columns)"


def test_finite_differences_are_given_for_whole_gradients_only():
    """A part (dWx|H1) has no finite difference of its own; the sum (dWx) and the gradients of
    parameters used once do."""
    from conftest import seed_000_graph

    d = gpubp.explain(seed_000_graph("tanh"), m=3, check=True)
    fd = {str(s.equation.result): s.fd_error for s in d.steps
          if s.equation.kind in ("dW", "db", "parts")}
    assert set(fd) == {"dWy", "dWh", "dWx|H2", "dWx|H1", "dWx"}
    assert fd["dWx|H1"] is None and fd["dWx|H2"] is None
    assert all(fd[k] is not None and fd[k] < 1e-7 for k in ("dWy", "dWh", "dWx"))
    assert all(s.fd_error is None for s in d.steps if s.equation.param is None)
