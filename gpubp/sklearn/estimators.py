"""The two estimators: :class:`MLPClassifier` and :class:`MLPRegressor` (see the package
docstring)."""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from ..errors import ConfigError
from .base import BaseMLP
from .solvers import SklearnSquaredError
from .validation import SPARSE


def stochastic_solver(est):
    """partial_fit's condition (scikit-learn's available_if): the solver is sgd or adam."""
    return est._check_solver()


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by gpubp: scikit-learn's ``MLPClassifier``.

    Binary: one sigmoid output with binary cross-entropy; multiclass: softmax with
    cross-entropy; multi-label (``y`` a 2-D 0/1 indicator): one sigmoid output per label. Labels
    may be strings or integers. See the package docstring (:mod:`gpubp.sklearn`) for the
    parameters (scikit-learn's, plus ``dtype``, ``device`` and ``comm``) and for what differs
    from scikit-learn.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, device=None, comm=None):
        self.keep_parameters(locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _loss(self):
        return "cross_entropy" if self._label_binarizer.y_type_ == "multiclass" else "bce"

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=SPARSE, multi_output=True, dtype=dtype,
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # scikit-learn's table: a new fit (not warm, not incremental) defines classes_; a warm
        # start needs the same classes; partial_fit needs classes among those of its first call
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ConfigError(f"warm_start can only be used where `y` has the same "
                                     f"classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ConfigError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y)

    def _validation_targets(self, yv):
        return self._label_binarizer.inverse_transform(yv)

    def _score_function(self, y, y_pred, sample_weight=None):
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` ``(n_samples, n_features)`` and labels ``y`` ``(n_samples,)``
        (or a 0/1 indicator ``(n_samples, n_labels)`` for multi-label); ``sample_weight``
        ``(n_samples,)``: the examples' weights (scikit-learn's)."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X``, ``y``, continuing the network (``sample_weight``: as in
        :meth:`fit`; ``classes``: all the labels, required on the first call). Only for
        solver="sgd" and "adam"."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ConfigError("classes must be passed on the first call to partial_fit.")
            self.classes_ = unique_labels(classes)
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ConfigError(f"`classes={classes!r}` is not the same as on the last call to "
                              f"partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _outputs_to_predictions(self, y_pred):
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def predict(self, X):
        """The predicted labels ``(n_samples,)`` (``(n_samples, n_labels)`` for multi-label)."""
        return self._outputs_to_predictions(self._forward(X))

    def predict_proba(self, X):
        """Probabilities ``(n_samples, n_classes)``, classes in the order of ``classes_``."""
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            return np.ascontiguousarray(np.hstack([1 - y_pred, y_pred]))
        return y_pred

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        p = self.predict_proba(X)
        return np.log(p, out=p)


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor trained by gpubp: scikit-learn's ``MLPRegressor``.

    ``y`` of shape ``(n_samples,)`` or ``(n_samples, n_outputs)``. ``loss="squared_error"``:
    identity output and scikit-learn's objective
    (:class:`~gpubp.sklearn.solvers.SklearnSquaredError` plus ``alpha / (2m) sum ||W||^2``), its
    ``loss_`` and, with several outputs, its steps.
    ``loss="poisson"``: exponential output (gpubp's ``exp``) and half the Poisson deviance (gpubp's
    ``poisson``), for targets ``y >= 0``. See the package docstring (:mod:`gpubp.sklearn`).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, device=None, comm=None):
        self.keep_parameters(locals())

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _loss(self):
        return "poisson" if self.loss == "poisson" else SklearnSquaredError()

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=SPARSE, multi_output=True,
                             y_numeric=True, dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _validation_targets(self, yv):
        return yv

    def _score_function(self, y, y_pred, sample_weight=None):
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` ``(n_samples, n_features)`` and ``y`` ``(n_samples,)`` or
        ``(n_samples, n_outputs)``; ``sample_weight`` ``(n_samples,)``: the examples' weights
        (scikit-learn's)."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X``, ``y``, continuing the network (``sample_weight``: as in
        :meth:`fit`). Only for solver="sgd" and "adam"."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _outputs_to_predictions(self, y_pred):
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def predict(self, X):
        """The predicted values ``(n_samples,)`` or ``(n_samples, n_outputs)``."""
        return self._outputs_to_predictions(self._forward(X))
