"""Finding the lines of a file that can hold usage, without decoding (or keeping) the rest.

A file is read in fixed-size blocks into one reused buffer and searched with a SIMD substring search
for the provider's needles (quoted JSON keys or type names: inside a JSON string a quote is escaped,
so content that merely mentions them never matches). Only the lines holding a needle are copied out
and handed to the provider's parser. A line longer than a block is followed to its end and read again
in one piece only when it holds a needle, so memory is bounded by the block and the longest candidate
line, never by the file or by a long line of tool output.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import stringzilla

from openusage.records import Line

BLOCK = 256 * 1024  # fits the L2 cache: each byte is copied in and searched while it is still hot
FINGERPRINT_BLOCK = 4096
_NEWLINE = b"\n"


class Reader:
    """One reusable buffer per process, and the search over it."""

    __slots__ = ("_buf", "_text", "_view")

    def __init__(self, block: int = BLOCK) -> None:
        self._allocate(block)

    def _allocate(self, block: int) -> None:
        self._buf = bytearray(block)
        self._view = memoryview(self._buf)
        self._text = stringzilla.Str(self._view)  # zero-copy over the buffer

    @staticmethod
    def fingerprint(fd: int, offset: int) -> tuple[bytes, bytes]:
        return fingerprint(fd, offset)

    def scan(self, fd: int, start: int, size: int, needles: tuple[bytes, ...],
             on_line: Callable[[Line], None]) -> tuple[int, bytes | None]:
        """Hand every complete line of `fd[start:size]` that holds a needle to `on_line`, in file order.

        Returns the offset just past the last complete line, and the bytes after it (a last line
        without its newline) when they hold a needle, else None. `start` is a line start.
        """
        overlap = max(map(len, needles)) - 1
        if len(self._buf) <= 2 * overlap:  # a block must hold a needle and move on past the overlap
            self._allocate(2 * overlap + 2)
        buf, view, find = self._buf, self._view, self._text.find
        block = len(buf)
        base = start  # file offset of buf[0]
        line_start = start  # file offset where the line under the cursor begins
        pending = -1  # start of a candidate line whose end is in a later block
        while base < size:
            want = min(block, size - base)
            n = os.preadv(fd, [view[:want]], base)
            if n <= 0:
                break  # the file shrank under us: what is consumed so far stays consistent
            end = base + n
            if n < want:
                size = end  # shrank while being read: this is its end now
            i = 0
            if pending >= 0:
                nl = buf.find(_NEWLINE, 0, n)
                if nl < 0:
                    base = end
                    continue
                on_line(os.pread(fd, base + nl - pending, pending))
                pending = -1
                line_start = base + nl + 1
                i = nl + 1
            i, pending = _lines(buf, find, needles, base, i, n, line_start, fd, on_line)
            if pending < 0 and i > 0:
                line_start = max(line_start, base + i)
            last_nl = buf.rfind(_NEWLINE, i, n)
            if last_nl >= 0 and pending < 0:
                line_start = base + last_nl + 1
            # Unless a candidate line is being followed to its end, the next block starts a little
            # early, so a needle cut by the block edge is found whole.
            base = end if end >= size or pending >= 0 else max(end - overlap, line_start)
        if pending >= 0:  # a last line without its newline that holds a needle
            return pending, os.pread(fd, size - pending, pending)
        return line_start, None  # any line after line_start holds no needle: nothing to hand over


def _lines(buf: bytearray, find: Callable[[bytes, int, int], int], needles: tuple[bytes, ...], base: int, i: int,
           n: int, line_start: int, fd: int, on_line: Callable[[Line], None]) -> tuple[int, int]:
    """The candidate lines of one block: every needle's hits from `i` on, merged in file order with one
    sort; a line that holds several of them is handed over once. Returns where the search stopped and
    the start of a candidate line cut by the block end (or -1)."""
    hits: list[int] = []
    for needle in needles:
        hit = find(needle, i, n)
        while hit >= 0:
            hits.append(hit)
            hit = find(needle, hit + 1, n)
    if len(needles) > 1:
        hits.sort()
    rfind, bfind = buf.rfind, buf.find
    for hit in hits:
        if hit < i:
            continue  # in a line already handed over
        nl_before = rfind(_NEWLINE, 0, hit)
        ls = base + nl_before + 1 if nl_before >= 0 else line_start
        nl = bfind(_NEWLINE, hit, n)
        if nl < 0:
            return i, ls
        on_line(buf[ls - base : nl] if ls >= base else os.pread(fd, base + nl - ls, ls))
        i = nl + 1
        line_start = base + i
    return i, -1


def fingerprint(fd: int, offset: int) -> tuple[bytes, bytes]:
    """Hashes of the first block and of the last block before `offset`: enough to notice a file whose
    consumed bytes were rewritten, without reading all of them again."""
    if offset <= 0:
        return b"", b""
    head = os.pread(fd, min(FINGERPRINT_BLOCK, offset), 0)
    tail = head if offset <= FINGERPRINT_BLOCK else os.pread(fd, FINGERPRINT_BLOCK, offset - FINGERPRINT_BLOCK)
    return _hash(head), _hash(tail)


def _hash(block: bytes) -> bytes:
    # 64 bits of a fast hash plus the length: a changed block goes unnoticed with odds of 2**-64.
    digest: int = stringzilla.hash(block)
    return digest.to_bytes(8, "little") + len(block).to_bytes(4, "little")
