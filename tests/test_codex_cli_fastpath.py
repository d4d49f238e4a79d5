"""The compiled token_count fast path (`codex_cli/_rollout.c`) reads every line as the pure parser
(`rollout.parse_line`, the reference) does: the same records, skip counts, all-zero counts and resume
state, over fuzzed rollouts (odd numbers, timestamps, keys, spacing, nesting, bytes) and generated
homes, and the same snapshot from the command.

Where the compiled path is not built, these tests skip, unless OPENUSAGE_REQUIRE_COMPILED=1 (CI sets
it): then its absence fails them.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench import corpus_codex
from hypothesis import given
from hypothesis import strategies as st

from openusage.candidates import Reader
from openusage.providers.codex_cli import compiled as compiled_path
from openusage.providers.codex_cli.provider import NEEDLES
from openusage.providers.codex_cli.rollout import RolloutParser
from property_files import (
    ABSENT,
    compiled_or_skip,
    damaged,
    json_values,
    noise_lines,
    put,
    reader_settings,
    snapshot_on_path,
    weighted,
)

THREAD = "0199a000-0000-7000-8000-00000000000a"


def require_compiled() -> None:
    path = compiled_path.choose({})
    compiled_or_skip(path.lines is not None, "token_count path", path.why)


def read(lines: list[bytes], compiled: bool, state: bytes | None = None) -> tuple[Any, ...]:
    """Everything a parser gives for `lines`, on one path; lines handed over as the reader does (a
    bytearray copy, or bytes)."""
    parser = RolloutParser(THREAD, state, compiled)
    for i, line in enumerate(lines):
        parser.line(bytearray(line) if i % 2 else bytes(line))
    chunk = parser.finish(0, None)
    return chunk.records, chunk.skipped, chunk.zero_records, chunk.state


def same_on_both(lines: list[bytes]) -> None:
    require_compiled()
    assert read(lines, True) == read(lines, False)
    # and resumed half-way, from the state the first half left (as the cache does)
    half = len(lines) // 2
    for compiled in (True, False):
        first = read(lines[:half], compiled)
        assert read(lines[half:], compiled, first[3]) == read(lines[half:], not compiled, first[3])


# --- lines of every shape -------------------------------------------------------------------------------------

counts = weighted(
    (60, st.integers(0, 300_000)),
    (2, st.sampled_from([0, 2**53 - 1, 2**53, 2**63, 2**64 + 1, 10**40, -1, -(2**63)])),
    (1, st.sampled_from([1.0, 2.5, float("nan"), float("inf"), True, "12", None, [], {}])),
)
USAGE_KEYS = ["input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens"]
usage_objects = weighted(
    (8, st.fixed_dictionaries(dict.fromkeys(USAGE_KEYS, counts))),  # as Codex writes them
    (1, st.fixed_dictionaries({}, optional={**dict.fromkeys(USAGE_KEYS, counts), "extra": json_values})),
)
GOOD_TIMES = ["2026-11-19T10:00:02.123Z", "2024-02-29T23:59:59.999Z", "2026-11-19T10:00:02.123456Z",
              "2026-11-19T10:00:02Z", "2026-11-19T10:00:02.123+00:00", "2200-12-31T23:59:59.999Z",
              "1971-01-01T00:00:00.000Z", "2100-03-01T00:00:00.000Z"]
ODD_TIMES = ["2026-11-19T10:00:02.1234Z", "2026-11-19T10:00:02.12Z", "2026-11-19T10:00:02.123+01:00",
             "2026-11-19T10:00:02.123", "2026-11-19 10:00:02.123Z", "2026-02-29T10:00:00.000Z",
             "2100-02-29T10:00:00.000Z", "2026-04-31T10:00:00.000Z", "2026-00-10T10:00:00.000Z",
             "2026-11-00T10:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-11-19T24:00:00.000Z",
             "2026-11-19T10:60:00.000Z", "2026-11-19T10:00:60.000Z", "1969-12-31T23:59:59.999Z",
             "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.001Z", "9999-12-31T23:59:59.999Z",
             "2300-01-01T00:00:00.000Z", "2026-11-19t10:00:02.123z", "2026-11-19T10:00:02.123z",
             "2026-11-19T10:00:02.123-00:00", "2026-11-19T10:00:02.123+0000", "2026-11-19T10:00:02.Z", "", "x",
             "2026-1-19T10:00:02.123Z", "\u0662026-11-19T10:00:02Z", "2026-11-19T10:00:02.123Z ", "+2026-11-19T10:00Z"]
timestamps = weighted(
    (10, st.sampled_from(GOOD_TIMES)),
    (3, st.sampled_from(ODD_TIMES)),
    (1, st.one_of(st.none(), st.integers(), st.just(ABSENT))),
)
models = st.one_of(st.sampled_from(["gpt-5-codex", "gpt-5", "o3", "", "caf\u00e9", "a\\b", "\ud800", "m\u0000"]),
                   st.none(), st.integers(), st.just(ABSENT))


@st.composite
def token_count_line(draw: st.DrawFn) -> dict[str, Any]:
    info: Any = draw(weighted(
        (8, st.fixed_dictionaries({"model_context_window": st.just(272000)})),
        (1, st.none()), (1, json_values)))
    if isinstance(info, dict):
        put(info, "total_token_usage", draw(weighted((8, usage_objects), (1, st.none()), (1, st.just(ABSENT)))))
        put(info, "last_token_usage", draw(weighted((8, usage_objects), (1, st.none()), (1, st.just(ABSENT)))))
        if draw(st.integers(0, 9)) == 0:
            put(info, draw(st.sampled_from(["model", "model_name"])), draw(models))
    payload: dict[str, Any] = {"type": draw(weighted((9, st.just("token_count")), (1, st.sampled_from(
        ["agent_message", "", 5, None]))))}
    put(payload, "info", draw(weighted((9, st.just(info)), (1, st.just(ABSENT)))))
    payload["rate_limits"] = draw(weighted((3, st.none()), (1, json_values)))
    if draw(st.integers(0, 9)) == 0:
        put(payload, draw(st.sampled_from(["model", "model_name", "id", "source"])), draw(models))
    return line_of(draw, "event_msg", payload)


def line_of(draw: st.DrawFn, kind: Any, payload: Any) -> dict[str, Any]:
    line: dict[str, Any] = {}
    put(line, "timestamp", draw(timestamps))
    put(line, "type", draw(weighted((12, st.just(kind)), (1, st.sampled_from(
        ["response_item", "compacted", "event_msg", "turn_context", None, 1])))))
    put(line, "payload", draw(weighted((12, st.just(payload)), (1, json_values))))
    if draw(st.integers(0, 5)) == 0:  # another order of the keys, and more of them
        items = [*line.items(), ("extra", draw(json_values))]
        line = dict(draw(st.permutations(items)))
    return line


@st.composite
def turn_context_line(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {"cwd": "/home/dev/app"}
    put(payload, "model", draw(models))
    payload["sandbox_policy"] = {"type": "workspace-write", "nested": draw(json_values)}
    return line_of(draw, "turn_context", payload)


@st.composite
def session_meta_line(draw: st.DrawFn) -> dict[str, Any]:
    payload = {"id": draw(st.sampled_from([THREAD, "0199a000-0000-7000-8000-0000000000ff", "", 5])),
               "forked_from_id": draw(st.sampled_from([None, "0199a000-0000-7000-8000-0000000000ee"])),
               "source": draw(st.sampled_from(["cli", {"subagent": {"thread_spawn": {"parent_thread_id": "p"}}}]))}
    return line_of(draw, "session_meta", payload)


def spelled(draw: st.DrawFn, obj: Any) -> bytes:
    """`obj` as Codex writes it (compact), or spaced, ASCII-escaped, with a key escaped, or nested deep."""
    compact = draw(weighted((6, st.just(True)), (1, st.just(False))))
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()), separators=(",", ":") if compact else (", ", ": "))
    trick = draw(st.integers(0, 14))
    if trick == 0:
        text = text.replace('"type"', '"typ\\u0065"', 1)
    elif trick == 1:
        text = text.replace('"input_tokens"', '"input_tokens":1,"input_tokens"', 1)
    elif trick == 2:
        text = text.replace('"rate_limits":null', '"rate_limits":' + "[" * 70 + "]" * 70, 1)
    elif trick == 3:
        text = " \t" + text + " \r"
    elif trick == 4:
        text = text.replace('"info":', '"info": ', 1).replace(",", " ,", 2)
    elif trick == 5:
        text = text.replace('"event_msg"', '"event\\u005fmsg"', 1)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def rollout_lines(draw: st.DrawFn) -> list[bytes]:
    objects = draw(st.lists(weighted((8, token_count_line()), (2, turn_context_line()), (1, session_meta_line())),
                            max_size=12))
    lines = [spelled(draw, obj) for obj in objects]
    lines = [draw(weighted((12, st.just(line)), (1, damaged(line)))) for line in lines]
    if lines and draw(st.booleans()):  # a re-emit: the same line again, as Codex writes one
        lines.insert(draw(st.integers(0, len(lines))), lines[draw(st.integers(0, len(lines) - 1))])
    if objects and draw(st.booleans()):  # a re-emit at another time (earlier, later, invalid), right after
        at = draw(st.integers(0, len(objects) - 1))
        again = dict(objects[at])
        put(again, "timestamp", draw(timestamps))
        lines.insert(at + 1, spelled(draw, again))
    return lines + draw(st.lists(noise_lines, max_size=2))


@reader_settings(600)
@given(lines=rollout_lines())
def test_both_paths_read_every_line_alike(lines: list[bytes]) -> None:
    same_on_both(lines)


# --- cases the fast path must leave to the pure parser, each spelled out ---------------------------------------

USAGE = ('{"input_tokens":100,"cached_input_tokens":40,"output_tokens":30,"reasoning_output_tokens":5,'
         '"total_tokens":130}')


def event(info: str = f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE}}}',
          ts: str = '"2026-11-19T10:00:02.123Z"') -> bytes:
    return f'{{"timestamp":{ts},"type":"event_msg","payload":{{"type":"token_count","info":{info}}}}}'.encode()


@pytest.mark.parametrize("line", [
    event(),
    event(ts='"2026-11-19T10:00:02.123456+00:00"'),
    event(info=f'{{"total_token_usage":{USAGE.replace("100", "1e2")},"last_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE.replace("100", "100.0")},"last_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE.replace("100", "18446744073709551617")},"last_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE.replace("100", "9007199254740992")},"last_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE.replace("100", "-5")},"last_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE.replace("100", "NaN")},"last_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"total_token_usage":{USAGE}}}'),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"model":"o3"}}'),
    event(info='{"total_token_usage":null,"last_token_usage":{"total_tokens":272000}}'),
    event(ts='"2026-11-19T10:00:02.123\\u005a"'),
    event(ts='"2026-11-19T10:00:02.123Z\u00e9"'.encode().decode("latin-1")),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"x":"\xff"}}'.encode().decode("latin-1")),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"x":' + "[" * 200 + "]" * 200 + "}"),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"x":tru}}'),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"x":"a\\qb"}}'),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE},"x":01}}'),
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE}}}') + b"x",
    event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE}}}')[:-1],
    event(info="null"),
    event(info="5"),
    b'{"type":"turn_context","payload":{"model":"o3"}}',
    b'{"type":"turn_context","payload":{"model":"caf\\u00e9"}}',
    b'{"type":"turn_context","payload":{"model":""}}',
    b'{"type":"turn_context","payload":null}',
    b'{"payload":{"model":"o3"},"type":"turn_context"}',
])
def test_a_line_reads_alike_after_a_turn_context(line: bytes) -> None:
    """Each line twice (the second a re-emit of the first), after a turn that names a model."""
    same_on_both([b'{"timestamp":"2026-11-19T10:00:01.000Z","type":"turn_context","payload":{"model":"gpt-5"}}',
                  line, line])


@pytest.mark.parametrize(("first", "then"), [
    ('"2026-11-19T10:00:02.123Z"', '"2026-11-19T10:00:01.000Z"'),  # the re-emit earlier: it moves the call
    ('"2026-11-19T10:00:02.123Z"', '"2026-11-19T10:00:03.000Z"'),  # later: nothing moves
    ('"2026-11-19 10:00:02"', '"2026-11-19T10:00:03.000Z"'),  # the original's time invalid
    ('"2026-11-19T10:00:02.123Z"', '"2026-11-19T10:00:02.123Z"'),  # the same time
    ('"2026-11-19T10:00:02.123Z"', '"2026-11-19 10:00:01"'),  # the re-emit's invalid: nothing moves
])
def test_a_re_emit_reads_alike_whatever_its_time(first: str, then: str) -> None:
    """A re-emit whose time may move its call's goes to the pure parser; after a call of another key
    (the last differs), and read resumed from the state the original left (the halves of `same_on_both`)."""
    other = event(info=f'{{"total_token_usage":{USAGE},"last_token_usage":{USAGE.replace("100", "90")}}}', ts=then)
    same_on_both([event(ts=first), event(ts=then)])
    same_on_both([event(ts=first), other, event(ts=then)])


def test_an_earlier_re_emit_moves_the_time_of_its_call_on_both_paths() -> None:
    require_compiled()
    for compiled in (True, False):
        records = read([event(ts='"2026-11-19 10:00:02"'), event(ts='"2026-11-19T10:00:03.000Z"'),
                        event(ts='"2026-11-19T10:00:01.000Z"'), event(ts='"2026-11-19T10:00:04.000Z"')], compiled)[0]
        assert [r.ts for r in records] == [1795082401.0]


@pytest.mark.parametrize("field", USAGE_KEYS)
def test_a_total_that_moved_in_one_field_is_no_re_emit(field: str) -> None:
    moved = json.loads(USAGE)
    moved[field] += 1
    same_on_both([event(), event(info=f'{{"total_token_usage":{json.dumps(moved, separators=(",", ":"))},'
                                      f'"last_token_usage":{USAGE}}}'), event()])


@pytest.mark.parametrize("ts", GOOD_TIMES + ODD_TIMES)
def test_a_timestamp_reads_alike(ts: str) -> None:
    same_on_both([event(ts=json.dumps(ts)), event(ts=json.dumps(ts), info=f'{{"total_token_usage":{USAGE},'
                                                                          f'"last_token_usage":{USAGE},"x":1}}')])


def test_the_fast_path_reads_the_common_shapes_itself() -> None:
    """It is used: a plain event, a null info and a turn_context never reach the pure parser."""
    require_compiled()
    from openusage.calls import UsageRecord
    from openusage.providers.codex_cli import _rollout
    from openusage.providers.codex_cli.rollout import _State
    from openusage.providers.lines import Tally

    deferred: list[bytes] = []
    tally, state = Tally(), _State(THREAD, None)
    lines = _rollout.Lines(tally.records, tally.skipped, tally, state,
                           lambda line, _tally, _state: deferred.append(bytes(line)), UsageRecord, "reemitted")
    lines(b'{"timestamp":"2026-11-19T10:00:01.000Z","type":"turn_context","payload":{"model":"gpt-5"}}')
    lines(event())
    lines(event())
    lines(event(info="null"))
    lines(b'{"timestamp":"2026-11-19T10:00:01.000Z","type":"session_meta","payload":{"id":"x"}}')
    assert len(deferred) == 1
    assert b"session_meta" in deferred[0]
    assert tally.skipped == {"reemitted": 1}
    assert [(r.model, r.input, r.cache_read, r.output, r.reasoning) for r in tally.records] == \
        [("gpt-5", 60, 40, 30, 5)]


# --- generated homes: every file, and the command -----------------------------------------------------------

@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("codex") / "home"
    corpus_codex.generate(root, corpus_codex.Params(sessions=40, size_mb=3, seed=11))
    return root


def test_both_paths_read_every_generated_file_alike(home: Path) -> None:
    require_compiled()
    reader = Reader()
    files = sorted(home.rglob("rollout-*.jsonl"))
    assert files
    rng = random.Random(5)
    for path in files:
        data = path.read_bytes()
        handed: list[bytes] = []
        fd = os.open(path, os.O_RDONLY)
        try:
            reader.scan(fd, 0, len(data), NEEDLES, lambda line, into=handed: into.append(bytes(line)))
        finally:
            os.close(fd)
        same_on_both(handed)
        # and with a few of its lines damaged
        broken = [bytes(line) if rng.random() > 0.05 else line[: rng.randrange(len(line) + 1)] for line in handed]
        same_on_both(broken)


def test_the_command_gives_the_same_snapshot_on_both_paths(home: Path, tmp_path: Path) -> None:
    require_compiled()
    compiled = snapshot_on_path("CODEX_HOME", home, tmp_path, pure=False)
    assert compiled == snapshot_on_path("CODEX_HOME", home, tmp_path, pure=True)


def test_detect_says_which_reader_of_token_count_lines_runs(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "CODEX_HOME": str(tmp_path / "codex"), "OPENUSAGE_PURE": "1"}
    env.pop("OPENUSAGE_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "openusage", "detect", "--json"], env=env, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    facts = [fact for provider in json.loads(done.stdout)["providers"] for fact in provider["facts"]
             if fact["what"] == "token_count reader"]
    assert facts == [{"what": "token_count reader", "value": "pure Python (OPENUSAGE_PURE=1 is set)", "found": False}]
