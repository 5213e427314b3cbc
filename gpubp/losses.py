"""Losses: name -> object with the cost, its derivative dCost/dA[L] and the fused output delta.

The cost is always the mean over the m examples (columns) of a per-example loss, so every
derivative carries the ``1/m``: ``dW[l] = dZ[l] A[l-1]^T`` is then the gradient of the cost.

Any output activation meets any loss through the chain rule, ``dZ[L] = dA[L] * chi'(Z[L])``.
The canonical pairs, listed in each loss's ``fused``, skip ``dA[L]``: there
``dZ[L] = c (A[L] - Y) / m`` (seed 004, eq. 18), faster and free of the division by
``A (1 - A)`` that loses precision when a sigmoid saturates.
"""

from . import kernels
from .backend import to_host, xp_of
from .errors import DataError, unknown_name


class Loss:
    """Base class. ``fused`` maps output activation names to the constant ``c`` of the fused delta."""

    name = None
    fused = {}
    #: losses that take logs need outputs in (0, 1)
    needs_unit_interval = False

    def __repr__(self):
        return self.name

    def output_delta(self, output, A, Y, m, dZ):
        """``dZ[L] = c (A[L] - Y) / m`` for a canonical pair (``m``: the global batch size)."""
        kernels.output_delta(A, Y, self.fused[output.name] / m, dZ)

    def check_targets(self, Y):
        """Raise :class:`DataError` if ``Y`` is not a valid target for this loss."""


class MSE(Loss):
    """``mse``: per example ``sum_i (y_hat_i - y_i)^2`` over the n[L] outputs (seed 001), no 1/2.

    ``cost = (1/m) sum_examples sum_i (A[L] - Y)^2``; ``dCost/dA[L] = 2 (A[L] - Y) / m``.
    Fused with ``identity``: ``dZ[L] = 2 (A[L] - Y) / m``.
    """

    name = "mse"
    fused = {"identity": 2.0}
    c = 2.0

    def value(self, A, Y, Z=None):
        d = A - Y
        return (d * d).sum() * (0.5 * self.c / A.shape[1])

    def dA(self, A, Y, m, out, scratch):
        kernels.output_delta(A, Y, self.c / m, out)


class HalfSSE(MSE):
    """``half_sse``: per example ``1/2 sum_i (y_hat_i - y_i)^2`` (seeds 002 and 003).

    ``cost = (1/2m) sum (A[L] - Y)^2``; ``dCost/dA[L] = (A[L] - Y) / m``.
    Fused with ``identity``: ``dZ[L] = (A[L] - Y) / m``.
    """

    name = "half_sse"
    fused = {"identity": 1.0}
    c = 1.0


class BCE(Loss):
    """``bce``: binary cross-entropy (seed 004, eq. 6), per example summed over the n[L] outputs:
    ``-sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)]``; targets in [0, 1].

    ``dCost/dA[L] = (A - Y) / (A (1 - A)) / m``. Fused with ``sigmoid``: ``dZ[L] = (A[L] - Y) / m``
    (eq. 18). With a sigmoid output the cost is computed from the logits ``Z[L]`` as
    ``max(z, 0) - z y + log(1 + exp(-|z|))``, which never takes log(0) nor overflows exp.
    (Seed 004's eq. 17 writes ``1 - log A`` where ``log(1 - A)`` is meant; we implement eq. 6.)
    """

    name = "bce"
    fused = {"sigmoid": 1.0}
    needs_unit_interval = True

    def value(self, A, Y, Z=None):
        xp = xp_of(A)
        m = A.shape[1]
        if Z is not None:
            per = xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
            return per.sum() / m
        tiny = xp.finfo(A.dtype).tiny
        a = xp.clip(A, tiny, 1)
        return -(Y * xp.log(a) + (1 - Y) * xp.log(xp.maximum(1 - A, tiny))).sum() / m

    def dA(self, A, Y, m, out, scratch):
        xp = xp_of(A)
        xp.subtract(1, A, out=scratch)
        scratch *= A
        xp.maximum(scratch, xp.finfo(A.dtype).tiny, out=scratch)  # A (1 - A), never 0
        xp.subtract(A, Y, out=out)
        out /= scratch
        out *= 1.0 / m

    def check_targets(self, Y):
        _check_unit_interval(self.name, Y)


class CrossEntropy(Loss):
    """``cross_entropy``: per example ``-sum_i y_i log a_i``, each column of Y a probability
    distribution (one-hot or soft labels that sum to 1).

    ``dCost/dA[L] = -Y / A / m``. Fused with ``softmax``: ``dZ[L] = (A[L] - Y) / m``, which holds
    because each column of Y sums to 1. With a softmax output the cost is computed from the
    logits: ``-sum_i y_i (z_i - max z - log sum_k exp(z_k - max z))``.
    """

    name = "cross_entropy"
    fused = {"softmax": 1.0}
    needs_unit_interval = True

    def value(self, A, Y, Z=None):
        xp = xp_of(A)
        m = A.shape[1]
        if Z is not None:
            shifted = Z - Z.max(axis=0, keepdims=True)
            log_a = shifted - xp.log(xp.exp(shifted).sum(axis=0, keepdims=True))
        else:
            log_a = xp.log(xp.maximum(A, xp.finfo(A.dtype).tiny))
        return -(Y * log_a).sum() / m

    def dA(self, A, Y, m, out, scratch):
        xp = xp_of(A)
        xp.maximum(A, xp.finfo(A.dtype).tiny, out=scratch)
        xp.divide(Y, scratch, out=out)
        out *= -1.0 / m

    def check_targets(self, Y):
        _check_unit_interval(self.name, Y)
        sums = to_host(Y.sum(axis=0))
        # a float32 sum of n labels that add to 1 is off by ~1e-6 even for n = 1e5; a tolerance
        # growing with n would let a column with no label (sum 0) through
        tol = 1e-3 if Y.dtype.itemsize < 8 else 1e-9
        bad = abs(sums - 1) > tol
        if bad.any():
            j = int(bad.argmax())
            raise DataError(
                f"cross_entropy needs each column of Y to sum to 1 (one-hot or soft labels); "
                f"column {j} sums to {float(sums[j]):.6g}")


def _check_unit_interval(name, Y):
    lo, hi = float(Y.min()), float(Y.max())
    if lo < 0 or hi > 1:
        raise DataError(f"{name} needs targets Y in [0, 1]; got values from {lo:.6g} to {hi:.6g}")


LOSSES = {c.name: c for c in (MSE, HalfSSE, BCE, CrossEntropy)}


def get(name_or_loss, output):
    """The loss ``name_or_loss`` bound to the output activation ``output``.

    Raises if the pair cannot work: a loss that takes logs needs an output in (0, 1).
    """
    if isinstance(name_or_loss, Loss):
        loss = name_or_loss
    elif isinstance(name_or_loss, str) and name_or_loss in LOSSES:
        loss = LOSSES[name_or_loss]()
    else:
        raise unknown_name("loss", name_or_loss, LOSSES)
    if loss.needs_unit_interval and tuple(output.range) != (0.0, 1.0):
        lo, hi = output.range
        raise ValueError(
            f"loss {loss.name!r} takes logs of the outputs, so it needs outputs in (0, 1); output "
            f"activation {output.name!r} gives values in ({lo:g}, {hi:g}); use output='sigmoid' "
            f"or output='softmax'")
    return loss


def is_fused(loss, output):
    """Does this (output, loss) pair take the fused delta ``dZ[L] = c (A[L] - Y) / m``?"""
    return output.name in loss.fused
