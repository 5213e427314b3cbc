"""The numba one-pass versions of the twins (the ``cpu`` extra) give the twins' bits, on random
inputs and on every combination of special values; and the kernels use them."""

import numpy as np
import pytest

from gpubp import fused, kernels
from test_kernels import DTYPES, _explain, _inputs, _mismatches, _special_inputs

pytestmark = pytest.mark.skipif(not fused.ENABLED, reason="numba not installed (the cpu extra)")
NAMES = sorted(fused.FUSED)


def _run(kernel, args, which):
    """Outputs of the twin or of the fused version, on copies of ``args`` (scalars in dtype)."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    outs = [a for a, (_, out) in zip(args, kernel.params) if out]
    dtype = outs[0].dtype.type
    args = [a if isinstance(a, np.ndarray) else dtype(a) for a in args]
    with np.errstate(all="ignore"):
        if which == "twin":
            kernel.twin(*args, scratch=None)
        else:
            fn, accepts = fused.get(kernel.name)
            assert accepts(*args)
            fn(*args)
    return outs


def _as_plan_passes(kernel, args, n=7):
    """The bias kernels take z (n, m) and b (n, 1), as a plan passes them: reshape flat inputs."""
    if not kernel.name.startswith("gpubp_bias_"):
        return args
    out = []
    for a, (name, _) in zip(args, kernel.params):
        if isinstance(a, np.ndarray) and name == "b":
            out.append(np.ascontiguousarray(a[:n].reshape(n, 1)))
        elif isinstance(a, np.ndarray):
            size = a.size - a.size % n
            out.append(np.ascontiguousarray(a[:size].reshape(n, -1)))
        else:
            out.append(a)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_fused_is_bitwise_the_twin(name, dtype, rng):
    kernel = kernels.KERNELS[name]
    for args in (_inputs(kernel, dtype, rng), _as_plan_passes(kernel, _special_inputs(kernel, dtype))):
        if kernel.name.startswith("gpubp_bias_") and args[0].ndim != 2:
            continue
        twin, fast = _run(kernel, args, "twin"), _run(kernel, args, "fused")
        for t, f in zip(twin, fast):
            assert f.dtype == dtype
            bad = _mismatches(f, t)
            assert not bad.any(), _explain(kernel, args, f, t, bad, sides=("fused", "twin"))


def test_the_kernels_call_the_fused_versions(monkeypatch, rng):
    calls = []
    fn, accepts = fused.get("gpubp_relu_grad")
    monkeypatch.setattr(kernels.KERNELS["gpubp_relu_grad"], "_fused",
                        (lambda *a: calls.append(1) or fn(*a), accepts))
    shape = (32, kernels.FUSED_FROM // 32)
    a, g, out = rng.normal(size=shape), rng.normal(size=shape), np.empty(shape)
    kernels.relu_grad(a, g, out)
    assert calls == [1]
    kernels.relu_grad(a, np.asfortranarray(g), out)  # an F-ordered argument: the twin runs
    small = [np.ascontiguousarray(x[:2, :4]) for x in (a, g, out)]
    kernels.relu_grad(*small)  # too small for the loop to pay off: the twin runs
    assert calls == [1]
    np.testing.assert_array_equal(out, g * (a > 0))
