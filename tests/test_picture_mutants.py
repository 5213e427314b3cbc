"""Mutation gaps of gpubp/picture.py: where the columns put each box (the geometry tests check
that nothing overlaps, which a box in the wrong column or row still satisfies): an input stands
just left of its first reader, a skip's source goes in the first row under the columns it
passes, and a network reads left to right."""

import numpy as np
import pytest

import gpubp
from conftest import seed_000_graph
from test_picture import MODELS, _drawing

pytest.importorskip("matplotlib")


def centres(model):
    boxes = _drawing(model)[2]
    return {name: np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) for name, b in boxes.items()}


def test_a_network_reads_left_to_right_in_one_row():
    c = centres(MODELS["seed 002 (2-3-2)"]())
    assert c["X"][0] < c["A[1]"][0] < c["A[2]"][0]
    assert c["X"][1] == pytest.approx(c["A[1]"][1]) == pytest.approx(c["A[2]"][1])


def test_an_input_stands_just_left_of_its_first_reader():
    """Seed 000: X2 is read first by H2, so it stands in H1's column (under H1), not with X1."""
    c = centres(seed_000_graph())
    assert c["X2"][0] == pytest.approx(c["H1"][0])
    assert c["X1"][0] < c["H1"][0] < c["H2"][0] < c["Y_hat"][0]
    assert c["X2"][1] < c["H1"][1], "under H1 (pixels: y up)"


def _skip_two_outputs():
    """X is read by H1 and, two columns on, by H2; X0 by H1 alone; two outputs Y1, Y2."""
    g = gpubp.Graph(device="cpu", seed=0)
    X0, X = g.input("X0", 4), g.input("X", 4)
    W1, W4 = g.weight("W1", (5, 4)), g.weight("W4", (5, 4))
    W2, W3 = g.weight("W2", (5, 5)), g.weight("W3", (5, 4))
    H1 = g.layer("H1", W1 @ X0 + W4 @ X, activation="relu")
    H2 = g.layer("H2", W2 @ H1 + W3 @ X, activation="relu")
    Y1 = g.layer("Y1", g.weight("V1", (1, 5)) @ H2)
    Y2 = g.layer("Y2", g.weight("V2", (1, 5)) @ H2)
    g.output([Y1, Y2], loss="half_sse")
    return g


def test_a_skips_source_goes_in_the_first_row_under_the_columns_it_passes():
    """X's arrow to H2 passes H1's column (one box): X goes in row 1 of its column, under X0 and
    level with Y2 (row 1 of the last column), not level with X0 nor further down."""
    c = centres(_skip_two_outputs())
    assert c["X"][0] == pytest.approx(c["X0"][0])
    assert c["X0"][1] == pytest.approx(c["H1"][1]) == pytest.approx(c["Y1"][1])
    assert c["X"][1] == pytest.approx(c["Y2"][1]) and c["X"][1] < c["X0"][1]


def test_each_box_says_what_it_is():
    """An input's box: its symbol, shape and "input"; a layer's: its activation and bias; an
    output's: its loss too (and no other box names the loss)."""
    from gpubp import picture

    ax = picture.figure(MODELS["seed 002 (2-3-2)"](), m=4).axes[0]
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    assert texts["text X"] == "A[0]\n(2, 4)\ninput"
    assert texts["text A[1]"] == "A[1]\n(3, 4)\nsigmoid + b[1]"
    assert texts["text A[2]"] == "A[2]\n(2, 4)\nsoftmax + b[2]\nloss cross_entropy"


@pytest.mark.parametrize("p, q, hits", [
    ((-1.0, 0.5), (2.0, 0.5), True),     # straight through
    ((0.5, 0.5), (2.0, 0.5), True),      # from inside out
    ((-3.0, 0.5), (-1.0, 0.5), False),   # ends before the box
    ((2.0, 0.5), (3.0, 0.5), False),     # starts after it
    ((0.5, -1.0), (0.5, 2.0), True),     # vertical, through
    ((2.0, -1.0), (2.0, 2.0), False),    # vertical, beside it
    ((0.0, -1.0), (0.0, 2.0), True),     # vertical, along the left border: touching meets
    ((1.0, -1.0), (1.0, 2.0), True),     # along the right border
    ((-1.0, 1.0), (1.0, -1.0), True),    # through the corner (0, 0) only: t0 = t1 = 0.5
    ((-1.0, 0.5), (0.5, -1.0), False),   # x + y = -0.5 passes the corner by
    ((-1.0, 0.0), (2.0, 0.0), True),     # along the bottom border
    ((-1.0, -0.5), (2.0, -0.5), False),  # horizontal, under it
])
def test_segment_hits_box_worked_by_hand(p, q, hits):
    """Liang-Barsky on the unit box (0, 0, 1, 1): each case worked by hand."""
    from gpubp.picture import segment_hits_box

    assert segment_hits_box(p, q, (0.0, 0.0, 1.0, 1.0)) is hits
    assert segment_hits_box(q, p, (0.0, 0.0, 1.0, 1.0)) is hits


def _crowded():
    """Three inputs into one layer, one of them also two columns on, a shared weight and two
    outputs: many labels near many boxes."""
    g = gpubp.Graph(device="cpu", seed=0)
    A, B, C = g.input("A", 3), g.input("B", 3), g.input("C", 3)
    W = g.weight("W", (3, 3))
    H1 = g.layer("H1", W @ A + g.weight("U", (3, 3)) @ B + g.weight("P", (3, 3)) @ C,
                 activation="tanh")
    H2 = g.layer("H2", W @ H1 + g.weight("Q", (3, 3)) @ C, activation="tanh")
    Y1 = g.layer("Y1", g.weight("V1", (1, 3)) @ H2 + g.weight("R", (1, 3)) @ H1)
    Y2 = g.layer("Y2", g.weight("V2", (1, 3)) @ H2)
    g.output([Y1, Y2], loss="half_sse")
    return g


GEOMETRY = ("test_every_term_has_an_arrow_and_a_label", "test_every_arrow_runs_from_border_to_border",
            "test_no_arrow_crosses_a_box_or_a_label", "test_labels_texts_and_boxes_do_not_overlap",
            "test_the_figure_fits_its_content")


@pytest.mark.parametrize("make, check", [
    (make, check) for make in (_skip_two_outputs, _crowded) for check in GEOMETRY
    if (make, check) != (_crowded, "test_no_arrow_crosses_a_box_or_a_label")])
def test_the_geometry_holds_for_skips_and_crowds(make, check):
    """The geometry tests of test_picture.py on two more graphs, where a label beside its arrow
    would land on a box unless the placing checks the boxes as well as the lines."""
    import test_picture as tp

    model = make()
    getattr(tp, check)((model, *_drawing(model)))


@pytest.mark.xfail(strict=True, reason="picture's layout: in _crowded, C's arrow to H2 (C read by "
                   "H1 and, a column on, by H2; C in row 2 under A, B) runs diagonally up through "
                   "H1's box; the skip rule puts a source under the columns it passes, but the "
                   "line to a target in row 0 still crosses them (found 2026-12-04, not fixed)")
def test_a_skip_from_a_low_row_does_not_cross_the_box_it_passes():
    import test_picture as tp

    model = _crowded()
    tp.test_no_arrow_crosses_a_box_or_a_label((model, *_drawing(model)))


def test_arrow_ids_are_numbered_only_where_a_term_repeats():
    arrows = set(_drawing(MODELS["a skip"]())[3])
    assert arrows == {"X H1 W1", "H1 H2 W2", "X H2 W3", "H2 Y V"}
    arrows = set(_drawing(MODELS["a repeated term"]())[3])
    assert arrows == {"X1 H Wx (1)", "X1 H Wx (2)", "H Y V"}


def test_draw_returns_the_path_it_wrote(tmp_path):
    from gpubp import picture

    path = tmp_path / "net.svg"
    assert picture.draw(MODELS["seed 002 (2-3-2)"](), path) == str(path)
    assert path.read_bytes().startswith(b"<?xml")


def test_an_input_nobody_reads_stands_with_the_first_inputs():
    g = gpubp.Graph(device="cpu", seed=0)
    X, U = g.input("X", 2), g.input("U", 2)
    H = g.layer("H", g.weight("W", (3, 2)) @ X, activation="tanh")
    g.output(g.layer("Y", g.weight("V", (1, 3)) @ H), loss="half_sse")
    c = centres(g)
    assert c["U"][0] == pytest.approx(c["X"][0]) and c["X"][0] < c["H"][0] < c["Y"][0]


def test_a_third_band_reads_left_to_right_again():
    """Ten columns (9 layers): X-A[3] left to right, A[4]-A[7] right to left below, A[8]-A[9]
    left to right below those, starting under X (a snake)."""
    c = centres(MODELS["9 layers"]())
    x = {name: v[0] for name, v in c.items()}
    y = {name: v[1] for name, v in c.items()}
    assert x["A[8]"] < x["A[9]"] and x["A[8]"] == pytest.approx(x["X"])
    assert x["A[7]"] == pytest.approx(x["A[8]"]) and x["A[4]"] > x["A[5]"] > x["A[6]"] > x["A[7]"]
    assert y["A[8]"] == pytest.approx(y["A[9]"]) and y["A[8]"] < y["A[7]"] < y["A[3]"]


def test_neighbouring_columns_keep_the_gap_their_labels_need():
    """Each slot is as wide as its widest box over all bands, so two neighbouring boxes of a band
    are at least the gap apart: max(GAP, the widest label + 2 CLEAR + 0.2 in). In 9 layers the
    output A[9] (wider: it names its loss) shares a slot with A[1] and A[6]."""
    from gpubp import picture

    fig, _, boxes, _, labels, _ = _drawing(MODELS["9 layers"]())
    widest = max(b[2] - b[0] for name, b in labels.items() if name != "title") / fig.dpi
    gap = max(picture.GAP, widest + 2 * picture.CLEAR + 0.2) * fig.dpi
    bands = [["X", "A[1]", "A[2]", "A[3]"], ["A[7]", "A[6]", "A[5]", "A[4]"], ["A[8]", "A[9]"]]
    gaps = [boxes[b][0] - boxes[a][2] for band in bands for a, b in zip(band, band[1:])]
    assert min(gaps) >= gap - 1, (gaps, gap)
    assert min(gaps) <= gap + 1, "some neighbours are exactly the gap apart"
