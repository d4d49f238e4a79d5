"""Kimi Code roots counted together (groups.py): moving only the shared calls between the roots' own
ledgers gives exactly what folding every call of every root together gives."""

from __future__ import annotations

import random

from openusage.calls import UsageRecord
from openusage.fold import Calls, call_rows, fold_records, settle
from openusage.groups import _keys_held_by, _moved, _moving, owned_rows
from openusage.lineage import Lineage
from openusage.records import SessionInfo
from openusage.summary import Ledger


def random_root(rng: random.Random, keys: list[str]) -> tuple[Calls, dict[str, SessionInfo]]:
    """A root's calls (settled within the root, as its own ledger counts them) and its sessions, some
    forked from sessions that may live in another root."""
    names = [f"s{rng.randrange(8)}" for _ in range(rng.randrange(1, 5))]
    infos = {name: SessionInfo(0, rng.choice([None, None, f"s{rng.randrange(8)}"])) for name in names}
    calls: Calls = {}
    for name in names:
        records = [UsageRecord(key, 1.79e9 + rng.randrange(10**6), rng.choice([None, "k2"]), rng.randrange(100), 1,
                               0, 0, "turn", rng.randrange(2), rng.randrange(3))
                   for key in rng.sample(keys, rng.randrange(1, len(keys)))]
        fold_records(records, name, calls)
    settle(calls, {n: i.rank for n, i in infos.items()}, Lineage(infos).ancestors())
    return calls, infos


def canonical(ledger: Ledger) -> tuple[object, ...]:
    """The ledger's counts, whatever order they were added in."""
    days = {day: {s: sorted(times) if isinstance(times, list) else [times] for s, times in sessions.items()}
            for day, sessions in ledger.day_sessions.items()}
    return ledger.totals, ledger.sessions, ledger.models, ledger.day_tokens, days, ledger.scopes


def test_moving_the_shared_calls_equals_folding_everything_together() -> None:
    rng = random.Random(5)
    for _ in range(200):
        keys = [f"k{n}" for n in range(rng.randrange(2, 12))]
        roots = [random_root(rng, keys) for _ in range(rng.randrange(2, 4))]
        own = [Ledger.of(call_rows(calls)) for calls, _ in roots]
        moving = _moving([calls.keys() for calls, _ in roots], [infos for _, infos in roots],
                         lambda index, sessions, roots=roots: _keys_held_by(roots[index][0], sessions))
        subsets = [({k: calls[k] for k in moving if k in calls}, infos) for calls, infos in roots]

        moved = _moved(own, subsets)

        together = [Ledger.of(rows) for rows in owned_rows(roots)]
        assert [canonical(one.ledger) for one in moved] == [canonical(ledger) for ledger in together]
        assert sum(one.ledger.totals[0] for one in moved) == len({k for calls, _ in roots for k in calls})
        # A root's calls are the ones it owns plus the ones another root owns.
        for (calls, _), one in zip(roots, moved, strict=True):
            assert len(calls) == one.ledger.totals[0] + one.elsewhere
