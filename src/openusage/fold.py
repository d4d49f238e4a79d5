"""Copies of model calls → one call each: the counting rule every figure stands on. Pure.

A call's copies share its key. The call counts once; its time is the earliest valid time among the
copies, its model the smallest model a copy names. It belongs to one holder session: among the
holders, those that are not a fork of another holder (by the sessions' ancestry, where a provider
records one), then the lowest (rank, marked, session name): rank is Kimi CLI's fork depth, marked a
`forked` marker after the copy (Kimi Code). Nothing depends on the order copies arrive in, so a cold
scan, a scan split over processes and any sequence of cached refreshes give the same calls.

Folding does not need the ranks: a call seen once belongs to its only holder, and a call seen more
than once keeps every holder until `settle` chooses, when every session's rank is known. So worker
processes fold what they read, and their folds merge.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from openusage.records import CallRow, UsageRecord

# A call while it is folded, as a plain list so that it crosses a pipe with marshal:
#   [session, marked, ts, model, input, output, cache_read, cache_write, scope, copies, holders]
# `session`/`marked` are its holder while it has one copy; `holders` is then None, and becomes the
# list of every (marked, session) once a second copy comes.
Call = list[Any]
Calls = dict[str, Call]
# One stored copy: key, ts, model, input, output, cache_read, cache_write, scope, marked, session.
Copy = tuple[str, float | None, str | None, int, int, int, int, str | None, int, str]

_SESSION, _MARKED, _TS, _MODEL, _SCOPE, _COPIES, _HOLDERS = 0, 1, 2, 3, 8, 9, 10


def fold_records(records: Iterable[UsageRecord], session: str, calls: Calls) -> None:
    """Fold one file's records (all held by `session`) into `calls`. The same loop as `fold_copies`, on
    purpose: feeding that one a copy tuple per record (the record plus its session) made this hot loop
    half again as slow (18-23 against 31-33 ms for the 48k calls of the 1 GB corpus)."""
    get = calls.get
    for key, ts, model, inp, out, cr, cw, scope, marked in records:
        call = get(key)
        if call is None:
            calls[key] = [session, marked, ts, model, inp, out, cr, cw, scope, 1, None]
        else:
            _add_copy(call, ts, model, marked, session)


def fold_copies(copies: Iterable[Copy], calls: Calls | None = None) -> Calls:
    """Fold stored copies (each naming its session) into calls."""
    calls = {} if calls is None else calls
    get = calls.get
    for key, ts, model, inp, out, cr, cw, scope, marked, session in copies:
        call = get(key)
        if call is None:
            calls[key] = [session, marked, ts, model, inp, out, cr, cw, scope, 1, None]
        else:
            _add_copy(call, ts, model, marked, session)
    return calls


def _add_copy(call: Call, ts: float | None, model: str | None, marked: int, session: str) -> None:
    holders = call[_HOLDERS]
    if holders is None:
        call[_HOLDERS] = [(call[_MARKED], call[_SESSION]), (marked, session)]
    else:
        holders.append((marked, session))
    call[_COPIES] += 1
    if ts is not None and (call[_TS] is None or ts < call[_TS]):
        call[_TS] = ts
    if model is not None and (call[_MODEL] is None or model < call[_MODEL]):
        call[_MODEL] = model


def merge(calls: Calls, other: Calls) -> None:
    """Fold another fold of other files (another process's) into `calls`."""
    common = calls.keys() & other.keys()
    kept = {key: calls[key] for key in common}
    calls.update(other)  # the calls only one side has: one C loop
    for key, mine in kept.items():
        theirs = calls[key]
        calls[key] = mine
        for marked, session in theirs[_HOLDERS] or ((theirs[_MARKED], theirs[_SESSION]),):
            _add_copy(mine, theirs[_TS], theirs[_MODEL], marked, session)  # one copy per holder


_NO_JOINS: Mapping[str, str] = {}


def settle(calls: Collection[Call], ranks: Mapping[str, int], ancestors: Mapping[str, frozenset[str]],
           joins: Mapping[str, str] = _NO_JOINS) -> None:
    """Choose the owner of every call held more than once: among the holders that are not a fork of
    another holder, the lowest (rank, marked, session). Then a call owned by a session that joins
    another (`joins`: a subagent thread, its parent's) counts toward that one (`rejoin`)."""
    no_ancestors: frozenset[str] = frozenset()
    for call in calls:
        holders = call[_HOLDERS]
        if holders is None:
            continue
        candidates = holders
        if ancestors:
            sessions = {session for _, session in holders}
            originals = [h for h in holders if not (ancestors.get(h[1], no_ancestors) & sessions)]
            candidates = originals or holders  # a forkedFrom cycle leaves no original: fall back to all
        _, marked, session = min((ranks.get(s, 0), m, s) for m, s in candidates)
        call[_SESSION], call[_MARKED] = session, marked
    if joins:
        rejoin(calls, joins)


def rejoin(calls: Iterable[Call], joins: Mapping[str, str]) -> None:
    """Settled calls whose owner joins another session count toward that one. Every call's owner is
    looked up, so callers skip this when no session joins another (Kimi's never do)."""
    get = joins.get
    for call in calls:
        target = get(call[_SESSION])
        if target is not None:
            call[_SESSION] = target


def ancestry(parents: Mapping[str, str | None]) -> dict[str, frozenset[str]]:
    """Session → the sessions it was forked from, following `parent` links through sessions that exist
    (the chain stops at one that does not). Sessions with no parent are left out."""
    return ancestry_across({session: () if parent is None else (parent,) for session, parent in parents.items()})


def ancestry_across(parents: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    """`ancestry` where a session may name several parents (one session held in several Kimi Code roots,
    each with its own `forkedFrom`): every parent is followed, through sessions that exist (the keys)."""
    result: dict[str, frozenset[str]] = {}
    for session, first in parents.items():
        chain: set[str] = set()
        todo = list(first)
        while todo:
            parent = todo.pop()
            if parent == session or parent in chain or parent not in parents:
                continue
            chain.add(parent)
            todo.extend(parents[parent])
        if chain:
            result[session] = frozenset(chain)
    return result


def call_rows(calls: Calls) -> Iterator[CallRow]:
    """Settled calls as the summary counts them."""
    for session, _marked, ts, model, inp, out, cr, cw, scope, copies, _holders in calls.values():
        yield session, ts, model, inp, out, cr, cw, copies, scope
