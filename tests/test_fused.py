"""The numba one-pass versions of the twins (the ``cpu`` extra) give the twins' bits, on random
inputs and on every combination of special values; and the kernels use them."""

import numpy as np
import pytest

from gpubp import activations, fused, kernels
from test_kernels import DTYPES, _explain, _inputs, _mismatches, _special_inputs

pytestmark = pytest.mark.skipif(not fused.ENABLED, reason="numba not installed (the cpu extra)")
NAMES = sorted(name for name, k in kernels.KERNELS.items() if k.has_loop)


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
            fast = kernel.fused(*args)
            assert fast is not None, "the loop takes these arrays"
            fast[0](*fast[1])
    return outs


def _as_plan_passes(kernel, args, n=7):
    """The bias kernels take z (n, m) and b (n, 1), as a plan passes them: reshape flat inputs."""
    if not kernel.bias:
        return args
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray) and i == 1:
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
        if kernel.bias and args[0].ndim != 2:
            continue
        twin, fast = _run(kernel, args, "twin"), _run(kernel, args, "fused")
        for t, f in zip(twin, fast):
            assert f.dtype == dtype
            bad = _mismatches(f, t)
            assert not bad.any(), _explain(kernel, args, f, t, bad, sides=("fused", "twin"))


def test_the_kernels_call_the_fused_versions(monkeypatch, rng):
    relu_grad = activations.ReLU.backward_kernel
    calls, fused_version = [], relu_grad.fused

    def spy(*args):
        fast = fused_version(*args)  # None where the loop does not take the arrays
        return fast and ((lambda *a: calls.append(1) or fast[0](*a)), fast[1])

    monkeypatch.setattr(relu_grad, "fused", spy)
    shape = (32, kernels.FUSED_FROM // 32)
    a, g, out = rng.normal(size=shape), rng.normal(size=shape), np.empty(shape)
    relu_grad(a, g, out)
    assert calls == [1]
    relu_grad(a, np.asfortranarray(g), out)  # an F-ordered argument: the twin runs
    small = [np.ascontiguousarray(x[:2, :4]) for x in (a, g, out)]
    relu_grad(*small)  # too small for the loop to pay off: the twin runs
    assert calls == [1]
    np.testing.assert_array_equal(out, g * (a > 0))


def _columns_data(rng, dtype, n, m, special):
    """(n, m) logits, soft targets and their softmax; with ``special``, every column holds some
    of NaN, +-inf, +-0, subnormals and extremes."""
    from test_kernels import _specials
    Z = rng.normal(0, 4, (n, m)).astype(dtype)
    if special:
        vals = _specials(dtype)
        Z[rng.integers(0, n, 3 * m), rng.integers(0, m, 3 * m)] = rng.choice(vals, 3 * m)
    Y = rng.uniform(size=(n, m)).astype(dtype)
    Y /= Y.sum(axis=0)
    return Z, Y


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, m", [(1, 1024), (3, 700), (10, 256), (37, 64)])
def test_fused_softmax_is_bitwise_numpys(n, m, dtype, special, rng):
    from gpubp import activations
    Z, _ = _columns_data(rng, dtype, n, m, special)
    twin, fast = np.full_like(Z, 7), np.full_like(Z, 7)
    sm = activations.get("softmax")
    with np.errstate(all="ignore"):
        sm.forward(Z, twin, np.empty_like(Z))  # NumPy's five passes
        scratch = np.full_like(Z, np.nan)
        bound = sm.bind("forward", Z, fast, scratch=scratch)
        assert bound.func is fused.softmax
        bound()
    bad = _mismatches(fast, twin)
    assert not bad.any(), (Z[bad], fast[bad], twin[bad])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1024, 1500, 4096])
def test_softmax_of_one_column_is_numpys_bits(n, dtype, rng):
    """One example (m = 1): NumPy sums the single column pairwise, not row by row as the fused
    loop does, so the bound call must be NumPy's passes there (a batch of one in fit)."""
    from gpubp import activations
    Z = (rng.standard_normal((n, 1)) * 3).astype(dtype)
    twin, bound_out = np.full_like(Z, 7), np.full_like(Z, 7)
    sm = activations.get("softmax")
    sm.forward(Z, twin, np.empty_like(Z))
    sm.bind("forward", Z, bound_out, scratch=np.empty_like(Z))()
    assert np.array_equal(bound_out, twin)


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, m", [(1, 1024), (3, 700), (10, 256), (37, 64)])
def test_fused_cross_entropy_columns_are_bitwise_numpys(n, m, dtype, special, rng):
    Z, Y = _columns_data(rng, dtype, n, m, special)
    A = rng.uniform(size=(n, m)).astype(dtype)
    A[n // 2, :7] = np.nan  # a NaN after the first row must stay the column's maximum
    A[-1, 7:9] = np.nan
    gap, amax = np.full(m, 7, dtype), np.full(m, 7, dtype)
    with np.errstate(all="ignore"):
        want_gap = Z.max(axis=0) - np.einsum("ij,ij->j", Y, Z)
        fused.cross_entropy_columns(Z, Y, A, gap, amax)
    assert not _mismatches(gap, want_gap).any()
    assert not _mismatches(amax, A.max(axis=0)).any()


def test_the_plan_takes_the_column_passes(monkeypatch):
    """A softmax + cross_entropy network's fit runs the fused softmax and the fused cost columns,
    and learns the same bits, costs included, as with NumPy's passes."""
    import gpubp

    calls = []

    def counted(name):
        real = getattr(fused, name)
        return lambda *a: calls.append(name) or real(*a)
    for name in ("softmax", "cross_entropy_columns"):  # before the network binds its plan
        monkeypatch.setattr(fused, name, counted(name))

    def trained():
        rng = np.random.default_rng(3)
        net = gpubp.Network([8, 16, 10], activation="tanh", output="softmax",
                            loss="cross_entropy", seed=0, device="cpu")
        X = rng.normal(size=(8, 512)).astype(np.float32)
        Y = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 512)]
        h = net.fit(X, Y, epochs=3, batch_size=256, optimizer="adam")
        return h["cost"], net.params.flat.copy()

    cost, params = trained()
    assert calls.count("softmax") >= 6 and calls.count("cross_entropy_columns") >= 6
    calls.clear()
    monkeypatch.setattr(kernels, "fused_passes", lambda array: None)  # NumPy's passes
    cost0, params0 = trained()
    assert calls == []
    assert cost == cost0 and np.array_equal(params, params0)


def _python(code, fused=None):
    """Run ``code`` in a fresh Python (on the CPU; ``GPUBP_FUSED`` as given, else unset); it
    prints what it found. Returns its stdout."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "GPUBP_FUSED"}
    env["GPUBP_DEVICE"] = "cpu"
    if fused is not None:
        env["GPUBP_FUSED"] = fused
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


# the default `gpubp train`: digits' 64-128-10, batches of 32 from 1438 examples, 20 epochs; its
# (128, 32) arrays and 9610 parameters are over FUSED_FROM, its work far under FUSED_WORK
_FIT = """
import sys, numpy as np, gpubp
from gpubp import kernels
net = gpubp.Network([64, 128, 10], output='softmax', loss='cross_entropy', seed=0, device='cpu')
M, m, epochs = 1438, 32, {epochs}
work = epochs * -(-M // m) * (m * (128 + 10) + net.params.flat.size)
assert 128 * m >= kernels.FUSED_FROM and net.params.flat.size >= kernels.FUSED_FROM
kernels.FUSED_WORK = {limit}
X = np.random.default_rng(0).normal(size=(64, M)); Y = np.eye(10)[:, np.arange(M) % 10]
net.fit(X, Y, epochs=epochs, batch_size=m, verbose=False)
print('numba' in sys.modules, 'gpubp.fused' in sys.modules, work)
"""


def test_gpubp_fused_0_never_imports_numba():
    """GPUBP_FUSED=0: the twins run and numba, whose import costs a process about 0.2 s, is never
    imported, even by a fit that announces more than enough work and by an array big enough to
    load the loops."""
    out = _python(_FIT.format(epochs=1, limit=0) + (
        "from gpubp import fused; assert not fused.ENABLED and not fused.WANTED\n"
        "a = np.ones(kernels.FUSED_LOAD_FROM); kernels.axpy(a, 2.0, a.copy())\n"
        "assert kernels.loops_for(a.size) is None\n"
        "print('numba' in sys.modules)\n"), fused="0")
    assert out.split() == ["False", "True", out.split()[2], "False"]


def test_a_short_fit_never_imports_numba():
    """The default ``gpubp train``'s fit, whose arrays are over FUSED_FROM, leaves numba
    unimported: its import and compiled loops (about 0.45 s) would cost more than they save in
    its 900 steps. Nor do arrays just under FUSED_LOAD_FROM outside a fit."""
    out = _python(_FIT.format(epochs=20, limit="kernels.FUSED_WORK") + (
        "a = np.ones(kernels.FUSED_LOAD_FROM - 1); kernels.axpy(a, 2.0, a.copy())\n"
        "print('numba' in sys.modules)\n"))
    numba, loaded, work, after = out.split()
    assert (numba, loaded, after) == ("False", "False", "False")
    assert 0 < int(work) < 10 ** 8  # 1.3e7: the rule, not a near miss, keeps it out


@pytest.mark.parametrize("over", [True, False])
def test_a_fit_of_enough_work_loads_the_loops(over):
    """A fit whose work, steps x (m x sum of n[l] + parameters), reaches FUSED_WORK loads the loops
    before it starts (and its plans bind them: they are in the plan's calls); one unit less
    does not."""
    out = _python(_FIT.format(epochs=2, limit="work" if over else "work + 1") + (
        "plan = net.plan(32)\n"
        "print(any(type(getattr(c, 'func', None)).__name__ == 'CPUDispatcher'"
        " for c in plan._forward_calls))\n"))
    numba, loaded, work, bound = out.split()
    assert (numba, loaded, bound) == (str(over),) * 3


def test_a_big_array_loads_the_loops():
    """Outside a fit, the first array of FUSED_LOAD_FROM elements loads the loops (a big network
    pays them back within a few steps); after that, calls from FUSED_FROM elements take them."""
    out = _python(
        "import sys, numpy as np\nfrom gpubp import kernels\n"
        "small = np.ones(kernels.FUSED_FROM); kernels.axpy(small, 2.0, small.copy())\n"
        "print('numba' in sys.modules, kernels.loops_for(small.size) is not None)\n"
        "a = np.ones(kernels.FUSED_LOAD_FROM); y = np.zeros_like(a); kernels.axpy(a, 2.0, y)\n"
        "assert (y == 2).all()\n"
        "print('numba' in sys.modules, kernels.loops_for(small.size) is not None,"
        " kernels.loops_for(small.size - 1) is None)\n")
    assert out.split() == ["False", "False", "True", "True", "True"]


def test_a_bias_kernel_is_declared_so_not_found_by_a_parameters_name(rng):
    """``declare(..., bias=True)`` makes a bias kernel whatever its inputs are called, and an
    input called ``b`` makes none: the first's loop takes z (n, m) and its bias (n, 1) in 2-D,
    the second's every array flat (as the kernels' calls do above FUSED_FROM)."""
    try:
        @kernels.declare("test_bias_shift", "T z, T beta", "T a", "a = z + beta", bias=True)
        def shift(z, beta, a, scratch=None):
            np.add(z, beta, out=a)

        @shift.loop
        def _shift_loop(z, beta, a):
            for i in range(z.shape[0]):
                for j in range(z.shape[1]):
                    a[i, j] = z[i, j] + beta[i, 0]

        @kernels.declare("test_times_b", "T a, T b", "T y", "y = a * b")
        def times(a, b, y, scratch=None):
            np.multiply(a, b, out=y)

        @times.loop
        def _times_loop(a, b, y):
            for i in range(a.size):
                y[i] = a[i] * b[i]

        z, beta, a = rng.normal(size=(8, 200)), rng.normal(size=(8, 1)), np.empty((8, 200))
        assert shift.bias and not times.bias
        fast = shift.fused(z, beta, a)
        assert fast is not None and fast[1][0].shape == (8, 200)
        shift(z, beta, a)  # 1600 elements: the loop
        np.testing.assert_array_equal(a, z + beta)
        x, b, y = rng.normal(size=(8, 200)), rng.normal(size=(8, 200)), np.empty((8, 200))
        fast = times.fused(x, b, y)
        assert fast is not None and fast[1][0].shape == (1600,), "an input b is not a bias"
        times(x, b, y)
        np.testing.assert_array_equal(y, x * b)
    finally:
        kernels.KERNELS.pop("test_bias_shift", None)
        kernels.KERNELS.pop("test_times_b", None)
