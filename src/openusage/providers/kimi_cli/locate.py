"""Where Kimi CLI keeps its files: the root (`$KIMI_SHARE_DIR` or `~/.kimi`), `~` in settings, and
the `kimi` binary. Every file named exactly `wire.jsonl` under `sessions/` counts, subagent files
included; its session is the directory two levels below `sessions/`, so a subagent's calls belong to
its parent session (see providers/walk.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

SHARE_VARIABLE = "KIMI_SHARE_DIR"


def kimi_root(env: Mapping[str, str]) -> Path:
    share = env.get(SHARE_VARIABLE, "")
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
