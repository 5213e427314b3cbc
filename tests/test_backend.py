"""The backend shim: which device a request resolves to, why a GPU is refused, moving arrays.

No test here needs CuPy or a GPU: "CuPy missing" is simulated with ``sys.modules["cupy"] = None``
and "CuPy installed but unusable" with small fake ``cupy`` modules. The probe and the fallback
warning are cached per process, so every simulation forgets both before and after it runs.
"""

import sys
import types
import warnings

import numpy as np
import pytest

import gpubp
from gpubp import backend
from gpubp.errors import DeviceError, NameNotFound


# ---- simulation helpers ------------------------------------------------------------------------

@pytest.fixture
def fresh_probe(monkeypatch):
    """Monkeypatch with the CuPy probe and the fallback warning forgotten on setup and teardown."""
    backend.cupy_status.cache_clear()
    backend._warn_fallback.cache_clear()
    monkeypatch.delenv(backend.ENV_VAR, raising=False)
    yield monkeypatch
    monkeypatch.undo()  # restore sys.modules first, so nothing re-probes the fake afterwards
    backend.cupy_status.cache_clear()
    backend._warn_fallback.cache_clear()


@pytest.fixture
def no_cupy(fresh_probe):
    """``import cupy`` raises ImportError."""
    fresh_probe.setitem(sys.modules, "cupy", None)
    return fresh_probe


def make_fake_cupy(device_count=1, compile_error=None):
    """A stand-in ``cupy`` module: ``device_count`` is a number or an exception to raise."""
    cupy = types.ModuleType("cupy")

    class ndarray:
        pass

    def getDeviceCount():
        if isinstance(device_count, BaseException):
            raise device_count
        return device_count

    def ElementwiseKernel(*args, **kwargs):
        if compile_error is not None:
            raise compile_error
        return lambda *arrays: None

    cupy.ndarray = ndarray
    cupy.ElementwiseKernel = ElementwiseKernel
    cupy.arange = lambda *args, **kwargs: ndarray()
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=getDeviceCount, deviceSynchronize=lambda: None))
    return cupy


@pytest.fixture
def fake_cupy(fresh_probe):
    """``fake_cupy(**kw)`` puts a fake CuPy module in ``sys.modules`` and returns it."""
    def install(**kwargs):
        cupy = make_fake_cupy(**kwargs)
        fresh_probe.setitem(sys.modules, "cupy", cupy)
        return cupy
    return install


NO_DRIVER = RuntimeError("cudaErrorInsufficientDriver")


def run_recording_warnings(fn):
    """``(fn(), [every warning raised while it ran])``, none filtered out or deduplicated."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, caught


# ---- resolve: explicit requests and the environment variable -------------------------------------

def test_resolve_cpu_is_cpu(fresh_probe):
    assert backend.resolve("cpu") == "cpu"


def test_resolve_none_reads_env_var_cpu(fresh_probe):
    fresh_probe.setenv("GPUBP_DEVICE", "cpu")
    assert backend.resolve(None) == "cpu"


def test_resolve_none_reads_env_var_gpu(no_cupy):
    # auto would fall back to "cpu" here; only reading GPUBP_DEVICE=gpu makes this raise
    no_cupy.setenv("GPUBP_DEVICE", "gpu")
    with pytest.raises(DeviceError):
        backend.resolve(None)


def test_env_var_value_ignores_case_and_spaces(fresh_probe):
    fresh_probe.setenv("GPUBP_DEVICE", "  CPU \n")
    assert backend.resolve(None) == "cpu"


def test_bad_env_var_names_the_variable_and_the_choices(fresh_probe):
    fresh_probe.setenv("GPUBP_DEVICE", "tpu")
    with pytest.raises(NameNotFound) as err:
        backend.resolve(None)
    msg = str(err.value)
    assert "GPUBP_DEVICE" in msg and "'tpu'" in msg and msg.endswith("are: auto, cpu, gpu")


def test_bad_explicit_device_raises_name_not_found(fresh_probe):
    with pytest.raises(NameNotFound, match="auto, cpu, gpu"):
        backend.resolve("tpu")


def test_explicit_device_beats_bad_env_var(fresh_probe):
    fresh_probe.setenv("GPUBP_DEVICE", "tpu")
    assert backend.resolve("cpu") == "cpu"


def test_explicit_auto_beats_env_var_gpu(no_cupy):
    no_cupy.setenv("GPUBP_DEVICE", "gpu")
    assert backend.resolve("auto") == "cpu"


# ---- CuPy not installed: NumPy, silently; device="gpu" says how to install it ---------------------

def test_auto_without_cupy_is_cpu_and_silent(no_cupy):
    device, caught = run_recording_warnings(lambda: backend.resolve("auto"))
    assert device == "cpu"
    assert caught == []


def test_gpu_without_cupy_says_not_installed_and_names_the_extras(no_cupy):
    with pytest.raises(DeviceError) as err:
        backend.resolve("gpu")
    msg = str(err.value)
    assert "CuPy is not installed" in msg
    assert 'pip install -e ".[cuda12]"' in msg and 'pip install -e ".[cuda13]"' in msg


# ---- CuPy installed, GPU unusable: NumPy with one line of warning that says why -----------------

def test_working_fake_cupy_resolves_auto_to_gpu(fake_cupy):
    # control for the fakes below: the same fake with a device that answers is taken as a GPU
    cupy = fake_cupy(device_count=1)
    device, caught = run_recording_warnings(lambda: backend.resolve("auto"))
    assert device == "gpu" and caught == []
    assert backend.xp_for("auto") is cupy


def test_auto_without_driver_warns_once_with_the_reason(fake_cupy):
    fake_cupy(device_count=NO_DRIVER)

    def twice():
        return backend.resolve("auto"), backend.resolve("auto")

    devices, caught = run_recording_warnings(twice)
    assert devices == ("cpu", "cpu")
    assert len(caught) == 1
    w = caught[0]
    assert issubclass(w.category, RuntimeWarning)
    msg = str(w.message)
    assert "\n" not in msg
    assert "no CUDA driver" in msg and "cudaErrorInsufficientDriver" in msg


def test_two_auto_networks_without_driver_warn_once_in_total(fake_cupy):
    fake_cupy(device_count=NO_DRIVER)

    def two_networks():
        return [gpubp.Network([3, 4, 2], device="auto", seed=0) for _ in range(2)]

    nets, caught = run_recording_warnings(two_networks)
    assert [net.device for net in nets] == ["cpu", "cpu"]
    assert all(net.xp is np for net in nets)
    assert len(caught) == 1 and issubclass(caught[0].category, RuntimeWarning)


def test_gpu_without_driver_raises_no_cuda_driver(fake_cupy):
    fake_cupy(device_count=NO_DRIVER)
    with pytest.raises(DeviceError, match="no CUDA driver"):
        backend.resolve("gpu")


def test_zero_devices_reason_is_no_cuda_device(fake_cupy):
    fake_cupy(device_count=0)
    device, caught = run_recording_warnings(lambda: backend.resolve("auto"))
    assert device == "cpu"
    assert len(caught) == 1 and "no CUDA device" in str(caught[0].message)
    with pytest.raises(DeviceError, match="no CUDA device"):
        backend.resolve("gpu")


def test_kernel_compile_failure_raises_device_error_about_compiling(fake_cupy):
    fake_cupy(device_count=1, compile_error=RuntimeError("nvrtc: libnvrtc.so not found"))
    with pytest.raises(DeviceError) as err:
        backend.resolve("gpu")
    msg = str(err.value)
    assert "compile" in msg and "libnvrtc.so not found" in msg


# ---- xp_of, to_host / to_device, synchronize, describe --------------------------------------------

def test_xp_of_numpy_array_is_numpy():
    assert backend.xp_of(np.zeros(3)) is np


def test_xp_of_finds_the_cupy_array_among_numpy_ones(fake_cupy):
    cupy = fake_cupy()
    assert backend.xp_of(np.zeros(2), cupy.ndarray()) is cupy
    assert backend.xp_of(np.zeros(2), np.ones(1)) is np


def test_to_device_and_back_round_trips_with_dtype_conversion(xp):
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    d = backend.to_device(a, xp, dtype=np.float32)
    assert backend.xp_of(d) is xp and d.dtype == np.float32 and d.shape == (2, 3)
    h = backend.to_host(d)
    assert type(h) is np.ndarray and h.dtype == np.float32
    np.testing.assert_array_equal(h, [[0, 1, 2], [3, 4, 5]])


def test_to_device_accepts_nested_lists(xp):
    h = backend.to_host(backend.to_device([[1.5, -2.0]], xp, dtype=np.float64))
    assert h.dtype == np.float64
    np.testing.assert_array_equal(h, [[1.5, -2.0]])


def test_to_device_numpy_same_dtype_makes_no_copy():
    a = np.ones((2, 2), dtype=np.float64)
    assert backend.to_device(a, np) is a
    assert backend.to_host(a) is a


def test_synchronize_numpy_is_a_noop():
    assert backend.synchronize(np) is None


def test_synchronize_works_on_each_backend(xp):
    backend.synchronize(xp)  # raises (no .cuda on NumPy, or a device error) if it is wrong


def test_describe_without_cupy(no_cupy):
    text = backend.describe()
    assert "GPU: none usable" in text and "not installed" in text
    assert "default device: cpu" in text
    assert "GPUBP_DEVICE=(unset: auto)" in text


def test_describe_survives_a_bad_env_var(no_cupy):
    no_cupy.setenv("GPUBP_DEVICE", "tpu")
    text = backend.describe()
    assert "default device: error" in text and "GPUBP_DEVICE=tpu" in text


def test_network_auto_runs_on_numpy_without_cupy(no_cupy):
    net = gpubp.Network([3, 4, 2], device="auto", seed=0)
    assert net.device == "cpu" and net.xp is np
    out = net.forward(np.zeros((3, 5)))
    assert type(backend.to_host(out)) is np.ndarray and out.shape == (2, 5)


def test_broken_cupy_install_is_not_mistaken_for_a_missing_one(fresh_probe):
    """CuPy raises ImportError itself when its compiled core cannot load (wrong CUDA wheel)."""
    import builtins

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("CuPy is not correctly installed.\nlibcudart.so.12: cannot open")
        return real_import(name, *args, **kwargs)

    fresh_probe.delitem(sys.modules, "cupy", raising=False)
    fresh_probe.setattr(builtins, "__import__", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert backend.resolve("auto") == "cpu"
    assert len(caught) == 1 and "failed to import" in str(caught[0].message)
    assert "\n" not in str(caught[0].message)
    with pytest.raises(DeviceError, match="failed to import.*libcudart"):
        backend.resolve("gpu")
