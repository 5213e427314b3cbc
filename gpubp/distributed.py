"""Data-parallel training over MPI (mpi4py) or NCCL: every rank computes the gradient of its share
of every global batch, and one all-reduce of the flat gradient buffer sums them.

``fit(..., comm="mpi")`` (every rank passes the same X and Y; launch with ``mpiexec -n N`` or
``srun``):

- the parameters are broadcast from rank 0 at the start, and every rank shuffles with the same
  seed, so each global batch is the same set of columns everywhere;
- rank r takes the r-th of N nearly equal slices of the batch and runs forward and backward with
  the GLOBAL batch size in ``1/m``; the N gradients are summed with one all-reduce of the flat
  buffer, so every rank takes the step one process would take on the whole batch (to rounding:
  the sum is taken in another order);
- the cost of each batch is summed over the ranks with the gradients' all-reduce (one more
  number); decisions (stopping, early stopping) are taken by rank 0 and broadcast, so no rank
  waits for another that has left;
- only rank 0 prints; the command line writes files on rank 0 only;
- an error on any rank aborts the whole job with that rank's message, never a silent hang.

Every rank must pass the same arguments (``stop`` and ``callback`` given on all ranks or none).
With ``comm="nccl"`` through the Python API, make the communicator before the network
(``comm = gpubp.distributed.NCCLComm()``, then the network, then ``fit(..., comm=comm)``), so
that the network is made on this rank's GPU.

``comm="mpi"`` moves CuPy arrays through host memory unless the MPI is CUDA-aware
(``MPIComm(cuda_aware=True)``); ``comm="nccl"`` all-reduces on the devices with NCCL, one GPU per
rank, its unique id sent over MPI (as ChainerMN does).
"""

import hashlib
import os
import sys

import numpy as np

from . import backend
from .errors import ConfigError, DeviceError, GpubpError, unknown_name

COMMS = ("mpi", "nccl")


class RankFailed(GpubpError):
    """Another rank of a data-parallel job failed; this rank stops too (its message names that
    rank and its error)."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ConfigError(f"comm='mpi' needs mpi4py and an MPI: pip install -e \".[mpi]\" "
                          f"(the mpich wheel brings one) ({e})") from None
    return MPI


class MPIComm:
    """All-reduce and broadcast over an MPI communicator (``MPI.COMM_WORLD`` by default)."""

    name = "mpi"

    def __init__(self, comm=None, cuda_aware=False):
        MPI = _mpi()
        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.cuda_aware = cuda_aware

    def _host(self, a):
        if backend.xp_of(a) is np or self.cuda_aware:
            return a, None
        return backend.to_host(a), a  # staged through host memory

    def allreduce(self, a):
        """``a`` <- the sum of ``a`` over the ranks, in place (a contiguous array)."""
        if self.size == 1:
            return a
        buf, device = self._host(a)
        if device is None and backend.xp_of(a) is not np:
            backend.synchronize(backend.xp_of(a))  # CUDA-aware MPI reads the buffer as it is now
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        if device is not None:
            device[...] = backend.to_device(buf, backend.xp_of(device))
        return a

    def bcast(self, a, root=0):
        """``a`` <- rank ``root``'s ``a``, in place."""
        if self.size == 1:
            return a
        buf, device = self._host(a)
        if device is None and backend.xp_of(a) is not np:
            backend.synchronize(backend.xp_of(a))  # CUDA-aware MPI reads the buffer as it is now
        self.comm.Bcast(buf, root=root)
        if device is not None:
            device[...] = backend.to_device(buf, backend.xp_of(device))
        return a

    def decide(self, value, root=0):
        """A Python value every rank takes from rank ``root`` (a decision)."""
        return value if self.size == 1 else self.comm.bcast(value, root=root)

    def abort(self, code=1):
        self.comm.Abort(code)


def _nccl():
    """CuPy's NCCL module, or a DeviceError saying why no GPU is usable."""
    nccl = backend.nccl()
    if nccl is None:
        raise DeviceError(f"comm='nccl' needs a usable GPU: {backend.cupy_status()[1]}")
    return nccl


class NCCLComm(MPIComm):
    """All-reduce on the GPUs with NCCL (one GPU per rank: rank r uses device r modulo the devices
    of its node); broadcasts and decisions go over MPI, which also carries NCCL's unique id."""

    name = "nccl"

    def __init__(self, comm=None):
        super().__init__(comm)
        uid = error = None
        if self.rank == 0:  # its failure goes to every rank, which all raise it: never a hang
            try:
                uid = _nccl().get_unique_id()
            except Exception as e:
                error = e if isinstance(e, DeviceError) else DeviceError(
                    f"comm='nccl': rank 0 could not make NCCL's unique id: {type(e).__name__}: {e}")
        uid, error = self.comm.bcast((uid, error), root=0)
        if error is not None:
            raise error
        # the device of this rank: the rank's place among the ranks of its node
        local = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED).Get_rank()
        nccl = _nccl()
        self.device = backend.use_device(local)
        self.nccl = nccl.NcclCommunicator(self.size, uid, self.rank)

    def allreduce(self, a):
        """``a`` <- the sum of ``a`` over the ranks, in place: on the GPUs with NCCL, on the
        current stream (host numbers, such as a cost, over MPI)."""
        if self.size == 1 or backend.xp_of(a) is np:
            return super().allreduce(a)
        nccl = backend.nccl()
        if a.device.id != self.device:
            raise DeviceError(f"comm='nccl': this rank's NCCL communicator is on GPU {self.device} "
                              f"but the network is on GPU {a.device.id}; make the communicator "
                              f"(gpubp.distributed.NCCLComm()) before the network")
        dtype = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64}[a.dtype]
        stream = backend.xp_of(a).cuda.get_current_stream()
        self.nccl.allReduce(a.data.ptr, a.data.ptr, a.size, dtype, nccl.NCCL_SUM, stream.ptr)
        return a


def get(comm):
    """A communicator from ``None`` (no data parallelism), ``"mpi"``, ``"nccl"`` or an object."""
    if comm is None or isinstance(comm, MPIComm):
        return comm
    if comm == "mpi":
        return MPIComm()
    if comm == "nccl":
        return NCCLComm()
    raise unknown_name("comm", comm, COMMS)


def share(columns, rank, size):
    """Rank ``rank``'s slice of a global batch: the r-th of ``size`` nearly equal parts."""
    k = columns.shape[0]
    lo, hi = rank * k // size, (rank + 1) * k // size
    return columns[lo:hi]


def digest(*arrays):
    """A short fingerprint of arrays' shapes, dtypes and bytes (on the host), for comparing the
    data of several ranks without sending it."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(backend.to_host(a))
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def agree(comm, what, **values):
    """Every rank checks, collectively, that its ``values`` equal rank 0's: the same arguments
    and the same data (pass a :func:`digest`). On a difference every rank raises the same
    ConfigError, naming ``what``, each value that differs and the ranks that hold another one.
    Without a comm, or on one rank, there is nothing to compare."""
    if comm is None or comm.size == 1:
        return
    mine = {k: repr(v) for k, v in values.items()}
    every = comm.comm.allgather(mine)
    wrong = []
    for key, want in every[0].items():
        ranks = [r for r, theirs in enumerate(every) if theirs.get(key) != want]
        if ranks:
            got = ", ".join(f"rank {r} has {every[r].get(key)}" for r in ranks[:3])
            wrong.append(f"{key}: rank 0 has {want}, {got}")
    if wrong:
        raise ConfigError(f"{what}: the {comm.size} ranks were given different arguments or data "
                          f"(every rank must pass the same): " + "; ".join(wrong))


def all_ready(comm, error=None):
    """A collective step before work that every rank must do together: each rank says whether
    it failed (``error``, an exception, or None). If any did, every rank raises the first failing
    rank's error (as a GpubpError of the same message), so that no rank waits for one that left.
    Returns None when every rank is ready."""
    if comm is None or comm.size == 1:
        if error is not None:
            raise error
        return
    line = None if error is None else f"{type(error).__name__}: {error}"
    every = comm.comm.allgather(line)
    failed = [(r, e) for r, e in enumerate(every) if e is not None]
    if not failed:
        return
    if error is not None:
        raise error
    rank, line = failed[0]
    raise RankFailed(f"rank {rank} of {comm.size} failed: {line}")


def abort_on_error(comm, error):
    """Print this rank's error and end the whole job (the other ranks would wait forever)."""
    sys.stderr.write(f"gpubp: rank {comm.rank} of {comm.size}: {type(error).__name__}: {error}; "
                     f"aborting all ranks\n")
    sys.stderr.flush()
    if os.environ.get("GPUBP_DEBUG"):
        import traceback
        traceback.print_exception(error)
    comm.abort(1)
