"""Where Kimi CLI keeps its files, and which session every wire.jsonl belongs to.

The root is `$KIMI_SHARE_DIR` or `~/.kimi`. Every file named exactly `wire.jsonl` under `sessions/`
counts, subagent files included; its session is the directory two levels below `sessions/`
(`<group>/<session>`), so a subagent's calls belong to its parent session. The walk follows
directory symlinks once each, so a symlink loop cannot hang it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
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

    One `scandir` per directory and one `stat` per wire.jsonl and state.json: nothing else per file,
    so a warm run over 100,000 sessions stays cheap. Only symlinked directories are stat'ed for loop
    detection; a real directory's identity is its `d_ino` on the root's device.
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
    device = info.st_dev
    seen: set[tuple[int, int]] = {(device, info.st_ino)}
    pending: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while pending:
        directory, rel = pending.pop()
        try:
            with os.scandir(directory) as entries:
                children = list(entries)
        except OSError:
            walk.unreadable += 1
            continue
        for entry in children:
            try:
                if entry.is_dir():
                    if entry.is_symlink():
                        target = entry.stat()
                        identity = (target.st_dev, target.st_ino)
                    else:
                        identity = (device, entry.inode())
                    if identity not in seen:
                        seen.add(identity)
                        pending.append((entry.path, (*rel, entry.name)))
                elif entry.name == WIRE_NAME:
                    _add_wire(walk, entry, rel, directory)
                elif entry.name == STATE_NAME and len(rel) == 2:
                    _add_signature(walk, rel[1], entry)
            except OSError:
                walk.unreadable += 1
    return walk


def _add_wire(walk: Walk, entry: os.DirEntry[str], rel: tuple[str, ...], directory: str) -> None:
    info = entry.stat()
    if len(rel) >= 2:
        session = rel[1]
        session_dir = directory if len(rel) == 2 else directory.rsplit(os.sep, len(rel) - 2)[0]
    else:
        # A wire.jsonl directly under sessions/ or a group: not Kimi's layout, but its usage is real.
        session = rel[-1] if rel else WIRE_NAME
        session_dir = directory
    walk.sources.append(
        Source(entry.path, session, (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    )
    dirs = walk.session_dirs.get(session)
    if dirs is None:
        walk.session_dirs[session] = [session_dir]
    elif session_dir not in dirs:
        dirs.append(session_dir)


def _add_signature(walk: Walk, session: str, entry: os.DirEntry[str]) -> None:
    """What state.json looked like: when this changes, the session's fork depth is read again."""
    info = entry.stat()
    signature = f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    previous = walk.signatures.get(session)
    walk.signatures[session] = signature if previous is None else f"{previous}|{signature}"
