"""Where Codex CLI keeps its rollouts, and which session each one is.

`<root>/sessions/YYYY/MM/DD/rollout-<local time>-<thread id>.jsonl` and the flat
`<root>/archived_sessions/`: every `rollout-*.jsonl` under either, at any depth, is listed as a file of
the thread named by the UUID at the end of its name (Codex names the file after the thread's id). A
thread's live rollout and its archived copy are one session found in two holders; the scan reads
both and the copies of each call fold into one. The thread a file holds is the one its first
`session_meta` names, which its head says once read: a rollout named after another id is listed under
that name and joins its thread's session (`session_info`, `SessionInfo.thread`). No folder is skipped
for its date: a resumed session keeps appending to its original, possibly months-old, folder.

A session's holder is its rollout file itself, so `walk_session` is one `stat`. Its state, for the
owner rule, is the head of its rollout: the `session_meta` lines a fork or a subagent copies from its
ancestors, read by `session_info` when the file can have changed (the signature: its device, inode,
size and mtime). Codex only appends to a rollout, but a file rewritten in place, even past its first
256 KiB, must not keep the lineage of what it held before (a warm run would then differ from a cold
one), and a head re-read is one small read of a file that is read anyway.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from openusage.files import open_regular
from openusage.providers.base import Listing, NameIndex, SessionDir, SessionList, Walk
from openusage.records import SessionInfo, Source

if TYPE_CHECKING:
    from openusage.hot import HeadLines

PREFIX = "rollout-"
SUFFIX = ".jsonl"
LIVE_DIR = "sessions"
ARCHIVED_DIR = "archived_sessions"
# The upstream provider of a thread whose `session_meta` names no other (codex-cli-format.md: "usually
# openai"); a thread that names another keeps it in its state (`SessionInfo.upstream`).
USUAL_UPSTREAM = "openai"
# The ancestry lines sit at the top of a rollout: its own session_meta, then the copied ones, read a
# block at a time up to the first line of its history (a session_meta carries the base instructions:
# often tens of kilobytes, with no limit).
HEAD_BLOCK = 32 * 1024
# What the head passes over before it gives up, so that a damaged rollout costs what its scan costs:
# lines that are no session_meta and none of the history (blanks, junk, kinds Codex may add; a fork
# with a few of them at its top or between its copied lines is read whole), and one line longer than
# any session_meta (its base instructions are tens of kilobytes): a file of zeros, one endless line,
# was held whole in memory (300 MB of them: 316 MB of RSS), and one of junk lines read line by line.
HEAD_PASSES = 64
HEAD_LINE_LIMIT = 8 * 1024 * 1024
_UUID_LENGTH = 36
_HEX = frozenset("0123456789abcdefABCDEF")


def check(dirs: list[str]) -> Walk:
    """The directories that exist, checked: the walk is found when one of them is a directory."""
    walk = Walk()
    kept: list[str] = []
    for directory in dirs:
        try:
            info = os.stat(directory)
        except FileNotFoundError:
            continue
        except OSError as exc:
            walk.problem = walk.problem or f"cannot read {directory}: {exc.strerror or exc}"
            continue
        if not stat.S_ISDIR(info.st_mode):
            walk.problem = walk.problem or f"{directory} is not a directory"
            continue
        kept.append(directory)
    walk.dirs = tuple(kept)
    walk.found = bool(kept)
    walk.root = kept[0] if kept else ""
    if kept:
        walk.problem = None  # one usable directory is enough: the other is reported by `detect`
    return walk


def thread_id(file_name: str) -> str:
    """The thread a rollout belongs to: the UUID its name ends with, else the name without `.jsonl`."""
    stem = file_name[:-len(SUFFIX)] if file_name.endswith(SUFFIX) else file_name
    tail = stem[-_UUID_LENGTH:]
    if len(tail) == _UUID_LENGTH and tail.count("-") == 4 and _HEX.issuperset(tail.replace("-", "")):
        return tail
    return stem


def list_sessions(walk: Walk) -> SessionList:
    """Every rollout under the walk's directories, as (thread id, its path), for a scan."""
    found = SessionList()
    _list_into(walk, found)
    return found


def index_sessions(walk: Walk) -> NameIndex:
    """Every rollout under the walk's directories, for the facts of a report: the scan's own listing,
    kept small (`NameIndex`)."""
    index = NameIndex()
    _list_into(walk, index)
    return index


def _list_into(walk: Walk, found: Listing) -> None:
    """Every rollout under the walk's directories into `found`, its path as its directory and its
    name (`SessionList.add`: a directory's path is kept once, not once per thread). One `scandir` per
    directory; a directory reached twice (through a symlink) is walked once."""
    seen: set[tuple[int, int]] = set()
    for root in walk.dirs:
        try:
            info = os.stat(root)
        except OSError:
            walk.unreadable += 1
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        pending = [(root, info.st_dev)]
        while pending:
            directory, device = pending.pop()
            prefix = ""  # the directory as its entries' paths begin (with its separator), kept once
            for entry in _entries(walk, directory, info if directory is root else None):
                name = entry.name
                try:
                    if walk.observed is not None and entry.is_symlink():
                        walk.observed.unusable()  # what a link reaches is not in the manifest's stats
                    if entry.is_dir():
                        target = entry.stat() if entry.is_symlink() else None
                        identity = (target.st_dev, target.st_ino) if target else (device, entry.inode())
                        if identity not in seen:
                            seen.add(identity)
                            pending.append((entry.path, identity[0]))
                    elif name.startswith(PREFIX) and name.endswith(SUFFIX):
                        prefix = prefix or entry.path[:-len(name)]
                        found.add(thread_id(name), prefix, name)  # held by `entry.path`
                except OSError:
                    walk.unreadable += 1


def _entries(walk: Walk, directory: str, info: os.stat_result | None) -> Iterator[os.DirEntry[str]]:
    """The entries of `directory`, one at a time: `archived_sessions` is flat, and its 30,000 entries
    held at once took 12 MiB of a report's peak. `info`: its stat, taken before (for a manifest, which
    keeps it). An error part way keeps the entries given already."""
    try:
        if walk.observed is not None:
            walk.observed.directory(directory, info if info is not None else os.stat(directory))
        with os.scandir(directory) as entries:
            yield from entries
    except FileNotFoundError:
        if walk.observed is not None:
            walk.observed.unusable()  # removed while walked: its parent has changed, so says the next walk
        return  # removed while walked: nothing to read
    except OSError:
        walk.unreadable += 1


def walk_session(walk: Walk, session: SessionDir, listing: SessionList) -> list[Source]:
    """One rollout: a `stat`, its identity and the signature of its head."""
    path = session.holder
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if walk.observed is not None:
            walk.observed.absent(path)
        return []  # removed since it was listed
    except OSError:
        walk.unreadable += 1
        return []
    if stat.S_ISDIR(info.st_mode):
        if walk.observed is not None:
            walk.observed.file(path, info)
        return []
    if not stat.S_ISREG(info.st_mode):  # a FIFO, a socket, a device: never opened
        walk.unreadable += 1
        return []
    sources: list[Source] = []
    walk.add_source(path, info, session.name, path, sources)
    walk.add_signature(session.name, hash((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)))
    return sources


def count_sessions(dirs: list[str]) -> int:
    """How many threads have a rollout (an archived copy is the same thread), for `openusage detect`."""
    walk = check(dirs)
    return len({session.name for session in list_sessions(walk)})


def session_info(holders: Mapping[str, list[str]], heads: Mapping[str, bytes] | None = None) -> dict[str, SessionInfo]:
    """Each thread's fork or subagent parent, the further ancestors its head names (so that a fork
    whose parent's file is gone still descends from its grandparent) and, for a subagent, the thread
    whose session it is part of, read from the `session_meta` lines at the head of its rollout(s).
    Every rank is 0: among holders none of which descends from another, the thread id that sorts
    first owns a call (codex-cli-format.md, "Readings settled" 3). A thread with a live and an
    archived rollout takes the longer chain, and the thread it joins by that same head, whichever
    rollout is read first; and the links of both heads ("Readings settled" 1: every session_meta
    line). The upstream provider its own line names, unless it is the usual one (`USUAL_UPSTREAM`):
    the calls the thread owns are that provider's ("Readings settled" 8); and those the copies name for
    other threads, unless usual: a thread whose own rollout is gone is known by them. `heads`: the
    first `HEAD_BLOCK` bytes of rollouts a full read just read (`_head`)."""
    from openusage.lineage import chain_links
    from openusage.providers.codex_cli.rollout import head_lineage  # the decoder loads only when needed

    infos: dict[str, SessionInfo] = {}
    first = heads or {}
    for session, paths in holders.items():
        # The rollout whose head names the most ancestors (an archived copy may have lost its copied
        # lines), and the thread it joins by that same head: the two go together.
        lineages = [head_lineage(_head(path, first.get(path))) for path in paths]
        chain, joins, _, upstream, _, own = lineages[0] if len(lineages) == 1 else max(
            lineages, key=lambda head: (len(head.chain), head.chain, head.joins or "", head.upstream or "",
                                        head.own or ""),
            default=((), None, (), None, (), None))
        # A rollout named after another id than its first session_meta's is that thread's ("Session
        # id"): its calls count toward that thread's session, as a subagent's toward its spawner's.
        thread = own if own is not None and own != session else None
        if thread is not None and joins is None:
            joins = thread
        # Most sessions' states then hold no links at all (a refresh loads every such state: ~2,000 of
        # them on the 1 GB Codex home cost ~10 ms more with them).
        links: tuple[tuple[str, str, bool], ...] = ()
        told: tuple[tuple[str, str], ...] = ()
        # Most heads name no link and no other thread's provider: nothing to sort then (a cold scan of
        # the 1 GB Codex home: ~2,600 sessions).
        if any(head.links for head in lineages):
            said = set(chain_links(session, chain, joins))
            links = tuple(sorted({link for head in lineages for link in head.links if link not in said}))
        if any(head.told for head in lineages):
            told = tuple(sorted({one for head in lineages for one in head.told if one[1] != USUAL_UPSTREAM}))
        infos[session] = SessionInfo(0, chain[0] if chain else None, joins, chain[1:], links,
                                     None if upstream == USUAL_UPSTREAM else upstream, told, thread)
    return infos


def _head(path: str, first: bytes | None = None) -> list[bytes]:
    """The complete lines at the top of a rollout that hold a `session_meta`, read in blocks and no
    further than the first line of its history (`_HISTORY`: a fork's copied ancestry comes right
    after its own line; blanks, a line that cannot be an object (`hot.suspect`) and a line of a kind
    Codex may add, which a scan passes over, are passed over, above the first session_meta too),
    each up to `HEAD_LINE_LIMIT` long, and passing over `HEAD_PASSES` lines at most (past either, the head
    ends there). Nothing when the file cannot be read. `first`: the file's first block as the
    read of the whole file saw it (`HEAD_BLOCK` bytes, or the whole file when shorter): the file is
    opened only when the head goes on past it (a full read of 2,671 rollouts opened each a second
    time, ~35 ms of CPU; docs/speed.md, "One pass for several needles"). Each block's lines are
    judged by `hot.head_lines`, compiled where the reader is."""
    if not _HEAD_LINES:
        from openusage.hot import head_kernel  # read paths only: a warm run lists rollouts without it

        _HEAD_LINES.append(head_kernel())
    head_lines = _HEAD_LINES[0]
    fd = -1
    lines: list[bytes] = []
    pending = bytearray()  # the line being read: a long one grows in place, never copied whole per block
    offset = passes = 0
    try:
        while True:
            if offset == 0 and first is not None:
                block = first
            else:
                if first is not None and len(first) < HEAD_BLOCK:
                    break  # the whole file was the first block
                if fd < 0:
                    fd, _info = open_regular(path)  # never blocks on a FIFO, refuses a device
                block = os.pread(fd, HEAD_BLOCK, offset)
            if not block:
                break
            offset += len(block)
            start = 0
            if pending:  # the line the block before ended in: judged whole, once it ends
                end = block.find(b"\n")
                if end < 0:
                    pending += block
                    if len(pending) > HEAD_LINE_LIMIT:
                        return lines
                    continue
                pending += block[: end + 1]
                done, _, passes = head_lines(pending, 0, _META, _HISTORY, lines, passes, HEAD_PASSES)
                pending.clear()
                if done:
                    return lines
                start = end + 1
            done, start, passes = head_lines(block, start, _META, _HISTORY, lines, passes, HEAD_PASSES)
            if done:
                return lines
            pending += block[start:]
            if len(pending) > HEAD_LINE_LIMIT:
                return lines
    except OSError:
        return []
    finally:
        if fd >= 0:
            os.close(fd)
    return lines


_HEAD_LINES: list[HeadLines] = []  # the head's judge of a block, chosen once
_META = b'"session_meta"'
# The kinds a rollout's history is made of (codex-cli-format.md, "`type` values"), each found by its
# quoted name anywhere in the line: a line of another kind (Codex adds kinds) that quotes one in its
# payload also ends the head, as every line but a session_meta did before.
_HISTORY = (b'"event_msg"', b'"turn_context"', b'"response_item"', b'"compacted"')
