# The compiled fast path for token_count lines (_rollout.c); its reference is `rollout.parse_line`.
from collections.abc import Callable
from typing import Any

from openusage.records import Line

ROLLOUT_VERSION: int

class Lines:
    def __init__(self, records: list[Any], skipped: dict[str, int], tally: Any, state: Any,
                 fallback: Callable[[Line, Any, Any], None], record_type: type, reemitted: str, /) -> None: ...
    def __call__(self, line: Line, /) -> None: ...
