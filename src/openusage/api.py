"""The calls every front end uses: which accounts there are, and a snapshot of each.

The CLI, and later the dashboard and exporters, call these and nothing below them. Accounts of a
file source are refreshed through `scan`; accounts of a remote source are fetched (`fetching`,
imported only when one is chosen) while the files are read.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from openusage import groups, lifetime, paths, priced, pricing, scan
from openusage.cachefile import CacheDamaged
from openusage.errors import CacheError, SettingsError, UsageInputError, printable_line
from openusage.manifest import Check
from openusage.providers import (
    PROVIDERS,
    file_provider,
    file_providers,
    provider_by_id,
    remote_provider,
    remote_providers,
)
from openusage.providers.base import Account, Detection, FileProvider, Provider, remote_source
from openusage.settings import Settings, load_settings
from openusage.snapshot import (
    AccountFigures,
    AgentHome,
    ProviderInfo,
    RemoteTile,
    Snapshot,
    SnapshotSet,
    build_snapshot,
    remote_snapshot,
)
from openusage.store import Store
from openusage.stored import DamagedValue
from openusage.summary import zone_figures
from openusage.windows import windows

if TYPE_CHECKING:
    from openusage import settled
    from openusage.calls import CallRow
    from openusage.cost import CallsPricing
    from openusage.fetching import Pending
    from openusage.hot import Kernel
    from openusage.query import CallsQuery, CallsResult, SessionFacts, SettledCall
else:
    Kernel = object  # a stand-in for `DetectReport.reader`: the reader loads only where files are read

_T = TypeVar("_T")

Notice = Callable[[str], None]


class DetectReport(NamedTuple):
    settings: Settings
    detections: tuple[Detection, ...]
    accounts: tuple[Account, ...]
    settings_error: str | None = None  # why the settings file was not used (`detect` with strict=False)
    reader: Kernel | None = None  # the candidate reader's block loop this process uses (`detect` only)
    warm_check: Check | None = None  # the warm run's stats of the manifest's paths (`detect` only)


def agent_homes() -> tuple[AgentHome, ...]:
    """Every file provider's home, in the registry's order: what to say when no account was found."""
    return tuple(AgentHome(provider.id, provider.title, provider.home_default, provider.home_variable,
                           f"{provider.home_default}/sessions" if "sessions_dir" in provider.extra_keys else None)
                 for provider in file_providers())


def remote_tiles() -> tuple[RemoteTile, ...]:
    """Every remote source's tile and how it is turned on, in the registry's order: for `--help`."""
    return tuple(RemoteTile(source.id, source.title, source.turned_on_by) for source in remote_providers())


def serve_from_threads() -> None:
    """Call once at the start of a resident front end (dashboard, exporter) that calls this module from
    threads: reading then never forks and never pauses the process-wide garbage collector, and each
    thread reads with its own buffer. One-shot commands keep the faster forked workers."""
    from openusage import parallel

    parallel.use_threads()


def detect(env: Mapping[str, str], *, detailed: bool = False, strict: bool = True) -> DetectReport:
    """What each provider found on this machine, and the accounts that result with the settings.
    `detailed` also counts sessions (for `openusage detect`; a snapshot does not need it). A settings
    file that cannot be used raises SettingsError, unless not `strict`: then the report says why and
    holds the accounts detection alone gives (what `openusage detect` shows to help fix the file)."""
    path = paths.settings_path(env)
    problem: str | None = None
    try:
        settings = load_settings(path, {p.id: p.extra_keys for p in PROVIDERS}, named_by=paths.settings_named(env))
    except SettingsError as exc:
        if strict:
            raise
        settings, problem = Settings(path), str(exc)
    detections = tuple(_detected(provider, env, detailed, settings) for provider in PROVIDERS)
    reader = warm_check = None
    if detailed:
        from openusage import hot, manifest

        reader, warm_check = hot.choose(), manifest.choose()
    return DetectReport(settings, detections, _accounts(settings, detections), problem, reader, warm_check)


def _detected(provider: Provider, env: Mapping[str, str], detailed: bool, settings: Settings) -> Detection:
    """What one provider found; a remote source is told which accounts the settings hold of it."""
    source = remote_source(provider)
    if source is None:
        return provider.detect(env, detailed=detailed)
    return source.detect(env, detailed=detailed,
                         configured=[account for account in settings.accounts if account.provider == source.id])


def _accounts(settings: Settings, detections: tuple[Detection, ...]) -> tuple[Account, ...]:
    configured = {account.id: account for account in settings.accounts}
    accounts: list[Account] = []
    if settings.auto_detect:
        for detection in detections:
            detected = detection.account
            if detected is None:
                continue
            if detected.id in configured:
                accounts.append(configured.pop(detected.id))
            elif not _sends_the_same_secret(detected, settings.accounts):
                accounts.append(detected)
    accounts.extend(configured.values())
    return tuple(accounts)


def _sends_the_same_secret(detected: Account, configured: Sequence[Account]) -> bool:
    """Whether a configured account of a remote source sends the secret the detected one would (a
    configured `moonshot_cn` with the default key variable): the detected account would send it to
    the default host too, which the service's rules forbid, so it is left out."""
    source = remote_provider(detected.provider)
    if source is None:
        return False
    secret = source.credential(detected)
    return any(account.provider == detected.provider and source.credential(account) == secret
               for account in configured)


def snapshot(env: Mapping[str, str], now: datetime, *, account_id: str | None = None, use_cache: bool = True,
             progress: scan.Progress | None = None, notice: Notice | None = None, tz: tzinfo = UTC,
             offline: bool = False, remote_timeout: float | None = None) -> SnapshotSet:
    """Refresh the store from disk for the chosen accounts and answer their snapshots as of `now`, with
    today, 7 d and the daily series in `tz` (UTC unless asked: the definition the providers give).
    Remote accounts are fetched meanwhile (never with `offline`), waited for `remote_timeout` seconds
    at most, and shown with their last good answer when that fails."""
    report = detect(env)
    every = list(report.accounts)
    chosen_all = every if account_id is None else _chosen(every, (account_id,), None)
    accounts = [account for account in every if not _is_remote(account)]
    chosen = [account for account in chosen_all if not _is_remote(account)]
    fetch = _start_fetching([a for a in chosen_all if _is_remote(a)], env, now, offline, remote_timeout)
    in_utc = is_utc(tz)

    def answer(store: Store | None) -> tuple[Snapshot, ...]:
        # Without a store, a very large history is read through a scratch file (`scan.refresh`) that
        # lives until the snapshots are built: the ledger reads its days from there, and the settled
        # calls, asked only for days that are not UTC days or for pricing that needs calls (a tiered
        # price, one that changes inside a UTC day: docs/pricing.md), are read from there too.
        with ExitStack() as scratch:
            refreshed = _refresh_all(store, accounts, chosen, env, progress, scratch)
            settled_rows: dict[str, list[CallRow]] = {}

            def rows() -> "dict[str, list[CallRow]]":
                if not settled_rows:
                    settled_rows.update(_settled_rows(store, accounts, refreshed))
                return settled_rows

            costs = _costs(store, chosen, refreshed, rows, report.settings)
            local = [_account_snapshot(account, refreshed[account.id], now, costs=costs,
                                       zoned=None if in_utc else (rows().get(account.id, []), tz))
                     for account in chosen]
            lifetime.outlive(refreshed)  # the calls and ledgers: freed with the process, not one by one now
            if fetch is None:
                return tuple(local)
            by_id = {one.account_id: one for one in (*local, *_remote_snapshots(fetch, store, notice))}
            return tuple(by_id[account.id] for account in chosen_all)

    snapshots = _with_cache(env, use_cache, notice, answer)
    _say(notice, [f"openusage: {one.account_id}: {line}" for one in snapshots for line in one.notices])
    return SnapshotSet(now, snapshots, tz)


def _silent(_message: str) -> None:
    """A notice nobody asked to hear."""


def _is_remote(account: Account) -> bool:
    return remote_provider(account.provider) is not None


def _start_fetching(remote: list[Account], env: Mapping[str, str], now: datetime, offline: bool,
                    timeout: float | None) -> "Pending | None":
    """The fetches of the remote accounts, started; None without any (nothing remote is imported)."""
    if not remote:
        return None
    from openusage import fetching

    jobs = []
    for account in remote:
        source = remote_provider(account.provider)
        assert source is not None  # only remote accounts come here
        jobs.append(fetching.Job(account, source))
    return fetching.start(jobs, env, now, offline=offline,
                          timeout=fetching.REMOTE_TIMEOUT if timeout is None else timeout)


def _remote_snapshots(pending: "Pending", store: Store | None, notice: Notice | None) -> list[Snapshot]:
    from openusage import fetching

    readings = fetching.finish(pending, store, notice or (lambda _message: None))
    return [remote_snapshot(job.account.id, job.source.id, job.source.title, readings[job.account.id])
            for job in pending.jobs]


def calls(env: Mapping[str, str], query: "CallsQuery", *, use_cache: bool = True,
          progress: scan.Progress | None = None, notice: Notice | None = None) -> "CallsResult":
    """Every settled call of the query's accounts (all detected and configured ones when it names
    none) in its range: each model call once, owned by one session, across every root of a provider
    whose accounts share calls, exactly the calls the snapshots count. The store is refreshed first."""
    every = list(detect(env).accounts)
    accounts = [account for account in every if not _is_remote(account)]
    chosen = [account for account in _chosen(every, query.accounts, query.providers)
              if not _is_remote(account)]  # a balance or a quota has no calls

    said: list[str] = []

    def answer(store: Store | None) -> "tuple[list[SettledCall], dict[tuple[str, str], SessionFacts]]":
        with ExitStack() as scratch:  # without a store: the scratch files the rows are read from
            refreshed = _refresh_all(store, accounts, chosen, env, progress, scratch)
            said[:] = _config_notices(chosen, refreshed)
            rows = _settled_rows(store, accounts, refreshed)
            # Read while a scratch file is open: the facts are asked after it is closed.
            stand_ins = _stand_ins(store, chosen, refreshed) if query.facts else {}
        found: list[SettledCall] = []
        for account in chosen:
            found.extend(_named(account, rows.pop(account.id, []), refreshed[account.id].resolve_model, query))
        del rows  # every call is named: the rows go before the facts are asked (a row per call)
        if not query.facts:
            return found, {}
        wanted: dict[str, set[str]] = {}
        for call in found:
            wanted.setdefault(call.account, set()).add(call.session)
        from openusage import facts  # only reports by session or project ask for them

        known = facts.FactsLookup(store, env, [(account, _provider(account)) for account in chosen],
                                  titles=query.titles, stand_ins=stand_ins)(wanted)
        return found, known

    from openusage.query import CallsResult

    settled_calls, known = _with_cache(env, use_cache, notice, answer)
    _say(notice, said)
    return CallsResult(query, settled_calls, known, tuple(account.id for account in chosen))


def _stand_ins(store: Store | None, chosen: list[Account],
               refreshed: Mapping[str, scan.Refreshed]) -> dict[str, dict[str, str]]:
    """For each chosen account, the threads that take another session's facts (`facts.stand_ins`): from
    the sessions the refresh held, else those the cache (or the scratch file) keeps."""
    from openusage import facts

    found: dict[str, dict[str, str]] = {}
    for account in chosen:
        one = refreshed.get(account.id)
        if one is None:
            continue
        infos = one.infos
        if infos is None:
            kept = store if store is not None else one.scratch
            infos = kept.session_forks(account.id) if kept is not None else {}
        mine = facts.stand_ins(infos)
        if mine:
            found[account.id] = mine
    return found


def _config_notices(chosen: list[Account], refreshed: Mapping[str, scan.Refreshed]) -> list[str]:
    """One line for each agent config the chosen accounts' models were resolved around (a file that
    exists but cannot be used): what a snapshot says too, so a report never says it less."""
    return [f"openusage: {account.id}: {line}" for account in chosen if account.id in refreshed
            for line in refreshed[account.id].resolve_model.problems]


def _say(notice: Notice | None, lines: list[str]) -> None:
    for line in lines:
        (notice or _silent)(line)


FactsOf = Callable[[Iterable[tuple[str, str]]], dict[tuple[str, str], "SessionFacts"]]


def fold_calls(env: Mapping[str, str], query: "CallsQuery",
               fold: "Callable[[Iterator[SettledCall], CallsPricing, pricing.DataInfo | None, FactsOf], _T]", *,
               use_cache: bool = True, progress: scan.Progress | None = None, notice: Notice | None = None) -> _T:
    """`fold(calls, price, data, facts)` over the settled calls `calls` answers, as they are read: each
    (account, session)'s calls come together, and none is held, so a report over any number of calls
    holds its rows only. `price` prices every model the accounts' calls name (and `data` is the price
    data it comes from); `facts(keys)` gives the facts of the (account, session) `keys` (their titles
    when the query asks for them), to be asked a batch at a time. `fold` runs while the cache is open,
    and again from the start if a damaged value is found on the way."""
    every = list(detect(env).accounts)
    accounts = [account for account in every if not _is_remote(account)]
    chosen = [account for account in _chosen(every, query.accounts, query.providers)
              if not _is_remote(account)]  # a balance or a quota has no calls
    if not chosen:
        _say(notice, [_nothing_to_report(query.providers, query.accounts)])
    user = detect(env).settings.prices
    fingerprint = pricing.data_fingerprint()
    said: list[str] = []

    def answer(store: Store | None) -> _T:
        from openusage import settled  # only a report reads settled rows

        # Without a store, a very large history's rows are read from its scratch file as they are
        # folded: the file lives until the fold is done.
        with ExitStack() as scratch:
            refreshed = _refresh_all(store, accounts, chosen, env, progress, scratch)
            said[:] = [*_config_notices(chosen, refreshed), *_skipped_notice(chosen, refreshed)]
            owned = settled.owned_by_account(store, [
                settled.Member(account.id, account.provider, refreshed[account.id],
                               _provider(account).shares_calls_across_accounts)
                for account in accounts if account.id in refreshed])
            names: dict[str, set[str]] = {}
            for account in chosen:
                if account.id in owned:
                    resolve = refreshed[account.id].resolve_model
                    names.setdefault(account.provider, set()).update(resolve(model)
                                                                     for model in owned[account.id].models)
            price, data = _call_pricing(store, user, fingerprint, names)

            from openusage import facts  # light: a lookup reads nothing until a report asks it

            lookup = facts.FactsLookup(store, env, [(account, _provider(account)) for account in chosen],
                                       titles=query.titles, stand_ins=_stand_ins(store, chosen, refreshed))

            def facts_of(keys: Iterable[tuple[str, str]]) -> "dict[tuple[str, str], SessionFacts]":
                wanted: dict[str, set[str]] = {}
                for account_id, session in keys:
                    wanted.setdefault(account_id, set()).add(session)
                return lookup(wanted)

            return fold(_named_stream(chosen, owned, refreshed, query), price, data, facts_of)

    folded = _with_cache(env, use_cache, notice, answer)
    _say(notice, said)
    return folded


def _skipped_notice(chosen: Sequence[Account], refreshed: Mapping[str, scan.Refreshed]) -> list[str]:
    """One line for what the report's accounts could not count: lines skipped as damage (`skips.damage`)
    and files that could not be read, which only the snapshot's diagnostics detail; none when there are
    none."""
    from openusage.skips import damage

    parts = []
    for account in chosen:
        found = refreshed.get(account.id)
        if found is None:
            continue
        lines = damage(found.files.skipped)
        what = [f"{lines:,} {'line' if lines == 1 else 'lines'} skipped"] if lines else []
        if found.unreadable:
            what.append(f"{found.unreadable:,} {'file' if found.unreadable == 1 else 'files'} unreadable")
        if what:
            parts.append(f"{account.id}: {', '.join(what)}")
    if not parts:
        return []
    return [f"openusage: {'; '.join(parts)} (openusage snapshot --json --account <id> says why)"]


def _nothing_to_report(providers: Sequence[str] | None, accounts: Sequence[str] | None = None) -> str:
    """Why a report is empty when no account of the ones it asks for reads usage files."""
    if providers and accounts:
        return (f"openusage: no account is both {' or '.join(accounts)} and a {' or '.join(providers)} account,"
                " so the report is empty")
    which = f"{' or '.join(providers)} account" if providers else "account with usage files"
    return (f"openusage: no {which} was detected or configured, so the report is empty"
            " (openusage detect shows where each agent's files were looked for)")


def _named_stream(chosen: Sequence[Account], owned: "Mapping[str, settled.Owned]",
                  refreshed: Mapping[str, scan.Refreshed], query: "CallsQuery") -> "Iterator[SettledCall]":
    """The chosen accounts' settled calls in the query's range, named, as their rows are read."""
    from openusage.query import SettledCall

    admits = query.admits
    for account in chosen:
        found = owned.get(account.id)
        if found is None:
            continue
        resolve = refreshed[account.id].resolve_model
        models: dict[str | None, str] = {}
        account_id, provider = account.id, account.provider
        for row in found.rows():
            if not admits(row.ts):
                continue
            resolved = models.get(row.model)
            if resolved is None:
                resolved = models[row.model] = resolve(row.model)
            yield SettledCall(account_id, provider, row.session, row.ts, resolved, row.input, row.output,
                              row.cache_read, row.cache_write, row.scope, row.copies, row.reasoning)


class PriceStep(NamedTuple):
    """From `since` (ISO instant; None: always) a model name is priced as `target`, from `origin`
    ("genai-prices", "settings" or "none") at `rates` (USD per million tokens: input, output, cache read,
    cache write; the newest rates below any tier; None: no price). `tiered`: the rate rises above a
    prompt size; `dated`: the database has more than one dated price for it."""

    since: str | None
    target: str
    origin: str
    rates: tuple[float, float, float, float] | None
    tiered: bool
    dated: bool


class ModelPricing(NamedTuple):
    """How one of the user's models is priced: its provider, calls, and the alias steps (one step
    when it is no alias; `alias`: "table", "settings" or "")."""

    model: str
    provider: str
    calls: int
    alias: str
    steps: tuple[PriceStep, ...]


class PricesReport(NamedTuple):
    data: pricing.DataInfo | None  # None: genai-prices is not installed
    models: tuple[ModelPricing, ...]


def prices(env: Mapping[str, str], *, use_cache: bool = True, notice: Notice | None = None) -> PricesReport:
    """Which price every model of the user's calls gets, and from where (for `openusage prices`)."""
    from openusage.query import CallsQuery

    settings = detect(env).settings
    found = calls(env, CallsQuery(), use_cache=use_cache, notice=notice).calls
    counted: dict[tuple[str, str], int] = {}
    for call in found:
        counted[(call.provider, call.model)] = counted.get((call.provider, call.model), 0) + 1
    user = settings.prices
    installed = pricing.data_fingerprint() is not None
    rows: list[ModelPricing] = []
    for (provider_id, model), count in sorted(counted.items()):
        provider = file_provider(provider_id)
        hint = provider.upstream_provider if provider is not None else None
        wanted = pricing.targets([model], user)
        schedules = ({m: s for (m, _), s in pricing.database_schedules((t, hint) for t in wanted).items()}
                     if installed else {})
        book = pricing.Book(user, schedules)
        steps = tuple(_step(since, book, model, target) for since, target in pricing.alias_steps(model, user))
        alias = "settings" if model in user.aliases else "table" if steps[0].target != model else ""
        rows.append(ModelPricing(model, provider_id, count, alias, steps))
    return PricesReport(pricing.data_info() if installed else None, tuple(rows))


def call_prices(env: Mapping[str, str], found: "Sequence[SettledCall]", *, use_cache: bool = True,
                notice: Notice | None = None) -> "tuple[CallsPricing, pricing.DataInfo | None]":
    """What each of `found`'s calls costs at list prices (in cost units), for the reports, and the
    price data used. Models' rates come from the cache when it has them."""
    user = detect(env).settings.prices
    names: dict[str, set[str]] = {}
    for call in found:
        names.setdefault(call.provider, set()).add(call.model)
    fingerprint = pricing.data_fingerprint()
    return _with_cache(env, use_cache, notice, lambda store: _call_pricing(store, user, fingerprint, names))


def _call_pricing(store: Store | None, user: pricing.UserPrices, fingerprint: str | None,
                  names: Mapping[str, set[str]]) -> "tuple[CallsPricing, pricing.DataInfo | None]":
    """A pricer of each provider's `names`, and the price data used (None: no names)."""
    from openusage.cost import CallPricer, CallsPricing

    pricers: dict[str, CallPricer] = {}
    for provider_id, models in names.items():
        provider = file_provider(provider_id)
        hint = provider.upstream_provider if provider is not None else None
        book = pricing.Book(user, priced.schedules(store, fingerprint, hint, pricing.targets(models, user)))
        pricers[provider_id] = CallPricer(book.resolve, book.steady)
    return CallsPricing(pricers), priced.data_of(store, fingerprint) if names else None


def _step(since: float | None, book: pricing.Book, name: str, target: str) -> PriceStep:
    one = book.priced(name, target)
    when = None if since is None else datetime.fromtimestamp(since, UTC).isoformat().replace("+00:00", "Z")
    if one.schedule is None:
        return PriceStep(when, one.target, one.origin, None, False, False)
    base, tiers = one.schedule[-1][1][0][1]
    return PriceStep(when, one.target, one.origin, base[:4], bool(tiers), len(one.schedule) > 1)


def _named(account: Account, rows: "list[CallRow]", resolve: Callable[[str | None], str],
           query: "CallsQuery") -> "list[SettledCall]":
    """An account's rows as named calls in the query's range, each model resolved once. The rows are
    taken from the end of `rows` as they are named, so that the list of rows and the list of calls,
    each one object per call, are never both whole (the order is kept)."""
    from openusage.query import SettledCall

    models: dict[str | None, str] = {}
    admits = query.admits
    named: list[SettledCall] = []
    pop = rows.pop
    while rows:
        row = pop()
        if not admits(row.ts):
            continue
        resolved = models.get(row.model)
        if resolved is None:
            resolved = models[row.model] = resolve(row.model)
        named.append(SettledCall(account.id, account.provider, row.session, row.ts, resolved, row.input, row.output,
                                 row.cache_read, row.cache_write, row.scope, row.copies, row.reasoning))
    named.reverse()
    return named


def is_utc(tz: tzinfo) -> bool:
    """Whether days in `tz` are UTC days (UTC itself, or a zone that never leaves offset 0 such as
    Etc/UTC): then the stored ledger answers without reading any call."""
    return tz is UTC or getattr(tz, "key", None) in {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal",
                                                       "Universal", "Zulu", "Etc/Zulu", "Etc/GMT", "GMT"}


def _chosen(accounts: list[Account], ids: Sequence[str] | None, providers: Sequence[str] | None) -> list[Account]:
    """The accounts a query names (every one when it names none), in tile order; an id or a provider
    that names nothing is the user's mistake, said with what exists."""
    known = ", ".join(a.id for a in accounts) or "none detected or configured"
    for account_id in ids or ():
        if not any(account.id == account_id for account in accounts):
            raise UsageInputError(f"no account {account_id!r} (accounts: {known})")
    for provider_id in providers or ():
        if provider_by_id(provider_id) is None:
            ids_known = ", ".join(p.id for p in PROVIDERS)
            raise UsageInputError(f"no provider {provider_id!r} (providers: {ids_known})")
    return [account for account in accounts
            if (not ids or account.id in ids) and (not providers or account.provider in providers)]


def _with_cache(env: Mapping[str, str], use_cache: bool, notice: Notice | None,
                answer: Callable[[Store | None], _T]) -> _T:
    """`answer(store)` with the cache, or without it when it is not wanted or cannot be opened."""
    tell = _one_line(notice or _silent)
    store = _open_store(env, use_cache, tell)
    if store is None:
        return answer(None)
    try:
        return _cached(store, answer, tell)
    finally:
        store.close()


def _cached(store: Store, answer: Callable[[Store | None], _T], tell: Notice) -> _T:
    """`answer(store)`, damage mended and the answer asked again: a damaged stored value is dropped
    (that file is read again, that ledger computed again); a cache file SQLite says is damaged, or one
    still damaged after its values were dropped, is moved aside and rebuilt. Any other failure of the
    cache (or a new cache damaged at once): the figures do not need it, so everything is read again
    without it."""
    mended = rebuilt = False
    try:
        while True:
            try:
                return answer(store)
            except (DamagedValue, CacheDamaged) as exc:
                if rebuilt:
                    raise
                if isinstance(exc, DamagedValue) and not mended:
                    mended = True
                    rebuilt = _drop_damaged(store, exc, tell)
                else:
                    store.rebuild(exc)
                    rebuilt = True
    except CacheError as exc:
        damaged = isinstance(exc, DamagedValue | CacheDamaged)  # a new cache damaged at once
        tell(f"openusage: the cache {store.path} is still damaged ({exc}): reading without it" if damaged
             else f"openusage: {exc}: reading without it")
        store.close()
        return answer(None)


def _drop_damaged(store: Store, damage: DamagedValue, tell: Notice) -> bool:
    """Drop the damaged values, with a notice; True when the file had to be moved aside instead (SQLite
    found it damaged while the values were checked)."""
    try:
        count = max(1, len(store.repair()))
    except CacheDamaged as worse:
        store.rebuild(worse)
        return True
    what = "a damaged value" if count == 1 else f"{count} damaged values"
    tell(f"openusage: the cache {store.path} held {what} ({damage}): dropped, and read again")
    return False


def _one_line(tell: Notice) -> Notice:
    """Notices as one printable line each, whatever a message quotes (a path, SQLite's own words)."""
    return lambda message: tell(printable_line(message))


def _open_store(env: Mapping[str, str], use_cache: bool, tell: Notice) -> Store | None:
    """The cache, or None: read without it (asked for, or it cannot be opened)."""
    if not use_cache:
        return None
    try:
        return Store(paths.cache_path(env), notice=tell)
    except CacheError as exc:
        tell(f"openusage: {exc}: reading without it")
        return None


def _refresh_all(store: Store | None, accounts: list[Account], chosen: list[Account], env: Mapping[str, str],
                 progress: scan.Progress | None, scratch: ExitStack) -> dict[str, scan.Refreshed]:
    """Refresh the chosen accounts (and those they share calls with), their groups' ledgers settled.
    Without a store, the settled calls (`_settled_rows`, `settled.owned_by_account`) come from the
    calls a refresh held in memory, or from the scratch file a very large history was read through,
    entered on `scratch` (`scan.refresh`): the caller closes it once done with the ledgers and the
    rows. The accounts of a group keep their calls whatever the size: `groups.ledgers` settles them
    together in memory."""
    sharing = groups.sharing(accounts, lambda account: _provider(account).shares_calls_across_accounts)
    grouped = {account.id for group in sharing for account in group}
    refreshed = {account.id: scan.refresh(store, _provider(account), account, env, progress,
                                          keep_calls=store is None and account.id in grouped,
                                          keep_read_calls=store is None, scratch=scratch)
                 for account in groups.to_refresh(chosen, accounts, sharing)}
    for group in sharing:
        members = [(account.id, refreshed[account.id]) for account in group
                   if account.id in refreshed and refreshed[account.id].found]
        if len(members) > 1:
            settled_group = groups.ledgers(store, group[0].provider, members)
            for (account_id, one), settled in zip(members, settled_group, strict=True):
                refreshed[account_id] = one._replace(ledger=settled.ledger, elsewhere=settled.elsewhere)
    if store is not None:
        store.put_in_place()  # a cache just made: the processes waiting for it need not wait for the rest
    return refreshed


def _settled_rows(store: Store | None, accounts: list[Account],
                  refreshed: Mapping[str, scan.Refreshed]) -> "dict[str, list[CallRow]]":
    """The rows of the calls each refreshed account owns, its group settled."""
    from openusage import settled  # a snapshot in UTC whose prices need no call never asks for rows

    return settled.rows_by_account(store, [
        settled.Member(account.id, account.provider, refreshed[account.id],
                       _provider(account).shares_calls_across_accounts)
        for account in accounts if account.id in refreshed])


def _provider(account: Account) -> FileProvider:
    provider = file_provider(account.provider)
    assert provider is not None  # settings only accept registered providers; remote ones never come here
    return provider


def _costs(store: Store | None, chosen: list[Account], refreshed: Mapping[str, scan.Refreshed],
           rows: "Callable[[], Mapping[str, list[CallRow]]]", settings: Settings) -> priced.Costs:
    """The chosen accounts' costs per model, tied to the generations of every account refreshed with
    them (a group's calls are settled across its members)."""
    members = [priced.Member(account.id, _provider(account).upstream_provider, one.resolve_model.shown,
                             tuple((m.model, one.resolve_model.shown(m.model)) for m in one.ledger.summary().models),
                             one.ledger.model_days)
               for account in chosen if (one := refreshed[account.id]).found]
    return priced.account_costs(store, members, rows, settings.prices,
                                generations=[name for name, one in refreshed.items() if one.found])


def _account_snapshot(account: Account, refreshed: scan.Refreshed, now: datetime, *, costs: priced.Costs,
                      zoned: "tuple[list[CallRow], tzinfo] | None" = None) -> Snapshot:
    """The snapshot from the account's ledger; `zoned`: its calls and a zone whose days are not UTC
    days, which then give today, 7 d and the daily series."""
    window = windows(now)
    if zoned is None:
        counts, daily = refreshed.ledger.windows(window), refreshed.ledger.daily()
    else:
        counts, daily = zone_figures(zoned[0], zoned[1], window)
    figures = AccountFigures(
        found=refreshed.found,
        problem=refreshed.problem,
        summary=refreshed.ledger.summary(),
        windows=counts,
        daily=daily,
        resolve_model=refreshed.resolve_model,
        files=refreshed.files,
        files_unreadable=refreshed.unreadable,
        calls_elsewhere=refreshed.elsewhere,
        notices=refreshed.resolve_model.problems,
        costs=costs.by_account.get(account.id, {}) if refreshed.found else None,
        price_data=costs.data,
    )
    return build_snapshot(account.id, _info(_provider(account)), figures)


def _info(provider: FileProvider) -> ProviderInfo:
    return ProviderInfo(provider.id, provider.title, provider.upstream_provider, provider.missing_message,
                        provider.scopes, provider.compaction_scope, provider.shares_calls_across_accounts,
                        provider.reports_reasoning)


def demo_home(root: Path, now: datetime) -> dict[str, str]:
    """An environment in which every provider that has a sample home (`write_demo`) finds a generated
    one, under `root`, and nothing of the user's own: for `openusage --demo`."""
    env = {"HOME": str(root), "PATH": ""}  # no agent of the user's is found from here
    for provider in file_providers():
        if provider.write_demo(root / provider.id, now):
            env[provider.home_variable] = str(root / provider.id)
    settings = root / "settings.json"  # the defaults, whatever the user's own settings say
    settings.write_text("{}\n", encoding="utf-8")
    return {**env, "OPENUSAGE_CONFIG": str(settings), "OPENUSAGE_CACHE_DIR": str(root / "cache")}
