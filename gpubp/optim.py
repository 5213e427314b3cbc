"""Optimizers: in-place updates of the parameters on whatever device holds them.

``step(params, grads)`` takes a network's flat parameter buffer and its gradient buffer
(:class:`gpubp.params.FlatArrays`), and updates every parameter with ONE fused kernel
(:mod:`gpubp.kernels`) over the whole buffer. A list of arrays and a list of their gradients
works too (one kernel per array). State (velocities, moments) is allocated at the first step,
shaped like the parameters, and reused after.

An optimizer's state belongs to the parameters it first updated: stepping another network's
parameters with it is an error, not silently shared moments.

Each optimizer writes and reads its own record (a checkpoint's ``training["optimizer"]``):
:meth:`Optimizer.record` gives its kind, ``lr``, step count ``t`` and hyperparameters
(``hyper``) as JSON data, and its state arrays (named by ``state_names``);
:meth:`Optimizer.restore` rebuilds it, and :meth:`Optimizer.bind` attaches restored state to a
network's flat buffer. A new optimizer declares ``kind``, ``hyper`` and ``state_names`` and joins
``OPTIMIZERS``; checkpoints then store it with no other change.
"""

import math

import numpy as np

from . import kernels
from .backend import xp_of
from . import backend
from .errors import ArgumentTypeError, CheckpointError, ConfigError, GpubpError, unknown_name
from .params import FlatArrays


def _number(name, value):
    """``value`` as a float, or an ArgumentTypeError that names the hyperparameter."""
    if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{name} must be a number; got {name}={value!r} "
                                f"({type(value).__name__})")
    return float(value)


class Optimizer:
    """Base class. A subclass writes two methods, the whole of what makes it one optimizer:

    ``new_state(p)``: the tuple of arrays it keeps for the parameter array ``p`` (velocities,
    moments), made once, at the first step;
    ``update(p, g, *state, scratch=None)``: the in-place update of ``p`` (and its state) from its
    gradient ``g``; ``self.t`` is the step count, already advanced for this step; ``scratch`` is a
    buffer shaped like ``p`` that the NumPy twins may use, or None.

    And two names for its record: ``hyper``, its hyperparameters besides ``lr`` (constructor
    arguments and attributes of the same names); ``state_names``, what ``new_state`` returns.
    """

    kind = None         # its name in OPTIMIZERS (a record stores the name, never code)
    hyper = ()
    state_names = ()

    def __init__(self, lr):
        lr = _number("lr", lr)
        if not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"learning rate must be a finite number > 0; got lr={lr}")
        self.lr = lr
        self.t = 0
        self.params = None   # the arrays this optimizer updates, bound at the first step
        self.state = None    # per array: its velocities / moments

    def bound_to(self, params):
        """Is this optimizer free, or already the one of ``params`` (a FlatArrays or a list)?"""
        arrays = [params.flat] if isinstance(params, FlatArrays) else list(params)
        return self.params is None or (len(arrays) == len(self.params) and
                                       all(p is q for p, q in zip(arrays, self.params)))

    def step(self, params, grads, scratch=None):
        """Update ``params`` in place from ``grads``. ``scratch``: a buffer shaped like the flat
        parameters for the NumPy twins (else they make one temporary per call)."""
        if isinstance(params, FlatArrays):
            flat = params.flat
            if self.params is not None and len(self.params) == 1 and self.params[0] is flat:
                self.t += 1  # the training loop's case, kept short: one buffer, already bound
                self.update(flat, grads.flat, *self.state[0], scratch=scratch)
                return
            params, grads, scratch = [flat], [grads.flat], [scratch]
        else:
            params, grads, scratch = list(params), list(grads), [None] * len(params)
        if len(params) != len(grads):
            raise ConfigError(f"step needs one gradient per parameter; got {len(params)} "
                             f"parameters and {len(grads)} gradients")
        if not self.bound_to(params):
            raise GpubpError(f"this {type(self).__name__} optimizer holds the state of other "
                             f"parameters (another network); make a new optimizer for each network")
        if self.params is None:
            self.params = params
            self.state = [self.new_state(p) for p in params]
        self.t += 1
        for p, g, s, tmp in zip(params, grads, self.state, scratch):
            self.update(p, g, *s, scratch=tmp)

    def reset(self):
        """Forget the step count and the state (moments), keep the hyperparameters: the next
        step binds to its parameters afresh (how training goes on after a divergence)."""
        self.t, self.params, self.state = 0, None, None

    def bind(self, params, state):
        """Make this optimizer the one of ``params`` (a FlatArrays) with ``state``: one array per
        name of ``state_names``, each shaped like ``params.flat`` (host or device arrays; copied
        onto the buffer's device). How a restored optimizer goes on where it stopped."""
        if len(state) != len(self.state_names):
            raise ConfigError(f"{type(self).__name__} keeps {len(self.state_names)} state arrays "
                              f"({', '.join(self.state_names) or 'none'}); got {len(state)}")
        flat = params.flat
        arrays = []
        for name, s in zip(self.state_names, state):
            if tuple(s.shape) != flat.shape:
                raise ConfigError(f"{type(self).__name__} state {name} must be shaped like the "
                                  f"parameters {flat.shape}; got {tuple(s.shape)}")
            arrays.append(backend.to_device(s, params.xp, flat.dtype).copy())
        self.params, self.state = [flat], [tuple(arrays)]

    def record(self, params):
        """``(record, states)``: this optimizer as JSON data (kind, lr, t, whether it holds
        state, its hyperparameters) and its state arrays on the host, in ``state_names`` order
        (none before its first step). ``params``: the FlatArrays it must belong to."""
        if self.kind is None or OPTIMIZERS.get(self.kind) is not type(self):
            raise CheckpointError(f"optimizer {type(self).__name__} is not one of gpubp's "
                                  f"({', '.join(OPTIMIZERS)}); a checkpoint holds no code")
        bound = self.params is not None
        if bound and (len(self.params) != 1 or self.params[0] is not params.flat):
            raise CheckpointError(f"the training state's {type(self).__name__} optimizer holds the "
                                  f"state of other arrays than this model's parameters; cannot "
                                  f"save it")
        record = {"kind": self.kind, "lr": self.lr, "t": self.t, "bound": bound,
                  **{h: getattr(self, h) for h in self.hyper}}
        states = [backend.to_host(s) for s in self.state[0]] if bound else []
        return record, states

    @staticmethod
    def restore(record, fields, state):
        """``(optimizer, states)`` from :meth:`Optimizer.record`'s ``record``, read with ``fields``
        (a :class:`gpubp.checkpoint.Fields`: a malformed record is a CheckpointError);
        ``state(i, what)`` gives its i-th state array (``what``: "adam m", ...), asked only if the
        record holds state. ``states`` is None for an optimizer that had not stepped yet; else bind
        them with :meth:`Optimizer.bind`."""
        kind = fields.get(record, "kind", str)
        if kind not in OPTIMIZERS:
            raise fields.error(f"unknown optimizer {kind!r}; valid optimizers are: "
                               f"{', '.join(sorted(OPTIMIZERS))}")
        cls = OPTIMIZERS[kind]
        try:
            opt = cls(fields.number(record, "lr"),
                      **{h: fields.number(record, h) for h in cls.hyper})
        except (ValueError, TypeError) as e:
            raise fields.error(f"optimizer: {e}") from None
        opt.t = fields.count(record, "t", least=0)
        if not fields.get(record, "bound", bool):
            return opt, None
        return opt, [state(i, f"{kind} {name}") for i, name in enumerate(cls.state_names)]

    def __repr__(self):
        return f"{type(self).__name__.lower()}(lr={self.lr})"


class SGD(Optimizer):
    """``W <- W - lr dW``."""

    kind = "sgd"

    def new_state(self, p):
        return ()

    def update(self, p, g, scratch=None):
        kernels.sgd(g, self.lr, p, scratch=scratch)


class Momentum(Optimizer):
    """``v <- mu v - lr dW``, ``W <- W + v`` (classical momentum, ``mu`` = 0.9)."""

    kind, hyper, state_names = "momentum", ("mu",), ("v",)

    def __init__(self, lr, mu=0.9):
        super().__init__(lr)
        mu = _number("mu", mu)
        if not 0 <= mu < 1:
            raise ConfigError(f"momentum needs 0 <= mu < 1; got mu={mu}")
        self.mu = float(mu)

    def new_state(self, p):
        return (xp_of(p).zeros_like(p),)

    def update(self, p, g, v, scratch=None):
        kernels.momentum(g, self.lr, self.mu, p, v, scratch=scratch)


class Adam(Optimizer):
    """Adam (Kingma and Ba): ``m <- b1 m + (1-b1) dW``, ``v <- b2 v + (1-b2) dW^2``,
    ``W <- W - lr mhat / (sqrt(vhat) + eps)`` with ``mhat = m/(1-b1^t)``, ``vhat = v/(1-b2^t)``."""

    kind, hyper, state_names = "adam", ("beta1", "beta2", "eps"), ("m", "v")

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = (_number(k, v) for k, v in
                                            (("beta1", beta1), ("beta2", beta2), ("eps", eps)))
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and 0 < self.eps < math.inf):
            raise ConfigError(f"adam needs 0 <= beta1, beta2 < 1 and a finite eps > 0; got "
                              f"beta1={beta1}, beta2={beta2}, eps={eps}")

    def new_state(self, p):
        return xp_of(p).zeros_like(p), xp_of(p).zeros_like(p)

    def update(self, p, g, m, v, scratch=None):
        t = self.t
        c2 = math.sqrt(1 - self.beta2 ** t)
        lr_t = self.lr * c2 / (1 - self.beta1 ** t)
        kernels.adam(g, self.beta1, self.beta2, lr_t, self.eps * c2, p, m, v, scratch=scratch)


OPTIMIZERS = {cls.kind: cls for cls in (SGD, Momentum, Adam)}


def get(name_or_optimizer, lr=None):
    """An optimizer from its name and learning rate (or the object itself)."""
    if isinstance(name_or_optimizer, Optimizer):
        if lr is not None and lr != name_or_optimizer.lr:
            raise ConfigError(f"lr={lr} was given with an optimizer object that has lr="
                             f"{name_or_optimizer.lr}; set the rate on the object instead")
        return name_or_optimizer
    if name_or_optimizer not in OPTIMIZERS:
        raise unknown_name("optimizer", name_or_optimizer, OPTIMIZERS)
    cls = OPTIMIZERS[name_or_optimizer]
    return cls(lr if lr is not None else (1e-3 if cls is Adam else 0.01))
