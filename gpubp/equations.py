"""The equations of a graph, written once, in the notes' notation.

Each :class:`Equation` is what one step of the forward or backward pass computes, as data: the
symbol it defines, its kind, and the symbols it reads. Error messages (``Z[1] = W[1] A[0] +
b[1]: ...``), :mod:`gpubp.explain` and the docstrings render them from here, so that what a
learner reads is what the engine runs::

    forward, each layer:        Z = sum_k W_k A_k (+ b)         A = chi(Z)
    backward, last layer first: dZ = c (A - Y) / m               (canonical output and loss)
                                dA = dCost/dA, dZ = dA * chi'(Z)          (any other output)
                                dA = sum over consumers of W^T dZ        (hidden layers)
                                dZ = dA * chi'(Z)
                                dW = dZ A^T, db = dZ 1^T          (one part per use of a shared W)
                                dW = dW|L1 + dW|L2 + ...          (the sum of its parts)

The output's lines are the loss's own formulas (``delta_text``, ``dA_text``) and chi' the
activation's (``derivative_text``). This module reads layers, graphs, losses and activations
through their public attributes only; it imports nothing of gpubp's.
"""

import re


class Sym:
    """A symbol of an equation (``W[1]``, ``A[0]``, ``dZ_H2``, ``1``), maybe transposed."""

    __slots__ = ("name", "T")

    def __init__(self, name, T=False):
        self.name, self.T = name, T

    def __str__(self):
        return self.name + ("^T" if self.T else "")


class Equation:
    """``result = ...``: ``kind`` says what the right side is, ``rhs`` its tokens (Sym or text).

    kinds: ``sum`` (``Z = W A + ... + b``), ``act`` (``A = chi(Z)``), ``delta`` (``dZ = c (A - Y)
    / m``), ``dA_loss`` (``dA = c (A - Y) / m``), ``dA`` (``dA = W^T dZ + ...``), ``dZ``
    (``dZ = dA * chi'(Z)``), ``dW`` (``dW = dZ A^T``), ``db`` (``db = dZ 1^T``), ``parts``
    (``dW = dW|L1 + dW|L2``). ``layer`` is the layer it belongs to (None for ``parts``);
    ``param`` the parameter a gradient step is about; ``use`` (``dW``, ``db``) the index of its use
    in ``graph.uses()[param]``, which is also the order of the plan's contribution keys;
    ``note`` a line for the learner.
    """

    def __init__(self, kind, result, rhs, layer=None, param=None, note=""):
        self.kind, self.result, self.rhs = kind, result, rhs
        self.layer, self.param, self.note = layer, param, note
        self.use = None

    def symbols(self):
        """Every symbol it mentions, result first."""
        return [self.result] + [t for t in self.rhs if isinstance(t, Sym)]

    def render(self, sym=str):
        """The equation as text; ``sym(Sym)`` renders each symbol (with its shape, say)."""
        words = [sym(t) if isinstance(t, Sym) else t for t in [self.result, "="] + self.rhs]
        return " ".join(words).replace("( ", "(").replace(" )", ")")

    def __str__(self):
        return self.render()


def forward(layer):
    """``[Z = sum_k W_k A_k (+ b), A = chi(Z)]`` of one layer."""
    rhs = []
    for i, t in enumerate(layer.terms):
        rhs += (["+"] if i else []) + [Sym(t.W.name), Sym(t.A.symbol)]
    if layer.bias is not None:
        rhs += ["+", Sym(layer.bias.name)]
    return [Equation("sum", Sym(layer.z), rhs, layer),
            Equation("act", Sym(layer.symbol), [f"{layer.activation.name}(", Sym(layer.z), ")"], layer)]


def dA_symbol(layer):
    """``dA[1]`` for ``A[1]``, ``dH1`` for ``H1``: dCost/dA of a layer."""
    return "d" + layer.symbol


def target_symbol(graph, layer):
    """``Y`` for a single output, ``Y_<name>`` for one of several (or where a layer or an input
    is itself called ``Y``)."""
    taken = {n.symbol for n in list(graph.inputs.values()) + list(graph.layers.values())}
    return "Y" if len(graph.outputs) == 1 and "Y" not in taken else f"Y_{layer.name}"


def grad_symbol(name):
    return "d" + name


def part_symbol(name, layer):
    """``dWx|H2``: the part of ``dWx`` that the use in layer H2 contributes."""
    return f"d{name}|{layer.name}"


def part_symbols(name, uses):
    """The symbol of each use's part of ``d<name>``, in the order of ``uses``
    (``graph.uses()[name]``): ``dWx`` for a parameter used once; ``dWx|H2`` for the use in
    layer H2; ``dW|H:X1`` where a layer uses it in several terms; ``dW|H:X(1)``, ``dW|H:X(2)``
    where a term repeats."""
    if len(uses) == 1:
        return [grad_symbol(name)]
    syms = []
    for layer, t in uses:
        sym = part_symbol(name, layer)
        if sum(1 for other, _ in uses if other is layer) > 1:
            sym += f":{t.A.symbol}" if t is not None else ":1"
        syms.append(sym)
    repeated = {s for s in syms if syms.count(s) > 1}
    seen = {}
    for i, sym in enumerate(syms):
        if sym in repeated:
            seen[sym] = seen.get(sym, 0) + 1
            syms[i] = f"{sym}({seen[sym]})"
    return syms


def _formula_tokens(text, symbols):
    """``text`` (a rendered formula) as equation tokens, word by word: each name in ``symbols`` a
    :class:`Sym`, the rest text (``"2"``, ``"("``, ``"tanh("``)."""
    names = re.compile(r"\b(" + "|".join(map(re.escape, symbols)) + r")\b")
    tokens = []
    for word in text.split():
        for piece in names.split(word):
            if piece in symbols:
                tokens.append(Sym(symbols[piece]))
            elif piece:
                tokens.append(piece)
    return tokens


def _output_equations(graph, layer, fused):
    """The loss's fused delta ``dZ = c (A - Y) / m``, or ``dA = dCost/dA`` and
    ``dZ = dA * chi'(Z)``: the loss's own formulas (``delta_text``, ``dA_text``)."""
    act, loss = layer.activation, graph.loss
    symbols = {"A": layer.symbol, "Y": target_symbol(graph, layer)}
    if fused:
        rhs = _formula_tokens(loss.delta_text(layer.n), symbols)
        return [Equation("delta", Sym(layer.dz), rhs, layer,
                         note=f"{loss.name} with its canonical output {act.name}: the fused delta")]
    rhs = _formula_tokens(loss.dA_text(layer.n), symbols)
    return [Equation("dA_loss", Sym(dA_symbol(layer)), rhs, layer,
                     note=f"dCost/d{layer.symbol} of {loss.name}"),
            _dz_equation(layer)]


def _dz_equation(layer):
    act = layer.activation
    return Equation("dZ", Sym(layer.dz), [Sym(dA_symbol(layer)), "*", f"{act.name}'(",
                                          Sym(layer.z), ")"], layer,
                    note=f"{act.name}'({layer.z}) = {act.derivative_text(layer.symbol)}")


def _hidden_equations(layer, consumers):
    """``dA = sum over consumers of W^T dZ`` and ``dZ = dA * chi'(Z)``."""
    rhs = []
    for i, (user, t) in enumerate(consumers):
        rhs += (["+"] if i else []) + [Sym(t.W.name, T=True), Sym(user.dz)]
    note = "the sum of what every layer that reads it sends back" if len(consumers) > 1 else ""
    return [Equation("dA", Sym(dA_symbol(layer)), rhs, layer, note=note), _dz_equation(layer)]


def _gradient_equations(layer, uses, symbols):
    """``dW = dZ A^T`` per term and ``db = dZ 1^T``, each the part of its use (``use``: its index
    in ``uses[name]``, the order of the plan's contributions)."""
    eqs = []
    for t in layer.terms:
        i = next(i for i, (l, t2) in enumerate(uses[t.W.name]) if l is layer and t2 is t)
        eq = Equation("dW", Sym(symbols[t.W.name][i]), [Sym(layer.dz), Sym(t.A.symbol, T=True)],
                      layer, param=t.W.name)
        eq.use = i
        eqs.append(eq)
    if layer.bias is not None:
        b = layer.bias.name
        i = next(i for i, (l, _) in enumerate(uses[b]) if l is layer)
        eq = Equation("db", Sym(symbols[b][i]), [Sym(layer.dz), Sym("1", T=True)], layer, param=b)
        eq.use = i
        eqs.append(eq)
    return eqs


def backward(graph, fused):
    """The backward pass of ``graph`` as equations, last layer first, then the sums of the parts
    of shared parameters. ``fused(layer)`` tells whether an output takes the fused delta. Who
    reads a layer and where a parameter is used come from the graph (``graph.consumers()``,
    ``graph.uses()``)."""
    consumers, uses = graph.consumers(), graph.uses()
    symbols = {name: part_symbols(name, u) for name, u in uses.items() if u}
    eqs = []
    for layer in reversed(list(graph.layers.values())):
        if layer in graph.outputs:
            eqs += _output_equations(graph, layer, fused(layer))
        else:
            eqs += _hidden_equations(layer, consumers[layer.name])
        eqs += _gradient_equations(layer, uses, symbols)
    for name, u in uses.items():
        if len(u) > 1:  # in layer order: the first use first
            rhs = []
            for i, sym in enumerate(symbols[name]):
                rhs += (["+"] if i else []) + [Sym(sym)]
            eqs.append(Equation("parts", Sym(grad_symbol(name)), rhs, param=name,
                                note=f"{name} is used {len(u)} times: its gradient is the sum of "
                                     f"one part per use"))
    return eqs
