"""Where Kimi CLI keeps its files, and which session every wire.jsonl belongs to.

The root is `$KIMI_SHARE_DIR` or `~/.kimi`. Every file named exactly `wire.jsonl` under `sessions/`
counts, subagent files included; its session is the directory two levels below `sessions/`
(`<group>/<session>`), so a subagent's calls belong to its parent session. The walk follows
directory symlinks once each, so a symlink loop cannot hang it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from openusage.providers.base import Walk
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
    walk = Walk()
    try:
        root_stat = sessions_dir.stat()
    except FileNotFoundError:
        walk.found = False
        return walk
    except OSError as exc:
        walk.found = False
        walk.problem = f"cannot read {sessions_dir}: {exc.strerror or exc}"
        return walk
    if not sessions_dir.is_dir():
        walk.found = False
        walk.problem = f"{sessions_dir} is not a directory"
        return walk
    seen: set[tuple[int, int]] = {(root_stat.st_dev, root_stat.st_ino)}
    _walk_dir(sessions_dir, (), seen, walk)
    return walk


def _walk_dir(directory: Path, rel: tuple[str, ...], seen: set[tuple[int, int]], walk: Walk) -> None:
    try:
        with os.scandir(directory) as entries:
            children = list(entries)
    except OSError:
        walk.unreadable += 1
        return
    for entry in children:
        try:
            is_dir = entry.is_dir()
        except OSError:
            walk.unreadable += 1
            continue
        if is_dir:
            try:
                info = entry.stat()
            except OSError:
                walk.unreadable += 1
                continue
            identity = (info.st_dev, info.st_ino)
            if identity in seen:
                continue
            seen.add(identity)
            _walk_dir(Path(entry.path), (*rel, entry.name), seen, walk)
        elif entry.name == WIRE_NAME:
            _add_wire(Path(entry.path), rel, directory, walk)


def _add_wire(path: Path, rel: tuple[str, ...], directory: Path, walk: Walk) -> None:
    if len(rel) >= 2:
        session = rel[1]
        session_dir = directory.parents[len(rel) - 3] if len(rel) > 2 else directory
    else:
        # A wire.jsonl directly under sessions/ or a group: not Kimi's layout, but its usage is real.
        session = rel[-1] if rel else WIRE_NAME
        session_dir = directory
    walk.sources.append(Source(path, session))
    dirs = walk.session_dirs.setdefault(session, [])
    if session_dir not in dirs:
        dirs.append(session_dir)
