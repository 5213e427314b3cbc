"""Tests that kill the mutants of gpubp/sklearn/stochastic.py, base.py and solvers.py that the
estimators' tests let live (issue 16's mutation run,
benchmarks/results/2026-12-04_mutation_issue16.txt): scikit-learn's watched attributes assigned
before fitting and while a watch watches, and the other gaps named there."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from gpubp.errors import ConfigError  # noqa: E402
from gpubp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from gpubp.state import Watch  # noqa: E402

WATCHED = ("best_loss_", "best_validation_score_", "_no_improvement_count")


def data(m=60, n=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def quiet_fit(est, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*a, **kw)


def test_values_assigned_before_fitting_read_back_then_give_way_for_good():
    """scikit-learn's tests assign the three before fitting: they read back as assigned; the
    fit's watch replaces them, and a later fit without a watch (lbfgs) does not bring them back."""
    est = MLPClassifier(hidden_layer_sizes=(3,), solver="sgd", max_iter=3, random_state=0,
                        device="cpu")
    for name in WATCHED:
        with pytest.raises(AttributeError, match=f"has no {name}: solver='sgd' or 'adam' sets"):
            getattr(est, name)
    est.best_loss_, est.best_validation_score_, est._no_improvement_count = 3.0, 0.5, 7
    assert (est.best_loss_, est.best_validation_score_, est._no_improvement_count) == (3.0, 0.5, 7)
    quiet_fit(est, *data())
    watch = est.network_.training.early
    assert est.best_loss_ == watch.best == min(est.loss_curve_) < 3.0
    assert est.best_validation_score_ is None
    assert est._no_improvement_count == watch.waited < 7
    quiet_fit(est.set_params(solver="lbfgs"), *data())
    for name in WATCHED:
        with pytest.raises(AttributeError, match=f"has no {name}"):
            getattr(est, name)


def test_assigning_the_watched_attributes_writes_the_watch():
    """best_loss_ writes the best of a watch of the training loss; best_validation_score_ can only
    be None then (and the other way round under early_stopping); _no_improvement_count writes the
    count."""
    est = quiet_fit(MLPClassifier(hidden_layer_sizes=(3,), solver="sgd", max_iter=3,
                                  random_state=0, device="cpu"), *data())
    watch = est.network_.training.early
    est.best_loss_ = 1.5
    est.best_validation_score_ = None
    est._no_improvement_count = 4
    assert (watch.best, watch.waited, watch.goal) == (1.5, 4, "min")
    with pytest.raises(ConfigError, match=r"best_validation_score_ can only be None while the "
                                          r"stopping rule watches the training loss; got 0.9"):
        est.best_validation_score_ = 0.9
    assert watch.best == 1.5 and est.best_validation_score_ is None

    est = quiet_fit(MLPClassifier(hidden_layer_sizes=(3,), solver="adam", max_iter=3,
                                  early_stopping=True, random_state=0, device="cpu"), *data())
    watch = est.network_.training.early
    est.best_validation_score_ = 0.25
    est.best_loss_ = None
    assert (watch.best, watch.goal) == (0.25, "max") and est.best_loss_ is None
    with pytest.raises(ConfigError, match=r"best_loss_ can only be None while the stopping rule "
                                          r"watches the validation score; got 2.0"):
        est.best_loss_ = 2.0
    assert watch.best == 0.25


def test_only_a_lasting_watch_of_any_gain_is_the_estimators():
    """A watch of scikit-learn's comparison that does not last (or one that lasts with fit's
    comparison), put in the network's state by hand, is not the estimator's: it has no
    best_loss_, and the next partial_fit starts its own rule."""
    est = MLPRegressor(hidden_layer_sizes=(3,), solver="sgd", random_state=0, device="cpu")
    X, y = data()
    est.partial_fit(X, y.astype(float))
    state = est.network_.training
    for watch in (Watch("min", any_gain=True, lasting=False),
                  Watch("min", any_gain=False, lasting=True)):
        state.start_watch(watch)
        with pytest.raises(AttributeError, match="has no best_loss_"):
            est.best_loss_  # noqa: B018
        est.partial_fit(X, y.astype(float))
        assert state.early is not watch and state.early.lasting and state.early.any_gain
        assert len(est.loss_curve_) == 1 and est.best_loss_ == est.loss_curve_[0]


# ---- solvers.py: scikit-learn's optimizers as gpubp's ------------------------------------------

@pytest.mark.parametrize("momentum, nesterov", [(0.0, True), (0.9, False), (0.9, True),
                                                (1.0, True), (0.5, False)])
def test_sklearn_sgd_steps_as_scikit_learns_own_optimizer(momentum, nesterov):
    """Five steps of SklearnSGD against scikit-learn's SGDOptimizer (the peer), in float64."""
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    from gpubp.sklearn.solvers import SklearnSGD

    rng = np.random.default_rng(0)
    p = rng.normal(size=7)
    peer = [p.copy()]
    ours = SklearnSGD(0.05, momentum, nesterov)
    theirs = SGDOptimizer(peer, 0.05, momentum=momentum, nesterov=nesterov)
    for _ in range(5):
        g = rng.normal(size=7)
        ours.step([p], [g.copy()])
        theirs.update_params(peer, [g.copy()])
        np.testing.assert_allclose(p, peer[0], rtol=1e-14, atol=1e-15)
    assert repr(ours) == f"SklearnSGD(lr=0.05, momentum={momentum}, nesterov={nesterov})"


def test_sklearn_adam_steps_as_scikit_learns_own_optimizer():
    """Six steps of SklearnAdam against scikit-learn's AdamOptimizer: eps added to the
    uncorrected sqrt(v), lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    from gpubp.sklearn.solvers import SklearnAdam

    rng = np.random.default_rng(1)
    p = rng.normal(size=9)
    peer = [p.copy()]
    ours = SklearnAdam(0.01, 0.8, 0.95, 1e-3)  # a large eps: where it is added shows
    theirs = AdamOptimizer(peer, 0.01, 0.8, 0.95, 1e-3)
    for _ in range(6):
        g = rng.normal(size=9)
        ours.step([p], [g.copy()])
        theirs.update_params(peer, [g.copy()])
        np.testing.assert_allclose(p, peer[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("momentum", [0.0, 1.0, 0.5])
def test_momentum_in_zero_one_closed(momentum):
    from gpubp.sklearn.solvers import SklearnSGD

    opt = SklearnSGD(0.1, momentum)
    assert opt.mu == momentum and opt.nesterov is True
    assert SklearnSGD(0.1).mu == 0.9  # scikit-learn's default


@pytest.mark.parametrize("momentum", [-0.5, 1.5, -1e-9])
def test_momentum_outside_zero_one_is_refused(momentum):
    from gpubp.sklearn.solvers import SklearnSGD

    with pytest.raises(ConfigError, match=f"momentum must be in \\[0, 1\\]; got {momentum}"):
        SklearnSGD(0.1, momentum)


def test_learning_rate_is_the_current_rate():
    from gpubp.sklearn.solvers import SklearnAdam

    opt = SklearnAdam(0.01)
    assert opt.learning_rate == 0.01
    opt.learning_rate = 3
    assert opt.lr == 3.0 and type(opt.lr) is float


def _network(sizes=(3, 2, 1), dtype="float64"):
    import gpubp

    return gpubp.Network(list(sizes), activation="tanh", output="identity", loss="half_sse",
                         dtype=dtype, device="cpu", seed=0)


def _bound(opt, net):
    X, Y = np.ones((net.sizes[0], 2)), np.zeros((net.sizes[-1], 2))
    net.fit(X, Y, epochs=1, batch_size=2, optimizer=opt)
    assert opt.params[0] is net.params.flat
    return opt


def test_rebind_follows_an_equal_buffer_and_refuses_another():
    """A free optimizer stays free; one bound to an equal-shaped, equal-dtype buffer (joblib's
    copy) follows this network's; another shape, another dtype or several arrays are refused."""
    from gpubp.errors import GpubpError
    from gpubp.sklearn.solvers import SklearnSGD

    net = _network()
    free = SklearnSGD(0.1)
    free.rebind(net.params)
    assert free.params is None
    opt = _bound(SklearnSGD(0.1), _network())
    opt.rebind(net.params)
    assert opt.params[0] is net.params.flat and len(opt.params) == 1
    opt.rebind(net.params)  # already bound: as it is
    assert opt.params[0] is net.params.flat
    for other in (_network((3, 3, 1)), _network(dtype="float32")):
        bound = _bound(SklearnSGD(0.1), _network())
        with pytest.raises(GpubpError, match="holds the state of other parameters"):
            bound.rebind(other.params)
    two = SklearnSGD(0.1)
    two.step([np.zeros(net.params.flat.size), np.zeros(1)],
             [np.zeros(net.params.flat.size), np.zeros(1)])
    with pytest.raises(GpubpError, match="holds the state of other parameters"):
        two.rebind(net.params)


# ---- stochastic.py: the split and the batches ----------------------------------------------------

def test_a_validation_set_of_two_is_enough_and_of_one_too_small():
    """scikit-learn refuses X_val.shape[0] < 2: 20 examples at validation_fraction=0.1 fit (a
    regressor: no stratification, whose own error would come first)."""
    X, y = data(20)
    kw = dict(hidden_layer_sizes=(3,), early_stopping=True, max_iter=2, random_state=0,
              device="cpu")
    est = quiet_fit(MLPRegressor(validation_fraction=0.1, **kw), X, y.astype(float))
    assert len(est.validation_scores_) == 2 and np.isfinite(est.validation_scores_).all()
    with pytest.raises(ConfigError, match="The validation set is too small"):
        quiet_fit(MLPRegressor(validation_fraction=0.05, **kw), X, y.astype(float))


@pytest.mark.parametrize("batch_size, m, steps", [
    (1, 7, 7), (7, 7, 1), (8, 7, 1), (3, 7, 3), ("auto", 7, 1), ("auto", 201, 2),
    ("auto", 200, 1),
])
def test_the_batches_of_one_epoch(batch_size, m, steps):
    """Adam's step count after one epoch: ceil(m / batch size), the batch size clipped to
    [1, m] (with scikit-learn's warning above m only), "auto" min(200, m)."""
    X, y = data(m)
    est = MLPRegressor(hidden_layer_sizes=(2,), solver="adam", batch_size=batch_size,
                       random_state=0, device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.partial_fit(X, y.astype(float))
    assert est.optimizer_.t == steps
    clipped = [w for w in caught if "batch_size" in str(w.message)]
    assert len(clipped) == (batch_size != "auto" and batch_size > m)


# ---- base.py ------------------------------------------------------------------------------------

@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_the_tags_say_sparse_input_and_multioutput_targets(Estimator):
    """scikit-learn's checks and meta-estimators read the tags: X may be sparse, y may have
    several outputs (scikit-learn's own MLPs say the same)."""
    from sklearn.neural_network import MLPClassifier as Peer
    from sklearn.utils import get_tags

    tags = get_tags(Estimator())
    assert tags.input_tags.sparse is True and tags.target_tags.multi_output is True
    assert get_tags(Peer()).input_tags.sparse is True


# ---- stochastic.py: the end of each epoch -------------------------------------------------------

def _peer_and_ours(capsys, Estimator, **kw):
    """Fit scikit-learn's estimator and ours alike (verbose); both outputs, as lines with every
    number replaced by '#', and both estimators."""
    import re

    from sklearn import neural_network

    X, y = data(40)
    if Estimator is MLPRegressor:
        y = X[:, 0] - 0.5 * X[:, 2]
    peer = getattr(neural_network, Estimator.__name__)(verbose=True, random_state=0, **kw)
    ours = Estimator(verbose=True, random_state=0, device="cpu", dtype="float64", **kw)
    out = []
    for est in (peer, ours):
        quiet_fit(est, X, y)
        text = capsys.readouterr().out
        out.append([re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", line) for line in text.splitlines()])
    return out, peer, ours


@pytest.mark.parametrize("lr", [1e-3, 1e-6])
def test_adaptive_divides_the_rate_by_5_until_it_is_at_most_1e_6_as_scikit_learn(capsys, lr):
    """With nothing ever gaining (tol huge), adaptive SGD divides its rate by 5 after more than
    n_iter_no_change epochs waited, and stops once the rate is <= 1e-6: the same epochs, the same
    messages and the same final rate as scikit-learn's."""
    (theirs, ours), peer, est = _peer_and_ours(
        capsys, MLPClassifier, hidden_layer_sizes=(3,), solver="sgd", learning_rate="adaptive",
        learning_rate_init=lr, tol=1e9, n_iter_no_change=1, max_iter=40, momentum=0.0)
    assert ours == theirs
    assert est.n_iter_ == peer.n_iter_ < 40
    assert est.optimizer_.learning_rate == pytest.approx(peer._optimizer.learning_rate,
                                                         rel=1e-12)
    assert est._no_improvement_count == peer._no_improvement_count
    assert any("Setting learning rate to" in line for line in ours) == (lr > 1e-6)
    assert ours[-1].endswith("Learning rate too small. Stopping.")


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_verbose_lines_are_scikit_learns(capsys, Estimator, early_stopping):
    """Each epoch's lines ("Iteration", "Validation score") and the stopping line, for both
    watches; the loss curve and the validation scores as scikit-learn's (float64)."""
    (theirs, ours), peer, est = _peer_and_ours(
        capsys, Estimator, hidden_layer_sizes=(4,), solver="adam", tol=1e-2, n_iter_no_change=2,
        max_iter=30, early_stopping=early_stopping)
    assert ours == theirs
    assert any("Stopping." in line for line in ours)
    np.testing.assert_allclose(est.loss_curve_, peer.loss_curve_, rtol=1e-9)
    if early_stopping:
        np.testing.assert_allclose(est.validation_scores_, peer.validation_scores_, rtol=1e-9)
    assert est.t_ == peer.t_ and est.n_iter_ == peer.n_iter_


def test_a_keyboard_interrupt_mid_epoch_warns_and_drops_the_unfinished_epoch(monkeypatch):
    """As scikit-learn: "Training interrupted by user." and the fit returns; gpubp also drops the
    epoch stopped between two batches, so the next partial_fit starts a whole one."""
    from gpubp.sklearn import solvers

    X, y = data(40)
    est = MLPRegressor(hidden_layer_sizes=(3,), solver="adam", batch_size=10, max_iter=5,
                       random_state=0, device="cpu")
    steps, update = [], solvers.SklearnAdam.update

    def interrupted(self, *a, **kw):
        steps.append(1)
        if len(steps) == 6:  # the second batch of the second epoch
            raise KeyboardInterrupt
        return update(self, *a, **kw)

    monkeypatch.setattr(solvers.SklearnAdam, "update", interrupted)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        est.fit(X, y.astype(float))
    state = est.network_.training
    assert not state.mid_epoch and state.position == 0 and state.partial == 0.0
    assert est.n_iter_ == 1 and len(est.loss_curve_) == 1
    monkeypatch.setattr(solvers.SklearnAdam, "update", update)
    est.partial_fit(X, y.astype(float))
    assert len(est.loss_curve_) == 2 and not state.mid_epoch


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_warm_start_goes_on_with_its_optimizer_under_the_new_hyperparameters(solver):
    """The same optimizer object (its step count and moments go on) with the rate, betas,
    epsilon, momentum and Nesterov flag set again; SGD's rate restarts at learning_rate_init at
    each fit, while partial_fit goes on with the optimizer's rate (scikit-learn's partial_fit
    keeps its optimizer)."""
    X, y = data(40)
    y = y.astype(float)
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(3,), solver=solver, max_iter=2,
                                 learning_rate_init=0.01, random_state=0, device="cpu"), X, y)
    opt = est.optimizer_
    t = opt.t
    est.set_params(warm_start=True, learning_rate_init=0.5, beta_1=0.5, beta_2=0.75,
                   epsilon=1e-3, momentum=0.25, nesterovs_momentum=False)
    if solver == "sgd":
        est.partial_fit(X, y)
        assert est.optimizer_ is opt and opt.lr == 0.01 and opt.t > t
    quiet_fit(est, X, y)
    assert est.optimizer_ is opt and opt.t > t and opt.lr == 0.5
    if solver == "adam":
        assert (opt.beta1, opt.beta2, opt.eps) == (0.5, 0.75, 1e-3)
    else:
        assert (opt.mu, opt.nesterov) == (0.25, False)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_predict_checks_the_number_of_features_it_was_fitted_with(Estimator):
    """Predicting does not reset n_features_in_: X of another width is refused, as
    scikit-learn says it, and n_features_in_ stays."""
    X, y = data(30, n=4)
    est = quiet_fit(Estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0,
                              device="cpu"), X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4 features"):
        est.predict(X[:, :3])
    assert est.n_features_in_ == 4 and est.predict(X).shape == (30,)


def test_lbfgs_leaves_the_network_at_scipys_result_whatever_it_evaluated_last(monkeypatch):
    """SciPy's last evaluation need not be at its result (a rejected line-search step, say): the
    network ends at result.x, bit for bit (float64)."""
    import scipy.optimize

    from gpubp.sklearn import solvers

    net = _network((3, 4, 1))
    X, Y = np.random.default_rng(0).normal(size=(3, 20)), np.ones((1, 20))
    minimize = scipy.optimize.minimize

    def then_elsewhere(f, x0, **kw):
        result = minimize(f, x0, **kw)
        f(x0 + 1.0)  # one more evaluation, away from the result
        return result

    monkeypatch.setattr(scipy.optimize, "minimize", then_elsewhere)
    result = solvers.lbfgs(net, X, Y, l2=0.0, max_iter=20, max_fun=100, tol=1e-8)
    assert net.params.flat.tobytes() == result.x.tobytes()


def test_adam_ignores_learning_rate_adaptive_as_scikit_learn(capsys):
    """learning_rate is SGD's: Adam with "adaptive" stops after n_iter_no_change + 1 epochs
    waited, its rate untouched, with scikit-learn's lines."""
    (theirs, ours), peer, est = _peer_and_ours(
        capsys, MLPClassifier, hidden_layer_sizes=(3,), solver="adam", learning_rate="adaptive",
        learning_rate_init=0.01, tol=1e9, n_iter_no_change=1, max_iter=20)
    assert ours == theirs and ours[-1].endswith("consecutive epochs. Stopping.")
    assert est.n_iter_ == peer.n_iter_ == 3 and est.optimizer_.learning_rate == 0.01


def test_coefficients_and_intercepts_assigned_as_lists_after_fitting():
    """Nested lists are arrays too: assigned to a fitted estimator they become its weights."""
    X, y = data(20, n=2)
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(2,), max_iter=2, random_state=0,
                                 device="cpu"), X, y.astype(float))
    est.coefs_ = [[[1.0, 2.0], [3.0, 4.0]], [[5.0], [6.0]]]
    est.intercepts_ = [[0.5, -0.5], [0.25]]
    np.testing.assert_array_equal(est.network_.W[1], [[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_array_equal(est.network_.b[1], [[0.5], [-0.5]])
    np.testing.assert_array_equal(est.intercepts_[1], [0.25])


def test_coefs_assigned_without_intercepts_do_not_start_a_fit():
    """Only both lists assigned before fitting start partial_fit from them; coefs_ alone leave
    scikit-learn's own initialization (the estimator's that was given nothing)."""
    X, y = data(20, n=2)
    y = y.astype(float)
    kw = dict(hidden_layer_sizes=(2,), solver="sgd", random_state=0, device="cpu")
    alone, plain = MLPRegressor(**kw), MLPRegressor(**kw)
    alone.coefs_ = [np.ones((2, 2)), np.ones((2, 1))]
    alone.partial_fit(X, y)
    plain.partial_fit(X, y)
    for a, b in zip(alone.coefs_, plain.coefs_):
        assert a.tobytes() == b.tobytes()
    assert not np.array_equal(alone.coefs_[1], np.ones((2, 1)))


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_predicting_before_fitting_is_scikit_learns_not_fitted_error(Estimator):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        Estimator(device="cpu").predict(np.zeros((2, 3)))
