"""Copies of model calls → one call each: the counting rule every figure stands on. Pure.

A call's copies share its key. The call counts once; it belongs to the holder session with the lowest
rank, ties to the smallest session name; its time is the earliest valid time among the copies; its
model the smallest non-empty model a copy names. Nothing here depends on the order copies arrive in,
so a cold scan and any sequence of cached refreshes give the same calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from openusage.records import CallRow

# key, ts, model, input, output, cache_read, cache_write, session, rank
Copy = tuple[str, float | None, str | None, int, int, int, int, str, int]


class Call:
    __slots__ = ("cache_read", "cache_write", "copies", "input", "model", "output", "rank", "session", "ts")

    def __init__(self, rank: int, session: str, ts: float | None, model: str | None, inp: int, out: int,
                 cache_read: int, cache_write: int) -> None:
        self.rank = rank
        self.session = session
        self.ts = ts
        self.model = model
        self.input = inp
        self.output = out
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.copies = 1


def fold(copies: Iterable[Copy], calls: dict[str, Call] | None = None) -> dict[str, Call]:
    calls = {} if calls is None else calls
    get = calls.get
    for key, ts, model, inp, out, cr, cw, session, rank in copies:
        call = get(key)
        if call is None:
            calls[key] = Call(rank, session, ts, model, inp, out, cr, cw)
            continue
        call.copies += 1
        if rank < call.rank or (rank == call.rank and session < call.session):
            call.rank = rank
            call.session = session
        if ts is not None and (call.ts is None or ts < call.ts):
            call.ts = ts
        if model is not None and (call.model is None or model < call.model):
            call.model = model
    return calls


def call_rows(account: str, calls: dict[str, Call]) -> Iterator[tuple[object, ...]]:
    """Calls as the store's `calls` rows: account, key, then the CallRow fields."""
    for key, c in calls.items():
        yield account, key, c.session, c.ts, c.model, c.input, c.output, c.cache_read, c.cache_write, c.copies


def as_call_rows(calls: dict[str, Call]) -> Iterator[CallRow]:
    for c in calls.values():
        yield c.session, c.ts, c.model, c.input, c.output, c.cache_read, c.cache_write, c.copies
