"""The cache file on disk: made private, and why it cannot be used, in words.

The cache holds the paths and names of every session: its directory is made 0700 and its file 0600,
whatever the umask (SQLite gives its -wal and -shm files the mode of the database file). A file SQLite
says is damaged is `CacheDamaged` (moved aside and rebuilt by the store); any other failure is a
`CacheError` that says why (not writable, no space left), and the caller reads without the cache.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from openusage.errors import CacheError


class CacheDamaged(CacheError):
    """SQLite says the cache file is damaged ("database disk image is malformed"): the caller moves it
    aside (`Store.rebuild`) and starts again."""


# SQLite's words for tables that are not those of the schema the cache says it has (a hand edit, a
# damaged schema): the cache is as unusable as a damaged file, and is replaced the same way.
_NOT_OUR_TABLES = ("no such table", "no such column", "has no column named",
                   "Could not decode to UTF-8")  # the last: a text value that is not text, when opening


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the cache file is damaged, or holds tables other than the schema's."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return True
    return isinstance(exc, sqlite3.OperationalError) and any(words in str(exc) for words in _NOT_OUR_TABLES)


OPEN_TRIES = 45  # 0.01 s, 0.02 s, ... between them: ~10 s in all


_NOT_WRITABLE = (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH)


def unusable(path: str, exc: sqlite3.Error | OSError) -> CacheError:
    """Why the cache cannot be used (the caller reads without it), in words: not writable (a directory
    of mode 555, a read-only file system), a full disk, or what SQLite or the system said."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return CacheError(f"the cache {path} cannot be written: no space left on the device")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return CacheError(f"the cache {path} is not writable ({exc.strerror})")
        return CacheError(f"the cache {path} cannot be used ({exc.strerror or exc})")
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return CacheError(f"the cache {path} cannot be written: no space left on the device")
    if code in _NOT_WRITABLE:
        return CacheError(f"the cache {path} is not writable ({exc})")
    return CacheError(f"the cache {path} cannot be used ({exc})")


def private_dirs(directory: Path) -> None:
    """Make the cache directory, and any missing parent, 0700 whatever the umask: the cache holds the
    paths and names of every session. An existing directory is left as it is (it may be the user's),
    unless it is openusage's own (named so, and the user's): that one is made 0700 too."""
    _tighten_own(directory)
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with suppress(FileExistsError):  # another process made it meanwhile
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)  # a umask with owner bits would take them off mkdir's mode


def _tighten_own(directory: Path) -> None:
    """An `openusage` directory of this user's that others may read (made by hand, or by an older
    version): 0700, as every cache directory is."""
    with suppress(OSError):
        found = os.stat(directory)
        if directory.name == "openusage" and found.st_uid == os.getuid() and found.st_mode & 0o077:
            os.chmod(directory, 0o700)


def private_file(path: str) -> None:
    """Create the cache file 0600 before SQLite opens it (SQLite would make it 0644 less the umask),
    or take group and other bits off one made by an older version. SQLite gives its -wal and -shm
    files the mode of the database file, so they are 0600 too."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            with suppress(OSError):  # not ours to change (another user's cache): leave it
                os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        with suppress(OSError):
            if os.stat(path + suffix).st_mode & 0o077:
                os.chmod(path + suffix, 0o600)


def inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
