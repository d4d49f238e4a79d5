"""Which parser reads a Kimi CLI usage line: the compiled fast path first, or `wire.parse_line` alone.

`_wire` (built from `_wire.c` when the package is installed, optional) answers the plain usage lines in
one call and defers every other line to `wire.parse_line`, the reference, so both give the same records
(tests/test_kimi_wire_fast.py). It is used unless it is not built, cannot be loaded, is from another
version of the source, or OPENUSAGE_PURE is set (to anything but "" or "0", as for the block loop in
`openusage.hot`); `openusage detect` says which, and why. Kept apart from `wire` so that detection does
not import msgspec.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

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
    """The compiled fast path when it can be used, else none."""
    from openusage.hot import PURE_ENV  # here: hot imports stringzilla, which a warm run never needs

    forced = environ.get(PURE_ENV, "")
    if forced not in ("", "0"):
        return FastPath(None, None, f"{PURE_ENV}={forced} is set")
    try:
        from openusage.providers.kimi_cli import _wire  # optional: built where a compiler is
    except ImportError as exc:
        return FastPath(None, None, f"openusage.providers.kimi_cli._wire is not built or cannot be loaded: {exc}")
    if getattr(_wire, "PARSER_VERSION", None) != PARSER_VERSION:
        return FastPath(None, None, "openusage.providers.kimi_cli._wire was built from another version of the source: "
                              "reinstall")
    parse: Parse = _wire.parse
    return FastPath(parse, _wire.Sink, "openusage.providers.kimi_cli._wire")


def describe(fast: FastPath) -> str:
    """One line for `openusage detect`."""
    return f"compiled ({fast.why})" if fast.parse is not None else f"pure Python ({fast.why})"
