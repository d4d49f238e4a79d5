"""The shared vocabulary every layer speaks: usage records, sources, chunks and skip reasons.

Readers produce these, the store persists them, nothing here does I/O.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import msgspec


class SkipReason(enum.StrEnum):
    """Why a line that could have held usage was not counted."""

    INVALID_JSON = "invalid_json"
    NOT_UTF8 = "not_utf8"
    WRONG_SHAPE = "wrong_shape"
    REEMITTED = "reemitted"  # the same usage written again (its running total has not moved): not a new call


class UsageRecord(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One copy of one model call, as found in one file.

    `key` identifies the call across copies (forks, echoes, subagent files); the counts are part of
    it. `ts` is the valid timestamp in UTC seconds, or None when the copy has none. `model` is what the
    record says of its model, resolved against the config by the provider when the snapshot is built
    (None: nothing, the configured default applies). `scope` is the provider's kind of call (Kimi Code's
    usageScope; None where a provider has none). `marked` is 1 when a `forked` marker follows the copy
    in its file. `reasoning` is the part of `output` the agent reports as reasoning (Codex), an
    informational figure never added to anything; 0 where an agent does not report it.

    A frozen, array-like msgspec Struct without GC tracking: built in C (about 45 ns more than a tuple
    per record, ~2.5 ms for the 57,000 records of the 1 GB benchmark), encoded by the cache and across
    a worker's pipe as a compact array, and decoded back with its types checked.
    """

    key: str
    ts: float | None
    model: str | None
    input: int
    output: int
    cache_read: int
    cache_write: int
    scope: str | None = None
    marked: int = 0
    reasoning: int = 0


# A candidate line as the scan hands it to a parser: a slice of its read buffer, or bytes read again.
Line = bytes | bytearray

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


class FileRead(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What reading one file found, from the offset it was read from to its end: the reader's chunk,
    the fingerprint of the consumed bytes, whether it was read from the start, and its identity as it
    was when read. Crosses a worker's pipe as a compact array (`scan.py`)."""

    end_offset: int | None  # None: the file could not be read
    records: list[UsageRecord]
    skipped: dict[str, int]
    zero: int
    tail_records: list[UsageRecord]
    tail_skipped: dict[str, int]
    tail_zero: int
    state: bytes | None  # the reader's resume state at end_offset
    marker_seen: bool  # a `forked` marker in the new lines: every earlier record of the file is marked
    head_hash: bytes  # the fingerprint of the consumed bytes [0, end_offset): their hash and length
    tail_hash: bytes  # empty: the head's hash covers every consumed byte (the column stays in the cache)
    restarted: bool  # read from the start: every old copy of the file goes
    identity: Identity


def add_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Skip counts by reason added into `total` (returned)."""
    for reason, count in more.items():
        total[reason] = total.get(reason, 0) + count
    return total


class Chunk:
    """What a reader found between an offset and the end of a file.

    `records` and `skipped` come from complete lines, which end at `end_offset`. The bytes after it are
    a last line without its newline: `tail_records` / `tail_skipped` are what that line holds now. A
    cache consumes only up to `end_offset` and reads the tail again next time, so a line that is still
    being written is never half-counted, and a complete line without a final newline still counts.
    """

    __slots__ = ("end_offset", "marker_seen", "marks_from_tail", "records", "skipped", "state", "tail_records",
                 "tail_skipped", "tail_zero_records", "zero_records")

    def __init__(self, end_offset: int = 0, state: bytes | None = None) -> None:
        self.records: list[UsageRecord] = []
        self.end_offset = end_offset
        self.skipped: dict[str, int] = {}
        self.zero_records = 0
        self.tail_records: list[UsageRecord] = []
        self.tail_skipped: dict[str, int] = {}
        self.tail_zero_records = 0
        # What the reader needs to resume at end_offset (Kimi Code: the last model per alias), and
        # whether a `forked` marker came in these lines: then every earlier record of the file is marked.
        self.state = state
        self.marker_seen = False
        # The marks come from a marker in the last line, without its newline: they hold only while that
        # line reads as a marker, so the next read of the file must start over (scan.py).
        self.marks_from_tail = False


# -- what the store answers, for the snapshot -------------------------------------------------------
class CallRow(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One model call after folding its copies: the session that owns it, its time and model (as the
    records say; see `UsageRecord`), the four counts, how many copies it had, its scope and its
    reasoning tokens (informational)."""

    session: str
    ts: float | None
    model: str | None
    input: int
    output: int
    cache_read: int
    cache_write: int
    copies: int
    scope: str | None
    reasoning: int = 0


class SessionInfo(NamedTuple):
    """What a session's state says for attribution: its rank (Kimi CLI: Fork:/Undo: prefixes), the
    session it was forked from (Kimi Code: forkedFrom), if any, and the session its calls count toward
    when it is part of another one (a subagent thread of its parent's; None: its own)."""

    rank: int
    parent: str | None
    joins: str | None = None


class FileDiagnostics(NamedTuple):
    files_read: int
    skipped: dict[str, int]
    zero_records: int
