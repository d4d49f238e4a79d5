"""Kimi Code's agent journals (wire.jsonl) → usage records: the hot path.

Three kinds of line matter: `usage.record` (one per model call, both scopes), `llm.request` (written
before each call: the real model behind the record's alias) and `forked` (the lines above it were
copied from another session). Each is found by its quoted type with a SIMD substring search; a quote
inside a JSON string is escaped, so content that merely mentions them never matches. Only those lines
are decoded; `step.end` loop events, token counting and goals carry look-alike usage and are never
read. The last model per alias is the reader's state: it is handed back with the chunk and given to
the next one, so a record appended later resolves exactly as in a cold scan.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import stringzilla

from openusage.providers.kimi_code.config import UNRESOLVED
from openusage.providers.lines import NOT_JSON, Tally, decode
from openusage.records import Buffer, Chunk, SkipReason, UsageRecord

USAGE = b'"usage.record"'
REQUEST = b'"llm.request"'
FORKED = b'"forked"'
NEEDLES = (USAGE, REQUEST, FORKED)
COUNT_KEYS = ("inputOther", "output", "inputCacheRead", "inputCacheCreation")
MAX_COUNT = 2**53 - 1
MAX_TIME_MS = 253402300800000  # 10000-01-01T00:00:00Z in milliseconds


class _State:
    """The model of the last llm.request, overall and per alias."""

    __slots__ = ("by_alias", "last")

    def __init__(self, encoded: bytes | None) -> None:
        self.by_alias: dict[str, str] = {}
        self.last: str | None = None
        if encoded:
            try:
                doc = orjson.loads(encoded)
                self.by_alias = {str(k): str(v) for k, v in doc["by_alias"].items()}
                self.last = doc["last"] if isinstance(doc["last"], str) else None
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                self.by_alias, self.last = {}, None

    def encode(self) -> bytes | None:
        if self.last is None and not self.by_alias:
            return None
        return orjson.dumps({"by_alias": self.by_alias, "last": self.last})

    def copy(self) -> _State:
        clone = _State(None)
        clone.by_alias = dict(self.by_alias)
        clone.last = self.last
        return clone

    def model_for(self, alias: Any) -> str:
        """The nearest llm.request's model for this alias, else the nearest's; else the alias, for the
        config to resolve when the snapshot is built."""
        if isinstance(alias, str) and alias in self.by_alias:
            return self.by_alias[alias]
        if self.last is not None:
            return self.last
        return UNRESOLVED + (alias if isinstance(alias, str) else "")


def parse_journal(data: Buffer, offset: int, size: int, state: bytes | None, agent: str) -> Chunk:
    """The usage in `data[offset:size]` of the journal of agent directory `agent`."""
    resume = _State(state)
    chunk = Chunk(end_offset=offset, state=state)
    if size <= offset:
        return chunk
    complete_end = data.rfind(b"\n", offset, size) + 1 or offset
    body = Tally()
    view = memoryview(data)
    text = stringzilla.Str(view)
    try:
        _scan(data, text, offset, complete_end, body, resume, agent)
    finally:
        del text  # the Str holds the view's buffer; both must go before a map can close
        view.release()
    chunk.records, chunk.skipped, chunk.zero_records = body.records, body.skipped, body.zero
    chunk.end_offset = complete_end
    chunk.state = resume.encode()
    chunk.marker_seen = body.marker
    if complete_end < size:
        tail_line = data[complete_end:size]
        if any(needle in tail_line for needle in NEEDLES):
            tail = Tally()
            _line(tail_line, tail, resume.copy(), agent)  # the tail is read again next time: state not kept
            chunk.tail_records, chunk.tail_skipped, chunk.tail_zero_records = tail.records, tail.skipped, tail.zero
            if tail.marker:
                _mark(body.records)
                chunk.marker_seen = True
    return chunk


def _scan(data: Buffer, text: Any, offset: int, end: int, lines: Tally, state: _State, agent: str) -> None:
    find = text.find
    # The next hit of each needle; a line is handled once even if it holds several of them.
    hits = [find(needle, offset, end) for needle in NEEDLES]
    pos = offset
    while True:
        live = [hit for hit in hits if hit >= 0]
        if not live:
            return
        hit = min(live)
        start = data.rfind(b"\n", pos, hit) + 1 or pos
        stop = data.find(b"\n", hit, end)
        _line(data[start:stop], lines, state, agent)
        pos = stop + 1
        for index, needle_hit in enumerate(hits):
            if 0 <= needle_hit < pos:
                hits[index] = find(NEEDLES[index], pos, end)


def _line(line: bytes, lines: Tally, state: _State, agent: str) -> None:
    obj = decode(line, lines)
    if obj is NOT_JSON:
        return
    if type(obj) is not dict:
        lines.skip(SkipReason.WRONG_SHAPE)
        return
    kind = obj.get("type")
    if kind == "usage.record":
        _usage(obj, lines, state, agent)
    elif kind == "llm.request":
        model = obj.get("model")
        if type(model) is str and model:
            state.last = model
            alias = obj.get("modelAlias")
            if type(alias) is str:
                state.by_alias[alias] = model
    elif kind == "forked":
        _mark(lines.records)
        lines.marker = True


def _usage(obj: dict[str, Any], lines: Tally, state: _State, agent: str) -> None:
    usage = obj.get("usage")
    if type(usage) is not dict:
        lines.skip(SkipReason.WRONG_SHAPE)
        return
    counts = [_count(usage.get(key)) for key in COUNT_KEYS]
    inp, out, cr, cw = counts
    if not (inp or out or cr or cw):
        lines.zero += 1
        return
    raw_time = obj.get("time")
    ts: float | None = None
    if (type(raw_time) is int or type(raw_time) is float) and 0 < raw_time < MAX_TIME_MS:
        ts = raw_time / 1000.0  # milliseconds, always: a small value is an early time, not seconds
    scope = obj.get("usageScope")
    alias = obj.get("model")
    key = (f"c\x1f{agent}\x1f{_raw(obj, 'time')}\x1f{_raw(obj, 'usageScope')}\x1f{_raw(obj, 'model')}"
           f"\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}")
    lines.records.append((key, ts, state.model_for(alias), inp, out, cr, cw,
                          scope if type(scope) is str else None, 0))


def _count(value: Any) -> int:
    """JSON numbers are JavaScript numbers here: a whole float counts; negative, NaN, text, bool: 0."""
    if type(value) is int:
        return value if 0 < value <= MAX_COUNT else 0
    if type(value) is float and math.isfinite(value) and 0 < value <= MAX_COUNT:
        return int(value)
    return 0


def _raw(obj: dict[str, Any], key: str) -> str:
    """A field's JSON text for the record's identity; empty when the field is absent."""
    return orjson.dumps(obj[key]).decode() if key in obj else ""


def _mark(records: list[UsageRecord]) -> None:
    """These copies are followed by a `forked` marker: their file is a fork of another session's."""
    for index, (key, ts, model, inp, out, cr, cw, scope, marked) in enumerate(records):
        if not marked:
            records[index] = (key, ts, model, inp, out, cr, cw, scope, 1)
