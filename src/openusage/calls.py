"""What reading produces and folding settles: a copy of a call, a settled call, a file's read.

msgspec Structs with named fields in one order, frozen and array-like, without GC tracking: built in
C, checked by mypy from the reader to the store and across a worker's pipe (`packed.py`), and cheap
to hold by the tens of thousands. Imported only where files are read or calls folded: a warm run
never loads msgspec.
"""

from __future__ import annotations

from openusage._msgspec import msgspec
from openusage.records import Identity


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


class SettledMember(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """Where one member's settled rows are kept: in `parts` parts of the member numbered `source` (a
    member on the same sessions directory as an earlier one shares its rows), and the models they name
    (as the records say), for pricing before the rows are read."""

    source: int
    parts: int
    models: list[str | None]


class SettledHead(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A group's settled rows as the cache keeps them (`settled.py`): the generations of the members'
    summaries they were computed from, and per member where its rows are."""

    version: int
    generations: list[int | None]
    members: list[SettledMember]


class SettledPart(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """Some of a member's settled rows, each session's one after the other across the parts."""

    rows: list[CallRow]


class StoredCopies(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A file's copies as the cache keeps them (`stored.py`), with the account and session they were
    read for."""

    account: str
    session: str
    records: list[UsageRecord]
