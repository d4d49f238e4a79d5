"""JSON text exactly as `json.dumps(value, indent=2, ensure_ascii=False)` writes it, without importing
`json`: the documents `--json` prints (`jsonout.py`).

With an indent, `json` encodes in pure Python anyway (its C encoder serves only compact output), so
this costs no more to run; what it saves is the import of `json` and its decoder and scanner (~1.5 ms
of a warm run that otherwise needs none of them). It handles what the documents hold: dicts with
string keys, lists and tuples, strings, ints, floats, booleans and None; anything else (another key
type, another object) is handed to `json` itself, so the text is the same whatever the value.
`tests/test_jsontext.py` holds the two equal over generated values.
"""

from __future__ import annotations

import math
from typing import Any

_INDENT = "  "
# What json escapes in a string when it may write any other character as it is (json.encoder.ESCAPE_DCT),
# as a table for str.translate (a regular expression would cost its compilation at import).
_ESCAPED = {ord(c): e for c, e in (("\\", "\\\\"), ('"', '\\"'), ("\b", "\\b"), ("\f", "\\f"), ("\n", "\\n"),
                                    ("\r", "\\r"), ("\t", "\\t"))}
for _code in range(0x20):
    _ESCAPED.setdefault(_code, f"\\u{_code:04x}")
_INFINITY = float("inf")


class _Other(Exception):
    """A value this module does not write itself: `json` writes the whole document."""


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`."""
    parts: list[str] = []
    try:
        _value(value, "\n", parts)
    except _Other:
        import json

        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(parts)


def _string(text: str) -> str:
    return '"' + text.translate(_ESCAPED) + '"'


def _float(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if number == _INFINITY:
        return "Infinity"
    if number == -_INFINITY:
        return "-Infinity"
    return float.__repr__(number)


def _value(value: Any, newline: str, parts: list[str]) -> None:
    """`value` appended to `parts`; `newline` is a newline and the indent of the value's own line."""
    kind = type(value)
    if kind is str:
        parts.append(_string(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is float:
        parts.append(_float(value))
    elif kind is list or kind is tuple:
        if not value:
            parts.append("[]")
            return
        inner = newline + _INDENT
        parts.append("[")
        for index, item in enumerate(value):
            parts.append("," + inner if index else inner)
            _value(item, inner, parts)
        parts.append(newline + "]")
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        inner = newline + _INDENT
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise _Other
            parts.append(("," + inner if index else inner) + _string(key) + ": ")
            _value(item, inner, parts)
        parts.append(newline + "}")
    else:
        raise _Other
