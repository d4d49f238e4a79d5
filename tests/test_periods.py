"""Days, weeks, months and date ranges in a zone: every expected value computed by hand from the
zone's rules (the DST dates of 2026, the offsets), never by the code under test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from openusage.errors import UsageInputError
from openusage.periods import Calendar, day_range
from openusage.windows import zone


def utc(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


def fixed(name: str) -> tzinfo:
    sign = -1 if name[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))


def cal(name: str, **kwargs: object) -> Calendar:
    """A calendar in the IANA zone `name`, or in a fixed offset such as "+05:30"."""
    tz = fixed(name) if name[0] in "+-" else zone(name)
    return Calendar(tz, **kwargs)  # type: ignore[arg-type]


# ---- days across DST, in both directions ----


@pytest.mark.parametrize(
    ("zone_name", "day", "start", "end", "hours"),
    [
        # Europe: clocks go forward on the last Sunday of March, back on the last Sunday of October.
        ("Europe/Berlin", date(2026, 3, 29), "2026-03-28T23:00", "2026-03-29T22:00", 23),
        ("Europe/Berlin", date(2026, 10, 25), "2026-10-24T22:00", "2026-10-25T23:00", 25),
        ("Europe/Berlin", date(2026, 11, 20), "2026-11-19T23:00", "2026-11-20T23:00", 24),
        # US: forward on the second Sunday of March, back on the first Sunday of November.
        ("America/New_York", date(2026, 3, 8), "2026-03-08T05:00", "2026-03-09T04:00", 23),
        ("America/New_York", date(2026, 11, 1), "2026-11-01T04:00", "2026-11-02T05:00", 25),
        ("Asia/Kolkata", date(2026, 11, 20), "2026-11-19T18:30", "2026-11-20T18:30", 24),
        ("+05:30", date(2026, 11, 20), "2026-11-19T18:30", "2026-11-20T18:30", 24),
        ("Pacific/Chatham", date(2026, 11, 20), "2026-11-19T10:15", "2026-11-20T10:15", 24),
        ("+13:45", date(2026, 11, 20), "2026-11-19T10:15", "2026-11-20T10:15", 24),
        # Chile skips midnight itself (00:00 -> 01:00 on the first Sunday of September): the day
        # starts at the change.
        ("America/Santiago", date(2026, 9, 6), "2026-09-06T04:00", "2026-09-07T03:00", 23),
    ],
)
def test_a_day_runs_from_its_first_local_instant_to_the_next_days(
    zone_name: str, day: date, start: str, end: str, hours: int
) -> None:
    calendar = cal(zone_name)
    assert calendar.start_of(day) == utc(start)
    assert calendar.end_of(day) == utc(end)
    assert calendar.end_of(day) - calendar.start_of(day) == hours * 3600
    # The instants on either side of each edge fall in the right day.
    assert calendar.day(utc(start)) == day
    assert calendar.day(utc(start) - 1) == day - timedelta(days=1)
    assert calendar.day(utc(end) - 1) == day
    assert calendar.day(utc(end)) == day + timedelta(days=1)


def test_both_copies_of_the_repeated_hour_belong_to_the_day_of_the_change() -> None:
    berlin = cal("Europe/Berlin")
    assert berlin.day(utc("2026-10-25T00:30")) == date(2026, 10, 25)  # 02:30 CEST
    assert berlin.day(utc("2026-10-25T01:30")) == date(2026, 10, 25)  # 02:30 CET


@pytest.mark.parametrize(
    ("zone_name", "around"),
    [("Australia/Lord_Howe", "2026-10-03T15:30"),  # +10:30 -> +11:00 in the middle of a UTC hour
     ("Europe/Berlin", "2026-10-25T01:00"), ("America/Santiago", "2026-09-06T04:00"),
     ("Pacific/Chatham", "2026-04-04T14:00"),
     # Tehran went back from +04:30 to +03:30 at local midnight, half-way through a UTC hour.
     ("Asia/Tehran", "2021-09-21T19:30")],
)
def test_every_minute_around_a_change_is_the_day_zoneinfo_gives(zone_name: str, around: str) -> None:
    calendar = cal(zone_name)
    tz = ZoneInfo(zone_name)
    start = utc(around) - 36 * 3600
    for minute in range(72 * 60):
        instant = start + minute * 60 - 1
        assert calendar.day(instant) == datetime.fromtimestamp(instant, tz).date(), instant


def test_the_same_instant_is_a_different_day_in_different_zones() -> None:
    instant = utc("2026-11-19T23:30")
    assert cal("UTC").day(instant) == date(2026, 11, 19)
    assert cal("Europe/Berlin").day(instant) == date(2026, 11, 20)
    assert cal("America/New_York").day(instant) == date(2026, 11, 19)
    assert cal("Pacific/Chatham").day(instant) == date(2026, 11, 20)


# ---- weeks ----


@pytest.mark.parametrize(
    ("day", "monday", "sunday"),
    [
        (date(2026, 11, 20), date(2026, 11, 16), date(2026, 11, 15)),  # a Friday
        (date(2026, 11, 22), date(2026, 11, 16), date(2026, 11, 22)),  # a Sunday
        (date(2026, 11, 16), date(2026, 11, 16), date(2026, 11, 15)),  # a Monday
        # ISO week 53 of 2026 runs Monday 2026-12-28 to Sunday 2027-01-03; week 1 of 2027 starts 01-04.
        (date(2026, 12, 31), date(2026, 12, 28), date(2026, 12, 27)),
        (date(2027, 1, 3), date(2026, 12, 28), date(2027, 1, 3)),
        (date(2027, 1, 4), date(2027, 1, 4), date(2027, 1, 3)),
        # ISO week 1 of 2025 starts in 2024, on Monday 2024-12-30.
        (date(2025, 1, 1), date(2024, 12, 30), date(2024, 12, 29)),
    ],
)
def test_a_week_starts_on_monday_iso_or_on_sunday(day: date, monday: date, sunday: date) -> None:
    assert cal("UTC").week(day) == monday
    assert cal("UTC", week_start="sunday").week(day) == sunday


# ---- months ----


@pytest.mark.parametrize(
    ("start", "day", "first", "label"),
    [
        (1, date(2026, 11, 20), date(2026, 11, 1), "2026-11"),
        (1, date(2027, 1, 1), date(2027, 1, 1), "2027-01"),
        (15, date(2026, 11, 14), date(2026, 10, 15), "2026-10-15"),
        (15, date(2026, 11, 15), date(2026, 11, 15), "2026-11-15"),
        (15, date(2026, 1, 10), date(2025, 12, 15), "2025-12-15"),
        (28, date(2026, 2, 27), date(2026, 1, 28), "2026-01-28"),
        (28, date(2026, 2, 28), date(2026, 2, 28), "2026-02-28"),
        (28, date(2026, 3, 1), date(2026, 2, 28), "2026-02-28"),
        (28, date(2026, 3, 27), date(2026, 2, 28), "2026-02-28"),
        (28, date(2026, 3, 31), date(2026, 3, 28), "2026-03-28"),
    ],
)
def test_billing_months_start_on_their_day(start: int, day: date, first: date, label: str) -> None:
    calendar = cal("UTC", month_start=start)
    assert calendar.month(day) == first
    assert calendar.month_label(first) == label


@pytest.mark.parametrize("start", [0, 29, -1])
def test_a_billing_day_past_28_is_refused(start: int) -> None:
    with pytest.raises(UsageInputError, match="1 to 28"):
        cal("UTC", month_start=start)


# ---- --since / --until ----

TODAY = date(2026, 11, 20)  # a Friday


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-11-03", date(2026, 11, 3), date(2026, 11, 3)),
        ("today", TODAY, TODAY),
        ("yesterday", date(2026, 11, 19), date(2026, 11, 19)),
        ("7d", date(2026, 11, 14), TODAY),
        ("30d", date(2026, 10, 22), TODAY),
        ("this-week", date(2026, 11, 16), date(2026, 11, 22)),
        ("this-month", date(2026, 11, 1), date(2026, 11, 30)),
        ("last-month", date(2026, 10, 1), date(2026, 10, 31)),
        ("This-Month", date(2026, 11, 1), date(2026, 11, 30)),
    ],
)
def test_each_date_word_names_its_days(text: str, first: date, last: date) -> None:
    assert cal("UTC").days_named(text, TODAY) == (first, last)


def test_date_words_follow_the_week_and_month_starts() -> None:
    billing = cal("UTC", week_start="sunday", month_start=15)
    assert billing.days_named("this-week", TODAY) == (date(2026, 11, 15), date(2026, 11, 21))
    assert billing.days_named("this-month", TODAY) == (date(2026, 11, 15), date(2026, 12, 14))
    assert billing.days_named("last-month", TODAY) == (date(2026, 10, 15), date(2026, 11, 14))
    assert cal("UTC").days_named("last-month", date(2026, 1, 5)) == (date(2025, 12, 1), date(2025, 12, 31))


@pytest.mark.parametrize("text", ["2026-13-01", "2026-11-31", "20261120", "last-year", "", "2026-11-20T10:00"])
def test_a_bad_date_is_the_users_error(text: str) -> None:
    with pytest.raises(UsageInputError, match="YYYY-MM-DD"):
        cal("UTC").days_named(text, TODAY)


def test_a_range_is_whole_local_days_as_utc_instants() -> None:
    span = day_range(cal("Europe/Berlin"), "2026-11-20", "2026-11-20", TODAY)
    assert (span.first, span.last) == (TODAY, TODAY)
    assert span.since == utc("2026-11-19T23:00")
    assert span.until == utc("2026-11-20T23:00")


def test_a_range_over_a_dst_change_keeps_whole_days() -> None:
    span = day_range(cal("America/New_York"), "2026-10-31", "2026-11-01", TODAY)
    assert span.since == utc("2026-10-31T04:00")  # EDT midnight
    assert span.until == utc("2026-11-02T05:00")  # EST midnight
    assert span.until - span.since == 49 * 3600


def test_since_or_until_alone_leaves_the_other_end_open() -> None:
    assert day_range(cal("UTC"), "7d", None, TODAY)[1:] == (None, utc("2026-11-14T00:00"), None)
    assert day_range(cal("UTC"), None, "yesterday", TODAY)[::3] == (None, utc("2026-11-20T00:00"))
    assert day_range(cal("UTC"), None, None, TODAY) == (None, None, None, None)


def test_since_after_until_is_the_users_error() -> None:
    with pytest.raises(UsageInputError, match="after --until"):
        day_range(cal("UTC"), "today", "yesterday", TODAY)
