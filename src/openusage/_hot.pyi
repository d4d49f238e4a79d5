# The compiled block loop (_hot.c); its reference and documentation are `openusage.hot.lines`.
from collections.abc import Callable

from openusage.records import Line

KERNEL_VERSION: int
SEARCH: str

def lines(buf: bytearray, needles: tuple[bytes, ...], base: int, i: int, n: int, line_start: int, fd: int,
          on_line: Callable[[Line], None], /) -> tuple[int, int]: ...
