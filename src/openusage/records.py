"""The shared vocabulary every layer speaks: sources, chunks and sessions (skip reasons: `skips.py`).

Readers produce these, the store persists them, nothing here does I/O. The records and rows
themselves are msgspec Structs (`calls.py`), apart so that a warm run, which reads none, never
imports msgspec.
"""

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from openusage.calls import UsageRecord


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

    __slots__ = ("end_offset", "marker_seen", "marks_from_tail", "records", "reread", "skipped", "state",
                 "tail_records", "tail_skipped", "tail_zero_records", "zero_records")

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
        # These lines change a record an earlier read of the file holds (a Codex re-emit that moves a
        # call's time): read the whole file again from its start instead (reading._read_job).
        self.reread = False


# -- what the store answers, for the snapshot -------------------------------------------------------
# A call owned by a session whose upstream provider is not its provider's usual one (`SessionInfo.upstream`)
# names it after its model, after this separator, from the moment its owner is chosen (`fold.settle`):
# the ledger then counts each (model, upstream) apart, and only the snapshot's model rows show it
# (`ModelResolver` shows the model alone to everything else).
UPSTREAM_MARK = "\x1f"


def with_upstream(model: str | None, upstream: str) -> str:
    """A call's model with its owner's upstream provider (`UPSTREAM_MARK`)."""
    return f"{model or ''}{UPSTREAM_MARK}{upstream}"


def split_upstream(model: str | None) -> tuple[str | None, str | None]:
    """(model, upstream) of a call's model as `with_upstream` writes it; (model, None) for any other."""
    if model is None or UPSTREAM_MARK not in model:
        return model, None
    name, _, upstream = model.rpartition(UPSTREAM_MARK)
    return name or None, upstream


class SessionInfo(NamedTuple):
    """What a session's state says for attribution: its rank (Kimi CLI: Fork:/Undo: prefixes), the
    session it was forked from (Kimi Code: forkedFrom; Codex: forked_from_id or the spawning thread),
    if any, the session its calls count toward when it is part of another one (a subagent thread of
    its parent's; None: its own), the further ancestors its own state names beyond its parent,
    nearest first (Codex: the `session_meta` lines a fork copies from its ancestors), so that its
    ancestry reaches them even when the files of those between are gone, and the links its state
    names between two threads that its chain and the session it joins do not say already (those are
    a spawn up to the thread it joins, a fork or a spawn of a thread of its own above), as (thread,
    parent, spawned): Codex follows the links of every rollout's head (codex-cli-format.md, "Readings
    settled" 1), so one the chain from the session does not reach (a copy whose generation between is
    left out) still counts, and `spawned` says the thread is a subagent its parent spawned, not a fork
    of it (a fork's copy of a subagent's line); and the upstream
    provider its state names when that is not its provider's usual one (Codex: `model_provider`,
    "Readings settled" 8: the calls a thread owns are that provider's); and the thread its state names
    as its own when that is not its name (Codex: a rollout whose file name ends with another id than
    its first `session_meta`'s: the session is that thread, codex-cli-format.md, "Session id")."""

    rank: int
    parent: str | None
    joins: str | None = None
    lineage: tuple[str, ...] = ()
    links: tuple[tuple[str, str, bool], ...] = ()
    upstream: str | None = None
    # The upstream providers its state names for other threads, other than the usual one (Codex: the
    # `model_provider` of the copies of ancestors' `session_meta` lines): what a thread whose own
    # rollout is gone is known by, when its calls' owner (`lineage.Lineage.upstreams`).
    told: tuple[tuple[str, str], ...] = ()
    # The thread the session's files hold when their name says another (`lineage.Lineage`: its calls
    # count toward that thread, and a thread descending from that one descends from this session too).
    thread: str | None = None

    def parents(self) -> tuple[str, ...]:
        """Every ancestor the session's own state names, nearest first."""
        return self.lineage if self.parent is None else (self.parent, *self.lineage)

    def named(self) -> set[str]:
        """Every other thread the state names: its ancestors, the two ends of its links, the threads it
        names a provider of (those whose states choosing owners needs beside its own)."""
        return {*self.parents(), *(thread for link in self.links for thread in link[:2]),
                *(thread for thread, _ in self.told), *((self.thread,) if self.thread is not None else ())}


class FileDiagnostics(NamedTuple):
    files_read: int
    skipped: dict[str, int]
    zero_records: int
