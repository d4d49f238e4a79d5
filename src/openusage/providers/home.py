"""Where agents keep their files, as every provider finds them: `~` as the environment's HOME, and an
agent's binary on the environment's PATH. Shared here so that providers do not import each other."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def expand(path: str, env: Mapping[str, str]) -> Path:
    """`~` is the user's HOME as the environment names it (tests and sudo users rely on that)."""
    if path == "~" or path.startswith("~/"):
        return Path(env.get("HOME") or Path.home()) / path[2:]
    return Path(path).expanduser()


def user_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def find_binary(env: Mapping[str, str], name: str) -> str | None:
    """The first executable `name` on the environment's PATH (shutil.which, without its import cost)."""
    for directory in env.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
