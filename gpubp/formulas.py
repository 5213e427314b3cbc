"""Formulas: one string per formula, which explain prints and NumPy evaluates.

An activation or a loss writes its formulas once, as expressions over named arrays (``Z``,
``A``, ``dA``, ``Y``) in NumPy's spelling with the names below: ``"A * (1 - A)"``,
``"where(A > 0, 1, alpha)"``, ``"exp(Z - max_i(Z)) / sum_i(exp(Z - max_i(Z)))"``. :func:`render`
writes one as the notes do (``A[1] (1 - A[1])``, ``A^2``); :func:`evaluate` computes it, so that
:mod:`gpubp.explain` checks the engine against the very formula it prints. The strings are code
written by whoever declares the activation or loss, never data read from a file.
"""

import re

import numpy as np

#: what a formula may call: NumPy's elementwise functions, and column sums and maxima
NAMES = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh, "sqrt": np.sqrt,
    "abs": np.abs, "where": np.where, "maximum": np.maximum, "minimum": np.minimum,
    "sum_i": lambda x: np.sum(x, axis=0, keepdims=True),   # over the rows i of each column
    "max_i": lambda x: np.max(x, axis=0, keepdims=True),
}


def evaluate(formula, **symbols):
    """The value of ``formula`` with these arrays and numbers for its names (NumPy, float64 where
    the arrays are)."""
    with np.errstate(over="ignore"):
        return eval(formula, {"__builtins__": {}, **NAMES}, symbols)  # noqa: S307 (declared code)


def render(formula, **symbols):
    """``formula`` as the notes write it: each name in ``symbols`` replaced by its text (a layer's
    symbol, a constant's value), ``**`` as ``^``, an elementwise product ``x * y`` as ``x y``."""
    def name(match):
        word = match.group(0)
        if word not in symbols:
            return word
        value = symbols[word]
        return f"{value:g}" if isinstance(value, float) else str(value)

    text = re.sub(r"\b[A-Za-z_][A-Za-z_0-9]*\b", name, formula)
    return text.replace(" ** ", "^").replace("**", "^").replace(" * ", " ")
