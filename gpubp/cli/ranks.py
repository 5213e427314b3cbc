"""``gpubp train --comm`` on the ranks of an MPI job (``mpiexec -n N gpubp train --comm mpi``).

Every rank runs the whole command line, so every rank can fail on its own before training (a
missing ``--data`` file, a bad ``--lr``, another ``--batch-size``): a rank that failed must not
leave the others waiting for it in a collective call. So the ranks get ready together
(:func:`ready`: one collective step after the setup; every rank learns whether any failed and
stops with that rank's message), then agree on their options and data (a digest, compared
collectively), and only then train. A command line that does not even parse on one rank takes
part in the first step too (:func:`failed_to_parse`).

Only rank 0 speaks: the other ranks' stdout goes nowhere, and their errors are left to rank 0
(:func:`silent`). A rank's failure during training ends the whole job (``gpubp.train.fit``);
that rank says why.
"""

import os
import sys

from .. import distributed
from ..errors import GpubpError


def comm_of(argv):
    """The ``--comm`` value of a ``gpubp train`` command line (read from the words, for one that
    did not parse), or None."""
    argv = [str(a) for a in argv]
    command = next((a for a in argv if not a.startswith("-")), None)
    if command != "train":
        return None
    for i, a in enumerate(argv):
        if a == "--comm" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--comm="):
            return a.split("=", 1)[1]
    return None


def failed_to_parse(argv, error):
    """This rank's command line did not parse: under ``--comm``, the other ranks (waiting in
    :func:`ready`) are told; then ``error`` is raised here."""
    if comm_of(argv) in distributed.COMMS:
        try:
            comm = distributed.MPIComm()
        except GpubpError:  # no MPI here (mpi4py missing): no other rank to tell
            raise error from None
        ready(comm, error)  # every rank takes the plain MPI step first
    raise error


def ready(comm, error=None):
    """The collective step after a setup: raises ``error`` on this rank, or the first failing
    rank's error (:class:`gpubp.distributed.RankFailed`) on the others; nothing when all are
    ready. Without a comm, raises ``error`` if any."""
    distributed.all_ready(comm, error)


def agree(comm, **values):
    """Every rank has the same ``values`` (options and digests), or every rank raises the same
    ConfigError naming what differs and where."""
    distributed.agree(comm, f"gpubp train --comm {comm.name}", **values)


def described(comm):
    """``", 4 ranks over MPI"`` (empty without data parallelism)."""
    if comm is None:
        return ""
    return f", {comm.size} rank{'s' if comm.size != 1 else ''} over {comm.name.upper()}"


def silent():
    """Is this process a rank other than 0 of an MPI job that gpubp joined? (It prints nothing:
    rank 0 reports, errors of other ranks included.)"""
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is None:
        return False
    try:
        if not MPI.Is_initialized() or MPI.Is_finalized():
            return False
        return MPI.COMM_WORLD.Get_rank() != 0
    except Exception:
        return False


#: the variables in which launchers tell a process its rank and the number of ranks
LAUNCHERS = (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
             ("PMIX_RANK", None), ("SLURM_PROCID", "SLURM_NTASKS"))


def launched(environ=None):
    """``(rank, size)`` when a launcher (mpiexec, srun) started this process as one of several
    ranks, else None (read from the launcher's environment variables, without MPI)."""
    environ = os.environ if environ is None else environ
    for rank, size in LAUNCHERS:
        try:
            r, n = int(environ[rank]), int(environ[size]) if size else None
        except (KeyError, ValueError):
            continue
        if n is not None and n > 1:
            return r, n
    return None


def alone_note(comm, environ=None):
    """The note for ``mpiexec -n N gpubp train`` without --comm (None when there is nothing to
    say): N separate runs, each on all the data, writing the same files."""
    where = launched(environ)
    if comm is not None or where is None:
        return None
    rank, size = where
    return (f"note: rank {rank} of {size} ranks launched without --comm: each rank trains alone "
            f"on all the data and writes the same files; add --comm mpi to train together")
