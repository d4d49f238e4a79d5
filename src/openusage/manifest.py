"""The warm check: whether anything the last comparison looked at has changed, in one pass of `stat`s.

A warm comparison (`scan._compare`) walks every session, asks the store what it knows of each and
compares, file by file: on a 1 GB Kimi CLI home ~8,000 `stat`s and the Python around them, 60-70 ms
of a 0.11 s run. Yet what it finds is decided by those `stat`s alone: a directory whose own stat is
unchanged holds the same entries (the rule `providers/listing.py` already relies on, with its clock
tick guard), and a file or state file whose stat is unchanged is not read. So when a comparison finds
nothing to read, the paths it stat'ed and what each stat said are kept (the manifest, one row per
account, tied to the account's generation in the store); the next run stats those paths again, and
when every one says the same, nothing has changed and the comparison is skipped: the stored ledger
answers, exactly as the comparison would have let it.

What a manifest is only made of, so that "the same stats" means "the same comparison":
- every directory the walk listed or looked into, stat'ed before it was listed, and changed at least
  `listing.TRUST_AFTER_NS` before the walk began (an entry added in the same clock tick as the listing could
  leave the directory's times as they were);
- every file the walk stat'ed (the files to read, state files), and every path it found missing (a
  state file, an agent's journal not written yet: one appearing later must be noticed);
- no symlink anywhere, and nothing unreadable (a link's target, a directory that could not be
  listed: what they hide is not in any stat of the walk), else no manifest is kept.
Each path's mode, device, inode, size, mtime_ns and ctime_ns are compared (as unsigned 64-bit values);
a path that is missing compares as all zeros.

The check itself is `differ`: the compiled one in `openusage._manifest` (`native.load`: not with
OPENUSAGE_PURE, not a stale build), else `differ_pure`, its reference; tests hold them equal.
"""

import marshal
import os
from array import array
from collections.abc import Callable, Mapping
from functools import cache
from typing import NamedTuple

from openusage import native
from openusage.providers import listing

FORMAT = 1  # the body's layout; another one is not used (the comparison runs, and keeps a new one)
NATIVE_VERSION = 1  # the contract `_manifest.c` implements (its MANIFEST_VERSION); a stale build is refused
# Past this many sessions no manifest is made: its paths and stats, held while the comparison walks and
# then stored and read back whole, grow with the history (~0.5 KiB a path while observed; at 200,000
# sessions a warm run held 650 MiB making one, a report 320 MiB reading it), against a memory budget of
# 80 MiB at any size. Below it (the 1 GB test homes have ~2,000 sessions) a manifest stays under ~10 MB;
# above it a warm run compares as it did before manifests, in bounded memory.
MAX_SESSIONS = 20_000
_MASK = (1 << 64) - 1
_FIELDS = 6  # mode, dev, ino, size, mtime_ns, ctime_ns
_ABSENT = (0,) * _FIELDS


# What a path is to the walk, kept beside it (one byte each): a directory listed, a file to read found
# by a session's walk or by the listing above the sessions, another file stat'ed, a path found missing.
DIRECTORY, SOURCE, TOP_SOURCE, OTHER, ABSENT = b"D"[0], b"F"[0], b"T"[0], b"S"[0], b"A"[0]


class Observations:
    """What one process's part of a comparison stat'ed, kept while it walks (the walk's `observed`):
    paths, what each is, its stats and (for a file to read) its session and holder, in walk order, and
    whether they can make a manifest at all (`usable`)."""

    __slots__ = ("kinds", "owners", "paths", "sources", "stats", "trusted_before", "usable")

    def __init__(self, now_ns: int | None = None, *, top: bool = False) -> None:
        self.paths: list[str] = []
        self.stats: list[int] = []  # _FIELDS per path
        self.kinds = bytearray()
        self.owners: list[tuple[str, str] | None] = []  # (session, holder) of a file to read
        self.sources = TOP_SOURCE if top else SOURCE  # `top`: the listing above the sessions records
        self.usable = True
        # The clock before anything is stat'ed: a directory changed after this minus the guard (the one
        # remembered listings keep) is not kept.
        self.trusted_before = listing.trusted_before(now_ns)

    def directory(self, path: str, info: os.stat_result) -> None:
        """A directory, stat'ed before it was listed."""
        if not listing.unchanged_since(info, self.trusted_before):
            self.usable = False
        self._add(path, _fields(info), DIRECTORY, None)

    def source(self, path: str, info: os.stat_result, session: str, holder: str) -> None:
        """A file to read (`Walk.add_source`), of `session` found in `holder`."""
        self._add(path, _fields(info), self.sources, (session, holder))

    def file(self, path: str, info: os.stat_result) -> None:
        """Any other path the walk stat'ed (following symlinks, as the walk does)."""
        self._add(path, _fields(info), OTHER, None)

    def absent(self, path: str) -> None:
        """A path the walk looked for and found missing."""
        self._add(path, _ABSENT, ABSENT, None)

    def unusable(self) -> None:
        """The walk met something its stats do not tell (a symlink, an unreadable entry)."""
        self.usable = False

    def _add(self, path: str, fields: tuple[int, ...], kind: int, owner: tuple[str, str] | None) -> None:
        self.paths.append(path)
        self.stats.extend(fields)
        self.kinds.append(kind)
        self.owners.append(owner)

    def extend(self, other: "Parts") -> None:
        """Another process's observations (`parts`), added."""
        paths, stats, kinds, owners, usable = other
        self.paths.extend(paths)
        self.stats.extend(stats)
        self.kinds.extend(kinds)
        self.owners.extend(owners)
        self.usable = self.usable and usable

    def parts(self) -> "Parts":
        """What crosses a worker's pipe (plain values, for marshal)."""
        return self.paths, self.stats, bytes(self.kinds), self.owners, self.usable


Parts = tuple[list[str], list[int], bytes, list[tuple[str, str] | None], bool]


def _fields(info: os.stat_result) -> tuple[int, int, int, int, int, int]:
    return (info.st_mode & _MASK, info.st_dev & _MASK, info.st_ino & _MASK, info.st_size & _MASK,
            info.st_mtime_ns & _MASK, info.st_ctime_ns & _MASK)


class Manifest:
    """A stored manifest: the walk's directories it was made for, every path, what its stat said and
    what it is to the walk."""

    __slots__ = ("_owners", "dirs", "expected", "kinds", "paths")

    def __init__(self, dirs: tuple[str, ...], paths: bytes, expected: bytes, kinds: bytes, owners: bytes) -> None:
        self.dirs = dirs  # the walk's directories (`Walk.dirs`): another root is another walk
        self.paths = paths  # every path, file-system encoded, each ended by a NUL
        self.expected = expected  # _FIELDS unsigned 64-bit values per path, native byte order
        self.kinds = kinds  # DIRECTORY, SOURCE... per path
        self._owners = owners  # marshalled: decoded only when a file changed (`owners`)

    def owners(self) -> list[tuple[str, str] | None] | None:
        """(session, holder) of each file to read, None for any other path; None when not readable."""
        try:
            owners = marshal.loads(self._owners)
        except (EOFError, ValueError, TypeError):
            return None
        if type(owners) is not list or len(owners) != len(self.kinds):
            return None
        return owners

    def path(self, index: int) -> str:
        """The path at `index` (a few, for what changed: the blob is not split for them all)."""
        start = 0
        for _ in range(index):
            start = self.paths.index(b"\0", start) + 1
        return os.fsdecode(self.paths[start:self.paths.index(b"\0", start)])

    def with_stats(self, seen: Observations) -> bytes | None:
        """This manifest with the stats `seen` says now of some of its paths: None when one of those is
        not in it, or is now something else, or the observations are not usable."""
        if not seen.usable:
            return None
        # Split once and looked up encoded: decoding every path would cost more than the rest of the run.
        at = {path: index for index, path in enumerate(self.paths.split(b"\0")[:-1])}
        stats = array("Q")
        stats.frombytes(self.expected)
        for number, path in enumerate(seen.paths):
            index = at.get(os.fsencode(path))
            if index is None or self.kinds[index] != seen.kinds[number]:
                return None
            start, end = number * _FIELDS, (number + 1) * _FIELDS
            stats[index * _FIELDS:(index + 1) * _FIELDS] = array("Q", seen.stats[start:end])
        return marshal.dumps((FORMAT, self.dirs, self.paths, stats.tobytes(), self.kinds, self._owners))


def encode(dirs: tuple[str, ...], seen: Observations) -> bytes | None:
    """The body to store, or None when these observations cannot make a manifest (a path holding a NUL
    cannot be one either: none can, but nothing is assumed)."""
    if not seen.usable or not seen.paths:
        return None
    encoded = [os.fsencode(path) for path in seen.paths]
    if any(b"\0" in path for path in encoded):
        return None
    expected = array("Q", seen.stats)
    return marshal.dumps((FORMAT, dirs, b"\0".join(encoded) + b"\0", expected.tobytes(), bytes(seen.kinds),
                          marshal.dumps(seen.owners)))


def decode(body: bytes) -> Manifest | None:
    """A stored body, or None when it is not one this version wrote (then the comparison runs)."""
    try:
        fmt, dirs, paths, expected, kinds, owners = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    if (fmt != FORMAT or type(dirs) is not tuple or not all(type(d) is str for d in dirs)
            or type(paths) is not bytes or type(expected) is not bytes or type(kinds) is not bytes
            or type(owners) is not bytes or not paths.endswith(b"\0")
            or len(kinds) != paths.count(b"\0") or len(expected) != len(kinds) * _FIELDS * 8):
        return None
    return Manifest(dirs, paths, expected, kinds, owners)


def differ_pure(paths: bytes, expected: bytes) -> list[int]:
    """The indices of the paths whose stat is not what `expected` says (missing: all zeros). The
    reference of `_manifest.differ`."""
    wanted = array("Q")
    wanted.frombytes(expected)
    changed: list[int] = []
    for index, path in enumerate(paths.split(b"\0")[:-1]):
        try:
            now: tuple[int, ...] = _fields(os.stat(path))
        except FileNotFoundError:
            now = _ABSENT
        except (OSError, ValueError):
            changed.append(index)  # cannot be stat'ed: the comparison says what it is
            continue
        at = index * _FIELDS
        if now != tuple(wanted[at:at + _FIELDS]):
            changed.append(index)
    return changed


class Check(NamedTuple):
    differ: Callable[[bytes, bytes], list[int]]
    compiled: bool
    why: str  # what runs, or why the compiled form does not


def choose(environ: Mapping[str, str] = os.environ) -> Check:
    """The compiled check when it can be used (`native.load`), else `differ_pure`."""
    loaded = native.load("openusage._manifest", "MANIFEST_VERSION", NATIVE_VERSION, environ)
    if loaded.module is None:
        return Check(differ_pure, False, loaded.why)
    return Check(loaded.module.differ, True, loaded.why)


def differ(paths: bytes, expected: bytes) -> list[int]:
    """`differ_pure`, compiled when it may be (`choose`, once per process)."""
    return _chosen().differ(paths, expected)


@cache
def _chosen() -> Check:
    return choose()


def changed(manifest: Manifest, dirs: tuple[str, ...]) -> list[int] | None:
    """The indices of the manifest's paths that stat otherwise now (empty: nothing changed); None when
    it was made for other directories."""
    if manifest.dirs != dirs:
        return None
    return differ(manifest.paths, manifest.expected)
