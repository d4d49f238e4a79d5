"""Which reader of Codex's `token_count` lines runs: the compiled fast path or the pure parser alone.

`_rollout.c` (built by setup.py as `openusage.providers.codex_cli._rollout`, optional) reads the one
line shape almost every candidate has and builds its record in C; every other line, and every line it
has any doubt about, goes to `rollout.parse_line`, the pure-Python reference. It is used unless it is
not built, cannot be loaded, is from another version of the source, or OPENUSAGE_PURE (`hot.PURE_ENV`)
is set to anything but "" or "0"; `openusage detect` says which runs, and why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from openusage.hot import PURE_ENV

if TYPE_CHECKING:
    from openusage.providers.codex_cli._rollout import Lines

ROLLOUT_VERSION = 1  # the contract `_rollout.c` implements (its ROLLOUT_VERSION); a stale build is refused
MODULE = "openusage.providers.codex_cli._rollout"


class FastPath(NamedTuple):
    lines: type[Lines] | None  # None: every line goes to the pure parser
    why: str  # what runs, or why the compiled path does not


def choose(environ: Mapping[str, str] = os.environ) -> FastPath:
    """The compiled fast path when it can be used, else none."""
    forced = environ.get(PURE_ENV, "")
    if forced not in ("", "0"):
        return FastPath(None, f"{PURE_ENV}={forced} is set")
    try:
        from openusage.providers.codex_cli import _rollout
    except ImportError as exc:
        return FastPath(None, f"{MODULE} is not built or cannot be loaded: {exc}")
    if getattr(_rollout, "ROLLOUT_VERSION", None) != ROLLOUT_VERSION:
        return FastPath(None, f"{MODULE} was built from another version of the source: reinstall")
    return FastPath(_rollout.Lines, MODULE)


def describe(path: FastPath) -> str:
    """One line for `openusage detect`."""
    return f"compiled ({path.why})" if path.lines is not None else f"pure Python ({path.why})"
