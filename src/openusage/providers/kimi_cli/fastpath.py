"""Which parser reads a Kimi CLI usage line: the compiled fast path first, or `wire.parse_line` alone.

`_wire` (built from `_wire.c` when the package is installed, optional) answers the plain usage lines in
one call and defers every other line to `wire.parse_line`, the reference, so both give the same records
(tests/test_kimi_wire_fast.py). It is used unless `native.load` refuses it (OPENUSAGE_PURE, not
built, another version of the source), as for the block loop in `openusage.hot`; `openusage detect`
says which, and why. Kept apart from `wire` so that detection does
not import msgspec.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from openusage import native

PARSER_VERSION = 2  # the contract `_wire.c` implements (its PARSER_VERSION); a stale build is refused
DONE, ZERO, DEFER = 0, 1, 2  # what the compiled parse answers for a line

# parse(line, records, record_type): DONE (a record appended, or not usage), ZERO (an all-zero usage
# record) or DEFER (the reference must read this line).
Parse = Callable[[Any, list[Any], type], int]


class FastPath(NamedTuple):
    parse: Parse | None
    # Sink(records, record_type, reference): the same as a callable the block loop calls directly, which
    # appends records, counts all-zero ones in `.zero` and hands deferred lines to reference(line)
    sink: Callable[[list[Any], type, Callable[[Any], None]], Any] | None
    why: str  # what runs, or why the compiled fast path does not


def choose(environ: Mapping[str, str] = os.environ) -> FastPath:
    """The compiled fast path when it can be used (`native.load`), else none."""
    loaded = native.load("openusage.providers.kimi_cli._wire", "PARSER_VERSION", PARSER_VERSION, environ)
    if loaded.module is None:
        return FastPath(None, None, loaded.why)
    parse: Parse = loaded.module.parse
    return FastPath(parse, loaded.module.Sink, loaded.why)


def describe(fast: FastPath) -> str:
    """One line for `openusage detect`."""
    return native.describe(fast.parse is not None, fast.why)
