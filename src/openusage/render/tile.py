"""The terminal dashboard: one rich tile per Snapshot, and the panel shown when nothing was found.

Owns every layout decision of the default `openusage` view (status line, Sessions and Tokens rows,
per-model table, the 14-day chart, the diagnostics footnote). It takes snapshots only: it never reads
a file, runs SQL or counts anything, it formats figures that arrive computed. Colour is left to the
Console (rich colours only a terminal and honours NO_COLOR), so nothing here forces it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from openusage.render.money import usd
from openusage.skips import damage
from openusage.snapshot import AgentHome, CostSummary, DailyPoint, ModelRow, Snapshot, SnapshotSet, compact_number
from openusage.windows import local_date

CHART_DAYS = 14
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
# A terminal that cannot encode the blocks (LANG=C, some CI logs) still gets a readable ramp.
ASCII_BLOCKS = "_.:-=+*#"
# Each day is drawn this many cells wide: 14 single cells are too narrow to hold the date labels.
CELL = 2
# Wider terminals get a wider tile, but past this a tile is mostly empty space.
MAX_TILE_WIDTH = 100

COST_COLUMN_WIDTH = 80  # the narrowest tile with a per-model Cost column

_BORDER = {"ok": "cyan", "unknown": "yellow", "error": "red"}
def sparkline(values: Sequence[int], *, ascii_only: bool = False) -> str:
    """One character per value: a blank for a day without usage (the lowest block would read as a
    little usage), and any non-zero value at least the lowest block, scaled to the peak."""
    blocks = ASCII_BLOCKS if ascii_only else SPARK_BLOCKS
    levels = len(blocks)
    peak = max(values, default=0)
    chars = []
    for value in values:
        chars.append(" " if value <= 0 or peak <= 0 else blocks[max(1, math.ceil(value * levels / peak)) - 1])
    return "".join(chars)


def render_dashboard(snapshot_set: SnapshotSet, console: Console) -> None:
    """Print one tile per snapshot, in the order given."""
    end = _day_in(snapshot_set.generated_at, snapshot_set.tz)
    width = min(console.width, MAX_TILE_WIDTH)
    ascii_only = console.options.ascii_only
    for snapshot in snapshot_set.snapshots:
        if snapshot.remote is not None:
            from openusage.render.remote import plain, remote_body  # only with a remote account

            body = remote_body(snapshot, snapshot_set.generated_at, ascii_only=ascii_only)
            status = _status_line(snapshot)
            status.plain = plain(status.plain, ascii_only=ascii_only)
            console.print(_panel(snapshot, [status, *body], width=width, ascii_only=ascii_only))
            continue
        console.print(_tile(snapshot, end=end, zone=snapshot_set.tz_name, width=width, ascii_only=ascii_only))


def render_nothing_detected(console: Console, settings_path: Path, homes: Sequence[AgentHome]) -> None:
    """Say that no account was found, and every way to point openusage at data: each agent's home
    and the variable that names another (`homes`), an account in the settings, the demo."""
    bullet = "-" if console.options.ascii_only else "•"
    title_width = max((len(home.title) for home in homes), default=0)
    default_width = max((len(home.default) for home in homes), default=0)
    # Text objects rather than markup strings: a path or the JSON example may contain "[".
    body = Text.assemble(
        ("No account was detected or configured.", "bold"),
        "\n\nopenusage reads the files each agent keeps on this machine.\nTo point it at data:\n",
        f"  {bullet} run the agent, or set its variable to the directory it uses:\n",
    )
    for home in homes:
        body.append(f"      {home.title:<{title_width}}   ")
        body.append(f"{home.default:<{default_width}}", "bold")
        body.append("   ")
        body.append(home.variable, "bold")
        body.append("\n")
    example = next((home for home in homes if home.sessions_dir is not None), None)
    body.append(f"  {bullet} or add an account to ")
    body.append(str(settings_path), "bold")
    if example is not None:
        body.append(":\n")
        body.append(f'      {{"accounts": [{{"id": "{example.provider}", "provider": "{example.provider}",\n'
                    f'                     "extra": {{"sessions_dir": "{example.sessions_dir}"}}}}]}}', "dim")
    body.append("\n")
    body.append(f"  {bullet} or try ")
    body.append("openusage --demo", "bold")
    body.append(" to see the dashboard over sample data")
    panel = Panel(
        body,
        title=Text("openusage", style="bold"),
        title_align="left",
        border_style="yellow",
        width=min(console.width, MAX_TILE_WIDTH),
    )
    console.print(panel)


def _tile(snapshot: Snapshot, *, end: date, zone: str, width: int, ascii_only: bool) -> Panel:
    parts: list[RenderableType] = [_status_line(snapshot)]
    # An unknown or failed account usually has no figures at all; rows of zeros would only be noise.
    if snapshot.status == "ok" or snapshot.models:
        parts += [Text(), _figures(snapshot), Text()]
        if snapshot.models:
            # Below 80 columns a Cost column would cut the model names until they look alike; the
            # Cost row above still gives the total.
            priced = snapshot.cost is not None and width >= COST_COLUMN_WIDTH
            parts.append(_models_table(snapshot.models, priced=priced))
        else:
            parts.append(Text("No model calls recorded yet.", style="dim"))
        parts += [Text(), _chart(snapshot, end=end, zone=zone, ascii_only=ascii_only)]
    footnote = _footnote(snapshot)
    if footnote is not None:
        parts += [Text(), footnote]
    return _panel(snapshot, parts, width=width, ascii_only=ascii_only)


def _panel(snapshot: Snapshot, parts: list[RenderableType], *, width: int, ascii_only: bool) -> Panel:
    return Panel(
        Group(*parts),
        title=_title(snapshot, ascii_only=ascii_only),
        title_align="left",
        border_style=_BORDER.get(snapshot.status, "cyan"),
        width=width,
        padding=(0, 1),
    )


def _title(snapshot: Snapshot, *, ascii_only: bool) -> Text:
    title = Text(snapshot.title or snapshot.provider_id, style="bold")
    # Two accounts of one provider would otherwise draw two tiles with the same name.
    if snapshot.account_id != snapshot.provider_id:
        title.append(" - " if ascii_only else " · ")
        title.append(snapshot.account_id)
    return title


def _status_line(snapshot: Snapshot) -> Text:
    if snapshot.remote is not None:
        low = snapshot.remote.state == "low"
        style = {"ok": "yellow" if low else "bold", "unknown": "yellow"}.get(snapshot.status, "red")
        return Text(snapshot.message, style=style)
    if snapshot.status == "ok":
        sessions = _used(snapshot, "total_sessions")
        tokens = _used(snapshot, "total_tokens")
        line = Text.assemble((f"{sessions:,}", "bold"), f" {_noun(sessions, 'session')}, ",
                             (compact_number(tokens), "bold"), " tokens")
        # Cache reads are often most of the volume: say that the headline leaves them out, and how many.
        cache_read = _used(snapshot, "total_cache_read")
        if cache_read:
            line.append_text(Text.assemble(" (input + output; plus ", (compact_number(cache_read), "bold"),
                                           " cache reads)", style="dim"))
        return line
    style = "red" if snapshot.status == "error" else "yellow"
    return Text(snapshot.message or f"status: {snapshot.status}", style=style)


def _figures(snapshot: Snapshot) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row(
        "Sessions",
        _pairs(
            (f"{_used(snapshot, 'total_sessions'):,}", "all"),
            (f"{_used(snapshot, 'sessions_today'):,}", "today"),
            (f"{_used(snapshot, 'sessions_7d'):,}", "7d"),
        ),
    )
    grid.add_row(
        "Tokens",
        _pairs(
            (compact_number(_used(snapshot, "total_tokens")), "total"),
            (compact_number(_used(snapshot, "total_input_tokens")), "in"),
            (compact_number(_used(snapshot, "total_output_tokens")), "out"),
            (compact_number(_used(snapshot, "total_cache_read")), "cache r"),
            (compact_number(_used(snapshot, "total_cache_write")), "cache w"),
        ),
    )
    if snapshot.cost is not None:
        grid.add_row("Cost", _cost_line(snapshot.cost))
    if "compaction_calls" in snapshot.metrics:
        # Kimi Code records its context-compaction calls (usageScope "session"); peers drop them.
        calls = _used(snapshot, "compaction_calls")
        tokens = _used(snapshot, "compaction_tokens")
        total = _used(snapshot, "total_tokens")
        share = f"{100 * tokens / total:.0f}% of tokens" if total else "0% of tokens"
        grid.add_row("Compaction", _pairs((f"{calls:,}", _noun(calls, "call")), (compact_number(tokens), "tokens"),
                                          (share, "")))
    return grid


def _cost_line(cost: CostSummary) -> Text:
    """The estimated total at list prices, what it is, and the calls it leaves out."""
    if cost.usd is None:
        text = _pairs(("unknown", "no price for any model"))
    else:
        # A subscription's calls are not money spent: they are worth what the tokens cost at list prices.
        text = _pairs((usd(cost.usd), "API-equivalent at list prices" if cost.subscription else "at list prices"))
    if cost.unpriced_requests:
        text.append(f"   + {cost.unpriced_requests:,} {_noun(cost.unpriced_requests, 'call')} without a price",
                    style="yellow")
    return text


def _pairs(*pairs: tuple[str, str]) -> Text:
    text = Text()
    for index, (value, label) in enumerate(pairs):
        if index:
            text.append("   ")
        text.append(value, style="bold")
        text.append(f" {label}", style="dim")
    return text


def _models_table(models: Sequence[ModelRow], *, priced: bool = False) -> Table:
    # The Provider column only tells rows apart when they name more than one provider; otherwise its
    # room is better given to the model names, which must stay distinguishable on a narrow terminal.
    show_provider = len({row.upstream_provider for row in models}) > 1
    # Right padding only: with the box's blank divider that leaves two-space gaps, which at 80 columns
    # gives the model name the room of "kimi-k2-turbo-preview" beside all five figures.
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold"
    )
    # Only the names may shrink (rich narrows wrappable columns first): an ellipsized model name is still
    # recognisable, a cut number is not. Names have no spaces, so "wrapping" them ellipsizes them.
    table.add_column("Model", overflow="ellipsis", min_width=8)
    # With prices, each model's cost (always: it is what the row is worth).
    if priced:
        table.add_column("Cost", justify="right", no_wrap=True)
    if show_provider:
        table.add_column("Provider", overflow="ellipsis", min_width=5, style="dim")
    for header in ("Input", "Output", "Cache r", "Cache w", "Reqs"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in models:
        table.add_row(
            row.model,
            *([_row_cost(row)] if priced else []),
            *([row.upstream_provider] if show_provider else []),
            compact_number(row.input_tokens),
            compact_number(row.output_tokens),
            compact_number(row.cache_read_tokens),
            compact_number(row.cache_write_tokens),
            f"{row.requests:,}",
        )
    return table


def _row_cost(row: ModelRow) -> Text:
    if row.cost_usd is None:
        return Text("?", style="yellow")  # no price: unknown, never $0
    return Text(usd(row.cost_usd) + ("+?" if row.unpriced_requests else ""))


def _chart(snapshot: Snapshot, *, end: date, zone: str, ascii_only: bool) -> Group:
    days = [end - timedelta(days=offset) for offset in range(CHART_DAYS - 1, -1, -1)]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(style="dim", no_wrap=True)
    tokens = _window(snapshot.daily_series.get("tokens", ()), days)
    grid.add_row("Tokens/day", _spark(tokens, "cyan", ascii_only), f"max {compact_number(max(tokens))}")
    if "sessions" in snapshot.daily_series:
        sessions = _window(snapshot.daily_series["sessions"], days)
        grid.add_row("Sessions/day", _spark(sessions, "magenta", ascii_only), f"max {max(sessions):,}")
    first, last = days[0].isoformat(), days[-1].isoformat()
    grid.add_row("", Text(first + last.rjust(CHART_DAYS * CELL - len(first)), style="dim"), "")
    heading = Text(f"Last {CHART_DAYS} days ({zone})", style="dim")
    return Group(heading, grid)


def _spark(values: Sequence[int], style: str, ascii_only: bool) -> Text:
    line = "".join(char * CELL for char in sparkline(values, ascii_only=ascii_only))
    return Text(line, style=style)


def _window(points: Sequence[DailyPoint], days: Sequence[date]) -> list[int]:
    by_day = {point.date: point.value for point in points}
    return [by_day.get(day.isoformat(), 0) for day in days]


def _footnote(snapshot: Snapshot) -> Text | None:
    skipped = _damaged_lines(snapshot)
    unreadable = _diagnostic(snapshot, "files_unreadable")
    parts = []
    if skipped:
        parts.append(f"{skipped:,} {_noun(skipped, 'line')} skipped")
    if unreadable:
        parts.append(f"{unreadable:,} {_noun(unreadable, 'file')} unreadable")
    elsewhere = _diagnostic(snapshot, "records_in_other_accounts")
    if elsewhere:
        parts.append(f"{elsewhere:,} {_noun(elsewhere, 'call')} also held by another {snapshot.title} account"
                     " and counted there")
    notes = _cost_notes(snapshot.cost)
    if not parts:
        return Text("\n".join(notes), style="dim") if notes else None
    return Text("\n".join([", ".join(parts) + " (see snapshot --json)", *notes]), style="dim")


def _cost_notes(cost: CostSummary | None) -> list[str]:
    """Where the prices come from, and which models have none."""
    if cost is None:
        return []
    notes = []
    if cost.data is not None:
        dated = f", newest price dated {cost.data.date}" if cost.data.date else ""
        notes.append(f"Cost at list prices: genai-prices {cost.data.version}{dated} (openusage prices)")
    notes.extend(f"no price for {model}: add an alias or a price in settings" for model in cost.unpriced_models)
    return notes


def _used(snapshot: Snapshot, key: str) -> int:
    metric = snapshot.metrics.get(key)
    return metric.used if metric is not None else 0


def _diagnostic(snapshot: Snapshot, key: str) -> int:
    value = snapshot.diagnostics.get(key, 0)
    # A diagnostic may be broken down by reason; the footnote only needs the total.
    return sum(value.values()) if isinstance(value, dict) else value


def _damaged_lines(snapshot: Snapshot) -> int:
    """The skipped lines that are damage (`skips.damage`): the total less the re-emits its breakdown
    names."""
    value = snapshot.diagnostics.get("lines_skipped", 0)
    if isinstance(value, dict):
        return damage(value)
    by_reason = snapshot.diagnostics.get("skipped_by_reason")
    copies = sum(by_reason.values()) - damage(by_reason) if isinstance(by_reason, dict) else 0
    return int(value) - int(copies)


def _noun(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _day_in(moment: datetime, tz: tzinfo) -> date:
    # A naive clock is taken as UTC, never as local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return local_date(moment, tz)
