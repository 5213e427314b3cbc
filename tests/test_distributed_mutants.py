"""The collective checks before data-parallel work (agree, all_ready, digest), in-process on a
stand-in communicator that plays every rank's answer: found missing by a mutation run of
gpubp/distributed.py (the MPI tests in test_distributed.py run the same code in 2 processes)."""

import numpy as np
import pytest

from gpubp import distributed
from gpubp.errors import ConfigError, DataError


class _Comm:
    """Rank ``rank`` of ``size``: ``allgather`` returns the other ranks' values (``others``, a
    function of this rank's value giving the list of every rank's, this one's included)."""

    def __init__(self, size, others=None, rank=0):
        self.size, self.rank, self.comm = size, rank, self
        self.others, self.gathered = others, []

    def allgather(self, mine):
        if self.others is None:
            raise AssertionError("a collective call on a communicator that needs none")
        self.gathered.append(mine)
        return self.others(mine)


def test_agree_without_a_comm_or_on_one_rank_compares_nothing():
    assert distributed.agree(None, "fit", lr=1) is None
    assert distributed.agree(_Comm(1), "fit", lr=1) is None  # no allgather on one rank


def test_agree_passes_when_every_rank_has_the_same_values():
    comm = _Comm(3, lambda mine: [mine, dict(mine), dict(mine)])
    assert distributed.agree(comm, "fit", lr=0.01, data="ab12") is None
    assert comm.gathered == [{"lr": "0.01", "data": "'ab12'"}]  # as repr, the same on each rank


def test_agree_names_each_value_that_differs_and_at_most_three_ranks_that_hold_another():
    def every(mine):
        return [mine, {"lr": "-1", "data": mine["data"]}, {"lr": "0.5", "data": "'x'"},
                {"lr": "0.5", "data": mine["data"]}, {"lr": "2"}]

    with pytest.raises(ConfigError) as e:
        distributed.agree(_Comm(5, every), "fit", lr=0.01, data="ab12")
    assert str(e.value) == (
        "fit: the 5 ranks were given different arguments or data (every rank must pass the "
        "same): lr: rank 0 has 0.01, rank 1 has -1, rank 2 has 0.5, rank 3 has 0.5; "
        "data: rank 0 has 'ab12', rank 2 has 'x', rank 4 has None")


def test_agree_compares_with_rank_0_on_every_rank():
    comm = _Comm(2, lambda mine: [{"lr": "0.01"}, mine], rank=1)
    with pytest.raises(ConfigError, match="lr: rank 0 has 0.01, rank 1 has 0.02$"):
        distributed.agree(comm, "fit", lr=0.02)


def test_all_ready_without_a_comm_or_on_one_rank_raises_this_ranks_error_itself():
    error = DataError("no such file: y.csv")
    for comm in (None, _Comm(1)):
        assert distributed.all_ready(comm) is None
        with pytest.raises(DataError) as e:
            distributed.all_ready(comm, error)
        assert e.value is error


def test_all_ready_when_every_rank_is_ready_returns_none():
    comm = _Comm(3, lambda mine: [mine, None, None])
    assert distributed.all_ready(comm) is None and comm.gathered == [None]


def test_all_ready_raises_the_first_failing_ranks_message_on_the_others():
    comm = _Comm(4, lambda mine: [mine, None, "DataError: no such file: y.csv", "ConfigError: lr"])
    with pytest.raises(distributed.RankFailed) as e:
        distributed.all_ready(comm)
    assert str(e.value) == "rank 2 of 4 failed: DataError: no such file: y.csv"


def test_all_ready_on_a_failing_rank_raises_its_own_error_after_telling_the_others():
    error = DataError("no such file: y.csv")
    comm = _Comm(2, lambda mine: [None, mine], rank=1)
    with pytest.raises(DataError) as e:
        distributed.all_ready(comm, error)
    assert e.value is error and comm.gathered == ["DataError: no such file: y.csv"]


def test_a_digest_is_sixteen_hex_digits_of_sha256():
    import hashlib

    a = np.arange(6.0).reshape(2, 3)
    d = distributed.digest(a)
    h = hashlib.sha256(b"<f8(2, 3);" + a.tobytes()).hexdigest()
    assert d == h[:16] and len(d) == 16
    assert distributed.digest(np.asfortranarray(a)) == d   # the values, not the memory layout
