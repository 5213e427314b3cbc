"""The NCCL communicator's calls, in-process on the CPU: a stand-in ``cupy`` (with
``cupy.cuda.nccl``) records what ``NCCLComm`` asks of CuPy and NCCL, and a stand-in MPI
communicator plays the other ranks. The real thing runs in tests/test_distributed.py and
tests/test_gpu.py where GPUs are; this checks, without one, which device a rank takes, what it
all-reduces with which NCCL type, and the errors every rank raises."""

import sys
import types

import numpy as np
import pytest

from gpubp import backend, distributed
from gpubp.errors import DeviceError

pytest.importorskip("mpi4py")


class FakeMPI:
    """Rank ``rank`` of ``size``, rank ``local`` on its node; ``bcast`` hands out ``root_says``
    (what rank 0 sent) on ranks other than 0."""

    def __init__(self, rank=0, size=2, local=0, root_says=None):
        self.rank, self.size, self.local, self.root_says = rank, size, local, root_says
        self.reduced = []

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def bcast(self, value, root=0):
        return value if self.rank == 0 else self.root_says

    def Split_type(self, kind):
        return types.SimpleNamespace(Get_rank=lambda: self.local)

    def Allreduce(self, where, buf, op=None):
        self.reduced.append(buf)


def fake_cupy(devices=2, uid_error=None):
    """A stand-in ``cupy`` whose ``cuda.nccl`` records the communicators made and the
    all-reduces asked for; its arrays carry a device id, a pointer, a size and a dtype."""
    calls = []
    cupy = types.ModuleType("cupy")

    class ndarray:
        def __init__(self, device, dtype=np.float32, size=6, ptr=1234):
            self.device = types.SimpleNamespace(id=device)
            self.data = types.SimpleNamespace(ptr=ptr)
            self.size, self.dtype = size, np.dtype(dtype)

    class NcclCommunicator:
        def __init__(self, size, uid, rank):
            calls.append(("communicator", size, uid, rank))

        def allReduce(self, *args):
            calls.append(("allReduce",) + args)

    def get_unique_id():
        if uid_error is not None:
            raise uid_error
        return b"unique"

    class Device:
        def __init__(self, i):
            self.i = i

        def use(self):
            calls.append(("use", self.i))

    nccl = types.ModuleType("cupy.cuda.nccl")
    nccl.NcclCommunicator, nccl.get_unique_id = NcclCommunicator, get_unique_id
    nccl.NCCL_FLOAT32, nccl.NCCL_FLOAT64, nccl.NCCL_SUM = "f32", "f64", "sum"
    cuda = types.ModuleType("cupy.cuda")
    cuda.nccl, cuda.Device = nccl, Device
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: devices, deviceSynchronize=lambda: None)
    cuda.get_current_stream = lambda: types.SimpleNamespace(ptr=77)
    cupy.cuda, cupy.ndarray = cuda, ndarray
    cupy.ElementwiseKernel = lambda *a, **k: (lambda *arrays: None)
    cupy.arange = lambda *a, **k: None
    return cupy, calls


@pytest.fixture
def gpu(monkeypatch):
    """``gpu(**kw)``: the stand-in CuPy installed (the probe forgotten before and after)."""
    backend.cupy_status.cache_clear()

    def install(**kwargs):
        cupy, calls = fake_cupy(**kwargs)
        monkeypatch.setitem(sys.modules, "cupy", cupy)
        monkeypatch.setitem(sys.modules, "cupy.cuda", cupy.cuda)
        monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", cupy.cuda.nccl)
        return cupy, calls
    yield install
    monkeypatch.undo()
    backend.cupy_status.cache_clear()


def test_a_rank_takes_its_place_on_its_node_modulo_the_devices(gpu):
    cupy, calls = gpu(devices=2)
    comm = distributed.NCCLComm(FakeMPI(rank=0, size=4, local=3))
    assert comm.device == 1 and comm.rank == 0 and comm.size == 4
    assert calls == [("use", 1), ("communicator", 4, b"unique", 0)]


def test_other_ranks_take_rank_0s_unique_id(gpu):
    cupy, calls = gpu(devices=4)
    comm = distributed.NCCLComm(FakeMPI(rank=2, size=4, local=2, root_says=(b"from 0", None)))
    assert comm.device == 2
    assert calls == [("use", 2), ("communicator", 4, b"from 0", 2)]


@pytest.mark.parametrize("dtype, kind", [(np.float32, "f32"), (np.float64, "f64")])
def test_allreduce_sums_in_place_on_the_current_stream(gpu, dtype, kind):
    cupy, calls = gpu(devices=2)
    comm = distributed.NCCLComm(FakeMPI(rank=1, size=2, local=1, root_says=(b"u", None)))
    a = cupy.ndarray(device=1, dtype=dtype, size=6, ptr=1234)
    assert comm.allreduce(a) is a
    assert calls[-1] == ("allReduce", 1234, 1234, 6, kind, "sum", 77)


def test_host_numbers_go_over_mpi_not_nccl(gpu):
    cupy, calls = gpu(devices=2)
    mpi = FakeMPI(rank=0, size=2)
    comm = distributed.NCCLComm(mpi)
    cost = np.zeros(1)
    comm.allreduce(cost)
    assert mpi.reduced == [cost] and not [c for c in calls if c[0] == "allReduce"]


def test_an_array_on_another_gpu_than_the_communicator_is_refused(gpu):
    cupy, calls = gpu(devices=2)
    comm = distributed.NCCLComm(FakeMPI(rank=0, size=2, local=1))
    with pytest.raises(DeviceError, match=r"communicator is on GPU 1 but the network is on GPU 0; "
                                          r"make the communicator .* before the network"):
        comm.allreduce(cupy.ndarray(device=0))


def test_rank_0_failing_to_make_the_unique_id_is_every_ranks_device_error(gpu):
    gpu(uid_error=RuntimeError("ncclSystemError"))
    with pytest.raises(DeviceError, match="rank 0 could not make NCCL's unique id: "
                                          "RuntimeError: ncclSystemError"):
        distributed.NCCLComm(FakeMPI(rank=0, size=2))
    error = DeviceError("comm='nccl': rank 0 could not ...")
    with pytest.raises(DeviceError) as caught:
        distributed.NCCLComm(FakeMPI(rank=1, size=2, root_says=(None, error)))
    assert caught.value is error


def test_without_cupy_rank_0_says_nccl_needs_a_gpu(monkeypatch):
    backend.cupy_status.cache_clear()
    monkeypatch.setitem(sys.modules, "cupy", None)
    try:
        with pytest.raises(DeviceError, match="comm='nccl' needs a usable GPU: not installed"):
            distributed.NCCLComm(FakeMPI(rank=0, size=2))
    finally:
        monkeypatch.undo()
        backend.cupy_status.cache_clear()
