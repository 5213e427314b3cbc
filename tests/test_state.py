"""The training state (``net.training``) between fits: found missing by a mutation run of
gpubp/state.py (each test kills mutants that the other tests let live)."""

import numpy as np

import gpubp


def _data(seed=0, m=32, flip=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, m)
    X = rng.normal(0, 0.6, (2, m)) + np.where(y == 1, 1.0, -1.0)
    Y = (1 - y if flip else y).reshape(1, -1).astype(float)
    return X, Y


def _net():
    return gpubp.Network([2, 4, 1], activation="tanh", dtype="float64", device="cpu", seed=0)


def test_the_epoch_count_starts_at_zero_and_counts_every_fit():
    X, Y = _data()
    net = _net()
    net.fit(X, Y, epochs=3, batch_size=8, lr=0.1)
    assert net.training.epoch == 3 == len(net.training.history["cost"])
    net.fit(X, Y, epochs=2, batch_size=8, lr=0.1)
    assert net.training.epoch == 5 == len(net.training.history["cost"])


def test_each_completed_fit_starts_a_fresh_early_stopping_watch():
    """A second fit on other data (worse costs than the first fit's best) still keeps the best
    parameters of its own epochs: its watch does not compare with the first fit's best."""
    X, Y = _data()
    net = _net()
    net.fit(X, Y, epochs=20, batch_size=8, optimizer="adam", lr=0.05, patience=3)
    first_best = net.training.best
    Xf, Yf = _data(flip=True)  # the opposite labels: every cost of this fit is worse
    h = net.fit(Xf, Yf, epochs=4, batch_size=8, optimizer="adam", lr=0.01, patience=3)
    assert min(h["train_cost"]) > first_best
    assert net.training.best == min(h["train_cost"])
    best_epoch = int(np.argmin(h["train_cost"]))
    assert net.training.waited == len(h["train_cost"]) - 1 - best_epoch
    np.testing.assert_array_equal(net.params.flat, net.training.best_params)
    assert net.cost(Xf, Yf) == net.training.best
