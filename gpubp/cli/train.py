"""``gpubp train``: a composition of short steps, each a method of :class:`TrainRun`: the
options (fresh or resumed), the outputs checked, the data, the network, the fit, the files.

Early stopping is fit's own (``patience``, watched in the training state). A run of ``--epochs N``
is one stretch of a run that ``--resume`` may take further: fit is stopped (``stop``) at the end of
epoch N rather than left to end, so that it keeps its watch and the last epoch's parameters, and
the next fit, after a resume, goes on with both.
"""

import os
import shlex
import sys
import time

import numpy as np

from .. import backend, datasets, losses, optim, saving
from ..errors import CheckpointError, DataError, GpubpError, TrainingDiverged
from . import files, ranks, record, report, tools
from .options import (DATA_FLAGS, DEFAULT_MODEL, DEFAULT_PLOT, PROG, TRAIN, TRAIN_DEFAULTS, flag,
                      show, usage)
from .progress import Interrupted, Progress, Stopper

#: the output and loss each task gets by default
TASK_OUTPUT = {"binary": ("sigmoid", "bce"), "multiclass": ("softmax", "cross_entropy"),
               "regression": ("identity", "mse")}


def cmd_train(args):
    run = TrainRun(args)
    with run.stopper.installed():  # SIGINT and SIGTERM, from here to the end (see Stopper)
        try:
            run.ready(run.options, run.outputs, run.load_data)
            run.connect()
            run.ready(run.build)
            run.agree()
            run.announce()
            run.stopper.defer()  # from here a first signal stops the run where it can and saves
            run.train()
            return run.finish()
        except Interrupted as e:
            raise run.interrupted(e) from None


class TrainRun:
    """One ``gpubp train``: each step reads what the steps before it set on ``self``."""

    def __init__(self, args):
        from .. import distributed

        self.t0 = time.perf_counter()
        self.args = args
        # the plain MPI communicator first (the ranks get ready together on it); NCCL's is made
        # after the setup (connect), before the network that it puts on this rank's GPU
        self.comm = distributed.MPIComm() if args.comm is not None else None
        self.root = self.comm is None or self.comm.rank == 0
        if not self.root:  # the other ranks train in step, silently; rank 0 reports and writes
            args.quiet, sys.stdout = True, open(os.devnull, "w")
        self.quiet = args.quiet
        self.stopper = Stopper()
        self.early, self.fit_seconds = None, 0.0
        self.saving = False
        self.saved = False  # the model is written: a second signal from here on loses nothing

    # ---- the ranks of --comm ------------------------------------------------------------------

    def ready(self, *steps):
        """Run the setup ``steps``; under --comm every rank then learns whether any failed, and
        all stop with the failing rank's message (never one rank waiting for another that left)."""
        error = None
        try:
            for step in steps:
                step()
        except (Exception, KeyboardInterrupt) as e:
            if self.comm is None:
                raise
            error = e
        ranks.ready(self.comm, error)

    def connect(self):
        """--comm nccl: its communicator, made on every rank together (after the setup)."""
        from .. import distributed

        if self.comm is None:
            return
        ranks.agree(self.comm, **{"--comm": self.args.comm})  # NCCL's communicator or none
        if self.args.comm != self.comm.name:
            self.comm = distributed.get(self.args.comm)

    def agree(self):
        """Under --comm: every rank has the same options, data (a digest of what fit will see)
        and network, or every rank stops with one line naming what differs."""
        from .. import distributed

        if self.comm is None:
            return
        state = self.net.training
        options = {flag(k): v for k, v in self.opts.items() if k not in ("data", "plot", "no_plot")}
        ranks.agree(self.comm, **options, data=distributed.digest(
            self.Xs, self.Y, self.train_rows, self.held), network="-".join(map(str, self.net.sizes)),
            parameters=distributed.digest(backend.to_host(self.net.params.flat)),
            trained=None if state is None else (state.epoch, state.position))

    # ---- the options and the files ------------------------------------------------------------

    def options(self):
        """``self.opts``: every recorded option's value for this run; ``self.meta``: the resumed
        file's metadata (None for a fresh run)."""
        args = self.args
        if args.no_plot and args.plot:
            raise usage(TRAIN, "--plot and --no-plot contradict each other")
        spelled = self._sizes()
        if args.resume:
            self.meta = record.read(args.resume)
            self.opts = record.resume_options(args, self.meta, self.quiet, spelled)
        else:
            self.meta = None
            self.opts = dict(TRAIN_DEFAULTS)
            self.opts.update({k: getattr(args, k) for k in TRAIN_DEFAULTS
                              if getattr(args, k) is not None})
            if self.opts["data"] not in datasets.SOURCES:  # a resumed run may start elsewhere
                self.opts["data"] = os.path.abspath(self.opts["data"])
        if args.plot is not None:  # recorded where it is, for a resume from elsewhere
            self.opts["plot"] = os.path.abspath(args.plot)
        if self.opts["lr"] is None:  # the optimizer's default, written down
            self.opts["lr"] = optim.get(self.opts["optimizer"]).lr

    def _sizes(self):
        """--sizes (all the sizes) becomes --hidden; the data will decide whether its first and
        last agree (``self.ends``). Returns how the hidden sizes were spelled, if by --sizes."""
        args = self.args
        self.ends = None
        if args.sizes is None:
            return {}
        if args.hidden is not None:
            raise usage(TRAIN, f"--sizes {show(args.sizes)} and --hidden {show(args.hidden)}: "
                        f"give all the sizes (--sizes) or the hidden ones (--hidden), not both")
        args.hidden, self.ends = args.sizes[1:-1], (args.sizes[0], args.sizes[-1])
        return {"hidden": f"--sizes {show(args.sizes)}"}

    def check_ends(self):
        """The n[0] and n[L] of --sizes are the data's: an error, never a quiet fix."""
        if self.ends is None or self.ends == (self.ds.n, self.rows):
            return
        given = show(self.args.sizes)
        want = show([self.ds.n] + self.opts["hidden"] + [self.rows])
        raise usage(TRAIN, f"--sizes {given}: the data decide n[0] = {self.ds.n} (features) and "
                    f"n[L] = {self.rows} (outputs for {self._outputs_for()}); give --sizes {want}, "
                    f"or the hidden sizes alone: --hidden {show(self.opts['hidden'])}")

    def _outputs_for(self):
        ds = self.ds
        if ds.task == "regression":
            return "a regression"
        return f"{len(ds.classes)} classes with a {self.opts['output']} output"

    def outputs(self):
        """``self.save_path`` and ``self.plot_path`` (None: no plot), checked before training:
        writable, none of the inputs, and not replacing a file of another kind."""
        args, opts = self.args, self.opts
        self.save_path = args.save or args.resume or DEFAULT_MODEL
        self.plot_path = None if opts["no_plot"] else (args.plot or opts["plot"] or DEFAULT_PLOT)
        for what, path in (("--save", self.save_path), ("--plot", self.plot_path)):
            files.check_writable(what, path)  # before the training, not after it
        if files.same_file(self.plot_path, self.save_path):
            raise usage(TRAIN, f"--plot and --save name the same file ({self.save_path}): the "
                        f"loss curve would replace the model")
        files.check_not_an_input(TRAIN, "--save", self.save_path, {"--data": opts["data"]})
        files.check_not_an_input(TRAIN, "--plot", self.plot_path,
                                 {"--data": opts["data"], "--resume": args.resume})
        files.check_replaceable("--save", self.save_path, files.is_model, "a gpubp model",
                                args.force)
        files.check_replaceable("--plot", self.plot_path, files.is_picture, "a PNG or SVG picture",
                                args.force)
        self.replacing = os.path.exists(self.save_path) and not files.same_file(self.save_path,
                                                                                args.resume)
        if self.replacing and self.meta is None and opts["epochs"] == 0 and not args.force:
            raise GpubpError(f"--epochs 0 would write an untrained model over the model at "
                             f"{self.save_path}; give --save another path, or --force to "
                             f"replace it")

    # ---- the data and the network -------------------------------------------------------------

    def load_data(self):
        """The data set, its split, the standardized X and the encoded targets Y."""
        opts, meta = self.opts, self.meta
        if meta is not None and record.MOVED not in opts and opts["data"] not in \
                datasets.SOURCES and not os.path.exists(opts["data"]):
            raise DataError(f"{self.args.resume} was trained on {opts['data']}, which is not there "
                            f"any more; if it moved, give --data with its new path (its contents "
                            f"are checked against the model's fingerprint)")
        ds = self.ds = datasets.load(opts["data"], target=opts["target"], samples=opts["samples"],
                                     features=opts["features"], classes=opts["classes"],
                                     seed=opts["seed"], task=opts["task"] or (
                                         "regression" if opts["loss"] == "poisson" else None),
                                     header=opts["header"], separator=opts["separator"],
                                     option_names=DATA_FLAGS)
        self.fingerprint = ds.fingerprint()
        if meta is not None and meta.get("fingerprint") != self.fingerprint:
            if record.MOVED in opts:
                raise DataError(f"--data {opts['data']}: its contents are not those of "
                                f"{opts[record.MOVED]}, on which {self.args.resume} was trained "
                                f"(the fingerprints differ); an exact resume needs the same data")
            raise DataError(f"{self.args.resume}: its data ({files.data_label(opts['data'])}) "
                            f"have changed since it was saved; an exact resume needs the same data")
        if record.MOVED in opts and not self.quiet:
            print(f"{PROG}: note: the data moved from {opts[record.MOVED]} to {opts['data']}; "
                  f"their contents are the same (the model's fingerprint): resuming on them",
                  file=sys.stderr)
        self.train_rows, self.held = datasets.split(ds, opts["validation_fraction"], opts["seed"],
                                                       option_names=DATA_FLAGS)
        if meta is None:
            self.scaler = datasets.Standardizer.fit(ds.X[self.train_rows])
        else:
            self.scaler = datasets.Standardizer(meta["x_mean"], meta["x_std"])
            if self.scaler.mean.shape != (ds.n,) or self.scaler.std.shape != (ds.n,):
                raise CheckpointError(f"{self.args.resume}: its standardization is for "
                                      f"{self.scaler.mean.shape[0]} features; the data have {ds.n}")
        self.Xs = self.scaler(ds.X)
        opts["output"], opts["loss"] = output_and_loss(ds.task, opts["output"], opts["loss"])
        self.rows = 1 if ds.task == "regression" else (
            len(ds.classes) if len(ds.classes) > 2 or opts["output"] == "softmax" else 1)
        self.Y = self._targets()
        self.check_ends()

    def _targets(self):
        ds, meta = self.ds, self.meta
        if ds.task != "regression":
            self.y_mean = self.y_std = None
            return datasets.encode(ds.y, ds.classes, self.rows)
        if meta is None and self.opts["loss"] == "poisson":
            self.y_mean, self.y_std = 0.0, 1.0  # counts keep their unit (and their sign)
        elif meta is None:
            y = ds.y[self.train_rows]
            self.y_mean, self.y_std = float(y.mean()), float(y.std())
            self.y_std = self.y_std if self.y_std > 0 else 1.0
        else:
            self.y_mean, self.y_std = float(meta["y_mean"]), float(meta["y_std"])
        return ((ds.y - self.y_mean) / self.y_std)[None, :]

    def build(self):
        """``self.net``: a new network, or the resumed one (checked against the data)."""
        import gpubp

        opts, args = self.opts, self.args
        if self.meta is not None:
            self.net = saving.load(args.resume, device=args.device)
            files.check_fits(self.net, args.resume, self.ds.n, self.rows)
            return
        hidden, act = opts["hidden"], opts["activation"]
        if isinstance(act, list) and len(act) != len(hidden):
            raise usage(TRAIN, f"--activation lists {len(act)} names; there "
                        f"{'is' if len(hidden) == 1 else 'are'} {len(hidden)} hidden layer"
                        f"{'s' if len(hidden) != 1 else ''} (--hidden {show(hidden)})")
        if not hidden and args.activation is not None:
            raise usage(TRAIN, "--activation was given but there is no hidden layer (--hidden "
                        "none)")
        self.net = gpubp.Network([self.ds.n] + hidden + [self.rows], activation=act,
                                 output=opts["output"], loss=opts["loss"], dtype=opts["dtype"],
                                 device=args.device, seed=opts["seed"])

    # ---- the training -------------------------------------------------------------------------

    def announce(self):
        """What will run (unless --quiet); ``self.done`` (whole epochs so far), ``self.todo``."""
        net, opts, meta = self.net, self.opts, self.meta
        state = net.training
        self.done = 0 if state is None else state.epoch
        self.stopped_early = (meta or {}).get("stopped_early")
        self.todo = 0 if self.stopped_early else max(0, opts["epochs"] - self.done)
        if self.quiet:
            return
        alone = ranks.alone_note(self.comm)
        if alone is not None:
            print(f"{PROG}: {alone}", file=sys.stderr, flush=True)
        print(f"{PROG}: {self.ds.describe()}: {self.train_rows.size} to train, {self.held.size} "
              f"held out")
        hidden_acts = [a.name for a in net.activations[1:-1]]
        shown = hidden_acts[0] if len(set(hidden_acts)) == 1 else ",".join(hidden_acts) or "-"
        where = ""
        if meta is not None and state is not None and state.mid_epoch:  # "stopped in epoch E"
            where = (f"; resuming in epoch {self.done + 1}/{opts['epochs']} (after "
                     f"{state.position} of its {self.train_rows.size} examples)")
        elif meta is not None:
            where = f"; resuming after epoch {self.done}/{opts['epochs']}"
        print(f"{PROG}: network {'-'.join(map(str, net.sizes))}, {shown} hidden, {opts['output']} "
              f"output, {opts['loss']}; {opts['optimizer']} lr {opts['lr']:g}, batch "
              f"{opts['batch_size']}, on {net.device} ({net.dtype.name}){ranks.described(self.comm)}"
              f"{where}", flush=True)
        if self.ds.task == "regression" and self.todo > 0 and (self.y_mean, self.y_std) != (0, 1):
            print(report.standardized_note(self.y_mean, self.y_std), flush=True)
        if self.stopped_early:
            print(f"{PROG}: {self.args.resume} stopped early at epoch "
                  f"{self.stopped_early['epoch']} (--patience); nothing to resume")
        elif self.todo == 0 and meta is not None:
            print(f"{PROG}: {self.args.resume} has been trained for {self.done} epochs already "
                  f"(--epochs {opts['epochs']} in all); nothing to resume")

    def train(self):
        """Fit for ``self.todo`` epochs (nothing when none is left)."""
        if self.todo <= 0:
            return
        rows, held = self.train_rows, self.held
        X, Y = self.Xs[rows].T, self.Y[:, rows]  # columns are examples: A[0] = X is (n[0], m)
        validation = (self.Xs[held].T, self.Y[:, held]) if held.size else None
        t = time.perf_counter()
        self.early = fit(self.net, X, Y, validation, self.opts, self.todo, self.stopper,
                         self.quiet, self.comm)
        self.fit_seconds = time.perf_counter() - t
        if self.early is not None:
            self.stopped_early = self.early

    # ---- the files and the summary ------------------------------------------------------------

    def finish(self):
        """Save the model (and say how to resume after a signal), draw the loss curve, report."""
        state, epochs = self.net.training, self.opts["epochs"]
        interrupted = self.stopper() and not self.stopped_early and (
            state.epoch < epochs or state.mid_epoch)
        if not self.root:
            return 128 + self.stopper.signum if self.stopper() else 0
        # a resume with nothing left to do leaves its file as it was
        self.unchanged = self.todo <= 0 and files.same_file(self.save_path, self.args.resume)
        if not self.unchanged:
            self.check_finite(state)
            meta = record.metadata(self.ds, self.opts, self.fingerprint, self.scaler, self.y_mean,
                                   self.y_std, self.stopped_early)
            self.saving = True  # a second signal now cuts the save short: the file stays as it was
            saving.save(self.net, self.save_path, metadata=meta)
            self.saving, self.saved = False, True
        if interrupted:
            where = (f"in epoch {state.epoch + 1}/{epochs} (after {state.position} of its "
                     f"{self.train_rows.size} examples)" if state.mid_epoch else
                     f"after epoch {state.epoch}/{epochs}")
            resume = f"{PROG} train --resume {shlex.quote(self.save_path)}"
            print(f"{PROG}: {self.stopper.name}: stopped {where}; saved {self.save_path}; resume "
                  f"with: {resume}", file=sys.stderr, flush=True)
            return 128 + self.stopper.signum
        skipped = []  # after a signal, the rest is left out and the exit status says so
        for what, step in (("the summary", self.summary), ("the loss curve", self.draw)):
            if self.stopper():
                skipped.append(what)
            elif what != "the summary" or not self.quiet:
                step()  # the summary's "s in all" ends before the loss curve (matplotlib)
        return self.late_signal(skipped) if self.stopper() else 0

    def late_signal(self, skipped):
        """A signal came once the training had ended (the model is saved): say so; 128 + signum."""
        state = self.net.training
        trained = state.epoch if state is not None else 0
        saved = f"{self.save_path} unchanged" if self.unchanged else f"saved {self.save_path}"
        left = f"; left out {' and '.join(skipped)}" if skipped else ""
        print(f"{PROG}: {self.stopper.name}: came after the training had ended (epoch {trained}/"
              f"{self.opts['epochs']}); {saved}{left}", file=sys.stderr, flush=True)
        return 128 + self.stopper.signum

    def interrupted(self, e):
        """The Interrupted to raise for a signal that interrupted at once: before the training
        (nothing written), or a second signal (nothing saved, or the save cut short)."""
        if not self.stopper.deferring:
            said = f"{e.name}: interrupted before training; nothing was written"
        elif self.saving:
            said = (f"{self.stopper.name} then {e.name}: the save was cut short; "
                    f"{self.save_path} was left as it was")
        elif self.saved:
            said = f"{self.stopper.name} then {e.name}: saved {self.save_path}; stopped at once"
        else:
            said = (f"{self.stopper.name} then {e.name}: stopped at once; nothing was saved"
                    + (f" ({self.save_path} was left as it was)"
                       if os.path.exists(self.save_path) else ""))
        return Interrupted(e.signum, said)

    def check_finite(self, state):
        """No model with parameters that are not finite is written: fit checks at the end of each
        epoch; a signal may stop one in the middle, after they overflowed."""
        if np.isfinite(backend.to_host(self.net.params.flat)).all():
            return
        epoch = state.epoch + 1 if state is not None else 1
        raise TrainingDiverged(f"training diverged in epoch {epoch}/{self.opts['epochs']} (the "
                               f"parameters are not finite); nothing was saved; try a smaller "
                               f"--lr than {self.opts['lr']:g}", epoch=epoch,
                               what="the parameters are not finite")

    def draw(self):
        """The loss curve, if asked and if this run trained (``self.plot_path``: None if not)."""
        state = self.net.training
        if self.plot_path is None or self.todo <= 0 or not state.history.epochs:
            self.plot_path = None
            return
        title = (f"{files.data_label(self.ds.name)}: {'-'.join(map(str, self.net.sizes))} "
                 f"network, {self.opts['optimizer']} lr {self.opts['lr']:g}")
        best = self.stopped_early["best_epoch"] if self.stopped_early else None
        if not report.plot(state.history, self.plot_path, title, self.opts["loss"], best,
                           self.quiet, standardized=self.ds.task == "regression"):
            self.plot_path = None
        elif not self.quiet:
            print(f"loss curve: {self.plot_path}")

    def summary(self):
        net, state = self.net, self.net.training
        report.report(net, self.ds, self.Xs, self.train_rows, self.held, self.y_mean, self.y_std)
        total = time.perf_counter() - self.t0
        trained = state.epoch if state is not None else 0
        ran = trained - self.done  # a resumed partial epoch counts: done counts whole epochs
        if self.early is not None:
            watched = "held-out" if self.held.size else "training"
            print(f"early stop: the {watched} cost has not improved for {self.opts['patience']} "
                  f"epochs; kept epoch {self.early['best_epoch']}'s parameters")
        print(f"time: {self.fit_seconds:.2f} s training ({ran} epoch{'s' if ran != 1 else ''} run, "
              f"{trained} in all), {total:.2f} s in all, on {net.device}{ranks.described(self.comm)}")
        how = ("unchanged: nothing to resume" if self.unchanged else
               "replaced the model that was there" if self.replacing else
               "updated" if self.meta is not None and files.same_file(self.save_path,
                                                                     self.args.resume) else "")
        print(f"model: {self.save_path}" + (f" ({how})" if how else ""))


def output_and_loss(task, output, loss):
    """The output activation and loss of a task, where not given."""
    default_output, default_loss = TASK_OUTPUT[task]
    if output is None:  # the loss's canonical output (bce: sigmoid, ...), else the task's
        canonical = getattr(losses.LOSSES.get(loss), "canonical", None)
        output = default_output if canonical in (None, "identity") else canonical
    if loss is None:
        if output == default_output:
            loss = default_loss
        elif task == "regression" and output == "sigmoid":
            loss = "mse"  # a regression's values, not probabilities: no bce
        else:
            loss = tools.default_loss(output)
    if task == "regression" and output == "softmax":
        raise usage(TRAIN, "a softmax output is for classes; this data set is a regression (try "
                    "--output identity)")
    return output, loss


def fit(net, X, Y, validation, opts, todo, stopper, quiet, comm=None):
    """Run fit for ``todo`` epochs with progress, fit's early stopping and ``stopper``, stopped
    at the end of epoch ``opts["epochs"]``. Returns the early stop's description, or None."""
    epochs = opts["epochs"]
    state = net.training
    if state is not None:
        state.interrupted = True  # a resumed run goes on with its watch (files of older gpubps)
    progress = Progress(epochs, 0 if state is None else state.epoch, quiet)
    last = [time.perf_counter()]

    def callback(i, history):
        now = time.perf_counter()
        progress.update({k: v[-1] for k, v in history.items()}, now - last[0])
        last[0] = now
        return False

    def stop():  # a signal, or the end of this stretch (asked after each batch and each epoch)
        st = net.training
        return stopper() or (st.epoch >= epochs and not st.mid_epoch)

    try:
        with stopper.installed():
            net.fit(X, Y, epochs=todo, batch_size=opts["batch_size"], optimizer=opts["optimizer"],
                    lr=opts["lr"], validation_data=validation, l2=opts["l2"], callback=callback,
                    patience=opts["patience"], min_delta=opts["min_delta"], stop=stop, comm=comm)
    except TrainingDiverged as e:
        raise TrainingDiverged(f"training diverged in epoch {e.epoch}/{epochs} ({e.what}); "
                               f"nothing was saved; try a smaller --lr than {opts['lr']:g}",
                               epoch=e.epoch, what=e.what) from None
    finally:
        progress.close()
    st = net.training
    if opts["patience"] is not None and st.waited >= opts["patience"]:  # fit kept the best
        return {"epoch": st.epoch, "best_epoch": st.epoch - st.waited, "best": float(st.best)}
    return None
