"""Which reader of Codex's `token_count` lines runs: the compiled fast path or the pure parser alone.

`_rollout.c` (built by setup.py as `openusage.providers.codex_cli._rollout`, optional) reads the one
line shape almost every candidate has and builds its record in C; every other line, and every line it
has any doubt about, goes to `rollout.parse_line`, the pure-Python reference. It is used unless
`native.load` refuses it (OPENUSAGE_PURE, not built, another version of the source); `openusage
detect` says which runs, and why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from openusage import native

if TYPE_CHECKING:
    from openusage.providers.codex_cli._rollout import Lines

ROLLOUT_VERSION = 3  # the contract `_rollout.c` implements (its ROLLOUT_VERSION); a stale build is refused
MODULE = "openusage.providers.codex_cli._rollout"


def choose(environ: Mapping[str, str] = os.environ) -> native.FastPath[type[Lines]]:
    """The compiled fast path when it can be used (`native.load`), else none."""
    return native.choose(MODULE, "ROLLOUT_VERSION", ROLLOUT_VERSION, "Lines", environ)
