"""The command line: ``gpubp train | predict | gradcheck | explain | info | demo`` (``python -m
gpubp`` too).

``gpubp train`` with no arguments trains a 64-128-10 relu network with a softmax + cross_entropy
output on scikit-learn's digits (on the GPU when one is usable), prints the training and held-out
accuracy and the time, and saves the model (``gpubp-model.npz``) and its loss curve
(``gpubp-loss.png``). ``gpubp train --help`` lists the options.

The model file is a gpubp checkpoint (:mod:`gpubp.checkpoint`) whose ``metadata`` holds what
``predict`` and ``--resume`` need (:mod:`gpubp.cli.record`): the data options (so a resumed run
reloads the same data and split, checked by a fingerprint), the standardization, the class labels,
the task, the network and the training options. ``gpubp train --resume M --epochs N`` continues to
N epochs in all and ends with the parameters of an uninterrupted run, bit for bit. Ctrl-C (SIGINT)
or SIGTERM during training stops at the end of the current batch, saves, and says how to resume;
one after the last epoch (while saving included) lets the save finish and skips the loss curve
and the summary; one before training ends the run at once, writing nothing; a second signal
interrupts at once (cutting a save short leaves the file as it was).

Any error (a bad option, a missing file, a bad column, a corrupt model, data that do not fit the
model, a diverged training) is one line on stderr and a non-zero exit status: 2 for a usage error,
1 for the others, 130 / 143 after SIGINT / SIGTERM. ``GPUBP_DEBUG=1`` shows the traceback of an
unexpected error.

The package: :mod:`~gpubp.cli.options` (every option, declared once, and the parsers made from
them), :mod:`~gpubp.cli.train`, :mod:`~gpubp.cli.predict`, :mod:`~gpubp.cli.tools` (gradcheck,
explain, info, demo): one module per command; :mod:`~gpubp.cli.record` (a model file's metadata),
:mod:`~gpubp.cli.files`, :mod:`~gpubp.cli.report`, :mod:`~gpubp.cli.progress` serve them.
"""

import contextlib
import os
import sys

from ..errors import GpubpError
from .options import PROG, TRAIN_DEFAULTS, UsageError, build_parser as _build_parser
from . import ranks
from .predict import cmd_predict
from .progress import Interrupted, Progress, Stopper
from .tools import cmd_demo, cmd_explain, cmd_gradcheck, cmd_info, info_lines
from .train import cmd_train

__all__ = ["main", "build_parser", "TRAIN_DEFAULTS", "UsageError", "Progress", "Stopper",
           "info_lines"]

COMMANDS = {"train": cmd_train, "predict": cmd_predict, "gradcheck": cmd_gradcheck,
            "explain": cmd_explain, "info": cmd_info, "demo": cmd_demo}


def build_parser():
    """The argparse parser of every command (made from :data:`gpubp.cli.options.OPTIONS`)."""
    from .. import __version__

    return _build_parser(__version__)


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        return _run(argv)
    except UsageError as e:
        return _fail(str(e), 2)
    except Interrupted as e:  # a signal that interrupted at once: its line says what became of the run
        return _fail(f"{PROG}: {e}", 128 + e.signum)
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


def _run(argv):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except UsageError as e:  # under --comm, the other ranks wait to hear of it
        ranks.failed_to_parse(argv, e)
    if args.command is None:
        parser.print_help()
        return 2
    return COMMANDS[args.command](args)


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


def _describe_error(e):
    if isinstance(e, OSError) and e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    if isinstance(e, MemoryError):
        return "out of memory" + (f": {_one_line(e)}" if str(e) else "")
    if isinstance(e, (GpubpError, ValueError)):
        return _one_line(e)
    return f"{type(e).__name__}: {_one_line(e)}"


def _fail(message, code):
    if ranks.silent():  # a rank other than 0 of `gpubp train --comm`: rank 0 says it
        return code
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print(message, file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
