"""The settled calls of refreshed accounts, as rows per account: every call once, owned by one session,
each session's rows one after the other (so a report counts a session's figures when its rows end,
holding nothing per session: `reports.py`).

Each account's calls are folded from the store (or kept by a refresh without one) and settled as its
ledger counts them; the accounts of a provider whose accounts share calls are settled together
(`groups.settled_rows`). With the cache, each group's rows are kept in parts of `PART_ROWS` rows
beside a head with the generations of its members' summaries (`Store.set_summary` draws a new one
with every change of an account) and the models the rows name, so a warm query reads one part at a
time instead of folding every copy again, and a group of one sessions directory computes its rows
one session at a time too (`reading.settled_by_session`): memory does not grow with the calls. A
stale or damaged head is computed again, never used; a damaged part is dropped with the cache's
other derived values (`DamagedValue`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from openusage import groups, scan
from openusage.store import Store

if TYPE_CHECKING:
    from openusage.calls import CallRow, SettledHead

SETTLED_VERSION = 3  # 2: typed rows with reasoning; 3: in parts, each session's rows together
PART_ROWS = 8192  # rows per stored part: ~1-2 MiB decoded


class Member(NamedTuple):
    """One refreshed account that holds data, and whether its provider's accounts share calls."""

    account: str
    provider: str
    refreshed: scan.Refreshed
    shares: bool


class Owned(NamedTuple):
    """One account's settled rows: the models they name (as the records say), and the rows, each
    session's one after the other, read when `rows()` is iterated (from the store, which must still be
    open then, or from memory)."""

    models: frozenset[str | None]
    rows: Callable[[], Iterator[CallRow]]


def rows_by_account(store: Store | None, members: Sequence[Member]) -> dict[str, list[CallRow]]:
    """The rows of the calls each member owns (members whose directory was not found own none)."""
    return {account: list(owned.rows()) for account, owned in owned_by_account(store, members).items()}


def owned_by_account(store: Store | None, members: Sequence[Member]) -> dict[str, Owned]:
    """Each member's settled rows, as `Owned` (read when iterated)."""
    owned: dict[str, Owned] = {}
    for group in _groups(member for member in members if member.refreshed.found):
        # What the stored rows must have been computed from; None: nothing stored of a member yet.
        generations = [store.generation(m.account) for m in group] if store is not None else None
        scratch = group[0].refreshed.scratch if store is None and len(group) == 1 else None
        if scratch is not None:
            found = [_from_scratch(scratch, group[0])]
        elif store is None or generations is None or None in generations:
            found = _in_memory(store, group)
        else:
            head = _cached(store, group, generations)
            if head is None:
                head = _keep(store, group, generations)
            found = _stored(store, _name(group), head)
        owned.update(zip((m.account for m in group), found, strict=True))
    return owned


def _groups(members: Iterable[Member]) -> list[list[Member]]:
    """One group per provider whose accounts share calls; one per account otherwise."""
    by_key: dict[str, list[Member]] = {}
    for member in members:
        key = member.provider if member.shares else "\x00" + member.account
        by_key.setdefault(key, []).append(member)
    return list(by_key.values())


def _in_memory(store: Store | None, group: Sequence[Member]) -> list[Owned]:
    """The group's rows computed and held in memory (no cache, or nothing of a member stored yet)."""
    found: list[Owned] = []
    for rows in _settled_lists(store, group):
        rows.sort(key=_session)  # stable: each session's rows together
        found.append(Owned(frozenset(row.model for row in rows), partial(iter, rows)))
    return found


def _from_scratch(scratch: Store, member: Member) -> Owned:
    """The rows of an account read without the cache through a scratch file (a very large history:
    `scan.refresh`), settled from there one session at a time when iterated, as a group of one
    sessions directory is from the cache (`reading.settled_by_session`), so no call is held. The
    models they name are those its ledger counts (the same calls, counted by the same settling)."""
    from openusage import reading

    models = frozenset(model for model, _day in member.refreshed.ledger.model_days)
    return Owned(models, partial(reading.settled_by_session, scratch, member.account))


def _settled_lists(store: Store | None, group: Sequence[Member]) -> list[list[CallRow]]:
    return groups.settled_rows([m.refreshed.root for m in group], [_calls(store, m) for m in group])


def _session(row: CallRow) -> str:
    return row.session


def _calls(store: Store | None, member: Member) -> groups.Member:
    if store is not None:
        from openusage import reading

        return reading.stored_account_calls(store, member.account)
    refreshed = member.refreshed
    if refreshed.calls is None or refreshed.infos is None:
        raise ValueError(f"account {member.account!r} was refreshed without keeping its calls")
    return refreshed.calls, refreshed.infos


def _name(group: Sequence[Member]) -> str:
    return "\x00".join(member.account for member in group)


def _cached(store: Store, group: Sequence[Member], generations: list[int | None]) -> SettledHead | None:
    """The group's stored head when its rows were computed from its members' current `generations`."""
    body = store.settled(_name(group))
    if body is None:
        return None
    return decode(body, generations, len(group))


def _keep(store: Store, group: Sequence[Member], generations: list[int | None]) -> SettledHead:
    """The group's rows computed and stored in parts; returns their head. A group of one sessions
    directory is settled one session at a time; several roots are settled together in memory."""
    from openusage.calls import SettledHead, SettledMember

    name = _name(group)
    places: dict[str, int] = {}
    for index, member in enumerate(group):
        places.setdefault(os.path.realpath(member.refreshed.root), index)
    with store.write():
        store.drop_settled(name)  # the earlier parts go: a group with fewer rows leaves none behind
        if len(places) == 1:
            from openusage import reading

            models, parts = _store_parts(store, name, 0, reading.settled_by_session(store, group[0].account))
            kept = {0: SettledMember(0, parts, models)}
        else:
            kept = {}
            for index, rows in enumerate(_settled_lists(store, group)):
                if places[os.path.realpath(group[index].refreshed.root)] == index:
                    rows.sort(key=_session)
                    models, parts = _store_parts(store, name, index, iter(rows))
                    kept[index] = SettledMember(index, parts, models)
        head = SettledHead(SETTLED_VERSION, generations,
                           [kept[places[os.path.realpath(m.refreshed.root)]] for m in group])
        from openusage.packed import pack

        store.set_settled(name, pack(head))
    return head


def _store_parts(store: Store, name: str, member: int, rows: Iterator[CallRow]) -> tuple[list[str | None], int]:
    """Write `rows` as parts of `member`; returns the models they name (sorted, None first) and how many
    parts."""
    from openusage.calls import SettledPart
    from openusage.packed import pack

    models: set[str | None] = set()
    parts = 0
    chunk: list[CallRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == PART_ROWS:
            models.update(one.model for one in chunk)
            store.set_settled_part(name, member, parts, pack(SettledPart(chunk)))
            parts, chunk = parts + 1, []
    if chunk:
        models.update(one.model for one in chunk)
        store.set_settled_part(name, member, parts, pack(SettledPart(chunk)))
        parts += 1
    return sorted(models, key=lambda model: (model is not None, model or "")), parts


def _stored(store: Store, name: str, head: SettledHead) -> list[Owned]:
    """Each member's rows as the head says they are stored, read part by part when iterated."""

    def rows(source: int, parts: int) -> Iterator[CallRow]:
        from openusage.calls import SettledPart
        from openusage.packed import UNPACK_ERRORS, unpacker
        from openusage.stored import damaged

        unpack = unpacker(SettledPart)
        for part in range(parts):
            body = store.settled_part(name, source, part)
            try:
                if body is None:
                    raise ValueError("missing")
                found = unpack(body).rows
            except UNPACK_ERRORS:
                damaged(f"settled rows {name!r} part {source}:{part}")
            yield from found

    return [Owned(frozenset(member.models), partial(rows, member.source, member.parts)) for member in head.members]


def decode(body: bytes, generations: Sequence[int | None], members: int) -> SettledHead | None:
    """The stored head, when it is of this version, for these generations and of the right shape."""
    # Here, not at the top: settled calls are asked by reports and other zones, and msgspec (which the
    # typed rows need) is no part of a warm snapshot in UTC.
    from openusage.calls import SettledHead
    from openusage.packed import UNPACK_ERRORS, unpacker

    try:
        head = unpacker(SettledHead)(body)  # every field checked for its type
    except UNPACK_ERRORS:
        return None
    if head.version != SETTLED_VERSION or head.generations != list(generations) or len(head.members) != members:
        return None
    if any(not 0 <= member.source < members or member.parts < 0 for member in head.members):
        return None
    return head
