"""Finding the lines of a file that can hold usage, without decoding (or keeping) the rest.

A file is read in fixed-size blocks into one reused buffer and searched with a SIMD substring search
for the provider's needles (quoted JSON keys or type names: inside a JSON string a quote is escaped,
so content that merely mentions them never matches). Only the lines holding a needle are copied out
and handed to the provider's parser. A line longer than a block is followed to its end and read again
in one piece only when it holds a needle, so memory is bounded by the block and the longest candidate
line, never by the file or by a long line of tool output. A line that holds no needle and cannot be a
JSON object is counted by its parser as broken; one longer than `LONG_BROKEN` (a run of zeros a crash
left in a file) is judged in pieces of that size, not held whole (`_long_line`), and so is a candidate
line that long that is no JSON. The search and hand-over within one block is `openusage.hot`'s
(compiled, or its pure-Python reference); the blocks are read here, by `Reader.scan`'s own loop (the
reference) or, where the compiled kernel loads, by its twin `openusage._hot.scan`, which enters Python
only for what is rare (a suspect line, a line longer than `LONG_BROKEN`, the fingerprint's feed).

For the cache, the same pass hashes the bytes it consumes (`Prefix`): a fast 64-bit hash of every
byte from the start of the file up to the end of its last complete line (`content_digest` defines
it). A file read again from an offset has its consumed bytes hashed again first (`hash_prefix`): if
any of them changed, anywhere, the file is read from the start.

The hash is stringzilla's one-shot `hash`, chained over the file's 64 KiB chunks (each chunk's hash
seeded with the one before), the last partial chunk hashed at the end: ~30 GB/s on any x86-64 with
AES-NI. stringzilla's streaming `Hasher` gives a 64-bit hash too, but it runs at ~1.3 GB/s on a CPU
without AVX-512 (the one-shot function is as fast there as with it): a first run on 1 GB spent ~0.9 s
of CPU in it (docs/speed.md, "On a CPU without AVX-512").
"""

from __future__ import annotations

import os
from collections.abc import Callable

import stringzilla

from openusage import jsonedges
from openusage.hot import Kernel, Scan, choose
from openusage.records import Line

_hash: Callable[[bytes | bytearray | memoryview, int], int] = stringzilla.hash  # seeded, one-shot

BLOCK = 256 * 1024  # fits the L2 cache: each byte is copied in and searched while it is still hot
_NEWLINE = b"\n"
_ZERO = b"\x00"


CHUNK = 64 * 1024  # the hash's unit: one-shot calls at ~30 GB/s (16 KiB: ~20, 4 KiB: ~8), 4 per block
# A line longer than this is judged in pieces of this size (`_long_line`), whether it holds a needle or
# cannot be a JSON object: 300 MB of zeros with a newline after them were read whole and decoded, ~600
# MiB of RSS in every provider, and so were they with a usage line written after them (what a crash
# leaves: the zeros, then the next line the agent appends). Nearly every line is far shorter.
LONG_BROKEN = 1024 * 1024
_ROOM = 64  # bytes past a block in the buffer: more than any provider's needles' overlap
_EDGE_BYTES = 64 * 1024  # how much of a long line's start and end stands for it (`_no_json`)
_CONTINUATION = bytes(range(0x80, 0xC0))  # the bytes inside a UTF-8 character, after its first


def content_digest(data: bytes, chunk: int = CHUNK) -> int:
    """The 64-bit hash `Prefix` computes of `data` fed in any pieces: its `chunk`-sized pieces from the
    start, each hashed with the hash of those before it as the seed, then what is left the same way."""
    chain, whole = _chained(data, 0, len(data), chunk, 0)
    return _hash(data[whole:], chain)


def _chained(data: bytes | bytearray | memoryview, start: int, stop: int, chunk: int, chain: int) -> tuple[int, int]:
    """`chain` with each whole chunk of `data[start:stop]` from `start` hashed into it, in order, and
    where the last of them ends."""
    while stop - start >= chunk:
        chain = _hash(data[start : start + chunk], chain)
        start += chunk
    return chain, start


class Prefix:
    """The running hash of a file's bytes from its start, fed in file order, and its value at the last
    line end fed so far (`mark`): a scan reads past the last complete line (a line still being
    written), and only the bytes up to that line's start are consumed."""

    __slots__ = ("chain", "chunk", "hashed", "mark", "mark_digest", "tail")

    def __init__(self, chunk: int = CHUNK) -> None:
        self.chunk = chunk
        self.chain = 0  # the hash of the whole chunks fed so far
        self.tail = bytearray()  # the bytes fed since the last whole chunk (fewer than `chunk`)
        self.hashed = 0  # bytes fed so far: the file's [0, hashed)
        self.mark = 0  # the last line end among them (or 0)
        self.mark_digest = _hash(b"", 0)

    def feed(self, buf: bytearray, view: memoryview, lo: int, hi: int) -> None:
        """The next bytes of the file, `buf[lo:hi]` (`view` is over `buf`)."""
        nl = buf.rfind(_NEWLINE, lo, hi)  # from the end: stops at the first newline it meets
        if nl >= 0 and not self.tail:
            self._feed_from_edge(view, lo, nl + 1, hi)
        elif nl >= 0:
            self.absorb(view[lo : nl + 1])
            self.mark = self.hashed
            self.mark_digest = self.digest()
            self.absorb(view[nl + 1 : hi])
        else:
            self.absorb(view[lo:hi])

    def _feed_from_edge(self, view: memoryview, lo: int, mark: int, hi: int) -> None:
        """`feed` when the bytes fed so far end at a chunk's edge (no part of a chunk is pending, as after
        every block a scan that hashes reads: `Reader._block_size`): whole chunks are hashed from the
        buffer itself, the digest at the line end `mark` from its part of a chunk, and only what follows
        the last whole chunk is copied (the file's end). `absorb` copied every chunk a block edge cut
        in two, ~64 KiB a block: ~25-45 ms of a first run's CPU on the 1.55 GB Codex home."""
        chain, edge = _chained(view, lo, mark, self.chunk, self.chain)  # edge: where the mark's chunk begins
        self.mark_digest = _hash(view[edge:mark], chain)
        self.chain, i = _chained(view, edge, hi, self.chunk, chain)
        self.hashed += hi - lo
        self.mark = self.hashed - (hi - mark)
        if i < hi:
            self.tail += view[i:hi]

    def absorb(self, data: memoryview) -> None:
        """Bytes fed with no line end to mark among them (`feed` finds it)."""
        n, i, chunk, tail = len(data), 0, self.chunk, self.tail
        self.hashed += n
        if tail:
            i = min(chunk - len(tail), n)
            tail += data[:i]
            if len(tail) < chunk:
                return
            self.chain = _hash(tail, self.chain)
            del tail[:]
        self.chain, i = _chained(data, i, n, chunk, self.chain)
        if i < n:
            tail += data[i:]

    def digest(self) -> int:
        """The hash of all the bytes fed so far (`content_digest` of them)."""
        return _hash(self.tail, self.chain)

    def at(self, end: int) -> bytes | None:
        """The fingerprint of the file's [0, end), when `end` is the last line end fed (else None)."""
        if end != self.mark:
            return None
        return fingerprint_of(self.mark_digest, end)


def fingerprint_of(digest: int, length: int) -> bytes:
    # 64 bits of hash and the length: a change to the consumed bytes goes unnoticed with odds of 2**-64.
    return digest.to_bytes(8, "little") + length.to_bytes(8, "little")


class Reader:
    """One reusable buffer per process, and the search over it: each block's candidate lines are found
    by `kernel.lines`, compiled or pure Python (`openusage.hot`; by default, `hot.choose()`)."""

    __slots__ = ("_block", "_buf", "_view", "chunk", "head", "kernel", "long_broken")

    def __init__(self, block: int = BLOCK, kernel: Kernel | None = None, chunk: int = CHUNK,
                 long_broken: int = LONG_BROKEN) -> None:
        self.kernel = kernel if kernel is not None else choose()
        self.head: bytes | None = None  # the file's first bytes, kept by the last scan asked for them
        self.chunk = chunk  # the hash's unit (`Prefix`): only tests make it small
        self.long_broken = long_broken  # `LONG_BROKEN`: only tests make it small
        self._allocate(block)

    def _allocate(self, block: int) -> None:
        # A little room past the block: a scan that hashes ends each block at a chunk's edge, which the
        # needles' overlap puts a few bytes past a whole block (`_block_size`).
        self._block = block
        self._buf = bytearray(block + _ROOM)
        self._view = memoryview(self._buf)

    def _block_size(self, base: int, size: int) -> int:
        """How much to read at `base` for a scan that hashes: up to the chunk edge a whole block reaches
        (a block starts a few bytes before the previous one's end, its needles' overlap), or back to the
        last edge within it when the next is out of reach (a read resumed in the middle of a chunk), so
        that `Prefix.feed` hashes whole chunks in place; any size does (only slower) when no edge fits."""
        block, chunk = self._block, self.chunk
        end = base + block
        cut = end % chunk
        if cut:
            if end - cut + chunk - base <= len(self._buf):
                block = end - cut + chunk - base
            elif end - cut - base >= block // 2:
                block = end - cut - base
        return min(block, size - base)

    def prefix(self) -> Prefix:
        """A running hash of nothing yet, in this reader's unit: the one `hash_prefix` hashes in, so that
        the fingerprint a scan stores and the one a later read compares with it are hashed alike."""
        return Prefix(self.chunk)

    def hash_prefix(self, fd: int, end: int) -> Prefix | None:
        """The hash of `fd[0:end]` (`end` a line end), read in blocks; None when the file is shorter."""
        prefix = self.prefix()
        view = self._view
        while prefix.hashed < end:
            n = os.preadv(fd, [view[: min(self._block, end - prefix.hashed)]], prefix.hashed)
            if n <= 0:
                return None
            prefix.absorb(view[:n])
        prefix.mark = end
        prefix.mark_digest = prefix.digest()
        return prefix

    def scan(self, fd: int, start: int, size: int, needles: tuple[bytes, ...],
             on_line: Callable[[Line], None], prefix: Prefix | None = None,
             on_broken: Callable[[Line], None] | None = None, keep_head: int = 0) -> tuple[int, bytes | None]:
        """Hand every complete line of `fd[start:size]` that holds a needle to `on_line`, in file order.

        Returns the offset just past the last complete line, and the bytes after it (a last line
        without its newline) when they hold a needle, else None. `start` is a line start. `prefix`,
        when given, holds the hash of `fd[0:start]` and is fed every byte read after it, once.
        `on_broken`, when given, is handed every other complete line that cannot be a JSON object
        (`hot.judge`), in no particular order relative to `on_line`'s: its parser counts it when it is
        not JSON, so a broken line is never silent for holding no needle. `keep_head`, with `start` 0:
        keep the file's first `keep_head` bytes as this scan read them (`self.head`; all of the file
        when it is shorter), for what reads the top of a file again (a Codex rollout's `session_meta`
        lines); a block smaller than that keeps none.
        """
        self.head = None
        overlap = max(map(len, needles)) - 1
        if self._block <= 2 * overlap:  # a block must hold a needle and move on past the overlap
            self._allocate(2 * overlap + 2)
        if self.kernel.scan is not None:
            return self._scan_compiled(self.kernel.scan, fd, start, size, needles, on_line, prefix, on_broken,
                                       keep_head, overlap)
        # The reference: the compiled loop (`openusage._hot.scan`) is this one, line for line, in C.
        buf, view, lines = self._buf, self._view, self.kernel.lines
        judge = self.kernel.judge
        block = self._block
        base = start  # file offset of buf[0]
        line_start = start  # file offset where the line under the cursor begins
        pending = -1  # start of a candidate line whose end is in a later block
        judged, begin, head, tail, text = start, start, -1, -1, 0  # `judge`'s progress and the line it is in
        while base < size:
            want = min(block, size - base) if prefix is None else self._block_size(base, size)
            n = os.preadv(fd, [view[:want]], base)
            if n <= 0:
                break  # the file shrank under us: what is consumed so far stays consistent
            end = base + n
            if n < want:
                size = end  # shrank while being read: this is its end now
            if keep_head and base == 0 and n >= min(keep_head, size):
                self.head = bytes(view[: min(n, keep_head)])  # one copy: a bytearray slice would be two
            if prefix is not None and end > prefix.hashed:  # blocks overlap a little: each byte fed once
                _feed(prefix, fd, buf, view, base, n)
            if on_broken is not None and end > judged:  # each byte judged once, as each is hashed once
                begin, head, tail, text, suspects = judge(buf, judged - base, n, base, begin, head, tail, text)
                judged = end
                for suspect in suspects:
                    _hand_broken(fd, buf, base, suspect, needles, on_broken, self.long_broken)
            i = 0
            if pending >= 0:
                nl = buf.find(_NEWLINE, 0, n)
                if nl < 0:
                    base = end
                    continue
                on_line(self._line(fd, pending, base + nl))
                pending = -1
                line_start = base + nl + 1
                i = nl + 1
            elif base - line_start > self.long_broken:
                line_start, i = self._end_of_long_line(fd, buf, n, base, line_start, needles, on_line)
            i, pending = lines(buf, needles, base, i, n, line_start, fd, on_line)
            if pending < 0 and i > 0:
                line_start = max(line_start, base + i)
            last_nl = buf.rfind(_NEWLINE, i, n)
            if last_nl >= 0 and pending < 0:
                line_start = base + last_nl + 1
            # Unless a candidate line is being followed to its end, the next block starts a little
            # early, so a needle cut by the block edge is found whole.
            base = end if end >= size or pending >= 0 else max(end - overlap, line_start)
        if pending >= 0:  # a last line without its newline that holds a needle
            return pending, self._line(fd, pending, size)
        return line_start, None  # any line after line_start holds no needle: nothing to hand over

    def _scan_compiled(self, scan: Scan, fd: int, start: int, size: int, needles: tuple[bytes, ...],
                       on_line: Callable[[Line], None], prefix: Prefix | None, on_broken: Callable[[Line], None] | None,
                       keep_head: int, overlap: int) -> tuple[int, bytes | None]:
        """`scan` with the compiled loop: Python is entered for what is rare or not the reader's own (the
        fingerprint's blocks, a suspect line, a line longer than `long_broken`), not once per block."""
        buf, view, long_broken = self._buf, self._view, self.long_broken
        want_of = feed = broken = None
        if prefix is not None:
            hashing = prefix
            want_of = self._block_size

            def feed(base: int, n: int) -> None:
                if base + n > hashing.hashed:  # blocks overlap a little: each byte fed once
                    _feed(hashing, fd, buf, view, base, n)

        if on_broken is not None:
            handed = on_broken

            def broken(base: int, span: tuple[int, int]) -> None:
                _hand_broken(fd, buf, base, span, needles, handed, long_broken)

        line_start, pending, size, self.head = scan(buf, self._block, fd, start, size, needles, on_line, overlap,
                                                    long_broken, keep_head, (self, want_of, feed, broken))
        if pending >= 0:  # a last line without its newline that holds a needle
            return pending, self._line(fd, pending, size)
        return line_start, None

    def _may_be_json(self, fd: int, start: int, end: int) -> bool:
        """Whether the long line `fd[start:end]` may be JSON by its edges and its first piece: it holds no
        zero byte there (a crash's zeros; `memchr`: the control characters' regex took ~4 ms a piece)."""
        head = os.pread(fd, self.long_broken, start)
        tail = os.pread(fd, min(_EDGE_BYTES, end - start), end - min(_EDGE_BYTES, end - start))
        return not jsonedges.not_json(head, tail) and _ZERO not in head

    def _end_of_long_line(self, fd: int, buf: bytearray, n: int, base: int, line_start: int,
                          needles: tuple[bytes, ...], on_line: Callable[[Line], None]) -> tuple[int, int]:
        """A block `buf[:n]` (at file offset `base`) in a line begun more than `long_broken` before it,
        that held no needle before the block (`pending` would say): when the line ends in the block, a
        needle in its last part makes it a candidate, handed over by `_line` (`lines` would read it
        whole); returns where the next line starts and its index in the block (the line start and 0 when
        the line goes on)."""
        nl = buf.find(_NEWLINE, 0, n)
        if nl < 0:
            return line_start, 0
        if any(buf.find(needle, 0, nl) >= 0 for needle in needles):
            on_line(self._line(fd, line_start, base + nl))
        return base + nl + 1, nl + 1

    def _line(self, fd: int, start: int, end: int) -> bytes:
        """The candidate line `fd[start:end]`, read whole. One longer than `long_broken` is nearly always a
        long record, read whole as well (Kimi CLI's `mcp_status` lines hold megabytes: judging each in
        pieces first cost a cold scan of the Kimi CLI home ~50 ms); only one that is no JSON by its
        edges, or holds a zero byte in its first piece (a line cut short, then a crash's zeros, then the
        next line), is judged in pieces and handed over as what stands for it (`_long_line`)."""
        length = end - start
        if length <= self.long_broken:
            return os.pread(fd, length, start)
        if self._may_be_json(fd, start, end):
            return os.pread(fd, length, start)
        line = _long_line(fd, start, end, (), self.long_broken)
        return b"" if line is None else line  # None: the file shrank under us (an empty line is no JSON)


def _hand_broken(fd: int, buf: bytearray, base: int, span: tuple[int, int], needles: tuple[bytes, ...],
                 on_broken: Callable[[Line], None], long_broken: int = LONG_BROKEN) -> None:
    """A suspect line (`judge`) to `on_broken`, unless it holds a needle: then it is a candidate line,
    which its parser judges already. One longer than `long_broken` is judged in pieces (`_long_line`)."""
    start, end = span
    if end - start > long_broken:
        found = _long_line(fd, start, end, needles, long_broken)
        if found is not None:
            on_broken(found)
        return
    line = buf[start - base : end - base] if start >= base else os.pread(fd, end - start, start)
    for needle in needles:  # a loop, not `any` over a generator: a log of a million lines, ~1 s less
        if needle in line:
            return
    on_broken(line)


def _long_line(fd: int, start: int, end: int, needles: tuple[bytes, ...], piece_size: int) -> bytes | None:
    """What stands for the line `fd[start:end]`, read in pieces of `piece_size`, when handed to its
    parser, which counts it as `providers.lines.decode` judges it: None when it holds one of `needles`
    (a suspect line that holds one is a candidate: its parser has it already); else its first piece
    that is not UTF-8, with the bytes of a character cut before it (not UTF-8, as the line); else, when
    it is no JSON by its edges or a zero byte (`_no_json`), bytes of it that are no JSON the same way;
    else the line itself, which only a decoder can judge (a long JSON value on one line: never seen in
    an agent's file). Memory holds about two pieces, whatever the line's length."""
    import codecs  # a long line is rare: no run pays the import otherwise

    overlap = max(map(len, needles), default=1) - 1
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = last = b""  # the line's first bytes, and its last (from a character's start)
    not_utf8: bytes | None = None
    zeros: bytes | None = None  # the first piece that holds a zero byte, from a character's start
    carry = b""  # the end of the piece before: a needle cut by a piece's edge is found whole
    at = start
    while at < end:
        piece = os.pread(fd, min(piece_size, end - at), at)
        if not piece:
            return None  # the file shrank under us: a read from the start will judge it
        at += len(piece)
        if any(needle in piece or needle in carry + piece[:overlap] for needle in needles):
            return None
        carry = (carry + piece[-overlap:])[-overlap:] if overlap else b""  # pieces shorter than a needle too
        cut = decoder.getstate()[0]  # the bytes of a character the piece before ended in
        if not first:
            first = piece[:_EDGE_BYTES]
        last = (last + piece)[-_EDGE_BYTES:] if len(piece) < _EDGE_BYTES else piece[-_EDGE_BYTES:]
        if zeros is None and _ZERO in piece:  # memchr: a regex for every control character ran at ~250 MB/s
            zeros = cut + piece
        if not_utf8 is None and not (piece.isascii() and not cut):
            try:
                decoder.decode(piece, final=at >= end)
            except UnicodeDecodeError:
                not_utf8 = cut + piece
        del piece
    if not_utf8 is not None:
        return not_utf8
    stand_in = _no_json(first, last, zeros)
    return stand_in if stand_in is not None else os.pread(fd, end - start, start)


def _no_json(first: bytes, last: bytes, zeros: bytes | None) -> bytes | None:
    """For a line that is UTF-8, of which `first` and `last` are the first and last bytes and `zeros` a
    piece holding a zero byte, if any: bytes that are no JSON as the line is none, when it is none by
    them; else None (only a decoder can tell). The piece holding a zero byte (a control character JSON
    has no place for: a crash's zeros); or its first bytes then its last, which begin and end alike (a
    line that begins with what begins no value, or is cut short: `jsonedges.not_json`). A character
    cut at either edge is dropped."""
    if zeros is not None:
        return _whole_characters(zeros)
    if jsonedges.not_json(first, last):
        return _whole_characters(first) + _whole_characters(last.lstrip(_CONTINUATION))
    return None


def _whole_characters(data: bytes) -> bytes:
    """UTF-8 bytes without a character cut at their end (or anywhere: none is, in a line that is UTF-8)."""
    return data.decode("utf-8", "ignore").encode()


def _feed(prefix: Prefix, fd: int, buf: bytearray, view: memoryview, base: int, n: int) -> None:
    """The bytes of the block `buf[:n]` (at file offset `base`) that `prefix` has not had yet."""
    if prefix.hashed < base:  # bytes between the last block fed and this one: never with this scan's blocks
        gap = os.pread(fd, base - prefix.hashed, prefix.hashed)
        prefix.feed(bytearray(gap), memoryview(gap), 0, len(gap))
        if prefix.hashed < base:  # the file shrank under us: the prefix is incomplete, the caller re-hashes
            prefix.mark, prefix.hashed = -1, 1 << 62  # and nothing more is fed
            return
    prefix.feed(buf, view, prefix.hashed - base, n)
