"""Time windows: the current day, the last 7 x 24 hours, and day buckets, all from one injectable clock."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from openusage.errors import UsageInputError

DAY = 86400.0
WEEK = 7 * DAY
NOW_VARIABLE = "OPENUSAGE_NOW"


class Windows(NamedTuple):
    now: float
    today_start: float
    today_end: float
    week_start: float


def windows(now: datetime) -> Windows:
    """Windows for `now` (timezone-aware): today is the current UTC day."""
    utc = now.astimezone(UTC)
    today = datetime(utc.year, utc.month, utc.day, tzinfo=UTC).timestamp()
    stamp = utc.timestamp()
    return Windows(stamp, today, today + DAY, stamp - WEEK)


def day_to_date(day_number: int) -> date:
    """Day number since the epoch (UTC) → calendar date."""
    return date(1970, 1, 1) + timedelta(days=day_number)


def current_time(environ: dict[str, str] | None = None) -> datetime:
    """Now, or the instant `OPENUSAGE_NOW` names (ISO-8601, UTC unless it says otherwise; for
    reproducible reports and tests), between the epoch and the end of the year 9999: the span of the
    call times that count, and one in which every window and the 14 days the tiles draw exist."""
    value = (environ if environ is not None else os.environ).get(NOW_VARIABLE, "")
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        instant = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError as exc:
        raise UsageInputError(f"{NOW_VARIABLE}={value!r} is not an ISO-8601 instant") from exc
    except OverflowError as exc:  # an offset that moves it out of the years 1 to 9999
        raise _out_of_range(value) from exc
    if not EARLIEST_NOW <= instant <= LATEST_NOW:
        raise _out_of_range(value)
    return instant


EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_NOW = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _out_of_range(value: str) -> UsageInputError:
    return UsageInputError(f"{NOW_VARIABLE}={value!r} is outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
