"""Codex CLI rollout lines → usage records: the hot path (codex-cli-format.md, "Rules for openusage").

Three kinds of line matter, found by their quoted type (the provider's `NEEDLES`): `session_meta` (the
thread and the ancestors a fork or subagent copied), `turn_context` (the model for the turns that
follow) and `event_msg` lines whose payload is a `token_count`. Everything else (the large
`response_item` history) is never decoded.

Per `token_count` with an `info`:
- a re-emit (its `total_token_usage` equal, field for field, to that of the file's previous event
  with an `info`) is skipped and counted as `reemitted`; it carries the call's key all the same, so
  its valid timestamp, when earlier than the call's (the original's missing, invalid or later), is
  the call's time ("Readings settled" 3: "every line carrying its key");
- the call's figures are its `last_token_usage` when that names any of input, cached, output or
  reasoning; else the difference from the file's previous total (the first: the total itself; a
  negative component is a reset, which counts nothing and becomes the new baseline);
- all-zero figures (this drops the context-window-full artefact) are not usage: input (cached capped at
  it), output and reasoning all zero ("Readings settled" 4); a figure of reasoning alone is a call;
- cached input is capped at input and taken out of it: input = input - cached, cache read = cached,
  output as written (reasoning is part of it), cache write 0;
- the call's identity is (lineage root, total, last): the same call replayed into a fork or a
  subagent's rollout, or into an archived copy, folds into one. The lineage root is the oldest thread
  the file's `session_meta` lines lead to through `forked_from_id` / `parent_thread_id`, whether or not
  its file exists. An event without a total is identified by (thread, raw timestamp, last).

The file's thread, its ancestry, the latest model, the previous totals and the key and time of the
last call are the parser's state: the cache keeps them with the chunk, so lines appended later are
read exactly as in a cold scan. A re-emit appended later that moves the time of a call read in an
earlier run asks for the file to be read again from its start (`Chunk.reread`): the call's record is
in the store, not in this read. A last line without its newline is never counted until it is complete.
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from openusage._msgspec import msgspec
from openusage.calls import UsageRecord
from openusage.providers.codex_cli.compiled import choose
from openusage.providers.lines import NOT_JSON, Tally, chunk_of, decode, decode_fast, printable, raw_json
from openusage.records import Chunk, Line
from openusage.skips import SkipReason

MAX_TIMESTAMP = 253402300800.0  # 10000-01-01T00:00:00Z
_ABSENT: Any = msgspec.UNSET
# A usage object as five normalised fields: input, cached input, output, reasoning, total; None for a
# field that is missing or not a count.
Usage = tuple[int | None, int | None, int | None, int | None, int | None]


class _Usage(msgspec.Struct, gc=False):  # no cycles: nothing for the collector
    # Whole numbers (or null) are checked by msgspec itself; anything else (text, a float, a boolean)
    # sends the line to the careful path, which reads it the same way. A missing key stays UNSET: a
    # key that is present counts as present whatever its value ("Readings settled" 4).
    input_tokens: int | msgspec.UnsetType | None = msgspec.UNSET
    cached_input_tokens: int | msgspec.UnsetType | None = msgspec.UNSET
    output_tokens: int | msgspec.UnsetType | None = msgspec.UNSET
    reasoning_output_tokens: int | msgspec.UnsetType | None = msgspec.UNSET
    total_tokens: int | msgspec.UnsetType | None = msgspec.UNSET


class _Info(msgspec.Struct, gc=False):
    total_token_usage: _Usage | None = None
    last_token_usage: _Usage | None = None
    model: Any = None
    model_name: Any = None


class _Payload(msgspec.Struct, gc=False):
    type: Any = None
    info: _Info | None = None
    model: Any = None
    model_name: Any = None
    id: Any = None
    forked_from_id: Any = None
    source: Any = None


class _Line(msgspec.Struct, gc=False):
    timestamp: Any = _ABSENT
    type: Any = None
    payload: _Payload | None = None


_decode_fast = msgspec.json.Decoder(_Line).decode
_FAST = choose()  # this process's choice: the environment does not change while it reads


class _State:
    """What the lines before tell the next ones: the thread, the ancestry its `session_meta` lines
    name, the latest model, the previous event's total and the baseline for differences."""

    __slots__ = ("base", "fallback", "last", "model", "own", "parents", "previous", "reread", "root")

    def __init__(self, fallback: str, encoded: bytes | None) -> None:
        self.fallback = fallback  # the thread named by the file, until a session_meta names it
        self.own: str | None = None
        self.parents: dict[str, str | None] = {}
        self.model: str | None = None
        self.previous: Usage | None = None  # the total of the previous event with an info
        self.base: Usage | None = None  # the latest total: what a total-only event is a difference from
        self.root: str | None = None  # cached lineage root (None: work it out again)
        # The key and time of the file's last call read in an earlier run: what a re-emit at the start
        # of this read may move (`_reemit`). The calls of this read are the tally's own records.
        self.last: tuple[str, float | None] | None = None
        self.reread = False  # a re-emit moved the time of a call read in an earlier run
        if encoded:
            try:
                own, parents, model, previous, base, last = marshal.loads(encoded)
            except (ValueError, EOFError, TypeError):
                return  # a state of another shape: start afresh
            self.own, self.parents, self.model = own, parents, model
            self.previous, self.base, self.last = previous, base, last  # marshal gives the tuples back

    def encode(self, records: list[UsageRecord]) -> bytes:
        last = (records[-1].key, records[-1].ts) if records else self.last
        return marshal.dumps((self.own, self.parents, self.model, self.previous, self.base, last))

    def thread(self) -> str:
        return self.own if self.own is not None else self.fallback

    def lineage_root(self) -> str:
        root = self.root
        if root is None:
            root = self.thread()
            seen = {root}
            parent = self.parents.get(root)
            while parent is not None and parent not in seen:
                seen.add(parent)
                root = parent
                parent = self.parents.get(parent)
            self.root = root
        return root

    def meta(self, thread: Any, parent: str | None) -> None:
        if type(thread) is not str or not thread:
            return
        if self.own is None:
            self.own = thread  # the first session_meta is the file's own; later ones are copies
        if thread not in self.parents:
            self.parents[thread] = parent
            self.root = None


class RolloutParser:
    """Candidate lines of one rollout → a Chunk, resuming from the state of the lines before.

    `line` is the compiled fast path (`compiled.py`) when it is in use, which hands every line it does
    not read itself to `parse_line`; else `parse_line` alone. `compiled` (None: as `compiled.choose()`
    decides for this process) lets tests run both paths side by side."""

    __slots__ = ("body", "broken", "line", "state")

    def __init__(self, thread: str, state: bytes | None, compiled: bool | None = None) -> None:
        self.state = state_ = _State(thread, state)
        self.body = body = Tally()
        self.broken = body.broken_record  # a line holding no needle that cannot be a JSON object (`hot.judge`)
        lines = _FAST.lines if compiled is None else choose({}).lines if compiled else None
        self.line: Callable[[Line], None]
        if lines is not None:
            self.line = lines(body.records, body.skipped, body, state_, parse_line, UsageRecord,
                              SkipReason.REEMITTED.value)
        else:
            # A closure, not a bound method: the parser holding its own method would be a cycle, and
            # the cyclic collector is off while a command runs.
            self.line = lambda line: parse_line(line, body, state_)

    def finish(self, end_offset: int, tail: Line | None) -> Chunk:
        # A last line without its newline is not counted, nor judged, until it is complete.
        chunk = chunk_of(end_offset, self.body, None, self.state.encode(self.body.records))
        chunk.reread = self.state.reread
        return chunk


def parse_line(line: Line, tally: Tally, state: _State) -> None:
    """Decode one candidate line (`lines` explains the two decoders) and add what it is to `tally`."""
    fast = decode_fast(_decode_fast, line)
    if fast is not None:
        kind, payload = fast.type, fast.payload
        if kind == "event_msg":
            if payload is None:
                tally.skip(SkipReason.WRONG_SHAPE)
            elif payload.type == "token_count" and payload.info is not None:
                info = payload.info
                _token_count(fast.timestamp, _usage_struct(info.total_token_usage),
                             _usage_struct(info.last_token_usage),
                             _model(info.model, info.model_name, payload.model, payload.model_name), tally, state)
        elif kind == "turn_context" and payload is not None:
            _turn_context(payload.model, state)
        elif kind == "session_meta" and payload is not None:
            state.meta(payload.id, _parent(payload.forked_from_id, payload.source))
        return
    obj = decode(line, tally)
    if obj is NOT_JSON:
        return
    if type(obj) is not dict:
        tally.skip(SkipReason.WRONG_SHAPE)
        return
    _careful(obj, tally, state)


def _careful(obj: dict[str, Any], tally: Tally, state: _State) -> None:
    """A line the fast decoder refused: the same rules on plain values, naming what is wrong."""
    kind, payload = obj.get("type"), obj.get("payload")
    if kind not in ("event_msg", "turn_context", "session_meta"):
        return  # another line that merely holds a needle: not usage, not broken
    if type(payload) is not dict:
        if kind == "event_msg" or payload is not None:
            tally.skip(SkipReason.WRONG_SHAPE)
        return
    if kind == "turn_context":
        _turn_context(payload.get("model"), state)
    elif kind == "session_meta":
        state.meta(payload.get("id"), _parent(payload.get("forked_from_id"), payload.get("source")))
    elif payload.get("type") == "token_count":
        info = payload.get("info")
        if info is None:
            return  # rate limits only: not usage
        if type(info) is not dict:
            tally.skip(SkipReason.WRONG_SHAPE)
            return
        total, last = info.get("total_token_usage"), info.get("last_token_usage")
        if (total is not None and type(total) is not dict) or (last is not None and type(last) is not dict):
            tally.skip(SkipReason.WRONG_SHAPE)
            return
        _token_count(obj.get("timestamp", _ABSENT), _usage_dict(total), _usage_dict(last),
                     _model(info.get("model"), info.get("model_name"), payload.get("model"),
                            payload.get("model_name")), tally, state)


def _count(value: Any) -> int | None:
    """A count as written: a whole number from 0 up, however large (beyond 2**53 and 2**64 it counts
    exactly, as the Kimi providers' do); a negative one is 0, and so is a value that is not a count
    (null, text, a float); None when the key is missing."""
    if type(value) is int:
        return value if value >= 0 else 0
    return None if value is _ABSENT else 0


def _usage_struct(usage: _Usage | None) -> Usage | None:
    if usage is None:
        return None
    counts = (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.reasoning_output_tokens,
              usage.total_tokens)
    # Five counts, as almost every event has them: three C calls instead of five Python ones. (No `cast`
    # here: building its type argument on every call cost more than the check.)
    if None in counts or _ABSENT in counts or min(counts) < 0:  # type: ignore[type-var,operator]
        return (_count(counts[0]), _count(counts[1]), _count(counts[2]), _count(counts[3]), _count(counts[4]))
    return counts  # type: ignore[return-value]  # all five are ints here


def _usage_dict(usage: dict[str, Any] | None) -> Usage | None:
    if usage is None:
        return None
    get = usage.get
    return (_count(get("input_tokens", _ABSENT)), _count(get("cached_input_tokens", _ABSENT)),
            _count(get("output_tokens", _ABSENT)), _count(get("reasoning_output_tokens", _ABSENT)),
            _count(get("total_tokens", _ABSENT)))


def _model(*names: Any) -> str | None:
    """A model named on the event itself (current Codex writes none; some builds do)."""
    for name in names:
        if type(name) is str and name:
            return printable(name)
    return None


def _turn_context(model: Any, state: _State) -> None:
    if type(model) is str and model:
        state.model = printable(model)


def _parent(forked_from: Any, source: Any) -> str | None:
    """The thread a `session_meta` was forked or spawned from, if it names one."""
    if type(forked_from) is str and forked_from:
        return forked_from
    return _spawned_by(source)


def _spawned_by(source: Any) -> str | None:
    """The thread that spawned a subagent (`source.subagent.thread_spawn.parent_thread_id`), if any."""
    if type(source) is dict:
        subagent = source.get("subagent")
        spawn = subagent.get("thread_spawn") if type(subagent) is dict else None
        parent = spawn.get("parent_thread_id") if type(spawn) is dict else None
        if type(parent) is str and parent:
            return parent
    return None


def _token_count(raw_ts: Any, total: Usage | None, last: Usage | None, model: str | None, tally: Tally,
                 state: _State) -> None:
    """One `token_count` event with an info: a call, a re-emit, or nothing."""
    if total is not None and total == state.previous:
        tally.skip(SkipReason.REEMITTED)
        _reemit(raw_ts, total, last, tally.records, state)
        return
    state.previous = total
    if last is not None and (last[0] is not None or last[1] is not None or last[2] is not None
                             or last[3] is not None):
        inp, cached, out, reasoning = last[0] or 0, last[1] or 0, last[2] or 0, last[3] or 0
    elif total is not None:
        base = state.base
        inp, cached, out, reasoning = total[0] or 0, total[1] or 0, total[2] or 0, total[3] or 0
        if base is not None:
            inp, cached, out = inp - (base[0] or 0), cached - (base[1] or 0), out - (base[2] or 0)
            reasoning -= base[3] or 0
            if inp < 0 or cached < 0 or out < 0 or reasoning < 0:
                inp = cached = out = reasoning = 0  # a reset: nothing counts, the new total is the baseline
    else:
        inp = cached = out = reasoning = 0
    if total is not None:
        state.base = total
    cached = min(cached, inp)  # cached input is part of input: never more than it
    if not (inp or out or reasoning):  # cached is at most input here
        tally.zero += 1
        return
    ts = _seconds(raw_ts)
    key = _key(total, last, state) if total is not None else f"t\x1f{state.thread()}\x1f{_raw_json(raw_ts)}\x1f{last}"
    # Reasoning is part of output, kept beside it as written: informational, never added to anything.
    tally.records.append(UsageRecord(key, ts, model if model is not None else state.model, inp - cached, out, cached,
                                     0, None, 0, reasoning))


def _reemit(raw_ts: Any, total: Usage, last: Usage | None, records: list[UsageRecord], state: _State) -> None:
    """A re-emit's time, when valid and earlier, becomes the time of the call it repeats: the file's
    last call, when that has the re-emit's key (its record in this read, else the state's `last`)."""
    record = records[-1] if records else None
    known = (record.key, record.ts) if record is not None else state.last
    if known is None:
        return
    ts = _seconds(raw_ts)
    if ts is None or (known[1] is not None and ts >= known[1]) or known[0] != _key(total, last, state):
        return
    if record is not None:
        records[-1] = msgspec.structs.replace(record, ts=ts)
    else:
        state.reread = True  # the call's record is in the store: read the file from its start


def _key(total: Usage, last: Usage | None, state: _State) -> str:
    """The identity of a call with a total: its lineage root, its total and its last, as text."""
    return f"x\x1f{state.lineage_root()}\x1f{total}\x1f{last}"  # the tuples as text: one C call each


# RFC 3339's date-time (section 5.6): `T` or `t` (or, as its note allows, a space) between the date and
# the time, seconds required, any number of fraction digits, `Z`, `z` or a `±hh:mm` offset. ASCII
# digits only (`re.ASCII`): `\d` would take other scripts' digits too.
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def _seconds(raw: Any) -> float | None:
    """An RFC 3339 timestamp (Codex writes UTC with milliseconds and `Z`) → seconds; None when missing,
    not RFC 3339 (no offset, no seconds, ISO 8601's other forms such as week dates or `20261119T1000Z`),
    not a real date and time, or outside the years 1970 to 9999. A leap second (`23:59:60`) is the
    last instant of its minute, so that it stays on its day; a fraction finer than a microsecond is cut."""
    if type(raw) is not str:
        return None
    match = _RFC3339.fullmatch(raw)
    if match is None:
        return None
    date, minutes, second, fraction, offset = match.groups()
    leap = second == "60"
    text = f"{date}T{minutes}:{'59' if leap else second}.{(fraction or '')[:6]:0<6}" \
           f"{'+00:00' if offset in 'Zz' else offset}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # a month 13, a 31st of April, an hour 24, an offset of 24 hours
        return None
    if leap:
        moment = moment.replace(microsecond=999_999)
    ts = moment.timestamp()
    return ts if 0 < ts < MAX_TIMESTAMP else None


def _raw_json(value: Any) -> str:
    """A timestamp's JSON text for an identity: the same whichever decoder read it (`lines.raw_json`)."""
    return "" if value is _ABSENT else raw_json(value)


class _Meta(msgspec.Struct, gc=False):
    id: Any = None
    forked_from_id: Any = None
    source: Any = None
    model_provider: Any = None


class _MetaLine(msgspec.Struct, gc=False):
    type: Any = None
    payload: _Meta | None = None


_decode_meta = msgspec.json.Decoder(_MetaLine).decode


class HeadLineage(NamedTuple):
    """What the `session_meta` lines at the head of a rollout say of its thread's lineage."""

    chain: tuple[str, ...]  # the ancestors the thread's own line leads to, nearest first
    joins: str | None  # for a subagent, the thread whose session it is part of
    links: tuple[tuple[str, str, bool], ...]  # every (thread, parent, spawned) a line names, in file order
    upstream: str | None = None  # the thread's own line's `model_provider`, when it is a non-empty string
    told: tuple[tuple[str, str], ...] = ()  # (thread, model_provider) of the other lines, in file order
    own: str | None = None  # the thread the first session_meta names: the file's own


def head_lineage(head: list[bytes]) -> HeadLineage:
    """From the `session_meta` lines at the head of a rollout: the ancestors they lead to through
    `forked_from_id` / `parent_thread_id`, nearest first, whether or not their files exist ("Readings
    settled" 1 and 3); for a subagent, the thread whose session it is part of: its spawner, or that
    one's spawner, up to the first thread that was not spawned (a user fork or a thread of its own);
    and every link a line names, those the chain does not reach included; and the upstream provider
    the thread's own line names ("Readings settled" 8), and those the other lines name for theirs."""
    parents: dict[str, str | None] = {}
    links: list[tuple[str, str, bool]] = []
    spawners: dict[str, str] = {}  # subagent thread -> the thread that spawned it
    own: str | None = None
    upstream: str | None = None
    told: list[tuple[str, str]] = []
    for line in head:
        try:
            meta = _decode_meta(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            continue
        payload = meta.payload
        if meta.type != "session_meta" or payload is None or type(payload.id) is not str or not payload.id:
            continue
        provider = payload.model_provider if type(payload.model_provider) is str and payload.model_provider else None
        if own is None:
            own, upstream = payload.id, provider
        elif provider is not None and payload.id != own:
            told.append((payload.id, provider))
        if payload.id not in parents:
            parent = parents[payload.id] = _parent(payload.forked_from_id, payload.source)
            spawner = None if payload.forked_from_id else _spawned_by(payload.source)
            if spawner is not None:
                spawners[payload.id] = spawner
            if parent is not None:
                links.append((payload.id, parent, spawner is not None))
    if own is None:
        return HeadLineage((), None, ())
    chain: list[str] = []
    node, seen = own, {own}
    while (parent := parents.get(node)) is not None and parent not in seen:
        seen.add(parent)
        chain.append(parent)
        node = parent
    joins, seen = None, {own}
    while (spawner := spawners.get(joins or own)) is not None and spawner not in seen:
        seen.add(spawner)
        joins = spawner
    return HeadLineage(tuple(chain), joins, tuple(links), upstream, tuple(told), own)
