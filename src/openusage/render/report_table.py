"""A report as a rich table on a terminal (JSON, CSV and Markdown are in `report.py`, without rich).

Figures are compact (1.2M) and never wrap, so they stay whole and right-aligned at any width the
table can have; only the text column folds onto more lines, so nothing is cut. Models get their own
column when the width holds the longest name whole; otherwise they are listed under the table.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from openusage.render.report import FIGURES, KEY_HEADER, cost_text, owner, priced
from openusage.reports import Counts, Report, Row
from openusage.snapshot import compact_number

# Below this width the columns are one space apart instead of two.
ROOMY = 80
MAX_WIDTH = 160


def render_report(report: Report, console: Console) -> None:
    console.print(report_renderable(report, min(console.width, MAX_WIDTH), ascii_only=console.options.ascii_only))


def report_renderable(report: Report, width: int, *, ascii_only: bool = False) -> RenderableType:
    session = report.kind == "session"
    gap = 1 if width >= ROOMY else 0
    figures = [_number_cells(row.counts, None if session else row.sessions) for row in _all_rows(report)]
    with_cost = priced(report)
    headers = [header for _, header, _ in FIGURES] + ([] if session else ["Sessions" if gap else "Sess"])
    if with_cost:
        headers.insert(len(FIGURES) - 1, "Cost")  # after Total
    number_widths = [max(*(len(part) for part in header.split("\n")), *(len(cells[i]) for cells in figures))
                     for i, header in enumerate(headers)]
    used = sum(number_widths) + len(number_widths) * (1 + gap)
    models = sorted({name for row in report.rows for name in row.models})
    longest_key = max((len(_key_text(row)) for row in report.rows), default=8)
    models_width = max((len(", ".join(row.models)) for row in report.rows), default=0)
    show_models = bool(models) and not session and report.kind != "model" and (
        width - used - min(longest_key, 24) - 1 - gap >= max(len(name) for name in models))

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, gap, 0, 0),
                  header_style="bold", show_footer=False, width=None)
    table.add_column(KEY_HEADER[report.kind], overflow="fold", min_width=min(longest_key, 10))
    for header, number_width in zip(headers, number_widths, strict=True):
        table.add_column(header, justify="right", no_wrap=True, min_width=number_width)
    if show_models:
        table.add_column("Models", overflow="fold", min_width=min(models_width, max(len(m) for m in models)))
    # No space after the arrow: a narrow column folds the name onto more lines instead of breaking
    # the line after the arrow.
    arrow = "-" if ascii_only else "↳"
    for row in report.rows:
        table.add_row(_key_cell(row, ascii_only), *_number_cells(row.counts, None if session else row.sessions),
                      *(["\n".join(row.models)] if show_models else []))
        for share in row.breakdown:
            table.add_row(Text(arrow + share.model, style="dim"),
                          *_number_cells(share.counts, None if session else share.sessions),
                          *([""] if show_models else []), style="dim")
    table.add_section()
    totals = report.totals
    table.add_row(Text("Total", style="bold"), *_number_cells(totals.counts, None if session else totals.sessions),
                  *([""] if show_models else []), style="bold")
    parts: list[RenderableType] = [_heading(report, ascii_only), table]
    if models and not show_models and report.kind not in ("model", "session"):
        parts.append(Text("Models: " + ", ".join(report.totals.models), style="dim"))
    parts.append(Text("Total = input + output; cache reads and writes are counted apart.", style="dim"))
    if with_cost and report.prices is not None:
        dated = f", newest price dated {report.prices.date}" if report.prices.date else ""
        parts.append(Text(f"Cost at list prices (genai-prices {report.prices.version}{dated}; ? = no price, "
                          "see openusage prices); a subscription's calls are worth it, not billed it.", style="dim"))
    return Group(*parts)


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


def _heading(report: Report, ascii_only: bool) -> Text:
    span = report.span
    if span.first is None and span.last is None:
        scope = "all time"
    else:
        scope = f"{span.first or 'start'} to {span.last or 'now'}"
    names = {"daily": "Daily usage", "weekly": "Weekly usage", "monthly": "Monthly usage",
             "session": "Usage by session", "project": "Usage by project", "model": "Usage by model"}
    dot = " - " if ascii_only else " · "
    return Text.assemble((names[report.kind], "bold"), (f"{dot}{scope}{dot}{report.tz}", "dim"))
