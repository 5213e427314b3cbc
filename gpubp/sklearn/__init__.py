"""scikit-learn estimators on gpubp: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in for ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor`` (scikit-learn >= 1.6):
the same parameter names, defaults and meanings, the same objective, initialization, batches,
solvers, stopping rule and fitted attributes, with the training done by a gpubp
:class:`~gpubp.network.Network` (``est.network_``) on NumPy or, with ``device="gpu"``, CuPy.
``import gpubp`` does not import this package (nor scikit-learn); ``import gpubp.sklearn`` does.

Data come in row-major, ``X`` of shape ``(n_samples, n_features)`` as everywhere in
scikit-learn, and go to gpubp as the view ``X.T`` (columns are examples there). Results come back
as NumPy arrays, from the GPU too.

Modules: :mod:`.estimators` (the two classes), :mod:`.base` (what they share: fit, the
coefficients, lbfgs), :mod:`.stochastic` (the fit by mini-batches: sgd and adam), :mod:`.solvers`
(scikit-learn's Adam, SGD, squared error and L-BFGS over gpubp's flat buffers),
:mod:`.validation` (the parameters' checks).

What is the same as scikit-learn
--------------------------------
- Objective. Classifier: binary -> one logistic (sigmoid) output and binary cross-entropy
  (gpubp ``bce``); multiclass -> softmax and cross-entropy; multi-label (a 2-D indicator ``y``)
  -> one sigmoid output per label and ``bce`` summed over them. Plus the penalty
  ``alpha / (2 m) sum ||W||^2`` over the weights (not the biases), ``m`` the batch's size: gpubp's
  ``l2 = alpha``. Regressor: the loss :class:`~.solvers.SklearnSquaredError`, which reports
  scikit-learn's ``loss_`` (1/2 of the mean over all ``n_samples x n_outputs`` entries of
  ``(y_hat - y)^2``, plus the penalty) and descends with scikit-learn's output delta
  ``(y_hat - y) / m``: with several outputs that is ``n_outputs`` times the gradient of the loss
  it reports, in scikit-learn and here alike, so the steps are scikit-learn's.
  ``MLPRegressor(loss="poisson")``: gpubp's ``exp`` output and ``poisson`` loss (half the Poisson
  deviance summed over the outputs, ``y log(y / y_hat) - y + y_hat``, its ``loss_``), fused delta
  ``(y_hat - y) / m``; ``y`` must be >= 0.
- Initialization: scikit-learn's (Glorot uniform ``+-sqrt(6 / (fan_in + fan_out))``,
  ``+-sqrt(2 / ...)`` for ``activation="logistic"``, biases drawn likewise), drawn in its order
  from ``check_random_state(random_state)``; then the early-stopping split
  (``train_test_split``, stratified for single-output classification), then the seed of the
  shuffling. Batches: ``batch_size="auto"`` is ``min(200, n_samples)``; a larger one is clipped
  with a warning; the last batch of an epoch may be smaller.
- Solvers: ``"adam"`` is scikit-learn's Adam (``epsilon`` added to ``sqrt(v)`` before the bias
  correction, unlike gpubp's own ``optim.Adam``); ``"sgd"`` supports ``momentum`` with and
  without ``nesterovs_momentum`` and the ``learning_rate`` schedules ``"constant"``,
  ``"invscaling"`` (``power_t``) and ``"adaptive"``; ``"lbfgs"`` is SciPy's L-BFGS-B over the
  network's one flat parameter vector and the whole data set (``max_iter`` iterations,
  ``max_fun`` function evaluations, ``tol`` as SciPy's ``gtol``; ``n_iter_`` and ``loss_`` set,
  no ``loss_curve_``, a ``ConvergenceWarning`` when SciPy stops without converging). On the
  GPU each evaluation copies the vector to the device and the gradient back: one crossing each
  way. With ``shuffle=False``, float64 and the same ``random_state`` (or the same ``coefs_``),
  the fitted coefficients equal scikit-learn's to rounding (tests check each solver).
- Stopping (sgd, adam): after each epoch, ``loss_curve_`` (or with ``early_stopping`` the
  validation score, accuracy or R^2, in ``validation_scores_``) counts as no improvement unless
  it beats the best by ``tol``; more than ``n_iter_no_change`` such epochs in a row stop training
  (or, with ``learning_rate="adaptive"``, divide the rate by 5 until it is <= 1e-6).
  ``early_stopping`` restores the coefficients of the best validation score. The best value
  moves on any gain, however small (a gain within ``tol`` still counts as an epoch without
  improvement). ``max_iter`` epochs without convergence give a ``ConvergenceWarning``. A
  KeyboardInterrupt stops with a warning. The rule's state (the best, its coefficients, the
  count) is the :class:`gpubp.state.Watch` of the network's training state
  (``est.network_.training.early``), the one :func:`gpubp.fit` uses with its own rule; it goes
  on over ``partial_fit`` and warm starts and travels in a pickle.
- ``sample_weight`` in ``fit`` and ``partial_fit`` (``partial_fit(X, y, sample_weight, classes)``
  for the classifier): each batch's loss is the weighted mean ``sum_j w_j loss_j / s`` and the
  penalty ``alpha / (2 s) sum ||W||^2``, ``s`` the batch's sum of weights (lbfgs: the whole data
  set's), with their gradient; ``loss_`` is the mean of the batches' losses weighted by their
  sizes; early stopping splits the weights with the data and weights the validation score.
  Integer weights equal repeated rows where the batches hold the same examples (one full batch,
  or lbfgs). Weights may be any finite numbers, not all zero (scikit-learn's rule).
- ``partial_fit`` exists only for the stochastic solvers (``hasattr`` is False for lbfgs).
- dtype: by default the network's dtype follows ``X``: float32 ``X`` trains and predicts in
  float32 (``coefs_`` float32), anything else in float64.
- Attributes: ``loss_``, ``loss_curve_``, ``best_loss_``, ``validation_scores_``,
  ``best_validation_score_``, ``n_iter_`` (epochs of the last call), ``t_`` (samples seen),
  ``classes_``, ``n_features_in_`` (and ``feature_names_in_``), ``n_layers_``, ``n_outputs_``,
  ``out_activation_``, and ``coefs_`` / ``intercepts_`` in scikit-learn's row layout:
  ``coefs_[i] = W[i+1].T`` (``(n_in, n_out)``), ``intercepts_[i] = b[i+1].ravel()``. On the CPU
  they are views of the network's live parameters (writing into them changes the model, as in
  scikit-learn); on the GPU, host copies. Assigning ``est.coefs_ = [...]`` copies into the
  network; on an unfitted estimator, ``coefs_`` and ``intercepts_`` assigned are the starting
  point of the next ``partial_fit`` or ``warm_start=True`` fit (as in scikit-learn's tests).
  ``est.optimizer_.learning_rate`` is the stochastic solver's current rate (also under
  scikit-learn's private name ``est._optimizer``).

What differs
------------
- ``warm_start=True`` and ``partial_fit`` continue the same gpubp network: its optimizer state
  (Adam's moments and step count, SGD's velocity) and its shuffling generator go on. (scikit-learn
  makes a new optimizer at each warm-start ``fit``.) The optimizer's hyperparameters are taken
  from the current parameters (SGD's rate starts from ``learning_rate_init`` at each ``fit``;
  ``partial_fit`` goes on with the rate its schedule reached, as scikit-learn's does); changing
  ``solver`` starts a new optimizer. The network keeps the ``dtype`` and ``device`` it was made
  with. After ``joblib.load`` the optimizer is re-bound to the network's flat buffer at the next
  fit.
- The stopping rule's state belongs to the network (its training state): a ``solver="lbfgs"``
  fit that makes a new network (not a warm start) drops an earlier fit's ``best_loss_``,
  ``best_validation_score_`` and ``_no_improvement_count`` (scikit-learn leaves them as they
  were), and a ``partial_fit`` or warm start that switches ``early_stopping`` is a ValueError
  naming it before any epoch (scikit-learn's is a TypeError after one). A :func:`gpubp.fit`
  with ``patience`` on ``est.network_`` puts fit's watch in its place; the estimator's next
  stochastic fit starts its rule (and ``loss_curve_``) afresh.
- ``MLPRegressor(solver="lbfgs")`` has no ``partial_fit`` either (scikit-learn's has one).
- With ``comm``, ``solver="lbfgs"`` is not data-parallel: every rank runs the whole L-BFGS on
  its (identical) data, to the same result.
- Sparse ``X`` (SciPy's CSR or CSC; other formats are converted to CSR, as scikit-learn does;
  cupyx's on the GPU): only the first layer's products read it, as sparse-dense products
  (:mod:`gpubp.sparse`); the rest is dense.
- ``dtype``: None (default: follow ``X``), ``"float64"`` or ``"float32"`` (any NumPy spelling):
  ``X`` and ``y`` are converted to it. ``dtype="float32"`` fails four estimator checks, which
  feed float64 data: ``check_regressor_multioutput`` requires float64 predictions, and
  ``check_methods_sample_order_invariance`` and ``check_sample_weight_equivalence_on_dense_data``
  (and ``..._on_sparse_data``) compare predictions (for permuted rows; for weights against
  repeated rows) at ``rtol=1e-7``, below float32's resolution.
- ``device``: ``"auto"``, ``"cpu"``, ``"gpu"``, or None for the environment variable
  ``GPUBP_DEVICE`` (default auto).
- ``comm``: None, ``"mpi"`` or ``"nccl"``: data-parallel fits under ``mpiexec`` (every rank
  calls ``fit`` with the same data; see :mod:`gpubp.distributed`).
- ``est.network_.save(path)`` refuses the networks of sgd and adam (their optimizers are this
  package's, and a checkpoint holds no code) and those of ``MLPRegressor(loss="squared_error")``
  (its loss, :class:`~.solvers.SklearnSquaredError`, is not one of gpubp's); pickle the estimator
  (``joblib.dump``), as for any scikit-learn estimator.
- Parameters are checked by plain checks (:mod:`.validation`) with scikit-learn's messages,
  not by scikit-learn's private ``_param_validation``.

scikit-learn's estimator checks (``tests/test_sklearn.py`` runs them all through
``parametrize_with_checks``) pass with the default dtype. The checks an estimator is expected
to fail, with the reasons, are :func:`expected_failed_checks` (estimator): none by default; with
``dtype="float32"`` the four named above.
"""

try:
    import sklearn.utils.validation as _sklearn_validation
except ImportError as e:  # pragma: no cover - scikit-learn missing
    raise ImportError(f"gpubp.sklearn needs scikit-learn >= 1.6 ({e}); install it with "
                      f"pip install 'scikit-learn>=1.6'") from e
if not hasattr(_sklearn_validation, "validate_data"):  # older than 1.6: no validate_data, no tags
    raise ImportError("gpubp.sklearn needs scikit-learn >= 1.6; install it with "
                      "pip install 'scikit-learn>=1.6'")

from .estimators import MLPClassifier, MLPRegressor  # noqa: E402
from .solvers import SklearnAdam, SklearnSGD, SklearnSquaredError  # noqa: E402
from .validation import FLOAT32_FAILED_CHECKS, expected_failed_checks  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "expected_failed_checks", "FLOAT32_FAILED_CHECKS",
           "SklearnAdam", "SklearnSGD", "SklearnSquaredError"]
