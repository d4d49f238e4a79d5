"""Reading files and folding their copies: everything a run does once something is to be read.

`scan.py` decides what to read (the walk compared with the store); this module reads it, in worker
processes when there is enough, folds the copies (`fold.py`) and writes them to the store:
- a full read (`read_all`): no cache, or the first run of an account;
- a refresh's changes (`apply_changes`): the new bytes of changed files, and the calls they touch
  re-folded from the store as they were before and after.
A warm run with nothing new never imports it, nor the readers, the fold or msgspec.

Every result that crosses a worker's pipe is a msgspec Struct (`packed.py`), so what a worker sends
is typed and checked.
"""

from __future__ import annotations

import marshal
import os
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from itertools import groupby
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from openusage import lifetime, scan
from openusage._msgspec import msgspec
from openusage.calls import CallRow, FileRead
from openusage.files import open_regular
from openusage.fold import (
    Call,
    Calls,
    call_rows,
    fold_copies,
    fold_records,
    merge,
    reroot,
    settle,
    settle_alone,
)
from openusage.lineage import Lineage, classes, in_touched, local_root, touched, widened
from openusage.packed import codec, encode_records
from openusage.parallel import Codec
from openusage.providers import file_provider
from openusage.providers.base import FileProvider, SessionDir, SessionList, Walk
from openusage.records import FileDiagnostics, SessionInfo, Source, add_counts
from openusage.scan import Progress, _holders, _Job, _Units
from openusage.store import FileState, Store, key_crc, key_crcs
from openusage.stored import PLAIN_SESSION
from openusage.summary import Ledger, StoredLedger, session_shard

if TYPE_CHECKING:
    from openusage.candidates import Reader

T = TypeVar("T")


# -- every file, folded where it is read --------------------------------------------------------------

@contextmanager
def scratch_store() -> Iterator[Store]:
    """A private SQLite file in the temporary directory, removed afterwards: a `--no-cache` scan of a
    very large history folds from it one file at a time, as a first run does, so memory stays bounded
    (the calls of 100,000 sessions held in memory cost ~40 MiB), and keeps its ledger there in parts
    while the command uses it (`scan.refresh`'s `scratch`). The cache itself is not touched."""
    import tempfile  # here: only a very large history needs it, and every run would pay its import

    with tempfile.TemporaryDirectory(prefix="openusage-scan-") as directory:
        store = Store(os.path.join(directory, "scan.sqlite3"))
        try:
            yield store
        finally:
            store.close()


class TooManyCalls(Exception):
    """A scan without the cache holds more calls than the memory bound allows: it starts again through
    a scratch file."""


class _Folded:
    """The in-memory sink of a full read: every unit's calls merged as they come, and every session's
    state: most name nothing (`PLAIN_SESSION`: kept as a name only); those with a rank, a parent, a
    session they join or links, whole, for `settle` (`lineage.Lineage`)."""

    __slots__ = ("calls", "forks", "names")

    def __init__(self) -> None:
        self.calls: Calls = {}
        self.names: dict[str, None] = {}  # every session read (a dict: the order sessions came in)
        self.forks: dict[str, SessionInfo] = {}

    def add(self, unit_calls: Calls, unit_infos: dict[str, SessionInfo]) -> None:
        merge(self.calls, unit_calls)
        for name, info in unit_infos.items():
            self.names[name] = None
            if info != PLAIN_SESSION:
                self.forks[name] = info

    def ledger(self) -> Ledger:
        """Every call keyed under its lineage's root (`lineage.py`), its owner chosen, then counted."""
        forks = self.forks
        lineage = Lineage(forks)
        reroot(self.calls, lineage.remap(lambda name: name in self.names and name not in forks))
        settle(self.calls, lineage.ranks(), lineage.ancestors(), lineage.joins(),
               lineage.upstreams(self.names.__contains__))
        return Ledger.of(self.calls.values())  # counted as folded: no row made per call

    def infos(self) -> dict[str, SessionInfo]:
        forks = self.forks
        return {name: forks.get(name, PLAIN_SESSION) for name in self.names}


class _Tally:
    """What reading the files ran into: files read, all-zero records, skips by reason, unreadable."""

    __slots__ = ("files_read", "skipped", "unreadable", "zero")

    def __init__(self, unreadable: int) -> None:
        self.files_read = self.zero = 0
        self.skipped: dict[str, int] = {}
        self.unreadable = unreadable

    def add(self, result: FileRead) -> bool:
        """Count one file's result; False when the file could not be read."""
        if result.end_offset is None:
            self.unreadable += 1
            return False
        self.files_read += 1
        self.zero += result.zero + result.tail_zero
        add_counts(add_counts(self.skipped, result.skipped), result.tail_skipped)
        return True

    def diagnostics(self) -> FileDiagnostics:
        return FileDiagnostics(self.files_read, self.skipped, self.zero)


class FullRead(NamedTuple):
    """What a full read gives: the ledger, the files' diagnostics, the unreadable files, and (from the
    memory sink only) the calls and sessions, for `groups.py`."""

    ledger: Ledger
    files: FileDiagnostics
    unreadable: int
    calls: Calls | None = None
    infos: dict[str, SessionInfo] | None = None


class Sink(Protocol):
    """Where a full read's units go. The one loop of `read_all` hands every unit to its sink; the
    sink says what the workers must send it (`folds`: each unit's calls folded; `keeps`: each file's
    copies encoded for a store) and builds the ledger at the end."""

    folds: bool
    keeps: bool

    def add(self, unit: _UnitRead) -> None: ...

    def finish(self, files: FileDiagnostics, unreadable: int) -> FullRead: ...


class MemorySink:
    """No cache: the calls are folded here as they come, and returned with the ledger. `max_calls`
    (None: no bound) is the memory bound: more calls than it end the read (`TooManyCalls`), and the
    caller reads again into a `StoreSink` over a scratch store."""

    folds, keeps = True, False

    def __init__(self, max_calls: int | None) -> None:
        self.folded = _Folded()
        self.max_calls = max_calls

    def add(self, unit: _UnitRead) -> None:
        self.folded.add(unit.calls, unit.infos)
        if self.max_calls is not None and len(self.folded.calls) > self.max_calls:
            raise TooManyCalls

    def finish(self, files: FileDiagnostics, unreadable: int) -> FullRead:
        return FullRead(self.folded.ledger(), files, unreadable, self.folded.calls, self.folded.infos())


class StoreSink:
    """A store (the cache on a first run, or a scratch store): every unit's sessions and copies are
    written as they come. The ledger is folded in memory as well while the calls stay under
    `max_calls` (None: they are never folded here); past it, or from the start, it is built from the
    store one file at a time and stored there in parts (`parted_ledger`), which takes longer and holds
    little: the ledger returned reads its parts from the store, which must stay open while it is used
    (a scratch store is the caller's: `scan.refresh`)."""

    keeps = True

    def __init__(self, store: Store, account: str, max_calls: int | None) -> None:
        self.store, self.account, self.max_calls = store, account, max_calls
        self.folded: _Folded | None = _Folded() if max_calls is None or max_calls > 0 else None
        self.folds = self.folded is not None

    def add(self, unit: _UnitRead) -> None:
        store, account = self.store, self.account
        store.set_sessions(account, ((name, info, unit.signatures.get(name, 0)) for name, info in unit.infos.items()))
        for file in unit.files:
            encoded = file.encoded
            if file.read.end_offset is not None and encoded is not None:
                store.add_encoded(account, file.source.path, file.source.session, file.read, encoded.records,
                                  encoded.tail, encoded.crcs)
        if self.folded is not None:
            self.folded.add(unit.calls, unit.infos)
            if self.max_calls is not None and len(self.folded.calls) > self.max_calls:
                # Too many to hold: the store folds what it holds when all are in. (Workers forked before
                # this go on folding; what they send is then dropped.)
                self.folded = None

    def finish(self, files: FileDiagnostics, unreadable: int) -> FullRead:
        ledger = self.folded.ledger() if self.folded is not None else parted_ledger(self.store, self.account)
        # The folded calls (a 1 GB history's 48,000): in a one-shot command freed with the process, not
        # one by one when the sink goes, in the serial end of a first run (~5 ms).
        lifetime.outlive(self.folded)
        return FullRead(ledger, files, unreadable)


def read_all(sink: Sink, provider: FileProvider, account: str, walk: Walk, progress: Progress | None,
             listing: list[_Units], *, release: bool = False) -> FullRead:
    """Read every file of the walk from the start, split by session over the processes: each walks its
    sessions, reads their files and their sessions' state, and folds and/or encodes what it read, as
    the sink asks; every unit goes to `sink` as it comes. `release`: the caller never reads this
    listing again, even after a failure, so each unit's sessions go once its result is in."""
    fold, keep = sink.folds, sink.keeps
    # `listing` ([the units]) is a list so that the session list, a quarter of a first run's memory at
    # 100,000 sessions, is let go (cleared) before the ledger is built.

    def work(i: int) -> _UnitRead:
        units = listing[0]
        return _read_unit(provider, account, units.top, *units.work(i), keep, fold)

    tally = _Tally(walk.unreadable)
    units = listing[0]
    sizes = units.sizes()
    for i, unit in _run(len(sizes), work, _UNIT_READ, sizes, None, progress, provider, lambda unit: unit.size):
        if release:
            # A unit whose result is in is never asked for again (`parallel.run`): its sessions go (in
            # this process; a worker keeps its own copy), ~20 MiB over the reading at 500,000 sessions.
            # Not for a read that may start again from this listing (`scan._refresh_account` without
            # the cache, in memory: too many calls); a scratch store that fails lists afresh.
            units.release(i)
        sink.add(unit)
        tally.unreadable += unit.unreadable
        for file in unit.files:
            tally.add(file.read)
    listing.clear()
    return sink.finish(tally.diagnostics(), tally.unreadable)


class _Encoded(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A file's copies encoded for the store by the process that read them (`packed.encode_records`),
    and the crcs of the keys they hold (`store.key_crcs`)."""

    records: bytearray  # bytearrays: what the store binds directly (`Store._flush_files`)
    tail: bytearray
    crcs: bytes  # an array('I') of them (`store.crc_array`)


class _FileResult(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One file of a full read: what was read (its copies emptied when they were folded or encoded:
    only the counts cross the pipe then), and its copies encoded for the store."""

    source: Source
    read: FileRead
    encoded: _Encoded | None


class _UnitRead(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One unit of a full read, as it crosses a worker's pipe: its files, its calls folded, its
    sessions' ranks, parents and state signatures, the unreadable files, and the bytes it read."""

    files: list[_FileResult]
    calls: Calls
    infos: dict[str, SessionInfo]
    signatures: dict[str, int]
    unreadable: int
    size: int


_UNIT_READ = codec(_UnitRead)


def _read_unit(provider: FileProvider, account: str, top: SessionList, sessions: list[SessionDir],
               loose: list[Source], keep: bool, fold: bool) -> _UnitRead:
    """One unit of a full read, in any process: walk its sessions, read their files and their state
    files. The files' copies are encoded for the store (`keep`) and/or folded (`fold`)."""
    local = Walk()
    walk_session = provider.walk_session
    sources = [source for session in sessions for source in walk_session(local, session, top)]
    sources.extend(loose)
    calls: Calls = {}
    files: list[_FileResult] = []
    reader = _reader()
    heads: dict[str, bytes] = {}  # the top of each file as read, for `session_info` (`head_bytes`)
    for source in sources:
        result = _read_job(_Job(provider.id, source, 0, source.identity[2], None, keep), reader, heads)
        encoded: _Encoded | None = None
        if result.end_offset is not None:
            records, tail = result.records, result.tail_records
            if keep:  # encoded here, in parallel, for the store
                encoded = _Encoded(encode_records(records, account, source.session),
                                   encode_records(tail, account, source.session), key_crcs(records, tail))
            if fold:
                fold_records(records, source.session, calls)
                fold_records(tail, source.session, calls)
            # The copies are encoded or folded into `calls` above: only the counts cross the pipe.
            result = msgspec.structs.replace(result, records=[], tail_records=[])
        files.append(_FileResult(source, result, encoded))
    infos = provider.session_info(_holders(local, local.session_dirs), heads)
    return _UnitRead(files, calls, infos, local.signatures, local.unreadable,
                     sum(source.identity[2] for source in sources))


def apply_changes(store: Store, provider: FileProvider, account: str, walk: Walk, progress: Progress | None,
                  jobs: list[_Job], gone: list[FileState], changed_sessions: dict[str, tuple[str, SessionInfo, int]],
                  dropped_sessions: list[str], ledger: Ledger | None) -> tuple[Ledger, int, FileDiagnostics | None]:
    """Read what changed (`scan._refresh` found it) and re-fold the calls it touches; returns the ledger,
    the unreadable count, and None for the diagnostics (they must be stored again)."""
    results = _read_jobs(jobs, progress, provider)
    dirty, lineage, after = _dirty(store, account, gone, results, changed_sessions, dropped_sessions)
    refold_all = ledger is None or len(dirty) >= scan.REFOLD_ALL_SHARE * max(1, ledger.totals[0])
    if not refold_all:
        assert ledger is not None
        ledger.add(stored_calls(store, account, dirty, lineage).values(), sign=-1)
    unreadable = _apply(store, account, gone, results, changed_sessions, dropped_sessions) + walk.unreadable
    if refold_all:
        return parted_ledger(store, account), unreadable, None
    assert ledger is not None
    # The sessions as `_dirty` said they would be once written (`_after`): what `Store.session_forks`
    # would read now, without its query and its decoding again (~5 ms of a Codex refresh after appends).
    # Every refresh test of the suite compared the two when this was written (remap, ranks, ancestors,
    # joins, upstreams): equal, and each checks its figures against a scan without the cache.
    ledger.add(stored_calls(store, account, dirty, lineage if after is None else Lineage(after)).values())
    return ledger, unreadable, None


def _read_jobs(jobs: list[_Job], progress: Progress | None, provider: FileProvider) -> list[tuple[_Job, FileRead]]:
    """The new bytes of every changed file, read in batches over the processes."""
    batches = _batches(jobs)
    results: list[tuple[_Job, FileRead]] = []
    sizes = [sum(job.size - job.offset for job in batch) for batch in batches]
    for i, batch in _run(len(batches), lambda i: _Batch([_read_job(job, _reader()) for job in batches[i]]),
                         _BATCH, [len(batch) for batch in batches], sizes, progress, provider):
        results.extend(zip(batches[i], batch.reads, strict=True))
    return results


class _Batch(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A batch of a refresh's reads, as it crosses a worker's pipe."""

    reads: list[FileRead]


_BATCH = codec(_Batch)


def _dirty(store: Store, account: str, gone: list[FileState], results: list[tuple[_Job, FileRead]],
           changed: dict[str, tuple[str, SessionInfo, int]],
           dropped: list[str]) -> tuple[set[str], Lineage, dict[str, SessionInfo] | None]:
    """The calls a refresh changes, asked before anything changes: those of files gone, of the part of
    a file read again, of its new lines, of the sessions whose state or ancestry changed, and of those
    whose lineage now reaches another root; each under every root it folds with, before or after
    (`lineage.py`), so that the calls re-folded are whole on both sides of the change. With them, the
    links of the sessions' states as owners are chosen before the change (`Store.session_forks`), and
    the sessions as they will be after it (`_after`; None when the refresh changes none)."""
    dirty: set[str] = set()
    for state in gone:
        dirty |= store.keys_of_file(state.id)
    for job, result in results:
        previous = job.previous
        if previous is not None:
            if result.end_offset is None or result.restarted:
                dirty |= store.keys_of_file(previous.id)
            else:
                dirty |= store.keys_of_file(previous.id, tail_only=True)
                if result.marker_seen:
                    dirty |= store.keys_of_file(previous.id, unmarked_only=True)
        dirty.update(record.key for record in result.records)
        dirty.update(record.key for record in result.tail_records)
    moved = _moved(store, account, changed)
    before = store.session_forks(account)
    after = _after(store, account, before, moved, dropped)
    lineage = Lineage(before)
    remap_before = lineage.remap()
    remap_after = remap_before if after is before else Lineage(after).remap()
    rerooted = _rerooted(before, after, remap_before, remap_after)
    for session in [*moved, *dropped, *_reparented(store, account, moved, dropped), *rerooted]:
        dirty |= store.call_keys(account, session)
    return widened(dirty, classes(remap_before, remap_after)), lineage, None if after is before else after


def _after(store: Store, account: str, before: dict[str, SessionInfo],
           changed: Mapping[str, tuple[str, SessionInfo, int]], dropped: list[str]) -> dict[str, SessionInfo]:
    """`Store.session_forks` as it will be once the refresh is written: with the changed sessions' new
    states, and the stored sessions they name that `before` left out (then named by none)."""
    if not changed and not dropped:
        return before
    after = dict(before)
    for name, info, _signature in changed.values():
        after[name] = info
    for name in dropped:
        after.pop(name, None)
    named = sorted({name for _, info, _ in changed.values() for name in info.named()} - after.keys())
    if named:
        gone = set(dropped)
        after.update((name, info) for name, info in store.session_infos(account, named).items() if name not in gone)
    return after


def _rerooted(before: Mapping[str, SessionInfo], after: Mapping[str, SessionInfo],
              remap_before: Mapping[str, str], remap_after: Mapping[str, str]) -> set[str]:
    """The sessions whose calls are keyed under a root that leads elsewhere than it did (another file's
    head naming its parent came or went): the root itself, and every session whose own head leads to it."""
    if remap_before == remap_after:
        return set()
    changed = {root for root in remap_before.keys() | remap_after.keys()
               if remap_before.get(root, root) != remap_after.get(root, root)}
    sessions = {name for infos in (before, after) for name, info in infos.items() if local_root(name, info) in changed}
    return sessions | changed


def _moved(store: Store, account: str,
           changed: dict[str, tuple[str, SessionInfo, int]]) -> dict[str, tuple[str, SessionInfo, int]]:
    """The changed sessions whose state now says something else (a rank, a parent, a session joined),
    or that are new: a session whose state was read again and says the same (a Codex rollout appended
    to: its signature covers the whole file) moves no call, and costs no refold."""
    if not changed:
        return changed
    before = store.session_infos(account, list(changed))
    return {name: row for name, row in changed.items() if before.get(name) != row[1]}


def _apply(store: Store, account: str, gone: list[FileState], results: list[tuple[_Job, FileRead]],
           changed: dict[str, tuple[str, SessionInfo, int]], dropped: list[str]) -> int:
    """Write what the refresh read to the store; returns how many of its files could not be read."""
    unreadable = 0
    for state in gone:
        store.drop_file(state.id)
    for job, result in results:
        if result.end_offset is None:
            unreadable += 1
            if job.previous is not None:
                store.drop_file(job.previous.id)
            continue
        store.apply(account, job.source.path, job.source.session, result, job.previous)
    store.set_sessions(account, changed.values())
    store.drop_sessions(account, dropped)
    return unreadable


def _reparented(store: Store, account: str, changed: dict[str, tuple[str, SessionInfo, int]],
                dropped: list[str]) -> set[str]:
    """Sessions whose ancestry changes although their own state did not: a fork's chain runs
    through sessions that exist, so one appearing, vanishing or changing its parent moves the owner of
    calls that other sessions share."""
    if not changed and not dropped:
        return set()
    before = store.session_infos(account)
    after = dict(before)
    for name, info, _signature in changed.values():
        after[name] = info
    for name in dropped:
        after.pop(name, None)
    # A subagent's subagent counts toward the thread at the top, so the joins are compared resolved: one
    # link changing moves the calls of every session whose chain runs through it.
    old, new = Lineage(before), Lineage(after)
    return (_differing(old.ancestors(), new.ancestors()) | _differing(old.joins(), new.joins())
            | _differing(_joined_upstreams(old), _joined_upstreams(new)))


def _joined_upstreams(lineage: Lineage) -> dict[str, str | None]:
    """Each session that joins another, to the upstream provider its calls are marked with then: that
    of the session it joins (a new state of that one changes the mark of calls it does not hold)."""
    upstreams = lineage.upstreams()
    return {session: upstreams.get(target) for session, target in lineage.joins().items()}


def _differing(old: Mapping[str, object], new: Mapping[str, object]) -> set[str]:
    """The names whose value differs between two mappings (one that is in only one of them included)."""
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def stored_calls(store: Store, account: str, keys: set[str], lineage: Lineage | None = None) -> Calls:
    """The account's calls with these keys as the store's copies and sessions say now (`lineage`: that
    of its `session_forks`, when the caller has it), settled as its ledger counts them."""
    if not keys:
        return {}
    calls = fold_copies(store.copies(account, keys))
    _settle(store, account, calls, lineage)
    return calls


def _settle(store: Store, account: str, calls: Calls, lineage: Lineage | None = None) -> None:
    """Every call keyed under its lineage's root (`lineage.py`), then its owner chosen (`lineage`: that of
    the account's `session_forks`, when the caller has it)."""
    if lineage is None:
        lineage = Lineage(store.session_forks(account))
    reroot(calls, lineage.remap())
    settle(calls, lineage.ranks(), lineage.ancestors(), lineage.joins(), lineage.upstreams())


def stored_account_calls(store: Store, account: str) -> tuple[Calls, dict[str, SessionInfo]]:
    """Every call the store holds for the account, folded and settled as its ledger counts them, with
    every session's rank and parent (for `groups.py`). Memory grows with the account's calls: this
    answers the settled-calls query, which hands every call to its caller anyway."""
    calls: Calls = {}
    for session, records in store.file_copies(account):
        fold_records(records, session, calls)
    _settle(store, account, calls)
    return calls, store.session_infos(account)


def settled_by_session(store: Store, account: str) -> Iterator[CallRow]:
    """The rows of every call the account's sessions own (what `stored_account_calls` settles), the
    rows of each session one after the other, read one session's files at a time. A session whose
    calls all have a key no other file holds owns every call it holds: its rows go out when its files
    are read. The sessions holding a call another file holds too (a fork, an echo), and those that join
    another or are joined, wait until every file is read and their calls' owners are chosen, then go
    out by session, as do those holding a call keyed under a root another file's head leads further
    (`lineage.py`). So memory grows with those waiting sessions' calls, not with the history."""
    shared = store.shared_crcs()
    lineage = Lineage(store.session_forks(account))
    joins = lineage.joins()
    upstreams = lineage.upstreams()
    joined = set(joins) | set(joins.values())
    moved = touched(lineage.remap())
    waiting: Calls = {}
    for session, files in groupby(store.file_copies(account, by_session=True), key=lambda file: file[0]):
        calls: Calls = {}
        for _session, records in files:
            fold_records(records, session, calls)
        if session in joined or (shared and any(key_crc(key) in shared for key in calls)) \
                or (moved and any(in_touched(key, moved) for key in calls)):
            merge(waiting, calls)
            continue
        settle_alone(calls, upstreams=upstreams)  # a session that joins another, or is joined, waits
        yield from call_rows(calls)
    if waiting:
        _settle(store, account, waiting, lineage)
        yield from sorted(call_rows(waiting), key=lambda row: row.session)


def stored_ledger(store: Store, account: str) -> Ledger:
    """The ledger of every call the store holds for the account, read one file at a time
    (`_stored_calls`) and held whole: the reference `parted_ledger` is held to (tests/test_settled_parts.py)."""
    ledger = Ledger()
    for calls in _stored_calls(store, account):
        ledger.add(calls)
    return ledger


def _stored_calls(store: Store, account: str) -> Iterator[Collection[Call]]:
    """The account's calls from the store, a file's at a time, then those held in several files. A call
    whose key's crc no other file holds has every copy in that file, so it is given as soon as the file
    is read (all of one holder session: copies within one file share it); only the others are kept
    until all are read and their owners chosen, and come last, with those keyed under a root another
    file's head leads further (`lineage.py`): their copies elsewhere are keyed under another root."""
    shared = store.shared_crcs()
    lineage = Lineage(store.session_forks(account))
    joins = lineage.joins()
    upstreams = lineage.upstreams()
    moved = touched(lineage.remap())
    pending: Calls = {}
    for session, records in store.file_copies(account):
        calls: Calls = {}
        fold_records(records, session, calls)
        if shared or moved:
            waiting = {key: call for key, call in calls.items()
                       if (shared and key_crc(key) in shared) or (moved and in_touched(key, moved))}
            if waiting:
                merge(pending, waiting)
                for key in waiting:
                    del calls[key]
        settle_alone(calls, joins, upstreams)
        yield calls.values()
    _settle(store, account, pending, lineage)
    yield pending.values()


# Sessions a ledger is built of in memory (~17 MiB at 100,000) before they go to scratch tables, a batch
# at a time (`parted_ledger`).
LEDGER_BATCH = 100_000
# The batch of an account whose store holds more sessions than `LEDGER_BATCH`, which goes to the scratch
# tables whatever the batch: ~4 MiB. (A batch of `LEDGER_BATCH` was the peak of a first run of 500,000
# sessions, 17 MiB above the reading's; the scratch tables cost the same per session in any batch.)
LEDGER_SPILL = 25_000


def parted_ledger(store: Store, account: str) -> Ledger:
    """What `stored_ledger` gives, built without holding more than `LEDGER_BATCH` sessions: the calls are
    read one file at a time as there, and counted into a ledger in memory; once it has `LEDGER_BATCH`
    sessions (`LEDGER_SPILL` when the store holds more sessions than `LEDGER_BATCH`: it would spill
    anyway), its sums are added to the whole's and its sessions' call counts and call times go to the
    store's scratch tables (`Store.ledger_build_add`), and counting goes on into a new one. At the
    end the ledger's parts are stored, made from those tables one at a time (by part, by UTC day), and
    the ledger returned reads its parts from the store when it needs them, as a warm run's does. A
    whole ledger of 500,000 sessions held ~100 MiB; one of fewer than `LEDGER_BATCH` is returned whole,
    with no scratch table (they cost ~15 us a session)."""
    limit = min(LEDGER_BATCH, LEDGER_SPILL) if store.session_count(account) > LEDGER_BATCH else LEDGER_BATCH
    whole: Ledger | None = None
    batch = Ledger()
    try:
        for calls in _stored_calls(store, account):
            batch.add(calls)
            if len(batch.sessions) >= limit:
                if whole is None:
                    whole = Ledger()
                    store.ledger_build_start()
                _spill(store, whole, batch)
                batch = Ledger()
        if whole is None:
            return batch
        _spill(store, whole, batch)
        del batch
        head = whole.head(*store.ledger_build_counts())
        store.set_summary(account, StoredLedger(head, _session_parts(store), _day_parts(store), True))
    finally:
        if whole is not None:
            store.ledger_build_end()
    ledger = Ledger.from_stored(head, store.ledger_parts(account))
    assert ledger is not None  # the head was made by this code just now
    return ledger


def _spill(store: Store, whole: Ledger, batch: Ledger) -> None:
    """A batch's sums into the whole, its sessions' call counts and call times into the scratch tables."""
    whole.absorb(batch)
    store.ledger_build_add(((session_shard(session), session, calls) for session, calls in batch.sessions.items()),
                           ((day, session, marshal.dumps(times)) for day, per_session in batch.day_sessions.items()
                            for session, times in per_session.items()))


def _session_parts(store: Store) -> Iterator[tuple[int, bytes | None]]:
    """Each part of the sessions' call counts, made from the scratch table one at a time."""
    for shard, rows in groupby(store.ledger_build_sessions(), key=lambda row: row[0]):
        yield shard, marshal.dumps({session: calls for _shard, session, calls in rows})


def _day_parts(store: Store) -> Iterator[tuple[int, bytes | None]]:
    """Each UTC day's sessions' call times, made from the scratch table one day at a time; a session's
    times from several batches are joined (one time stays a float, as `Ledger` keeps it)."""
    for day, rows in groupby(store.ledger_build_days(), key=lambda row: row[0]):
        per_session: dict[str, float | list[float]] = {}
        for _day, session, blob in rows:
            times = marshal.loads(blob)
            found = per_session.get(session)
            if found is None:
                per_session[session] = times
            else:
                joined = found if isinstance(found, list) else [found]
                joined.extend(times if isinstance(times, list) else [times])
                per_session[session] = joined
        yield day, marshal.dumps(per_session)


# -- reading ------------------------------------------------------------------------------------------

def _run(count: int, work: Callable[[int], T], transport: Codec[T], items: list[int], sizes: list[int] | None,
         progress: Progress | None, provider: FileProvider,
         size_of: Callable[[T], int] | None = None) -> Iterator[tuple[int, T]]:
    """`work(i)` for every unit i < count, in this process or, when there is enough to do, in worker
    processes too; results come back as they are ready (in no particular order: nothing downstream
    depends on it). `items`: the files (or sessions) of each unit, for the progress bar; `sizes`: the
    bytes each unit reads, when known (None: a full read, whose sizes the walk finds as it goes, and
    `size_of` tells from each result)."""
    if not count:
        return
    total = sum(sizes) if sizes is not None else 0
    if progress is not None:
        progress.start(sum(items), total, "files" if sizes is not None else "sessions")
    # Imported here: the reader, its SIMD search and the process pool cost ~15 ms of imports, and a warm
    # run with nothing new needs none of them.
    from openusage import parallel

    _reader()
    provider.parser(Source("", "", (0, 0, 0, 0, 0)), None)  # loads its reader now: the workers inherit it
    workers = os.cpu_count() or 1
    if count < 2 or (sizes is not None and total < scan.PARALLEL_MIN_BYTES):
        workers = 1
    done = done_bytes = 0
    try:
        for i, result in parallel.run(count, work, workers, transport):
            done += items[i]
            done_bytes += sizes[i] if sizes is not None else size_of(result) if size_of is not None else 0
            if progress is not None:
                progress.advance(done, done_bytes)
            yield i, result
    finally:
        if progress is not None:
            progress.finish()


def _batches(jobs: list[_Job]) -> list[list[_Job]]:
    """Jobs grouped into batches of about the same bytes, biggest files first, so that the processes
    finish together and this one gets results to write while the workers are still reading."""
    total = sum(job.size - job.offset for job in jobs)
    target = max(scan.BATCH_MIN_BYTES, total // (2 * scan.BATCHES_PER_WORKER), total // scan.MAX_BATCHES + 1)
    batches: list[list[_Job]] = []
    batch: list[_Job] = []
    size = 0
    for job in sorted(jobs, key=lambda job: job.offset - job.size):
        batch.append(job)
        size += job.size - job.offset
        if size >= target:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    return batches


_READER: list[Reader] = []
_THREAD_READERS = threading.local()


def _reader() -> Reader:
    """This process's reader (its buffer is reused for every file); in a resident process, this
    thread's, since threads read at once."""
    from openusage import parallel

    if parallel.resident():
        reader: Reader | None = getattr(_THREAD_READERS, "reader", None)
        if reader is None:
            from openusage.candidates import Reader

            reader = _THREAD_READERS.reader = Reader()
        return reader
    if not _READER:
        from openusage.candidates import Reader

        _READER.append(Reader())
    return _READER[0]


def _read_job(job: _Job, reader: Reader, heads: dict[str, bytes] | None = None) -> FileRead:
    """Runs in any process: open the file once, verify the consumed bytes, parse the new ones. `heads`,
    when given, takes the top of a file read from its start (the provider's `head_bytes` of it)."""
    provider = file_provider(job.provider)
    assert provider is not None  # jobs are only planned for registered providers
    try:
        # Regular files only, never blocking: a wire file swapped for a FIFO since the walk is refused.
        fd, info = open_regular(job.source.path)
    except OSError:
        return _unreadable(job)
    try:
        size = info.st_size
        offset = job.offset
        previous = job.previous
        prefix = None
        if offset and previous is not None:
            # Every consumed byte hashed again: a file rewritten anywhere before its offset (even to the
            # same size) is read again from the start.
            prefix = reader.hash_prefix(fd, offset) if offset <= size else None
            if prefix is None or (prefix.at(offset), b"") != (previous.head_hash, previous.tail_hash):
                offset, prefix = 0, None
        if prefix is None and job.fingerprint:
            prefix = reader.prefix()
        while True:
            parser = provider.parser(job.source, previous.state if offset and previous is not None else None)
            keep_head = provider.head_bytes if heads is not None and offset == 0 else 0
            end, tail = reader.scan(fd, offset, size, provider.needles, parser.line, prefix, parser.broken, keep_head)
            if reader.head is not None and heads is not None:
                heads[job.source.path] = reader.head
            chunk = parser.finish(end, tail)
            if not (chunk.reread and offset):
                break
            # The new lines change a record the earlier read holds: the whole file again, as a cold scan
            # reads it (the old copies of it go: `FileRead.restarted`).
            offset, prefix = 0, reader.prefix() if job.fingerprint else None
        head_hash = b""
        if job.fingerprint:
            assert prefix is not None
            head_hash = prefix.at(end) or _rehashed(reader, fd, end)
        if chunk.marks_from_tail:
            # Marks that a line still being written gave the copies before it: a fingerprint that never
            # matches, so the next read of this file starts over and they go if the line ends otherwise.
            head_hash = b""
    except OSError:
        return _unreadable(job)
    finally:
        os.close(fd)
    identity = (info.st_dev, info.st_ino, size, info.st_mtime_ns, info.st_ctime_ns)
    return FileRead(chunk.end_offset, chunk.records, chunk.skipped, chunk.zero_records, chunk.tail_records,
                    chunk.tail_skipped, chunk.tail_zero_records, chunk.state, chunk.marker_seen, head_hash, b"",
                    offset == 0, identity)


def _rehashed(reader: Reader, fd: int, end: int) -> bytes:
    """The fingerprint of `fd[0:end]` by a pass of its own: only when the file changed while it was read,
    so that the scan's own hash does not end where the consumed bytes do. Empty (never equal to a
    stored one: the file is read from the start next time) if it shrank below `end`."""
    prefix = reader.hash_prefix(fd, end)
    return b"" if prefix is None else prefix.at(end) or b""


def _unreadable(job: _Job) -> FileRead:
    return FileRead(None, [], {}, 0, [], {}, 0, None, False, b"", b"", False, job.source.identity)
