"""Accounts that count a call they share once between them: the roots of Kimi Code.

Kimi Code's rule (kimi-code-format.md) is one count per record identity across all sessions *and all
roots*, and a second root (the desktop app's embedded home, say) is a second account. So every account
is refreshed alone (its own files, cache rows and ledger: `scan.py`), and then the accounts of such a
provider that hold data are settled together. Only some calls can change owner: those held in two
or more roots, and those of sessions whose forks look different once `forkedFrom` runs through the
sessions of the other roots. These are taken out of their root's ledger, folded together with every
holder tagged with its account, settled by the same rule (`fold.settle`) over the holders of every
root, and put back where their owner is. A tie between two roots' copies of one
session goes to the account listed first (the detected one, then the settings' order). Each account
keeps the calls its sessions own: the tiles add up to every call once, and an account's figures are
the same whether it is shown alone or beside the others.

With the cache, a group's ledgers are stored with the generations of its members' summaries
(`Store.set_summary` draws a new one with every change of an account) and used while those are the
same, so a warm run with nothing new folds nothing here either.
"""

import marshal
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from openusage import scan
from openusage.providers.base import Account
from openusage.records import SessionInfo
from openusage.store import Store
from openusage.summary import Ledger

if TYPE_CHECKING:
    from openusage.calls import CallRow
    from openusage.fold import Calls

GROUP_VERSION = 3
# No directory name holds NUL, so "name\0index" sorts by the session name first (plain string order,
# as the rule says), then by the account's place.
_TAG = "\x00"

Member = tuple["Calls", Mapping[str, SessionInfo]]


def sharing(accounts: Sequence[Account], shares: Callable[[Account], bool]) -> list[list[Account]]:
    """The groups: per provider whose accounts share calls (`shares`), its accounts in order, when
    there are two or more."""
    by_provider: dict[str, list[Account]] = {}
    for account in accounts:
        if shares(account):
            by_provider.setdefault(account.provider, []).append(account)
    return [group for group in by_provider.values() if len(group) > 1]


def to_refresh(chosen: Sequence[Account], accounts: Sequence[Account],
               groups: Iterable[Sequence[Account]]) -> list[Account]:
    """The chosen accounts and every account grouped with one of them, in the accounts' order: an
    account's figures depend on its group."""
    wanted = {account.id for account in chosen}
    for group in groups:
        if wanted & {account.id for account in group}:
            wanted.update(account.id for account in group)
    return [account for account in accounts if account.id in wanted]


class Settled(NamedTuple):
    """One member's figures once its group is settled."""

    ledger: Ledger
    elsewhere: int  # calls it holds that another root owns (counted there)


def ledgers(store: Store | None, provider: str,
            members: Sequence[tuple[str, scan.Refreshed]]) -> list[Settled]:
    """The ledger of each member (account id, its refresh: every one found) of the provider's group
    with every shared call counted once between the roots. Accounts that read the same sessions
    directory (with another config, say) are one root: each counts what the first of them counts."""
    places: dict[str, int] = {}
    roots: list[tuple[str, scan.Refreshed]] = []
    member_root: list[int] = []
    for account, refreshed in members:
        place = places.setdefault(os.path.realpath(refreshed.root), len(roots))
        if place == len(roots):
            roots.append((account, refreshed))
        member_root.append(place)
    if len(roots) < 2:
        return [Settled(refreshed.ledger, 0) for _, refreshed in members]
    result = _root_ledgers(store, provider, roots)
    return [result[place] for place in member_root]


def _root_ledgers(store: Store | None, provider: str,
                  members: Sequence[tuple[str, scan.Refreshed]]) -> list[Settled]:
    """One ledger per root. Without a store, from the calls each refresh kept (`keep_calls`)."""
    own = [refreshed.ledger for _, refreshed in members]
    if store is None:
        folds: list[Member] = []
        for account, refreshed in members:
            if refreshed.calls is None or refreshed.infos is None:
                raise ValueError(f"account {account!r} was refreshed without keeping its calls")
            folds.append((refreshed.calls, refreshed.infos))
        moving = _moving([calls.keys() for calls, _ in folds], [infos for _, infos in folds],
                         lambda index, sessions: _keys_held_by(folds[index][0], sessions))
        return _moved(own, [({key: calls[key] for key in moving if key in calls}, infos) for calls, infos in folds])
    accounts = [account for account, _ in members]
    with store.write():  # read the members' rows and write the result as one consistent state
        generations = [store.generation(account) for account in accounts]
        stored = store.group(provider)  # one row per provider: a group that changed members replaces it
        kept = _decode(stored, accounts, generations) if stored is not None else None
        if kept is not None:
            return kept
        from openusage import reading  # the group's ledgers are computed: the stored calls are folded

        infos = [store.session_infos(account) for account in accounts]
        moving = _moving([store.call_keys(account) for account in accounts], infos,
                         lambda index, sessions: set().union(*(store.call_keys(accounts[index], session)
                                                               for session in sessions)))
        result = _moved(own, [(reading.stored_calls(store, account, moving), infos[index])
                              for index, account in enumerate(accounts)])
        store.set_group(provider, marshal.dumps((GROUP_VERSION, accounts, generations,
                                                 [(one.ledger.encode(), one.elsewhere) for one in result])))
    return result


def settled_rows(roots: Sequence[str], members: Sequence[Member]) -> "list[list[CallRow]]":
    """Each member's calls (every call it holds, settled within its account, and its sessions), as the
    rows of the calls it owns once the group is settled: what `ledgers` counts, call by call. `roots`:
    each member's sessions directory; members on the same one are one root and get the same rows."""
    from openusage.fold import call_rows  # the fold loads msgspec: only when calls are settled

    places: dict[str, int] = {}
    root_members: list[Member] = []
    member_root: list[int] = []
    for root, member in zip(roots, members, strict=True):
        place = places.setdefault(os.path.realpath(root), len(root_members))
        if place == len(root_members):
            root_members.append(member)
        member_root.append(place)
    if len(root_members) < 2:
        per_root = [list(call_rows(calls)) for calls, _ in root_members]
    else:
        moving = _moving([calls.keys() for calls, _ in root_members], [infos for _, infos in root_members],
                         lambda index, sessions: _keys_held_by(root_members[index][0], sessions))
        moved = owned_rows([({key: calls[key] for key in moving if key in calls}, infos)
                            for calls, infos in root_members])
        per_root = [[row for key, row in zip(calls, call_rows(calls), strict=True) if key not in moving] + rows
                    for (calls, _), rows in zip(root_members, moved, strict=True)]
    return [per_root[place] for place in member_root]


def _moving(key_sets: Sequence[Iterable[str]], infos: Sequence[Mapping[str, SessionInfo]],
            keys_of: Callable[[int, set[str]], set[str]]) -> set[str]:
    """The calls whose owner can differ from the one their root's own ledger gives: those held in two
    or more roots, and those of sessions whose forks look different once `forkedFrom` runs through
    the other roots (`keys_of(root, sessions)`: the keys those sessions hold there). Every other call
    keeps its owner, so only these are folded again."""
    from openusage.fold import ancestry_across, ancestry_of

    seen: set[str] = set()
    moving: set[str] = set()
    for keys in key_sets:
        mine = set(keys)
        moving |= mine & seen
        seen |= mine
    across = ancestry_across(_parents(infos))
    for index, root_infos in enumerate(infos):
        alone = ancestry_of(root_infos)
        names = root_infos.keys()
        changed = {session for session in root_infos
                   if (across.get(session, _NONE) & names) != alone.get(session, _NONE)}
        if changed:
            moving |= keys_of(index, changed)
    return moving


def _keys_held_by(calls: "Calls", sessions: set[str]) -> set[str]:
    return {key for key, call in calls.items()
            if call.session in sessions or any(holder[1] in sessions for holder in call.holders or ())}


def _moved(own: Sequence[Ledger], moving: Sequence[Member]) -> list[Settled]:
    """Each root's own ledger with the moving calls (`moving`: settled as that ledger counts them)
    taken out and their owners across the roots put in: what folding every call of every root
    together gives, at the cost of the moving calls only."""
    result: list[Settled] = []
    for mine, (calls, _infos), rows in zip(own, moving, owned_rows(moving), strict=True):
        ledger = Ledger.decode(mine.encode()) or Ledger()  # a copy: the input stays as it is
        ledger.add(calls.values(), sign=-1)
        ledger.add(rows)
        result.append(Settled(ledger, len(calls) - len(rows)))  # every call a root owns, it holds
    return result


def owned_rows(members: Sequence[Member]) -> "list[list[CallRow]]":
    """Each member's (calls, sessions) folded together and settled over every holder; per member, the
    rows of the calls its sessions own."""
    from openusage._msgspec import msgspec
    from openusage.fold import ancestry_across, call_rows, merge, settle

    calls: Calls = {}
    ranks: dict[str, int] = {}
    tagged_names: dict[str, list[str]] = {}  # session name -> that session in every root holding it
    for index, (member_calls, infos) in enumerate(members):
        merge(calls, _tagged(member_calls, index))
        for name, info in infos.items():
            tagged = name + _suffix(index)
            ranks[tagged] = info.rank
            tagged_names.setdefault(name, []).append(tagged)
    ancestors = {tagged: frozenset(t for parent in chain for t in tagged_names[parent])
                 for name, chain in ancestry_across(_parents([infos for _, infos in members])).items()
                 for tagged in tagged_names[name]}
    settle(calls, ranks, ancestors)
    rows: list[list[CallRow]] = [[] for _ in members]
    for row in call_rows(calls):
        name, _, place = row.session.rpartition(_TAG)
        rows[int(place)].append(msgspec.structs.replace(row, session=name))
    return rows


_NONE: frozenset[str] = frozenset()


def _parents(infos: Sequence[Mapping[str, SessionInfo]]) -> dict[str, set[str]]:
    """Session name → its `forkedFrom` (and any further ancestor its state names) in every root holding
    it (every session is a key)."""
    parents: dict[str, set[str]] = {}
    for root_infos in infos:
        for name, info in root_infos.items():
            parents.setdefault(name, set()).update(info.parents())
    return parents


def _suffix(index: int) -> str:
    """What tags a session name with its account's place."""
    return f"{_TAG}{index:04d}"


def _tagged(calls: "Calls", index: int) -> "Calls":
    """A copy of a member's calls whose holders name their account. A call's holders survive
    `settle`, so calls settled within their account fold again here from every holder."""
    from openusage._msgspec import msgspec

    suffix = _suffix(index)
    out: Calls = {}
    for key, call in calls.items():
        holders = call.holders
        out[key] = msgspec.structs.replace(
            call, session=call.session + suffix,
            holders=None if holders is None else [(marked, session + suffix, model, ts)
                                                  for marked, session, model, ts in holders])
    return out


def _decode(blob: bytes, accounts: list[str], generations: list[int | None]) -> list[Settled] | None:
    """The stored result when it was computed for these accounts from these generations, else None."""
    try:
        version, stored_accounts, stored_generations, members = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return None
    if version != GROUP_VERSION or stored_accounts != accounts or stored_generations != generations \
            or None in generations or not isinstance(members, list) or len(members) != len(accounts):
        return None
    result: list[Settled] = []
    for member in members:
        if not (isinstance(member, tuple) and len(member) == 2 and isinstance(member[0], bytes)
                and type(member[1]) is int):
            return None
        ledger = Ledger.decode(member[0])
        if ledger is None:
            return None
        result.append(Settled(ledger, member[1]))
    return result
