"""Mutation gaps of gpubp/specs.py: the caps' boundaries and the refusals of a malformed record,
each by its own message (a mutant that lets the record through fails later with another one)."""

import numpy as np
import pytest

import gpubp
from gpubp import specs
from gpubp.checkpoint import Fields
from gpubp.errors import CheckpointError


def small():
    g = gpubp.Graph(dtype="float64", device="cpu", seed=0)
    X1 = g.input("X1", 2)
    W = g.weight("W", (3, 2))
    H = g.layer("H", W @ X1, activation="tanh", bias=True)
    g.output(H, loss="half_sse")
    return g


def rebuild(edit):
    spec = small().spec()
    edit(spec)
    return gpubp.Graph.from_spec(spec, dtype="float64", device="cpu")


def test_the_caps_are_inclusive():
    f = Fields("architecture")
    # a rebuilt model has at most 100 000 inputs and layers and 2^31 parameters
    assert specs.within_caps(2 ** 31, 100_000, f) == (2 ** 31, 100_000)
    with pytest.raises(CheckpointError, match="the model has 5 parameters and 100001 inputs and "
                                              "layers; a checkpoint holds at most 2147483648 "
                                              "and 100000"):
        specs.within_caps(5, 100_001, f)
    with pytest.raises(CheckpointError, match="has 2147483649 parameters"):
        specs.within_caps(2 ** 31 + 1, 3, f)


def test_an_activation_without_a_name_is_a_missing_field():
    with pytest.raises(CheckpointError, match=r"^architecture: missing field 'name'$"):
        rebuild(lambda s: s["layers"][0]["activation"].pop("name"))
    with pytest.raises(CheckpointError, match=r"^architecture: field 'name' has the wrong type "
                                              r"\(int\): 3$"):
        rebuild(lambda s: s["layers"][0]["activation"].update(name=3))


@pytest.mark.parametrize("term", [["W", 3], [3, "X1"], ["W", "X1", "X1"], "W X1"])
def test_a_term_that_is_not_two_names_is_refused_as_such(term):
    with pytest.raises(CheckpointError, match=r"^architecture: layer 'H': a term is \[weight "
                                              r"name, input or layer name\]; got "):
        rebuild(lambda s: s["layers"][0].update(terms=[term]))


def test_an_input_without_a_symbol_or_size_takes_the_defaults():
    def drop(s):
        del s["inputs"][0]["symbol"], s["inputs"][0]["size"]

    g = rebuild(drop)
    assert g.spec() == small().spec()  # the default symbol is the name, as in the original
    assert np.array_equal(g.params.flat, small().params.flat)


@pytest.mark.parametrize("index, role, shape, words", [
    (0, "kernel", [3, 2], r"parameter 'W' is a 'kernel' of shape \(3, 2\)"),
    (1, "bias", [3, 2], r"parameter 'b_H' is a 'bias' of shape \(3, 2\)"),
])
def test_a_parameter_of_another_role_or_a_wide_bias_is_refused(index, role, shape, words):
    def edit(s):
        s["params"][index].update(role=role, shape=shape)

    with pytest.raises(CheckpointError, match=f"^architecture: {words}; expected a 'weight' or "
                                              f"a 'bias' of shape \\(n, 1\\)$"):
        rebuild(edit)


@pytest.mark.parametrize("output", ["X1", "nowhere", 3, None])
def test_an_output_that_is_not_a_layer_is_refused(output):
    with pytest.raises(CheckpointError, match=f"^architecture: output {output!r} is not a layer$"):
        rebuild(lambda s: s.update(outputs=[output]))


def test_a_listed_shape_too_big_for_int64_is_counted_not_wrapped():
    """2^33 x 2^31 = 2^64 entries: counted exactly (np.prod would wrap to 0 and pass the cap)."""
    spec = small().spec()
    spec["params"][0]["shape"] = [2 ** 33, 2 ** 31]
    with pytest.raises(CheckpointError, match=r"the model has 1844674407370955\d+ parameters"):
        gpubp.Graph.spec_counts(spec, Fields("architecture"))
