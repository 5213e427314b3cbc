"""Optimizers: in-place updates of the parameters on whatever device holds them.

``step(params, grads)`` takes the live parameter arrays ``[W[1], b[1], ...]`` and the gradient
buffers in the same order, and updates each parameter with one fused kernel
(:mod:`gpubp.kernels`). State (velocities, moments) is allocated at the first step, next to
each parameter, and reused after.
"""

import math

from .backend import xp_of
from . import kernels
from .errors import unknown_name


class Optimizer:
    def __init__(self, lr):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0; got lr={lr}")
        self.lr = float(lr)
        self.t = 0
        self._state = None

    def step(self, params, grads):
        if self._state is None:
            if len(params) != len(grads):
                raise ValueError(f"step needs one gradient per parameter; got {len(params)} "
                                 f"parameters and {len(grads)} gradients")
            self._state = [self._new_state(p) for p in params]
        self.t += 1
        for p, g, s in zip(params, grads, self._state):
            self._update(p, g, *s)

    def _zeros(self, p):
        return xp_of(p).zeros_like(p)

    def __repr__(self):
        return f"{type(self).__name__.lower()}(lr={self.lr})"


class SGD(Optimizer):
    """``W <- W - lr dW``."""

    def _new_state(self, p):
        return (self._zeros(p),)  # scratch, used by the NumPy twin only

    def _update(self, p, g, scratch):
        kernels.sgd(g, self.lr, p, scratch=scratch)


class Momentum(Optimizer):
    """``v <- mu v - lr dW``, ``W <- W + v`` (classical momentum, ``mu`` = 0.9)."""

    def __init__(self, lr, mu=0.9):
        super().__init__(lr)
        if not 0 <= mu < 1:
            raise ValueError(f"momentum needs 0 <= mu < 1; got mu={mu}")
        self.mu = float(mu)

    def _new_state(self, p):
        return self._zeros(p), self._zeros(p)

    def _update(self, p, g, v, scratch):
        kernels.momentum(g, self.lr, self.mu, p, v, scratch=scratch)


class Adam(Optimizer):
    """Adam (Kingma and Ba): ``m <- b1 m + (1-b1) dW``, ``v <- b2 v + (1-b2) dW^2``,
    ``W <- W - lr mhat / (sqrt(vhat) + eps)`` with ``mhat = m/(1-b1^t)``, ``vhat = v/(1-b2^t)``."""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _new_state(self, p):
        return self._zeros(p), self._zeros(p), self._zeros(p)

    def _update(self, p, g, m, v, scratch):
        t = self.t
        c2 = math.sqrt(1 - self.beta2 ** t)
        lr_t = self.lr * c2 / (1 - self.beta1 ** t)
        kernels.adam(g, self.beta1, self.beta2, lr_t, self.eps * c2, p, m, v, scratch=scratch)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def get(name_or_optimizer, lr=None):
    """An optimizer from its name and learning rate (or the object itself)."""
    if isinstance(name_or_optimizer, Optimizer):
        if lr is not None and lr != name_or_optimizer.lr:
            raise ValueError(f"lr={lr} was given with an optimizer object that has lr="
                             f"{name_or_optimizer.lr}; set the rate on the object instead")
        return name_or_optimizer
    if name_or_optimizer not in OPTIMIZERS:
        raise unknown_name("optimizer", name_or_optimizer, OPTIMIZERS)
    cls = OPTIMIZERS[name_or_optimizer]
    return cls(lr if lr is not None else (1e-3 if cls is Adam else 0.01))
