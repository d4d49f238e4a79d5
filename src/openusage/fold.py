"""Copies of model calls → one call each: the counting rule every figure stands on. Pure.

A call's copies share its key. The call counts once; its time is the earliest valid time among the
copies, its model the smallest model a copy names. It belongs to one holder session: among the
holders, those that are not a fork of another holder (by the sessions' ancestry, where a provider
records one), then the lowest (rank, marked, session name): rank is Kimi CLI's fork depth, marked a
`forked` marker after the copy (Kimi Code). A call identified within a lineage (a key naming its root,
`lineage.ROOTED`: Codex) is a replay everywhere but where it was made, each copy under the model
its own file had in effect: such a call takes the model of its owner's earliest copy. Nothing depends
on the order copies arrive in, so a cold scan, a scan split over processes and any sequence of cached
refreshes give the same calls.

Folding does not need the ranks: a call seen once belongs to its only holder, and a call seen more
than once keeps every holder until `settle` chooses, when every session's rank is known. So worker
processes fold what they read, and their folds merge.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping

from openusage._msgspec import msgspec
from openusage.calls import CallRow, UsageRecord
from openusage.lineage import ROOTED, reroot_keys
from openusage.records import SessionInfo, split_upstream, with_upstream

Holder = tuple[int, str, str | None, float | None]  # a copy's (marked, session, model, time)


class Call(msgspec.Struct, array_like=True, gc=False):
    """A call while its copies are folded. `session`/`marked` are its holder while it has one copy;
    `holders` is then None, and becomes every copy's (marked, session, model, time) once a second
    copy comes. Mutable: folding updates it in place. No GC tracking: it holds names, numbers and a
    list of tuples, never a cycle. Crosses a worker's pipe as a compact array."""

    session: str
    marked: int
    ts: float | None
    model: str | None
    input: int
    output: int
    cache_read: int
    cache_write: int
    scope: str | None
    copies: int
    holders: list[Holder] | None
    reasoning: int


Calls = dict[str, Call]


class Copy(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One stored copy and the session whose file holds it."""

    record: UsageRecord
    session: str


def fold_records(records: Iterable[UsageRecord], session: str, calls: Calls) -> None:
    """Fold one file's records (all held by `session`) into `calls`."""
    get = calls.get
    for record in records:
        call = get(record.key)
        if call is None:
            calls[record.key] = Call(session, record.marked, record.ts, record.model, record.input, record.output,
                                     record.cache_read, record.cache_write, record.scope, 1, None, record.reasoning)
        else:
            _add_copy(call, record.ts, record.model, record.marked, session)


def fold_copies(copies: Iterable[Copy], calls: Calls | None = None) -> Calls:
    """Fold stored copies (each naming its session) into calls."""
    calls = {} if calls is None else calls
    for copy in copies:
        fold_records((copy.record,), copy.session, calls)
    return calls


def _add_copy(call: Call, ts: float | None, model: str | None, marked: int, session: str) -> None:
    holders = call.holders
    if holders is None:
        call.holders = [(call.marked, call.session, call.model, call.ts), (marked, session, model, ts)]
    else:
        holders.append((marked, session, model, ts))
    call.copies += 1
    if ts is not None and (call.ts is None or ts < call.ts):
        call.ts = ts
    if model is not None and (call.model is None or model < call.model):
        call.model = model


def merge(calls: Calls, other: Calls) -> None:
    """Fold another fold of other files (another process's) into `calls`."""
    common = calls.keys() & other.keys()
    kept = {key: calls[key] for key in common}
    calls.update(other)  # the calls only one side has: one C loop
    for key, mine in kept.items():
        theirs = calls[key]
        calls[key] = mine
        _absorb(mine, theirs)


def _absorb(mine: Call, theirs: Call) -> None:
    """Fold the copies of `theirs` into `mine`: one copy per holder."""
    for marked, session, model, ts in theirs.holders or ((theirs.marked, theirs.session, theirs.model, theirs.ts),):
        _add_copy(mine, ts, model, marked, session)


def reroot(calls: Calls, remap: Mapping[str, str]) -> None:
    """Move the calls keyed under a thread that `remap` (`lineage.Lineage.remap`) leads to an older root to
    their key under that root, folding them into the call already there: before owners are chosen."""
    if not remap:
        return
    for old, new in reroot_keys(calls.keys(), remap).items():
        moving = calls.pop(old)
        mine = calls.get(new)
        if mine is None:
            calls[new] = moving
        else:
            _absorb(mine, moving)


_NO_JOINS: Mapping[str, str] = {}


def settle(calls: Mapping[str, Call], ranks: Mapping[str, int], ancestors: Mapping[str, frozenset[str]],
           joins: Mapping[str, str] = _NO_JOINS, upstreams: Mapping[str, str] = _NO_JOINS) -> None:
    """Choose the owner of every call held more than once: among the holders that are not a fork of
    another holder, the lowest (rank, marked, session); a call identified within a lineage takes the
    model of its owner's earliest copy (`_owners_model`). Then a call owned by a session that joins
    another (`joins`: a subagent thread, its parent's) counts toward that one (`rejoin`), and a call
    whose owner names an upstream provider of its own (`upstreams`) is marked with it (`mark_upstream`)."""
    no_ancestors: frozenset[str] = frozenset()
    rank = ranks.get
    ancestors_of = ancestors.get
    for key, call in calls.items():
        holders = call.holders
        if holders is None:
            continue
        if len(holders) == 2:  # most shared calls (a fork's copy): no set, list or `min` made for them
            (m1, s1, _, _), (m2, s2, _, _) = holders  # (2.5 ms less of the Kimi Code and Codex tails)
            first_is_original = second_is_original = True
            if ancestors:
                a1, a2 = ancestors_of(s1, no_ancestors), ancestors_of(s2, no_ancestors)
                first_is_original, second_is_original = not (s1 in a1 or s2 in a1), not (s1 in a2 or s2 in a2)
            if first_is_original != second_is_original:  # one descends from the other: the original
                take_first = first_is_original
            else:  # both original, or neither (a forkedFrom cycle): the lower (rank, marked, session)
                take_first = (rank(s1, 0), m1, s1) <= (rank(s2, 0), m2, s2)
            marked, session = (m1, s1) if take_first else (m2, s2)
            call.session, call.marked = session, marked
            if key.startswith(ROOTED):
                call.model = _owners_model(holders, session) if s1 == s2 else holders[0 if take_first else 1][2]
            continue
        candidates = holders
        if ancestors:
            sessions = {h[1] for h in holders}
            originals = [h for h in holders if not (ancestors_of(h[1], no_ancestors) & sessions)]
            candidates = originals or holders  # a forkedFrom cycle leaves no original: fall back to all
        if len(candidates) == 2:  # three holders, one a fork's: `min` without its generator
            (m1, s1, _, _), (m2, s2, _, _) = candidates
            first, second = (rank(s1, 0), m1, s1), (rank(s2, 0), m2, s2)
            _, marked, session = first if first <= second else second
        else:
            _, marked, session = min((rank(s, 0), m, s) for m, s, _, _ in candidates)
        call.session, call.marked = session, marked
        if key.startswith(ROOTED):
            call.model = _owners_model(holders, session)
    if joins:
        rejoin(calls.values(), joined_to(joins))
    if upstreams:
        mark_upstream(calls.values(), upstreams)


def settle_alone(calls: Mapping[str, Call], joins: Mapping[str, str] = _NO_JOINS,
                 upstreams: Mapping[str, str] = _NO_JOINS) -> None:
    """What `settle` does to calls whose every copy is in one file, so that its session owns them with
    no choice to make (`reading._stored_calls`, `reading.settled_by_session`): a call identified within
    a lineage that the file holds twice (a stale total repeated) takes the model of its earliest copy;
    then a call of a session that joins another counts toward that one (`joins` as `joined_to` gives
    them: each session to its last target), and a call whose owner names an upstream provider of its
    own is marked with it."""
    for key, call in calls.items():
        holders = call.holders
        if holders is not None and key.startswith(ROOTED):
            call.model = _owners_model(holders, call.session)
    if joins:
        rejoin(calls.values(), joins)
    if upstreams:
        mark_upstream(calls.values(), upstreams)


def _owners_model(holders: list[Holder], owner: str) -> str | None:
    """The model of the owner's copy made first: the earliest valid time, and among copies of one time
    (or none) the smallest model, a copy naming none last. codex-cli-format.md takes an event's model
    from the latest `turn_context` before it in its own file; the owner's first line is the call as it
    was made (its time the call's, where the owner's is the earliest). A replay sits under whatever
    context the replaying file had then, and a later copy in the owner's own file (a stale total
    repeated) under the context of its own later turn. Times, not the order copies come in, decide:
    a thread can have two files (a rollout and an archived copy of it), read in any order."""
    best: tuple[bool, float, bool, str] | None = None
    chosen: str | None = None
    for _, session, model, ts in holders:
        if session != owner:
            continue
        rank = (ts is None, 0.0 if ts is None else ts, model is None, model or "")
        if best is None or rank < best:
            best, chosen = rank, model
    return chosen


def mark_upstream(calls: Iterable[Call], upstreams: Mapping[str, str]) -> None:
    """Settled calls whose owner names an upstream provider of its own (`SessionInfo.upstream`) carry it
    with their model (`records.with_upstream`): the ledger counts each (model, upstream) apart."""
    get = upstreams.get
    for call in calls:
        upstream = get(call.session)
        if upstream is not None:
            call.model = with_upstream(split_upstream(call.model)[0], upstream)


def joined_to(joins: Mapping[str, str]) -> dict[str, str]:
    """Each session that joins another (`joins`), to the one it counts toward in the end: a subagent's
    subagent counts toward the thread at the top (codex-cli-format.md, "Readings settled" 6), so each
    link is followed through the sessions that join another in turn; a cycle stops before it repeats."""
    resolved: dict[str, str] = {}
    for session, first in joins.items():
        target, seen = first, {session}
        while target in joins and target not in seen:
            seen.add(target)
            target = joins[target]
        resolved[session] = target
    return resolved


def rejoin(calls: Iterable[Call], joins: Mapping[str, str]) -> None:
    """Settled calls whose owner joins another session count toward that one (`joins` as `joined_to`
    gives it: each session to its last target). Every call's owner is looked up, so callers skip this
    when no session joins another (Kimi's never do)."""
    get = joins.get
    for call in calls:
        target = get(call.session)
        if target is not None:
            call.session = target


def ancestry_of(infos: Mapping[str, SessionInfo]) -> dict[str, frozenset[str]]:
    """`ancestry_across` of the sessions' states: each session's parent and the further ancestors its
    state names (`SessionInfo.parents`)."""
    return ancestry_across({session: info.parents() for session, info in infos.items()})


def ancestry_across(parents: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    """Session → the sessions it was forked from, following its parents (several where one session is
    held in several Kimi Code roots, each with its own `forkedFrom`) through sessions that exist (the
    keys): the chain stops at one that does not. For the roots of a group (`groups.py`); one account's
    sessions follow `lineage.Lineage`."""
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
    for call in calls.values():
        yield CallRow(call.session, call.ts, call.model, call.input, call.output, call.cache_read, call.cache_write,
                      call.copies, call.scope, call.reasoning)
