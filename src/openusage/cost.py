"""What calls would cost at list prices: a call's four counts times the rates in force at its time.

Pure: no files, no SQL, no price database. The rates arrive as a `Schedule` (built by `pricing.py`
from genai-prices or from the user's settings); this module picks the rates of one call and adds
calls up per model. Our `input` excludes cache reads and writes (Kimi's `input_other`, Codex's
input - cached), so the prompt a provider bills is input + cache_read + cache_write, and each part
is priced once at its own rate: nothing is billed twice, nothing is missed.

Sums are exact whatever order the calls come in: a cost is an integer number of `SCALE`ths of a
dollar (rates are turned into units per token once), so a run with the cache and one without, the
tile and a report, give the same figure to the last digit.
"""

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from openusage.query import SettledCall

PER = 1_000_000  # rates are USD per million tokens
DAY = 86_400
SCALE = 10**18  # cost units per USD: a rate of 0.000001 USD per million tokens is still a whole unit a token

# One set of rates, USD per million tokens, and a fee per call:
#   (input, output, cache_read, cache_write, per_call)
# A provider that prices no cache read (or write) bills those tokens as input: the rate is then the
# input rate, which is what genai-prices' calculator does with a part it has no price for.
Rates = tuple[float, float, float, float, float]
# Rates that depend on the prompt's size (input + cache_read + cache_write): the base rates, and the
# rates that apply to the whole call once the prompt exceeds a threshold (a "cliff", not a marginal
# rate), thresholds ascending.
Tiered = tuple[Rates, tuple[tuple[int, Rates], ...]]
# Tiered rates by time of day: (second of the UTC day it starts at, rates), the first at second 0.
Windows = tuple[tuple[int, Tiered], ...]
# A model's rates over time: (UTC seconds from which they apply, windows), ascending; the first
# entry applies from the beginning of time.
Schedule = tuple[tuple[float, Windows], ...]


def flat(rates: Rates) -> Schedule:
    """One set of rates for every call, at every time (a user's own prices)."""
    return ((float("-inf"), ((0, (rates, ())),)),)


def rates_at(schedule: Schedule, time: float | None, prompt: int) -> Rates:
    """The rates of a call at `time` (UTC seconds; None: unknown, priced at the newest rates) whose
    prompt is `prompt` tokens."""
    if len(schedule) == 1 or time is None:
        windows = schedule[-1][1] if time is None else schedule[0][1]
    else:
        index = bisect_right([start for start, _ in schedule], time) - 1
        windows = schedule[max(index, 0)][1]
    tiered = windows[0][1]
    if len(windows) > 1 and time is not None:
        second = int(time % DAY)
        for start, candidate in windows:
            if start <= second:
                tiered = candidate
    base, tiers = tiered
    chosen = base
    for threshold, rates in tiers:
        if prompt > threshold:
            chosen = rates
    return chosen


def call_cost(rates: Rates, input_: int, output: int, cache_read: int, cache_write: int, calls: int = 1) -> float:
    """USD of `calls` calls (or of their summed counts) at one set of rates."""
    rate_in, rate_out, rate_read, rate_write, per_call = rates
    tokens = rate_in * input_ + rate_out * output + rate_read * cache_read + rate_write * cache_write
    return tokens / PER + per_call * calls


class Priced(NamedTuple):
    """How one model name is priced: `schedule` (None: no price) of `target`, the model whose price
    it is (the name itself, or what an alias served), where the price comes from, and whether the name
    is a subscription's alias (its cost is then what the tokens would cost at list prices, not money
    spent)."""

    target: str
    schedule: Schedule | None
    origin: str  # "genai-prices", "settings" or "none"
    alias: bool = False


class ModelCost(NamedTuple):
    """One model's estimated cost over some calls: `usd` of the priced calls (None when none of them
    has a price: unknown, never 0), how many calls had no price, the models that lacked one, and
    whether the name is a subscription alias (API-equivalent value, not money spent)."""

    model: str
    usd: float | None
    priced_calls: int
    unpriced_calls: int
    unpriced_targets: tuple[str, ...]
    subscription: bool = False


# A call as cost needs it: model (as shown), time, input, output, cache_read, cache_write.
CostCall = tuple[str, float | None, int, int, int, int]
# Which prices a model name had at a time (aliases are dated, so the same name may change model).
Resolver = Callable[[str, float | None], Priced]
# The same name's prices when they never depend on the time (no dated alias): else None.
Steady = Callable[[str], Priced | None]


def model_costs(calls: Iterable[CostCall], resolve: Resolver, steady: Steady | None = None) -> dict[str, ModelCost]:
    """Each model's cost over `calls`, priced one by one at their own time."""
    by_model: dict[str, list[tuple[float | None, int, int, int, int]]] = {}
    for model, *rest in calls:
        by_model.setdefault(model, []).append(tuple(rest))  # type: ignore[arg-type]  # the five fields
    return grouped_costs(by_model, resolve, steady)


# A call within its model's group: time, input, output, cache_read, cache_write.
GroupCall = tuple[float | None, int, int, int, int]


def grouped_costs(by_model: Mapping[str, Sequence[GroupCall]], resolve: Resolver,
                  steady: Steady | None = None) -> dict[str, ModelCost]:
    """Each model's cost over its calls. A model whose rates are the same for every call (no dated
    alias, one price over time, no tiers, no time-of-day prices) has its counts summed in one pass;
    the others are priced call by call."""
    sums: dict[tuple[str, Rates], list[int]] = {}
    unpriced: dict[str, dict[str, int]] = {}
    aliases: set[str] = set()
    for model, group in by_model.items():
        if not group:
            continue
        fixed = steady(model) if steady is not None else None
        if fixed is not None and fixed.schedule is not None and _constant(fixed.schedule):
            if fixed.alias:
                aliases.add(model)
            _, inputs, outputs, reads, writes = zip(*group, strict=True)
            _add(sums, (model, fixed.schedule[0][1][0][1][0]), sum(inputs), sum(outputs), sum(reads), sum(writes),
                 len(group))
            continue
        for time, input_, output, cache_read, cache_write in group:
            priced = fixed or resolve(model, time)
            if priced.alias:
                aliases.add(model)
            if priced.schedule is None:
                by_target = unpriced.setdefault(model, {})
                by_target[priced.target] = by_target.get(priced.target, 0) + 1
                continue
            rates = rates_at(priced.schedule, time, input_ + cache_read + cache_write)
            _add(sums, (model, rates), input_, output, cache_read, cache_write, 1)
    return _totals(sums, unpriced, aliases)


def day_rates(schedule: Schedule, day: int, peak: int) -> Rates | None:
    """The rates of every call on UTC day `day`, whose prompts are at most `peak` tokens, when they are
    the same all day (no price change inside it, no time-of-day windows, no tier that a prompt of
    `peak` tokens reaches); None when the day's calls need pricing one by one."""
    start, end = day * DAY, (day + 1) * DAY
    if any(start < begin < end for begin, _ in schedule):
        return None
    windows = schedule[0][1] if len(schedule) == 1 else schedule[max(
        bisect_right([begin for begin, _ in schedule], start) - 1, 0)][1]
    if len(windows) != 1:
        return None
    return _below_tiers(windows[0][1], peak)


def undated_rates(schedule: Schedule, peak: int) -> Rates | None:
    """The rates of every call without a time (priced at the newest rates, whatever their time of day),
    whose prompts are at most `peak` tokens, when no tier of those rates is reached; None when such
    calls need pricing one by one."""
    return _below_tiers(schedule[-1][1][0][1], peak)


def _below_tiers(tiered: Tiered, peak: int) -> Rates | None:
    """The base rates when a prompt of `peak` tokens reaches no tier (`rates_at`: a tier applies above
    its threshold; thresholds ascend), else None."""
    base, tiers = tiered
    return base if not tiers or peak <= tiers[0][0] else None


def _constant(schedule: Schedule) -> bool:
    """Whether a schedule gives every call the same rates."""
    return len(schedule) == 1 and len(schedule[0][1]) == 1 and not schedule[0][1][0][1][1]


def _add(sums: dict[tuple[str, Rates], list[int]], key: tuple[str, Rates], input_: int, output: int,
         cache_read: int, cache_write: int, calls: int) -> None:
    total = sums.get(key)
    if total is None:
        sums[key] = [input_, output, cache_read, cache_write, calls]
        return
    total[0] += input_
    total[1] += output
    total[2] += cache_read
    total[3] += cache_write
    total[4] += calls


def units(rates: Rates) -> tuple[int, int, int, int, int]:
    """Rates as whole cost units per token (and per call)."""
    found = _UNITS.get(rates)
    if found is None:
        rate_in, rate_out, rate_read, rate_write, per_call = rates
        per_token = SCALE // PER
        found = _UNITS[rates] = (round(rate_in * per_token), round(rate_out * per_token), round(rate_read * per_token),
                                 round(rate_write * per_token), round(per_call * SCALE))
    return found


_UNITS: dict[Rates, tuple[int, int, int, int, int]] = {}


def cost_units(rates: Rates, input_: int, output: int, cache_read: int, cache_write: int, calls: int = 1) -> int:
    """The cost of `calls` calls (or of their summed counts) at one set of rates, in units."""
    unit_in, unit_out, unit_read, unit_write, unit_call = units(rates)
    return unit_in * input_ + unit_out * output + unit_read * cache_read + unit_write * cache_write + unit_call * calls


def _totals(sums: dict[tuple[str, Rates], list[int]], unpriced: dict[str, dict[str, int]],
            aliases: set[str]) -> dict[str, ModelCost]:
    total: dict[str, int] = {}
    calls: dict[str, int] = {}
    for (model, rates), (input_, output, cache_read, cache_write, count) in sums.items():
        total[model] = total.get(model, 0) + cost_units(rates, input_, output, cache_read, cache_write, count)
        calls[model] = calls.get(model, 0) + count
    usd = {model: value / SCALE for model, value in total.items()}
    result: dict[str, ModelCost] = {}
    for model in sorted(usd.keys() | unpriced.keys()):
        missing = unpriced.get(model, {})
        result[model] = ModelCost(model, usd.get(model), calls.get(model, 0), sum(missing.values()),
                                  tuple(sorted(missing)), model in aliases)
    return result


# A day's calls of one model as the ledger keeps them: (model as shown, UTC day or None), summed
# [input, output, cache_read, cache_write, calls, reasoning (part of output), peak prompt (at least
# the largest input + cache_read + cache_write of a call)].
DaySums = Mapping[tuple[str, int | None], Sequence[int]]
# How a model name is priced on a whole UTC day (None: the calls without a time) whose largest prompt
# is at most the given tokens: Priced with a one-entry flat schedule of that day's rates, or with none
# (no price); None when the day's calls must be priced one by one.
DayResolver = Callable[[str, int | None, int], "Priced | None"]


def day_costs(sums: DaySums, resolve_day: DayResolver) -> dict[str, ModelCost] | None:
    """Each model's cost from its per-day sums, when every day's calls share one set of rates (the
    same figure, to the unit, as pricing the calls one by one); None when some day needs the calls."""
    totals: dict[tuple[str, Rates], list[int]] = {}
    unpriced: dict[str, dict[str, int]] = {}
    aliases: set[str] = set()
    for (model, day), day_sums in sums.items():
        input_, output, cache_read, cache_write, calls, _reasoning, peak = day_sums
        priced = resolve_day(model, day, peak)
        if priced is None:
            return None
        if priced.alias:
            aliases.add(model)
        if priced.schedule is None:
            by_target = unpriced.setdefault(model, {})
            by_target[priced.target] = by_target.get(priced.target, 0) + calls
            continue
        _add(totals, (model, priced.schedule[0][1][0][1][0]), input_, output, cache_read, cache_write, calls)
    return _totals(totals, unpriced, aliases)


def total_usd(costs: Sequence[ModelCost]) -> float | None:
    """The sum over models that have a price; None when there are calls and none has a price
    (unknown, never 0). No calls at all cost nothing."""
    known = [round(cost.usd * SCALE) for cost in costs if cost.usd is not None]
    return sum(known) / SCALE if known or not costs else None


class CallPricer:
    """Prices single calls in units, for aggregates that put calls into groups of their own
    (reports): a model whose rates never change is looked up once, the others call by call."""

    def __init__(self, resolve: Resolver, steady: Steady | None = None) -> None:
        self.resolve = resolve
        self.steady = steady
        self._fixed: dict[str, tuple[int, int, int, int, int] | bool | None] = {}

    def __call__(self, model: str, time: float | None, input_: int, output: int, cache_read: int,
                 cache_write: int) -> int | None:
        """The call's cost in units; None when it has no price."""
        fixed = self.fixed(model)
        if fixed is None:
            return None
        if fixed is False:
            priced = self.resolve(model, time)
            if priced.schedule is None:
                return None
            fixed_units = units(rates_at(priced.schedule, time, input_ + cache_read + cache_write))
        else:
            assert not isinstance(fixed, bool)
            fixed_units = fixed
        unit_in, unit_out, unit_read, unit_write, unit_call = fixed_units
        return unit_in * input_ + unit_out * output + unit_read * cache_read + unit_write * cache_write + unit_call

    def fixed(self, model: str) -> tuple[int, int, int, int, int] | bool | None:
        """`model`'s units when every call of it has the same rates; None when no call of it has a
        price; False when each call must be priced."""
        fixed = self._fixed.get(model, True)
        if fixed is True:
            fixed = self._fixed[model] = self._steady(model)
        return fixed

    def _steady(self, model: str) -> tuple[int, int, int, int, int] | bool | None:
        """Units when every call of `model` has the same rates, None when none has a price, False when
        each call must be priced."""
        fixed = self.steady(model) if self.steady is not None else None
        if fixed is None:
            return False
        if fixed.schedule is None:
            return None
        return units(fixed.schedule[0][1][0][1][0]) if _constant(fixed.schedule) else False


class CallsPricing:
    """Prices settled calls of several providers (reports): each provider's `CallPricer`."""

    def __init__(self, pricers: Mapping[str, CallPricer]) -> None:
        self.pricers = pricers

    def fixed(self, provider: str, model: str) -> tuple[int, int, int, int, int] | bool | None:
        pricer = self.pricers.get(provider)
        return None if pricer is None else pricer.fixed(model)

    def __call__(self, call: "SettledCall") -> int | None:
        pricer = self.pricers.get(call.provider)
        if pricer is None:
            return None
        return pricer(call.model, call.time, call.input, call.output, call.cache_read, call.cache_write)
