"""A progress bar on stderr for long cold scans: files, bytes, rate. Only on a TTY, only after a second."""

from __future__ import annotations

import time
from typing import Any

SHOW_AFTER_SECONDS = 1.0


class ScanProgress:
    """Stays invisible for short scans; a scan still running after a second gets a rich bar."""

    def __init__(self) -> None:
        self._started = 0.0
        self._files = 0
        self._bytes = 0
        self._bar: Any = None
        self._task: Any = None

    def start(self, files: int, total_bytes: int) -> None:
        self._started = time.monotonic()
        self._files = files
        self._bytes = total_bytes

    def advance(self, files: int, done_bytes: int) -> None:
        if self._bar is None:
            if time.monotonic() - self._started < SHOW_AFTER_SECONDS:
                return
            self._show()
        self._bar.update(self._task, completed=done_bytes, files=f"{files}/{self._files} files")

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("scanning"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[files]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("scan", total=self._bytes, files="")

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
