"""What reports show of each session that owns a call: its title and its project, from its provider.

A provider derives them from the session's state file, the first lines of its files (Kimi CLI's title
fallback) and a labels file of the home (Kimi CLI's `kimi.json`, Kimi Code's `session_index.jsonl`).
With the cache, each session's facts are kept beside it with the signature of its state file (the
store's `sessions` table) and the provider's signature of its labels file, and used while both are
the same: a warm session report then reads no agent file (0.25 s of title reading for the 2,000
sessions of the 1 GB benchmark). A title is derived only when asked for, and kept once it has been.

A thread whose files are all named after other ids (a renamed Codex rollout: `SessionInfo.thread`) is
no session of the listing, so the provider finds nothing under its name; it takes the facts of the
session that holds it (`stand_ins`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import partial
from typing import TYPE_CHECKING

from openusage.providers.base import Account, FactsFinder, FileProvider
from openusage.records import SessionInfo
from openusage.store import Store

if TYPE_CHECKING:
    from openusage.query import SessionFacts

Key = tuple[str, str]  # (account, session)


def stand_ins(infos: Mapping[str, SessionInfo]) -> dict[str, str]:
    """Each thread that sessions of other names hold (`SessionInfo.thread`) and that is no session of
    `infos` itself, to the one of them whose name sorts first: where its facts are found. `infos`: every
    session that names a thread, and those threads that are sessions (`Store.session_forks` loads both)."""
    found: dict[str, str] = {}
    for name, info in infos.items():  # a report without the cache has every session here: none sorted
        thread = info.thread
        if thread is not None and thread not in infos and (thread not in found or name < found[thread]):
            found[thread] = name
    return found


class FactsLookup:
    """The facts of the sessions of some accounts, for one report, asked a batch at a time (account id →
    session names): each account's finder (`FileProvider.facts_finder`, which lists the account's
    sessions once) is made when a batch first names the account, and kept for the next batches."""

    def __init__(self, store: Store | None, env: Mapping[str, str], accounts: Sequence[tuple[Account, FileProvider]],
                 *, titles: bool, stand_ins: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """`stand_ins`: for each account id, its threads that take the facts of another session
        (`stand_ins`)."""
        self._store, self._env, self._accounts, self._titles = store, env, accounts, titles
        self._finders: dict[str, FactsFinder] = {}
        self._stand_ins = stand_ins or {}

    def __call__(self, wanted: Mapping[str, set[str]]) -> dict[Key, SessionFacts]:
        found: dict[Key, SessionFacts] = {}
        for account, provider in self._accounts:
            sessions = wanted.get(account.id)
            if not sessions:
                continue
            instead = self._stand_ins.get(account.id, {})
            asked = {instead.get(name, name) for name in sessions} if instead else sessions
            find = partial(self._find, account, provider)
            if self._store is None:
                mine = find(asked)
            else:
                mine = _cached(self._store, self._env, account, provider, find, asked, self._titles)
            found.update(((account.id, name), mine[instead.get(name, name)]) for name in sessions)
        return found

    def _find(self, account: Account, provider: FileProvider, sessions: AbstractSet[str]) -> dict[str, SessionFacts]:
        """From the provider. Its finder is made only when facts are missing: with every fact kept, a
        report loads none of the providers' fact readers (Kimi CLI's loads OpenSSL for hashlib: ~4 MiB)."""
        finder = self._finders.get(account.id)
        if finder is None:
            finder = self._finders[account.id] = provider.facts_finder(account, self._env, titles=self._titles)
        return finder(sessions)


def _cached(store: Store, env: Mapping[str, str], account: Account, provider: FileProvider, find: FactsFinder,
            sessions: set[str], titles: bool) -> dict[str, SessionFacts]:
    from openusage.query import SessionFacts

    labels = provider.labels_signature(account, env)
    # Only the wanted sessions' rows: a report asks in batches, and all of an account's would be ~0.3 KiB
    # a session each time.
    signatures = store.session_signatures(account.id, sessions)
    kept = store.facts(account.id, sessions)
    facts: dict[str, SessionFacts] = {}
    missing: set[str] = set()
    for name in sessions:
        row = kept.get(name)
        if row is None or row.signature != signatures.get(name) or row.labels != labels \
                or (titles and row.title is None):
            missing.add(name)
        else:
            facts[name] = SessionFacts(row.title if titles and row.title is not None else "", row.project)
    if missing:
        new = find(missing)
        facts.update(new)
        with store.write():
            store.set_facts(account.id, ((name, signatures.get(name), labels, one.title if titles else None,
                                          one.project) for name, one in new.items()))
    return facts
