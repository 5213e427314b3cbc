"""The estimators' parameters, checked at ``fit`` as scikit-learn checks them (plain checks, no
private scikit-learn module), and the estimator checks that a dtype is expected to fail.

An invalid parameter raises :class:`InvalidParameter`, which is a ValueError and a TypeError as
scikit-learn's own ``InvalidParameterError`` is, with its message: ``The 'alpha' parameter of
MLPClassifier must be a float in the range [0, inf). Got -1 instead.``
"""

import math
from numbers import Integral, Real

import numpy as np

from ..errors import ArgumentTypeError, ConfigError
from ..graph import as_dtype

#: scikit-learn's hidden activation names -> gpubp's
#: the sparse formats fit and predict take as they are (others are converted to CSR first);
#: the first layer's products read them as sparse matrices (:mod:`gpubp.sparse`)
SPARSE = ("csr", "csc")

ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


class InvalidParameter(ConfigError, ArgumentTypeError):
    """A constructor parameter of the wrong type or value (a ValueError and a TypeError)."""


def _integer(v):
    return isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))


def _real(v):
    return isinstance(v, Real) and not isinstance(v, (bool, np.bool_))


def number(kind, low, high, closed):
    """``(description, test)`` of an int (``kind`` "int") or a float in an interval; ``closed``:
    "left", "right", "both" or "neither"; ``high`` None for no upper bound."""
    left, right = closed in ("left", "both"), closed in ("right", "both")
    hi = math.inf if high is None else high
    text = (f"{'an int' if kind == 'int' else 'a float'} in the range "
            f"{'[' if left else '('}{low}, {hi if high is not None else 'inf'}"
            f"{']' if right and high is not None else ')'}")

    def test(v):
        if not (_integer(v) if kind == "int" else _real(v)):
            return False
        return (v >= low if left else v > low) and (v <= hi if right else v < hi)

    return text, test


def options(*names):
    return (f"a str among {sorted(names, key=str)}",
            lambda v: isinstance(v, str) and v in names)


BOOLEAN = ("an instance of 'bool' or 'numpy.bool'", lambda v: isinstance(v, (bool, np.bool_)))
NONE = ("None", lambda v: v is None)
UNIT_LEFT = number("float", 0, 1, "left")

#: parameter -> the alternatives it may be, each ``(description, test)``
CONSTRAINTS = {
    "hidden_layer_sizes": [("an array-like", lambda v: hasattr(v, "__len__") and not
                            isinstance(v, str)), number("int", 1, None, "left")],
    "activation": [options(*ACTIVATIONS)],
    "solver": [options("lbfgs", "sgd", "adam")],
    "alpha": [number("float", 0, None, "left")],
    "batch_size": [options("auto"), number("int", 1, None, "left")],
    "learning_rate": [options("constant", "invscaling", "adaptive")],
    "learning_rate_init": [number("float", 0, None, "neither")],
    "power_t": [number("float", 0, None, "left")],
    "max_iter": [number("int", 1, None, "left")],
    "shuffle": [BOOLEAN],
    "random_state": [number("int", 0, 2**32 - 1, "both"), NONE,
                     ("an instance of 'numpy.random.RandomState'",
                      lambda v: isinstance(v, np.random.RandomState))],
    "tol": [number("float", 0, None, "left")],
    "verbose": [BOOLEAN, number("int", 0, None, "left")],
    "warm_start": [BOOLEAN],
    "momentum": [number("float", 0, 1, "both")],
    "nesterovs_momentum": [BOOLEAN],
    "early_stopping": [BOOLEAN],
    "validation_fraction": [UNIT_LEFT],
    "beta_1": [UNIT_LEFT],
    "beta_2": [UNIT_LEFT],
    "epsilon": [number("float", 0, None, "neither")],
    "n_iter_no_change": [number("int", 1, None, "left"), ("inf", lambda v: v == np.inf)],
    "max_fun": [number("int", 1, None, "left")],
    "device": [options("auto", "cpu", "gpu"), NONE],
    "loss": [options("squared_error", "poisson")],
    # dtype (any NumPy spelling of float32 / float64, or None) and comm are checked by gpubp
}


def check_params(est):
    """Raise :class:`InvalidParameter` for the first parameter of ``est`` that is invalid."""
    for name, value in est.get_params(deep=False).items():
        alternatives = CONSTRAINTS.get(name)
        if alternatives is None or any(test(value) for _, test in alternatives):
            continue
        texts = [text for text, _ in alternatives]
        must = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]
        raise InvalidParameter(f"The {name!r} parameter of {type(est).__name__} must be {must}. "
                               f"Got {value!r} instead.")
    if est.get_params(deep=False).get("dtype") is not None:
        as_dtype(est.dtype)   # a ConfigError naming float32 / float64 otherwise


def sample_weights(sample_weight, n_samples):
    """``sample_weight`` (None, a number, or array-like of ``n_samples`` finite numbers, not all
    zero) as a float64 array ``(n_samples,)``, or None; a ValueError naming what is wrong."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real) and not isinstance(sample_weight, (bool, np.bool_)):
        return np.full(n_samples, float(sample_weight))
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidParameter(f"sample_weight must be None, a number or an array of "
                               f"{n_samples} numbers; got {type(sample_weight).__name__}") from e
    if w.ndim != 1:
        raise ConfigError(f"Sample weights must be 1D array or scalar; got shape {w.shape}")
    if w.shape != (n_samples,):
        raise ConfigError(f"sample_weight.shape == {w.shape}, expected {(n_samples,)}!")
    if not np.isfinite(w).all():
        raise ConfigError("Input sample_weight contains NaN or infinity.")
    if not w.any():
        raise ConfigError("Sample weights must contain at least one non-zero number.")
    return w


def hidden_sizes(est):
    """``hidden_layer_sizes`` as a list of positive ints, or an error that names the entry."""
    hidden = est.hidden_layer_sizes
    hidden = [hidden] if not hasattr(hidden, "__iter__") else list(hidden)
    for h in hidden:
        if not _integer(h):
            raise InvalidParameter(f"hidden_layer_sizes must hold integers (units per hidden "
                                   f"layer); got {h!r} in {tuple(hidden)}")
    if any(h <= 0 for h in hidden):
        raise ConfigError(f"hidden_layer_sizes must be > 0, got {hidden}.")
    return [int(h) for h in hidden]


#: the estimator checks that dtype="float32" fails, and why (see the package docstring)
FLOAT32_FAILED_CHECKS = {
    "check_regressor_multioutput": "the check requires float64 predictions; dtype='float32' "
                                   "predicts in float32",
    "check_methods_sample_order_invariance": "predictions for permuted rows are compared at "
                                             "rtol=1e-7, below float32's resolution: a product's "
                                             "rounding depends on how the BLAS splits it (so "
                                             "this one fails on some runs only)",
    "check_sample_weight_equivalence_on_dense_data": "the fits with integer weights and with "
                                                     "repeated rows are compared at rtol=1e-7, "
                                                     "below float32's resolution: their sums "
                                                     "round differently (in float64 they agree)",
    "check_sample_weight_equivalence_on_sparse_data": "the same comparison on sparse data, at the "
                                                      "same rtol=1e-7 (in float64 they agree)",
}


def expected_failed_checks(estimator):
    """``{check name: reason}``: scikit-learn's estimator checks that ``estimator`` fails (for
    ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``)."""
    dtype = estimator.get_params()["dtype"]
    if dtype is not None and as_dtype(dtype) == np.float32:
        return dict(FLOAT32_FAILED_CHECKS)
    return {}
