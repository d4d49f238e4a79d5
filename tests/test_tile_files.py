"""The tile over real Kimi homes on disk, at a narrow terminal: blank days, model names told apart,
the headline's cache reads."""

from __future__ import annotations

from pathlib import Path

from kimi_code_home import WD, KimiCodeHome, ms
from kimi_home import NOW, KimiHome, at, explain, invoke, uid


def _dashboard(env: dict[str, str | None], width: int) -> list[str]:
    result = invoke([], {**env, "COLUMNS": str(width), "OPENUSAGE_NOW": NOW})
    assert result.exit_code == 0, explain(result)
    lines = result.stdout.splitlines()
    assert all(len(line) <= width for line in lines), result.stdout
    return lines


def _with(lines: list[str], needle: str) -> str:
    found = [line for line in lines if needle in line]
    assert found, (needle, "\n".join(lines))
    return found[0]


def test_tile_over_files_at_60_columns(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("a")) \
        .usage(at("2026-11-20T09:00:00Z"), (1_000, 100, 50_000, 0), "m1", model="kimi-k2-turbo-preview") \
        .usage(at("2026-11-18T09:00:00Z"), (2_000, 200, 90_000, 0), "m2", model="kimi-k2-thinking")
    lines = _dashboard({"KIMI_SHARE_DIR": str(home.root)}, 60)
    assert "1 session, 3.3K tokens (input + output; plus 140K" in "\n".join(lines)
    turbo = _with(lines, "kimi-k2-tu").strip("│ ").split()[0]
    thinking = _with(lines, "kimi-k2-th").strip("│ ").split()[0]
    assert thinking == "kimi-k2-thinking"
    assert turbo.rstrip("…") not in thinking  # not the same truncated name
    assert "Provider" not in _with(lines, "Model")
    # Of the last 14 days only the 18th and the 20th had usage: 12 blank days, 2 drawn.
    labels = _with(lines, "2026-11-07")
    start = labels.index("2026-11-07")
    cells = _with(lines, "Tokens/day")[start:start + 28][::2]
    assert cells[13] != " "
    assert cells[11] != " "
    assert cells.count(" ") == 12


def test_kimi_code_tile_keeps_its_compaction_row_at_60_columns(tmp_path: Path) -> None:
    code = KimiCodeHome(tmp_path / "kimi-code")
    main = code.session(WD, "session_a").main.header()
    main.usage(ms("2026-11-20T10:00:00Z"), (300, 30, 1_000, 0))
    main.usage(ms("2026-11-20T10:05:00Z"), (40, 4, 0, 0), scope="session")
    lines = _dashboard({"KIMI_CODE_HOME": str(code.root)}, 60)
    assert "Compaction  1 call" in _with(lines, "Compaction")
