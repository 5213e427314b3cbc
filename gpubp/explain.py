"""explain: every equation of a network with the shape of every factor, checked by numbers.

``gpubp.explain(model, m=5, check=True)`` returns a :class:`Derivation`: the forward and the
backward equations of ``model`` (read from the engine's layers, :mod:`gpubp.equations`), each
with the shape of every symbol for a batch of ``m`` examples, a note where a learner gets stuck
(a broadcast bias, the derivative an activation contributes, a gradient that is a sum of parts),
and, with ``check``, how far the engine's numbers are from a plain NumPy evaluation of the printed
equation, and each gradient from central finite differences in float64. ``str(derivation)`` and
``derivation.render("markdown" | "latex")`` print it; the command line only renders it.
"""

import numpy as np

from . import backend
from .equations import Sym, target_symbol
from .gradcheck import gradcheck
from .trace import trace

FORMATS = ("text", "markdown", "latex")


class Step:
    """One equation with its shapes: ``equation`` (a :class:`gpubp.equations.Equation`),
    ``shapes`` ``{symbol: shape}``, ``note``, and with a check: ``error`` (the engine against NumPy
    evaluating this equation, max relative difference; None where the engine keeps no such array)
    and ``fd_error`` (a gradient against finite differences)."""

    def __init__(self, section, equation, shapes):
        self.section, self.equation, self.shapes = section, equation, shapes
        self.note = equation.note
        self.error = self.fd_error = None

    @property
    def result_shape(self):
        return self.shapes[self.equation.result.name]

    def shape_of(self, sym):
        """The shape of a symbol of this equation (reversed where it is transposed)."""
        return _shape(self.shapes, sym)

    def text(self, shapes=True):
        if not shapes:
            return str(self.equation)
        return self.equation.render(lambda s: f"{s} {_fmt(_shape(self.shapes, s))}")

    def checks(self):
        parts = []
        if self.error is not None:
            parts.append(f"NumPy {self.error:.1e}")
        if self.fd_error is not None:
            parts.append(f"finite diff. {self.fd_error:.1e}")
        return ", ".join(parts)


class Derivation:
    """The steps of one forward and backward pass, as data. ``steps`` in order; ``title``;
    ``m``; ``checked`` (whether the numbers were checked); ``render(fmt)`` for text, markdown or
    latex."""

    def __init__(self, title, m, steps, notes, checked):
        self.title, self.m, self.steps, self.notes, self.checked = title, m, steps, notes, checked

    def section(self, name):
        return [s for s in self.steps if s.section == name]

    def render(self, fmt="text"):
        if fmt not in FORMATS:
            from .errors import unknown_name
            raise unknown_name("format", fmt, FORMATS)
        return {"text": self._text, "markdown": self._markdown, "latex": self._latex}[fmt]()

    def __str__(self):
        return self.render("text")

    def _text(self):
        lines = [self.title, ""]
        for section in ("forward", "backward"):
            lines.append(f"{section}:")
            steps = self.section(section)
            width = max(len(s.text()) for s in steps)
            for s in steps:
                extra = "  ".join(x for x in (s.note, f"[{s.checks()}]" if s.checks() else "") if x)
                lines.append((f"  {s.text():<{width}}" + (f"    {extra}" if extra else "")).rstrip())
            lines.append("")
        lines += self.notes
        return "\n".join(lines)

    def _markdown(self):
        lines = [f"**{self.title}**", ""]
        for section in ("forward", "backward"):
            lines += [f"*{section}*", "", "| equation | shape | note |" + (" check |" if self.checked else ""),
                      "| --- | --- | --- |" + (" --- |" if self.checked else "")]
            for s in self.section(section):
                row = f"| `{s.text(shapes=False)}` | {_fmt(s.result_shape)} | {s.note} |"
                lines.append(row + (f" {s.checks()} |" if self.checked else ""))
            lines.append("")
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def _latex(self):
        lines = [f"% {self.title}", r"\begin{align*}"]
        for s in self.steps:
            eq = s.equation
            rhs = " ".join(_latex_token(t, s.shapes) for t in eq.rhs)
            lines.append(f"  {_latex_token(eq.result, s.shapes)} &= {rhs} \\\\")
        lines.append(r"\end{align*}")
        return "\n".join(lines).replace("( ", "(").replace(" )", ")")


def _shape(shapes, s):
    shape = shapes[s.name]
    return tuple(reversed(shape)) if s.T else shape


def _fmt(shape):
    return "(" + ", ".join(str(x) for x in shape) + ")"


def _latex_symbol(name):
    base, _, index = name.partition("[")
    base = base.replace("_", r"\_")
    if index:
        base += "^{[" + index.rstrip("]").replace("_", r"\_") + "]}"
    return base.replace("|", r"\,|\,")


def _latex_token(t, shapes):
    if isinstance(t, Sym):
        shape = _shape(shapes, t)
        sym = _latex_symbol(t.name)
        sym = "{" + sym + r"}^{\top}" if t.T else sym
        return r"\underset{" + r"\times".join(str(x) for x in shape) + "}{" + sym + "}"
    t = t.replace("*", r"\odot").replace("_", r"\_")
    if t.endswith("(") and len(t) > 1:  # a function: sigmoid( or sigmoid'(
        name, prime = t[:-1].rstrip("'"), "'" * (len(t[:-1]) - len(t[:-1].rstrip("'")))
        return r"\mathrm{" + name + "}" + prime + "("
    return t


# ---- shapes and the NumPy evaluation of each equation ---------------------------------------

def _shapes(model, m):
    """``{symbol: shape}`` of everything the equations mention, for a batch of m examples."""
    shapes = {"1": (1, m)}
    for node in model.inputs.values():
        shapes[node.symbol] = (node.n, m)
    for name, p in model.param_nodes.items():
        shapes[name] = p.shape
        shapes["d" + name] = p.shape
    for layer in model.layers.values():
        for sym in (layer.z, layer.symbol, layer.dz, "d" + layer.symbol):
            shapes[sym] = (layer.n, m)
    for o in model.outputs:
        shapes[target_symbol(model, o)] = (o.n, m)
    for eq in model.backward_equations():
        if eq.kind in ("dW", "db"):
            shapes[eq.result.name] = model.param_nodes[eq.param].shape
    return shapes


def _value(v, s):
    return v[s.name].T if s.T else v[s.name]


def _evaluate(eq, v, model, m):
    """NumPy's value of the right side of ``eq`` from the values ``v`` of its symbols."""
    syms = [t for t in eq.rhs if isinstance(t, Sym)]
    layer = eq.layer
    if eq.kind == "sum":
        out = sum(_value(v, syms[i]) @ _value(v, syms[i + 1]) for i in range(0, 2 * len(layer.terms), 2))
        return out + v[syms[-1].name] if layer.bias is not None else out
    if eq.kind == "act":
        return layer.activation.reference_forward(v[syms[0].name])  # its printed formula
    if eq.kind == "delta":  # the loss's printed formulas, with A and Y
        return model.loss.reference_delta(v[layer.symbol], v[target_symbol(model, layer)], m)
    if eq.kind == "dA_loss":
        return model.loss.reference_dA(v[layer.symbol], v[target_symbol(model, layer)], m)
    if eq.kind == "dA":
        return sum(_value(v, syms[i]) @ v[syms[i + 1].name] for i in range(0, len(syms), 2))
    if eq.kind == "dZ":
        return layer.activation.reference_backward(v[layer.symbol], v[syms[0].name])
    if eq.kind in ("dW", "db"):
        return _value(v, syms[0]) @ _value(v, syms[1])
    return sum(v[s.name] for s in syms)  # parts


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _random_data(model, m, rng):
    X = {name: rng.normal(size=(node.n, m)) for name, node in model.inputs.items()}
    Y = {}
    for o in model.outputs:
        Y[o.name] = model.loss.sample_targets(rng, o.n, m)
    return X, Y


def explain(model, m=5, check=False, seed=0):
    """The derivation of ``model``'s forward and backward pass for ``m`` examples.

    With ``check``, a float64 copy of ``model`` runs one pass on random data (``seed``), and each
    step gets the largest relative difference between the engine's array and NumPy evaluating the
    printed equation, and each gradient its difference from central finite differences.
    """
    from .errors import ConfigError

    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ConfigError(f"m (the number of examples to explain) must be a positive integer; got {m!r}")
    shapes = _shapes(model, m)
    steps = [Step("forward", eq, shapes) for layer in model.layers.values()
             for eq in layer.equations()]
    steps += [Step("backward", eq, shapes) for eq in model.backward_equations()]
    for s in steps:
        eq = s.equation
        if eq.kind == "sum" and eq.layer.bias is not None:
            b = eq.layer.bias.name
            s.note = f"{b} {_fmt(shapes[b])} is broadcast over the {m} columns"
        if eq.kind == "db":
            s.note = f"the sum over the {m} columns: a product with a column of ones"
    notes = ["layout: every gradient has the shape of what it differentiates (dW is shaped like W), "
             "so W - lr dW lines up",
             f"columns are examples: the cost is the mean over the m = {m} columns, so the 1/m "
             f"rides in the output's dZ"]
    if check:
        _check(model, steps, m, seed)
    kind = type(model).__name__
    title = f"{kind}: {len(model.layers)} layers, loss {model.loss.name}, m = {m} examples (columns)"
    if hasattr(model, "sizes"):
        title = f"{kind} {list(model.sizes)}: loss {model.loss.name}, m = {m} examples (columns)"
    return Derivation(title, m, steps, notes, checked=check)


def _check(model, steps, m, seed):
    net = model.copy(dtype="float64", device="cpu")
    rng = np.random.default_rng(seed)
    X, Y = _random_data(net, m, rng)
    t = trace(net, X, Y)
    engine = {}
    for name, layer in net.layers.items():
        lt = t.layers[name]
        engine[layer.z], engine[layer.symbol], engine[layer.dz] = lt.Z, lt.A, lt.dZ
    for name, g in t.grads.items():
        engine["d" + name] = g
    keys = net.plan(m).contribution_keys()  # each use's key, in the order of graph.uses()
    for eq in net.backward_equations():  # the parts of shared parameters
        if eq.kind in ("dW", "db") and len(keys[eq.param]) > 1:
            engine[eq.result.name] = t.contributions[eq.param][keys[eq.param][eq.use]]
    v = {node.symbol: X[name] for name, node in net.inputs.items()}
    v.update({name: backend.to_host(p) for name, p in net.params.items()})
    v.update({target_symbol(net, o): Y[o.name] for o in net.outputs})
    v["1"] = np.ones((1, m))
    for s in steps:
        value = _evaluate(s.equation, v, net, m)
        v[s.equation.result.name] = value
        if s.equation.result.name in engine:
            s.error = _rel(engine[s.equation.result.name], value)
    report = gradcheck(net, X, Y)
    for s in steps:
        eq = s.equation
        whole = eq.kind == "parts" or (eq.kind in ("dW", "db") and "|" not in eq.result.name)
        if whole and eq.param in report.errors:
            s.fd_error = report.errors[eq.param]
