# The compiled fast path for a Kimi CLI usage line (_wire.c); its contract is in `fastpath`, its
# reference `wire.parse_line`.
from collections.abc import Callable
from typing import Any

PARSER_VERSION: int

def parse(line: bytes | bytearray, records: list[Any], record_type: type, /) -> int: ...

class Sink:
    zero: int
    def __init__(self, records: list[Any], record_type: type, reference: Callable[[Any], None], /) -> None: ...
    def __call__(self, line: bytes | bytearray, /) -> None: ...
