"""What a reader found in a run of candidate lines, and how a line is decoded and its faults named.

Shared by the providers' readers, so every provider decodes, skips and counts lines the same way.

Two decoders, one meaning. The fast one is msgspec decoding straight into the few fields a reader
needs (a typed Struct), which validates the whole line's JSON syntax but skips the values it does
not need without building them: a 5 MB `mcp_status` costs a scan, not a million objects. msgspec does
not check the UTF-8 of what it skips, so a line that is not pure ASCII is also checked as UTF-8. Any
line the fast decoder refuses (a wrong shape, or JSON it does not accept) is decoded again with
Python's own `json` on the strictly decoded text: the agents write their files with `json.dumps` or
`JSON.stringify`, and Python's `json` is the reference for what they wrote (it reads `NaN`,
`Infinity` and `1e400` as `json.dumps` writes them). Only what that refuses is a broken line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from openusage import jsonedges
from openusage._msgspec import msgspec
from openusage.calls import UsageRecord
from openusage.records import Chunk, Line
from openusage.skips import SkipReason

NOT_JSON = object()  # what `decode` returns for a line it has counted as skipped
_INVALID_JSON = SkipReason.INVALID_JSON.value
FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
T = TypeVar("T")


class Tally:
    """Records, skipped lines by reason, all-zero records, and whether a `forked` marker came."""

    __slots__ = ("marker", "records", "skipped", "zero")

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []
        self.skipped: dict[str, int] = {}
        self.zero = 0
        self.marker = False

    def skip(self, reason: SkipReason) -> None:
        self.skipped[reason.value] = self.skipped.get(reason.value, 0) + 1

    def broken(self, line: Line) -> None:
        """A complete line that holds no needle and cannot be a JSON object (`hot.judge`): counted as
        `not_utf8` or `invalid_json` when it is not JSON; a JSON value of another kind is no usage and
        nothing broken."""
        decode(line, self)

    def broken_record(self, line: Line) -> None:
        """`broken` for a format every line of which is a JSON object (Kimi CLI's wire lines, Codex's
        rollout lines: "any line that is not valid JSON or not of this shape is skipped and counted"):
        a JSON value of another kind (an array, a number, a string, null) is counted as `wrong_shape`.
        Such a line always reaches here, as a line that cannot be an object; an object of the wrong
        shape that holds no needle does not (only decoding every line would tell)."""
        value = decode(line, self)
        if value is not NOT_JSON and type(value) is not dict:
            self.skip(SkipReason.WRONG_SHAPE)


def decode_fast(decoder: Callable[[Line], T], line: Line) -> T | None:
    """The line through a typed msgspec decoder, or None when that decoder refuses it or the line is not
    UTF-8 (the check msgspec skips for the values it skips; ASCII, almost every usage line, is
    answered in one pass). None: the caller decodes the line again with `decode`."""
    try:
        fast = decoder(line)
    except FAST_ERRORS:
        return None
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return fast


def chunk_of(end_offset: int, body: Tally, tail: Tally | None, state: bytes | None = None) -> Chunk:
    """The chunk of a reader's complete lines (`body`) and of its last line without newline (`tail`)."""
    chunk = Chunk(end_offset=end_offset, state=state)
    chunk.records, chunk.skipped, chunk.zero_records = body.records, body.skipped, body.zero
    chunk.marker_seen = body.marker
    if tail is not None:
        chunk.tail_records, chunk.tail_skipped, chunk.tail_zero_records = tail.records, tail.skipped, tail.zero
    return chunk


def raw_json(value: Any) -> str:
    """A decoded JSON value's text, for the identity of a record keyed by what it holds (a raw timestamp):
    the same whichever decoder read it. msgspec writes it, except where it would write `null` for a
    number that is not finite (NaN, Infinity, -Infinity, or 1e400, which Python's json reads as
    infinity): those are written as `json.dumps` writes them, so that each stays apart from `null` and
    from the others. A list or an object is written without recursion (`nested_text`): a timestamp
    nested a few hundred levels deep is still JSON a decoder reads, and was an internal error."""
    if type(value) is float:
        if not math.isfinite(value):
            return repr(value)
    elif type(value) is list or type(value) is dict:
        return _container_json(value)
    try:
        return _encode(value).decode()
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):  # a lone surrogate in a string
        return repr(value)


_encode = msgspec.json.encode


def _container_json(value: list[Any] | dict[str, Any]) -> str:
    """`raw_json` of a list or an object: the text msgspec, or `json.dumps` when it holds a number that
    is not finite, writes for it (else its `repr`, as for a scalar neither can write)."""
    if _holds_non_finite(value):
        import json  # only a value that holds NaN or infinity: the careful path has loaded it already

        return nested_text(value, partial(json.dumps, ensure_ascii=False), ",", ":")
    try:
        return nested_text(value, _encode_text, ",", ":")
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
        return nested_text(value, repr, ", ", ": ")


def _encode_text(value: Any) -> str:
    return _encode(value).decode()


def _holds_non_finite(value: list[Any] | dict[str, Any]) -> bool:
    """Whether a float that is not finite is anywhere inside `value` (without recursion)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not math.isfinite(item):
                return True
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
    return False


_END: Any = object()


def nested_text(value: Any, scalar: Callable[[Any], str], comma: str, colon: str) -> str:
    """The text of a decoded JSON value, however deep it is nested (without recursion): a list as `[`,
    its items' texts between `comma`s, `]`; an object as `{`, `key<colon>value` between `comma`s, `}`;
    anything else, keys too, as `scalar` writes it. With msgspec's compact encoder, `","` and `":"` it
    is what msgspec writes for the whole value; with `repr`, `", "` and `": "`, what `repr` does."""
    parts: list[str] = []
    # The open containers, innermost last: [the iterator of what is left, closer, is an object, items so far].
    frames: list[list[Any]] = []
    item = value
    while True:
        kind = type(item)
        if kind is list:
            parts.append("[")
            frames.append([iter(item), "]", False, 0])
        elif kind is dict:
            parts.append("{")
            frames.append([iter(item.items()), "}", True, 0])
        else:
            parts.append(scalar(item))
        while frames:
            frame = frames[-1]
            following = next(frame[0], _END)
            if following is _END:
                parts.append(frame[1])
                frames.pop()
                continue
            if frame[3]:
                parts.append(comma)
            frame[3] += 1
            if frame[2]:
                key, item = following
                parts.append(scalar(key) + colon)
            else:
                item = following
            break
        else:
            return "".join(parts)


def printable(text: str) -> str:
    """`text` with any unpaired surrogate (JSON may escape one, `\\ud800`; Python's `json` reads it)
    replaced by U+FFFD, so a name taken from a line can always be printed and stored."""
    if text.isascii():
        return text
    # Through UTF-16, each unpaired surrogate becomes one replacement character.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def decode(line: Line, tally: Tally) -> Any:
    """The line's JSON value as Python's `json` reads it; or NOT_JSON, with the line counted as
    `not_utf8` or `invalid_json`. A line of ASCII that is no JSON by its edges (`jsonedges.not_json`:
    what begins it past blanks, what ends it) is counted without a decoder: a journal that is a log, a
    million lines of text, took ~5 µs a line through Python's `json` and the exception it raises (4.9
    s; 1.35 s with `candidates._hand_broken`'s own loop), and a million usage records cut short 5.6 s.
    (Not its control characters: a regex over a long line costs more than the decoder.)"""
    if line.isascii() and jsonedges.not_json(line, line):
        skipped = tally.skipped  # `Tally.skip`, without the enum's value looked up again for every line
        skipped[_INVALID_JSON] = skipped.get(_INVALID_JSON, 0) + 1
        return NOT_JSON
    import json  # the careful path only: most runs never need it

    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        tally.skip(SkipReason.NOT_UTF8)
        return NOT_JSON
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        tally.skip(SkipReason.INVALID_JSON)
        return NOT_JSON
