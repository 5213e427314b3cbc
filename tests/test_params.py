"""Named parameters in one flat buffer; networks that pickle and deep-copy with their state."""

import copy
import pickle

import numpy as np
import pytest

import gpubp
from gpubp.errors import NameNotFound, ShapeError


def _net(**kw):
    kw.setdefault("device", "cpu")
    return gpubp.Network([3, 4, 2], activation="tanh", output="sigmoid", loss="bce", seed=0, **kw)


def _data(rng, m=10):
    return rng.normal(size=(3, m)), rng.uniform(size=(2, m))


def test_parameters_are_views_of_one_flat_buffer():
    net = _net()
    assert list(net.params) == ["W[1]", "b[1]", "W[2]", "b[2]"]
    assert net.params.flat.shape == (4 * 3 + 4 + 2 * 4 + 2,)
    for name, p in net.params.items():
        assert np.shares_memory(p, net.params.flat), name
    net.params.flat[:] = np.arange(net.params.flat.size)
    assert net.W[1][0, 1] == 1 and net.b[1][0, 0] == 12 and net.W[2][0, 0] == 16
    assert net.grads.layout == net.params.layout


def test_setting_a_parameter_copies_into_the_buffer_and_checks_the_shape():
    net = _net()
    live = net.params["W[2]"]
    net.params["W[2]"] = np.ones((2, 4))
    assert net.params["W[2]"] is live and live.sum() == 8 and net.W[2].sum() == 8
    with pytest.raises(ShapeError, match=r"W\[2\] must be \(2, 4\); got \(4, 2\)"):
        net.params["W[2]"] = np.ones((4, 2))
    with pytest.raises(NameNotFound, match="the parameters are: W\\[1\\], b\\[1\\]"):
        net.params["W[3]"]


@pytest.mark.parametrize("dtype", ["float32", "f4", np.float32, np.dtype("float32"),
                                   "float64", "f8", np.float64, float])
def test_every_spelling_of_the_two_dtypes(dtype):
    net = _net(dtype=dtype)
    assert net.params.flat.dtype == np.dtype(dtype) and net.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float16", np.int32, "banana", None])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        _net(dtype=dtype)


@pytest.mark.parametrize("clone", [lambda n: pickle.loads(pickle.dumps(n)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_a_trained_network_clones_with_its_training_state(clone, rng):
    """A clone computes the same outputs, its views share its own buffer, and training it further
    gives, to the last bit, what training the original further gives."""
    X, Y = _data(rng, 40)
    net = _net()
    net.fit(X, Y, epochs=2, batch_size=8)
    other = clone(net)
    np.testing.assert_array_equal(other.forward(X), net.forward(X))
    for name, p in other.params.items():
        assert np.shares_memory(p, other.params.flat) and not np.shares_memory(p, net.params.flat)
    assert other.training.optimizer.params[0] is other.params.flat
    net.fit(X, Y, epochs=2, batch_size=8)
    other.fit(X, Y, epochs=2, batch_size=8)
    for name in net.params:
        np.testing.assert_array_equal(other.params[name], net.params[name])


def test_graphs_and_rnns_pickle(rng):
    rnn = gpubp.ElmanRNN(n_x=2, n_h=3, n_y=1, T=3, device="cpu", seed=0)
    X = rng.normal(size=(3, 2, 5))
    again = pickle.loads(pickle.dumps(rnn))
    np.testing.assert_array_equal(again.forward(X), rnn.forward(X))
    assert repr(again) == repr(rnn)
