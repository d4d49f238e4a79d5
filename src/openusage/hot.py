"""The candidate reader's per-block loop, and which of its two forms runs: compiled or pure Python; and
the same choice for the ledger's count (`ledger_count`).

`lines` here is the reference: the candidate lines of one block of a file, handed over in file order.
`openusage._hot` (built from `_hot.c` when the package is installed, optional) is its compiled twin,
with the same arguments and results; it enters Python once per candidate line instead of once per hit
and per newline searched. The two are held equal by tests/test_hot_kernels.py over fuzzed files.

Which one runs is chosen when a reader is made (`choose`): the compiled one, unless `native.load`
refuses it (OPENUSAGE_PURE, not built, another version of the source); then the pure one, and
`openusage detect` says why. The same module holds the compiled twin of `summary.count_in`, the
ledger's count of a cold scan's calls, used by the same rule (`ledger_count`): `detect`'s reader line
says so.
"""

from __future__ import annotations

import codecs
import os
from array import array
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import stringzilla

from openusage import jsonedges, native
from openusage.records import Line

if TYPE_CHECKING:
    from openusage.calls import UsageRecord
    from openusage.summary import CountIn

    ShardEntries = Callable[[list[tuple[int, array[int]]], int, int, int], list[bytes]]
    HeadLines = Callable[[bytes | bytearray, int, bytes, tuple[bytes, ...], list[bytes], int, int],
                         tuple[bool, int, int]]
    KeyCrcs = Callable[[list[UsageRecord], list[UsageRecord]], bytes]

# The contract `_hot.c` implements (its KERNEL_VERSION); a stale build is refused. 2: count_in; 3: judge;
# 4: judge looks at the two bytes at each end of a line; 5: and whether the line is UTF-8; 6: shard_entries;
# 7: key_crcs; 8: head_lines and scan.
KERNEL_VERSION = 8
_NEWLINE = b"\n"
_BLANK = jsonedges.BLANKS  # JSON's whitespace within a line
_OPEN, _CLOSE, _QUOTE = ord("{"), ord("}"), ord('"')
# What can end a JSON value, so stand before an object's closing brace: a string, a number, true, false,
# null, an object, an array.
_VALUE_END = frozenset(b'"0123456789el}]')


def fits_object(head: int, tail: int) -> bool:
    """Whether a line whose first two bytes other than blanks are `head` and last two `tail` (as `judge`
    packs them) can be a JSON object: `{` then `"` or `}`; a value's end, or the `{` of `{}`, then `}`."""
    first, second = head & 0xFF, (head >> 8) - 1
    last, before = tail & 0xFF, (tail >> 8) - 1
    if first != _OPEN or last != _CLOSE:
        return False
    return before == _OPEN if second == _CLOSE else second == _QUOTE and before in _VALUE_END


# `judge`'s state of the text of the line under way: the bytes of a character it ends in the middle of
# (their count, then each byte, 8 bits apiece: 0 when it ends between characters), or NOT_UTF8 once the
# line holds a byte that UTF-8 does not allow there.
NOT_UTF8 = -1


def text_state(state: int, data: bytes | bytearray) -> int:
    """The state (`NOT_UTF8`, or the bytes of a character begun and not ended, as `judge` packs them)
    after `data`, the next bytes of a line, is added to a line whose state was `state`: as Python's
    UTF-8 decoder reads them, refusing a byte as soon as no valid text can go on from it (where the
    decoder waits for a third byte: after ED, a byte above 9F begins a surrogate, never valid)."""
    if state == NOT_UTF8 or (state == 0 and data.isascii()):
        return state
    text = (state >> 8).to_bytes(3, "little")[: state & 3] + data
    try:
        used = codecs.utf_8_decode(text, "strict", False)[1]
    except UnicodeDecodeError:
        return NOT_UTF8
    rest = text[used:]  # at most three bytes: a character begun
    if rest[:1] == b"\xed" and rest[1:2] > b"\x9f":
        return NOT_UTF8
    return len(rest) | int.from_bytes(rest, "little") << 8


Lines = Callable[[bytearray, tuple[bytes, ...], int, int, int, int, int, Callable[[Line], None]], tuple[int, int]]
# What `judge` carries from one block to the next, and what it finds: see there.
Judged = tuple[int, int, int, int, list[tuple[int, int]]]
Judge = Callable[[bytearray, int, int, int, int, int, int, int], Judged]
# `openusage._hot.scan`: (buf, block, fd, start, size, needles, on_line, overlap, long_broken, keep_head,
# hooks) -> (line_start, pending, size, head); `candidates.Reader.scan` says what each is.
Scan = Callable[[bytearray, int, int, int, int, tuple[bytes, ...], Callable[[Line], None], int, int, int,
                 tuple[Any, Any, Any, Any]], tuple[int, int, int, bytes | None]]


def judge(buf: bytearray, lo: int, n: int, base: int, begin: int, head: int, tail: int, text: int) -> Judged:
    """The complete lines of the block `buf[:n]` (read from file offset `base`) that end in `buf[lo:n]`
    and cannot be a JSON object: they do not begin with `{` and `"` (or `{}`), or do not end with a
    value's end and `}`, blanks aside (`fits_object`; a line of blanks alone is nothing), or they are not
    UTF-8 (`text_state`). The line under way when the block begins started at file offset `begin`, its
    first two and last two bytes other than blanks so far are `head` and `tail` (-1 none yet, else the
    first (last) byte, plus 256 times one more than the second (the one before the last), 0 for none),
    and `text` is the state of its bytes so far (`text_state`). Returns the same four for the line under
    way at the block's end, and the (start, end) file offsets of the suspect lines, newline excluded.

    A cheap test, run over every byte a scan reads: every line of the agents' files is one object of
    UTF-8 text, so a line that fails it is broken (cut by a crash, text or a byte written into the file,
    `{oops}`). The scan decodes each suspect that holds no needle and counts it when it is not JSON
    (`candidates.Reader.scan`)."""
    spans: list[tuple[int, int]] = []
    find = buf.find
    pos = lo
    while True:
        nl = find(_NEWLINE, pos, n)
        stop = n if nl < 0 else nl
        if pos < stop:
            text = text_state(text, buf[pos:stop])
            at = pos
            while (head < 0 or head >> 8 == 0) and at < stop:
                byte = buf[at]
                at += 1
                if byte not in _BLANK:
                    head = byte if head < 0 else head | (byte + 1) << 8
            at = stop - 1
            while at >= pos and buf[at] in _BLANK:
                at -= 1
            if at >= pos:
                last = buf[at]
                at -= 1
                while at >= pos and buf[at] in _BLANK:
                    at -= 1
                before = buf[at] if at >= pos else (tail & 0xFF if tail >= 0 else -1)
                tail = last | (before + 1) << 8
        if nl < 0:
            return begin, head, tail, text, spans
        # A line that ends in the middle of a character is no more UTF-8 than one holding a stray byte.
        if head >= 0 and (text != 0 or not fits_object(head, tail)):
            spans.append((begin, base + nl))
        begin, head, tail, text = base + nl + 1, -1, -1, 0
        pos = nl + 1


def blank(line: bytes) -> bool:
    """Whether a line is blanks alone (`judge`'s blanks; its first byte decides almost always: no copy of a
    long line)."""
    return not line or (line[0] in _BLANK and not line.strip(_BLANK))


def suspect(line: bytes) -> bool:
    """Whether `judge` hands over this whole line (its newline excluded) as one that cannot be a JSON
    object (blanks alone are nothing): `judge` itself, on the line alone, compiled where the reader's
    is (`choose`). For what reads a few lines again and must pass over the ones a scan passes over (a
    Codex rollout's head: a cold scan of 2,671 rollouts asks it 2,671 times, ~4 µs each in Python)."""
    buf = bytearray(line)
    buf += _NEWLINE
    if not _JUDGE:
        _JUDGE.append(choose().judge)
    return bool(_JUDGE[0](buf, 0, len(buf), 0, 0, -1, -1, 0)[4])


_JUDGE: list[Judge] = []  # the judge `suspect` uses, chosen once


def head_lines(block: bytes | bytearray, start: int, keep: bytes, ends: tuple[bytes, ...], lines: list[bytes],
               passes: int, most: int) -> tuple[bool, int, int]:
    """The top of a file, one block at a time: of the complete lines of `block` from `start` on, each that
    holds `keep` is appended to `lines` (as bytes); the top ends at the first other line that holds one of
    `ends` and is not one a scan passes over (`blank`, `suspect`), or when more than `most` lines were
    passed over, `passes` of them in the blocks before. Returns whether the top ended, where the line
    under way begins (past the top's last line, when it ended), and the lines passed over so far. The
    reference of the compiled twin `openusage._hot.head_lines` (a Codex rollout's head: `_head` in
    providers/codex_cli/layout.py; ~4 µs a rollout here, a cold scan reads 2,671 of them)."""
    while (end := block.find(_NEWLINE, start)) >= 0:
        line = bytes(block[start:end])
        start = end + 1
        if keep in line:
            lines.append(line)
            continue
        if not blank(line) and not suspect(line) and any(needle in line for needle in ends):
            return True, start, passes
        passes += 1
        if passes > most:
            return True, start, passes
    return False, start, passes


class Kernel(NamedTuple):
    lines: Lines
    compiled: bool
    why: str  # what runs, or why the compiled form does not
    judge: Judge = judge
    # The whole block loop of `candidates.Reader.scan`, compiled (`openusage._hot.scan`); None: the reader
    # runs its own, the reference, which calls `lines` and `judge` once per block.
    scan: Scan | None = None


def _compiled(environ: Mapping[str, str]) -> native.Loaded:
    """`openusage._hot` when it may be used: the block loop and the ledger count go together."""
    return native.load("openusage._hot", "KERNEL_VERSION", KERNEL_VERSION, environ)


def choose(environ: Mapping[str, str] = os.environ) -> Kernel:
    """The compiled loop when it can be used (`native.load`), else this module's."""
    loaded = _compiled(environ)
    if loaded.module is None:
        return Kernel(lines, False, loaded.why)
    return Kernel(loaded.module.lines, True,
                  f"openusage._hot, block loop, {loaded.module.SEARCH} search, ledger count",
                  loaded.module.judge, loaded.module.scan)


def _compiled_entry(name: str, environ: Mapping[str, str]) -> Any:
    """`openusage._hot`'s `name` when the module can be used (`native.load`), else None."""
    return native.choose("openusage._hot", "KERNEL_VERSION", KERNEL_VERSION, name, environ).lines


def ledger_count(environ: Mapping[str, str] = os.environ) -> CountIn | None:
    """The compiled `summary.count_in` when `openusage._hot` can be used (`native.load`), else None."""
    return cast("CountIn | None", _compiled_entry("count_in", environ))


def shard_entries(files: list[tuple[int, array[int]]], id_bits: int, crc_shift: int, shards: int) -> list[bytes]:
    """A first run's holders entries (`Store._hold_new`): `(crc << id_bits) | file_id` for every crc
    (an `array('I')`) of every `(file_id, crcs)` in `files`, in shard `crc >> crc_shift`; each shard's
    entries sorted, as the bytes of an `array('q')` (`stored.seal_entries`). The reference of the
    compiled twin `openusage._hot.shard_entries`, which sorts machine integers, not Python's (~20 ms
    for a 1 GB history's 58,000 entries here, in the parent process)."""
    parts: list[list[int]] = [[] for _ in range(shards)]
    for file_id, crcs in files:
        for crc in crcs:
            parts[crc >> crc_shift].append((crc << id_bits) | file_id)
    return [array("q", sorted(part)).tobytes() for part in parts]


def crcs_kernel(environ: Mapping[str, str] = os.environ) -> KeyCrcs | None:
    """The compiled `store.key_crcs` when `openusage._hot` can be used (`native.load`), else None."""
    return cast("KeyCrcs | None", _compiled_entry("key_crcs", environ))


def holders_kernel(environ: Mapping[str, str] = os.environ) -> ShardEntries:
    """The compiled `shard_entries` when `openusage._hot` can be used (`native.load`), else this module's."""
    return cast("ShardEntries", _compiled_entry("shard_entries", environ) or shard_entries)


def head_kernel(environ: Mapping[str, str] = os.environ) -> HeadLines:
    """The compiled `head_lines` when `openusage._hot` can be used (`native.load`), else this module's."""
    return cast("HeadLines", _compiled_entry("head_lines", environ) or head_lines)


def describe(kernel: Kernel) -> str:
    """One line for `openusage detect`."""
    return native.describe(kernel.compiled, kernel.why)


def lines(buf: bytearray, needles: tuple[bytes, ...], base: int, i: int, n: int, line_start: int, fd: int,
          on_line: Callable[[Line], None]) -> tuple[int, int]:
    """The candidate lines of the block `buf[:n]`, read from file offset `base`: every needle's hits from
    `i` on, merged in file order with one sort; a line that holds several of them is handed over once,
    a copy (the bytes of a line that began before the block read again from `fd`, from `line_start`).
    Returns where the search stopped and the start of a candidate line cut by the block end (or -1)."""
    # The search reads the buffer in place, through a view held for this call (~0.5 µs per block): a
    # Str over the bytearray itself would not keep it from being resized under the search.
    view = memoryview(buf)
    find = stringzilla.Str(view).find
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
