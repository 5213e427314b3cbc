"""Network pictures (gpubp.picture): the geometry of the drawing, read back from matplotlib's
artists in pixels, at every size from seed 002's 2-3-2 to a 6-layer network, seed 000's shared
weight and graphs with a skip and a repeated term: every arrow runs from its source box's border
to its target box's border, no label crosses a line or a box or another label, every text fits
its box, the figure fits its content, and the title names the network."""

import numpy as np
import pytest

import gpubp
from conftest import seed_000_graph
from gpubp import picture

pytest.importorskip("matplotlib")


def _twice():
    g = gpubp.Graph(device="cpu", seed=0)
    X1 = g.input("X1", 2)
    Wx, V = g.weight("Wx", (3, 2)), g.weight("V", (1, 3))
    g.output(g.layer("Y", V @ g.layer("H", Wx @ X1 + Wx @ X1, activation="tanh")), loss="half_sse")
    return g


def _skip():
    g = gpubp.Graph(device="cpu", seed=0)
    X = g.input("X", 4)
    W1, W2, W3 = g.weight("W1", (5, 4)), g.weight("W2", (5, 5)), g.weight("W3", (5, 4))
    H1 = g.layer("H1", W1 @ X, activation="relu")
    H2 = g.layer("H2", W2 @ H1 + W3 @ X, activation="relu")
    g.output(g.layer("Y", g.weight("V", (1, 5)) @ H2), loss="half_sse")
    return g


MODELS = {
    "seed 002 (2-3-2)": lambda: gpubp.Network([2, 3, 2], activation="sigmoid", output="softmax",
                                              loss="cross_entropy", seed=0, device="cpu"),
    "seed 000 (shared Wx)": seed_000_graph,
    "digits 64-128-10": lambda: gpubp.Network([64, 128, 10], output="softmax",
                                              loss="cross_entropy", seed=0, device="cpu"),
    "6 layers": lambda: gpubp.Network([784, 512, 256, 128, 64, 32, 10], output="softmax",
                                      loss="cross_entropy", seed=0, device="cpu"),
    "9 layers": lambda: gpubp.Network([8] * 10, activation="tanh", seed=0, device="cpu"),
    "a repeated term": _twice,
    "a skip": _skip,
}


def _drawing(model):
    """``(figure, renderer, boxes, arrows, labels, texts)`` in pixels: boxes ``{name: (x0, y0,
    x1, y1)}``, arrows ``{id: (vertices (k, 2), line width)}``, labels and box texts ``{id: (x0,
    y0, x1, y1)}`` (the title's id is "title")."""
    fig = picture.figure(model, m=4)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes, arrows = {}, {}
    for patch in ax.patches:
        kind, _, rest = patch.get_gid().partition(" ")
        if kind == "box":
            (x0, y0), (x1, y1) = ax.transData.transform(
                [(patch.get_x(), patch.get_y()),
                 (patch.get_x() + patch.get_width(), patch.get_y() + patch.get_height())])
            boxes[rest] = (x0, y0, x1, y1)
        elif kind == "arrow":
            path = patch.get_transform().transform_path(patch.get_path())
            drawn = [v for v, code in path.iter_segments(simplify=False, curves=False)
                     if code != path.CLOSEPOLY]  # a closing code's vertex is a placeholder
            arrows[rest] = (np.array([v[-2:] for v in drawn]),
                            patch.get_linewidth() * fig.dpi / 72)
    labels, texts = {}, {}
    for text in ax.texts:
        kind, _, rest = text.get_gid().partition(" ")
        e = text.get_window_extent(renderer)
        (labels if kind in ("label", "title") else texts)[rest or kind] = (e.x0, e.y0, e.x1, e.y1)
    return fig, renderer, boxes, arrows, labels, texts


def _to_border(point, box):
    """The distance from ``point`` to the border of the rectangle ``box``."""
    x, y = point
    x0, y0, x1, y1 = box
    dx, dy = max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)
    if dx or dy:
        return float(np.hypot(dx, dy))
    return float(min(x - x0, x1 - x, y - y0, y1 - y))


def _ends(arrow, towards):
    """The arrow's tail and the tip of its head as drawn: its vertices furthest back and
    furthest on along its direction, the tip moved on by the stroke's mitre (matplotlib puts the
    head's vertex back so that the outline of a stroke ``lw`` wide ends at the point)."""
    v, lw = arrow
    towards = np.asarray(towards)
    along = v @ towards
    tail, tip = v[along.argmin()], v[along.argmax()]
    across = np.abs((v - tip) @ np.array([-towards[1], towards[0]]))
    base = across.argmax()  # a corner of the head's base: the half angle of its tip
    half_angle = np.arctan2(across[base], along.max() - along[base])
    return tail, tip + towards * (lw / 2) / np.sin(half_angle)


def _centre(box):
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


@pytest.fixture(params=list(MODELS), scope="module")
def drawn(request):
    model = MODELS[request.param]()
    return (model, *_drawing(model))


def test_every_term_has_an_arrow_and_a_label(drawn):
    model, _, _, boxes, arrows, labels, texts = drawn
    assert set(boxes) == set(texts) == set(model.inputs) | set(model.layers)
    terms = [(t.A.name, layer.name, t.W.name)
             for layer in model.layers.values() for t in layer.terms]
    assert len(arrows) == len(terms) == len(labels) - 1
    for key in arrows:
        assert tuple(key.split()[:3]) in terms and key in labels


def test_every_arrow_runs_from_border_to_border(drawn):
    """Its tail lies on its source box's border and the tip of its head on its target box's,
    each within a pixel (an arrow that stops short, or enters a box, fails)."""
    _, _, _, boxes, arrows, _, _ = drawn
    for key, arrow in arrows.items():
        src, dst = key.split()[:2]
        direction = _centre(boxes[dst]) - _centre(boxes[src])
        tail, tip = _ends(arrow, direction / np.linalg.norm(direction))
        assert _to_border(tail, boxes[src]) <= 1.0, (key, tail, boxes[src])
        assert _to_border(tip, boxes[dst]) <= 1.0, (key, tip, boxes[dst])


def _crosses(p, q, box):
    return picture.segment_hits_box(p, q, box)


def test_no_arrow_crosses_a_box_or_a_label(drawn):
    """An arrow's line meets no box but its two ends' (shrunk by a pixel there), and no label or
    title."""
    _, _, _, boxes, arrows, labels, _ = drawn
    for key, arrow in arrows.items():
        src, dst = key.split()[:2]
        direction = _centre(boxes[dst]) - _centre(boxes[src])
        tail, tip = _ends(arrow, direction / np.linalg.norm(direction))
        for name, box in boxes.items():
            if name not in (src, dst):
                assert not _crosses(tail, tip, box), (key, name)
        for other, box in labels.items():
            assert not _crosses(tail, tip, box), (key, "crosses the label", other)


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_texts_and_boxes_do_not_overlap(drawn):
    """No label (or the title) overlaps a box or another label; every box's text lies inside its
    box."""
    _, _, _, boxes, _, labels, texts = drawn
    names = list(labels)
    for i, a in enumerate(names):
        for name, box in boxes.items():
            assert not _overlap(labels[a], box), (a, name)
        for b in names[i + 1:]:
            assert not _overlap(labels[a], labels[b]), (a, b)
    for name, (x0, y0, x1, y1) in texts.items():
        bx = boxes[name]
        assert bx[0] < x0 and x1 < bx[2] and bx[1] < y0 and y1 < bx[3], name


def test_the_figure_fits_its_content(drawn):
    """Every artist inside the figure and a tenth of an inch from its edges at least, the empty
    margin on each side at most a third of an inch, the aspect between 1:2 and 4.5:1, and not
    wider than 11 inches (a 6-layer network goes on in a second band); the text stays at its
    size, never shrunk to fit."""
    _, fig, renderer, boxes, arrows, labels, texts = drawn
    W, H = fig.canvas.get_width_height()
    extents = list(boxes.values()) + list(labels.values()) + [
        (v[:, 0].min(), v[:, 1].min(), v[:, 0].max(), v[:, 1].max())
        for v, _ in arrows.values()]
    x0, y0 = min(e[0] for e in extents), min(e[1] for e in extents)
    x1, y1 = max(e[2] for e in extents), max(e[3] for e in extents)
    assert min(x0, y0, W - x1, H - y1) >= fig.dpi / 10, ((x0, y0, x1, y1), (W, H))
    margin = fig.dpi / 3
    assert max(x0, W - x1, y0, H - y1) <= margin, ((x0, y0, x1, y1), (W, H))
    assert 0.5 <= W / H <= 4.5, (W, H)
    assert W <= 11 * fig.dpi
    assert all(t.get_fontsize() >= 9 for t in fig.axes[0].texts)


@pytest.mark.parametrize("name, words", [
    ("seed 002 (2-3-2)", ["Network 2-3-2", "sigmoid hidden", "softmax output", "cross_entropy"]),
    ("6 layers", ["784-512-256-128-64-32-10", "relu hidden", "softmax output"]),
    ("seed 000 (shared Wx)", ["inputs X1, X2", "layers H1, H2, Y_hat", "half_sse",
                              "shared: Wx (used 2 times)"]),
])
def test_the_title_names_the_network(name, words):
    title = picture.title(MODELS[name]())
    for w in words:
        assert w in title, (w, title)


def test_a_six_layer_network_is_drawn_in_two_bands_right_to_left_below():
    """Columns 0-3 left to right, then 4-6 right to left under them: the arrow from A[3] to A[4]
    goes straight down."""
    _, _, boxes, _, _, _ = _drawing(MODELS["6 layers"]())
    cx = {name: _centre(box)[0] for name, box in boxes.items()}
    cy = {name: _centre(box)[1] for name, box in boxes.items()}
    row1 = ["X"] + [f"A[{k}]" for k in range(1, 4)]
    row2 = [f"A[{k}]" for k in range(4, 7)]
    assert all(cx[a] < cx[b] for a, b in zip(row1, row1[1:]))
    assert all(cx[a] > cx[b] for a, b in zip(row2, row2[1:]))
    assert abs(cx["A[3]"] - cx["A[4]"]) < 1 and min(cy[n] for n in row1) > max(cy[n] for n in row2)
