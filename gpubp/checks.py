"""Checks of arguments that several layers share (the graph's forward and cost, fit), kept below
them all so that imports point one way."""

import numpy as np

from .errors import ConfigError


def check_batch_size(batch_size, optional=True):
    """``batch_size`` as an int >= 1 (or None where ``optional``), else a ConfigError that says so."""
    if batch_size is None and optional:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer{' or None' if optional else ''}; "
                          f"got {batch_size!r}")
    return int(batch_size)
