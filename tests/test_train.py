"""The fit loop: learning real problems, determinism, validation, early stopping, transfers."""

import warnings

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


@pytest.mark.parametrize("kw, match", [(dict(batch_size=0), "batch_size"), (dict(batch_size=2.5), "batch_size"),
                                       (dict(epochs=-1), "epochs"),
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


# ---- the training state: owned by the network, continued by a second fit --------------------

def _same_params(a, b):
    return all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_two_fits_continue_as_one(opt, rng):
    """fit(2 epochs) then fit(3 epochs) is fit(5 epochs): the same optimizer moments and the
    next shuffles, to the last bit."""
    X, Y = blobs(rng, m=50)
    once = gpubp.Network([2, 5, 1], activation="tanh", device="cpu", seed=3)
    twice = once.copy()
    h = once.fit(X, Y, epochs=5, batch_size=8, optimizer=opt)
    h1 = twice.fit(X, Y, epochs=2, batch_size=8, optimizer=opt)
    h2 = twice.fit(X, Y, epochs=3, batch_size=8, optimizer=opt)
    assert h1["cost"] + h2["cost"] == h["cost"]
    assert _same_params(once, twice)
    assert twice.training.epoch == 5 and twice.training.history["cost"] == h["cost"]


def test_an_optimizer_belongs_to_one_network(rng):
    X, Y = blobs(rng, m=20)
    a = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    b = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    opt = gpubp.optim.Adam(1e-2)
    a.fit(X, Y, epochs=1, optimizer=opt)
    b.fit(X, Y, epochs=1)
    own = b.training.optimizer
    with pytest.raises(gpubp.GpubpError, match="holds the state of other parameters"):
        b.fit(X, Y, epochs=1, optimizer=opt)
    assert b.training.optimizer is own  # the refusal left b's own state alone
    b.fit(X, Y, epochs=1)
    assert own.t == 2  # two epochs of one batch each (20 examples, batch_size 32), on its own moments


def test_seed_changes_the_shuffle_and_fixes_it(rng):
    X, Y = blobs(rng, m=40)
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        net = gpubp.Network([2, 4, 1], device="cpu", seed=0)  # same initial weights
        net.fit(X, Y, epochs=2, batch_size=8, optimizer="sgd", lr=0.1, seed=seed)
        runs[name] = net
    assert _same_params(runs["a"], runs["b"])
    assert not _same_params(runs["a"], runs["c"])


def test_fit_takes_every_seed_a_network_takes(rng, tmp_path):
    """fit's seed is checked as a network's (gpubp.checks.check_seed): a NumPy integer, a
    SeedSequence and a Generator seed the shuffling as the int they come from, and the
    training state then saves and loads as any other."""
    X, Y = blobs(rng, m=40)
    runs = {}
    for name, seed in (("int", 5), ("np.int64", np.int64(5)), ("Generator", np.random.default_rng(5)),
                       ("SeedSequence", np.random.SeedSequence(5)), ("other", 6)):
        net = gpubp.Network([2, 4, 1], device="cpu", seed=0)
        net.fit(X, Y, epochs=2, batch_size=8, optimizer="sgd", lr=0.1, seed=seed)
        runs[name] = net
    for name in ("np.int64", "Generator", "SeedSequence"):
        assert _same_params(runs["int"], runs[name]), name
    assert not _same_params(runs["int"], runs["other"])
    runs["Generator"].save(tmp_path / "m.npz")
    back = gpubp.load(tmp_path / "m.npz")
    runs["Generator"].fit(X, Y, epochs=1, batch_size=8)
    back.fit(X, Y, epochs=1, batch_size=8)
    assert _same_params(runs["Generator"], back)


def test_shuffle_draws_a_new_order_every_epoch(rng):
    """Two epochs of sgd equal a loop by hand over two different permutations of the same rng."""
    X, Y = blobs(rng, m=12)
    net = gpubp.Network([2, 3, 1], dtype="float64", device="cpu", seed=0)
    ref = net.copy()
    net.fit(X, Y, epochs=2, batch_size=4, optimizer="sgd", lr=0.5, seed=9)
    order_rng = np.random.default_rng(9)
    for _ in range(2):
        order = order_rng.permutation(12)
        for s in range(0, 12, 4):
            idx = order[s:s + 4]
            _, g = ref.gradients(X[:, idx], Y[:, idx])
            for k in ref.params:
                ref.params[k] = ref.params[k] - 0.5 * g[k]
    for k in net.params:
        np.testing.assert_allclose(net.params[k], ref.params[k], rtol=1e-12)


def test_momentum_default_learning_rate(rng):
    X, Y = blobs(rng, m=16)
    a = gpubp.Network([2, 3, 1], dtype="float64", device="cpu", seed=0)
    b = a.copy()
    a.fit(X, Y, epochs=2, batch_size=16, optimizer="momentum")
    b.fit(X, Y, epochs=2, batch_size=16, optimizer=gpubp.optim.Momentum(0.01))
    assert gpubp.optim.get("momentum").lr == 0.01 and _same_params(a, b)


def test_min_delta_asks_for_a_decrease_larger_than_it(rng):
    X, Y = blobs(rng)
    Xv, Yv = blobs(rng, m=50)
    strict = gpubp.Network([2, 6, 1], device="cpu", seed=0)
    h = strict.fit(X, Y, epochs=20, batch_size=16, validation_data=(Xv, Yv), patience=2, min_delta=10.0)
    assert h.epochs == 3  # no decrease is larger than 10: the first epoch stays the best
    loose = gpubp.Network([2, 6, 1], device="cpu", seed=0)
    h = loose.fit(X, Y, epochs=8, batch_size=16, validation_data=(Xv, Yv), patience=2, min_delta=0.0)
    assert h.epochs == 8 and all(np.diff(h["val_cost"]) < 0)


def test_early_stopping_on_the_training_cost_restores_what_it_measured(rng):
    """Without validation data, early stopping watches the cost of all the training data after
    each epoch, and the parameters it restores have exactly the best of those costs."""
    X, _ = blobs(rng, m=60)
    Y = rng.integers(0, 2, (1, 60)).astype(float)  # labels at random: the cost bounces
    net = gpubp.Network([2, 8, 1], dtype="float64", device="cpu", seed=0)
    h = net.fit(X, Y, epochs=40, batch_size=4, optimizer="sgd", lr=3.0, patience=3)
    best = int(np.argmin(h["train_cost"]))
    assert h.epochs == best + 4, "stopped three epochs after the best"
    assert net.cost(X, Y) == pytest.approx(h["train_cost"][best], rel=1e-12)
    assert h["train_cost"][best] != pytest.approx(h["cost"][best], rel=1e-3)


def test_nan_in_validation_data_is_named_as_such(rng):
    X, Y = blobs(rng, m=10)
    Xv = X.copy()
    Xv[1, 3] = np.nan
    with pytest.raises(gpubp.DataError, match=r"validation X contains 1 NaN.*row 1, column 3"):
        gpubp.Network([2, 3, 1], device="cpu").fit(X, Y, validation_data=(Xv, Y))


@pytest.mark.parametrize("out, loss", [("softmax", "cross_entropy"), ("identity", "mse"),
                                       ("identity", "half_sse"), ("sigmoid", "bce"),
                                       ("sigmoid", "mse"), ("tanh", "sse")])
def test_fits_loop_allocates_no_batch_sized_temporary(out, loss, rng):
    """The real fit loop, cost included: between the end of epoch 1 and the end of epoch 3 the
    peak of new memory stays below half the smallest (n, m) batch array (an epoch's permutation,
    M int64s, is the largest thing it makes, twice for a moment as the next replaces it; NumPy's
    own ufunc buffer, 8192 elements, is below the bound too)."""
    import tracemalloc
    m, M = 4096, 8192
    net = gpubp.Network([32, 64, 48, 32], activation="relu", output=out, loss=loss, device="cpu",
                        seed=0)
    X = np.asfortranarray(rng.normal(size=(32, M)).astype(np.float32))
    Y = (np.eye(32, dtype=np.float32)[:, rng.integers(0, 32, M)] if loss == "cross_entropy"
         else rng.uniform(size=(32, M)).astype(np.float32) if out == "sigmoid"
         else rng.normal(size=(32, M)).astype(np.float32))
    seen = {}

    def callback(epoch, history):
        if epoch == 0:
            tracemalloc.start()
            seen["base"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        elif epoch == 2:
            seen["current"], seen["peak"] = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    try:
        net.fit(X, Y, epochs=3, batch_size=m, optimizer="adam", callback=callback)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    smallest = 4 * 32 * m
    assert seen["peak"] - seen["base"] < smallest // 2, f"{seen['peak'] - seen['base']} bytes"
    assert seen["current"] - seen["base"] < 8 * M + 4096  # the epoch's order, still in hand


def test_finite_data_whose_sum_overflows_is_accepted_and_an_inf_is_named(rng):
    """The finite check sums first (no temporary); a sum that overflows on finite data must not
    be taken for a bad value, and an infinity must still be found and placed."""
    X, Y = blobs(rng, m=10)
    X = X.astype(np.float32)
    X[0, :] = 3e38  # finite in float32; the sum of a row of them is inf
    with np.errstate(over="ignore"):
        assert not np.isfinite(X.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a warning about the overflow
        gpubp.Network([2, 3, 1], device="cpu", dtype="float32").check_inputs(X)
    X[1, 4] = -np.inf
    with pytest.raises(gpubp.DataError, match=r"X contains 1 NaN or Inf.*row 1, column 4"):
        gpubp.Network([2, 3, 1], device="cpu", dtype="float32").check_inputs(X)


# ---- a refused or interrupted fit leaves the training state as it can go on from ------------------

@pytest.mark.parametrize("kw", [{"optimizer": "sgd"}, {"lr": 0.5}, {"seed": 7}, {"l2": -1.0},
                                {"optimizer": "adam", "lr": 0.0}])
def test_a_refused_fit_changes_nothing_in_the_training_state(kw, rng):
    X, Y = blobs(rng, m=40)
    net = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    net.fit(X, Y, epochs=1, batch_size=8, optimizer="adam", stop=lambda: True)  # mid-epoch
    opt, rng_state = net.training.optimizer, net.training.rng.bit_generator.state
    moments = [s.copy() for s in opt.state[0]]
    with pytest.raises(ValueError):
        net.fit(X[:, :30], Y[:, :30], epochs=1, batch_size=8, **kw)  # other data, or a bad option
    assert net.training.optimizer is opt and opt.t == 1 and opt.lr == 1e-3
    assert all(np.array_equal(a, b) for a, b in zip(opt.state[0], moments))
    assert net.training.rng.bit_generator.state == rng_state
    assert net.training.mid_epoch and net.training.position == 8


def test_an_interrupt_inside_an_epoch_goes_on_from_the_batch_that_did_not_finish(rng):
    """A KeyboardInterrupt after the 3rd batch: the next fit runs the rest of that epoch once,
    as one uninterrupted fit would; discard_epoch() lets other data in."""
    X, Y = blobs(rng, m=40)
    once = gpubp.Network([2, 3, 1], device="cpu", seed=0)
    broken = once.copy()
    h = once.fit(X, Y, epochs=2, batch_size=8)

    def interrupt_at(n):
        calls = iter(range(100))

        def stop():
            if next(calls) == n:
                raise KeyboardInterrupt
            return False
        return stop

    with pytest.raises(KeyboardInterrupt):
        broken.fit(X, Y, epochs=2, batch_size=8, stop=interrupt_at(2))  # asked after batch 3
    assert broken.training.mid_epoch and broken.training.position == 24
    broken.fit(X, Y, epochs=2, batch_size=8)  # the rest of epoch 1, then epoch 2
    assert broken.training.history["cost"] == h["cost"]
    assert _same_params(once, broken)

    with pytest.raises(KeyboardInterrupt):
        broken.fit(X, Y, epochs=1, batch_size=8, stop=interrupt_at(0))
    with pytest.raises(ValueError, match=r"discard_epoch\(\)"):
        broken.fit(X[:, :30], Y[:, :30], epochs=1, batch_size=8)
    broken.training.discard_epoch()
    broken.fit(X[:, :30], Y[:, :30], epochs=1, batch_size=8)  # other data: accepted now
    assert not broken.training.mid_epoch and broken.training.epoch == 3


def test_a_stop_at_the_end_of_an_epoch_keeps_the_early_stopping_watch(rng):
    """fit stopped by ``stop`` after an epoch's last batch, then fit again: the same epochs,
    history and parameters as one fit (patience counts on across the stop)."""
    X, Xv = rng.normal(size=(2, 40)), rng.normal(size=(2, 20))  # labels that are noise:
    Y, Yv = rng.integers(0, 2, (1, 40)) * 1.0, rng.integers(0, 2, (1, 20)) * 1.0  # it overfits
    once = gpubp.Network([2, 8, 1], device="cpu", seed=0)
    split = once.copy()
    kw = dict(batch_size=8, optimizer="adam", lr=0.2, validation_data=(Xv, Yv), patience=2)
    h = once.fit(X, Y, epochs=30, **kw)
    assert 3 < len(h["cost"]) < 30  # early stopping fired, after epoch 3
    asked = iter(range(1000))
    # stop is asked after each batch but the last of an epoch, and after each epoch: 5 an epoch
    split.fit(X, Y, epochs=30, stop=lambda: next(asked) == 5 * 3 - 1, **kw)  # after epoch 3
    assert split.training.epoch == 3 and not split.training.mid_epoch
    split.fit(X, Y, epochs=30 - 3, **kw)
    assert split.training.history["val_cost"] == h["val_cost"]
    assert _same_params(once, split)


def test_a_fit_with_another_optimizer_makes_it_the_networks_own():
    """Found missing by a mutation run of train.py: the training state keeps the optimizer of
    the last fit (the next fit of that kind continues it; a checkpoint records it)."""
    rng = np.random.default_rng(0)
    X, Y = blobs(rng, m=32)
    net = gpubp.Network([2, 4, 1], activation="tanh", dtype="float64", device="cpu", seed=0)
    net.fit(X, Y, epochs=1, batch_size=8, optimizer="adam", lr=0.01)
    assert type(net.training.optimizer) is gpubp.optim.Adam and net.training.optimizer.t == 4
    net.fit(X, Y, epochs=2, batch_size=8, optimizer="sgd", lr=0.1)
    sgd = net.training.optimizer
    assert type(sgd) is gpubp.optim.SGD and (sgd.lr, sgd.t) == (0.1, 8)
    mine = gpubp.optim.Momentum(0.05)
    net.fit(X, Y, epochs=1, batch_size=8, optimizer=mine)
    assert net.training.optimizer is mine and mine.t == 4
    net.fit(X, Y, epochs=1, batch_size=8, optimizer="momentum")  # the same kind: it goes on
    assert net.training.optimizer is mine and mine.t == 8
