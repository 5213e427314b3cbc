"""Losses: one declaration each, with the cost, its derivative dCost/dA[L], the fused output delta
and the formulas explain prints.

A declaration is a subclass of :class:`Loss`: ``name``, ``canonical`` (the output of its fused
pair), ``delta_formula`` and ``dA_formula`` (expressions in ``A``, ``Y``, ``n`` = n[L] and ``m``,
:mod:`gpubp.formulas`), :meth:`Loss.value` and :meth:`Loss.dA` (the arrays), and
:meth:`Loss.check_targets` / :meth:`Loss.sample_targets`; :func:`register` makes it known by
name (to :func:`get`, :func:`from_spec` and so to checkpoints). ``tests/test_new_loss.py``
declares log_cosh so.

The cost is always the mean over the m examples (columns) of a per-example loss, so every
derivative carries the ``1/m``: ``dW[l] = dZ[l] A[l-1]^T`` is then the gradient of the cost.

Each loss has one canonical output activation (``canonical``). For that pair the output delta
skips ``dA[L]``: ``dZ[L] = c (A[L] - Y) / m`` (seed 004, eq. 18), with the loss's constant
``c = constant(n[L])`` read from ``delta_formula``: ``2/n[L]`` for ``mse``, ``2`` for ``sse``, ``1`` for ``half_sse``, ``bce``
and ``cross_entropy``.

``poisson`` (half the Poisson deviance, scikit-learn's) is fused with ``exp``: ``dZ[L] = (A[L] -
Y) / m``, and takes no other output.

The squared-error losses meet any other output activation through the chain rule,
``dZ[L] = dA[L] * chi'(Z[L])``, which has no division. The log losses (``bce``,
``cross_entropy``) take only their canonical output: their ``dA[L]`` divides by ``A (1 - A)``
or ``A``, and once the output saturates in float32 the gradient is lost (softmax + bce gives
``dW = 0`` where float64 gives +-1), so :func:`get` refuses every other pair.
"""

import numpy as np

from . import formulas, kernels, registry
from .backend import to_host, xp_of
from .errors import ConfigError, DataError, unknown_name


class Loss:
    """Base class, and the shape of a declaration: ``name``; ``canonical`` names the output
    activation of the fused pair, whose delta is :attr:`delta_formula`; :meth:`value` computes
    the cost; :meth:`dA` (for any other output) computes :attr:`dA_formula`. Explain prints and
    evaluates the formulas (:mod:`gpubp.formulas`: expressions in ``A``, ``Y``, ``n`` = n[L] and
    ``m``); :func:`register` makes a declaration known by its name."""

    name = None
    #: the output activation of the canonical (fused) pair
    canonical = None
    #: losses that take logs need outputs in (0, 1); they take only their canonical output
    needs_unit_interval = False
    #: how many (n, m) scratch buffers :meth:`value` takes so that it makes no temporary
    scratches = 1
    #: dZ[L] of the canonical pair, ``c (A - Y) / m``: what explain prints and checks, and whose
    #: ``c`` (:meth:`constant`) the fused kernel takes
    delta_formula = "(A - Y) / m"
    #: dCost/dA[L], for any other output (None: the loss takes only its canonical output)
    dA_formula = None
    #: what to use instead, named when :func:`get` refuses a pair
    _instead = "use its canonical output"

    def __repr__(self):
        return self.name

    def spec(self):
        """What a checkpoint stores: ``{"name": ...}``."""
        return {"name": self.name}

    def constant(self, n):
        """``c`` of the fused delta ``c (A[L] - Y) / m`` for ``n`` = n[L] outputs: the value of
        :attr:`delta_formula` at ``A = 1, Y = 0, m = 1`` (worked out once per n)."""
        cache = self.__dict__.setdefault("_constant", {})
        if n not in cache:
            cache[n] = float(formulas.evaluate(self.delta_formula, A=1.0, Y=0.0, n=n, m=1))
        return cache[n]

    def delta_text(self, n):
        """:attr:`delta_formula` for ``n`` outputs, as explain prints it (``A``, ``Y`` as names)."""
        return formulas.render(self.delta_formula, n=n)

    def dA_text(self, n):
        return formulas.render(self.dA_formula, n=n)

    def reference_delta(self, A, Y, m):
        """:attr:`delta_formula` in plain NumPy (what explain checks the engine by)."""
        return formulas.evaluate(self.delta_formula, A=A, Y=Y, n=A.shape[0], m=m)

    def reference_dA(self, A, Y, m):
        return formulas.evaluate(self.dA_formula, A=A, Y=Y, n=A.shape[0], m=m)

    def sample_targets(self, rng, n, m):
        """Random valid targets ``(n, m)`` (float64 NumPy), for explain's check."""
        return rng.normal(size=(n, m))

    def value(self, A, Y, Z=None, scratch=None):
        """The cost, a 0-d array: the mean over the m = A.shape[1] columns of the per-example
        loss (from the logits ``Z`` where given). ``scratch``: a tuple of :attr:`scratches`
        (n, m) buffers the caller lends, so that the cost makes no (n, m) temporary."""
        raise NotImplementedError

    def per_example(self, A, Y, Z=None):
        """``(m,)``: each column's loss (the cost is their mean). By default :meth:`value` of each
        column alone, one call per column; the losses here compute it in one pass."""
        xp = xp_of(A)
        return xp.stack([self.value(A[:, j:j + 1], Y[:, j:j + 1],
                                    None if Z is None else Z[:, j:j + 1]).reshape(())
                         for j in range(A.shape[1])])

    def weighted_value(self, A, Y, w, total, Z=None):
        """The weighted cost, a 0-d array: ``sum_j w_j loss_j / total`` with ``w`` ``(m,)`` the
        examples' weights and ``total`` their sum (the global batch's, data-parallel)."""
        xp = xp_of(A)
        return xp.dot(self.per_example(A, Y, Z), w) / total

    def output_delta(self, output, A, Y, m, dZ):
        """``dZ[L] = c (A[L] - Y) / m`` for the canonical pair (``m``: the global batch size)."""
        if output.name != self.canonical:
            raise ConfigError(f"loss {self.name!r} has a fused delta only with "
                             f"output={self.canonical!r}; got output={output.name!r}")
        kernels.output_delta(A, Y, self.constant(A.shape[0]) / m, dZ)

    def check_targets(self, Y):
        """Raise :class:`DataError` if ``Y`` is not a valid target for this loss."""

    def refusal(self, output):
        """Why this loss, which takes only its canonical output, refuses ``output``."""
        if tuple(output.range) != (0.0, 1.0):
            lo, hi = output.range
            return (f"it takes logs of the outputs, so it needs outputs in (0, 1), and "
                    f"output={output.name!r} gives values in ({lo:g}, {hi:g})")
        return (f"with output={output.name!r} the gradient is lost in float32 when the "
                f"output saturates")


class _SquaredError(Loss):
    """Squared error, ``cost = (c/2m) sum (A[L] - Y)^2`` with ``c = constant(n[L])``:
    ``dCost/dA[L] = c (A[L] - Y) / m``. Meets any output activation (the chain rule has no
    division); fused with ``identity``."""

    canonical = "identity"

    @property
    def dA_formula(self):  # dCost/dA[L] is the fused delta's c (A - Y) / m
        return self.delta_formula

    def value(self, A, Y, Z=None, scratch=None):
        c = 0.5 * self.constant(A.shape[0]) / A.shape[1]
        xp = xp_of(A)
        # one summation (BLAS's dot) with or without the lent buffer, so both give the same bits
        d = (A - Y if scratch is None else xp.subtract(A, Y, out=scratch[0])).reshape(-1)
        return xp.dot(d, d) * c

    def per_example(self, A, Y, Z=None):
        d = A - Y
        return (d * d).sum(axis=0) * (0.5 * self.constant(A.shape[0]))

    def dA(self, A, Y, m, out, scratch):
        kernels.output_delta(A, Y, self.constant(A.shape[0]) / m, out)


class MSE(_SquaredError):
    """``mse``: mean squared error over all n[L] x m entries, as in PyTorch (``MSELoss()``) and
    scikit-learn (``mean_squared_error``); per example ``(1/n[L]) sum_i (y_hat_i - y_i)^2``.

    ``cost = (1/(n[L] m)) sum (A[L] - Y)^2``; ``dCost/dA[L] = 2 (A[L] - Y) / (n[L] m)``.
    Fused with ``identity``: ``dZ[L] = 2 (A[L] - Y) / (n[L] m)``. With one output (n[L] = 1) it
    equals ``sse``, the ``(y_hat - y)^2`` that seed 001 calls MSE.
    """

    name = "mse"
    delta_formula = "2 * (A - Y) / (n * m)"


class SSE(_SquaredError):
    """``sse``: per example ``sum_i (y_hat_i - y_i)^2`` over the n[L] outputs (seed 001), no 1/2.

    ``cost = (1/m) sum (A[L] - Y)^2``; ``dCost/dA[L] = 2 (A[L] - Y) / m``.
    Fused with ``identity``: ``dZ[L] = 2 (A[L] - Y) / m``.
    """

    name = "sse"
    delta_formula = "2 * (A - Y) / m"


class HalfSSE(_SquaredError):
    """``half_sse``: per example ``1/2 sum_i (y_hat_i - y_i)^2`` (seeds 002 and 003), half of
    ``sse``.

    ``cost = (1/2m) sum (A[L] - Y)^2``; ``dCost/dA[L] = (A[L] - Y) / m``.
    Fused with ``identity``: ``dZ[L] = (A[L] - Y) / m``.
    """

    name = "half_sse"


class BCE(Loss):
    """``bce``: binary cross-entropy (seed 004, eq. 6), per example summed over the n[L] outputs:
    ``-sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)]``; targets in [0, 1].

    Only with ``sigmoid`` (its canonical pair): ``dZ[L] = (A[L] - Y) / m`` (eq. 18). The cost is
    computed from the logits ``Z[L]`` when given, as ``max(z, 0) - z y + log(1 + exp(-|z|))``,
    which never takes log(0) nor overflows exp; from ``A[L]`` alone the logs are clamped at the
    smallest normal number. (Seed 004's eq. 17 writes ``1 - log A`` where ``log(1 - A)`` is
    meant; we implement eq. 6.)
    """

    name = "bce"
    canonical = "sigmoid"
    needs_unit_interval = True
    scratches = 2
    #: the other log loss's pair, named in the refusal of a non-canonical output
    _instead = "for one class per column use output='softmax' with loss='cross_entropy'"

    def value(self, A, Y, Z=None, scratch=None):
        xp = xp_of(A)
        m = A.shape[1]
        if Z is not None and scratch is not None:  # the same operations, in the lent buffers
            per, t = scratch
            xp.maximum(Z, 0, out=per)
            per -= xp.multiply(Z, Y, out=t)
            xp.abs(Z, out=t)
            xp.negative(t, out=t)
            xp.exp(t, out=t)
            per += xp.log1p(t, out=t)
            return per.sum() / m
        if Z is not None:
            per = xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
            return per.sum() / m
        tiny = xp.finfo(A.dtype).tiny
        a = xp.clip(A, tiny, 1)
        return -(Y * xp.log(a) + (1 - Y) * xp.log(xp.maximum(1 - A, tiny))).sum() / m

    def per_example(self, A, Y, Z=None):
        xp = xp_of(A)
        if Z is not None:
            return (xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))).sum(axis=0)
        tiny = xp.finfo(A.dtype).tiny
        a = xp.clip(A, tiny, 1)
        return -(Y * xp.log(a) + (1 - Y) * xp.log(xp.maximum(1 - A, tiny))).sum(axis=0)

    def check_targets(self, Y):
        _check_unit_interval(self.name, Y)

    def sample_targets(self, rng, n, m):
        return rng.integers(0, 2, (n, m)).astype(float)


class CrossEntropy(Loss):
    """``cross_entropy``: per example ``-sum_i y_i log a_i``, each column of Y a probability
    distribution (one-hot or soft labels that sum to 1).

    Only with ``softmax`` (its canonical pair): ``dZ[L] = (A[L] - Y) / m``, which holds because
    each column of Y sums to 1. The cost is computed from the logits when given, per column
    ``logsumexp(z) - y . z`` with ``logsumexp(z) = max z - log(max a)``; from ``A[L]`` alone the
    log is clamped at the smallest normal number.
    """

    name = "cross_entropy"
    canonical = "softmax"
    needs_unit_interval = True
    _instead = ("for independent 0/1 labels (several per column) use output='sigmoid' "
                "with loss='bce'")

    def value(self, A, Y, Z=None, scratch=None):
        xp = xp_of(A)
        m = A.shape[1]
        if Z is not None:
            # -sum_i y_i log a_i = logsumexp(z) - y . z per column (each column of Y sums to 1),
            # and logsumexp(z) = max z - log(max a): the largest a of a column is 1 / sum exp(z -
            # max z) >= 1/n, so its log is safe. Summed column by column (each column's cost is
            # >= 0, so no cancellation); the (m,) rows live in the scratch when one is lent.
            if scratch is not None and xp is np:
                gap, row = scratch[0].reshape(-1)[:m], scratch[0].reshape(-1)[m:2 * m]
                fused = kernels.fused_passes(Z)
                if fused is not None and fused.takes_columns(Z, Y, A):  # the same, one call
                    fused.cross_entropy_columns(Z, Y, A, gap, row)
                else:
                    Z.max(axis=0, out=gap)
                    gap -= np.einsum("ij,ij->j", Y, Z, out=row)
                    A.max(axis=0, out=row)
                gap -= np.log(row, out=row)
                return gap.sum() / m
            return self.per_example(A, Y, Z).sum() / m
        log_a = xp.log(xp.maximum(A, xp.finfo(A.dtype).tiny))
        return -(Y * log_a).sum() / m

    def per_example(self, A, Y, Z=None):
        xp = xp_of(A)
        if Z is not None:
            gap = Z.max(axis=0) - xp.einsum("ij,ij->j", Y, Z)        # (m,)
            return gap - xp.log(A.max(axis=0))
        return -(Y * xp.log(xp.maximum(A, xp.finfo(A.dtype).tiny))).sum(axis=0)

    def sample_targets(self, rng, n, m):
        return np.eye(n)[:, rng.integers(0, n, m)]

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


class Poisson(Loss):
    """``poisson``: half the Poisson deviance, per example summed over the n[L] outputs:
    ``sum_i [y_i log(y_i / a_i) - y_i + a_i]`` (``y log y = 0`` at ``y = 0``), scikit-learn's
    ``MLPRegressor(loss="poisson")`` loss; targets ``y >= 0`` (counts, rates), outputs ``a > 0``.

    Only with ``exp`` (its canonical pair, the log link): ``dZ[L] = (A[L] - Y) / m``, since
    ``d/dz (e^z - y z) = e^z - y``. The cost is computed from the logits ``Z[L]`` when given, as
    ``a - y z + y log y - y`` (no log of a), from ``A[L]`` alone with ``log a`` clamped at the
    smallest normal number. Any other output would need ``dA[L] = (1 - Y / A[L]) / m``, a
    division by outputs that may be 0 (relu, sigmoid in float32): :func:`get` refuses them.
    """

    name = "poisson"
    canonical = "exp"
    scratches = 2
    _instead = "for outputs that may be <= 0 use a squared-error loss (mse, sse, half_sse)"

    def value(self, A, Y, Z=None, scratch=None):
        return self._entries(A, Y, Z, scratch).sum() / A.shape[1]

    def per_example(self, A, Y, Z=None):
        return self._entries(A, Y, Z).sum(axis=0)

    def _entries(self, A, Y, Z, scratch=None):
        """``(n, m)``: each entry's ``y log(y / a) - y + a`` (in ``scratch[1]`` where lent)."""
        xp = xp_of(A)
        per, t = scratch if scratch is not None else (xp.empty_like(A), xp.empty_like(A))
        tiny = xp.finfo(A.dtype).tiny
        xp.maximum(Y, tiny, out=t)          # y log y - y, with 0 log 0 = 0 (0 * log(tiny))
        xp.log(t, out=t)
        t *= Y
        t -= Y
        if Z is not None:
            xp.multiply(Y, Z, out=per)      # y log a = y z
        else:
            xp.maximum(A, tiny, out=per)
            xp.log(per, out=per)
            per *= Y
        t -= per
        t += A
        return t

    def check_targets(self, Y):
        lo = float(Y.min())
        if lo < 0:
            raise DataError(f"poisson needs targets Y >= 0 (counts or rates); got values from "
                            f"{lo:.6g} to {float(Y.max()):.6g}")

    def sample_targets(self, rng, n, m):
        return rng.poisson(2.0, (n, m)).astype(float)

    def refusal(self, output):
        return (f"its cost takes log A[L] and its dA[L] = (1 - Y / A[L]) / m divides by the "
                f"outputs, and output={output.name!r} may give 0")


def _check_unit_interval(name, Y):
    lo, hi = float(Y.min()), float(Y.max())
    if lo < 0 or hi > 1:
        raise DataError(f"{name} needs targets Y in [0, 1]; got values from {lo:.6g} to {hi:.6g}")


#: every registered loss, by name
LOSSES = {}


def register(cls):
    """Make the declaration ``cls`` (a :class:`Loss` subclass) known by its name; usable as a
    class decorator. A name is taken once; registering the same class again does nothing."""
    return registry.add(LOSSES, cls, Loss, "loss")


for _cls in (MSE, SSE, HalfSSE, BCE, CrossEntropy, Poisson):
    register(_cls)


def from_spec(d, output):
    """The loss that :meth:`Loss.spec` wrote (``{"name": ...}``, or the bare name), bound to the
    output activation ``output`` as :func:`get` binds it; :class:`ConfigError` for an unknown
    name or a field it does not take."""
    name = d.get("name") if isinstance(d, dict) else d
    if not isinstance(name, str) or (isinstance(d, dict) and set(d) != {"name"}):
        raise ConfigError(f"a loss spec is {{'name': <loss>}}; got {d!r}")
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid losses are: {', '.join(sorted(LOSSES))}")
    return get(name, output)


def get(name_or_loss, output):
    """The loss ``name_or_loss`` bound to the output activation ``output``.

    Raises ``ValueError`` if the pair cannot work: a loss that takes logs (``bce``,
    ``cross_entropy``, ``poisson``) takes only its canonical output (``sigmoid``, ``softmax``,
    ``exp``); so does any loss without a ``dA_formula``.
    """
    if isinstance(name_or_loss, Loss):
        loss = name_or_loss
    elif isinstance(name_or_loss, str) and name_or_loss in LOSSES:
        loss = LOSSES[name_or_loss]()
    else:
        raise unknown_name("loss", name_or_loss, LOSSES)
    if output.name != loss.canonical and (loss.needs_unit_interval or loss.dA_formula is None):
        raise ConfigError(
            f"loss {loss.name!r} needs output={loss.canonical!r} (its canonical pair, "
            f"dZ[L] = (A[L] - Y)/m); {loss.refusal(output)}; {loss._instead}")
    return loss


def is_fused(loss, output):
    """Does this (output, loss) pair take the fused delta ``dZ[L] = c (A[L] - Y) / m``?"""
    return output.name == loss.canonical
