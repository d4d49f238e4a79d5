"""Which reader of Kimi Code's journal lines runs: the compiled fast path or the pure parser alone.

`_journal.c` (built by setup.py as `openusage.providers.kimi_code._journal`, optional) reads the two
line shapes almost every candidate has (a plain `usage.record`, a plain `llm.request`) and builds the
record, call key included, in C; every other line, and every line it has any doubt about, goes to
`journal.parse_line`, the pure-Python reference. It is used unless `native.load` refuses it
(OPENUSAGE_PURE, not built, another version of the source); `openusage detect` says which runs, and why.
Kept apart from `journal` so that detection does not import msgspec.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from openusage import native

if TYPE_CHECKING:
    from openusage.providers.kimi_code._journal import Lines

JOURNAL_VERSION = 1  # the contract `_journal.c` implements (its JOURNAL_VERSION); a stale build is refused
MODULE = "openusage.providers.kimi_code._journal"


def choose(environ: Mapping[str, str] = os.environ) -> native.FastPath[type[Lines]]:
    """The compiled fast path when it can be used (`native.load`), else none."""
    return native.choose(MODULE, "JOURNAL_VERSION", JOURNAL_VERSION, "Lines", environ)
