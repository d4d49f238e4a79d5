"""The snapshot: what every front end shows for one account, built from its calls and a clock.

Pure: no files, no SQL. `build_snapshot` folds one account's calls (one row per model call, already
de-duplicated and attributed) into the metrics, per-model rows and daily series the renderers draw and
the JSON carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from openusage.records import CallRow, FileDiagnostics
from openusage.windows import DAY, Windows, day_to_date, windows

Status = Literal["ok", "unknown", "error"]


class Metric(NamedTuple):
    used: int
    unit: str
    window: str


class ModelRow(NamedTuple):
    model: str
    upstream_provider: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    requests: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


class DailyPoint(NamedTuple):
    date: str  # ISO date of the bucket, e.g. "2026-11-20"
    value: int


class Snapshot(NamedTuple):
    account_id: str
    provider_id: str
    title: str
    status: Status
    message: str
    metrics: dict[str, Metric]
    models: tuple[ModelRow, ...]
    daily_series: dict[str, tuple[DailyPoint, ...]]
    diagnostics: dict[str, int | dict[str, int]]


class SnapshotSet(NamedTuple):
    """Every account's snapshot, as of one moment."""

    generated_at: datetime
    snapshots: tuple[Snapshot, ...]

    @property
    def generated_at_iso(self) -> str:
        return self.generated_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AccountFigures(NamedTuple):
    """What the store holds for one account: its calls, and what reading its files ran into."""

    found: bool
    problem: str | None  # why an existing sessions directory could not be read
    calls: Iterable[CallRow]
    default_model: str
    files: FileDiagnostics
    files_unreadable: int


class ProviderInfo(NamedTuple):
    id: str
    title: str
    upstream_provider: str
    missing_message: str


class _Sums:
    __slots__ = ("cache_read", "cache_write", "calls", "input", "output")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_write = self.calls = 0

    def add(self, inp: int, out: int, cache_read: int, cache_write: int) -> None:
        self.input += inp
        self.output += out
        self.cache_read += cache_read
        self.cache_write += cache_write
        self.calls += 1


class _Aggregate:
    __slots__ = ("copies", "day_sessions", "day_tokens", "models", "sessions", "today", "totals", "week")

    def __init__(self) -> None:
        self.totals = _Sums()
        self.copies = 0
        self.sessions: set[str] = set()
        self.today: set[str] = set()
        self.week: set[str] = set()
        self.models: dict[str, _Sums] = {}
        self.day_sessions: dict[int, set[str]] = {}
        self.day_tokens: dict[int, int] = {}


def aggregate(calls: Iterable[CallRow], window: Windows, default_model: str) -> _Aggregate:
    """One pass over the calls: totals, distinct sessions (all, today, 7 d), per model, per UTC day."""
    agg = _Aggregate()
    totals, models = agg.totals, agg.models
    for session, ts, model, inp, out, cache_read, cache_write, copies in calls:
        totals.add(inp, out, cache_read, cache_write)
        agg.copies += copies
        agg.sessions.add(session)
        name = model or default_model
        sums = models.get(name)
        if sums is None:
            sums = models[name] = _Sums()
        sums.add(inp, out, cache_read, cache_write)
        if ts is None:
            continue  # no valid time: counts everywhere but on no day and in no window
        if window.today_start <= ts < window.today_end:
            agg.today.add(session)
        if ts >= window.week_start:
            agg.week.add(session)
        day = int(ts // DAY)
        agg.day_sessions.setdefault(day, set()).add(session)
        agg.day_tokens[day] = agg.day_tokens.get(day, 0) + inp + out
    return agg


def build_snapshot(account_id: str, provider: ProviderInfo, figures: AccountFigures, now: datetime) -> Snapshot:
    agg = aggregate(figures.calls, windows(now), figures.default_model)
    totals = agg.totals
    metrics = {
        "total_sessions": Metric(len(agg.sessions), "sessions", "all-time"),
        "sessions_today": Metric(len(agg.today), "sessions", "today"),
        "sessions_7d": Metric(len(agg.week), "sessions", "7d"),
        "total_input_tokens": Metric(totals.input, "tokens", "all-time"),
        "total_output_tokens": Metric(totals.output, "tokens", "all-time"),
        "total_cache_read": Metric(totals.cache_read, "tokens", "all-time"),
        "total_cache_write": Metric(totals.cache_write, "tokens", "all-time"),
        "total_tokens": Metric(totals.input + totals.output, "tokens", "all-time"),
    }
    rows = [
        ModelRow(name, provider.upstream_provider, m.input, m.output, m.cache_read, m.cache_write, m.calls)
        for name, m in agg.models.items()
    ]
    rows.sort(key=lambda row: (-row.total_tokens, row.model))
    days = sorted(agg.day_sessions)
    dates = [day_to_date(day).isoformat() for day in days]
    daily = {
        "sessions": tuple(DailyPoint(d, len(agg.day_sessions[day])) for d, day in zip(dates, days, strict=True)),
        "tokens": tuple(DailyPoint(d, agg.day_tokens[day]) for d, day in zip(dates, days, strict=True)),
    }
    diagnostics: dict[str, int | dict[str, int]] = {
        "files_read": figures.files.files_read,
        "records_counted": totals.calls,
        "duplicate_records": agg.copies - totals.calls,
        "zero_records": figures.files.zero_records,
        "lines_skipped": sum(figures.files.skipped.values()),
        "skipped_by_reason": dict(sorted(figures.files.skipped.items())),
        "files_unreadable": figures.files_unreadable,
    }
    if figures.problem is not None:
        status: Status = "error"
        message = figures.problem
    elif not figures.found:
        status = "unknown"
        message = provider.missing_message
    else:
        status = "ok"
        count = len(agg.sessions)
        message = f"{count} session{'' if count == 1 else 's'}, {compact_number(totals.input + totals.output)} tokens"
    return Snapshot(account_id, provider.id, provider.title, status, message, metrics, tuple(rows), daily,
                    diagnostics)


def compact_number(value: int) -> str:
    """1234 → 1.2K, 4_100_000 → 4.1M: the figure a person reads at a glance."""
    for threshold, suffix in ((1_000_000_000_000, "T"), (1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return str(value)
