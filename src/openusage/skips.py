"""Why a line that could have held usage was not counted: the reasons the line parsers give.

Apart from `records.py` so that a warm run, which parses no line, does not build the enum (an enum
class costs ~1.5 ms to create, a tenth of what a warm run's own imports may cost).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class SkipReason(enum.StrEnum):
    """Why a line that could have held usage was not counted."""

    INVALID_JSON = "invalid_json"
    NOT_UTF8 = "not_utf8"
    WRONG_SHAPE = "wrong_shape"
    REEMITTED = "reemitted"  # the same usage written again (its running total has not moved): not a new call


def damage(by_reason: Mapping[str, int]) -> int:
    """The lines skipped as damage: all but the re-emits, each a copy of a call already counted (like
    the copies folded into a call, which no count of skipped lines takes in). On a Codex home they are
    thousands, and "lines skipped" would read as a fault."""
    return sum(count for reason, count in by_reason.items() if reason != SkipReason.REEMITTED)
