"""The settled calls (`api.calls`): every call the snapshots count, once, named in full.

Checked against the snapshots themselves on generated homes with forks, /undo, subagent echoes, Kimi
Code compaction and rewrites (bench's corpus generators), and through every way a refresh reads: no
cache, a cold cache and a warm one give the same calls, and the calls add up to each account's
snapshot exactly: totals, models, sessions and the daily series.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from openusage import api
from openusage.query import CallsQuery, CallsResult, SettledCall
from openusage.snapshot import SnapshotSet
from openusage.windows import day_to_date

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import corpus, corpus_code

NOW = datetime.fromisoformat(corpus.DEFAULT_NOW.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small Kimi CLI home and a small Kimi Code home, generated once for the module."""
    base = tmp_path_factory.mktemp("corpora")
    corpus.generate(base / "kimi", corpus.Params(sessions=40, size_mb=3.0, seed=7))
    corpus_code.generate(base / "kimi-code", corpus_code.Params(sessions=40, size_mb=3.0, seed=7))
    return {"KIMI_SHARE_DIR": str(base / "kimi"), "KIMI_CODE_HOME": str(base / "kimi-code")}


def _env(homes: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **homes}


def _figures(calls: list[SettledCall]) -> dict[str, Any]:
    """What a snapshot says of an account, computed from its calls."""
    per_day: dict[str, list[Any]] = defaultdict(lambda: [set(), 0])
    models: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for call in calls:
        if call.time is not None:
            day = day_to_date(int(call.time // 86400)).isoformat()
            per_day[day][0].add(call.session)
            per_day[day][1] += call.total
        sums = models[call.model]
        for index, value in enumerate((call.input, call.output, call.cache_read, call.cache_write, 1)):
            sums[index] += value
    return {
        "total_sessions": len({call.session for call in calls}),
        "total_input_tokens": sum(call.input for call in calls),
        "total_output_tokens": sum(call.output for call in calls),
        "total_cache_read": sum(call.cache_read for call in calls),
        "total_cache_write": sum(call.cache_write for call in calls),
        "records_counted": len(calls),
        "duplicate_records": sum(call.copies - 1 for call in calls),
        "sessions": {day: len(v[0]) for day, v in per_day.items()},
        "tokens": {day: v[1] for day, v in per_day.items()},
        "models": {model: tuple(sums) for model, sums in models.items()},
    }


def _snapshot_figures(snapshots: SnapshotSet, account: str) -> dict[str, Any]:
    snap = next(s for s in snapshots.snapshots if s.account_id == account)
    return {
        **{name: snap.metrics[name].used for name in ("total_sessions", "total_input_tokens", "total_output_tokens",
                                                       "total_cache_read", "total_cache_write")},
        "records_counted": snap.diagnostics["records_counted"],
        "duplicate_records": snap.diagnostics["duplicate_records"],
        "sessions": {p.date: p.value for p in snap.daily_series["sessions"]},
        "tokens": {p.date: p.value for p in snap.daily_series["tokens"]},
        "models": {row.model: (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens,
                               row.requests) for row in snap.models},
    }


def _sorted(result: CallsResult) -> list[SettledCall]:
    return sorted(result.calls, key=lambda c: (c.account, c.session, c.time or 0.0, c.model, c.input, c.output,
                                               c.cache_read, c.cache_write))


def test_calls_add_up_to_every_snapshot_on_every_path(homes: dict[str, str]) -> None:
    env = _env(homes)
    uncached = api.calls(env, CallsQuery(), use_cache=False)
    assert set(uncached.accounts) == {"kimi_cli", "kimi_code"}
    cold = api.calls(env, CallsQuery())
    warm = api.calls(env, CallsQuery())
    assert _sorted(uncached) == _sorted(cold) == _sorted(warm)
    snapshots = api.snapshot(env, NOW)
    for account in uncached.accounts:
        mine = [call for call in uncached.calls if call.account == account]
        assert mine, account
        assert _figures(mine) == _snapshot_figures(snapshots, account)


def test_a_warm_query_after_appends_equals_a_cold_one(homes: dict[str, str], tmp_path: Path) -> None:
    env = {**_env(homes), "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache")}
    api.calls(env, CallsQuery())
    wire = next(Path(homes["KIMI_SHARE_DIR"], "sessions").glob("*/*/wire.jsonl"))
    line = {"timestamp": NOW.timestamp() - 60, "message": {"type": "StatusUpdate", "payload": {
        "token_usage": {"input_other": 11, "output": 7, "input_cache_read": 5, "input_cache_creation": 0},
        "message_id": "chatcmpl-appended-for-the-calls-query"}}}
    original = wire.read_bytes()
    try:
        wire.write_bytes(original + (json.dumps(line) + "\n").encode())
        warm = api.calls(env, CallsQuery())
        assert _sorted(warm) == _sorted(api.calls(env, CallsQuery(), use_cache=False))
        assert any(call.input == 11 and call.output == 7 for call in warm.calls)
    finally:
        wire.write_bytes(original)


def test_a_range_keeps_only_its_calls_and_no_undated_one(homes: dict[str, str]) -> None:
    env = _env(homes)
    every = api.calls(env, CallsQuery(accounts=("kimi_cli",)))
    dated = sorted(call.time for call in every.calls if call.time is not None)
    middle = dated[len(dated) // 2]
    since = api.calls(env, CallsQuery(accounts=("kimi_cli",), since=middle))
    until = api.calls(env, CallsQuery(accounts=("kimi_cli",), until=middle))
    assert all(call.time is not None and call.time >= middle for call in since.calls)
    assert all(call.time is not None and call.time < middle for call in until.calls)
    undated = sum(1 for call in every.calls if call.time is None)
    assert len(since.calls) + len(until.calls) + undated == len(every.calls)


def test_a_query_names_accounts_and_providers(homes: dict[str, str]) -> None:
    env = _env(homes)
    only = api.calls(env, CallsQuery(providers=("kimi_code",)))
    assert only.accounts == ("kimi_code",)
    assert {call.provider for call in only.calls} == {"kimi_code"}
    from openusage.errors import UsageInputError

    with pytest.raises(UsageInputError, match="no account 'nope'"):
        api.calls(env, CallsQuery(accounts=("nope",)))
    with pytest.raises(UsageInputError, match="no provider 'nope'"):
        api.calls(env, CallsQuery(providers=("nope",)))


def test_every_session_that_owns_a_call_has_its_facts(homes: dict[str, str]) -> None:
    result = api.calls(_env(homes), CallsQuery(titles=True))
    owners = {(call.account, call.session) for call in result.calls}
    assert owners == set(result.sessions)
    assert all(facts.title for facts in result.sessions.values())


def test_a_zone_moves_the_days_of_the_daily_series(homes: dict[str, str]) -> None:
    env = _env(homes)
    zone = ZoneInfo("Pacific/Chatham")  # +13:45 / +12:45: most calls land on another day than in UTC
    zoned = api.snapshot(env, NOW, tz=zone)
    calls = api.calls(env, CallsQuery())
    for snap in zoned.snapshots:
        expected: dict[str, int] = defaultdict(int)
        for call in calls.calls:
            if call.account == snap.account_id and call.time is not None:
                expected[datetime.fromtimestamp(call.time, zone).date().isoformat()] += call.total
        assert {p.date: p.value for p in snap.daily_series["tokens"]} == dict(expected)
    assert zoned.tz_name == "Pacific/Chatham"
    utc = api.snapshot(env, NOW, tz=UTC)
    assert [s.metrics["total_tokens"] for s in utc.snapshots] == [s.metrics["total_tokens"] for s in zoned.snapshots]


def test_calls_copied_into_a_second_kimi_code_root_count_once(homes: dict[str, str], tmp_path: Path) -> None:
    """A desktop home holding copies of some sessions: each account owns what its snapshot counts, and
    between them every call counts once (kimi-code-format.md: once across sessions and roots)."""
    import shutil

    desktop = tmp_path / "desktop"
    groups = sorted(Path(homes["KIMI_CODE_HOME"], "sessions").iterdir())
    for group in groups[: max(1, len(groups) // 2)]:
        shutil.copytree(group, desktop / "sessions" / group.name)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"accounts": [
        {"id": "desktop", "provider": "kimi_code", "extra": {"home": str(desktop)}}]}), encoding="utf-8")
    env = {**_env(homes), "OPENUSAGE_CONFIG": str(settings), "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache")}
    alone = api.calls(_env(homes), CallsQuery(accounts=("kimi_code",)), use_cache=False)
    for use_cache in (False, True, True):
        both = api.calls(env, CallsQuery(providers=("kimi_code",)), use_cache=use_cache)
        assert both.accounts == ("kimi_code", "desktop")
        assert len(both.calls) == len(alone.calls)
        assert sum(call.total for call in both.calls) == sum(call.total for call in alone.calls)
        snapshots = api.snapshot(env, NOW, use_cache=use_cache)
        for account in both.accounts:
            mine = [call for call in both.calls if call.account == account]
            assert _figures(mine) == _snapshot_figures(snapshots, account)
