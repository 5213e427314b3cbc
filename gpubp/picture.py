"""A picture of a network: its inputs and layers as boxes with their shapes, an arrow for each
``W @ A`` term labelled with its parameter, a shared parameter drawn in one colour wherever it is
used. Needs matplotlib (the ``cli`` extra); :func:`draw` writes an SVG or a PNG.
"""

import os

from .errors import ConfigError


def _depths(model):
    depth = {name: 0 for name in model.inputs}
    for name, layer in model.layers.items():
        depth[name] = 1 + max(depth[t.A.name] for t in layer.terms)
    return depth


def _positions(model):
    """``{node name: (x, y)}`` and the number of columns: a column per depth, layers on top."""
    depth = _depths(model)
    consumers = model.consumers()
    for name in model.inputs:  # an input stands just left of the first layer that reads it
        depth[name] = min((depth[layer.name] for layer, _ in consumers[name]), default=1) - 1
    columns = {}
    for name, d in depth.items():
        columns.setdefault(d, []).append(name)
    rows = max(sum(1 for n in names if n in model.layers) for names in columns.values())
    pos = {}
    for d, names in columns.items():
        layers = [n for n in names if n in model.layers]
        inputs = [n for n in names if n in model.inputs]
        for i, name in enumerate(layers):
            pos[name] = (d * 3.2, -i * 1.8)
        below = rows if layers else 0  # inputs beside a layer go in a row under the layers
        for i, name in enumerate(inputs):
            pos[name] = (d * 3.2, -(below + i) * 1.8)
    return pos, max(columns)


def _boxes(ax, model, pos, m):
    outputs = {o.name for o in model.outputs}
    for name, (x, y) in pos.items():
        if name in model.inputs:
            node = model.inputs[name]
            text, face = f"{node.symbol}\n({node.n}, {m})\ninput", "#e8f0fe"
        else:
            layer = model.layers[name]
            bias = f" + {layer.bias.name}" if layer.bias is not None else ""
            text = f"{layer.symbol}\n({layer.n}, {m})\n{layer.activation.name}{bias}"
            face = "#fde8e8" if name in outputs else "#f3f3f3"
            if name in outputs:
                text += f"\nloss {model.loss.name}"
        ax.text(x, y, text, ha="center", va="center", fontsize=9, family="monospace",
                bbox=dict(boxstyle="round,pad=0.4", fc=face, ec="#444"))


def _arrows(ax, model, pos, colour):
    for layer in model.layers.values():
        for t in layer.terms:
            (x0, y0), (x1, y1) = pos[t.A.name], pos[layer.name]
            c = colour.get(t.W.name, "#555")
            dx = 0.75 if x1 != x0 else 0.0
            dy = 0.0 if x1 != x0 else 0.55 * (1 if y1 > y0 else -1)
            ax.annotate("", xy=(x1 - dx, y1 - dy), xytext=(x0 + dx, y0 + dy),
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.6))
            label = f"{t.W.name} {t.W.shape}" + (" shared" if t.W.name in colour else "")
            ax.text((x0 + x1) / 2 + (0.1 if dy else 0), (y0 + y1) / 2 + 0.15, label,
                    ha="left" if dy else "center", fontsize=8, color=c)


def draw(model, path, m="m"):
    """Draw ``model`` to ``path`` (``.svg`` or ``.png``); ``m`` is shown as the batch size."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in (".svg", ".png"):
        raise ConfigError(f"a picture is written as .svg or .png; got {str(path)!r}")
    try:  # a Figure of its own, not pyplot: the caller's matplotlib backend is left alone
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ConfigError(f"drawing needs matplotlib: pip install -e \".[cli]\" ({e})") from None
    pos, last = _positions(model)
    # a weight's arrows: one per term that uses it (biases are drawn in the boxes)
    uses = {name: sum(1 for _, t in u if t is not None) for name, u in model.uses().items()}
    shared = [name for name, k in uses.items() if k > 1]
    palette = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown"]
    colour = {name: palette[i % len(palette)] for i, name in enumerate(shared)}
    width = 3.2 * last + 2.6
    ys = [y for _, y in pos.values()]
    top, bottom = max(ys) + 1.0, min(ys) - 1.0
    fig = Figure(figsize=(max(6, 1.3 * width), max(3, 1.3 * (top - bottom))))
    ax = fig.subplots()
    _boxes(ax, model, pos, m)
    _arrows(ax, model, pos, colour)
    ax.set_xlim(-1.4, width - 1.2)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    title = "shared: " + ", ".join(f"{n} (used {uses[n]} times)" for n in shared) if shared else ""
    ax.set_title(f"{type(model).__name__}" + (f"; {title}" if title else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return str(path)
