"""The incremental loop: compare every file with what the store remembers, read only what is new.

Per file the store keeps its identity (device, inode, size, mtime, ctime), the offset just past the
last complete line consumed, and a hash of all the consumed bytes (`candidates.Prefix`). A file
whose identity is unchanged is not opened. A file whose identity changed has its consumed bytes hashed
again; if they still hash the same, it is read from its offset. Anything else (shrunk, replaced,
rewritten in place anywhere, even to the same size) is read from the start and its old rows dropped,
in the same transaction.

One reading loop, one counting rule (`fold.py`); the reading itself lives in `reading.py`, which a
warm run never imports. A full read hands every unit it reads to a sink chosen by size:
- no cache (`store` None): `MemorySink`, the calls of every process folded and merged here. Nothing
  is written to the cache. A history of very many sessions goes to a `StoreSink` over a scratch file
  instead, as a first run does; so does one whose calls prove too many to hold in memory (the memory
  sink says so, and the files are read again from the start). The scratch file is the caller's: it is
  entered on the caller's `ExitStack`, so that the ledger, stored there in parts as a first run's is,
  reads its parts (and a report its settled rows) until the caller is done with them.
- the first run of an account: a `StoreSink` over the cache, which writes the copies (encoded by the
  workers) as they come and folds the ledger in memory while the calls fit, else from the store one
  file at a time, so memory stays bounded.
- a refresh: only the new bytes are read (`reading.apply_changes`). The calls whose copies change are
  folded from the store as they were before the change and as they are after it, and the ledger
  swaps the one for the other. The comparison with what the store knows runs in every process, each
  for its own sessions.
"""

import gc
import marshal
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, NamedTuple, Protocol

from openusage import manifest
from openusage.errors import CacheError
from openusage.manifest import Observations
from openusage.providers import agentfiles
from openusage.providers.base import Account, FileProvider, ModelResolver, SessionDir, SessionList, Walk, unit_of
from openusage.providers.listing import Listings
from openusage.records import FileDiagnostics, SessionInfo, Source, file_key
from openusage.store import FileState, Store
from openusage.summary import Ledger

if TYPE_CHECKING:
    from openusage import reading
    from openusage.fold import Calls
else:
    Calls = dict  # a stand-in for `Refreshed.calls`: fold.py loads msgspec, which a warm run never needs

# Below this many bytes to read, or sessions to walk, forking a worker costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
PARALLEL_MIN_SESSIONS = 256
# Many small batches: a process that is busy writing the cache simply takes fewer of them.
BATCH_MIN_BYTES = 1024 * 1024
BATCHES_PER_WORKER = 64
MAX_BATCHES = 4096  # the queue is written whole before the workers start: it must fit in a pipe
# A refresh that changes this share of the calls or more re-folds everything instead.
REFOLD_ALL_SHARE = 0.25
# From this many sessions on, a scan without the cache folds through a scratch file (`reading.scratch_store`),
# and a first run builds its ledger from the cache instead of from the calls folded in memory.
SCRATCH_MIN_SESSIONS = 20_000
# More calls than this held in memory (~0.5 KiB each) would bring the 80 MiB bound near: a first run
# then builds its ledger from the cache instead (measured: 74 MiB when it switched at 80,000 calls),
# and a scan without the cache, which holds less beside them, starts again through a scratch file
# (twice the reading, on a history of a gigabyte and a half or more; 66 MiB at 87,000 calls).
FIRST_RUN_MAX_CALLS = 60_000
SCAN_MAX_CALLS = 100_000


class Progress(Protocol):
    def start(self, items: int, total_bytes: int, unit: str) -> None:
        """`items` files or sessions (`unit`) to read; `total_bytes` 0 when not known in advance."""
        ...

    def advance(self, files: int, done_bytes: int) -> None: ...

    def finish(self) -> None: ...


class _Job(NamedTuple):
    provider: str
    source: Source
    offset: int
    size: int
    previous: FileState | None
    fingerprint: bool  # the cache keeps it: the consumed bytes are hashed as they are read


class Refreshed(NamedTuple):
    """One account after a refresh: the ledger of its calls, and what reading its files ran into."""

    ledger: Ledger
    found: bool
    problem: str | None
    files: FileDiagnostics
    unreadable: int
    resolve_model: ModelResolver
    root: str = ""  # the sessions directory read
    elsewhere: int = 0  # calls it holds that another account of the provider owns (groups.py)
    # Without a store and when asked (`keep_calls`): the folded calls and the sessions, for `groups.py`.
    calls: Calls | None = None
    infos: dict[str, SessionInfo] | None = None
    # Without a store, a history read through a scratch file: that store, open until the caller's
    # `scratch` stack closes. The ledger reads its parts from it, and the settled rows can be read from
    # it (`settled.py`) instead of the calls, which are then not held.
    scratch: Store | None = None


def refresh(store: Store | None, provider: FileProvider, account: Account, env: Mapping[str, str],
            progress: Progress | None = None, *, keep_calls: bool = False, keep_read_calls: bool = False,
            scratch: ExitStack | None = None) -> Refreshed:
    """The ledger of `account`'s calls as the files on disk are now; with a store, also bring the
    store's rows for the account up to date (None: read everything, write nothing, and with
    `keep_calls` also return the calls, which the store would otherwise keep; with `keep_read_calls`,
    return them only if they were held in memory anyway, i.e. not read through a scratch file).

    Without a store, a very large history (or one of too many calls to hold) is read through a scratch
    file entered on `scratch`: it stays until the caller closes that stack, which must outlive every
    use of the ledger (it reads its parts from there when asked for days) and of `Refreshed.scratch`.
    Each call gets its own file, so threads never share one. Without a `scratch` stack (or with
    `keep_calls`) everything is held in memory, whatever its size."""
    with _collector_paused():
        refreshed = _refresh_account(store, provider, account, env, progress, keep_calls, scratch)
    if keep_calls or (keep_read_calls and refreshed.calls is not None):
        return refreshed
    return refreshed._replace(calls=None, infos=None)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A refresh builds tens of thousands of small lists and tuples and no reference cycles; Python's
    cyclic collector would walk all of them again and again while they are built (a fifth of a first
    run's ledger time), so it waits until the refresh is done."""
    # A process that serves from threads has imported `parallel` to say so; a warm one-shot run never
    # needs the module otherwise (the manifest answers without forking).
    parallel = sys.modules.get("openusage.parallel")
    if parallel is not None and parallel.resident():  # the collector is process-wide: other threads need it
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _refresh_account(store: Store | None, provider: FileProvider, account: Account, env: Mapping[str, str],
                     progress: Progress | None, keep_calls: bool, scratch: ExitStack | None) -> Refreshed:
    walk = provider.walk(account, env)
    with agentfiles.remembering(store):  # an unchanged config is not parsed again (no TOML parser loaded)
        resolve_model = provider.model_resolver(account, env)
    nothing = FileDiagnostics(0, {}, 0)
    if store is None:
        if not walk.found:
            return Refreshed(Ledger(), False, walk.problem, nothing, 0, resolve_model)
        from openusage import reading  # everything is read: the readers and the fold

        listing = [_session_units(provider, walk)]
        in_memory = keep_calls or scratch is None
        if in_memory or len(listing[0].top) < SCRATCH_MIN_SESSIONS:
            try:
                read = reading.read_all(reading.MemorySink(None if in_memory else SCAN_MAX_CALLS), provider,
                                        account.id, walk, progress, listing)
                return _refreshed(read, resolve_model, walk.root)
            except reading.TooManyCalls:
                pass  # read again from the start, through a scratch file (the listing is still whole)
        assert scratch is not None  # only a refresh with a scratch stack holds the calls within a bound
        try:
            with ExitStack() as opened:  # the scratch goes at once if the read fails, else with the caller's stack
                through = opened.enter_context(reading.scratch_store())
                with through.write():
                    # The ledger is stored there in parts (`reading.parted_ledger`), as a first run's.
                    # Each unit's sessions go once read (`release`), ~20 MiB at 500,000 sessions.
                    read = reading.read_all(reading.StoreSink(through, account.id, 0), provider, account.id, walk,
                                            progress, listing, release=True)
                scratch.push(opened.pop_all())
            return _refreshed(read, resolve_model, walk.root)._replace(scratch=through)
        except (OSError, CacheError):
            # The scratch file failed (a full disk): walked and listed afresh, since the units read were
            # let go and a listing counts what it could not read into its walk, then read in memory.
            walk = provider.walk(account, env)
            listing = [_session_units(provider, walk)]
        read = reading.read_all(reading.MemorySink(None), provider, account.id, walk, progress, listing)
        return _refreshed(read, resolve_model, walk.root)
    with store.write():
        if not walk.found:
            store.forget_account(account.id)
            return Refreshed(Ledger(), False, walk.problem, nothing, 0, resolve_model)
        if store.has_files(account.id):
            ledger, unreadable, stored, kept = _refresh(store, provider, account.id, walk, progress)
            # Something changed (stored is None): the ledger and the diagnostics are stored again.
            files = stored if stored is not None else store.set_summary(account.id, ledger.stored())
            if kept is not None:  # tied to the generation just stored: any later change makes it stale
                store.set_manifest(account.id, kept)
        else:
            from openusage import reading  # a first run: everything is read

            listing = [_session_units(provider, walk)]
            # A history of very many sessions builds its ledger from the store: their calls would not fit.
            max_calls = FIRST_RUN_MAX_CALLS if len(listing[0].top) < SCRATCH_MIN_SESSIONS else 0
            read = reading.read_all(reading.StoreSink(store, account.id, max_calls), provider, account.id, walk,
                                    progress, listing, release=True)
            ledger, unreadable = read.ledger, read.unreadable
            files = store.set_summary(account.id, ledger.stored(), read.files)
    return Refreshed(ledger, True, None, files, unreadable, resolve_model, walk.root)


def _refreshed(read: "reading.FullRead", resolve_model: ModelResolver, root: str) -> Refreshed:
    return Refreshed(read.ledger, True, None, read.files, read.unreadable, resolve_model, root, calls=read.calls,
                     infos=read.infos)


class _Units(NamedTuple):
    top: SessionList  # the sessions, split into units by a hash of the name (`SessionList.unit`)
    order: list[int]  # the units that hold something, in order: work unit i is `top.unit(order[i])`
    loose: dict[int, list[Source]]  # per unit: the files above the session level whose session it has

    def work(self, i: int) -> tuple[list[SessionDir], list[Source]]:
        """The sessions and the loose files of work unit i."""
        index = self.order[i]
        return self.top.unit(index), self.loose.get(index, [])

    def release(self, i: int) -> None:
        """Work unit i is read: its sessions are not needed again (`SessionList.release`)."""
        self.top.release(self.order[i])

    def sizes(self) -> list[int]:
        """How many sessions each work unit holds (for progress)."""
        return [self.top.counts[index] for index in self.order]


def _session_units(provider: FileProvider, walk: Walk) -> _Units:
    """The sessions of the walk in work units (`SessionList`: by a hash of the name, so the holders of a
    name found in two holders, which are one session, are in the same unit), and with them any file
    found by the listing itself: in the unit its session's name goes to."""
    top = provider.list_sessions(walk)
    loose: dict[int, list[Source]] = {}
    for source in walk.top_sources:
        loose.setdefault(unit_of(source.session, top.unit_count), []).append(source)
    order = [index for index in range(top.unit_count) if top.counts[index] or index in loose]
    return _Units(top, order, loose)


# -- only what changed --------------------------------------------------------------------------------

def _refresh(store: Store, provider: FileProvider, account: str, walk: Walk,
             progress: Progress | None) -> tuple[Ledger, int, FileDiagnostics | None, bytes | None]:
    """Read what changed and re-fold the calls it touches; returns the ledger, the unreadable count,
    when nothing changed the stored diagnostics of the files (None: they must be stored again), and a
    manifest to keep (`openusage.manifest`; None: keep the one there is, or none)."""
    stored = store.summary(account)
    ledger = Ledger.from_stored(stored[0], store.ledger_parts(account)) if stored is not None else None
    compared = None
    kept = store.manifest(account) if ledger is not None else None
    if kept is not None:
        differing = manifest.changed(kept, walk.dirs)
        if differing == [] and ledger is not None and stored is not None and stored[1] is not None:
            # The warmest path: every path the last comparison stat'ed says the same (no unreadable one
            # among them: a manifest is kept only without), so it would find nothing again.
            return ledger, walk.unreadable, stored[1], None
        if differing:
            compared = _compare_changed(store, provider, account, walk, kept, differing)
    if compared is None:
        compared = _compare(store, provider, account, walk)
    jobs = [_plan(provider.id, source, store.file_state(account, source.path) if known else None)
            for source, known in compared.files]
    gone = [state for file_id in sorted(compared.gone) if (state := store.file_state_by_id(file_id)) is not None]
    changed_sessions, dropped_sessions = compared.sessions, sorted(compared.dropped)
    keep = compared.manifest if walk.unreadable == 0 else None
    if not jobs and not gone and not changed_sessions and not dropped_sessions and ledger is not None \
            and stored is not None and stored[1] is not None:
        return ledger, walk.unreadable, stored[1], keep  # the warm path: nothing to read, nothing to fold

    from openusage import reading  # only when something changed: it loads the readers and the fold

    ledger, unreadable, files = reading.apply_changes(store, provider, account, walk, progress, jobs, gone,
                                                      changed_sessions, dropped_sessions, ledger)
    # The store now holds what the walk saw (every changed file read, unless one could not be).
    return ledger, unreadable, files, keep if unreadable == 0 else None


class _Compared(NamedTuple):
    """What the warm comparison found: only the differences, however large the history."""

    files: list[tuple[Source, bool]]  # new or changed files; True when the store knows the path
    gone: set[int]  # ids of known files that are not there any more
    sessions: dict[str, tuple[str, SessionInfo, int]]  # sessions whose state is new or changed, read again
    dropped: set[str]  # known sessions that hold no file any more
    manifest: bytes | None = None  # what the walk stat'ed, to keep once the store holds what it saw


def _compare(store: Store, provider: FileProvider, account: str, walk: Walk) -> _Compared:
    """The walk, compared with what the store knows, file by file and session by session. Split by
    session over the processes when there are many sessions (the walk is one syscall after another:
    half each); each process asks the store about its own sessions only, so none holds the whole
    history, and only differences come back. The sessions whose remembered directory listings
    changed are written here, unit by unit (this runs inside the refresh's write transaction)."""
    stored_files, stored_sessions = store.counts(account)
    # A manifest only for a history of a size it is made for (`manifest.MAX_SESSIONS`), as stored and as
    # listed now: nothing is observed otherwise, so a very large history's comparison holds no more than
    # it did before manifests.
    observed = walk.observed = Observations(top=True) if stored_sessions <= manifest.MAX_SESSIONS else None
    try:
        units = _session_units(provider, walk)
    finally:
        walk.observed = None
    top = units.top
    if len(top) > manifest.MAX_SESSIONS:
        observed = None
    remembered = store.has_listings(account)
    observe = observed is not None

    def work(i: int) -> _UnitDiff:
        return _compare_unit(store, provider, account, top, *units.work(i), remembered, observe=observe)

    from openusage import parallel

    workers = (os.cpu_count() or 1) if len(top) >= PARALLEL_MIN_SESSIONS else 1
    result = _Compared([], set(), {}, set())
    fetched_files = fetched_sessions = 0
    for _i, diff in parallel.run(len(units.order), work, workers, parallel.Codec(_encode_diff, _decode_diff)):
        result.files.extend(diff.changed)
        result.gone.update(diff.gone)
        result.sessions.update((name, (name, info, signature)) for name, (info, signature) in diff.sessions.items())
        result.dropped.update(diff.dropped)
        if diff.listings:  # written as they come (nothing else holds them): the next run lists fewer
            store.set_listings(account, diff.listings)
        walk.unreadable += diff.unreadable
        fetched_files += diff.files
        fetched_sessions += diff.known_sessions
        if diff.observed is not None and observed is not None:
            observed.extend(diff.observed)
    if observed is not None:
        result = result._replace(manifest=manifest.encode(walk.dirs, observed))
    if fetched_files != stored_files or fetched_sessions != stored_sessions:
        # Known sessions that no unit asked about: they are gone.
        listed = {session.name for session in top} | {source.session for source in walk.top_sources}
        result.gone.update(store.files_outside(account, listed))
        result.dropped.update(store.sessions_outside(account, listed))
    return result


class _UnitDiff(NamedTuple):
    """One unit of the warm comparison: only what differs from the store, and how many files and
    sessions the store was asked about."""

    changed: list[tuple[Source, bool]]  # new or changed files; True when the store knows the path
    gone: list[int]  # ids of known files not seen
    sessions: dict[str, tuple[SessionInfo, int]]  # sessions whose state changed: info and signature
    dropped: list[str]  # known sessions not seen
    unreadable: int
    files: int
    known_sessions: int
    listings: dict[str, bytes | None]  # sessions whose remembered listings change (listing.py)
    observed: manifest.Parts | None = None  # what the unit's walk stat'ed, when asked (`observe`)


def _encode_diff(diff: _UnitDiff) -> bytes:
    """A unit's differences across a worker's pipe, through marshal (which takes only plain tuples): a
    warm run has no other use for msgspec, whose import costs more than the whole comparison's
    transport (~15-20 ms against well under 1 ms for the few differences a warm unit has)."""
    return marshal.dumps((
        [(tuple(source), known) for source, known in diff.changed], diff.gone,
        {name: (tuple(info), signature) for name, (info, signature) in diff.sessions.items()},
        diff.dropped, diff.unreadable, diff.files, diff.known_sessions, diff.listings, diff.observed))


def _decode_diff(body: bytes) -> _UnitDiff:
    changed, gone, sessions, dropped, unreadable, files, known_sessions, listings, observed = marshal.loads(body)
    return _UnitDiff([(Source(*source), known) for source, known in changed], gone,
                     {name: (SessionInfo(*info), signature) for name, (info, signature) in sessions.items()},
                     dropped, unreadable, files, known_sessions, listings, observed)


def _compare_unit(store: Store, provider: FileProvider, account: str, top: SessionList, sessions: list[SessionDir],
                  loose: list[Source], remembered: bool, *, observe: bool = False) -> _UnitDiff:
    """One unit of the warm comparison, in any process: walk its sessions, and return only what differs
    from the store: changed files, gone file ids, sessions whose state changed (read again), known
    sessions not seen, the counts asked, and the sessions whose remembered directory listings change
    (`remembered`: the store holds some of the account's); with `observe`, what the walk stat'ed."""
    local = Walk()
    observed = local.observed = Observations() if observe else None  # the clock read before any stat
    known = store.reader()
    names = {session.name for session in sessions}
    names.update(source.session for source in loose)
    asked = sorted(names)
    if remembered:
        signatures, stored_listings = known.signatures_and_listings(account, asked)
    else:
        signatures, stored_listings = known.signatures(account, asked), {}
    local.listings = Listings(stored_listings)
    local.listings.observed = observed
    sources = [source for session in sessions for source in provider.walk_session(local, session, top)]
    sources.extend(loose)
    files = known.files(account, asked)
    fetched = len(files)
    changed: list[tuple[Source, bool]] = []
    for source in sources:
        entry = files.pop(source.path, None)
        # The warm path: one string comparison per file, nothing built for an unchanged one.
        if entry is None or entry[0] != file_key(source.identity, source.session):
            changed.append((source, entry is not None))
    gone = [file_id for _key, file_id in files.values()]
    known_sessions = len(signatures)
    new_signatures: dict[str, int] = {}
    for session in local.session_dirs:
        signature = local.signatures.get(session, 0)  # 0: no state
        if signatures.pop(session, None) != signature:
            new_signatures[session] = signature
    infos = provider.session_info(_holders(local, new_signatures))
    states = {name: (info, new_signatures[name]) for name, info in infos.items()}
    listings = local.listings.changes(local.session_dirs.keys())
    return _UnitDiff(changed, gone, states, list(signatures), local.unreadable, fetched, known_sessions, listings,
                     None if observed is None else observed.parts())


def _compare_changed(store: Store, provider: FileProvider, account: str, walk: Walk, kept: manifest.Manifest,
                     differing: list[int]) -> _Compared | None:
    """The comparison when the manifest says only files to read changed (appended to, say): every
    directory and state file stats as it did, so every other session is as the store knows it, and
    only the sessions of those files are walked and compared (`_compare_unit`, all their holders).
    None when anything else changed: then the whole comparison runs."""
    if any(kept.kinds[index] != manifest.SOURCE for index in differing):
        return None
    owners = kept.owners()
    if owners is None:
        return None
    wanted = {owner[0] for index in differing if (owner := owners[index]) is not None}
    held = {owner for owner in owners if owner is not None and owner[0] in wanted}
    # A plain session list: a walk with a manifest met no symlink, so nothing above the sessions can be
    # reached again from inside them.
    diff = _compare_unit(store, provider, account, SessionList(1), sorted(SessionDir(*one) for one in held), [],
                         store.has_listings(account), observe=True)
    if diff.listings:
        store.set_listings(account, diff.listings)
    walk.unreadable += diff.unreadable
    seen = Observations()
    if diff.observed is not None:
        seen.extend(diff.observed)
    usable = diff.unreadable == 0
    return _Compared(diff.changed, set(diff.gone),
                     {name: (name, info, signature) for name, (info, signature) in diff.sessions.items()},
                     set(diff.dropped), kept.with_stats(seen) if usable else None)



def _holders(walk: Walk, sessions: Iterable[str]) -> dict[str, list[str]]:
    """session -> the holders it was found in (usually one), for the provider's `session_info`."""
    return {session: walk.holders(session) for session in sessions}


def _plan(provider: str, source: Source, previous: FileState | None) -> _Job:
    """What to read of a new or changed file: its new bytes, or all of it."""
    identity = source.identity
    size = identity[2]
    if previous is None or previous.session != source.session:
        return _Job(provider, source, 0, size, previous, True)
    same_file = previous.identity[:2] == identity[:2]
    if not same_file or size < previous.offset:
        return _Job(provider, source, 0, size, previous, True)
    # Grown or touched: the worker hashes the consumed bytes again before trusting the offset.
    return _Job(provider, source, previous.offset, size, previous, True)


