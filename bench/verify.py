"""An independent check of a generated corpus: shapes, fork prefixes, sizes, and the expected figures.

    python -m bench.verify CORPUS_DIR

(A Kimi Code corpus, made by `bench.corpus_code`, is handed to `bench.verify_code`.)

Reads every line of every `wire.jsonl` with the standard `json` module (slow, thorough), and shares
no code with the generator: it re-derives the snapshot figures from the files with the rules of
`kimi-cli-format.md` (one count per call key, owner = fewest Fork:/Undo: prefixes then smallest
session name, earliest valid timestamp) and compares them with the `expected` block of the manifest.
Exit status 0 when everything agrees.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

USAGE_FIELDS = ("input_other", "output", "input_cache_read", "input_cache_creation")
FORK_PREFIXES = ("Fork: ", "Undo: ")
DAY = 86400.0


@dataclass
class Report:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    bad_lines: int = 0
    partial_tails: int = 0
    status_lines: int = 0
    usage_records: int = 0
    null_usage: int = 0
    zero_usage: int = 0
    wrapped_usage: int = 0
    max_line: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


@dataclass
class CallState:
    owners: set[str]
    ts: float | None
    counts: tuple[int, int, int, int]


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def _valid_ts(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    ts = float(value)
    if not math.isfinite(ts) or ts <= 0 or ts >= 253402300800.0:
        return None
    return ts


def _title_prefixes(session_dir: Path) -> int:
    try:
        state = json.loads((session_dir / "state.json").read_text())
        title = state.get("custom_title") if isinstance(state, dict) else None
    except (OSError, ValueError):
        return 0
    n = 0
    while isinstance(title, str) and title.startswith(FORK_PREFIXES):
        title = title[6:]
        n += 1
    return n


def _unwrap(message: Any, depth: int = 0) -> tuple[Any, int]:
    while isinstance(message, dict) and message.get("type") == "SubagentEvent":
        payload = message.get("payload")
        message = payload.get("event") if isinstance(payload, dict) else None
        depth += 1
    return message, depth


def scan_file(path: Path, session: str, report: Report, calls: dict[Any, CallState]) -> None:
    data = path.read_bytes()
    report.files += 1
    report.bytes += len(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        report.partial_tails += 1
    for i, raw in enumerate(lines):
        report.lines += 1
        report.max_line = max(report.max_line, len(raw) + 1)
        try:
            obj = json.loads(raw)
        except ValueError:
            if i == len(lines) - 1 and not data.endswith(b"\n"):
                continue  # a last line still being written
            report.bad_lines += 1
            report.problems.append(f"{path}:{i + 1}: not JSON")
            continue
        if i == 0 and isinstance(obj, dict) and obj.get("type") == "metadata":
            continue
        _record(obj, f"{path}:{i + 1}", session, report, calls)


def _record(obj: Any, where: str, session: str, report: Report, calls: dict[Any, CallState]) -> None:
    """Tally one parsed line; a usage record joins its call (by message id + counts, else by identity)."""
    outer = obj.get("message")
    message, depth = _unwrap(outer)
    if not isinstance(message, dict):
        report.problems.append(f"{where}: no message")
        return
    kind = message.get("type")
    report.kinds[str(kind) if depth == 0 else f"SubagentEvent/{kind}"] += 1
    if kind != "StatusUpdate":
        return
    report.status_lines += 1
    payload = message.get("payload")
    usage = payload.get("token_usage") if isinstance(payload, dict) else None
    if usage is None:
        report.null_usage += 1
        return
    if not isinstance(usage, dict) or set(usage) != set(USAGE_FIELDS):
        report.problems.append(f"{where}: token_usage of a wrong shape")
        return
    counts = (
        _count(usage["input_other"]),
        _count(usage["output"]),
        _count(usage["input_cache_read"]),
        _count(usage["input_cache_creation"]),
    )
    if counts == (0, 0, 0, 0):
        report.zero_usage += 1
        return
    report.usage_records += 1
    report.wrapped_usage += depth > 0
    assert isinstance(payload, dict)
    message_id = payload.get("message_id")
    model = payload.get("model") if isinstance(payload.get("model"), str) else None
    key: Any
    if isinstance(message_id, str) and message_id:
        key = ("id", message_id, counts)
        if not message_id.startswith("chatcmpl-"):
            report.problems.append(f"{where}: message_id {message_id!r}")
    else:
        key = ("noid", depth > 0, repr(obj.get("timestamp")), counts, model)
    ts = _valid_ts(obj.get("timestamp"))
    state = calls.get(key)
    if state is None:
        calls[key] = CallState({session}, ts, counts)
    else:
        state.owners.add(session)
        if ts is not None and (state.ts is None or ts < state.ts):
            state.ts = ts


def check_forks(sessions_root: Path, report: Report) -> tuple[int, int]:
    """Every Fork:/Undo: session's wire must begin with a source's lines up to a TurnEnd, verbatim."""
    forks = checked = 0
    for group in sorted(p for p in sessions_root.iterdir() if p.is_dir()):
        members = sorted(p for p in group.iterdir() if (p / "wire.jsonl").is_file())
        datas = {m.name: (m / "wire.jsonl").read_bytes() for m in members}
        for member in members:
            n = _title_prefixes(member)
            if n == 0:
                continue
            forks += 1
            mine = datas[member.name]
            best = 0
            for other in members:
                if other is member:
                    continue
                theirs = datas[other.name]
                length = min(len(mine), len(theirs))
                lo = 0
                # Common prefix length by comparing blocks, then bytes.
                step = 1 << 16
                while lo + step <= length and mine[lo : lo + step] == theirs[lo : lo + step]:
                    lo += step
                while lo < length and mine[lo] == theirs[lo]:
                    lo += 1
                best = max(best, lo)
            cut = mine.rfind(b"\n", 0, best) + 1
            prev = mine.rfind(b"\n", 0, cut - 1) + 1
            last_line = mine[prev:cut]
            ok = cut > 0 and b'"TurnEnd"' in last_line and b"SubagentEvent" not in last_line
            if ok:
                checked += 1
            else:
                report.problems.append(f"{member}: fork prefix does not end at a copied TurnEnd")
    return forks, checked


def derive(calls: dict[Any, CallState], prefixes: dict[str, int], now: float) -> dict[str, Any]:
    today = datetime.fromtimestamp(now, UTC).date()
    owners: set[str] = set()
    today_owners: set[str] = set()
    week_owners: set[str] = set()
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    totals = [0, 0, 0, 0]
    for state in calls.values():
        owner = min(state.owners, key=lambda s: (prefixes.get(s, 0), s))
        owners.add(owner)
        for k in range(4):
            totals[k] += state.counts[k]
        if state.ts is None:
            continue
        day = datetime.fromtimestamp(state.ts, UTC).date()
        day_sessions.setdefault(day.isoformat(), set()).add(owner)
        day_tokens[day.isoformat()] = day_tokens.get(day.isoformat(), 0) + state.counts[0] + state.counts[1]
        if day == today:
            today_owners.add(owner)
        if state.ts >= now - 7 * DAY:
            week_owners.add(owner)
    days = sorted(day_sessions)
    return {
        "metrics": {
            "total_sessions": len(owners),
            "sessions_today": len(today_owners),
            "sessions_7d": len(week_owners),
            "total_input_tokens": totals[0],
            "total_output_tokens": totals[1],
            "total_cache_read": totals[2],
            "total_cache_write": totals[3],
            "total_tokens": totals[0] + totals[1],
        },
        "requests": len(calls),
        "daily_series": {
            "sessions": [{"date": d, "value": len(day_sessions[d])} for d in days],
            "tokens": [{"date": d, "value": day_tokens[d]} for d in days],
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--skip-forks", action="store_true", help="skip the fork prefix check (slow on 1 GB)")
    args = parser.parse_args(argv)
    root: Path = args.corpus
    manifest = json.loads((root / "bench-corpus.json").read_text())
    if manifest.get("provider") == "kimi_code":  # a Kimi Code corpus (bench.corpus_code): its own rules
        from bench import verify_code

        return verify_code.main([str(root), *(["--skip-forks"] if args.skip_forks else [])])
    sessions_root = root / "sessions"
    report = Report()
    calls: dict[Any, CallState] = {}
    prefixes: dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(sessions_root):
        if "wire.jsonl" not in files:
            continue
        path = Path(dirpath) / "wire.jsonl"
        rel = path.relative_to(sessions_root).parts
        session = rel[1]  # <group>/<session>/... : subagent files belong to the session directory
        if session not in prefixes:
            prefixes[session] = _title_prefixes(sessions_root / rel[0] / session)
        scan_file(path, session, report, calls)
    forks, checked = (0, 0) if args.skip_forks else check_forks(sessions_root, report)
    now = datetime.fromisoformat(manifest["params"]["now"].replace("Z", "+00:00")).timestamp()
    derived = derive(calls, prefixes, now)
    expected = manifest["expected"]
    stats = manifest["stats"]
    size_mb = manifest["params"]["size_mb"]
    print(
        f"wire files {report.files:,}, {report.bytes:,} bytes "
        f"({report.bytes / 2**20:,.1f} MiB; asked {size_mb} MiB)"
    )
    print(f"lines {report.lines:,}, not JSON {report.bad_lines}, partial last lines {report.partial_tails}")
    print(
        f"StatusUpdate {report.status_lines:,}: usage {report.usage_records:,} "
        f"(wrapped {report.wrapped_usage:,}), "
        f"null {report.null_usage:,}, zero {report.zero_usage}"
    )
    print(f"distinct calls {len(calls):,}; longest line {report.max_line:,} bytes")
    print("record types: " + ", ".join(f"{k} {v:,}" for k, v in report.kinds.most_common()))
    if not args.skip_forks:
        print(f"forks (titled Fork:/Undo:) {forks}, verbatim prefix ending at a TurnEnd: {checked}")
    ok = True
    if report.bytes != stats["wire_bytes"] or report.files != stats["wire_files"]:
        report.problems.append("file count or bytes differ from the manifest")
    for name, value in derived["metrics"].items():
        if expected["metrics"][name] != value:
            report.problems.append(
                f"metric {name}: files give {value}, manifest says {expected['metrics'][name]}"
            )
    requests = expected["models"][0]["requests"] if expected["models"] else 0
    if requests != derived["requests"]:
        report.problems.append(f"requests: files give {derived['requests']}, manifest says {requests}")
    if derived["daily_series"] != expected["daily_series"]:
        report.problems.append("daily series differ from the manifest")
    for problem in report.problems[:30]:
        ok = False
        print("PROBLEM", problem)
    print("metrics from the files:", json.dumps(derived["metrics"]))
    print("OK: the files match the manifest" if ok else f"{len(report.problems)} problems")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
