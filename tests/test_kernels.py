"""Each CuPy kernel's CUDA source computes the same numbers as its NumPy twin.

On every machine: the operation strings of ``gpubp.kernels`` are compiled, unchanged, as C++ by the
host compiler (one loop over the elements, every parameter a ``T``, as CuPy does), run on random
inputs, and compared with the twins. On a GPU: the same kernels run through CuPy and are compared
with the twins (``gpu`` tests).
"""

import ctypes
import shutil
import subprocess
import tracemalloc

import numpy as np
import pytest

from gpubp import kernels
from conftest import requires_gpu

CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
DTYPES = [np.float32, np.float64]
# parameters that are scalars of the kernel (broadcast), and their values in these tests
SCALARS = {"alpha": 0.07, "c": 0.3, "lr": 0.05, "mu": 0.9, "b1": 0.9, "b2": 0.999,
           "lr_t": 0.01, "eps_t": 1e-8}
# the optimizer kernels read their outputs (w -= ...): these start from random values too
READ_OUTPUTS = {"gpubp_sgd", "gpubp_momentum", "gpubp_adam"}


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
    subprocess.run([CXX, "-O1", "-shared", "-fPIC", "-o", str(d / "k.so"), str(d / "k.cpp")],
                   check=True, capture_output=True)
    return ctypes.CDLL(str(d / "k.so"))


def _inputs(kernel, dtype, rng, shape=(7, 33)):
    """Random arguments in call order: large magnitudes included (saturation), never zeros."""
    args = []
    for name, is_out in kernel.params:
        if name in SCALARS:
            args.append(SCALARS[name])
        elif name == "b":
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
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    outs = [a for a, (_, out) in zip(args, kernel.params) if out]
    kernel(*args, scratch=np.empty_like(outs[0]) if scratch else None)
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
    kernels.sigmoid(z, a)
    exact = np.array([np.exp(x) / (1 + np.exp(x)) if x < 0 else 1 / (1 + np.exp(-x)) for x in z])
    np.testing.assert_allclose(a, exact, rtol=1e-15)


def test_relu_derivative_at_zero_is_zero_and_leaky_is_alpha():
    a = np.array([[0.0, 1.0, -0.5]])
    g = np.empty_like(a)
    kernels.relu_grad(a, np.ones_like(a), g)
    assert g.tolist() == [[0.0, 1.0, 0.0]]
    kernels.leaky_relu_grad(a, np.ones_like(a), 0.1, g)
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
