"""Property tests of the Kimi Code reader against a small reference model of kimi-code-format.md.

Generated agent journals hold `usage.record` lines with arbitrary JSON values in every field the
reader looks at (the four counts, `time`, `usageScope`, the `model` alias, `usage` itself),
`llm.request` lines naming the model behind an alias (any value in `model` and `modelAlias`), `forked`
markers, look-alikes (step.end loop events, token counting, a record that merely mentions a type name)
and noise: arbitrary bytes and damaged lines. Lines end in `\\n` or `\\r\\n`, the last one maybe without
a newline, and the reader's block is made small so lines cross blocks and exceed them. Two properties:

- the reader (candidates.Reader + journal.JournalParser) never raises, and what it finds in each line
  (counted, all-zero, skipped and why; time, model, counts, scope, fork mark; which records are copies
  of one call) is what the reference finds, also when the journal is read in two goes as it grows and
  the reader's state (the last model per alias) is handed from the first to the second;
- `openusage snapshot --json` over a real Kimi Code home of such journals (sessions that may name
  each other in `forkedFrom`) gives the reference's figures, with and without the cache, cold, warm,
  and after the journals grew under a warm cache.

The reference below is the specification's rules in code, with the standard `json` module; it knows
nothing of the reader.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from kimi_code_home import run_code_snapshot
from kimi_home import NOW, at
from openusage.providers.kimi_code.config import model_resolver
from openusage.providers.kimi_code.journal import JournalParser
from openusage.providers.kimi_code.provider import NEEDLES
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

YEAR_10000_MS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp() + 86400) * 1000
NOW_MS = int(at(NOW) * 1000)
DAY = 86400
DAY_MS = DAY * 1000
FALLBACK_MODEL = "kimi-for-coding"  # no config.toml in these homes
COUNT_KEYS = ("inputOther", "output", "inputCacheRead", "inputCacheCreation")


# --- the reference model ---------------------------------------------------------------------------------


class Copy(NamedTuple):
    """One usage record as the specification reads it. `model` is the model the journal names for it
    (the nearest preceding llm.request), or None: the alias then goes through the fallback chain."""

    identity: tuple[Any, ...]
    ts: float | None
    model: str | None
    alias: Any
    counts: tuple[int, int, int, int]
    scope: Any
    marked: bool  # a `forked` marker follows it in its file


class Lines(NamedTuple):
    copies: list[Copy]
    zero: int
    skipped: Counter[str]


def ref_count(value: Any) -> int:
    """A negative or non-numeric count counts as zero. A float counts as its whole part: the spec does
    not say what a fractional count is (the engine writes integers); this is the reader's choice."""
    if type(value) is int:
        return max(value, 0)
    if type(value) is float and math.isfinite(value) and value > 0:
        return int(value)
    return 0


def ref_time(raw: Any) -> float | None:
    """`time` in integer milliseconds: missing, not a number, non-positive, NaN, infinite or beyond the
    year 9999 is no time. Never reinterpreted as seconds."""
    if type(raw) in (int, float) and 0 < raw < YEAR_10000_MS:
        return raw / 1000
    return None


def resolve_alias(alias: Any) -> str:
    """No config.toml: the alias without a leading `kimi-code/`, unless empty or `__name__`; else the
    literal `kimi-for-coding`."""
    if type(alias) is str:
        name = alias.removeprefix("kimi-code/")
        if name and not (name.startswith("__") and name.endswith("__")):
            return name
    return FALLBACK_MODEL


class Rules(NamedTuple):
    """The rules a test can change, to check that the properties notice."""

    count: Callable[[Any], int]
    time: Callable[[Any], float | None]
    model_by_alias: bool  # an llm.request whose modelAlias is the record's alias comes first


SPEC = Rules(ref_count, ref_time, model_by_alias=True)


def ref_lines(lines: list[bytes], agent: str, rules: Rules = SPEC, tail: bytes = b"") -> Lines:
    """The complete lines of one agent's journal, in order, then `tail`, a last line without its newline
    (judged only when it holds a needle: a line still being written)."""
    copies: list[Copy] = []
    zero = 0
    skipped: Counter[str] = Counter()
    by_alias: dict[str, str] = {}  # the model of the last llm.request per modelAlias
    last: str | None = None  # the model of the last llm.request
    for line, whole in [*((line, True) for line in lines), *([(tail, False)] if tail else [])]:
        if not any(needle in line for needle in NEEDLES):
            # Cannot be a record that matters; skipped only when complete and not JSON (`needleless_skip`).
            reason = needleless_skip(line) if whole else None
            if reason is not None:
                skipped[reason] += 1
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            skipped["not_utf8"] += 1
            continue
        except (ValueError, RecursionError):
            skipped["invalid_json"] += 1
            continue
        if type(obj) is not dict:
            skipped["wrong_shape"] += 1
            continue
        kind = obj.get("type")
        if kind == "llm.request":
            model = obj.get("model")
            if type(model) is str and model:  # a request naming no model names none
                last = model
                if type(obj.get("modelAlias")) is str:
                    by_alias[obj["modelAlias"]] = model
        elif kind == "forked":
            copies = [c._replace(marked=True) for c in copies]
        elif kind == "usage.record":
            usage = obj.get("usage")
            if type(usage) is not dict:
                skipped["wrong_shape"] += 1
                continue
            counts = (rules.count(usage.get("inputOther")), rules.count(usage.get("output")),
                      rules.count(usage.get("inputCacheRead")), rules.count(usage.get("inputCacheCreation")))
            if not any(counts):
                zero += 1
                continue
            alias = obj.get("model", ABSENT)
            raw = {k: raw_key(obj[k]) if k in obj else None for k in ("time", "usageScope", "model")}
            model = by_alias.get(alias, last) if rules.model_by_alias and type(alias) is str else last
            copies.append(Copy((agent, raw["time"], raw["usageScope"], raw["model"], counts),
                               rules.time(obj.get("time")), model, alias, counts, obj.get("usageScope"), False))
    return Lines(copies, zero, skipped)


def ancestors(session: str, parents: dict[str, str | None]) -> set[str]:
    """The sessions `session` was forked from: its forkedFrom, theirs, ... through sessions that exist."""
    found: set[str] = set()
    parent = parents.get(session)
    while parent is not None and parent in parents and parent != session and parent not in found:
        found.add(parent)
        parent = parents[parent]
    return found


class Figures(NamedTuple):
    calls: int
    copies: int
    zero: int
    skipped: dict[str, int]
    tokens: tuple[int, int, int, int]
    sessions: tuple[int, int, int]  # all-time, today, 7 days
    by_scope: dict[str, int]
    compaction: tuple[int, int]  # calls of scope "session", their input + output
    models: dict[str, tuple[int, int, int, int, int]] | None  # None: the spec cannot tell (see below)
    daily_sessions: dict[str, int]
    daily_tokens: dict[str, int]


def ref_figures(files: list[tuple[str, str, bytes]], parents: dict[str, str | None], now: float) -> Figures:
    """The snapshot of a home whose journals are `files` ((session, agent, content)) and whose sessions
    name the sessions they were forked from (`parents`), as the spec counts it."""
    calls: dict[tuple[Any, ...], list[tuple[str, Copy]]] = {}
    zero = 0
    skipped: Counter[str] = Counter()
    for session, agent, content in files:
        complete, rest = split_lines(content)
        found = ref_lines(complete, agent, tail=rest)
        zero += found.zero
        skipped += found.skipped
        for copy in found.copies:
            calls.setdefault(copy.identity, []).append((session, copy))
    tokens = [0, 0, 0, 0]
    models: dict[str, list[int]] | None = {}
    by_scope = {"turn": 0, "session": 0, "none": 0}
    compaction = [0, 0]
    owners: set[str] = set()
    today: set[str] = set()
    week: set[str] = set()
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    today_start = now - now % DAY
    for held in calls.values():
        first = held[0][1]
        counts = first.counts
        times = [c.ts for _, c in held if c.ts is not None]
        ts = min(times) if times else None  # the earliest valid time among the copies
        holders = {s for s, _ in held}
        originals = [(c.marked, s) for s, c in held if not ancestors(s, parents) & holders]
        owner = min(originals or [(c.marked, s) for s, c in held])[1]  # not a fork, unmarked, first name
        owners.add(owner)
        tokens = [a + b for a, b in zip(tokens, counts, strict=True)]
        scope = first.scope if first.scope in ("turn", "session") else "none"
        by_scope[scope] += 1
        if first.scope == "session":
            compaction = [compaction[0] + 1, compaction[1] + counts[0] + counts[1]]
        named = {c.model for _, c in held}
        if models is not None:
            if None in named and len(named) > 1:
                # Some copies have their model from the journal, others only the alias: the spec does not
                # say which one the call's model is, so the per-model rows are not compared.
                models = None
            else:
                model = resolve_alias(first.alias) if None in named else min(m for m in named if m is not None)
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
                   (len(owners), len(today), len(week)), by_scope, (compaction[0], compaction[1]),
                   None if models is None else {m: (s[0], s[1], s[2], s[3], s[4]) for m, s in models.items()},
                   {d: len(s) for d, s in day_sessions.items()}, {d: t for d, t in day_tokens.items() if t})


# --- generated lines -----------------------------------------------------------------------------------

counts_values = weighted(
    (12, st.integers(1, 10**6)),
    (1, st.sampled_from([2**53 - 1, 2**53, 2**63, 2**64 + 1, 10**30])),
    (2, st.sampled_from([0, -1, -(10**6), True, False, None, ABSENT])),
    (3, st.sampled_from([5.0, 1e20, 1.5, 0.5, -0.0, -2.0, float("nan"), float("inf")])),
    (1, st.sampled_from(["5"]) | json_values),
)
ALIASES = ["kimi-code/kimi-for-coding", "kimi-code/k2", "openai/gpt-5", "my model", "__kimi_env_model__",
           "kimi-code/", "kimi-code/__x__", ""]
aliases = weighted((4, st.sampled_from(ALIASES[:3])), (4, st.sampled_from(ALIASES)),
                   (1, st.sampled_from([ABSENT, None, 5])), (1, json_values))
scopes = weighted((8, st.sampled_from(["turn", "session"])), (1, st.sampled_from([ABSENT, None, "other", 1])),
                  (1, json_values))
model_names = weighted((10, st.sampled_from(["kimi-k2-0905", "kimi-k2-thinking", "gpt-5", "\u00fcber"])),
                       (2, st.sampled_from(["", None, ABSENT, 5])), (1, json_values))
# Valid times up to now (later calls are left out of whole homes: whether they count in "today" and the
# last 7 days is issue 16's open "as of" question), the day and window edges, and invalid times.
past_times = weighted(
    (4, st.integers(NOW_MS - 14 * DAY_MS, NOW_MS)), (1, st.integers(1, NOW_MS)),
    (1, st.floats(1e-3, float(NOW_MS))),
    (2, st.sampled_from([NOW_MS, NOW_MS - 7 * DAY_MS, NOW_MS - 7 * DAY_MS - 1, NOW_MS - NOW_MS % DAY_MS,
                         NOW_MS - NOW_MS % DAY_MS - 1, 1, 1764000000])),
)
invalid_times = weighted(
    (3, st.sampled_from([0, 0.0, -0.0, -1, -1764000000000, YEAR_10000_MS, 10**20, float("nan"), float("inf"),
                         float("-inf"), True, False, None, "1781055528344", ABSENT])),
    (1, json_values),
)
future_times = st.sampled_from([NOW_MS + 1, YEAR_10000_MS - 1, YEAR_10000_MS, YEAR_10000_MS + 1])
any_times = weighted((5, past_times), (2, invalid_times), (2, future_times))
edge_times = st.sampled_from([YEAR_10000_MS - 1, YEAR_10000_MS, 0, 1, NOW_MS])  # for the broken references
rarely = st.sampled_from([False] * 9 + [True])


def usage_object(counts: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    usage = dict(extra)
    for key, value in counts.items():
        put(usage, key, value)
    return usage


usage_objects = st.builds(usage_object, st.fixed_dictionaries(dict.fromkeys(COUNT_KEYS, counts_values)),
                          st.dictionaries(st.sampled_from(["total", "reasoning"]), json_values, max_size=1))
usages = weighted((8, usage_objects), (1, st.sampled_from([None, {}, ABSENT, [], 5, "x"])), (1, json_values))


@st.composite
def record(draw: st.DrawFn, fields: dict[str, Any]) -> bytes:
    """A flat record: `fields` (ABSENT ones left out) in any order, spelled as any writer would."""
    items = [(k, v) for k, v in fields.items() if v is not ABSENT]
    order = draw(st.permutations(range(len(items))))
    return draw(encoded({items[i][0]: items[i][1] for i in order}))


@st.composite
def journal_line(draw: st.DrawFn, times: st.SearchStrategy[Any], calls: list[tuple[Any, ...]]) -> bytes:
    """One line of an agent's journal."""
    kind = draw(st.sampled_from(["usage"] * 5 + ["request"] * 4 + ["forked", "lookalike", "damaged", "noise"]))
    if kind == "noise":
        return draw(noise_lines)
    if kind == "request":
        alias = draw(weighted((3, st.sampled_from(ALIASES[:3])), (1, aliases)))
        return draw(record({"type": "llm.request", "agentId": "main", "model": draw(model_names),
                            "modelAlias": alias, "maxTokens": 32000, "time": draw(times)}))
    if kind == "forked":
        return draw(record({"type": "forked", "agentId": "main", "time": draw(times)}))
    if kind == "lookalike":
        return draw(st.sampled_from([
            b'{"type":"context.append_loop_event","event":{"type":"step.end","usage":{"inputOther":5,"output":1}},'
            b'"time":1781055528344}',
            b'{"type":"token_counting.update","usage":{"inputOther":9},"time":1781055528344}',
            b'{"type":"turn.prompt","input":[{"type":"text","text":"usage.record"}],"time":1781055528344}',
            b'["usage.record"]', b'"forked"', b'{"type":"llm.request"}', b'{"type":"forked"',
        ]))
    if draw(st.booleans()):  # a copy of one of the example's calls
        time, scope, alias, usage = draw(st.sampled_from(calls))
    else:
        time, scope, alias, usage = draw(times), draw(scopes), draw(aliases), draw(usages)
    line = draw(record({"type": "usage.record", "agentId": "main", "model": alias, "usage": usage,
                        "usageScope": scope, "time": time}))
    return draw(damaged(line)) if kind == "damaged" else line


def pools(times: st.SearchStrategy[Any]) -> st.SearchStrategy[list[bytes]]:
    """The distinct lines an example's journals are made of (a journal may repeat one: a verbatim copy)."""
    calls = st.lists(st.tuples(times, scopes, aliases, usage_objects), min_size=1, max_size=4)
    return calls.flatmap(lambda some: st.tuples(requests_first(some[0][2]),
                                                st.lists(journal_line(times, some), min_size=3, max_size=10))
                         ).map(lambda parts: parts[0] + parts[1])


def requests_first(alias: Any) -> st.SearchStrategy[list[bytes]]:
    """Sometimes, before the rest: a request for the first call's alias, then one for another alias,
    so the model by alias and the nearest request's model differ for the copies of that call."""
    if type(alias) is not str:
        return st.just([])
    pair = [json.dumps({"type": "llm.request", "model": "kimi-k2-0905", "modelAlias": alias}).encode(),
            json.dumps({"type": "llm.request", "model": "gpt-5", "modelAlias": alias + "/other"}).encode()]
    return st.sampled_from([[], pair])


def journals(times: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return pools(times).flatmap(lambda pool: files_of(pool, 0, 12))


# --- the reader, line by line ------------------------------------------------------------------------------

_resolve = model_resolver(Path("/nonexistent/config.toml"))  # no config: the alias, then the fallback


def records_of(chunk_records: list[Any]) -> list[tuple[Any, ...]]:
    """(time, model, counts, scope, marked) of the reader's records, the model resolved as a snapshot does."""
    return [(r.ts, _resolve(r.model), (r.input, r.output, r.cache_read, r.cache_write), r.scope, bool(r.marked))
            for r in chunk_records]


def expected_of(copies: list[Copy]) -> list[tuple[Any, ...]]:
    return [(c.ts, c.model if c.model is not None else resolve_alias(c.alias), c.counts,
             c.scope if type(c.scope) is str else None, c.marked) for c in copies]


def check_reader(content: bytes, block: int, cut: int, reference: Callable[..., Lines]) -> None:
    """The reader's findings in `content`, read up to `cut` and then on to its end (with the state of the
    first read), equal the reference's."""
    chunks, consumed = scan_file(content, NEEDLES, block, cut, lambda state: JournalParser("main", state))
    first, second = chunks
    head_complete, _ = split_lines(content[:cut])
    assert consumed == sum(len(line) + 1 for line in head_complete), "consumed bytes end after the last newline"
    complete, rest = split_lines(content)
    whole = reference(complete, tail=rest)
    expected = reference(complete)
    # What a cache keeps of the first read (its complete lines), marked when the second read saw a
    # `forked` marker (the store marks a file's earlier copies then), and what the second read found.
    kept = [msgspec.structs.replace(r, marked=1) for r in first.records] if second.marker_seen else first.records
    records = kept + second.records
    every = records + second.tail_records
    assert records_of(every) == expected_of(whole.copies)
    assert first.zero_records + second.zero_records == expected.zero
    assert first.zero_records + second.zero_records + second.tail_zero_records == whole.zero
    assert Counter(first.skipped) + Counter(second.skipped) == expected.skipped
    assert Counter(first.skipped) + Counter(second.skipped) + Counter(second.tail_skipped) == whole.skipped
    assert same_partition([r.key for r in every], [c.identity for c in whole.copies]), \
        "copies of one call must share the reader's key, and only they"


@reader_settings(250)
@given(content=journals(any_times), block=st.integers(1, 300), cut=st.floats(0, 1))
def test_reader_finds_what_the_specification_says(content: bytes, block: int, cut: float) -> None:
    check_reader(content, block, int(len(content) * cut), lambda lines, tail=b"": ref_lines(lines, "main", tail=tail))


@pytest.mark.parametrize("broken", [
    SPEC._replace(count=lambda v: ref_count(v) if type(v) is not float or v.is_integer() else 0),
    SPEC._replace(time=lambda raw: raw / 1000 if type(raw) in (int, float) and 0 < raw <= YEAR_10000_MS else None),
    SPEC._replace(model_by_alias=False),
], ids=["fractions-count-zero", "year-10000-inclusive", "nearest-request-only"])
def test_a_broken_reference_is_caught(broken: Rules) -> None:
    """The property can fail: a reference with one rule changed is told apart from the reader."""

    @settings(max_examples=300, phases=[Phase.generate], report_multiple_bugs=False, **SETTINGS)
    @given(content=journals(edge_times), block=st.integers(1, 300))
    def property_with(content: bytes, block: int) -> None:
        check_reader(content, block, len(content), lambda lines, tail=b"": ref_lines(lines, "main", broken, tail))

    with pytest.raises(AssertionError):
        property_with()


# --- the whole pipeline --------------------------------------------------------------------------------

SESSIONS = ["session_a", "session_b", "session_c"]
WORK_DIRS = ["wd_app_3f2b8e5a9c1d", "wd_notes_9e107d9d372b"]
FORKED_FROM = [ABSENT, ABSENT, None, "", "session_a", "session_b", "session_c", "session_gone", 5]


class Home(NamedTuple):
    """Journals (relative path, session, agent, content) and each session's forkedFrom (ABSENT: none)."""

    files: list[tuple[str, str, str, bytes]]
    forked_from: dict[str, Any]


@st.composite
def homes(draw: st.DrawFn) -> Home:
    """One to three sessions; a later one may be a fork of an earlier one, as Kimi Code makes them: each
    of its journals starts with the first lines of the source's (maybe followed by a `forked` marker)
    and its state.json names the source. The session names are shuffled, so a fork may sort first."""
    pool = draw(pools(weighted((4, past_times), (1, invalid_times))))
    names = draw(st.permutations(SESSIONS))[: draw(st.integers(1, 3))]
    files: list[tuple[str, str, str, bytes]] = []
    forked_from: dict[str, Any] = {}
    written: dict[tuple[str, str], bytes] = {}
    for n, session in enumerate(names):
        source = draw(st.sampled_from(names[:n])) if n and draw(st.booleans()) else None
        forked_from[session] = source if source is not None else draw(st.sampled_from(FORKED_FROM))
        base = os.path.join(draw(st.sampled_from(WORK_DIRS)), session)
        for agent in draw(st.lists(st.sampled_from(["main", "agent-0"]), min_size=1, max_size=2, unique=True)):
            content = draw(files_of(pool, 1 if source is None else 0, 12))  # a fork may add nothing
            if source is not None and (source, agent) in written:
                copied = split_lines(written[source, agent])[0]
                head = b"".join(line + b"\n" for line in copied[: draw(st.integers(0, len(copied)))])
                if draw(st.booleans()):
                    head += b'{"type":"forked","agentId":"main","time":1795000000000}\n'
                content = head + content
            written[session, agent] = content
            files.append((os.path.join(base, "agents", agent, "wire.jsonl"), session, agent, content))
    return Home(files, forked_from)


def write_home(root: str, home: Home, grown: float) -> None:
    """The home on disk, each journal cut to `grown` of its length (1: whole)."""
    sessions = os.path.join(root, "sessions")
    for path, session, _agent, content in home.files:
        write_file(os.path.join(sessions, path), content[: int(len(content) * grown)])
        state: dict[str, Any] = {"title": "New session"}
        put(state, "forkedFrom", home.forked_from[session])
        write_file(os.path.join(sessions, *path.split("/")[:2], "state.json"), json.dumps(state).encode())


def snapshot_figures(snap: dict[str, Any], with_models: bool) -> Figures:
    d = snap["diagnostics"]
    m = snap["metrics"]
    assert sum(d["skipped_by_reason"].values()) == d["lines_skipped"]
    return Figures(
        d["records_counted"], d["records_counted"] + d["duplicate_records"], d["zero_records"],
        d["skipped_by_reason"],
        (m["total_input_tokens"]["used"], m["total_output_tokens"]["used"], m["total_cache_read"]["used"],
         m["total_cache_write"]["used"]),
        (m["total_sessions"]["used"], m["sessions_today"]["used"], m["sessions_7d"]["used"]),
        d["records_by_scope"], (m["compaction_calls"]["used"], m["compaction_tokens"]["used"]),
        {r["model"]: (r["input_tokens"], r["output_tokens"], r["cache_read_tokens"], r["cache_write_tokens"],
                      r["requests"]) for r in snap["models"]} if with_models else None,
        {p["date"]: p["value"] for p in snap["daily_series"]["sessions"] if p["value"]},
        {p["date"]: p["value"] for p in snap["daily_series"]["tokens"] if p["value"]},
    )


def home_figures(env: dict[str, str | None], with_models: bool, *args: str) -> Figures:
    doc = run_code_snapshot(env, "--account", "kimi_code", *args)
    assert len(doc["snapshots"]) == 1
    return snapshot_figures(doc["snapshots"][0], with_models)


@reader_settings(30)
@given(home=homes(), grown=st.floats(0, 1))
def test_snapshot_counts_what_the_specification_says(home: Home, grown: float, refold_path: str) -> None:
    """Cold without the cache, a first cached run and a warm one over the whole journals, and a warm run
    after the journals grew from a cut anywhere: all give the reference's figures, whichever way a
    refresh re-folds (`refold_path`, conftest)."""
    existing = {session: (v if type(v) is str and v else None) for session, v in home.forked_from.items()}
    expected = ref_figures([(s, agent, content) for _path, s, agent, content in home.files], existing, at(NOW))
    with_models = expected.models is not None
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "kimi-code")
        env: dict[str, str | None] = {"OPENUSAGE_NOW": NOW, "KIMI_CODE_HOME": root,
                                      "OPENUSAGE_CACHE_DIR": os.path.join(tmp, "cache")}
        write_home(root, home, grown)
        home_figures(env, with_models)  # the cache now holds the journals as they were, cut
        write_home(root, home, 1.0)
        assert home_figures(env, with_models) == expected, "a warm cache after the journals grew"
        assert home_figures(env, with_models, "--no-cache") == expected, "no cache"
        env["OPENUSAGE_CACHE_DIR"] = os.path.join(tmp, "cache2")
        assert home_figures(env, with_models) == expected, "a cold cache"
        assert home_figures(env, with_models) == expected, "a warm cache"


# --- found while writing the reference: a cached run that differed from --no-cache ------------------------


@pytest.mark.parametrize("resumed", [False, True], ids=["first-read", "resumed-read"])
def test_a_marker_in_an_unfinished_last_line_that_turns_out_broken_marks_nothing(tmp_path: Path,
                                                                                  resumed: bool) -> None:
    """A journal whose last line, not yet ended, reads as a `forked` marker: the copy before it is marked
    (its session is a fork of the other holder's). When the line is then finished as something that is
    no marker (here, broken), the copy is no fork's copy any more: the cached figures must follow, as a
    read without the cache does; also when the marker came in a read that resumed after the copy."""
    root = tmp_path / "kimi-code"
    usage = {"type": "usage.record", "model": "m", "usage": {"inputOther": 5, "output": 1},
             "usageScope": "turn", "time": 1795000000000}
    other = {**usage, "usage": {"inputOther": 7, "output": 1}}
    journal_a = root / "sessions" / "wd" / "session_a" / "agents" / "main" / "wire.jsonl"
    journal_b = root / "sessions" / "wd" / "session_b" / "agents" / "main" / "wire.jsonl"
    write_file(str(journal_b), f"{json.dumps(usage)}\n{json.dumps(other)}\n".encode())
    write_file(str(journal_a), f"{json.dumps(usage)}\n".encode())
    env: dict[str, str | None] = {"OPENUSAGE_NOW": NOW, "KIMI_CODE_HOME": str(root),
                                  "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache")}
    if resumed:
        assert home_figures(env, True).sessions[0] == 2  # the cache holds the copy, unmarked
    with journal_a.open("ab") as f:
        f.write(b'{"type":"forked"}')
    assert home_figures(env, True).sessions[0] == 1  # session_b owns both calls: session_a's copy is marked
    with journal_a.open("ab") as f:
        f.write(b"x\n")  # the last line is `{"type":"forked"}x`: broken, no marker
    assert home_figures(env, True, "--no-cache").sessions[0] == 2  # session_a (first by name) owns the copy
    assert home_figures(env, True).sessions[0] == 2
