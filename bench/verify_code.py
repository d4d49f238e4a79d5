"""An independent check of a generated Kimi Code corpus: lines, shapes, fork copies, sizes, figures.

    python -m bench.verify_code CORPUS_DIR [--skip-forks]
    python -m bench.verify CORPUS_DIR          # the same, chosen by the manifest's provider

Reads every line of every `sessions/*/*/agents/*/wire.jsonl` with the standard `json` module (slow,
thorough) and shares no code with the generator. It checks that every line is JSON (a last line without
a newline may be cut short), the metadata header, each record's `type`, `time` and `agentId`, the shape
of every `usage.record`, that every `step.end` sits next to a `usage.record` of the same usage, that a
fork's copied records are byte for byte the source's (up to a turn end for the main agent, up to the
cut-off time for subagents; then a `forked` marker, or none for a legacy copy that kept the source's
header), then re-derives the figures with the rules of `kimi-code-format.md` and compares them with
the manifest's `expected` block, and the file count and bytes with its statistics.
Exit status 0 when everything agrees.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COUNT_KEYS = ("inputOther", "output", "inputCacheRead", "inputCacheCreation")
PROTOCOLS = ("1.0", "1.4", "1.5")
DAY = 86400.0

Key = tuple[str, Any, Any, Any, int, int, int, int]  # agent dir, raw time, scope, alias, four counts


@dataclass
class Report:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    bad_lines: int = 0
    partial_tails: int = 0
    usage_records: int = 0
    zero_records: int = 0
    step_ends: int = 0
    step_ends_unpaired: int = 0
    forked_markers: int = 0
    max_line: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


@dataclass
class Holder:
    time: Any
    model: str
    sessions: dict[str, bool]  # session -> its copy is followed by a `forked` marker in its file


@dataclass
class Config:
    default: str | None
    models: dict[str, str]

    def resolve(self, alias: Any) -> str:
        def one(name: Any) -> str | None:
            if not isinstance(name, str) or not name:
                return None
            if name in self.models:
                return self.models[name]
            bare = name.removeprefix("kimi-code/")
            if not bare or (bare.startswith("__") and bare.endswith("__")):
                return None
            return bare

        return one(alias) or one(self.default) or "kimi-for-coding"


def load_config(path: Path) -> Config:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, ValueError):
        return Config(None, {})
    models = {
        alias: entry["model"]
        for alias, entry in doc.get("models", {}).items()
        if isinstance(entry, dict) and isinstance(entry.get("model"), str)
    }
    default = doc.get("default_model")
    return Config(default if isinstance(default, str) else None, models)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return 0
    return int(value)


def split_lines(data: bytes) -> tuple[list[bytes], bool]:
    """The complete lines of a file, and whether a last line without a newline followed them."""
    lines = data.split(b"\n")
    tail = lines.pop()
    return lines, tail != b""


@dataclass
class FileState:
    """What reading one journal keeps: the llm.request models, its usage records, the last marker."""

    agent: str
    session: str
    by_alias: dict[str, str] = field(default_factory=dict)
    last_model: str | None = None
    mine: list[Key] = field(default_factory=list)
    marked_upto: int = 0  # the first len(mine) records at the last `forked` marker


def scan_file(
    path: Path, agent: str, session: str, config: Config, report: Report, holders: dict[Key, Holder]
) -> None:
    data = path.read_bytes()
    report.files += 1
    report.bytes += len(data)
    lines, partial = split_lines(data)
    report.partial_tails += partial
    if partial and _is_json(data[data.rfind(b"\n") + 1 :]):
        report.problems.append(f"{path}: the last line is whole JSON but has no newline")
    state = FileState(agent, session)
    records: list[dict[str, Any]] = []
    for i, raw in enumerate(lines):
        report.lines += 1
        report.max_line = max(report.max_line, len(raw) + 1)
        where = f"{path}:{i + 1}"
        try:
            obj = json.loads(raw)
        except ValueError:
            report.bad_lines += 1
            report.problems.append(f"{where}: not JSON")
            continue
        if not isinstance(obj, dict):
            report.problems.append(f"{where}: not an object")
        elif i == 0:
            if obj.get("type") != "metadata" or obj.get("protocol_version") not in PROTOCOLS:
                report.problems.append(f"{where}: no metadata header")
        else:
            records.append(obj)
            _record(obj, where, state, config, report, holders)
    for n, key in enumerate(state.mine):
        if n < state.marked_upto:
            holders[key].sessions[session] = True
    _pair_step_ends(records, path, report)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def _record(
    obj: dict[str, Any],
    where: str,
    state: FileState,
    config: Config,
    report: Report,
    holders: dict[Key, Holder],
) -> None:
    kind = obj.get("type")
    report.kinds[str(kind)] += 1
    t = obj.get("time")
    if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
        report.problems.append(f"{where}: time {t!r}")
    if "agentId" in obj and obj["agentId"] != state.agent:
        report.problems.append(f"{where}: agentId {obj['agentId']!r} in the file of {state.agent}")
    if kind == "llm.request":
        model = obj.get("model")
        if isinstance(model, str) and model:
            state.last_model = model
            if isinstance(obj.get("modelAlias"), str):
                state.by_alias[obj["modelAlias"]] = model
    elif kind == "forked":
        report.forked_markers += 1
        state.marked_upto = len(state.mine)
    elif kind == "usage.record":
        key = _usage(obj, where, state.agent, report)
        if key is None:
            return
        alias = obj.get("model")
        model = state.by_alias.get(alias, state.last_model) if isinstance(alias, str) else state.last_model
        state.mine.append(key)
        holder = holders.get(key)
        if holder is None:
            holder = holders[key] = Holder(t, model or config.resolve(alias), {})
        holder.sessions.setdefault(state.session, False)


def _usage(obj: dict[str, Any], where: str, agent: str, report: Report) -> Key | None:
    usage = obj.get("usage")
    if not isinstance(usage, dict) or set(usage) != set(COUNT_KEYS):
        report.problems.append(f"{where}: usage of a wrong shape")
        return None
    if not all(isinstance(usage[k], int) and usage[k] >= 0 for k in COUNT_KEYS):
        report.problems.append(f"{where}: a count that is not a natural number")
    if obj.get("usageScope") not in ("turn", "session") or not isinstance(obj.get("model"), str):
        report.problems.append(f"{where}: scope {obj.get('usageScope')!r}, model {obj.get('model')!r}")
    counts = [_count(usage.get(k)) for k in COUNT_KEYS]
    if not any(counts):
        report.zero_records += 1
        return None
    report.usage_records += 1
    raw = {k: json.dumps(obj[k]) if k in obj else "" for k in ("time", "usageScope", "model")}
    return (agent, raw["time"], raw["usageScope"], raw["model"], counts[0], counts[1], counts[2], counts[3])


def _pair_step_ends(records: list[dict[str, Any]], path: Path, report: Report) -> None:
    """Each step.end repeats the usage of the usage.record right before or after it."""
    for i, obj in enumerate(records):
        event = obj.get("event")
        if obj.get("type") != "context.append_loop_event" or not isinstance(event, dict):
            continue
        if event.get("type") != "step.end":
            continue
        report.step_ends += 1
        near = [records[k] for k in (i - 1, i + 1) if 0 <= k < len(records)]
        if not any(r.get("type") == "usage.record" and r.get("usage") == event.get("usage") for r in near):
            report.step_ends_unpaired += 1
            report.problems.append(f"{path}: a step.end with no usage.record of the same usage beside it")


# --------------------------------------------------------------------------------------------------
# Forks.


@dataclass
class ForkCheck:
    forks: int = 0
    orphaned: int = 0
    journals: int = 0
    copied_lines: int = 0
    marker: int = 0
    legacy: int = 0


def _turn_end_times(lines: list[bytes]) -> list[int]:
    return [json.loads(raw)["time"] for raw in lines if b'"type":"turn.end"' in raw[:40]]


def check_forks(sessions: dict[str, Path], forked_from: dict[str, str], report: Report) -> ForkCheck:
    """Each fork's journals begin with the source's records, byte for byte, cut where Kimi Code cuts."""
    check = ForkCheck()
    for sid, parent in sorted(forked_from.items()):
        check.forks += 1
        if parent not in sessions:
            check.orphaned += 1
            continue
        fork_agents = sessions[sid] / "agents"
        source_agents = sessions[parent] / "agents"
        main_cut: int | None = None
        names = sorted(
            (p.name for p in source_agents.iterdir() if (p / "wire.jsonl").is_file()),
            key=lambda a: (a != "main", a),
        )
        for agent in names:
            mine = fork_agents / agent / "wire.jsonl"
            if not mine.is_file():
                report.problems.append(f"{mine}: the fork lacks the source's {agent} journal")
                continue
            check.journals += 1
            src_lines, _ = split_lines((source_agents / agent / "wire.jsonl").read_bytes())
            fork_lines, _ = split_lines(mine.read_bytes())
            legacy = fork_lines[0] == src_lines[0]
            if legacy:
                n = 0
                top = min(len(src_lines), len(fork_lines))
                while n + 1 < top and fork_lines[n + 1] == src_lines[n + 1]:
                    n += 1
                check.legacy += 1
            else:
                markers = [k for k, raw in enumerate(fork_lines) if b'"type":"forked"' in raw[:40]]
                if not markers:
                    report.problems.append(f"{mine}: a new header but no forked marker")
                    continue
                n = markers[-1] - 1
                if fork_lines[1 : n + 1] != src_lines[1 : n + 1]:
                    report.problems.append(f"{mine}: the records before the marker are not the source's")
                    continue
                check.marker += 1
            check.copied_lines += n
            copied = src_lines[1 : n + 1]
            if agent == "main":
                if not copied or b'"type":"turn.end"' not in copied[-1][:40]:
                    report.problems.append(f"{mine}: the copy does not end at a turn.end")
                    continue
                main_cut = json.loads(copied[-1])["time"]
            elif main_cut is not None and n + 1 < len(src_lines):
                # A subagent is cut at the main copy's time: its next record is later, its last not.
                next_time = json.loads(src_lines[n + 1])["time"]
                if next_time <= main_cut or (copied and json.loads(copied[-1])["time"] > main_cut):
                    report.problems.append(f"{mine}: the subagent copy is not cut at the fork's time")
    return check


# --------------------------------------------------------------------------------------------------
# Figures.


def derive(holders: dict[Key, Holder], forked_from: dict[str, str], existing: set[str], now: float) -> Any:
    def ancestors(sid: str) -> set[str]:
        out: set[str] = set()
        cur = forked_from.get(sid)
        while cur is not None and cur in existing and cur not in out:
            out.add(cur)
            cur = forked_from.get(cur)
        return out

    anc = {sid: ancestors(sid) for sid in existing}
    today = datetime.fromtimestamp(now, UTC).date()
    owners: set[str] = set()
    today_owners: set[str] = set()
    week_owners: set[str] = set()
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    totals = [0, 0, 0, 0]
    scopes = {"turn": 0, "session": 0, "none": 0}
    compaction_tokens = 0
    models: dict[str, list[int]] = {}
    for key, holder in holders.items():
        held = holder.sessions
        first = [s for s in held if not any(g in anc[s] for g in held if g != s)]
        owner = min([s for s in first if not held[s]] or first)
        owners.add(owner)
        counts = key[4:]
        for k in range(4):
            totals[k] += counts[k]
        scope = json.loads(key[2]) if key[2] else None
        scopes[scope if scope in ("turn", "session") else "none"] += 1
        if scope == "session":
            compaction_tokens += counts[0] + counts[1]
        row = models.setdefault(holder.model, [0, 0, 0, 0, 0])
        for k in range(4):
            row[k] += counts[k]
        row[4] += 1
        ts = holder.time / 1000.0
        day = datetime.fromtimestamp(ts, UTC).date()
        day_sessions.setdefault(day.isoformat(), set()).add(owner)
        day_tokens[day.isoformat()] = day_tokens.get(day.isoformat(), 0) + counts[0] + counts[1]
        if day == today:
            today_owners.add(owner)
        if ts >= now - 7 * DAY:
            week_owners.add(owner)
    ordered = sorted(models.items(), key=lambda item: (-sum(item[1][:4]), item[0]))
    rows = [
        {
            "model": name,
            "upstream_provider": "moonshot",
            "input_tokens": r[0],
            "output_tokens": r[1],
            "cache_read_tokens": r[2],
            "cache_write_tokens": r[3],
            "total_tokens": r[0] + r[1],
            "all_tokens": sum(r[:4]),
            "requests": r[4],
        }
        for name, r in ordered
    ]
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
            "compaction_calls": scopes["session"],
            "compaction_tokens": compaction_tokens,
        },
        "diagnostics": {"records_counted": len(holders), "records_by_scope": scopes},
        "models": rows,
        "daily_series": {
            "sessions": [{"date": d, "value": len(day_sessions[d])} for d in days],
            "tokens": [{"date": d, "value": day_tokens[d]} for d in days],
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.verify_code", description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--skip-forks", action="store_true", help="skip the fork copy check")
    args = parser.parse_args(argv)
    root: Path = args.corpus
    manifest = json.loads((root / "bench-corpus.json").read_text())
    config = load_config(root / "config.toml")
    report = Report()
    holders: dict[Key, Holder] = {}
    sessions: dict[str, Path] = {}
    forked_from: dict[str, str] = {}
    for session_dir in sorted(p.parent for p in root.glob("sessions/*/*/agents")):
        sid = session_dir.name
        sessions[sid] = session_dir
        try:
            state = json.loads((session_dir / "state.json").read_text())
        except (OSError, ValueError):
            report.problems.append(f"{session_dir}: no readable state.json")
            state = {}
        if isinstance(state.get("forkedFrom"), str):
            forked_from[sid] = state["forkedFrom"]
        for wire in sorted(session_dir.glob("agents/*/wire.jsonl")):
            scan_file(wire, wire.parent.name, sid, config, report, holders)
    forks = ForkCheck() if args.skip_forks else check_forks(sessions, forked_from, report)
    now = datetime.fromisoformat(manifest["params"]["now"].replace("Z", "+00:00")).timestamp()
    derived = derive(holders, forked_from, set(sessions), now)
    derived["diagnostics"]["duplicate_records"] = report.usage_records - len(holders)
    stats = manifest["stats"]
    print(
        f"sessions {len(sessions):,}; wire files {report.files:,}, {report.bytes:,} bytes "
        f"({report.bytes / 2**20:,.1f} MiB; asked {manifest['params']['size_mb']} MiB)"
    )
    print(f"lines {report.lines:,}, not JSON {report.bad_lines}, partial last lines {report.partial_tails}")
    print(
        f"usage.record {report.usage_records:,} non-zero (copies included), all-zero {report.zero_records}; "
        f"step.end {report.step_ends:,} (unpaired {report.step_ends_unpaired}); "
        f"forked markers {report.forked_markers:,}"
    )
    print(f"distinct calls {len(holders):,}; longest line {report.max_line:,} bytes")
    print("record types: " + ", ".join(f"{k} {v:,}" for k, v in report.kinds.most_common()))
    if not args.skip_forks:
        print(
            f"forks {forks.forks} (source deleted {forks.orphaned}); journals checked {forks.journals} "
            f"(after a marker {forks.marker}, legacy copies {forks.legacy}), "
            f"copied lines {forks.copied_lines:,}"
        )
    counts = stats["counts"]
    tallies = {
        "lines": (report.lines, counts["lines"]),
        "non-zero usage records": (report.usage_records, counts["usage_lines"]),
        "all-zero usage records": (report.zero_records, counts["zero_usage_lines"]),
        "step.end records": (report.step_ends, counts["step_end_lines"]),
        "forked markers": (report.forked_markers, counts["forked_markers"]),
        "partial last lines": (report.partial_tails, stats["partial_tails"]),
    }
    for name, (got, want) in tallies.items():
        if got != want:
            report.problems.append(f"{name}: the files hold {got:,}, the manifest says {want:,}")
    if report.bytes != stats["wire_bytes"] or report.files != stats["wire_files"]:
        report.problems.append(
            f"files/bytes {report.files}/{report.bytes} differ from the manifest's "
            f"{stats['wire_files']}/{stats['wire_bytes']}"
        )
    expected = manifest["expected"]
    for section in ("metrics", "diagnostics", "models", "daily_series"):
        if _counted(section, derived[section]) != _counted(section, expected[section]):
            report.problems.append(
                f"{section}: files give {json.dumps(derived[section])[:400]}, "
                f"manifest says {json.dumps(expected[section])[:400]}"
            )
    for problem in report.problems[:30]:
        print("PROBLEM", problem)
    print("figures from the files:", json.dumps(derived["metrics"]), json.dumps(derived["diagnostics"]))
    ok = not report.problems
    print("OK: the files match the manifest" if ok else f"{len(report.problems)} problems")
    return 0 if ok else 1


def _counted(section: str, value: Any) -> Any:
    """A section as the files determine it: model rows without their sums of the four counts, which a
    manifest written before openusage.snapshot/2 names differently (`total_tokens` was all four)."""
    if section != "models":
        return value
    return [{k: v for k, v in row.items() if k not in ("total_tokens", "all_tokens")} for row in value]


if __name__ == "__main__":
    sys.exit(main())
