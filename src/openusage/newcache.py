"""A cache file that does not exist yet: made in a file of its own, and moved into place when whole.

A first run fills the whole cache in one transaction (~10 MB for a 1 GB history). In WAL mode, how
every later run writes, each page goes to the -wal file first and is copied into the database by the
checkpoint when the connection closes: every page written twice, the copy in the serial end of the
run (docs/speed.md, "A new cache made aside"). So a cache that does not exist yet is made in
`<cache>.new-<pid>`, its rollback journal in memory (rollback works, nothing is written twice), and
linked into place by `Store.close`. A process killed while making it leaves no cache at all, never
half of one: the next run makes it again, and removes the file the killed one left. It is made a WAL
database just before it is put in place, as every cache is.

The command that makes it puts it in place as soon as its refresh is done (`Store.put_in_place`),
before what else it does (a remote tile's wait), and at the latest when it closes it. While one
process makes it, any other that finds no cache waits for it (an exclusive `flock` on
`<cache>.lock`, held from the start until the file is in place), then opens what was made: as with
a cache that exists, one process reads the files and the others find nothing left to do. The wait is
bounded as SQLite's busy wait on a lock is (`LOCK_WAIT`); past it, the cache is not used this time.
Where there is no `flock` (no `fcntl` module, or a file system that refuses it), the cache is made in
place, in WAL mode, as it is when it exists.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from contextlib import suppress

from openusage.errors import CacheError

LOCK_WAIT = 60.0  # seconds, as long as SQLite's busy wait on a cache that exists (`Store._connect`)
_POLL = 0.01  # between two tries of the lock while another process makes the cache
ASIDE_MARK = ".new-"  # `<cache>.new-<pid>`: a cache being made, or one a killed process left


class NewCache:
    """The lock on making the cache at `path`, held, and the file it is made in (`aside`)."""

    __slots__ = ("_lock", "aside", "path")

    def __init__(self, path: str, aside: str, lock: int) -> None:
        self.path = path
        self.aside = aside
        self._lock = lock

    def place(self) -> bool:
        """Put the made file in place and let go of the lock: True. False, nothing changed, when a cache
        is there by now (another process's, which stays). Raises `OSError` when it cannot be put there
        (the file aside and the lock are kept)."""
        if os.path.lexists(self.path):
            return False
        # A -wal or -shm the path's last file left (that file deleted by hand) would be read as this
        # file's: SQLite checks a WAL against itself, not against the database it opens.
        for suffix in ("-wal", "-shm", "-journal"):
            with suppress(FileNotFoundError):
                os.unlink(self.path + suffix)
        if not _link(self.aside, self.path):
            return False
        with suppress(FileNotFoundError):  # gone already where it was renamed into place
            os.unlink(self.aside)
        self.release()
        return True

    def publish(self) -> None:
        """`place`, and in any case nothing left aside and the lock let go. Raises `OSError` when the
        file cannot be put in place."""
        try:
            self.place()
        finally:
            with suppress(FileNotFoundError):
                os.unlink(self.aside)
            self.release()

    def release(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)  # the lock goes with the descriptor
            self._lock = -1


def begin(path: str) -> NewCache | None:
    """When there is no cache at `path`: the lock on making it, and the file to make it in; None when
    there is one (made by the process this one waited for, say), or where a cache cannot be made
    aside (no `flock`, or its lock file's name taken by something else): then it is made in place.
    Raises `CacheError` when another process has been making it for longer than `LOCK_WAIT`, `OSError`
    when the lock file cannot be made for want of permission or room."""
    if os.path.lexists(path):
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the platforms openusage runs on
        return None
    try:
        # Read-only (flock needs no more: a lock file made read-only is still one), never blocking, never
        # a terminal: whatever took its name (a FIFO) cannot hang us.
        lock = os.open(path + ".lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
            raise  # the cache could not be made in place either: the caller says why
        return None  # something else holds the name (a directory): made in place, as before
    try:
        if not _locked(fcntl.flock, fcntl.LOCK_EX | fcntl.LOCK_NB, lock, path):
            os.close(lock)
            return None
        if os.path.lexists(path):  # made by the process this one waited for
            os.close(lock)
            return None
        _remove_left(path)
        return NewCache(path, f"{path}{ASIDE_MARK}{os.getpid()}", lock)
    except BaseException:
        with suppress(OSError):
            os.close(lock)
        raise


def _locked(flock: Callable[[int, int], None], flags: int, lock: int, path: str) -> bool:
    """Take the lock (`flock(lock, flags)`, without blocking), trying again for as long as another
    process holds it, up to `LOCK_WAIT`; False where `flock` does not work (a network file system
    without it, a lock file that is not a regular file)."""
    until = time.monotonic() + LOCK_WAIT
    while True:
        try:
            flock(lock, flags)
            return True
        except BlockingIOError:
            if time.monotonic() > until:
                raise CacheError(f"the cache {path} has been in the making by another process for over "
                                 f"{LOCK_WAIT:.0f} s") from None
            time.sleep(_POLL)
        except OSError:
            return False


def _remove_left(path: str) -> None:
    """Remove what makers killed before they were done left (`<cache>.new-<pid>`): with the lock held,
    no other process is making one."""
    directory, name = os.path.split(path)
    prefix = name + ASIDE_MARK
    with suppress(OSError), os.scandir(directory or ".") as entries:
        for entry in entries:
            if entry.name.startswith(prefix):
                with suppress(OSError):
                    os.unlink(entry.path)


def _link(made: str, path: str) -> bool:
    """`made` at `path` too (True), unless something is at `path` by now (False). A hard link never
    replaces; where the file system has none, a rename (the lock keeps other makers out meanwhile)."""
    try:
        os.link(made, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(path):
            return False
        os.rename(made, path)
    return True
