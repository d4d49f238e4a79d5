"""The tile of a remote account (a balance, a plan quota), drawn from its snapshot's reading.

Amounts with their currency, quotas as plan dashboards draw them (a 20-cell bar, "4% used",
"resets in 2h 10m"), plain caps, notes on what is missing, and the age of an answer that comes from
the cache. Formats figures that arrive computed; reads nothing, counts nothing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from openusage.files import printable
from openusage.remote import Amount, Cap, Quota, Reading, js_round
from openusage.snapshot import Snapshot

BAR_CELLS = 20
_SYMBOLS = {"USD": "$", "CNY": "¥"}


def money(value: float, unit: str, *, ascii_only: bool = False) -> str:
    """`$12.34`, `¥12.34`, else `12.34 XXX`: two decimals (the plan specification's format); a debt keeps its sign
    before the symbol. A terminal without `¥` gets `12.34 CNY`."""
    sign = "-" if value < 0 else ""
    symbol = _SYMBOLS.get(unit.upper())
    if symbol is not None and ascii_only and not symbol.isascii():
        symbol = None
    if symbol is not None:
        return f"{sign}{symbol}{abs(value):,.2f}"
    return f"{sign}{abs(value):,.2f} {unit}".rstrip()


def duration(seconds: float) -> str:
    """`1d 2h 10m`: the non-zero units, seconds only when nothing larger is (the plan specification's rule)."""
    total = math.floor(seconds)
    if total <= 0:
        return "0s"
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if not parts and secs:
        parts.append(f"{secs}s")
    return " ".join(parts) or "0s"


def plain(text: str, *, ascii_only: bool) -> str:
    """A server's text as one line a terminal shows as written: control characters (a newline, an
    escape sequence, a direction override) escaped (`files.printable`), and, on a terminal that cannot
    encode more than ASCII, what it cannot show as `?` (a server's message may be Chinese)."""
    text = printable(text)
    return text.encode("ascii", "replace").decode("ascii") if ascii_only else text


def reset_hint(quota: Quota, now: datetime) -> str:
    """`resets in 2h 10m`, `reset` once the time has passed, or what an unreadable time said."""
    if quota.resets_at is None:
        return quota.reset_text or ""
    left = math.floor((quota.resets_at - _aware(now)).total_seconds())
    return "reset" if left <= 0 else f"resets in {duration(left)}"


def bar(ratio: float, *, ascii_only: bool) -> Text:
    filled = js_round(max(0.0, min(ratio, 1.0)) * BAR_CELLS)
    full, empty = ("#", "-") if ascii_only else ("█", "░")
    style = "red" if ratio >= 0.85 else "yellow" if ratio >= 0.5 else "green"
    return Text.assemble((full * filled, style), (empty * (BAR_CELLS - filled), "dim"))


def remote_body(snapshot: Snapshot, now: datetime, *, ascii_only: bool) -> list[RenderableType]:
    """The rows under a remote tile's status line."""
    reading = snapshot.remote
    if reading is None:
        return []
    parts: list[RenderableType] = []
    sections = dict.fromkeys([q.section for q in reading.quotas] + [a.section for a in reading.amounts]
                             + [c.section for c in reading.caps])
    for section in sorted(sections, key=bool):  # the main rows ("") first, then each named group
        if parts:
            parts.append(Text())
        if section:
            parts.append(Text(section, style="bold"))
        parts.append(_rows(reading, section, now, ascii_only=ascii_only))
    for note in reading.notes:
        parts.append(Text(plain(note, ascii_only=ascii_only), style="dim"))
    age = _age(reading, now)
    if age is not None:
        parts += [Text(), Text(age, style="yellow" if reading.stale else "dim")]
    return [Text(), *parts] if parts else []


def _rows(reading: Reading, section: str, now: datetime, *, ascii_only: bool) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(style="dim", no_wrap=True)
    rows: list[Amount | Quota | Cap] = []
    rows.extend(reading.amounts)
    rows.extend(reading.quotas)
    rows.extend(reading.caps)
    rows = [row for row in rows if row.section == section]
    rows.sort(key=lambda row: row.order)  # stable: amounts, quotas, caps where the order is the same
    first = True
    for row in rows:
        label = plain(row.label, ascii_only=ascii_only)
        if isinstance(row, Amount):
            grid.add_row(label, Text(money(row.value, row.unit, ascii_only=ascii_only),
                                     style="bold" if first and not section else ""), "", "")
            first = False
        elif isinstance(row, Quota):
            grid.add_row(label, bar(row.ratio, ascii_only=ascii_only), f"{row.percent}% used",
                         _of(row, ascii_only=ascii_only))
            hint = plain(reset_hint(row, now), ascii_only=ascii_only)
            if hint:
                grid.add_row("", Text(hint, style="dim"), "", "")
        else:
            grid.add_row(label, plain(row.value, ascii_only=ascii_only), "", "")
    return grid


def _of(quota: Quota, *, ascii_only: bool) -> str:
    if quota.unit:
        return (f"{money(quota.used, quota.unit, ascii_only=ascii_only)} / "
                f"{money(quota.limit, quota.unit, ascii_only=ascii_only)}")
    return f"{quota.used:,.0f} / {quota.limit:,.0f}"


def _age(reading: Reading, now: datetime) -> str | None:
    if reading.fetched_at is None:
        return None
    seconds = (_aware(now) - reading.fetched_at).total_seconds()
    ago = "just now" if seconds < 60 else f"{duration(seconds)} ago"
    if reading.stale:
        return f"last answer from {ago} ({reading.fetched_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
