# The compiled block loop and ledger count (_hot.c); their references and documentation are
# `openusage.hot.lines` and `openusage.summary.count_in`.
from collections.abc import Callable, Iterable

from openusage.records import Line
from openusage.summary import Counted

KERNEL_VERSION: int
SEARCH: str

def lines(buf: bytearray, needles: tuple[bytes, ...], base: int, i: int, n: int, line_start: int, fd: int,
          on_line: Callable[[Line], None], /) -> tuple[int, int]: ...
def judge(buf: bytearray, lo: int, n: int, base: int, begin: int, first: int, last: int, text: int,
          /) -> tuple[int, int, int, int, list[tuple[int, int]]]: ...
def count_in(calls: Iterable[Counted], totals: list[int], sessions: dict[str, int], scopes: dict[str | None, list[int]],
             day_tokens: dict[int, int], day_sessions: dict[int, dict[str, float | list[float]]],
             model_days: dict[tuple[str | None, int | None], list[int]], day_length: float, /) -> None: ...
def use_search(name: str, /) -> str: ...
