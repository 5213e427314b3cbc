"""The stochastic solvers' bookkeeping after every epoch: scikit-learn's loss curve, validation
scores, learning-rate schedules and stopping rule, as a callback of :func:`gpubp.train.fit`."""

import warnings

from sklearn.exceptions import ConvergenceWarning

from .solvers import SklearnSGD


class EpochEnd:
    """fit's callback after every epoch for the estimator ``est`` (which it updates): returns
    True to stop."""

    def __init__(self, est, n_samples, Xv, yv, incremental):
        self.est, self.n_samples, self.Xv, self.yv = est, n_samples, Xv, yv
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
            score = est.validation_score(self.Xv, self.yv)
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
