"""A progress bar on stderr for long scans: files (or sessions), bytes, rate. Only on a TTY (the CLI
asks for it only there), and only once a scan has run for a second."""

from __future__ import annotations

import time
from typing import Any

SHOW_AFTER_SECONDS = 1.0


class ScanProgress:
    """Stays invisible for short scans; a scan still running after a second gets a rich bar."""

    def __init__(self, console: Any = None) -> None:
        self._console = console  # None: a rich Console on stderr, made when the bar first shows
        self._started = 0.0
        self._items = 0
        self._unit = "files"
        self._bytes = 0
        self._bar: Any = None
        self._task: Any = None

    def start(self, items: int, total_bytes: int, unit: str) -> None:
        """`total_bytes` 0: not known in advance (a first scan walks and reads at once), so the bar
        follows the items instead."""
        self._started = time.monotonic()
        self._items = items
        self._unit = unit
        self._bytes = total_bytes

    def advance(self, items: int, done_bytes: int) -> None:
        if self._bar is None:
            if time.monotonic() - self._started < SHOW_AFTER_SECONDS:
                return
            self._show()
        completed = done_bytes if self._bytes else items
        read = "" if self._bytes else f"  {_mib(done_bytes)} read, {_mib(done_bytes / self._elapsed())}/s"
        self._bar.update(self._task, completed=completed, files=f"{items}/{self._items} {self._unit}{read}")

    def _elapsed(self) -> float:
        return max(time.monotonic() - self._started, 1e-6)

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        sizes: list[ProgressColumn] = [DownloadColumn(), TransferSpeedColumn()] if self._bytes else []
        self._bar = Progress(
            TextColumn("scanning"),
            BarColumn(),
            *sizes,
            TextColumn("{task.fields[files]}"),
            TimeRemainingColumn(),
            console=self._console if self._console is not None else Console(stderr=True),
            get_time=time.monotonic,  # the one clock for the delay and the rate
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("scan", total=self._bytes or self._items, files="")

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _mib(n: float) -> str:
    return f"{n / (1024 * 1024):.0f} MiB"
