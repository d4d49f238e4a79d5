"""Hand-built settled calls and the report the api would give over them, for the report tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from openusage.periods import Calendar, day_range
from openusage.query import CallsQuery, CallsResult, SessionFacts, SettledCall
from openusage.reports import Kind, Options, Report, build
from openusage.windows import zone

BERLIN = zone("Europe/Berlin")
WEBSHOP, INFRA = "/home/u/webshop", "/home/u/infra"


def utc(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


def call(account: str, session: str, time: str | None, model: str, counts: tuple[int, int, int, int]) -> SettledCall:
    return SettledCall(account, account, session, None if time is None else utc(time), model, *counts)


# s1 spans midnight in Berlin (23:30 on the 19th, 00:30 on the 20th); s2 is Kimi Code's, with one
# undated call; s3 is early in the month.
A = call("kimi_cli", "s1", "2026-11-19T22:30", "m1", (100, 10, 1000, 0))
B = call("kimi_cli", "s1", "2026-11-19T23:30", "m1", (200, 20, 2000, 0))
C = call("kimi_code", "s2", "2026-11-20T10:00", "m2", (300, 30, 0, 5))
D = call("kimi_code", "s2", None, "m2", (7, 1, 0, 0))
E = call("kimi_cli", "s3", "2026-11-02T12:00", "m1", (1, 1, 1, 1))
FACTS = {("kimi_cli", "s1"): SessionFacts("Fix the cart", WEBSHOP),
         ("kimi_code", "s2"): SessionFacts("Untitled", WEBSHOP),
         ("kimi_cli", "s3"): SessionFacts("Terraform drift", INFRA)}


def report(kind: Kind, *, calls: tuple[SettledCall, ...] = (A, B, C, D, E), tz: str = "Europe/Berlin",
           since: str | None = None, until: str | None = None, **options: object) -> Report:
    """What the api would answer for the range (the calls it admits), reported."""
    named = zone(tz)
    calendar = Calendar(named, **{k: v for k, v in options.items() if k.endswith("_start")})  # type: ignore[arg-type]
    span = day_range(calendar, since, until, date(2026, 11, 20))
    query = CallsQuery(since=span.since, until=span.until, tz=named)
    result = CallsResult(query, [c for c in calls if query.admits(c.time)], FACTS, ("kimi_cli", "kimi_code"))
    rest = {k: v for k, v in options.items() if not k.endswith("_start")}
    return build(result, Options(kind, calendar, tz, span, **rest))  # type: ignore[arg-type]
