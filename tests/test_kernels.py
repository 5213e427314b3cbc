"""Each CuPy kernel's CUDA source computes the same numbers as its NumPy twin.

On every machine: the operation strings of ``gpubp.kernels`` are compiled, unchanged, as C++ by the
host compiler (one loop over the elements, every parameter a ``T``, as CuPy does), run on random
inputs, and compared with the twins. On a GPU: the same kernels run through CuPy and are compared
with the twins (``gpu`` tests). Both are also run on every combination of NaN, +-inf, +-0,
subnormals and a few normal values, and compared bit for bit.
"""

import ctypes
import shutil
import subprocess
import tracemalloc

import numpy as np
import pytest

from gpubp import activations, kernels
from conftest import requires_gpu

CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
DTYPES = [np.float32, np.float64]
# parameters that are scalars of the kernel (broadcast), and their values in these tests
SCALARS = {"alpha": 0.07, "c": 0.3, "lr": 0.05, "mu": 0.9, "b1": 0.9, "b2": 0.999,
           "lr_t": 0.01, "eps_t": 1e-8}
# the optimizer kernels read their outputs (w -= ...): these start from random values too
READ_OUTPUTS = {"gpubp_sgd", "gpubp_momentum", "gpubp_adam", "gpubp_axpy"}


def _host_source(kernel):
    params = kernel.params
    args = ", ".join(f"T* p_{name}" for name, _ in params)
    loads = " ".join(f"T {name} = p_{name}[i];" for name, _ in params)
    stores = " ".join(f"p_{name}[i] = {name};" for name, out in params if out)
    wrappers = "\n".join(
        f'extern "C" void {kernel.name}_{t}(long n, {args.replace("T*", t + "*")}) '
        f'{{ {kernel.name}_body<{t}>(n, {", ".join("p_" + p for p, _ in params)}); }}'
        for t in ("float", "double"))
    return f"""
template <typename T> static void {kernel.name}_body(long n, {args}) {{
  for (long i = 0; i < n; ++i) {{ {loads} {{ {kernel.operation}; }} {stores} }}
}}
{wrappers}
"""


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory):
    if CXX is None:
        pytest.skip("no C++ compiler on this machine to run the kernel sources on the host")
    d = tmp_path_factory.mktemp("kernels")
    src = "#include <cmath>\nusing namespace std;\n" + "".join(
        _host_source(k) for k in kernels.KERNELS.values())
    (d / "k.cpp").write_text(src)
    # IEEE arithmetic as the device does it without --use_fast_math: NaN tests (z != z) kept, no
    # reassociation; no contraction into FMA either, so that the host computes exactly what the
    # twin computes, one rounding per operation (the device may fuse; its tests allow for that).
    subprocess.run([CXX, "-O1", "-fno-fast-math", "-ffp-contract=off", "-shared", "-fPIC",
                    "-o", str(d / "k.so"), str(d / "k.cpp")], check=True, capture_output=True)
    return ctypes.CDLL(str(d / "k.so"))


def _inputs(kernel, dtype, rng, shape=(7, 33)):
    """Random arguments in call order: large magnitudes included (saturation), never zeros."""
    args = []
    for i, (name, is_out) in enumerate(kernel.params):
        if name in SCALARS:
            args.append(SCALARS[name])
        elif kernel.bias and i == 1:  # a bias kernel's bias (n, 1)
            args.append(rng.normal(0, 3, (shape[0], 1)).astype(dtype))
        elif name in ("a",) and "grad" in kernel.name and "sigmoid" in kernel.name:
            args.append(rng.uniform(0.001, 0.999, shape).astype(dtype))  # a sigmoid output
        elif name == "a" and "tanh_grad" in kernel.name:
            args.append(rng.uniform(-0.999, 0.999, shape).astype(dtype))
        elif name == "v":
            args.append(rng.uniform(0.01, 2, shape).astype(dtype))     # a second moment: >= 0
        elif is_out and kernel.name not in READ_OUTPUTS:
            args.append(np.full(shape, np.nan, dtype))                 # poisoned: must be written
        else:
            x = rng.normal(0, 1, shape) * rng.choice([0.1, 1, 10, 60], shape)
            args.append(x.astype(dtype))
    return args


def _run_host(lib, kernel, args, dtype):
    shape = np.broadcast_shapes(*[np.shape(a) for a in args if np.ndim(a)])
    full = [np.array(np.broadcast_to(np.asarray(a, dtype), shape)) for a in args]  # copies
    ctype = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    fn = getattr(lib, f"{kernel.name}_{'float' if dtype == np.float32 else 'double'}")
    fn(ctypes.c_long(full[0].size), *[f.ctypes.data_as(ctypes.POINTER(ctype)) for f in full])
    return [f for f, (_, out) in zip(full, kernel.params) if out]


def _run_twin(kernel, args, scratch=False):
    """The NumPy twin itself (not a fused version: tests/test_fused.py checks those against it),
    its scalars in the arrays' dtype as Kernel.__call__ passes them."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    outs = [a for a, (_, out) in zip(args, kernel.params) if out]
    dtype = outs[0].dtype.type
    kernel.twin(*[a if isinstance(a, np.ndarray) else dtype(a) for a in args],
                scratch=np.empty_like(outs[0]) if scratch else None)
    return outs


def _tol(dtype):
    return dict(rtol=4e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_kernel_source_matches_twin_on_host(name, dtype, host_lib, rng):
    kernel = kernels.KERNELS[name]
    args = _inputs(kernel, dtype, rng)
    expected = _run_host(host_lib, kernel, args, dtype)
    for scratch in (False, True):
        got = _run_twin(kernel, args, scratch)
        for g, e in zip(got, expected):
            assert g.dtype == dtype, "no silent upcast"
            assert not np.isnan(g).any(), "an output element was not written"
            np.testing.assert_allclose(g, e, **_tol(dtype))


def test_the_harness_can_fail(host_lib, rng):
    """A twin that differs from its source must be caught: a wrong sigmoid derivative."""
    k = kernels.KERNELS["gpubp_sigmoid_grad"]
    wrong = kernels.Kernel(k.name, k.in_params, k.out_params, k.operation,
                           lambda a, gA, gZ, scratch=None: np.multiply(gA, a, out=gZ))
    args = _inputs(k, np.float64, rng)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(_run_twin(wrong, args)[0], _run_host(host_lib, k, args, np.float64)[0],
                                   **_tol(np.float64))


def test_sigmoid_is_accurate_where_it_saturates():
    z = np.array([-708.0, -700, -40, -20, 0, 20, 40, 700], np.float64)
    a = np.empty_like(z)
    activations.Sigmoid.forward_kernel(z, a)
    exact = np.array([np.exp(x) / (1 + np.exp(x)) if x < 0 else 1 / (1 + np.exp(-x)) for x in z])
    np.testing.assert_allclose(a, exact, rtol=1e-15)


def test_relu_derivative_at_zero_is_zero_and_leaky_is_alpha():
    a = np.array([[0.0, 1.0, -0.5]])
    g = np.empty_like(a)
    activations.ReLU.backward_kernel(a, np.ones_like(a), g)
    assert g.tolist() == [[0.0, 1.0, 0.0]]
    activations.LeakyReLU.backward_kernel(a, np.ones_like(a), 0.1, g)
    assert g.tolist() == [[0.1, 1.0, 0.1]]


@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_twins_make_no_temporary_arrays(name, rng):
    kernel = kernels.KERNELS[name]
    args = _inputs(kernel, np.float32, rng, shape=(256, 512))  # 512 KiB per array
    outs = [a for a, (_, out) in zip(args, kernel.params) if out]
    scratch = np.empty_like(outs[0])
    kernel(*args, scratch=scratch)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        kernel(*args, scratch=scratch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 512 * 4 // 4, f"{name} made a {peak}-byte temporary"


# ---- special values: NaN, +-inf, +-0, subnormals, exact zeros ------------------------------
# The host, the device and the twin must give the same bits here: a NaN stays a NaN (any payload:
# payloads are not portable), an infinity keeps its sign, a zero keeps its sign, a subnormal is not
# lost. Only finite nonzero results may differ, by rounding, where the sides round differently.

def _specials(dtype):
    """NaN, +-inf, +-0, subnormals (one with most of its bits, and the smallest), and normal values
    on either side of 0 (they pick the branches) and near overflow: exp saturates, g*g overflows."""
    f = np.finfo(dtype)
    return np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, f.tiny / 4, -f.tiny / 4,
                     f.smallest_subnormal, -f.smallest_subnormal, 1.5, -2.0, f.max / 4, -f.max / 4],
                    dtype)


def _bits(x):
    x = np.asarray(x)
    return x.view(np.uint32 if x.dtype == np.float32 else np.uint64)


def _unwritten(x):
    return _bits(x) == _bits(_poison(x.dtype, 1))[0]


def _poison(dtype, n):
    """A NaN with a payload no kernel makes: an output element still holding it was not written."""
    return np.full(n, 0x7FC0BAD0 if dtype == np.float32 else 0x7FF80000BAD0BAD0,
                   np.uint32 if dtype == np.float32 else np.uint64).view(dtype)


def _special_inputs(kernel, dtype):
    """Arguments in call order: the array parameters run, together, through every combination of
    ``_specials`` (one combination per element, 13**p elements for p of them); the scalars are
    SCALARS; outputs that are only written start poisoned."""
    vals = _specials(dtype)
    grid = [name for name, out in kernel.params
            if name not in SCALARS and (not out or kernel.name in READ_OUTPUTS)]
    columns = iter(np.meshgrid(*[vals] * len(grid), indexing="ij"))
    n = len(vals) ** len(grid)
    return [SCALARS[name] if name in SCALARS
            else next(columns).ravel().copy() if name in grid
            else _poison(dtype, n) for name, _ in kernel.params]


def _mismatches(got, expected, rtol=0.0, atol=0.0, normal_only=False):
    """Mask of the elements of ``got`` that are not the same as ``expected``: a NaN must meet a NaN,
    anything else must have the same bits, except that where ``rtol`` or ``atol`` is given a finite
    nonzero expected value (only a normal one if ``normal_only``) may be met by a value of the same
    sign within ``atol + rtol |expected|``."""
    same = (_bits(got) == _bits(expected)) | (np.isnan(got) & np.isnan(expected))
    if rtol or atol:
        lo = np.finfo(expected.dtype).tiny if normal_only else 0
        with np.errstate(all="ignore"):
            near = np.abs(got.astype(np.float64) - expected) <= atol + rtol * np.abs(expected)
        same |= (np.isfinite(expected) & (np.abs(expected) > lo) & (expected != 0) & near
                 & (np.signbit(got) == np.signbit(expected)))
    return ~same


def _explain(kernel, args, got, expected, bad, sides=("twin", "source")):
    """The first few disagreements, with the inputs that made them."""
    ins = [(name, a) for a, (name, out) in zip(args, kernel.params)
           if not out or kernel.name in READ_OUTPUTS]
    lines = [", ".join(f"{n}={float(a[i] if np.ndim(a) else a)!r}" for n, a in ins) + ": "
             + ", ".join(f"{side} {float(x[i])!r} ({_bits(x[i]):#x})"
                         for side, x in zip(sides, (got, expected)))
             for i in np.flatnonzero(bad)[:8]]
    head = f"{kernel.name} {got.dtype}: {bad.sum()} of {bad.size} elements differ"
    return "\n  ".join([head, *lines])


# Where NumPy and the C++ library compute a transcendental function in different ways (NumPy has
# its own SIMD exp and tanh), normal results may differ in the last bits; everything else is IEEE
# arithmetic done in the same order on both sides, and must agree exactly.
TRANSCENDENTAL = {name for name, k in kernels.KERNELS.items()
                  if "exp(" in k.operation or "tanh(" in k.operation}


def _host_tol(name, dtype):
    if name in TRANSCENDENTAL:
        return dict(rtol=_tol(dtype)["rtol"], normal_only=True)
    return {}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_kernel_source_matches_twin_bitwise_on_special_values(name, dtype, host_lib):
    kernel = kernels.KERNELS[name]
    args = _special_inputs(kernel, dtype)
    expected = _run_host(host_lib, kernel, args, dtype)
    for scratch in (False, True):
        with np.errstate(all="ignore"):   # inf - inf, 0 * inf: NaN is the answer asked for here
            got = _run_twin(kernel, args, scratch)
        for g, e in zip(got, expected):
            assert g.dtype == dtype, "no silent upcast"
            assert not _unwritten(g).any(), "twin: an output element was not written"
            assert not _unwritten(e).any(), "source: an output element was not written"
            bad = _mismatches(g, e, **_host_tol(name, dtype))
            assert not bad.any(), _explain(kernel, args, g, e, bad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_derivative_at_zero_and_relu_of_nan_in_the_source(dtype, host_lib):
    """On the CUDA source itself (compiled for the host): relu'(0) = 0, leaky_relu'(0) = alpha (at
    -0 too); a NaN goes through every relu kernel as a NaN, but relu's mask (a NaN activation
    counts as inactive: relu'(NaN) = 0, where dA is finite)."""
    K, alpha, nan, inf = kernels.KERNELS, SCALARS["alpha"], np.nan, np.inf

    def run(name, *args):
        args = [np.array(a, dtype) if isinstance(a, list) else a for a in args]
        return _run_host(host_lib, K[name], [*args, np.empty_like(args[0])], dtype)[0]

    def same(got, want):
        return not _mismatches(got, np.array(want, dtype)).any()

    a = [0.0, -0.0, 2.0, -0.5, nan]                    # -0.5: a leaky_relu output
    assert same(run("gpubp_relu_grad", a, [1.0] * 5), [0, 0, 1, 0, 0])
    assert same(run("gpubp_leaky_relu_grad", a, [1.0] * 5, alpha), [alpha, alpha, 1, alpha, nan])
    # relu'(0) = +0 is a factor like any other: -1 * +0 is -0, inf * +0 is NaN
    assert same(run("gpubp_relu_grad", [0.0, 0.0], [-1.0, inf]), [-0.0, nan])

    z, zero = [nan, -0.0, -1.0, 3.0], [0.0] * 4
    assert same(run("gpubp_relu", z), [nan, 0, 0, 3])
    assert same(run("gpubp_bias_relu", z, zero), [nan, 0, 0, 3])
    assert same(run("gpubp_bias_relu", [inf], [-inf]), [nan]), "relu(inf - inf) is relu(NaN)"
    assert same(run("gpubp_leaky_relu", z, alpha), [nan, -0.0, -alpha, 3])
    assert same(run("gpubp_bias_leaky_relu", z, zero, alpha), [nan, 0.0, -alpha, 3])  # -0 + 0 = +0


# ---- on the device ----------------------------------------------------------------------------

@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_kernel_on_device_matches_twin(name, dtype, rng):
    import cupy

    kernel = kernels.KERNELS[name]
    args = _inputs(kernel, dtype, rng, shape=(129, 1031))
    expected = _run_twin(kernel, args)
    dev = [cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    kernel(*dev)
    got = [a.get() for a, (_, out) in zip(dev, kernel.params) if out]
    for g, e in zip(got, expected):
        assert g.dtype == dtype
        assert not np.isnan(g).any(), "an output element was not written"
        # the GPU may fuse a*b+c into one rounding (FMA) and its exp/tanh differ by an ulp or two
        rtol = 2e-5 if dtype == np.float32 else 1e-12
        # w - lr g can cancel: there the rounding is relative to the operands, not the result;
        # elsewhere agreement is asked down to the smallest normal number (the device may flush
        # float32 subnormals, e.g. sigmoid(-88) ~ 6e-39, to zero)
        atol = rtol * np.abs(e).max() if name in READ_OUTPUTS else np.finfo(dtype).tiny
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


# On the device, float32 may run flush-to-zero (subnormal inputs read as, and subnormal results
# written as, zeros of their sign), and a * b + c may be fused into one rounding (FMA) and exp and
# tanh differ from NumPy's by an ulp or two. So a device element may also match the twin run on
# flushed inputs with its outputs flushed (float32 only: no GPU flushes float64), and a finite
# nonzero result may be off by rounding; NaN, infinities and zeros, signs included, must be exact.

def _flush(x):
    """``x`` with its subnormals turned into zeros of their sign, as flush-to-zero does."""
    x = np.array(x, copy=True)
    sub = (x != 0) & (np.abs(x) < np.finfo(x.dtype).tiny)
    x[sub] = np.copysign(0, x[sub])
    return x


def _device_expectations(kernel, args):
    """The twin's outputs, and (float32) those of a device that flushes subnormals, else Nones."""
    with np.errstate(all="ignore"):
        expected = _run_twin(kernel, args)
        dtype = expected[0].dtype
        if dtype != np.float32:
            return expected, [None] * len(expected)
        flushed = _run_twin(kernel, [_flush(a) if np.ndim(a) else a for a in args])
    return expected, [_flush(f) for f in flushed]


def _device_mismatches(got, expected, expected_ftz):
    rtol = 2e-5 if got.dtype == np.float32 else 1e-12
    tol = dict(rtol=rtol, atol=2 * np.finfo(got.dtype).smallest_subnormal)  # FMA at the bottom
    bad = _mismatches(got, expected, **tol)
    if expected_ftz is not None:
        bad &= _mismatches(got, expected_ftz, **tol)
    return bad


def test_device_comparison_allows_ftz_and_rounding_but_not_lost_nans_or_signs():
    """The rule the device test uses, tried here on made-up device outputs."""
    for dtype in DTYPES:
        k = kernels.KERNELS["gpubp_leaky_relu"]
        args = _special_inputs(k, dtype)
        (e,), (ftz,) = _device_expectations(k, args)
        assert not _device_mismatches(e, e, ftz).any()
        normal = np.isfinite(e) & (np.abs(e) >= np.finfo(dtype).tiny)
        assert not _device_mismatches(np.where(normal, np.nextafter(e, np.inf), e), e, ftz).any()
        assert _device_mismatches(np.where(e == 0, -e, e), e, ftz).any(), "-0 for +0, +0 for -0"
        assert _device_mismatches(np.where(np.isinf(e), np.finfo(dtype).max, e), e, ftz).any()
        flushed_ok = not _device_mismatches(_flush(e), e, ftz).any()
        assert flushed_ok == (dtype == np.float32), "subnormals may be flushed in float32 only"
        k = kernels.KERNELS["gpubp_relu"]
        args = _special_inputs(k, dtype)
        (e,), (ftz,) = _device_expectations(k, args)
        assert _device_mismatches(np.nan_to_num(e, nan=0.0), e, ftz).any(), "relu(NaN) = 0"


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_kernel_on_device_matches_twin_on_special_values(name, dtype):
    import cupy

    kernel = kernels.KERNELS[name]
    args = _special_inputs(kernel, dtype)
    expected, expected_ftz = _device_expectations(kernel, args)
    dev = [cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    kernel(*dev)
    got = [a.get() for a, (_, out) in zip(dev, kernel.params) if out]
    for g, e, f in zip(got, expected, expected_ftz):
        assert g.dtype == dtype
        assert not _unwritten(g).any(), "an output element was not written"
        bad = _device_mismatches(g, e, f)
        assert not bad.any(), _explain(kernel, args, g, e, bad, sides=("device", "twin"))


# ---- aliasing: an output may be the very array of an input --------------------------------------
# CUDA reads each element's inputs before it writes it, and so do the loops; the twins compute
# apart or from a copy where the arrays share memory. So every path gives, for an aliased call,
# what the same call gives on separate arrays: checked on every kernel, below and above FUSED_FROM
# (the twin, then the loop where numba is installed), with special values among the inputs.

def _alias_inputs(kernel, dtype, size, rng):
    """Arguments of ``size`` elements, (8, size / 8) (bias (8, 1)), half of them special values."""
    specials = _specials(dtype)
    shape = (8, size // 8)
    args = []
    for i, (name, _) in enumerate(kernel.params):
        if name in SCALARS:
            args.append(SCALARS[name])
            continue
        s = (8, 1) if kernel.bias and i == 1 else shape
        x = rng.normal(0, 1, s) * rng.choice([0.1, 1, 10, 60], s)
        x = np.where(rng.random(s) < 0.5, rng.choice(specials, s), x)
        args.append(np.ascontiguousarray(x, dtype))
    return args


def _alias_pairs(kernel):
    """(input index, output index) of every array input an output may alias (same shape)."""
    params = kernel.params
    return [(i, o) for o, (_, out) in enumerate(params) if out
            for i, (name, is_out) in enumerate(params)
            if not is_out and name not in SCALARS and name != "b"]


@pytest.mark.parametrize("size", [kernels.FUSED_FROM // 2, 4 * kernels.FUSED_FROM])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_an_output_may_be_an_input(name, dtype, size, rng):
    kernel = kernels.KERNELS[name]
    for i, o in _alias_pairs(kernel):
        args = _alias_inputs(kernel, dtype, size, rng)
        apart = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        apart[o] = args[i].copy()           # the output starts as the input it aliases
        aliased = list(args)
        aliased[o] = aliased[i]
        with np.errstate(all="ignore"):
            kernel(*apart)
            kernel(*aliased)
        for k, (pname, out) in enumerate(kernel.params):
            if out:
                bad = _mismatches(aliased[k], apart[k])
                assert not bad.any(), (f"{name} with {pname} = {kernel.params[i][0]}: "
                                       + _explain(kernel, args, aliased[k], apart[k], bad,
                                                  sides=("aliased", "apart")))


def test_relu_grad_in_place_on_its_gradient_at_every_size():
    """The call of the issue: relu_grad(a, g, g) is g * relu'(a), below and above FUSED_FROM."""
    relu_grad = activations.ReLU.backward_kernel
    for n in (2, 2 * kernels.FUSED_FROM):
        a = np.tile([1.0, -1.0], n // 2)[None, :]
        g = np.full_like(a, 2.0)
        relu_grad(a, g, g)
        assert g[0, :2].tolist() == [2.0, 0.0] and g.sum() == n


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"])
def test_every_activation_backward_may_write_over_its_gradient(name, rng):
    act = activations.get(name)
    for m in (3, kernels.FUSED_FROM):
        Z = rng.normal(size=(4, m))
        A = np.empty_like(Z)
        act.forward(Z, A)
        dA = rng.normal(size=Z.shape)
        want = np.empty_like(Z)
        act.backward(A, dA.copy(), want)
        act.backward(A, dA, dA)
        np.testing.assert_array_equal(dA, want)
        A2 = A.copy()
        act.backward(A2, dA, A2)  # dZ over A
        np.testing.assert_array_equal(A2, _backward(act, A, dA))


def _backward(act, A, dA):
    out = np.empty_like(A)
    act.backward(A, dA, out)
    return out


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_an_output_may_be_an_input_on_the_device(name, rng):
    import cupy

    kernel = kernels.KERNELS[name]
    for i, o in _alias_pairs(kernel):
        args = [cupy.asarray(a) if isinstance(a, np.ndarray) else a
                for a in _alias_inputs(kernel, np.float64, 4096, rng)]
        apart = [a.copy() if isinstance(a, cupy.ndarray) else a for a in args]
        apart[o] = args[i].copy()
        aliased = list(args)
        aliased[o] = aliased[i]
        kernel(*apart)
        kernel(*aliased)
        for k, (_, out) in enumerate(kernel.params):
            if out:
                assert not _mismatches(aliased[k].get(), apart[k].get()).any(), name
