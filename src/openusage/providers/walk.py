"""The walk over a Kimi sessions directory (`<group>/<session>/.../wire.jsonl`), shared by the Kimi CLI
and Kimi Code providers, which keep one directory per session.

One `scandir` per directory and one `stat` per wire.jsonl and state.json; the walk is a generator, so
the cache compares each file as it is found. Directory symlinks are followed once each, so a loop
cannot hang it. Only regular files are listed to read: a wire.jsonl or state.json that is a FIFO, a
socket or a device (or a link to one) is counted unreadable and never opened. A directory the
scan's remembered listings (`listing.py`, set on the Walk) show unchanged is stat'ed, not listed.
"""

from __future__ import annotations

import errno
import os
import stat
from array import array
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING

from openusage.files import SMALL_FILE_LIMIT
from openusage.providers.agentfiles import STATE_NAME
from openusage.providers.base import Listing, NameIndex, SeenDirs, SessionDir, SessionList, Walk
from openusage.records import Source

if TYPE_CHECKING:
    from openusage.manifest import Observations
    from openusage.providers.listing import DirEntryLike

WIRE_NAME = "wire.jsonl"
AGENTS_NAME = "agents"
AGENT_DEPTH = 4  # sessions/<group>/<session>/agents/<agent>/
_LISTED_NAMES = frozenset((WIRE_NAME, STATE_NAME))  # the files a remembered listing keeps (listing.py)


def walk_sessions(sessions_dir: Path) -> Walk:
    """The sessions directory to walk, checked: found, or why not. The walk itself is two steps that
    can be split over processes with the same result: `list_sessions` (the directory and its groups,
    once) and `walk_session` (everything in one session).

    The session of a file is the directory two levels below `sessions_dir` (`<group>/<session>`).
    `agents_layout` (Kimi Code, given to `list_sessions` and `walk_session`): only
    `<group>/<session>/agents/<agent>/wire.jsonl` counts, and nothing else inside a session is walked;
    otherwise (Kimi CLI) a wire.jsonl at any depth counts.

    One `scandir` per directory and one `stat` per wire.jsonl and state.json; only symlinked
    directories are stat'ed for loop detection (a real directory's identity is its `d_ino` on the
    root's device). A directory reached twice (through a symlink) is walked once: the sessions
    directory, groups and sessions across the whole walk, anything deeper within its session.
    """
    walk = Walk()
    root = str(sessions_dir)
    try:
        info = os.stat(root)
    except FileNotFoundError:
        walk.found = False
        return walk
    except OSError as exc:
        walk.found = False
        walk.problem = f"cannot read {root}: {exc.strerror or exc}"
        return walk
    if not stat.S_ISDIR(info.st_mode):
        walk.found = False
        walk.problem = f"{root} is not a directory"
        return walk
    # A directory that cannot be listed or entered holds sessions we cannot see: that is an error to
    # show, not an empty history (one opendir, before any session is walked).
    try:
        with os.scandir(root):
            pass
        if not os.access(root, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        walk.found = False
        walk.problem = f"cannot read {root}: {exc.strerror or exc}"
        return walk
    walk.root = root
    walk.dirs = (root,)
    return walk


def explain_missing_home(walk: Walk, home: Path, named_by: str) -> Walk:
    """A sessions directory not found because the home the user named explicitly (`named_by`: an
    environment variable) does not exist, or is not a directory: that is an error to show, naming
    both, not a quiet "not found" (a typo in the name would otherwise look like an agent never used)."""
    if not walk.found and not home.is_dir():
        walk.problem = f"{named_by} names {home}, which {'is not a directory' if home.exists() else 'does not exist'}"
    return walk


def _identity(device: int, inode: int) -> int:
    return (device << 64) | inode


def list_sessions(walk: Walk, *, agents_layout: bool = False) -> SessionList:
    """Every session directory of the walk, for a scan (`_list_into`)."""
    listing = SessionList()
    _list_into(walk, listing, agents_layout)
    return listing


def index_sessions(walk: Walk, *, agents_layout: bool = False) -> NameIndex:
    """Where every session of the walk is, for the facts of a report: the scan's own listing, so both
    see the same sessions (a group reached through a symlink included), kept small (`NameIndex`)."""
    index = NameIndex()
    _list_into(walk, index, agents_layout)
    return index


def _list_into(walk: Walk, listing: Listing, agents_layout: bool) -> None:
    """The first two levels of the walk (the sessions directory and its groups), done once: every
    session directory (its holder is its group, shared by all its sessions), each once even when a
    symlink reaches it twice. `walk_session` then walks each session below that, in any order and in
    any process, with the same result. Files above the session level are added to `walk.top_sources`.

    In two passes, so that the directories walked need no set of one int per session: first every
    directory reached without a symlink (their inodes go to an array: such a directory has one name,
    so none of them is reached twice), then those reached through a symlink, each checked against all
    of the first pass and against each other. So a directory and a link to it are listed under the
    directory's own name, whatever order the directory lists them in."""
    root = walk.root
    info = os.stat(root)
    device = info.st_dev
    real: array[int] = array("Q")
    linked: set[int] = {_identity(device, info.st_ino)}
    top: list[Source] = []
    later: list[tuple[str, int, os.DirEntry[str]]] = []  # directories reached through a symlink
    # (directory, depth, and the session and holder of a wire file found in it, as `_children` names them)
    pending: list[tuple[str, int, str, str]] = [(root, 0, WIRE_NAME, os.path.dirname(root))]
    while pending:
        directory, depth, session, holder = pending.pop()
        for entry, is_link in _top_children(walk, directory, session, holder, agents_layout, top):
            if is_link:
                later.append((directory, depth, entry))
            elif depth + 1 == 2:
                real.append(entry.inode())
                listing.add(entry.name, directory)
            else:
                real.append(entry.inode())
                pending.append((entry.path, depth + 1, entry.name, directory))
    seen = SeenDirs(device, linked, real)
    for directory, depth, entry in later:
        _list_linked(walk, directory, depth, entry, agents_layout, listing, seen, top)
    walk.top_sources = top
    listing.seen, listing.device = seen, device


def _top_children(walk: Walk, directory: str, session: str, holder: str, agents_layout: bool,
                  top: list[Source]) -> Iterator[tuple[os.DirEntry[str], bool]]:
    """One directory above the sessions: its wire files go to `top` (as `session`, held in `holder`),
    its subdirectories are yielded, each with whether it is a symlink."""
    observed = walk.observed
    try:
        if observed is not None:  # a manifest keeps the directory's stat, taken before it is listed
            _observe_directory(observed, directory)
        with os.scandir(directory) as entries:
            children = list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:
        walk.unreadable += 1
        return
    for entry in children:
        try:
            if observed is not None and entry.is_symlink():
                observed.unusable()
            if entry.name == WIRE_NAME and not agents_layout and not entry.is_dir():
                info = entry.stat()
                if stat.S_ISREG(info.st_mode):
                    walk.add_source(entry.path, info, session, holder, top)
                else:  # a FIFO, a socket, a device: never opened
                    walk.unreadable += 1
            elif entry.is_dir():
                link = entry.is_symlink()
                yield entry, link
        except OSError:
            walk.unreadable += 1


def _list_linked(walk: Walk, directory: str, depth: int, entry: os.DirEntry[str], agents_layout: bool,
                 listing: Listing, seen: SeenDirs, top: list[Source]) -> None:
    """A directory above the sessions reached through a symlink, after every other: listed or walked
    unless a directory with its identity was already; what it holds is checked the same way."""
    pending: list[tuple[str, int, os.DirEntry[str], bool]] = [(directory, depth, entry, True)]
    linked = seen.linked
    assert isinstance(linked, set)
    while pending:
        parent, level, child, is_link = pending.pop()
        try:
            if is_link:
                target = child.stat()
                identity_key = _identity(target.st_dev, target.st_ino)
            else:
                identity_key = _identity(seen.device, child.inode())
        except OSError:
            walk.unreadable += 1
            continue
        if identity_key in seen:
            continue
        linked.add(identity_key)
        if level + 1 == 2:
            listing.add(child.name, parent)
            continue
        pending.extend((child.path, level + 1, grandchild, link) for grandchild, link
                       in _top_children(walk, child.path, child.name, parent, agents_layout, top))


def walk_session(walk: Walk, session: SessionDir, top: SessionList, *, agents_layout: bool = False) -> list[Source]:
    """Every wire.jsonl in one session directory (any depth), its state signature into `walk`."""
    seen: set[int] = set()  # within this session; `top.seen` is shared, never copied
    sources: list[Source] = []
    if agents_layout:
        return _agents_session(walk, session, top, seen, sources)
    pending: list[tuple[str, int, str, str]] = [(os.path.join(session.holder, session.name), 2, session.name,
                                                  session.holder)]
    while pending:
        directory, depth, name, holder = pending.pop()
        for _name, child in _children(walk, directory, depth, name, holder, agents_layout, top.device,
                                              seen, sources, top.seen):
            pending.append(child)
    return sources


def _children(walk: Walk, directory: str, depth: int, session: str, holder: str, agents_layout: bool, device: int,
              seen: set[int], sources: list[Source],
              seen_above: SeenDirs) -> Iterator[tuple[str, tuple[str, int, str, str]]]:
    """One directory of the walk: its wire files go to `sources`, its state file's signature to `walk`;
    yields the subdirectories to walk next (name, and their pending entry). A directory in
    `seen` or `seen_above` was walked already."""
    try:
        if walk.listings is None:
            if walk.observed is not None:  # a listing without its directory's stat: nothing to keep
                walk.observed.unusable()
            with os.scandir(directory) as entries:
                children: list[DirEntryLike] = list(entries)
        else:  # a directory unchanged since an earlier run listed it is not listed again
            children = walk.listings.entries(directory, session, holder, _LISTED_NAMES)
    except (FileNotFoundError, NotADirectoryError):
        return  # not there (a session without agents yet, or one removed while walked): nothing to read
    except OSError:
        walk.unreadable += 1
        return
    observed = walk.observed
    for entry in children:
        name = entry.name
        try:
            if observed is not None and entry.is_symlink():
                observed.unusable()
            if name == WIRE_NAME and (depth == AGENT_DEPTH or not agents_layout) and not entry.is_dir():
                info = entry.stat()
                if stat.S_ISREG(info.st_mode):
                    walk.add_source(entry.path, info, session, holder, sources)
                else:  # a FIFO, a socket, a device: never opened
                    walk.unreadable += 1
            elif name == STATE_NAME and depth == 2 and not entry.is_dir():
                _add_state(walk, session, entry.path, entry.stat())
            elif entry.is_dir():
                if agents_layout and (depth >= AGENT_DEPTH or (depth == 2 and name != AGENTS_NAME)):
                    continue
                if entry.is_symlink():
                    target = entry.stat()
                    identity_key = _identity(target.st_dev, target.st_ino)
                    walked = identity_key in seen or identity_key in seen_above
                else:
                    identity_key = _identity(device, entry.inode())
                    walked = identity_key in seen or seen_above.linked_only(identity_key)
                if walked:
                    continue
                seen.add(identity_key)
                if agents_layout and depth == AGENT_DEPTH - 1:
                    # An agent's directory holds one journal at a known name: a stat, not a listing.
                    _agent_journal(walk, entry.path, session, holder, sources)
                    continue
                yield name, (entry.path, depth + 1, session, holder)
        except OSError:
            walk.unreadable += 1


def _agents_session(walk: Walk, session: SessionDir, top: SessionList, seen: set[int],
                    sources: list[Source]) -> list[Source]:
    """A Kimi Code session: its layout is fixed (state.json, agents/<agent>/wire.jsonl), so its state
    file is a stat and only agents/ is listed; nothing else in the session is looked at."""
    path = os.path.join(session.holder, session.name)
    state_path = os.path.join(path, STATE_NAME)
    try:
        info = os.stat(state_path)
    except FileNotFoundError:
        if walk.observed is not None:
            walk.observed.absent(state_path)  # no state file (yet): one written later is noticed
    except OSError:  # the session directory cannot be entered: nothing in it can be read
        walk.unreadable += 1
        return sources
    else:
        if not stat.S_ISDIR(info.st_mode):
            _add_state(walk, session.name, state_path, info)
            # A session that exists, journal or not: its `forkedFrom` is a link in a fork's chain
            # (kimi-code-format.md: "through sessions that exist"), which must not stop here.
            walk.add_holder(session.name, session.holder)
        elif walk.observed is not None:
            walk.observed.file(state_path, info)
    agents = os.path.join(path, AGENTS_NAME)
    for _child in _children(walk, agents, 3, session.name, session.holder, True, top.device, seen, sources,
                            top.seen):
        pass  # at the agents level every directory is an agent: _children stats its journal
    return sources


def _agent_journal(walk: Walk, agent_dir: str, session: str, holder: str, sources: list[Source]) -> None:
    path = os.path.join(agent_dir, WIRE_NAME)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):  # a dangling link: a journal that cannot be read, as in a listing
            walk.unreadable += 1
        elif walk.observed is not None:
            walk.observed.absent(path)  # not written yet: one written later is noticed
        return
    except OSError:
        walk.unreadable += 1
        return
    if stat.S_ISREG(info.st_mode):
        walk.add_source(path, info, session, holder, sources)
    elif not stat.S_ISDIR(info.st_mode):  # a FIFO, a socket, a device: never opened
        walk.unreadable += 1
    elif walk.observed is not None:
        walk.observed.file(path, info)


def _observe_directory(observed: Observations, directory: str) -> None:
    """A directory's stat for the manifest, before it is listed (missing: kept as missing; any other
    failure: the listing says it, and no manifest is kept)."""
    try:
        observed.directory(directory, os.stat(directory))
    except FileNotFoundError:
        observed.absent(directory)
    except OSError:
        observed.unusable()


def _add_state(walk: Walk, session: str, path: str, info: os.stat_result) -> None:
    """A state file found. One that cannot be read as one (not a regular file, or larger than the bound
    on small files) is counted unreadable here, where every run sees it, and reads as empty; its
    signature is kept all the same, so that when it becomes a real file again it is read. The
    signature is what state.json looks like (`Walk.add_signature`)."""
    if not stat.S_ISREG(info.st_mode) or info.st_size > SMALL_FILE_LIMIT:
        walk.unreadable += 1
    if walk.observed is not None:
        walk.observed.file(path, info)
    walk.add_signature(session, hash((info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)))


def session_paths(holders: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """session -> its directories (usually one; the same name in two groups gives two)."""
    return {session: [os.path.join(holder, session) for holder in found] for session, found in holders.items()}


def count_sessions(sessions_dir: Path) -> int:
    """How many session directories (`<group>/<session>`) there are, for `openusage detect`."""
    count = 0
    try:
        with os.scandir(sessions_dir) as groups:
            for group in groups:
                if group.is_dir():
                    try:
                        with os.scandir(group.path) as sessions:
                            count += sum(1 for session in sessions if session.is_dir())
                    except OSError:
                        continue
    except OSError:
        return 0
    return count


def session_index(sessions_dir: Path) -> NameIndex:
    """Where every session under `sessions_dir` is (`index_sessions`), listed once for all the batches
    of one report; empty when the directory is not there or cannot be listed."""
    walk = walk_sessions(sessions_dir)
    if walk.found:
        try:
            return index_sessions(walk)
        except OSError:  # gone since it was checked
            pass
    return NameIndex()


def session_directories(index: NameIndex, wanted: AbstractSet[str]) -> dict[str, list[str]]:
    """The directories (`<group>/<session>`) of the wanted sessions in `index`, sorted: a name found in
    two groups has two."""
    return {name: sorted(os.path.join(holder, name) for holder in holders)
            for name, holders in index.holders_of(wanted).items()}


def sessions_counted(sessions_dir: Path) -> str:
    """"1 session", "12 sessions": how many session directories there are, said for `openusage detect`."""
    count = count_sessions(sessions_dir)
    return f"{count} session" if count == 1 else f"{count} sessions"
