"""Data-parallel training: N ranks under mpiexec take the step one process takes on the whole
batch; an error on one rank ends the job. Runs real mpiexec jobs (the mpich wheel's) on the CPU."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gpubp
from gpubp import distributed

MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install -e '.[mpi]')")
ENV = dict(os.environ, GPUBP_DEVICE="cpu", OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.getcwd())


def mpiexec(n, script, tmp_path, *args, timeout=120):
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(script))
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(path), *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=timeout, cwd=tmp_path)


TRAIN = """
    import sys
    import numpy as np
    import gpubp
    from mpi4py import MPI

    dtype, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 203))
    Y = np.eye(3)[:, rng.integers(0, 3, 203)]
    Xv = rng.normal(size=(5, 40))
    Yv = np.eye(3)[:, rng.integers(0, 3, 40)]
    net = gpubp.Network([5, 16, 3], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype=dtype, device="cpu", seed=1)
    h = net.fit(X, Y, epochs=4, batch_size=32, l2=1e-3, validation_data=(Xv, Yv), comm="mpi")
    every = MPI.COMM_WORLD.gather(np.array(net.params.flat), root=0)
    if MPI.COMM_WORLD.rank == 0:
        np.savez(out, params=np.array(net.params.flat), cost=h["cost"], val=h["val_cost"],
                 same=all(np.array_equal(p, every[0]) for p in every))
"""


def single(dtype):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 203)), np.eye(3)[:, rng.integers(0, 3, 203)]
    Xv, Yv = rng.normal(size=(5, 40)), np.eye(3)[:, rng.integers(0, 3, 40)]
    net = gpubp.Network([5, 16, 3], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype=dtype, device="cpu", seed=1)
    h = net.fit(X, Y, epochs=4, batch_size=32, l2=1e-3, validation_data=(Xv, Yv))
    return net, h


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("dtype, bound", [("float64", 1e-12), ("float32", 1e-5)])
def test_n_ranks_take_the_step_of_one_process(n, dtype, bound, tmp_path):
    """Bounds: the ranks' partial gradients are summed in another order than one process sums
    its products, a few ulps a step; measured after 4 epochs (28 steps): 1e-16 in float64 and
    5e-8 in float32."""
    run = mpiexec(n, TRAIN, tmp_path, dtype, tmp_path / "out.npz")
    assert run.returncode == 0, run.stderr
    got = np.load(tmp_path / "out.npz")
    net, h = single(dtype)
    want = np.array(net.params.flat)
    assert bool(got["same"]), "the ranks' parameters differ"
    assert np.abs(got["params"] - want).max() / np.abs(want).max() < bound
    np.testing.assert_allclose(got["cost"], h["cost"], rtol=bound)
    np.testing.assert_allclose(got["val"], h["val_cost"], rtol=bound)


FAIL = """
    import numpy as np
    import gpubp
    from mpi4py import MPI

    rank = MPI.COMM_WORLD.rank
    X, Y = np.ones((3, 40)), np.ones((1, 40))
    if rank == 1:
        X[0, 5] = np.nan  # this rank's data are bad: it raises, the others wait in an all-reduce
    net = gpubp.Network([3, 4, 1], device="cpu", seed=0)
    net.fit(X, Y, epochs=50, batch_size=4, comm="mpi")
    print("finished", flush=True)
"""


def test_an_error_on_one_rank_ends_the_job_with_its_message(tmp_path):
    t = time.perf_counter()
    run = mpiexec(2, FAIL, tmp_path, timeout=60)
    assert run.returncode != 0 and time.perf_counter() - t < 30
    assert "rank 1 of 2: DataError: X contains 1 NaN" in run.stderr
    assert "aborting all ranks" in run.stderr and "finished" not in run.stdout


def test_the_command_line_trains_on_ranks_and_rank_0_writes(tmp_path):
    run = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "gpubp", "train", "--comm",
                          "mpi", "--epochs", "2", "--data", "iris", "--save", "m.npz", "--no-plot"],
                         capture_output=True, text=True, env=ENV, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("model: m.npz") == 1 and run.stdout.count("epoch 2/2") == 1
    assert gpubp.load(tmp_path / "m.npz").training.epoch == 2


def test_the_estimators_take_comm(tmp_path):
    script = """
        import numpy as np
        from mpi4py import MPI
        from sklearn.datasets import load_iris
        from gpubp.sklearn import MLPClassifier
        X, y = load_iris(return_X_y=True)
        kw = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, tol=0)
        a = MLPClassifier(comm="mpi", **kw).fit(X, y)
        if MPI.COMM_WORLD.rank == 0:
            b = MLPClassifier(**kw).fit(X, y)
            err = max(np.abs(p - q).max() for p, q in zip(a.coefs_, b.coefs_))
            print("max difference", err)
    """
    run = mpiexec(2, script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.split("max difference")[1]) < 1e-12


def test_share_splits_a_batch_into_nearly_equal_parts():
    cols = np.arange(10)
    parts = [distributed.share(cols, r, 4) for r in range(4)]
    assert [len(p) for p in parts] == [2, 3, 2, 3]
    assert np.array_equal(np.concatenate(parts), cols)
    assert [len(distributed.share(np.arange(3), r, 4)) for r in range(4)] == [0, 1, 1, 1]


def test_unknown_comm():
    with pytest.raises(gpubp.NameNotFound, match="valid comms are: mpi, nccl"):
        gpubp.Network([2, 1], device="cpu").fit(np.ones((2, 3)), np.ones((1, 3)), comm="tcp")


def test_batches_smaller_than_the_ranks(tmp_path):
    """Batches of 2 on 4 ranks: two ranks have no share; they send zeros and step alike."""
    script = """
        import numpy as np, gpubp
        from mpi4py import MPI
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(5, 21)), np.eye(3)[:, rng.integers(0, 3, 21)]
        def net():
            return gpubp.Network([5, 4, 3], activation="tanh", output="softmax",
                                 loss="cross_entropy", dtype="float64", device="cpu", seed=1)
        a, b = net(), net()
        a.fit(X, Y, epochs=2, batch_size=2, comm="mpi", l2=0.01)
        b.fit(X, Y, epochs=2, batch_size=2, l2=0.01)
        if MPI.COMM_WORLD.rank == 0:
            print("max difference", np.abs(a.params.flat - b.params.flat).max())
    """
    run = mpiexec(4, script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.split("max difference")[1]) < 1e-14


def test_ranks_shuffle_alike_without_a_seed(tmp_path):
    """A network made without a seed draws its own shuffling generator on each rank: fit makes
    every rank shuffle as rank 0 does (else the ranks would slice different batches)."""
    script = """
        import numpy as np, gpubp
        from mpi4py import MPI
        X, Y = np.ones((3, 40)), np.ones((1, 40))
        net = gpubp.Network([3, 2, 1], device="cpu")  # seed=None
        net.fit(X, Y, epochs=1, batch_size=8, comm="mpi")
        states = MPI.COMM_WORLD.gather(net.training.rng.bit_generator.state, root=0)
        if MPI.COMM_WORLD.rank == 0:
            print("alike", all(s == states[0] for s in states))
    """
    run = mpiexec(2, script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "alike True" in run.stdout


def test_a_stop_mid_epoch_on_ranks_resumes_in_one_process(tmp_path):
    """Stopped after 2 of an epoch's 4 batches on 2 ranks and saved by rank 0, the run resumes
    in one process as if never stopped: the checkpoint holds the cost of both ranks' shares."""
    script = """
        import sys, numpy as np, gpubp
        from mpi4py import MPI
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(5, 32)), np.eye(3)[:, rng.integers(0, 3, 32)]
        net = gpubp.Network([5, 4, 3], activation="tanh", output="softmax", loss="cross_entropy",
                            dtype="float64", device="cpu", seed=1)
        batches = iter(range(100))
        net.fit(X, Y, epochs=2, batch_size=8, comm="mpi", stop=lambda: next(batches) == 1)
        if MPI.COMM_WORLD.rank == 0:
            net.save(sys.argv[1])
    """
    run = mpiexec(2, script, tmp_path, tmp_path / "stopped.npz")
    assert run.returncode == 0, run.stderr
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 32)), np.eye(3)[:, rng.integers(0, 3, 32)]
    resumed = gpubp.load(tmp_path / "stopped.npz")
    assert resumed.training.mid_epoch and resumed.training.position == 16
    resumed.fit(X, Y, epochs=2, batch_size=8)
    straight = gpubp.Network([5, 4, 3], activation="tanh", output="softmax",
                             loss="cross_entropy", dtype="float64", device="cpu", seed=1)
    h = straight.fit(X, Y, epochs=2, batch_size=8)
    np.testing.assert_allclose(resumed.training.history["cost"], h["cost"], rtol=1e-12)
    np.testing.assert_allclose(resumed.params.flat, straight.params.flat, rtol=1e-12, atol=1e-15)


# ---- on a GPU (skipped where none answers) --------------------------------------------------

GPU_TRAIN = """
    import sys
    import numpy as np
    import gpubp
    from gpubp import backend, distributed
    from mpi4py import MPI

    comm = distributed.get(sys.argv[1])  # made before the network: NCCL picks this rank's GPU
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 203)), np.eye(3)[:, rng.integers(0, 3, 203)]
    net = gpubp.Network([5, 16, 3], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype="float64", device="gpu", seed=1)
    net.fit(X, Y, epochs=3, batch_size=32, comm=comm)
    ref = gpubp.Network([5, 16, 3], activation="tanh", output="softmax", loss="cross_entropy",
                        dtype="float64", device="cpu", seed=1)
    ref.fit(X, Y, epochs=3, batch_size=32)
    err = np.abs(backend.to_host(net.params.flat) - ref.params.flat).max()
    if MPI.COMM_WORLD.rank == 0:
        print("max difference", err)
"""


def _gpus():
    from conftest import gpu_usable
    if not gpu_usable():
        return 0
    from gpubp import backend
    return backend.cupy_status()[0].cuda.runtime.getDeviceCount()


@pytest.mark.gpu
@pytest.mark.parametrize("comm, ranks", [("nccl", 1), ("mpi", 2), ("nccl", 2)])
def test_data_parallel_on_gpus(comm, ranks, tmp_path):
    """One NCCL rank; MPI ranks sharing a device through host buffers; NCCL over two GPUs (NCCL
    refuses two ranks on one device)."""
    gpus = _gpus()
    if gpus == 0:
        pytest.skip("no usable CUDA device")
    if comm == "nccl" and ranks > gpus:
        pytest.skip(f"needs {ranks} GPUs; {gpus} here")
    env = dict(ENV, GPUBP_DEVICE="gpu")
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(GPU_TRAIN))
    run = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, str(path), comm],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.split("max difference")[1]) < 1e-10


@pytest.mark.skipif(gpubp.backend.cupy_status()[0] is not None, reason="a GPU is usable here")
def test_nccl_without_a_gpu_is_a_device_error_on_every_rank_not_a_hang(tmp_path):
    script = """
        import numpy as np, gpubp
        gpubp.Network([2, 1], device="cpu").fit(np.ones((2, 4)), np.ones((1, 4)), comm="nccl")
    """
    run = mpiexec(2, script, tmp_path, timeout=60)
    assert run.returncode != 0
    assert "DeviceError: comm='nccl' needs a usable GPU" in run.stderr, run.stderr
    with pytest.raises(gpubp.errors.DeviceError, match="comm='nccl' needs a usable GPU"):
        gpubp.Network([2, 1], device="cpu").fit(np.ones((2, 4)), np.ones((1, 4)), comm="nccl")


AGREE = """
    import sys
    import numpy as np
    import gpubp
    from gpubp import distributed
    from mpi4py import MPI

    comm = distributed.MPIComm()
    case = sys.argv[1]
    X = np.arange(12.0).reshape(3, 4)
    if case == "data" and comm.rank == 1:
        X[2, 3] += 1e-9                      # the same shape, other values
    lr = -1 if case == "args" and comm.rank == 1 else 0.01
    try:
        distributed.agree(comm, "fit", lr=lr, data=distributed.digest(X))
    except gpubp.GpubpError as e:
        print(f"rank {comm.rank}: {type(e).__name__}: {e}", flush=True)
        sys.exit(3)
    print(f"rank {comm.rank}: agreed", flush=True)
"""


@pytest.mark.parametrize("case, words", [("same", None), ("data", "data: rank 0 has"),
                                         ("args", "lr: rank 0 has 0.01, rank 1 has -1")])
def test_ranks_agree_on_arguments_and_data_before_they_start(case, words, tmp_path):
    """A rank given other data (same shape, one value off by 1e-9) or another argument: every
    rank stops with the same message naming what differs and where; none waits."""
    run = mpiexec(2, AGREE, tmp_path, case, timeout=60)
    if words is None:
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("agreed") == 2
        return
    assert run.returncode != 0
    for rank in (0, 1):
        assert f"rank {rank}: ConfigError: fit: the 2 ranks were given different" in run.stdout
    assert words in run.stdout


READY = """
    import sys
    from gpubp import distributed, errors

    comm = distributed.MPIComm()
    error = errors.DataError("no such file: y.csv") if comm.rank == int(sys.argv[1]) else None
    try:
        distributed.all_ready(comm, error)
    except Exception as e:
        print(f"rank {comm.rank}: {type(e).__name__}: {e}", flush=True)
        sys.exit(4)
    print(f"rank {comm.rank}: ready", flush=True)
"""


@pytest.mark.parametrize("failing", [0, 1, -1])
def test_one_ranks_failure_before_the_work_ends_every_rank(failing, tmp_path):
    """The collective readiness step: a rank that failed (say its data file is missing) stops
    with its own error and every other rank stops with that rank's message, at once."""
    t0 = time.monotonic()
    run = mpiexec(2, READY, tmp_path, failing, timeout=60)
    assert time.monotonic() - t0 < 30
    if failing < 0:
        assert run.returncode == 0 and run.stdout.count("ready") == 2, run.stderr
        return
    assert run.returncode != 0
    assert f"rank {failing}: DataError: no such file: y.csv" in run.stdout
    other = 1 - failing
    assert (f"rank {other}: RankFailed: rank {failing} of 2 failed: DataError: no such file: "
            f"y.csv") in run.stdout


def test_digest_tells_values_shapes_and_dtypes_apart():
    a = np.arange(6.0).reshape(2, 3)
    assert distributed.digest(a) == distributed.digest(a.copy())
    assert distributed.digest(a) != distributed.digest(a.reshape(3, 2))
    assert distributed.digest(a) != distributed.digest(a.astype(np.float32))
    b = a.copy()
    b[1, 2] = np.nextafter(b[1, 2], 10)
    assert distributed.digest(a) != distributed.digest(b)
    assert distributed.digest(a, b) != distributed.digest(b, a)


NONCANONICAL = """
    import sys
    import numpy as np
    import gpubp
    from mpi4py import MPI

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 61)), rng.uniform(size=(2, 61))
    net = gpubp.Network([4, 6, 2], activation="tanh", output="sigmoid", loss="mse",
                        dtype="float64", device="cpu", seed=2)
    h = net.fit(X, Y, epochs=3, batch_size=16, optimizer="sgd", lr=0.5, comm="mpi")
    if MPI.COMM_WORLD.rank == 0:
        np.savez(sys.argv[1], params=np.array(net.params.flat), cost=h["cost"])
"""


def test_a_non_canonical_output_on_ranks_takes_the_step_of_one_process(tmp_path):
    """sigmoid + mse goes through the chain rule, dZ[L] = dA[L] * chi'(Z[L]) with
    dA[L] = 2 (A[L] - Y) / (n m): m is the GLOBAL batch size on every rank (batches of 16 over
    3 ranks are shares of 5 and 6 examples)."""
    run = mpiexec(3, NONCANONICAL, tmp_path, tmp_path / "out.npz")
    assert run.returncode == 0, run.stderr
    got = np.load(tmp_path / "out.npz")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 61)), rng.uniform(size=(2, 61))
    net = gpubp.Network([4, 6, 2], activation="tanh", output="sigmoid", loss="mse",
                        dtype="float64", device="cpu", seed=2)
    h = net.fit(X, Y, epochs=3, batch_size=16, optimizer="sgd", lr=0.5)
    np.testing.assert_allclose(got["params"], net.params.flat, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["cost"], h["cost"], rtol=1e-12)


def test_a_stop_mid_epoch_on_ranks_resumes_on_ranks(tmp_path):
    """Stopped after 2 of an epoch's 4 batches on 2 ranks, saved, loaded on every rank and
    finished on 2 ranks: the epoch's cost counts the stopped part once (not once per rank)."""
    script = """
        import sys, numpy as np, gpubp
        from mpi4py import MPI
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(5, 32)), np.eye(3)[:, rng.integers(0, 3, 32)]
        if sys.argv[1] == "stop":
            net = gpubp.Network([5, 4, 3], activation="tanh", output="softmax",
                                loss="cross_entropy", dtype="float64", device="cpu", seed=1)
            batches = iter(range(100))
            net.fit(X, Y, epochs=2, batch_size=8, comm="mpi", stop=lambda: next(batches) == 1)
            if MPI.COMM_WORLD.rank == 0:
                net.save(sys.argv[2])
        else:
            net = gpubp.load(sys.argv[2])
            net.fit(X, Y, epochs=2, batch_size=8, comm="mpi")
            if MPI.COMM_WORLD.rank == 0:
                np.savez(sys.argv[3], cost=net.training.history["cost"],
                         params=np.array(net.params.flat))
    """
    ckpt, out = tmp_path / "stopped.npz", tmp_path / "out.npz"
    run = mpiexec(2, script, tmp_path, "stop", ckpt)
    assert run.returncode == 0, run.stderr
    run = mpiexec(2, script, tmp_path, "resume", ckpt, out)
    assert run.returncode == 0, run.stderr
    got = np.load(out)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 32)), np.eye(3)[:, rng.integers(0, 3, 32)]
    straight = gpubp.Network([5, 4, 3], activation="tanh", output="softmax",
                             loss="cross_entropy", dtype="float64", device="cpu", seed=1)
    h = straight.fit(X, Y, epochs=2, batch_size=8)
    np.testing.assert_allclose(got["cost"], h["cost"], rtol=1e-12)
    np.testing.assert_allclose(got["params"], straight.params.flat, rtol=1e-12, atol=1e-15)


FIT_AGREE = """
    import sys
    import numpy as np
    import gpubp
    from mpi4py import MPI

    rank = MPI.COMM_WORLD.Get_rank()
    case = sys.argv[1]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 40))
    Y = X[:1] * 2 - X[1:2]
    if case == "data" and rank == 1:
        X[2, 5] += 1e-3                                   # the same shape, one value off
    lr = 0.02 if case == "lr" and rank == 1 else 0.01
    # no seed: each rank draws its own initial parameters; fit starts all from rank 0's
    net = gpubp.Network([3, 4, 1], output="identity", loss="mse", device="cpu")
    try:
        net.fit(X, Y, epochs=2, batch_size=8, optimizer="sgd", lr=lr, comm="mpi")
    except gpubp.GpubpError as e:
        print(f"rank {rank}: {type(e).__name__}: {e}", flush=True)
        sys.exit(3)
    every = MPI.COMM_WORLD.gather(np.array(net.params.flat), root=0)
    if rank == 0:
        print("same" if all(np.array_equal(every[0], p) for p in every) else "differ", flush=True)
"""


@pytest.mark.parametrize("case, words", [("same", None), ("data", "data: rank 0 has"),
                                         ("lr", "lr: rank 0 has 0.01, rank 1 has 0.02")])
def test_a_data_parallel_fit_checks_that_ranks_agree_and_starts_from_rank_0(case, words,
                                                                           tmp_path):
    """Found missing by a mutation run of train.py: fit itself calls agree (other data or
    another argument on one rank ends every rank) and broadcasts rank 0's parameters (networks
    made without a seed differ on each rank before fit, and are the same after it)."""
    run = mpiexec(2, FIT_AGREE, tmp_path, case, timeout=60)
    if words is None:
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "same"
        return
    assert run.returncode != 0
    # every rank raises it (or fit aborts the job with it, on stderr); one rank's exit may end
    # the job before the other prints
    out = run.stdout + run.stderr
    assert "ConfigError: fit: the 2 ranks were given different" in out, out
    assert words in out, out


def test_ranks_seeded_with_generators_agree_and_shuffle_as_rank_0(tmp_path):
    """A Generator seed (as a network takes) is compared by its kind, not its repr (which names
    its address); every rank shuffles as rank 0, so the result is one process's with seed 5."""
    script = """
        import numpy as np, gpubp
        from mpi4py import MPI
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(3, 40)), rng.uniform(size=(1, 40))
        net = gpubp.Network([3, 4, 1], dtype="float64", device="cpu", seed=1)
        net.fit(X, Y, epochs=2, batch_size=8, optimizer="sgd", lr=0.1, seed=np.random.default_rng(5),
                comm="mpi")
        one = gpubp.Network([3, 4, 1], dtype="float64", device="cpu", seed=1)
        one.fit(X, Y, epochs=2, batch_size=8, optimizer="sgd", lr=0.1, seed=5)
        if MPI.COMM_WORLD.rank == 0:
            print("max difference", np.abs(np.array(net.params.flat) - np.array(one.params.flat)).max())
    """
    run = mpiexec(2, script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.split("max difference")[1]) < 1e-12
