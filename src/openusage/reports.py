"""Reports: the settled calls of a `CallsResult` summed into rows by day, week, month, session,
project or model, with a totals row the rows add up to.

Pure: no files, no SQL, no formatting. Days, weeks and months are the `Calendar`'s (the user's zone);
a call without a valid time goes to one undated row (key None), which only an unbounded query has,
since a bounded one leaves those calls out. Each call's cost comes from a `Price` (cost.py's
`CallPricer` over the price data) in whole units, so rows, breakdowns and totals add up exactly.

Reports are folded from a stream of calls that come each session's together (`build_stream`); a
session report, a row per session, puts its rows in a `RowSort` the caller gives (`store.RowSort`,
which sorts a large one outside memory) and reads them back when its rows are iterated
(`session_stream`); the facts of sessions come from a look-up asked a batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any, Literal, NamedTuple, Protocol

from openusage.cost import SCALE
from openusage.errors import UsageInputError
from openusage.files import unicode_text
from openusage.periods import Calendar, Range
from openusage.pricing import DataInfo
from openusage.query import CallsResult, SessionFacts, SettledCall

Kind = Literal["daily", "weekly", "monthly", "session", "project", "model"]
KINDS: tuple[Kind, ...] = ("daily", "weekly", "monthly", "session", "project", "model")
PERIOD_KINDS: tuple[Kind, ...] = ("daily", "weekly", "monthly")
Order = Literal["asc", "desc"]
UNKNOWN_PROJECT = "(unknown)"  # a session the provider told nothing about
_NO_FACTS = SessionFacts("", UNKNOWN_PROJECT)


class Price(Protocol):
    """Prices calls in cost.SCALE units (cost.CallsPricing): `fixed` gives a model's units when all
    its calls share them (None: no price, False: each call is priced by calling the object)."""

    def fixed(self, provider: str, model: str) -> tuple[int, int, int, int, int] | bool | None: ...

    def __call__(self, call: SettledCall) -> int | None: ...


class Counts(NamedTuple):
    """The four token counts of some calls (input excludes cache reads and writes), how many calls,
    the cost of those that have a price (in cost.SCALE units) and how many have none."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    calls: int
    cost: int | None = None  # None: not priced at all (no price data was given)
    unpriced: int = 0
    reasoning: int = 0  # the part of output reported as reasoning (Codex): informational, in no total

    @property
    def total(self) -> int:
        """input + output, as everywhere in openusage."""
        return self.input + self.output

    @property
    def cost_usd(self) -> float | None:
        """The estimated cost of the priced calls; None when every call lacks a price (never 0)."""
        if self.cost is None or (self.calls and self.unpriced == self.calls):
            return None
        return self.cost / SCALE


class ModelShare(NamedTuple):
    """One model's part of a row (`--breakdown`)."""

    model: str
    counts: Counts
    sessions: int


class SessionDetail(NamedTuple):
    """What a session row tells besides its figures; `first` / `last` are its first and last dated
    calls in the report's zone (None: none of its calls has a valid time)."""

    account: str
    provider: str
    title: str
    project: str
    first: datetime | None
    last: datetime | None

    @property
    def duration(self) -> timedelta | None:
        return None if self.first is None or self.last is None else self.last - self.first


class Row(NamedTuple):
    """One row: its key (a period's label, a session id, a project label or a model; None for the
    undated row), its counts, the sessions it holds, its models (most tokens first), each model's
    share when a breakdown was asked for, and for session rows the session's details."""

    key: str | None
    counts: Counts
    sessions: int
    models: tuple[str, ...]
    breakdown: tuple[ModelShare, ...] = ()
    session: SessionDetail | None = None
    providers: tuple[str, ...] = ()


class Options(NamedTuple):
    """How to build a report: its kind, the calendar (zone, week and month starts), the range asked
    for, whether rows are split by model, their order (None: the kind's own) and how many to keep."""

    kind: Kind
    calendar: Calendar
    tz: str  # the zone's name, as the user gave it
    span: Range
    breakdown: bool = False
    order: Order | None = None
    limit: int | None = None


class Report(NamedTuple):
    kind: Kind
    tz: str
    span: Range
    rows: tuple[Row, ...]
    totals: Row
    breakdown: bool
    prices: DataInfo | None = None  # the price data the costs come from (None: none installed)

    @property
    def priced(self) -> bool:
        """Whether the report was built with prices (then every row has a cost, maybe unknown)."""
        return self.totals.counts.cost is not None


class _Sums:
    """A row while calls are added to it: its sums, how many sessions it holds (`sessions`) and how many
    of those have calls in no other row (`alone`), each model's sums and those two counts, its providers,
    and its first and last dated calls. While calls are folded, the sums are kept per (model, provider)
    in `fine`, since a price is a provider's model's (`priced` then sums them into the model's and the
    row's)."""

    __slots__ = ("alone", "fine", "first", "last", "models", "providers", "sessions", "sums")

    def __init__(self) -> None:
        self.sums = [0, 0, 0, 0, 0, 0, 0, 0]  # the four counts, calls, cost, unpriced calls, reasoning
        self.sessions = self.alone = 0
        self.models: dict[str, tuple[list[int], list[int]]] = {}  # model → its sums, [sessions, alone]
        self.fine: dict[tuple[str, str], list[int]] = {}
        self.providers: set[str] = set()
        self.first: float | None = None
        self.last: float | None = None

    def priced(self, fixed: dict[tuple[str, str], Any]) -> None:
        """Each (model, provider)'s sums priced when its calls share one set of rates (the cost is linear
        in the sums: the same units as pricing each session's sums), then added to the model's and the
        row's."""
        sums = self.sums
        for (model, provider), figures in self.fine.items():
            units = fixed.get((provider, model), False)
            if units is None:
                figures[6] = figures[4]
            elif units is not False:
                unit_in, unit_out, unit_read, unit_write, unit_call = units
                figures[5] = (unit_in * figures[0] + unit_out * figures[1] + unit_read * figures[2]
                              + unit_write * figures[3] + unit_call * figures[4])
            self.providers.add(provider)
            mine = self.models[model][0]
            for index, value in enumerate(figures):
                mine[index] += value
                sums[index] += value
        self.fine = {}

    def merge(self, other: _Sums) -> None:
        """Add another row's sums, providers, models' sums and first and last calls (not its sessions:
        a session can be in both; `_Spread.totals` counts them)."""
        for index, value in enumerate(other.sums):
            self.sums[index] += value
        self.providers |= other.providers
        for name, (sums, _sessions) in other.models.items():
            mine = self.models.setdefault(name, ([0, 0, 0, 0, 0, 0, 0, 0], [0, 0]))
            for index, value in enumerate(sums):
                mine[0][index] += value
        for moment in (other.first, other.last):
            if moment is not None:
                self.first = moment if self.first is None else min(self.first, moment)
                self.last = moment if self.last is None else max(self.last, moment)

    def row(self, key: str | None, breakdown: bool, priced: bool = True) -> Row:
        shares = sorted((ModelShare(name, _counts(sums, priced), sessions[0]) for name, (sums, sessions)
                         in self.models.items()), key=lambda share: (-share.counts.total, share.model))
        return Row(key, _counts(self.sums, priced), self.sessions, tuple(share.model for share in shares),
                   tuple(shares) if breakdown else (), None, tuple(sorted(self.providers)))


class _Spread:
    """The sessions with calls in two or more rows, counted per set of rows they have calls in (and per
    model, per set of rows they have that model's calls in): with each row's sessions found in no other
    row, what the totals of any choice of rows need to count each session once. A session report or a
    project report has none (a session is one row); a daily one a few sets of adjacent days."""

    __slots__ = ("models", "rows")

    def __init__(self) -> None:
        self.rows: dict[frozenset[Hashable | None], int] = {}
        self.models: dict[tuple[str, frozenset[Hashable | None]], int] = {}

    def end_session(self, touched: dict[Hashable | None, set[str]], rows: dict[Hashable | None, _Sums]) -> None:
        """Count one session, once all its calls are folded: `touched` says which rows it has calls in,
        and which models in each."""
        if len(touched) == 1:
            for key, models in touched.items():
                sums = rows[key]
                sums.sessions += 1
                sums.alone += 1
                for model in models:
                    counts = sums.models[model][1]
                    counts[0] += 1
                    counts[1] += 1
            return
        keys = frozenset(touched)
        self.rows[keys] = self.rows.get(keys, 0) + 1
        model_rows: dict[str, list[Hashable | None]] = {}
        for key, models in touched.items():
            sums = rows[key]
            sums.sessions += 1
            for model in models:
                sums.models[model][1][0] += 1
                model_rows.setdefault(model, []).append(key)
        for model, where in model_rows.items():
            if len(where) == 1:
                rows[where[0]].models[model][1][1] += 1
            else:
                pair = (model, frozenset(where))
                self.models[pair] = self.models.get(pair, 0) + 1

    def totals(self, kept: list[tuple[Hashable | None, _Sums]], totals: _Sums) -> None:
        """Set the sessions of `totals` (the kept rows merged): each session with a call in a kept row
        once, overall and per model."""
        keys = {key for key, _ in kept}
        totals.sessions = sum(sums.alone for _, sums in kept) + sum(
            count for where, count in self.rows.items() if not keys.isdisjoint(where))
        for _, sums in kept:
            for model, (_figures, counts) in sums.models.items():
                totals.models[model][1][0] += counts[1]
        for (model, where), count in self.models.items():
            if not keys.isdisjoint(where):
                totals.models[model][1][0] += count


def _counts(sums: list[int], priced: bool) -> Counts:
    """Counts of the sums; without prices, no cost at all rather than calls counted as unpriced."""
    if priced:
        return Counts(*sums)
    return Counts(sums[0], sums[1], sums[2], sums[3], sums[4], reasoning=sums[7])


def check(options: Options) -> None:
    """A combination of options no report can meet is the user's error."""
    if options.breakdown and options.kind == "model":
        raise UsageInputError("--breakdown splits rows by model; the model report already has one row per model")
    if options.limit is not None and options.limit < 1:
        raise UsageInputError(f"--limit {options.limit}: at least 1")


def build(result: CallsResult, options: Options, price: Price | None = None) -> Report:
    """The report `options` asks for over every call of `result`, each call priced by `price` (None:
    no call has a price)."""
    check(options)
    # Each session's calls together (the settled calls come so: then this sort only checks them).
    calls = sorted(result.calls, key=lambda call: (call.account, call.session))
    return build_stream(calls, options, price, result.sessions)


def build_stream(calls: Iterable[SettledCall], options: Options, price: Price | None = None,
                 facts: dict[tuple[str, str], SessionFacts] | None = None) -> Report:
    """The report over `calls`, which must come each (account, session)'s together (`api.call_stream`):
    nothing is kept per session or per call, so a report over any number of calls holds its rows only.
    `facts`: the sessions' facts, for a session or project report."""
    check(options)
    facts = facts if facts is not None else {}  # the very dict given: `project_stream` fills it as calls come
    groups, spread = _fold(calls, _keyer(options.kind, options.calendar, facts), price)
    undated = groups.pop(None, None) or _Sums()
    ranked = sorted(groups.items(), key=lambda item: _rank(options.kind, item[0], item[1]))
    if options.limit is not None:
        ranked = ranked[: options.limit]
    descending = (options.order or _default_order(options.kind)) == "desc"
    ranked.sort(key=lambda item: _rank(options.kind, item[0], item[1]), reverse=not descending)
    # The undated row ranks last: a limit that leaves room keeps it.
    room = options.limit is None or len(ranked) < options.limit
    kept = [*ranked, *([(None, undated)] if undated.sums[4] and room else [])]
    totals = _Sums()
    rows = []
    priced = price is not None
    for key, sums in kept:
        totals.merge(sums)
        rows.append(_row(options, facts, key, sums, priced))
    spread.totals(kept, totals)
    return Report(options.kind, options.tz, options.span, tuple(rows), totals.row("total", options.breakdown, priced),
                  options.breakdown)


# A session report past this many sessions sorts its rows in a scratch file (`store.RowSort`); below,
# in memory (~1 KiB a row with its facts: 5 MiB at most), which is faster for a small history.
SORT_IN_MEMORY = 5_000
# Sessions whose facts are asked at once (a session report: ~0.5 KiB each while they wait, and about
# as much again while their facts are looked up), and calls held while their sessions' facts are
# asked (a project report: ~0.2 KiB each, and up to a session's facts each: 50,000 held 100 MiB at
# 200,000 one-call sessions): a bounded number, however many sessions there are, and not too many
# batches, since a provider asked for facts the cache does not have lists every session each time
# (~1-2 s at 200,000 sessions: the first session or project report after a first run).
FACTS_BATCH = 8192
FACTS_CALLS = 8192


class RowSort(Protocol):
    """Where a session report's rows wait to be given back in its order (`store.RowSort`)."""

    def clear(self) -> None: ...

    def add(self, last: float | None, account: str, session: str, value: Any) -> None: ...

    def ordered(self, *, reverse: bool, limit: int | None) -> Iterator[Any]: ...


FactsOf = Callable[[Iterable[tuple[str, str]]], dict[tuple[str, str], SessionFacts]]


class SessionReport:
    """A session report whose rows are read when iterated (and again when iterated again: the table
    measures them first), from a `RowSort` that must stay open meanwhile. `totals` is the totals row
    of the rows, known once they have all been iterated. Renderers take it where they take a `Report`."""

    kind: Kind = "session"

    def __init__(self, options: Options, rows: RowSort, priced: bool, prices: DataInfo | None = None) -> None:
        self.tz, self.span, self.breakdown = options.tz, options.span, options.breakdown
        self.prices = prices
        self.priced = priced
        self._options = options
        self._rows = rows
        self._totals: Row | None = None

    @property
    def rows(self) -> Iterator[Row]:
        """The rows in order, the totals counted on the way (each session is one row: its models and
        itself counted once)."""
        options = self._options
        descending = (options.order or _default_order("session")) == "desc"
        totals = _Sums()
        self._totals = None
        for value in self._rows.ordered(reverse=not descending, limit=options.limit):
            account, session, provider, first, last, title, project, figures, models = value
            sums = _Sums()
            sums.sums = list(figures)
            sums.models = {name: (list(own), [1, 1]) for name, own in models}
            sums.providers = {provider}
            sums.first, sums.last = first, last
            sums.sessions = sums.alone = 1
            totals.merge(sums)
            totals.sessions += 1
            for name in sums.models:
                totals.models[name][1][0] += 1
            key = (account, session)
            yield _row(options, {key: SessionFacts(title, project)}, key, sums, self.priced)
        self._totals = totals.row("total", options.breakdown, self.priced)

    @property
    def totals(self) -> Row:
        if self._totals is None:
            raise RuntimeError("a streamed report's totals are known once its rows have been read")
        return self._totals


def session_stream(calls: Iterable[SettledCall], options: Options, price: Price | None, facts: FactsOf,
                   rows: RowSort, prices: DataInfo | None = None) -> SessionReport:
    """The session report over `calls` (each (account, session)'s together), its rows put in `rows` as
    each session ends, with its facts asked `FACTS_BATCH` sessions at a time: nothing is held per
    session but in `rows`. `prices`: the price data `price` comes from, said when any call is."""
    check(options)
    rows.clear()  # a fold asked again from the start (a damaged value mended) starts afresh
    fixed: dict[tuple[str, str], Any] = {}
    # Sessions whose facts are still to be asked, each as its row will be stored but for them (~0.5 KiB).
    waiting: list[tuple[str, str, str, float | None, float | None, tuple[int, ...], list[tuple[str, tuple[int, ...]]]]]
    waiting = []

    def put() -> None:
        known = facts((account, session) for account, session, *_rest in waiting)
        for account, session, provider, first, last, figures, models in waiting:
            found = known.get((account, session), _NO_FACTS)
            rows.add(last, account, session,
                     (account, session, provider, first, last, found.title, found.project, figures, models))
        waiting.clear()

    def key_of(call: SettledCall) -> tuple[str, str]:
        return (call.account, call.session)

    sessions = 0
    for key, one in groupby(calls, key_of):
        sums = _fold(one, key_of, price, fixed)[0][key]
        waiting.append((key[0], key[1], next(iter(sums.providers)), sums.first, sums.last, tuple(sums.sums),
                        [(name, tuple(own)) for name, (own, _sessions) in sums.models.items()]))
        sessions += 1
        if len(waiting) >= FACTS_BATCH:
            put()
    if waiting:
        put()
    return SessionReport(options, rows, price is not None, prices if sessions else None)


def project_stream(calls: Iterable[SettledCall], options: Options, price: Price | None, facts: FactsOf) -> Report:
    """The project report over `calls` (each (account, session)'s together), the sessions' facts asked
    for `FACTS_CALLS` calls at a time as they come: a project report holds its rows (one per project)
    and one batch of calls."""
    known: dict[tuple[str, str], SessionFacts] = {}

    def batched() -> Iterator[SettledCall]:
        batch: list[SettledCall] = []
        for call in calls:
            batch.append(call)
            if len(batch) >= FACTS_CALLS:
                known.clear()
                known.update(facts({(one.account, one.session) for one in batch}))
                yield from batch
                batch = []
        if batch:
            known.clear()
            known.update(facts({(one.account, one.session) for one in batch}))
            yield from batch

    return build_stream(batched(), options, price, known)


def _fold(calls: Iterable[SettledCall], key_of: Callable[[SettledCall], Hashable | None],
          price: Price | None = None, fixed: dict[tuple[str, str], Any] | None = None
          ) -> tuple[dict[Hashable | None, _Sums], _Spread]:
    """The calls summed per row key (None: the undated row). The one loop over every call, kept tight:
    a history has hundreds of thousands of calls and sessions, and a report only tens of rows (a
    session report: a row per session). A session's calls come together, so its rows and models are
    counted when they end (`_Spread`): nothing is kept per session. `fixed`: (provider, model) → its
    units for every call, False or None, as found so far (kept across folds of one report)."""
    rows: dict[Hashable | None, _Sums] = {}
    spread = _Spread()
    fixed = {} if fixed is None else fixed
    account = session = None
    touched: dict[Hashable | None, set[str]] = {}  # the current session's rows, and its models in each
    for call in calls:
        if call.session != session or call.account != account:
            if touched:
                spread.end_session(touched, rows)
                touched = {}
            account, session = call.account, call.session
        key = key_of(call)
        sums = rows.get(key)
        if sums is None:
            sums = rows[key] = _Sums()
        model = call.model
        pair = (model, call.provider)
        figures = sums.fine.get(pair)
        if figures is None:
            figures = sums.fine[pair] = [0, 0, 0, 0, 0, 0, 0, 0]
            if model not in sums.models:
                sums.models[model] = ([0, 0, 0, 0, 0, 0, 0, 0], [0, 0])
            if price is not None and (call.provider, model) not in fixed:
                fixed[(call.provider, model)] = price.fixed(call.provider, model)
        # Only a model whose calls have rates of their own is priced call by call; the others once per row.
        if price is not None and fixed[(call.provider, model)] is False:
            cost = price(call)
            if cost is None:
                figures[6] += 1
            else:
                figures[5] += cost
        figures[0] += call.input
        figures[1] += call.output
        figures[2] += call.cache_read
        figures[3] += call.cache_write
        figures[4] += 1
        figures[7] += call.reasoning
        models = touched.get(key)
        if models is None:
            touched[key] = {model}
        else:
            models.add(model)
        time = call.time
        if time is not None:
            if sums.first is None or time < sums.first:
                sums.first = time
            if sums.last is None or time > sums.last:
                sums.last = time
    if touched:
        spread.end_session(touched, rows)
    for sums in rows.values():
        sums.priced(fixed)
    return rows, spread


def _keyer(kind: Kind, calendar: Calendar, facts: dict[tuple[str, str], SessionFacts]
           ) -> Callable[[SettledCall], Hashable | None]:
    """What each call is grouped by (None: the undated row)."""
    if kind in PERIOD_KINDS:
        return _period_keyer(kind, calendar)
    if kind == "session":
        return lambda call: (call.account, call.session)
    if kind == "project":
        return lambda call: facts.get((call.account, call.session), _NO_FACTS).project or UNKNOWN_PROJECT
    return lambda call: call.model


def _period_keyer(kind: Kind, calendar: Calendar) -> Callable[[SettledCall], Hashable | None]:
    """A call's day, week or month as the ordinal of its first day. Each UTC day is cut once into the
    local days that overlap it (one to three: a 23-hour day can lie inside a UTC day), so a call
    costs an int-keyed dict hit and a comparison or two; an int also hashes faster than a date."""
    bucket: Callable[[date], date] = {"weekly": calendar.week, "monthly": calendar.month}.get(kind, lambda day: day)
    cuts: dict[int, tuple[tuple[float, int], ...]] = {}  # UTC day → (instant, bucket ordinal) from then on

    def cut(utc_day: int) -> tuple[tuple[float, int], ...]:
        instant: float = utc_day * _DAY
        end = instant + _DAY
        pieces = []
        while instant < end:
            local = calendar.day(instant)
            pieces.append((instant, bucket(local).toordinal()))
            instant = calendar.end_of(local)
        return tuple(reversed(pieces))  # latest first: the first piece a time reaches is its own

    def key(call: SettledCall) -> Hashable | None:
        time = call.time
        if time is None:
            return None
        utc_day = int(time // _DAY)
        pieces = cuts.get(utc_day)
        if pieces is None:
            pieces = cuts[utc_day] = cut(utc_day)
        for start, ordinal in pieces:
            if time >= start:
                return ordinal
        raise AssertionError("a UTC day's first piece starts at its first instant")

    return key


_DAY = 86400


def _default_order(kind: Kind) -> Order:
    """Time runs down the page; projects and models show the largest first."""
    return "desc" if kind in ("project", "model") else "asc"


def _rank(kind: Kind, key: Hashable, sums: _Sums) -> tuple[object, ...]:
    """Sort key, best first: the most recent period or session, the largest project or model."""
    if kind in PERIOD_KINDS:
        assert isinstance(key, int)
        return (-key,)
    if kind == "session":
        return (-(sums.last if sums.last is not None else float("-inf")), key)
    return (-(sums.sums[0] + sums.sums[1]), key)


def _row(options: Options, facts: dict[tuple[str, str], SessionFacts], key: Hashable | None, sums: _Sums,
         priced: bool) -> Row:
    if key is None:
        return sums.row(None, options.breakdown, priced)
    if options.kind in PERIOD_KINDS:
        assert isinstance(key, int)
        first = date.fromordinal(key)
        label = options.calendar.month_label(first) if options.kind == "monthly" else first.isoformat()
        return sums.row(label, options.breakdown, priced)
    if options.kind == "session":
        assert isinstance(key, tuple)
        account, session = key
        found = facts.get((account, session), _NO_FACTS)
        local = options.calendar.local
        provider = next(iter(sums.providers))
        # Names as a report writes them (`files.unicode_text`: JSON, CSV and a terminal take Unicode text);
        # rows are grouped by the names as read.
        detail = SessionDetail(unicode_text(account), provider, unicode_text(found.title),
                               unicode_text(found.project or UNKNOWN_PROJECT),
                               None if sums.first is None else local(sums.first),
                               None if sums.last is None else local(sums.last))
        return sums.row(unicode_text(session), options.breakdown, priced)._replace(session=detail)
    assert isinstance(key, str)
    return sums.row(unicode_text(key), options.breakdown, priced)

