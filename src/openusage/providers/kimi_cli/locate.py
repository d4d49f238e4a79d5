"""Where Kimi CLI keeps its files, and which session every wire.jsonl belongs to.

The root is `$KIMI_SHARE_DIR` or `~/.kimi`. Every file named exactly `wire.jsonl` under `sessions/`
counts, subagent files included; its session is the directory two levels below `sessions/`
(`<group>/<session>`), so a subagent's calls belong to its parent session. The walk follows
directory symlinks once each, so a symlink loop cannot hang it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from openusage.providers.base import Walk
from openusage.providers.kimi_cli.state import STATE_NAME
from openusage.records import Source

WIRE_NAME = "wire.jsonl"


def kimi_root(env: Mapping[str, str]) -> Path:
    share = env.get("KIMI_SHARE_DIR", "")
    return Path(share).expanduser() if share else Path(env.get("HOME") or Path.home()) / ".kimi"


def expand(path: str, env: Mapping[str, str]) -> Path:
    """`~` is the user's HOME as the environment names it (tests and sudo users rely on that)."""
    if path == "~" or path.startswith("~/"):
        return Path(env.get("HOME") or Path.home()) / path[2:]
    return Path(path).expanduser()


def find_binary(env: Mapping[str, str], name: str = "kimi") -> str | None:
    """The first executable `name` on the environment's PATH (shutil.which, without its import cost)."""
    for directory in env.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def walk_sessions(sessions_dir: Path) -> Walk:
    """Every wire.jsonl under `sessions_dir`, with its identity, and each session's state signature.

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
    walk.sources = _sources(walk, root, info)
    return walk


def _sources(walk: Walk, root: str, root_info: os.stat_result) -> Iterator[Source]:
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
                if name == WIRE_NAME and not entry.is_dir():
                    info = entry.stat()
                    _add_session_dir(walk, session, holder)
                    identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
                    yield Source(entry.path, session, identity)
                elif name == STATE_NAME and depth == 2 and not entry.is_dir():
                    _add_signature(walk, session, entry.stat())
                elif entry.is_dir():
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
