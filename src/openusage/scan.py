"""The incremental loop: compare every file with what the store remembers, read only what is new.

Per file the store keeps its identity (device, inode, size, mtime, ctime), the offset just past the
last complete line consumed, and hashes of the first block and of the last consumed block. A file
whose identity is unchanged is not opened. A grown file whose consumed bytes still hash the same is
read from its offset. Anything else (shrunk, replaced, rewritten in place) is read from the start and
its old rows dropped, in the same transaction. Files are read in worker processes when there is
enough to read to pay for starting them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import NamedTuple, Protocol

from openusage import candidates, parallel
from openusage.fold import Call, Copy, ancestry, as_call_rows, call_rows, fold, settle
from openusage.providers import provider_by_id
from openusage.providers.base import Account, FileProvider, Walk
from openusage.records import Identity, Source, UsageRecord, file_key
from openusage.store import FileState, FileUpdate, Store
from openusage.summary import Ledger, Summary

# Below this many bytes to read, forking a worker costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
# Many small batches: a process that is busy writing the cache simply takes fewer of them.
BATCH_MIN_BYTES = 1024 * 1024
BATCHES_PER_WORKER = 64
MAX_BATCHES = 4096  # the queue is written whole before the workers start: it must fit in a pipe



class Progress(Protocol):
    def start(self, files: int, total_bytes: int) -> None: ...

    def advance(self, files: int, done_bytes: int) -> None: ...

    def finish(self) -> None: ...


class _Job(NamedTuple):
    provider: str
    source: Source
    offset: int
    size: int
    previous: FileState | None
    fingerprint: bool  # the cache keeps it: worth two small reads


class _Result(NamedTuple):
    end_offset: int | None  # None: the file could not be read
    records: list[UsageRecord]
    skipped: dict[str, int]
    zero: int
    tail_records: list[UsageRecord]
    tail_skipped: dict[str, int]
    tail_zero: int
    state: bytes | None
    marker_seen: bool
    head_hash: bytes
    tail_hash: bytes
    restarted: bool  # read from the start: every old row of the file goes
    identity: Identity  # as the file was when read


class Refreshed(NamedTuple):
    """One account after a refresh: the summary of its calls, and what reading its files ran into."""

    summary: Summary
    calls_since: Callable[[float], Iterable[tuple[str, float | None]]]  # (session, ts) at or after a time
    found: bool
    problem: str | None
    unreadable: int
    resolve_model: Callable[[str | None], str]


def refresh(store: Store, provider: FileProvider, account: Account, env: Mapping[str, str],
            progress: Progress | None = None) -> Refreshed:
    """Bring the store's rows for `account` up to date with the files on disk and summarize them."""
    walk = provider.walk(account, env)
    resolve_model = provider.model_resolver(account, env)
    with store.write():
        if not walk.found:
            store.forget_account(account.id)
            return Refreshed(Ledger().summary(), lambda _since: (), False, walk.problem, 0, resolve_model)
        known = store.file_keys(account.id)
        # Nothing cached yet for this account (or no cache at all): every copy passes through memory
        # now, so fold them here instead of writing them and reading them all back.
        fold_here = not store.persistent or not known
        jobs: list[_Job] = []
        for source in walk.sources:
            key = known.pop(source.path, None)
            # The warm path: one string comparison per file, nothing built for an unchanged one.
            if key is not None and key == file_key(source.identity, source.session):
                continue
            previous = store.file_state(account.id, source.path) if key is not None else None
            jobs.append(_plan(provider.id, source, previous, store.persistent))
        unreadable = walk.unreadable  # complete now that the walk is consumed
        for gone in known:
            store.drop_path(account.id, gone)
        _refresh_sessions(store, provider, account.id, walk)
        calls: dict[str, Call] = {}
        sessions = store.session_infos(account.id) if fold_here else {}
        rank_of = {session: info.rank for session, info in sessions.items()}
        ancestors = ancestry({session: info.parent for session, info in sessions.items()})
        for job, result in _run(jobs, progress):
            unreadable += _apply(store, account.id, job, result)
            if fold_here and result.end_offset is not None:
                copies = _copies(result, job.source.session, rank_of.get(job.source.session, 0))
                fold(copies, calls, keep_holders=bool(ancestors))
        store.flush()
        if fold_here:
            settle(calls.values(), ancestors)
            rows = list(as_call_rows(calls))
            ledger = Ledger.of(rows)
            if not store.persistent:
                return Refreshed(ledger.summary(), lambda _since: ((r[0], r[1]) for r in rows), True, None,
                                 unreadable, resolve_model)
            store.take_dirty()  # every changed key was folded above
            store.replace_calls(account.id, call_rows(account.id, calls), None)
            store.set_summary(account.id, ledger.encode())
        else:
            ledger = _refold(store, account.id)
    summary = ledger.summary()
    return Refreshed(summary, partial(store.calls_since, account.id), True, None, unreadable, resolve_model)


def _copies(result: _Result, session: str, rank: int) -> Iterator[Copy]:
    for records in (result.records, result.tail_records):
        for key, ts, model, inp, out, cr, cw, scope, marked in records:
            yield key, ts, model, inp, out, cr, cw, scope, marked, session, rank


def _refold(store: Store, account: str) -> Ledger:
    """Re-fold the calls whose copies changed and update the ledger with them: their old versions go
    out, their new ones come in. When most calls changed, or the stored ledger cannot be read,
    everything is re-folded and counted again."""
    keys: set[str] | None = store.take_dirty()
    blob = store.summary(account)
    ledger = Ledger.decode(blob) if blob is not None else None
    if not keys:
        if ledger is None:
            ledger = Ledger.of(store.call_rows(account))
            store.set_summary(account, ledger.encode())
        return ledger  # the warm path: nothing to fold, so no ancestry either
    ancestors = ancestry({session: info.parent for session, info in store.session_infos(account).items()})
    if ledger is None or len(keys) * 4 >= store.call_count(account):
        calls = fold(store.copies(account, None), keep_holders=bool(ancestors))
        settle(calls.values(), ancestors)
        ledger = Ledger.of(as_call_rows(calls))
        store.replace_calls(account, call_rows(account, calls), None)
    else:
        ledger.add(store.calls_for_keys(account, keys), sign=-1)
        calls = fold(store.copies(account, keys), keep_holders=bool(ancestors))
        settle(calls.values(), ancestors)
        ledger.add(as_call_rows(calls))
        store.replace_calls(account, call_rows(account, calls), keys)
    store.set_summary(account, ledger.encode())
    return ledger


def _plan(provider: str, source: Source, previous: FileState | None, keep: bool) -> _Job:
    """What to read of a new or changed file: its new bytes, or all of it."""
    identity = source.identity
    size = identity[2]
    if previous is None or previous.session != source.session:
        return _Job(provider, source, 0, size, previous, keep)
    same_file = previous.identity[:2] == identity[:2]
    if not same_file or size < previous.offset:
        return _Job(provider, source, 0, size, previous, keep)
    # Grown or touched: the worker checks the consumed bytes' fingerprint before trusting the offset.
    return _Job(provider, source, previous.offset, size, previous, keep)


def _run(jobs: list[_Job], progress: Progress | None) -> Iterator[tuple[_Job, _Result]]:
    """Read every job's file, in this process or, when there is enough to read, in worker processes;
    results come back as they are ready (in no particular order: nothing downstream depends on it)."""
    total = sum(job.size - job.offset for job in jobs)
    if progress is not None:
        progress.start(len(jobs), total)
    workers = os.cpu_count() or 1
    if total < PARALLEL_MIN_BYTES or len(jobs) < 2:
        workers = 1
    target = max(BATCH_MIN_BYTES, total // (workers * BATCHES_PER_WORKER), total // MAX_BATCHES + 1)
    batches = _batches(jobs, target)
    reader = candidates.Reader()
    done_files = done_bytes = 0
    try:
        for i, results in parallel.run(len(batches), lambda i: [_read_job(job, reader) for job in batches[i]],
                                       workers):
            for job, result in zip(batches[i], results, strict=True):
                done_files += 1
                done_bytes += job.size - job.offset
                if progress is not None:
                    progress.advance(done_files, done_bytes)
                yield job, _Result(*result)
    finally:
        if progress is not None:
            progress.finish()


def _batches(jobs: list[_Job], target: int) -> list[list[_Job]]:
    """Jobs grouped into batches of about `target` bytes, biggest files first, so that the workers
    finish together and this process gets results to write while they are still reading."""
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


def _read_job(job: _Job, reader: candidates.Reader) -> tuple[object, ...]:
    """Runs in a worker process: open the file once, verify the consumed bytes, parse the new ones.
    Returns a `_Result` as a plain tuple (it crosses a pipe)."""
    provider = provider_by_id(job.provider)
    assert provider is not None  # jobs are only planned for registered providers
    try:
        fd = os.open(job.source.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return _unreadable(job)
    try:
        info = os.fstat(fd)
        size = info.st_size
        offset = job.offset
        previous = job.previous
        if offset and previous is not None and (
            offset > size or candidates.fingerprint(fd, offset) != (previous.head_hash, previous.tail_hash)
        ):
            offset = 0  # rewritten in place under the same offset: read it all again
        parser = provider.parser(job.source, previous.state if offset and previous is not None else None)
        end, tail = reader.scan(fd, offset, size, provider.needles, parser.line)
        chunk = parser.finish(end, tail)
        head_hash, tail_hash = candidates.fingerprint(fd, end) if job.fingerprint else (b"", b"")
    except OSError:
        return _unreadable(job)
    finally:
        os.close(fd)
    identity = (info.st_dev, info.st_ino, size, info.st_mtime_ns, info.st_ctime_ns)
    return (chunk.end_offset, chunk.records, chunk.skipped, chunk.zero_records, chunk.tail_records,
            chunk.tail_skipped, chunk.tail_zero_records, chunk.state, chunk.marker_seen, head_hash, tail_hash,
            offset == 0, identity)


def _unreadable(job: _Job) -> tuple[object, ...]:
    return (None, [], {}, 0, [], {}, 0, None, False, b"", b"", False, job.source.identity)


def _apply(store: Store, account: str, job: _Job, result: _Result) -> int:
    """Write one file's result; returns 1 when the file could not be read."""
    if result.end_offset is None:
        if job.previous is not None:
            store.drop_file(job.previous.id)
        return 1
    update = FileUpdate(
        account=account, path=job.source.path, session=job.source.session, identity=result.identity,
        offset=result.end_offset, head_hash=result.head_hash, tail_hash=result.tail_hash,
        records=result.records, skipped=result.skipped, zero=result.zero,
        tail_records=result.tail_records, tail_skipped=result.tail_skipped, tail_zero=result.tail_zero,
        state=result.state, marker_seen=result.marker_seen,
    )
    store.apply(update, job.previous, restart=result.restarted)
    return 0


def _refresh_sessions(store: Store, provider: FileProvider, account: str,
                      walk: Walk) -> None:
    """Re-rank only the sessions whose state files changed since the last run (their calls are
    marked for re-folding by the store)."""
    known = store.session_signatures(account)
    changed: dict[str, list[str]] = {}
    signatures: dict[str, int] = {}
    was_known: set[str] = set()
    walked_signatures = walk.signatures
    for session, holder in walk.session_dirs.items():
        signature = walked_signatures.get(session, 0)  # 0: no state file
        previous = known.pop(session, None)
        if previous is None or previous != signature:
            holders = [holder, *walk.more_session_dirs.get(session, ())]
            changed[session] = [os.path.join(h, session) for h in holders]
            signatures[session] = signature
            if previous is not None:
                was_known.add(session)
    infos = provider.session_info(changed)  # reads the state files of the changed sessions only
    store.set_sessions(account, [(session, info, signatures[session]) for session, info in infos.items()], was_known)
    store.drop_sessions(account, known.keys())
