"""Builds Codex CLI homes in tmp_path, and runs `openusage snapshot --json` over them.

A home is `<root>/sessions/YYYY/MM/DD/rollout-<local time>-<thread id>.jsonl` and the flat
`<root>/archived_sessions/`, with `<root>/config.toml`; rollouts are written line by line as Codex
writes them (compact JSON, one object per line). Fixture files (tests/fixtures/codex_cli) are placed
under the name Codex would give them. Expected figures are always computed by hand in the tests:
nothing here knows a counting rule.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kimi_home import comparable, explain, invoke, tokens, used

FIXTURES = Path(__file__).parent / "fixtures" / "codex_cli"
NOW = "2026-11-20T12:00:00Z"  # "today" is 2026-11-20 (UTC)

# The threads of the fixtures (their first session_meta ids).
A = "0199a000-0000-7000-8000-00000000000a"  # plain_two_turns: the parent of fork and subagent
B = "0199a000-0000-7000-8000-00000000000b"  # the single-rule files
F = "0199a000-0000-7000-8000-00000000000f"  # fork: a fork of A
G = "0199a000-0000-7000-8000-000000000009"  # nested_fork: a fork of F
S = "0199a000-0000-7000-8000-000000000005"  # subagent: spawned by A

Counts = tuple[int, int, int, int]  # input (with cached), cached input, output, reasoning


def usage(counts: Counts) -> dict[str, int]:
    i, c, o, r = counts
    return {"input_tokens": i, "cached_input_tokens": c, "output_tokens": o, "reasoning_output_tokens": r,
            "total_tokens": i + o}


def rollout_line(ts: Any, kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}, separators=(",", ":"))


def token_count(ts: str, total: Counts | None, last: Counts | None) -> str:
    info: dict[str, Any] = {"model_context_window": 272000}
    if total is not None:
        info["total_token_usage"] = usage(total)
    if last is not None:
        info["last_token_usage"] = usage(last)
    return rollout_line(ts, "event_msg", {"type": "token_count", "info": info, "rate_limits": None})


def turn_context(ts: str, model: str) -> str:
    return rollout_line(ts, "turn_context", {"cwd": "/home/dev/app", "model": model, "effort": "medium"})


def session_meta(ts: str, thread: str, **extra: Any) -> str:
    return rollout_line(ts, "session_meta", {"id": thread, "timestamp": ts, "cwd": "/home/dev/app",
                                             "source": "cli", "model_provider": "openai", **extra})


def fixture_thread(name: str) -> str:
    first = (FIXTURES / name).read_bytes().split(b"\n", 1)[0]  # a fixture's later lines need not be UTF-8
    return str(json.loads(first)["payload"]["id"])


class CodexHome:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sessions = root / "sessions"
        self.archived = root / "archived_sessions"
        self.sessions.mkdir(parents=True, exist_ok=True)

    def path(self, thread: str, day: str = "2026/11/19", *, archived: bool = False,
             started: str = "10-00-00") -> Path:
        """Where Codex keeps a thread's rollout: `day` is the local date of its start."""
        name = f"rollout-{day.replace('/', '-')}T{started}-{thread}.jsonl"
        return self.archived / name if archived else self.sessions / day / name

    def place(self, fixture: str, day: str = "2026/11/19", *, archived: bool = False) -> Path:
        """A fixture file as its thread's rollout."""
        path = self.path(fixture_thread(fixture), day, archived=archived)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, path)
        return path

    def write(self, path: Path, lines: list[str], *, newline: bool = True) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + ("\n" if newline else ""), encoding="utf-8")
        return path

    def append(self, path: Path, text: str) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(text)

    def archive(self, path: Path) -> Path:
        """Codex's archive: the rollout moves to the flat archived_sessions/."""
        self.archived.mkdir(exist_ok=True)
        target = self.archived / path.name
        path.rename(target)
        return target

    def config(self, text: str) -> None:
        (self.root / "config.toml").write_text(text, encoding="utf-8")


def codex_env(root: Path | None = None, now: str = NOW, **extra: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {"OPENUSAGE_NOW": now}
    if root is not None:
        env["CODEX_HOME"] = str(root)
    env.update(extra)
    return env


def run(env: Mapping[str, str | None], *args: str) -> dict[str, Any]:
    """`openusage snapshot --json *args`: exit 0, one JSON document on stdout, every snapshot Codex's."""
    result = invoke(["snapshot", "--json", *args], env)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
    doc: dict[str, Any] = json.loads(result.stdout)
    for snap in doc["snapshots"]:
        check_snapshot(snap)
    return doc


def check_snapshot(snap: dict[str, Any]) -> None:
    """What every Codex snapshot must satisfy, whatever the data."""
    assert snap["provider_id"] == "codex_cli", snap["provider_id"]
    i, o, cr, cw = tokens(snap)
    assert cw == 0  # OpenAI reports no cache writes
    assert used(snap, "total_tokens") == i + o
    rows = snap["models"]
    assert all(isinstance(r["upstream_provider"], str) and r["upstream_provider"] for r in rows)
    assert sum(r["input_tokens"] for r in rows) == i
    assert sum(r["output_tokens"] for r in rows) == o
    assert sum(r["cache_read_tokens"] for r in rows) == cr
    if snap["status"] == "ok":
        d = snap["diagnostics"]
        assert sum(r["requests"] for r in rows) == d["records_counted"]
        assert sum(d["skipped_by_reason"].values()) == d["lines_skipped"], d


def cache_dir(env: Mapping[str, str | None]) -> Path:
    import os

    return Path(env.get("OPENUSAGE_CACHE_DIR") or os.environ["OPENUSAGE_CACHE_DIR"])


def snapshot(env: Mapping[str, str | None], *args: str, fresh_cache: bool = True) -> dict[str, Any]:
    """The single Codex account's snapshot, the same three ways: `--no-cache`, then from the cache cold
    (the cache removed first, with `fresh_cache`) and warm."""
    uncached = run(env, *args, "--no-cache")
    if fresh_cache:
        shutil.rmtree(cache_dir(env), ignore_errors=True)
    cold = run(env, *args)
    warm = run(env, *args)
    assert comparable(cold) == comparable(uncached), "cached run differs from --no-cache"
    assert comparable(warm) == comparable(uncached), "warm cache differs from --no-cache"
    assert [s["provider_id"] for s in uncached["snapshots"]] == ["codex_cli"]
    return dict(uncached["snapshots"][0])


def cached_equals_cold(env: Mapping[str, str | None]) -> dict[str, Any]:
    """The cached run (using whatever the cache holds) and a cold run agree; returns the snapshot."""
    cached = run(env)
    cold = run(env, "--no-cache")
    assert comparable(cached) == comparable(cold), "cached run differs from --no-cache"
    return dict(cold["snapshots"][0])
