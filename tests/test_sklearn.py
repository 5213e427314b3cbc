"""gpubp.sklearn: scikit-learn's estimator checks, equality with scikit-learn's own MLP, one SGD
step by hand, and the estimator life cycle (pipelines, grid search, clone, pickle, partial_fit,
warm_start)."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from gpubp import backend  # noqa: E402
from gpubp.sklearn import MLPClassifier, MLPRegressor, expected_failed_checks  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---- scikit-learn's own estimator checks ---------------------------------------------------------

@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100),
     MLPClassifier(max_iter=100, dtype="float32"), MLPRegressor(max_iter=100, dtype="float32"),
     MLPClassifier(solver="lbfgs", max_iter=100), MLPRegressor(solver="lbfgs", max_iter=100)],
    expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_float32_fails_only_the_checks_it_names():
    """The float32 regressor fails no check but those expected_failed_checks names, and does
    fail check_regressor_multioutput for the reason given (sample order invariance fails or not
    depending on how the BLAS splits the products: an xfail that may pass)."""
    from sklearn.utils.estimator_checks import check_estimator
    results = check_estimator(MLPRegressor(max_iter=100, dtype="float32"), on_fail=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    expected = expected_failed_checks(MLPRegressor(dtype="float32"))
    assert set(failed) <= set(expected)
    assert "Got float32" in str(failed["check_regressor_multioutput"])
    assert expected_failed_checks(MLPRegressor()) == {}


# ---- the same numbers as scikit-learn's MLP ----------------------------------------------------

def _data(kind, m=120, seed=0):
    if kind == "regression":
        X, y = make_regression(m, 6, n_informative=4, noise=1.0, random_state=seed)
        return X, y / 100
    if kind == "multioutput":
        X, y = make_regression(m, 6, n_informative=4, n_targets=3, noise=1.0, random_state=seed)
        return X, y / 100
    n_classes = {"binary": 2, "multiclass": 3}.get(kind, 3)
    X, y = make_classification(m, 6, n_informative=4, n_classes=n_classes, random_state=seed)
    if kind == "multilabel":
        y = np.stack([y == 0, y == 1, X[:, 0] > 0], axis=1).astype(int)
    return X, y


def _assert_same_fit(ours, theirs, rtol=1e-9):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)
    for name in ("n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("best_loss_", "best_validation_score_", "validation_scores_"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, err_msg=name)


PARITY = [
    ("binary", dict(solver="adam")),
    ("multiclass", dict(solver="adam", activation="logistic", alpha=0.1)),
    ("multiclass", dict(solver="sgd", learning_rate_init=0.05)),               # Nesterov
    ("multiclass", dict(solver="sgd", nesterovs_momentum=False, learning_rate_init=0.05,
                        learning_rate="invscaling", power_t=0.25)),
    ("multilabel", dict(solver="adam", activation="tanh", alpha=1.0)),
    ("binary", dict(solver="adam", early_stopping=True, n_iter_no_change=3)),
    ("multiclass", dict(solver="sgd", momentum=0.0, learning_rate="adaptive", tol=0.05,
                        n_iter_no_change=2, learning_rate_init=0.5, max_iter=60)),  # rate / 5^9
    ("regression", dict(solver="adam", learning_rate_init=0.01, alpha=0.5)),
    ("regression", dict(solver="sgd", learning_rate_init=0.01, alpha=0.5)),
    ("regression", dict(solver="sgd", learning_rate_init=0.01, early_stopping=True)),
]


@pytest.mark.parametrize("kind, params", PARITY, ids=lambda p: str(p))
def test_same_fit_as_scikit_learn(kind, params):
    """float64, shuffle=False, the same random_state: the same initialization, batches, updates,
    losses, stopping epoch and coefficients as sklearn.neural_network, to rounding."""
    X, y = _data(kind)
    common = dict(dict(hidden_layer_sizes=(7, 5), max_iter=30, random_state=3, shuffle=False,
                       batch_size=32), **params)
    regress = kind == "regression"
    ours = (MLPRegressor if regress else MLPClassifier)(**common).fit(X, y)
    theirs = (sk_nn.MLPRegressor if regress else sk_nn.MLPClassifier)(**common).fit(X, y)
    _assert_same_fit(ours, theirs)
    if params.get("learning_rate") == "adaptive":  # it stopped when the rate fell below 1e-6
        assert ours.n_iter_ < common["max_iter"]
        assert ours.network_.training.optimizer.lr == pytest.approx(theirs._optimizer.learning_rate)
    if regress:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)


def test_stopping_rule_stops_where_scikit_learn_does():
    """The default tol=1e-4 and n_iter_no_change=10: both stop at the same epoch, before
    max_iter, without a ConvergenceWarning."""
    X, y = _data("binary")
    common = dict(hidden_layer_sizes=(10,), max_iter=500, random_state=0, shuffle=False,
                  learning_rate_init=0.05, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = MLPClassifier(**common).fit(X, y)
        theirs = sk_nn.MLPClassifier(**common).fit(X, y)
    assert ours.n_iter_ < 500
    _assert_same_fit(ours, theirs, rtol=1e-7)


def test_convergence_warning_at_max_iter():
    X, y = _data("binary")
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)


@pytest.mark.parametrize("solver, alpha", [("sgd", 0.0), ("sgd", 0.3), ("adam", 0.3)])
def test_multioutput_regression_steps_as_scikit_learn(solver, alpha):
    """scikit-learn's multi-output update is n_outputs times the gradient of the loss it reports
    (its output delta is y_hat - y); ours takes the same steps and reports the same loss."""
    X, y = _data("multioutput")
    common = dict(hidden_layer_sizes=(6,), max_iter=10, random_state=1, shuffle=False,
                  solver=solver, momentum=0.0, alpha=alpha, batch_size=40,
                  learning_rate_init=0.03)
    ours = MLPRegressor(**common).fit(X, y)
    theirs = sk_nn.MLPRegressor(**common).fit(X, y)
    _assert_same_fit(ours, theirs)
    assert ours.predict(X).shape == (120, 3) and ours.n_outputs_ == 3


def test_multioutput_regression_sgd_loss_after_30_epochs_as_scikit_learn():
    """The issue's case: make_regression with 3 targets, 30 epochs of sgd (its defaults)."""
    X, y = make_regression(200, 10, n_targets=3, noise=1.0, random_state=0)
    y = StandardScaler().fit_transform(y)
    common = dict(solver="sgd", max_iter=30, random_state=0, hidden_layer_sizes=(20,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**common).fit(X, y)
        theirs = sk_nn.MLPRegressor(**common).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-7)


# ---- one epoch by hand ---------------------------------------------------------------------------

@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_one_full_batch_sgd_epoch_by_hand(Estimator):
    """solver="sgd", momentum=0, shuffle=False, batch = all m examples: one epoch is
    W <- W - lr (dW + alpha/m W), b <- b - lr db, with sklearn's dW, the mean over the batch."""
    rng = np.random.default_rng(0)
    m, lr, alpha = 9, 0.1, 0.3
    X = rng.normal(size=(m, 4))
    y = rng.integers(0, 3, m) if Estimator is MLPClassifier else rng.normal(size=m)
    est = Estimator(hidden_layer_sizes=(5,), activation="tanh", solver="sgd", momentum=0.0, shuffle=False,
                    batch_size=m, learning_rate_init=lr, alpha=alpha, max_iter=1,
                    random_state=0).fit(X, y)
    W1, W2 = rng.normal(size=(4, 5)), rng.normal(size=(5, est.n_outputs_))  # coefs_ layout
    b1, b2 = rng.normal(size=5), rng.normal(size=est.n_outputs_)
    est.coefs_, est.intercepts_ = [W1, W2], [b1, b2]
    est.partial_fit(X, y)

    H = np.tanh(X @ W1 + b1)                                    # (m, 5)
    out = H @ W2 + b2                                           # (m, n_outputs)
    if Estimator is MLPClassifier:
        P = np.exp(out - out.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        delta = P - np.eye(3)[y]                                # softmax + cross-entropy
        loss = -np.log(P[np.arange(m), y]).mean()
    else:
        delta = out - y[:, None]                                # identity + 1/2 squared error
        loss = 0.5 * (delta ** 2).mean()
    loss += alpha / (2 * m) * ((W1 ** 2).sum() + (W2 ** 2).sum())
    dW2, db2 = H.T @ delta / m, delta.mean(axis=0)
    dH = delta @ W2.T * (1 - H ** 2)
    dW1, db1 = X.T @ dH / m, dH.mean(axis=0)
    expect = [W1 - lr * (dW1 + alpha / m * W1), W2 - lr * (dW2 + alpha / m * W2)]
    for got, want in zip(est.coefs_, expect):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for got, want in zip(est.intercepts_, [b1 - lr * db1, b2 - lr * db2]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert est.loss_ == pytest.approx(loss, rel=1e-12)
    assert est.loss_curve_[-1] == est.loss_ and est.n_iter_ == 1


# ---- attributes ----------------------------------------------------------------------------------

def test_coefs_are_the_networks_weights_in_row_layout():
    X, y = _data("multiclass")
    est = MLPClassifier((7, 4), max_iter=5, random_state=0).fit(X, y)
    net = est.network_
    assert net.sizes == (6, 7, 4, 3) and est.n_layers_ == 4 and net.dtype == np.float64
    assert [c.shape for c in est.coefs_] == [(6, 7), (7, 4), (4, 3)]
    for l, (c, b) in enumerate(zip(est.coefs_, est.intercepts_), 1):
        np.testing.assert_array_equal(c, backend.to_host(net.W[l]).T)
        np.testing.assert_array_equal(b, backend.to_host(net.b[l]).ravel())
    if net.xp is np:  # on the CPU, views: writing into coefs_ changes the model, as in sklearn
        est.coefs_[0][0, 0] = 123.0
        assert net.W[1][0, 0] == 123.0
    A = X
    for c, b in zip(est.coefs_[:-1], est.intercepts_[:-1]):
        A = np.maximum(A @ c + b, 0)
    Z = A @ est.coefs_[-1] + est.intercepts_[-1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(est.predict_proba(X), P / P.sum(axis=1, keepdims=True), rtol=1e-12)


def test_unfitted_has_no_coefs():
    assert not hasattr(MLPClassifier(), "coefs_") and not hasattr(MLPRegressor(), "intercepts_")


def test_string_labels_and_binary_proba():
    X, y = _data("binary")
    labels = np.array(["no", "yes"])[y]
    est = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, random_state=0).fit(X, labels)
    assert list(est.classes_) == ["no", "yes"] and est.out_activation_ == "logistic"
    assert est.network_.sizes[-1] == 1 and est.network_.loss.name == "bce"
    pred = est.predict(X)
    assert pred.dtype == labels.dtype and set(pred) <= {"no", "yes"}
    P = est.predict_proba(X)
    assert P.shape == (120, 2) and isinstance(P, np.ndarray)
    np.testing.assert_allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(pred, est.classes_[P.argmax(axis=1)])
    assert est.score(X, labels) > 0.8


def test_multiclass_integer_labels():
    X, y = _data("multiclass")
    est = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, y + 10)
    assert list(est.classes_) == [10, 11, 12] and est.out_activation_ == "softmax"
    assert est.network_.loss.name == "cross_entropy"
    assert set(est.predict(X)) <= {10, 11, 12}


def test_multilabel():
    X, Y = _data("multilabel")
    est = MLPClassifier((16,), max_iter=100, random_state=0).fit(X, Y)
    assert est.out_activation_ == "logistic" and est.n_outputs_ == 3
    assert est.network_.sizes[-1] == 3 and est.network_.loss.name == "bce"
    pred = est.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert est.predict_proba(X).shape == Y.shape
    assert (pred == Y).mean() > 0.8


def test_multioutput_regression():
    X, y = _data("multioutput")
    est = MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01,
                       random_state=0).fit(X, y)
    assert est.predict(X).shape == (120, 3) and est.n_outputs_ == 3
    assert est.network_.loss.name == "sklearn_squared_error" and est.out_activation_ == "identity"
    assert est.score(X, y) > 0.9
    one = MLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y[:, 0])
    assert one.predict(X).shape == (120,)


def test_float32():
    X, y = _data("regression")
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, dtype="float32",
                       random_state=0).fit(X, y)
    assert est.network_.dtype == np.float32 and est.predict(X).dtype == np.float32
    assert est.coefs_[0].dtype == np.float32


def test_refuses_a_bad_loss_and_dtype_and_hides_partial_fit_for_lbfgs():
    X, y = _data("binary")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="The 'loss' parameter of MLPRegressor must be a str "
                                         "among \\['poisson', 'squared_error'\\]"):
        MLPRegressor(loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="float32 or float64"):
        MLPRegressor(dtype="int32").fit(X, y)
    with pytest.raises(ValueError, match="The 'alpha' parameter of MLPClassifier must be a float "
                                         "in the range \\[0, inf\\). Got -1 instead."):
        MLPClassifier(alpha=-1).fit(X, y)
    with pytest.raises(TypeError, match="'solver' parameter of MLPRegressor must be a str among"):
        MLPRegressor(solver=3).fit(X, y)


# ---- lbfgs ----------------------------------------------------------------------------------------

LBFGS = [
    ("binary", dict()),
    ("multiclass", dict(activation="tanh", alpha=0.1)),
    ("multilabel", dict(activation="logistic")),
    ("regression", dict(alpha=0.5)),
    ("multioutput", dict(activation="relu", alpha=0.01)),
]


@pytest.mark.parametrize("kind, params", LBFGS, ids=lambda p: str(p))
def test_lbfgs_same_fit_as_scikit_learn(kind, params):
    """The same random_state (so the same initial coefficients), float64: L-BFGS-B takes the same
    path, to the same loss_, n_iter_, coefficients and predictions."""
    X, y = _data(kind)
    common = dict(hidden_layer_sizes=(7, 5), max_iter=40, random_state=3, solver="lbfgs",
                  **params)
    regress = kind in ("regression", "multioutput")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = (MLPRegressor if regress else MLPClassifier)(**common).fit(X, y)
        theirs = (sk_nn.MLPRegressor if regress else sk_nn.MLPClassifier)(**common).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    if regress:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)
    else:
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6)
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")


def test_lbfgs_from_coefficients_assigned_before_fitting():
    """coefs_ and intercepts_ assigned on unfitted estimators, then a warm-start lbfgs fit: the
    same result as scikit-learn's from the same start (not from any random_state)."""
    X, y = _data("multiclass")
    rng = np.random.RandomState(7)
    coefs = [rng.uniform(-0.5, 0.5, (6, 4)), rng.uniform(-0.5, 0.5, (4, 3))]
    intercepts = [rng.uniform(-0.5, 0.5, 4), rng.uniform(-0.5, 0.5, 3)]
    fits = []
    for Estimator in (MLPClassifier, sk_nn.MLPClassifier):
        est = Estimator(hidden_layer_sizes=(4,), solver="lbfgs", warm_start=True, max_iter=10,
                        random_state=123 if Estimator is MLPClassifier else 456)
        est.coefs_ = [c.copy() for c in coefs]
        est.intercepts_ = [b.copy() for b in intercepts]
        est.n_layers_, est.n_outputs_, est.out_activation_ = 3, 3, "softmax"  # sklearn needs them
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(est.fit(X, y))
    ours, theirs = fits
    assert ours.n_iter_ == theirs.n_iter_ == 10
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_lbfgs_max_fun_max_iter_and_convergence_warning():
    X, y = _data("multiclass")
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        est = MLPClassifier((20,), solver="lbfgs", max_fun=10, random_state=0).fit(X, y)
    assert est.n_iter_ <= 10
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        est = MLPClassifier((20,), solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    assert est.n_iter_ == 5
    with warnings.catch_warnings():  # a loose tol converges: no warning
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPClassifier((20,), solver="lbfgs", tol=1e-1, random_state=0).fit(X, y)
    assert 0 < est.n_iter_ < 200


def test_lbfgs_float32_stays_float32():
    X, y = _data("regression")
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X.astype(np.float32), y)
    assert est.coefs_[0].dtype == np.float32 and est.predict(X).dtype == np.float32
    assert est.score(X, y) > 0.5


def test_import_gpubp_does_not_import_sklearn():
    code = "import sys, gpubp; assert 'sklearn' not in sys.modules; import gpubp.sklearn; " \
           "assert 'sklearn' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- the estimator's life: pipelines, grid search, clone, pickle, partial_fit, warm_start --------

def _digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def test_pipeline_on_digits():
    Xtr, Xte, ytr, yte = _digits()
    pipe = make_pipeline(StandardScaler(), MLPClassifier((100,), max_iter=40, random_state=0))
    assert pipe.fit(Xtr, ytr).score(Xte, yte) > 0.95


def test_grid_search_two_processes_equals_one():
    X, y = _data("multiclass")
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(4,), (12,)]}
    est = MLPClassifier(max_iter=30, random_state=0, learning_rate_init=0.01)
    two = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X, y)
    one = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(two.cv_results_["mean_test_score"],
                                  one.cv_results_["mean_test_score"])
    assert two.best_params_ == one.best_params_
    assert isinstance(two.best_estimator_, MLPClassifier) and two.score(X, y) > 0.7


def test_clone():
    est = MLPRegressor(hidden_layer_sizes=(3, 2), alpha=0.5, solver="sgd", dtype="float32", device="cpu")
    X, y = _data("regression")
    est.fit(X, y)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "network_")


def test_pickle_round_trip_and_training_continues_alike():
    X, y = _data("multiclass")
    est = MLPClassifier((8,), max_iter=10, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    est.partial_fit(X, y)          # the Adam moments and the shuffling travelled in the pickle
    back.partial_fit(X, y)
    np.testing.assert_array_equal(back.coefs_[0], est.coefs_[0])
    assert back.network_.training.optimizer.t == est.network_.training.optimizer.t


@pytest.mark.parametrize("shuffle", [False, True])
def test_partial_fit_epochs_equal_fit_epochs(shuffle):
    X, y = _data("multiclass")
    common = dict(hidden_layer_sizes=(8,), random_state=0, shuffle=shuffle, tol=0.0,
                  n_iter_no_change=100, batch_size=25)
    full = MLPClassifier(max_iter=4, **common).fit(X, y)
    inc = MLPClassifier(**common)
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.partial_fit(X, y)
    inc.partial_fit(X, y, classes=[0, 1, 2])
    net = inc.network_
    for _ in range(3):
        inc.partial_fit(X, y)
    assert inc.network_ is net and inc.n_iter_ == 1 and inc.t_ == 4 * 120
    for a, b in zip(inc.coefs_ + inc.intercepts_, full.coefs_ + full.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert inc.loss_curve_ == full.loss_curve_



@pytest.mark.parametrize("schedule", [dict(learning_rate="invscaling", power_t=0.5),
                                      dict(learning_rate="adaptive", tol=10.0, n_iter_no_change=1)])
@pytest.mark.parametrize("regress", [False, True])
def test_partial_fit_goes_on_with_the_rate_its_schedule_reached_as_scikit_learn(schedule, regress):
    """Six partial_fit calls with sgd: each goes on with the rate that invscaling (or adaptive's
    division by 5) left, not learning_rate_init again: the same coefficients as scikit-learn."""
    X, y = _data("regression" if regress else "multiclass")
    common = dict(hidden_layer_sizes=(7,), random_state=0, shuffle=False, batch_size=50,
                  solver="sgd", learning_rate_init=0.1, **schedule)
    ours = (MLPRegressor if regress else MLPClassifier)(**common)
    theirs = (sk_nn.MLPRegressor if regress else sk_nn.MLPClassifier)(**common)
    for _ in range(6):
        for est in (ours, theirs):
            est.partial_fit(X, y) if regress else est.partial_fit(X, y, classes=[0, 1, 2])
    rate = ours.optimizer_.learning_rate
    assert rate == pytest.approx(theirs._optimizer.learning_rate) and rate < 0.1 / 2
    assert ours._optimizer.learning_rate == rate  # scikit-learn's name, read by its tests
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)

def test_partial_fit_classes_and_regressor():
    X, y = _data("multiclass")
    est = MLPClassifier((8,), random_state=0).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert list(est.classes_) == [0, 1, 2] and est.n_outputs_ == 3
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X, y + 1)
    Xr, yr = _data("regression")
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.01)
    losses = [reg.partial_fit(Xr, yr).loss_ for _ in range(30)]
    assert losses[-1] < losses[0] / 2


def test_warm_start_continues_the_network_and_its_optimizer():
    X, y = _data("regression")
    common = dict(hidden_layer_sizes=(8,), random_state=0, tol=0.0, n_iter_no_change=100,
                  learning_rate_init=0.01)
    once = MLPRegressor(max_iter=5, **common).fit(X, y)
    warm = MLPRegressor(max_iter=2, warm_start=True, **common).fit(X, y)
    net, opt = warm.network_, warm.network_.training.optimizer
    warm.set_params(max_iter=3).fit(X, y)
    assert warm.network_ is net and net.training.optimizer is opt and opt.t == once.network_.training.optimizer.t
    assert warm.n_iter_ == 3 and len(warm.loss_curve_) == 5 and warm.t_ == once.t_
    for a, b in zip(warm.coefs_ + warm.intercepts_, once.coefs_ + once.intercepts_):
        np.testing.assert_array_equal(a, b)
    cold = MLPRegressor(max_iter=3, **common).fit(X, y)
    cold.fit(X, y)  # warm_start=False: a new network each time
    assert len(cold.loss_curve_) == 3
    with pytest.raises(ValueError, match="warm_start continues the network"):
        warm.set_params(hidden_layer_sizes=(9,)).fit(X, y)


def test_predictions_are_numpy_on_every_device(device):
    X, y = _data("multiclass")
    est = MLPClassifier((8,), max_iter=20, random_state=0, device=device).fit(X, y)
    cpu = MLPClassifier((8,), max_iter=20, random_state=0, device="cpu").fit(X, y)
    assert est.network_.device == device
    for out in (est.predict(X), est.predict_proba(X), *est.coefs_, *est.intercepts_):
        assert type(out) is np.ndarray
    np.testing.assert_allclose(est.predict_proba(X), cpu.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_assigning_coefs_or_intercepts_of_the_wrong_shape_is_named_in_their_layout():
    X, y = _data("multiclass")
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"coefs_\[0\] must be \(n_in, n_out\) = \(6, 5\); got \(5, 6\)"):
        est.coefs_ = [np.zeros((5, 6)), np.zeros((5, 3))]
    with pytest.raises(ValueError, match=r"intercepts_\[0\] must be \(n_out,\) = \(5,\); got \(6,\)"):
        est.intercepts_ = [np.zeros(6), np.zeros(3)]


@pytest.mark.parametrize("hidden", [(5.5,), (4, 2.0), (True,)])
def test_hidden_layer_sizes_must_be_integers(hidden):
    X, y = _data("binary")
    with pytest.raises(ValueError, match="hidden_layer_sizes must hold integers"):
        MLPClassifier(hidden_layer_sizes=hidden, max_iter=1).fit(X, y)


# ---- the failures ---------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_joblib_round_trip_then_partial_fit_and_warm_start_go_on_alike(tmp_path, solver):
    """joblib stores every array apart: the loaded optimizer is re-bound to the loaded network's
    flat buffer, so partial_fit and a warm-start fit continue exactly as the original does."""
    joblib = pytest.importorskip("joblib")
    X, y = _data("regression")
    est = MLPRegressor(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0, shuffle=False,
                       warm_start=True).fit(X, y)
    joblib.dump(est, tmp_path / "est.joblib")
    loaded = joblib.load(tmp_path / "est.joblib")
    assert loaded.network_.params.flat is not est.network_.params.flat
    for a in (est, loaded):
        a.partial_fit(X, y)
        a.fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_array_equal(loaded.loss_curve_, est.loss_curve_)
    assert loaded.optimizer_.params[0] is loaded.network_.params.flat


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_default_dtype_follows_X(Estimator, solver):
    X, y = _data("multiclass")
    for dtype in (np.float32, np.float64):
        est = Estimator(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0).fit(X.astype(dtype), y)
        assert est.network_.dtype == dtype
        assert all(c.dtype == dtype for c in est.coefs_ + est.intercepts_)
        out = est.predict_proba(X.astype(dtype)) if Estimator is MLPClassifier else \
            est.predict(X.astype(dtype))
        assert out.dtype == dtype
    est = Estimator(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X.astype(np.int64), y)
    assert est.network_.dtype == np.float64


def test_early_stopping_names_a_too_small_class_as_scikit_learn_does():
    X, y = _data("binary", m=40)
    y = y.astype(bool)
    y[:] = False
    y[0] = True  # one member of True: the stratified split cannot hold it in both parts
    messages = []
    for Estimator in (MLPClassifier, sk_nn.MLPClassifier):
        with pytest.raises(ValueError) as e:
            Estimator(early_stopping=True, max_iter=3).fit(X, y)
        messages.append(str(e.value))
    assert messages[0] == messages[1] and "['True']" in messages[0]


def test_coefficients_assigned_before_fitting_start_partial_fit():
    """scikit-learn's test_fit: coefs_ = [0] * 2 on an unfitted estimator, then its items
    assigned, then partial_fit starts from them (one sgd step by hand)."""
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    est = MLPClassifier(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic",
                        random_state=1, max_iter=1, hidden_layer_sizes=2, momentum=0)
    with pytest.raises(AttributeError, match="not fitted.*assign coefs_ and intercepts_"):
        est.coefs_
    with pytest.raises(AttributeError, match="has no optimizer: solver='sgd' or 'adam' makes"):
        est.optimizer_
    est.coefs_ = [0] * 2
    est.intercepts_ = [0] * 2
    est.coefs_[0] = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]])
    est.coefs_[1] = np.array([[0.1], [0.2]])
    est.intercepts_[0] = np.array([0.1, 0.1])
    est.intercepts_[1] = np.array([1.0])
    est.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_allclose(est.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008],
                                               [0.4939998, -0.002244]], atol=1e-3)
    np.testing.assert_allclose(est.coefs_[1], [[0.04706], [0.154089]], atol=1e-3)
    np.testing.assert_allclose(est.intercepts_[1], [0.9235], atol=1e-3)
    assert est.optimizer_.learning_rate == 0.1 and est.n_features_in_ == 3
    bad = MLPClassifier(hidden_layer_sizes=3, solver="sgd")
    bad.coefs_ = [np.zeros((3, 2)), np.zeros((2, 1))]
    bad.intercepts_ = [np.zeros(2), np.zeros(1)]
    with pytest.raises(ValueError, match="coefs_ assigned before fitting have shapes"):
        bad.partial_fit(X, y, classes=[0, 1])


def test_the_lbfgs_objective_is_the_cost_and_its_gradient():
    """What lbfgs hands to SciPy: scikit-learn's loss (with alpha) and its gradient, in arrays
    that the next evaluation does not overwrite (SciPy keeps them)."""
    from gpubp.sklearn.solvers import objective
    X, y = _data("multiclass", m=30)
    est = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=1, alpha=0.3,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    Y = np.eye(3)[y].T
    f = objective(est.network_, X.T, Y, l2=0.3)
    cost, grad = f(f.x0)
    assert cost == pytest.approx(_sklearn_log_loss_with_penalty(est, X, y, 0.3), rel=1e-12)
    kept = grad.copy()
    h, num = 1e-6, np.empty_like(grad)
    for i in range(grad.size):
        e = np.zeros_like(grad)
        e[i] = h
        num[i] = (f(f.x0 + e)[0] - f(f.x0 - e)[0]) / (2 * h)
    np.testing.assert_array_equal(grad, kept)
    np.testing.assert_allclose(grad, num, atol=1e-8)


def _sklearn_log_loss_with_penalty(est, X, y, alpha):
    from sklearn.metrics import log_loss
    W = sum(float((c ** 2).sum()) for c in est.coefs_)
    return log_loss(y, est.predict_proba(X)) + alpha * W / (2 * len(y))
