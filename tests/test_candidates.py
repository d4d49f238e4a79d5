"""The candidate-line reader gives exactly the lines a naive reader would: every complete line holding a
needle, in order, and a last line without its newline when it holds one.

The reference splits the whole file into lines. The reader under test works in blocks, and here the
blocks are made tiny (7 to 64 bytes), so that lines longer than a block, needles cut by a block edge,
lines ending exactly at a block edge and every other boundary case occur thousands of times.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import stringzilla

from openusage.candidates import CHUNK, Reader, content_digest, fingerprint_of

NEEDLES_ONE = (b'"token_usage"',)
NEEDLES_MANY = (b'"usage.record"', b'"llm.request"', b'"forked"')
PIECES = [b"x", b"yy", b"\n", b"\r\n", b" ", b'"', b"\\", b'\\"token_usage\\"', b"token_usage", b'"token_',
          b'usage"', b"{}", b"\xc3\xa9", b'"forked"', b'"usage.record"', b'"llm.request"', b'"llm.', b'request"']


def reference(data: bytes, start: int, needles: tuple[bytes, ...]) -> tuple[list[bytes], int, bytes | None]:
    body = data[start:]
    cut = body.rfind(b"\n") + 1
    complete, rest = body[:cut], body[cut:]
    lines = [line for line in complete.split(b"\n")[:-1] if any(n in line for n in needles)]
    tail = rest if rest and any(n in rest for n in needles) else None
    return lines, start + cut, tail


def scanned(path: Path, start: int, needles: tuple[bytes, ...],
            block: int) -> tuple[list[bytes], int, bytes | None]:
    lines: list[bytes] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = Reader(block)
        end, tail = reader.scan(fd, start, os.fstat(fd).st_size, needles, lambda line: lines.append(bytes(line)))
    finally:
        os.close(fd)
    return lines, end, tail


@pytest.mark.parametrize("needles", [NEEDLES_ONE, NEEDLES_MANY], ids=["one-needle", "three-needles"])
def test_block_reader_equals_line_by_line_reading(tmp_path: Path, needles: tuple[bytes, ...]) -> None:
    rng = random.Random(20261201)
    path = tmp_path / "wire.jsonl"
    for block in (7, 13, 16, 31, 64):  # 7 and 13: smaller than a needle, the reader grows its block
        for _ in range(150):
            data = b"".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 120)))
            path.write_bytes(data)
            # Any line start may be where a cached read resumes.
            starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
            start = rng.choice(starts)
            assert scanned(path, start, needles, block) == reference(data, start, needles), (block, data, start)


def test_a_needle_in_a_line_far_longer_than_a_block_is_found_whole(tmp_path: Path) -> None:
    long_line = b"a" * 1000 + b'"token_usage"' + b"b" * 1000
    data = b"head\n" + long_line + b"\n" + b"c" * 500 + b"\n" + long_line  # the last without newline
    path = tmp_path / "wire.jsonl"
    path.write_bytes(data)
    assert scanned(path, 0, NEEDLES_ONE, 64) == ([long_line], len(data) - len(long_line), long_line)


@pytest.mark.parametrize("needles", [NEEDLES_ONE, NEEDLES_MANY], ids=["one-needle", "three-needles"])
def test_the_scan_hashes_every_consumed_byte_once_whatever_the_blocks(tmp_path: Path,
                                                                      needles: tuple[bytes, ...]) -> None:
    """The fingerprint a scan leaves is the hash of the file's bytes up to its end offset, exactly: blocks
    overlap and lines run across them, and no byte may be fed twice or skipped."""
    rng = random.Random(20261203)
    path = tmp_path / "wire.jsonl"
    for block, chunk in ((7, 5), (13, 13), (16, 64), (31, 8), (64, 1 << 16)):
        for _ in range(150):
            data = b"".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 120)))
            path.write_bytes(data)
            start = rng.choice([0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A])
            fd = os.open(path, os.O_RDONLY)
            try:
                reader = Reader(block, chunk=chunk)
                prefix = reader.hash_prefix(fd, start)
                assert prefix is not None
                end, _tail = reader.scan(fd, start, len(data), needles, lambda _line: None, prefix)
            finally:
                os.close(fd)
            expected = fingerprint_of(content_digest(data[:end], chunk), end)
            assert prefix.at(end) == expected, (block, chunk, data, start)


def test_the_digest_is_stringzillas_hash_chained_over_whole_chunks() -> None:
    """The definition the cache relies on, spelled out: a change to it would make every stored
    fingerprint differ (and every file be read again), so it is pinned here with its schema."""
    data = bytes(range(256)) * 700  # 179,200 bytes: two whole 64 KiB chunks and a part
    chain = stringzilla.hash(data[:CHUNK], 0)
    chain = stringzilla.hash(data[CHUNK : 2 * CHUNK], chain)
    assert content_digest(data) == stringzilla.hash(data[2 * CHUNK :], chain)
    assert content_digest(b"") == stringzilla.hash(b"", 0)
    assert content_digest(data[:CHUNK]) == stringzilla.hash(b"", stringzilla.hash(data[:CHUNK], 0))


def test_a_change_anywhere_in_the_consumed_bytes_changes_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "wire.jsonl"
    data = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 50) for i in range(2000))  # ~140 KB
    path.write_bytes(data)
    fingerprints = set()
    for where in (None, 10, len(data) // 2, len(data) - 10):  # the first, middle and last blocks
        changed = bytearray(data)
        if where is not None:
            changed[where] ^= 0x01  # the same size
        path.write_bytes(changed)
        fd = os.open(path, os.O_RDONLY)
        try:
            prefix = Reader(4096).hash_prefix(fd, len(data))
        finally:
            os.close(fd)
        assert prefix is not None
        fingerprints.add(prefix.at(len(data)))
    assert len(fingerprints) == 4


# --- long lines that cannot be a JSON object -----------------------------------------------------------------

LONG_PIECES = [b"\x00" * 9, b"\xff", b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"\xf0\x9f", b" ", b"\t", b"[", b'"', b"1",
               b"-", b"N", b"{", b"}", b"]", b",", b"x", b"null", b"NaN", b'"token_usage"', b'"forked"']


def judged(path: Path, needles: tuple[bytes, ...], long_broken: int) -> tuple[object, ...]:
    """How a parser that decodes every line it is handed (`providers.lines.decode`) counts the lines the
    scan hands over as broken and as candidates, and the last line without its newline; how many of
    each it was handed; where the scan stopped."""
    from openusage.providers.lines import Tally, decode

    broken, candidates, handed = Tally(), Tally(), {"broken": 0, "candidates": 0}

    def on_broken(line: bytes | bytearray) -> None:
        handed["broken"] += 1
        decode(line, broken)

    def on_line(line: bytes | bytearray) -> None:
        handed["candidates"] += 1
        decode(line, candidates)

    fd = os.open(path, os.O_RDONLY)
    try:
        reader = Reader(64, long_broken=long_broken)
        end, tail = reader.scan(fd, 0, os.fstat(fd).st_size, needles, on_line, None, on_broken, 0)
    finally:
        os.close(fd)
    last = Tally()
    if tail is not None:
        decode(tail, last)
    return broken.skipped, candidates.skipped, handed, end, tail is not None, last.skipped


@pytest.mark.parametrize("needles", [NEEDLES_ONE, NEEDLES_MANY], ids=["one-needle", "three-needles"])
def test_a_long_line_is_judged_in_pieces_as_it_is_whole(tmp_path: Path, needles: tuple[bytes, ...]) -> None:
    """A line longer than `Reader.long_broken` is judged in pieces (`_long_line`), whether it holds a
    needle (a candidate) or cannot be a JSON object (broken), and the last line without its newline
    too: its parser counts what it is handed as it counts the whole line (not UTF-8, no JSON, a JSON
    value: nothing here), and a line holding a needle anywhere is a candidate, never broken."""
    rng = random.Random(20261205)
    path = tmp_path / "wire.jsonl"
    for _ in range(500):
        lines = [b"".join(rng.choice(LONG_PIECES) for _ in range(rng.randrange(0, 40)))
                 for _ in range(rng.randrange(1, 6))]
        if rng.random() < 0.3:  # JSON values, long ones among them, a needle in some
            lines.append(b"[" + b",".join(b"1" for _ in range(rng.randrange(1, 60))) + b"]")
            lines.append(b'"' + b"\xc3\xa9" * rng.randrange(1, 60) + b'"')
            lines.append(b'{"a": [' + b"2," * rng.randrange(1, 60) + b'3], "b": ' + rng.choice(needles) + b"}")
        path.write_bytes(b"\n".join(lines) + rng.choice([b"\n", b""]))
        whole = judged(path, needles, 1 << 30)
        for long_broken in (8, 17, 64):
            assert judged(path, needles, long_broken) == whole, (long_broken, lines)


def judged_with_peak(path: Path) -> tuple[tuple[object, ...], int]:
    """`judged` with the default `LONG_BROKEN`, and the most memory Python held while it ran."""
    import tracemalloc

    from openusage.candidates import LONG_BROKEN

    tracemalloc.start()
    try:
        counted = judged(path, NEEDLES_ONE, LONG_BROKEN)
        return counted, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_long_line_of_zeros_is_not_held_whole(tmp_path: Path) -> None:
    """8 MiB of zeros between two lines (what a crash can leave in a file) count as one invalid line,
    read in pieces of `LONG_BROKEN`: the scan never holds the line whole (it was read, then decoded, whole:
    two copies of it)."""
    from openusage.candidates import LONG_BROKEN

    path = tmp_path / "wire.jsonl"
    with path.open("wb") as f:
        f.write(b'{"a": 1}\n')
        f.write(b"\x00" * (8 * LONG_BROKEN) + b"\n")
        f.write(b'{"b": "token_usage"}\n')
    counted, peak = judged_with_peak(path)
    assert counted[:3] == ({"invalid_json": 1}, {}, {"broken": 1, "candidates": 1})
    assert peak < 4 * LONG_BROKEN  # two pieces and their join, whatever the line's length


def test_a_long_line_of_zeros_ended_by_a_usage_line_is_not_held_whole(tmp_path: Path) -> None:
    """What a crash leaves: a run of zeros, then the line the agent appends next, with no newline
    between; or a line cut short, the zeros, then the next line. Each is one candidate line (it holds
    a needle) that is no JSON, read in pieces, never whole; and so is a last line without its newline."""
    from openusage.candidates import LONG_BROKEN

    path = tmp_path / "wire.jsonl"
    usage = b'{"b": "x", "token_usage": {"input": 1}}'
    with path.open("wb") as f:
        f.write(b'{"a": 1}\n')
        f.write(b"\x00" * (8 * LONG_BROKEN) + usage + b"\n")
        f.write(b'{"b": "a line cut sh' + b"\x00" * (8 * LONG_BROKEN) + usage + b"\n")
        end = f.tell()
        f.write(b"\x00" * (8 * LONG_BROKEN) + usage)  # no newline yet
    counted, peak = judged_with_peak(path)
    assert counted == ({}, {"invalid_json": 2}, {"broken": 0, "candidates": 2}, end, True, {"invalid_json": 1})
    assert peak < 4 * LONG_BROKEN


def test_a_line_is_counted_by_its_edges_as_pythons_json_counts_it() -> None:
    """`providers.lines.decode` counts a line of ASCII that is no JSON by its edges (`jsonedges`)
    without a decoder: as Python's `json` on the line's text counts it, whatever the line."""
    import json

    from openusage.providers.lines import NOT_JSON, Tally, decode

    def reference(line: bytes) -> dict[str, int]:
        try:
            json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            return {"not_utf8": 1}
        except (ValueError, RecursionError):
            return {"invalid_json": 1}
        return {}

    rng = random.Random(20261205)
    alphabet = [b" ", b"\t", b"\r", b"{", b"}", b"[", b"]", b'"', b"1", b"-", b"e", b"y", b"l", b"N", b"I", b"t",
                b"f", b"n", b"x", b",", b":", b"\x00", b"\x1f", b"true", b"null", b"NaN", b"-Infinity", b'"a"',
                b"\xc3\xa9", b"\xff"]
    for _ in range(20000):
        line = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 8)))
        tally = Tally()
        value = decode(line, tally)
        assert tally.skipped == reference(line), line
        assert (value is NOT_JSON) == bool(tally.skipped), line
