"""Early stopping's watch (gpubp/state.py: Watch), one place for fit's rule and scikit-learn's:
the two rules on hand-written values where they disagree, the watch's record in a checkpoint,
and the estimators' watch in the network's training state, through pickle and joblib."""

import io
import json
import pickle
import warnings

import numpy as np
import pytest

import gpubp
from gpubp.errors import CheckpointError, ConfigError
from gpubp.state import TrainingState, Watch

TOL = 0.25  # the values below are multiples of 1/8: every difference is exact


def run(watch, values, tol=TOL):
    """Show the watch ``values`` (epoch e's parameters: the array [e]); the waited counts, the
    bests after each epoch, and the epoch whose parameters the watch keeps at the end."""
    waited, bests = [], []
    for e, v in enumerate(values):
        waited.append(watch.see(v, tol, np.array([float(e)])))
        bests.append(watch.best)
    kept = None if watch.best_params is None else int(watch.best_params[0])
    return waited, bests, kept


def test_gains_smaller_than_tol_add_up_to_one_beyond_it_under_fits_rule_only():
    """Each epoch gains 1/8 < tol. fit's rule keeps the best of epoch 0 until the gains add up
    beyond tol (epoch 3), then starts its count again; scikit-learn's moves the best at every
    gain, so no gain is ever beyond tol of the best and every epoch is waited."""
    values = [4.0, 3.875, 3.75, 3.625]
    assert run(Watch(), values) == ([0, 1, 2, 0], [4.0, 4.0, 4.0, 3.625], 3)
    assert run(Watch(any_gain=True), values) == ([0, 1, 2, 3], [4.0, 3.875, 3.75, 3.625], 3)


def test_a_gain_of_exactly_tol_or_a_nan_restarts_only_scikit_learns_count():
    """scikit-learn counts an epoch when loss > best - tol: a gain of exactly tol is not
    counted, nor is a NaN (no comparison with it is true); fit's rule wants a gain beyond
    min_delta, so both are epochs waited. A NaN never becomes the best."""
    exact = [4.0, 3.75]
    assert run(Watch(), exact) == ([0, 1], [4.0, 4.0], 0)
    assert run(Watch(any_gain=True), exact) == ([0, 0], [4.0, 3.75], 1)
    nan = [4.0, float("nan"), 4.5]
    assert run(Watch(), nan) == ([0, 1, 2], [4.0, 4.0, 4.0], 0)
    assert run(Watch(any_gain=True), nan) == ([0, 0, 1], [4.0, 4.0, 4.0], 0)


def test_a_score_is_maximized_under_either_rule():
    """goal="max" (scikit-learn's validation score): a score short of best + tol is waited;
    scikit-learn's best follows every gain and keeps that epoch's parameters, fit's rule only a
    gain beyond tol."""
    scores = [0.5, 0.625, 0.75, 0.625, 1.0]
    assert run(Watch("max", any_gain=True), scores[:4]) == (
        [0, 1, 2, 3], [0.5, 0.625, 0.75, 0.75], 2)
    assert run(Watch("max", any_gain=True), scores)[0][-1] == 0  # 1.0 is best + tol exactly
    assert run(Watch("max"), scores) == ([0, 1, 2, 3, 0], [0.5, 0.5, 0.5, 0.5, 1.0], 4)
    assert Watch("max").best == -np.inf and Watch("min").best == np.inf
    with pytest.raises(ConfigError, match="goal must be 'min' or 'max'; got 'up'"):
        Watch("up")


def test_the_watch_keeps_copies_of_the_parameters_and_only_when_asked():
    start = np.array([7.0])
    w = Watch("max", any_gain=True, params=start)
    start[0] = 8.0  # the caller's array changes on: the watch kept the values
    assert w.best_params[0] == 7.0
    params = np.array([1.0])
    w.see(0.5, TOL, params)
    params[0] = 2.0
    assert w.best_params[0] == 1.0
    off = Watch(any_gain=True, keep=False, params=start)
    off.see(1.0, TOL, params)
    assert off.best_params is None and off.best == 1.0


# ---- in the training state, and its record --------------------------------------------------

def _net():
    return gpubp.Network([2, 3, 1], activation="tanh", output="sigmoid", loss="bce",
                         dtype="float64", device="cpu", seed=0)


def _data(m=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, m)), rng.integers(0, 2, (1, m)).astype(float)


def test_fit_starts_its_own_watch_but_a_lasting_one_goes_on():
    net = _net()
    net.fit(*_data(), epochs=1, batch_size=8, lr=0.1)
    state = net.training
    lasting = Watch("max", any_gain=True, lasting=True)
    lasting.see(0.5, TOL)
    state.start_watch(lasting)
    net.fit(*_data(), epochs=2, batch_size=8, lr=0.1)  # no patience: fit does not look at it
    assert state.early is lasting and lasting.best == 0.5 and lasting.waited == 0
    net.fit(*_data(), epochs=2, batch_size=8, lr=0.1, patience=5)  # fit's own rule takes over
    assert state.early is not lasting and state.early.is_fits
    assert state.best == min(state.history["train_cost"][-2:])
    state.early.waited = 3
    net.fit(*_data(), epochs=1, batch_size=8, lr=0.1)
    assert state.early.is_fits and state.waited == 0  # a fresh one of fit's rule


def test_fits_watch_writes_no_rule_and_another_rule_travels_in_the_checkpoint(tmp_path):
    net = _net()
    net.fit(*_data(), epochs=3, batch_size=8, lr=0.1, patience=2)
    record, _ = net.training.record(net)
    assert set(record["watch"]) == {"best", "waited", "interrupted"}  # as older files hold it
    net.save(tmp_path / "fits")
    assert gpubp.load(tmp_path / "fits", device="cpu").training.early.is_fits
    params = net.params.flat.copy()
    w = Watch("max", any_gain=True, keep=True, lasting=True, params=params * 0)
    for score in (0.5, 0.625, 0.5):
        w.see(score, TOL, params)
    net.training.start_watch(w)
    net.save(tmp_path / "a")
    back = gpubp.load(tmp_path / "a", device="cpu").training.early
    assert (back.goal, back.any_gain, back.keep, back.lasting) == ("max", True, True, True)
    assert (back.best, back.waited) == (0.625, 2)
    assert back.best_params.tobytes() == params.tobytes()
    # a score's watch that has seen nothing: its best (-inf) is written as null and read back
    net.training.start_watch(Watch("max", any_gain=True, keep=False, lasting=True))
    net.save(tmp_path / "b")
    back = gpubp.load(tmp_path / "b", device="cpu").training.early
    assert back.best == -np.inf and back.best_params is None and not back.keep


@pytest.mark.parametrize("rule, message", [
    ({"goal": "up"}, r"watch.rule.goal must be 'min' or 'max'; got 'up'"),
    ({"goal": 1}, r"field 'goal' has the wrong type \(int\)"),
    ({"any_gain": 1}, r"field 'any_gain' has the wrong type \(int\)"),
    ({"lasting": "yes"}, r"field 'lasting' has the wrong type \(str\)"),
    ([], r"field 'rule' has the wrong type \(list\)"),
])
def test_a_malformed_rule_is_refused(tmp_path, rule, message):
    net = _net()
    net.fit(*_data(), epochs=1, batch_size=8, lr=0.1)
    net.training.start_watch(Watch("max", any_gain=True, lasting=True))
    path = tmp_path / "a.npz"
    net.save(path)
    with np.load(path) as f:
        entries = {k: f[k] for k in f.files}
    record = json.loads(str(entries["training"]))
    record["watch"]["rule"] = rule
    entries["training"] = np.array(json.dumps(record))
    with open(path, "wb") as f:
        np.savez(f, **entries)
    with pytest.raises(CheckpointError, match=message):
        gpubp.load(path, device="cpu")


# ---- the estimators' watch ------------------------------------------------------------------

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402

from gpubp.sklearn import MLPClassifier  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


def _clf(**kw):
    return MLPClassifier(hidden_layer_sizes=(12,), random_state=0, device="cpu", **kw)


def _same(a, b):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert x.tobytes() == y.tobytes()
    assert a.loss_curve_ == b.loss_curve_
    assert a._no_improvement_count == b._no_improvement_count
    assert a.best_loss_ == b.best_loss_
    assert a.best_validation_score_ == b.best_validation_score_


def test_the_estimators_rule_lives_in_the_networks_training_state(digits):
    """best_loss_ follows every gain (it is the minimum of the loss curve, as scikit-learn's),
    while the count against tol goes on: both are the watch's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _clf(solver="sgd", tol=0.05, n_iter_no_change=100, max_iter=30).fit(*digits)
    watch = est.network_.training.early
    assert watch.lasting and watch.any_gain and watch.goal == "min"
    assert est.best_loss_ == watch.best == min(est.loss_curve_)
    assert est.best_validation_score_ is None
    # every epoch gained less than tol: all but the first were waited, and the best moved
    assert est._no_improvement_count == watch.waited == len(est.loss_curve_) - 1
    assert est.best_loss_ == est.loss_curve_[-1] < est.loss_curve_[0]
    est._no_improvement_count = 0  # scikit-learn's tests assign it
    assert watch.waited == 0


def test_early_stopping_restores_the_best_scores_parameters(digits):
    est = _clf(early_stopping=True, tol=1e-9, n_iter_no_change=3, max_iter=60).fit(*digits)
    watch = est.network_.training.early
    assert watch.goal == "max" and est.best_loss_ is None
    assert est.best_validation_score_ == max(est.validation_scores_) == watch.best
    assert est.network_.params.flat.tobytes() == watch.best_params.tobytes()
    assert est._no_improvement_count == len(est.validation_scores_) - 1 - int(
        np.argmax(est.validation_scores_))


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_the_watch_survives_a_dump_in_the_middle_of_partial_fits(digits, dump):
    """Ten partial_fits in one go equal six, a dump and load (the count at 1), and four more:
    the count (which with learning_rate="adaptive" divides the rate by 5 each time it passes
    n_iter_no_change), the best loss and the parameters."""
    kw = dict(solver="sgd", learning_rate="adaptive", tol=0.5, n_iter_no_change=1)
    one, two = _clf(**kw), _clf(**kw)
    for _ in range(10):
        one.partial_fit(*digits, classes=np.arange(10))
    for _ in range(6):
        two.partial_fit(*digits, classes=np.arange(10))
    assert two._no_improvement_count == 1
    if dump == "pickle":
        two = pickle.loads(pickle.dumps(two))
    else:
        joblib = pytest.importorskip("joblib")
        buf = io.BytesIO()
        joblib.dump(two, buf)
        buf.seek(0)
        two = joblib.load(buf)
    for _ in range(4):
        two.partial_fit(*digits, classes=np.arange(10))
    _same(one, two)
    assert one.optimizer_.learning_rate == two.optimizer_.learning_rate < 0.001 / 5 ** 2


def test_a_warm_start_after_a_pickle_goes_on_with_the_watch(digits):
    kw = dict(early_stopping=True, warm_start=True, tol=1e-3, n_iter_no_change=3, max_iter=6)
    one, two = _clf(**kw), _clf(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one.fit(*digits).fit(*digits)
        two = pickle.loads(pickle.dumps(two.fit(*digits))).fit(*digits)
    _same(one, two)
    assert one.validation_scores_ == two.validation_scores_ and len(one.validation_scores_) > 6


def test_a_warm_start_that_never_gains_restores_the_best_kept_before_a_pickle(digits):
    """The second fit's rate is far too large: none of its scores beats the first fit's best,
    so it ends with the parameters the first fit ended with, kept by the watch through the
    pickle."""
    kw = dict(early_stopping=True, warm_start=True, tol=1e-3, n_iter_no_change=2, max_iter=30,
              learning_rate_init=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _clf(**kw).fit(*digits)
        after_first = est.network_.params.flat.copy()
        best = est.best_validation_score_
        est = pickle.loads(pickle.dumps(est))
        est.set_params(learning_rate_init=5.0, max_iter=3).fit(*digits)
    assert max(est.validation_scores_[-3:]) < best == est.best_validation_score_ > 0.5
    assert est._no_improvement_count > 3  # the count went on from the first fit's
    assert est.network_.params.flat.tobytes() == after_first.tobytes()


def test_a_warm_start_cannot_switch_early_stopping(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _clf(warm_start=True, max_iter=2).fit(*digits)
    est.set_params(early_stopping=True)
    with pytest.raises(ConfigError, match=r"early_stopping=True differs from the fit that this "
                                          r"warm start continues \(its stopping rule watches "
                                          r"the training loss\)"):
        est.fit(*digits)


def test_after_fits_own_watch_took_over_the_estimator_starts_its_rule_again(digits):
    est = _clf(solver="sgd", n_iter_no_change=100)
    for _ in range(3):
        est.partial_fit(*digits, classes=np.arange(10))
    X, Y = digits[0].T, np.eye(10)[digits[1]].T
    gpubp.fit(est.network_, X, Y, epochs=2, batch_size=50, optimizer="adam", patience=5)
    assert est.network_.training.early.is_fits
    with pytest.raises(AttributeError, match="has no best_loss_"):
        est.best_loss_  # noqa: B018 - the estimator's watch is gone
    est.partial_fit(*digits)
    assert len(est.loss_curve_) == 1 and est.best_loss_ == est.loss_curve_[0]
    assert est.network_.training.early.lasting
