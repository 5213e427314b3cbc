"""The training state: what :func:`gpubp.fit` keeps in a network between calls (``net.training``).

:class:`TrainingState` holds the optimizer with its moments, the random generator of the
shuffling, the epoch count, the :class:`History` of every epoch, an epoch stopped between two
batches, and early stopping's :class:`Watch` (fit's rule, or scikit-learn's for the estimators of
:mod:`gpubp.sklearn`). It writes and reads its own record (:meth:`TrainingState.record` /
:meth:`TrainingState.restore`), the optimizer its own within it, so that a checkpoint holds all
of it and a resumed run equals an uninterrupted one.
"""

import math

import numpy as np

from . import backend, optim
from .errors import ConfigError


class History(dict):
    """``history["cost"][e]``: mean cost over the batches of epoch e (before each batch's update);
    ``history["val_cost"][e]``: cost on the validation data after epoch e (if given);
    ``history["train_cost"][e]``: cost on all the training data after epoch e (when early
    stopping watches the training cost: the parameters it restores are the ones measured)."""

    @property
    def epochs(self):
        return len(self["cost"])

    def append(self, row):
        for k, v in row.items():
            self.setdefault(k, []).append(v)


class Watch:
    """Early stopping's watch over one number per epoch: a cost to minimize (``goal="min"``) or
    a score to maximize (``"max"``). :meth:`see` takes each epoch's value and the tolerance
    ``tol``, and returns ``waited``, the epochs in a row without a gain beyond ``tol`` over
    ``best``. Two rules, which differ on a gain smaller than ``tol``:

    - ``any_gain=False``, fit's rule (``tol`` is its ``min_delta``): only a gain beyond ``tol``
      counts; it moves ``best`` and starts the count again, anything else is an epoch waited.
    - ``any_gain=True``, scikit-learn's (``tol`` is its ``tol``): the epoch is waited when the
      value falls short of ``best`` by ``tol`` (``value > best - tol``; ``< best + tol`` for a
      score), else the count starts again (a gain of exactly ``tol``, or a NaN, too); ``best``
      moves on any gain, however small.

    ``keep``: a new best copies the parameters into ``best_params`` (``params``, if given: the
    ones to restore should no epoch gain; fit's watch starts without). ``lasting``: the watch goes
    on from one fit to the next until its owner starts another (the estimators', which keep
    scikit-learn's count over ``partial_fit`` and warm starts); fit's is started afresh by each
    fit that does not go on from a stopped one.
    """

    GOALS = ("min", "max")

    def __init__(self, goal="min", any_gain=False, keep=True, lasting=False, params=None):
        if goal not in self.GOALS:
            raise ConfigError(f"a watch's goal must be 'min' or 'max'; got {goal!r}")
        self.goal, self.any_gain = goal, bool(any_gain)
        self.keep, self.lasting = bool(keep), bool(lasting)
        self.best = np.inf if goal == "min" else -np.inf
        self.best_params = params.copy() if keep and params is not None else None
        self.waited = 0

    @property
    def is_fits(self):
        """Is this fit's rule (what :meth:`TrainingState.start_watch` starts by default)?"""
        return (self.goal, self.any_gain, self.keep, self.lasting) == ("min", False, True, False)

    def see(self, value, tol, params=None):
        """One epoch's ``value`` (with ``params``, the parameters it was measured with, copied
        when the best moves and ``keep``): the epochs waited so far."""
        if self.goal == "min":
            beyond, short, better = (value < self.best - tol, value > self.best - tol,
                                     value < self.best)
        else:
            beyond, short, better = (value > self.best + tol, value < self.best + tol,
                                     value > self.best)
        if self.any_gain:
            self.waited, moves = (self.waited + 1 if short else 0), better
        else:
            self.waited, moves = (0 if beyond else self.waited + 1), beyond
        if moves:
            self.best = value
            if self.keep and params is not None:
                self.best_params = params.copy()
        return self.waited


class TrainingState:
    """What training keeps from one :func:`fit` call to the next: it belongs to one network.

    ``optimizer``: its moments are the state of this network's parameters; ``rng``: the shuffling;
    ``epoch``: epochs done; ``history``: every epoch so far; ``early``: early stopping's
    :class:`Watch` (``best`` / ``best_params`` / ``waited`` read and write its fields). An epoch
    stopped between two batches (``fit(stop=...)``) keeps ``order`` (its permutation, on the
    host), ``position`` (the next batch's first column) and ``partial`` (the sum of its batch
    costs times batch sizes so far): the next ``fit`` finishes
    that epoch first, exactly as if it had not stopped. An error or a KeyboardInterrupt inside
    the batch loop leaves the same record of the batches that ran (:meth:`discard_epoch` drops
    it). ``interrupted``: the last ``fit`` was stopped (by ``stop`` or an error), so the next one
    goes on with its early-stopping watch instead of starting a fresh one.
    """

    def __init__(self, optimizer, rng):
        self.optimizer = optimizer
        self.rng = rng
        self.epoch = 0
        self.history = History(cost=[])
        self.early = Watch()
        self.order, self.position, self.partial = None, 0, 0.0
        self.interrupted = False

    @property
    def mid_epoch(self):
        return self.order is not None

    def discard_epoch(self):
        """Forget a stopped epoch: the next ``fit`` starts a new one (on any data). The batches
        of the stopped epoch that ran stay in the parameters; their costs are dropped."""
        self.order, self.position, self.partial = None, 0, 0.0

    best = property(lambda self: self.early.best,
                    lambda self, v: setattr(self.early, "best", v), doc="the watch's best")
    best_params = property(lambda self: self.early.best_params,
                           lambda self, v: setattr(self.early, "best_params", v),
                           doc="the parameters of the watch's best (a flat copy), or None")
    waited = property(lambda self: self.early.waited,
                      lambda self, v: setattr(self.early, "waited", v),
                      doc="the epochs waited without a gain")

    def start_watch(self, watch=None):
        """Start early stopping's watch: ``watch`` (a :class:`Watch` of its owner's rule), or by
        default a fresh one of fit's rule, which fit starts at each call that does not go on
        from a stopped one; a lasting watch in place then goes on (its owner starts it)."""
        if watch is not None:
            self.early = watch
        elif not self.early.lasting:
            self.early = Watch()

    def watch(self, net, current, min_delta):
        """fit's early stopping: keep the parameters if ``current`` improved on the best by more
        than ``min_delta``; return the epochs waited without such an improvement. A watch of
        another rule in place (an estimator's) gives way to a fresh one of fit's rule."""
        if not self.early.is_fits:
            self.early = Watch()
        return self.early.see(current, min_delta, net.params.flat)

    def restore_best(self, net):
        if self.best_params is not None:
            net.params.flat[...] = self.best_params

    # ---- its record (a checkpoint's "training" entry and arrays) ----------------------------

    def record(self, net):
        """``(record, arrays)``: this state as JSON data, and its arrays on the host by entry
        name (``optimizer_state_<i>``, ``order`` for a stopped epoch, ``best_params``)."""
        opt_record, states = self.optimizer.record(net.params)
        record = {
            "optimizer": opt_record,
            "rng": _plain(self.rng.bit_generator.state),
            "epoch": self.epoch,
            "history": {k: [float(v) for v in vs] for k, vs in self.history.items()},
            # an epoch stopped between batches (its permutation is the array "order")
            "stopped": ({"position": self.position, "partial": self.partial}
                        if self.mid_epoch else None),
            # early stopping's bookkeeping (its best parameters are the array "best_params")
            "watch": {"best": float(self.best) if np.isfinite(self.best) else None,
                      "waited": self.waited, "interrupted": self.interrupted},
        }
        if not self.early.is_fits:  # another rule's (older files hold fit's, without "rule")
            w = self.early
            record["watch"]["rule"] = {"goal": w.goal, "any_gain": w.any_gain, "keep": w.keep,
                                       "lasting": w.lasting}
        arrays = {f"optimizer_state_{i}": s for i, s in enumerate(states)}
        if self.mid_epoch:
            arrays["order"] = np.asarray(self.order, dtype=np.int64)
        if self.best_params is not None:
            arrays["best_params"] = backend.to_host(self.best_params)
        return record, arrays

    @classmethod
    def restore(cls, net, record, reader):
        """The state :meth:`record` wrote, for ``net`` (its parameters already loaded), read from
        ``reader`` (a :class:`gpubp.checkpoint.Reader`): CheckpointError for anything malformed."""
        f = reader.fields("training")
        P, dtype = net.params.layout.size, net.dtype
        def state_array(i, what):  # the optimizer's i-th state array, shaped like the parameters
            return reader.flat(f"optimizer_state_{i}", P, dtype, what)

        opt, states = optim.Optimizer.restore(f.get(record, "optimizer", dict), f, state_array)
        if states is not None:
            opt.bind(net.params, states)
        state = cls(opt, _generator(f.get(record, "rng", dict), f))
        state.epoch = f.count(record, "epoch", least=0)
        history = f.get(record, "history", dict)
        for k, vs in history.items():
            if not isinstance(vs, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in vs):
                raise f.error(f"history[{k!r}] must be a list of numbers")
        state.history = History({k: [float(v) for v in vs] for k, vs in history.items()})
        state.history.setdefault("cost", [])
        if state.history.epochs != state.epoch:  # fit counts an epoch as it records its cost
            raise f.error(f"epoch is {state.epoch} but history['cost'] holds "
                          f"{state.history.epochs} epochs' costs; they must agree")
        stopped = f.get(record, "stopped", dict, optional=True)
        if stopped is not None:
            state.order = _order(reader)
            state.position = f.count(stopped, "position", least=0)
            if state.position >= state.order.size:
                raise f.error(f"stopped.position must be in 0..{state.order.size - 1}; got "
                              f"{state.position}")
            state.partial = f.number(stopped, "partial")
        watch = f.get(record, "watch", dict, optional=True)
        if watch is not None:
            state.early = _watch(watch, f)
            state.interrupted = f.get(watch, "interrupted", bool, optional=True) or False
            if "best_params" in reader:
                best_params = reader.flat("best_params", P, dtype, "early stopping's best")
                state.best_params = backend.to_device(best_params, net.xp).copy()
        return state


#: the bit generators a record may name (NumPy's own)
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _plain(o):
    """A bit generator's state as JSON data (its arrays as lists, its NumPy ints as ints)."""
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.integer):
        return int(o)
    return o


def _generator(rng_state, f):
    name = f.get(rng_state, "bit_generator", str)
    if name not in BIT_GENERATORS:
        raise f.error(f"unknown bit generator {name!r}; valid ones are: {', '.join(BIT_GENERATORS)}")
    bg = getattr(np.random, name)()
    try:
        bg.state = rng_state
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise f.error(f"the {name} state cannot be restored: {' '.join(str(e).split())}") from None
    return np.random.Generator(bg)


def _watch(watch, f):
    """The :class:`Watch` of a record's "watch" (fit's rule unless it names another)."""
    rule = f.get(watch, "rule", dict, optional=True) or {}
    goal = f.get(rule, "goal", str, optional=True) or "min"
    if goal not in Watch.GOALS:
        raise f.error(f"watch.rule.goal must be 'min' or 'max'; got {goal!r}")
    flags = {k: f.get(rule, k, bool, optional=True) for k in ("any_gain", "keep", "lasting")}
    w = Watch(goal, **{k: v for k, v in flags.items() if v is not None})
    best = f.get(watch, "best", (int, float), optional=True)
    if best is not None:  # null: none yet (inf for a cost, -inf for a score)
        w.best = float(best)
    if math.isnan(w.best):  # record writes a number or null; below NaN no cost compares
        raise f.error("watch.best must be a number or null; got NaN")
    w.waited = f.count(watch, "waited", least=0)
    return w


def _order(reader):
    shape, dtype = reader.header("order")
    order = reader.array("order") if len(shape) == 1 and dtype.kind in "iu" else None
    if order is None or not np.array_equal(np.sort(order), np.arange(order.size)):
        raise reader.error("'order' must be a permutation of 0..M-1 (the stopped epoch's order of "
                           "the examples)")
    return order
