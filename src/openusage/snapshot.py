"""The snapshot: what every front end shows for one account, built from store aggregates.

Pure: no files, no SQL. `build_snapshot` turns the store's figures for one account and a clock into
the metrics, per-model rows and daily series the renderers draw and the JSON carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

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
