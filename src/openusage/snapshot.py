"""The snapshot: what every front end shows for one account.

Pure: no files, no SQL. `build_snapshot` turns one account's summary (totals, models, days of its
de-duplicated calls) and window counts into the metrics, per-model rows and daily series the
renderers draw and the JSON carries. `remote_snapshot` wraps a remote source's reading (a balance,
a plan quota) in the same envelope, its figures in `remote`.
"""

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Literal, NamedTuple

from openusage.cost import ModelCost, total_usd
from openusage.pricing import DataInfo
from openusage.records import FileDiagnostics, split_upstream, with_upstream
from openusage.summary import DailyRow, Summary, WindowCounts

if TYPE_CHECKING:  # loaded only with a remote account (the warm local path stays as it was)
    from openusage.remote import Reading
else:
    Reading = object  # a stand-in for the field annotation below, evaluated when the class is made

Status = Literal["ok", "unknown", "error"]


class Metric(NamedTuple):
    used: int
    unit: str
    window: str


class ModelRow(NamedTuple):
    model: str
    upstream_provider: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    requests: int
    cost_usd: float | None = None  # estimated at list prices; None: no price known (never 0)
    unpriced_requests: int = 0  # calls of this model without a price, left out of cost_usd
    # The part of output_tokens reported as reasoning (informational, never added to anything); None
    # where the provider does not separate it.
    reasoning_output_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        """input + output: what `total_tokens` means everywhere in openusage."""
        return self.input_tokens + self.output_tokens

    @property
    def all_tokens(self) -> int:
        """All four counts: input, output, cache read and cache write."""
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


class DailyPoint(NamedTuple):
    date: str  # ISO date of the bucket, e.g. "2026-11-20"
    value: int


class CostSummary(NamedTuple):
    """The account's estimated cost at list prices: the sum over priced calls (None when there are
    calls and none has a price), the calls and models left out for want of a price, whether some of
    it is the API-equivalent value of subscription calls (not money spent), and the price data."""

    usd: float | None
    unpriced_requests: int
    unpriced_models: tuple[str, ...]
    subscription: bool
    data: DataInfo | None


class Snapshot(NamedTuple):
    account_id: str
    provider_id: str
    title: str
    status: Status
    message: str
    metrics: dict[str, Metric]
    models: tuple[ModelRow, ...]
    daily_series: dict[str, tuple[DailyPoint, ...]]
    diagnostics: dict[str, int | dict[str, int]]
    # One line each: something the figures were computed around (a config file that could not be used).
    notices: tuple[str, ...] = ()
    remote: Reading | None = None  # a remote source's figures; None for a file source
    cost: CostSummary | None = None  # None: not priced (figures built without prices)


class SnapshotSet(NamedTuple):
    """Every account's snapshot, as of one moment, with days in one zone."""

    generated_at: datetime
    snapshots: tuple[Snapshot, ...]
    tz: tzinfo = UTC

    @property
    def tz_name(self) -> str:
        return zone_name(self.tz)

    @property
    def generated_at_iso(self) -> str:
        return self.generated_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AccountFigures(NamedTuple):
    """What the store answered for one account: its summary and window counts, and what reading its
    files ran into."""

    found: bool
    problem: str | None  # why an existing sessions directory could not be read
    summary: Summary
    windows: WindowCounts
    daily: tuple[DailyRow, ...]  # by the days of the snapshot's zone
    resolve_model: Callable[[str | None], str]
    files: FileDiagnostics
    files_unreadable: int
    calls_elsewhere: int = 0  # held here, owned (and counted) by another account of the provider
    notices: tuple[str, ...] = ()  # what the snapshot passes on (see Snapshot.notices)
    costs: dict[str, ModelCost] | None = None  # per model as shown; None: not priced
    price_data: DataInfo | None = None


class AgentHome(NamedTuple):
    """Where one provider's agent keeps its data unless told otherwise (as a user writes it), the
    environment variable that names another place, and the `sessions_dir` an account in the settings
    would give for the default (None: the provider takes no such key)."""

    provider: str
    title: str
    default: str
    variable: str
    sessions_dir: str | None


class RemoteTile(NamedTuple):
    """A remote source's tile and how a user turns it on (`RemoteSource.turned_on_by`)."""

    provider: str
    title: str
    turned_on_by: str


class ProviderInfo(NamedTuple):
    id: str
    title: str
    upstream_provider: str
    missing_message: str
    scopes: tuple[str, ...]  # the kinds of call its records name; () for none
    compaction_scope: str | None
    shares_calls_across_accounts: bool = False
    reports_reasoning: bool = False  # its records separate reasoning tokens (a part of output)


def build_snapshot(account_id: str, provider: ProviderInfo, figures: AccountFigures) -> Snapshot:
    summary = figures.summary
    metrics = {
        "total_sessions": Metric(summary.sessions, "sessions", "all-time"),
        "sessions_today": Metric(figures.windows.today, "sessions", "today"),
        "sessions_7d": Metric(figures.windows.week, "sessions", "7d"),
        "total_input_tokens": Metric(summary.input, "tokens", "all-time"),
        "total_output_tokens": Metric(summary.output, "tokens", "all-time"),
        "total_cache_read": Metric(summary.cache_read, "tokens", "all-time"),
        "total_cache_write": Metric(summary.cache_write, "tokens", "all-time"),
        "total_tokens": Metric(summary.input + summary.output, "tokens", "all-time"),
    }
    if provider.reports_reasoning:  # a part of output, shown beside it: never added to a total
        metrics["reasoning_output_tokens"] = Metric(summary.reasoning, "tokens", "all-time")
    scopes = {scope: (calls, tokens) for scope, calls, tokens in summary.scopes}
    if provider.compaction_scope is not None:
        calls, tokens = scopes.get(provider.compaction_scope, (0, 0))
        metrics["compaction_calls"] = Metric(calls, "calls", "all-time")
        metrics["compaction_tokens"] = Metric(tokens, "tokens", "all-time")
    diagnostics = _diagnostics(summary, figures)
    if provider.scopes:
        by_scope = {scope: scopes.get(scope, (0, 0))[0] for scope in provider.scopes}
        by_scope["none"] = sum(calls for scope, (calls, _) in scopes.items() if scope not in provider.scopes)
        diagnostics["records_by_scope"] = by_scope
    if provider.shares_calls_across_accounts:
        diagnostics["records_in_other_accounts"] = figures.calls_elsewhere
    rows = _model_rows(summary, provider.upstream_provider, figures.resolve_model, provider.reports_reasoning)
    cost = None
    if figures.costs is not None:
        rows, cost = _priced_rows(rows, provider.upstream_provider, figures.costs, figures.price_data)
        diagnostics["unpriced_requests"] = {name: one.unpriced_calls for name, one in sorted(figures.costs.items())
                                            if one.unpriced_calls}
    return Snapshot(account_id, provider.id, provider.title, *_status(provider, figures), metrics, rows,
                    _daily(figures.daily), diagnostics, figures.notices, cost=cost)


def _priced_rows(rows: tuple[ModelRow, ...], usual: str, costs: dict[str, ModelCost],
                 data: DataInfo | None) -> tuple[tuple[ModelRow, ...], CostSummary]:
    """The model rows with their cost (`costs` by `ModelResolver.shown`: a row of another upstream
    provider than the `usual` one has its own), and the account's cost summary."""
    priced = tuple(row._replace(cost_usd=costs[key].usd, unpriced_requests=costs[key].unpriced_calls)
                   if (key := _shown(row, usual)) in costs else row for row in rows)
    every = list(costs.values())
    missing = tuple(sorted({target for one in every for target in one.unpriced_targets}))
    summary = CostSummary(total_usd(every), sum(one.unpriced_calls for one in every), missing,
                          any(one.subscription and one.usd is not None for one in every), data)
    return priced, summary


def remote_snapshot(account_id: str, provider_id: str, title: str, reading: "Reading") -> Snapshot:
    """A remote account's snapshot: its reading, with a status a front end colours by."""
    return Snapshot(account_id, provider_id, title, _remote_status(reading), reading.message, {}, (), {}, {},
                    (), reading)


def _remote_status(reading: "Reading") -> Status:
    if reading.state in {"ok", "low"} or (reading.state == "offline" and reading.has_figures):
        return "ok"
    if reading.state in {"offline", "no_key", "signed_out"}:
        return "unknown"  # nothing failed: there is nothing to show yet
    return "error"


def _status(provider: ProviderInfo, figures: AccountFigures) -> tuple[Status, str]:
    if figures.problem is not None:
        return "error", figures.problem
    if not figures.found:
        return "unknown", provider.missing_message
    count = figures.summary.sessions
    tokens = compact_number(figures.summary.input + figures.summary.output)
    return "ok", f"{count} session{'' if count == 1 else 's'}, {tokens} tokens"


def _model_rows(summary: Summary, usual: str, resolve: Callable[[str | None], str],
                reports_reasoning: bool) -> tuple[ModelRow, ...]:
    """Each recorded model resolved with the account's config, with the upstream provider its calls are
    marked with (`records.with_upstream`: the owning thread's; else the provider's `usual` one); records
    that resolve to the same name and upstream share a row. Sorted by all four counts, largest first,
    then by name and upstream."""
    merged: dict[tuple[str, str], list[int]] = {}
    for m in summary.models:
        model, upstream = split_upstream(m.model)
        sums = merged.setdefault((resolve(model), upstream or usual), [0, 0, 0, 0, 0, 0])
        for index, value in enumerate((m.input, m.output, m.cache_read, m.cache_write, m.calls, m.reasoning)):
            sums[index] += value
    rows = [ModelRow(name, upstream, i, o, r, w, n, reasoning_output_tokens=reasoning if reports_reasoning else None)
            for (name, upstream), (i, o, r, w, n, reasoning) in merged.items()]
    rows.sort(key=lambda row: (-row.all_tokens, row.model, row.upstream_provider))
    return tuple(rows)


def _shown(row: ModelRow, usual: str) -> str:
    """The row's key among the account's costs (`ModelResolver.shown`)."""
    return row.model if row.upstream_provider == usual else with_upstream(row.model, row.upstream_provider)


def _daily(daily: tuple[DailyRow, ...]) -> dict[str, tuple[DailyPoint, ...]]:
    return {
        "sessions": tuple(DailyPoint(date, sessions) for date, sessions, _ in daily),
        "tokens": tuple(DailyPoint(date, tokens) for date, _, tokens in daily),
    }


def _diagnostics(summary: Summary, figures: AccountFigures) -> dict[str, int | dict[str, int]]:
    return {
        "files_read": figures.files.files_read,
        "records_counted": summary.calls,
        "duplicate_records": summary.copies - summary.calls,
        "zero_records": figures.files.zero_records,
        "lines_skipped": sum(figures.files.skipped.values()),
        "skipped_by_reason": dict(sorted(figures.files.skipped.items())),
        "files_unreadable": figures.files_unreadable,
    }


def zone_name(tz: tzinfo) -> str:
    """The IANA name of a zone (`UTC` for UTC)."""
    return "UTC" if tz is UTC else str(getattr(tz, "key", None) or tz.tzname(None) or tz)


_UNITS = ((1_000, "K"), (1_000_000, "M"), (1_000_000_000, "B"), (1_000_000_000_000, "T"))


def compact_number(n: int) -> str:
    """999, 1.2K, 12.3K, 123K, 4.1M, 2.3B: the figure a person reads at a glance, never more than four
    digits, so the status message and the tile's columns stay narrow."""
    if n < 0:
        return "-" + compact_number(-n)
    if n < 1000:
        return str(n)
    for size, suffix in _UNITS:
        scaled = n / size
        text = f"{scaled:.1f}" if scaled < 99.95 else f"{scaled:.0f}"
        # 999_950 rounds to "1000K": the next unit up says it in fewer digits.
        if float(text) < 1000:
            return text + suffix
    size, suffix = _UNITS[-1]
    return f"{n / size:.0f}{suffix}"
