"""Where Kimi CLI keeps its files: the root (`$KIMI_SHARE_DIR` or `~/.kimi`), `~` in settings, and
the `kimi` binary. Every file named exactly `wire.jsonl` under `sessions/` counts, subagent files
included; its session is the directory two levels below `sessions/`, so a subagent's calls belong to
its parent session (see providers/walk.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openusage.providers.home import expand
from openusage.providers.home import find_binary as _find_binary

__all__ = ["expand", "find_binary", "kimi_root"]

SHARE_VARIABLE = "KIMI_SHARE_DIR"


def kimi_root(env: Mapping[str, str]) -> Path:
    share = env.get(SHARE_VARIABLE, "")
    return Path(share).expanduser() if share else Path(env.get("HOME") or Path.home()) / ".kimi"


def find_binary(env: Mapping[str, str], name: str = "kimi") -> str | None:
    """The first executable `name` on the environment's PATH."""
    return _find_binary(env, name)
