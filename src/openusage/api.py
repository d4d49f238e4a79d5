"""The calls every front end uses: which accounts there are, and a snapshot of each.

The CLI, and later the dashboard and exporters, call these and nothing below them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from openusage import groups, paths, scan
from openusage.cachefile import CacheDamaged
from openusage.errors import CacheError, UsageInputError, printable_line
from openusage.providers import PROVIDERS, provider_by_id
from openusage.providers.base import Account, Detection, FileProvider
from openusage.settings import Settings, load_settings
from openusage.snapshot import AccountFigures, ProviderInfo, Snapshot, SnapshotSet, build_snapshot
from openusage.store import Store
from openusage.stored import DamagedValue
from openusage.windows import windows

Notice = Callable[[str], None]


class DetectReport(NamedTuple):
    settings: Settings
    detections: tuple[Detection, ...]
    accounts: tuple[Account, ...]


def detect(env: Mapping[str, str], *, detailed: bool = False) -> DetectReport:
    """What each provider found on this machine, and the accounts that result with the settings.
    `detailed` also counts sessions (for `openusage detect`; a snapshot does not need it)."""
    settings = load_settings(paths.settings_path(env), [p.id for p in PROVIDERS])
    detections = tuple(provider.detect(env, detailed=detailed) for provider in PROVIDERS)
    return DetectReport(settings, detections, _accounts(settings, detections))


def _accounts(settings: Settings, detections: tuple[Detection, ...]) -> tuple[Account, ...]:
    configured = {account.id: account for account in settings.accounts}
    accounts: list[Account] = []
    if settings.auto_detect:
        for detection in detections:
            if detection.account is not None:
                accounts.append(configured.pop(detection.account.id, detection.account))
    accounts.extend(configured.values())
    return tuple(accounts)


def snapshot(env: Mapping[str, str], now: datetime, *, account_id: str | None = None, use_cache: bool = True,
             progress: scan.Progress | None = None, notice: Notice | None = None) -> SnapshotSet:
    """Refresh the store from disk for the chosen accounts and answer their snapshots as of `now`."""
    accounts = list(detect(env).accounts)
    chosen = accounts
    if account_id is not None:
        chosen = [account for account in accounts if account.id == account_id]
        if not chosen:
            known = ", ".join(a.id for a in accounts) or "none detected or configured"
            raise UsageInputError(f"no account {account_id!r} (accounts: {known})")
    tell = _one_line(notice or (lambda _message: None))
    store = _open_store(env, use_cache, tell)
    if store is None:
        return SnapshotSet(now, _snapshots(None, accounts, chosen, env, now, progress))
    try:
        snapshots = _cached_snapshots(store, accounts, chosen, env, now, progress, tell)
    finally:
        store.close()
    return SnapshotSet(now, snapshots)


def _cached_snapshots(store: Store, accounts: list[Account], chosen: list[Account], env: Mapping[str, str],
                      now: datetime, progress: scan.Progress | None, tell: Notice) -> tuple[Snapshot, ...]:
    """`_snapshots` with the cache. Damage is mended and the refresh done again: a damaged stored
    value is dropped (that file is read again, that ledger computed again); a cache file SQLite says
    is damaged, or one still damaged after its values were dropped, is moved aside and rebuilt. Any
    other failure of the cache (or a new cache damaged at once): the figures do not need it, so every
    account is read again without it."""
    mended = rebuilt = False
    try:
        while True:
            try:
                return _snapshots(store, accounts, chosen, env, now, progress)
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
        return _snapshots(None, accounts, chosen, env, now, progress)


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


def _snapshots(store: Store | None, accounts: list[Account], chosen: list[Account], env: Mapping[str, str],
               now: datetime, progress: scan.Progress | None) -> tuple[Snapshot, ...]:
    """Refresh the chosen accounts (and those they share calls with), then answer the chosen ones."""
    sharing = groups.sharing(accounts, lambda account: _provider(account).shares_calls_across_accounts)
    grouped = {account.id for group in sharing for account in group}
    refreshed = {account.id: scan.refresh(store, _provider(account), account, env, progress,
                                          keep_calls=store is None and account.id in grouped)
                 for account in groups.to_refresh(chosen, accounts, sharing)}
    for group in sharing:
        members = [(account.id, refreshed[account.id]) for account in group
                   if account.id in refreshed and refreshed[account.id].found]
        if len(members) > 1:
            settled_group = groups.ledgers(store, group[0].provider, members)
            for (account_id, one), settled in zip(members, settled_group, strict=True):
                refreshed[account_id] = one._replace(ledger=settled.ledger, elsewhere=settled.elsewhere)
    return tuple(_account_snapshot(account, refreshed[account.id], now) for account in chosen)


def _provider(account: Account) -> FileProvider:
    provider = provider_by_id(account.provider)
    assert provider is not None  # settings only accept registered providers
    return provider


def _account_snapshot(account: Account, refreshed: scan.Refreshed, now: datetime) -> Snapshot:
    figures = AccountFigures(
        found=refreshed.found,
        problem=refreshed.problem,
        summary=refreshed.ledger.summary(),
        windows=refreshed.ledger.windows(windows(now)),
        resolve_model=refreshed.resolve_model,
        files=refreshed.files,
        files_unreadable=refreshed.unreadable,
        calls_elsewhere=refreshed.elsewhere,
    )
    return build_snapshot(account.id, _info(_provider(account)), figures)


def _info(provider: FileProvider) -> ProviderInfo:
    return ProviderInfo(provider.id, provider.title, provider.upstream_provider, provider.missing_message,
                        provider.scopes, provider.compaction_scope, provider.shares_calls_across_accounts)


def demo_home(root: Path, now: datetime) -> dict[str, str]:
    """An environment whose Kimi home is a generated sample, for `openusage --demo`."""
    from openusage.demo import write_demo_home

    write_demo_home(root / "kimi", now)
    return {"HOME": str(root), "KIMI_SHARE_DIR": str(root / "kimi"), "PATH": "",
            "OPENUSAGE_CONFIG": str(root / "settings.json"), "OPENUSAGE_CACHE_DIR": str(root / "cache")}
