"""The stochastic solvers (sgd, adam): the early-stopping split, the batches, the optimizer that
goes on from fit to fit, and after every epoch scikit-learn's bookkeeping (loss curve,
validation scores, learning-rate schedules, stopping rule) as a callback of
:func:`gpubp.train.fit`."""

import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from .. import backend, sparse
from ..errors import ConfigError
from ..train import fit as fit_network
from .solvers import SklearnAdam, SklearnSGD

STOCHASTIC = ("sgd", "adam")


class StochasticSolvers:
    """The estimators' fit by mini-batches (a base class of :class:`~.base.BaseMLP`)."""

    def _start_bookkeeping(self):
        """The stochastic solvers' record: the loss curve and the stopping rule's counts."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._best_params = self.network_.params.flat.copy()
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = self.best_validation_score_ = None

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
        if not hasattr(self, "loss_curve_"):  # a warm start after solver='lbfgs'
            self._start_bookkeeping()
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
            net.params.flat[...] = self._best_params
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

    def __call__(self, epoch, history):
        est = self.est
        self.record(history["cost"][-1])
        opt = est.network_.training.optimizer
        sgd = isinstance(opt, SklearnSGD)
        if sgd and est.learning_rate == "invscaling":
            opt.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change and self.no_improvement(opt, sgd):
            return True
        if self.incremental:
            return True
        if est.n_iter_ == est.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                          "optimization hasn't converged yet." % est.max_iter, ConvergenceWarning)
        return False

    def record(self, loss):
        """The epoch's loss, validation score and the count of epochs without improvement."""
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
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = est.network_.params.flat.copy()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = loss

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
        est._no_improvement_count = 0
        return False
