"""The settled rows kept in parts, each session's rows together, and reports folded from them as they
are read (settled.py, reading.settled_by_session, reports.build_stream)."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from kimi_home import GROUP, KimiHome, at, env_for, explain, invoke, uid
from openusage import settled
from openusage.reading import settled_by_session, stored_account_calls
from openusage.store import Store


def forked_home(root: Path) -> KimiHome:
    """Plain sessions on three days, a session forked twice (its first calls held in three files, owned
    by the original, which has two calls on one day), and a call echoed twice in one file."""
    home = KimiHome(root)
    for n in range(6):
        home.session(uid(f"a{n}")).usage(at(f"2026-11-{18 + n % 3}T10:00:00Z"), (10 + n, 1, 0, 0), f"plain-{n}")
    original = home.session(uid("f0"), title="Plan")
    original.usage(at("2026-11-18T09:00:00Z"), (100, 10, 0, 0), "shared-1")
    original.usage(at("2026-11-19T09:00:00Z"), (200, 20, 0, 0), "shared-2")
    fork = home.fork(original, uid("f1"), "Fork: Plan")
    fork.usage(at("2026-11-20T09:00:00Z"), (300, 30, 0, 0), "fork-own")
    home.fork(fork, uid("f2"), "Fork: Fork: Plan").usage(at("2026-11-20T11:00:00Z"), (7, 7, 0, 0), "fork2-own")
    original.usage(at("2026-11-18T09:30:00Z"), (1, 1, 0, 0), "late")  # after the forks: the original's alone
    echo = home.session(uid("e0"))
    echo.usage(at("2026-11-19T12:00:00Z"), (5, 5, 0, 0), "echoed")
    echo.echo(at("2026-11-19T12:00:01Z"), (5, 5, 0, 0), "echoed")
    return home


def _report(env: dict[str, str | None], *args: str) -> str:
    result = invoke(["report", *args, "--json"], env)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    return result.stdout


@pytest.mark.parametrize("kind", ["daily", "monthly", "model", "session", "project"])
def test_reports_from_parts_equal_the_no_cache_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      kind: str) -> None:
    """Two rows a part: the rows of a session span parts, and each report is the same with no cache, a
    cold cache (computed and stored in parts) and a warm one (read part by part)."""
    monkeypatch.setattr(settled, "PART_ROWS", 2)
    forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    args = (kind, "--tz", "UTC", "--breakdown") if kind != "model" else (kind, "--tz", "UTC")
    uncached = _report(env, *args, "--no-cache")
    assert _report(env, *args) == uncached
    assert _report(env, *args) == uncached
    assert _report(env, *args, "--since", "2026-11-19", "--limit", "1") == \
        _report(env, *args, "--since", "2026-11-19", "--limit", "1", "--no-cache")
    with sqlite3.connect(tmp_path / "cache" / "cache.sqlite3") as conn:
        parts = conn.execute("SELECT count(*) FROM settled WHERE name LIKE 'kimi_cli' || char(1) || '%'").fetchone()
    assert parts == (6,)  # 12 rows (6 plain, 5 of the forks, 1 echoed), 2 a part


def test_fewer_rows_leave_no_part_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settled, "PART_ROWS", 2)
    home = forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    _report(env, "daily")
    for n in range(6):
        shutil.rmtree(home.sessions / GROUP / uid(f"a{n}"))
    after = _report(env, "daily", "--tz", "UTC")
    assert after == _report(env, "daily", "--tz", "UTC", "--no-cache")
    with sqlite3.connect(tmp_path / "cache" / "cache.sqlite3") as conn:
        parts = conn.execute("SELECT count(*) FROM settled WHERE name LIKE 'kimi_cli' || char(1) || '%'").fetchone()
    assert parts == (3,)  # 6 rows now


def test_settled_by_session_gives_each_sessions_rows_together(tmp_path: Path) -> None:
    """The same rows as settling every call at once, each session's one after the other: the forks'
    shared calls go to the original, once."""
    forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    _report(env, "daily")
    store = Store(str(tmp_path / "cache" / "cache.sqlite3"))
    try:
        rows = list(settled_by_session(store, "kimi_cli"))
        calls, _infos = stored_account_calls(store, "kimi_cli")
    finally:
        store.close()
    sessions = [row.session for row in rows]
    runs = [name for index, name in enumerate(sessions) if index == 0 or sessions[index - 1] != name]
    assert len(runs) == len(set(runs))  # no session comes twice
    assert Counter((r.session, r.ts, r.model, r.input, r.output, r.copies) for r in rows) == Counter(
        (call.session, call.ts, call.model, call.input, call.output, call.copies) for call in calls.values())
    owners = {row.input: row.session for row in rows}
    assert owners[100] == owners[200] == uid("f0")
    assert owners[300] == uid("f1")
    assert owners[7] == uid("f2")
    assert len(rows) == 12


def test_a_ledger_built_in_parts_equals_the_whole_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`parted_ledger` spills its sessions every two sessions (so a session's forked calls, settled at
    the end, join its times from an earlier batch) and holds none afterwards; every part it stored reads
    back as the ledger built whole in memory (`stored_ledger`), and the report of a first run built so
    is the no-cache one."""
    from openusage import reading
    from test_summary import _whole

    monkeypatch.setattr(reading, "LEDGER_BATCH", 2)
    monkeypatch.setattr(reading, "LEDGER_SPILL", 10**9)  # the batch as is: LEDGER_BATCH (the next test lowers it)
    monkeypatch.setattr("openusage.scan.SCRATCH_MIN_SESSIONS", 0)  # every first run builds it from the cache
    forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    assert _report(env, "daily", "--tz", "UTC") == _report(env, "daily", "--tz", "UTC", "--no-cache")
    store = Store(str(tmp_path / "cache" / "cache.sqlite3"))
    try:
        with store.write():
            parted = reading.parted_ledger(store, "kimi_cli")
            assert parted.sessions == {}
            assert parted.day_sessions == {}
            whole = reading.stored_ledger(store, "kimi_cli")
            parted.encode()  # every part read back from the store
        assert _whole(parted) == _whole(whole)
        assert parted.sessions[uid("f0")] == 3
    finally:
        store.close()


def test_a_store_of_more_sessions_than_a_batch_spills_in_batches_of_the_smaller_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An account whose store holds more sessions than `LEDGER_BATCH` spills its ledger every
    `LEDGER_SPILL` sessions from the start (it would spill anyway); one that holds no more is built whole,
    with no scratch table. Either way the ledger is the one built whole in memory."""
    from openusage import reading
    from openusage.summary import Ledger
    from test_summary import _whole

    forked_home(tmp_path / "home")
    env = env_for(tmp_path / "home", OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    assert _report(env, "daily", "--tz", "UTC") == _report(env, "daily", "--tz", "UTC", "--no-cache")
    spilled: list[int] = []
    spill = reading._spill

    def counted(store: Store, whole: Ledger, batch: Ledger) -> None:
        spilled.append(len(batch.sessions))
        spill(store, whole, batch)

    monkeypatch.setattr(reading, "_spill", counted)
    monkeypatch.setattr(reading, "LEDGER_SPILL", 1)
    store = Store(str(tmp_path / "cache" / "cache.sqlite3"))
    try:
        with store.write():
            whole = reading.stored_ledger(store, "kimi_cli")
            count = store.session_count("kimi_cli")
            assert count >= len(whole.sessions) >= 4
            monkeypatch.setattr(reading, "LEDGER_BATCH", count + 1)  # below it: whole, not spilled
            kept = reading.parted_ledger(store, "kimi_cli")
            assert spilled == []
            assert _whole(kept) == _whole(whole)
            monkeypatch.setattr(reading, "LEDGER_BATCH", count - 1)  # fewer than the store's sessions
            parted = reading.parted_ledger(store, "kimi_cli")
            assert parted.sessions == {}
            parted.encode()  # every part read back from the store
        # A batch of one session after each file's calls; then the sessions of the calls settled at the
        # end (held in several files), and the empty batch the end spills.
        assert spilled[:-2] == [1] * (len(spilled) - 2)
        assert len(spilled) - 2 >= 3
        assert _whole(parted) == _whole(whole)
    finally:
        store.close()
