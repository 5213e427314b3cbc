"""The equations of a graph, written once, in the notes' notation.

Each :class:`Equation` is what one step of the forward or backward pass computes, as data: the
symbol it defines, its kind, and the symbols it reads. Error messages (``Z[1] = W[1] A[0] +
b[1]: ...``), :mod:`gpubp.explain` and the docstrings render them from here, so that what a
learner reads is what the engine runs::

    forward, each layer:        Z = sum_k W_k A_k (+ b)         A = chi(Z)
    backward, last layer first: dZ = c (A - Y) / m               (canonical output and loss)
                                dA = c (A - Y) / m, dZ = dA * chi'(Z)     (any other output)
                                dA = sum over consumers of W^T dZ        (hidden layers)
                                dZ = dA * chi'(Z)
                                dW = dZ A^T, db = dZ 1^T          (one part per use of a shared W)
                                dW = dW|L1 + dW|L2 + ...          (the sum of its parts)

This module reads layers and graphs through their public attributes only; it imports nothing
of gpubp's.
"""


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
    ``param`` the parameter a gradient step is about; ``note`` a line for the learner.
    """

    def __init__(self, kind, result, rhs, layer=None, param=None, note=""):
        self.kind, self.result, self.rhs = kind, result, rhs
        self.layer, self.param, self.note = layer, param, note

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


def _coef(c):
    return "" if c == 1 else f"{c:g}"


def backward(graph, fused):
    """The backward pass of ``graph`` as equations, last layer first, then the sums of the parts
    of shared parameters. ``fused(layer)`` tells whether an output takes the fused delta."""
    consumers = {name: [] for name in graph.layers}
    for layer in graph.layers.values():
        for t in layer.terms:
            if t.A.name in consumers:
                consumers[t.A.name].append((layer, t))
    uses = {name: 0 for name in graph.param_nodes}
    for layer in graph.layers.values():
        for t in layer.terms:
            uses[t.W.name] += 1
        if layer.bias is not None:
            uses[layer.bias.name] += 1
    parts = {name: [] for name in graph.param_nodes}  # (layer index, term index, symbol)
    eqs = []
    order = {name: i for i, name in enumerate(graph.layers)}
    for layer in reversed(list(graph.layers.values())):
        act = layer.activation
        d = act.derivative_text(layer.symbol)
        if layer in graph.outputs:
            c = graph.loss.constant(layer.n)
            Y = target_symbol(graph, layer)
            diff = ["(", Sym(layer.symbol), "-", Sym(Y), ")", "/ m"]
            if fused(layer):
                eqs.append(Equation("delta", Sym(layer.dz), ([_coef(c)] if c != 1 else []) + diff,
                                    layer, note=f"{graph.loss.name} with its canonical output "
                                                f"{act.name}: the fused delta"))
            else:
                dA = dA_symbol(layer)
                eqs.append(Equation("dA_loss", Sym(dA), ([_coef(c)] if c != 1 else []) + diff, layer,
                                    note=f"dCost/d{layer.symbol} of {graph.loss.name}"))
                eqs.append(Equation("dZ", Sym(layer.dz), [Sym(dA), "*", f"{act.name}'(",
                                                          Sym(layer.z), ")"], layer,
                                    note=f"{act.name}'({layer.z}) = {d}"))
        else:
            rhs = []
            for i, (user, t) in enumerate(consumers[layer.name]):
                rhs += (["+"] if i else []) + [Sym(t.W.name, T=True), Sym(user.dz)]
            dA = dA_symbol(layer)
            eqs.append(Equation("dA", Sym(dA), rhs, layer,
                                note="the sum of what every layer that reads it sends back"
                                if len(consumers[layer.name]) > 1 else ""))
            eqs.append(Equation("dZ", Sym(layer.dz), [Sym(dA), "*", f"{act.name}'(", Sym(layer.z),
                                                      ")"], layer,
                                note=f"{act.name}'({layer.z}) = {d}"))
        for k, t in enumerate(layer.terms):
            shared = uses[t.W.name] > 1
            sym = part_symbol(t.W.name, layer) if shared else grad_symbol(t.W.name)
            if shared and sum(1 for t2 in layer.terms if t2.W is t.W) > 1:
                sym += f":{t.A.symbol}"
            parts[t.W.name].append((order[layer.name], k, sym))
            eqs.append(Equation("dW", Sym(sym), [Sym(layer.dz), Sym(t.A.symbol, T=True)], layer,
                                param=t.W.name))
        if layer.bias is not None:
            b = layer.bias.name
            shared = uses[b] > 1
            sym = part_symbol(b, layer) if shared else grad_symbol(b)
            parts[b].append((order[layer.name], len(layer.terms), sym))
            eqs.append(Equation("db", Sym(sym), [Sym(layer.dz), Sym("1", T=True)], layer, param=b))
    for name, ps in parts.items():
        if len(ps) > 1:
            rhs = []
            for i, (_, _, p) in enumerate(sorted(ps)):  # in layer order: the first use first
                rhs += (["+"] if i else []) + [Sym(p)]
            eqs.append(Equation("parts", Sym(grad_symbol(name)), rhs, param=name,
                                note=f"{name} is used {len(ps)} times: its gradient is the sum of "
                                     f"one part per use"))
    return eqs
