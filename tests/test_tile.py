"""The terminal tile, rendered to plain text at a fixed width from hand-built snapshots."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from rich.console import Console

from openusage.api import agent_homes
from openusage.providers import PROVIDERS, file_provider
from openusage.render.tile import render_dashboard, render_nothing_detected, sparkline
from openusage.snapshot import AgentHome, DailyPoint, Metric, ModelRow, Snapshot, SnapshotSet
from openusage.snapshot import compact_number as compact

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _console(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)


def _text(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def render(snapshots: tuple[Snapshot, ...], width: int = 80, now: datetime = NOW) -> str:
    console = _console(width)
    render_dashboard(SnapshotSet(generated_at=now, snapshots=snapshots), console)
    out = _text(console)
    assert all(len(line) <= width for line in out.splitlines()), out
    return out


def _metrics(**used: int) -> dict[str, Metric]:
    defaults = {
        "total_sessions": 12,
        "sessions_today": 3,
        "sessions_7d": 7,
        "total_input_tokens": 3_600_000,
        "total_output_tokens": 512_000,
        "total_cache_read": 98_700_000,
        "total_cache_write": 0,
        "total_tokens": 4_112_000,
    }
    defaults.update(used)
    return {key: Metric(used=value, unit="tokens", window="all-time") for key, value in defaults.items()}


def _days_ago(days: int) -> str:
    return (NOW - timedelta(days=days)).date().isoformat()


def make_snapshot(**overrides: object) -> Snapshot:
    fields: dict[str, object] = {
        "account_id": "kimi_cli",
        "provider_id": "kimi_cli",
        "title": "Kimi CLI",
        "status": "ok",
        "message": "",
        "metrics": _metrics(),
        "models": (
            ModelRow("kimi-k2-turbo-preview", "moonshot", 3_500_000, 500_000, 97_000_000, 0, 1_310),
            ModelRow("kimi-k2-thinking", "moonshot", 100_000, 12_000, 1_700_000, 0, 42),
        ),
        "daily_series": {
            "tokens": (
                DailyPoint(_days_ago(30), 9_999_999),  # outside the 14-day window: not drawn
                DailyPoint(_days_ago(13), 40_000),
                DailyPoint(_days_ago(5), 1_200_000),
                DailyPoint(_days_ago(0), 300_000),
            ),
            "sessions": tuple(DailyPoint(_days_ago(days), n) for days, n in ((13, 1), (5, 4), (0, 2))),
        },
        "diagnostics": {"files_read": 14, "records_counted": 1352, "lines_skipped": 0, "files_unreadable": 0},
    }
    fields.update(overrides)
    return Snapshot(**fields)  # type: ignore[arg-type]


def _line_with(out: str, needle: str) -> str:
    lines = [line for line in out.splitlines() if needle in line]
    assert lines, f"no line with {needle!r} in:\n{out}"
    return lines[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (999, "999"),
        (1_000, "1.0K"),
        (1_234, "1.2K"),
        (12_345, "12.3K"),
        (123_456, "123K"),
        (999_950, "1.0M"),
        (4_100_000, "4.1M"),
        (2_300_000_000, "2.3B"),
        (-1_500, "-1.5K"),
    ],
)
def test_compact_numbers_keep_at_most_four_digits(value: int, expected: str) -> None:
    assert compact(value) == expected


def test_status_line_gives_sessions_and_compact_total_tokens() -> None:
    out = render((make_snapshot(),))
    assert "12 sessions, 4.1M tokens" in out


def test_status_line_says_session_in_the_singular_for_one() -> None:
    out = render((make_snapshot(metrics=_metrics(total_sessions=1, total_tokens=999)),))
    assert "1 session, 999 tokens" in out


def test_sessions_row_shows_all_today_and_7d() -> None:
    row = _line_with(render((make_snapshot(),)), "Sessions ")
    assert "12 all" in row
    assert "3 today" in row
    assert "7 7d" in row


def test_tokens_row_shows_total_in_out_and_cache_figures() -> None:
    row = _line_with(render((make_snapshot(),)), "Tokens ")
    for figure in ("4.1M total", "3.6M in", "512K out", "98.7M cache r", "0 cache w"):
        assert figure in row


def test_model_table_lists_each_model_with_counts_and_requests() -> None:
    out = render((make_snapshot(),))
    header = _line_with(out, "Model")
    for column in ("Input", "Output", "Cache r", "Cache w", "Reqs"):
        assert column in header
    assert "Provider" not in header  # every row is moonshot's: the column would say nothing
    turbo = _line_with(out, "kimi-k2-turbo-preview")
    cells = turbo.strip("│ ").split()
    assert cells == ["kimi-k2-turbo-preview", "3.5M", "500K", "97.0M", "0", "1,310"]
    thinking = _line_with(out, "kimi-k2-thinking")
    assert thinking.rstrip(" │").endswith("42")
    assert out.index("kimi-k2-turbo-preview") < out.index("kimi-k2-thinking")  # the given order


def test_provider_column_appears_when_rows_name_two_providers() -> None:
    models = (ModelRow("kimi-k2-turbo-preview", "moonshot", 1, 1, 1, 1, 1), ModelRow("gpt-5", "openai", 1, 1, 1, 1, 1))
    out = render((make_snapshot(models=models),))
    assert "Provider" in _line_with(out, "Model")
    assert "openai" in _line_with(out, "gpt-5")


@pytest.mark.parametrize("width", [60, 80, 120])
def test_model_names_stay_distinguishable_at_every_width(width: int) -> None:
    out = render((make_snapshot(),), width=width)
    turbo = _line_with(out, "kimi-k2-tu").strip("│ ").split()[0]
    thinking = _line_with(out, "kimi-k2-th").strip("│ ").split()[0]
    assert thinking == "kimi-k2-thinking"
    assert turbo.rstrip("…") != thinking.rstrip("…")
    assert "kimi-k2-turbo-preview".startswith(turbo.rstrip("…"))


def test_headline_says_it_leaves_out_cache_reads() -> None:
    out = render((make_snapshot(),), width=120)
    assert "12 sessions, 4.1M tokens (input + output; plus 98.7M cache reads)" in out
    none = render((make_snapshot(metrics=_metrics(total_cache_read=0)),), width=120)
    assert "cache reads)" not in none


def test_chart_draws_the_last_14_utc_days_with_date_labels_and_max() -> None:
    out = render((make_snapshot(),))
    tokens_row = _line_with(out, "Tokens/day")
    assert "█" in tokens_row
    assert "▁" in tokens_row  # 40K: small, but drawn
    assert "max 1.2M" in tokens_row  # the 30-day-old 10M point is outside the window
    assert "max 4" in _line_with(out, "Sessions/day")
    labels = _line_with(out, _days_ago(13))
    assert _days_ago(0) in labels
    assert _days_ago(14) not in out


def _chart_cells(out: str, label: str) -> str:
    """The 28 cells of a chart row, found under the date labels."""
    start = _line_with(out, _days_ago(13)).index(_days_ago(13))
    return _line_with(out, label)[start:start + 28]


def test_chart_cells_follow_the_daily_values_oldest_first() -> None:
    out = render((make_snapshot(),))
    days = _chart_cells(out, "Tokens/day")[::2]  # each day is drawn two cells wide
    assert len(days) == 14
    assert days[8] == "█"  # 5 days ago: the peak
    assert days[0] == "▁"  # 40K of 1.2M: small, but visibly not zero
    assert days[1] == " "  # no usage: blank, not the lowest bar
    assert days.count(" ") == 11


def test_chart_window_ends_on_the_utc_day_of_generated_at() -> None:
    # 08:00 on Nov 21 in UTC+9 is still Nov 20 in UTC.
    tokyo = datetime(2026, 11, 21, 8, 0, tzinfo=timezone(timedelta(hours=9)))
    out = render((make_snapshot(),), now=tokyo)
    assert "2026-11-20" in out
    assert "2026-11-07" in out
    assert "2026-11-21" not in out


def test_chart_with_no_daily_data_is_flat_zero() -> None:
    out = render((make_snapshot(daily_series={}),))
    row = _line_with(out, "Tokens/day")
    assert _chart_cells(out, "Tokens/day") == " " * 28
    assert not any(block in row for block in "▁▂▃▄▅▆▇█")
    assert "max 0" in row
    assert "Sessions/day" not in out


def test_sparkline_scales_to_the_peak() -> None:
    assert sparkline([0, 1, 50, 100]) == " ▁▄█"
    assert sparkline([0, 0]) == "  "
    assert sparkline([]) == ""
    assert sparkline([0, 7, 7], ascii_only=True) == " ##"
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"  # every non-zero level is used


def test_unknown_status_shows_its_message_and_no_rows() -> None:
    message = "Kimi CLI sessions directory not found"
    snapshot = make_snapshot(status="unknown", message=message, metrics={}, models=(), daily_series={})
    out = render((snapshot,))
    assert "Kimi CLI sessions directory not found" in out
    assert "Sessions " not in out
    assert "Tokens/day" not in out


def test_error_status_shows_its_message() -> None:
    snapshot = make_snapshot(status="error", message="cache database is locked", models=())
    out = render((snapshot,))
    assert "cache database is locked" in out
    assert "sessions," not in out


def test_ok_with_no_calls_says_so_instead_of_an_empty_table() -> None:
    out = render((make_snapshot(metrics=_metrics(total_sessions=0, total_tokens=0), models=()),))
    assert "0 sessions, 0 tokens" in out
    assert "No model calls recorded yet." in out


def test_title_adds_the_account_id_only_when_it_differs_from_the_provider() -> None:
    out = render((make_snapshot(), make_snapshot(account_id="kimi_work")))
    titles = [line for line in out.splitlines() if line.startswith("╭")]
    assert "Kimi CLI ─" in titles[0]
    assert "Kimi CLI · kimi_work" in titles[1]


def test_one_tile_per_snapshot_in_order() -> None:
    out = render((make_snapshot(account_id="b_first"), make_snapshot(account_id="a_second")))
    assert out.count("╭") == 2
    assert out.index("b_first") < out.index("a_second")


def test_footnote_counts_skipped_lines_and_unreadable_files() -> None:
    snapshot = make_snapshot(diagnostics={"lines_skipped": 3, "files_unreadable": 1})
    assert "3 lines skipped, 1 file unreadable (see snapshot --json)" in render((snapshot,))
    snapshot = make_snapshot(diagnostics={"lines_skipped": 1, "files_unreadable": 0})
    out = render((snapshot,))
    assert "1 line skipped (see snapshot --json)" in out
    assert "unreadable" not in out


def test_footnote_sums_a_per_reason_breakdown() -> None:
    snapshot = make_snapshot(diagnostics={"lines_skipped": {"bad_json": 2, "bad_shape": 3}})
    assert "5 lines skipped (see snapshot --json)" in render((snapshot,))


def test_footnote_leaves_out_re_emitted_usage_which_is_a_copy_not_damage() -> None:
    """A Codex home re-emits thousands of events (`reemitted`): copies of calls, not faults, so the
    footnote counts only the lines skipped as damage, and says nothing when there are none."""
    snapshot = make_snapshot(diagnostics={"lines_skipped": 26_363,
                                          "skipped_by_reason": {"reemitted": 26_361, "invalid_json": 2}})
    assert "2 lines skipped (see snapshot --json)" in render((snapshot,))
    snapshot = make_snapshot(diagnostics={"lines_skipped": 5, "skipped_by_reason": {"reemitted": 5}})
    assert "skipped" not in render((snapshot,))
    snapshot = make_snapshot(diagnostics={"lines_skipped": {"reemitted": 4, "not_utf8": 1}})
    assert "1 line skipped (see snapshot --json)" in render((snapshot,))


def test_no_footnote_when_nothing_was_skipped() -> None:
    assert "see snapshot --json" not in render((make_snapshot(),))


@pytest.mark.parametrize("width", [80, 120])
def test_long_model_names_are_ellipsized_and_the_tile_fits(width: int) -> None:
    long_name = "a-very-long-fine-tuned-model-name-for-internal-evaluation-2026-11-20-preview"
    snapshot = make_snapshot(models=(ModelRow(long_name, "moonshot", 1, 2, 3, 4, 5),))
    out = render((snapshot,), width=width)  # render() asserts no line is wider than the console
    row = _line_with(out, "a-very-long")
    assert "…" in row
    assert row.rstrip(" │").endswith("5")


def test_typical_names_are_shown_whole_at_80_columns() -> None:
    out = render((make_snapshot(),), width=80)
    assert "kimi-k2-turbo-preview " in out


def test_wider_console_keeps_every_figure() -> None:
    out = render((make_snapshot(),), width=120)
    assert "12 sessions, 4.1M tokens" in out
    assert "98.7M cache r" in out
    assert "kimi-k2-turbo-preview" in out


def test_no_colour_codes_without_a_terminal() -> None:
    assert "\x1b[" not in render((make_snapshot(diagnostics={"lines_skipped": 2}),))


def test_ascii_only_terminal_gets_an_ascii_chart() -> None:
    raw = io.BytesIO()
    file = io.TextIOWrapper(raw, encoding="ascii")
    console = Console(file=file, width=80, color_system=None, force_terminal=False)
    render_dashboard(SnapshotSet(generated_at=NOW, snapshots=(make_snapshot(account_id="x"),)), console)
    file.flush()
    out = raw.getvalue().decode("ascii")  # would fail on any block or bullet character
    assert "##" in _line_with(out, "Tokens/day")
    assert "Kimi CLI - x" in out


def test_nothing_detected_says_how_to_point_at_data() -> None:
    console = _console(80)
    settings = Path("/home/someone/.config/openusage/settings.json")
    render_nothing_detected(console, settings, agent_homes())
    out = _text(console)
    assert "No account was detected or configured." in out
    for hint in ("~/.kimi-code", "~/.kimi", "~/.codex", "KIMI_CODE_HOME", "KIMI_SHARE_DIR", "CODEX_HOME",
                 str(settings), '"provider": "kimi_cli"', '"sessions_dir": "~/.kimi/sessions"', "openusage --demo"):
        assert hint in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_nothing_detected_names_every_file_provider_of_the_registry_on_a_line_of_its_own() -> None:
    console = _console(80)
    homes = agent_homes()
    render_nothing_detected(console, Path("/s.json"), homes)
    lines = _text(console).splitlines()
    assert [home.provider for home in homes] == [p.id for p in PROVIDERS if file_provider(p.id) is not None]
    for home in homes:
        (line,) = [line for line in lines if f" {home.title} " in line]
        assert home.default in line
        assert home.variable in line


def test_nothing_detected_without_an_example_account_still_names_the_settings_file() -> None:
    console = _console(80)
    home = AgentHome("x_agent", "X Agent", "~/.x", "X_HOME", None)
    render_nothing_detected(console, Path("/s.json"), (home,))
    out = _text(console)
    for hint in ("X Agent", "~/.x", "X_HOME", "/s.json"):
        assert hint in out
    assert '"accounts"' not in out


def test_nothing_detected_keeps_odd_paths_literal_and_within_width() -> None:
    console = _console(80)
    odd = Path("/tmp/[weird]") / ("x" * 120) / "settings.json"
    render_nothing_detected(console, odd, agent_homes())
    out = _text(console)
    assert "[weird]" in out  # not swallowed as rich markup
    assert all(len(line) <= 80 for line in out.splitlines())


def test_importing_the_render_package_does_not_import_rich() -> None:
    code = "import sys, openusage.render; print('rich' in sys.modules)"
    src = str(Path(__file__).resolve().parents[1] / "src")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": src}
    )
    assert result.stdout.strip() == "False"
