"""SQLite: the cache of what every file held, and every query the snapshot needs. The only SQL.

One row per usage record copy (`records`), per file state (`files`, with the offset consumed and a
fingerprint of the consumed bytes), per session rank (`sessions`). From them `calls` holds one row per
model call of an account: its owner session (lowest rank, then smallest name), its earliest valid
time, its model and counts. `calls` is maintained incrementally: whatever a refresh touches marks its
call keys dirty and only those are recomputed, so figures come from the same rules cold or warm.
The same code runs on an in-memory database for `--no-cache`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from openusage.errors import CacheError
from openusage.fold import Copy
from openusage.records import CallRow, FileDiagnostics, SessionInfo, UsageRecord, file_key

SCHEMA_VERSION = 7
FLUSH_EVERY = 8192  # pending file or record rows written at once
MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL, path TEXT NOT NULL, session TEXT NOT NULL, key TEXT NOT NULL,
    dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    offset INTEGER NOT NULL, head_hash BLOB, tail_hash BLOB, state BLOB,
    skipped TEXT NOT NULL, zero INTEGER NOT NULL,
    tail_skipped TEXT NOT NULL, tail_zero INTEGER NOT NULL,
    UNIQUE(account, path));
CREATE INDEX IF NOT EXISTS files_by_session ON files(account, session);
CREATE TABLE IF NOT EXISTS records(
    file_id INTEGER NOT NULL, call_key TEXT NOT NULL, ts REAL, model TEXT,
    input INTEGER NOT NULL, output INTEGER NOT NULL, cache_read INTEGER NOT NULL,
    cache_write INTEGER NOT NULL, scope TEXT, marked INTEGER NOT NULL, tail INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_file ON records(file_id, tail);
CREATE INDEX IF NOT EXISTS records_by_key ON records(call_key);
CREATE TABLE IF NOT EXISTS sessions(
    account TEXT NOT NULL, session TEXT NOT NULL, rank INTEGER NOT NULL, parent TEXT, signature INTEGER NOT NULL,
    PRIMARY KEY(account, session)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls(
    account TEXT NOT NULL, call_key TEXT NOT NULL, session TEXT NOT NULL, ts REAL, model TEXT,
    input INTEGER NOT NULL, output INTEGER NOT NULL, cache_read INTEGER NOT NULL,
    cache_write INTEGER NOT NULL, copies INTEGER NOT NULL, scope TEXT,
    PRIMARY KEY(account, call_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summaries(account TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
"""

class FileState(NamedTuple):
    id: int
    path: str
    session: str
    identity: tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns
    offset: int
    head_hash: bytes | None
    tail_hash: bytes | None
    state: bytes | None  # the reader's resume state at `offset`



class FileUpdate(NamedTuple):
    """What a refresh learned about one file, to be written in the refresh's transaction."""

    account: str
    path: str
    session: str
    identity: tuple[int, int, int, int, int]
    offset: int
    head_hash: bytes
    tail_hash: bytes
    records: list[UsageRecord]
    skipped: dict[str, int]
    zero: int
    tail_records: list[UsageRecord]
    tail_skipped: dict[str, int]
    tail_zero: int
    state: bytes | None  # the reader's resume state at `offset`
    marker_seen: bool  # a `forked` marker in the new lines: every earlier record of the file is marked


class Store:
    """One SQLite connection and every statement openusage runs."""

    def __init__(self, path: Path | str, notice: Callable[[str], None] | None = None) -> None:
        self.path = str(path)
        # In memory (--no-cache) nothing is read twice, so record copies are folded as they are read
        # and never stored; on disk every copy is kept so that a later refresh can re-fold any call.
        self.persistent = self.path != MEMORY
        self._notice = notice or (lambda _message: None)
        self._dirty: set[str] = set()
        self._pending: list[tuple[object, ...]] = []  # record rows waiting for flush()
        self._new_files: list[tuple[object, ...]] = []  # file rows waiting for flush()
        self._next_id: int | None = None
        self._loaded_keys: set[str] | None = None  # the set the temp `keys` table holds now
        self.conn = self._open()

    # -- opening, migrations, corruption -------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.path == MEMORY:
            return self._prepare(sqlite3.connect(MEMORY, isolation_level=None))
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            return self._prepare(sqlite3.connect(self.path, isolation_level=None, timeout=60.0))
        except sqlite3.DatabaseError as exc:
            aside = f"{self.path}.corrupt-{int(time.time())}"
            self._notice(f"openusage: the cache {self.path} was unreadable ({exc}); moved it to {aside}")
            _move_aside(self.path, aside)
            try:
                return self._prepare(sqlite3.connect(self.path, isolation_level=None, timeout=60.0))
            except sqlite3.Error as again:
                raise CacheError(f"cannot create the cache {self.path}: {again}") from again
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"cannot open the cache {self.path}: {exc}") from exc

    def _prepare(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        if self.path != MEMORY:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        version = _schema_version(conn)
        if version != SCHEMA_VERSION:
            if version is not None:
                self._notice(f"openusage: cache schema {version} is not {SCHEMA_VERSION}; rebuilding it")
            _reset(conn)
        return conn

    def close(self) -> None:
        self.conn.close()

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
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise CacheError(f"the cache {self.path} cannot be updated: {exc}") from exc

    # -- file states ----------------------------------------------------------------------------------
    def file_keys(self, account: str) -> dict[str, str]:
        """path → `records.file_key` of every file of the account, as they were last read."""
        return dict(self.conn.execute("SELECT path, key FROM files WHERE account = ?", (account,)))

    def file_state(self, account: str, path: str) -> FileState | None:
        row = self.conn.execute(
            "SELECT id, path, session, dev, ino, size, mtime_ns, ctime_ns, offset, head_hash, tail_hash, state"
            " FROM files WHERE account = ? AND path = ?",
            (account, path),
        ).fetchone()
        if row is None:
            return None
        return FileState(row[0], row[1], row[2], tuple(row[3:8]), row[8], row[9], row[10], row[11])

    def drop_path(self, account: str, path: str) -> None:
        row = self.conn.execute("SELECT id FROM files WHERE account = ? AND path = ?", (account, path)).fetchone()
        if row is not None:
            self.drop_file(row[0])

    def drop_file(self, file_id: int) -> None:
        self._mark_dirty_file(file_id, tail_only=False)
        self.conn.execute("DELETE FROM records WHERE file_id = ?", (file_id,))
        self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def apply(self, update: FileUpdate, previous: FileState | None, *, restart: bool) -> None:
        """Write what was read from a file. `restart`: it was read from the start, so every old row
        of it goes; otherwise only its old tail rows go (the tail was read again)."""
        conn = self.conn
        dev, ino, size, mtime_ns, ctime_ns = update.identity
        key = file_key(update.identity, update.session)
        if previous is None:
            if self._next_id is None:
                self._next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM files").fetchone()[0])
            file_id = self._next_id
            self._next_id += 1
            self._new_files.append(
                (file_id, update.account, update.path, update.session, key, dev, ino, size, mtime_ns, ctime_ns,
                 update.offset, update.head_hash, update.tail_hash, update.state, _counts_json(update.skipped),
                 update.zero, _counts_json(update.tail_skipped), update.tail_zero)
            )
            self._insert_records(file_id, update.records, tail=0)
            self._insert_records(file_id, update.tail_records, tail=1)
            if len(self._new_files) >= FLUSH_EVERY or len(self._pending) >= FLUSH_EVERY:
                self.flush()  # bounded memory on a first run over many files
            return
        else:
            file_id = previous.id
            self._mark_dirty_file(file_id, tail_only=not restart)
            if restart:
                conn.execute("DELETE FROM records WHERE file_id = ?", (file_id,))
                skipped, zero = update.skipped, update.zero
            else:
                conn.execute("DELETE FROM records WHERE file_id = ? AND tail = 1", (file_id,))
                old_skipped, old_zero = conn.execute(
                    "SELECT skipped, zero FROM files WHERE id = ?", (file_id,)
                ).fetchone()
                skipped = _add_counts(json.loads(old_skipped), update.skipped)
                zero = old_zero + update.zero
        conn.execute(
            "UPDATE files SET session = ?, key = ?, dev = ?, ino = ?, size = ?, mtime_ns = ?, ctime_ns = ?,"
            " offset = ?, head_hash = ?, tail_hash = ?, state = ?, skipped = ?, zero = ?, tail_skipped = ?,"
            " tail_zero = ? WHERE id = ?",
            (update.session, key, dev, ino, size, mtime_ns, ctime_ns, update.offset, update.head_hash,
             update.tail_hash, update.state, _counts_json(skipped), zero, _counts_json(update.tail_skipped),
             update.tail_zero, file_id),
        )
        if update.marker_seen and not restart:
            self._mark_earlier_records(file_id)
        self._insert_records(file_id, update.records, tail=0)
        self._insert_records(file_id, update.tail_records, tail=1)

    def _insert_records(self, file_id: int, records: list[UsageRecord], *, tail: int) -> None:
        if not records or not self.persistent:
            return
        self._pending.extend((file_id, *record, tail) for record in records)
        self._dirty.update(record[0] for record in records)

    def flush(self) -> None:
        """Write the new files and the records applied since the last flush, in one statement each.
        Records go in call-key order: the key index then grows at its end instead of at random pages,
        several times faster for a first run."""
        if self._new_files:
            self.conn.executemany(
                "INSERT INTO files(id, account, path, session, key, dev, ino, size, mtime_ns, ctime_ns, offset,"
                " head_hash, tail_hash, state, skipped, zero, tail_skipped, tail_zero)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._new_files,
            )
            self._new_files = []
        if self._pending:
            self._pending.sort(key=itemgetter(1))
            self.conn.executemany(
                "INSERT INTO records(file_id, call_key, ts, model, input, output, cache_read, cache_write, scope,"
                " marked, tail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._pending,
            )
            self._pending = []

    def _mark_earlier_records(self, file_id: int) -> None:
        """A `forked` marker arrived after these records: they are now copies followed by a marker."""
        rows = self.conn.execute("SELECT call_key FROM records WHERE file_id = ? AND marked = 0", (file_id,))
        self._dirty.update(row[0] for row in rows)
        self.conn.execute("UPDATE records SET marked = 1 WHERE file_id = ? AND marked = 0", (file_id,))

    def _mark_dirty_file(self, file_id: int, *, tail_only: bool) -> None:
        condition = " AND tail = 1" if tail_only else ""
        rows = self.conn.execute(f"SELECT call_key FROM records WHERE file_id = ?{condition}", (file_id,))
        self._dirty.update(row[0] for row in rows)

    # -- sessions -------------------------------------------------------------------------------------
    def session_infos(self, account: str) -> dict[str, SessionInfo]:
        """Every session of the account with its rank and the session it was forked from."""
        rows = self.conn.execute("SELECT session, rank, parent FROM sessions WHERE account = ?", (account,))
        return {session: SessionInfo(rank, parent) for session, rank, parent in rows}

    def session_signatures(self, account: str) -> dict[str, int]:
        return dict(self.conn.execute("SELECT session, signature FROM sessions WHERE account = ?", (account,)))

    def set_sessions(self, account: str, rows: list[tuple[str, SessionInfo, int]], known: set[str]) -> None:
        """(session, info, signature) rows; the calls held by `known` sessions (ranked before) may
        change owner now, so they are re-folded."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO sessions(account, session, rank, parent, signature) VALUES (?, ?, ?, ?, ?)",
            ((account, session, info.rank, info.parent, signature) for session, info, signature in rows),
        )
        for session in known:
            self._mark_dirty_session(account, session)

    def drop_sessions(self, account: str, sessions: Iterable[str]) -> None:
        for session in sessions:
            self._mark_dirty_session(account, session)
            self.conn.execute("DELETE FROM sessions WHERE account = ? AND session = ?", (account, session))

    def _mark_dirty_session(self, account: str, session: str) -> None:
        rows = self.conn.execute(
            "SELECT r.call_key FROM records r JOIN files f ON f.id = r.file_id WHERE f.account = ? AND f.session = ?",
            (account, session),
        )
        self._dirty.update(row[0] for row in rows)

    # -- calls ----------------------------------------------------------------------------------------
    def take_dirty(self) -> set[str]:
        """The call keys whose copies changed since the last call; the caller re-folds them."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def call_count(self, account: str) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM calls WHERE account = ?", (account,)).fetchone()[0])

    def copies(self, account: str, keys: set[str] | None) -> Iterator[Copy]:
        """Every stored copy of the given calls (all calls when `keys` is None), with its session's rank."""
        query = (
            "SELECT r.call_key, r.ts, r.model, r.input, r.output, r.cache_read, r.cache_write, r.scope, r.marked,"
            " f.session, COALESCE(s.rank, 0) FROM records r JOIN files f ON f.id = r.file_id"
            " LEFT JOIN sessions s ON s.account = f.account AND s.session = f.session WHERE f.account = ?"
        )
        if keys is None:
            yield from self.conn.execute(query, (account,))
            return
        self._load_keys(keys)
        yield from self.conn.execute(query + " AND r.call_key IN (SELECT call_key FROM keys)", (account,))

    def replace_calls(self, account: str, rows: Iterable[tuple[object, ...]], keys: set[str] | None) -> None:
        """Drop the given calls (all of the account's when `keys` is None) and write `rows` instead."""
        if keys is None:
            self.conn.execute("DELETE FROM calls WHERE account = ?", (account,))
        else:
            self._load_keys(keys)
            self.conn.execute(
                "DELETE FROM calls WHERE account = ? AND call_key IN (SELECT call_key FROM keys)", (account,)
            )
        ordered = sorted(rows, key=itemgetter(1))  # key order: the primary key b-tree grows at its end
        self.conn.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ordered)

    def _load_keys(self, keys: set[str]) -> None:
        """Put `keys` in the temp table the key queries join on; a re-fold asks three queries about the
        same set, so it is written once."""
        if keys is self._loaded_keys:
            return
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS keys(call_key TEXT PRIMARY KEY) WITHOUT ROWID")
        self.conn.execute("DELETE FROM keys")
        self.conn.executemany("INSERT INTO keys VALUES (?)", ((key,) for key in keys))
        self._loaded_keys = keys

    # -- summaries ------------------------------------------------------------------------------------
    def summary(self, account: str) -> bytes | None:
        row = self.conn.execute("SELECT body FROM summaries WHERE account = ?", (account,)).fetchone()
        return bytes(row[0]) if row else None

    def set_summary(self, account: str, body: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO summaries(account, body) VALUES (?, ?)", (account, body))

    # -- accounts -------------------------------------------------------------------------------------
    def forget_account(self, account: str) -> None:
        """The account's sessions directory is gone: nothing of it may stay in the figures."""
        for file_id, in self.conn.execute("SELECT id FROM files WHERE account = ?", (account,)).fetchall():
            self.drop_file(file_id)
        self.conn.execute("DELETE FROM sessions WHERE account = ?", (account,))
        self.conn.execute("DELETE FROM calls WHERE account = ?", (account,))
        self.conn.execute("DELETE FROM summaries WHERE account = ?", (account,))
        self._dirty.clear()

    # -- queries for the snapshot ---------------------------------------------------------------------
    def calls_for_keys(self, account: str, keys: set[str]) -> list[CallRow]:
        """The stored calls with these keys, as they are before a re-fold replaces them."""
        self._load_keys(keys)
        return self.conn.execute(
            "SELECT session, ts, model, input, output, cache_read, cache_write, copies, scope FROM calls"
            " WHERE account = ? AND call_key IN (SELECT call_key FROM keys)",
            (account,),
        ).fetchall()

    def calls_since(self, account: str, since: float) -> Iterator[tuple[str, float | None]]:
        """(session, ts) of the calls at or after `since`. A scan, not an index: scanning 50,000 calls
        costs ~10 ms, less than keeping a time index up to date on every write."""
        return self.conn.execute(
            "SELECT session, ts FROM calls WHERE account = ? AND ts >= ?", (account, since)
        )

    def call_rows(self, account: str) -> Iterator[CallRow]:
        return self.conn.execute(
            "SELECT session, ts, model, input, output, cache_read, cache_write, copies, scope FROM calls"
            " WHERE account = ?",
            (account,),
        )

    def file_diagnostics(self, account: str) -> FileDiagnostics:
        files, zero = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(zero + tail_zero), 0) FROM files WHERE account = ?", (account,)
        ).fetchone()
        skipped: dict[str, int] = {}
        for body, tail in self.conn.execute(
            "SELECT skipped, tail_skipped FROM files WHERE account = ? AND (skipped != '{}' OR tail_skipped != '{}')",
            (account,),
        ):
            skipped = _add_counts(_add_counts(skipped, json.loads(body)), json.loads(tail))
        return FileDiagnostics(int(files), skipped, int(zero))


def _counts_json(counts: dict[str, int]) -> str:
    return json.dumps(counts, sort_keys=True) if counts else "{}"


def _add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = merged.get(key, 0) + value
    return merged


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


def _move_aside(path: str, aside: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = Path(path + suffix)
        if source.exists():
            source.replace(aside + suffix)
