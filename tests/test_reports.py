"""Report rows from hand-built settled calls; every expected figure is summed by hand below."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from openusage.errors import UsageInputError
from openusage.periods import Calendar
from openusage.query import CallsQuery, CallsResult, SettledCall
from openusage.reports import Counts, Kind, ModelShare, Options, Report
from openusage.windows import zone
from report_calls import BERLIN, INFRA, WEBSHOP, A, D, call, report, utc


def table(rep: Report) -> list[tuple[str | None, Counts, int]]:
    return [(row.key, row.counts, row.sessions) for row in rep.rows]


def test_daily_rows_are_local_days_with_an_undated_row_last() -> None:
    rep = report("daily")
    assert table(rep) == [
        ("2026-11-02", Counts(1, 1, 1, 1, 1), 1),
        ("2026-11-19", Counts(100, 10, 1000, 0, 1), 1),
        ("2026-11-20", Counts(500, 50, 2000, 5, 2), 2),
        (None, Counts(7, 1, 0, 0, 1), 1),
    ]
    assert rep.totals.counts == Counts(608, 62, 3001, 6, 5)
    assert rep.totals.counts.total == 670
    assert rep.totals.sessions == 3  # distinct, not the sum of the rows' 5
    assert rep.rows[2].models == ("m2", "m1")  # m2 has 330 tokens that day, m1 220
    assert rep.tz == "Europe/Berlin"


def test_the_same_calls_in_utc_put_the_session_on_one_day() -> None:
    rep = report("daily", tz="UTC")
    assert [(key, counts.calls) for key, counts, _ in table(rep)] == [
        ("2026-11-02", 1), ("2026-11-19", 2), ("2026-11-20", 1), (None, 1)]


def test_a_bounded_range_has_no_undated_row_and_stops_at_the_zones_midnight() -> None:
    rep = report("daily", since="2026-11-20", until="2026-11-20")
    assert table(rep) == [("2026-11-20", Counts(500, 50, 2000, 5, 2), 2)]
    assert rep.totals.counts == Counts(500, 50, 2000, 5, 2)
    # 22:30Z on the 19th is 23:30 in Berlin: still the 19th, outside the range.
    rep = report("daily", since="2026-11-19", until="2026-11-19")
    assert table(rep) == [("2026-11-19", Counts(100, 10, 1000, 0, 1), 1)]


def test_an_empty_report_has_zero_totals() -> None:
    rep = report("daily", since="2026-10-01", until="2026-10-31")
    assert rep.rows == ()
    assert rep.totals.counts == Counts(0, 0, 0, 0, 0)
    assert rep.totals.sessions == 0


def test_weekly_rows_are_keyed_by_their_first_day() -> None:
    assert [(key, counts.calls) for key, counts, _ in table(report("weekly"))] == [
        ("2026-11-02", 1), ("2026-11-16", 3), (None, 1)]
    assert [key for key, _, _ in table(report("weekly", week_start="sunday"))] == [
        "2026-11-01", "2026-11-15", None]


def test_weeks_across_a_year_boundary_follow_iso() -> None:
    calls = (call("a", "s", "2026-12-28T12:00", "m", (1, 0, 0, 0)),   # Monday of ISO week 53
             call("a", "s", "2027-01-03T12:00", "m", (2, 0, 0, 0)),   # its Sunday
             call("a", "s", "2027-01-04T12:00", "m", (4, 0, 0, 0)))   # Monday of week 1
    rep = report("weekly", calls=calls, tz="UTC")
    assert [(key, counts.input) for key, counts, _ in table(rep)] == [("2026-12-28", 3), ("2027-01-04", 4)]


def test_monthly_rows_are_calendar_or_billing_months() -> None:
    assert [(key, counts.calls) for key, counts, _ in table(report("monthly"))] == [("2026-11", 4), (None, 1)]
    assert [(key, counts.calls) for key, counts, _ in table(report("monthly", month_start=15))] == [
        ("2026-10-15", 1), ("2026-11-15", 3), (None, 1)]


def test_session_rows_carry_title_project_and_local_first_and_last() -> None:
    rep = report("session")
    rows = {row.key: row for row in rep.rows}
    s1 = rows["s1"].session
    assert s1 is not None
    assert (s1.account, s1.provider, s1.title, s1.project) == ("kimi_cli", "kimi_cli", "Fix the cart", WEBSHOP)
    assert s1.first is not None
    assert s1.last is not None
    assert s1.first.isoformat() == "2026-11-19T23:30:00+01:00"
    assert s1.last.isoformat() == "2026-11-20T00:30:00+01:00"
    assert s1.duration == timedelta(hours=1)
    assert rows["s1"].counts == Counts(300, 30, 3000, 0, 2)
    s2 = rows["s2"]
    assert s2.counts == Counts(307, 31, 0, 5, 2)  # its undated call is in its row
    assert s2.session is not None
    assert s2.session.first == s2.session.last
    # Oldest last call first by default.
    assert [row.key for row in rep.rows] == ["s3", "s1", "s2"]
    assert rep.totals.counts == Counts(608, 62, 3001, 6, 5)


def test_a_session_with_only_undated_calls_has_no_first_or_last() -> None:
    rep = report("session", calls=(D,))
    detail = rep.rows[0].session
    assert detail is not None
    assert (detail.first, detail.last, detail.duration) == (None, None, None)


def test_a_session_the_provider_told_nothing_of_is_an_unknown_project() -> None:
    lost = call("kimi_cli", "s9", "2026-11-20T10:00", "m1", (5, 5, 0, 0))
    rep = report("project", calls=(A, lost))
    assert [row.key for row in rep.rows] == [WEBSHOP, "(unknown)"]
    assert report("session", calls=(lost,)).rows[0].session == (
        "kimi_cli", "kimi_cli", "", "(unknown)", datetime.fromtimestamp(lost.time or 0, BERLIN),
        datetime.fromtimestamp(lost.time or 0, BERLIN))


def test_project_rows_join_providers_under_one_label() -> None:
    rep = report("project")
    assert table(rep) == [(WEBSHOP, Counts(607, 61, 3000, 5, 4), 2), (INFRA, Counts(1, 1, 1, 1, 1), 1)]
    assert rep.rows[0].providers == ("kimi_cli", "kimi_code")


def test_model_rows() -> None:
    rep = report("model")
    assert table(rep) == [("m2", Counts(307, 31, 0, 5, 2), 1), ("m1", Counts(301, 31, 3001, 1, 3), 2)]


def test_breakdown_splits_each_row_by_model() -> None:
    rep = report("daily", breakdown=True)
    day = rep.rows[2]
    assert day.breakdown == (ModelShare("m2", Counts(300, 30, 0, 5, 1), 1),
                             ModelShare("m1", Counts(200, 20, 2000, 0, 1), 1))
    for row in rep.rows:
        assert sum(share.counts.total for share in row.breakdown) == row.counts.total
    assert [share.model for share in rep.totals.breakdown] == ["m2", "m1"]
    assert report("daily").rows[2].breakdown == ()


def test_breakdown_of_the_model_report_is_refused() -> None:
    with pytest.raises(UsageInputError, match="breakdown"):
        report("model", breakdown=True)


def test_order_reverses_and_limit_keeps_the_most_recent_or_largest() -> None:
    assert [row.key for row in report("daily", order="desc").rows] == ["2026-11-20", "2026-11-19", "2026-11-02", None]
    assert [row.key for row in report("session", limit=2).rows] == ["s1", "s2"]
    assert [row.key for row in report("session", limit=2, order="desc").rows] == ["s2", "s1"]
    assert [row.key for row in report("project", limit=1).rows] == [WEBSHOP]
    assert [row.key for row in report("project", order="asc").rows] == [INFRA, WEBSHOP]
    # The undated row ranks last: it stays when the limit leaves room.
    assert [row.key for row in report("daily", limit=3).rows] == ["2026-11-02", "2026-11-19", "2026-11-20"]
    assert [row.key for row in report("daily", limit=4).rows] == ["2026-11-02", "2026-11-19", "2026-11-20", None]


def test_totals_are_the_sum_of_the_rows_kept() -> None:
    for kind in ("daily", "weekly", "monthly", "session", "project", "model"):
        for limit in (None, 1, 2):
            rep = report(kind, limit=limit)  # type: ignore[arg-type]
            summed = [sum(row.counts[i] for row in rep.rows) for i in range(5)]
            assert list(rep.totals.counts)[:5] == summed, (kind, limit)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(UsageInputError, match="--limit"):
        report("session", limit=0)



@pytest.mark.parametrize(
    ("tz", "around"),
    [("Europe/Berlin", "2026-10-25T01:00"), ("America/Santiago", "2026-09-06T04:00"),
     ("Asia/Tehran", "2021-09-21T19:30"), ("Australia/Lord_Howe", "2026-10-03T15:30"),
     ("Pacific/Chatham", "2026-04-04T14:00"), ("Asia/Kolkata", "2026-11-19T18:30")],
)
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_every_call_lands_in_the_period_of_its_local_date(tz: str, around: str, kind: Kind) -> None:
    """A call every 7 minutes over three days around a change of offset: each row holds exactly the
    calls whose local date (zoneinfo, per instant) falls in its period."""
    start = utc(around) - 36 * 3600
    calls = tuple(SettledCall("a", "a", "s", start + minute * 7 * 60, "m", 1, 0, 0, 0)
                  for minute in range(72 * 60 // 7))
    rep = report(kind, calls=calls, tz=tz)
    expected: dict[str, int] = {}
    zone_info = zone(tz)
    for one in calls:
        local = datetime.fromtimestamp(one.time or 0, zone_info).date()
        first = {"daily": local, "weekly": local - timedelta(days=local.weekday()),
                 "monthly": local.replace(day=1)}[kind]
        label = first.strftime("%Y-%m") if kind == "monthly" else first.isoformat()
        expected[label] = expected.get(label, 0) + 1
    assert {row.key: row.counts.calls for row in rep.rows} == expected


class _TwoProviders:
    """m1 has fixed units per token that differ by provider; m2 of kimi_code is priced call by call
    (10 units a call); m2 of kimi_cli has no price."""

    def fixed(self, provider: str, model: str) -> tuple[int, int, int, int, int] | bool | None:
        if model == "m1":
            return (1, 2, 0, 0, 0) if provider == "kimi_cli" else (3, 4, 0, 0, 0)
        return False if provider == "kimi_code" else None

    def __call__(self, call: SettledCall) -> int | None:
        return 10


def test_a_rows_cost_and_sessions_follow_each_provider_and_account() -> None:
    from openusage.reports import build

    calls = [call("kimi_cli", "s1", "2026-11-20T10:00", "m1", (100, 10, 0, 0)),
             call("kimi_code", "s1", "2026-11-20T11:00", "m1", (100, 10, 0, 0)),  # same name, other account
             call("kimi_code", "s1", "2026-11-20T12:00", "m2", (1, 1, 0, 0)),
             call("kimi_code", "s1", "2026-11-20T13:00", "m2", (1, 1, 0, 0)),
             call("kimi_cli", "s2", "2026-11-20T14:00", "m2", (1, 1, 0, 0))]
    base = report("daily", calls=tuple(calls), tz="UTC")
    rep = build(CallsResult(CallsQuery(), calls, {}, ("kimi_cli", "kimi_code")),
                Options("daily", base_calendar(), "UTC", base.span, breakdown=True), _TwoProviders())
    (row,) = rep.rows
    assert row.sessions == 3  # (kimi_cli, s1), (kimi_code, s1), (kimi_cli, s2)
    assert row.counts.cost == (100 * 1 + 10 * 2) + (100 * 3 + 10 * 4) + 2 * 10
    assert row.counts.unpriced == 1
    shares = {share.model: (share.counts.calls, share.counts.cost, share.sessions) for share in row.breakdown}
    assert shares == {"m1": (2, 460, 2), "m2": (3, 20, 2)}
    assert row.providers == ("kimi_cli", "kimi_code")
    assert rep.totals.counts == row.counts


def base_calendar() -> Calendar:
    return Calendar(zone("UTC"))


def test_totals_under_a_limit_count_a_session_spread_over_kept_rows_once() -> None:
    """Sessions are counted as their calls end, not kept: a session with calls on three days, one on two
    of them, one on a single day; the totals of the two most recent days count each session once."""
    calls = (call("kimi_cli", "a", "2026-11-18T10:00", "m1", (1, 0, 0, 0)),
             call("kimi_cli", "a", "2026-11-19T10:00", "m2", (1, 0, 0, 0)),
             call("kimi_cli", "a", "2026-11-20T10:00", "m1", (1, 0, 0, 0)),
             call("kimi_cli", "b", "2026-11-18T10:00", "m1", (1, 0, 0, 0)),
             call("kimi_cli", "b", "2026-11-19T10:00", "m1", (1, 0, 0, 0)),
             call("kimi_cli", "c", "2026-11-20T10:00", "m2", (1, 0, 0, 0)))
    rep = report("daily", calls=calls, tz="UTC", limit=2, breakdown=True)
    assert [(row.key, row.sessions) for row in rep.rows] == [("2026-11-19", 2), ("2026-11-20", 2)]
    assert rep.totals.sessions == 3  # a, b and c once each
    assert {share.model: share.sessions for share in rep.totals.breakdown} == {"m1": 2, "m2": 2}
    whole = report("daily", calls=calls, tz="UTC", limit=1, breakdown=True)
    assert whole.totals.sessions == 2
    assert {s.model: s.sessions for s in whole.totals.breakdown} == {"m1": 1, "m2": 1}


def test_a_streamed_report_holds_nothing_per_session() -> None:
    """`build_stream` over calls that come each session's together keeps only its rows: 60,000 sessions
    of one call each on one day take no more memory to fold than 600 (a number per session held in
    the rows' session sets would cost some MiB)."""
    import tracemalloc

    from openusage.reports import build_stream

    def peak(sessions: int) -> int:
        day = utc("2026-11-20T10:00")
        calls = (SettledCall("kimi_cli", "kimi_cli", f"session-{n:08d}", day + n % 3600, "m1", 1, 1, 0, 0)
                 for n in range(sessions))
        tracemalloc.start()
        try:
            rep = build_stream(calls, Options("daily", base_calendar(), "UTC", report("daily", tz="UTC").span))
            most = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert rep.totals.sessions == sessions
        return most

    assert peak(60_000) < peak(600) + 256 * 1024
