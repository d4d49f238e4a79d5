"""What JSON allows at the edges of a value, for the checks that judge a line without decoding it.

A line is no JSON, to Python's `json` (the reference `providers.lines.decode` uses), when its first
byte past JSON's blanks begins no value, or when its last byte past them cannot end the value its
first begins. Python's `json` reads `NaN`, `Infinity` and `-Infinity` too, so their letters are here.
"""

from __future__ import annotations

import re

BLANKS = b" \t\r"  # JSON's whitespace within a line (a newline ends it)
_BLANK_BYTES = frozenset(BLANKS)
NOT_BLANK = re.compile(rb"[^ \t\r]")
# What may end the value each first byte begins.
ENDS = {ord("{"): b"}", ord("["): b"]", ord('"'): b'"', ord("t"): b"e", ord("f"): b"e", ord("n"): b"l",
        ord("N"): b"N", ord("I"): b"y", ord("-"): b"0123456789y", **dict.fromkeys(b"0123456789", b"0123456789")}
STARTS = frozenset(ENDS)  # what may begin a value


def not_json(head: bytes | bytearray, tail: bytes | bytearray) -> bool:
    """Whether a line whose first bytes are `head` and whose last are `tail` (the same bytes, for a
    short line) is no JSON by them: its first byte past blanks begins no value, or its last past blanks
    cannot end the value it begins. False when `head` is blanks alone (what follows them decides)."""
    begun = NOT_BLANK.search(head)
    if begun is None:
        return False
    lead = head[begun.start()]
    if lead not in STARTS:
        return True
    end = len(tail)
    while end and tail[end - 1] in _BLANK_BYTES:  # no copy of a long line: blanks at its end are few
        end -= 1
    return end > 0 and tail[end - 1] not in ENDS[lead]
