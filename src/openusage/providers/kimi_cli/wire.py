"""Kimi CLI's wire.jsonl bytes → usage records: the hot path.

Most of a wire file is tool output and thinking text. Only lines holding the key `"token_usage"` can
be usage, so the file's bytes (read, or memory-mapped when large, by scan.py) are searched for that
key with a SIMD substring search; only those lines are decoded. Inside a JSON string a quote is
escaped (`\\"`), so tool output that merely mentions token_usage never matches the quoted key. Memory
stays bounded by the longest usage line: lines are sliced out one at a time, and mapped pages already
scanned are released.
"""

from __future__ import annotations

import mmap
from typing import Any

import orjson
import stringzilla

from openusage.providers.lines import NOT_JSON, Tally, decode
from openusage.records import Buffer, Chunk, SkipReason

MARKER = b'"token_usage"'
# A count above this cannot be a real call and would not survive a JSON consumer's float; it counts as 0.
MAX_COUNT = 2**53 - 1
# 10000-01-01T00:00:00Z: the spec's "before the year 10000".
MAX_TIMESTAMP = 253402300800.0
# Release scanned pages of big files every so many bytes, so RSS does not grow with the file.
RELEASE_EVERY = 32 * 1024 * 1024
_PAGE = mmap.PAGESIZE



def parse_line(line: bytes, tally: Tally) -> None:
    """Decode one candidate line and add what it is to `tally`."""
    obj = decode(line, tally)
    if obj is NOT_JSON:
        return
    # Fast path: a well-formed top-level StatusUpdate, which almost every candidate line is. Anything
    # else (a wrapped echo, a wrong shape, another type) raises or falls through to `_classify`.
    try:
        message = obj["message"]
        if message["type"] == "StatusUpdate":
            payload = message["payload"]
            usage = payload["token_usage"]
            if usage is None:
                return  # a context-only status update
            if type(usage) is dict:
                _add_usage(obj, payload, usage, "top", tally)
                return
    except (KeyError, TypeError):
        pass
    _classify(obj, tally)


def _classify(obj: Any, tally: Tally) -> None:
    """The careful path: unwrap SubagentEvents and name what is wrong with a line that is not usage."""
    if type(obj) is not dict:
        tally.skip(SkipReason.WRONG_SHAPE)
        return
    message = obj.get("message")
    if type(message) is not dict:
        tally.skip(SkipReason.WRONG_SHAPE)
        return
    kind = "top"
    event: dict[str, Any] = message
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
    _add_usage(obj, payload, usage, kind, tally)


def _add_usage(obj: dict[str, Any], payload: dict[str, Any], usage: dict[str, Any], kind: str,
               tally: Tally) -> None:
    # Inlined count checks: this runs once per usage record. Not an int (bool, float, str, null),
    # negative, or beyond MAX_COUNT: 0.
    inp = usage.get("input_other")
    if type(inp) is not int or not 0 < inp <= MAX_COUNT:
        inp = 0
    out = usage.get("output")
    if type(out) is not int or not 0 < out <= MAX_COUNT:
        out = 0
    cr = usage.get("input_cache_read")
    if type(cr) is not int or not 0 < cr <= MAX_COUNT:
        cr = 0
    cw = usage.get("input_cache_creation")
    if type(cw) is not int or not 0 < cw <= MAX_COUNT:
        cw = 0
    if not (inp or out or cr or cw):
        tally.zero += 1
        return
    raw_ts = obj.get("timestamp")
    # A valid time is a number (not a boolean), after the epoch and before the year 10000; the chained
    # comparison is False for NaN and infinity too. Inlined: it runs once per usage record.
    ts: float | None = None
    if type(raw_ts) is float or type(raw_ts) is int:
        ts = float(raw_ts) if 0 < raw_ts < MAX_TIMESTAMP else None
    model = payload.get("model")
    if type(model) is not str or not model:
        model = None
    message_id = payload.get("message_id")
    if type(message_id) is str and message_id:
        key = f"m\x1f{message_id}\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}"
    else:
        raw = "" if "timestamp" not in obj else orjson.dumps(raw_ts).decode()
        key = f"t\x1f{kind}\x1f{raw}\x1f{inp}\x1f{out}\x1f{cr}\x1f{cw}\x1f{model or ''}"
    tally.records.append((key, ts, model, inp, out, cr, cw, None, 0))


def parse_wire(data: Buffer, offset: int, size: int) -> Chunk:
    """The usage in `data[offset:size]`; `offset` is a line start."""
    chunk = Chunk(end_offset=offset)
    if size > offset:
        _scan(data, offset, size, chunk)
    return chunk


def _scan(data: Buffer, offset: int, size: int, chunk: Chunk) -> None:
    complete_end = data.rfind(b"\n", offset, size) + 1
    if complete_end == 0:
        complete_end = offset
    body = Tally()
    view = memoryview(data)
    text = stringzilla.Str(view)  # zero-copy: SIMD search straight over the bytes or mapped pages
    try:
        _scan_lines(data, text, offset, complete_end, body)
    finally:
        del text  # the Str holds the view's buffer; both must go before the map can close
        view.release()
    chunk.records = body.records
    chunk.skipped = body.skipped
    chunk.zero_records = body.zero
    chunk.end_offset = complete_end
    if complete_end < size:
        tail_line = data[complete_end:size]
        if MARKER in tail_line:
            tail = Tally()
            parse_line(tail_line, tail)
            chunk.tail_records = tail.records
            chunk.tail_skipped = tail.skipped
            chunk.tail_zero_records = tail.zero


def _scan_lines(data: Buffer, text: Any, offset: int, complete_end: int, body: Tally) -> None:
    find = text.find
    pos = offset
    released = offset - offset % _PAGE
    while True:
        hit = find(MARKER, pos, complete_end)
        if hit < 0:
            break
        start = data.rfind(b"\n", pos, hit) + 1 or pos
        end = data.find(b"\n", hit, complete_end)
        parse_line(data[start:end], body)
        pos = end + 1
        if pos - released > RELEASE_EVERY and isinstance(data, mmap.mmap):
            released = _release(data, released, pos)


def _release(data: mmap.mmap, released: int, pos: int) -> int:
    upto = pos - pos % _PAGE
    if upto > released and hasattr(mmap, "MADV_DONTNEED"):
        data.madvise(mmap.MADV_DONTNEED, released, upto - released)
    return upto
