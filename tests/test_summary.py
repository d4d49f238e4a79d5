"""The ledger behind cached summaries: calls counted out leave exactly what counting the rest gives."""

from __future__ import annotations

import marshal
import random
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from openusage.calls import CallRow
from openusage.records import FileDiagnostics
from openusage.store import Store
from openusage.summary import SESSION_SHARDS, SUMMARY_VERSION, Ledger, Summary
from openusage.windows import windows

DAY = 86400.0


def random_calls(rng: random.Random, n: int) -> list[CallRow]:
    calls: list[CallRow] = []
    for _ in range(n):
        ts = None if rng.random() < 0.1 else 1_790_000_000 + rng.randrange(20) * DAY + rng.random() * DAY
        model = rng.choice([None, "kimi-k2", "kimi-k2-thinking"])
        calls.append(CallRow(f"s{rng.randrange(12)}", ts, model, rng.randrange(5000), rng.randrange(900),
                             rng.randrange(90000), rng.randrange(3), 1 + rng.randrange(3),
                             rng.choice([None, "turn", "session"]), rng.randrange(400)))
    return calls


def canonical(summary: Summary) -> Summary:
    return summary._replace(models=tuple(sorted(summary.models, key=lambda m: str(m.model))),
                            scopes=tuple(sorted(summary.scopes, key=lambda s: str(s[0]))))


def test_counting_calls_out_equals_counting_the_rest() -> None:
    rng = random.Random(7)
    for _ in range(50):
        calls = random_calls(rng, rng.randrange(1, 80))
        gone = [c for c in calls if rng.random() < 0.4]
        kept = [c for c in calls if c not in gone]
        ledger = Ledger.of(calls)
        ledger.add(gone, sign=-1)
        assert canonical(ledger.summary()) == canonical(Ledger.of(kept).summary())


def test_a_session_leaves_the_counts_with_its_last_call() -> None:
    a1 = CallRow("a", 1_790_000_000.0, None, 1, 1, 0, 0, 1, None)
    a2 = CallRow("a", 1_790_000_000.0 + DAY, None, 2, 2, 0, 0, 1, "turn", 1)
    b1 = CallRow("b", 1_790_000_000.0, "m", 3, 3, 0, 0, 2, "session", 2)
    ledger = Ledger.of([a1, a2, b1])
    assert ledger.summary().sessions == 2
    ledger.add([a1, a2], sign=-1)
    summary = ledger.summary()
    assert summary.sessions == 1
    assert summary.daily == ((20717, 1, 6),)
    assert [m.model for m in summary.models] == ["m"]
    assert (summary.calls, summary.copies, summary.reasoning) == (1, 2, 2)
    assert summary.scopes == (("session", 1, 6),)


def test_encoded_ledger_reads_back_the_same() -> None:
    calls = random_calls(random.Random(3), 60)
    ledger = Ledger.of(calls)
    again = Ledger.decode(ledger.encode())
    assert again is not None
    assert canonical(again.summary()) == canonical(ledger.summary())


def test_unreadable_ledger_is_none() -> None:
    assert Ledger.decode(b"\x00\xff") is None
    assert Ledger.decode(b'{"v": 999}') is None
    assert Ledger.decode(b'{"v": 3, "totals": [1], "sessions": {}, "models": [], "days": [], "scopes": []}') is None
    # The right version and lengths, but sessions, day tokens or day sessions not a dict.
    for part in (2, 4, 5):
        parts: list[object] = [SUMMARY_VERSION, [0] * 7, {}, [], {}, {}, []]
        parts[part] = []
        assert Ledger.decode(marshal.dumps(tuple(parts))) is None


def test_counting_in_and_out_leaves_the_ledger_the_rest_builds_to_the_byte() -> None:
    """Counting in one batch or several, and taking calls out again, give the very ledger (encoded) that
    counting the remaining calls gives: a session-day with one call is a float whichever way it came."""
    rng = random.Random(11)
    for _ in range(30):
        first, second = random_calls(rng, rng.randrange(0, 60)), random_calls(rng, rng.randrange(1, 60))
        in_two = Ledger.of(first)
        in_two.add(second)
        assert in_two.encode() == Ledger.of([*first, *second]).encode()
        in_two.add(second, sign=-1)
        fresh = Ledger.of(first)
        assert canonical(in_two.summary()) == canonical(fresh.summary())
        assert {d: {s: sorted(t) if isinstance(t, list) else t for s, t in p.items()}
                for d, p in in_two.day_sessions.items()} == \
               {d: {s: sorted(t) if isinstance(t, list) else t for s, t in p.items()}
                for d, p in fresh.day_sessions.items()}


def _stored(tmp_path: Path, ledger: Ledger) -> tuple[Store, Ledger]:
    """The ledger as a real cache keeps it, and read back from it (its head only, the parts on demand)."""
    store = Store(tmp_path / "cache.sqlite3")
    with store.write():
        store.set_summary("acc", ledger.stored(), FileDiagnostics(0, {}, 0))
    stored = store.summary("acc")
    assert stored is not None
    again = Ledger.from_stored(stored[0], store.ledger_parts("acc"))
    assert again is not None
    return store, again


def test_a_stored_ledger_answers_as_the_whole_one_reading_only_the_days_of_the_windows(tmp_path: Path) -> None:
    calls = random_calls(random.Random(5), 300)
    ledger = Ledger.of(calls)
    store, again = _stored(tmp_path, ledger)
    assert again.day_sessions == {}  # nothing per session read yet
    assert canonical(again.summary()) == canonical(ledger.summary())
    assert again.daily() == ledger.daily()
    assert again.day_sessions == {}
    stored = store.summary("acc")
    assert stored is not None
    for day in (3, 10, 19, 25):
        window = windows(datetime.fromtimestamp(1_790_000_000 + day * DAY + 3600, UTC))
        one = Ledger.from_stored(stored[0], store.ledger_parts("acc"))
        assert one is not None
        assert one.windows(window) == ledger.windows(window)
        first = int(window.week_start // DAY)
        assert one.day_sessions  # the windows' days were read (from now - 7 x 24 h on: no end at now)
        assert all(first <= read for read in one.day_sessions)  # and no other
    store.close()


def test_a_stored_ledger_after_calls_counted_out_and_in_equals_a_fresh_build(tmp_path: Path) -> None:
    rng = random.Random(11)
    calls = [msgspec.structs.replace(call, session=f"{call.session}-{n % 300}")
             for n, call in enumerate(random_calls(rng, 600))]
    gone = calls[::60]  # a refresh's few calls: they touch a few of the parts
    new = random_calls(rng, 6)
    kept = [c for c in calls if c not in gone]
    store, again = _stored(tmp_path, Ledger.of(calls))
    again.add(gone, sign=-1)
    again.add(new)
    fresh = Ledger.of([*kept, *new])
    changed = again.stored()
    assert not changed.whole
    touched = list(changed.sessions)
    assert len(touched) < SESSION_SHARDS  # only the parts touched
    changed = changed._replace(sessions=touched)
    with store.write():
        store.set_summary("acc", changed, FileDiagnostics(0, {}, 0))
    stored = store.summary("acc")
    assert stored is not None
    twice = Ledger.from_stored(stored[0], store.ledger_parts("acc"))
    assert twice is not None
    assert canonical(twice.summary()) == canonical(fresh.summary())
    twice.encode()  # every part read back
    assert _whole(twice) == _whole(fresh)
    assert all(twice.model_days[key][6] >= sums[6] for key, sums in fresh.model_days.items())  # peaks: bounds
    store.close()


def _whole(ledger: Ledger) -> tuple[object, ...]:
    """Everything a ledger holds, in a form that does not depend on the order calls came in."""
    days = {day: {session: sorted(times) if isinstance(times, list) else times
                  for session, times in per_session.items()} for day, per_session in ledger.day_sessions.items()}
    # The day sums without their peak prompt: a bound that calls counted out leave as it was (summary.Ledger).
    model_days = {key: sums[:6] for key, sums in ledger.model_days.items()}
    return (canonical(ledger.summary()), ledger.daily(), ledger.sessions, days, ledger.day_tokens, ledger.totals,
            ledger.scopes, model_days)


def test_a_whole_ledger_blob_is_not_read_as_a_stored_head_nor_the_other_way(tmp_path: Path) -> None:
    ledger = Ledger.of(random_calls(random.Random(2), 30))
    store = Store(tmp_path / "cache.sqlite3")
    assert Ledger.from_stored(ledger.encode(), store.ledger_parts("acc")) is None
    assert Ledger.decode(ledger.stored().head) is None
    store.close()
