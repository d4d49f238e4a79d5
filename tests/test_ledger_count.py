"""The compiled ledger count (`openusage._hot.count_in`) and its pure-Python reference (`summary.count_in`)
give the same ledger: the same values, types and key order in every part, over generated calls (no
time, negative and fractional times, ints past 64 bits, no model or scope, sessions repeated on one day,
many sessions on one day), whatever kind of object a call is, counted into an empty ledger or one that
already holds counts; and the command gives the same snapshot on both paths.

Where the compiled module is not built, these tests skip, unless OPENUSAGE_REQUIRE_COMPILED=1 (CI sets
it): then its absence fails them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openusage import hot
from openusage.calls import CallRow
from openusage.fold import Call
from openusage.providers.kimi_cli.demo import write_demo_home
from openusage.summary import DAY, CountIn, Ledger, count_in
from property_files import compiled_or_skip, snapshot_on_path


def compiled_count() -> CountIn:
    count = hot.ledger_count({})
    compiled_or_skip(count is not None, "ledger count", hot.choose({}).why)
    assert count is not None
    return count


class TupleCall(NamedTuple):
    """A call whose fields are not slots: read through getattr."""

    session: str
    ts: float | None
    model: str | None
    input: int
    output: int
    cache_read: int
    cache_write: int
    copies: int
    scope: str | None
    reasoning: int


@dataclass(slots=True)
class SlotCall:
    """A call whose fields are slots of another type than msgspec's."""

    session: str
    ts: float | None
    model: str | None
    input: int
    output: int
    cache_read: int
    cache_write: int
    copies: int
    scope: str | None
    reasoning: int


def as_kind(kind: str, row: TupleCall) -> Any:
    if kind == "call":
        return Call(row.session, 0, row.ts, row.model, row.input, row.output, row.cache_read, row.cache_write,
                     row.scope, row.copies, None, row.reasoning)
    if kind == "row":
        return CallRow(*row)
    if kind == "slots":
        return SlotCall(*row)
    return row


# Times bunched on a few days (many sessions a day, a session's calls on one day) and spread anywhere,
# negative and fractional included; exact multiples of the day and the values next to them.
DAYS = [-3, -1, 0, 1, 20_000, 20_001]
times = st.one_of(
    st.none(),
    st.builds(lambda day, offset: day * DAY + offset, st.sampled_from(DAYS), st.floats(0, DAY, exclude_max=True)),
    st.sampled_from([d * DAY for d in DAYS]).flatmap(lambda t: st.sampled_from([t, math.nextafter(t, -math.inf),
                                                                               math.nextafter(t, math.inf)])),
    st.floats(-1e18, 1e18, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
counts = st.one_of(st.integers(0, 10**6), st.integers(-(2**70), 2**70), st.sampled_from([2**63 - 1, 2**63, -(2**63)]))
rows = st.builds(TupleCall, st.sampled_from(["a", "b", "c", "a-fork", "subagent"]), times,
                 st.sampled_from([None, "kimi-k2", "kimi-k2-thinking", "gpt-5"]), counts, counts, counts, counts,
                 st.integers(1, 3), st.sampled_from([None, "main", "subagent"]), counts)
kinds = st.sampled_from(["call", "row", "slots", "tuple"])


def parts(ledger: Ledger) -> tuple[Any, ...]:
    return ledger.totals, ledger.sessions, ledger.scopes, ledger.day_tokens, ledger.day_sessions, ledger.model_days


def counted(count: CountIn, batches: list[list[Any]], start: list[Any]) -> Ledger:
    ledger = Ledger()
    count_in(start, *parts(ledger), DAY)  # counts already there, made by the reference
    for batch in batches:
        count(batch, *parts(ledger), DAY)
    return ledger


def same(a: Ledger, b: Ledger) -> None:
    """Equal parts, with the same key order and types all through (repr shows both: a float time is not
    an int, a list of times not a time), and the same encoded ledger."""
    for mine, theirs in zip(parts(a), parts(b), strict=True):
        assert repr(mine) == repr(theirs)
    assert a.summary() == b.summary()
    # To the byte: marshal's back-references show which objects the ledger shares (a day's int, a key).
    assert a.encode() == b.encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(rows, kinds), max_size=60), st.lists(rows, max_size=10), st.integers(1, 3))
def test_both_counts_give_the_same_ledger(calls: list[tuple[TupleCall, str]], start: list[TupleCall],
                                          batches: int) -> None:
    compiled = compiled_count()
    objects = [as_kind(kind, row) for row, kind in calls]
    split = [objects[i::batches] for i in range(batches)]  # counted in over several calls
    same(counted(compiled, split, list(start)), counted(count_in, split, list(start)))


@st.composite
def run_of_calls(draw: st.DrawFn) -> list[TupleCall]:
    """Calls in a row with the same session, model and scope (the same objects or equal ones), mostly on the
    same day: what the compiled count sums in C until the run ends (or a figure does not fit in 64 bits)."""
    first = draw(rows)
    more = draw(st.lists(st.tuples(counts, counts, counts, counts, counts, st.one_of(st.just(first.ts), times),
                                   st.booleans()), max_size=8))
    return [first, *(first._replace(input=i, output=o, cache_read=r, cache_write=w, reasoning=x, ts=ts,
                                    **({"session": anew(first.session), "model": anew(first.model)} if copy else {}))
                     for i, o, r, w, x, ts, copy in more)]


def anew(name: str | None) -> str | None:
    """An equal name that is another object (as a reader that decodes each call's names gives them)."""
    return None if name is None else name.encode().decode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(run_of_calls(), kinds), max_size=12), st.lists(rows, max_size=10), st.integers(1, 2))
def test_runs_of_calls_give_the_same_ledger(runs: list[tuple[list[TupleCall], str]], start: list[TupleCall],
                                            batches: int) -> None:
    compiled = compiled_count()
    objects = [as_kind(kind, row) for run, kind in runs for row in run]
    half = len(objects) // 2 if batches == 2 else len(objects)
    split = [objects[:half], objects[half:]]
    same(counted(compiled, split, list(start)), counted(count_in, split, list(start)))


@given(st.lists(st.tuples(rows, kinds), min_size=1, max_size=30))
def test_a_ledger_counted_by_one_goes_on_with_the_other(calls: list[tuple[TupleCall, str]]) -> None:
    compiled = compiled_count()
    objects = [as_kind(kind, row) for row, kind in calls]
    half = len(objects) // 2
    ab, ba = Ledger(), Ledger()
    compiled(objects[:half], *parts(ab), DAY)
    count_in(objects[half:], *parts(ab), DAY)
    count_in(objects[:half], *parts(ba), DAY)
    compiled(objects[half:], *parts(ba), DAY)
    same(ab, ba)
    same(ab, Ledger.of(objects))


def test_a_large_history_of_one_session_a_day_is_the_same() -> None:
    """Long runs of one session, day and model (what the compiled count keeps between calls), switching."""
    compiled = compiled_count()
    objects = [as_kind(["call", "row"][n % 2], TupleCall(f"s{n // 40}", 1.7e9 + n * 997.5, f"m{n // 300 % 3}",
                                                         n, 2 * n, 3, n % 7, 1, None if n % 5 else "sub", n % 3))
               for n in range(5000)]
    same(counted(compiled, [objects], []), counted(count_in, [objects], []))


@pytest.mark.parametrize("ts", [math.inf, -math.inf, math.nan])
def test_a_time_with_no_day_fails_the_same_way(ts: float) -> None:
    compiled = compiled_count()
    call = TupleCall("a", ts, None, 1, 1, 0, 0, 1, None, 0)
    errors = []
    for count in (compiled, count_in):
        with pytest.raises((ValueError, OverflowError)) as raised:
            count([call], *parts(Ledger()), DAY)
        errors.append((type(raised.value), str(raised.value)))
    assert errors[0] == errors[1]


def test_a_call_missing_a_field_fails_the_same_way() -> None:
    compiled = compiled_count()
    call = SlotCall("a", 1.0, None, 1, 1, 0, 0, 1, None, 0)
    del call.scope
    for count in (compiled, count_in):
        with pytest.raises(AttributeError, match="scope"):
            count([call], *parts(Ledger()), DAY)


def test_parts_of_another_shape_are_refused() -> None:
    compiled = compiled_count()
    ledger = Ledger()
    ledger.totals = [0, 0, 0]
    with pytest.raises(TypeError, match="totals"):
        compiled([], *parts(ledger), DAY)


# --- the choice and the command --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "yes"])
def test_openusage_pure_leaves_the_count_to_python(value: str) -> None:
    assert hot.ledger_count({"OPENUSAGE_PURE": value}) is None


def test_the_compiled_count_is_the_modules() -> None:
    import openusage._hot

    assert compiled_count() is openusage._hot.count_in
    assert "ledger count" in hot.choose({}).why  # what `openusage detect` shows on its reader line


def test_the_command_gives_the_same_snapshot_on_both_paths(tmp_path: Path) -> None:
    compiled_count()
    home = tmp_path / "kimi"
    write_demo_home(home, datetime(2026, 11, 20, 12, tzinfo=UTC))
    compiled = snapshot_on_path("KIMI_SHARE_DIR", home, tmp_path, pure=False)
    assert '"sessions"' in compiled
    assert compiled == snapshot_on_path("KIMI_SHARE_DIR", home, tmp_path, pure=True)
