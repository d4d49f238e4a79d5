"""Builds Kimi CLI homes in tmp_path, and runs `openusage snapshot --json` over them.

A home is `<root>/sessions/<group>/<session-uuid>/wire.jsonl` (+ `state.json`, `subagents/<id>/wire.jsonl`)
and `<root>/config.toml` / `config.json`, written line by line the way Kimi CLI writes them
(`json.dumps` defaults), or compact when a test asks for it. Expected figures are always computed by
hand in the tests: nothing here knows a counting rule.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from openusage.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "kimi_cli"

NOW = "2026-11-20T12:00:00Z"  # a Friday; "today" is 2026-11-20, the 7-day window starts 2026-11-13T12:00:00Z
GROUP = "3f2b8e5a9c1d4e7f8a0b1c2d3e4f5a6b"  # hex MD5 of a working directory
OTHER_GROUP = "local_9e107d9d372bb6826bd81d3542a419d6"

HEADER = {"type": "metadata", "protocol_version": "1.10"}

Counts = tuple[int, int, int, int]  # (input_other, output, input_cache_read, input_cache_creation)


class _Omit(enum.Enum):
    KEY = "omit"


OMIT = _Omit.KEY  # pass as message_id / model / timestamp to leave the key out of the line


def uid(ch: str) -> str:
    """A session or agent uuid made of one hex digit, so that its sort position is obvious: uid("a")."""
    return f"{ch * 8}-{ch * 4}-4{ch * 3}-8{ch * 3}-{ch * 12}"


def at(iso: str) -> float:
    """Seconds since the epoch of an ISO-8601 UTC instant such as "2026-11-20T09:00:00Z"."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def dumps(obj: Any, *, compact: bool = False) -> str:
    """One JSON line: Kimi CLI's own spacing (", " / ": ", non-ASCII kept), or compact."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":") if compact else None)


def token_usage(counts: Counts) -> dict[str, Any]:
    i, o, cr, cw = counts
    return {"input_other": i, "output": o, "input_cache_read": cr, "input_cache_creation": cw}


def status_update(
    counts: Counts | None = None,
    *,
    usage: Any = OMIT,
    mid: str | _Omit | None = OMIT,
    model: Any = OMIT,
    mcp_status: Any = None,
) -> dict[str, Any]:
    """A StatusUpdate event `{type, payload}`, payload keys in Kimi CLI's order.

    `counts` gives the four token counts; `usage` instead puts any raw value under `token_usage`
    (None for null); with neither, the key is left out.
    """
    payload: dict[str, Any] = {"context_usage": 0.31, "context_tokens": 81234, "max_context_tokens": 262144}
    if counts is not None:
        payload["token_usage"] = token_usage(counts)
    elif usage is not OMIT:
        payload["token_usage"] = usage
    if mid is not OMIT:
        payload["message_id"] = mid
    payload["plan_mode"] = None
    payload["mcp_status"] = mcp_status
    if model is not OMIT:
        payload["model"] = model
    return {"type": "StatusUpdate", "payload": payload}


def event(type_: str, payload: Any) -> dict[str, Any]:
    return {"type": type_, "payload": payload}


def wrap(inner: dict[str, Any], depth: int = 1, link: str = "parent_tool_call_id") -> dict[str, Any]:
    """`inner` as a subagent's echo: wrapped in `depth` SubagentEvents (2 = a sub-subagent's)."""
    for level in range(depth):
        inner = event("SubagentEvent", {link: f"tool_call_{level}", "event": inner})
    return inner


def line(ts: Any, message: dict[str, Any], *, compact: bool = False) -> str:
    """A wire line; `ts` may be any JSON value, or OMIT for a line without a timestamp."""
    obj: dict[str, Any] = {} if ts is OMIT else {"timestamp": ts}
    obj["message"] = message
    return dumps(obj, compact=compact)


class Wire:
    """One wire.jsonl file, written by appending lines."""

    def __init__(self, path: Path, *, header: bool = True) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(HEADER) + "\n" if header else "", encoding="utf-8")

    def add(self, *lines: str | bytes) -> Wire:
        with self.path.open("ab") as f:
            for item in lines:
                f.write((item.encode() if isinstance(item, str) else item) + b"\n")
        return self

    def usage(
        self,
        ts: Any,
        counts: Counts,
        mid: str | _Omit | None,
        *,
        model: Any = OMIT,
        compact: bool = False,
    ) -> Wire:
        """A top-level StatusUpdate usage record."""
        return self.add(line(ts, status_update(counts, mid=mid, model=model), compact=compact))

    def echo(
        self,
        ts: Any,
        counts: Counts,
        mid: str | _Omit | None,
        *,
        depth: int = 1,
        model: Any = OMIT,
        compact: bool = False,
    ) -> Wire:
        """A subagent's usage record echoed into this file, wrapped `depth` times."""
        return self.add(line(ts, wrap(status_update(counts, mid=mid, model=model), depth), compact=compact))

    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()


class Session(Wire):
    """A session directory `<sessions>/<group>/<uuid>/` and its wire.jsonl."""

    def __init__(self, sessions: Path, uuid: str, group: str = GROUP, *, header: bool = True) -> None:
        self.dir = sessions / group / uuid
        self.uuid = uuid
        super().__init__(self.dir / "wire.jsonl", header=header)

    def title(self, custom_title: str | None) -> Session:
        state = {"version": 1, "custom_title": custom_title, "title_generated": True, "archived": False}
        (self.dir / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        return self

    def subagent(self, agent_id: str, *, under: str = "") -> Wire:
        """`subagents/<agent_id>/wire.jsonl`; `under` nests it in another agent's directory."""
        base = self.dir / under if under else self.dir
        return Wire(base / "subagents" / agent_id / "wire.jsonl")


class KimiHome:
    """A Kimi CLI data root (`~/.kimi` or `$KIMI_SHARE_DIR`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sessions = root / "sessions"
        root.mkdir(parents=True, exist_ok=True)

    def session(self, uuid: str, group: str = GROUP, *, title: str | None = None, header: bool = True) -> Session:
        s = Session(self.sessions, uuid, group, header=header)
        if title is not None:
            s.title(title)
        return s

    def fork(self, source: Session, uuid: str, title: str, *, lines: int | None = None) -> Session:
        """What /fork, /undo and the web UI's fork do: a new session in the same group whose wire.jsonl
        starts with a verbatim copy of the source's first `lines` lines (all of them by default, the
        metadata header included), titled `title` (e.g. "Fork: Plan")."""
        fork = Session(self.sessions, uuid, source.dir.parent.name, header=False)
        kept = source.path.read_bytes().splitlines(keepends=True)
        fork.path.write_bytes(b"".join(kept if lines is None else kept[:lines]))
        return fork.title(title)

    def session_from_fixture(self, fixture: str, uuid: str, group: str = GROUP) -> Session:
        """A session whose wire.jsonl is a byte-for-byte copy of tests/fixtures/kimi_cli/<fixture>."""
        s = Session(self.sessions, uuid, group, header=False)
        shutil.copyfile(FIXTURES / fixture, s.path)
        return s

    def config_toml(self, text: str) -> Path:
        path = self.root / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def config_json(self, data: Any) -> Path:
        path = self.root / "config.json"
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return path


# --- running the CLI ---------------------------------------------------------------------------------


def priced_home(root: Path) -> KimiHome:
    """A Kimi CLI home at `root` with two sessions of a model genai-prices prices, on two days: what
    the price-data tests run whole commands over."""
    home = KimiHome(root)
    home.config_toml('default_model = "k2"\n[models.k2]\nprovider = "moonshot"\nmodel = "kimi-k2-0905-preview"\n')
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (1_000_000, 200_000, 3_000_000, 0), "chatcmpl-a")
    home.session(uid("2")).usage(at("2026-11-20T10:00:00Z"), (500_000, 100_000, 0, 0), "chatcmpl-b")
    return home


def env_for(root: Path | None = None, now: str = NOW, **extra: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {"OPENUSAGE_NOW": now}
    if root is not None:
        env["KIMI_SHARE_DIR"] = str(root)
    env.update(extra)
    return env


def settings_file() -> Path:
    """The default settings file of the test's isolated environment (conftest), its directory made."""
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "openusage" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def invoke(args: list[str], env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=dict(env or {}), catch_exceptions=True)


def explain(result: Result) -> str:
    exc = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        exc = "".join(traceback.format_exception(result.exception))
    return f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n{exc}"


def run_snapshot(env: Mapping[str, str | None], *args: str) -> dict[str, Any]:
    """`openusage snapshot --json *args`: exit 0, nothing but one JSON document on stdout."""
    result = invoke(["snapshot", "--json", *args], env)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
    doc = json.loads(result.stdout)
    check_document(doc)
    return doc


def _cache_dir(env: Mapping[str, str | None]) -> Path:
    return Path(env.get("OPENUSAGE_CACHE_DIR") or os.environ["OPENUSAGE_CACHE_DIR"])


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A snapshot document without the one field that differs between runs."""
    return {k: v for k, v in doc.items() if k != "generated_at"}


def snapshot_all_paths(env: Mapping[str, str | None], *args: str, fresh_cache: bool = True) -> dict[str, Any]:
    """The same snapshot three ways: `--no-cache`, then from the cache twice (cold, then warm).

    The three documents must be equal except `generated_at`; returns the uncached one. With
    `fresh_cache` the cache directory is removed first, so the second run really is cold; without it
    the cache left by earlier runs is used as is (a test that changes files after warming it).
    """
    uncached = run_snapshot(env, *args, "--no-cache")
    if fresh_cache:
        shutil.rmtree(_cache_dir(env), ignore_errors=True)
    cold = run_snapshot(env, *args)
    warm = run_snapshot(env, *args)
    assert comparable(cold) == comparable(uncached), "cold cache differs from --no-cache"
    assert comparable(warm) == comparable(uncached), "warm cache differs from --no-cache"
    return uncached


def only_snapshot(env: Mapping[str, str | None], *args: str, fresh_cache: bool = True) -> dict[str, Any]:
    """The single account's snapshot, checked on all three paths."""
    doc = snapshot_all_paths(env, *args, fresh_cache=fresh_cache)
    assert len(doc["snapshots"]) == 1, [s["account_id"] for s in doc["snapshots"]]
    return doc["snapshots"][0]


def by_account(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["account_id"]: s for s in doc["snapshots"]}


# --- reading a snapshot --------------------------------------------------------------------------------

METRIC_WINDOWS = {
    "total_sessions": "all-time",
    "sessions_today": "today",
    "sessions_7d": "7d",
    "total_input_tokens": "all-time",
    "total_output_tokens": "all-time",
    "total_cache_read": "all-time",
    "total_cache_write": "all-time",
    "total_tokens": "all-time",
}
DIAGNOSTIC_KEYS = (
    "files_read",
    "records_counted",
    "duplicate_records",
    "zero_records",
    "lines_skipped",
    "skipped_by_reason",
    "files_unreadable",
)


def used(snap: dict[str, Any], name: str) -> int:
    return int(snap["metrics"][name]["used"])


def sessions(snap: dict[str, Any]) -> tuple[int, int, int]:
    """(total_sessions, sessions_today, sessions_7d)."""
    return used(snap, "total_sessions"), used(snap, "sessions_today"), used(snap, "sessions_7d")


def tokens(snap: dict[str, Any]) -> tuple[int, int, int, int]:
    """(input, output, cache read, cache write) totals."""
    return (
        used(snap, "total_input_tokens"),
        used(snap, "total_output_tokens"),
        used(snap, "total_cache_read"),
        used(snap, "total_cache_write"),
    )


def series(snap: dict[str, Any], name: str) -> dict[str, int]:
    """A daily series as {date: value}, days with value 0 left out (a series may list them or not)."""
    return {p["date"]: p["value"] for p in snap["daily_series"][name] if p["value"] != 0}


def models(snap: dict[str, Any]) -> list[tuple[str, int, int, int, int, int]]:
    """Per-model rows in their order: (model, input, output, cache read, cache write, requests)."""
    return [
        (
            r["model"],
            r["input_tokens"],
            r["output_tokens"],
            r["cache_read_tokens"],
            r["cache_write_tokens"],
            r["requests"],
        )
        for r in snap["models"]
    ]


def diag(snap: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The named diagnostics (all of DIAGNOSTIC_KEYS by default)."""
    return {k: snap["diagnostics"][k] for k in keys or DIAGNOSTIC_KEYS}


def clean_diag(files_read: int, records: int, duplicates: int = 0, zero: int = 0) -> dict[str, Any]:
    """The diagnostics of a read with nothing skipped and nothing unreadable."""
    return {
        "files_read": files_read,
        "records_counted": records,
        "duplicate_records": duplicates,
        "zero_records": zero,
        "lines_skipped": 0,
        "skipped_by_reason": {},
        "files_unreadable": 0,
    }


def check_document(doc: dict[str, Any]) -> None:
    """What every snapshot document must satisfy, whatever the data."""
    assert doc["schema"] == "openusage.snapshot/2"
    assert isinstance(doc["generated_at"], str)
    assert doc["generated_at"]
    for snap in doc["snapshots"]:
        assert snap["provider_id"] == "kimi_cli"
        assert snap["status"] in ("ok", "unknown", "error")
        assert isinstance(snap["message"], str)
        for name, window in METRIC_WINDOWS.items():
            metric = snap["metrics"][name]
            assert metric["window"] == window, (name, metric)
            assert type(metric["used"]) is int, (name, metric)
            assert metric["used"] >= 0, (name, metric)
        for name in ("total_sessions", "sessions_today", "sessions_7d"):
            assert snap["metrics"][name]["unit"] == "sessions", (name, snap["metrics"][name])
        i, o, cr, cw = tokens(snap)
        assert used(snap, "total_tokens") == i + o
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
                assert all(type(p["value"]) is int for p in snap["daily_series"][name])
            d = snap["diagnostics"]
            for key in DIAGNOSTIC_KEYS:
                assert key in d, key
            assert sum(r["requests"] for r in rows) == d["records_counted"]
            assert all(v > 0 for v in d["skipped_by_reason"].values()), d["skipped_by_reason"]
            assert sum(d["skipped_by_reason"].values()) == d["lines_skipped"], d
