"""The stochastic solvers (sgd, adam): the early-stopping split, the batches, the optimizer that
goes on from fit to fit, and after every epoch scikit-learn's bookkeeping (loss curve,
validation scores, learning-rate schedules) as a callback of :func:`gpubp.train.fit`.
scikit-learn's stopping rule is a :class:`gpubp.state.Watch` in the network's training state
(``any_gain``, ``lasting``): its best, best parameters and count live there, read by
``best_loss_``, ``best_validation_score_`` and ``_no_improvement_count``."""

import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from .. import backend, sparse
from ..errors import ConfigError
from ..state import TrainingState, Watch
from ..train import fit as fit_network
from .solvers import SklearnAdam, SklearnSGD

STOCHASTIC = ("sgd", "adam")
#: scikit-learn's attributes that read the watch (assignable before fitting, as its tests do)
WATCHED = ("best_loss_", "best_validation_score_", "_no_improvement_count")


class StochasticSolvers:
    """The estimators' fit by mini-batches (a base class of :class:`~.base.BaseMLP`)."""

    def _start_bookkeeping(self):
        """The stochastic solvers' record: the loss curve, the validation scores, and
        scikit-learn's stopping rule, started as the watch of the network's training state
        (made here for a new network, with this solver's optimizer): it maximizes the
        validation score with early_stopping (and keeps the parameters of the best, the
        current ones until an epoch gains), else minimizes the training loss."""
        net = self.network_
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        for name in WATCHED:  # values assigned before fitting give way to the watch's
            self.__dict__.pop(name, None)
        if net.training is None:
            net.training = TrainingState(self._make_optimizer(net, False),
                                         np.random.default_rng(net.seed))
        net.training.start_watch(Watch("max" if self.early_stopping else "min", any_gain=True,
                                       keep=self.early_stopping, lasting=True,
                                       params=net.params.flat))

    def _watch(self):
        """The watch of scikit-learn's rule in the network's training state, or None."""
        net = self.__dict__.get("network_")
        state = net.training if net is not None else None
        if state is None or not (state.early.lasting and state.early.any_gain):
            return None
        return state.early

    def _watched(self, name, goal):
        """The watch's best for ``best_loss_`` (goal "min") or ``best_validation_score_``
        ("max"): None under the other goal, as scikit-learn sets it."""
        watch = self._watch()
        if watch is None:
            if name in self.__dict__:  # assigned before fitting (scikit-learn's tests do)
                return self.__dict__[name]
            raise AttributeError(f"{type(self).__name__} has no {name}: solver='sgd' or 'adam' "
                                 f"sets it when it fits")
        return watch.best if watch.goal == goal else None

    def _set_watched(self, name, goal, value):
        watch = self._watch()
        if watch is None:
            self.__dict__[name] = value
        elif watch.goal == goal:
            watch.best = value
        elif value is not None:
            raise ConfigError(f"{name} can only be None while the stopping rule watches the "
                              f"{'training loss' if goal == 'max' else 'validation score'}; "
                              f"got {value!r}")

    best_loss_ = property(lambda self: self._watched("best_loss_", "min"),
                          lambda self, v: self._set_watched("best_loss_", "min", v),
                          doc="the best training loss (None with early_stopping)")
    best_validation_score_ = property(
        lambda self: self._watched("best_validation_score_", "max"),
        lambda self, v: self._set_watched("best_validation_score_", "max", v),
        doc="the best validation score (with early_stopping; else None)")

    @property
    def _no_improvement_count(self):
        """scikit-learn's (private) count of epochs without improvement: the watch's."""
        watch = self._watch()
        if watch is None:
            if "_no_improvement_count" in self.__dict__:
                return self.__dict__["_no_improvement_count"]
            raise AttributeError(f"{type(self).__name__} has no _no_improvement_count: "
                                 f"solver='sgd' or 'adam' sets it when it fits")
        return watch.waited

    @_no_improvement_count.setter
    def _no_improvement_count(self, value):
        watch = self._watch()
        if watch is None:
            self.__dict__["_no_improvement_count"] = value
        else:
            watch.waited = value

    def _split(self, X, Y, sw, rs, incremental):
        """``(X, Y, sw, Xv, yv, swv)``: the early-stopping split (Xv on the device, columns; yv
        labels; sw, swv the weights of each part, or None)."""
        if self.early_stopping and incremental:
            raise ConfigError("partial_fit does not support early_stopping=True")
        if not self.early_stopping:
            return X, Y, sw, None, None, None
        # stratified on the 0/1 indicator as booleans, so a class too small is named ['True']
        stratify = Y.astype(bool) if is_classifier(self) and Y.shape[1] == 1 else None
        arrays = (X, Y) if sw is None else (X, Y, sw)  # the same split either way
        parts = train_test_split(*arrays, random_state=rs, test_size=self.validation_fraction,
                                 stratify=stratify)
        X, Xv, Y, yv = parts[:4]
        sw, swv = parts[4:] if sw is not None else (None, None)
        if Xv.shape[0] < 2:
            raise ConfigError("The validation set is too small. Increase "
                              "'validation_fraction' or the size of your dataset.")
        # (n[0], m_val): on the device once (a sparse Xv crosses at each score, as its batches do)
        Xv = Xv.T if sparse.is_sparse(Xv) else backend.to_device(Xv.T, self.network_.xp)
        return X, Y, sw, Xv, self._validation_targets(yv), swv

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, Y, sw, rs, new, incremental):
        net = self.network_
        # a warm start after solver='lbfgs', or after a gpubp.fit with patience (fit's watch)
        if not hasattr(self, "loss_curve_") or self._watch() is None:
            self._start_bookkeeping()
        elif (self._watch().goal == "max") != bool(self.early_stopping):
            raise ConfigError(f"early_stopping={self.early_stopping} differs from the fit that "
                              f"this {'partial_fit' if incremental else 'warm start'} continues "
                              f"(its stopping rule watches the "
                              f"{'training loss' if self.early_stopping else 'validation score'}); "
                              f"fit with warm_start=False to change it")
        X, Y, sw, Xv, yv, swv = self._split(X, Y, sw, rs, incremental)
        batch_size = self._batch_size(X.shape[0])
        # the shuffling's seed is drawn after the split, as scikit-learn draws its shuffles then
        seed = int(rs.randint(np.iinfo(np.int32).max)) if new else None
        opt = self._make_optimizer(net, incremental)
        self.n_iter_ = 0
        callback = EpochEnd(self, X.shape[0], Xv, yv, swv, incremental)
        try:  # X.T of the row-major X is example-major, as gpubp's fit gathers batches fastest
            fit_network(net, X.T, np.ascontiguousarray(Y.T),
                        epochs=1 if incremental else self.max_iter, batch_size=batch_size,
                        optimizer=opt, shuffle=self.shuffle, seed=seed, callback=callback,
                        l2=float(self.alpha), comm=self.comm, check_finite=False,
                        sample_weight=sw)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
            if net.training is not None:  # drop the unfinished epoch: the next fit starts afresh
                net.training.discard_epoch()
        if self.early_stopping:
            net.training.restore_best(net)
        if not bool(net.xp.isfinite(net.params.flat).all()):  # as scikit-learn says it
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")

    def _make_optimizer(self, net, incremental):
        """The network's own optimizer, continued with the current hyperparameters if it is of
        this solver's kind (re-bound to the network's buffer after joblib.load); else a new one.
        SGD's rate starts from ``learning_rate_init`` at each fit, and partial_fit goes on with
        the rate that invscaling or adaptive has reached, as scikit-learn's optimizer does."""
        old = net.training.optimizer if net.training is not None else None
        if isinstance(old, (SklearnAdam, SklearnSGD)):
            old.rebind(net.params)
        if self.solver == "adam":
            if isinstance(old, SklearnAdam):
                old.lr = float(self.learning_rate_init)
                old.beta1, old.beta2, old.eps = self.beta_1, self.beta_2, self.epsilon
                return old
            return SklearnAdam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        if isinstance(old, SklearnSGD):
            if not incremental:
                old.lr = float(self.learning_rate_init)
            old.mu, old.nesterov = float(self.momentum), bool(self.nesterovs_momentum)
            return old
        return SklearnSGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum)



class EpochEnd:
    """fit's callback after every epoch for the estimator ``est`` (which it updates): returns
    True to stop."""

    def __init__(self, est, n_samples, Xv, yv, swv, incremental):
        self.est, self.n_samples, self.Xv, self.yv, self.swv = est, n_samples, Xv, yv, swv
        self.incremental = incremental
        self.watch = est._watch()  # scikit-learn's rule, in the network's training state

    def __call__(self, epoch, history):
        est = self.est
        self.record(history["cost"][-1])
        opt = est.network_.training.optimizer
        sgd = isinstance(opt, SklearnSGD)
        if sgd and est.learning_rate == "invscaling":
            opt.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if self.watch.waited > est.n_iter_no_change and self.no_improvement(opt, sgd):
            return True
        if self.incremental:
            return True
        if est.n_iter_ == est.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                          "optimization hasn't converged yet." % est.max_iter, ConvergenceWarning)
        return False

    def record(self, loss):
        """The epoch's loss and validation score, the one the watch sees."""
        est = self.est
        est.n_iter_ += 1
        est.loss_ = loss
        est.t_ += self.n_samples
        est.loss_curve_.append(loss)
        if est.verbose:
            print("Iteration %d, loss = %.8f" % (est.n_iter_, loss))
        if est.early_stopping:
            score = est.validation_score(self.Xv, self.yv, self.swv)
            est.validation_scores_.append(score)
            if est.verbose:
                print("Validation score: %f" % score)
            self.watch.see(score, est.tol, est.network_.params.flat)
        else:
            self.watch.see(loss, est.tol)

    def no_improvement(self, opt, sgd):
        """After more than n_iter_no_change epochs without improvement: stop (True), or with
        learning_rate="adaptive" divide SGD's rate by 5 until it is <= 1e-6."""
        est = self.est
        what = "Validation score" if est.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={est.tol:f} for "
               f"{est.n_iter_no_change} consecutive epochs.")
        if not sgd or est.learning_rate != "adaptive":
            if est.verbose:
                print(msg + " Stopping.")
            return True
        if opt.lr <= 1e-6:
            if est.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        opt.lr /= 5.0
        if est.verbose:
            print(msg + " Setting learning rate to %f" % opt.lr)
        self.watch.waited = 0
        return False
