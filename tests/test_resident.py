"""A resident front end (the coming dashboard and exporter) calls the api from threads.

After `api.serve_from_threads()` nothing forks, the process-wide garbage collector is never paused,
each thread reads with its own buffer, and concurrent snapshots and call queries from several threads,
with and without the cache, give exactly the figures of a one-shot run.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from openusage import api, parallel, reading, scan
from openusage.query import CallsQuery

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import corpus

NOW = datetime.fromisoformat(corpus.DEFAULT_NOW.replace("Z", "+00:00"))


class Resident(NamedTuple):
    one_shot: str  # the figures of a one-shot (forking) run, before threads mode
    events: list[str]  # every fork and every pause of the collector since


@pytest.fixture
def resident(monkeypatch: pytest.MonkeyPatch) -> Resident:
    """Threads mode, with every fork and every pause of the collector recorded as a failure."""
    events: list[str] = []

    def no_fork() -> int:
        events.append("fork")
        raise AssertionError("a resident process forked")

    real_disable = gc.disable

    def record_disable() -> None:
        events.append("gc.disable")
        real_disable()

    monkeypatch.setattr(parallel, "_strategy", [parallel.FORK])
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)  # small homes still read on every worker
    monkeypatch.setattr(scan, "PARALLEL_MIN_SESSIONS", 0)
    one_shot = _figures(api.snapshot(os.environ, NOW, use_cache=False))
    api.serve_from_threads()
    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr(gc, "disable", record_disable)
    return Resident(repr(one_shot), events)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus.generate(tmp_path / "kimi", corpus.Params(sessions=30, size_mb=2.0, seed=3))
    monkeypatch.setenv("KIMI_SHARE_DIR", str(tmp_path / "kimi"))


def _figures(snapshots: Any) -> list[Any]:
    return [(s.account_id, s.metrics, s.models, s.daily_series, s.diagnostics) for s in snapshots.snapshots]


def test_concurrent_snapshots_from_threads_equal_a_one_shot_run(resident: Resident) -> None:
    gc.enable()
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(api.snapshot, os.environ, NOW, use_cache=use_cache)
                for use_cache in (False, True, True, False, True, True, True, False)]
        results = [repr(_figures(run.result())) for run in runs]
    assert results == [resident.one_shot] * len(runs)
    assert resident.events == []  # no fork, no pause of the collector
    assert gc.isenabled()


def test_concurrent_call_queries_from_threads_agree(resident: Resident) -> None:
    baseline = sorted(api.calls(os.environ, CallsQuery(), use_cache=False).calls,
                      key=lambda c: (c.session, c.time or 0.0, c.input, c.output))
    assert baseline
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(api.calls, os.environ, CallsQuery(), use_cache=use_cache)
                for use_cache in (True, True, False, True)]
        for run in runs:
            assert sorted(run.result().calls, key=lambda c: (c.session, c.time or 0.0, c.input, c.output)) == baseline
    assert resident.events == []


def test_threads_really_read_in_parallel_batches(resident: Resident, monkeypatch: pytest.MonkeyPatch) -> None:
    names: set[str] = set()
    original = reading._reader

    def reader() -> Any:
        names.add(threading.current_thread().name)
        return original()

    monkeypatch.setattr(reading, "_reader", reader)
    api.snapshot(os.environ, NOW, use_cache=False)
    assert any(name.startswith("openusage-read") for name in names)
    assert resident.events == []


def test_concurrent_scratch_scans_from_threads_each_keep_a_file_of_their_own(
        resident: Resident, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """At scratch size every scan without the cache reads through a scratch file of its own, its ledger
    stored there in parts and read until its snapshot is built, then removed: threads share none."""
    import tempfile

    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    monkeypatch.setattr(scan, "SCRATCH_MIN_SESSIONS", 0)
    monkeypatch.setattr(reading, "LEDGER_BATCH", 7)  # 30 sessions: spilled four times, read back in parts
    real = reading.scratch_store
    opened: list[str] = []

    def counted() -> Any:
        opened.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(reading, "scratch_store", counted)
    baseline = sorted(api.calls(os.environ, CallsQuery(), use_cache=False).calls,
                      key=lambda c: (c.session, c.time or 0.0, c.input, c.output))
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(api.snapshot, os.environ, NOW, use_cache=False) for _ in range(6)]
        queries = [pool.submit(api.calls, os.environ, CallsQuery(), use_cache=False) for _ in range(2)]
        results = [repr(_figures(run.result())) for run in runs]
        for query in queries:
            assert sorted(query.result().calls, key=lambda c: (c.session, c.time or 0.0, c.input, c.output)) == baseline
    assert results == [resident.one_shot] * len(runs)
    assert len(opened) == 9
    assert list(directory.iterdir()) == []
    assert resident.events == []
