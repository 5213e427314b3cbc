"""scikit-learn's solvers over gpubp's flat buffers: its Adam and SGD as gpubp optimizers, its
squared-error objective as a gpubp loss, and its L-BFGS (SciPy's L-BFGS-B over the ONE flat
parameter vector of a network).

Nothing here knows about estimators: each piece takes a network, arrays and numbers.
"""

import math

import numpy as np

from .. import backend, kernels, optim, sparse
from ..errors import ConfigError, GpubpError
from ..losses import HalfSSE


class Rebinding:
    """What scikit-learn's optimizers add to a gpubp optimizer: ``learning_rate`` (scikit-learn's
    name for the current rate, ``lr``) and :meth:`rebind`."""

    @property
    def learning_rate(self):
        """The current learning rate (scikit-learn's ``_optimizer.learning_rate``)."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value):
        self.lr = float(value)

    def rebind(self, params):
        """Bind this optimizer's state to ``params`` (a network's :class:`~gpubp.params.FlatArrays`)
        when it holds the state of an equal-shaped buffer that is no longer the network's: after
        ``joblib.load``, which stores every array apart, the network's flat buffer and the
        optimizer's reference to it are two copies. A free optimizer, or one already bound to
        ``params``, is left as it is; one holding state of another shape is an error."""
        if self.params is None or self.bound_to(params):
            return
        old = self.params[0] if len(self.params) == 1 else None
        if old is None or old.shape != params.flat.shape or old.dtype != params.flat.dtype:
            raise GpubpError(f"this {type(self).__name__} holds the state of other parameters "
                             f"(another network); its state cannot follow this network's")
        self.params = [params.flat]


class SklearnAdam(Rebinding, optim.Adam):
    """scikit-learn's Adam: ``m <- b1 m + (1-b1) dW``, ``v <- b2 v + (1-b2) dW^2``,
    ``W <- W - lr_t m / (sqrt(v) + eps)`` with ``lr_t = lr sqrt(1-b2^t) / (1-b1^t)``: ``eps`` is
    added to the uncorrected ``sqrt(v)`` (gpubp's :class:`~gpubp.optim.Adam` adds it to
    ``sqrt(vhat)``). The same fused kernel."""

    def update(self, p, g, m, v, scratch=None):
        t = self.t
        lr_t = self.lr * math.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        kernels.adam(g, self.beta1, self.beta2, lr_t, self.eps, p, m, v, scratch=scratch)


class SklearnSGD(Rebinding, optim.Optimizer):
    """scikit-learn's SGD: ``v <- mu v - lr dW``, then ``W <- W + v`` (classical momentum) or
    ``W <- W + mu v - lr dW`` (Nesterov's); with ``mu = 0`` plain ``W <- W - lr dW``."""

    def __init__(self, lr, momentum=0.9, nesterov=True):
        super().__init__(lr)
        if not 0 <= momentum <= 1:
            raise ConfigError(f"momentum must be in [0, 1]; got {momentum}")
        self.mu, self.nesterov = float(momentum), bool(nesterov)

    def new_state(self, p):
        return (backend.xp_of(p).zeros_like(p),)

    def update(self, p, g, v, scratch=None):
        if self.mu == 0:
            kernels.sgd(g, self.lr, p, scratch=scratch)          # v = -lr dW either way
        elif not self.nesterov:
            kernels.momentum(g, self.lr, self.mu, p, v, scratch=scratch)
        else:
            xp = backend.xp_of(p)
            v *= self.mu
            s = xp.multiply(g, self.lr, out=scratch)             # lr dW
            v -= s                                               # v = mu v - lr dW
            p -= s
            p += xp.multiply(v, self.mu, out=scratch)            # W += mu v - lr dW

    def __repr__(self):
        return f"SklearnSGD(lr={self.lr}, momentum={self.mu}, nesterov={self.nesterov})"


class SklearnSquaredError(HalfSSE):
    """scikit-learn's regression objective as it reports and as it descends it.

    It reports ``loss = 1/2 mean over all m x n[L] entries of (y_hat - y)^2`` (the cost here:
    ``half_sse / n[L]``), and descends with the output delta ``dZ[L] = (A[L] - Y) / m``, the
    gradient of ``half_sse`` (the sum over outputs). For one output the two agree; for ``n[L] > 1``
    scikit-learn's gradient is ``n[L]`` times the gradient of the loss it reports, and so is this
    loss's (so ``gradcheck`` of such a network disagrees by that factor, by design).
    """

    name = "sklearn_squared_error"

    def value(self, A, Y, Z=None, scratch=None):
        return super().value(A, Y, Z, scratch) / A.shape[0]

    def per_example(self, A, Y, Z=None):
        return super().per_example(A, Y, Z) / A.shape[0]


LBFGS_MESSAGE = ("lbfgs failed to converge after {n_iter} iteration(s) (status={status}):\n"
                 "{message}\n")


def objective(net, X_cols, Y_cols, l2, sample_weight=None):
    """``f(theta) -> (cost, gradient)`` over ``net``'s flat parameter vector (float64 on the
    host, in the layout of ``net.params.flat``): the cost of all of ``X_cols`` ``(n[0], m)``,
    ``Y_cols`` ``(n[L], m)`` plus ``l2 / (2 m) sum ||W||^2``, and its gradient; with
    ``sample_weight`` ``(m,)`` the weighted cost ``sum_j w_j loss_j / s`` plus
    ``l2 / (2 s) sum ||W||^2``, ``s`` the sum of the weights (scikit-learn's). Each call copies
    ``theta`` into the network's flat buffer (on the device), runs forward, cost and backward over
    the whole batch, and brings the flat gradient buffer and the cost back: one crossing each
    way. Also ``f.x0``: the network's current parameters as such a vector."""
    X = net.check_inputs(X_cols)
    m = next(iter(X.values())).shape[1]
    plan = net.plan(m, sparse.names(X))
    if sample_weight is None:
        plan.stage(X, net.check_targets(Y_cols, m))
    else:
        w = np.asarray(sample_weight, np.float64)
        plan.stage(X, net.check_targets(Y_cols, m),
                   weights=backend.to_device(w.astype(net.dtype), net.xp), divisor=w.sum())
    flat, grad = net.params.flat, net.grads.flat

    def cost_and_gradient(theta):
        flat[...] = backend.to_device(np.asarray(theta), net.xp)  # float64 -> the network's dtype
        plan.forward()
        cost = plan.cost(l2)
        plan.backward(l2=l2)  # 1/m, or 1/s with the staged weights
        # a copy: on the CPU to_host gives the live buffer, which the next call overwrites
        return float(backend.to_host(cost)), np.array(backend.to_host(grad), np.float64)

    cost_and_gradient.x0 = np.asarray(backend.to_host(flat), np.float64).copy()
    return cost_and_gradient


def lbfgs(net, X_cols, Y_cols, l2, max_iter, max_fun, tol, sample_weight=None):
    """Minimize ``net``'s cost (plus ``l2 / (2 m) sum ||W||^2``) on all of ``X_cols``
    ``(n[0], m)``, ``Y_cols`` ``(n[L], m)`` with SciPy's L-BFGS-B over the flat parameter vector
    (:func:`objective`), starting from the network's parameters and leaving the result in it.
    ``max_iter``, ``max_fun`` and ``tol`` are SciPy's ``maxiter``, ``maxfun`` and ``gtol``.
    ``sample_weight``: the examples' weights (:func:`objective`). Returns SciPy's
    OptimizeResult."""
    import scipy.optimize  # scikit-learn needs SciPy, so it is here whenever this module is

    f = objective(net, X_cols, Y_cols, l2, sample_weight)
    result = scipy.optimize.minimize(
        f, f.x0, method="L-BFGS-B", jac=True,
        options={"maxfun": int(max_fun), "maxiter": int(max_iter), "gtol": float(tol)})
    net.params.flat[...] = backend.to_device(result.x, net.xp)
    return result
