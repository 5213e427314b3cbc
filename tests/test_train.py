"""The fit loop: learning real problems, determinism, validation, early stopping, transfers."""

import numpy as np
import pytest

import gpubp
from gpubp import backend


def blobs(rng, m=200):
    """Two Gaussian blobs in 2-D, columns are examples; labels a (1, m) row."""
    y = rng.integers(0, 2, m)
    X = rng.normal(0, 0.6, (2, m)) + np.where(y == 1, 1.5, -1.5)
    return X, y.reshape(1, -1).astype(float)


def test_learns_xor(device):
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], float)
    Y = np.array([[0, 1, 1, 0]], float)
    net = gpubp.Network([2, 8, 1], activation="tanh", output="sigmoid", loss="bce", device=device, seed=0)
    history = net.fit(X, Y, epochs=300, batch_size=4, optimizer="adam", lr=0.05)
    assert history["cost"][0] > 0.5 and history["cost"][-1] < 0.05
    assert (backend.to_host(net.forward(X)) > 0.5).astype(float).tolist() == Y.tolist()


def test_learns_separable_blobs(rng):
    X, Y = blobs(rng)
    net = gpubp.Network([2, 16, 16, 1], activation="relu", device="cpu", seed=1)
    history = net.fit(X, Y, epochs=20, batch_size=16, lr=0.01)
    assert history["cost"][-1] < history["cost"][0] / 3
    assert ((net.forward(X) > 0.5) == (Y > 0.5)).mean() > 0.97


def test_full_batch_sgd_epoch_is_gradient_descent(rng):
    """With batch_size = M, one epoch of sgd is W <- W - lr dW with dW from gradients()."""
    X, Y = blobs(rng, m=30)
    net = gpubp.Network([2, 5, 1], activation="sigmoid", dtype="float64", device="cpu", seed=2)
    ref = net.copy()
    cost, g = ref.gradients(X, Y)
    history = net.fit(X, Y, epochs=1, batch_size=30, optimizer="sgd", lr=0.3, shuffle=False)
    assert history["cost"] == [pytest.approx(cost, rel=1e-13)]
    for l in (1, 2):
        np.testing.assert_allclose(net.W[l], ref.W[l] - 0.3 * g.W[l], rtol=1e-13)
        np.testing.assert_allclose(net.b[l], ref.b[l] - 0.3 * g.b[l], rtol=1e-13)


def test_epoch_cost_is_the_example_weighted_mean_of_batch_costs(rng):
    X, Y = blobs(rng, m=10)  # batches of 4, 4 and 2
    net = gpubp.Network([2, 3, 1], dtype="float64", device="cpu", seed=3)
    ref = net.copy()
    history = net.fit(X, Y, epochs=1, batch_size=4, optimizer="sgd", lr=0.1, shuffle=False)
    total = 0.0
    for s in (slice(0, 4), slice(4, 8), slice(8, 10)):
        c, g = ref.gradients(X[:, s], Y[:, s])
        total += c * (s.stop - s.start)
        for l in (1, 2):
            ref.W[l] = ref.W[l] - 0.1 * g.W[l]
            ref.b[l] = ref.b[l] - 0.1 * g.b[l]
    assert history["cost"][0] == pytest.approx(total / 10, rel=1e-13)
    np.testing.assert_allclose(net.W[1], ref.W[1], rtol=1e-12)


def test_seeded_training_is_deterministic(rng):
    X, Y = blobs(rng)
    runs = []
    for seed in (7, 7, 8):
        net = gpubp.Network([2, 6, 1], activation="tanh", device="cpu", seed=seed)
        runs.append((net.fit(X, Y, epochs=3, batch_size=8)["cost"], net.W[1].copy()))
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_validation_history(rng):
    X, Y = blobs(rng)
    Xv, Yv = blobs(rng, m=50)
    net = gpubp.Network([2, 6, 1], device="cpu", seed=0)
    h = net.fit(X, Y, epochs=4, batch_size=32, validation_data=(Xv, Yv))
    assert len(h["cost"]) == len(h["val_cost"]) == h.epochs == 4
    assert h["val_cost"][-1] == pytest.approx(net.cost(Xv, Yv), rel=1e-5)


def test_early_stopping_restores_the_best_epoch(rng):
    X, Y = blobs(rng)
    Xv, Yv = X, 1 - Y  # the better it learns the training set, the worse it does here
    net = gpubp.Network([2, 6, 1], dtype="float64", device="cpu", seed=0)
    h = net.fit(X, Y, epochs=50, batch_size=16, validation_data=(Xv, Yv), patience=2, lr=0.01)
    best = int(np.argmin(h["val_cost"]))
    assert h.epochs == best + 3  # stopped after two epochs without improvement
    assert net.cost(Xv, Yv) == pytest.approx(h["val_cost"][best], rel=1e-12)


def test_callback_can_stop(rng):
    X, Y = blobs(rng, m=20)
    net = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    h = net.fit(X, Y, epochs=10, callback=lambda epoch, history: epoch == 2)
    assert h.epochs == 3


def test_cost_crosses_to_the_host_once_per_epoch(monkeypatch, rng):
    X, Y = blobs(rng, m=100)
    net = gpubp.Network([2, 4, 1], device="cpu", seed=0)
    calls = []
    real = backend.to_host
    monkeypatch.setattr(backend, "to_host", lambda a: calls.append(1) or real(a))
    net.fit(X, Y, epochs=3, batch_size=10)  # 10 steps an epoch
    assert len(calls) == 3


def test_verbose_prints_one_line_per_epoch(rng, capsys):
    X, Y = blobs(rng, m=20)
    gpubp.Network([2, 3, 1], device="cpu", seed=0).fit(X, Y, epochs=2, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2  cost ")


@pytest.mark.parametrize("kw, match", [(dict(batch_size=0), "batch_size"), (dict(epochs=-1), "epochs"),
                                       (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
                                       (dict(lr=0), "learning rate")])
def test_bad_options(kw, match, rng):
    X, Y = blobs(rng, m=10)
    with pytest.raises(ValueError, match=match):
        gpubp.Network([2, 3, 1], device="cpu").fit(X, Y, **kw)


def test_batch_larger_than_data_and_zero_epochs(rng):
    X, Y = blobs(rng, m=5)
    net = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    assert net.fit(X, Y, epochs=0)["cost"] == []
    assert len(net.fit(X, Y, epochs=2, batch_size=100)["cost"]) == 2
