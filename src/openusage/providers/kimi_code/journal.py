"""Kimi Code's agent journals (wire.jsonl) candidate lines → usage records: the hot path.

Three kinds of line matter: `usage.record` (one per model call, both scopes), `llm.request` (written
before each call: the real model behind the record's alias) and `forked` (the lines above it were
copied from another session). The scan finds each by its quoted type (the provider's `NEEDLES`, see
`openusage.candidates`) and hands the lines here in file order; `step.end` loop events, token counting
and goals carry look-alike usage and are never read. A line is decoded straight into the fields a
record needs (`lines` explains the two decoders). The last model per alias is the reader's state: it
is handed back with the chunk and given to the next one, so a record appended later resolves exactly
as in a cold scan.

`parse_line` is the reference. Where the compiled fast path is built (`compiled`, `_journal.c`), each
line goes to it first: it answers the plain `usage.record` and `llm.request` lines (almost all of them)
with the same record and the same state, and hands every other line back to `parse_line`.
"""

from __future__ import annotations

import marshal
import math
from collections.abc import Callable
from typing import Any

from openusage._msgspec import msgspec
from openusage.calls import UsageRecord
from openusage.providers.kimi_code.compiled import choose
from openusage.providers.kimi_code.config import UNRESOLVED
from openusage.providers.lines import FAST_ERRORS as _FAST_ERRORS
from openusage.providers.lines import NOT_JSON, Tally, chunk_of, decode, nested_text, printable
from openusage.records import Chunk, Line
from openusage.skips import SkipReason

MAX_TIME_MS = 253402300800000  # 10000-01-01T00:00:00Z in milliseconds
_ABSENT: Any = msgspec.UNSET


class _Usage(msgspec.Struct):
    inputOther: Any = None
    output: Any = None
    inputCacheRead: Any = None
    inputCacheCreation: Any = None


class _Record(msgspec.Struct):
    type: Any = None
    usage: _Usage | None = None
    usageScope: Any = _ABSENT
    model: Any = _ABSENT
    modelAlias: Any = None
    time: Any = _ABSENT


_decode_fast = msgspec.json.Decoder(_Record).decode
_FAST = choose()  # this process's choice: the environment does not change while it reads


class _State:
    """The model of the last llm.request, overall and per alias."""

    __slots__ = ("by_alias", "last")

    def __init__(self, encoded: bytes | None) -> None:
        self.by_alias: dict[str, str] = {}
        self.last: str | None = None
        if encoded:
            try:
                by_alias, last = marshal.loads(encoded)
                self.by_alias = {str(k): str(v) for k, v in by_alias.items()}
                self.last = last if isinstance(last, str) else None
            except (ValueError, EOFError, TypeError, AttributeError):
                self.by_alias, self.last = {}, None

    def encode(self) -> bytes | None:
        if self.last is None and not self.by_alias:
            return None
        return marshal.dumps((self.by_alias, self.last))

    def copy(self) -> _State:
        clone = _State(None)
        clone.by_alias = dict(self.by_alias)
        clone.last = self.last
        return clone

    def model_for(self, alias: Any) -> str | None:
        """The nearest llm.request's model for this alias, else the nearest's; else the alias, for the
        config to resolve when the snapshot is built; None for a record that names no alias (its `model`
        missing or not a string): no `[models."<alias>"]` to look up, the default model applies."""
        if isinstance(alias, str) and alias in self.by_alias:
            return self.by_alias[alias]
        if self.last is not None:
            return self.last
        return UNRESOLVED + printable(alias) if isinstance(alias, str) else None


class JournalParser:
    """Candidate lines of one agent's journal → a Chunk, resuming from the state of the lines before.

    `line` is what the block loop calls per candidate line: the compiled fast path (`compiled.py`) when
    it is in use, which hands every line it does not read itself to `parse_line`; else `parse_line`
    alone. `compiled` (None: as `compiled.choose()` decides for this process) lets tests run both paths
    side by side."""

    __slots__ = ("agent", "body", "broken", "fast", "line", "state")

    def __init__(self, agent: str, state: bytes | None, compiled: bool | None = None) -> None:
        self.agent = agent  # the agent directory's name: part of every record's identity
        self.state = state_ = _State(state)
        self.body = body = Tally()
        self.broken = body.broken  # a line holding no needle that cannot be JSON (`hot.judge`)
        # A closure, not a bound method: the parser holding its own method would be a cycle, and the
        # cyclic collector is off while a command runs.
        reference: Callable[[Line], None] = lambda line: parse_line(line, body, state_, agent)  # noqa: E731
        lines = _FAST.lines if compiled is None else choose({}).lines if compiled else None
        self.fast = None if lines is None else lines(body.records, state_, agent, UsageRecord, reference)
        self.line: Callable[[Line], None] = reference if self.fast is None else self.fast

    def finish(self, end_offset: int, tail: Line | None) -> Chunk:
        if self.fast is not None:  # the all-zero records the compiled path counted, added once
            self.body.zero += self.fast.zero
            self.fast = None
        rest = None
        if tail is not None:
            rest = Tally()
            parse_line(tail, rest, self.state.copy(), self.agent)  # read again next time: state not kept
        chunk = chunk_of(end_offset, self.body, rest, self.state.encode())
        if rest is not None and rest.marker:  # a marker in the last line marks every copy before it
            _mark(chunk.records)
            chunk.marker_seen = True
            chunk.marks_from_tail = True
        return chunk


def parse_line(line: Line, lines: Tally, state: _State, agent: str) -> None:
    """Decode one candidate line (`lines` explains the two decoders) and add what it is to `lines`."""
    try:  # decode_fast, inlined: this runs once per candidate line
        fast: _Record | None = _decode_fast(line)
    except _FAST_ERRORS:
        fast = None
    if fast is not None and not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            fast = None
    if fast is not None:
        kind = fast.type
        if kind == "usage.record":
            usage = fast.usage
            if usage is None:
                lines.skip(SkipReason.WRONG_SHAPE)
                return
            _add_usage(fast.time, fast.usageScope, fast.model, usage.inputOther, usage.output, usage.inputCacheRead,
                       usage.inputCacheCreation, lines, state, agent)  # `model`: the alias here
        elif kind == "llm.request":
            _request(fast.model, fast.modelAlias, state)
        elif kind == "forked":
            _mark(lines.records)
            lines.marker = True
        return
    obj = decode(line, lines)
    if obj is NOT_JSON:
        return
    if type(obj) is not dict:
        lines.skip(SkipReason.WRONG_SHAPE)
        return
    kind = obj.get("type")
    if kind == "usage.record":
        raw = obj.get("usage")
        if type(raw) is not dict:
            lines.skip(SkipReason.WRONG_SHAPE)
            return
        _add_usage(obj.get("time", _ABSENT), obj.get("usageScope", _ABSENT), obj.get("model", _ABSENT),
                   raw.get("inputOther"), raw.get("output"), raw.get("inputCacheRead"), raw.get("inputCacheCreation"),
                   lines, state, agent)
    elif kind == "llm.request":
        _request(obj.get("model", _ABSENT), obj.get("modelAlias"), state)
    elif kind == "forked":
        _mark(lines.records)
        lines.marker = True


def _request(model: Any, alias: Any, state: _State) -> None:
    if type(model) is str and model:
        model = printable(model)
        state.last = model
        if type(alias) is str:
            state.by_alias[alias] = model


def _add_usage(raw_time: Any, scope: Any, alias: Any, inp: Any, out: Any, cr: Any, cw: Any, lines: Tally,
               state: _State, agent: str) -> None:
    # Whole positive ints (almost every count) without a call each; anything else through _count.
    inp = inp if type(inp) is int and inp > 0 else _count(inp)
    out = out if type(out) is int and out > 0 else _count(out)
    cr = cr if type(cr) is int and cr > 0 else _count(cr)
    cw = cw if type(cw) is int and cw > 0 else _count(cw)
    if not (inp or out or cr or cw):
        lines.zero += 1
        return
    ts: float | None = None
    if (type(raw_time) is int or type(raw_time) is float) and 0 < raw_time < MAX_TIME_MS:
        ts = raw_time / 1000.0  # milliseconds, always: a small value is an early time, not seconds
    if type(raw_time) is int and type(scope) is str and type(alias) is str:
        # The usual record, without a call per field: `_raw` of an int or a str is its repr.
        key = f"c\x1f{agent}\x1f{raw_time!r}\x1f{scope!r}\x1f{alias!r}\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}"
        by_alias = state.by_alias
        model = by_alias[alias] if alias in by_alias else state.model_for(alias)
    else:
        key = (f"c\x1f{agent}\x1f{_raw(raw_time)}\x1f{_raw(scope)}\x1f{_raw(alias)}"
               f"\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}")
        model = state.model_for(None if alias is _ABSENT else alias)
    lines.records.append(UsageRecord(key, ts, model, inp, out, cr, cw, scope if type(scope) is str else None))


def _count(value: Any) -> int:
    """JSON numbers are JavaScript numbers here: a float counts (its whole part); negative, NaN,
    infinite, text, bool: 0. An integer counts exactly however large (both decoders give Python ints)."""
    if type(value) is int:
        return value if value > 0 else 0
    if type(value) is float and math.isfinite(value) and value > 0:
        return int(value)
    return 0


def _raw(value: Any) -> str:
    """A field's value for the record's identity, the same whichever decoder read it (both give the
    same Python values, and `repr` tells 1 from 1.0 from "1"); empty when the field is absent."""
    if value is _ABSENT:
        return ""
    try:
        return repr(value)
    except RecursionError:  # nested near the limit: decodable, but too deep for `repr`: the same text
        return nested_text(value, repr, ", ", ": ")


def _mark(records: list[UsageRecord]) -> None:
    """These copies are followed by a `forked` marker: their file is a fork of another session's."""
    for index, record in enumerate(records):
        if not record.marked:
            records[index] = msgspec.structs.replace(record, marked=1)
