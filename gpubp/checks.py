"""Checks of arguments that several modules share (a dtype, a batch size, a seed, a flag), kept
below them all so that imports point one way."""

import numpy as np

from .errors import ArgumentTypeError, ConfigError


def as_dtype(dtype):
    """``np.float32`` or ``np.float64`` from any spelling (``"float32"``, ``"f4"``, ``np.float32``, ...)."""
    try:
        # np.dtype(None) is float64, and a dtype compares equal to None: refuse None first
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dt = None
    if dt is None or dt.name not in ("float32", "float64"):
        raise ConfigError(f"dtype must be float32 or float64 (any NumPy spelling: 'float32', 'f4', "
                         f"np.float32, ...); got {dtype!r}")
    return dt


def check_batch_size(batch_size, optional=True):
    """``batch_size`` as an int >= 1 (or None where ``optional``), else a ConfigError that says so."""
    if batch_size is None and optional:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer{' or None' if optional else ''}; "
                          f"got {batch_size!r}")
    return int(batch_size)


def check_flag(name, value):
    """``value`` if it is True or False (a NumPy bool too), else an ArgumentTypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_seed(seed):
    """``seed`` if it can seed NumPy's generator: None, an integer >= 0 (not a bool), or a
    SeedSequence, BitGenerator or Generator; else a GpubpError that says what is expected."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.BitGenerator,
                                         np.random.Generator)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ArgumentTypeError(f"seed must be an integer >= 0 or None; got {seed!r} "
                                f"({type(seed).__name__})")
    if seed < 0:
        raise ConfigError(f"seed must be an integer >= 0 or None; got {seed}")
    return seed
