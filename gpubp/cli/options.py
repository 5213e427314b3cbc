"""Every option of the command line, declared once, in :data:`OPTIONS`.

One row says everything about an option: its flags, its value's type, the commands that take it
with their defaults, its help, and where a training run records it for ``--resume``
(``record``: ``"data"`` and ``"network"`` must agree when given again, ``"training"`` may change
with a note, ``"output"`` is taken again silently, None: not recorded). The argparse parsers
(:func:`build_parser`), the defaults of ``gpubp train`` (:data:`TRAIN_DEFAULTS`) and the
sections of a model file's metadata (:data:`RECORDED`) are all made from this table.

To add an option: add a row here (and read it where it acts).
"""

import argparse
import math

from .. import backend, datasets, optim, table
from ..errors import ConfigError

PROG = "gpubp"

DEFAULT_MODEL = "gpubp-model.npz"
DEFAULT_PLOT = "gpubp-loss.png"


class UsageError(ConfigError):
    """A bad command line (an option gpubp cannot use, as given on the command line): exit
    status 2. A ConfigError, so a GpubpError like every error gpubp raises on purpose."""


def usage(command, message):
    """The UsageError of ``gpubp COMMAND`` (one line, as argparse's own)."""
    return UsageError(f"{PROG} {command}: error: {message}")


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # a script's --epoch must not become --epochs
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def show(v):
    """An option's value as it is written on the command line."""
    if isinstance(v, list):
        return ",".join(map(str, v)) or "none"
    return str(v)


def flag(name):
    return "--" + name.replace("_", "-")


# ---- the types of values ------------------------------------------------------------------------

def int_from(low, what):
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


#: the separators of a .csv by name (gpubp.table's names)
SEPARATORS = {name: sep for sep, name in table.SEPARATORS.items()}


def separator(text):
    """An argparse type: a separator by name (comma, semicolon, tab, space) or as itself."""
    if text in SEPARATORS.values():
        return text
    if text.lower() in SEPARATORS:
        return SEPARATORS[text.lower()]
    if text == "\\t":
        return "\t"
    raise argparse.ArgumentTypeError(f"expected {table.separator_names()}; got {text!r}")


positive_int = int_from(1, "a positive integer")
nonneg_int = int_from(0, "an integer >= 0")


def number(low=None, high=None, low_open=False, high_open=False):
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


def sizes(text):
    """Layer sizes: "128", "256,128", or "" / "none" for none."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        values = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes separated by commas, e.g. 128 or 256,64; "
                                         f"got {text!r}") from None
    if any(s < 1 for s in values):
        raise argparse.ArgumentTypeError(f"every size must be a positive integer; got {text!r}")
    return values


def all_sizes(text):
    """All the sizes n[0],...,n[L]: at least two."""
    values = sizes(text)
    if len(values) < 2:
        raise argparse.ArgumentTypeError(f"expected all the sizes n[0],...,n[L] (inputs, hidden, "
                                         f"outputs: at least two), e.g. 784,256,10; got {text!r} "
                                         f"(gpubp train --hidden takes the hidden sizes alone)")
    return values


def names(text):
    values = [s.strip() for s in text.split(",")]
    if not all(values):
        raise argparse.ArgumentTypeError(f"expected a name, or names separated by commas; got "
                                         f"{text!r}")
    return values[0] if len(values) == 1 else values


# ---- the table ----------------------------------------------------------------------------------

class Option:
    """One option: ``flags``; ``commands``: command -> default (None: decided later); ``help``;
    ``group``: its heading in ``gpubp train --help``; ``record``: the metadata section a training
    run records it in (None: not recorded); ``unset``: what the help says is used when the
    default is None; ``param``: the parameter of the data functions (:func:`gpubp.datasets.load`,
    :func:`gpubp.datasets.split`) it sets, which their messages then name by this flag
    (:data:`DATA_FLAGS`); the rest as in argparse's ``add_argument``."""

    def __init__(self, flags, commands, help, group=None, record=None, unset=None, param=None,
                 **argparse_kw):
        self.flags = (flags,) if isinstance(flags, str) else tuple(flags)
        self.name = self.flags[0].lstrip("-").replace("-", "_")
        self.commands, self.help, self.group, self.record = commands, help, group, record
        self.unset, self.param, self.kw = unset, param, argparse_kw

    def add_to(self, parser, command):
        default = self.commands[command]
        text = self.help
        if default is not None and default is not False:
            text += f" (default {show(default)})"
        elif self.unset:
            text += f" (default: {self.unset})"
        kw = dict(self.kw)
        if not kw.get("required"):
            # train leaves an option not given None: a resumed run takes the recorded value
            kw.setdefault("default", default if command != TRAIN else None)
        parser.add_argument(*self.flags, dest=self.name, help=text, **kw)


ACTIVATIONS = "identity, sigmoid, tanh, relu, leaky_relu"
TRAIN = "train"
DEVICE_HELP = "auto (the GPU when usable), cpu or gpu"

OPTIONS = [
    # -- data (train)
    Option("--data", {TRAIN: "digits"}, f"{', '.join(datasets.SOURCES)}, or a .csv (header row, "
           "one example per row) or .npz file", "data", "data", metavar="NAME|FILE"),
    Option("--target", {TRAIN: None}, "the target column of a .csv or the target array of a .npz",
           "data", "data", unset="the last column; y", metavar="NAME", param="target"),
    Option("--task", {TRAIN: None}, "what the target is", "data", "data",
           unset="read from its values: strings or few integers are classes, other numbers a "
           "regression target", choices=datasets.TASKS),
    Option("--samples", {TRAIN: None}, "examples of a synthetic data set", "data", "data",
           unset="1000", type=positive_int, param="samples"),
    Option("--features", {TRAIN: None}, "features of a synthetic data set", "data", "data",
           unset="20", type=positive_int, param="features"),
    Option("--classes", {TRAIN: None}, "classes of synthetic-classification", "data", "data",
           unset="2", type=positive_int, param="classes"),
    Option("--header", {TRAIN: None, "predict": None}, "a .csv's first line names the columns "
           "(--no-header: it is data)", "data", "data",
           unset="detected: a first line of numbers is data", action=argparse.BooleanOptionalAction,
           param="header"),
    Option("--separator", {TRAIN: None, "predict": None}, "what separates a .csv's fields",
           "data", "data", unset="detected: comma, semicolon, tab or spaces",
           type=separator, metavar="|".join(SEPARATORS), param="separator"),
    Option("--validation-fraction", {TRAIN: 0.2}, "share of the examples held out (stratified for "
           "classes) to measure the held-out cost and accuracy (0: none)", "data", "data",
           type=number(0, 1, high_open=True), metavar="F", param="fraction"),
    # -- the network
    Option("--sizes", {TRAIN: None, "gradcheck": [784, 256, 10], "explain": [2, 3, 2]},
           "all the sizes n[0],...,n[L], inputs and outputs included", "network",
           unset="the data's features, --hidden, the outputs the task needs", type=all_sizes,
           metavar="N,N,..."),
    Option("--hidden", {TRAIN: [128]}, "the hidden sizes n[1],...,n[L-1] alone ('none' for no "
           "hidden layer): the data decide n[0] and n[L]", "network", "network", type=sizes,
           metavar="N,N,..."),
    Option("--activation", {TRAIN: "relu", "gradcheck": "tanh", "explain": "sigmoid"},
           f"hidden activation, or one per hidden layer: {ACTIVATIONS}", "network", "network",
           type=names, metavar="NAME[,NAME...]"),
    Option("--output", {TRAIN: None, "gradcheck": "softmax", "explain": "sigmoid"},
           "output activation (an activation, softmax or exp)", "network", "network",
           metavar="NAME",
           unset="sigmoid for two classes, softmax for more, identity for regression"),
    Option("--loss", {TRAIN: None, "gradcheck": None, "explain": None},
           "mse, sse, half_sse, bce (sigmoid output), cross_entropy (softmax output), poisson "
           "(exp output)", "network",
           "network", unset="from the task and the output", metavar="NAME"),
    Option("--dtype", {TRAIN: "float32"}, "the parameters' float type", "network", "network",
           choices=("float32", "float64")),
    Option("--no-bias", {"explain": False}, "layers Z[l] = W[l] A[l-1], no b[l]",
           action="store_true"),
    # -- training
    Option("--optimizer", {TRAIN: "adam"}, "how the parameters are updated", "training",
           "training", choices=sorted(optim.OPTIMIZERS)),
    Option("--lr", {TRAIN: None}, "learning rate", "training", "training",
           unset="0.001 for adam, 0.01 for sgd and momentum", type=number(0, low_open=True)),
    Option("--epochs", {TRAIN: 20}, "epochs in all, counting those of a resumed model", "training",
           "training", type=nonneg_int),
    Option("--batch-size", {TRAIN: 32}, "examples per step", "training", "training",
           type=positive_int),
    Option("--patience", {TRAIN: None}, "stop when the held-out cost (the training cost without "
           "held-out data) has not improved for this many epochs, and keep the best epoch's "
           "parameters", "training", "training", unset="no early stopping", type=positive_int),
    Option("--min-delta", {TRAIN: 0.0}, "with --patience: an epoch improves on the best only "
           "by more than this", "training", "training", type=number(0), metavar="D"),
    Option("--l2", {TRAIN: 0.0}, "weight penalty l2/(2m) sum ||W||^2", "training", "training",
           type=number(0)),
    Option("--seed", {TRAIN: 0, "gradcheck": 0, "explain": 0}, "seeds the data split, synthetic "
           "data, initialization, shuffling", "training", "data", type=nonneg_int),
    # -- gradcheck and explain
    Option("--batch", {"gradcheck": 8, "explain": 5}, "examples m", type=positive_int),
    Option("--entries", {"gradcheck": 50}, "entries checked per parameter, chosen at random",
           type=positive_int),
    Option("--all", {"gradcheck": False}, "check every entry (slow for big layers)",
           action="store_true"),
    Option("--tol", {"gradcheck": 1e-7}, "the largest relative error that passes",
           type=number(0, low_open=True)),
    Option("--check", {"explain": False}, "check every equation against NumPy and finite "
           "differences", action="store_true"),
    Option("--format", {"explain": "text"}, "how to print the equations",
           choices=("text", "markdown", "latex")),
    Option("--picture", {"explain": None}, "also draw the network to PATH (.svg or .png)",
           metavar="PATH"),
    # -- where and what to write, and how
    Option("--model", {"predict": None}, "a model saved by gpubp train", metavar="PATH",
           required=True),
    Option("--model", {"explain": None}, "explain a saved model instead of --sizes ...",
           metavar="PATH"),
    Option("--model", {"info": None}, "describe a model saved by gpubp train: the columns "
           "predict expects, in order, the classes or the target, the task, the network",
           metavar="PATH"),
    Option("--input", {"predict": None}, "a .csv or .npz of features", metavar="FILE",
           required=True),
    Option("--device", {TRAIN: None, "predict": None, "gradcheck": None},
           DEVICE_HELP, "where and what to write", unset="GPUBP_DEVICE or auto",
           choices=backend.DEVICES),
    Option("--comm", {TRAIN: None}, "data-parallel training over the ranks of mpiexec / srun "
           "(mpi: through MPI; nccl: one GPU per rank); rank 0 prints and writes the files",
           "where and what to write", choices=("mpi", "nccl")),
    Option("--save", {TRAIN: None}, "where to save the model", "where and what to write",
           unset=f"{DEFAULT_MODEL}; with --resume: the resumed file", metavar="PATH"),
    Option("--resume", {TRAIN: None}, "continue training the model saved at PATH, on its data and "
           "with its options (--epochs counts the epochs in all)", "where and what to write",
           metavar="PATH"),
    Option("--plot", {TRAIN: None}, "the loss-curve PNG (a resumed run draws where its first "
           "run did)", "where and what to write", "output", unset=DEFAULT_PLOT, metavar="PATH"),
    Option("--no-plot", {TRAIN: False}, "draw no loss curve (nor does a resumed run)",
           "where and what to write", "output", action="store_true"),
    Option("--output", {"predict": None}, "where to write the CSV", unset="stdout",
           metavar="FILE"),
    Option("--proba", {"predict": False}, "write the probability of each class instead of the "
           "labels", action="store_true"),
    Option("--force", {TRAIN: False, "predict": False, "explain": False}, "write over an "
           "existing file that is not of the kind written (--save: a gpubp model, --plot and "
           "--picture: a PNG or SVG, --output: a predictions file of this model)",
           "where and what to write", action="store_true"),
    Option(("--quiet", "-q"), {TRAIN: False}, "print nothing but errors (the exit status says "
           "the rest)", "where and what to write", action="store_true"),
    Option(("--quiet", "-q"), {"gradcheck": False}, "no progress: only the report",
           action="store_true"),
]

#: how the data functions' parameters are spelled on the command line (their messages use these)
DATA_FLAGS = {o.param: o.flags[0] for o in OPTIONS if o.param is not None}
#: what `gpubp train` uses for an option not given
TRAIN_DEFAULTS = {o.name: o.commands[TRAIN] for o in OPTIONS
                  if TRAIN in o.commands and o.record is not None}
#: the sections of a model file's metadata: section -> the options recorded in it
RECORDED = {}
for _o in OPTIONS:
    if TRAIN in _o.commands and _o.record is not None:
        RECORDED.setdefault(_o.record, []).append(_o.name)
RECORDED = {k: tuple(v) for k, v in RECORDED.items()}

COMMANDS = {
    "train": dict(
        help="train a network on a data set, save it and its loss curve",
        description="Train a fully connected network on a data set, print the training and "
        "held-out accuracy (R^2 and mse for regression), save the model and a picture of the loss "
        "curve. With no options: a 64-128-10 relu network, softmax + cross_entropy, Adam, on "
        "scikit-learn's digits.",
        epilog="Ctrl-C (or SIGTERM) stops after the current batch and saves a checkpoint; 'gpubp "
        "train --resume MODEL' continues it, and the result is bit for bit that of an "
        "uninterrupted run."),
    "predict": dict(
        help="predict with a model saved by 'gpubp train'",
        description="Predict the class labels (as written in the training data) or the values of "
        "a regression for the examples of a .csv (columns matched by name; the target column, if "
        "present, is ignored) or .npz file (array X). Writes a CSV to --output or to stdout."),
    "gradcheck": dict(
        help="check backprop against finite differences",
        description="Compare the gradients of backpropagation with fourth-order central "
        "differences in float64, on a random network and random data, and print the worst "
        "relative error of each parameter. The exit status is 1 if the worst is above --tol."),
    "explain": dict(
        help="every equation of a network with every shape, checked",
        description="Print the forward and backward equations of a network in the notes' notation "
        "with the shape of every factor for a batch of --batch examples. --check verifies each "
        "printed equation against NumPy and each gradient against finite differences, on random "
        "weights and data."),
    "info": dict(
        help="what gpubp runs on here (backend, device, versions, BLAS), or what a model "
        "expects",
        description="Print the backend, the device, and the versions of gpubp, Python, NumPy, "
        "CuPy and CUDA, and the BLAS NumPy uses. With --model: what that model expects from "
        "'gpubp predict' (its feature columns in order) and what it gives (its classes, or its "
        "target and units)."),
    "demo": dict(
        help="the README's first example: XOR, then a gradient check",
        description="Train a 2-8-1 network on XOR and check its gradients."),
}


def build_parser(version):
    p = Parser(prog=PROG, description="Backpropagation as the textbooks write it, on NumPy (CPU) "
               "or CuPy (GPU). Columns are examples inside gpubp; data files have one example "
               "per row.", epilog="Run 'gpubp COMMAND --help' for the options of a command.")
    p.add_argument("--version", action="version", version=f"gpubp {version}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command, text in COMMANDS.items():
        c = sub.add_parser(command, **text)
        groups = {}
        for o in OPTIONS:
            if command not in o.commands:
                continue
            where = c
            if command == TRAIN and o.group:
                where = groups.get(o.group) or groups.setdefault(o.group,
                                                                 c.add_argument_group(o.group))
            o.add_to(where, command)
    return p
