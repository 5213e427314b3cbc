"""What both estimators share: parameters as attributes, the fitted coefficients, fit (stochastic
or L-BFGS) and the forward pass. See the package docstring for what is scikit-learn's and what
differs."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import backend, distributed
from ..errors import ConfigError, ShapeError
from ..graph import as_dtype
from ..network import Network
from .solvers import LBFGS_MESSAGE, lbfgs
from .stochastic import STOCHASTIC, StochasticSolvers
from .validation import ACTIVATIONS, SPARSE, check_params, hidden_sizes, sample_weights


def not_fitted(est, what):
    return AttributeError(
        f"{type(est).__name__} is not fitted: it has no {what} yet. Fit it, or assign coefs_ and "
        f"intercepts_ (lists in scikit-learn's layout, (n_in, n_out) and (n_out,)) before a "
        f"partial_fit or a warm_start=True fit to start from them")


class BaseMLP(StochasticSolvers, BaseEstimator):
    """The parameters, fit and forward pass of both estimators."""

    def keep_parameters(self, arguments):
        """scikit-learn's ``__init__``: each argument kept as the attribute of its name, as given
        (``arguments``: the constructor's ``locals()``; checked when fit runs)."""
        for name, value in arguments.items():
            if name != "self":
                setattr(self, name, value)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "network_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    def _check_solver(self):
        """partial_fit exists for the stochastic solvers only, as in scikit-learn."""
        if self.solver not in STOCHASTIC:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    # ---- fitted state ------------------------------------------------------------------------

    @property
    def coefs_(self):
        """``coefs_[i] = W[i+1].T``, ``(n_in, n_out)``: views of the live weights on the CPU.
        Before fitting: the list assigned (the start of the next warm fit or partial_fit)."""
        if "network_" in self.__dict__:
            return [backend.to_host(W).T for W in self.network_.W]
        if "coefs_init_" in self.__dict__:
            return self.__dict__["coefs_init_"]
        raise not_fitted(self, "coefs_")

    @coefs_.setter
    def coefs_(self, coefs):
        if "network_" not in self.__dict__:
            self.__dict__["coefs_init_"] = coefs   # kept as given: items may still be assigned
            return
        net = self.network_
        if len(coefs) != net.L:
            raise ConfigError(f"coefs_ needs {net.L} arrays; got {len(coefs)}")
        for l, c in enumerate(coefs, 1):
            c, want = np.asarray(c), (net.sizes[l - 1], net.sizes[l])
            if c.shape != want:  # named in scikit-learn's layout, the one the user wrote in
                raise ShapeError(f"coefs_[{l - 1}] must be (n_in, n_out) = {want}; got {c.shape}")
            net.W[l] = c.T

    @property
    def intercepts_(self):
        """``intercepts_[i] = b[i+1].ravel()``, ``(n_out,)``: views of the live biases on the CPU.
        Before fitting: the list assigned."""
        if "network_" in self.__dict__:
            return [backend.to_host(b).ravel() for b in self.network_.b]
        if "intercepts_init_" in self.__dict__:
            return self.__dict__["intercepts_init_"]
        raise not_fitted(self, "intercepts_")

    @intercepts_.setter
    def intercepts_(self, intercepts):
        if "network_" not in self.__dict__:
            self.__dict__["intercepts_init_"] = intercepts
            return
        net = self.network_
        if len(intercepts) != net.L:
            raise ConfigError(f"intercepts_ needs {net.L} arrays; got {len(intercepts)}")
        for l, c in enumerate(intercepts, 1):
            c = np.asarray(c)
            if c.shape != (net.sizes[l],):
                raise ShapeError(f"intercepts_[{l - 1}] must be (n_out,) = ({net.sizes[l]},); "
                                 f"got {c.shape}")
            net.b[l] = c.reshape(-1, 1)

    @property
    def optimizer_(self):
        """The optimizer of the stochastic solver (``learning_rate``: its current rate)."""
        state = self.network_.training if "network_" in self.__dict__ else None
        if state is None:
            raise AttributeError(f"{type(self).__name__} has no optimizer: solver='sgd' or "
                                 f"'adam' makes one when it fits (solver='lbfgs' has none)")
        return state.optimizer

    #: scikit-learn's (private) name of :attr:`optimizer_`, read by its tests
    _optimizer = optimizer_

    # ---- fit -----------------------------------------------------------------------------------

    def _fit(self, X, y, incremental, sample_weight=None):
        check_params(self)
        hidden = hidden_sizes(self)
        pending = "coefs_init_" in self.__dict__ and "intercepts_init_" in self.__dict__
        has_coefs = "network_" in self.__dict__ or pending
        first_pass = not has_coefs or (not self.warm_start and not incremental)
        if not first_pass and "network_" in self.__dict__:
            dtype = self.network_.dtype
        else:
            dtype = (np.float64, np.float32) if self.dtype is None else as_dtype(self.dtype)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        sw = sample_weights(sample_weight, X.shape[0])
        sizes = [X.shape[1], *hidden, Y.shape[1]]
        random_state = self.random_state
        if self.comm is not None and random_state is None:  # every rank draws as rank 0 does
            random_state = distributed.get(self.comm).decide(int(np.random.randint(2**31 - 1)))
        rs = check_random_state(random_state)
        new = first_pass or "network_" not in self.__dict__
        if first_pass:
            self._initialize(sizes, rs, X.dtype)
        elif new:
            self._initialize(sizes, rs, X.dtype, self._assigned_coefficients())
        elif list(self.network_.sizes) != sizes:
            raise ConfigError(f"{'partial_fit' if incremental else 'warm_start'} continues the "
                              f"network {list(self.network_.sizes)} (n_features, "
                              f"*hidden_layer_sizes, n_outputs); this data and hidden_layer_sizes "
                              f"give {sizes}")
        net = self.network_
        X, Y = X.astype(net.dtype, copy=False), Y.astype(net.dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sw)
        else:
            self._fit_stochastic(X, Y, sw, rs, new, incremental)
        if not bool(net.xp.isfinite(net.params.flat).all()):
            raise ConfigError("Solver produced non-finite parameter weights. The input data may "
                              "contain large values and need to be preprocessed.")
        return self

    def _assigned_coefficients(self):
        """The coefs_ and intercepts_ assigned before fitting, as ``[(coef, intercept), ...]``."""
        coefs, intercepts = self.__dict__["coefs_init_"], self.__dict__["intercepts_init_"]
        if len(coefs) != len(intercepts):
            raise ConfigError(f"coefs_ and intercepts_ assigned before fitting need one array per "
                              f"layer each; got {len(coefs)} and {len(intercepts)}")
        return [(np.asarray(c), np.asarray(b)) for c, b in zip(coefs, intercepts)]

    def _initialize(self, sizes, rs, dtype, init=None):
        """A new network: scikit-learn's initialization drawn from ``rs`` in its order, or the
        coefficients ``init`` assigned before fitting."""
        if init is None:
            factor = 2.0 if self.activation == "logistic" else 6.0
            init = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                bound = np.sqrt(factor / (fan_in + fan_out))
                coef = rs.uniform(-bound, bound, (fan_in, fan_out))   # (n[l-1], n[l])
                init.append((coef, rs.uniform(-bound, bound, fan_out)))
        given = [c.shape for c, _ in init]
        if given != list(zip(sizes[:-1], sizes[1:])):
            raise ShapeError(f"coefs_ assigned before fitting have shapes {given}; the data and "
                             f"hidden_layer_sizes give the network {sizes}, whose coefs_ are "
                             f"{list(zip(sizes[:-1], sizes[1:]))}")
        self.__dict__.pop("network_", None)  # the old one goes first (GPU memory)
        self.network_ = net = Network(sizes, activation=ACTIVATIONS[self.activation],
                                      output=self._output_activation(), loss=self._loss(),
                                      dtype=dtype, device=self.device)
        for l, (coef, intercept) in enumerate(init, 1):
            net.W[l] = np.asarray(coef, dtype).T
            net.b[l] = np.asarray(intercept, dtype).reshape(-1, 1)
        self.__dict__.pop("coefs_init_", None)
        self.__dict__.pop("intercepts_init_", None)
        self.n_outputs_, self.n_layers_, self.t_, self.n_iter_ = sizes[-1], len(sizes), 0, 0
        self.out_activation_ = {"sigmoid": "logistic"}.get(net.activations[-1].name,
                                                            net.activations[-1].name)
        if not hasattr(self, "n_features_in_"):  # coefficients assigned, n_features_in_ not
            self.n_features_in_ = sizes[0]
        if self.solver in STOCHASTIC:
            self._start_bookkeeping()

    def _fit_lbfgs(self, X, Y, sw):
        """scikit-learn's lbfgs: L-BFGS-B over the flat parameters, all of the data at once."""
        result = lbfgs(self.network_, X.T, np.ascontiguousarray(Y.T), l2=float(self.alpha),
                       max_iter=self.max_iter, max_fun=self.max_fun, tol=self.tol,
                       sample_weight=sw)
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        if result.status != 0:
            msg = LBFGS_MESSAGE.format(n_iter=self.n_iter_, status=result.status,
                                       message=result.message)
            if self.n_iter_ == self.max_iter:
                msg += (f"\nIncrease the number of iterations to improve the convergence "
                        f"(max_iter={self.max_iter}).")
            warnings.warn(msg + "\nYou might also want to scale the data as shown in:\n"
                          "    https://scikit-learn.org/stable/modules/preprocessing.html",
                          ConvergenceWarning, stacklevel=3)

    # ---- prediction ----------------------------------------------------------------------------

    def _forward(self, X):
        """The output activations ``(n_samples, n_outputs)`` for ``X`` ``(n_samples, n_features)``,
        a C-ordered NumPy array."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=SPARSE, reset=False,
                          dtype=self.network_.dtype)
        return self.forward_columns(X.T)

    def forward_columns(self, A0):
        """The same for the columns ``A0`` ``(n_features, n_samples)``, on the host or device."""
        return np.ascontiguousarray(backend.to_host(self.network_.forward(A0)).T)

    def validation_score(self, Xv, yv, sw=None):
        """The validation score (accuracy or R^2, weighted by ``sw`` where given; NaN if a
        prediction is not finite) of ``Xv`` ``(n_features, m_val)`` on the device."""
        y_pred = self._outputs_to_predictions(self.forward_columns(Xv))
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(yv, y_pred, sw)
