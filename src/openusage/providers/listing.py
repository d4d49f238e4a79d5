"""Directory listings remembered between runs, so that a warm walk need not list a directory again.

A listing (`scandir`) costs ~9 µs per directory here (open, fstat, two getdents, close); a `stat`
~2.6 µs. A directory's own stat (device, inode, mtime, ctime) changes whenever an entry in it is
added, removed or renamed, so a directory whose stat is what it was when it was listed holds the same
entries: the remembered ones are used instead (each file among them is still stat'ed by the walk, as
before: a file written in place does not change its directory).

The rule for the clock tick: a change within the same tick as the listing could leave the
directory's mtime and ctime as they were, and the change would be missed. So a listing is
remembered only when the directory's mtime and ctime are both at least `TRUST_AFTER_NS` older than
the clock at the start of the walk (before the directory was stat'ed): any later change then stamps
a newer time. A directory changed within the last few seconds is listed every time until it is
older.

What is remembered of a listing: its subdirectories and symlinks (whatever their names: the walk
may follow them) and the files with the names the walk looks for (`names`: a walk asking with
other names must not share the listings); everything else in
the directory is of no interest to the walk. A symlink's target is looked up again every time,
as `os.DirEntry` does, since the target can change without the directory changing.

Remembered per session (the unit the store asks about), as the body of one cache row
(`encode`/`decode`, sealed by the store): {holder: {path below the session directory: (signature,
entries)}}, short paths (a session name found in two holders is one session, walked in both).
"""

from __future__ import annotations

import marshal
import os
import stat
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from openusage.manifest import Observations

TRUST_AFTER_NS = 5_000_000_000  # a listing is kept only of a directory unchanged this long


def trusted_before(now_ns: int | None = None) -> int:
    """The newest mtime and ctime a stat may show for what it tells to be kept (a listing, a manifest,
    a config's keys): the clock, read before anything is stat'ed (now unless given), less
    `TRUST_AFTER_NS`. A change in the same clock tick as a read can leave both times as they were."""
    return (time.time_ns() if now_ns is None else now_ns) - TRUST_AFTER_NS


def unchanged_since(info: os.stat_result, before: int) -> bool:
    """Whether neither of `info`'s change times is later than `before` (`trusted_before`)."""
    return info.st_mtime_ns <= before and info.st_ctime_ns <= before
_FILE, _DIR, _LINK = 0, 1, 2

# A directory's listing: the hash of its device, inode, mtime_ns and ctime_ns, and (name, kind,
# inode) per entry kept (inode 0 but for a subdirectory: only a subdirectory's is asked for).
Remembered = tuple[int, tuple[tuple[str, int, int], ...]]
# holder -> the directory's path below `holder/session` ("" for that directory) -> its listing
SessionListings = dict[str, dict[str, Remembered]]
_NOTHING: dict[str, Remembered] = {}


class DirEntryLike(Protocol):
    """What the walk uses of an `os.DirEntry`."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    def is_dir(self) -> bool: ...

    def is_symlink(self) -> bool: ...

    def inode(self) -> int: ...

    def stat(self) -> os.stat_result: ...


class Entry:
    """A remembered entry, answering as the `os.DirEntry` it was listed as would (following symlinks
    for `is_dir` and `stat`, as `os.DirEntry` does by default)."""

    __slots__ = ("_inode", "_kind", "name", "path")

    def __init__(self, path: str, name: str, kind: int, inode: int) -> None:
        self.name = name
        self.path = path
        self._kind = kind
        self._inode = inode

    def is_dir(self) -> bool:
        if self._kind != _LINK:
            return self._kind == _DIR
        try:
            return stat.S_ISDIR(os.stat(self.path).st_mode)
        except FileNotFoundError:  # a dangling link, as os.DirEntry says it
            return False

    def is_symlink(self) -> bool:
        return self._kind == _LINK

    def inode(self) -> int:
        return self._inode

    def stat(self) -> os.stat_result:
        return os.stat(self.path)


class Listings:
    """The listings one process remembers for the sessions it walks: `entries` answers for a directory
    from memory when its stat allows, and lists it otherwise; `changes` says which sessions' rows to
    write again."""

    def __init__(self, stored: Mapping[str, bytes], now_ns: int | None = None) -> None:
        """`stored`: session -> the body its row holds; `now_ns`: the clock, read before any directory
        is stat'ed (the time now unless given)."""
        self._stored: dict[str, SessionListings] = {}
        for session, body in stored.items():
            listings = decode(body)
            if listings is not None:
                self._stored[session] = listings
        self._made: dict[str, SessionListings] = {}  # session -> what is true of it now
        self._trusted_before = trusted_before(now_ns)
        self.observed: Observations | None = None  # set when the scan keeps a manifest: every stat here

    def entries(self, directory: str, session: str, holder: str, names: AbstractSet[str]) -> list[DirEntryLike]:
        """The entries of `directory` (inside session `session`, held in `holder`: the directory is
        `holder/session` or below it) the walk needs: every subdirectory and symlink, and the files
        named `names`; raises as `os.scandir` does when the directory cannot be listed."""
        try:
            info = os.stat(directory)
        except OSError as exc:
            if self.observed is not None:
                if isinstance(exc, FileNotFoundError):
                    self.observed.absent(directory)  # not there yet (a session without agents)
                else:
                    self.observed.unusable()
            return _listed(directory)  # let the listing say what is wrong, as without memory
        if self.observed is not None:
            self.observed.directory(directory, info)
        # A hash of ints is the same in every process (only str and bytes hashes are salted).
        signature = hash((info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns))
        where = directory[len(holder) + len(session) + 1:]  # "" for the session directory itself
        stored = self._stored.get(session)
        kept = None if stored is None else stored.get(holder, _NOTHING).get(where)
        if kept is not None and kept[0] == signature:
            prefix = directory if directory.endswith("/") else directory + "/"
            try:
                children: list[DirEntryLike] = [Entry(prefix + name, name, kind, inode)
                                                for name, kind, inode in kept[1]]
            except (TypeError, ValueError):  # not what `encode` wrote: listed again
                pass
            else:
                self._keep(session, holder, where, kept)
                return children
        children = _listed(directory)
        if unchanged_since(info, self._trusted_before):
            entries = _remember(children, names)
            if entries is not None:
                self._keep(session, holder, where, (signature, entries))
        return children

    def _keep(self, session: str, holder: str, where: str, listing: Remembered) -> None:
        made = self._made.get(session)
        if made is None:
            made = self._made[session] = {}
        below = made.get(holder)
        if below is None:
            below = made[holder] = {}
        below[where] = listing

    def changes(self, sessions: AbstractSet[str]) -> dict[str, bytes | None]:
        """The rows to write for these sessions (those walked with files): a new body, or None to drop a
        remembered one that no longer holds."""
        changed: dict[str, bytes | None] = {}
        for session in sessions:
            made = self._made.get(session)
            if made == self._stored.get(session):
                continue
            changed[session] = None if made is None else encode(made)
        return changed


def _listed(directory: str) -> list[DirEntryLike]:
    with os.scandir(directory) as entries:
        return list(entries)


def _remember(children: list[DirEntryLike], names: AbstractSet[str]) -> tuple[tuple[str, int, int], ...] | None:
    """What to remember of a listing, or None when an entry's type cannot be told (then the directory
    is listed again next time)."""
    kept: list[tuple[str, int, int]] = []
    try:
        for entry in children:
            if not isinstance(entry, os.DirEntry):
                return None
            if entry.is_symlink():
                kept.append((entry.name, _LINK, 0))
            elif entry.is_dir(follow_symlinks=False):
                kept.append((entry.name, _DIR, entry.inode()))
            elif entry.name in names:
                kept.append((entry.name, _FILE, 0))
    except OSError:
        return None
    return tuple(kept)


def encode(listings: SessionListings) -> bytes:
    return marshal.dumps(listings)


def decode(body: bytes) -> SessionListings | None:
    """A session's remembered listings, or None when the body is not what `encode` wrote (then its
    directories are listed again)."""
    try:
        listings = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    if type(listings) is not dict:
        return None
    for below in listings.values():  # the rest is checked where it is used (`Listings.entries`)
        if type(below) is not dict:
            return None
    return listings
