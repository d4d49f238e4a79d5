"""The scan's progress bar: invisible for a short scan, then files (or sessions), bytes and rate.

Rendered by rich into a string at a fixed width, with the clock moved by hand.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from openusage.render import progress
from openusage.render.progress import ScanProgress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress.time, "monotonic", fake)
    return fake


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120, color_system=None), out


def test_a_scan_shorter_than_a_second_shows_nothing(clock: Clock) -> None:
    console, out = terminal()
    bar = ScanProgress(console)
    bar.start(10, 10 * 2**20, "files")
    clock.now += 0.5
    bar.advance(9, 9 * 2**20)
    bar.finish()
    assert out.getvalue() == ""


def test_a_long_scan_of_known_size_shows_files_bytes_and_rate(clock: Clock) -> None:
    console, out = terminal()
    bar = ScanProgress(console)
    bar.start(40, 400 * 2**20, "files")
    clock.now += 2.0
    bar.advance(10, 100 * 2**20)
    clock.now += 1.0
    bar.advance(20, 200 * 2**20)
    bar._bar.refresh()
    shown = out.getvalue()
    assert "scanning" in shown
    assert "20/40 files" in shown
    assert "209.7/419.4 MB" in shown  # rich's decimal units
    assert "104.9 MB/s" in shown
    bar.finish()


def test_a_first_scan_counts_sessions_and_the_bytes_read_so_far(clock: Clock) -> None:
    console, out = terminal()
    bar = ScanProgress(console)
    bar.start(2000, 0, "sessions")  # walked and read at once: the total bytes are not known yet
    clock.now += 2.0
    bar.advance(500, 300 * 2**20)
    bar._bar.refresh()
    shown = out.getvalue()
    assert "500/2000 sessions" in shown
    assert "300 MiB read, 150 MiB/s" in shown
    bar.finish()
