"""The walk over an agent's sessions directory, shared by the providers that keep one file per session.

One `scandir` per directory and one `stat` per wire.jsonl and state.json; the walk is a generator, so
the cache compares each file as it is found. Directory symlinks are followed once each, so a loop
cannot hang it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from openusage.providers.agentfiles import STATE_NAME
from openusage.providers.base import Walk
from openusage.records import Source

WIRE_NAME = "wire.jsonl"
AGENTS_NAME = "agents"
AGENT_DEPTH = 4  # sessions/<group>/<session>/agents/<agent>/


def walk_sessions(sessions_dir: Path, *, agents_layout: bool = False) -> Walk:
    """Every wire.jsonl under `sessions_dir`, with its identity, and each session's state signature.

    The session of a file is the directory two levels below `sessions_dir` (`<group>/<session>`).
    `agents_layout` (Kimi Code): only `<group>/<session>/agents/<agent>/wire.jsonl` counts, and nothing
    else inside a session is walked; otherwise (Kimi CLI) a wire.jsonl at any depth counts.

    `walk.sources` is a generator: the caller compares each file with the cache as the walk finds it,
    so no list of every file is built. One `scandir` per directory and one `stat` per wire.jsonl and
    state.json; only symlinked directories are stat'ed for loop detection (a real directory's
    identity is its `d_ino` on the root's device).
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
    walk.sources = _sources(walk, root, info, agents_layout)
    return walk


def _sources(walk: Walk, root: str, root_info: os.stat_result, agents_layout: bool) -> Iterator[Source]:
    device = root_info.st_dev
    seen: set[tuple[int, int]] = {(device, root_info.st_ino)}
    # (directory, depth below sessions/, its session, the directory holding the session's directory);
    # depth 2 is a session. The holder is shared by all of a group's sessions: one string, not one each.
    pending: list[tuple[str, int, str, str]] = [(root, 0, WIRE_NAME, os.path.dirname(root))]
    while pending:
        directory, depth, session, holder = pending.pop()
        try:
            with os.scandir(directory) as entries:
                children = list(entries)
        except OSError:
            walk.unreadable += 1
            continue
        for entry in children:
            name = entry.name
            try:
                if name == WIRE_NAME and (depth == AGENT_DEPTH or not agents_layout) and not entry.is_dir():
                    info = entry.stat()
                    _add_session_dir(walk, session, holder)
                    identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
                    yield Source(entry.path, session, identity)
                elif name == STATE_NAME and depth == 2 and not entry.is_dir():
                    _add_signature(walk, session, entry.stat())
                elif entry.is_dir():
                    if agents_layout and (depth >= AGENT_DEPTH or (depth == 2 and name != AGENTS_NAME)):
                        continue
                    if entry.is_symlink():
                        target = entry.stat()
                        identity_key = (target.st_dev, target.st_ino)
                    else:
                        identity_key = (device, entry.inode())
                    if identity_key in seen:
                        continue
                    seen.add(identity_key)
                    if depth < 2:  # a group, then a session: the session is the directory at depth 2
                        pending.append((entry.path, depth + 1, name, directory))
                    else:
                        pending.append((entry.path, depth + 1, session, holder))
            except OSError:
                walk.unreadable += 1


def _add_session_dir(walk: Walk, session: str, holder: str) -> None:
    known = walk.session_dirs.get(session)
    if known is None:
        walk.session_dirs[session] = holder
    elif known != holder:  # the same session name in two groups: rare, kept apart
        walk.more_session_dirs.setdefault(session, []).append(holder)


def _add_signature(walk: Walk, session: str, info: os.stat_result) -> None:
    """What state.json looked like: when this changes, the session's fork depth is read again. A hash
    of ints is stable across processes (only str and bytes hashes are salted) and costs 32 bytes."""
    signature = hash((info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    previous = walk.signatures.get(session)
    walk.signatures[session] = signature if previous is None else hash((previous, signature))


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
