"""The compiled block loop (`openusage._hot`) and its pure-Python twin (`openusage.hot.lines`) give the same
results: the same lines handed over (bytes and type), the same offsets and fingerprints, the same records
and skip counts from every provider's parser, and the same snapshot figures from the command, with the
cache written by one path and read by the other.

Where the compiled loop is not built (no compiler where the package was installed), these tests skip,
unless OPENUSAGE_REQUIRE_COMPILED=1 (CI sets it): then its absence fails them.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import test_properties_kimi_cli as kimi_cli_props
import test_properties_kimi_code as kimi_code_props
from codex_home import rollout_line, session_meta, token_count, turn_context
from openusage import hot
from openusage.candidates import LONG_BROKEN, Prefix, Reader
from openusage.providers.codex_cli.provider import NEEDLES as CODEX_NEEDLES
from openusage.providers.codex_cli.rollout import RolloutParser
from openusage.providers.kimi_cli.provider import NEEDLES as KIMI_CLI_NEEDLES
from openusage.providers.kimi_cli.wire import WireParser
from openusage.providers.kimi_code.journal import JournalParser
from openusage.providers.kimi_code.provider import NEEDLES as KIMI_CODE_NEEDLES
from property_files import (
    cannot_be_object,
    compiled_or_skip,
    damaged,
    files_of,
    noise_lines,
    plain,
    reader_settings,
    scan_file,
    write_file,
)

PURE = hot.Kernel(hot.lines, False, "the reference")


def compiled_kernel() -> hot.Kernel:
    kernel = hot.choose({})
    compiled_or_skip(kernel.compiled, "loop", kernel.why)
    return kernel


def compiled_hot(what: str) -> Any:
    """`openusage._hot` itself, for a test of its twin of `what` (skipped, or failed under
    OPENUSAGE_REQUIRE_COMPILED, where it is not built)."""
    loaded = hot._compiled({})
    compiled_or_skip(loaded.module is not None, what, loaded.why)
    assert loaded.module is not None
    return loaded.module


# The compiled loop's substring searches, widest first: "avx512bw" and "avx2" search for several needles in
# one pass where they share factors (the group search), the "-each" ones needle by needle.
SEARCHES = ["avx512bw", "avx512bw-each", "avx2", "avx2-each", "sse2", "memmem"]


@contextmanager
def search(name: str) -> Iterator[None]:
    """The compiled loop searching with `name` (skipped where this CPU has no such instructions)."""
    compiled_kernel()
    from openusage import _hot

    try:
        previous = _hot.use_search(name)
    except ValueError:
        pytest.skip(f"this CPU does not run the {name} search")
    try:
        yield
    finally:
        _hot.use_search(previous)


# --- the loop alone: lines, offsets, fingerprints ----------------------------------------------------------

# How the group search groups them (_hot.c, `make_plan`): one group sharing "_x" at three offsets; a needle
# 40 bytes before its group's factor, so a later vector can hold an earlier needle; four groups (".re" shared,
# three alone); five groups and a needle longer than a vector (both searched needle by needle); needles that
# overlap themselves and each other.
GROUPED = [(b'"ab_xy"', b'"cd_xy"', b"q_x"), (b"_zzq", b"a" * 40 + b"_zzr"),
           (b'"usage.record"', b'"forked"', b'"a.re"', b'"qj"', b'"vv"'), (b'"aa"', b'"bb"', b'"cc"', b'"dd"', b'"ee"'),
           (b"y" * 70 + b"_qa", b"_qb"), (b"a_b", b"_b_", b"b_bj")]
NEEDLE_SETS = [KIMI_CLI_NEEDLES, KIMI_CODE_NEEDLES, CODEX_NEEDLES, (b"a",), (b"ab",), *GROUPED]
PIECES = [b"x", b"\n", b"\r\n", b" ", b'"', b"\\", b"\xc3\xa9", b"\x00", b"ab", b"a", *KIMI_CLI_NEEDLES,
          *KIMI_CODE_NEEDLES, *CODEX_NEEDLES, b'"token_', b'usage"', b'"llm.', b'request"', b"x" * 70,
          *{needle for needles in GROUPED for needle in needles}, b"_x", b"_zz", b"a" * 40, b".re", b"_b", b"y" * 70,
          b'{"type": "text", "text": "the usage of tokens, requests and the forked record"}' * 3]
# Long enough for the compiled search's vector loops (32 bytes at a time) and their scalar tails.
contents = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=40)), max_size=120).map(b"".join)
blocks = st.one_of(st.integers(1, 300), st.sampled_from([4096, 256 * 1024]))


def loop_results(kernel: hot.Kernel, content: bytes, needles: tuple[bytes, ...], block: int, start: int,
                 size: int, long_broken: int = LONG_BROKEN) -> tuple[Any, ...]:
    """What a scan of `content[start:size]` hands over and returns, and its prefix hash, with `kernel`
    (its compiled loop, `_hot.scan`, where it has one; else the reader's own)."""
    handed: list[tuple[str, bytes]] = []
    broken: list[bytes] = []
    with tempfile.TemporaryFile() as f:
        f.write(content)
        f.flush()
        # A small hash unit: chunks cut by every block edge.
        reader = Reader(block, kernel, chunk=7, long_broken=long_broken)
        prefix = reader.hash_prefix(f.fileno(), start) if start else Prefix(7)
        assert prefix is not None
        end, tail = reader.scan(f.fileno(), start, size, needles,
                                lambda line: handed.append((type(line).__name__, bytes(line))), prefix,
                                lambda line: broken.append(bytes(line)))
    return handed, end, tail, prefix.at(end), prefix.hashed, prefix.mark, sorted(broken)


def suspects(content: bytes, needles: tuple[bytes, ...], start: int, end: int) -> list[bytes]:
    """The lines a scan of `content[start:end]` must hand to `on_broken`, worked out the plain way: every
    complete line that holds no needle, is not blank, and does not begin with `{` and end with `}` once
    JSON's blanks are taken off its two ends."""
    return sorted(line for line in content[start:end].split(b"\n")[:-1]
                  if cannot_be_object(line) and not any(n in line for n in needles))


@pytest.mark.parametrize("name", SEARCHES)
@reader_settings(400)
@given(content=contents, needles=st.sampled_from(NEEDLE_SETS), block=blocks, data=st.data())
def test_the_loops_hand_over_the_same_lines_offsets_and_fingerprints(
        name: str, content: bytes, needles: tuple[bytes, ...], block: int, data: st.DataObject) -> None:
    compiled = compiled_kernel()
    starts = [0] + [i + 1 for i, byte in enumerate(content) if byte == 0x0A]
    start = data.draw(st.sampled_from(starts))
    size = data.draw(st.integers(start, len(content) + 5))  # beyond the end: the file "shrank" since
    # Lines longer than `long_broken` are read and judged in pieces, by the reader's Python either way.
    long_broken = data.draw(st.sampled_from([LONG_BROKEN, 3, 40]))
    with search(name):
        found = loop_results(compiled, content, needles, block, start, size, long_broken)
    assert found == loop_results(PURE, content, needles, block, start, size, long_broken)


# Lines longer than `long_broken` that hold a needle: no JSON by their edges (zeros, a crash's), or JSON,
# before the needle, after it, cut by every block edge; a needle's line begun more than `long_broken`
# before a block (`_end_of_long_line`) and one followed into a later block (`_line`).
LONG_LINES = [b'{"a":"' + b"\x00" * 50 + b'"token_usage"}\nnext\n',
              b"x" * 30 + b'"token_usage"' + b"y" * 30 + b"\n{}\n",
              b"\x00" * 60 + b'"token_usage"\n', b'{"k":"' + b"z" * 80 + b'","t":"token_usage"}\n',
              b'{"t":"token_usage","k":"' + b"\x00" * 70 + b'"}\n' + b"\x00" * 40 + b"\n",
              b"\x00" * 90 + b'"token_usage"']


@pytest.mark.parametrize("content", LONG_LINES, ids=[f"long{i}" for i in range(len(LONG_LINES))])
def test_the_loops_read_long_lines_alike(content: bytes) -> None:
    """Both loops hand over the same stand-in for each long line (`Reader._line`, `_long_line`), whichever
    block edge cuts it and however long `long_broken` is: the compiled loop leaves these to the reader."""
    compiled = compiled_kernel()
    for block in (16, 20, 31, 40, 64, 100):
        for long_broken in (3, 8, 40, 1000):
            needles = (b'"token_usage"',)
            assert loop_results(compiled, content, needles, block, 0, len(content), long_broken) == \
                loop_results(PURE, content, needles, block, 0, len(content), long_broken), (block, long_broken)


# Needles of any make: short and long (past a vector), from few bytes, so that they share factors with
# one another in every way (`make_plan` grouping them, or leaving them to the per-needle search), and text
# made of their pieces, so that their factors and near misses turn up at every offset.
_LETTERS = b"ab_.x\"\n"
any_needles = st.lists(st.binary(min_size=1, max_size=70).map(lambda raw: bytes(_LETTERS[b % 6] for b in raw)),
                       min_size=1, max_size=6, unique=True).map(tuple)


@st.composite
def made_of(draw: st.DrawFn, needles: tuple[bytes, ...]) -> bytes:
    pieces = [*needles, *(n[i:j] for n in needles for i, j in [(0, len(n) // 2), (len(n) // 3, len(n))]),
              b"\n", b"x" * 64, b"_"]
    return b"".join(draw(st.lists(st.one_of(st.sampled_from(pieces), st.binary(max_size=8).map(
        lambda raw: bytes(_LETTERS[b % len(_LETTERS)] for b in raw))), max_size=80)))


@pytest.mark.parametrize("name", SEARCHES)
@reader_settings(300)
@given(needles=any_needles, block=blocks, data=st.data())
def test_needles_of_any_make_are_found_alike_by_every_search(
        name: str, needles: tuple[bytes, ...], block: int, data: st.DataObject) -> None:
    compiled = compiled_kernel()
    content = data.draw(made_of(needles))
    with search(name):
        found = loop_results(compiled, content, needles, block, 0, len(content))
    assert found == loop_results(PURE, content, needles, block, 0, len(content))


def test_threads_searching_for_other_needles_at_once_find_their_own() -> None:
    """A resident process reads on threads, and the search lets go of the GIL: each thread's needles
    are planned for (`_hot.c`, `plan_of`) and searched apart from another thread's, whatever the order."""
    import threading

    compiled = compiled_kernel()
    filler = b'{"text": "' + b"the usage of tokens, requests and the forked record " * 400 + b'"}\n'  # > 16 KiB
    sets = [CODEX_NEEDLES, KIMI_CODE_NEEDLES, *GROUPED[:3]]
    contents = [b"".join(filler + b"{" + needle + b"}\n" for needle in needles) * 3 for needles in sets]
    expected = [loop_results(PURE, content, needles, 64 * 1024, 0, len(content))
                for content, needles in zip(contents, sets, strict=True)]
    failures: list[int] = []

    def scan_again(k: int) -> None:
        for _ in range(30):
            if loop_results(compiled, contents[k], sets[k], 64 * 1024, 0, len(contents[k])) != expected[k]:
                failures.append(k)

    threads = [threading.Thread(target=scan_again, args=(k,)) for k in range(len(sets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@reader_settings(400)
@given(content=st.lists(st.one_of(st.sampled_from([b"{", b"}", b" ", b"\t", b"\r", b"\n", b"\n\n", b"{}", b" }\r\n",
                                                  b'{"a": 1}', b"x" * 70, b'"token_usage"', b"junk"]),
                                  st.binary(max_size=12)), max_size=80).map(b"".join),
       needles=st.sampled_from(NEEDLE_SETS), block=blocks, data=st.data())
def test_the_lines_that_cannot_be_json_are_the_plain_ones_on_both_loops(
        content: bytes, needles: tuple[bytes, ...], block: int, data: st.DataObject) -> None:
    """`judge` (compiled and pure) across every cut of lines by blocks: the suspect lines handed over are
    exactly those the plain definition gives, each once, however the blocks overlap."""
    starts = [0] + [i + 1 for i, byte in enumerate(content) if byte == 0x0A]
    start = data.draw(st.sampled_from(starts))
    kernels = [PURE]
    if hot.choose({}).compiled:
        kernels.append(hot.choose({}))
    for kernel in kernels:
        results = loop_results(kernel, content, needles, block, start, len(content))
        end = results[1]
        assert results[-1] == suspects(content, needles, start, end), kernel.why


# Text for the UTF-8 test of every line: characters of one to four bytes (long runs of them, which the
# compiled check takes 32 bytes at a time), and the bytes UTF-8 refuses: a stray continuation, leading bytes
# that never lead (C0, C1, F5-FF), overlong and surrogate forms, a value past U+10FFFF, characters cut short.
_WRONG_UTF8 = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xed\xa0\x80",
               b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80",
               b"\xf8", b"\xff", b"\xc3", b"\xe4\xb8", b"\xf0\x9f\x98", b"\xc3\xa9\xa9", b"\xe4\xb8\xad\xad"]
_RIGHT_UTF8 = [b"a", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbf",
               b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", "中文字".encode(), "😀".encode(), "é".encode()]
text_pieces = st.one_of(st.sampled_from(_RIGHT_UTF8), st.characters(codec="utf-8").map(str.encode),
                        st.tuples(st.sampled_from(_RIGHT_UTF8[1:]), st.integers(1, 40)).map(lambda r: r[0] * r[1]),
                        st.sampled_from(_WRONG_UTF8), st.just(b"\n"), st.just(b'{"a": "'), st.just(b'"}\n'))


@pytest.mark.parametrize("name", ["avx512bw", "avx2", "sse2"])
@reader_settings(300)
@given(content=st.lists(text_pieces, max_size=60).map(b"".join), needles=st.sampled_from(NEEDLE_SETS[:3]),
       block=blocks, data=st.data())
def test_a_line_that_is_not_utf8_is_a_suspect_however_the_blocks_cut_its_characters(
        name: str, content: bytes, needles: tuple[bytes, ...], block: int, data: st.DataObject) -> None:
    """`judge` (compiled at each width, and pure) finds every line that Python's decoder refuses,
    wherever a block edge cuts a character and however long its runs of characters of two to four bytes
    (the compiled check takes those 32 bytes at a time with AVX2), and no other."""
    starts = [0] + [i + 1 for i, byte in enumerate(content) if byte == 0x0A]
    start = data.draw(st.sampled_from(starts))
    results = loop_results(PURE, content, needles, block, start, len(content))
    assert results[-1] == suspects(content, needles, start, results[1])
    with search(name):
        assert loop_results(compiled_kernel(), content, needles, block, start, len(content)) == results


def test_the_state_of_a_line_cut_in_a_character_is_what_python_keeps() -> None:
    """The state `judge` carries between blocks for the line under way: the bytes of a character begun
    (as Python's incremental decoder keeps them), or NOT_UTF8 from the first byte it refuses; the same
    from both loops, block after block."""
    kernels = [PURE] + ([hot.choose({})] if hot.choose({}).compiled else [])
    text = '{"t": "中文 😀 é ' + "中" * 40 + '"}'
    line = text.encode() + b"\n"
    for cut in range(1, len(line) - 1):
        states = []
        for kernel in kernels:
            first = kernel.judge(bytearray(line[:cut]), 0, cut, 0, 0, -1, -1, 0)
            second = kernel.judge(bytearray(line[cut:]), 0, len(line) - cut, cut, *first[:4])
            states.append((first[3], second))
        decoder = codecs.getincrementaldecoder("utf-8")()
        decoder.decode(line[:cut])
        pending = decoder.getstate()[0]
        assert states[0][0] == len(pending) | int.from_bytes(pending, "little") << 8, cut
        assert states[0][1] == (len(line), -1, -1, 0, []), cut
        assert all(state == states[0] for state in states), cut
    for wrong in _WRONG_UTF8[:-5]:
        broken = bytearray(b'{"t": "' + wrong + b'"}\n')
        for kernel in kernels:
            assert kernel.judge(broken, 0, len(broken) - 1, 0, 0, -1, -1, 0)[3] == hot.NOT_UTF8, (wrong, kernel.why)
            assert kernel.judge(broken, 0, len(broken), 0, 0, -1, -1, 0)[4] == [(0, len(broken) - 1)], wrong


def test_a_broken_line_longer_than_the_block_is_read_again_whole() -> None:
    """A suspect line that began blocks before its end is handed over whole, from the file, on both loops."""
    long_broken = b'{"type": "TurnBegin", "text": "' + b"y" * 500  # cut by a crash: no closing brace
    content = b'{"ok": 1}\n' + long_broken + b"\n" + b"   \n" + b"not json\r\n" + b'{"last": 1}'
    kernels = [PURE] + ([hot.choose({})] if hot.choose({}).compiled else [])
    for kernel in kernels:
        results = loop_results(kernel, content, KIMI_CLI_NEEDLES, 64, 0, len(content))
        assert results[-1] == sorted([long_broken, b"not json\r"]), kernel.why
        assert results[1] == len(content) - len(b'{"last": 1}')  # the last line, still being written: not judged


@pytest.mark.parametrize("name", SEARCHES)
@pytest.mark.parametrize("needles", NEEDLE_SETS, ids=repr)
def test_a_needle_at_every_position_of_a_block_is_found(name: str, needles: tuple[bytes, ...]) -> None:
    """Each needle at each of 100 positions of a line (every lane of the vector search, and its tail),
    the rest text that shares the needle's bytes without holding it: each decoy is the needle with one
    byte changed, so every byte the vector filter compares first (two of the needle's and its last)
    matches in some decoy while the needle does not."""
    compiled = compiled_kernel()
    filler = b"x" * 100
    block = 16 * 1024  # the whole line in one block (a needle of 70 bytes has 70 decoys of 70 bytes)
    for needle in needles:
        decoys = b"".join(needle[:k] + b"#" + needle[k + 1:] for k in range(len(needle)))
        for at in range(100):
            content = b"{" + filler[:at] + needle + decoys + filler[at:] + b"}\n" + decoys + b"\n"
            with search(name):
                results = loop_results(compiled, content, needles, block, 0, len(content))
            assert results == loop_results(PURE, content, needles, block, 0, len(content)), (needle, at)
            assert results[0] == [("bytearray", content[: content.index(b"\n")])], (needle, at)


def test_a_line_that_began_in_an_earlier_block_is_read_again_the_same_way() -> None:
    """A candidate line longer than the block: both loops read it again in one piece, as bytes."""
    compiled = compiled_kernel()
    content = b"head\n" + b"x" * 1000 + b'"token_usage"' + b"y" * 1000 + b"\nend"
    results = loop_results(compiled, content, KIMI_CLI_NEEDLES, 64, 0, len(content))
    assert results == loop_results(PURE, content, KIMI_CLI_NEEDLES, 64, 0, len(content))
    assert results[0] == [("bytes", content[5:-4])]


def test_a_failed_read_again_raises_the_same_error() -> None:
    """A line that began before the block is read again from the file; when that read fails (here a
    closed descriptor), both loops raise OSError with the same errno, and hand nothing over."""
    compiled = compiled_kernel()
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    block = bytearray(b'xx"token_usage"yy\n')
    errors = []
    for kernel in (compiled, PURE):
        handed: list[Any] = []
        with pytest.raises(OSError) as caught:  # noqa: PT011  (the errno is compared below)
            kernel.lines(block, KIMI_CLI_NEEDLES, 100, 0, len(block), 40, fd, handed.append)
        errors.append(caught.value.errno)
        assert handed == []
    assert errors[0] == errors[1]


# --- the providers' parsers over both loops -----------------------------------------------------------------

def chunks_of(kernel: hot.Kernel, content: bytes, needles: tuple[bytes, ...], block: int, cut: int,
              parser_at: Any) -> Any:
    """Both chunks of a read in two steps and the offset consumed, as plain data."""
    return plain(scan_file(content, needles, block, cut, parser_at, kernel))


@reader_settings(150)
@given(content=kimi_cli_props.wire_files(kimi_cli_props.any_times), block=st.integers(1, 300), cut=st.floats(0, 1))
def test_kimi_cli_records_and_skips_are_the_same(content: bytes, block: int, cut: float) -> None:
    compiled = compiled_kernel()
    at = int(len(content) * cut)
    assert chunks_of(compiled, content, KIMI_CLI_NEEDLES, block, at, lambda _state: WireParser()) == \
        chunks_of(PURE, content, KIMI_CLI_NEEDLES, block, at, lambda _state: WireParser())


@reader_settings(150)
@given(content=kimi_code_props.journals(kimi_code_props.any_times), block=st.integers(1, 300),
       cut=st.floats(0, 1))
def test_kimi_code_records_and_skips_are_the_same(content: bytes, block: int, cut: float) -> None:
    compiled = compiled_kernel()
    at = int(len(content) * cut)

    def parser(state: bytes | None) -> JournalParser:
        return JournalParser("main", state)

    assert chunks_of(compiled, content, KIMI_CODE_NEEDLES, block, at, parser) == \
        chunks_of(PURE, content, KIMI_CODE_NEEDLES, block, at, parser)


def codex_pool(draw: st.DrawFn) -> list[bytes]:
    counts = st.tuples(*[st.integers(0, 5000)] * 4)
    good = [
        session_meta("2026-11-19T10:00:00.000Z", "t1").encode(),
        turn_context("2026-11-19T10:00:01.000Z", draw(st.sampled_from(["gpt-5", "o3", ""]))).encode(),
        *(token_count("2026-11-19T10:00:02.000Z", draw(st.none() | counts), draw(st.none() | counts)).encode()
          for _ in range(draw(st.integers(1, 4)))),
        rollout_line("2026-11-19T10:00:03.000Z", "event_msg", {"type": "token_count", "info": None}).encode(),
    ]
    return good + [draw(damaged(line)) for line in good] + draw(st.lists(noise_lines, max_size=3))


@st.composite
def rollouts(draw: st.DrawFn) -> bytes:
    return draw(files_of(codex_pool(draw), max_lines=12))


@reader_settings(150)
@given(content=rollouts(), block=st.integers(1, 300), cut=st.floats(0, 1))
def test_codex_records_and_skips_are_the_same(content: bytes, block: int, cut: float) -> None:
    compiled = compiled_kernel()
    at = int(len(content) * cut)

    def parser(state: bytes | None) -> RolloutParser:
        return RolloutParser("t1", state)

    assert chunks_of(compiled, content, CODEX_NEEDLES, block, at, parser) == \
        chunks_of(PURE, content, CODEX_NEEDLES, block, at, parser)


# --- the command: figures, and one cache shared by both paths -----------------------------------------------

def snapshot(env: dict[str, str], pure: bool, *args: str) -> dict[str, Any]:
    """`openusage snapshot --json` in its own process (the loop is chosen once per process)."""
    run_env = {**env, "OPENUSAGE_NOW": kimi_cli_props.NOW}
    run_env.pop("OPENUSAGE_PURE", None)
    if pure:
        run_env["OPENUSAGE_PURE"] = "1"
    done = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json", *args], env=run_env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    del doc["generated_at"]
    return doc


@reader_settings(6)
@given(home=kimi_cli_props.homes(), grown=st.floats(0, 1))
def test_snapshots_are_the_same_on_both_paths_and_share_the_cache(home: Any, grown: float) -> None:
    compiled_kernel()
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "kimi")
        kimi_cli_props.write_home(root, home, grown)
        env = {**os.environ, "KIMI_SHARE_DIR": root, "OPENUSAGE_CACHE_DIR": os.path.join(tmp, "cache")}
        cold = snapshot(env, False, "--no-cache")
        assert snapshot(env, True, "--no-cache") == cold
        assert snapshot(env, False) == cold, "a first run, compiled"
        kimi_cli_props.write_home(root, home, 1.0)  # the files grow from a cut anywhere
        grown_cold = snapshot(env, True, "--no-cache")
        assert snapshot(env, True) == grown_cold, "the pure path reads on in the compiled path's cache"
        assert snapshot(env, False) == grown_cold, "and the compiled path in the pure path's"


FIXTURES = Path(__file__).parent / "fixtures"


def test_fixture_homes_give_the_same_snapshots_on_both_paths(tmp_path: Path) -> None:
    compiled_kernel()
    for fixture in sorted((FIXTURES / "kimi_cli").glob("*.jsonl")):
        write_file(str(tmp_path / "kimi" / "sessions" / "g" / fixture.stem / "wire.jsonl"), fixture.read_bytes())
    for fixture in sorted((FIXTURES / "codex_cli").glob("*.jsonl")):
        write_file(str(tmp_path / "codex" / "sessions" / "2026" / "11" / "19" /
                       f"rollout-2026-11-19T10-00-00-{fixture.stem}.jsonl"), fixture.read_bytes())
    env = {**os.environ, "KIMI_SHARE_DIR": str(tmp_path / "kimi"), "CODEX_HOME": str(tmp_path / "codex"),
           "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache")}
    cold = snapshot(env, False, "--no-cache")
    assert len(cold["snapshots"]) == 2
    assert any(snap["diagnostics"]["records_counted"] for snap in cold["snapshots"])
    assert snapshot(env, True, "--no-cache") == cold
    assert snapshot(env, True) == cold
    assert snapshot(env, False) == cold


# --- the choice, and what detect says -----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_openusage_pure_forces_the_pure_loop(value: str) -> None:
    kernel = hot.choose({"OPENUSAGE_PURE": value})
    assert kernel == hot.Kernel(hot.lines, False, f"OPENUSAGE_PURE={value} is set")
    assert Reader(kernel=kernel).kernel.lines is hot.lines


@pytest.mark.parametrize("value", ["", "0"])
def test_openusage_pure_empty_or_zero_does_not_force_it(value: str) -> None:
    compiled = compiled_kernel()
    assert hot.choose({"OPENUSAGE_PURE": value}) == compiled
    assert compiled.lines is not hot.lines


def detect(pure: bool, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENUSAGE_PURE"}
    if pure:
        env["OPENUSAGE_PURE"] = "1"
    done = subprocess.run([sys.executable, "-m", "openusage", "detect", *args], env={**env, "COLUMNS": "200"},
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_detect_says_which_loop_reads() -> None:
    compiled = compiled_kernel()
    assert f"reader: compiled ({compiled.why})" in detect(False).splitlines()
    assert "reader: pure Python (OPENUSAGE_PURE=1 is set)" in detect(True).splitlines()
    assert json.loads(detect(False, "--json"))["reader"] == {"compiled": True, "why": compiled.why}
    assert json.loads(detect(True, "--json"))["reader"] == {"compiled": False, "why": "OPENUSAGE_PURE=1 is set"}


_LINE_BYTES = st.lists(st.sampled_from([b"{", b"}", b'"', b" ", b"\t", b"\r", b"a", b"1", b"e", b"l", b"]", b",",
                                        b":", b"\xc3", b"\xa9", b"\xff", b"\xe2\x82\xac"]), max_size=12)


@given(_LINE_BYTES)
def test_suspect_is_what_judge_hands_over_for_one_whole_line(parts: list[bytes]) -> None:
    """`hot.suspect` (what reads a Codex rollout's head again passes over) is `judge`'s own test on one
    line, whichever `judge` a scan runs (the compiled one where it loads): blanks alone are nothing, a line
    whose ends cannot be an object's or that is not UTF-8 is one."""
    line = b"".join(parts)
    buf = bytearray(line + b"\n")
    spans = hot.choose({}).judge(buf, 0, len(buf), 0, 0, -1, -1, 0)[4]
    assert hot.suspect(line) == bool(spans)


@pytest.mark.parametrize(("line", "expected"), [
    (b'{"type":"turn_context","payload":{}}', False), (b' {"a": 1} \r', False), (b"{}", False), (b"", False),
    (b"  \t", False), (b"garbage", True), (b"{oops}", True), (b'{"a":1,}', True), (b"[1,2]", True),
    (b'{"timestamp":"2026-11-20T09:00:00.000Z","type":"resp', True), (b'{"a":"\xc3"}', True),
    (b'{"a":"\xc3\xa9"}', False)])
def test_suspect_lines(line: bytes, expected: bool) -> None:
    assert hot.suspect(line) is expected
    assert hot.blank(line) is (line.strip(b" \t\r") == b"")


# -- a first run's holders entries (`hot.shard_entries`, `Store._hold_new`) ---------------------------

crc_arrays = st.lists(st.integers(0, 2**32 - 1), max_size=40).map(lambda crcs: array("I", crcs))


@reader_settings(300)
@given(files=st.lists(st.tuples(st.integers(0, 2**31 - 1), crc_arrays), max_size=60),
       shape=st.sampled_from([(31, 22, 1024), (3, 30, 4), (0, 31, 2), (31, 20, 4096), (31, 32, 1)]))
def test_the_holders_entries_are_the_same_from_both(files: list[tuple[int, array[int]]],
                                                    shape: tuple[int, int, int]) -> None:
    """Every entry of every file, in its shard, each shard sorted: the compiled twin and the reference
    give the same bytes (the store seals them as they are)."""
    module = compiled_hot("holders entries")
    bits, shift, shards = shape
    files = [(file_id % (1 << bits) if bits else 0, crcs) for file_id, crcs in files]
    assert module.shard_entries(files, bits, shift, shards) == hot.shard_entries(files, bits, shift, shards)


def test_the_compiled_holders_entries_refuse_what_is_not_a_file_of_crcs() -> None:
    module = compiled_hot("holders entries")
    entries = module.shard_entries
    with pytest.raises(TypeError):
        entries([(1, [1, 2])], 31, 22, 1024)  # a list, not an array('I')
    with pytest.raises(TypeError):
        entries([(1, array("q", [1]))], 31, 22, 1024)
    with pytest.raises(TypeError, match="must be an int"):
        entries([(1.0, array("I", [1]))], 31, 22, 1024)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="file id out of range"):
        entries([(2**31, array("I", [1]))], 31, 22, 1024)  # a file id beyond its bits
    with pytest.raises(ValueError, match="do not fit"):
        entries([], 31, 21, 1024)  # a crc's shard beyond the shards
    assert entries([], 31, 22, 1024) == [b""] * 1024


keys = st.text(alphabet=st.sampled_from("ab\x1f:-_0123456789é😀\ud800\udcff"), max_size=120)


@reader_settings(300)
@given(records=st.lists(keys, max_size=30), tail=st.lists(keys, max_size=5))
def test_the_key_crcs_are_the_same_from_both(records: list[str], tail: list[str]) -> None:
    """zlib's crc32 of each key's UTF-8 (lone surrogates passed through), each once, sorted: the compiled
    twin's own crc32 gives the bytes the reference gives."""
    from openusage.calls import UsageRecord
    from openusage.store import crc_array, key_crc, key_crcs_reference

    module = compiled_hot("key crcs")

    def copies(names: list[str]) -> list[UsageRecord]:
        return [UsageRecord(name, 1.0, "m", 1, 2, 3, 4, "turn", 0, 0) for name in names]

    compiled = module.key_crcs(copies(records), copies(tail))
    assert compiled == key_crcs_reference(copies(records), copies(tail))
    assert list(crc_array(compiled)) == sorted({key_crc(name) for name in records + tail})


def test_the_compiled_key_crcs_refuse_a_key_that_is_not_text() -> None:
    module = compiled_hot("key crcs")
    from openusage.calls import UsageRecord

    with pytest.raises(TypeError, match="must be a str"):
        module.key_crcs([UsageRecord(b"k", 1.0, "m", 1, 2, 3, 4, "turn", 0, 0)], [])  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        module.key_crcs([object()], [])  # type: ignore[list-item]
    assert module.key_crcs([], []) == b""


# -- the top of a file (`hot.head_lines`, a Codex rollout's head) ----------------------------------

HEAD_KEEP = b'"keep"'
HEAD_ENDS = (b'"end_a"', b'"end_b"')
head_pieces = st.one_of(
    st.sampled_from([b'{"type":"keep","x":1}', b'{"type":"end_a"}', b'{"k":"end_b"}', b'{"type":"end_b"', b"junk",
                     b'"end_a"', b"{}", b"  \t", b"\r", b"", b' {"keep": "\xc3"} ', b'{"a":"\xc3\xa9","t":"end_a"}',
                     b'{"a":"\xed\xa0\x80","t":"end_b"}', b'{"other":1}', b"{", b"}", b'{"end_a":1,}']),
    st.lists(st.sampled_from(_RIGHT_UTF8 + _WRONG_UTF8 + [b'"end_a"', b'"keep"', b"{", b"}", b'"', b" "]),
             max_size=12).map(b"".join))
head_blocks = st.lists(head_pieces, max_size=40).map(b"\n".join)


def head_plain(block: bytes, start: int, passes: int, most: int) -> tuple[list[bytes], bool, int, int]:
    """What `head_lines` must do, worked out line by line from the definition: each complete line from
    `start` holding the kept needle is kept; the first other one holding an end, not blank and not a
    suspect, ends the top; every other line counts as passed over, and one past `most` ends it."""
    kept: list[bytes] = []
    at = start
    for line in block[start:].split(b"\n")[:-1]:
        at += len(line) + 1
        if HEAD_KEEP in line:
            kept.append(line)
            continue
        if line.strip(b" \t\r") and not cannot_be_object(line) and any(end in line for end in HEAD_ENDS):
            return kept, True, at, passes
        passes += 1
        if passes > most:
            return kept, True, at, passes
    return kept, False, at, passes


@reader_settings(400)
@given(block=head_blocks, data=st.data(), passes=st.integers(0, 5), most=st.integers(0, 8))
def test_the_top_of_a_file_is_the_same_from_both(block: bytes, data: st.DataObject, passes: int,
                                                  most: int) -> None:
    """The lines kept, whether the top ended, where it stopped and the lines passed over: the compiled
    twin and the reference agree with the plain definition, from any line's start, on bytes and on a
    bytearray (a line the block before ended in, joined)."""
    starts = [0] + [i + 1 for i, byte in enumerate(block) if byte == 0x0A]
    start = data.draw(st.sampled_from(starts))
    kept, done, stop, passed = head_plain(block, start, passes, most)
    kernels = [hot.head_lines]
    loaded = hot._compiled({})
    if loaded.module is not None:
        kernels.append(loaded.module.head_lines)
    for kernel in kernels:
        for given_block in (block, bytearray(block)):
            lines: list[bytes] = [b"before"]
            assert kernel(given_block, start, HEAD_KEEP, HEAD_ENDS, lines, passes, most) == (done, stop, passed)
            assert lines == [b"before", *kept]
            assert all(type(line) is bytes for line in lines)


def test_the_head_kernel_is_the_compiled_one_where_it_loads() -> None:
    module = compiled_hot("head lines")
    assert hot.head_kernel({}) is module.head_lines
    assert hot.head_kernel({"OPENUSAGE_PURE": "1"}) is hot.head_lines


def test_the_compiled_head_lines_refuse_what_they_cannot_read() -> None:
    module = compiled_hot("head lines")
    head = module.head_lines
    with pytest.raises(TypeError):
        head(b"a\n", 0, "keep", HEAD_ENDS, [], 0, 1)  # type: ignore[arg-type]  # a needle as text
    with pytest.raises(TypeError, match="every needle"):
        head(b"a\n", 0, HEAD_KEEP, ("end",), [], 0, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        head(b"a\n", 0, HEAD_KEEP, HEAD_ENDS, (), 0, 1)  # type: ignore[arg-type]  # not a list
    with pytest.raises(TypeError):
        head("a\n", 0, HEAD_KEEP, HEAD_ENDS, [], 0, 1)  # type: ignore[arg-type]  # not a buffer
    with pytest.raises(ValueError, match="start"):
        head(b"a\n", 3, HEAD_KEEP, HEAD_ENDS, [], 0, 1)
    with pytest.raises(ValueError, match="start"):
        head(b"a\n", -1, HEAD_KEEP, HEAD_ENDS, [], 0, 1)
    assert head(b"", 0, HEAD_KEEP, HEAD_ENDS, [], 0, 1) == (False, 0, 0)


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure"])
def test_a_signal_stops_the_scan_of_a_long_file_between_blocks(tmp_path: Path, compiled: bool) -> None:
    """A signal's handler (Ctrl-C's) runs between two blocks of one long file, not only once the whole file
    is scanned: the compiled loop checks for signals as the Python loop's bytecode does."""
    import signal

    kernel = compiled_kernel() if compiled else PURE
    path = tmp_path / "long.jsonl"
    line = b'{"type":"x","token_usage":{"a":1}}\n'
    path.write_bytes(line * (32 * 1024 * 1024 // len(line)))
    handed: list[object] = []

    def interrupt(_signum: int, _frame: object) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    fd = os.open(path, os.O_RDONLY)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.001)
        with pytest.raises(_Interrupted):
            Reader(kernel=kernel).scan(fd, 0, os.fstat(fd).st_size, (b'"token_usage"',), handed.append)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(fd)
    assert len(handed) < os.path.getsize(path) // len(line)  # stopped part way
