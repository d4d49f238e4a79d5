"""Why a line that could have held usage was not counted: the reasons the line parsers give.

Apart from `records.py` so that a warm run, which parses no line, does not build the enum (an enum
class costs ~1.5 ms to create, a tenth of what a warm run's own imports may cost).
"""

from __future__ import annotations

import enum


class SkipReason(enum.StrEnum):
    """Why a line that could have held usage was not counted."""

    INVALID_JSON = "invalid_json"
    NOT_UTF8 = "not_utf8"
    WRONG_SHAPE = "wrong_shape"
    REEMITTED = "reemitted"  # the same usage written again (its running total has not moved): not a new call
