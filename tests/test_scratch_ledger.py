"""A scan without the cache of a very large history: read through a scratch file that the caller keeps
(`scan.refresh`'s `scratch` stack), its ledger stored there in parts and read lazily, and its settled
rows read from there by the reports, then the file removed (reading.scratch_store, settled.py, api.py)."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kimi_home import at, comparable, env_for, explain, invoke, run_snapshot, uid
from openusage import api, reading, scan
from openusage.providers import file_provider
from openusage.providers.base import SessionList
from openusage.windows import DAY, windows
from test_settled_parts import forked_home
from test_summary import _whole


@pytest.fixture
def scratch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the scratch files go (the temporary directory, for this test only)."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def _at_scratch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scan without the cache goes through a scratch file, and its ledger is spilled every two
    sessions: built in parts, as at 500,000 sessions."""
    monkeypatch.setattr(scan, "SCRATCH_MIN_SESSIONS", 0)
    monkeypatch.setattr(reading, "LEDGER_BATCH", 2)


def test_the_ledger_of_a_scratch_scan_is_read_in_parts_until_the_callers_stack_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_dir: Path) -> None:
    forked_home(tmp_path / "home")
    env = {"KIMI_SHARE_DIR": str(tmp_path / "home"), "HOME": os.environ["HOME"]}
    account = api.detect(env).accounts[0]
    provider = file_provider(account.provider)
    assert provider is not None
    held = scan.refresh(None, provider, account, env)  # no stack: held in memory, whatever the size
    assert held.scratch is None
    _at_scratch_size(monkeypatch)
    window = windows(datetime.fromisoformat("2026-11-26T10:00:00+00:00"))  # from 11-19 10:00: not the 18th
    with ExitStack() as scratch:
        refreshed = scan.refresh(None, provider, account, env, keep_read_calls=True, scratch=scratch)
        assert refreshed.scratch is not None
        assert refreshed.calls is None  # nothing held in memory: read from the scratch file when asked
        ledger = refreshed.ledger
        assert ledger.sessions == {}  # only its head: the parts stay in the scratch file
        assert ledger.day_sessions == {}
        assert ledger.summary() == held.ledger.summary()
        assert ledger.daily() == held.ledger.daily()
        assert ledger.windows(window) == held.ledger.windows(window)
        assert ledger.windows(window) == (0, 7)
        assert set(ledger.day_sessions) == {int(at(f"2026-11-{day}T00:00:00Z") // DAY) for day in (19, 20)}
        assert ledger.sessions == {}
        ledger.encode()  # every part read back
        assert _whole(ledger) == _whole(held.ledger)
        assert ledger.sessions[uid("f0")] == 3
        assert len(list(scratch_dir.iterdir())) == 1
    assert list(scratch_dir.iterdir()) == []  # the scratch file went with the stack


def test_a_failed_scratch_read_leaves_no_file_on_the_callers_stack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_dir: Path) -> None:
    """A scratch file that cannot be written (here: a full disk, at the second unit, when the first
    unit's sessions are let go already) is removed at once, and the history walked again and read in
    memory instead, to the same figures and diagnostics."""
    forked_home(tmp_path / "home")
    env = {"KIMI_SHARE_DIR": str(tmp_path / "home"), "HOME": os.environ["HOME"]}
    account = api.detect(env).accounts[0]
    provider = file_provider(account.provider)
    assert provider is not None
    held = scan.refresh(None, provider, account, env)
    _at_scratch_size(monkeypatch)
    seen: list[int] = []

    real_add = reading.StoreSink.add
    released: list[int] = []
    real_release = SessionList.release

    def full(self: reading.StoreSink, unit: Any) -> None:
        seen.append(len(list(scratch_dir.iterdir())))
        if len(seen) == 2:
            raise OSError(28, "No space left on device")
        real_add(self, unit)

    def release(self: SessionList, index: int) -> None:
        released.append(index)
        real_release(self, index)

    monkeypatch.setattr(reading.StoreSink, "add", full)
    monkeypatch.setattr(SessionList, "release", release)
    with ExitStack() as scratch:
        refreshed = scan.refresh(None, provider, account, env, keep_read_calls=True, scratch=scratch)
        assert seen == [1, 1]
        assert len(released) == 2  # the units read through the scratch file were let go
        assert refreshed.files == held.files
        assert refreshed.unreadable == held.unreadable
        assert list(scratch_dir.iterdir()) == []
        assert refreshed.scratch is None
        assert refreshed.calls is not None
        assert _whole(refreshed.ledger) == _whole(held.ledger)


def _report(env: dict[str, str | None], *args: str) -> str:
    result = invoke(["report", *args, "--json"], env)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    return result.stdout


@pytest.mark.parametrize("args", [("daily", "--tz", "UTC", "--breakdown"), ("monthly", "--tz", "Europe/Berlin"),
                                  ("model", "--tz", "UTC"), ("session", "--tz", "UTC", "--breakdown"),
                                  ("project", "--tz", "UTC"),
                                  ("daily", "--tz", "UTC", "--since", "2026-11-19", "--limit", "1")])
def test_reports_without_the_cache_read_the_rows_from_the_scratch_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_dir: Path, args: tuple[str, ...]) -> None:
    """A report without the cache of a history read through a scratch file settles its rows from
    there (`reading.settled_by_session`, read once, holding no call): the same report as a history
    held in memory and as the cache's, and the file is gone afterwards."""
    forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    held = _report(env, *args, "--no-cache")
    _at_scratch_size(monkeypatch)
    settled_from: list[str] = []
    real = reading.settled_by_session

    def counted(store: object, account: str) -> object:
        settled_from.append(account)
        return real(store, account)  # type: ignore[arg-type]  # the real store, passed through

    monkeypatch.setattr(reading, "settled_by_session", counted)
    assert _report(env, *args, "--no-cache") == held
    assert settled_from == ["kimi_cli"]
    assert list(scratch_dir.iterdir()) == []
    assert _report(env, *args) == held


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_a_scratch_scan_snapshot_equals_one_held_in_memory_and_the_caches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_dir: Path, tz: str) -> None:
    forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    held = comparable(run_snapshot(env, "--no-cache", "--tz", tz))
    _at_scratch_size(monkeypatch)
    assert comparable(run_snapshot(env, "--no-cache", "--tz", tz)) == held
    assert list(scratch_dir.iterdir()) == []
    assert comparable(run_snapshot(env, "--tz", tz)) == held  # a first run, its ledger in parts too
    assert comparable(run_snapshot(env, "--tz", tz)) == held
