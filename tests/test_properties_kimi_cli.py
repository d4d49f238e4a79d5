"""Property tests of the Kimi CLI reader against a small reference model of kimi-cli-format.md.

Generated wire files hold usage lines with arbitrary JSON values in every field the reader looks at
(the four counts, message_id, timestamp, model, token_usage itself, the payload and the event), wrapped
in SubagentEvents at any depth, beside noise: arbitrary bytes, damaged lines, other record types that
hold a `token_usage` key. Lines end in `\\n` or `\\r\\n`, the last one maybe without a newline, and the
reader's block is made small so lines cross blocks and exceed them. Two properties:

- the reader (candidates.Reader + wire.WireParser) never raises, and what it finds in each line
  (counted, all-zero, skipped and why; time, model, counts; which records are copies of one call) is
  what the reference finds, also when the file is read in two goes as it grows;
- `openusage snapshot --json` over a real Kimi home of such files gives the reference's figures, with
  and without the cache, cold, warm, and after the files grew under a warm cache.

The reference below is the specification's rules in code, with the standard `json` module; it knows
nothing of the reader.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from kimi_home import NOW, at, run_snapshot, uid
from openusage.providers.kimi_cli.provider import NEEDLES
from openusage.providers.kimi_cli.wire import WireParser
from property_files import (
    ABSENT,
    SETTINGS,
    damaged,
    encoded,
    files_of,
    json_values,
    needleless_skip,
    noise_lines,
    put,
    raw_key,
    reader_settings,
    same_partition,
    scan_file,
    split_lines,
    weighted,
    write_file,
)

NEEDLE = b'"token_usage"'
YEAR_10000 = datetime(9999, 12, 31, tzinfo=UTC).timestamp() + 86400
NOW_TS = at(NOW)
DAY = 86400
FALLBACK_MODEL = "kimi-for-coding"  # no config file in these homes
FORK_PREFIXES = ("Fork: ", "Undo: ")
COUNT_KEYS = ("input_other", "output", "input_cache_read", "input_cache_creation")


# --- the reference model ---------------------------------------------------------------------------------


class Copy(NamedTuple):
    """One usage record as the specification reads it."""

    identity: tuple[Any, ...]
    ts: float | None
    model: str | None
    counts: tuple[int, int, int, int]


class Lines(NamedTuple):
    """What the reference finds in some lines: usage records in order, all-zero records, skipped lines."""

    copies: list[Copy]
    zero: int
    skipped: Counter[str]


def ref_count(value: Any) -> int:
    """A count that is negative or not an integer (a float, a string, a boolean, null) counts as zero."""
    return value if type(value) is int and value > 0 else 0


def ref_time(raw: Any) -> float | None:
    """A valid timestamp is a number (not a boolean), finite, positive, and before the year 10000."""
    if type(raw) in (int, float) and 0 < raw < YEAR_10000:  # NaN and the infinities fail the comparison
        return float(raw)
    return None


class Rules(NamedTuple):
    """The rules a test can change, to check that the properties notice."""

    count: Callable[[Any], int]
    time: Callable[[Any], float | None]
    id_with_counts: bool  # a record with a message_id is identified by it and its four counts


SPEC = Rules(ref_count, ref_time, id_with_counts=True)


def ref_line(line: bytes, rules: Rules = SPEC, whole: bool = True) -> tuple[str, Copy | None]:
    """One line: ("usage", copy), ("zero", None), ("skip:<reason>", None) or ("other", None).

    Only a line holding a `token_usage` key can be usage; one without it counts as skipped only when it
    is complete (`whole`), cannot be a JSON object and is not JSON, or is JSON that is no object: every
    wire line is one ("not of the shape above"; `needleless_skip`)."""
    if NEEDLE not in line:
        reason = needleless_skip(line, objects_only=True) if whole else None
        return ("other" if reason is None else f"skip:{reason}"), None
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "skip:not_utf8", None
    except (ValueError, RecursionError):
        return "skip:invalid_json", None
    event = obj.get("message") if type(obj) is dict else None
    if type(event) is not dict:
        return "skip:wrong_shape", None
    kind = "top"
    while event.get("type") == "SubagentEvent":  # unwrap payload.event while its type is SubagentEvent
        payload = event.get("payload")
        event = payload.get("event") if type(payload) is dict else None
        if type(event) is not dict:
            return "skip:wrong_shape", None
        kind = "wrapped"
    if event.get("type") != "StatusUpdate":
        return "other", None
    payload = event.get("payload")
    if type(payload) is not dict:
        return "skip:wrong_shape", None
    usage = payload.get("token_usage")
    if usage is None:
        return "other", None  # a context-only status update
    if type(usage) is not dict:
        return "skip:wrong_shape", None
    counts = tuple(rules.count(usage.get(k)) for k in COUNT_KEYS)
    if not any(counts):  # (an empty object too: the spec does not say it is a wrong shape)
        return "zero", None
    model = payload.get("model")
    model = model if type(model) is str and model else None
    message_id = payload.get("message_id")
    if type(message_id) is str and message_id:
        identity: tuple[Any, ...] = ("id", message_id, counts if rules.id_with_counts else None)
    else:
        raw_ts = raw_key(obj["timestamp"]) if "timestamp" in obj else None
        # "its payload.model": taken as the model the record names (a non-empty string, else none), so a
        # null, an empty or a missing model are the same; the spec does not say whether they differ.
        identity = ("verbatim", kind, raw_ts, counts, model)
    return "usage", Copy(identity, rules.time(obj.get("timestamp")), model, counts)  # type: ignore[arg-type]


def ref_lines(lines: list[bytes], rules: Rules = SPEC, tail: bytes = b"") -> Lines:
    """The complete `lines` of a file, then `tail`, a last line without its newline (judged only when it
    holds the needle: a line still being written)."""
    copies: list[Copy] = []
    zero = 0
    skipped: Counter[str] = Counter()
    for line, whole in [*((line, True) for line in lines), *([(tail, False)] if tail else [])]:
        what, copy = ref_line(line, rules, whole)
        if copy is not None:
            copies.append(copy)
        elif what == "zero":
            zero += 1
        elif what.startswith("skip:"):
            skipped[what[5:]] += 1
    return Lines(copies, zero, skipped)


def ref_rank(state: Any) -> int:
    """How many `Fork: ` / `Undo: ` prefixes the session's state.json custom_title starts with."""
    title = state.get("custom_title") if type(state) is dict else None
    rank = 0
    while type(title) is str and title.startswith(FORK_PREFIXES):
        title, rank = title[6:], rank + 1
    return rank


class Figures(NamedTuple):
    calls: int
    copies: int
    zero: int
    skipped: dict[str, int]
    tokens: tuple[int, int, int, int]
    sessions: tuple[int, int, int]  # all-time, today, 7 days
    models: dict[str, tuple[int, int, int, int, int]]  # model -> four sums, calls
    daily_sessions: dict[str, int]
    daily_tokens: dict[str, int]


def ref_figures(files: list[tuple[str, bytes]], ranks: dict[str, int], now: float) -> Figures:
    """The snapshot of a home whose wire files are `files` ((session, content)), as the spec counts it."""
    calls: dict[tuple[Any, ...], list[tuple[str, Copy]]] = {}
    zero = 0
    skipped: Counter[str] = Counter()
    for session, content in files:
        complete, rest = split_lines(content)
        found = ref_lines(complete, tail=rest)  # a last line without newline counts
        zero += found.zero
        skipped += found.skipped
        for copy in found.copies:
            calls.setdefault(copy.identity, []).append((session, copy))
    tokens = [0, 0, 0, 0]
    models: dict[str, list[int]] = {}
    owners: set[str] = set()
    today: set[str] = set()
    week: set[str] = set()
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    today_start = now - now % DAY
    for held in calls.values():
        counts = held[0][1].counts
        times = [c.ts for _, c in held if c.ts is not None]
        ts = min(times) if times else None  # the earliest valid timestamp among the copies
        named = [c.model for _, c in held if c.model is not None]
        model = min(named) if named else FALLBACK_MODEL
        owner = min((ranks.get(s, 0), s) for s, _ in held)[1]  # fewest prefixes, then the first name
        owners.add(owner)
        tokens = [a + b for a, b in zip(tokens, counts, strict=True)]
        sums = models.setdefault(model, [0, 0, 0, 0, 0])
        models[model] = [*(a + b for a, b in zip(sums[:4], counts, strict=True)), sums[4] + 1]
        if ts is None:
            continue  # on no day
        day = datetime.fromtimestamp(ts - ts % DAY, UTC).date().isoformat()
        day_sessions.setdefault(day, set()).add(owner)
        day_tokens[day] = day_tokens.get(day, 0) + counts[0] + counts[1]
        if today_start <= ts < today_start + DAY:
            today.add(owner)
        if ts >= now - 7 * DAY:
            week.add(owner)
    copies = sum(len(held) for held in calls.values())
    return Figures(len(calls), copies, zero, dict(skipped), (tokens[0], tokens[1], tokens[2], tokens[3]),
                   (len(owners), len(today), len(week)),
                   {m: (s[0], s[1], s[2], s[3], s[4]) for m, s in models.items()},
                   {d: len(s) for d, s in day_sessions.items()}, {d: t for d, t in day_tokens.items() if t})


# --- generated lines -----------------------------------------------------------------------------------

# A few values of each, so that copies (the same id, the same verbatim record) come up often.
counts_values = weighted(
    (12, st.integers(1, 10**6)),
    (1, st.sampled_from([2**53 - 1, 2**53, 2**63, 2**64 + 1, 10**30])),
    (2, st.sampled_from([0, -1, -(10**6), True, False, None, ABSENT])),
    (2, st.sampled_from([5.0, 1e20, 1.5, -0.0, float("nan"), float("inf")])),
    (1, st.sampled_from(["5"]) | json_values),
)
message_ids = weighted((6, st.sampled_from(["chatcmpl-a", "chatcmpl-b", "c\u00e9", "x\ud800"])),
                       (3, st.sampled_from(["", None, ABSENT, 7])), (1, json_values))
models_ = weighted((5, st.sampled_from(["kimi-k2", "moonshot-v1", "\u00fcber"])),
                   (4, st.sampled_from(["", None, ABSENT])), (1, json_values))
# Valid times up to now (calls after now are left out: whether they count in "today" and the last 7 days
# is issue 16's open "as of" question), the day and window edges, and every kind of invalid time.
past_times = weighted(
    (4, st.floats(NOW_TS - 14 * DAY, NOW_TS)), (1, st.integers(1, int(NOW_TS))), (1, st.floats(1e-300, NOW_TS)),
    (2, st.sampled_from([NOW_TS, NOW_TS - 7 * DAY, NOW_TS - 7 * DAY - 0.001, NOW_TS - NOW_TS % DAY,
                         NOW_TS - NOW_TS % DAY - 0.001, 1764000000.25, 1e-300])),
)
invalid_times = weighted(
    (3, st.sampled_from([0, 0.0, -0.0, -1, -1764000000.25, YEAR_10000, 10**20, float("nan"), float("inf"),
                         float("-inf"), True, False, None, "1764000000", ABSENT])),
    (1, json_values),
)
future_times = st.sampled_from([NOW_TS + 1, YEAR_10000 - 0.001, YEAR_10000 - 1, 253402300799, YEAR_10000,
                                YEAR_10000 + 1])

any_times = weighted((6, past_times), (2, invalid_times), (1, future_times))
edge_times = st.sampled_from([YEAR_10000 - 0.001, YEAR_10000, 0, 1e-300, NOW_TS])  # for the broken references

rarely = st.sampled_from([False] * 9 + [True])  # (hypothesis draws small integers far more often)


def usage_object(counts: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    usage = dict(extra)
    for key, value in counts.items():
        put(usage, key, value)
    return usage


usage_objects = st.builds(usage_object, st.fixed_dictionaries(dict.fromkeys(COUNT_KEYS, counts_values)),
                          st.dictionaries(st.sampled_from(["total", "input"]), json_values, max_size=1))
token_usages = weighted(
    (8, usage_objects),
    (1, st.sampled_from([None, {}, ABSENT, [], 5, "x"])),
    (1, json_values),
)


@st.composite
def status_update(draw: st.DrawFn, calls: list[tuple[Any, Any]]) -> dict[str, Any]:
    """A StatusUpdate event, any field any JSON value; its payload may be no object at all. Its
    token_usage and message_id are often one of `calls`: copies of one call in other lines, with their
    own time, model, wrapping and spelling."""
    payload: dict[str, Any] = {"context_usage": 0.31, "context_tokens": 81234}
    shared = draw(st.sampled_from([True] * 3 + [False]))
    usage, message_id = draw(st.sampled_from(calls)) if shared else (draw(token_usages), draw(message_ids))
    put(payload, "token_usage", usage)
    put(payload, "message_id", message_id)
    put(payload, "model", draw(models_))
    if draw(st.booleans()):  # a long mcp_status: lines longer than the reader's block
        payload["mcp_status"] = {"tools": ["t" * draw(st.integers(0, 700))]}
    items = list(payload.items())
    order = draw(st.permutations(range(len(items))))
    event: dict[str, Any] = {"type": "StatusUpdate",
                             "payload": {items[i][0]: items[i][1] for i in order}}
    if draw(rarely):
        event["payload"] = draw(json_values)
    return event


@st.composite
def wrapped(draw: st.DrawFn, event: dict[str, Any]) -> Any:
    """`event` inside SubagentEvents, any depth (0: itself); an outer layer may be broken."""
    for _ in range(draw(st.sampled_from([0] * 6 + [1] * 3 + [2, 3, 4]))):
        link = draw(st.sampled_from(["parent_tool_call_id", "task_tool_call_id"]))
        payload: Any = {link: "tool_1", "event": event}
        if draw(rarely) and draw(st.booleans()):
            payload = draw(st.sampled_from([None, [], {"event": None}, {"event": "x"}, {link: "t"}]))
        event = {"type": "SubagentEvent", "payload": payload}
    return event


@st.composite
def wire_line(draw: st.DrawFn, times: st.SearchStrategy[Any], calls: list[tuple[Any, Any]]) -> bytes:
    """One line of a wire file: usage (top-level or wrapped), another event that holds a token_usage
    key, a line whose shape is wrong, a damaged usage line, or noise."""
    kind = draw(st.sampled_from(["usage"] * 6 + ["other", "shape", "damaged", "noise"]))
    if kind == "noise":
        return draw(noise_lines)
    if kind == "other":
        event: Any = {"type": draw(st.sampled_from(["ToolResult", "TurnEnd", "Other", None, 5])),
                      "payload": {"token_usage": {"input_other": 1, "output": 2}}}
    else:
        event = draw(wrapped(draw(status_update(calls))))
    obj: dict[str, Any] = {}
    if draw(st.booleans()):
        put(obj, "timestamp", draw(times))
        obj["message"] = event
    else:  # other key orders
        obj["message"] = event
        put(obj, "timestamp", draw(times))
    if kind == "shape":
        obj = draw(st.sampled_from([
            {"token_usage": 1}, {"message": None, "token_usage": 1}, {"message": "token_usage"},
            ["token_usage", obj], {"timestamp": 1, "message": [obj["message"]], "token_usage": 0},
        ]))
    line = draw(encoded(obj))
    return draw(damaged(line)) if kind == "damaged" else line


def pools(times: st.SearchStrategy[Any]) -> st.SearchStrategy[list[bytes]]:
    """The distinct lines an example's files are made of (a file may repeat one: a verbatim copy)."""
    calls = st.lists(st.tuples(usage_objects, st.sampled_from(["chatcmpl-a", "chatcmpl-b", "c\u00e9", "x\ud800"])),
                     min_size=1, max_size=3)
    return calls.flatmap(lambda some: st.lists(wire_line(times, some), min_size=3, max_size=10))


# --- the reader, line by line ------------------------------------------------------------------------------


def records_of(chunk_records: list[Any]) -> list[tuple[Any, ...]]:
    """(time, model, counts) of the reader's records, in order."""
    return [(r.ts, r.model, (r.input, r.output, r.cache_read, r.cache_write)) for r in chunk_records]


def check_reader(content: bytes, block: int, cut: int, reference: Callable[..., Lines]) -> None:
    """The reader's findings in `content`, read up to `cut` and then on to its end, equal the
    reference's."""
    (first, second), consumed = scan_file(content, NEEDLES, block, cut, lambda _state: WireParser())
    head_complete, _ = split_lines(content[:cut])
    assert consumed == sum(len(line) + 1 for line in head_complete), "consumed bytes end after the last newline"
    complete, rest = split_lines(content)
    expected = reference(complete)
    expected_tail = reference([], tail=rest)
    records = first.records + second.records
    assert records_of(records) == [(c.ts, c.model, c.counts) for c in expected.copies]
    assert records_of(second.tail_records) == [(c.ts, c.model, c.counts) for c in expected_tail.copies]
    assert first.zero_records + second.zero_records == expected.zero
    assert second.tail_zero_records == expected_tail.zero
    skipped = Counter(first.skipped) + Counter(second.skipped)
    assert skipped == expected.skipped
    assert Counter(second.tail_skipped) == expected_tail.skipped
    every = records + second.tail_records
    assert same_partition([r.key for r in every], [c.identity for c in expected.copies + expected_tail.copies]), \
        "copies of one call must share the reader's key, and only they"


def wire_files(times: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return pools(times).flatmap(lambda pool: files_of(pool, max_lines=12))


@reader_settings(250)
@given(content=wire_files(any_times), block=st.integers(1, 300),
       cut=st.floats(0, 1))
def test_reader_finds_what_the_specification_says(content: bytes, block: int, cut: float) -> None:
    check_reader(content, block, int(len(content) * cut), ref_lines)


@pytest.mark.parametrize("broken", [
    SPEC._replace(count=lambda v: int(v) if type(v) is float and v.is_integer() and v > 0 else ref_count(v)),
    SPEC._replace(time=lambda raw: float(raw) if type(raw) in (int, float) and 0 < raw <= YEAR_10000 else None),
    SPEC._replace(id_with_counts=False),
], ids=["whole-floats-count", "year-10000-inclusive", "id-without-counts"])
def test_a_broken_reference_is_caught(broken: Rules) -> None:
    """The property can fail: a reference with one rule changed is told apart from the reader."""

    @settings(max_examples=300, phases=[Phase.generate], report_multiple_bugs=False, **SETTINGS)
    @given(content=wire_files(edge_times), block=st.integers(1, 300))
    def property_with(content: bytes, block: int) -> None:
        check_reader(content, block, len(content), lambda lines, tail=b"": ref_lines(lines, broken, tail))

    with pytest.raises(AssertionError):
        property_with()


# --- the whole pipeline --------------------------------------------------------------------------------

SESSIONS = [uid("a"), uid("b"), uid("c")]
GROUPS = ["3f2b8e5a9c1d4e7f8a0b1c2d3e4f5a6b", "local_9e107d9d372bb6826bd81d3542a419d6"]
TITLES = [ABSENT, None, "Plan", "Fork: Plan", "Undo: Fork: Plan", "Fork:Plan", 5, "not json"]


class Home(NamedTuple):
    """Wire files (relative path, session, content) and each session's state.json (ABSENT: none)."""

    files: list[tuple[str, str, bytes]]
    states: dict[str, Any]


@st.composite
def homes(draw: st.DrawFn) -> Home:
    pool = draw(pools(weighted((4, past_times), (1, invalid_times))))
    files: list[tuple[str, str, bytes]] = []
    states: dict[str, Any] = {}
    for session in draw(st.lists(st.sampled_from(SESSIONS), min_size=1, max_size=3, unique=True)):
        base = os.path.join(draw(st.sampled_from(GROUPS)), session)
        states[session] = draw(st.sampled_from(TITLES))
        for sub in draw(st.lists(st.sampled_from(["", "subagents/a1", "subagents/a1/subagents/a2"]),
                                 min_size=1, max_size=2, unique=True)):
            files.append((os.path.join(base, sub, "wire.jsonl"), session, draw(files_of(pool, 1, 12))))
    return Home(files, states)


def write_home(root: str, home: Home, grown: float) -> None:
    """The home on disk, each wire file cut to `grown` of its length (1: whole)."""
    sessions = os.path.join(root, "sessions")
    for path, session, content in home.files:
        write_file(os.path.join(sessions, path), content[: int(len(content) * grown)])
        title = home.states[session]
        state_path = os.path.join(sessions, *path.split("/")[:2], "state.json")
        if title == "not json":
            write_file(state_path, b"{not json")
        elif title is not ABSENT:
            write_file(state_path, json.dumps({"version": 1, "custom_title": title}).encode())


def snapshot_figures(snap: dict[str, Any]) -> Figures:
    d = snap["diagnostics"]
    m = snap["metrics"]
    return Figures(
        d["records_counted"], d["records_counted"] + d["duplicate_records"], d["zero_records"],
        d["skipped_by_reason"],
        (m["total_input_tokens"]["used"], m["total_output_tokens"]["used"], m["total_cache_read"]["used"],
         m["total_cache_write"]["used"]),
        (m["total_sessions"]["used"], m["sessions_today"]["used"], m["sessions_7d"]["used"]),
        {r["model"]: (r["input_tokens"], r["output_tokens"], r["cache_read_tokens"], r["cache_write_tokens"],
                      r["requests"]) for r in snap["models"]},
        {p["date"]: p["value"] for p in snap["daily_series"]["sessions"] if p["value"]},
        {p["date"]: p["value"] for p in snap["daily_series"]["tokens"] if p["value"]},
    )


def home_figures(env: dict[str, str | None], *args: str) -> Figures:
    doc = run_snapshot(env, *args)
    assert len(doc["snapshots"]) == 1
    snap = doc["snapshots"][0]
    assert sum(snap["diagnostics"]["skipped_by_reason"].values()) == snap["diagnostics"]["lines_skipped"]
    return snapshot_figures(snap)


@reader_settings(30)
@given(home=homes(), grown=st.floats(0, 1))
def test_snapshot_counts_what_the_specification_says(home: Home, grown: float, refold_path: str) -> None:
    """Cold without the cache, a first cached run and a warm one over the whole files, and a warm run
    after the files grew from a cut anywhere (a line half written when the cache last read it): all
    give the reference's figures, whichever way a refresh re-folds (`refold_path`, conftest)."""
    expected = ref_figures([(session, content) for _path, session, content in home.files],
                           {s: ref_rank(_state_doc(t)) for s, t in home.states.items()}, NOW_TS)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "kimi")
        env: dict[str, str | None] = {"OPENUSAGE_NOW": NOW, "KIMI_SHARE_DIR": root,
                                      "OPENUSAGE_CACHE_DIR": os.path.join(tmp, "cache")}
        write_home(root, home, grown)
        home_figures(env)  # the cache now holds the files as they were, cut
        write_home(root, home, 1.0)
        assert home_figures(env) == expected, "a warm cache after the files grew"
        assert home_figures(env, "--no-cache") == expected, "no cache"
        env["OPENUSAGE_CACHE_DIR"] = os.path.join(tmp, "cache2")
        assert home_figures(env) == expected, "a cold cache"
        assert home_figures(env) == expected, "a warm cache"


def _state_doc(title: Any) -> Any:
    if title is ABSENT or title == "not json":
        return None
    return {"custom_title": title}
