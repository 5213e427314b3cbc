"""Class labels to the targets the notes use: one column per example.

A softmax output compares ``A[L]`` ``(n[L], m)`` with a ``Y`` whose columns are one-hot (or any
distribution over the n[L] classes). Labels usually come as a vector of m integers:
``one_hot(y)`` turns them into that ``Y``.
"""

import numpy as np

from .errors import ArgumentTypeError, ConfigError


def one_hot(labels, n_classes=None, dtype=np.float32):
    """``Y`` ``(n_classes, m)`` with ``Y[labels[j], j] = 1``: column j is example j's class.

    ``labels``: m integers in ``0..n_classes-1`` (``n_classes`` defaults to ``max + 1``).
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ConfigError(f"one_hot takes a vector of m class labels; got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y))):
            raise ArgumentTypeError(f"one_hot takes integer class labels 0..n-1; got {y.dtype} "
                                    f"values such as {y[:3].tolist()} (map them to integers first)")
        y = y.astype(np.int64)
    n = int(y.max()) + 1 if n_classes is None and y.size else int(n_classes or 0)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ConfigError(f"one_hot: labels must be in 0..{n - 1}; got values from {y.min()} to "
                          f"{y.max()}")
    Y = np.zeros((n, y.size), dtype)
    Y[y, np.arange(y.size)] = 1
    return Y
