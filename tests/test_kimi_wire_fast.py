"""The compiled fast path for Kimi CLI usage lines (`kimi_cli._wire`) gives exactly what the reference
parser (`wire.parse_line`) gives: the same records (key, time, model, counts), the same all-zero count
and the same skipped lines by reason, line by line and file by file, over fuzzed lines (every field
varied, escapes, repeats, big numbers, floats, bad UTF-8, wrapping at any depth), the property tests'
generated wire files and the benchmark generator's home.

Where the fast path is not built, these tests skip, unless OPENUSAGE_REQUIRE_COMPILED=1 (CI sets it):
then its absence fails them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from bench.corpus import Params, generate
from hypothesis import given
from hypothesis import strategies as st

import test_properties_kimi_cli as kimi_cli_props
from openusage.calls import UsageRecord
from openusage.providers.kimi_cli import fastpath
from openusage.providers.kimi_cli.provider import NEEDLES
from openusage.providers.kimi_cli.wire import REFERENCE, WireParser
from property_files import compiled_or_skip, plain, reader_settings, scan_file


def compiled_path() -> fastpath.FastPath:
    fast = fastpath.choose({})
    compiled_or_skip(fast.parse is not None, "fast path", fast.why)
    return fast


def compiled() -> fastpath.Parse:
    parse = compiled_path().parse
    assert parse is not None
    return parse


def both(lines: list[bytes]) -> tuple[Any, Any]:
    """What the fast path and the reference alone make of the same lines (as bytearrays, as the reader
    hands them over), the last one as a file's unfinished tail."""
    results = []
    for fast in (compiled_path(), REFERENCE):
        parser = WireParser(fast)
        for line in lines[:-1]:
            parser.line(bytearray(line))
        results.append(plain(parser.finish(123, lines[-1] if lines else None)))
    return results[0], results[1]


# --- fuzzed lines ---------------------------------------------------------------------------------------------

USAGE = {"input_other": 1520, "output": 312, "input_cache_read": 79400, "input_cache_creation": 0}
PAYLOAD = {"context_usage": 0.31, "context_tokens": 81234, "max_context_tokens": 262144, "token_usage": USAGE,
           "message_id": "chatcmpl-abc", "plan_mode": None, "mcp_status": None}

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, -0.0, 1.0, 2**53 + 1, 10**18 - 1, 10**18, 2**63, 2**64 + 1, 10**40, -(10**40), 1e400,
                     "", "x", "é", "\ud800", "\x1f", "kimi-k2", [], {}, [1], {"a": 1}]),
    st.text(max_size=8),
)
timestamps = st.one_of(values, st.floats(1.6e9, 1.9e9), st.integers(1, 253402300801),
                       st.sampled_from([253402300799.999, 253402300800.0, 253402300800, 1e-300, 5e-324]))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A StatusUpdate with any field changed, dropped or added, wrapped in SubagentEvents 0-9 times."""
    payload: dict[str, Any] = dict(PAYLOAD)
    usage: Any = dict(USAGE)
    for key in draw(st.lists(st.sampled_from(list(USAGE)), max_size=4)):
        usage[key] = draw(values)
    for key in draw(st.lists(st.sampled_from(list(USAGE)), max_size=2)):
        usage.pop(key, None)
    payload["token_usage"] = draw(st.one_of(st.just(usage), st.just(usage), values))
    for key in draw(st.lists(st.sampled_from(["message_id", "model", "context_usage", "event"]), max_size=3)):
        payload[key] = draw(st.one_of(values, st.text(max_size=12)))
    if draw(st.integers(0, 5)) == 0:
        payload.pop(draw(st.sampled_from(["message_id", "token_usage"])), None)
    event: Any = {"type": draw(st.sampled_from(["StatusUpdate"] * 4 + ["TurnEnd", "StatusUpdat", None])),
                  "payload": draw(st.one_of(st.just(payload), st.just(payload), st.just(payload), values))}
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 9]))):
        event = {"type": "SubagentEvent", "payload": {"task_tool_call_id": "t", "event": event}}
    return {"timestamp": draw(timestamps), "message": event}


def written(draw: st.DrawFn, obj: dict[str, Any]) -> bytes:
    """The object as json.dumps writes it (spacing, key order, escapes varied), then maybe damaged."""
    separators = draw(st.sampled_from([(", ", ": "), (",", ":"), (" ,\t", " :\r ")]))
    if draw(st.booleans()):
        obj = dict(reversed(list(obj.items())))
    text = json.dumps(obj, separators=separators, ensure_ascii=draw(st.booleans()))
    line = text.encode("utf-8", "surrogatepass")
    edit = draw(st.integers(0, 12))
    if edit == 0:  # a key escaped: the same name to the decoders
        line = line.replace(b'"message_id"', b'"message\\u005fid"', 1)
    elif edit == 1:  # a key repeated
        line = line.replace(b'"token_usage": ', b'"token_usage": null, "token_usage": ', 1)
    elif edit == 2:
        line = line.replace(b'"output"', b'"output": 7, "output"', 1)
    elif edit == 3:  # cut anywhere
        line = line[: draw(st.integers(0, len(line)))]
    elif edit == 4:  # a byte changed anywhere
        at = draw(st.integers(0, max(0, len(line) - 1)))
        line = line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1:]
    elif edit == 5:  # bad UTF-8 in a value
        line = line.replace(b'"chatcmpl-abc"', b'"chatcmpl-\xff"', 1)
    elif edit == 6:  # JSON that only Python's json reads
        line = line.replace(b"0.31", b"NaN", 1)
    elif edit == 7:  # deep nesting
        line = line.replace(b'"plan_mode": null', b'"plan_mode": ' + b"[" * 70 + b"]" * 70, 1)
    return line


@reader_settings(1500)
@given(data=st.data(), count=st.integers(1, 6))
def test_fuzzed_usage_lines_give_the_reference_records(data: st.DataObject, count: int) -> None:
    lines = [written(data.draw, data.draw(events())) for _ in range(count)]
    fast, reference = both(lines)
    assert fast == reference


@pytest.mark.parametrize("line", [
    b'{"timestamp": 1764000000.25, "message": {"type": "StatusUpdate", "payload": {"token_usage": '
    b'{"input_other": 1, "output": 2, "input_cache_read": 3, "input_cache_creation": 4}, "message_id": "m"}}}',
    b'{"message":{"payload":{"message_id":"m","token_usage":{"output":2}},"type":"StatusUpdate"},"timestamp":17}',
    b'  {"timestamp": 1.5e9, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}, '
    b'"message_id": "m", "model": "k\xc3\xa9"}}}\r',
    b'{"timestamp": 1791233190.6494205, "message": {"type": "SubagentEvent", "payload": {"event": {"type": '
    b'"SubagentEvent", "payload": {"event": {"type": "StatusUpdate", "payload": {"token_usage": '
    b'{"output": 9}, "message_id": "chatcmpl-x"}}}}}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 0}, '
    b'"message_id": "m"}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": null, "message_id": null}}}',
    b'{"timestamp": 1, "message": {"type": "ToolResult", "payload": {"token_usage": [1, 2]}}}',
])
def test_plain_lines_are_answered_by_the_fast_path_itself(line: bytes) -> None:
    """These need no deferral (else the fast path would be for nothing), and agree with the reference."""
    assert compiled()(bytearray(line), [], UsageRecord) != fastpath.DEFER
    fast, reference = both([line, b""])
    assert fast == reference


@pytest.mark.parametrize("line", [
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}, '
    b'"message_id": "m\\u00e9"}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": '
    b'1234567890123456789}, "message_id": "m"}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}, '
    b'"message_id": "m", "message_id": "n"}}}',
    b'{"timestamp": NaN, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}, '
    b'"message_id": "m"}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}, '
    b'"message_id": "\xed\xa0\x80"}}}',
    b'{"timestamp": 1, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"output": 2}, '
    b'"message_id": "m"}}',
])
def test_unusual_lines_are_handed_to_the_reference(line: bytes) -> None:
    """No message_id, an escape in a field read, a count beyond 64 bits, a repeated key, JSON only
    Python reads, a UTF-8 surrogate, a cut line: the reference decides, and its answer stands."""
    assert compiled()(bytearray(line), [], UsageRecord) == fastpath.DEFER
    fast, reference = both([line, b""])
    assert fast == reference


def test_decimal_timestamps_are_read_as_the_decoders_round_them() -> None:
    """The quick decimal conversion (or its fallback) gives float(text) for every written time."""
    parse = compiled()
    rng = random.Random(21)
    for _ in range(20000):
        digits = rng.randrange(1, 20)
        whole = str(rng.randrange(1, 10**10))
        text = f"{whole}.{rng.randrange(10**digits):0{digits}d}" if rng.random() < 0.7 else repr(rng.uniform(1, 2e9))
        records: list[UsageRecord] = []
        line = (b'{"timestamp": ' + text.encode() + b', "message": {"type": "StatusUpdate", "payload": '
                b'{"token_usage": {"output": 1}, "message_id": "m"}}}')
        assert parse(bytearray(line), records, UsageRecord) == fastpath.DONE
        expected = float(text)
        assert records[0].ts == (expected if expected < kimi_cli_props.YEAR_10000 else None), text


# --- generated files ----------------------------------------------------------------------------------------

def file_results(fast: fastpath.FastPath, content: bytes, block: int, cut: int) -> Any:
    return plain(scan_file(content, NEEDLES, block, cut, lambda _state: WireParser(fast)))


@reader_settings(200)
@given(content=kimi_cli_props.wire_files(kimi_cli_props.any_times), block=st.integers(1, 300), cut=st.floats(0, 1))
def test_generated_wire_files_give_the_same_chunks(content: bytes, block: int, cut: float) -> None:
    at = int(len(content) * cut)
    assert file_results(compiled_path(), content, block, at) == file_results(REFERENCE, content, block, at)


def test_the_benchmark_generators_home_gives_the_same_chunks(tmp_path: Path) -> None:
    path, fast = compiled_path(), compiled()
    generate(tmp_path, Params(sessions=40, size_mb=4, seed=21))
    files = sorted(tmp_path.rglob("wire.jsonl"))
    assert len(files) >= 40
    answered = 0
    for file in files:
        content = file.read_bytes()
        assert file_results(path, content, 64 * 1024, len(content)) == file_results(REFERENCE, content, 64 * 1024,
                                                                                   len(content)), file
        answered += sum(1 for line in content.splitlines() if b'"token_usage"' in line
                        and fast(bytearray(line), [], UsageRecord) != fastpath.DEFER)
    assert answered > 100  # the fast path did the work, not the reference


# --- the choice ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "yes"])
def test_openusage_pure_turns_the_fast_path_off(value: str) -> None:
    assert fastpath.choose({"OPENUSAGE_PURE": value}) == fastpath.FastPath(None, None, f"OPENUSAGE_PURE={value} is set")


@pytest.mark.parametrize("value", ["", "0"])
def test_openusage_pure_empty_or_zero_keeps_it(value: str) -> None:
    assert fastpath.choose({"OPENUSAGE_PURE": value}).parse is compiled()


def test_detect_says_which_line_parser_reads(tmp_path: Path) -> None:
    from test_hot_kernels import detect

    compiled()
    facts = json.loads(detect(False, "--json"))
    kimi = next(d for d in facts["providers"] if d["provider_id"] == "kimi_cli")
    assert {"what": "line parser", "value": "compiled (openusage.providers.kimi_cli._wire)", "found": True} in \
        kimi["facts"]
    facts = json.loads(detect(True, "--json"))
    kimi = next(d for d in facts["providers"] if d["provider_id"] == "kimi_cli")
    assert {"what": "line parser", "value": "pure Python (OPENUSAGE_PURE=1 is set)", "found": False} in kimi["facts"]
