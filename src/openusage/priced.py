"""Each account's estimated cost per model, with the cache.

Prices are per call (a dated price applies from its date, a tier by the call's prompt size). Where
every call of a model on a UTC day has the same rates, which is every day of a flat-priced model and
every day of a tiered one whose largest prompt (the ledger's peak) reaches no tier, the ledger's per
(model, day) sums give the exact figure without reading a call; calls without a time are one more
such "day", at the newest rates. When some day needs its calls (a prompt above a tier, an off-peak
price, a price or alias change inside it) the account is priced from its settled calls instead,
which after appends means settling all of its calls again. See docs/pricing.md. The cache keeps (table
`prices`, `Store.priced`):

- each model's rates as a `cost.Schedule`, keyed by the installed price data's fingerprint and the
  provider hint, so genai-prices (and pydantic, ~0.25 s) is imported only for a model it has not
  priced yet, and a new genai-prices version is read once;
- the price data's version and date, under the same fingerprint;
- every account's costs, with the generations of the accounts they were computed from, the price
  data and the user's prices: a warm run decodes one value, a run after appends prices again from
  the cached rates without importing genai-prices.

A stale or damaged value is computed again, never used; the figures never depend on the cache.
"""

import marshal
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from openusage import pricing
from openusage.cost import GroupCall, ModelCost, Priced, Schedule, day_costs, grouped_costs
from openusage.records import split_upstream
from openusage.store import Store

if TYPE_CHECKING:
    from openusage.calls import CallRow

COSTS_VERSION = 1
_COSTS_KEY = "costs"


class Member(NamedTuple):
    """One account to price: its id, its provider's hint for the price database (e.g. "moonshot"),
    how its records' model names are shown, and what that gives for the names its ledger holds (the
    config can change the names without changing a record: part of the cached costs' key)."""

    account: str
    hint: str | None
    resolve_model: Callable[[str | None], str]  # as the snapshot's rows key them (`ModelResolver.shown`)
    names: tuple[tuple[str | None, str], ...] = ()
    # The ledger's sums per (record model, UTC day): enough to price every day whose calls share one
    # set of rates, without reading the calls.
    model_days: Mapping[tuple[str | None, int | None], Sequence[int]] = {}


class Costs(NamedTuple):
    """Each account's cost per model (as the snapshot names models), and the price data used (None:
    genai-prices is not installed, only the user's own prices apply)."""

    by_account: dict[str, dict[str, ModelCost]]
    data: pricing.DataInfo | None


def account_costs(store: Store | None, members: Sequence[Member], rows: "Callable[[], Mapping[str, list[CallRow]]]",
                  user: pricing.UserPrices, generations: Iterable[str] = ()) -> Costs:
    """The members' costs: from the cache when it holds them for the current generations of
    `generations` (the accounts whose calls they depend on), else priced from each member's day
    sums, or from its settled calls (`rows()`, read only then) when a day needs them."""
    fingerprint = pricing.data_fingerprint()
    stamp: Any = None
    if store is not None:
        stamp = _stamp(store, fingerprint, user, generations, members)
        cached = _cached(store, stamp) if stamp is not None else None
        if cached is not None:
            return cached
    data = data_of(store, fingerprint)
    by_account: dict[str, dict[str, ModelCost]] = {}
    for member in members:
        by_day = _by_day(member)
        names = {_bare(model) for model, _ in by_day}
        book = _BareBook(pricing.Book(user, schedules(store, fingerprint, member.hint, pricing.targets(names, user))))
        costs = day_costs(by_day, book.resolve_day)
        if costs is None:  # some day's calls have rates of their own (a tier, a change that day)
            by_model = _by_model(rows().get(member.account, ()), member.resolve_model)
            costs = grouped_costs(by_model, book.resolve, book.steady)
        by_account[member.account] = costs
    result = Costs(by_account, data)
    if store is not None and stamp is not None:
        with store.write():
            store.set_priced(_COSTS_KEY, marshal.dumps((stamp, _encode(result))))
    return result


def _bare(shown: str) -> str:
    """A model as `Member.resolve_model` shows it, without the upstream provider a row may add (the
    price looked up is the model's, with the account's hint)."""
    return split_upstream(shown)[0] or shown


class _BareBook:
    """A `pricing.Book` asked for models as `Member.resolve_model` shows them (`_bare`)."""

    __slots__ = ("book",)

    def __init__(self, book: pricing.Book) -> None:
        self.book = book

    def resolve_day(self, model: str, day: int | None, peak: int) -> Priced | None:
        return self.book.resolve_day(_bare(model), day, peak)

    def resolve(self, model: str, time: float | None) -> Priced:
        return self.book.resolve(_bare(model), time)

    def steady(self, model: str) -> Priced | None:
        return self.book.steady(_bare(model))


def _by_day(member: Member) -> dict[tuple[str, int | None], list[int]]:
    """The ledger's per-day sums by model as shown (records that resolve to one name merged: their
    sums added, their peak prompts the larger)."""
    by_day: dict[tuple[str, int | None], list[int]] = {}
    shown: dict[str | None, str] = {}
    for (raw, day), sums in member.model_days.items():
        name = shown.get(raw)
        if name is None:
            name = shown[raw] = member.resolve_model(raw)
        total = by_day.get((name, day))
        if total is None:
            by_day[(name, day)] = list(sums)
        else:
            for index in range(6):  # input, output, cache_read, cache_write, calls, reasoning
                total[index] += sums[index]
            total[6] = max(total[6], sums[6])
    return by_day


def _by_model(rows: "Iterable[CallRow]", resolve: Callable[[str | None], str]) -> dict[str, list[GroupCall]]:
    """The calls by model as shown (records' names resolved once each)."""
    by_raw: dict[str | None, list[GroupCall]] = {}
    for row in rows:
        group = by_raw.get(row.model)
        if group is None:
            group = by_raw[row.model] = []
        group.append((row.ts, row.input, row.output, row.cache_read, row.cache_write))
    by_model: dict[str, list[GroupCall]] = {}
    for raw, group in by_raw.items():
        by_model.setdefault(resolve(raw), []).extend(group)
    return by_model


def _stamp(store: Store, fingerprint: str | None, user: pricing.UserPrices, accounts: Iterable[str],
           members: Sequence[Member]) -> Any:
    generations = [(account, store.generation(account)) for account in sorted(set(accounts))]
    if any(generation is None for _, generation in generations):
        return None  # nothing stored of an account: no generation to tie the costs to
    names = [(member.account, member.hint, list(member.names)) for member in members]
    return (COSTS_VERSION, fingerprint, user.fingerprint(), generations, names)


def _cached(store: Store, stamp: Any) -> Costs | None:
    body = store.priced(_COSTS_KEY)
    if body is None:
        return None
    try:
        stored_stamp, encoded = marshal.loads(body)
        if stored_stamp != stamp:
            return None
        return _decode(encoded)
    except (EOFError, ValueError, TypeError, IndexError):
        return None


def _encode(costs: Costs) -> Any:
    accounts = {account: [tuple(cost) for cost in models.values()] for account, models in costs.by_account.items()}
    return accounts, None if costs.data is None else tuple(costs.data)


def _decode(encoded: Any) -> Costs:
    accounts, data = encoded
    by_account: dict[str, dict[str, ModelCost]] = {}
    for account, models in accounts.items():
        costs = [ModelCost(str(m), usd, int(p), int(u), tuple(t), bool(s)) for m, usd, p, u, t, s in models]
        by_account[str(account)] = {cost.model: cost for cost in costs}
    return Costs(by_account, None if data is None else pricing.DataInfo(*data))


def data_of(store: Store | None, fingerprint: str | None) -> pricing.DataInfo | None:
    if fingerprint is None:
        return None
    key = f"data\x00{fingerprint}"
    if store is not None:
        body = store.priced(key)
        if body is not None:
            try:
                return pricing.DataInfo(*marshal.loads(body))
            except (EOFError, ValueError, TypeError):
                pass
    data = pricing.data_info()
    if store is not None:
        with store.write():
            store.set_priced(key, marshal.dumps(tuple(data)))
    return data


def schedules(store: Store | None, fingerprint: str | None, hint: str | None,
               models: Iterable[str]) -> dict[str, Schedule | None]:
    """Each model's schedule: from the cache, else from genai-prices (then kept)."""
    if fingerprint is None:
        return dict.fromkeys(models)
    found: dict[str, Schedule | None] = {}
    missing: list[str] = []
    for model in sorted(models):
        body = store.priced(_rates_key(fingerprint, hint, model)) if store is not None else None
        if body is None:
            missing.append(model)
            continue
        try:
            found[model] = marshal.loads(body)
        except (EOFError, ValueError, TypeError):
            missing.append(model)
    if missing:
        fresh = pricing.database_schedules((model, hint) for model in missing)
        if store is not None:
            with store.write():
                for (model, _), schedule in fresh.items():
                    store.set_priced(_rates_key(fingerprint, hint, model), marshal.dumps(schedule))
        found.update((model, schedule) for (model, _), schedule in fresh.items())
    return found


def _rates_key(fingerprint: str, hint: str | None, model: str) -> str:
    return f"rates\x00{fingerprint}\x00{hint or ''}\x00{model}"
