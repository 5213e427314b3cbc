"""Finite differences in float64 against backward(): does backprop compute the gradient?

For each checked entry ``theta`` of each parameter, the numerical derivative is the central
difference of fourth order

    (f(theta - 2h) - 8 f(theta - h) + 8 f(theta + h) - f(theta + 2h)) / (12 h)

whose error is O(h^4) (the two-point central difference is O(h^2)), so that with h = 1e-4 in
float64 it agrees with an exact gradient to about 1e-11 relative: tight enough to test backprop
to 1e-7.

The error of a parameter is ``max_i |num_i - bp_i| / max(max_i |num_i|, max_i |bp_i|, floor)``: the
worst entry, relative to the largest entry of that gradient. (An entry-by-entry ratio would blow up
on entries that are zero up to rounding.) The rounding of the cost itself puts a noise floor of
about ``1.5 eps |cost| / h ~ 3e-12 |cost|`` under every numerical derivative; so that this noise
stays below 1e-7 relative, gradients smaller than ``floor = 1e-4 max(1, |cost|)`` are measured
against the floor instead (a deep network of one-unit sigmoid layers has such gradients). Entries
whose perturbation moves a unit of an activation with a ``kink`` (relu, leaky_relu) across it at
0, where the derivative jumps, are skipped and counted.
"""

import numpy as np

from . import backend, sparse


class GradcheckReport:
    """``report["W[1]"]``: max relative error of dW[1]; ``report.max_error``; ``report.ok(tol)``."""

    def __init__(self, errors, checked, kinks, h):
        self.errors = errors      # name -> max relative error
        self.checked = checked    # name -> entries compared
        self.kinks = kinks        # name -> entries skipped at a kink
        self.h = h

    def __getitem__(self, name):
        return self.errors[name]

    @property
    def max_error(self):
        return max(self.errors.values()) if self.errors else 0.0

    def ok(self, tol=1e-7):
        return self.max_error <= tol

    def __str__(self):
        lines = [f"{'parameter':<10} {'checked':>8} {'kinks':>6} {'max rel. error':>15}"]
        for name, err in self.errors.items():
            lines.append(f"{name:<10} {self.checked[name]:>8} {self.kinks[name]:>6} {err:>15.3e}")
        lines.append(f"worst: {self.max_error:.3e} (h = {self.h:g}, float64)")
        return "\n".join(lines)

    __repr__ = __str__


def _evaluator(net, X, Y, m):
    """``evaluate()``: the cost of ``net`` on the staged batch, and where each unit of a layer
    whose activation has a ``kink`` is on (``A > 0``), to tell when a perturbation crosses it."""
    kinked = [name for name, layer in net.layers.items() if layer.activation.kink]
    plan = net.plan(m, sparse.names(X))
    plan.stage(X, Y)

    def evaluate():
        plan.forward()
        cost = float(backend.to_host(plan.cost()))
        return cost, [plan.buffers[name].A > 0 for name in kinked]
    return evaluate


def gradcheck(net, X, Y, h=1e-4, max_entries=None, seed=0, progress=None):
    """Compare the backprop gradients of ``net`` with finite differences, in a float64 copy.

    Parameters
    ----------
    net : Network, Graph or ElmanRNN
        Not modified: the check runs on ``net.copy(dtype="float64")`` on the same device.
    X, Y : the data, as ``net.gradients`` takes them
    h : float
        The finite-difference step.
    max_entries : int, optional
        Check at most this many entries of each parameter, chosen at random (``seed``);
        all of them by default.
    progress : callable(name, done, total), optional
        Called after each checked entry: ``name`` is the parameter being checked, ``done`` the
        entries checked so far over all parameters, ``total`` all the entries to check.
    """
    net64 = net.copy(dtype="float64")
    Xc = net64.check_inputs(X)
    m = next(iter(Xc.values())).shape[1]
    Yc = net64.check_targets(Y, m)
    _, grads = net64.gradients(Xc, Yc)
    evaluate = _evaluator(net64, Xc, Yc, m)
    cost0, base_masks = evaluate()
    floor = 1e-4 * max(1.0, abs(cost0))  # see the module docstring
    rng = np.random.default_rng(seed)
    errors, checked, kinks = {}, {}, {}
    counter = {"done": 0, "total": sum(p.size if max_entries is None else min(max_entries, p.size)
                                       for p in net64.params.values())}

    def derivative(name, flat, i):
        """The numerical derivative at entry i, or None where a perturbation crosses a kink."""
        orig = float(flat[i])
        f, moved = {}, False
        for k in (-2, -1, 1, 2):
            flat[i] = orig + k * h
            f[k], masks = evaluate()
            moved = moved or any(bool((a != b).any()) for a, b in zip(masks, base_masks))
        flat[i] = orig
        counter["done"] += 1
        if progress is not None:
            progress(name, counter["done"], counter["total"])
        # differences first: equal costs give exactly 0, and less cancellation
        return None if moved else (8 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12 * h)

    for name, p in net64.params.items():
        bp = backend.to_host(grads[name]).ravel()
        flat = p.reshape(-1)  # a view: writing it perturbs the live parameter
        n = flat.shape[0]
        idx = np.arange(n) if max_entries is None or max_entries >= n else \
            rng.choice(n, size=max_entries, replace=False)
        found = [(i, derivative(name, flat, i)) for i in idx]
        kept = [i for i, d in found if d is not None]
        num = np.asarray([d for _, d in found if d is not None])
        bpk = bp[np.asarray(kept, dtype=int)]
        scale = max(np.abs(num).max(initial=0.0), np.abs(bpk).max(initial=0.0), floor)
        errors[name] = float(np.abs(num - bpk).max(initial=0.0) / scale)
        checked[name], kinks[name] = len(kept), len(found) - len(kept)
    return GradcheckReport(errors, checked, kinks, h)
