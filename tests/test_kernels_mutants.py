"""Mutation gaps of gpubp/kernels.py (the Kernel machinery, apart, expect_work): what a kernel
call does with its scalars and with arrays that are not plain ndarrays, what bind resolves,
where a bias that is not (n, 1) goes, what ``loop`` and ``has_loop`` say, and when ``apart``
hands back the output, the scratch or a new array."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gpubp import fused, kernels

needs_loops = pytest.mark.skipif(not fused.ENABLED, reason="numba not installed (the cpu extra)")


class Sub(np.ndarray):
    """An ndarray subclass: a kernel call takes the general path (not the plain-ndarray one)."""


def _sgd(g, lr, w):
    kernels.sgd(g, lr, w)
    return w


def test_params_read_cupys_parameter_syntax():
    """``raw T x`` and ``T x``: the name is the last word, inputs before outputs."""
    k = kernels.Kernel("test_params", "raw T x, T c", "T y, raw T z", "y = c * x[i]; z = y",
                       lambda *a, scratch=None: None)
    assert k.params == [("x", False), ("c", False), ("y", True), ("z", True)]


def test_has_loop_and_what_loop_returns():
    assert kernels.axpy.has_loop is True and kernels.sgd.has_loop is True
    k = kernels.Kernel("test_loop", "T x", "T y", "y = x", lambda x, y, scratch=None: None)
    assert k.has_loop is False

    def copy(x, y):
        for i in range(x.size):
            y[i] = x[i]

    loop = k.loop(copy)
    assert isinstance(loop, kernels.Loop) and loop.fn is copy and k.has_loop is True
    passes = kernels.Kernel("test_passes", "T x", "T y", "y = x", lambda x, y, scratch=None: None)

    def plain(x, y):
        np.copyto(y, x)

    assert passes.loop(passes=True)(plain) is plain and passes.has_loop is True
    x, y = np.arange(6.0), np.zeros(6)
    if fused.ENABLED:  # a passes loop is called as it is, with the arrays as they are
        fn, args = passes.fused(x, y)
        assert fn is plain and args[0] is x
        fn(*args)
        assert y.tolist() == x.tolist()


@pytest.mark.parametrize("n", [100, 4 * kernels.FUSED_FROM])
def test_scalars_take_the_arrays_dtype(n, rng):
    """T is one type for the whole kernel: a float64 lr on float32 arrays is rounded to float32
    first, so the step has the bits of a float32 lr (below FUSED_FROM: the twin; above it, with
    the loops loaded: the loop)."""
    g = rng.normal(size=n).astype(np.float32)
    w = rng.normal(size=n).astype(np.float32)
    want = _sgd(g, np.float32(0.1), w.copy())
    got = _sgd(g, np.float64(0.1), w.copy())
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    # and the float64 arithmetic would have differed: the test can fail
    w64 = (w.astype(np.float64) - g.astype(np.float64) * 0.1).astype(np.float32)
    assert not np.array_equal(w64, want)


@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_an_ndarray_subclass_gets_the_same_numbers(shape, rng):
    """Arrays that are not plain ndarrays (a subclass) take the general path: the twin, with the
    scalars in the arrays' dtype, writing into the caller's arrays, 1-D or 2-D."""
    g = rng.normal(size=shape).astype(np.float32)
    w = rng.normal(size=shape).astype(np.float32)
    want = _sgd(g, np.float32(0.1), w.copy())
    ws = w.copy().view(Sub)
    out = _sgd(g.view(Sub), np.float64(0.1), ws)
    assert out is ws and type(ws) is Sub
    assert np.array_equal(np.asarray(ws).view(np.uint32), want.view(np.uint32))
    # a bound call on a subclass does the same
    ws2 = w.copy().view(Sub)
    kernels.sgd.bind(g.view(Sub), 0.1, ws2)()
    assert np.array_equal(np.asarray(ws2), want)


def test_bind_resolves_the_call_once(rng):
    """A bound call on NumPy arrays is the twin (or the loop) itself, not the kernel's dispatch,
    and computes what the call computes."""
    x, y = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    bound = kernels.axpy.bind(x, 0.5, y)
    assert bound.func is not kernels.axpy
    want = y + 0.5 * x
    bound()
    np.testing.assert_array_equal(y, want)


@needs_loops
@pytest.mark.parametrize("b_shape", [(1, 1), (8, 512), (8, 1)])
def test_a_bias_of_any_broadcastable_shape_is_added_as_numpy_adds_it(b_shape, rng):
    """The bias kernels' loops take b (n, 1); any other b that broadcasts (a (1, 1), a full
    (n, m)) is added by the twin, as NumPy adds it, also where the arrays are big enough for the
    loop."""
    z = rng.normal(size=(8, 512))
    assert z.size >= kernels.FUSED_FROM and kernels.loops_for(z.size) is not None
    b = rng.normal(size=b_shape)
    a = np.full_like(z, np.nan)
    kernels.bias_identity(z, b, a)
    np.testing.assert_array_equal(a, z + b)
    if b_shape == (8, 1):  # the case the loop takes: it is taken
        assert kernels.bias_identity.fused(z, b, a) is not None


def test_repr_names_the_kernel_and_its_source():
    text = repr(kernels.axpy)
    assert "gpubp_axpy" in text and "y += c * x" in text and "T x, T c" in text


def test_apart():
    a, b = np.zeros(6), np.ones(6)
    s = np.empty(6)
    assert kernels.apart(a, b, 2.0) is a, "no input shares memory with out: out itself"
    assert kernels.apart(a, b, 2.0, scratch=s) is a
    assert kernels.apart(a, a, scratch=s) is s, "aliased: the scratch, which shares nothing"
    assert kernels.apart(a, b, a[::2], scratch=s) is s
    for scratch in (None, a, b, a[1:]):  # the scratch shares memory with out or an input: new
        t = kernels.apart(a, b, a, scratch=scratch)
        assert t.shape == a.shape and not any(np.may_share_memory(t, x) for x in (a, b, s))


def test_unshared():
    x, y = np.arange(4.0), np.zeros(4)
    assert kernels.unshared(x, y) is x
    c = kernels.unshared(x, y, x[2:])
    assert c is not x and not np.may_share_memory(c, x) and c.tolist() == x.tolist()


@needs_loops
def test_expect_work_says_whether_the_loops_are_loaded():
    """In a fresh process: less work than FUSED_WORK neither loads the loops nor says they are;
    FUSED_WORK loads them (numba imported) and says so."""
    code = ("import sys\nfrom gpubp import kernels\n"
            "print(kernels.expect_work(kernels.FUSED_WORK - 1), 'numba' in sys.modules)\n"
            "print(kernels.expect_work(kernels.FUSED_WORK), 'numba' in sys.modules)\n"
            "print(kernels.expect_work(0))\n")
    env = dict(os.environ)
    env.pop("GPUBP_FUSED", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["False", "False", "True", "True", "True"]
