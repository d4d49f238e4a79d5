# The compiled fast path for a Kimi CLI usage line (_wire.c); its contract is in `fastpath`, its
# reference `wire.parse_line`.
from typing import Any

PARSER_VERSION: int

def parse(line: bytes | bytearray, records: list[Any], record_type: type, /) -> int: ...
