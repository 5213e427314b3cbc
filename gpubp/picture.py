"""A picture of a network: its inputs and layers as boxes with their shapes, an arrow for each
``W @ A`` term labelled with its parameter, a shared parameter drawn in one colour wherever it is
used, and a title that names the network. Needs matplotlib (the ``cli`` extra); :func:`draw`
writes an SVG or a PNG, :func:`figure` makes the matplotlib Figure.

The layout is made in inches, from the measured sizes of the texts, so the picture fits what it
shows at any size: a column of boxes per depth (an input just left of its first reader), at most
``PER_BAND`` columns side by side; longer chains go on in a band below, right to left (a snake),
so that a 6-layer network stays readable. Each arrow runs from the border of its source box to
the border of its target box (the line between their centres, clipped to both boxes); its label
sits beside it, on the first place along it that clears every line, box and other label.

The artists carry ids (``get_gid()``) for tests and for readers of the SVG: ``"box NAME"`` and
``"text NAME"`` per node, ``"arrow SOURCE TARGET W"`` and ``"label SOURCE TARGET W"`` per term,
``"title"``.
"""

import os

from .errors import ConfigError

#: columns side by side before the picture goes on in a band below
PER_BAND = 4
DPI = 110
FONT, LABEL_FONT, TITLE_FONT = 10, 9, 11   # points
PAD = 0.09          # inches between a box's text and its border
GAP = 0.8           # least horizontal gap between two columns of boxes (inches)
ROW_GAP = 0.55      # vertical gap between two rows of boxes
BAND_GAP = 0.75     # vertical gap between two bands
MARGIN = 0.2        # around everything
CLEAR = 0.06        # a label's least distance from a line
PALETTE = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown"]


def title(model):
    """The picture's title: the sizes and activations of a Network, the inputs, layers, output
    and loss of a Graph, and its shared parameters (the parts of :func:`title_parts`, joined)."""
    return "; ".join(title_parts(model))


def title_parts(model):
    """The title's parts, where it may wrap."""
    layers = list(model.layers.values())
    outputs = {o.name for o in model.outputs}
    hidden = sorted({layer.activation.name for layer in layers if layer.name not in outputs})
    out_acts = sorted({layer.activation.name for layer in layers if layer.name in outputs})
    loss = model.loss.name if model.loss is not None else "no loss"
    acts = (f"{'/'.join(hidden)} hidden, " if hidden else "") + f"{'/'.join(out_acts)} output"
    if hasattr(model, "sizes"):
        parts = [f"{type(model).__name__} {'-'.join(map(str, model.sizes))}: {acts}, loss {loss}"]
    else:
        parts = [f"{type(model).__name__}: inputs {', '.join(model.inputs)}",
                 f"layers {', '.join(model.layers)}", f"{acts}, loss {loss}"]
    shared = _shared(model)
    if shared:
        parts.append("shared: " + ", ".join(f"{n} (used {k} times)" for n, k in shared.items()))
    return parts


def _shared(model):
    """``{weight: number of terms that use it}`` for the weights used more than once."""
    uses = {name: sum(1 for _, t in u if t is not None) for name, u in model.uses().items()}
    return {name: k for name, k in uses.items() if k > 1}


def _columns(model):
    """``[[node name or None (an empty row), ...] per column]``: a column per depth, its layers
    first, then the inputs read first by the next column's layers; a node read by a layer more
    than one column on goes in a row under the nodes of the columns in between."""
    depth = {name: 0 for name in model.inputs}
    for name, layer in model.layers.items():
        depth[name] = 1 + max(depth[t.A.name] for t in layer.terms)
    consumers = model.consumers()
    for name in model.inputs:  # an input stands just left of the first layer that reads it
        depth[name] = min((depth[layer.name] for layer, _ in consumers[name]), default=1) - 1
    far = {name: max((depth[layer.name] for layer, _ in consumers[name]), default=0) - depth[name]
           for name in depth}
    columns = [[] for _ in range(max(depth.values()) + 1)]
    for name in list(model.layers) + list(model.inputs):
        if far[name] <= 1:
            columns[depth[name]].append(name)
    for name in list(model.layers) + list(model.inputs):  # a skip's source goes below the boxes
        if far[name] > 1:                                  # its arrows pass, so they pass under
            d = depth[name]
            row = max(len(columns[k]) for k in range(d + 1, d + far[name]))
            columns[d] += [None] * (row - len(columns[d])) + [name]
    return [c for c in columns if c]


def _box_text(model, name, m):
    if name in model.inputs:
        node = model.inputs[name]
        return f"{node.symbol}\n({node.n}, {m})\ninput", "#e8f0fe"
    layer = model.layers[name]
    bias = f" + {layer.bias.name}" if layer.bias is not None else ""
    text = f"{layer.symbol}\n({layer.n}, {m})\n{layer.activation.name}{bias}"
    if layer in model.outputs:
        return text + f"\nloss {model.loss.name}", "#fde8e8"
    return text, "#f3f3f3"


def _size(text, renderer):
    """(width, height) of a Text artist in inches."""
    box = text.get_window_extent(renderer)
    return box.width / DPI, box.height / DPI


def _layout(columns, size, label_width):
    """``{name: (x, y)}`` box centres in inches (y down from 0) and the content's (width,
    height): columns in bands of ``PER_BAND`` slots, every other band right to left."""
    slots = min(len(columns), PER_BAND)
    bands = [columns[i:i + PER_BAND] for i in range(0, len(columns), PER_BAND)]
    slot_w = [0.0] * slots
    for b, band in enumerate(bands):
        for p, col in enumerate(band):
            s = p if b % 2 == 0 else slots - 1 - p
            slot_w[s] = max([slot_w[s]] + [size[n][0] for n in col if n is not None])
    gap = max(GAP, label_width + 2 * CLEAR + 0.2)
    xs, x = [], 0.0
    for w in slot_w:
        xs.append(x + w / 2)
        x += w + gap
    width = x - gap
    pos, y = {}, 0.0
    for b, band in enumerate(bands):
        rows = max(len(col) for col in band)
        heights = [max([size[col[r]][1] for col in band if r < len(col) and col[r] is not None],
                       default=0.0) for r in range(rows)]
        for p, col in enumerate(band):
            s = p if b % 2 == 0 else slots - 1 - p
            top = y
            for r, name in enumerate(col):
                if name is not None:
                    pos[name] = (xs[s], top + heights[r] / 2)
                top += heights[r] + ROW_GAP
        y += sum(heights) + ROW_GAP * (rows - 1) + BAND_GAP
    return pos, width, y - BAND_GAP


def _leave(point, box, towards):
    """Where the line from ``point`` (inside ``box`` = (x0, y0, x1, y1)) towards ``towards``
    crosses the box's border."""
    s = float("inf")
    for k, lo, hi in ((0, box[0], box[2]), (1, box[1], box[3])):
        d = towards[k] - point[k]
        if d:
            s = min(s, ((hi if d > 0 else lo) - point[k]) / d)
    return point[0] + s * (towards[0] - point[0]), point[1] + s * (towards[1] - point[1])


def segment_hits_box(p, q, box):
    """Does the segment p-q meet the rectangle ``box`` = (x0, y0, x1, y1)? (Liang-Barsky.)"""
    t0, t1 = 0.0, 1.0
    d = (q[0] - p[0], q[1] - p[1])
    for k, lo, hi in ((0, box[0], box[2]), (1, box[1], box[3])):
        if d[k] == 0:
            if not lo <= p[k] <= hi:
                return False
            continue
        a, b = (lo - p[k]) / d[k], (hi - p[k]) / d[k]
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        if t0 > t1:
            return False
    return True


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_label(p, q, w, h, lines, boxes, labels, frame):
    """The centre of a w x h label beside the segment p-q (one of ``lines``), clear of it by
    ``CLEAR`` and inside ``frame`` (x0, y0, x1, y1): of the places along it (middle first, above
    first: y grows down here), the first with the most room (up to 0.3 in) from every other
    line, box and placed label."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = (dx * dx + dy * dy) ** 0.5
    normals = sorted([(-dy / length, dx / length), (dy / length, -dx / length)],
                     key=lambda n: (n[1], n[0]))
    others = [line for line in lines if line != (p, q)]
    best, room = None, -1.0
    for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
        for nx, ny in normals:
            d = (abs(nx) * w + abs(ny) * h) / 2 + CLEAR  # the label's extent along the normal
            c = (p[0] + t * dx + d * nx, p[1] + t * dy + d * ny)
            if not (frame[0] <= c[0] - w / 2 and c[0] + w / 2 <= frame[2]
                    and frame[1] <= c[1] - h / 2 and c[1] + h / 2 <= frame[3]):
                continue
            free = [r for r in (CLEAR, 0.1, 0.2, 0.3) if _clear(c, w, h, r, others, boxes + labels)]
            if free and free[-1] > room:
                best, room = c, free[-1]
    if best is None:  # nowhere clear: the middle, above (a test would say so)
        nx, ny = normals[0]
        d = (abs(nx) * w + abs(ny) * h) / 2 + CLEAR
        best = (p[0] + dx / 2 + d * nx, p[1] + dy / 2 + d * ny)
    return best


def _clear(c, w, h, room, lines, rects):
    """Is the w x h rectangle centred at ``c``, grown by ``room``, clear of ``lines`` and
    ``rects``?"""
    grown = (c[0] - w / 2 - room, c[1] - h / 2 - room, c[0] + w / 2 + room, c[1] + h / 2 + room)
    return not (any(segment_hits_box(a, b, grown) for a, b in lines)
                or any(_overlap(grown, r) for r in rects))


def figure(model, m="m"):
    """The picture of ``model`` as a matplotlib Figure (Agg canvas; no pyplot), sized in inches
    to its content."""
    try:  # a Figure of its own, not pyplot: the caller's matplotlib backend is left alone
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ConfigError(f"drawing needs matplotlib: pip install -e \".[cli]\" ({e})") from None
    fig = Figure(dpi=DPI)
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(_shared(model))}
    texts, size = {}, {}
    for name in list(model.inputs) + list(model.layers):
        text, face = _box_text(model, name, m)
        texts[name] = (ax.text(0, 0, text, ha="center", va="center", fontsize=FONT,
                               family="monospace", gid=f"text {name}", zorder=3), face)
        w, h = _size(texts[name][0], renderer)
        size[name] = (w + 2 * PAD, h + 2 * PAD)
    terms = [(t.A.name, layer.name, t.W) for layer in model.layers.values() for t in layer.terms]
    labels = [ax.text(0, 0, f"{W.name} {W.shape}" + (" shared" if W.name in colour else ""),
                      ha="center", va="center", fontsize=LABEL_FONT, zorder=3,
                      color=colour.get(W.name, "#333"), gid=f"label {_term_id(terms, i)}")
              for i, (src, dst, W) in enumerate(terms)]
    label_size = [_size(t, renderer) for t in labels]
    pos, width, height = _layout(_columns(model), size,
                                 max((w for w, _ in label_size), default=0.0))
    at = _frame(fig, ax, model, renderer, width, height)
    boxes = _draw_boxes(ax, pos, size, texts, at)
    lines = _draw_arrows(ax, terms, boxes, colour)
    _place_labels(ax, labels, label_size, lines, boxes)
    return fig


def _frame(fig, ax, model, renderer, width, height):
    """Size the figure to the title and the content (``width`` x ``height`` inches), with the axes'
    data units in inches; returns the map from layout inches (y down) to data inches (y up)."""
    parts = title_parts(model)
    head = ax.text(0, 0, "", ha="center", va="top", fontsize=TITLE_FONT, gid="title")
    limit, lines = max(width, 6.0), [parts[0]]  # wraps between parts, past the content's width
    for part in parts[1:]:
        head.set_text(f"{lines[-1]}; {part}")
        if _size(head, renderer)[0] <= limit:
            lines[-1] = f"{lines[-1]}; {part}"
        else:
            lines[-1] += ";"
            lines.append(part)
    head.set_text("\n".join(lines))
    tw, th = _size(head, renderer)
    W = max(width, tw) + 2 * MARGIN
    top = MARGIN + th + 0.25  # the content starts under the title
    H = top + height + MARGIN
    fig.set_size_inches(W, H)
    ax.set_xlim(0, W)
    ax.set_ylim(0, H)
    head.set_position((W / 2, H - MARGIN))
    dx = (W - width) / 2
    return lambda x, y: (x + dx, H - top - y)


def _draw_boxes(ax, pos, size, texts, at):
    """A rectangle per node, its text in the middle; returns ``{name: (x0, y0, x1, y1)}``."""
    from matplotlib.patches import Rectangle

    boxes = {}
    for name, (x, y) in pos.items():
        cx, cy = at(x, y)
        w, h = size[name]
        text, face = texts[name]
        boxes[name] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        ax.add_patch(Rectangle((cx - w / 2, cy - h / 2), w, h, fc=face, ec="#444", lw=1.0,
                               gid=f"box {name}", zorder=2))
        text.set_position((cx, cy))
    return boxes


def _term_id(terms, i):
    """``"SOURCE TARGET W"``, numbered `` (1)``, `` (2)`` where the same term repeats."""
    src, dst, W = terms[i]
    same = [k for k, t in enumerate(terms) if t[0] == src and t[1] == dst and t[2] is W]
    return f"{src} {dst} {W.name}" + (f" ({same.index(i) + 1})" if len(same) > 1 else "")


def _draw_arrows(ax, terms, boxes, colour):
    """An arrow per term from border to border; returns the segments ``[(p, q), ...]``."""
    from matplotlib.patches import FancyArrowPatch

    lines = []
    for i, (src, dst, W) in enumerate(terms):
        a, b = boxes[src], boxes[dst]
        ca, cb = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2), ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        # terms from the same node to the same layer: parallel arrows, 0.2 in apart
        twins = [k for k, (s_, d_, _) in enumerate(terms) if (s_, d_) == (src, dst)]
        shift = 0.2 * (twins.index(i) - (len(twins) - 1) / 2)
        length = ((cb[0] - ca[0]) ** 2 + (cb[1] - ca[1]) ** 2) ** 0.5
        nx, ny = -(cb[1] - ca[1]) / length * shift, (cb[0] - ca[0]) / length * shift
        ca, cb = (ca[0] + nx, ca[1] + ny), (cb[0] + nx, cb[1] + ny)
        p, q = _leave(ca, a, cb), _leave(cb, b, ca)
        lines.append((p, q))
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>,head_length=0.5,head_width=0.22",
                                     mutation_scale=18, shrinkA=0, shrinkB=0, lw=1.4,
                                     color=colour.get(W.name, "#555"), zorder=1,
                                     gid=f"arrow {_term_id(terms, i)}"))
    return lines


def _place_labels(ax, labels, label_size, lines, boxes):
    """Each arrow's label beside it, inside the frame (``MARGIN`` from the edges) and clear of
    the title (:func:`_place_label`, which prefers above: it works with y down, so the figure's
    y is flipped there)."""
    flip = [((x0, -y0), (x1, -y1)) for (x0, y0), (x1, y1) in lines]
    W, H = ax.get_xlim()[1], ax.get_ylim()[1]
    head = [t for t in ax.texts if t.get_gid() == "title"][0]
    e = head.get_window_extent(ax.figure.canvas.get_renderer()).transformed(ax.transData.inverted())
    rects = [(r[0], -r[3], r[2], -r[1]) for r in list(boxes.values()) + [(e.x0, e.y0, e.x1, e.y1)]]
    frame = (MARGIN, -(H - MARGIN), W - MARGIN, -MARGIN)
    placed = []
    for text, (w, h), (p, q) in zip(labels, label_size, flip):
        c = _place_label(p, q, w, h, flip, rects, placed, frame)
        placed.append((c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2))
        text.set_position((c[0], -c[1]))


def draw(model, path, m="m"):
    """Draw ``model`` to ``path`` (``.svg`` or ``.png``); ``m`` is shown as the batch size.
    Returns the path."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in (".svg", ".png"):
        raise ConfigError(f"a picture is written as .svg or .png; got {str(path)!r}")
    figure(model, m).savefig(path)
    return str(path)
