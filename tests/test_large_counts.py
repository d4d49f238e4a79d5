"""Any non-negative integer count counts, exactly: 2^53 + 1 and 2^64 + 5 come out of the JSON as they
went in, through both decoders, the cache (cold and warm), a refresh, worker processes, and the
settling of Kimi Code roots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kimi_code_home import ALIAS, KimiCodeHome, all_paths, code_env, code_snapshot, ms, sid
from kimi_home import KimiHome, at, by_account, env_for, models, only_snapshot, snapshot_all_paths, tokens, uid
from kimi_home import settings_file as settings_path

BIG = 2**53 + 1  # the first integer a float cannot hold
HUGE = 2**64 + 5  # beyond any 64-bit integer


@pytest.fixture(autouse=True)
def _every_path(refold_path: str) -> str:
    """Every test here runs over each way a scan and a refresh fold (conftest.refold_path)."""
    return refold_path


def test_kimi_cli_counts_beyond_2_53_are_exact(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    s = home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (BIG, HUGE, 3, HUGE), "chatcmpl-1", model="kimi-k2")
    s.usage(at("2026-11-20T10:00:00Z"), (HUGE, 1, BIG, 0), "chatcmpl-2", model="kimi-k2", compact=True)

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (BIG + HUGE, HUGE + 1, 3 + BIG, HUGE)
    assert models(snap) == [("kimi-k2", BIG + HUGE, HUGE + 1, 3 + BIG, HUGE, 2)]
    assert snap["metrics"]["total_tokens"]["used"] == BIG + 2 * HUGE + 1


def test_kimi_cli_large_counts_through_the_careful_decoder(tmp_path: Path) -> None:
    """A SubagentEvent-wrapped record whose line is not plain ASCII: the other decoder reads it."""
    home = KimiHome(tmp_path / "kimi")
    line = {"timestamp": at("2026-11-19T10:00:00Z"),
            "message": {"type": "SubagentEvent", "payload": {"event": {"type": "StatusUpdate", "payload": {
                "token_usage": {"input_other": HUGE, "output": BIG, "input_cache_read": 0,
                                "input_cache_creation": 0},
                "message_id": "chatcmpl-é"}}}}}
    home.session(uid("1")).add(json.dumps(line, ensure_ascii=False))

    assert tokens(only_snapshot(env_for(home.root))) == (HUGE, BIG, 0, 0)


def test_kimi_cli_large_counts_survive_an_append_to_a_cached_file(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    s = home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (HUGE, 0, 0, 0), "chatcmpl-1")
    only_snapshot(env_for(home.root))
    s.usage(at("2026-11-19T11:00:00Z"), (BIG, 0, 0, 0), "chatcmpl-2")

    assert tokens(only_snapshot(env_for(home.root), fresh_cache=False)) == (HUGE + BIG, 0, 0, 0)


def test_kimi_code_counts_beyond_2_53_are_exact(tmp_path: Path) -> None:
    home = KimiCodeHome(tmp_path / "code")
    journal = home.session("wd_x_0123456789ab", sid("1")).main
    journal.header()
    journal.usage(ms("2026-11-19T10:00:00Z"), (BIG, HUGE, 0, 1), ALIAS, "turn")
    journal.usage(ms("2026-11-19T10:01:00Z"), (HUGE, BIG, HUGE, 0), ALIAS, "session")

    snap = code_snapshot(code_env(home.root))

    assert tokens(snap) == (BIG + HUGE, HUGE + BIG, HUGE, 1)
    assert snap["metrics"]["compaction_tokens"]["used"] == HUGE + BIG


def test_kimi_code_large_counts_across_two_roots(tmp_path: Path) -> None:
    """A session copied between two roots is settled across them: its call counts once, exactly."""
    first = KimiCodeHome(tmp_path / "code")
    second = KimiCodeHome(tmp_path / "desk")
    for home in (first, second):
        journal = home.session("wd_x_0123456789ab", sid("1")).main
        journal.header()
        journal.usage(ms("2026-11-19T10:00:00Z"), (HUGE, BIG, 0, 0), ALIAS, "turn")
    second.session("wd_x_0123456789ab", sid("2")).main.header().usage(
        ms("2026-11-19T11:00:00Z"), (BIG, 0, 0, 0), ALIAS, "turn")
    settings_path().write_text(json.dumps({"accounts": [
        {"id": "desk", "provider": "kimi_code", "extra": {"home": str(second.root)}}]}), encoding="utf-8")

    doc = by_account(all_paths(code_env(first.root)))

    assert tokens(doc["kimi_code"]) == (HUGE, BIG, 0, 0)
    assert tokens(doc["desk"]) == (BIG, 0, 0, 0)


def test_kimi_cli_negative_large_counts_still_count_zero(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (-HUGE, 5, 0, 0), "chatcmpl-1")

    assert tokens(snapshot_all_paths(env_for(home.root))["snapshots"][0]) == (0, 5, 0, 0)


def test_large_counts_read_in_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("openusage.scan.PARALLEL_MIN_SESSIONS", 2)
    home = KimiHome(tmp_path / "kimi")
    for n in range(12):
        home.session(uid(f"{n:x}"), group=f"group-{n % 3}").usage(
            at("2026-11-19T10:00:00Z") + n, (HUGE + n, BIG, 0, 0), f"chatcmpl-{n}")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (12 * HUGE + sum(range(12)), 12 * BIG, 0, 0)


def test_codex_counts_beyond_2_53_are_exact(tmp_path: Path) -> None:
    """Codex's five counts too: a `last` of 2^53 + 1 and 2^64 + 5 counts as written (it counted 0), a
    total-only event's difference of such totals as well, and the reasoning beside them."""
    from codex_home import CodexHome, codex_env, session_meta, snapshot, token_count, turn_context
    from kimi_home import diag

    home = CodexHome(tmp_path / "codex")
    thread = "0199a000-0000-7000-8000-0000000000b1"
    first, second = (BIG, 0, HUGE, BIG), (HUGE, BIG, 7, 0)
    total = tuple(a + b for a, b in zip(first, second, strict=True))
    home.write(home.path(thread), [
        session_meta("2026-11-19T10:00:00.000Z", thread), turn_context("2026-11-19T10:00:00.100Z", "gpt-5"),
        token_count("2026-11-19T10:00:01.000Z", first, first),  # type: ignore[arg-type]
        token_count("2026-11-20T10:00:01.000Z", total, None)])  # type: ignore[arg-type]  # a total only
    snap = snapshot(codex_env(home.root))  # no cache, a cold cache and a warm one, alike
    # input excludes cached: BIG + (HUGE - BIG); cache read BIG; output HUGE + 7.
    assert tokens(snap) == (BIG + HUGE - BIG, HUGE + 7, BIG, 0)
    assert snap["metrics"]["reasoning_output_tokens"]["used"] == BIG
    assert diag(snap, "records_counted", "zero_records") == {"records_counted": 2, "zero_records": 0}
