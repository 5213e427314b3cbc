"""The fit loop: shuffled mini-batches, epochs, validation, early stopping, history, progress.

What must survive between calls of :func:`fit` (and in a checkpoint) lives in one object,
:class:`gpubp.state.TrainingState`, owned by the network (``net.training``): the optimizer with
its moments, the random generator of the shuffling, the epoch count, the history and early
stopping's watch. Calling ``fit`` twice continues training: the same optimizer state, the next
shuffles.

The data cross to the device once per call of :func:`fit`; each epoch draws one permutation on
the host and sends it over; each batch is gathered into the plan's buffers (no allocation). The
cost of each batch is summed on the device and comes back to the host once per epoch.
"""

import math
import time

import numpy as np

from . import backend, distributed, interrupts, kernels, optim, sparse
from .checks import check_batch_size, check_flag, check_seed
from .errors import (ArgumentTypeError, ConfigError, DataError, GpubpError, ShapeError,
                     TrainingDiverged)
from .state import History, TrainingState  # noqa: F401 (History is part of train's API)


def _optimizer_for(net, optimizer, lr):
    """``(optimizer, lr)``: the optimizer of this fit, and the rate to set on it once every
    argument has been checked (None: keep its own). The network's own optimizer continues if it
    is of the kind asked. Changes nothing: a refused fit leaves the training state as it was."""
    state = net.training
    if isinstance(optimizer, optim.Optimizer):
        if not optimizer.bound_to(net.params):  # refused before it can replace the network's own
            raise GpubpError(f"this {type(optimizer).__name__} optimizer holds the state of other "
                             f"parameters (another network); make a new optimizer for each network")
        return optim.get(optimizer, lr), None
    if not isinstance(optimizer, str):
        raise ArgumentTypeError(f"optimizer must be a name ({', '.join(sorted(optim.OPTIMIZERS))}) "
                                f"or an Optimizer; got {type(optimizer).__name__}")
    if optimizer not in optim.OPTIMIZERS:
        return optim.get(optimizer, lr), None  # raises, listing the valid names
    if state is not None and type(state.optimizer) is optim.OPTIMIZERS[optimizer]:
        return state.optimizer, None if lr is None else optim.get(optimizer, lr).lr  # checked alike
    return optim.get(optimizer, lr), None


def _count(name, value, least):
    """``value`` if it is an integer >= ``least`` (not a bool), else a ConfigError naming it."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not (is_int and value >= least):
        raise ConfigError(f"{name} must be an integer >= {least}; got {value!r}")
    return int(value)


def _amount(name, value):
    """``value`` as a float if it is a finite number >= 0 (not a bool), else a ConfigError."""
    is_number = (isinstance(value, (int, float, np.integer, np.floating))
                 and not isinstance(value, (bool, np.bool_)))
    if not (is_number and math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def fit(net, X, Y, epochs=10, batch_size=32, optimizer="adam", lr=None, validation_data=None,
        shuffle=True, seed=None, patience=None, min_delta=0.0, verbose=False, callback=None,
        l2=0.0, stop=None, comm=None, check_finite=True, sample_weight=None):
    """Train ``net`` on the columns of ``X`` ``(n[0], M)`` and ``Y`` ``(n[L], M)``.

    Parameters
    ----------
    epochs : int
        Passes over the data in this call (a second call continues: see :class:`TrainingState`).
    batch_size : int
        Examples per step (the last batch of an epoch may be smaller).
    optimizer : "sgd", "momentum", "adam" or an :class:`~gpubp.optim.Optimizer`
        A name continues the network's optimizer (its moments) when it is of that kind.
    lr : float, default 1e-3 for adam, 0.01 otherwise
    validation_data : (X_val, Y_val), optional
        Scored after every epoch into ``history["val_cost"]``.
    shuffle : bool
        Draw a new order of the examples every epoch.
    seed : int, optional
        Seeds the shuffling anew (anything a network's seed may be: an int >= 0, a SeedSequence,
        BitGenerator or Generator, which then shuffles). By default the first fit seeds it with the network's seed, so
        that a seeded network trains the same way every time, and later fits continue it.
    patience : int, optional
        Early stopping: stop when the monitored cost (validation cost if given, else the cost on
        all the training data after each epoch) has not gone below its best by more than
        ``min_delta`` for ``patience`` epochs, and restore the parameters of the best epoch.
        The watch is per call: each fit starts a fresh one (unless it goes on from a fit that
        ``stop`` or an error interrupted) and ends with the best parameters of its own epochs,
        so ``fit(epochs=3)`` twice with ``patience`` is not ``fit(epochs=6)``; without
        ``patience``, or across a stop, it is, bit for bit.
    verbose : bool
        Print one line per epoch.
    callback : callable(epoch, history), optional
        Called after every epoch (``epoch`` counts from 0 within this call); return True to stop.
    l2 : float
        Adds ``l2 / (2 m) sum ||W||^2`` over the weights (not the biases) to each batch's cost:
        scikit-learn's ``alpha``.
    stop : callable() -> bool, optional
        Asked after every batch; when it returns True, fit returns at once, leaving the epoch
        unfinished in ``net.training`` (a checkpoint then holds it, and the next fit finishes it).
    comm : None, "mpi", "nccl" or a :class:`gpubp.distributed.MPIComm`
        Data-parallel training (see :mod:`gpubp.distributed`): every rank passes the same X, Y;
        each computes its share of every global batch of ``batch_size`` examples.
    check_finite : bool
        Raise :class:`TrainingDiverged` at the end of an epoch whose cost or parameters are not
        finite (below). ``False`` trains on through NaN and Inf, as scikit-learn's MLP does.
    sample_weight : array of shape (M,), optional
        The examples' weights (finite, not all zero; scikit-learn's ``sample_weight``): each
        batch's cost is ``sum_j w_j loss_j / s`` plus ``l2 / (2 s) sum ||W||^2``, ``s`` the
        batch's sum of weights (the global batch's, data-parallel), and its gradient that cost's
        (``dZ[L]`` scaled column by column by ``w``, :mod:`gpubp.plan`): integer weights are
        repeated examples. An epoch's ``cost`` is the mean of its batches' costs weighted by their
        sizes, as without weights. ``validation_data`` and ``patience``'s ``train_cost`` are
        scored unweighted.

    Returns
    -------
    History of this call (``net.training.history`` holds every epoch so far).

    Raises
    ------
    TrainingDiverged
        At the end of the first epoch whose cost (or validation / training cost), or whose
        parameters, are not finite (NaN or Inf: a learning rate too large, or data that overflow
        the dtype). The parameters, epoch count, history, shuffling and a stopped epoch's place
        are put back as they were before that epoch; the optimizer, whose moments saw the
        non-finite gradients, drops its state (step count and moments) and keeps its
        hyperparameters: the next fit starts them afresh. Data-parallel ranks decide together.
    """
    comm = distributed.get(comm)
    # overflow and NaN are not warned about batch by batch: each epoch's end checks for them
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _fit_on(net, X, Y, comm, dict(
            epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
            validation_data=validation_data, shuffle=shuffle, seed=seed, patience=patience,
            min_delta=min_delta, verbose=verbose, callback=callback, l2=l2, stop=stop,
            check_finite=check_finite, sample_weight=sample_weight))


def _fit_on(net, X, Y, comm, options):
    if comm is None or comm.size == 1:
        return _fit(net, X, Y, comm, **options)
    options["verbose"] = options["verbose"] and comm.rank == 0
    try:
        return _fit(net, X, Y, comm, **options)
    except TrainingDiverged:  # decided on every rank alike: each raises it, nobody waits
        raise
    except BaseException as e:  # any rank's error ends the whole job, never a silent hang
        distributed.abort_on_error(comm, e)
        raise


class _Arguments:
    """fit's arguments, checked, with the data on the network's device (nothing in the training
    state changes while they are checked: a refused fit leaves it as it was)."""

    def __init__(self, net, X, Y, epochs, batch_size, validation_data, shuffle, seed, patience,
                 min_delta, verbose, callback, l2, stop, check_finite, sample_weight):
        xp = net.xp
        X = net.check_inputs(X)
        self.M = M = next(iter(X.values())).shape[1]
        Y = net.check_targets(Y, M)
        # example-major: a batch is m rows (sparse inputs are held so already)
        self.X = {k: v if isinstance(v, sparse.SparseColumns) else xp.asfortranarray(v)
                  for k, v in X.items()}
        self.sparse = sparse.names(self.X)
        self.Y = {k: xp.ascontiguousarray(v) for k, v in Y.items()}  # as the plan's targets
        self.batch_size = min(int(check_batch_size(batch_size, optional=False)), M)
        self.epochs = _count("epochs", epochs, 0)
        self.patience = None if patience is None else _count("patience (or None)", patience, 1)
        self.min_delta = _amount("min_delta", min_delta)
        self.l2 = _amount("l2", l2)
        self.w_host, self.w = _sample_weight(net, sample_weight, M)
        self.validation = _validation(net, validation_data)
        for name, f, form in (("callback", callback, "callback(epoch, history)"),
                              ("stop", stop, "stop() -> bool")):
            if f is not None and not callable(f):
                raise ArgumentTypeError(f"{name} must be a function {form}; got "
                                        f"{type(f).__name__}")
        self.shuffle, self.verbose = check_flag("shuffle", shuffle), check_flag("verbose", verbose)
        self.check_finite = check_flag("check_finite", check_finite)
        self.seed = check_seed(seed)  # as a network's: an int >= 0, or a SeedSequence, Generator...
        if isinstance(self.seed, np.integer):
            self.seed = int(self.seed)
        self.callback, self.stop = callback, stop
        self.monitor = "val_cost" if self.validation is not None else "train_cost"

    def agree(self, comm, net, optimizer, lr):
        """Data-parallel: every rank was given the same arguments and the same data."""
        if comm is None or comm.size == 1:
            return
        data = [self.X, self.Y] + ([] if self.validation is None else list(self.validation))
        data += [] if self.w is None else [{"sample_weight": self.w}]
        # a Generator's repr differs on every rank (rank 0's shuffling is sent to all): its kind
        seed = self.seed if self.seed is None or isinstance(self.seed, int) else type(self.seed).__name__
        distributed.agree(
            comm, "fit", epochs=self.epochs, batch_size=self.batch_size, shuffle=self.shuffle,
            seed=seed, patience=self.patience, min_delta=self.min_delta, l2=self.l2,
            optimizer=optimizer if isinstance(optimizer, str) else type(optimizer).__name__,
            lr=lr, layout=net.params.layout, dtype=net.dtype.name, stop=self.stop is not None,
            callback=self.callback is not None,
            data=distributed.digest(*(p for a in data for k in sorted(a) for p in (
                a[k].parts() if isinstance(a[k], sparse.SparseColumns) else [a[k]]))))


    def weights(self, order, start, k):
        """The stage's weight arguments for the batch ``order[start:start + k]`` (host order):
        the weights and their sum over the batch, or nothing without weights."""
        if self.w is None:
            return {}
        return {"weights": self.w, "divisor": float(self.w_host[order[start:start + k]].sum())}


def _sample_weight(net, sample_weight, M):
    """``(host float64 (M,), device (M,) in the network's dtype)``, checked, or ``(None, None)``."""
    if sample_weight is None:
        return None, None
    try:
        w = np.asarray(backend.to_host(sample_weight) if hasattr(sample_weight, "device")
                       else sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ArgumentTypeError(f"sample_weight must be an array of {M} numbers, one weight per "
                                f"example (column); got {type(sample_weight).__name__} "
                                f"({e})") from e
    if w.shape != (M,):
        raise ShapeError(f"sample_weight must have shape (M,) = ({M},), one weight per example "
                         f"(column of X); got shape {w.shape}")
    if not np.isfinite(w).all():
        raise DataError(f"sample_weight must be finite; example {int(np.argmin(np.isfinite(w)))} "
                        f"has weight {w[np.argmin(np.isfinite(w))]}")
    if not w.any():
        raise DataError("sample_weight must hold at least one non-zero weight; all are zero")
    return w, backend.to_device(w.astype(net.dtype), net.xp)


def _validation(net, validation_data):
    """``(X_val, Y_val)`` checked, or None."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        n = len(validation_data) if isinstance(validation_data, (tuple, list)) else 0
        got = (f"a {type(validation_data).__name__} of {n} item{'' if n == 1 else 's'}"
               if isinstance(validation_data, (tuple, list)) else type(validation_data).__name__)
        raise ArgumentTypeError(f"validation_data must be a pair (X_val, Y_val); got {got}")
    Xv = net.check_inputs(validation_data[0], what="validation X")
    Yv = net.check_targets(validation_data[1], next(iter(Xv.values())).shape[1],
                           what="validation Y")
    return Xv, Yv


def _start(net, a, optimizer, lr, comm):
    """The training state of this fit, with its optimizer: every argument is checked first, so
    a refused fit changes nothing; from here on the training state changes."""
    state = net.training
    if state is not None and state.mid_epoch and len(state.order) != a.M:
        raise ConfigError(f"the network stopped in the middle of an epoch over {len(state.order)} "
                          f"examples; fit it on the same data to finish that epoch (got {a.M}), "
                          f"or call net.training.discard_epoch() to drop it")
    opt, new_lr = _optimizer_for(net, optimizer, lr)
    a.agree(comm, net, optimizer, lr)
    if state is None:
        seed = net.seed if a.seed is None else a.seed
        state = net.training = TrainingState(opt, np.random.default_rng(seed))
    else:
        if new_lr is not None:
            opt.lr = new_lr
        state.optimizer = opt
        if a.seed is not None:
            state.rng = np.random.default_rng(a.seed)
    if not (state.mid_epoch or state.interrupted):
        state.start_watch()
    state.interrupted = False
    if comm is not None:
        comm.bcast(net.params.flat)  # every rank starts from rank 0's parameters
        # and shuffles as rank 0 does (a network made without a seed draws its own on each rank)
        state.rng.bit_generator.state = comm.decide(state.rng.bit_generator.state)
    return state, opt


def _fit(net, X, Y, comm, optimizer, lr, **options):
    a = _Arguments(net, X, Y, **options)
    state, opt = _start(net, a, optimizer, lr, comm)
    if net.xp is np:  # a long fit loads the fused loops before it binds its plans, a short never
        per_step = (min(a.batch_size, a.M) * sum(layer.n for layer in net.layers.values())
                    + net.params.flat.size)
        kernels.expect_work(a.epochs * -(-a.M // a.batch_size) * per_step)
    history = History(cost=[])
    plans = {}  # the batch size's plan and the remainder's, looked up once per fit
    last = state.epoch + a.epochs
    guard = _Guard(net, a.check_finite)
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        with interrupts.Held() as held:  # a Ctrl-C in a step arrives after its bookkeeping
            guard.keep(state)
            if not state.mid_epoch:
                state.order = state.rng.permutation(a.M) if a.shuffle else np.arange(a.M)
                state.position, state.partial = 0, 0.0
            total = _batches(net, a, state, opt, plans, comm, held)
            if total is None:  # stopped between two batches
                return history
            # the last step's Ctrl-C is held until the epoch is on record
            row = _epoch_row(net, a, guard, total, comm)
            guard.check(state, row, comm, opt)  # raises TrainingDiverged, the state put back
            state.order, state.position, state.partial = None, 0, 0.0
            state.epoch += 1
            history.append(row)
            state.history.append(row)
            held.release()
        if a.verbose:
            line = "  ".join(f"{k} {v:.6g}" for k, v in row.items())
            print(f"epoch {state.epoch}/{last}  {line}  ({time.perf_counter() - t0:.2f} s)",
                  flush=True)
        if _stops_early(net, a, state, row, comm):
            break
        asked = a.callback is not None and bool(a.callback(epoch, history))
        if _agreed(comm, asked):  # every epoch, on every rank
            break
        if a.stop is not None and _agreed(comm, bool(a.stop())):
            state.interrupted = True
            return history
    if a.patience is not None:
        state.restore_best(net)
    return history


def _batches(net, a, state, opt, plans, comm, held):
    """The rest of this epoch's batches: the epoch's summed cost (a device 0-d), or None when
    ``stop`` stopped it between two batches. A Ctrl-C during a step is held (``held``, a
    :class:`gpubp.interrupts.Held`) until the step and its bookkeeping are done, so an
    interrupted epoch is recorded exactly as far as it went, and the next fit goes on from there
    bit for bit; after the last step it stays held until the caller has recorded the epoch."""
    xp, M, k_max = net.xp, a.M, a.batch_size
    order = xp.asarray(state.order)
    # continues a stopped epoch's sum (all ranks' sum, kept once: on rank 0)
    partial = state.partial if comm is None or comm.rank == 0 else 0.0
    total = xp.asarray(partial, dtype=net.dtype)
    done = state.position  # the next batch's first column
    try:
        for start in range(state.position, M, k_max):
            k = min(k_max, M - start)
            held.hold()
            if comm is None:
                plan = plans.get(k) or plans.setdefault(k, net.plan(k, a.sparse))
                if a.w is None:  # (no dict made: the unweighted step allocates nothing)
                    plan.stage(a.X, a.Y, columns=order[start:start + k])
                else:
                    plan.stage(a.X, a.Y, columns=order[start:start + k],
                               **a.weights(state.order, start, k))
                total += plan.train_step(opt, l2=a.l2) * k
            else:
                total += _shared_step(net, plans, a.X, a.Y, order[start:start + k], opt,
                                      a.l2, comm, a.weights(state.order, start, k))
            done = start + k
            if done == M:
                break  # the epoch's end is recorded by the caller, still held
            held.release()  # a Ctrl-C during the step arrives here, the batch recorded
            if a.stop is not None and _agreed(comm, bool(a.stop())):
                state.position, state.interrupted = done, True
                state.partial = float(backend.to_host(total))  # exact: float32 fits a float
                if comm is not None:  # every rank keeps the sum over the ranks
                    state.partial = float(comm.allreduce(np.array([state.partial]))[0])
                return None
    except BaseException:
        if comm is None:  # (data-parallel training ends the whole job instead)
            _keep_batches_done(state, done, total)
        raise
    return total


def _epoch_row(net, a, guard, total, comm):
    """The epoch's row of the history: its mean batch cost, and the held-out (or, for early
    stopping, the training) cost after it, unless something is already not finite."""
    summed, guard.finite_params = guard.measure(total)  # the epoch's one transfer
    if comm is not None:  # each rank summed its shares' costs: one all-reduce of one number
        summed = float(comm.allreduce(np.array([summed]))[0])
    row = {"cost": summed / a.M}
    if guard.finite_params and math.isfinite(row["cost"]):
        if a.validation is not None:
            row["val_cost"] = net.cost_of_checked(*a.validation, a.batch_size)
        elif a.patience is not None:
            row["train_cost"] = net.cost_of_checked(a.X, a.Y, a.batch_size)
    return row


def _stops_early(net, a, state, row, comm):
    """Early stopping's decision after an epoch (the training state keeps the watch)."""
    if a.patience is None:
        return False
    waited = state.watch(net, row[a.monitor], a.min_delta)
    if (comm.decide(waited) if comm else waited) < a.patience:
        return False
    if a.verbose:
        print(f"early stop: {a.monitor} has not improved for {a.patience} epochs; "
              f"restoring the best ({state.best:.6g})", flush=True)
    return True


class _Guard:
    """Divergence: one check per epoch. Keeps the parameters (one flat copy, on the device) and the
    bookkeeping of the training state as they were when the epoch started; at its end, if its
    cost, the cost after it or the parameters are not finite, puts them back and raises
    :class:`TrainingDiverged`, on every rank at once."""

    def __init__(self, net, active=True):
        self.net, self.active = net, active
        self.params = net.xp.empty_like(net.params.flat) if active else None
        self.finite = net.xp.empty(net.params.flat.shape, dtype=bool)  # isfinite's output, reused
        self.kept = None
        self.finite_params = True

    def keep(self, state):
        if not self.active:
            return
        self.params[...] = self.net.params.flat
        self.kept = (state.order, state.position, state.partial, state.rng.bit_generator.state)

    def measure(self, total):
        """``(sum of the epoch's costs, are the parameters finite)`` in one transfer."""
        xp = self.net.xp
        ok = xp.isfinite(self.net.params.flat, out=self.finite).all()
        both = backend.to_host(xp.stack((total, ok.astype(total.dtype))))
        return float(both[0]), bool(both[1])

    def check(self, state, row, comm, opt):
        if not self.active:
            return
        bad = [k for k, v in row.items() if not math.isfinite(v)]
        if not self.finite_params:
            bad.append("parameters")
        if not (bad if comm is None else comm.decide(bool(bad))):
            return
        epoch = state.epoch + 1
        self.net.params.flat[...] = self.params
        state.order, state.position, state.partial, rng = self.kept
        state.rng.bit_generator.state = rng
        # its moments saw the non-finite gradients: it keeps its hyperparameters, drops its state
        opt.reset()  # and binds again at its next step
        state.interrupted = False
        what = ", ".join(f"{k} {row[k]:.6g}" if k in row else "the parameters are not finite"
                         for k in bad) or "not finite on rank 0"
        since = f"epoch {state.epoch}'s" if state.epoch else "the initial"
        raise TrainingDiverged(
            f"training diverged in epoch {epoch} ({what}); {since} parameters are restored; "
            f"try a smaller learning rate than lr={opt.lr:g}", epoch=epoch, what=what)


def _keep_batches_done(state, done, total):
    """An error or an interrupt inside the batch loop: record the epoch as stopped before the
    batch that did not finish, so that the next fit goes on from there (or drops it)."""
    state.interrupted = True
    try:
        partial = float(backend.to_host(total))
    except Exception:  # the device cannot say what was summed: the epoch cannot go on exactly
        state.discard_epoch()
    else:
        state.position, state.partial = done, partial


def _agreed(comm, decision):
    """Rank 0's decision, on every rank (a decision of this rank alone without a comm)."""
    return decision if comm is None else comm.decide(decision)


def _shared_step(net, plans, X, Y, columns, opt, l2, comm, weights):
    """One data-parallel step: this rank's share of the global batch ``columns``; the gradients
    of all shares summed by one all-reduce of the flat buffer, ``1/m`` with the global m (with
    ``weights``, :meth:`_Arguments.weights`: ``1/s`` with the global batch's sum of weights); the
    same update on every rank. Returns this rank's part of the batch's cost times m (device 0-d)."""
    k = columns.shape[0]
    s = weights.get("divisor", k)  # what the cost divides by: the global m or sum of weights
    mine = distributed.share(columns, comm.rank, comm.size)
    kl = mine.shape[0]
    if kl:
        plan = plans.get(kl) or plans.setdefault(kl, net.plan(kl, sparse.names(X)))
        plan.stage(X, Y, columns=mine, **weights)
        plan.forward()
        part = plan.cost() * (k if weights else kl)  # weighted: already divided by the global s
        plan.backward(m=s)
    else:  # fewer examples than ranks: this rank adds nothing
        net.grads.flat[...] = 0
        plan = plans.get(1) or plans.setdefault(1, net.plan(1, sparse.names(X)))
        part = net.xp.zeros((), net.dtype)
    comm.allreduce(net.grads.flat)
    if l2:
        plan.penalty_gradient(l2, s)  # identical parameters: the same term on every rank, once
        if comm.rank == 0:
            part = part + plan.penalty(l2, s) * k
    plan.step(opt)
    return part
