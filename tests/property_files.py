"""Hypothesis strategies shared by the readers' property tests: arbitrary JSON values, lines written the
way an agent (or a broken tool) could write them, files assembled from lines with every line ending,
and the reader run over a file with a read block of any size.

Also how a compiled path's results are compared with its pure-Python reference's (`plain`), and the
rule for a compiled path that is not in use (`compiled_or_skip`).

Nothing here knows a counting rule: each reader's reference model lives in its own test file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from openusage.candidates import Reader
from openusage.hot import Kernel
from openusage.records import Chunk

# Fixed examples for CI: the same cases on every run, no example database. The function-scoped fixture
# each test gets (the isolated HOME from conftest) is the same for every example, and each example
# writes into its own temporary directory.
SETTINGS = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.data_too_large],
}


def reader_settings(examples: int) -> settings:
    """CI's fixed examples; `PROPERTY_HUNT=<n>` in the environment runs n times as many, new ones on every
    run (a longer search on a developer's machine)."""
    hunt = int(os.environ.get("PROPERTY_HUNT", "0") or 0)
    if hunt > 0:
        return settings(max_examples=examples * hunt, **{**SETTINGS, "derandomize": False})  # type: ignore[arg-type]
    return settings(max_examples=examples, **SETTINGS)  # type: ignore[arg-type]  # the dict's value types


class Absent:
    """A field left out of its object (not the same as null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = Absent()

# Any JSON value Python's json writes and reads back: null, booleans, integers of any size, floats
# including NaN and the infinities (json.dumps writes them), strings, and nested arrays and objects.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**53, 2**64 + 1, 10**40, -(10**40)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn about as often as its weight says (`st.one_of` leans on the
    last ones, and these tests need most lines to be plain usage)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


def put(obj: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """`obj` with `key` set to `value`, or left out when `value` is ABSENT."""
    if value is not ABSENT:
        obj[key] = value
    return obj


@st.composite
def encoded(draw: st.DrawFn, obj: Any) -> bytes:
    """`obj` as one line of JSON, in any of the spellings writers use: Python's `json.dumps` defaults
    (Kimi CLI), compact (`JSON.stringify`, Kimi Code), ASCII-escaped or not. A lone surrogate written
    unescaped is not UTF-8 (what a broken writer leaves)."""
    compact = draw(st.booleans())
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()), separators=(",", ":") if compact else None)
    return text.encode("utf-8", "surrogatepass")


# Lines that are no record at all: arbitrary bytes (never a newline: that would be two lines, which
# the file's own newlines already give), blank lines, and text.
noise_lines = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"", b" ", b"\r", b"\t\r", b"{", b"}", b"null", b"[]", b"\x00\xff\xfe"]),
    st.text(max_size=30).map(lambda t: t.replace("\n", "").encode("utf-8", "surrogatepass")),
)


@st.composite
def damaged(draw: st.DrawFn, line: bytes) -> bytes:
    """`line` cut short, or with bytes put in or replaced: a line that may no longer be JSON or UTF-8."""
    if not line:
        return line
    at = draw(st.integers(0, len(line)))
    kind = draw(st.sampled_from(["cut", "insert", "replace"]))
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b'"', b"{", b"}", b",", b"\\", b"NaN", b"\r"]))
    if kind == "cut":
        return line[:at]
    if kind == "insert":
        return line[:at] + junk + line[at:]
    return line[:at] + junk + line[at + 1 :]


@st.composite
def files_of(draw: st.DrawFn, pool: Sequence[bytes], min_lines: int = 0, max_lines: int = 10) -> bytes:
    """A file of lines drawn from `pool` (the same line may come again: a verbatim copy), or the first
    lines of the pool in order (so order matters: a fork copies the start of its source), each ended by
    `\\n` or `\\r\\n`; the last one may have no newline (a line still being written, or a file whose
    writer left it so)."""
    if not pool:
        picks: list[int] = []
    elif draw(st.booleans()):  # the pool in order, from its start: a session and its forks' copies of it
        picks = list(range(draw(st.integers(min(min_lines, len(pool)), len(pool)))))
    else:
        picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=min_lines, max_size=max_lines))
    out = bytearray()
    for index in picks:
        out += pool[index] + draw(st.sampled_from([b"\n", b"\r\n"]))
    if picks and draw(st.booleans()):
        out = out.rstrip(b"\n")  # no final newline: the last line is a partial one
    return bytes(out)


def split_lines(content: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines of a file (without their `\\n`) and the bytes after the last newline."""
    *complete, rest = content.split(b"\n")
    return complete, rest


def scan_file(content: bytes, needles: tuple[bytes, ...], block: int, cut: int,
              parser_at: Callable[[bytes | None], Any], kernel: Kernel | None = None) -> tuple[list[Chunk], int]:
    """Read `content` as the scan reads a file that grows: up to `cut` bytes first (the file as a writer
    left it for a moment), then on from where that read stopped to the end, with the reader's state
    handed over, through a Reader whose block is `block` bytes (so lines cross blocks and exceed them).
    Returns both chunks and the offset the first one consumed. `kernel`: the reader's block loop (by
    default the one `openusage.hot.choose` picks)."""
    reader = Reader(block, kernel)
    with tempfile.TemporaryFile() as f:
        f.write(content)
        f.flush()
        fd = f.fileno()
        first_parser = parser_at(None)
        end, tail = reader.scan(fd, 0, cut, needles, first_parser.line, None, first_parser.broken)
        first = first_parser.finish(end, tail)
        second_parser = parser_at(first.state)
        end2, tail2 = reader.scan(fd, end, len(content), needles, second_parser.line, None, second_parser.broken)
        second = second_parser.finish(end2, tail2)
    return [first, second], end


def cannot_be_object(line: bytes) -> bool:
    """What `openusage.hot.judge` looks for, the plain way: a line that is not blank and that is not
    UTF-8, or, JSON's blanks aside, is not `{}` and does not begin with `{"` and end with a value's end (a
    quote, a digit, `e`, `l`, `}` or `]`) and `}`."""
    core = line.strip(b" \t\r")
    if not core:
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if not (core.startswith(b"{") and core.endswith(b"}")) or len(core) < 2:
        return True
    inner = core[1:-1].strip(b" \t\r")
    if not inner:
        return False  # {}
    return not (inner.startswith(b'"') and inner[-1:] in {bytes([c]) for c in b'"0123456789el}]'})


def needleless_skip(line: bytes, objects_only: bool = False) -> str | None:
    """Why the scan counts a complete line that holds no needle as skipped, or None when it does not:
    only a line that cannot be a JSON object (`cannot_be_object`) is decoded, and counted when it is not
    JSON, or, in a format every line of which is an object (`objects_only`: Kimi CLI's, Codex's), when
    it is JSON of another kind. A needle-less line of the form `{...}` in UTF-8 is never decoded: the
    prefilter every figure's speed rests on (docs/reliability.md)."""
    if not cannot_be_object(line):
        return None
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not_utf8"
    except (ValueError, RecursionError):
        return "invalid_json"
    return "wrong_shape" if objects_only and type(value) is not dict else None


def same_partition(keys: Sequence[object], identities: Sequence[object]) -> bool:
    """Whether two labellings of the same records group them the same way (copies of one call)."""
    def groups(labels: Sequence[object]) -> set[frozenset[int]]:
        by: dict[object, set[int]] = {}
        for index, label in enumerate(labels):
            by.setdefault(label, set()).add(index)
        return {frozenset(members) for members in by.values()}

    return groups(keys) == groups(identities)


def raw_key(value: Any) -> str:
    """A JSON value as the spec's "raw value" for an identity: its JSON text (NaN and the infinities as
    json.dumps writes them), so 1 and 1.0 and "1" differ and copies of one text agree."""
    return json.dumps(value, allow_nan=True)


def write_file(path: str, content: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)



def plain(value: Any) -> Any:
    """A value as plain data to compare: an object with slots or struct fields (a Chunk, a record) as
    its type's name and its fields, sequences and dicts taken apart, a float as its repr (so 1.0 and 1
    and NaN compare as written)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return [type(value).__name__, *map(plain, value)]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    fields = getattr(value, "__struct_fields__", None) or getattr(value, "__slots__", None)
    if fields is not None and not isinstance(value, str | bytes):
        return type(value).__name__, {name: plain(getattr(value, name)) for name in fields}
    return value


def compiled_or_skip(in_use: bool, what: str, why: str) -> None:
    """A test of the compiled `what` skips where it is not in use, unless OPENUSAGE_REQUIRE_COMPILED=1
    (CI sets it): then its absence fails the test."""
    if in_use:
        return
    if os.environ.get("OPENUSAGE_REQUIRE_COMPILED") == "1":
        pytest.fail(f"the compiled {what} is required here but not in use: {why}")
    pytest.skip(f"the compiled {what} is not in use: {why}")


def snapshot_on_path(home_variable: str, home: Path, tmp_path: Path, pure: bool) -> str:
    """`openusage snapshot --json --no-cache` of the agent home that `home_variable` names, with the
    compiled parts (pure False) or without (OPENUSAGE_PURE=1): what the differential tests compare."""
    env = {**os.environ, "HOME": str(tmp_path / "user"), home_variable: str(home),
           "OPENUSAGE_CACHE_DIR": str(tmp_path / f"cache-{pure}"), "OPENUSAGE_NOW": "2026-11-20T12:00:00Z"}
    env.pop("OPENUSAGE_CONFIG", None)
    env["OPENUSAGE_PURE"] = "1" if pure else "0"
    done = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json", "--no-cache"], env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
