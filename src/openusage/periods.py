"""Calendar arithmetic for reports, in the user's own zone (`windows.chosen_zone`): which days a
`--since` / `--until` names, and the day, week and month an instant falls in.

Pure: no files, no clock (callers pass `today`). Every bucket is computed on the zone's local date of
an instant (zoneinfo), never by adding 86,400 seconds, so a DST day of 23 or 25 hours and offsets such
as +05:30 or +13:45 bucket correctly. Ranges are whole local days: a range's first day starts at that
day's first local instant, its last day ends where the next day starts.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal, NamedTuple

from openusage.errors import UsageInputError
from openusage.windows import local_day, local_day_start

WeekStart = Literal["monday", "sunday"]
KEYWORDS = ("today", "yesterday", "7d", "30d", "this-week", "this-month", "last-month")


class Calendar:
    """Days, weeks and months in one zone: weeks start on `week_start`, months on day `month_start`
    (1: calendar months; 2-28: billing months that run from that day to the day before it)."""

    def __init__(self, tz: tzinfo, week_start: WeekStart = "monday", month_start: int = 1) -> None:
        if not 1 <= month_start <= 28:
            raise UsageInputError(f"--start-of-month {month_start}: a day from 1 to 28")
        self.tz = tz
        self.week_start = week_start
        self.month_start = month_start
        self.day = local_day(tz)  # UTC seconds → the zone's local date

    def local(self, instant: float) -> datetime:
        """`instant` in the zone; in UTC when the zone's local time is past the end of 9999 (a valid
        time late in 9999, east of UTC): the same instant, which the zone's calendar cannot write."""
        try:
            return datetime.fromtimestamp(instant, self.tz)
        except (OverflowError, ValueError):
            return datetime.fromtimestamp(instant, UTC)

    # ---- buckets of a local date ----

    def week(self, day: date) -> date:
        """The first day of the week holding `day` (Monday: ISO weeks)."""
        back = day.weekday() if self.week_start == "monday" else day.isoweekday() % 7
        return day - timedelta(days=back)

    def month(self, day: date) -> date:
        """The first day of the (billing) month holding `day`."""
        first = day.replace(day=self.month_start)
        return first if day >= first else _add_months(first, -1)

    def month_label(self, first: date) -> str:
        """`YYYY-MM` for calendar months, the first day for billing months."""
        return first.strftime("%Y-%m") if self.month_start == 1 else first.isoformat()

    # ---- ranges of whole local days ----

    def start_of(self, day: date) -> float:
        """The first instant of `day` in the zone (UTC seconds). A midnight skipped by a DST change
        resolves to the change itself, which is where that day starts."""
        return local_day_start(day, self.tz)

    def end_of(self, day: date) -> float:
        """Where `day` ends (exclusive): the start of the next day; never, for the calendar's last day
        (9999-12-31, which a valid time late in 9999 reaches east of UTC)."""
        if day == date.max:
            return math.inf
        return self.start_of(day + timedelta(days=1))

    def days_named(self, text: str, today: date) -> tuple[date, date]:
        """The days a `--since` / `--until` value names, as (first, last): a date names itself, a
        keyword its whole range (`7d`: today and the 6 days before; `this-week`: the week holding today)."""
        value = text.strip().lower()
        if value == "today":
            return today, today
        if value == "yesterday":
            yesterday = today - timedelta(days=1)
            return yesterday, yesterday
        if value in ("7d", "30d"):
            return today - timedelta(days=int(value[:-1]) - 1), today
        if value == "this-week":
            first = self.week(today)
            return first, _plus_days(first, 6)
        if value in ("this-month", "last-month"):
            first = self.month(today)
            if value == "last-month":
                first = _add_months(first, -1)
            following = _add_months(first, 1)
            return first, date.max if following == date.max else following - timedelta(days=1)
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
        if day is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise UsageInputError(f"date {text!r}: YYYY-MM-DD or one of {', '.join(KEYWORDS)}")
        return day, day


class Range(NamedTuple):
    """A report's range: its first and last local days (None: unbounded) and the UTC instants a
    `CallsQuery` takes (`since` inclusive, `until` exclusive)."""

    first: date | None
    last: date | None
    since: float | None
    until: float | None


def day_range(calendar: Calendar, since: str | None, until: str | None, today: date) -> Range:
    """`--since` / `--until` (inclusive local days) as a Range; an empty range is the user's error."""
    # An empty --since names no day: the user's error (`days_named` says so), never an open end.
    first = calendar.days_named(since, today)[0] if since is not None else None
    last = calendar.days_named(until, today)[1] if until is not None else None
    if first is not None and last is not None and first > last:
        raise UsageInputError(f"--since {since} ({first}) is after --until {until} ({last})")
    return Range(first, last, None if first is None else calendar.start_of(first),
                 None if last is None else calendar.end_of(last))


def _add_months(day: date, months: int) -> date:
    """`day` moved by whole months; only called with days 1-28, which every month has. Past the end of
    9999: the calendar's last day."""
    index = day.year * 12 + day.month - 1 + months
    if index // 12 > date.max.year:
        return date.max
    return day.replace(year=index // 12, month=index % 12 + 1)


def _plus_days(day: date, days: int) -> date:
    """`day` moved forward by `days`, or the calendar's last day when that is past 9999-12-31."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max
