"""Reports rendered to strings: the JSON document, CSV, Markdown, and the terminal table at 120, 80
and 60 columns (nothing cut, numbers aligned, model names told apart)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from openusage.query import SettledCall
from openusage.render.report import KEY_HEADER, dumps, report_csv, report_document, report_markdown
from openusage.render.report_table import LEFT_OUT_FIRST, render_report
from report_calls import A, B, D, E, call, report, utc

LONG = "kimi-k2-turbo-preview"
THINKING = "kimi-k2-thinking"
UUID = "3f2b8e5a-9c1d-4e7f-8a0b-1c2d3e4f5a6b"
BIG = (call("kimi_cli", UUID, "2026-11-19T22:30", LONG, (3_512_345, 412_000, 98_765_432, 0)),
       call("kimi_code", "session_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "2026-11-20T10:00", THINKING,
            (100_000, 12_000, 1_700_000, 50_000)),
       call("kimi_code", "session_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", None, THINKING, (7, 1, 0, 0)))
FIGURE_KEYS = ["input_tokens", "output_tokens", "reasoning_output_tokens", "cache_read_tokens", "cache_write_tokens",
               "total_tokens", "calls"]


def test_json_document_has_the_documented_shape() -> None:
    doc = json.loads(dumps(report_document(report("daily"))))
    assert list(doc) == ["schema", "report", "tz", "since", "until", "rows", "totals"]
    assert doc["schema"] == "openusage.report/1"
    assert (doc["report"], doc["tz"], doc["since"], doc["until"]) == ("daily", "Europe/Berlin", None, None)
    assert doc["rows"][2] == {"period": "2026-11-20", "input_tokens": 500, "output_tokens": 50,
                              "reasoning_output_tokens": 0, "cache_read_tokens": 2000, "cache_write_tokens": 5,
                              "total_tokens": 550,
                              "calls": 2, "sessions": 2, "models": ["m2", "m1"]}
    assert doc["rows"][-1]["period"] is None
    assert doc["totals"] == {"input_tokens": 608, "output_tokens": 62, "reasoning_output_tokens": 0,
                             "cache_read_tokens": 3001,
                             "cache_write_tokens": 6, "total_tokens": 670, "calls": 5, "sessions": 3,
                             "models": ["m2", "m1"]}
    assert "cost" not in json.dumps(doc)  # no price is known yet: no made-up cost


def test_json_names_the_range_as_local_days() -> None:
    doc = report_document(report("weekly", since="7d", until="today"))
    assert (doc["since"], doc["until"]) == ("2026-11-14", "2026-11-20")
    assert doc["rows"][0]["period"] == "2026-11-16"


def test_json_session_rows_add_their_details_and_no_sessions_count() -> None:
    doc = report_document(report("session"))
    s1 = next(row for row in doc["rows"] if row["period"] == "s1")
    assert s1 == {"period": "s1", "title": "Fix the cart", "project": "/home/u/webshop", "account": "kimi_cli",
                  "provider": "kimi_cli", "first": "2026-11-19T23:30:00+01:00", "last": "2026-11-20T00:30:00+01:00",
                  "duration_seconds": 3600, "input_tokens": 300, "output_tokens": 30, "reasoning_output_tokens": 0,
                  "cache_read_tokens": 3000,
                  "cache_write_tokens": 0, "total_tokens": 330, "calls": 2, "models": ["m1"]}
    assert doc["totals"]["sessions"] == 3


def test_json_project_rows_name_their_providers_and_breakdown_splits_by_model() -> None:
    doc = report_document(report("project", breakdown=True))
    assert doc["rows"][0]["providers"] == ["kimi_cli", "kimi_code"]
    assert [share["model"] for share in doc["rows"][0]["breakdown"]] == ["m2", "m1"]
    assert doc["rows"][0]["breakdown"][0] == {"model": "m2", "input_tokens": 307, "output_tokens": 31,
                                              "reasoning_output_tokens": 0, "cache_read_tokens": 0,
                                              "cache_write_tokens": 5,
                                              "total_tokens": 338, "calls": 2, "sessions": 1}


def test_csv_has_one_header_and_the_json_columns() -> None:
    lines = list(csv.reader(io.StringIO(report_csv(report("daily")))))
    assert lines[0] == ["period", *FIGURE_KEYS, "sessions", "models"]
    assert lines[1:] == [["2026-11-02", "1", "1", "0", "1", "1", "2", "1", "1", "m1"],
                         ["2026-11-19", "100", "10", "0", "1000", "0", "110", "1", "1", "m1"],
                         ["2026-11-20", "500", "50", "0", "2000", "5", "550", "2", "2", "m2;m1"],
                         ["", "7", "1", "0", "0", "0", "8", "1", "1", "m2"]]


def test_reasoning_is_summed_beside_output_and_added_to_no_total() -> None:
    """Codex's reasoning tokens (a part of output) are an informational figure of their own."""
    calls = (SettledCall("codex_cli", "codex_cli", "t1", utc("2026-11-20T10:00"), "gpt-5", 100, 40, 10, 0, None, 1, 25),
             SettledCall("codex_cli", "codex_cli", "t1", utc("2026-11-20T11:00"), "gpt-5", 50, 20, 0, 0, None, 1, 5))
    doc = report_document(report("daily", calls=calls))
    assert doc["rows"][0]["reasoning_output_tokens"] == 30
    assert doc["totals"]["reasoning_output_tokens"] == 30
    assert (doc["totals"]["output_tokens"], doc["totals"]["total_tokens"]) == (60, 210)


def test_csv_breakdown_lines_add_up_to_the_totals() -> None:
    rep = report("daily", breakdown=True)
    lines = list(csv.DictReader(io.StringIO(report_csv(rep))))
    assert [(line["period"], line["model"]) for line in lines] == [
        ("2026-11-02", "m1"), ("2026-11-19", "m1"), ("2026-11-20", "m2"), ("2026-11-20", "m1"), ("", "m2")]
    assert sum(int(line["total_tokens"]) for line in lines) == rep.totals.counts.total


def test_csv_session_rows() -> None:
    lines = [line for line in csv.DictReader(io.StringIO(report_csv(report("session", calls=(A, B, D)))))
             if line["period"] == "s1"]
    assert lines[0]["title"] == "Fix the cart"
    assert lines[0]["first"] == "2026-11-19T23:30:00+01:00"
    assert lines[0]["duration_seconds"] == "3600"
    assert "sessions" not in lines[0]


def test_markdown_is_a_table_with_full_figures_and_a_total() -> None:
    out = report_markdown(report("daily", calls=BIG))
    lines = out.splitlines()
    assert lines[0] == "| Day | Input | Output | Cache read | Cache write | Total | Calls | Sessions | Models |"
    assert lines[1] == "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    assert "| 2026-11-19 | 3,512,345 | 412,000 | 98,765,432 | 0 | 3,924,345 | 1 | 1 | kimi-k2-turbo-preview |" in lines
    assert lines[-1].startswith("| **Total** | 3,612,352 |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_markdown_escapes_a_pipe_in_a_title() -> None:
    piped = report("session", calls=(E,))
    out = report_markdown(piped._replace(rows=(piped.rows[0]._replace(
        session=piped.rows[0].session._replace(title="a | b")),)))  # type: ignore[union-attr]
    assert "a \\| b" in out


def render(kind: str, width: int, **options: object) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    render_report(report(kind, calls=BIG, **options), console)  # type: ignore[arg-type]
    file = console.file
    assert isinstance(file, io.StringIO)
    lines = file.getvalue().splitlines()
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    assert not any("…" in line for line in lines), "\n".join(lines)
    return lines


def _with(lines: list[str], needle: str) -> str:
    found = [line for line in lines if needle in line]
    assert found, (needle, "\n".join(lines))
    return found[0]


@pytest.mark.parametrize("width", [120, 80, 60])
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "project", "model", "session"])
def test_table_keeps_every_figure_whole_and_right_aligned(kind: str, width: int) -> None:
    lines = render(kind, width)
    total = next(line for line in lines if line.startswith("Total "))
    for figure in ("3.6M", "424K", "100M", "50.0K", "4.0M"):
        assert f" {figure}" in total, (figure, total)
    numbered = [line for line in lines if line.rstrip().endswith((" 1", " 2", " 3"))]
    ends = {len(line.rstrip()) for line in numbered}
    assert len(ends) == 1, "\n".join(lines)  # the last figure of every row ends in the same column


@pytest.mark.parametrize("width", [120, 80, 60])
def test_model_names_are_told_apart_at_every_width(width: int) -> None:
    text = "\n".join(render("model", width))
    assert THINKING in text
    assert "kimi-k2-turbo-pr" in text
    breakdown = "\n".join(render("daily", width, breakdown=True))
    assert THINKING in breakdown
    assert "kimi-k2-turbo-pr" in breakdown
    assert LONG in "\n".join(render("daily", width))  # in its column or in the list under the table


@pytest.mark.parametrize("width", [58, 50, 44, 36, 30])
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "project", "model", "session"])
def test_a_narrow_terminal_leaves_whole_columns_out_and_says_which(kind: str, width: int) -> None:
    """Below the width every column needs, the least telling figures go whole (cache writes first, in
    `LEFT_OUT_FIRST`'s order), never the key or the total, and never a figure cut short (`render`
    checks that no line is wider than the terminal and none holds an ellipsis); a line names what went."""
    lines = render(kind, width)
    rule = next(at for at, line in enumerate(lines) if line.startswith("─"))  # under the header
    header = " ".join(lines[rule - 2 : rule])  # its two lines: "Cache" above "read" and "write"
    assert KEY_HEADER[kind].split()[0] in header, "\n".join(lines)
    assert "Total" in header, "\n".join(lines)
    assert " 4.0M" in next(line for line in lines if line.startswith("Total "))  # input + output, whole
    noted = [line for line in lines if line.startswith("Too narrow for ")]
    note = " ".join(line.strip() for line in lines[lines.index(noted[0]):]) if noted else ""
    left_out = note.split("Too narrow for ", 1)[1].split(":", 1)[0].split(", ") if noted else []
    order = [name.replace("\n", " ") for name in LEFT_OUT_FIRST if name != "Sess" or kind != "session"]
    assert left_out == order[:len(left_out)], "\n".join(lines)
    for name in ("Input", "Output", "Calls"):
        assert (name in left_out) != (name in header), (name, "\n".join(lines))
    if width >= 58:
        assert not left_out


def test_models_get_a_column_when_they_fit_and_a_line_when_not() -> None:
    assert "Models" in _with(render("daily", 120), "Day")
    narrow = render("daily", 60)
    assert "Models" not in _with(narrow, "Day")
    assert _with(narrow, "Models:") == f"Models: {LONG}, {THINKING}"


@pytest.mark.parametrize("width", [120, 60])
def test_session_table_shows_id_title_project_and_local_times(width: int) -> None:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    render_report(report("session"), console)
    file = console.file
    assert isinstance(file, io.StringIO)
    text = file.getvalue()
    assert "kimi_cli/kimi_cli" not in text  # the default account is not named twice
    for needle in ("Fix the cart", "s1", "/home/u/webshop", "kimi_cli", "2026-11-19 23:30",
                   "2026-11-20 00:30", "(1h00m)", "Untitled"):
        assert needle in text, (needle, text)


def test_undated_row_and_heading() -> None:
    lines = render("daily", 80)
    assert lines[0] == "Daily usage · all time · Europe/Berlin"
    assert _with(lines, "undated").split() == ["undated", "7", "1", "0", "0", "8", "1", "1"]
    assert "cache reads and writes are counted apart" in lines[-1]


def test_a_terminal_without_unicode_gets_ascii() -> None:
    raw = io.BytesIO()
    file = io.TextIOWrapper(raw, encoding="ascii")
    console = Console(file=file, width=80, color_system=None, force_terminal=False)
    render_report(report("session", breakdown=True), console)
    file.flush()
    assert "Fix the cart" in raw.getvalue().decode("ascii")


def test_a_second_account_is_named_beside_its_provider() -> None:
    other = SettledCall("kimi_work", "kimi_code", "s7", None, "m", 1, 1, 0, 0)
    out = report_markdown(report("session", calls=(other,)))
    assert "| kimi_code/kimi_work |" in out


def test_the_fast_json_encoder_writes_what_json_dumps_writes() -> None:
    import json

    from openusage.render.report import dumps

    document = {"schema": "openusage.report/1", "tz": "Europe/Berlin", "since": None,
                "rows": [{"period": "2026-11-20", "title": 'Ünïcode "quoted" \\ tab\t', "models": ["a", "b"],
                          "empty": [], "nested": {}, "input_tokens": 2**64 + 5, "ok": True}],
                "totals": {"input_tokens": 0}}
    assert dumps(document) == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
