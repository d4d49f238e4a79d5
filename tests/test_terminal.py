"""What a real terminal shows: openusage run in a tmux pane of a given size, read back with
`tmux capture-pane` (its text, and with `-e` its escape sequences). Colour on a terminal, none with
NO_COLOR, every tile within the pane's width, and the panel shown when nothing is found."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

DONE = "__openusage_done__"
SGR = re.compile(r"\x1b\[([0-9;]*)m")
NOW = "2026-11-20T15:30:00Z"


class Pane:
    """A tmux server of the test's own (its own socket, no user configuration) with one pane."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", os.devnull, *args], capture_output=True,
                              text=True, check=True, timeout=30)
        return done.stdout

    def run(self, command: list[str], env: Mapping[str, str], width: int, height: int = 50) -> None:
        """`command` in a new pane of `width` x `height`, with exactly `env` (plus TERM), then a marker."""
        line = " ".join(["env", "-i", *(f"{key}={shlex.quote(value)}" for key, value in env.items()),
                         "TERM=xterm-256color", *map(shlex.quote, command)])
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  f"{line}; echo {DONE}; sleep 600")

    def screen(self, *, escapes: bool = False, timeout: float = 60.0) -> str:
        """Everything the pane has shown (its history included, wrapped lines joined), once the command
        has ended."""
        deadline = time.monotonic() + timeout
        while True:
            # -J joins a line the terminal wrapped: a line wider than the pane shows as one.
            text = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t", *(["-e"] if escapes else []))
            if DONE in text:
                return text.split(DONE)[0].rsplit("\n", 1)[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"the command did not end in the pane:\n{text}")
            time.sleep(0.1)


@pytest.fixture
def pane() -> Iterator[Pane]:
    made = Pane(f"openusage-test-{uuid.uuid4().hex[:12]}")
    try:
        yield made
    finally:
        subprocess.run(["tmux", "-L", made.socket, "kill-server"], capture_output=True, check=False, timeout=30)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "term-home"
    home.mkdir(exist_ok=True)
    # The path the suite runs on (compiled or pure Python: .ci/run runs both) is the pane's too.
    paths = {key: os.environ[key] for key in ("OPENUSAGE_PURE", "OPENUSAGE_REQUIRE_COMPILED") if key in os.environ}
    return {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache"),
            "OPENUSAGE_NOW": NOW, "LANG": "C.UTF-8", **paths, **extra}


def _openusage(*args: str) -> list[str]:
    return [sys.executable, "-m", "openusage", *args]


def _colours(text: str) -> set[str]:
    """The colour parameters of the SGR sequences in `text` (foreground, background, bright, 256 and RGB;
    not 39 and 49, the default colours, which tmux writes between cells of any pane)."""
    found = set()
    for params in SGR.findall(text):
        parts = params.split(";")
        found.update(part for part in parts
                     if len(part) == 2 and part[0] in "349" and part not in {"39", "49"})
        if "38" in parts or "48" in parts:
            found.add(params)
    return found


def test_the_dashboard_is_in_colour_on_a_terminal_and_fits_its_width(pane: Pane, tmp_path: Path) -> None:
    pane.run(_openusage("--demo"), _env(tmp_path), width=100)
    coloured = pane.screen(escapes=True)
    plain = pane.screen()
    assert _colours(coloured)
    assert plain.startswith("Sample data: generated Kimi CLI, Kimi Code and Codex CLI homes, not your usage.")
    for title in ("Kimi CLI", "Kimi Code", "Codex CLI"):
        assert f"╭─ {title} " in plain
    assert all(len(line.rstrip()) <= 100 for line in plain.splitlines())


def test_no_color_leaves_the_colours_out(pane: Pane, tmp_path: Path) -> None:
    pane.run(_openusage("--demo"), _env(tmp_path, NO_COLOR="1"), width=100)
    assert "╭─ Kimi CLI " in pane.screen()
    assert _colours(pane.screen(escapes=True)) == set()


@pytest.mark.parametrize("width", [60, 80, 140])
def test_every_tile_keeps_to_a_narrow_or_wide_pane(pane: Pane, tmp_path: Path, width: int) -> None:
    pane.run(_openusage("--demo", "snapshot"), _env(tmp_path), width=width)
    plain = pane.screen()
    lines = plain.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), plain
    # Boxes are whole: every tile's top corner has its bottom corner, at the same width.
    tops = [line.rstrip() for line in lines if line.startswith("╭─")]
    bottoms = [line.rstrip() for line in lines if line.startswith("╰")]
    assert len(tops) == len(bottoms) == 3
    assert {len(line) for line in tops} == {len(line) for line in bottoms}
    assert all(line.rstrip().endswith("│") for line in lines if line.startswith("│"))


def test_nothing_found_says_where_each_agent_keeps_its_data(pane: Pane, tmp_path: Path) -> None:
    pane.run(_openusage(), _env(tmp_path), width=80)
    plain = pane.screen()
    assert "No account was detected or configured." in plain
    for title, home, variable in (("Kimi CLI", "~/.kimi", "KIMI_SHARE_DIR"),
                                  ("Kimi Code", "~/.kimi-code", "KIMI_CODE_HOME"),
                                  ("Codex CLI", "~/.codex", "CODEX_HOME")):
        (line,) = [line for line in plain.splitlines() if f" {title} " in line]
        assert home in line
        assert variable in line
    assert all(len(line.rstrip()) <= 80 for line in plain.splitlines())
