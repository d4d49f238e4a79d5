"""Time windows: the current day, the last 7 x 24 hours, and day buckets, all from one injectable clock."""

import math
import os
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import NamedTuple

from openusage.errors import UsageInputError

DAY = 86400.0
WEEK = 7 * DAY
NOW_VARIABLE = "OPENUSAGE_NOW"
TZ_VARIABLE = "OPENUSAGE_TZ"
LOCALTIME = "/etc/localtime"


class Windows(NamedTuple):
    """Now, and the start of the 7-day window (today is the day holding now: a ledger knows its days)."""

    now: float
    week_start: float


def windows(now: datetime) -> Windows:
    """Windows for `now` (timezone-aware)."""
    stamp = now.astimezone(UTC).timestamp()
    return Windows(stamp, stamp - WEEK)


# Every change of a zone's offset since 1970 falls on a quarter hour: within one quarter hour whose two
# ends have the same offset, every instant has it.
_QUARTER = 900


def local_day(tz: tzinfo) -> Callable[[float], date]:
    """UTC seconds → the calendar date in `tz`. The offset is looked up once per quarter hour of time
    (a report's calls cluster in a few hundred of them): a `datetime.fromtimestamp` per call took
    ~100 ms for 50,000 calls."""
    offsets: dict[int, float | None] = {}

    def offset_of(quarter: int) -> float | None:
        start = quarter * _QUARTER
        try:
            first = datetime.fromtimestamp(start, tz).utcoffset()
            last = datetime.fromtimestamp(start + _QUARTER - 1, tz).utcoffset()
        except (OverflowError, ValueError, OSError):
            return None
        if first is None or first != last:
            return None  # a change inside this quarter hour (before 1970, say): ask per instant
        return first.total_seconds()

    def day(ts: float) -> date:
        quarter = int(ts // _QUARTER)
        try:
            offset = offsets[quarter]
        except KeyError:
            offset = offsets[quarter] = offset_of(quarter)
        try:
            if offset is None:
                return datetime.fromtimestamp(ts, tz).date()
            return day_to_date(int((ts + offset) // DAY))
        except (OverflowError, ValueError):  # a valid time late in 9999, east of UTC: past date's range
            return date.max

    return day


def local_day_start(day: date, tz: tzinfo) -> float:
    """The first instant of `day` in `tz`, in UTC seconds (a day that starts in a gap starts at its end);
    -inf for a day whose start is before the year 1 in UTC (0001-01-01 east of UTC): nothing is earlier."""
    try:
        return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC).timestamp()
    except OverflowError:
        return -math.inf


def local_date(moment: datetime, tz: tzinfo) -> date:
    """The date `moment` falls on in `tz`; the calendar's last day (9999-12-31) for a moment late in 9999
    whose local date would be in the year 10000 (east of UTC)."""
    try:
        return moment.astimezone(tz).date()
    except OverflowError:
        return date.max


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
LATEST_NOW = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # the range the README and the error state


def _out_of_range(value: str) -> UsageInputError:
    return UsageInputError(f"{NOW_VARIABLE}={value!r} is outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")


def zone(name: str) -> tzinfo:
    """The IANA zone `name` (`UTC` included); a name that is not one is the user's mistake."""
    if name.upper() in {"UTC", "Z"}:
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UsageInputError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)") from exc


def chosen_zone(option: str | None, env: Mapping[str, str], *, default_local: bool) -> tzinfo:
    """The zone a command shows: `--tz`, else `OPENUSAGE_TZ`, else the machine's own zone (reports) or
    UTC (the tile and the snapshot)."""
    if option is not None:
        return zone(option)  # an empty --tz names no zone: the user's error (`zone` says so), never ignored
    name = env.get(TZ_VARIABLE, "")
    if name:
        return zone(name)
    return machine_zone(env) if default_local else UTC


def machine_zone(env: Mapping[str, str]) -> tzinfo:
    """The machine's zone with its rules (not just today's offset): `TZ` when it names an IANA zone,
    else the zone `/etc/localtime` is, else UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = env.get("TZ", "").removeprefix(":")
    if name:
        try:
            return ZoneInfo(name) if not name.startswith("/") else _zone_file(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass  # a POSIX rule string (EST5EDT,...) or a bad name: the system's zone below
    try:
        target = os.path.realpath(LOCALTIME)
        marker = "/zoneinfo/"
        if marker in target:
            return ZoneInfo(target.split(marker, 1)[1])
        return _zone_file(LOCALTIME)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def _zone_file(path: str) -> tzinfo:
    """The zone of a tz file; named as IANA names it when the file is in a zoneinfo tree
    (`TZ=/usr/share/zoneinfo/Asia/Kolkata` is `Asia/Kolkata`, not `Kolkata`), else by its file name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    target = os.path.realpath(path)
    marker = "/zoneinfo/"
    if marker in target:
        try:
            return ZoneInfo(target.split(marker, 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a file of its own in that tree: read as it is
    with open(path, "rb") as handle:
        return ZoneInfo.from_file(handle, key=os.path.basename(path))
