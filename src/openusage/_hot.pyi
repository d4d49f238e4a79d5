# The compiled block loop, ledger count and holders entries (_hot.c); their references and documentation
# are `openusage.hot.lines`, `openusage.summary.count_in` and `openusage.hot.shard_entries`.
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from openusage.calls import UsageRecord
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
def shard_entries(files: list[tuple[int, array[int]]], id_bits: int, crc_shift: int, shards: int, /) -> list[bytes]: ...
def key_crcs(records: list[UsageRecord], tail: list[UsageRecord], /) -> bytes: ...
def head_lines(block: bytes | bytearray, start: int, keep: bytes, ends: tuple[bytes, ...], lines: list[bytes],
               passes: int, most: int, /) -> tuple[bool, int, int]: ...
def scan(buf: bytearray, block: int, fd: int, start: int, size: int, needles: tuple[bytes, ...],
         on_line: Callable[[Line], None], overlap: int, long_broken: int, keep_head: int,
         hooks: tuple[Any, Any, Any, Any], /) -> tuple[int, int, int, bytes | None]: ...
def use_search(name: str, /) -> str: ...
