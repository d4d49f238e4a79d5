"""A report as a rich table on a terminal (JSON, CSV and Markdown are in `report.py`, without rich).

Figures are compact (1.2M) and never wrap, so they stay whole and right-aligned at any width the
table can have; only the text column folds onto more lines, so nothing is cut. A terminal too narrow
for every figure column loses the least telling ones (cache writes first; never the total or the
cost), and a line under the table names them. Models get their own
column when the width holds the longest name whole; otherwise they are listed under the table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from openusage.render.report import FIGURES, KEY_HEADER, cost_text, owner, priced
from openusage.reports import Counts, Report, Row, SessionReport
from openusage.snapshot import compact_number

# Below this width the columns are one space apart instead of two.
ROOMY = 80
MAX_WIDTH = 160


def render_report(report: Report | SessionReport, console: Console) -> None:
    if isinstance(report, SessionReport):
        _render_stream(report, console)
        return
    console.print(report_renderable(report, min(console.width, MAX_WIDTH), ascii_only=console.options.ascii_only))


def report_renderable(report: Report, width: int, *, ascii_only: bool = False) -> RenderableType:
    session = report.kind == "session"
    figures = [_number_cells(row.counts, None if session else row.sessions) for row in _all_rows(report)]
    models = sorted({name for row in report.rows for name in row.models})
    longest_key = max((len(_key_text(row)) for row in report.rows), default=8)
    models_width = max((len(", ".join(row.models)) for row in report.rows), default=0)
    layout = _layout(report, width, figures, longest_key, models, models_width)
    table = _table(report, layout)
    for row in report.rows:
        _add_row(table, row, layout, ascii_only)
    _add_totals(table, report.totals, layout)
    return Group(_heading(report, ascii_only), table, *_notes(report, layout))


# The figure columns a terminal too narrow for all of them leaves out, first to last: the total, the
# cost and the key are always kept (the note under the table names what was left out).
LEFT_OUT_FIRST = ("Cache\nwrite", "Cache\nread", "Calls", "Sess", "Output", "Input")
# The key column's least width (a day: 2026-11-20), and the narrowest it folds to otherwise.
KEY_MIN = 10


class _Layout(NamedTuple):
    session: bool  # a session report: no sessions column
    gap: int
    headers: list[str]
    number_widths: list[int]
    longest_key: int
    models: list[str]
    models_width: int
    show_models: bool
    kept: list[int]  # which of a row's figure cells (`_number_cells`) have a column, in order
    left_out: list[str]  # the headers of those that do not (one line each)


def _layout(report: Report | SessionReport, width: int, figures: list[list[str]], longest_key: int,
            models: list[str], models_width: int) -> _Layout:
    """The columns: their headers, the figures' widths (`figures`: every row's and the totals' cells,
    or for each column the widest cell), which figures a narrow terminal leaves out so that the rest
    stay whole, and whether models get a column of their own."""
    session = report.kind == "session"
    gap = 1 if width >= ROOMY else 0
    headers = [header for _, header, _ in FIGURES] + ([] if session else ["Sessions" if gap else "Sess"])
    if priced(report):
        headers.insert(len(FIGURES) - 1, "Cost")  # after Total
    number_widths = [max(*(len(part) for part in header.split("\n")), *(len(cells[i]) for cells in figures))
                     for i, header in enumerate(headers)]
    kept = list(range(len(headers)))
    left_out: list[str] = []  # in the order they were left out
    key_width = min(longest_key, KEY_MIN)
    for header in LEFT_OUT_FIRST:
        if key_width + sum(number_widths[i] + 1 + gap for i in kept) <= width:
            break
        if header in headers:
            kept.remove(headers.index(header))
            left_out.append(header.replace("\n", " "))
    headers, number_widths = [headers[i] for i in kept], [number_widths[i] for i in kept]
    used = sum(number_widths) + len(number_widths) * (1 + gap)
    show_models = bool(models) and not session and report.kind != "model" and (
        width - used - min(longest_key, 24) - 1 - gap >= max(len(name) for name in models))
    return _Layout(session, gap, headers, number_widths, longest_key, models, models_width, show_models, kept,
                   left_out)


def _table(report: Report | SessionReport, layout: _Layout, *, show_header: bool = True,
           widths: list[int] | None = None) -> Table:
    """The table's columns, no rows; `widths`: each column's width as a whole table found it
    (padding included), for a table of some of the rows only."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, layout.gap, 0, 0),
                  header_style="bold", show_footer=False, width=None, show_header=show_header)
    table.add_column(KEY_HEADER[report.kind], overflow="fold", min_width=min(layout.longest_key, KEY_MIN))
    for header, number_width in zip(layout.headers, layout.number_widths, strict=True):
        table.add_column(header, justify="right", no_wrap=True, min_width=number_width)
    if layout.show_models:
        models = layout.models
        table.add_column("Models", overflow="fold", min_width=min(layout.models_width, max(len(m) for m in models)))
    if widths is not None:
        for index, (column, width) in enumerate(zip(table.columns, widths, strict=True)):
            column.width = width - table._get_padding_width(index)  # rich's own padding rule
    return table


def _add_row(table: Table, row: Row, layout: _Layout, ascii_only: bool) -> None:
    session = layout.session
    # No space after the arrow: a narrow column folds the name onto more lines instead of breaking
    # the line after the arrow.
    arrow = "-" if ascii_only else "↳"
    table.add_row(_key_cell(row, ascii_only), *_kept(layout, row.counts, None if session else row.sessions),
                  *(["\n".join(row.models)] if layout.show_models else []))
    for share in row.breakdown:
        table.add_row(Text(arrow + share.model, style="dim"),
                      *_kept(layout, share.counts, None if session else share.sessions),
                      *([""] if layout.show_models else []), style="dim")


def _add_totals(table: Table, totals: Row, layout: _Layout) -> None:
    table.add_section()
    session = layout.session
    table.add_row(Text("Total", style="bold"), *_kept(layout, totals.counts, None if session else totals.sessions),
                  *([""] if layout.show_models else []), style="bold")


def _kept(layout: _Layout, counts: Counts, sessions: int | None) -> list[str]:
    """A row's figure cells that have a column."""
    return _columns(layout, _number_cells(counts, sessions))


def _columns(layout: _Layout, cells: list[str]) -> list[str]:
    """Of a row's figure cells, those that have a column (`_Layout.kept`)."""
    return cells if len(layout.kept) == len(cells) else [cells[i] for i in layout.kept]


def _notes(report: Report | SessionReport, layout: _Layout) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if layout.left_out:
        parts.append(Text(f"Too narrow for {', '.join(layout.left_out)}: a wider terminal, or --json, --csv "
                          "or --markdown, shows every figure.", style="dim"))
    if layout.models and not layout.show_models and report.kind not in ("model", "session"):
        parts.append(Text("Models: " + ", ".join(report.totals.models), style="dim"))
    parts.append(Text("Total = input + output; cache reads and writes are counted apart.", style="dim"))
    if priced(report) and report.prices is not None:
        dated = f", newest price dated {report.prices.date}" if report.prices.date else ""
        parts.append(Text(f"Cost at list prices (genai-prices {report.prices.version}{dated}; ? = no price, "
                          "see openusage prices); a subscription's calls are worth it, not billed it.", style="dim"))
    return parts


def _wider(widest: list[str], rows: list[list[str]]) -> list[str]:
    """Per column, the longest of `widest` and the rows' cells (figures are ASCII with no space: their
    width is their length, as wide as they are narrow)."""
    for cells in rows:
        if not widest:
            widest = list(cells)
        for index, cell in enumerate(cells):
            if len(cell) > len(widest[index]):
                widest[index] = cell
    return widest


# Rows per table printed by `_render_stream`: each is laid out with the widths the whole table has.
CHUNK_ROWS = 512


def _render_stream(report: SessionReport, console: Console) -> None:
    """A session report drawn as `report_renderable` draws it, holding a bounded number of rows: a
    table's column widths follow only from each column's widest cell (its widest word and widest
    line, rich's `Measurement`), so a first pass over the rows keeps, per column, the cells that are
    widest by each measure; a table of those cells and the totals gives the widths, and the rows are
    then printed a chunk at a time in tables of those widths (the header with the first, the totals
    with the last), the same lines as one table."""
    ascii_only = console.options.ascii_only
    width = min(console.width, MAX_WIDTH)
    options = console.options
    widest: list[str] = []  # per figure column, its widest cell of a row (the figures' widths)
    widest_all: list[str] = []  # and of a row or a model's line under it (what rich measures)
    narrow_key = wide_key = None  # the key cells with the widest word and the widest line
    narrow = wide = -1
    longest_key = None
    count = 0
    for row in report.rows:
        count += 1
        key_len = len(_key_text(row))
        longest_key = key_len if longest_key is None else max(longest_key, key_len)
        keys = [_key_cell(row, ascii_only)]
        cells = [_number_cells(row.counts, None)]
        for share in row.breakdown:
            keys.append(Text(("-" if ascii_only else "↳") + share.model, style="dim"))
            cells.append(_number_cells(share.counts, None))
        for key in keys:
            low, high = Measurement.get(console, options, key)
            if low > narrow:
                narrow, narrow_key = low, key
            if high > wide:
                wide, wide_key = high, key
        widest = _wider(widest, cells[:1])
        widest_all = _wider(widest_all, cells)
    if count == 0 or narrow_key is None or wide_key is None:  # nothing to chunk: the one table
        empty = Report("session", report.tz, report.span, (), report.totals, report.breakdown, report.prices)
        console.print(report_renderable(empty, width, ascii_only=ascii_only))
        return
    totals = report.totals
    figures = [widest, _number_cells(totals.counts, None)]
    layout = _layout(report, width, figures, longest_key or 8, [], 0)
    proxy = _table(report, layout)
    for key in (narrow_key, wide_key):
        proxy.add_row(key, *_columns(layout, widest_all))
    _add_totals(proxy, totals, layout)
    widths = proxy._calculate_column_widths(  # what rich gives the whole table
        console, options.update_width(options.max_width - proxy._extra_width))
    console.print(_heading(report, ascii_only))
    table = _table(report, layout, widths=widths)
    held = 0
    for row in report.rows:
        if held == CHUNK_ROWS:
            console.print(table)
            table, held = _table(report, layout, show_header=False, widths=widths), 0
        _add_row(table, row, layout, ascii_only)
        held += 1
    _add_totals(table, report.totals, layout)
    console.print(table)
    for note in _notes(report, layout):
        console.print(note)


def _all_rows(report: Report) -> list[Row]:
    return [*report.rows, report.totals]


def _number_cells(counts: Counts, sessions: int | None) -> list[str]:
    cells = [compact_number(value(counts)) for _, _, value in FIGURES[:-1]]
    if counts.cost is not None:
        cells.append(cost_text(counts))
    cells.append(_count(counts.calls))
    if sessions is not None:
        cells.append(_count(sessions))
    return cells


def _count(value: int) -> str:
    return f"{value:,}" if value < 100_000 else compact_number(value)


def _key_text(row: Row) -> str:
    return "undated" if row.key is None else row.key


def _key_cell(row: Row, ascii_only: bool) -> Text:
    if row.key is None:
        return Text("undated", style="italic")
    detail = row.session
    if detail is None:
        return Text(row.key)
    text = Text(detail.title or "(no title)", style="bold")
    text.append(f"\n{row.key}", style="dim")
    text.append(f"\n{detail.project}{' - ' if ascii_only else ' · '}{owner(detail)}")
    text.append(f"\n{_span(detail.first, detail.last, ascii_only)}", style="dim")
    if row.models:
        text.append("\n" + ", ".join(row.models), style="dim")
    return text


def _span(first: datetime | None, last: datetime | None, ascii_only: bool) -> str:
    if first is None or last is None:
        return "undated"
    start = first.strftime("%Y-%m-%d %H:%M")
    end = last.strftime("%H:%M" if last.date() == first.date() else "%Y-%m-%d %H:%M")
    return f"{start} {'->' if ascii_only else '→'} {end} ({_duration(last - first)})"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _heading(report: Report | SessionReport, ascii_only: bool) -> Text:
    span = report.span
    if span.first is None and span.last is None:
        scope = "all time"
    else:
        scope = f"{span.first or 'start'} to {span.last or 'now'}"
    names = {"daily": "Daily usage", "weekly": "Weekly usage", "monthly": "Monthly usage",
             "session": "Usage by session", "project": "Usage by project", "model": "Usage by model"}
    dot = " - " if ascii_only else " · "
    return Text.assemble((names[report.kind], "bold"), (f"{dot}{scope}{dot}{report.tz}", "dim"))
