"""Where prices come from: genai-prices' bundled database, the dated alias table, the user's settings.

genai-prices (Pydantic's MIT-licensed price database) ships its data inside the package and is
never asked to fetch anything: the prices are those of the installed version. It imports pydantic
(~0.25 s), so a model's rates come from the price table made from it at install time
(pricetable.py) and genai-prices is imported only when that table does not fit the installed
version, and only for rates not already in the cache (`priced.py`); each model's rates are kept as a
plain `cost.Schedule`, keyed by a fingerprint of the installed data, and a new version is read once.

Some names the agents record are not models: `kimi-for-coding` is the Kimi Code subscription's
rolling id, upgraded in place to a new model from time to time, and `k3` is the subscription's
name for Kimi K3. `ALIASES` says which real model such a name served from which instant, each row
with its public source in docs/pricing.md; a user's own aliases and prices (settings.json
`"prices"`) win over both the table and the database.
"""

import importlib.util
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from openusage.cost import DAY, Priced, Rates, Schedule, day_rates, flat, undated_rates

# Bumped whenever ALIASES or the way a schedule is built changes: cached rates and costs are redone.
PRICING_VERSION = 1


class AliasRow(NamedTuple):
    """From `since` (UTC seconds; None: from the beginning) the names in `names` served `model`."""

    names: tuple[str, ...]
    since: float | None
    model: str


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


_FOR_CODING = ("kimi-for-coding", "kimi-code/kimi-for-coding")
_K3 = ("k3", "kimi-code/k3", "k3[1m]", "kimi-code/k3[1m]", "k3-256k", "kimi-code/k3-256k")

# Sources, one per row, in docs/pricing.md ("The alias table").
ALIASES: tuple[AliasRow, ...] = (
    AliasRow(_FOR_CODING, None, "kimi-k2.5"),
    AliasRow(_FOR_CODING, _at("2026-04-20T15:28:10"), "kimi-k2.6"),
    AliasRow(_FOR_CODING, _at("2026-06-12T00:00:00"), "kimi-k2.7-code"),
    AliasRow(_FOR_CODING, _at("2026-09-11T00:00:00"), "kimi-k2.8-preview"),
    AliasRow(("kimi-for-coding-highspeed", "kimi-code/kimi-for-coding-highspeed"), None, "kimi-k2.7-code-highspeed"),
    AliasRow(_K3, None, "kimi-k3"),
)


class UserPrices(NamedTuple):
    """settings.json `"prices"`: aliases (name → model, at every time) and the user's own rates per
    model, which win over the database."""

    aliases: Mapping[str, str] = {}
    models: Mapping[str, Rates] = {}

    def fingerprint(self) -> str:
        return repr((sorted(self.aliases.items()), sorted(self.models.items())))


def alias_steps(name: str, user: UserPrices) -> tuple[tuple[float | None, str], ...]:
    """Which model `name` stood for, as (since, model) steps, oldest first; ((None, name),) when it
    is no alias. A user's alias applies at every time and wins over the table."""
    if name in user.aliases:
        return ((None, user.aliases[name]),)
    rows = tuple((row.since, row.model) for row in ALIASES if name in row.names)
    return rows or ((None, name),)


# -- the installed price data -------------------------------------------------------------------------
def data_fingerprint() -> str | None:
    """Identifies the installed genai-prices data without importing it (a stat of its data file);
    None when genai-prices is not installed."""
    package = genai_prices_dir()
    if package is None:
        return None
    data = package / "data.py"
    try:
        stat = os.stat(data)
    except OSError:
        return None
    return f"{PRICING_VERSION}:{data}:{stat.st_size}:{stat.st_mtime_ns}"


def genai_prices_dir() -> Path | None:
    """The installed genai-prices package's directory, found without importing it; None when it is
    not installed."""
    try:
        spec = importlib.util.find_spec("genai_prices")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


class DataInfo(NamedTuple):
    """The price data's version and date: genai-prices' version, and the newest date from which any
    price in it applies (the data carries no date of its own)."""

    version: str
    date: str | None


def data_info() -> DataInfo:
    """The price data's version and date: from the price table made from the installed genai-prices
    (pricetable.py), else from the child that imported genai-prices while the files were read
    (pricefetch.py), else from genai-prices in this process."""
    from openusage import pricefetch, pricetable

    table = pricetable.current()
    if table is not None:
        return DataInfo(*table.info)

    answered, answer = pricefetch.ask("data", None)
    if answered and isinstance(answer, tuple) and len(answer) == 2:
        return DataInfo(*answer)
    return data_info_here()


def data_info_here() -> DataInfo:
    import genai_prices
    from genai_prices import types
    from genai_prices.data import providers

    newest = None
    for provider in providers:
        for model in provider.models:
            if isinstance(model.prices, list):
                for conditional in model.prices:
                    if isinstance(conditional.constraint, types.StartDateConstraint):
                        day = conditional.constraint.start_date
                        newest = day if newest is None or day > newest else newest
    return DataInfo(str(genai_prices.__version__), None if newest is None else newest.isoformat())


def database_schedules(models: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], Schedule | None]:
    """Each (model, provider hint)'s schedule from genai-prices (None: it knows no such model): from
    the price table made from the installed genai-prices (pricetable.py), else from the child that
    imported it while the files were read (pricefetch.py), else in this process."""
    from openusage import pricefetch, pricetable

    wanted = list(models)
    table = pricetable.current()
    if table is not None:
        try:
            return {(model, hint): table.schedule(model, hint) for model, hint in wanted}
        except pricetable.DAMAGED:
            pass  # a table damaged inside: genai-prices answers, as without one
    answered, answer = pricefetch.ask("schedules", wanted)
    if answered and isinstance(answer, list) and all(isinstance(item, tuple) and len(item) == 2 for item in answer):
        return {(str(key[0]), key[1]): schedule for key, schedule in answer}
    return database_schedules_here(wanted)


def database_schedules_here(models: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None],
                                                                              Schedule | None]:
    """`database_schedules`, computed in this process."""
    import warnings

    import genai_prices

    found: dict[tuple[str, str | None], Schedule | None] = {}
    for model, hint in models:
        info = None
        for provider in (hint, None) if hint else (None,):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    info = genai_prices.calc_price(genai_prices.Usage(input_tokens=0), model,
                                                   provider_id=provider).model
                break
            except LookupError:
                continue
        found[(model, hint)] = None if info is None else _schedule(info)
    return found


def _schedule(info: Any) -> Schedule:
    """A genai-prices model's prices as a schedule: the rates in force from each date a price starts
    and in each time-of-day window it names, each read with the model's own `get_prices` so that
    genai-prices decides which price applies."""
    from datetime import date, time, timedelta

    from genai_prices import types

    constraints = [conditional.constraint for conditional in info.prices] if isinstance(info.prices, list) else []
    days = sorted({c.start_date for c in constraints if isinstance(c, types.StartDateConstraint)})
    seconds = {0}
    for c in constraints:
        if isinstance(c, types.TimeOfDateConstraint):
            seconds.update(_second(t) for t in (c.start_time, c.end_time))
    entries: list[tuple[float, tuple[tuple[int, Any], ...]]] = []
    for day in [date(1970, 1, 2), *days]:
        start = float("-inf") if not entries else datetime.combine(day, time(0), UTC).timestamp()
        midnight = datetime.combine(day, time(0), UTC)
        windows = tuple((second, _tiered(info.get_prices(midnight + timedelta(seconds=second))))
                        for second in sorted(seconds))
        if not entries or entries[-1][1] != windows:
            entries.append((start, windows))
    return tuple(entries)


def _second(moment: Any) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    utc = datetime.combine(datetime(1970, 1, 1).date(), aware).astimezone(UTC)
    return utc.hour * 3600 + utc.minute * 60 + utc.second


_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "requests_kcount")


def _tiered(price: Any) -> tuple[Rates, tuple[tuple[int, Rates], ...]]:
    """One genai-prices `ModelPrice` as base rates and the rates above each prompt-size threshold."""
    values = [getattr(price, key, None) for key in _KEYS]
    tiered: list[Any] = [value for value in values if hasattr(value, "tiers")]
    thresholds = sorted({tier.start for value in tiered for tier in value.tiers})
    base = _rates(values, None)
    return base, tuple((threshold, _rates(values, threshold)) for threshold in thresholds)


def _rates(values: list[Any], threshold: int | None) -> Rates:
    def at(value: Any) -> float | None:
        if value is None:
            return None
        if not hasattr(value, "tiers"):
            return float(value)
        chosen = value.base
        for tier in value.tiers:
            if threshold is not None and tier.start <= threshold:
                chosen = tier.price
        return float(chosen)

    input_, output, read, write, requests = (at(value) for value in values)
    rate_in = input_ or 0.0
    return (rate_in, output or 0.0, rate_in if read is None else read, rate_in if write is None else write,
            (requests or 0.0) / 1000)


# -- one name, at one time ----------------------------------------------------------------------------
class Book:
    """Answers how a model name is priced at a time, from the user's prices, the alias table and the
    database's schedules (given for every model `targets` names)."""

    def __init__(self, user: UserPrices, schedules: Mapping[str, Schedule | None]) -> None:
        self.user = user
        self.schedules = schedules
        self._steps: dict[str, tuple[tuple[float, ...], tuple[Priced, ...]]] = {}

    def steady(self, name: str) -> Priced | None:
        """How `name` is priced when that never depends on the time (it is no dated alias)."""
        self.resolve(name, None)
        priced = self._steps[name][1]
        return priced[0] if len(priced) == 1 else None

    def resolve_day(self, name: str, day: int | None, peak: int) -> Priced | None:
        """How `name` is priced all through UTC day `day` for calls whose prompts are at most `peak`
        tokens (a flat schedule of that day's rates, or no price); None when its alias or its price
        changes inside the day, or depends on the time of day, or a prompt may reach a tier: then the
        day's calls are priced one by one. Day None stands for the calls without a time, priced at
        the newest rates (`resolve(name, None)`)."""
        if day is None:
            undated = self.resolve(name, None)
            if undated.schedule is None:
                return undated
            rates = undated_rates(undated.schedule, peak)
            return None if rates is None else undated._replace(schedule=flat(rates))
        start, end = day * DAY, (day + 1) * DAY
        self.resolve(name, None)
        starts = self._steps[name][0]
        if any(start < begin < end for begin in starts):
            return None
        one = self.resolve(name, start)
        if one.schedule is None:
            return one
        rates = day_rates(one.schedule, day, peak)
        return None if rates is None else one._replace(schedule=flat(rates))

    def resolve(self, name: str, time: float | None) -> Priced:
        entry = self._steps.get(name)
        if entry is None:
            steps = alias_steps(name, self.user)
            starts = tuple(float("-inf") if since is None else since for since, _ in steps)
            alias = steps != ((None, name),) and name not in self.user.aliases
            entry = self._steps[name] = (starts, tuple(self.priced(name, model)._replace(alias=alias)
                                                       for _, model in steps))
        starts, priced = entry
        if len(priced) == 1:
            return priced[0]
        if time is None:
            return priced[-1]
        index = 0
        for position, start in enumerate(starts):
            if start <= time:
                index = position
        return priced[index]

    def priced(self, name: str, target: str) -> Priced:
        """How `name` is priced when it stands for `target`: the user's price for either, else the
        database's."""
        for key in (name, target):
            if key in self.user.models:
                return Priced(key, flat(self.user.models[key]), "settings")
        schedule = self.schedules.get(target)
        return Priced(target, schedule, "genai-prices" if schedule is not None else "none")


def targets(names: Iterable[str], user: UserPrices) -> set[str]:
    """Every model the names may stand for, at any time, that the database must price."""
    wanted: set[str] = set()
    for name in names:
        if name in user.models:
            continue
        wanted.update(model for _, model in alias_steps(name, user) if model not in user.models)
    return wanted

