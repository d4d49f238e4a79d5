"""Builds Kimi Code homes in tmp_path, and runs `openusage snapshot --json` over them.

A home is `<root>/sessions/<workDirKey>/<sessionId>/agents/<agent>/wire.jsonl` (+ `state.json`) and
`<root>/config.toml`, written line by line the way Kimi Code writes them: compact `JSON.stringify`
lines, a metadata header, flat records with `time` in milliseconds last. Forks copy the journals the
way Kimi Code's fork does (parsed and re-serialised, optionally cut, with or without the trailing
`forked` marker) and write `forkedFrom` into the new state.json. Expected figures are always computed
by hand in the tests: nothing here knows a counting rule.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kimi_home import NOW, OMIT, comparable, explain, invoke, tokens, uid, used

FIXTURES = Path(__file__).parent / "fixtures" / "kimi_code"

WD = "wd_openusage_3f2b8e5a9c1d"  # wd_<slug of the working directory's name>_<12 hex chars>
OTHER_WD = "wd_notes_9e107d9d372b"
ALIAS = "kimi-code/kimi-for-coding"  # the alias Kimi Code's login writes for its managed model
DEFAULT = "kimi-for-coding"  # the last-resort model name
FORK_TIME = 1_795_000_000_000  # 2026-11-18T11:06:40Z in ms: the time a fork's marker carries unless told

Counts = tuple[int, int, int, int]  # (inputOther, output, inputCacheRead, inputCacheCreation)


def ms(iso: str) -> int:
    """Milliseconds since the epoch of an ISO-8601 UTC instant such as "2026-11-19T23:59:59.999Z"."""
    instant = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def sid(ch: str) -> str:
    """A Kimi Code session id whose sort position is obvious: sid("a") = "session_aaaaaaaa-…"."""
    return f"session_{uid(ch)}"


def dumps(obj: Any) -> str:
    """One line the way `JSON.stringify` writes it: no spaces, non-ASCII kept."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def usage_counts(counts: Counts) -> dict[str, Any]:
    i, o, cr, cw = counts
    return {"inputOther": i, "output": o, "inputCacheRead": cr, "inputCacheCreation": cw}


def usage_record(
    time_ms: Any,
    counts: Counts | None,
    alias: Any = ALIAS,
    scope: Any = "turn",
    *,
    agent_id: Any = "main",
    usage: Any = OMIT,
) -> dict[str, Any]:
    """A `usage.record`, keys in the engine's order. OMIT leaves a key out (time, alias, scope,
    agent_id); `usage` puts any raw value under "usage" instead of `counts`."""
    rec: dict[str, Any] = {"type": "usage.record"}
    if agent_id is not OMIT:
        rec["agentId"] = agent_id
    if alias is not OMIT:
        rec["model"] = alias
    if counts is not None:
        rec["usage"] = usage_counts(counts)
    elif usage is not OMIT:
        rec["usage"] = usage
    if scope is not OMIT and scope is not None:
        rec["usageScope"] = scope
    if time_ms is not OMIT:
        rec["time"] = time_ms
    return rec


class Journal:
    """One agent's `agents/<name>/wire.jsonl`, written by appending lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.agent_id = path.parent.name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(b"")

    # --- raw lines ---

    def line(self, raw: str | bytes | Mapping[str, Any]) -> Journal:
        """Append one line as given (a str or bytes, without its newline), or a dict compactly."""
        if isinstance(raw, Mapping):
            raw = dumps(dict(raw))
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        with self.path.open("ab") as f:
            f.write(data + b"\n")
        return self

    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()

    # --- records ---

    def header(self, protocol: str = "1.5", created_at: int = 1_794_900_000_000) -> Journal:
        return self.line({"type": "metadata", "protocol_version": protocol, "created_at": created_at})

    def usage(
        self,
        time_ms: Any,
        counts: Counts,
        alias: Any = ALIAS,
        scope: Any = "turn",
        *,
        agent_id: Any = None,
    ) -> Journal:
        """A usage.record; `scope=None` or OMIT leaves usageScope out, `agent_id` defaults to the agent's
        directory name (OMIT for a legacy-engine record without agentId)."""
        aid = self.agent_id if agent_id is None else agent_id
        return self.line(usage_record(time_ms, counts, alias, scope, agent_id=aid))

    def raw_usage(self, time_ms: Any, usage: Any, alias: Any = ALIAS, scope: Any = "turn") -> Journal:
        """A usage.record whose "usage" is any raw JSON value (odd counts, a list, null …)."""
        return self.line(usage_record(time_ms, None, alias, scope, agent_id=self.agent_id, usage=usage))

    def llm_request(
        self, model: Any, alias: Any, time_ms: int, *, kind: str = "loop", attempt: int = 1, turn_step: int = 1
    ) -> Journal:
        """What the engine writes before each model call (and again for each retry)."""
        rec: dict[str, Any] = {"type": "llm.request", "agentId": self.agent_id, "kind": kind, "provider": "managed"}
        if model is not OMIT:
            rec["model"] = model
        if alias is not OMIT:
            rec["modelAlias"] = alias
        rec.update({"turnStep": turn_step, "attempt": attempt, "maxTokens": 32000, "time": time_ms})
        return self.line(rec)

    def step_end(self, time_ms: int, counts: Counts) -> Journal:
        """The loop event after a step: it repeats the same call's usage (not a usage record)."""
        return self.line(
            {
                "type": "context.append_loop_event",
                "agentId": self.agent_id,
                "event": {"type": "step.end", "step": 1, "usage": usage_counts(counts), "finishReason": "stop"},
                "time": time_ms,
            }
        )

    def event(self, type_: str, time_ms: int, **payload: Any) -> Journal:
        """Any other record: `{"type", "agentId", **payload, "time"}`."""
        return self.line({"type": type_, "agentId": self.agent_id, **payload, "time": time_ms})

    def prompt(self, time_ms: int, text: str = "fix the tests") -> Journal:
        return self.event("turn.prompt", time_ms, input=[{"type": "text", "text": text}])

    def forked(self, time_ms: int = FORK_TIME) -> Journal:
        return self.line({"type": "forked", "agentId": self.agent_id, "time": time_ms})

    def config_update(self, alias: str, time_ms: int) -> Journal:
        """What `/model` writes when the user switches the alias mid-session."""
        return self.event("config.update", time_ms, modelAlias=alias)


class Session:
    """A session directory `<sessions>/<workDirKey>/<sessionId>/`."""

    def __init__(self, sessions: Path, work_dir_key: str, session_id: str) -> None:
        self.work_dir_key = work_dir_key
        self.id = session_id
        self.dir = sessions / work_dir_key / session_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self._agents: dict[str, Journal] = {}

    def agent(self, name: str = "main") -> Journal:
        """`agents/<name>/wire.jsonl` (created empty: call `.header()` first, as Kimi Code does)."""
        if name not in self._agents:
            self._agents[name] = Journal(self.dir / "agents" / name / "wire.jsonl")
        return self._agents[name]

    @property
    def main(self) -> Journal:
        return self.agent("main")

    def journals(self) -> list[Journal]:
        """Every agent journal on disk, in agent-name order."""
        return [self.agent(p.parent.name) for p in sorted((self.dir / "agents").glob("*/wire.jsonl"))]

    def write_state(self, state: Mapping[str, Any] | None) -> Session:
        path = self.dir / "state.json"
        if state is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(json.dumps(dict(state), indent=2), encoding="utf-8")
        return self

    def state(self) -> dict[str, Any]:
        return json.loads((self.dir / "state.json").read_text(encoding="utf-8"))


def default_state(title: str = "New session") -> dict[str, Any]:
    return {
        "title": title,
        "lastPrompt": "fix the tests",
        "createdAt": 1_794_900_000_000,
        "updatedAt": 1_794_900_100_000,
        "archived": False,
        "agents": {"main": {"type": "main"}},
        "custom": {},
    }


class _Default:
    pass


DEFAULT_STATE: Any = _Default()


class KimiCodeHome:
    """A Kimi Code data root (`~/.kimi-code` or `$KIMI_CODE_HOME`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sessions = root / "sessions"
        root.mkdir(parents=True, exist_ok=True)

    def session(self, work_dir_key: str, session_id: str, state: Any = DEFAULT_STATE) -> Session:
        """A session directory with a state.json (the default one, `state` as given, none for None)."""
        s = Session(self.sessions, work_dir_key, session_id)
        s.write_state(default_state() if isinstance(state, _Default) else state)
        return s

    def fork(
        self,
        source: Session,
        new_session_id: str,
        cut: int | None = None,
        marker: bool = True,
        *,
        marker_time: int = FORK_TIME,
        forked_from: bool = True,
        state: Mapping[str, Any] | None = None,
        work_dir_key: str | None = None,
    ) -> Session:
        """What `/fork`, the web UI's fork, ACP fork and child sessions do: a new session whose journals
        (main and subagents) are the source's, parsed and re-serialised compactly, cut to the records
        with `time <= cut` when `cut` is given, each followed by a `forked` marker when `marker`; and a
        state.json with `forkedFrom` (unless `forked_from=False`), updated with `state`."""
        new_state = default_state("Fork: New session")
        if forked_from:
            new_state["forkedFrom"] = source.id
        new_state.update(state or {})
        fork = self.session(work_dir_key or source.work_dir_key, new_session_id, state=new_state)
        for journal in source.journals():
            out: list[str] = []
            for raw in journal.path.read_bytes().splitlines():
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue  # a cut or broken line: the fork's JSON parser drops it
                if cut is not None and obj.get("type") != "metadata":
                    t = obj.get("time")
                    if isinstance(t, int | float) and t > cut:
                        continue
                out.append(dumps(obj))
            if marker:
                out.append(dumps({"type": "forked", "agentId": journal.agent_id, "time": marker_time}))
            copy = fork.agent(journal.agent_id)
            copy.path.write_text("".join(f"{ln}\n" for ln in out), encoding="utf-8")
        return fork

    def config(self, text: str) -> Path:
        path = self.root / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def journal_from_fixture(self, fixture: str, work_dir_key: str, session_id: str, agent: str = "main") -> Journal:
        """`agents/<agent>/wire.jsonl` of a session: a byte-for-byte copy of tests/fixtures/kimi_code/<fixture>."""
        s = self.session(work_dir_key, session_id)
        journal = s.agent(agent)
        shutil.copyfile(FIXTURES / fixture, journal.path)
        return journal


# --- running the CLI ---------------------------------------------------------------------------------


def code_env(root: Path | None = None, now: str = NOW, **extra: str | None) -> dict[str, str | None]:
    """OPENUSAGE_NOW, and KIMI_CODE_HOME when `root` is given."""
    env: dict[str, str | None] = {"OPENUSAGE_NOW": now}
    if root is not None:
        env["KIMI_CODE_HOME"] = str(root)
    env.update(extra)
    return env


CODE_METRICS = {
    "total_sessions": ("all-time", "sessions"),
    "sessions_today": ("today", "sessions"),
    "sessions_7d": ("7d", "sessions"),
    "total_input_tokens": ("all-time", "tokens"),
    "total_output_tokens": ("all-time", "tokens"),
    "total_cache_read": ("all-time", "tokens"),
    "total_cache_write": ("all-time", "tokens"),
    "total_tokens": ("all-time", "tokens"),
    "compaction_calls": ("all-time", "calls"),
    "compaction_tokens": ("all-time", "tokens"),
}
DIAGNOSTIC_KEYS = (
    "files_read",
    "records_counted",
    "duplicate_records",
    "zero_records",
    "lines_skipped",
    "skipped_by_reason",
    "files_unreadable",
    "records_by_scope",
    "records_in_other_accounts",
)


def check_code_snapshot(snap: dict[str, Any]) -> None:
    """What every Kimi Code snapshot must satisfy, whatever the data."""
    assert snap["provider_id"] == "kimi_code", snap["provider_id"]
    assert snap["status"] in ("ok", "unknown", "error")
    assert isinstance(snap["message"], str)
    for name, (window, unit) in CODE_METRICS.items():
        metric = snap["metrics"][name]
        assert (metric["window"], metric["unit"]) == (window, unit), (name, metric)
        assert type(metric["used"]) is int, (name, metric)
        assert metric["used"] >= 0, (name, metric)
    i, o, cr, cw = tokens(snap)
    assert used(snap, "total_tokens") == i + o
    assert used(snap, "compaction_tokens") <= i + o
    rows = snap["models"]
    for r in rows:
        assert r["upstream_provider"] == "moonshot", r
        four = r["input_tokens"] + r["output_tokens"] + r["cache_read_tokens"] + r["cache_write_tokens"]
        assert r["all_tokens"] == four, r
        assert r["total_tokens"] == r["input_tokens"] + r["output_tokens"], r
        assert r["requests"] >= 1, r
    assert rows == sorted(rows, key=lambda r: (-r["all_tokens"], r["model"])), "models not sorted"
    assert sum(r["input_tokens"] for r in rows) == i
    assert sum(r["output_tokens"] for r in rows) == o
    assert sum(r["cache_read_tokens"] for r in rows) == cr
    assert sum(r["cache_write_tokens"] for r in rows) == cw
    if snap["status"] == "ok":
        for name in ("sessions", "tokens"):
            dates = [p["date"] for p in snap["daily_series"][name]]
            assert dates == sorted(set(dates)), (name, dates)
        d = snap["diagnostics"]
        for key in DIAGNOSTIC_KEYS:
            assert key in d, key
        assert sum(r["requests"] for r in rows) == d["records_counted"]
        assert set(d["records_by_scope"]) == {"turn", "session", "none"}, d["records_by_scope"]
        assert sum(d["records_by_scope"].values()) == d["records_counted"], d
        assert d["records_by_scope"]["session"] == used(snap, "compaction_calls")
        assert all(v > 0 for v in d["skipped_by_reason"].values()), d["skipped_by_reason"]
        assert sum(d["skipped_by_reason"].values()) == d["lines_skipped"], d


def check_any_document(doc: dict[str, Any]) -> None:
    """A snapshot document holding Kimi CLI and/or Kimi Code snapshots."""
    assert doc["schema"] == "openusage.snapshot/2"
    assert isinstance(doc["generated_at"], str)
    assert doc["generated_at"]
    for snap in doc["snapshots"]:
        assert snap["provider_id"] in ("kimi_cli", "kimi_code"), snap["provider_id"]
        if snap["provider_id"] == "kimi_code":
            check_code_snapshot(snap)


def run_code_snapshot(env: Mapping[str, str | None], *args: str) -> dict[str, Any]:
    """`openusage snapshot --json *args`: exit 0, nothing but one JSON document on stdout."""
    result = invoke(["snapshot", "--json", *args], env)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
    doc = json.loads(result.stdout)
    check_any_document(doc)
    return doc


def _cache_dir(env: Mapping[str, str | None]) -> Path:
    return Path(env.get("OPENUSAGE_CACHE_DIR") or os.environ["OPENUSAGE_CACHE_DIR"])


def all_paths(env: Mapping[str, str | None], *args: str, fresh_cache: bool = True) -> dict[str, Any]:
    """The same snapshot three ways: `--no-cache`, then from the cache twice (cold, then warm).

    The three documents must be equal except `generated_at`; returns the uncached one. With
    `fresh_cache` the cache directory is removed first, so the second run really is cold; without it
    the cache left by earlier runs is used as is (a test that changes files after warming it).
    """
    uncached = run_code_snapshot(env, *args, "--no-cache")
    if fresh_cache:
        shutil.rmtree(_cache_dir(env), ignore_errors=True)
    cold = run_code_snapshot(env, *args)
    warm = run_code_snapshot(env, *args)
    assert comparable(cold) == comparable(uncached), "cached run differs from --no-cache"
    assert comparable(warm) == comparable(uncached), "warm cache differs from --no-cache"
    return uncached


def code_snapshot(env: Mapping[str, str | None], *args: str, fresh_cache: bool = True) -> dict[str, Any]:
    """The single Kimi Code account's snapshot, checked on all three paths."""
    doc = all_paths(env, *args, fresh_cache=fresh_cache)
    assert [s["provider_id"] for s in doc["snapshots"]] == ["kimi_code"], [s["account_id"] for s in doc["snapshots"]]
    return doc["snapshots"][0]


# --- reading a snapshot --------------------------------------------------------------------------------


def compaction(snap: dict[str, Any]) -> tuple[int, int]:
    """(compaction_calls, compaction_tokens)."""
    return used(snap, "compaction_calls"), used(snap, "compaction_tokens")


def scopes(snap: dict[str, Any]) -> dict[str, int]:
    return dict(snap["diagnostics"]["records_by_scope"])


def code_diag(snap: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The named diagnostics (all of DIAGNOSTIC_KEYS by default)."""
    return {k: snap["diagnostics"][k] for k in keys or DIAGNOSTIC_KEYS}


def clean(
    files_read: int,
    records: int,
    duplicates: int = 0,
    zero: int = 0,
    *,
    turn: int | None = None,
    session: int = 0,
    none: int = 0,
    elsewhere: int = 0,
) -> dict[str, Any]:
    """The diagnostics of a read with nothing skipped and nothing unreadable; by default every counted
    call is of scope "turn"."""
    return {
        "files_read": files_read,
        "records_counted": records,
        "duplicate_records": duplicates,
        "zero_records": zero,
        "lines_skipped": 0,
        "skipped_by_reason": {},
        "files_unreadable": 0,
        "records_by_scope": {
            "turn": records - session - none if turn is None else turn,
            "session": session,
            "none": none,
        },
        "records_in_other_accounts": elsewhere,
    }
