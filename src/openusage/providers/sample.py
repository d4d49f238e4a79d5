"""What the providers' sample homes (`write_demo`, for `openusage --demo`) share: the home made with
its `config.toml`, and the instants a sample is laid out around."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple


class SampleClock(NamedTuple):
    now: datetime  # aware; a naive `now` is taken as UTC
    midnight: datetime  # the start of `now`'s UTC day: today's sessions stay after it


def start_sample_home(root: Path, now: datetime, config_toml: str) -> SampleClock:
    """Make `root` (and its parents) with `config_toml` as its `config.toml`; the sample's clock."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(config_toml, encoding="utf-8")
    return SampleClock(now, now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
