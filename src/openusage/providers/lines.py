"""What a reader found in a run of candidate lines, and how a line that is not JSON is named.

Shared by the providers' readers, so every provider skips and counts broken lines the same way.
"""

from __future__ import annotations

from typing import Any

import orjson

from openusage.records import SkipReason, UsageRecord

NOT_JSON = object()  # what `decode` returns for a line it has counted as skipped


class Tally:
    """Records, skipped lines by reason, all-zero records, and whether a `forked` marker came."""

    __slots__ = ("marker", "records", "skipped", "zero")

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []
        self.skipped: dict[str, int] = {}
        self.zero = 0
        self.marker = False

    def skip(self, reason: SkipReason) -> None:
        self.skipped[reason.value] = self.skipped.get(reason.value, 0) + 1


def decode(line: bytes, tally: Tally) -> Any:
    """The line's JSON value; or NOT_JSON, with the line counted as `not_utf8` or `invalid_json`."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            tally.skip(SkipReason.NOT_UTF8)
        else:
            tally.skip(SkipReason.INVALID_JSON)
        return NOT_JSON
