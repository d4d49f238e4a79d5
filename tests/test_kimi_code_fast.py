"""The compiled fast path for Kimi Code's journal lines (`kimi_code/_journal.c`) reads every line as the
pure parser (`journal.parse_line`, the reference) does: the same records (call key byte for byte, time,
model, counts, scope, fork mark), the same all-zero count, the same skipped lines by reason and the same
resume state (the last model per alias), over fuzzed lines (odd numbers, escapes, repeated and
reordered keys, damaged lines, non-ASCII, quotes that change how `repr` writes a string), the property
tests' generated journals, every file of the benchmark generator's home, and the command's snapshot.

Where the compiled path is not built, these tests skip, unless OPENUSAGE_REQUIRE_COMPILED=1 (CI sets
it): then its absence fails them.
"""

from __future__ import annotations

import json
import marshal
import os
import random
from pathlib import Path
from typing import Any

import pytest
from bench import corpus_code
from hypothesis import given
from hypothesis import strategies as st

import test_properties_kimi_code as kimi_code_props
from openusage import native
from openusage.calls import UsageRecord
from openusage.candidates import Reader
from openusage.providers.kimi_code import compiled
from openusage.providers.kimi_code.journal import MAX_TIME_MS, JournalParser, _State
from openusage.providers.kimi_code.provider import NEEDLES
from openusage.records import Chunk
from property_files import (
    ABSENT,
    compiled_or_skip,
    json_values,
    plain,
    put,
    reader_settings,
    scan_file,
    snapshot_on_path,
    weighted,
)


def compiled_path() -> native.FastPath:
    path = compiled.choose({})
    compiled_or_skip(path.lines is not None, "journal line path", path.why)
    return path


def settled(chunk: Chunk) -> Any:
    """A chunk as plain data, its state decoded: the state's bytes are marshal's, whose back-references
    follow how many references each string has (the compiled path shares one str per alias), not what
    it holds; the next read gets the decoded value."""
    name, fields = plain(chunk)
    fields["state"] = None if chunk.state is None else marshal.loads(chunk.state)
    return name, fields


def read(lines: list[bytes], use_compiled: bool, state: bytes | None = None, agent: str = "main") -> Any:
    """Everything a parser gives for `lines` on one path, the last line as a file's unfinished tail;
    lines handed over as the reader does (a bytearray copy, or bytes)."""
    parser = JournalParser(agent, state, use_compiled)
    for i, line in enumerate(lines[:-1]):
        parser.line(bytearray(line) if i % 2 else bytes(line))
    return parser.finish(123, lines[-1] if lines else None)


def same_on_both(lines: list[bytes], agent: str = "main") -> None:
    compiled_path()
    assert settled(read(lines, True, agent=agent)) == settled(read(lines, False, agent=agent))
    # and resumed half-way, from the state the first half left (as the cache does)
    half = len(lines) // 2
    for first_compiled in (True, False):
        first = read([*lines[:half], b""], first_compiled)
        assert settled(read(lines[half:], True, first.state)) == settled(read(lines[half:], False, first.state))


# --- fuzzed lines -------------------------------------------------------------------------------------------

# Text that `repr` writes in each of its ways: plain, in double quotes (a single quote inside), with
# escapes (both quotes, a backslash, characters Python does not print), non-ASCII kept as it is.
TEXTS = ["turn", "session", "kimi-code/kimi-for-coding", "kimi-code/k2", "", "it's", 'say "hi"', "both ' and \"",
         "back\\slash", "caf\u00e9", "\u00a0nbsp", "\x7f", "\x85", "\u2028", "\U0001f600", "\x1f", "tab\t", "\ud800",
         "\u00fcber/model", "__kimi_env_model__"]
texts = weighted((6, st.sampled_from(TEXTS[:4])), (4, st.sampled_from(TEXTS)), (1, st.text(max_size=6)))
numbers = weighted(
    (10, st.integers(1, 10**6)),
    (3, st.sampled_from([0, -1, -(10**6), 10**18 - 1, 10**18, -(10**18) + 1, 2**63, 2**64 + 1, 10**30])),
    (2, st.sampled_from([5.0, 1.5, 0.5, -0.0, -2.0, 1e20, float("nan"), float("inf")])),
    (1, st.sampled_from([True, False, None, "5", [], {}])),
)
times = weighted(
    (8, st.integers(1_700_000_000_000, 1_800_000_000_000)),
    (2, st.sampled_from([0, -1, 1, MAX_TIME_MS - 1, MAX_TIME_MS, MAX_TIME_MS + 1, 10**17, 10**18 - 1, 10**18,
                         -(10**18) + 1, 2**64])),
    (1, st.sampled_from([1.5, 1781055528344.0, float("nan"), True, None, "1781055528344", ABSENT])),
)
usages = weighted(
    (10, st.fixed_dictionaries({}, optional=dict.fromkeys(kimi_code_props.COUNT_KEYS, numbers))),
    (1, st.sampled_from([None, [], 5, "x", ABSENT])),
    (1, json_values),
)


@st.composite
def journal_record(draw: st.DrawFn) -> dict[str, Any]:
    """A usage.record, an llm.request, a fork marker or another record, any field changed or dropped."""
    kind = draw(weighted((6, st.just("usage.record")), (5, st.just("llm.request")),
                         (1, st.sampled_from(["forked", "context.append_message", "usage.recor", "", 5, None]))))
    obj: dict[str, Any] = {"type": kind, "agentId": "main"}
    if kind == "llm.request" or draw(st.integers(0, 9)) == 0:
        put(obj, "model", draw(weighted((4, texts), (1, st.sampled_from([None, 5, ABSENT])))))
        put(obj, "modelAlias", draw(weighted((4, texts), (1, st.sampled_from([None, 5, ABSENT])))))
        obj["maxTokens"] = 32768
    if kind != "llm.request" or draw(st.integers(0, 9)) == 0:
        put(obj, "model", draw(weighted((8, texts), (1, st.sampled_from([None, 5, ABSENT])))))
        put(obj, "usage", draw(usages))
        put(obj, "usageScope", draw(weighted((8, texts), (1, st.sampled_from([None, 1, ABSENT])))))
    if draw(st.integers(0, 9)) == 0:
        obj["extra"] = draw(json_values)
    put(obj, "time", draw(times))
    if draw(st.integers(0, 4)) == 0:  # another key order
        obj = dict(draw(st.permutations(list(obj.items()))))
    return obj


def written(draw: st.DrawFn, obj: dict[str, Any]) -> bytes:
    """The object as JSON.stringify or json.dumps writes it (spacing, escapes varied), then maybe edited."""
    separators = draw(st.sampled_from([(",", ":"), (",", ":"), (", ", ": "), (" ,\t", " :\r ")]))
    line = json.dumps(obj, separators=separators, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    edit = draw(st.integers(0, 16))
    if edit == 0:  # a key escaped: the same name to the decoders
        line = line.replace(b'"usageScope"', b'"usage\\u0053cope"', 1).replace(b'"type"', b'"typ\\u0065"', 1)
    elif edit == 1:  # a key repeated, either way round
        line = line.replace(b'"usage"' + separators[1].encode(), b'"usage":null,"usage":', 1)
    elif edit == 2:
        line = line.replace(b'"output"', b'"output":7,"output"', 1).replace(b'"time"', b'"time":1,"time"', 1)
    elif edit == 3:  # cut anywhere
        line = line[: draw(st.integers(0, len(line)))]
    elif edit == 4:  # a byte changed anywhere
        at = draw(st.integers(0, max(0, len(line) - 1)))
        line = line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1:]
    elif edit == 5:  # bad UTF-8 in a value
        line = line.replace(b'"main"', b'"m\xffin"', 1)
    elif edit == 6:  # JSON that only Python's json reads
        line = line.replace(b"32768", b"NaN", 1)
    elif edit == 7:  # deep nesting
        line = line.replace(b'"agentId"', b'"deep":' + b"[" * 70 + b"]" * 70 + b',"agentId"', 1)
    elif edit == 8:  # numbers spelled another way: the same values, or not integers any more
        line = line.replace(b'"time":1', b'"time":-0,"x":1', 1).replace(b'"output":1', b'"output":1e0,"x":1', 1)
    elif edit == 9:  # an escaped value
        line = line.replace(b'"turn"', b'"tu\\u0072n"', 1).replace(b'"kimi-code/', b'"kimi-code\\/', 1)
    elif edit == 10:  # text after the object, or a second one
        line += draw(st.sampled_from([b" ", b"\r", b"x", b"{}", b",", b"\t\r "]))
    return line


@reader_settings(1500)
@given(data=st.data(), count=st.integers(1, 8))
def test_fuzzed_lines_give_the_reference_records(data: st.DataObject, count: int) -> None:
    lines = [written(data.draw, data.draw(journal_record())) for _ in range(count)]
    agent = data.draw(st.sampled_from(["main", "agent-0", "\u00e9l\u00e8ve", "a'b"]))
    same_on_both(lines, agent)


USUAL = (b'{"type":"usage.record","agentId":"main","model":"kimi-code/kimi-for-coding","usage":{"inputOther":1520,'
         b'"output":312,"inputCacheRead":79400,"inputCacheCreation":0},"usageScope":"turn","time":1781055528344}')
REQUEST = (b'{"type":"llm.request","agentId":"main","kind":"loop","provider":"managed:kimi-code","model":"kimi-k2",'
           b'"modelAlias":"kimi-code/kimi-for-coding","turnStep":1,"attempt":1,"maxTokens":32768,"time":1}')


def answered(lines: list[bytes], agent: str = "main") -> tuple[list[UsageRecord], list[bytes], int]:
    """What the compiled Lines itself does with `lines`: its records, the lines it deferred, its zero count."""
    records: list[UsageRecord] = []
    deferred: list[bytes] = []
    lines_type = compiled_path().lines
    assert lines_type is not None
    fast = lines_type(records, _State(None), agent, UsageRecord, lambda line: deferred.append(bytes(line)))
    for line in lines:
        fast(bytearray(line))
    return records, deferred, fast.zero


@pytest.mark.parametrize("line", [
    USUAL,
    REQUEST,
    USUAL.replace(b'"inputOther":1520,"output":312,"inputCacheRead":79400', b'"inputOther":0,'
                                b'"output":-5,"inputCacheRead":null'),
    b'  {"time":-0,"usageScope":"it\'s","usage":{"output":2,"inputOther":"x"},"model":"caf\xc3\xa9","type":'
    b'"usage.record"}\r',
    b'{"type":"usage.record","model":"\\"","usage":{"output":0},"usageScope":"session","time":1}',
    b'{"type": "usage.record", "model": "k", "usage": {"output": 2}, "usageScope": "turn", "time": 999999999999999999}',
    b'{"type":"turn.prompt","input":[{"type":"text","text":"usage.record"}],"time":1781055528344}',
    b'{"type":"llm.request","model":"","modelAlias":"\\u00e9"}',
])
def test_plain_lines_are_answered_by_the_compiled_path_itself(line: bytes) -> None:
    """Not deferred (else the fast path is for nothing); and the reference agrees with what it did."""
    assert answered([line])[1] == []
    same_on_both([line, b""])


@pytest.mark.parametrize("line", [
    b'{"type":"forked","agentId":"main","time":1781055529000}',
    USUAL.replace(b'"time":1781055528344', b'"time":1781055528344.5'),
    USUAL.replace(b'"time":1781055528344', b'"time":"1781055528344"'),
    USUAL.replace(b',"time":1781055528344', b""),
    USUAL.replace(b'"usageScope":"turn"', b'"usageScope":null'),
    USUAL.replace(b'"turn"', b'"tu\\u0072n"'),
    USUAL.replace(b'"model"', b'"mod\\u0065l"'),
    b'{"type":"usage.record","model":"\\"","usage":{"output":2},"usageScope":"session","time":1}',
    b'{"type":"usage.record","model":"\\u00e9","usage":{"output":2},"usageScope":"session","time":1}',
    USUAL.replace(b'"output":312', b'"output":312.0'),
    USUAL.replace(b'"output":312', b'"output":1234567890123456789'),
    USUAL.replace(b'"output":312', b'"output":312,"output":313'),
    USUAL.replace(b'"inputOther":1520', b'"inputOther":NaN'),
    USUAL.replace(b'"usage":{', b'"usage":null,"x":{'),
    USUAL.replace(b'"agentId":"main"', b'"agentId":"\xed\xa0\x80"'),
    USUAL[:-1],
    REQUEST.replace(b'"kimi-k2"', b'"kimi\\u002dk2"'),
    REQUEST.replace(b'"modelAlias":"kimi-code/kimi-for-coding"', b'"modelAlias":"kimi-code\\/kimi-for-coding"'),
    b'{"type":"usage.record","model":"k","usage":{"output":2},"usageScope":"turn","time":1,"pad":"'
    + b"x" * 70000 + b'"}',
])
def test_unusual_lines_are_handed_to_the_reference(line: bytes) -> None:
    """A fork marker, a time or count that is not a plain integer, an absent or non-text field of the
    key, an escape where it is read, a repeated key, JSON only Python reads, a surrogate in UTF-8, a cut
    line, a very long line: the reference decides, and its answer stands."""
    records, deferred, zero = answered([line])
    assert (records, deferred, zero) == ([], [line], 0)
    same_on_both([line, b""])


def test_the_key_and_the_model_are_the_references(tmp_path: Path) -> None:
    """The key writes each field as the reference does (`repr` of the time, scope and alias), and the model
    is the last request's for the alias, else the last request's, else the alias to resolve."""
    lines = [USUAL.replace(b'"usageScope":"turn"', b'"usageScope":"it\'s"'),
             REQUEST,
             USUAL.replace(b'"kimi-code/kimi-for-coding"', b'"other/\xc3\xa9"'),
             USUAL]
    records, deferred, _ = answered(lines, agent="a\u00e9")
    assert deferred == []
    assert [(r.key, r.model, r.ts) for r in records] == [
        ("c\x1fa\u00e9\x1f1781055528344\x1f\"it's\"\x1f'kimi-code/kimi-for-coding'\x1f1520\x1f312\x1f79400\x1f0",
         "\x00kimi-code/kimi-for-coding", 1781055528.344),
        ("c\x1fa\u00e9\x1f1781055528344\x1f'turn'\x1f'other/\u00e9'\x1f1520\x1f312\x1f79400\x1f0", "kimi-k2",
         1781055528.344),
        ("c\x1fa\u00e9\x1f1781055528344\x1f'turn'\x1f'kimi-code/kimi-for-coding'\x1f1520\x1f312\x1f79400\x1f0",
         "kimi-k2", 1781055528.344),
    ]
    same_on_both([*lines, b""], agent="a\u00e9")


# --- generated journals and homes ---------------------------------------------------------------------------

def file_results(use_compiled: bool, content: bytes, block: int, cut: int) -> Any:
    chunks, end = scan_file(content, NEEDLES, block, cut, lambda state: JournalParser("main", state, use_compiled))
    return [settled(chunk) for chunk in chunks], end


@reader_settings(200)
@given(content=kimi_code_props.journals(kimi_code_props.any_times), block=st.integers(1, 300), cut=st.floats(0, 1))
def test_generated_journals_give_the_same_chunks(content: bytes, block: int, cut: float) -> None:
    compiled_path()
    at = int(len(content) * cut)
    assert file_results(True, content, block, at) == file_results(False, content, block, at)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kimi-code") / "home"
    corpus_code.generate(root, corpus_code.Params(sessions=40, size_mb=4, seed=21))
    return root


def test_both_paths_read_every_generated_file_alike(home: Path) -> None:
    compiled_path()
    reader = Reader()
    files = sorted(home.rglob("wire.jsonl"))
    assert len(files) >= 40
    rng = random.Random(5)
    handed_total = deferred_total = 0
    for path in files:
        data = path.read_bytes()
        agent = path.parent.name
        assert file_results(True, data, 64 * 1024, len(data)) == file_results(False, data, 64 * 1024, len(data)), path
        handed: list[bytes] = []
        fd = os.open(path, os.O_RDONLY)
        try:
            reader.scan(fd, 0, len(data), NEEDLES, lambda line, into=handed: into.append(bytes(line)))
        finally:
            os.close(fd)
        same_on_both([*handed, b""], agent)
        # and with a few of its lines damaged
        same_on_both([line if rng.random() > 0.05 else line[: rng.randrange(len(line) + 1)] for line in handed]
                     + [b""], agent)
        handed_total += len(handed)
        deferred_total += len(answered(handed, agent)[1])
    assert handed_total > 400
    assert deferred_total < handed_total * 0.05, (deferred_total, handed_total)  # the compiled path did the work


def test_the_command_gives_the_same_snapshot_on_both_paths(home: Path, tmp_path: Path) -> None:
    compiled_path()
    compiled = snapshot_on_path("KIMI_CODE_HOME", home, tmp_path, pure=False)
    assert compiled == snapshot_on_path("KIMI_CODE_HOME", home, tmp_path, pure=True)


# --- the choice ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "yes"])
def test_openusage_pure_turns_the_compiled_path_off(value: str) -> None:
    assert compiled.choose({"OPENUSAGE_PURE": value}) == native.FastPath(None, f"OPENUSAGE_PURE={value} is set")


@pytest.mark.parametrize("value", ["", "0"])
def test_openusage_pure_empty_or_zero_keeps_it(value: str) -> None:
    assert compiled.choose({"OPENUSAGE_PURE": value}).lines is compiled_path().lines


def test_detect_says_which_line_parser_reads() -> None:
    from test_hot_kernels import detect

    compiled_path()
    for pure, expected in ((False, {"what": "line parser", "value": f"compiled ({compiled.MODULE})", "found": True}),
                           (True, {"what": "line parser", "value": "pure Python (OPENUSAGE_PURE=1 is set)",
                                   "found": False})):
        providers = json.loads(detect(pure, "--json"))["providers"]
        code = next(d for d in providers if d["provider_id"] == "kimi_code")
        assert expected in code["facts"]
