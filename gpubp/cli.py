"""The command line: ``gpubp train | predict | gradcheck | info | demo`` (``python -m gpubp`` too).

``gpubp train`` with no arguments trains a 64-128-10 relu network with a softmax + cross_entropy
output on scikit-learn's digits (on the GPU when one is usable), prints the training and held-out
accuracy and the time, and saves the model (``gpubp-model.npz``) and its loss curve
(``gpubp-loss.png``). ``gpubp train --help`` lists the options.

The model file is a gpubp checkpoint (:mod:`gpubp.checkpoint`) whose ``metadata`` holds what
``predict`` and ``--resume`` need: the data options (so a resumed run reloads the same data and
split, checked by a fingerprint), the standardization, the class labels, the task, the network and
the training options. ``gpubp train --resume M --epochs N`` continues to N epochs in all and ends
with the parameters of an uninterrupted run, bit for bit. Ctrl-C (SIGINT) or SIGTERM during
training stops at the end of the current batch, saves, and says how to resume.

Any error (a bad option, a missing file, a bad column, a corrupt model, data that do not fit the
model) is one line on stderr and a non-zero exit status: 2 for a usage error, 1 for the others,
130 / 143 after SIGINT / SIGTERM. ``GPUBP_DEBUG=1`` shows the traceback of an unexpected error.
"""

import argparse
import contextlib
import csv
import io
import math
import os
import shlex
import signal
import sys
import threading
import time

import numpy as np

from . import backend, checkpoint, datasets, optim
from .errors import CheckpointError, DataError, GpubpError, TrainingDiverged

PROG = "gpubp"
META_FORMAT = "gpubp.cli"
META_VERSION = 1

DEFAULT_MODEL = "gpubp-model.npz"
DEFAULT_PLOT = "gpubp-loss.png"

#: what `gpubp train` uses for an option not given
TRAIN_DEFAULTS = {
    "data": "digits", "sizes": [128], "activation": "relu", "optimizer": "adam", "lr": None,
    "epochs": 20, "batch_size": 32, "validation_fraction": 0.2, "patience": None, "l2": 0.0,
    "dtype": "float32", "seed": 0,
}
#: the output and loss each task gets by default
TASK_OUTPUT = {"binary": ("sigmoid", "bce"), "multiclass": ("softmax", "cross_entropy"),
               "regression": ("identity", "mse")}
DATA_OPTIONS = ("data", "target", "samples", "features", "classes", "task", "validation_fraction",
                "seed")
NETWORK_OPTIONS = ("sizes", "activation", "output", "loss", "dtype")
TRAINING_OPTIONS = ("optimizer", "lr", "batch_size", "l2", "patience")


class UsageError(Exception):
    """A bad command line: exit status 2."""


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # a script's --epoch must not become --epochs
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


# ---- the parser ---------------------------------------------------------------------------------

def _int_from(low, what):
    """An argparse type: an integer >= ``low``, else an error that says ``what`` was expected."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < low:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return v
    return parse


_positive_int = _int_from(1, "a positive integer")
_nonneg_int = _int_from(0, "an integer >= 0")


def _number(low=None, high=None, low_open=False, high_open=False):
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
        if not math.isfinite(v) or (low is not None and (v <= low if low_open else v < low)) or \
                (high is not None and (v >= high if high_open else v > high)):
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
            bounds = " and ".join(filter(None, (lo, hi)))
            raise argparse.ArgumentTypeError(f"expected a number {bounds}; got {text!r}")
        return v
    return parse


def _sizes(text):
    """Hidden sizes: "128", "256,128", or "" / "none" for no hidden layer."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes separated by commas, e.g. 128 or 256,64; "
                                         f"got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"every size must be a positive integer; got {text!r}")
    return sizes


def _full_sizes(text):
    sizes = _sizes(text)
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"expected at least two sizes n[0],...,n[L] (inputs and "
                                         f"outputs), e.g. 784,256,10; got {text!r}")
    return sizes


def _names(text):
    names = [s.strip() for s in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected a name, or names separated by commas; got "
                                         f"{text!r}")
    return names[0] if len(names) == 1 else names


ACTIVATION_HELP = "identity, sigmoid, tanh, relu, leaky_relu"


def _network_options(p, sizes, activation, output):
    """--sizes, --activation, --output, --loss: a whole network, for gradcheck and explain."""
    p.add_argument("--sizes", type=_full_sizes, default=sizes, metavar="N,N,...",
                   help=f"all the sizes n[0],...,n[L] (default {_show(sizes)})")
    p.add_argument("--activation", type=_names, default=activation, metavar="NAME[,NAME...]",
                   help=f"hidden activation(s): {ACTIVATION_HELP} (default {activation})")
    p.add_argument("--output", default=output, metavar="NAME", help=f"(default {output})")
    p.add_argument("--loss", metavar="NAME", help="(default: cross_entropy for softmax, bce for "
                   "sigmoid, else mse)")


def build_parser():
    p = Parser(prog=PROG, description="Backpropagation as the textbooks write it, on NumPy (CPU) "
               "or CuPy (GPU). Columns are examples inside gpubp; data files have one example "
               "per row.", epilog="Run 'gpubp COMMAND --help' for the options of a command.")
    p.add_argument("--version", action="version", version=f"gpubp {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a network on a data set, save it and its loss curve",
                       description="Train a fully connected network on a data set, print the "
                       "training and held-out accuracy (R^2 and mse for regression), save the "
                       "model and a picture of the loss curve. With no options: a 64-128-10 relu "
                       "network, softmax + cross_entropy, Adam, on scikit-learn's digits.",
                       epilog="Ctrl-C (or SIGTERM) stops after the current batch and saves a "
                       "checkpoint; 'gpubp train --resume MODEL' continues it, and the result is "
                       "bit for bit that of an uninterrupted run.")
    d = t.add_argument_group("data")
    d.add_argument("--data", metavar="NAME|FILE",
                   help=f"{', '.join(datasets.SOURCES)}, or a .csv (header row, one example per "
                        f"row) or .npz file (default: digits)")
    d.add_argument("--target", metavar="NAME",
                   help="the target column of a .csv (default: the last one) or the target array "
                        "of a .npz (default: y)")
    d.add_argument("--task", choices=datasets.TASKS,
                   help="what the target is (default: read from its values: strings or few "
                        "integers are classes, other numbers a regression target)")
    d.add_argument("--samples", type=_positive_int, help="examples of a synthetic data set (1000)")
    d.add_argument("--features", type=_positive_int, help="features of a synthetic data set (20)")
    d.add_argument("--classes", type=_positive_int,
                   help="classes of synthetic-classification (2)")
    d.add_argument("--validation-fraction", type=_number(0, 1, high_open=True), metavar="F",
                   help="share of the examples held out (stratified for classes) to measure the "
                        "held-out cost and accuracy (default 0.2; 0: none)")
    n = t.add_argument_group("network")
    n.add_argument("--sizes", type=_sizes, metavar="N,N,...",
                   help="hidden layer sizes; the input and output sizes come from the data "
                        "(default 128; 'none' for no hidden layer)")
    n.add_argument("--activation", type=_names, metavar="NAME[,NAME...]",
                   help=f"hidden activation, or one per hidden layer: {ACTIVATION_HELP} "
                        f"(default relu)")
    n.add_argument("--output", metavar="NAME",
                   help="output activation (default: sigmoid for two classes, softmax for more, "
                        "identity for regression)")
    n.add_argument("--loss", metavar="NAME",
                   help="mse, sse, half_sse, bce (sigmoid output), cross_entropy (softmax output) "
                        "(default: from the task and the output)")
    n.add_argument("--dtype", choices=("float32", "float64"), help="(default float32)")
    o = t.add_argument_group("training")
    o.add_argument("--optimizer", choices=sorted(optim.OPTIMIZERS), help="(default adam)")
    o.add_argument("--lr", type=_number(0, low_open=True),
                   help="learning rate (default 0.001 for adam, 0.01 for sgd and momentum)")
    o.add_argument("--epochs", type=_nonneg_int,
                   help="epochs in all, counting those of a resumed model (default 20)")
    o.add_argument("--batch-size", type=_positive_int, help="examples per step (default 32)")
    o.add_argument("--patience", type=_positive_int,
                   help="stop when the held-out cost has not improved for this many epochs, and "
                        "keep the best epoch's parameters (default: no early stopping)")
    o.add_argument("--l2", type=_number(0), help="weight penalty l2/(2m) sum ||W||^2 (default 0)")
    o.add_argument("--seed", type=_nonneg_int,
                   help="seeds the data split, synthetic data, initialization, shuffling (0)")
    r = t.add_argument_group("where and what to write")
    r.add_argument("--device", choices=backend.DEVICES,
                   help="auto (the GPU when usable), cpu or gpu (default: GPUBP_DEVICE or auto)")
    r.add_argument("--comm", choices=("mpi", "nccl"),
                   help="data-parallel training over the ranks of mpiexec / srun (mpi: through "
                        "MPI; nccl: one GPU per rank); rank 0 prints and writes the files")
    r.add_argument("--save", metavar="PATH",
                   help=f"where to save the model (default {DEFAULT_MODEL}; with --resume: the "
                        f"resumed file)")
    r.add_argument("--resume", metavar="PATH",
                   help="continue training the model saved at PATH, on its data and with its "
                        "options (--epochs counts the epochs in all)")
    r.add_argument("--plot", metavar="PATH", help=f"the loss-curve PNG (default {DEFAULT_PLOT})")
    r.add_argument("--no-plot", action="store_true", help="draw no loss curve")
    r.add_argument("--quiet", "-q", action="store_true",
                   help="no progress, only the results")

    pr = sub.add_parser("predict", help="predict with a model saved by 'gpubp train'",
                        description="Predict the class labels (as written in the training data) "
                        "or the values of a regression for the examples of a .csv (columns "
                        "matched by name; the target column, if present, is ignored) or .npz "
                        "file (array X). Writes a CSV to --output or to stdout.")
    pr.add_argument("--model", required=True, metavar="PATH", help="a model saved by gpubp train")
    pr.add_argument("--input", required=True, metavar="FILE", help="a .csv or .npz of features")
    pr.add_argument("--output", metavar="FILE", help="where to write the CSV (default: stdout)")
    pr.add_argument("--proba", action="store_true",
                    help="write the probability of each class instead of the labels")
    pr.add_argument("--device", choices=backend.DEVICES, help="(default: GPUBP_DEVICE or auto)")

    g = sub.add_parser("gradcheck", help="check backprop against finite differences",
                       description="Compare the gradients of backpropagation with fourth-order "
                       "central differences in float64, on a random network and random data, and "
                       "print the worst relative error of each parameter. The exit status is 1 "
                       "if the worst is above --tol.")
    _network_options(g, [784, 256, 10], "tanh", "softmax")
    g.add_argument("--batch", type=_positive_int, default=8, help="examples m (default 8)")
    g.add_argument("--entries", type=_positive_int, default=50,
                   help="entries checked per parameter, chosen at random (default 50)")
    g.add_argument("--all", action="store_true", help="check every entry (slow for big layers)")
    g.add_argument("--tol", type=_number(0, low_open=True), default=1e-7,
                   help="the largest relative error that passes (default 1e-7)")
    g.add_argument("--seed", type=_nonneg_int, default=0, help="(default 0)")
    g.add_argument("--device", choices=backend.DEVICES, help="(default: GPUBP_DEVICE or auto)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress")

    e = sub.add_parser("explain", help="every equation of a network with every shape, checked",
                       description="Print the forward and backward equations of a network in the "
                       "notes' notation with the shape of every factor for a batch of --batch "
                       "examples. --check verifies each printed equation against NumPy and each "
                       "gradient against finite differences, on random weights and data.")
    _network_options(e, [2, 3, 2], "sigmoid", "sigmoid")
    e.add_argument("--no-bias", action="store_true", help="layers Z[l] = W[l] A[l-1], no b[l]")
    e.add_argument("--model", metavar="PATH", help="explain a saved model instead of --sizes ...")
    e.add_argument("--batch", type=_positive_int, default=5, help="examples m (default 5)")
    e.add_argument("--check", action="store_true",
                   help="check every equation against NumPy and finite differences")
    e.add_argument("--format", choices=("text", "markdown", "latex"), default="text")
    e.add_argument("--picture", metavar="PATH", help="also draw the network to PATH (.svg or .png)")
    e.add_argument("--seed", type=_nonneg_int, default=0, help="(default 0)")

    sub.add_parser("info", help="what gpubp runs on here: backend, device, versions, BLAS",
                   description="Print the backend, the device, and the versions of gpubp, "
                   "Python, NumPy, CuPy and CUDA, and the BLAS NumPy uses.")
    sub.add_parser("demo", help="the README's first example: XOR, then a gradient check",
                   description="Train a 2-8-1 network on XOR and check its gradients.")
    return p


def _version():
    from . import __version__

    return __version__


# ---- main ---------------------------------------------------------------------------------------

def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        return _run(argv)
    except UsageError as e:
        return _fail(str(e), 2)
    except KeyboardInterrupt:
        return _fail(f"{PROG}: interrupted", 130)
    except SystemExit as e:  # argparse's --help and --version
        return e.code if isinstance(e.code, int) else 0
    except BrokenPipeError:  # `gpubp predict ... | head`: the reader left; nothing to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (GpubpError, OSError, ValueError, TypeError, MemoryError) as e:
        if os.environ.get("GPUBP_DEBUG"):
            raise
        return _fail(f"{PROG}: error: {_describe_error(e)}", 1)
    except Exception as e:
        if os.environ.get("GPUBP_DEBUG"):
            raise
        return _fail(f"{PROG}: error: {type(e).__name__}: {_one_line(e)} (unexpected: please "
                     f"report it; GPUBP_DEBUG=1 shows the traceback)", 1)


def _describe_error(e):
    if isinstance(e, OSError) and e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    if isinstance(e, MemoryError):
        return "out of memory" + (f": {_one_line(e)}" if str(e) else "")
    if isinstance(e, (GpubpError, ValueError)):
        return _one_line(e)
    return f"{type(e).__name__}: {_one_line(e)}"


def _fail(message, code):
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print(message, file=sys.stderr, flush=True)
    return code


def _run(argv):
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command is None:
        parser.print_help()
        return 2
    return {"train": cmd_train, "predict": cmd_predict, "gradcheck": cmd_gradcheck,
            "explain": cmd_explain, "info": cmd_info, "demo": cmd_demo}[args.command](args)


# ---- progress -----------------------------------------------------------------------------------

class Progress:
    """A tqdm bar over epochs on a terminal, one plain line per epoch otherwise, or nothing."""

    def __init__(self, total, initial, quiet, what="epoch"):
        self.total, self.done, self.what = total, initial, what
        self.bar = None
        self.mode = "none" if quiet else "lines"
        if not quiet and _isatty(sys.stderr):
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.mode = "bar"
                # a terminal that reports no width (some ptys) would get an empty bar
                sized = _columns(sys.stderr) > 0
                self.bar = tqdm(total=total, initial=initial, unit=what, file=sys.stderr,
                                dynamic_ncols=sized, ncols=None if sized else 100, leave=True)

    def update(self, postfix, seconds=None):
        self.done += 1
        if self.mode == "bar":
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self.bar.update(1)
        elif self.mode == "lines":
            parts = "  ".join(f"{k} {v:.6g}" for k, v in postfix.items())
            took = f"  ({seconds:.2f} s)" if seconds is not None else ""
            print(f"{self.what} {self.done}/{self.total}  {parts}{took}", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _columns(stream):
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return 0


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ---- signals ------------------------------------------------------------------------------------

class Stopper:
    """SIGINT and SIGTERM set a flag (and do nothing else); ``fit(stop=stopper)`` asks it after
    every batch. A second signal while the first is being handled interrupts at once."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self):
        self.signum = None

    def __call__(self):
        return self.signum is not None

    @property
    def name(self):
        return signal.Signals(self.signum).name if self.signum is not None else None

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers can only be set in the main thread
            return
        previous = {}
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# ---- train --------------------------------------------------------------------------------------

def _given(args, names):
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def cmd_train(args):
    import gpubp
    from . import distributed

    t0 = time.perf_counter()
    comm = distributed.get(args.comm)
    root = comm is None or comm.rank == 0
    if not root:  # the other ranks train in step, silently; rank 0 reports and writes
        args.quiet, sys.stdout = True, open(os.devnull, "w")
    if args.no_plot and args.plot:
        raise UsageError(f"{PROG} train: error: --plot and --no-plot contradict each other")
    if args.resume:
        meta = _cli_metadata(args.resume)
        opts = _resume_options(args, meta)
        save_path = args.save or args.resume
    else:
        meta = None
        opts = dict(TRAIN_DEFAULTS)
        opts.update({"target": None, "samples": None, "features": None, "classes": None,
                     "task": None, "output": None, "loss": None})
        opts.update(_given(args, DATA_OPTIONS + NETWORK_OPTIONS + TRAINING_OPTIONS + ("epochs",)))
        if opts["data"] not in datasets.SOURCES:
            opts["data"] = os.path.abspath(opts["data"])  # a resumed run may start elsewhere
        save_path = args.save or DEFAULT_MODEL
    if opts["lr"] is None:  # the optimizer's default, written down
        opts["lr"] = optim.get(opts["optimizer"]).lr
    plot_path = None if args.no_plot else (args.plot or DEFAULT_PLOT)
    for what, path in (("--save", save_path), ("--plot", plot_path)):
        _check_writable(what, path)  # before the training, not after it
    if plot_path is not None and os.path.realpath(plot_path) == os.path.realpath(save_path):
        raise UsageError(f"{PROG} train: error: --plot and --save name the same file "
                         f"({save_path}): the loss curve would replace the model")

    ds = datasets.load(opts["data"], target=opts["target"], samples=opts["samples"],
                       features=opts["features"], classes=opts["classes"], seed=opts["seed"],
                       task=opts["task"])
    fingerprint = ds.fingerprint()
    if meta is not None and meta.get("fingerprint") != fingerprint:
        raise DataError(f"{args.resume}: its data ({_data_label(opts['data'])}) have changed since "
                        f"it was saved; an exact resume needs the same data")
    train, held = datasets.split(ds, opts["validation_fraction"], opts["seed"])
    if meta is None:
        scaler = datasets.Standardizer.fit(ds.X[train])
    else:
        scaler = datasets.Standardizer(meta["x_mean"], meta["x_std"])
        if scaler.mean.shape != (ds.n,) or scaler.std.shape != (ds.n,):
            raise CheckpointError(f"{args.resume}: its standardization is for "
                                  f"{scaler.mean.shape[0]} features; the data have {ds.n}")
    Xs = scaler(ds.X)

    output, loss = _output_and_loss(ds.task, opts["output"], opts["loss"])
    opts["output"], opts["loss"] = output, loss
    rows = 1 if ds.task == "regression" else (
        len(ds.classes) if len(ds.classes) > 2 or output == "softmax" else 1)
    if ds.task == "regression":
        if meta is None:
            y_mean, y_std = float(ds.y[train].mean()), float(ds.y[train].std())
            y_std = y_std if y_std > 0 else 1.0
        else:
            y_mean, y_std = float(meta["y_mean"]), float(meta["y_std"])
        Y = ((ds.y - y_mean) / y_std)[None, :]
    else:
        y_mean = y_std = None
        Y = datasets.encode(ds.y, ds.classes, rows)

    if meta is None:
        hidden = opts["sizes"]
        act = opts["activation"]
        if isinstance(act, list) and len(act) != len(hidden):
            raise UsageError(f"{PROG} train: error: --activation lists {len(act)} names; --sizes "
                             f"{_show(hidden)} has {len(hidden)} hidden layer"
                             f"{'s' if len(hidden) != 1 else ''}")
        if not hidden and args.activation is not None:
            raise UsageError(f"{PROG} train: error: --activation was given but there is no hidden "
                             f"layer (--sizes none)")
        net = gpubp.Network([ds.n] + hidden + [rows], activation=act, output=output, loss=loss,
                            dtype=opts["dtype"], device=args.device, seed=opts["seed"])
    else:
        net = checkpoint.load(args.resume, device=args.device)
        _check_fits(net, args.resume, ds.n, rows)

    Xtr, Ytr = Xs[train].T, Y[:, train]  # columns are examples: A[0] = X is (n[0], m)
    validation = (Xs[held].T, Y[:, held]) if held.size else None
    epochs = opts["epochs"]
    stopped_early = (meta or {}).get("stopped_early")
    state = net.training
    done = 0 if state is None else state.epoch
    todo = 0 if stopped_early else max(0, epochs - done)

    if not args.quiet:
        print(f"{PROG}: {ds.describe()}: {train.size} to train, {held.size} held out")
        hidden_acts = [a.name for a in net.activations[1:-1]]
        shown = hidden_acts[0] if len(set(hidden_acts)) == 1 else ",".join(hidden_acts) or "-"
        print(f"{PROG}: network {'-'.join(map(str, net.sizes))}, {shown} hidden, {output} output, "
              f"{loss}; {opts['optimizer']} lr {opts['lr']:g}, batch {opts['batch_size']}, on "
              f"{net.device} ({net.dtype.name})" + (f"; resuming at epoch {done}"
                                                     + (" (mid-epoch)" if state.mid_epoch else "")
                                                     if meta is not None else ""), flush=True)
        if stopped_early:
            print(f"{PROG}: {args.resume} stopped early at epoch {stopped_early['epoch']} "
                  f"(--patience); nothing to resume")
        elif todo == 0 and meta is not None:
            print(f"{PROG}: {args.resume} has been trained for {done} epochs already "
                  f"(--epochs {epochs} in all); nothing to resume")

    stopper = Stopper()
    fit_seconds = 0.0
    early = None
    if todo > 0:
        early, fit_seconds = _fit(net, Xtr, Ytr, validation, opts, todo, epochs, stopper,
                                  args.quiet, comm)
        if early is not None:
            stopped_early = early
    state = net.training
    meta = _metadata(ds, opts, fingerprint, scaler, y_mean, y_std, stopped_early)
    interrupted = stopper() and not stopped_early and (
        state.epoch < epochs or state.mid_epoch)
    if not root:
        return 128 + stopper.signum if interrupted else 0
    checkpoint.save(net, save_path, metadata=meta)
    if interrupted:
        where = (f"in epoch {state.epoch + 1}/{epochs} (after {state.position} of its "
                 f"{train.size} examples)" if state.mid_epoch else
                 f"after epoch {state.epoch}/{epochs}")
        resume = f"{PROG} train --resume {shlex.quote(save_path)}"
        print(f"{PROG}: {stopper.name}: stopped {where}; saved {save_path}; resume "
              f"with: {resume}", file=sys.stderr, flush=True)
        return 128 + stopper.signum

    if plot_path is not None and state is not None and state.history.epochs:
        title = (f"{_data_label(ds.name)}: {'-'.join(map(str, net.sizes))} network, "
                 f"{opts['optimizer']} lr {opts['lr']:g}")
        _plot(state.history, plot_path, title, loss,
              stopped_early["best_epoch"] if stopped_early else None)
    else:
        plot_path = None

    _report(net, ds, Xs, train, held, y_mean, y_std)
    total = time.perf_counter() - t0
    trained = state.epoch if state is not None else 0
    ran = trained - done  # a resumed partial epoch counts: done counts whole epochs
    if early is not None:
        watched = "held-out" if held.size else "training"
        print(f"early stop: the {watched} cost has not improved for {opts['patience']} epochs; "
              f"kept epoch {early['best_epoch']}'s parameters")
    print(f"time: {fit_seconds:.2f} s training ({ran} epoch{'s' if ran != 1 else ''} run, "
          f"{trained} in all), {total:.2f} s in all, on {net.device}")
    print(f"model: {save_path}")
    if plot_path is not None:
        print(f"loss curve: {plot_path}")
    return 0


def _check_fits(net, path, n, rows=None):
    """The model at ``path`` is a Network taking ``n`` features (and giving ``rows`` outputs)."""
    sizes = getattr(net, "sizes", None)
    if sizes is None:
        raise CheckpointError(f"{path}: holds a {type(net).__name__}, not the Network that gpubp "
                              f"train saves")
    if sizes[0] != n or (rows is not None and sizes[-1] != rows):
        raise CheckpointError(f"{path}: the network takes {sizes[0]} features and gives "
                              f"{sizes[-1]} outputs; its data have {n} features"
                              + (f" and need {rows} outputs" if rows is not None else ""))


def _check_writable(what, path):
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise GpubpError(f"{what} {path}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise GpubpError(f"{what} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise GpubpError(f"{what} {path}: cannot write in {folder}")


def _data_label(source):
    return source if source in datasets.SOURCES else os.path.basename(source)


def _output_and_loss(task, output, loss):
    default_output, default_loss = TASK_OUTPUT[task]
    if output is None:
        output = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(loss, default_output)
    if loss is None:
        if output == default_output:
            loss = default_loss
        else:
            loss = {"softmax": "cross_entropy", "sigmoid": "bce" if task != "regression" else "mse"
                    }.get(output, "mse")
    if task == "regression" and output == "softmax":
        raise UsageError(f"{PROG} train: error: a softmax output is for classes; this data set is "
                         f"a regression (try --output identity)")
    return output, loss


def _fit(net, X, Y, validation, opts, todo, epochs, stopper, quiet, comm=None):
    """Run fit for ``todo`` epochs with progress, early stopping and ``stopper``. Returns
    (early-stop info or None, seconds).

    Early stopping is fit's own (``patience``), watched in the training state. A run of
    ``--epochs N`` is one stretch of a run that ``--resume`` may take further, so fit is stopped
    (``stop``) at the end of epoch N rather than left to end: a stopped fit keeps its watch and
    the last epoch's parameters, and the next fit, after a resume, goes on with both."""
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

    t = time.perf_counter()
    try:
        with stopper.installed():
            net.fit(X, Y, epochs=todo, batch_size=opts["batch_size"], optimizer=opts["optimizer"],
                    lr=opts["lr"], validation_data=validation, l2=opts["l2"], callback=callback,
                    patience=opts["patience"], min_delta=opts.get("min_delta") or 0.0, stop=stop,
                    comm=comm)
    except TrainingDiverged as e:
        raise TrainingDiverged(f"training diverged in epoch {e.epoch}/{epochs} ({e.what}); "
                               f"nothing was saved; try a smaller --lr than {opts['lr']:g}",
                               epoch=e.epoch, what=e.what) from None
    finally:
        progress.close()
    seconds = time.perf_counter() - t
    st = net.training
    if opts["patience"] is not None and st.waited >= opts["patience"]:  # fit kept the best
        return {"epoch": st.epoch, "best_epoch": st.epoch - st.waited,
                "best": float(st.best)}, seconds
    return None, seconds


def _metadata(ds, opts, fingerprint, scaler, y_mean, y_std, stopped_early):
    return {
        "format": META_FORMAT, "version": META_VERSION,
        "data": {k: opts[k] for k in DATA_OPTIONS},
        "fingerprint": fingerprint,
        "task": ds.task,
        "target": ds.target,
        "feature_names": list(ds.feature_names),
        "classes": ds.classes,
        "x_mean": scaler.mean.tolist(), "x_std": scaler.std.tolist(),
        "y_mean": y_mean, "y_std": y_std,
        "network": {k: opts[k] for k in NETWORK_OPTIONS},
        "training": {k: opts[k] for k in TRAINING_OPTIONS + ("epochs",)},
        "stopped_early": stopped_early,
    }


def _cli_metadata(path):
    """The metadata of a model file written by `gpubp train`, checked."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    meta = checkpoint.load_metadata(path)
    if meta is None or meta.get("format") != META_FORMAT:
        raise CheckpointError(f"{path}: a gpubp checkpoint without the data options of 'gpubp "
                              f"train' (saved from Python?); predict and --resume need a model "
                              f"saved by gpubp train")
    if not isinstance(meta.get("version"), int) or meta["version"] > META_VERSION:
        raise CheckpointError(f"{path}: written by a newer gpubp (command-line metadata version "
                              f"{meta.get('version')!r}); upgrade gpubp")
    need = {"data": dict, "fingerprint": str, "task": str, "feature_names": list,
            "x_mean": list, "x_std": list, "network": dict, "training": dict}
    for key, kind in need.items():
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{path}: its metadata lack {key!r} (a damaged file?)")
    if meta["task"] not in datasets.TASKS:
        raise CheckpointError(f"{path}: its metadata name an unknown task {meta['task']!r}")
    if meta["task"] != "regression" and not (isinstance(meta.get("classes"), list)
                                             and len(meta["classes"]) >= 2):
        raise CheckpointError(f"{path}: its metadata lack the class labels (a damaged file?)")
    if meta["task"] == "regression" and not all(isinstance(meta.get(k), (int, float))
                                                for k in ("y_mean", "y_std")):
        raise CheckpointError(f"{path}: its metadata lack the target's mean and std")
    for k in DATA_OPTIONS:
        if k not in meta["data"]:
            raise CheckpointError(f"{path}: its metadata lack the data option {k!r}")
    return meta


def _resume_options(args, meta):
    """The options of a resumed run: the saved ones; data and network options given again must
    agree with them; training options given again replace them (and say so)."""
    saved = dict(meta["data"])
    saved.update({k: meta["network"].get(k) for k in NETWORK_OPTIONS})
    saved.update({k: meta["training"].get(k) for k in TRAINING_OPTIONS + ("epochs",)})
    for k in DATA_OPTIONS + NETWORK_OPTIONS:
        v = getattr(args, k)
        if v is None:
            continue
        w = saved[k]
        if w is None:  # left out when it was trained: compare with what that run used
            w = {"task": meta.get("task"), "target": meta.get("target")}.get(k)
            if w is None:  # --samples, --features, --classes: the data's fingerprint decides
                saved[k] = v
                continue
        if k == "data" and v not in datasets.SOURCES:
            v = os.path.abspath(v)
        if v != w:
            flag = "--" + k.replace("_", "-")
            raise UsageError(f"{PROG} train: error: {flag} {_show(v)} differs from "
                             f"{_show(w)}, with which {args.resume} was trained; a resumed run "
                             f"keeps its data, split and network (leave {flag} out)")
    if args.optimizer is not None and args.optimizer != saved["optimizer"] and args.lr is None:
        saved["lr"] = None  # the new optimizer's default, not the old one's rate
    for k in TRAINING_OPTIONS:
        v = getattr(args, k)
        if v is not None and v != saved[k]:
            print(f"{PROG}: note: --{k.replace('_', '-')} {_show(v)} replaces {_show(saved[k])}: "
                  f"the run will differ from an uninterrupted one", file=sys.stderr)
            saved[k] = v
    if args.epochs is not None:
        saved["epochs"] = args.epochs
    return saved


def _show(v):
    if isinstance(v, list):
        return ",".join(map(str, v)) or "none"
    return str(v)


def _report(net, ds, Xs, train, held, y_mean, y_std):
    def outputs(rows):
        return backend.to_host(net.forward(Xs[rows].T)).astype(np.float64)

    parts = []
    for what, rows in (("train", train), ("held-out", held)):
        if rows.size == 0:
            continue
        A = outputs(rows)
        if ds.task == "regression":
            pred = A[0] * y_std + y_mean
            y = ds.y[rows]
            mse = float(np.mean((pred - y) ** 2))
            var = float(np.var(y))
            r2 = 1.0 - mse / var if var > 0 else float("nan")
            parts.append(f"{what} R^2 {r2:.4f}, mse {mse:.6g} ({rows.size} examples)")
        else:
            pred = datasets.decode(A, ds.classes)
            acc = float(np.mean([p == t for p, t in zip(pred, ds.y[rows])]))
            parts.append(f"{what} accuracy {acc:.4f} ({rows.size} examples)")
    print("   ".join(parts))


def _plot(history, path, title, loss, best_epoch=None):
    """The loss curve: the cost of each epoch (mean over its batches) and the held-out cost, drawn
    with matplotlib's Agg backend (no display needed) into a PNG at ``path``."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print(f"{PROG}: note: matplotlib is not installed, so no loss curve (pip install "
              f"'gpubp[cli]')", file=sys.stderr)
        return
    cost = history["cost"]
    val = history.get("val_cost", [])
    epochs = np.arange(1, len(cost) + 1)
    fig = Figure(figsize=(7, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    marker = "o" if len(cost) <= 30 else None
    ax.plot(epochs, cost, marker=marker, ms=3,
            label="training cost (mean over the epoch's batches)")
    if len(val) == len(cost):
        ax.plot(epochs, val, marker=marker, ms=3, label="held-out cost (after the epoch)")
    if best_epoch is not None:
        ax.axvline(best_epoch, color="gray", ls="--", lw=1,
                   label=f"best epoch ({best_epoch}), kept")
    values = np.asarray(cost + (val if len(val) == len(cost) else []))
    log = bool(values.size and (values > 0).all())
    if log:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"cost ({loss}{', log scale' if log else ''})")
    ax.set_title(title)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")


# ---- predict ------------------------------------------------------------------------------------

def cmd_predict(args):
    meta = _cli_metadata(args.model)
    net = checkpoint.load(args.model, device=args.device)
    names = meta["feature_names"]
    X = datasets.features(args.input, names, target=meta.get("target"))
    _check_fits(net, args.model, len(names))
    scaler = datasets.Standardizer(meta["x_mean"], meta["x_std"])
    if scaler.mean.shape != (len(names),) or scaler.std.shape != (len(names),):
        raise CheckpointError(f"{args.model}: its standardization does not match its "
                              f"{len(names)} features")
    A = backend.to_host(net.forward(scaler(X).T)).astype(np.float64)  # (n[L], m)
    task, classes = meta["task"], meta.get("classes")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if args.proba:
        out_act = net.activations[-1].name
        if task == "regression" or out_act not in ("sigmoid", "softmax"):
            raise GpubpError(f"--proba needs a classifier with a sigmoid or softmax output; this "
                             f"model is a {task} with a {out_act} output")
        P = np.vstack([1 - A[0], A[0]]) if A.shape[0] == 1 else A
        if out_act == "sigmoid" and A.shape[0] > 1:
            P = A / A.sum(axis=0, keepdims=True)  # one sigmoid per class: normalized
        w.writerow([str(c) for c in classes])
        for col in P.T:
            w.writerow([repr(float(v)) for v in col])
    elif task == "regression":
        w.writerow([meta.get("target") or "prediction"])
        for v in A[0] * float(meta["y_std"]) + float(meta["y_mean"]):
            w.writerow([repr(float(v))])
    else:
        w.writerow([meta.get("target") or "prediction"])
        for label in datasets.decode(A, classes):
            w.writerow([label])
    text = out.getvalue()
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            f.write(text)
        print(f"{PROG}: wrote {X.shape[0]} {'probabilities' if args.proba else 'predictions'} "
              f"to {args.output}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


# ---- gradcheck ----------------------------------------------------------------------------------

def cmd_gradcheck(args):
    import gpubp

    sizes = args.sizes
    L = len(sizes) - 1
    act = args.activation
    if isinstance(act, list) and len(act) != L - 1:
        raise UsageError(f"{PROG} gradcheck: error: --activation lists {len(act)} names; "
                         f"--sizes {_show(sizes)} has {L - 1} hidden layer{'s' if L != 2 else ''}")
    loss = args.loss or {"softmax": "cross_entropy", "sigmoid": "bce"}.get(args.output, "mse")
    net = gpubp.Network(sizes, activation=act, output=args.output, loss=loss, dtype="float64",
                        device=args.device, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    m, n_out = args.batch, sizes[-1]
    X = rng.normal(size=(sizes[0], m))
    if loss == "cross_entropy":
        Y = rng.uniform(0.05, 1, (n_out, m))
        Y /= Y.sum(axis=0, keepdims=True)
    elif loss == "bce":
        Y = rng.uniform(0, 1, (n_out, m))
    else:
        Y = rng.normal(size=(n_out, m))
    entries = None if args.all else args.entries
    total = sum(p.size if entries is None else min(entries, p.size) for p in net.params.values())
    if not args.quiet:
        print(f"{PROG}: gradcheck of {net!r}\n{PROG}: m = {m} random examples, {total} entries "
              f"({'all' if entries is None else f'up to {entries} per parameter'}), float64, "
              f"on {net.device}", flush=True)
    bar = Progress(total, 0, args.quiet, what="entry") if not args.quiet else None
    current = [None]
    t = time.perf_counter()

    def progress(name, done, total):
        if bar is None:
            return
        if bar.mode == "bar":
            bar.bar.set_postfix_str(name, refresh=False)
            bar.bar.update(done - bar.bar.n)
        elif current[0] != name:
            current[0] = name
            print(f"checking {name} ...", flush=True)

    try:
        report = gpubp.gradcheck(net, X, Y, max_entries=entries, seed=args.seed, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print(report)
    ok = report.ok(args.tol)
    print(f"{'ok' if ok else 'FAILED'}: worst relative error {report.max_error:.3e} "
          f"{'<=' if ok else '>'} tol {args.tol:g} ({time.perf_counter() - t:.2f} s)")
    return 0 if ok else 1


def cmd_explain(args):
    import gpubp
    from . import picture

    if args.model:
        net = gpubp.load(args.model, device="cpu")
    else:
        sizes, act = args.sizes, args.activation
        L = len(sizes) - 1
        if isinstance(act, list) and len(act) != L - 1:
            raise UsageError(f"{PROG} explain: error: --activation lists {len(act)} names; --sizes "
                             f"{_show(sizes)} has {L - 1} hidden layer{'s' if L != 2 else ''}")
        loss = args.loss or {"softmax": "cross_entropy", "sigmoid": "bce"}.get(args.output, "mse")
        net = gpubp.Network(sizes, activation=act, output=args.output, loss=loss, dtype="float64",
                            device="cpu", seed=args.seed, bias=not args.no_bias)
    derivation = gpubp.explain(net, m=args.batch, check=args.check, seed=args.seed)
    if args.picture:
        _check_writable("picture", args.picture)
        print(f"picture: {picture.draw(net, args.picture, m=args.batch)}", file=sys.stderr)
    print(derivation.render(args.format))
    return 0


# ---- info and demo ------------------------------------------------------------------------------

def cmd_info(args):
    print("\n".join(info_lines()))
    return 0


def info_lines():
    import platform

    lines = [f"gpubp {_version()} ({os.path.dirname(os.path.abspath(__file__))})",
             f"python {platform.python_version()} ({sys.executable})",
             f"numpy {np.__version__}, BLAS: {_blas()}"]
    cupy, reason = backend.cupy_status()
    if cupy is None:
        if reason == "not installed":
            lines.append("cupy: not installed")
            lines.append("CUDA: not used (no CuPy)")
        else:
            lines.append(f"cupy: unusable: {reason}")
    else:
        lines.append(f"cupy {cupy.__version__}")
        rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
        lines.append(f"CUDA runtime {rt // 1000}.{rt % 1000 // 10}, driver supports "
                     f"{drv // 1000}.{drv % 1000 // 10}")
    for line in backend.describe().splitlines()[1:]:  # its first line repeats python and numpy
        lines.append(line)
    try:
        device = backend.resolve(None)
        lines.append(f"backend: {'CuPy (GPU)' if device == 'gpu' else 'NumPy (CPU)'}")
    except GpubpError:
        pass
    return lines


def _blas():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        name = blas.get("name", "unknown")
        version = blas.get("version")
        text = f"{name} {version}" if version and version != "unknown" else name
    except Exception:
        text = "unknown"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return text
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if pools:
        p = pools[0]
        text += (f" (loaded: {p.get('internal_api')} {p.get('version')}, "
                 f"{p.get('num_threads')} threads)")
    return text


def cmd_demo(args):
    import gpubp

    print(gpubp.describe())
    # XOR: four examples, one per column (X is (n[0], m) = (2, 4)), labels in a (1, 4) row
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y = np.array([[0, 1, 1, 0]], dtype=float)
    net = gpubp.Network([2, 8, 1], activation="tanh", output="sigmoid", loss="bce", seed=0)
    print(net)
    history = net.fit(X, Y, epochs=300, batch_size=4, optimizer="adam", lr=0.05)
    print(f"cost {history['cost'][0]:.3f} -> {history['cost'][-1]:.4f}")
    print("A[L] =", backend.to_host(net.forward(X)).round(3))
    print(gpubp.gradcheck(net, X, Y))
    return 0


if __name__ == "__main__":
    sys.exit(main())
