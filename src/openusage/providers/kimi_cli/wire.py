"""Kimi CLI's wire.jsonl candidate lines → usage records: the hot path.

Most of a wire file is tool output and thinking text. Only lines holding the key `"token_usage"` can
be usage (the provider's `NEEDLES`): the scan finds them without decoding the rest (see `openusage.candidates`) and
hands them here one at a time. A line is decoded straight into the few fields a usage record needs
(`lines` explains the two decoders); anything that is not a plain or wrapped StatusUpdate takes the
careful path, which unwraps SubagentEvents at any depth and names each skip reason.

`parse_line` is the reference. Where the compiled fast path is built (`fastpath`, `_wire.c`), each line
goes to it first: it answers the plain usage lines (most of them) in one call, with the same record,
and hands every other line back to `parse_line`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from openusage._msgspec import msgspec
from openusage.calls import UsageRecord
from openusage.providers.kimi_cli import fastpath
from openusage.providers.lines import NOT_JSON, Tally, chunk_of, decode, decode_fast, printable, raw_json
from openusage.records import Chunk, Line
from openusage.skips import SkipReason

# 10000-01-01T00:00:00Z: the spec's "before the year 10000".
MAX_TIMESTAMP = 253402300800.0
_ABSENT: Any = msgspec.UNSET


class _Usage(msgspec.Struct, gc=False):  # no cycles: nothing for the collector
    input_other: Any = None
    output: Any = None
    input_cache_read: Any = None
    input_cache_creation: Any = None


class _Payload(msgspec.Struct, gc=False):  # no cycles: nothing for the collector
    token_usage: _Usage | None = None
    message_id: Any = None
    model: Any = None
    event: Any = None  # a SubagentEvent's wrapped event, decoded as plain values (rare, small)


class _Message(msgspec.Struct, gc=False):  # no cycles: nothing for the collector
    type: Any = None
    payload: _Payload | None = None


class _Line(msgspec.Struct, gc=False):  # no cycles: nothing for the collector
    timestamp: Any = _ABSENT
    message: _Message | None = None


_decode_fast = msgspec.json.Decoder(_Line).decode


_CHOSEN = fastpath.choose()  # once per process: the environment does not change under it
REFERENCE = fastpath.FastPath(None, None, "the reference alone")  # parse_line for every line


class WireParser:
    """Candidate lines of one wire.jsonl → a Chunk, through the compiled fast path when `fast` has one.

    `line` is what the block loop calls per candidate line: the compiled `Sink` itself (no Python frame
    per line; it hands the lines it defers to `parse_line`), or `parse_line` bound to this file's tally."""

    __slots__ = ("body", "broken", "fast", "line", "sink")

    def __init__(self, fast: fastpath.FastPath = _CHOSEN) -> None:
        self.body = Tally()
        self.broken = self.body.broken_record  # a line holding no needle that cannot be a JSON object (`hot.judge`)
        self.fast = fast
        # A partial, not a bound method: nothing here refers back to the parser (commands run with the
        # cyclic collector off).
        reference: Callable[[Line], None] = partial(parse_line, tally=self.body)
        self.sink = None if fast.sink is None else fast.sink(self.body.records, UsageRecord, reference)
        self.line: Callable[[Line], None] = reference if self.sink is None else self.sink

    def finish(self, end_offset: int, tail: Line | None) -> Chunk:
        body = self.finished_tally()
        rest = None
        if tail is not None:
            last = WireParser(self.fast)
            last.line(tail)
            rest = last.finished_tally()
        return chunk_of(end_offset, body, rest)

    def finished_tally(self) -> Tally:
        """The tally, with the all-zero records the compiled path counted itself added (once)."""
        if self.sink is not None:
            self.body.zero += self.sink.zero
            self.sink = None
        return self.body


def parse_line(line: Line, tally: Tally) -> None:
    """Decode one candidate line and add what it is to `tally`."""
    fast = decode_fast(_decode_fast, line)
    if fast is not None:
        message = fast.message
        if message is None:
            tally.skip(SkipReason.WRONG_SHAPE)
            return
        kind = message.type
        if kind == "StatusUpdate":
            payload = message.payload
            if payload is None:
                tally.skip(SkipReason.WRONG_SHAPE)
                return
            usage = payload.token_usage
            if usage is None:
                return  # a context-only status update
            _add_usage(fast.timestamp, payload.model, payload.message_id, usage.input_other, usage.output,
                       usage.input_cache_read, usage.input_cache_creation, "top", tally)
        elif kind == "SubagentEvent":
            payload = message.payload
            inner = payload.event if payload is not None else None
            if type(inner) is not dict:
                tally.skip(SkipReason.WRONG_SHAPE)
                return
            _classify_event(inner, fast.timestamp, "wrapped", tally)
        # else: another record that merely holds a token_usage key: not usage, not broken
        return
    obj = decode(line, tally)
    if obj is NOT_JSON:
        return
    message = obj.get("message") if type(obj) is dict else None
    if type(message) is not dict:
        tally.skip(SkipReason.WRONG_SHAPE)
        return
    _classify_event(message, obj.get("timestamp", _ABSENT), "top", tally)


def _classify_event(event: dict[str, Any], raw_ts: Any, kind: str, tally: Tally) -> None:
    """The careful path: unwrap SubagentEvents and name what is wrong with a line that is not usage."""
    while event.get("type") == "SubagentEvent":
        payload = event.get("payload")
        inner = payload.get("event") if type(payload) is dict else None
        if type(inner) is not dict:
            tally.skip(SkipReason.WRONG_SHAPE)
            return
        event = inner
        kind = "wrapped"
    if event.get("type") != "StatusUpdate":
        return  # another record that merely holds a token_usage key: not usage, not broken
    payload = event.get("payload")
    if type(payload) is not dict:
        tally.skip(SkipReason.WRONG_SHAPE)
        return
    usage = payload.get("token_usage")
    if usage is None:
        return  # a context-only status update
    if type(usage) is not dict:
        tally.skip(SkipReason.WRONG_SHAPE)
        return
    _add_usage(raw_ts, payload.get("model"), payload.get("message_id"), usage.get("input_other"),
               usage.get("output"), usage.get("input_cache_read"), usage.get("input_cache_creation"), kind, tally)


def _add_usage(raw_ts: Any, model: Any, message_id: Any, inp: Any, out: Any, cr: Any, cw: Any, kind: str,
               tally: Tally) -> None:
    # Inlined count checks: this runs once per usage record. Not an int (bool, float, str, null) or
    # negative: 0. Any other integer counts, exactly, however large (both decoders give Python ints).
    if type(inp) is not int or inp < 0:
        inp = 0
    if type(out) is not int or out < 0:
        out = 0
    if type(cr) is not int or cr < 0:
        cr = 0
    if type(cw) is not int or cw < 0:
        cw = 0
    if not (inp or out or cr or cw):
        tally.zero += 1
        return
    # A valid time is a number (not a boolean), after the epoch and before the year 10000; the chained
    # comparison is False for NaN and infinity too. Inlined: it runs once per usage record.
    ts: float | None = None
    if type(raw_ts) is float or type(raw_ts) is int:
        ts = float(raw_ts) if 0 < raw_ts < MAX_TIMESTAMP else None
    raw_model = model if type(model) is str and model else None
    model = printable(raw_model) if raw_model is not None else None
    if type(message_id) is str and message_id:
        key = f"m\x1f{message_id}\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}"
    else:
        # The model as written (two models that differ only in an unpaired surrogate are two calls; the
        # record shows it printable).
        raw = "" if raw_ts is _ABSENT else raw_json(raw_ts)
        key = f"t\x1f{kind}\x1f{raw}\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}\x1f{raw_model or ''}"
    tally.records.append(UsageRecord(key, ts, model, inp, out, cr, cw))
