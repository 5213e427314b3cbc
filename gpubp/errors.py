"""The errors gpubp raises. Each message names what was wrong and what was expected."""


class GpubpError(Exception):
    """Base class of every error gpubp raises on purpose."""


class ShapeError(GpubpError, ValueError):
    """Two matrices of an equation do not line up.

    The message names the equation, the layer and both shapes, e.g.
    ``Z[2] = W[2] A[1] + b[2]: W[2] is (3, 3) but A[1] is (2, 5); inner sizes 3 != 2``.
    """


class DataError(GpubpError, ValueError):
    """Input data that no equation can use: NaN or Inf, labels out of range, no examples."""


class NameNotFound(GpubpError, ValueError):
    """An unknown activation, loss, optimizer or device name; the message lists the valid ones."""


class ConfigError(GpubpError, ValueError):
    """An option gpubp cannot use (a learning rate <= 0, a batch size of 0, a dtype, sizes, an
    activation list of the wrong length, ...); the message names it and what is expected."""


class ArgumentTypeError(GpubpError, TypeError):
    """An argument of the wrong type (``lr="0.1"``, a name that is not a string, ...)."""


class LayerIndexError(GpubpError, IndexError):
    """A layer number outside ``1..L``: layers are numbered as in the notes."""


class DeviceError(GpubpError, RuntimeError):
    """A GPU was asked for but none is usable; the message says why."""


class CheckpointError(GpubpError, ValueError):
    """A checkpoint file that gpubp cannot load (truncated, not a gpubp checkpoint, a newer format,
    an entry that does not match the architecture), or a model it cannot save; the message says
    which and why, in one line."""


class TrainingDiverged(GpubpError, ArithmeticError):
    """Training produced a cost or parameters that are not finite (NaN or Inf): the learning rate
    is usually too large. Raised at the end of the epoch where it first appears, with the training
    state (parameters, epoch, history) put back as it was before that epoch. ``epoch`` is the
    diverged epoch (counted from 1, as in the history); ``what`` says what was not finite
    (``"cost nan"``, ``"val_cost inf"``, ``"the parameters are not finite"``)."""

    def __init__(self, message, epoch=None, what=None):
        super().__init__(message)
        self.epoch, self.what = epoch, what


def unknown_name(kind, name, valid):
    """The error for a name that is not in a table: says what was given and lists what exists."""
    return NameNotFound(
        f"unknown {kind} {name!r}; valid {kind}{'es' if kind.endswith('s') else 's'} are: "
        f"{', '.join(sorted(valid))}"
    )
