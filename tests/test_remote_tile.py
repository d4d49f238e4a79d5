"""Remote tiles rendered to plain text at a fixed width from hand-built readings: amounts with their
currency, Kimi Code's bars, percentages and reset hints, sections, notes and the age of a cached answer."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from openusage.remote import Amount, Cap, Quota, Reading, decode, encode, js_round
from openusage.render.remote import duration, money, reset_hint
from openusage.render.tile import render_dashboard
from openusage.snapshot import SnapshotSet, remote_snapshot

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PLAN = "Plan usage"
EXTRA = "Extra Usage"


def render(*readings: tuple[str, Reading], width: int = 80, ascii_only: bool = False) -> str:
    raw = io.BytesIO()
    file = io.TextIOWrapper(raw, encoding="ascii" if ascii_only else "utf-8")
    console = Console(file=file, width=width, color_system=None, force_terminal=False)
    snapshots = tuple(remote_snapshot(provider, provider, title, reading)
                      for (provider, reading), title in zip(readings, ("Tile A", "Tile B", "Tile C"), strict=False))
    render_dashboard(SnapshotSet(NOW, snapshots), console)
    file.flush()
    out = raw.getvalue().decode("ascii" if ascii_only else "utf-8")  # ascii: fails on any other character
    assert all(len(line) <= width for line in out.splitlines()), out
    return out


def plan(**overrides: object) -> Reading:
    reading = Reading(
        "ok", "Weekly limit 4% used, 5h limit 7% used",
        (Amount("used_this_month", "Used this month", 50, "USD", EXTRA, 0),
         Amount("balance", "Balance", 100, "USD", EXTRA, 2)),
        (Quota("weekly", "Weekly limit", 40, 1000, "", NOW + timedelta(days=1, hours=2, minutes=10, seconds=59),
               section=PLAN),
         Quota("limit_1", "5h limit", 13, 200, "", NOW + timedelta(hours=2, minutes=10), section=PLAN),
         Quota("monthly_limit", "Monthly limit", 50, 200, "USD", section=EXTRA, order=1)),
        (), (), NOW, False, "https://api.kimi.com/coding/v1")
    return reading._replace(**overrides)


def balance(**overrides: object) -> Reading:
    reading = Reading(
        "ok", "49.59 USD available",
        (Amount("available", "Available", 49.58894, "USD"), Amount("cash", "Cash", 3.00001, "USD"),
         Amount("vouchers", "Vouchers", 46.58893, "USD")),
        (), (Cap("tier", "Tier", "enterprise-tier-1"), Cap("rpm", "Requests/min", "200")), (), NOW, False,
        "https://api.moonshot.ai")
    return reading._replace(**overrides)


def test_plan_tile_as_kimi_code_shows_it() -> None:
    out = render(("kimi_code_plan", plan()))
    assert "Weekly limit 4% used, 5h limit 7% used" in out
    assert "Weekly limit  █░░░░░░░░░░░░░░░░░░░  4% used  40 / 1,000" in out
    assert "resets in 1d 2h 10m" in out
    # 13/200 = 6.5 %: 7 % as Math.round has it; 1.3 of 20 cells rounds to 1.
    assert "5h limit      █░░░░░░░░░░░░░░░░░░░  7% used  13 / 200" in out
    assert "resets in 2h 10m" in out
    lines = [line.strip("│ ") for line in out.splitlines()]
    weekly = lines.index("Weekly limit  █░░░░░░░░░░░░░░░░░░░  4% used  40 / 1,000")
    assert lines.index(PLAN) == 3  # border, status line, one blank line
    assert lines.index(PLAN) < weekly < lines.index(EXTRA)
    extra = lines.index(EXTRA)
    assert lines[extra + 1].startswith("Used this month  $50.00")
    assert lines[extra + 2].startswith("Monthly limit    █████░░░░░░░░░░░░░░░  25% used  $50.00 / $200.00")
    assert lines[extra + 3].startswith("Balance          $100.00")


def test_unlimited_monthly_limit() -> None:
    reading = plan(quotas=plan().quotas[:2], caps=(Cap("monthly_limit", "Monthly limit", "Unlimited", EXTRA, 1),))
    lines = [line.strip("│ ") for line in render(("kimi_code_plan", reading)).splitlines()]
    extra = lines.index(EXTRA)
    assert [line.split()[0:2] for line in lines[extra + 1:extra + 4]] == [
        ["Used", "this"], ["Monthly", "limit"], ["Balance", "$100.00"]]
    assert "Unlimited" in lines[extra + 2]


@pytest.mark.parametrize(("used", "cells", "percent"), [(0, 0, 0), (1, 0, 0), (5, 0, 1), (499, 10, 50), (850, 17, 85),
                                                         (1000, 20, 100), (1500, 20, 100)])
def test_bar_cells_and_percent(used: int, cells: int, percent: int) -> None:
    reading = plan(quotas=(Quota("weekly", "Weekly limit", used, 1000, ""),), amounts=())
    out = render(("kimi_code_plan", reading))
    bar_line = next(line for line in out.splitlines() if "Weekly limit  " in line)
    assert bar_line.count("█") == cells
    assert bar_line.count("░") == 20 - cells
    assert f" {percent}% used" in bar_line


def test_a_limit_of_zero_is_zero_percent() -> None:
    out = render(("kimi_code_plan", plan(quotas=(Quota("weekly", "Weekly limit", 5, 0, ""),), amounts=())))
    assert "░" * 20 + "  0% used  5 / 0" in out


def test_reset_hints() -> None:
    def hint(delta: timedelta) -> str:
        return reset_hint(Quota("k", "L", 1, 2, "", NOW + delta), NOW)

    assert hint(timedelta(hours=2, minutes=10, seconds=30)) == "resets in 2h 10m"
    assert hint(timedelta(days=3)) == "resets in 3d"
    assert hint(timedelta(seconds=45)) == "resets in 45s"
    assert hint(timedelta(minutes=1, seconds=45)) == "resets in 1m"  # seconds only when nothing larger
    assert hint(timedelta(seconds=0)) == "reset"
    assert hint(-timedelta(hours=1)) == "reset"
    assert reset_hint(Quota("k", "L", 1, 2, "", None, "resets at soon"), NOW) == "resets at soon"
    assert reset_hint(Quota("k", "L", 1, 2, ""), NOW) == ""


def test_duration_and_money() -> None:
    assert duration(93_600 + 600) == "1d 2h 10m"
    assert duration(0) == "0s"
    assert money(12.345, "USD") == "$12.35"
    assert money(1234.5, "CNY") == "¥1,234.50"
    assert money(-12.3, "USD") == "-$12.30"
    assert money(12.3, "EUR") == "12.30 EUR"


def test_js_round_halves_go_up() -> None:
    assert [js_round(x) for x in (6.5, 0.5, 1.5, 2.4999, 7.0, 99.5)] == [7, 1, 2, 2, 7, 100]
    assert round(6.5) == 6  # what Python's own rounding would have shown


def test_balance_tile() -> None:
    out = render(("moonshot", balance()))
    assert "Tile A" in out
    assert "49.59 USD available" in out
    assert "Available     $49.59" in out
    assert "Cash          $3.00" in out
    assert "Vouchers      $46.59" in out
    assert "Tier          enterprise-tier-1" in out
    assert "last answer" not in out  # a fresh answer has no age line


def test_balance_tile_in_cny_with_a_debt_and_a_note() -> None:
    reading = balance(amounts=(Amount("available", "Available", 5, "CNY"), Amount("cash", "Cash", -12.3, "CNY"),
                               Amount("vouchers", "Vouchers", 5, "CNY"), Amount("debt", "Owes", 12.3, "CNY")),
                      caps=(), notes=("limits unavailable (not found (HTTP 404): check base_url)",))
    out = render(("moonshot", reading))
    assert "Available  ¥5.00" in out
    assert "Owes       ¥12.30" in out
    assert "limits unavailable (not found (HTTP 404): check base_url)" in out


def test_a_cached_answer_says_how_old_it_is() -> None:
    reading = balance(state="unreachable", message="cannot reach api.moonshot.ai: connection refused", stale=True,
                      fetched_at=NOW - timedelta(hours=2, minutes=10))
    out = render(("moonshot", reading))
    assert "cannot reach api.moonshot.ai: connection refused" in out
    assert "$49.59" in out
    assert "last answer from 2h 10m ago (2026-11-20 09:50 UTC)" in out


def test_a_status_without_figures_is_one_line() -> None:
    out = render(("kimi_code_plan", Reading("expired", "sign-in expired: open Kimi Code to refresh it")))
    body = [line for line in out.splitlines()[1:-1] if line.strip("│ ")]
    assert body == ["│ sign-in expired: open Kimi Code to refresh it" + " " * 32 + "│"]


def test_ascii_terminal() -> None:
    out = render(("kimi_code_plan", plan()), ascii_only=True)
    assert "#-------------------  4% used" in out
    cny = balance(amounts=(Amount("available", "Available", 5, "CNY"),), message="没找到对象",
                  notes=("limits unavailable (没找到)",), caps=(Cap("access_key", "Key id", "…9r1f"),))
    out = render(("moonshot", cny), ascii_only=True)
    assert "Available  5.00 CNY" in out
    assert "?????" in out


def test_narrow_terminal_stays_inside_the_width() -> None:
    render(("kimi_code_plan", plan()), ("moonshot", balance()), width=50)


def test_status_colours_follow_the_state() -> None:
    assert remote_snapshot("m", "m", "M", balance()).status == "ok"
    assert remote_snapshot("m", "m", "M", balance(state="low")).status == "ok"
    assert remote_snapshot("m", "m", "M", balance(state="exhausted")).status == "error"
    assert remote_snapshot("m", "m", "M", Reading("offline", "offline")).status == "unknown"
    assert remote_snapshot("m", "m", "M", balance(stale=True)).status == "ok"  # --offline with a cached answer
    assert remote_snapshot("m", "m", "M", Reading("no_key", "no key")).status == "unknown"
    assert remote_snapshot("m", "m", "M", Reading("timeout", "slow")).status == "error"


def test_a_reading_round_trips_through_the_cache_text() -> None:
    for reading in (plan(), balance(), plan(caps=(Cap("monthly_limit", "Monthly limit", "Unlimited", EXTRA, 1),))):
        assert decode(encode(reading)) == reading
    assert decode("{broken") is None
    assert decode('{"state": "ok"}') is None


def test_a_servers_control_characters_are_shown_escaped_on_one_line() -> None:
    out = render(("moonshot", balance(caps=(Cap("tier", "Tier", "ak-\u202eevil\n1"),))))
    (line,) = [line for line in out.splitlines() if "Tier" in line]
    assert line.split("Tier", 1)[1].strip(" │") == "ak-\\u202eevil\\n1"
