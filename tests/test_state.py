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


# ---- its record in a checkpoint -----------------------------------------------------------------

import json  # noqa: E402

import pytest  # noqa: E402

from gpubp.errors import CheckpointError  # noqa: E402


def _edit_training(path, edit):
    """Rewrite the checkpoint's "training" JSON entry with ``edit`` applied."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    training = json.loads(str(arrays["training"]))
    edit(training)
    arrays["training"] = np.array(json.dumps(training))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path):
    X, Y = _data()
    net = _net()
    net.fit(X, Y, epochs=2, batch_size=8, optimizer="adam", lr=0.05)
    path = tmp_path / "net.ckpt"
    net.save(path)
    return net, path


@pytest.mark.parametrize("bad", ["0.5", True, None, [0.5]])
def test_a_history_entry_that_is_not_a_number_is_a_checkpoint_error(saved, bad):
    _, path = saved
    _edit_training(path, lambda t: t["history"]["cost"].__setitem__(1, bad))
    with pytest.raises(CheckpointError, match=r"history\['cost'\] must be a list of numbers"):
        gpubp.load(path)


@pytest.mark.parametrize("bad", [5, {}, {"a": 1.0}, "0.5"])
def test_a_history_that_is_not_a_list_is_a_checkpoint_error(saved, bad):
    _, path = saved
    _edit_training(path, lambda t: t["history"].update(cost=bad))
    with pytest.raises(CheckpointError, match=r"history\['cost'\] must be a list of numbers"):
        gpubp.load(path)


def test_a_history_of_ints_and_floats_loads_as_floats(saved):
    net, path = saved
    _edit_training(path, lambda t: t["history"].update(cost=[1, 0.5], val_cost=[2, 3]))
    h = gpubp.load(path).training.history
    assert h == {"cost": [1.0, 0.5], "val_cost": [2.0, 3.0]}
    assert all(type(v) is float for vs in h.values() for v in vs)


def test_a_record_without_a_cost_history_loads_with_an_empty_one(saved):
    """(of no epochs: with epoch 2, its count of costs would disagree, and it is refused)"""
    net, path = saved
    _edit_training(path, lambda t: t.update(history={}))
    with pytest.raises(CheckpointError, match=r"epoch is 2 but history\['cost'\] holds 0"):
        gpubp.load(path)
    _edit_training(path, lambda t: t.update(epoch=0))
    state = gpubp.load(path).training
    assert state.history == {"cost": []} and state.history.epochs == 0


def test_a_record_from_before_the_interrupted_flag_loads_as_not_interrupted(saved):
    net, path = saved
    _edit_training(path, lambda t: t["watch"].pop("interrupted"))
    assert gpubp.load(path).training.interrupted is False


def _rewrite_array(path, name, value):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays[name] = value
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def stopped(tmp_path):
    """A checkpoint of an epoch stopped after its first two batches (of 32 examples, by 8)."""
    X, Y = _data()
    net = _net()
    calls = iter([False, True])
    net.fit(X, Y, epochs=1, batch_size=8, optimizer="adam", lr=0.05, stop=lambda: next(calls))
    assert net.training.mid_epoch and net.training.position == 16 and net.training.interrupted
    path = tmp_path / "stopped.ckpt"
    net.save(path)
    return net, path


def test_a_stopped_epoch_loads_with_its_order_position_and_sum(stopped):
    net, path = stopped
    state = gpubp.load(path).training
    np.testing.assert_array_equal(state.order, net.training.order)
    assert (state.position, state.partial) == (16, net.training.partial) and state.partial > 0


@pytest.mark.parametrize("order", [
    np.arange(32, dtype=np.int64).reshape(2, 16),        # a permutation, but not a row
    np.arange(32, dtype=np.float64),                     # numbers, but not integers
    np.arange(32, dtype=np.int64)[::-1][None, :],        # a (1, 32) array
], ids=["2-d", "float", "1-by-M"])
def test_a_stopped_epoch_order_must_be_a_row_of_integers(stopped, order):
    _, path = stopped
    _rewrite_array(path, "order", order)
    with pytest.raises(CheckpointError, match="'order' must be a permutation of 0..M-1"):
        gpubp.load(path)


def test_a_stopped_epoch_order_of_unsigned_integers_is_one(stopped):
    net, path = stopped
    _rewrite_array(path, "order", net.training.order.astype(np.uint32))
    np.testing.assert_array_equal(gpubp.load(path).training.order, net.training.order)


@pytest.mark.parametrize("name", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_every_numpy_bit_generator_of_the_shuffling_survives_a_checkpoint(saved, name, tmp_path):
    """The record writes a bit generator's state as JSON (its arrays as lists, its NumPy ints as
    ints) and reads it back: the loaded shuffling draws what the saved one would have."""
    net, _ = saved
    net.training.rng = np.random.Generator(getattr(np.random, name)(7))
    net.training.rng.random(3)  # not at its start
    net.save(tmp_path / "g.ckpt")
    rng = gpubp.load(tmp_path / "g.ckpt").training.rng
    assert type(rng.bit_generator).__name__ == name
    np.testing.assert_array_equal(rng.permutation(50), net.training.rng.permutation(50))


def test_a_nan_best_in_the_watch_is_refused(tmp_path):
    """record() writes the watch's best as a number or null; a file that says NaN would leave
    early stopping unable to record a best again (nothing compares below NaN)."""
    import json
    import zipfile

    import gpubp
    from gpubp.errors import CheckpointError
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 20)), rng.uniform(size=(1, 20))
    net = gpubp.Network([3, 4, 1], device="cpu", seed=0)
    net.fit(X, Y, epochs=2, patience=5)
    good = tmp_path / "good.npz"
    net.save(good)
    with zipfile.ZipFile(good) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    record = json.loads(np.load(good)["training"].item())
    record["watch"]["best"] = float("nan")
    import io
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(record)))
    entries["training.npy"] = buf.getvalue()
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    gpubp.load(good)
    with pytest.raises(CheckpointError, match="watch.best must be a number or null; got NaN"):
        gpubp.load(bad)


# ---- the epoch count and the cost history agree ----------------------------------------------

def _stop_after(n):
    """A ``stop`` that says True at its ``n``-th question (after a batch, or after an epoch)."""
    asked = iter(range(1, 10 ** 6))
    return lambda: next(asked) == n


def _diverge(X, Y):
    """Two epochs, then a fit that diverges after one more (a regression: mse at lr 1e4)."""
    net = gpubp.Network([2, 4, 1], output="identity", loss="mse", dtype="float64", device="cpu",
                        seed=0)
    net.fit(X, Y * 3, epochs=2, batch_size=8, optimizer="sgd", lr=0.05)
    with pytest.raises(gpubp.errors.TrainingDiverged, match="epoch 3's parameters are restored"):
        net.fit(X, Y * 3, epochs=3, batch_size=8, optimizer="sgd", lr=1e4)
    return net


def _interrupt_in_a_batch(X, Y):
    """One epoch, then a KeyboardInterrupt in the sixth step of the next fit (its second epoch)."""
    net = _net()
    net.fit(X, Y, epochs=1, batch_size=8, lr=0.05)
    steps, plan = iter(range(100)), net.plan

    def interrupting_plan(*args):
        p = plan(*args)
        step = p.train_step

        def train_step(*a, **kw):
            if next(steps) == 5:
                raise KeyboardInterrupt
            return step(*a, **kw)
        p.train_step = train_step
        return p
    net.plan = interrupting_plan
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=3, batch_size=8, lr=0.05)
    del net.plan
    assert net.training.mid_epoch and net.training.position == 8
    return net


def _fitted(**kwargs):
    def fit(X, Y):
        net = _net()
        net.fit(X, Y, batch_size=8, lr=0.05, **kwargs)
        return net
    return fit


@pytest.mark.parametrize("how", [_fitted(epochs=3), _fitted(epochs=3, stop=_stop_after(6)),
                                 _fitted(epochs=3, stop=_stop_after(8)),
                                 _fitted(epochs=30, patience=1, min_delta=1.0), _diverge,
                                 _interrupt_in_a_batch],
                         ids=["3 epochs", "stopped mid-epoch", "stopped between epochs",
                              "early stopping", "TrainingDiverged", "KeyboardInterrupt in a batch"])
def test_a_saved_state_has_one_cost_per_epoch_and_loads(how, tmp_path):
    """Every way a fit ends leaves epoch == len(history["cost"]), which load checks."""
    X, Y = _data()
    net = how(X, Y)
    state = net.training
    assert state.epoch == len(state.history["cost"]) > 0
    net.save(tmp_path / "m")
    back = gpubp.load(tmp_path / "m").training
    assert back.epoch == state.epoch and back.history == state.history
    assert back.mid_epoch == state.mid_epoch


@pytest.mark.parametrize("epoch, costs", [(3, 2), (1, 2), (2, 0)])
def test_an_epoch_count_that_its_cost_history_disagrees_with_is_refused(saved, epoch, costs):
    net, path = saved
    _edit_training(path, lambda t: t.update(epoch=epoch) or t["history"].update(
        cost=t["history"]["cost"][:costs]))
    with pytest.raises(CheckpointError, match=rf"training: epoch is {epoch} but history\['cost'\] "
                                              rf"holds {costs} epochs' costs"):
        gpubp.load(path)
