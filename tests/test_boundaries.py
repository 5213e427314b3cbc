"""Boundaries, each on the side the documentation puts it (issue 19's surviving mutants): the
0.5 of a sigmoid output, 20 integer labels, a small class in a held-out split, beta1 = 1, an
equal cost under early stopping, fit's seed on a trained network, layouts' order, activation
tuples, a network without biases."""

import numpy as np
import pytest

import gpubp
from gpubp import datasets, optim
from gpubp.errors import ConfigError
from gpubp.params import Layout


def test_a_sigmoid_output_of_exactly_one_half_is_class_0():
    net = gpubp.Network([2, 3, 1], activation="tanh", output="sigmoid", loss="bce",
                        device="cpu", dtype="float64", seed=0)
    net.W[2] = np.zeros((1, 3))                     # Z[2] = 0: A[2] = 0.5 exactly
    X = np.ones((2, 4))
    assert (net.forward(X) == 0.5).all()
    assert net.predict(X).tolist() == [0, 0, 0, 0]  # "A > 0.5" is class 1
    assert datasets.decode(np.full((1, 2), 0.5), ["no", "yes"]) == ["no", "no"]
    assert datasets.decode(np.full((1, 1), np.nextafter(0.5, 1)), ["no", "yes"]) == ["yes"]


@pytest.mark.parametrize("distinct, task", [(datasets.MAX_CLASSES, "multiclass"),
                                            (datasets.MAX_CLASSES + 1, "regression")])
def test_integer_targets_up_to_max_classes_are_labels(distinct, task, tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"{i * 0.5},{i % distinct}" for i in range(3 * distinct)]
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    assert datasets.load(str(path), target="y").task == task


def test_a_held_out_split_keeps_one_example_of_a_small_class_for_training():
    y = np.array(["a", "a", "b", "b", "b", "b", "b", "b", "b", "b"])
    ds = datasets.Dataset(np.arange(10.0)[:, None], y, "binary", ["x"], classes=["a", "b"])
    train, held = datasets.split(ds, fraction=0.9, seed=0)
    assert sorted(set(y[train])) == ["a", "b"] and sorted(set(y[held])) == ["a", "b"]
    assert len(train) + len(held) == 10 and not set(train) & set(held)


@pytest.mark.parametrize("hyper", [{"beta1": 1.0}, {"beta2": 1.0}, {"beta1": -0.1}])
def test_adam_refuses_betas_outside_0_to_1(hyper):
    with pytest.raises(ConfigError, match="0 <= beta1, beta2 < 1"):
        optim.Adam(1e-3, **hyper)
    optim.Adam(1e-3, beta1=0.0, beta2=0.0)          # the closed end is allowed


def test_early_stopping_does_not_count_an_equal_cost_as_an_improvement():
    """A rate so small that float32 parameters never move: every epoch's validation cost is the
    same number, so with patience 2 the run stops after 3 epochs (1 best + 2 without gain)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 20)), rng.uniform(size=(1, 20))
    net = gpubp.Network([3, 4, 1], activation="tanh", device="cpu", seed=0)
    h = net.fit(X, Y, epochs=10, optimizer="sgd", lr=1e-30, patience=2, validation_data=(X, Y))
    assert len(set(h["val_cost"])) == 1
    assert len(h["cost"]) == 3


def test_fit_reseeds_the_shuffling_of_a_trained_network():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 40)), rng.uniform(size=(1, 40))

    def trained(*seeds):
        net = gpubp.Network([3, 4, 1], activation="tanh", device="cpu", seed=0)
        net.fit(X, Y, epochs=1, batch_size=8)
        for s in seeds:
            net.fit(X, Y, epochs=1, batch_size=8, seed=s)
        return net.params.flat.copy()

    assert np.array_equal(trained(3), trained(3))
    assert not np.array_equal(trained(3), trained(4))
    assert not np.array_equal(trained(3, 5), trained(4, 5))  # the seed-3 epoch already differs


def test_layouts_are_equal_only_in_the_same_order():
    a = Layout([("W[1]", (2, 3)), ("b[1]", (2, 1))])
    assert a == Layout([("W[1]", (2, 3)), ("b[1]", (2, 1))])
    assert a != Layout([("b[1]", (2, 1)), ("W[1]", (2, 3))])
    assert a != Layout([("W[1]", (3, 2)), ("b[1]", (2, 1))])


def test_a_tuple_of_activation_names_is_a_list_of_them():
    kw = dict(device="cpu", dtype="float64", seed=0)
    a = gpubp.Network([2, 3, 3, 1], activation=("relu", "tanh"), **kw)
    b = gpubp.Network([2, 3, 3, 1], activation=["relu", "tanh"], **kw)
    assert [l.activation.name for l in a.layers.values()][:2] == ["relu", "tanh"]
    X = np.random.default_rng(1).normal(size=(2, 5))
    assert np.array_equal(a.forward(X), b.forward(X))


def test_a_network_without_biases_has_no_bias_gradients():
    net = gpubp.Network([2, 3, 1], bias=False, device="cpu", dtype="float64", seed=0)
    cost, grads = net.gradients(np.ones((2, 3)), np.ones((1, 3)))
    assert grads.b is None and sorted(grads) == ["W[1]", "W[2]"]


@pytest.mark.parametrize("dtype, off, ok", [("float64", 1e-6, False), ("float64", 1e-11, True),
                                            ("float32", 1e-4, True), ("float32", 1e-2, False)])
def test_a_cross_entropy_target_column_sums_to_1_within_its_dtypes_tolerance(dtype, off, ok):
    """float64 labels are held to 1e-9 (float32's 1e-3 would let 1e-6 through)."""
    net = gpubp.Network([2, 3], output="softmax", loss="cross_entropy", device="cpu",
                        dtype=dtype, seed=0)
    Y = np.eye(3)[:, [0, 1, 2, 0]]
    Y[:, 1] = [0.5 + off, 0.5, 0.0]
    X = np.ones((2, 4))
    if ok:
        assert np.isfinite(net.cost(X, Y))
    else:
        with pytest.raises(gpubp.DataError, match="column 1 sums to"):
            net.cost(X, Y)
