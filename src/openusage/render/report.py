"""Reports as output: the `openusage.report/1` JSON document, CSV, Markdown, and a rich table.

Takes a built `Report` only: it never reads a file or counts anything. JSON, CSV and Markdown carry
every figure in full; the terminal table writes tokens compactly (1.2M) so that the figures fit a
narrow terminal whole, and lets only the text column (period, session, project, model) fold onto
more lines: nothing is ever cut. Cost (USD at list prices, `null` / empty / `?` when no call of the
row has a price, never 0) comes right after total in every format, with the count of unpriced calls.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from openusage.render.money import usd as money
from openusage.reports import Counts, Report, Row, SessionDetail, SessionReport

REPORT_SCHEMA = "openusage.report/1"
# (JSON/CSV key, terminal header, value): the token figures of every row, in column order; `_figures`
# puts cost_usd after total and unpriced_calls last.
FIGURES: tuple[tuple[str, str, Callable[[Counts], int]], ...] = (
    ("input_tokens", "Input", lambda c: c.input),
    ("output_tokens", "Output", lambda c: c.output),
    ("cache_read_tokens", "Cache\nread", lambda c: c.cache_read),
    ("cache_write_tokens", "Cache\nwrite", lambda c: c.cache_write),
    ("total_tokens", "Total", lambda c: c.total),
    ("calls", "Calls", lambda c: c.calls),
)
_SESSION_KEYS = ("title", "project", "account", "provider", "first", "last", "duration_seconds")
KEY_HEADER = {"daily": "Day", "weekly": "Week of", "monthly": "Month", "session": "Session",
               "project": "Project", "model": "Model"}


# ---- JSON ----

AnyReport = Report | SessionReport  # a session report's rows are read as they are written


def priced(report: AnyReport) -> bool:
    """Whether the report was built with prices (the CLI's always are; a report built without any
    has no cost anywhere rather than a made-up one)."""
    return report.priced


def report_document(report: Report) -> dict[str, Any]:
    document = _document_head(report)
    document["rows"] = [_json_row(report, row) for row in report.rows]
    document["totals"] = _json_row(report, report.totals, totals=True)
    return document


def _document_head(report: AnyReport) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "report": report.kind,
        "tz": report.tz,
        "since": None if report.span.first is None else report.span.first.isoformat(),
        "until": None if report.span.last is None else report.span.last.isoformat(),
    }
    if priced(report):
        document["prices"] = {"source": "genai-prices", "version": report.prices.version if report.prices else None,
                              "date": report.prices.date if report.prices else None}
    return document


def report_json(report: AnyReport) -> Iterator[bytes]:
    """The report's document as `dump_bytes(report_document(report))` writes it, byte for byte, in
    pieces as its rows are read: the head, each row formatted alone and indented to its depth (a JSON
    string holds no raw newline, so indenting after each one is exact), then the totals."""
    from openusage._msgspec import msgspec

    def formatted(value: dict[str, Any], depth: bytes) -> bytes:
        return msgspec.json.format(msgspec.json.encode(value), indent=2).replace(b"\n", b"\n" + depth)

    head = formatted(_document_head(report), b"")
    assert head.endswith(b"\n}")
    yield head[:-2] + b',\n  "rows": ['
    count = 0
    for row in report.rows:
        yield (b",\n    " if count else b"\n    ") + formatted(_json_row(report, row), b"    ")
        count += 1
    yield (b"\n  ]" if count else b"]") + b',\n  "totals": ' + formatted(
        _json_row(report, report.totals, totals=True), b"  ") + b"\n}\n"


def _json_row(report: AnyReport, row: Row, *, totals: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {} if totals else {"period": row.key}
    if row.session is not None:
        out.update(zip(_SESSION_KEYS, _session_values(row), strict=True))
    out.update(_figures(row.counts))
    if report.kind != "session" or totals:
        out["sessions"] = row.sessions
    out["models"] = list(row.models)
    if report.kind == "project" and not totals:
        out["providers"] = list(row.providers)
    if report.breakdown:
        out["breakdown"] = [{"model": share.model, **_figures(share.counts), "sessions": share.sessions}
                            for share in row.breakdown]
    return out


def _figures(counts: Counts) -> dict[str, int | float | None]:
    """The row's figures; with prices, cost_usd after total and unpriced_calls last."""
    out: dict[str, int | float | None] = {}
    for key, _, value in FIGURES:
        out[key] = value(counts)
        if key == "output_tokens":  # the part of it reported as reasoning; 0 where an agent does not
            out["reasoning_output_tokens"] = counts.reasoning
        if key == "total_tokens" and counts.cost is not None:
            out["cost_usd"] = counts.cost_usd
    if counts.cost is not None:
        out["unpriced_calls"] = counts.unpriced
    return out


def _session_values(row: Row) -> tuple[Any, ...]:
    detail = row.session
    assert detail is not None
    duration = detail.duration
    return (detail.title, detail.project, detail.account, detail.provider, _iso(detail.first),
            _iso(detail.last), None if duration is None else int(duration.total_seconds()))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def dumps(document: dict[str, Any]) -> str:
    """The document as `json.dumps(indent=2, ensure_ascii=False)` writes it, byte for byte."""
    return dump_bytes(document).decode()


def dump_bytes(document: dict[str, Any]) -> bytes:
    """`dumps` as UTF-8 bytes, by msgspec's C encoder (already loaded for the settled calls): json's
    indenting encoder is pure Python, 0.17 s for a 2,000-session report against 0.013 s. Bytes, so
    that a large report is never held as a str too: a session report of 10,000 sessions is ~7 MB of
    text, which as a str with one title holding an emoji takes 4 bytes a character, and again for
    its final newline (52 MiB of a 105 MiB peak, measured)."""
    from openusage._msgspec import msgspec

    encoded = msgspec.json.encode(document)
    formatted = msgspec.json.format(encoded, indent=2)
    del encoded
    return formatted + b"\n"


# ---- CSV ----


def report_csv(report: AnyReport) -> str:
    return "".join(report_csv_lines(report))


def report_csv_lines(report: AnyReport) -> Iterator[str]:
    """One header line, then one line per row: the JSON row's scalar columns, `models` joined with
    ";". With a breakdown each row is split into one line per model (a `model` column), so the lines
    still add up. No totals line: a spreadsheet's sum would count it twice. Written a row at a time."""
    import csv  # only the CSV output needs it: a JSON or Markdown report does not import it

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    session = report.kind == "session"
    header = ["period", *(_SESSION_KEYS if session else ())]
    header += ["model"] if report.breakdown else []
    header += [*_figures(_NO_COUNTS._replace(cost=0 if priced(report) else None))] + ([] if session else ["sessions"])
    header += [] if report.breakdown else ["models"]
    project = report.kind == "project"  # its rows name their providers too, as in JSON
    header += ["providers"] if project else []
    writer.writerow(header)
    for row in report.rows:
        lead = [row.key or "", *(_csv(v) for v in _session_values(row))] if session else [row.key or ""]
        providers = [";".join(row.providers)] if project else []
        if report.breakdown:
            for share in row.breakdown:
                writer.writerow([*lead, share.model, *map(_csv, _figures(share.counts).values()),
                                 *([] if session else [share.sessions]), *providers])
        else:
            writer.writerow([*lead, *map(_csv, _figures(row.counts).values()), *([] if session else [row.sessions]),
                             ";".join(row.models), *providers])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


_NO_COUNTS = Counts(0, 0, 0, 0, 0)  # the keys of `_figures` depend only on whether there is a cost


def _csv(value: Any) -> Any:
    return "" if value is None else value


# ---- Markdown ----


def report_markdown(report: AnyReport) -> str:
    return "".join(report_markdown_lines(report))


def report_markdown_lines(report: AnyReport) -> Iterator[str]:
    """A GitHub table: figures in full, right-aligned; a bold totals row; breakdown lines indented.
    Each line with its newline, written as the rows are read."""
    session = report.kind == "session"
    headers = [KEY_HEADER[report.kind], *(["Title", "Project", "Provider", "First", "Last"] if session else [])]
    figures = [header.replace("\n", " ") for _, header, _ in FIGURES] + ([] if session else ["Sessions"])
    with_cost = priced(report)
    if with_cost:
        figures.insert(len(FIGURES) - 1, "Cost")
    yield "| " + " | ".join([*headers, *figures, "Models"]) + " |\n"
    yield "|" + "---|" * len(headers) + "---:|" * len(figures) + "---|\n"

    def line(cells: list[str], counts: Counts, sessions: int | None, models: str) -> str:
        numbers = [f"{value(counts):,}" for _, _, value in FIGURES] + ([] if sessions is None else [f"{sessions:,}"])
        if with_cost:
            numbers.insert(len(FIGURES) - 1, cost_text(counts))
        return "| " + " | ".join(_md(cell) for cell in [*cells, *numbers, models]) + " |\n"

    for row in report.rows:
        cells = [_label(row.key)]
        if session and row.session is not None:
            first, last = (_when(moment) for moment in (row.session.first, row.session.last))
            cells += [row.session.title, row.session.project, owner(row.session),
                      first, last]
        yield line(cells, row.counts, None if session else row.sessions, ", ".join(row.models))
        for share in row.breakdown:
            yield line(["↳ " + share.model, *[""] * (len(headers) - 1)], share.counts,
                       None if session else share.sessions, "")
    totals = report.totals
    yield line(["**Total**", *[""] * (len(headers) - 1)], totals.counts, None if session else totals.sessions,
               ", ".join(totals.models))


def cost_text(counts: Counts) -> str:
    """The row's cost for people: `?` when no call has a price (unknown, never $0), a `+?` when some
    calls are left out of it."""
    usd = counts.cost_usd
    if usd is None:
        return "?"
    return money(usd) + ("+?" if counts.unpriced else "")


def owner(detail: SessionDetail) -> str:
    """The provider, and the account when it is not the provider's default one."""
    return detail.provider if detail.account == detail.provider else f"{detail.provider}/{detail.account}"


def _md(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def _label(key: str | None) -> str:
    return "undated" if key is None else key


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(sep=" ", timespec="minutes")
