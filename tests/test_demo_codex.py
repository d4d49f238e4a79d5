"""The Codex CLI sample home behind `openusage --demo`, checked with a parser of its own (one json.loads
per line) and the counting rules of codex-cli-format.md written out here, not with the reader; then
openusage's figures over it compared with those."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from codex_home import codex_env, run
from kimi_home import sessions, tokens
from openusage.providers.codex_cli.demo import write_demo_codex_home

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
NAME = re.compile(r"rollout-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)-([0-9a-f-]{36})\.jsonl")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_demo_codex_home(tmp_path / "codex", NOW)
    return tmp_path / "codex"


def _rollouts(home: Path) -> dict[Path, list[dict[str, Any]]]:
    return {path: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for path in sorted(home.rglob("*.jsonl"))}


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _usage(info: dict[str, Any], key: str) -> tuple[int, ...]:
    counts = info[key]
    return tuple(counts[name] for name in ("input_tokens", "cached_input_tokens", "output_tokens",
                                           "reasoning_output_tokens", "total_tokens"))


def test_every_rollout_is_where_codex_puts_it_and_shaped_as_codex_writes_it(home: Path) -> None:
    rollouts = _rollouts(home)
    assert len(rollouts) == 7  # five threads, a subagent's, a fork's
    for path, lines in rollouts.items():
        first = lines[0]
        assert first["type"] == "session_meta"
        started = _instant(first["timestamp"])
        found = NAME.fullmatch(path.name)
        assert found is not None, path.name
        assert found.group(1) == f"{started:%Y-%m-%dT%H-%M-%S}"
        assert found.group(2) == first["payload"]["id"]
        assert path.parent.relative_to(home).parts == ("sessions", f"{started:%Y}", f"{started:%m}", f"{started:%d}")
        assert "model" not in first["payload"]  # session_meta names no model
        for line in lines:
            assert set(line) == {"timestamp", "type", "payload"}
            assert STAMP.fullmatch(line["timestamp"])
            assert _instant(line["timestamp"]) <= NOW
        raw = path.read_text(encoding="utf-8")
        assert raw.endswith("\n")
        for text, line in zip(raw.splitlines(), lines, strict=True):  # compact JSON, as Codex writes it
            assert text == json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def test_the_traps_a_reader_must_not_count_twice_are_there(home: Path) -> None:
    rollouts = list(_rollouts(home).values())
    events = [line["payload"] for lines in rollouts for line in lines
              if line["type"] == "event_msg" and line["payload"]["type"] == "token_count"]
    assert sum(event["info"] is None for event in events) == 5  # one per thread, before its first call
    reemits = 0
    for lines in rollouts:
        totals = [_usage(line["payload"]["info"], "total_token_usage") for line in lines
                  if line["type"] == "event_msg" and line["payload"]["type"] == "token_count"
                  and line["payload"]["info"] is not None]
        reemits += sum(a == b for a, b in pairwise(totals))
    assert reemits == 2
    forks = [lines for lines in rollouts if "forked_from_id" in lines[0]["payload"]]
    assert len(forks) == 1
    (fork,) = forks
    assert fork[1]["type"] == "session_meta"
    assert fork[1]["payload"]["id"] == fork[0]["payload"]["forked_from_id"]  # the parent's meta, copied
    spawned = [lines for lines in rollouts if isinstance(lines[0]["payload"]["source"], dict)]
    assert len(spawned) == 1
    assert spawned[0][0]["payload"]["source"]["subagent"]["thread_spawn"]["parent_thread_id"] in {
        lines[0]["payload"]["id"] for lines in rollouts}


def _expected(home: Path) -> dict[str, Any]:
    """The figures by codex-cli-format.md's rules: count `last_token_usage` of each token_count with an
    info, except a re-emit (the same total as the file's previous one) and a copy (the same lineage
    root, total and last as one counted); a subagent's calls are its parent's session's; a fork is a
    session of its own."""
    rollouts = list(_rollouts(home).values())
    parent: dict[str, str] = {}
    for lines in rollouts:
        meta = lines[0]["payload"]
        source = meta["source"]
        if "forked_from_id" in meta:
            parent[meta["id"]] = meta["forked_from_id"]
        elif isinstance(source, dict):
            parent[meta["id"]] = source["subagent"]["thread_spawn"]["parent_thread_id"]

    def root(thread: str) -> str:
        while thread in parent:
            thread = parent[thread]
        return thread

    def session(thread: str) -> str:
        meta = next(lines[0]["payload"] for lines in rollouts if lines[0]["payload"]["id"] == thread)
        return session(parent[thread]) if isinstance(meta["source"], dict) else thread

    seen: set[tuple[Any, ...]] = set()
    inp = cached = out = calls = 0
    days: Counter[str] = Counter()
    owners: set[str] = set()
    for lines in sorted(rollouts, key=lambda lines: lines[0]["timestamp"]):  # parents before their copies
        thread = lines[0]["payload"]["id"]
        previous = None
        for line in lines:
            payload = line["payload"]
            if line["type"] != "event_msg" or payload["type"] != "token_count" or payload["info"] is None:
                continue
            total, last = _usage(payload["info"], "total_token_usage"), _usage(payload["info"], "last_token_usage")
            reemit, previous = total == previous, total
            key = (root(thread), total, last)
            if reemit or key in seen:
                continue
            seen.add(key)
            inp, cached, out, calls = inp + last[0] - last[1], cached + last[1], out + last[2], calls + 1
            owners.add(session(thread))
            days[line["timestamp"][:10]] += 1
    return {"tokens": (inp, out, cached, 0), "calls": calls, "sessions": len(owners), "days": days}


def test_openusage_counts_the_sample_as_the_rules_say(home: Path) -> None:
    expected = _expected(home)
    for args in (("--no-cache",), (), ()):  # no cache, an empty cache, a warm one
        (snap,) = run(codex_env(home, now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ")), *args)["snapshots"]
        assert snap["status"] == "ok"
        assert tokens(snap) == expected["tokens"]
        assert snap["diagnostics"]["records_counted"] == expected["calls"]
        assert snap["diagnostics"]["skipped_by_reason"] == {"reemitted": 2}
        assert sessions(snap)[0] == expected["sessions"] == 6
    assert sum(expected["days"].values()) == expected["calls"]
    # Two threads today, the rest spread over the last ten days: the tile has a history to show.
    assert {(NOW.date() - datetime.fromisoformat(day).date()).days for day in expected["days"]} >= {0, 2, 4, 9}


def test_config_names_a_model_and_holds_no_secret(home: Path) -> None:
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["model"] == "gpt-5-codex"
    assert "key" not in json.dumps(config).lower()


def test_same_now_gives_the_same_bytes_and_another_now_moves_every_time(tmp_path: Path) -> None:
    write_demo_codex_home(tmp_path / "a", NOW)
    write_demo_codex_home(tmp_path / "b", NOW)
    write_demo_codex_home(tmp_path / "c", NOW + timedelta(days=1))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    later = _rollouts(tmp_path / "c")
    first = {lines[0]["payload"]["id"]: _instant(lines[0]["timestamp"]) for lines in _rollouts(tmp_path / "a").values()}
    for lines in later.values():
        assert _instant(lines[0]["timestamp"]) - first[lines[0]["payload"]["id"]] == timedelta(days=1)
