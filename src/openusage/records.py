"""The shared vocabulary every layer speaks: usage records, sources, chunks and skip reasons.

Readers produce these, the store persists them, nothing here does I/O.
"""

from __future__ import annotations

import enum
import mmap
from typing import NamedTuple


class SkipReason(enum.StrEnum):
    """Why a line that could have held usage was not counted."""

    INVALID_JSON = "invalid_json"
    NOT_UTF8 = "not_utf8"
    WRONG_SHAPE = "wrong_shape"


# One copy of one model call, as found in one file:
#   (call_key, ts, model, input, output, cache_read, cache_write)
# `call_key` identifies the call across copies (forks, echoes, subagent files); the counts are part of
# it. `ts` is the valid timestamp in UTC seconds, or None when the copy has none. `model` is the model
# the record names, None when the account's configured default applies. A plain tuple: readers build
# one per usage line, and even a NamedTuple's constructor costs a Python-level call.
UsageRecord = tuple[str, float | None, str | None, int, int, int, int]


# A file's bytes as a reader sees them: read whole when small, memory-mapped when large.
Buffer = bytes | mmap.mmap

# dev, ino, size, mtime_ns, ctime_ns: a file unchanged in all five is not opened again.
Identity = tuple[int, int, int, int, int]


def file_key(identity: Identity, session: str) -> str:
    """A file's identity and session as one string: the cache compares these for every file on
    every run, and strings come out of SQLite and compare faster than rebuilt tuples."""
    dev, ino, size, mtime_ns, ctime_ns = identity
    return f"{dev}:{ino}:{size}:{mtime_ns}:{ctime_ns}|{session}"


class Source(NamedTuple):
    """One file a provider reads, the session every call in it belongs to, and its identity when the
    walk saw it. Paths are plain strings: pathlib costs microseconds per object, times every file."""

    path: str
    session: str
    identity: Identity


class Chunk:
    """What a reader found between an offset and the end of a file.

    `records` and `skipped` come from complete lines, which end at `end_offset`. The bytes after it are
    a last line without its newline: `tail_records` / `tail_skipped` are what that line holds now. A
    cache consumes only up to `end_offset` and reads the tail again next time, so a line that is still
    being written is never half-counted, and a complete line without a final newline still counts.
    """

    __slots__ = ("end_offset", "records", "skipped", "tail_records", "tail_skipped", "tail_zero_records",
                 "zero_records")

    def __init__(self, end_offset: int = 0) -> None:
        self.records: list[UsageRecord] = []
        self.end_offset = end_offset
        self.skipped: dict[str, int] = {}
        self.zero_records = 0
        self.tail_records: list[UsageRecord] = []
        self.tail_skipped: dict[str, int] = {}
        self.tail_zero_records = 0


# -- what the store answers, for the snapshot -------------------------------------------------------
# One model call after folding its copies: session, ts, model (None: the account's default),
# input, output, cache_read, cache_write, copies.
CallRow = tuple[str, float | None, str | None, int, int, int, int, int]


class FileDiagnostics(NamedTuple):
    files_read: int
    skipped: dict[str, int]
    zero_records: int
