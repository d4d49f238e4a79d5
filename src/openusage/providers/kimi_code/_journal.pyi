# The compiled fast path for Kimi Code's journal lines (_journal.c); its contract is in `compiled`, its
# reference `journal.parse_line`.
from collections.abc import Callable
from typing import Any

from openusage.records import Line

JOURNAL_VERSION: int

class Lines:
    zero: int
    def __init__(self, records: list[Any], state: Any, agent: str, record_type: type,
                 reference: Callable[[Line], None], /) -> None: ...
    def __call__(self, line: Line, /) -> None: ...
