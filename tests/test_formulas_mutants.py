"""Mutation gaps of gpubp/formulas.py: what evaluate computes and what render writes."""

import numpy as np
import pytest

from gpubp import formulas


def test_sum_i_and_max_i_are_over_the_rows_of_each_column_kept_as_a_row():
    Z = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])  # 2 rows (units) by 3 columns (examples)
    s = formulas.evaluate("sum_i(Z)", Z=Z)
    assert s.shape == (1, 3) and np.array_equal(s, [[5.0, 3.0, -3.0]])
    mx = formulas.evaluate("max_i(Z)", Z=Z)
    assert mx.shape == (1, 3) and np.array_equal(mx, [[4.0, 5.0, 3.0]])
    # broadcast back over the rows: the softmax of each column sums to 1
    A = formulas.evaluate("exp(Z - max_i(Z)) / sum_i(exp(Z - max_i(Z)))", Z=Z)
    assert A.shape == Z.shape and np.allclose(A.sum(axis=0), 1.0)


def test_evaluate_gives_the_value_with_the_symbols():
    A = np.array([[0.25, 0.5]])
    assert np.array_equal(formulas.evaluate("A * (1 - A)", A=A), A * (1 - A))
    assert formulas.evaluate("2 * (A - Y) / (n * m)", A=1.0, Y=0.0, n=4, m=1) == 0.5
    with pytest.raises(NameError):  # no builtins: only NAMES and the symbols
        formulas.evaluate("len(A)", A=A)


def test_render_puts_the_symbols_in_and_writes_powers_and_products_as_the_notes_do():
    assert formulas.render("A * (1 - A)", A="A[1]") == "A[1] (1 - A[1])"
    assert formulas.render("1 - A**2", A="A[2]") == "1 - A[2]^2"
    assert formulas.render("A ** 2", A="A") == "A^2"
    # a float constant as %g, an int as itself, a name not given (a function) left alone
    assert formulas.render("where(A > 0, 1, alpha)", A="A[3]", alpha=0.25) == \
        "where(A[3] > 0, 1, 0.25)"
    assert formulas.render("2 * (A - Y) / (n * m)", A="A[2]", Y="Y", n=3) == \
        "2 (A[2] - Y) / (3 m)"
    assert formulas.render("exp(Z)") == "exp(Z)"
    # whole words only: Z is not replaced inside Z1 or expZ
    assert formulas.render("Z1 + Z", Z="Z[1]") == "Z1 + Z[1]"
