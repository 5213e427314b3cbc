"""Mutation gaps of the training record's reader and writer (gpubp/state.py: record, restore,
_plain, _generator, _order): a malformed history or order is a CheckpointError naming it, the
optional fields default, and a generator other than PCG64 travels as JSON."""

import json

import numpy as np
import pytest

import gpubp
from gpubp.errors import CheckpointError


def net(seed=0):
    return gpubp.Network([3, 4, 2], activation="tanh", output="sigmoid", loss="bce",
                         dtype="float64", device="cpu", seed=seed)


def data(m=23):
    rng = np.random.default_rng(1)
    return rng.normal(size=(3, m)), rng.uniform(0, 1, (2, m))


def arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def rewrite(path, **changes):
    a = arrays(path)
    a.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **a)


def edit_training(path, edit):
    record = json.loads(str(arrays(path)["training"]))
    edit(record)
    rewrite(path, training=np.array(json.dumps(record)))


@pytest.fixture
def saved(tmp_path):
    a = net()
    a.fit(*data(), epochs=2, batch_size=8, patience=3)
    a.save(tmp_path / "a")
    return a, tmp_path / "a"


@pytest.mark.parametrize("value", [3, "1.0", [1.0, "x"], [True], [None], {"e": 1.0}])
def test_a_history_that_is_not_a_list_of_numbers_is_refused(saved, value):
    _, path = saved
    edit_training(path, lambda r: r["history"].update(cost=value))
    with pytest.raises(CheckpointError, match=r"training: history\['cost'\] must be a list of "
                                              r"numbers$"):
        gpubp.load(path, device="cpu")


def test_a_history_without_cost_reads_as_no_epochs(saved):
    _, path = saved
    edit_training(path, lambda r: r.update(history={}, epoch=0))  # (epoch and costs agree)
    b = gpubp.load(path, device="cpu")
    assert b.training.history == {"cost": []} and b.training.history.epochs == 0


def test_a_watch_without_the_interrupted_flag_is_not_interrupted(saved):
    a, path = saved
    edit_training(path, lambda r: r["watch"].pop("interrupted"))
    b = gpubp.load(path, device="cpu")
    assert b.training.interrupted is False
    assert b.training.waited == a.training.waited and b.training.best == a.training.best


@pytest.mark.parametrize("order", [np.arange(23, dtype=np.float64),
                                   np.arange(23, dtype=np.int64).reshape(1, 23)])
def test_an_order_that_is_not_integers_in_one_row_is_refused(tmp_path, order):
    a = net()
    a.fit(*data(), epochs=1, batch_size=7, stop=lambda: True)
    a.save(tmp_path / "a")
    rewrite(tmp_path / "a", order=order)
    with pytest.raises(CheckpointError, match="'order' must be a permutation of 0..M-1"):
        gpubp.load(tmp_path / "a", device="cpu")


@pytest.mark.parametrize("bit_generator", [np.random.MT19937, np.random.Philox,
                                           np.random.SFC64])
def test_another_bit_generator_is_stored_as_json_and_resumes_exactly(tmp_path, bit_generator):
    """The state of MT19937 (an array) or Philox (arrays, NumPy ints) is written as plain lists
    and ints: the file holds JSON, and the resumed shuffling is the uninterrupted one's."""
    X, Y = data()
    a = net(seed=np.random.Generator(bit_generator(5)))
    a.fit(X, Y, epochs=1, batch_size=7)
    a.save(tmp_path / "a")
    record = json.loads(str(arrays(tmp_path / "a")["training"]))
    assert record["rng"]["bit_generator"] == bit_generator.__name__
    b = gpubp.load(tmp_path / "a", device="cpu")
    b.fit(X, Y, epochs=2, batch_size=7)
    c = net(seed=np.random.Generator(bit_generator(5)))
    c.fit(X, Y, epochs=3, batch_size=7)
    assert np.array_equal(b.params.flat, c.params.flat)
    assert b.training.history == c.training.history
