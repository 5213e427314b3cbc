"""A mutant of gpubp/sklearn/base.py that the estimators' tests let live (issue 16's mutation
run): with comm and random_state=None, every rank draws scikit-learn's initialization as rank 0
does. Runs a real mpiexec job (the mpich wheel's) on the CPU."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install -e '.[mpi]')")
pytest.importorskip("sklearn")


def test_without_a_random_state_every_rank_starts_from_rank_0s_draw(tmp_path):
    """Each rank seeds NumPy's global generator differently; the estimator's first draw is
    decided by rank 0, so both ranks end with the same coefficients (0 iterations would be
    enough: the initializations differ otherwise)."""
    script = """
        import numpy as np
        from mpi4py import MPI
        from gpubp.sklearn import MLPRegressor
        rank = MPI.COMM_WORLD.rank
        np.random.seed(100 + rank)
        X = np.arange(40.0).reshape(20, 2) / 40
        y = X[:, 0] - X[:, 1]
        est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, comm="mpi", device="cpu")
        import warnings
        warnings.simplefilter("ignore")
        est.fit(X, y)
        flat = np.concatenate([c.ravel() for c in est.coefs_ + est.intercepts_])
        everyone = MPI.COMM_WORLD.allgather(flat)
        if rank == 0:  # one writer: the ranks' lines would interleave
            print("ranks", len(everyone), "same", all(np.array_equal(everyone[0], f)
                                                      for f in everyone))
    """
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(script))
    env = dict(os.environ, GPUBP_DEVICE="cpu", OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    run = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(path)], capture_output=True,
                         text=True, env=env, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "ranks 2 same True" in run.stdout, run.stdout
