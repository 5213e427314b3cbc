"""The array-module shim: the ONLY module of gpubp that imports CuPy.

Everything above this module writes its math once, against ``xp`` (NumPy or CuPy), and
derives ``xp`` from the arrays it is given (:func:`xp_of`), never from a global.

Which module a new network uses is chosen by :func:`resolve`:

``device="cpu"``   NumPy, always.
``device="gpu"``   CuPy on the current CUDA device; a :class:`~gpubp.errors.DeviceError` that
                   says why (CuPy missing, no driver, no device, no kernel compiler) if none is usable.
``device="auto"``  the GPU when CuPy is installed and a CUDA device answers, else NumPy. A machine
                   without CuPy gets NumPy silently; a machine with CuPy but no usable GPU gets
                   NumPy and one line of warning that says why.
``device=None``    the environment variable ``GPUBP_DEVICE`` (one of the above), default ``auto``.
"""

import functools
import os
import sys
import warnings

import numpy as np

from .errors import DeviceError, unknown_name

DEVICES = ("auto", "cpu", "gpu")
ENV_VAR = "GPUBP_DEVICE"


@functools.lru_cache(maxsize=None)
def cupy_status():
    """Probe CuPy once per process.

    Returns ``(cupy_module_or_None, reason)``; ``reason`` is ``None`` when the GPU is usable,
    ``"not installed"`` when CuPy cannot be imported, else a sentence saying what failed.
    """
    try:
        import cupy
    except ModuleNotFoundError as e:
        if e.name == "cupy":
            return None, "not installed"
        return None, f"CuPy is installed but failed to import: {type(e).__name__}: {_one_line(e)}"
    except Exception as e:  # a broken install: CuPy itself raises ImportError, or worse
        return None, f"CuPy is installed but failed to import: {type(e).__name__}: {_one_line(e)}"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return None, f"CuPy is installed but no CUDA driver answered ({type(e).__name__}: {_one_line(e)})"
    if n < 1:
        return None, "CuPy is installed but no CUDA device was found"
    try:
        # A GPU we cannot compile a kernel for is no use to us: NVRTC and the runtime headers
        # must be present (cupy-cuda1Nx[ctk] or a CUDA -devel image brings them).
        cupy.ElementwiseKernel("T x", "T y", "y = x + 1", "gpubp_probe")(cupy.arange(2.0))
        cupy.cuda.runtime.deviceSynchronize()
    except Exception as e:
        return None, (f"CuPy sees {n} CUDA device(s) but cannot compile a kernel "
                      f"({type(e).__name__}: {_one_line(e)}); install cupy-cuda1Nx[ctk] or use a -devel CUDA image")
    return cupy, None


def _one_line(e):
    return " ".join(str(e).split())  # CuPy's messages span lines; a warning must be one line


def resolve(device=None):
    """Turn a device request into ``"cpu"`` or ``"gpu"`` (see the module docstring)."""
    if device is None:
        device = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        source = f"environment variable {ENV_VAR}"
    else:
        source = "device"
    if device not in DEVICES:
        raise unknown_name(f"{source} value", device, DEVICES)
    if device == "cpu":
        return "cpu"
    cupy, reason = cupy_status()
    if cupy is not None:
        return "gpu"
    if device == "gpu":
        if reason == "not installed":
            reason = ("CuPy is not installed; from a checkout of gpubp, install the extra that "
                      "matches your CUDA driver (nvidia-smi shows its version): "
                      "pip install -e \".[cuda12]\" or pip install -e \".[cuda13]\"")
        asked = "device='gpu' was asked for" if source == "device" else \
            f"the environment variable {ENV_VAR}=gpu asks for the GPU (unset it or set it to auto or cpu)"
        raise DeviceError(f"{asked} but no GPU is usable: {reason}")
    if reason != "not installed":
        _warn_fallback(reason)
    return "cpu"


@functools.lru_cache(maxsize=None)
def _warn_fallback(reason):
    # lru_cache: one line per process, not one per network
    warnings.warn(f"gpubp: no usable GPU, running on the CPU with NumPy: {reason}",
                  RuntimeWarning, stacklevel=4)


def xp_for(device=None):
    """The array module (``numpy`` or ``cupy``) for a device request."""
    return cupy_status()[0] if resolve(device) == "gpu" else np


def xp_of(*arrays):
    """The array module that holds ``arrays`` (NumPy unless one is a CuPy array)."""
    cupy = sys.modules.get("cupy")  # no import: if CuPy was never imported, nothing is a CuPy array
    if cupy is not None and any(isinstance(a, cupy.ndarray) for a in arrays):
        return cupy
    return np


def to_device(a, xp, dtype=None):
    """``a`` as an array of module ``xp`` (one host-to-device copy if it lives elsewhere)."""
    if xp is np and xp_of(a) is not np:
        a = a.get()
    return xp.asarray(a, dtype=dtype)


def to_host(a):
    """``a`` as a NumPy array (one device-to-host copy, which synchronizes, for a CuPy array)."""
    if xp_of(a) is np:
        return np.asarray(a)
    return a.get()


def sparse_to_device(a, xp):
    """A SciPy or cupyx sparse matrix ``a`` as one of ``xp``'s device (SciPy's on NumPy,
    cupyx.scipy.sparse's on CuPy): one copy if it lives elsewhere."""
    on_device = type(a).__module__.startswith("cupyx")
    if xp is np:
        return a.get() if on_device else a
    if on_device:
        return a
    import cupyx.scipy.sparse

    return cupyx.scipy.sparse.csr_matrix(a.tocsr())


def synchronize(xp):
    """Wait for the device to finish its queued work (a no-op on NumPy)."""
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()


def matmul(a, b, out, accumulate=False, scratch=None):
    """``out = a b``, or ``out += a b`` with ``accumulate``: the products of the backward pass.

    The first contribution to a gradient writes, later ones add (a weight used by several layers
    gets one gradient, the sum of its uses). On CuPy the sum is one cuBLAS GEMM with ``beta = 1``;
    on NumPy the product goes into ``scratch`` (shaped like ``out``; a temporary if ``None``) and
    is added. ``a`` and ``b`` may be transposed views.
    """
    if type(out) is np.ndarray:  # the CPU, kept short: it runs several times a step
        if not accumulate:
            return np.matmul(a, b, out=out)
        out += np.matmul(a, b, out=scratch)
        return out
    if not accumulate:
        return xp_of(out).matmul(a, b, out=out)
    if xp_of(out) is np:
        out += np.matmul(a, b, out=scratch)
        return out
    from cupy import cublas  # only reached with CuPy arrays

    return cublas.gemm("N", "N", a, b, out=out, alpha=1.0, beta=1.0)


def bind_matmul(a, b, out, accumulate=False, scratch=None):
    """:func:`matmul` on these arrays as a function of no arguments (a plan binds its buffers
    when it is built): on NumPy, a write is ``np.matmul`` itself, with nothing in between."""
    if type(out) is np.ndarray and not accumulate:
        return functools.partial(np.matmul, a, b, out=out)
    return functools.partial(matmul, a, b, out, accumulate, scratch)


def nccl():
    """CuPy's NCCL module (``cupy.cuda.nccl``), or None when no GPU is usable
    (:func:`cupy_status` says why). ``gpubp.distributed`` makes its communicator with it."""
    cupy, reason = cupy_status()
    if cupy is None:
        return None
    from cupy.cuda import nccl as module

    return module


def use_device(index):
    """Make device ``index`` modulo this node's CUDA devices the current device; returns its id
    (a rank of a data-parallel job passes its place among the ranks of its node)."""
    cupy, reason = cupy_status()
    if cupy is None:
        raise DeviceError(f"no CUDA device to use: {reason}")
    device = index % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()
    return device


@functools.lru_cache(maxsize=None)
def elementwise_kernel(in_params, out_params, operation, name):
    """A ``cupy.ElementwiseKernel`` built once per source (CuPy compiles it on first call)."""
    cupy, reason = cupy_status()
    if cupy is None:
        raise DeviceError(f"kernel {name} needs a usable GPU: {reason}")
    return cupy.ElementwiseKernel(in_params, out_params, operation, name)


def describe():
    """A few lines on what gpubp would run on here (for ``gpubp info`` and bug reports)."""
    lines = [f"python {sys.version.split()[0]}, numpy {np.__version__}",
             f"{ENV_VAR}={os.environ.get(ENV_VAR, '(unset: auto)')}"]
    cupy, reason = cupy_status()
    if cupy is None:
        lines.append(f"GPU: none usable ({reason})")
    else:
        dev = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(dev.id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        free, total = dev.mem_info
        lines.append(f"GPU {dev.id}: {name}, {total / 2**30:.1f} GiB ({free / 2**30:.1f} free), "
                     f"compute capability {dev.compute_capability}")
        lines.append(f"cupy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
                     f"driver {cupy.cuda.runtime.driverGetVersion()}")
    try:
        lines.append(f"default device: {resolve(None)}")
    except Exception as e:  # describe() must not fail on a bad GPUBP_DEVICE
        lines.append(f"default device: error: {e}")
    return "\n".join(lines)
