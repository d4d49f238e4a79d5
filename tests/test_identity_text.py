"""The text a record's identity holds for a raw value (a timestamp, a time) is the same however deep the
value is nested: `lines.nested_text` writes what msgspec, `json.dumps` or `repr` write for the whole
value, without recursion, so a value a decoder reads never ends a run in a RecursionError."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from openusage._msgspec import msgspec
from openusage.providers.kimi_code.journal import _raw
from openusage.providers.lines import nested_text, raw_json

SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=25)


def msgspec_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def deep(depth: int, inner: Any) -> Any:
    """`inner` inside `depth` lists and objects, built without recursion."""
    for level in range(depth):
        inner = [inner] if level % 2 else {"k": inner}
    return inner


@given(VALUES)
def test_nested_text_writes_what_each_writer_writes_for_the_whole_value(value: Any) -> None:
    assert nested_text(value, repr, ", ", ": ") == repr(value)
    dumps = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert nested_text(value, lambda item: json.dumps(item, ensure_ascii=False), ",", ":") == dumps
    try:
        whole = msgspec_text(value)
    except (OverflowError, UnicodeEncodeError):  # beyond 64 bits, a lone surrogate: raw_json's repr then
        return
    assert nested_text(value, msgspec_text, ",", ":") == whole


@given(VALUES)
def test_raw_json_of_a_container_is_what_it_was_before_it_was_written_without_recursion(value: Any) -> None:
    """Identities stored by earlier versions stay valid: the old definition, for every value it could
    write (json.dumps when a number is not finite, else msgspec, else repr)."""
    if type(value) is not list and type(value) is not dict:
        return
    text = raw_json(value)
    if _non_finite_inside(value):
        assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        try:
            assert text == msgspec_text(value)
        except (OverflowError, UnicodeEncodeError):
            assert text == repr(value)


def _non_finite_inside(value: Any) -> bool:
    if type(value) is float:
        return not math.isfinite(value)
    if type(value) is list:
        return any(_non_finite_inside(item) for item in value)
    if type(value) is dict:
        return any(_non_finite_inside(item) for item in value.values())
    return False


def test_values_nested_far_beyond_the_recursion_limit_get_texts_that_tell_them_apart() -> None:
    one, two, nan = deep(100_000, 1), deep(100_000, 2), deep(100_000, float("nan"))
    texts = {raw_json(one), raw_json(two), raw_json(nan)}
    assert len(texts) == 3
    text = raw_json(one)
    assert text.startswith('[{"k":[{"k":[')
    assert text.endswith("}]")
    assert '{"k":1}' in text
    assert "NaN" in raw_json(nan)
    assert len({_raw(one), _raw(two), _raw(deep(100_000, 1.0))}) == 3  # Kimi Code's: 1 and 1.0 differ
    assert _raw(one) == nested_text(one, repr, ", ", ": ")
