"""Copies of model calls → one call each: the counting rule every figure stands on. Pure.

A call's copies share its key. The call counts once; its time is the earliest valid time among the
copies, its model the smallest model a copy names. It belongs to one holder session: among the
holders, those that are not a fork of another holder (by the sessions' ancestry, where a provider
records one), then the lowest (rank, marked, session name): rank is Kimi CLI's fork depth, marked a
`forked` marker after the copy (Kimi Code). Nothing depends on the order copies arrive in, so a cold
scan and any sequence of cached refreshes give the same calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from openusage.records import CallRow

# key, ts, model, input, output, cache_read, cache_write, scope, marked, session, rank
Copy = tuple[str, float | None, str | None, int, int, int, int, str | None, int, str, int]
Holder = tuple[int, int, str]  # rank, marked, session: the smallest owns the call


class Call:
    __slots__ = ("cache_read", "cache_write", "copies", "holders", "input", "model", "output", "owner", "scope",
                 "ts")

    def __init__(self, owner: Holder, ts: float | None, model: str | None, inp: int, out: int,
                 cache_read: int, cache_write: int, scope: str | None) -> None:
        self.owner = owner
        self.ts = ts
        self.model = model
        self.input = inp
        self.output = out
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.scope = scope
        self.copies = 1
        self.holders: list[Holder] | None = None  # every holder, kept only when ancestry matters


def fold(copies: Iterable[Copy], calls: dict[str, Call] | None = None, *,
         keep_holders: bool = False) -> dict[str, Call]:
    """Fold copies into calls. `keep_holders`: remember every holder, for `settle` to choose the owner by
    ancestry afterwards; without it the owner is simply the smallest holder."""
    calls = {} if calls is None else calls
    get = calls.get
    for key, ts, model, inp, out, cr, cw, scope, marked, session, rank in copies:
        holder = (rank, marked, session)
        call = get(key)
        if call is None:
            call = calls[key] = Call(holder, ts, model, inp, out, cr, cw, scope)
            if keep_holders:
                call.holders = [holder]
            continue
        call.copies += 1
        call.owner = min(call.owner, holder)
        if call.holders is not None:
            call.holders.append(holder)
        if ts is not None and (call.ts is None or ts < call.ts):
            call.ts = ts
        if model is not None and (call.model is None or model < call.model):
            call.model = model
    return calls


def settle(calls: Iterable[Call], ancestors: Mapping[str, frozenset[str]]) -> None:
    """Choose each shared call's owner among the holders that are not a fork of another holder."""
    if not ancestors:
        return
    for call in calls:
        holders = call.holders
        if holders is None or len(holders) < 2:
            continue
        sessions = {holder[2] for holder in holders}
        originals = [h for h in holders if not (ancestors.get(h[2], frozenset()) & sessions)]
        call.owner = min(originals or holders)  # a forkedFrom cycle leaves no original: fall back to all


def ancestry(parents: Mapping[str, str | None]) -> dict[str, frozenset[str]]:
    """Session → the sessions it was forked from, following `parent` links through sessions that exist
    (the chain stops at one that does not). Sessions with no parent are left out."""
    result: dict[str, frozenset[str]] = {}
    for session, first in parents.items():
        chain: set[str] = set()
        parent = first
        while parent is not None and parent in parents and parent not in chain and parent != session:
            chain.add(parent)
            parent = parents[parent]
        if chain:
            result[session] = frozenset(chain)
    return result


def call_rows(account: str, calls: dict[str, Call]) -> Iterator[tuple[object, ...]]:
    """Calls as the store's `calls` rows: account, key, then the CallRow fields."""
    for key, c in calls.items():
        yield (account, key, c.owner[2], c.ts, c.model, c.input, c.output, c.cache_read, c.cache_write, c.copies,
               c.scope)


def as_call_rows(calls: dict[str, Call]) -> Iterator[CallRow]:
    for c in calls.values():
        yield c.owner[2], c.ts, c.model, c.input, c.output, c.cache_read, c.cache_write, c.copies, c.scope
