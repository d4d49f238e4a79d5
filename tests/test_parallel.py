"""The worker pool: every unit is done exactly once, whichever process does it, even when a worker
dies before or after reporting some of its units."""

from __future__ import annotations

import marshal
import os
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from openusage import parallel
from openusage.calls import UsageRecord
from openusage.packed import Codec, codec

MARSHAL: Codec[Any] = Codec(marshal.dumps, marshal.loads)


def results(units: int, workers: int, work: Callable[[int], Any]) -> list[tuple[int, Any]]:
    return sorted(parallel.run(units, work, workers, MARSHAL), key=lambda pair: pair[0])


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_unit_comes_back_once_with_its_result(workers: int) -> None:
    assert results(50, workers, lambda i: (i, i * i)) == [(i, (i, i * i)) for i in range(50)]


def test_units_of_a_worker_that_dies_are_done_here() -> None:
    parent = os.getpid()

    def work(i: int) -> int:
        if os.getpid() != parent and i % 3 == 0:
            os._exit(9)  # a worker killed in the middle of its unit
        return i + 1000

    assert results(40, 2, work) == [(i, i + 1000) for i in range(40)]


def test_a_worker_that_raises_hands_its_unit_back() -> None:
    parent = os.getpid()

    def work(i: int) -> int:
        if os.getpid() != parent and i == 5:
            raise RuntimeError("a worker's unit failed")
        return -i

    assert results(12, 2, work) == [(i, -i) for i in range(12)]


def test_large_results_cross_the_pipe_whole() -> None:
    big = "x" * 3_000_000  # several pipe buffers
    assert results(4, 2, lambda i: [i, big]) == [(i, [i, big]) for i in range(4)]


def test_a_consumer_that_stops_early_leaves_no_worker_behind() -> None:
    # A scan without the cache that finds too many calls stops reading and starts again another way.
    def work(i: int) -> int:
        time.sleep(0.005)
        return i

    runs = parallel.run(200, work, 3, MARSHAL)
    next(runs)
    runs.close()  # what leaving the loop on an exception does to the generator
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every worker was reaped


class _Unit(msgspec.Struct, array_like=True, frozen=True, gc=False):
    records: list[UsageRecord]


def test_typed_results_cross_the_pipe_with_their_types_even_where_msgpack_cannot_hold_them() -> None:
    """A count beyond 64 bits and a name with a lone surrogate (a directory name that is not UTF-8)
    go through `packed`'s other form and come back equal, as Structs."""
    def work(i: int) -> _Unit:
        odd = [UsageRecord("k\udcff", None, None, 2**64 + i, 0, 0, 0)] if i % 2 else []
        return _Unit([UsageRecord(f"m{i}", 1.5 + i, "kimi-k2", i, 2, 3, 4, "turn", 1, 7), *odd])

    got = sorted(parallel.run(6, work, 2, codec(_Unit)), key=lambda pair: pair[0])
    assert got == [(i, work(i)) for i in range(6)]
    assert all(type(record) is UsageRecord for _, unit in got for record in unit.records)
