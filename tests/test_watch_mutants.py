"""Tests that kill the mutants of gpubp/state.py's Watch and TrainingState's watch methods that
tests/test_watch.py and tests/test_state.py let live (issue 16's mutation run,
benchmarks/results/2026-12-04_mutation_issue16.txt). Values are multiples of 1/8: exact."""

import numpy as np
import pytest

from gpubp import optim
from gpubp.state import TrainingState, Watch

TOL = 0.25


def kept(watch, values, tol=TOL):
    """Show the watch ``values`` with epoch e's parameters [e]; the epoch it keeps."""
    for e, v in enumerate(values):
        watch.see(v, tol, np.array([float(e)]))
    return None if watch.best_params is None else int(watch.best_params[0])


@pytest.mark.parametrize("goal", ["min", "max"])
def test_an_equal_value_is_no_gain_under_scikit_learns_rule(goal):
    """scikit-learn moves its best (and copies the coefficients) on ``loss < best_loss`` /
    ``score > best_score``, strictly: a repeat of the best keeps the first epoch's parameters,
    and is an epoch waited."""
    w = Watch(goal, any_gain=True)
    assert kept(w, [0.5, 0.5, 0.5]) == 0
    assert (w.best, w.waited) == (0.5, 2)


def test_a_fresh_training_state():
    """No stopped epoch (order None, position 0, partial 0.0), not interrupted, fit's watch."""
    s = TrainingState(optim.SGD(0.1), np.random.default_rng(0))
    assert (s.order, s.position, s.partial, s.interrupted) == (None, 0, 0.0, False)
    assert type(s.position) is int and type(s.partial) is float
    assert not s.mid_epoch and s.epoch == 0 and s.history == {"cost": []}
    assert s.early.is_fits and s.best == np.inf and s.best_params is None and s.waited == 0
