"""SQLite: the cache of what every file held, and every query a refresh needs. The only SQL.

One row per file (`files`: its identity, the offset consumed, a fingerprint of the consumed bytes, the
reader's resume state, its skip counts, and every usage record copy it holds, with its call key,
time, model, counts, scope and fork marker); per session (`sessions`: rank, parent, state-file
signature); per account the ledger of its folded calls (`summaries`, with a generation that changes
whenever anything of the account does); and per group of accounts that count shared calls once
(`groups.py`) their ledgers, with the generations they were computed from; and per such group (or
single account) the rows of its settled calls, likewise (`settled.py`); and per session its title and
project (`facts.py`). `holders` says which files
hold a copy of a call key (sorted integer arrays, sharded by key), so a refresh finds every copy of
the calls it changes without reading any other file's copies. Every figure follows from the copies
by the rules of the format documents (`fold.py`); the ledger is that result kept, and a refresh
re-folds only the calls whose copies it changed. Apart from all that, `remote` keeps the last good
answer of each remote account (a balance, a plan quota), shown with its age when a fetch fails.

Why a file's copies are one value and not one row each: SQLite costs about 1.5 us per inserted row
with its indexes, so the ~57,000 copies of a 1 GB history took 0.15-0.19 s to write, close to the
whole first-run budget (bench/). As one marshalled value per file, encoded by the worker that read
the file, they cost ~12 ms; the `holders` index is 1024 arrays of integers.

Nothing stored is trusted: every value is checked where it is read (`stored.py`: sealed blobs, names,
types), and `repair` drops what is damaged so that it is read or computed again; a damaged ledger or
group result is simply computed again. A file SQLite says is damaged is moved aside (`rebuild`); any
other failure is a `CacheError` saying why, and the caller reads without the cache (`cachefile.py`).
"""

import marshal
import os
import sqlite3
import time
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from itertools import pairwise
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from openusage import newcache
from openusage.cachefile import (
    OPEN_TRIES,
    CacheDamaged,
    inode,
    is_damaged,
    private_dirs,
    private_file,
    unusable,
)
from openusage.errors import CacheError
from openusage.files import reason
from openusage.newcache import NewCache
from openusage.records import FileDiagnostics, SessionInfo, add_counts, file_key
from openusage.stored import (
    COPIES,
    PLAIN_CHECK,
    PLAIN_SESSION,
    DamagedValue,
    copies_of,
    counts_of,
    damaged,
    diagnostics_of,
    holder_entries,
    lenient_text,
    lineage_blob,
    name_of,
    seal,
    seal_bound,
    seal_entries,
    sealed,
    session_check,
    session_of,
    to_db,
    unseal,
)

if TYPE_CHECKING:
    from openusage.calls import FileRead, UsageRecord
    from openusage.fold import Copy
    from openusage.manifest import Manifest
    from openusage.summary import LedgerParts, StoredLedger

SCHEMA_VERSION = 37  # 20: the prices table (docs/pricing.md); 21: copies as msgpack records with reasoning;
# 22: the listings table (providers/listing.py); 23: the files' diagnostics counted from an index;
# 24: a ledger's per-session parts in rows; 25: the manifests table (manifest.py), the model_keys table
# (providers/agentfiles.py); 26: the files' fingerprints chained over 64 KiB chunks (candidates.py)
# 27: the identity of a record keyed by its raw time keeps NaN, Infinity and null apart, and the model
# as written (providers/lines.raw_json): a copy stored under an older key would fold differently
# 28: a file's skipped lines count the broken ones that hold no needle (hot.judge)
# 29: a session's further ancestors (`SessionInfo.lineage`, the sessions table's lineage column)
# 30: the links a session's state names, its upstream provider and those it names for other threads
# (`SessionInfo.links`, `.upstream`, `.told`), kept with its lineage
# 31: a call identified within a lineage takes its owner's model (fold.settle): stored ledgers differ
# 32: a Codex rollout's state keeps its last call's key and time (a re-emit's time: rollout._reemit)
# 33: a Codex figure of reasoning alone is a call, no longer an all-zero record
# 34: a file's skipped lines count the lines that hold no needle and are not UTF-8 (hot.judge)
# 35: a Codex rollout named after another id is its first session_meta's thread (`SessionInfo.thread`)
# 36: a Codex rollout's head passes over lines of kinds Codex may add (its sessions' lineage differs)
# 37: a Kimi CLI or Codex file's skipped lines count a line of JSON that is no object (lines.broken_record);
# a Kimi Code time nested too deep for `repr` is its text, not "<nested>" (lines.nested_text)

# A new cache file's page size. SQLite writes a WAL frame (a header, then the page) in two system calls
# and copies it back at the checkpoint a page at a time: at 4 KiB the ~10 MB a 1 GB first run writes
# were ~2,400 frames, and its commit and checkpoint ~20 ms of CPU; at 16 KiB ~600 frames, ~8 ms
# (docs/speed.md, "A first run's writes"). A file made with another size keeps it (WAL mode cannot
# change it): it is as valid, only slower to build.
PAGE_SIZE = 16384
FLUSH_EVERY = 512  # pending file rows written at once (each holds its copies)
# Pending holders entries written at once: a first run of 500,000 calls would otherwise hold a set of
# them all (~60 bytes each, 33 MiB) until its end. Each write merges into every shard touched, so
# the writes stay few: none before this many (a gigabyte of history has ~50,000 calls).
HOLDERS_FLUSH_AT = 100_000
FILE_ID_BITS = 31  # a holders entry: (crc32(call key) << 31) | file id
_FILE_ID_MASK = (1 << FILE_ID_BITS) - 1
# holders is kept in 1024 shards (by the top 10 bits of the crc), each a sorted array of entries: a
# first run writes 1024 small values instead of one row per copy, and a refresh rewrites only the
# shards of the calls it changes.
_SHARD_SHIFT = FILE_ID_BITS + 22
_SHARDS = 1 << 10
_CRC_SHARD_SHIFT = _SHARD_SHIFT - FILE_ID_BITS  # a crc's shard

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL, path TEXT NOT NULL, session TEXT NOT NULL, key TEXT NOT NULL,
    dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    offset INTEGER NOT NULL, head_hash BLOB, tail_hash BLOB, state BLOB,
    skipped TEXT NOT NULL, zero INTEGER NOT NULL,
    tail_skipped TEXT NOT NULL, tail_zero INTEGER NOT NULL,
    records BLOB NOT NULL, tail_records BLOB NOT NULL,
    UNIQUE(account, path));
CREATE INDEX IF NOT EXISTS files_by_session ON files(account, session);
CREATE INDEX IF NOT EXISTS files_diagnostics ON files(account, zero, tail_zero, skipped, tail_skipped);
CREATE TABLE IF NOT EXISTS holders(shard INTEGER PRIMARY KEY, entries BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
    account TEXT NOT NULL, session TEXT NOT NULL, rank INTEGER NOT NULL, parent TEXT, joins TEXT, lineage BLOB,
    signature INTEGER NOT NULL, checksum INTEGER NOT NULL, PRIMARY KEY(account, session)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summaries(
    account TEXT PRIMARY KEY, body BLOB NOT NULL, files BLOB NOT NULL, generation INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups(provider TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settled(name TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facts(
    account TEXT NOT NULL, session TEXT NOT NULL, signature INTEGER, labels TEXT NOT NULL, title TEXT,
    project TEXT NOT NULL, PRIMARY KEY(account, session)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS remote(account TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS prices(key TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listings(
    account TEXT NOT NULL, session TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY(account, session)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_sessions(
    account TEXT NOT NULL, shard INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY(account, shard)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests(
    account TEXT PRIMARY KEY, generation INTEGER NOT NULL, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_keys(
    path TEXT PRIMARY KEY, signature TEXT NOT NULL, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_days(
    account TEXT NOT NULL, day INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY(account, day)) WITHOUT ROWID;
"""


def _text_of(value: str | bytes) -> str:
    """A name or text as `to_db` stored it (bytes that are not even that, from damage, still decode)."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return value.decode("utf-8", "surrogateescape")


class KeptFacts(NamedTuple):
    """A session's facts as the cache keeps them (facts.py)."""

    signature: int | None  # its state file's, when they were derived
    labels: str  # the provider's labels signature then
    title: str | None  # None: not derived yet
    project: str


class FileState(NamedTuple):
    id: int
    path: str
    session: str
    identity: tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns
    offset: int
    head_hash: bytes | None
    tail_hash: bytes | None
    state: bytes | None  # the reader's resume state at `offset`


def key_crcs(records: "list[UsageRecord]", tail: "list[UsageRecord]") -> bytes:
    """`key_crc` of every call key these copies hold, each crc once (two keys may share one), sorted, as
    the bytes of an `array('I')` (`crc_array`): a file's holders entries are then unique without a set
    (`Store.add_encoded`), and a worker sends them as one value, not an integer each. Compiled where
    `openusage._hot` may be used (`hot.crcs_kernel`: ~25 → ~5 ms for a 1 GB history's 58,000 copies,
    in the workers of a first run), else `key_crcs_reference`."""
    if not _KEY_CRCS:
        from openusage.hot import crcs_kernel  # a read loaded it: only what reads files asks

        _KEY_CRCS.append(crcs_kernel() or key_crcs_reference)
    return _KEY_CRCS[0](records, tail)


def key_crcs_reference(records: "list[UsageRecord]", tail: "list[UsageRecord]") -> bytes:
    """`key_crcs` in Python: the reference of its compiled twin, and what runs without it."""
    crcs = set(map(key_crc, map(_KEY_OF, records)))
    if tail:
        crcs.update(map(key_crc, map(_KEY_OF, tail)))
    return array(_CRC_TYPE, sorted(crcs)).tobytes()


def crc_array(crcs: bytes) -> "array[int]":
    """What `key_crcs` gives, as the array of crcs it holds."""
    held = array(_CRC_TYPE)
    held.frombytes(crcs)
    return held


_KEY_CRCS: "list[Callable[[list[UsageRecord], list[UsageRecord]], bytes]]" = []  # the one chosen, once
_KEY_OF = attrgetter("key")
_CRC_TYPE = "I"  # 4 bytes on every platform CPython builds for (ILP32, LP64, LLP64): a crc32 each


def key_crc(key: str) -> int:
    """A call key's index value: stable across processes and versions (zlib), unlike `hash`."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass"))


_IN_CHUNK = 500  # names per `IN (...)`: far below SQLite's limit on bound variables


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start:start + _IN_CHUNK]


def _marks(chunk: list[str]) -> str:
    return ", ".join("?" * len(chunk))


class Known:
    """What the store knows of some sessions, asked by the process that walks them: a history of
    100,000 files is then never held whole by any process."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def files(self, account: str, sessions: list[str]) -> dict[str, tuple[str, int]]:
        """path → (`records.file_key`, file id) of the files of these sessions, as last read."""
        result: dict[str, tuple[str, int]] = {}
        for chunk in _chunks(sessions):
            # A name that is not UTF-8 comes back as bytes (`to_db`); the test inline, not a call per row.
            result.update((path if type(path) is str else name_of(path, "a file"),
                           (key if type(key) is str else name_of(key, "a file"), file_id))
                          for path, key, file_id in self.conn.execute(
                f"SELECT path, key, id FROM files WHERE account = ? AND session IN ({_marks(chunk)})",
                (to_db(account), *map(to_db, chunk))))
        return result

    def signatures(self, account: str, sessions: list[str]) -> dict[str, int]:
        """session → the signature of its state files, for the known ones of these sessions."""
        result: dict[str, int] = {}
        for chunk in _chunks(sessions):
            result.update((session if type(session) is str else name_of(session, "a session"), signature)
                          for session, signature in self.conn.execute(
                f"SELECT session, signature FROM sessions WHERE account = ? AND session IN ({_marks(chunk)})",
                (to_db(account), *map(to_db, chunk))))
        return result


    def signatures_and_listings(self, account: str,
                                sessions: list[str]) -> tuple[dict[str, int], dict[str, bytes]]:
        """`signatures`, and in the same query the body of each known session's remembered directory
        listings (`providers/listing.py`) whose seal holds (a damaged one is as good as none: its
        directories are listed again)."""
        signatures: dict[str, int] = {}
        listings: dict[str, bytes] = {}
        for chunk in _chunks(sessions):
            for session, signature, blob in self.conn.execute(
                    "SELECT s.session, s.signature, l.body FROM sessions AS s LEFT JOIN listings AS l"
                    " ON l.account = s.account AND l.session = s.session"
                    f" WHERE s.account = ? AND s.session IN ({_marks(chunk)})",
                    (to_db(account), *map(to_db, chunk))):
                name = session if type(session) is str else name_of(session, "a session")
                signatures[name] = signature
                if blob is not None and (body := unseal(blob)) is not None:
                    listings[name] = body
        return signatures, listings


class Store:
    """One SQLite connection and every statement openusage runs."""

    def __init__(self, path: Path | str, notice: Callable[[str], None] | None = None) -> None:
        self.path = str(path)
        self._notice = notice or (lambda _message: None)
        # File rows waiting for flush(): those without a reader's resume state (most) apart, so that
        # no row binds a None (`_flush_files` says why).
        self._new_files: list[tuple[object, ...]] = []
        self._new_stated: list[tuple[object, ...]] = []
        # holders entries to add and to remove at flush(); an entry is in at most one of them: the last
        # word about it wins.
        self._new_holders: set[int] = set()
        self._dead_holders: set[int] = set()
        # The files new to the store and the crcs of their keys, while nothing is to be removed (a first
        # run): kept as they come, made entries, sharded and sorted at flush() by `hot.shard_entries`
        # (compiled), with no set and no Python sort of them all. The crcs as an array of 4 bytes each: a
        # list holds an int object for each (~40 bytes: 4 MiB at the `HOLDERS_FLUSH_AT` bound).
        self._fresh: list[tuple[int, array[int]]] | None = None
        self._fresh_count = 0
        self._next_id: int | None = None
        self._pid = os.getpid()
        self._child_reader: tuple[int, Known] | None = None
        self._opened: int | None = None  # the inode of the cache file opened
        # A cache that did not exist is made aside, put in place by `put_in_place` or `close` (`newcache.py`).
        self._making: NewCache | None = None
        self.conn = self._open()

    @property
    def _file(self) -> str:
        """The file the connection is on: the cache's, or the one a new cache is made in."""
        return self._making.aside if self._making is not None else self.path

    # -- opening, migrations, corruption -------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """The connection; a cache SQLite says is damaged is moved aside and a new one made. Any other
        failure (no permission, a full disk, a lock held too long) is a `CacheError`: read without it.
        A cache that could not be made lets go of its lock and leaves nothing behind."""
        try:
            return self._open_file()
        except BaseException:
            self._abandon()
            raise

    def _open_file(self) -> sqlite3.Connection:
        try:
            private_dirs(Path(self.path).parent)
            self._making = newcache.begin(self.path)
            return self._connect()
        except sqlite3.Error as exc:
            if not is_damaged(exc):
                raise unusable(self.path, exc) from exc
            self._move_aside(exc)
            try:
                return self._connect()
            except sqlite3.Error as again:
                raise unusable(self.path, again) from again
        except OSError as exc:
            raise unusable(self.path, exc) from exc

    def rebuild(self, damage: CacheError) -> None:
        """The cache file is damaged (SQLite said so, or it still held damaged values after `repair`):
        move it aside and start a new one."""
        self._rollback()
        if self._making is not None:  # a cache being made: that file goes, and it is made again
            self.conn.close()
            self._drop_aside()
            try:
                self.conn = self._connect()
            except (sqlite3.Error, OSError) as exc:
                self._abandon()  # nothing to put in place when the caller closes the store
                raise unusable(self.path, exc) from exc
            return
        self.close()
        try:
            self._move_aside(damage)
            self.conn = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise unusable(self.path, exc) from exc

    def _move_aside(self, damage: BaseException) -> None:
        """Keep the damaged file (and its -wal, -shm) for a post-mortem, under a name of its own; unless
        another process has moved it already (the file at the path is not the one opened). A cache being
        made is not kept: nothing in it was ever used."""
        if self._making is not None:
            self._drop_aside()
            return
        if self._opened is not None and inode(self.path) != self._opened:
            return
        aside = f"{self.path}.corrupt-{int(time.time())}"
        try:
            for suffix in ("", "-wal", "-shm"):
                with suppress(FileNotFoundError):
                    os.replace(self.path + suffix, aside + suffix)
        except OSError as exc:
            raise CacheError(f"the cache {self.path} is damaged ({damage}) and cannot be moved aside: "
                             f"{exc.strerror}") from exc
        self._notice(f"openusage: the cache {self.path} was damaged ({damage}); moved it to {aside}, "
                     "rebuilding it")

    def _connect(self) -> sqlite3.Connection:
        """Open and prepare the cache. Several processes opening a new cache at once race to make it a
        WAL database: SQLite answers "database is locked" at once to one that has begun reading (no
        busy wait: it could deadlock), so that one tries again, for up to ~10 s."""
        file = self._file
        private_file(file)
        for attempt in range(OPEN_TRIES):
            began = time.monotonic()
            conn = sqlite3.connect(file, isolation_level=None, timeout=60.0)
            try:
                self._opened = inode(file)
                return self._prepare(conn)
            except sqlite3.OperationalError as exc:
                conn.close()
                busy = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_BUSY
                # Only the answer given at once is the race; one given after the busy wait (60 s) is a
                # lock held that long, which trying again would only wait for again.
                if not busy or attempt == OPEN_TRIES - 1 or time.monotonic() - began > 1.0:
                    raise
            except BaseException:
                conn.close()
                raise
            time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _prepare(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file's (`PAGE_SIZE`); an existing one keeps its own
        # No fsync: this is a cache. A killed process still leaves it consistent (WAL commits are
        # atomic without it); only a power loss could damage it, and a damaged cache is moved aside and
        # rebuilt. Two fsyncs per refresh cost more than the rest of a warm refresh's writes. Set before
        # the switch to WAL: after it, making a new cache's file a WAL one took four `fdatasync`s (a first
        # run's, before it reads any file: 1 ms on this machine's disk, more on a slower one).
        conn.execute("PRAGMA synchronous=OFF")
        # A cache being made is one process's alone, and in place only once whole: its journal in
        # memory, so that no page is written twice (`newcache.py`). Made WAL just before it is put in place.
        conn.execute("PRAGMA journal_mode=MEMORY" if self._making is not None else "PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        version = _schema_version(conn)
        if version != SCHEMA_VERSION:
            if version is not None:
                self._notice(f"openusage: cache schema {version} is not {SCHEMA_VERSION}; rebuilding it")
            _reset(conn)
        return conn

    def close(self) -> None:
        """Close the connection; a cache being made is made a WAL database, as every cache is, and put in
        place (closing again does nothing)."""
        making = self._making
        if making is None:
            self.conn.close()
            return
        try:
            self._rollback()  # what a failed refresh left uncommitted is not part of it
            # Now, while no other process can have it open: a reader holding the file once it is in
            # place would keep the first process that opens it from making it WAL.
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.close()
            self._making = None
            making.publish()
        except (sqlite3.Error, OSError) as exc:
            self.conn.close()
            self._abandon()
            why = reason(exc) if isinstance(exc, OSError) else str(exc)
            self._notice(f"openusage: the new cache {self.path} could not be put in place ({why}); "
                         "the next run reads every file again")

    def put_in_place(self) -> None:
        """A cache being made, put in place now (its refresh done: nothing is uncommitted), so that the
        processes waiting for it go on while this command does the rest (a remote tile's wait, say),
        on the cache in place. Where it cannot be put there yet (another cache is there by now, the
        file system refuses), this command goes on with the file aside and `close` decides. Nothing
        for a cache that exists. Raises `CacheError` when no file can be opened again."""
        making = self._making
        if making is None or self.conn.in_transaction:
            return
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")  # as `close` does, before anyone can open it
        except sqlite3.Error:
            return  # left to `close`, which says why if it fails again
        self.conn.close()
        try:
            if making.place():
                self._making = None
        except OSError:
            pass  # still aside: `close` tries again, and says why if it fails
        try:
            self.conn = self._connect()  # the cache in place, or still the file aside
        except (sqlite3.Error, OSError) as exc:
            self._abandon()
            raise unusable(self.path, exc) from exc

    def _drop_aside(self) -> None:
        """The file a cache is being made in, removed (it is made again)."""
        assert self._making is not None
        with suppress(FileNotFoundError):
            os.unlink(self._making.aside)

    def _abandon(self) -> None:
        """A cache being made that cannot be: its file removed, its lock let go (no other process waits
        for it any longer)."""
        if self._making is not None:
            self._drop_aside()
            self._making.release()
            self._making = None

    @contextmanager
    def write(self) -> Iterator[None]:
        """One refresh = one write transaction, taken before reading file states so that two
        processes never scan the same bytes against stale states: the second waits, then finds
        nothing to do."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self._next_id = None  # ids are handed out under the write lock, from what is committed
            try:
                yield
                self.flush()  # rows still buffered belong to this transaction
            except BaseException:
                self._rollback()
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._failure(exc) from exc
        except UnicodeEncodeError as exc:  # a path that is not UTF-8 cannot be stored
            raise CacheError(f"the cache {self.path} cannot be updated: {exc}") from exc

    def _rollback(self) -> None:
        """Forget this transaction, and what it had not written yet (the store may be used again)."""
        self._new_files, self._new_stated, self._new_holders, self._dead_holders = [], [], set(), set()
        self._fresh, self._fresh_count = None, 0
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):  # SQLite may have rolled it back itself (a full disk)
                self.conn.execute("ROLLBACK")

    def _failure(self, exc: sqlite3.Error) -> CacheError:
        """What an SQLite error means for the cache, without quoting what it may quote of a value."""
        if "Could not decode to UTF-8" in str(exc):  # a text value that is not text: a damaged value
            return DamagedValue("a text value that is not UTF-8")
        if is_damaged(exc):
            return CacheDamaged(str(exc))
        return unusable(self.path, exc)

    # -- what is known, for the warm comparison ------------------------------------------------------
    def reader(self) -> Known:
        """The queries of the warm comparison, for this process: a forked worker must not use the
        connection it inherited, so it opens its own (reading what was committed, which is what this
        process sees: nothing is written before the comparison ends)."""
        if os.getpid() == self._pid:
            return Known(self.conn)
        if self._child_reader is None or self._child_reader[0] != os.getpid():
            try:
                conn = sqlite3.connect(self._file, isolation_level=None, timeout=60.0)
                conn.execute("PRAGMA query_only=1")
            except sqlite3.Error as exc:
                raise unusable(self.path, exc) from exc
            self._child_reader = (os.getpid(), Known(conn))
        return self._child_reader[1]

    def has_files(self, account: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM files WHERE account = ? LIMIT 1", (to_db(account),)).fetchone()
        return row is not None

    def has_listings(self, account: str) -> bool:
        """Whether any directory listing of the account is remembered (`providers/listing.py`): a
        provider whose walk remembers none (Codex) then asks nothing more of them."""
        row = self.conn.execute("SELECT 1 FROM listings WHERE account = ? LIMIT 1", (to_db(account),)).fetchone()
        return row is not None

    def counts(self, account: str) -> tuple[int, int]:
        """How many files and sessions the account has."""
        files = self.conn.execute("SELECT COUNT(*) FROM files WHERE account = ?", (to_db(account),)).fetchone()[0]
        return int(files), self.session_count(account)

    def session_count(self, account: str) -> int:
        """How many sessions the account has (with calls or not)."""
        row = self.conn.execute("SELECT COUNT(*) FROM sessions WHERE account = ?", (to_db(account),)).fetchone()
        return int(row[0])

    def files_outside(self, account: str, sessions: AbstractSet[str]) -> list[int]:
        """The ids of the account's files whose session is not one of `sessions`."""
        return [file_id for file_id, session in
                self.conn.execute("SELECT id, session FROM files WHERE account = ?", (to_db(account),))
                if name_of(session, file_id) not in sessions]

    def sessions_outside(self, account: str, sessions: AbstractSet[str]) -> list[str]:
        names = (name_of(session, "a session") for session, in
                 self.conn.execute("SELECT session FROM sessions WHERE account = ?", (to_db(account),)))
        return [session for session in names if session not in sessions]

    # -- file states ----------------------------------------------------------------------------------

    def file_state(self, account: str, path: str) -> FileState | None:
        return self._file_state("account = ? AND path = ?", (to_db(account), to_db(path)))

    def file_state_by_id(self, file_id: int) -> FileState | None:
        return self._file_state("id = ?", (file_id,))

    def _file_state(self, where: str, args: tuple[object, ...]) -> FileState | None:
        row = self.conn.execute(
            "SELECT id, path, session, dev, ino, size, mtime_ns, ctime_ns, offset, head_hash, tail_hash, state"
            f" FROM files WHERE {where}", args,
        ).fetchone()
        return None if row is None else _file_state_of(row)

    def drop_file(self, file_id: int) -> None:
        records, tail = self._records_of(file_id)
        self._unhold(file_id, {record.key for record in (*records, *tail)})
        self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def add_encoded(self, account: str, path: str, session: str, read: "FileRead", records: bytearray,
                    tail: bytearray, crcs: bytes) -> None:
        """A file seen for the first time, read whole: `records`/`tail` are its copies encoded (by the
        worker that read it, with `encode_records`), `crcs` the `key_crcs` of the keys it holds."""
        file_id = self._new_id()
        dev, ino, size, mtime_ns, ctime_ns = read.identity
        # Blobs as bytearrays: `_flush_files` says why.
        row = (file_id, to_db(account), to_db(path), to_db(session), to_db(file_key(read.identity, session)), dev,
               ino, size, mtime_ns, ctime_ns, read.end_offset, bytearray(read.head_hash), bytearray(read.tail_hash),
               _counts_json(read.skipped), read.zero, _counts_json(read.tail_skipped), read.tail_zero, records, tail)
        if read.state is None:
            self._new_files.append(row)
        else:
            self._new_stated.append((*row, seal_bound(read.state)))
        self._hold_new(file_id, crcs)
        if len(self._new_files) + len(self._new_stated) >= FLUSH_EVERY:
            self._flush_files()  # bounded memory on a first run over many files

    def apply(self, account: str, path: str, session: str, read: "FileRead", previous: FileState | None) -> None:
        """Write what was read from a file. Read from the start (`read.restarted`): every old copy of it
        goes; otherwise the new copies join the old ones and the tail is replaced."""
        from openusage.packed import encode_records  # a file was read: msgspec is loaded already

        if previous is None:
            self.add_encoded(account, path, session, read, encode_records(read.records, account, session),
                             encode_records(read.tail_records, account, session),
                             key_crcs(read.records, read.tail_records))
            return
        file_id = previous.id
        old_records, old_tail = self._records_of(file_id)
        if read.restarted:
            records, skipped, zero = read.records, read.skipped, read.zero
        else:
            if read.marker_seen:  # a `forked` marker after these copies: they are a fork's copies
                from msgspec.structs import replace  # a file is read: msgspec is loaded already

                old_records = [replace(record, marked=1) for record in old_records]
            records = [*old_records, *read.records]
            old_skipped, old_zero = self.conn.execute(
                "SELECT skipped, zero FROM files WHERE id = ?", (file_id,)
            ).fetchone()
            if type(old_zero) is not int:
                damaged(f"the counts of {path}")
            skipped = add_counts(counts_of(old_skipped, path), read.skipped)
            zero = old_zero + read.zero
        before = {record.key for record in (*old_records, *old_tail)}
        after = {record.key for record in (*records, *read.tail_records)}
        self._unhold(file_id, before - after)
        self._hold((key_crc(key) << FILE_ID_BITS) | file_id for key in after - before)
        dev, ino, size, mtime_ns, ctime_ns = read.identity
        self.conn.execute(
            "UPDATE files SET session = ?, key = ?, dev = ?, ino = ?, size = ?, mtime_ns = ?, ctime_ns = ?,"
            " offset = ?, head_hash = ?, tail_hash = ?, state = ?, skipped = ?, zero = ?, tail_skipped = ?,"
            " tail_zero = ?, records = ?, tail_records = ? WHERE id = ?",
            (to_db(session), to_db(file_key(read.identity, session)), dev, ino, size, mtime_ns, ctime_ns,
             read.end_offset, read.head_hash, read.tail_hash, sealed(read.state), _counts_json(skipped), zero,
             _counts_json(read.tail_skipped), read.tail_zero, encode_records(records, account, session),
             encode_records(read.tail_records, account, session), file_id),
        )

    def flush(self) -> None:
        """Write the pending file rows, then the pending holders changes, one value per shard touched."""
        self._flush_files()
        fresh, self._fresh, self._fresh_count = self._fresh, None, 0
        if not self._new_holders and not self._dead_holders and fresh is None:
            return
        new = sorted(self._new_holders)  # one sort; each shard's additions are then a slice of it
        cuts: dict[int, tuple[int, int]] = {}
        i = 0
        while i < len(new):
            shard = new[i] >> _SHARD_SHIFT
            j = bisect_left(new, (shard + 1) << _SHARD_SHIFT, i)
            cuts[shard] = (i, j)
            i = j
        removed: dict[int, set[int]] = {}
        for entry in self._dead_holders:
            removed.setdefault(entry >> _SHARD_SHIFT, set()).add(entry)
        touched = cuts.keys() | removed.keys()
        parts: list[bytes] = []
        if fresh:
            from openusage.hot import holders_kernel  # a flush with new files only: a read loaded it

            parts = holders_kernel()(fresh, FILE_ID_BITS, _CRC_SHARD_SHIFT, _SHARDS)
            touched |= {shard for shard, part in enumerate(parts) if part}
        stored = self._shards(touched)
        rows = []
        for shard in touched:
            start, stop = cuts.get(shard, (0, 0))
            entries = stored.get(shard, ())
            gone = removed.get(shard, set())
            part = parts[shard] if parts else b""
            if not gone and start == stop and not entries:
                # New files' entries only (every shard, on a first run): unique, sorted, none stored yet.
                rows.append((shard, seal_bound(part)))
                continue
            added = array("q")
            added.frombytes(part)
            if not gone and start == stop:
                merged = sorted([*entries, *added])
            elif not entries and not gone and not added:
                merged = new[start:stop]
            else:
                merged = sorted((set(entries) - gone).union(new[start:stop], added))
            rows.append((shard, seal_entries(merged)))
        self.conn.executemany("INSERT OR REPLACE INTO holders(shard, entries) VALUES (?, ?)", rows)
        self._new_holders, self._dead_holders = set(), set()

    def shared_crcs(self) -> set[int]:
        """The crcs of the call keys that two or more files hold (of any account): every other call
        has all its copies in one file."""
        self.flush()
        shared: set[int] = set()
        for blob, in self.conn.execute("SELECT entries FROM holders"):
            crcs = [entry >> FILE_ID_BITS for entry in holder_entries(blob)]  # sorted, one entry per (crc, file)
            shared.update(crc for crc, following in pairwise(crcs) if crc == following)
        return shared

    def _shards(self, shards: Iterable[int]) -> "dict[int, array[int]]":
        """The stored entries of these shards (one query for all when they are many)."""
        wanted = set(shards)
        if len(wanted) > 64:
            rows = self.conn.execute("SELECT shard, entries FROM holders")
            return {shard: holder_entries(blob) for shard, blob in rows if shard in wanted}
        return {shard: self._shard(shard) for shard in wanted}

    def _shard(self, shard: int) -> "array[int]":
        row = self.conn.execute("SELECT entries FROM holders WHERE shard = ?", (shard,)).fetchone()
        return holder_entries(row[0]) if row is not None else array("q")

    def _holding(self, keys: Iterable[str]) -> set[int]:
        """The ids of the files that hold a copy of any of these keys (and, rarely, of a key with the
        same crc: the caller compares the keys themselves)."""
        self.flush()
        shards: dict[int, array[int]] = {}
        found: set[int] = set()
        for crc in {key_crc(key) for key in keys}:
            low = crc << FILE_ID_BITS
            shard = low >> _SHARD_SHIFT
            entries = shards.get(shard)
            if entries is None:
                entries = shards[shard] = self._shard(shard)
            start = bisect_left(entries, low)
            stop = bisect_left(entries, low | _FILE_ID_MASK, start)
            found.update(e & _FILE_ID_MASK for e in entries[start : stop + 1] if e >> FILE_ID_BITS == crc)
        return found

    def _flush_files(self) -> None:
        """Write the pending file rows. Python's sqlite3 binds an int, a float, a str or a bytearray
        directly, but looks every other value (bytes, None) up in its adapter registry first, ~1 us
        each: 4 blobs and a None per row were a fifth of a first run's inserts (2,900 rows of a 1 GB
        history). So the blobs come as bytearrays and a row without state says NULL in its statement."""
        if self._new_files:
            self.conn.executemany(
                "INSERT INTO files(id, account, path, session, key, dev, ino, size, mtime_ns, ctime_ns, offset,"
                " head_hash, tail_hash, skipped, zero, tail_skipped, tail_zero, records, tail_records, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                self._new_files,
            )
            self._new_files = []
        if self._new_stated:
            self.conn.executemany(
                "INSERT INTO files(id, account, path, session, key, dev, ino, size, mtime_ns, ctime_ns, offset,"
                " head_hash, tail_hash, skipped, zero, tail_skipped, tail_zero, records, tail_records, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._new_stated,
            )
            self._new_stated = []

    def _new_id(self) -> int:
        if self._next_id is None:
            self._next_id = int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM files").fetchone()[0])
        file_id = self._next_id
        if file_id > _FILE_ID_MASK:
            raise CacheError(f"the cache {self.path} has run out of file ids; delete it to rebuild it")
        self._next_id += 1
        return file_id

    def _records_of(self, file_id: int) -> "tuple[list[UsageRecord], list[UsageRecord]]":
        self._flush_files()
        row = self.conn.execute(f"SELECT {COPIES} FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            return [], []
        _account, _session, records, tail = copies_of(row)
        return records, tail

    def _hold(self, entries: Iterable[int]) -> None:
        added = set(entries)
        self._dead_holders -= added
        self._new_holders |= added
        if len(self._new_holders) >= HOLDERS_FLUSH_AT:
            self.flush()  # bounded memory on a first run over many calls

    def _hold_new(self, file_id: int, crcs: bytes) -> None:
        """The holders entries of a file new to the store (`crcs` unique, `key_crcs`): appended to their
        shards at flush() (`hot.shard_entries`): no set, and no sort of Python integers. Only while no entry is
        to be removed (a refresh that drops a file may hand its id to a new one: the set then says
        which word about an entry is the last)."""
        held = crc_array(crcs)
        if self._dead_holders:
            self._hold((crc << FILE_ID_BITS) | file_id for crc in held)
            return
        if self._fresh is None:
            self._fresh = []
        self._fresh.append((file_id, held))
        self._fresh_count += len(held)
        if self._fresh_count >= HOLDERS_FLUSH_AT:
            self.flush()  # bounded memory on a first run over many calls

    def _unhold(self, file_id: int, keys: Iterable[str]) -> None:
        if self._fresh is not None:  # from now on the set holds every addition (`_hold_new`)
            self._new_holders.update((crc << FILE_ID_BITS) | file_id for file_id, crcs in self._fresh for crc in crcs)
            self._fresh, self._fresh_count = None, 0
        removed = {(key_crc(key) << FILE_ID_BITS) | file_id for key in keys}
        self._new_holders -= removed
        self._dead_holders |= removed

    # -- which calls a change touches (asked before the change) -------------------------------------
    def keys_of_file(self, file_id: int, *, tail_only: bool = False, unmarked_only: bool = False) -> set[str]:
        records, tail = self._records_of(file_id)
        chosen = tail if tail_only else [*records, *tail]
        return {record.key for record in chosen if not (unmarked_only and record.marked)}

    def call_keys(self, account: str, session: str | None = None) -> set[str]:
        """The key of every call the account (or one of its sessions) holds a copy of."""
        return {record.key for _, records in self.file_copies(account, session) for record in records}

    # -- sessions -------------------------------------------------------------------------------------
    def session_infos(self, account: str, sessions: list[str] | None = None) -> dict[str, SessionInfo]:
        """Every session of the account (or those of `sessions` it knows) with its rank, the session it
        was forked from, and the one it joins."""
        if sessions is not None:
            known: dict[str, SessionInfo] = {}
            for chunk in _chunks(sessions):
                known.update(map(session_of, self.conn.execute(
                    "SELECT session, rank, parent, joins, lineage, checksum FROM sessions"
                    f" WHERE account = ? AND session IN ({_marks(chunk)})", (to_db(account), *map(to_db, chunk)))))
            return known
        rows = self.conn.execute("SELECT session, rank, parent, joins, lineage, checksum FROM sessions"
                                 " WHERE account = ?", (to_db(account),))
        # Most sessions are no fork: checked inline against the one checksum they share, one object
        # for all (a call per row cost 30 ms at 20,000 sessions).
        plain, plain_check = PLAIN_SESSION, PLAIN_CHECK
        infos: dict[str, SessionInfo] = {}
        for session, rank, parent, joins, lineage, checksum in rows:
            if rank == 0 and parent is None and joins is None and lineage is None and checksum == plain_check \
                    and type(session) is str:
                infos[session] = plain
            else:
                name, info = session_of((session, rank, parent, joins, lineage, checksum))
                infos[name] = info
        return infos

    def session_forks(self, account: str) -> dict[str, SessionInfo]:
        """What choosing owners needs of the sessions, and no more: those with a rank, a parent, a
        session they join or links, and the threads they name that exist (a history of 100,000 plain
        sessions loads nothing here)."""
        infos = dict(map(session_of, self.conn.execute(
            "SELECT session, rank, parent, joins, lineage, checksum FROM sessions"
            " WHERE account = ? AND (rank != 0 OR parent IS NOT NULL OR joins IS NOT NULL OR lineage IS NOT NULL)",
            (to_db(account),))))
        named = sorted({name for info in infos.values() for name in info.named()} - infos.keys())
        for chunk in _chunks(named):
            infos.update(map(session_of, self.conn.execute(
                f"SELECT session, rank, parent, joins, lineage, checksum FROM sessions WHERE account = ? AND session IN"
                f" ({_marks(chunk)})",
                (to_db(account), *map(to_db, chunk)))))
        return infos

    def set_sessions(self, account: str, rows: Iterable[tuple[str, SessionInfo, int]]) -> None:
        """(session, info, signature) rows. Most sessions are no fork: their rows share one checksum and
        say NULL in the statement (binding a None costs an adapter lookup, `_flush_files`)."""
        key = to_db(account)
        plain: list[tuple[object, ...]] = []
        forks: list[tuple[object, ...]] = []
        for session, info, signature in rows:
            if info == PLAIN_SESSION:
                plain.append((key, to_db(session), signature, PLAIN_CHECK))
            else:
                forks.append((key, to_db(session), info.rank, None if info.parent is None else to_db(info.parent),
                              None if info.joins is None else to_db(info.joins),
                              lineage_blob(info.lineage, info.links, info.upstream, info.told, info.thread), signature,
                              session_check(*info)))
        self.conn.executemany(
            "INSERT OR REPLACE INTO sessions(account, session, rank, parent, joins, lineage, signature, checksum)"
            " VALUES (?, ?, 0, NULL, NULL, NULL, ?, ?)", plain)
        self.conn.executemany(
            "INSERT OR REPLACE INTO sessions(account, session, rank, parent, joins, lineage, signature, checksum)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", forks)

    def drop_sessions(self, account: str, sessions: Iterable[str]) -> None:
        gone = [(to_db(account), to_db(session)) for session in sessions]
        self.conn.executemany("DELETE FROM sessions WHERE account = ? AND session = ?", gone)
        self.conn.executemany("DELETE FROM facts WHERE account = ? AND session = ?", gone)
        self.conn.executemany("DELETE FROM listings WHERE account = ? AND session = ?", gone)

    def set_listings(self, account: str, rows: Mapping[str, bytes | None]) -> None:
        """Sessions' remembered directory listings: a new body, or None to forget one."""
        key = to_db(account)
        self.conn.executemany("INSERT OR REPLACE INTO listings(account, session, body) VALUES (?, ?, ?)",
                              ((key, to_db(session), seal_bound(body)) for session, body in rows.items()
                               if body is not None))
        self.conn.executemany("DELETE FROM listings WHERE account = ? AND session = ?",
                              ((key, to_db(session)) for session, body in rows.items() if body is None))

    # -- copies ---------------------------------------------------------------------------------------
    def copies(self, account: str, keys: set[str]) -> "Iterator[Copy]":
        """Every stored copy of the given calls held by the account's files. Every file holding one is
        checked, whatever its account: a file row whose account column was changed is found here."""
        from openusage.fold import Copy  # the fold loads msgspec: only a run that folds asks

        self.flush()
        holding = self._holding(keys)
        rows = [row for file_id in sorted(holding)
                for row in self.conn.execute(f"SELECT {COPIES} FROM files WHERE id = ?", (file_id,))]
        for row in rows:
            owner, session, records, tail = copies_of(row)
            if owner != account:
                continue
            for blob in (records, tail):
                for record in blob:
                    if record.key in keys:
                        yield Copy(record, session)

    def file_copies(self, account: str, session: str | None = None, *,
                    by_session: bool = False) -> "Iterator[tuple[str, list[UsageRecord]]]":
        """Every file of the account (of one session, when given), one at a time: its session and the
        copies it holds. `by_session`: the files of each session one after the other (by the index)."""
        self.flush()
        where, args = ("account = ?", (to_db(account),)) if session is None else \
            ("account = ? AND session = ?", (to_db(account), to_db(session)))
        order = " ORDER BY session" if by_session else ""
        for row in self.conn.execute(f"SELECT {COPIES} FROM files WHERE {where}{order}", args):
            _account, file_session, records, tail = copies_of(row)
            yield file_session, [*records, *tail]

    # -- summaries ------------------------------------------------------------------------------------
    def summary(self, account: str) -> tuple[bytes, FileDiagnostics | None] | None:
        """The stored ledger of the account, and its files' diagnostics as they were when it was stored
        (None when that part cannot be read: the caller asks `file_diagnostics`)."""
        row = self.conn.execute("SELECT body, files FROM summaries WHERE account = ?", (to_db(account),)).fetchone()
        if row is None:
            return None
        body = unseal(row[0])
        if body is None:
            return None  # damaged: computed again
        return body, diagnostics_of(unseal(row[1]))

    def set_summary(self, account: str, ledger: "StoredLedger",
                    files: FileDiagnostics | None = None) -> FileDiagnostics:
        """Store the account's ledger (its head in `summaries`, its per-session parts in `ledger_sessions`
        and `ledger_days`) with its files' diagnostics as they are now (`files`, when the caller counted
        them, else from the file rows); returns those."""
        files = files if files is not None else self.file_diagnostics(account)
        # Every change of an account's rows ends here, in the same transaction: a new generation tells a
        # group's stored result that it is stale, even if this process dies before the group is redone.
        generation = int.from_bytes(os.urandom(7), "big")
        key = to_db(account)
        self.conn.execute("INSERT OR REPLACE INTO summaries(account, body, files, generation) VALUES (?, ?, ?, ?)",
                          (key, seal(ledger.head), seal(marshal.dumps(tuple(files))), generation))
        for table, column, parts in (("ledger_sessions", "shard", ledger.sessions),
                                     ("ledger_days", "day", ledger.days)):
            if ledger.whole:
                self.conn.execute(f"DELETE FROM {table} WHERE account = ?", (key,))
            for part, body in parts:  # one at a time: a whole ledger's parts are encoded as they come
                if body is None:
                    self.conn.execute(f"DELETE FROM {table} WHERE account = ? AND {column} = ?", (key, part))
                else:
                    self.conn.execute(f"INSERT OR REPLACE INTO {table}(account, {column}, body) VALUES (?, ?, ?)",
                                      (key, part, seal(body)))
        return files

    def manifest(self, account: str) -> "Manifest | None":
        """The account's manifest (`openusage.manifest`), when it was kept with the generation stored now
        (any change of the account's rows since makes it stale) and its seal holds; else None."""
        row = self.conn.execute("SELECT m.body FROM manifests AS m JOIN summaries AS s ON s.account = m.account"
                                " AND s.generation = m.generation WHERE m.account = ?", (to_db(account),)).fetchone()
        body = None if row is None else unseal(row[0])
        if body is None:
            return None
        from openusage.manifest import decode

        return decode(body)

    def set_manifest(self, account: str, body: bytes) -> None:
        """Keep the account's manifest, tied to its generation stored now (`set_summary`)."""
        self.conn.execute("INSERT OR REPLACE INTO manifests(account, generation, body) SELECT account, generation, ?"
                          " FROM summaries WHERE account = ?", (seal(body), to_db(account)))

    def remembered_keys(self, path: str, signature: str) -> bytes | None:
        """What `agentfiles.read_model_keys` kept of a config file with this stat signature, if its seal
        holds (else None: the file is parsed again)."""
        try:
            row = self.conn.execute("SELECT body FROM model_keys WHERE path = ? AND signature = ?",
                                    (to_db(path), signature)).fetchone()
        except (sqlite3.Error, UnicodeEncodeError):  # the memo is never needed: the file is parsed
            return None
        return None if row is None else unseal(row[0])

    def remember_keys(self, path: str, signature: str, body: bytes) -> None:
        """Keep a config file's model keys for its stat signature. A cache that cannot take it now
        (locked, full) only means the file is parsed again next time."""
        with suppress(sqlite3.Error, UnicodeEncodeError):
            self.conn.execute("INSERT OR REPLACE INTO model_keys(path, signature, body) VALUES (?, ?, ?)",
                              (to_db(path), signature, seal(body)))

    # -- a whole ledger built in parts (reading.parted_ledger) -----------------------------------------
    def ledger_build_start(self) -> None:
        """Empty scratch tables (this connection's own, in SQLite's temporary store) where a ledger being
        built puts its sessions' call counts and call times a batch at a time."""
        # On disk: in memory (this connection's setting for its sorts) they would hold what they are for
        # not holding. Set before the first temporary table only (SQLite refuses it in a transaction once
        # there is one), and left so: the process has few queries left after a first run.
        with suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA temp_store=FILE")
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS build_sessions(shard INTEGER, session BLOB, calls INTEGER)")
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS build_days(day INTEGER, session BLOB, times BLOB)")
        self.ledger_build_end()

    def ledger_build_end(self) -> None:
        self.conn.execute("DELETE FROM temp.build_sessions")
        self.conn.execute("DELETE FROM temp.build_days")

    def ledger_build_add(self, sessions: Iterable[tuple[int, str, int]],
                         days: Iterable[tuple[int, str, bytes]]) -> None:
        """(part, session, calls) and (UTC day, session, its call times marshalled) of a batch; a session
        may come in several batches."""
        self.conn.executemany("INSERT INTO temp.build_sessions VALUES (?, ?, ?)",
                              ((shard, _name_bytes(session), calls) for shard, session, calls in sessions))
        self.conn.executemany("INSERT INTO temp.build_days VALUES (?, ?, ?)",
                              ((day, _name_bytes(session), times) for day, session, times in days))

    def ledger_build_counts(self) -> tuple[dict[int, int], dict[int, int]]:
        """How many distinct sessions each part and each UTC day has."""
        shards = dict(self.conn.execute(
            "SELECT shard, COUNT(DISTINCT session) FROM temp.build_sessions GROUP BY shard").fetchall())
        days = dict(self.conn.execute(
            "SELECT day, COUNT(DISTINCT session) FROM temp.build_days GROUP BY day").fetchall())
        return shards, days

    def ledger_build_sessions(self) -> Iterator[tuple[int, str, int]]:
        """(part, session, its calls) by part."""
        for shard, session, calls in self.conn.execute(
                "SELECT shard, session, SUM(calls) FROM temp.build_sessions GROUP BY shard, session ORDER BY shard"):
            yield shard, _name_str(session), calls

    def ledger_build_days(self) -> Iterator[tuple[int, str, bytes]]:
        """(UTC day, session, some of its call times marshalled) by day, each session's rows together."""
        for day, session, times in self.conn.execute(
                "SELECT day, session, times FROM temp.build_days ORDER BY day, session"):
            yield day, _name_str(session), times

    def ledger_parts(self, account: str) -> "LedgerParts":
        """Where the account's stored ledger reads its per-session parts when it needs them."""
        return _LedgerParts(self, to_db(account))

    def generation(self, account: str) -> int | None:
        """What `set_summary` last wrote for the account (None: nothing is stored of it)."""
        try:  # asked outside a transaction too (`settled`)
            row = self.conn.execute("SELECT generation FROM summaries WHERE account = ?", (to_db(account),)).fetchone()
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        return row[0] if row is not None and type(row[0]) is int else None  # None: the group is computed again

    # -- groups ---------------------------------------------------------------------------------------
    def group(self, provider: str) -> bytes | None:
        """The stored result of the provider's group (None: none, or damaged: computed again)."""
        row = self.conn.execute("SELECT body FROM groups WHERE provider = ?", (provider,)).fetchone()
        return None if row is None else unseal(row[0])

    def set_group(self, provider: str, body: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO groups(provider, body) VALUES (?, ?)", (provider, seal(body)))

    # -- damage -------------------------------------------------------------------------------------
    def repair(self) -> list[str]:
        """Drop every stored value that is damaged (`DamagedValue`), checking each the way it is
        checked where it is read: a damaged file row goes (its file is then read again from the
        start), so does a damaged session row (its state file is read again). Then every ledger is
        computed again from the copies left (a damaged account column may have moved a file's copies
        out of the account whose ledger counts them), the holders index is rebuilt from the file rows
        left, and the groups' results are recomputed. Returns what was dropped, one phrase each. Rare
        (a changed byte, a hand edit), so it reads everything. Rows are named by the bytes of their
        keys (`CAST(... AS BLOB)`), which a text value that is not UTF-8 also has."""
        dropped: list[str] = []
        self.conn.text_factory = lenient_text  # a text value that is not UTF-8 is read, and dropped
        try:
            with self.write():
                for file_id, problem in self._damaged_files():
                    self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
                    dropped.append(problem)
                for account, session, problem in self._damaged_sessions():
                    self.conn.execute(
                        "DELETE FROM sessions WHERE CAST(account AS BLOB) = ? AND CAST(session AS BLOB) = ?",
                        (account, session))
                    dropped.append(problem)
                self.conn.execute("DELETE FROM summaries")
                self.conn.execute("DELETE FROM ledger_sessions")
                self.conn.execute("DELETE FROM ledger_days")
                self.conn.execute("DELETE FROM groups")
                self._rebuild_holders()
        finally:
            self.conn.text_factory = str
        return dropped

    def _damaged_files(self) -> Iterator[tuple[int, str]]:
        """(id, what is wrong) of every damaged file row."""
        rows = self.conn.execute(
            "SELECT id, path, session, dev, ino, size, mtime_ns, ctime_ns, offset, head_hash, tail_hash, state,"
            " account, key, skipped, zero, tail_skipped, tail_zero, records, tail_records FROM files").fetchall()
        for row in rows:
            try:
                _file_state_of(row)
                account, key, skipped, zero, tail_skipped, tail_zero, records, tail = row[12:20]
                copies_of((account, row[2], row[1], records, tail))
                name_of(key, row[1])
                if type(zero) is not int or type(tail_zero) is not int:
                    damaged(f"the counts of {row[1]}")
                counts_of(skipped, row[1])
                counts_of(tail_skipped, row[1])
            except DamagedValue as exc:
                yield row[0], str(exc)

    def _damaged_sessions(self) -> Iterator[tuple[bytes, bytes, str]]:
        """(account's bytes, session's bytes, what is wrong) of every damaged session row."""
        for (account, session, rank, parent, joins, lineage, checksum, signature, account_key,
             session_key) in self.conn.execute(
                "SELECT account, session, rank, parent, joins, lineage, checksum, signature, CAST(account AS BLOB),"
                " CAST(session AS BLOB)"
                " FROM sessions").fetchall():
            try:
                name_of(account, session)
                session_of((session, rank, parent, joins, lineage, checksum))
                if type(signature) is not int:
                    damaged(f"the signature of session {session}")
            except DamagedValue as exc:
                yield account_key, session_key, str(exc)

    def _rebuild_holders(self) -> None:
        self.conn.execute("DELETE FROM holders")
        self._new_holders, self._dead_holders = set(), set()
        for file_id, *copies in self.conn.execute(f"SELECT id, {COPIES} FROM files").fetchall():
            _account, _session, records, tail = copies_of(copies)
            self._hold((crc << FILE_ID_BITS) | file_id for crc in crc_array(key_crcs(records, tail)))
        self.flush()

    # -- session facts (facts.py) ---------------------------------------------------------------------
    def session_signatures(self, account: str, names: AbstractSet[str] | None = None) -> dict[str, int]:
        """session → the signature of its state file, for every session of the account (or only those
        of `names`: a report asks for its sessions' in batches, never all of them at once)."""
        return {_text_of(session): signature for session, signature in self._by_names(
            "SELECT session, signature FROM sessions WHERE account = ?", account, names)
            if isinstance(session, str | bytes) and type(signature) is int}

    def _by_names(self, sql: str, account: str, names: AbstractSet[str] | None) -> list[Any]:
        """The rows of `sql` (which selects by account), all of them or those whose session is one of
        `names`, asked a bounded number of names at a time (SQLite limits a statement's parameters)."""
        if names is None:
            return self.conn.execute(sql, (to_db(account),)).fetchall()
        rows: list[Any] = []
        for chunk in _chunks([to_db(name) for name in names]):
            rows.extend(self.conn.execute(f"{sql} AND session IN ({', '.join('?' * len(chunk))})",
                                          (to_db(account), *chunk)))
        return rows

    def facts(self, account: str, names: AbstractSet[str] | None = None) -> dict[str, KeptFacts]:
        """The kept facts of the account's sessions (or of those of `names`); a row of the wrong shape is
        left out (derived again and replaced), never trusted. A read SQLite says is damaged is the
        cache's damage."""
        try:
            rows = self._by_names("SELECT session, signature, labels, title, project FROM facts WHERE account = ?",
                                  account, names)
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        return {_text_of(session): KeptFacts(signature, labels, None if title is None else _text_of(title),
                                             _text_of(project))
                for session, signature, labels, title, project in rows
                if isinstance(session, str | bytes) and (signature is None or type(signature) is int)
                and isinstance(labels, str) and isinstance(project, str | bytes)
                and (title is None or isinstance(title, str | bytes))}

    def set_facts(self, account: str, rows: Iterable[tuple[str, int | None, str, str | None, str]]) -> None:
        """(session, state signature, labels signature, title or None when not derived, project) rows.
        Names and texts that are not UTF-8 (a directory's name) are kept as their exact bytes."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO facts(account, session, signature, labels, title, project) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((to_db(account), to_db(session), signature, labels, None if title is None else to_db(title),
              to_db(project)) for session, signature, labels, title, project in rows))

    # -- settled calls (settled.py) -------------------------------------------------------------------
    def settled(self, name: str) -> bytes | None:
        """A group's stored settled calls (None: none, or damaged: computed again). Read outside a
        transaction of the store: a read SQLite says is damaged is the cache's damage (moved aside
        and rebuilt by the caller), as `write` says it."""
        try:
            row = self.conn.execute("SELECT body FROM settled WHERE name = ?", (to_db(name),)).fetchone()
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        return None if row is None else unseal(row[0])

    def drop_settled(self, name: str) -> None:
        """A group's settled head and parts gone (before new ones are written)."""
        self.conn.execute("DELETE FROM settled WHERE name = ? OR (name > ? AND name < ?)",
                          (to_db(name), to_db(name + _PART), to_db(name + _PART_END)))

    def set_settled(self, name: str, body: bytes) -> None:
        """Store a group's settled head (its parts: `set_settled_part`)."""
        self.conn.execute("INSERT OR REPLACE INTO settled(name, body) VALUES (?, ?)", (to_db(name), seal(body)))

    def settled_part(self, name: str, member: int, part: int) -> bytes | None:
        """One part of a member's settled rows (None: missing or damaged)."""
        try:
            row = self.conn.execute("SELECT body FROM settled WHERE name = ?",
                                    (to_db(_part_key(name, member, part)),)).fetchone()
        except sqlite3.Error as exc:  # as `settled`: read outside a transaction, damage is the cache's
            raise self._failure(exc) from exc
        return None if row is None else unseal(row[0])

    def set_settled_part(self, name: str, member: int, part: int, body: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO settled(name, body) VALUES (?, ?)",
                          (to_db(_part_key(name, member, part)), seal(body)))

    # -- remote accounts' last good answers (fetching.py) --------------------------------------------
    def remote_answer(self, account: str) -> str | None:
        """The last good reading of a remote account, as `remote.encode` wrote it (it holds no secret)."""
        try:
            row = self.conn.execute("SELECT body FROM remote WHERE account = ?", (account,)).fetchone()
        except sqlite3.Error as exc:
            raise CacheError(f"the cache {self.path} cannot be read: {exc}") from exc
        return None if row is None else str(row[0])

    def drop_remote_answer(self, account: str) -> None:
        """Forget a remote account's last good reading (its key or sign-in was refused)."""
        try:
            self.conn.execute("DELETE FROM remote WHERE account = ?", (account,))
        except sqlite3.Error as exc:
            raise CacheError(f"the cache {self.path} cannot be updated: {exc}") from exc

    def set_remote_answer(self, account: str, body: str) -> None:
        try:
            self.conn.execute("INSERT OR REPLACE INTO remote(account, body) VALUES (?, ?)", (account, body))
        except sqlite3.Error as exc:
            raise CacheError(f"the cache {self.path} cannot be updated: {exc}") from exc

    # -- prices (priced.py): models' rates and accounts' costs, each value carrying its own key --------
    def priced(self, key: str) -> bytes | None:
        """A stored model schedule or accounts' costs (None: none, or damaged: computed again). A read
        SQLite says is damaged is the cache's damage (moved aside and rebuilt by the caller)."""
        try:
            row = self.conn.execute("SELECT body FROM prices WHERE key = ?", (to_db(key),)).fetchone()
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        return None if row is None else unseal(row[0])

    def set_priced(self, key: str, body: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO prices(key, body) VALUES (?, ?)", (to_db(key), seal(body)))

    # -- accounts -------------------------------------------------------------------------------------
    def forget_account(self, account: str) -> None:
        """The account's sessions directory is gone: nothing of it may stay in the figures."""
        for file_id, in self.conn.execute("SELECT id FROM files WHERE account = ?", (to_db(account),)).fetchall():
            self.drop_file(file_id)
        self.conn.execute("DELETE FROM sessions WHERE account = ?", (to_db(account),))
        self.conn.execute("DELETE FROM summaries WHERE account = ?", (to_db(account),))
        self.conn.execute("DELETE FROM ledger_sessions WHERE account = ?", (to_db(account),))
        self.conn.execute("DELETE FROM ledger_days WHERE account = ?", (to_db(account),))
        self.conn.execute("DELETE FROM facts WHERE account = ?", (to_db(account),))
        self.conn.execute("DELETE FROM listings WHERE account = ?", (to_db(account),))
        self.conn.execute("DELETE FROM manifests WHERE account = ?", (to_db(account),))

    # -- queries for the snapshot ---------------------------------------------------------------------
    def file_diagnostics(self, account: str) -> FileDiagnostics:
        """The account's files' diagnostics, counted from `files_diagnostics`, an index of the few
        columns they need: scanning the file rows themselves (with their copies) took ~8 ms of every
        refresh that changed anything on a 1 GB home, the index ~1 ms. The skip counts are read once
        per distinct pair of texts, with how many files hold it: nearly every rollout of a Codex home
        skips something (re-emits), and decoding 2,518 pairs took ~6 ms, their 64 distinct ones ~0.1 ms;
        a file's path, which the index does not hold, is looked up only to name a damaged one."""
        self.flush()
        files, zero, wrong = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(zero + tail_zero), 0),"
            " COALESCE(SUM(typeof(zero) != 'integer' OR typeof(tail_zero) != 'integer'), 0)"
            " FROM files WHERE account = ?", (to_db(account),)
        ).fetchone()
        if wrong:
            damaged("the counts of a file")
        skipped: dict[str, int] = {}
        for body, tail, holders in self.conn.execute(
            "SELECT skipped, tail_skipped, COUNT(*) FROM files"
            " WHERE account = ? AND (skipped != '{}' OR tail_skipped != '{}') GROUP BY skipped, tail_skipped",
            (to_db(account),),
        ):
            try:
                counts = add_counts(counts_of(body, None), counts_of(tail, None))
            except DamagedValue:
                damaged(f"the skip counts of {self._holder_of(account, body, tail)}")
            add_counts(skipped, {reason: count * holders for reason, count in counts.items()})
        return FileDiagnostics(int(files), skipped, int(zero))

    def _holder_of(self, account: str, skipped: object, tail_skipped: object) -> str:
        """The path of a file of `account` whose stored skip counts are these, to name it."""
        row = self.conn.execute("SELECT path FROM files WHERE account = ? AND skipped IS ? AND tail_skipped IS ?"
                                " LIMIT 1", (to_db(account), skipped, tail_skipped)).fetchone()
        return "a file" if row is None else str(row[0])


class _LedgerParts:
    """A stored ledger's parts, read from the cache when the ledger first needs them (`LedgerParts`)."""

    __slots__ = ("_account", "_store")

    def __init__(self, store: Store, account: str | bytes) -> None:
        self._store, self._account = store, account

    def sessions(self, shards: list[int]) -> dict[int, bytes]:
        return self._parts("ledger_sessions", "shard", shards)

    def days(self, days: list[int]) -> dict[int, bytes]:
        return self._parts("ledger_days", "day", days)

    def _parts(self, table: str, column: str, wanted: list[int]) -> dict[int, bytes]:
        """Read when the ledger needs them, maybe outside a transaction of the store: an SQLite error is
        said as the store says it (a damaged file is moved aside and rebuilt)."""
        found: dict[int, bytes] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            try:
                rows = self._store.conn.execute(
                    f"SELECT {column}, CAST(body AS BLOB) FROM {table} WHERE account = ?"
                    f" AND {column} IN ({', '.join('?' * len(chunk))})", (self._account, *chunk)).fetchall()
            except sqlite3.Error as exc:
                raise self._store._failure(exc) from exc
            for part, body in rows:
                payload = unseal(body)
                if payload is None or type(part) is not int:
                    damaged(f"a part of a ledger ({table} {part})")
                found[part] = payload
        return found


def _file_state_of(row: Any) -> FileState:
    """A file row's state as `_file_state` selects it; `DamagedValue` when a column is not what is
    written there."""
    file_id, path, session, *numbers = row[:9]
    path, session = name_of(path, "a file"), name_of(session, path)
    head_hash, tail_hash, state = row[9:12]
    resume = None if state is None else unseal(state)
    if any(type(n) is not int for n in numbers) \
            or not all(h is None or type(h) is bytes for h in (head_hash, tail_hash)) \
            or (state is not None and resume is None):
        damaged(f"the state of {path}")
    dev, ino, size, mtime_ns, ctime_ns, offset = numbers
    return FileState(int(file_id), path, session, (dev, ino, size, mtime_ns, ctime_ns), offset, head_hash,
                     tail_hash, resume)


def _counts_json(counts: dict[str, int]) -> str:
    if not counts:
        return "{}"
    import json  # only a file with skipped lines needs the encoder: a warm run imports none

    return json.dumps(counts, sort_keys=True)


def _schema_version(conn: sqlite3.Connection) -> int | None:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not exists:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else None
    except ValueError:
        return None


def _reset(conn: sqlite3.Connection) -> None:
    """Older or unknown schema: the cache is only a cache, so rebuild it rather than guess."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _schema_version(conn) != SCHEMA_VERSION:  # another process may have rebuilt it meanwhile
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if not table.startswith("sqlite_"):
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# A settled part's name: the group's name, then a character no account id holds, member and part.
_PART, _PART_END = "\x01", "\x02"


def _part_key(name: str, member: int, part: int) -> str:
    return f"{name}{_PART}{member:04d}:{part:08d}"


def _name_bytes(name: str) -> bytes:
    """A name as the scratch tables keep it: any str (one with surrogate escapes too) round-trips."""
    return name.encode("utf-8", "surrogatepass")


def _name_str(blob: bytes) -> str:
    return blob.decode("utf-8", "surrogatepass")


class RowSort:
    """Rows given back in a report's order: the most recent last call first (rows without one after
    every other), then by account and session; or the reverse; at most `limit` of the first ones.
    Held in memory up to `spill_at` rows; past that in a scratch SQLite file of a temporary directory
    of its own, sorted by SQLite outside memory (its sorter works in `SORT_CACHE_KIB` and spills to
    temporary files), so that a session report holds a bounded number of its rows (one per session,
    ~2 KiB each with its facts: ~1 GiB at 500,000 sessions). The two ways give the same order: names
    are compared as Python compares them (by code point: their UTF-32-BE bytes, surrogates too)."""

    def __init__(self, spill_at: int) -> None:
        self.spill_at = spill_at
        self._held: list[tuple[tuple[float, str, str], Any]] = []
        self._directory: str | None = None
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> "RowSort":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def clear(self) -> None:
        """Forget every row (a report folded again from the start)."""
        self._held = []
        if self._conn is not None:
            self._conn.execute("DELETE FROM rows")

    def add(self, last: float | None, account: str, session: str, value: Any) -> None:
        """One row: its last call's time (None: none), its account and session, and `value` (anything
        marshal can write)."""
        self._held.append(((_NEVER if last is None else -last, account, session), value))
        if self._conn is not None:
            if len(self._held) >= _INSERT_ROWS:
                self._write()
        elif len(self._held) >= self.spill_at:
            self._spill()

    def _spill(self) -> None:
        import tempfile

        self._directory = tempfile.mkdtemp(prefix="openusage-report-")
        conn = self._conn = sqlite3.connect(os.path.join(self._directory, "rows.db"), isolation_level=None)
        # Nothing here outlives the process: no journal, no syncing; the sort's memory is bounded.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA temp_store=FILE")
        conn.execute(f"PRAGMA cache_size=-{SORT_CACHE_KIB}")
        conn.execute("CREATE TABLE rows(last REAL, account BLOB, session BLOB, body BLOB)")
        conn.execute("BEGIN")  # one transaction for the inserts, which nobody else reads
        self._write()

    def _write(self) -> None:
        """The rows held, into the scratch file (past `spill_at`, a batch of `_INSERT_ROWS` at a time)."""
        assert self._conn is not None
        held, self._held = self._held, []
        self._conn.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)",
                               ((None if rank[0] == _NEVER else -rank[0], _sort_bytes(rank[1]), _sort_bytes(rank[2]),
                                 marshal.dumps(value)) for rank, value in held))

    def ordered(self, *, reverse: bool, limit: int | None) -> Iterator[Any]:
        """The values, in rank order (most recent first) cut to the first `limit`, then reversed if
        `reverse`. May be asked more than once."""
        if self._conn is not None and self._held:
            self._write()
        if self._conn is None:
            ranked = sorted(self._held, key=_rank_of)
            if limit is not None:
                ranked = ranked[:limit]
            if reverse:
                ranked.reverse()
            for _rank, value in ranked:
                yield value
            return
        rank = "last IS NULL, last DESC, account, session"
        back = "last IS NULL DESC, last ASC, account DESC, session DESC"
        sql = f"SELECT last, account, session, body FROM rows ORDER BY {rank}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if reverse:
            sql = f"SELECT * FROM ({sql}) ORDER BY {back}"
        for *_rank, body in self._conn.execute(sql):
            yield marshal.loads(body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._directory is not None:
            import shutil

            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


SORT_CACHE_KIB = 4096
_INSERT_ROWS = 1024  # rows written to the scratch file at once
_NEVER = float("inf")  # the rank of a row without a last call: after every other


def _rank_of(item: tuple[tuple[float, str, str], Any]) -> tuple[float, str, str]:
    return item[0]


def _sort_bytes(name: str) -> bytes:
    """A name whose bytes sort as Python sorts the str: UTF-32-BE is one code point per 4 big-endian
    bytes (surrogatepass: a directory name with surrogate escapes too)."""
    return name.encode("utf-32-be", "surrogatepass")
