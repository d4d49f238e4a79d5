"""The snapshot: what every front end shows for one account, built from store aggregates.

Pure: no files, no SQL. `build_snapshot` turns the store's figures for one account and a clock into
the metrics, per-model rows and daily series the renderers draw and the JSON carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from openusage.records import FileDiagnostics, ModelTotals, Totals
from openusage.windows import day_to_date

Status = Literal["ok", "unknown", "error"]


@dataclass(frozen=True, slots=True)
class Metric:
    used: int
    unit: str
    window: str


@dataclass(frozen=True, slots=True)
class ModelRow:
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


@dataclass(frozen=True, slots=True)
class DailyPoint:
    date: str  # ISO date of the bucket, e.g. "2026-11-20"
    value: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    account_id: str
    provider_id: str
    title: str
    status: Status
    message: str
    metrics: dict[str, Metric] = field(default_factory=dict)
    models: tuple[ModelRow, ...] = ()
    daily_series: dict[str, tuple[DailyPoint, ...]] = field(default_factory=dict)
    diagnostics: dict[str, int | dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnapshotSet:
    """Every account's snapshot, as of one moment."""

    generated_at: datetime
    snapshots: tuple[Snapshot, ...]

    @property
    def generated_at_iso(self) -> str:
        return self.generated_at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """Everything the store answered for one account, with the windows they were asked for."""

    found: bool
    totals: Totals
    sessions_today: int
    sessions_7d: int
    models: tuple[ModelTotals, ...]
    daily: tuple[tuple[int, int, int], ...]  # (UTC day number, sessions, input+output tokens)
    files: FileDiagnostics
    files_unreadable: int


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: str
    title: str
    upstream_provider: str
    missing_message: str


def build_snapshot(account_id: str, provider: ProviderInfo, figures: AccountFigures) -> Snapshot:
    totals = figures.totals
    metrics = {
        "total_sessions": Metric(totals.sessions, "sessions", "all-time"),
        "sessions_today": Metric(figures.sessions_today, "sessions", "today"),
        "sessions_7d": Metric(figures.sessions_7d, "sessions", "7d"),
        "total_input_tokens": Metric(totals.input_tokens, "tokens", "all-time"),
        "total_output_tokens": Metric(totals.output_tokens, "tokens", "all-time"),
        "total_cache_read": Metric(totals.cache_read_tokens, "tokens", "all-time"),
        "total_cache_write": Metric(totals.cache_write_tokens, "tokens", "all-time"),
        "total_tokens": Metric(totals.input_tokens + totals.output_tokens, "tokens", "all-time"),
    }
    rows = [
        ModelRow(m.model, provider.upstream_provider, m.input_tokens, m.output_tokens, m.cache_read_tokens,
                 m.cache_write_tokens, m.requests)
        for m in figures.models
    ]
    rows.sort(key=lambda row: (-row.total_tokens, row.model))
    dates = [day_to_date(day).isoformat() for day, _, _ in figures.daily]
    daily = {
        "sessions": tuple(DailyPoint(d, sessions) for d, (_, sessions, _) in zip(dates, figures.daily, strict=True)),
        "tokens": tuple(DailyPoint(d, tokens) for d, (_, _, tokens) in zip(dates, figures.daily, strict=True)),
    }
    diagnostics: dict[str, int | dict[str, int]] = {
        "files_read": figures.files.files_read,
        "records_counted": totals.calls,
        "duplicate_records": totals.copies - totals.calls,
        "zero_records": figures.files.zero_records,
        "lines_skipped": sum(figures.files.skipped.values()),
        "skipped_by_reason": dict(sorted(figures.files.skipped.items())),
        "files_unreadable": figures.files_unreadable,
    }
    if not figures.found:
        status: Status = "unknown"
        message = provider.missing_message
    else:
        status = "ok"
        message = f"{totals.sessions} sessions, {compact_number(metrics['total_tokens'].used)} tokens"
    return Snapshot(account_id, provider.id, provider.title, status, message, metrics, tuple(rows), daily,
                    diagnostics)


def compact_number(value: int) -> str:
    """1234 → 1.2K, 4_100_000 → 4.1M: the figure a person reads at a glance."""
    for threshold, suffix in ((1_000_000_000_000, "T"), (1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return str(value)
