"""`render/jsontext.py` writes exactly what `json.dumps(value, indent=2, ensure_ascii=False)` writes,
over generated values (every string character class, every float, nesting, empty containers) and the
values it hands to `json` itself."""

from __future__ import annotations

import enum
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openusage.render import jsontext

_scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text()
            | st.text(alphabet=st.characters(max_codepoint=0x7F))
            | st.sampled_from(["", '"', "\\", "\x00\x1f\x7f", "é—😀"]))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                       | st.dictionaries(st.text(), inner, max_size=4), max_leaves=30)


@settings(max_examples=400)
@given(_values)
def test_the_text_is_jsons(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_the_edges_are_jsons() -> None:
    for value in (float("inf"), float("-inf"), float("nan"), -0.0, 1e16, 5e-324, 1.0, 2**64, -1, True, None, "",
                  [], {}, [[]], {"": {}}, ("a", 1), "\x00\x08\x0c\x1f\x7f\u2028\ud800", {"k\n\"": ["\t"]}):
        assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


class _Kind(enum.IntEnum):
    ONE = 1


def test_what_it_does_not_write_itself_json_writes() -> None:
    for value in ({1: "a", "b": [True]}, {"x": _Kind.ONE}, [{"nested": {None: 2.5}}]):
        assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)
