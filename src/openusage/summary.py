"""Calls → what the snapshot needs: totals, per model, sessions, UTC days, and the window counts.

The cache keeps this as a ledger beside the record copies, so a warm run with nothing new reads one
blob instead of every call, and a refresh updates it with just the calls it re-folded: their old
versions go out, their new ones come in, exactly. For the windows (sessions today, in the last
7 x 24 h) the ledger keeps the times of each session's calls per UTC day, so "now" can be any instant
without reading a call. Pure: no files, no SQL.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable
from datetime import tzinfo
from typing import TYPE_CHECKING, NamedTuple, Protocol

from openusage.windows import DAY, Windows, day_to_date, local_day, local_day_start

if TYPE_CHECKING:
    from openusage.calls import CallRow


class Counted(Protocol):
    """What the ledger reads of a settled call: a `CallRow`, or a folded `fold.Call` whose owner is
    chosen (a cold scan counts those as they are: making 48,000 rows first cost ~14 ms)."""

    @property
    def session(self) -> str: ...
    @property
    def ts(self) -> float | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def input(self) -> int: ...
    @property
    def output(self) -> int: ...
    @property
    def cache_read(self) -> int: ...
    @property
    def cache_write(self) -> int: ...
    @property
    def copies(self) -> int: ...
    @property
    def scope(self) -> str | None: ...
    @property
    def reasoning(self) -> int: ...

SUMMARY_VERSION = 10  # 7: model_days; 8: the per-model sums derived from them, not kept twice; 9: reasoning;
# 10: each (model, day)'s peak prompt


class ModelSums(NamedTuple):
    model: str | None  # None: the calls named no model; the account's default applies
    input: int
    output: int
    cache_read: int
    cache_write: int
    calls: int
    reasoning: int  # the part of output reported as reasoning (informational)


class Summary(NamedTuple):
    calls: int
    copies: int
    sessions: int
    input: int
    output: int
    cache_read: int
    cache_write: int
    models: tuple[ModelSums, ...]
    daily: tuple[tuple[int, int, int], ...]  # (UTC day number, distinct sessions, input + output)
    scopes: tuple[tuple[str | None, int, int], ...]  # (scope, calls, input + output) per kind of call
    reasoning: int  # the part of output reported as reasoning (informational)


class WindowCounts(NamedTuple):
    today: int
    week: int


# One day of the daily series: its date (ISO), the distinct sessions with a call that day, input + output.
DailyRow = tuple[str, int, int]


class Ledger:
    """The summary as counts that calls can be added to and taken from, exactly: sums, how many calls
    each session has, and per UTC day the times of each session's calls (so a session leaves a day
    when its last call there does, and the 7-day window can start at any instant)."""

    __slots__ = ("day_sessions", "day_tokens", "model_days", "scopes", "sessions", "totals")

    def __init__(self) -> None:
        self.totals = [0, 0, 0, 0, 0, 0, 0]  # calls, copies, input, output, cache_read, cache_write, reasoning
        self.sessions: dict[str, int] = {}  # session -> calls
        self.day_tokens: dict[int, int] = {}  # UTC day -> input + output
        # UTC day -> session -> its call time, or its call times when it has more than one that day (a
        # history of many short sessions keeps a float, not a list, per session and day).
        self.day_sessions: dict[int, dict[str, float | list[float]]] = {}
        self.scopes: dict[str | None, list[int]] = {}  # scope -> [calls, input + output]
        # (model, UTC day or None) -> [input, output, cache_read, cache_write, calls, reasoning, peak]: what cost
        # needs to price a day's calls at that day's rates without reading them again (priced.py). `peak` is
        # the largest prompt (input + cache_read + cache_write) of a call counted in, never lowered when one
        # is counted out: an upper bound, enough to know that no call of the day reached a price's tier.
        self.model_days: dict[tuple[str | None, int | None], list[int]] = {}

    @classmethod
    def of(cls, calls: Iterable[Counted]) -> Ledger:
        ledger = cls()
        ledger.add(calls)
        return ledger

    def add(self, calls: Iterable[Counted], sign: int = 1) -> None:
        """Count `calls` in (sign 1) or out (sign -1: calls counted in before)."""
        if sign > 0:
            self._count_in(calls)
        else:
            self._count_out(calls)

    def _count_in(self, calls: Iterable[Counted]) -> None:  # noqa: PLR0915  # one inlined loop: a call per call costs
        """`add` with sign 1, which every cold scan and first run does for every call: summed in locals,
        with nothing to delete (a count that only grows never reaches 0). On a synthetic ledger of 48k
        calls it took about three quarters of the time of one signed loop for both directions."""
        sessions, scopes = self.sessions, self.scopes
        day_tokens, day_sessions, model_days = self.day_tokens, self.day_sessions, self.model_days
        session_get, scope_get, day_get = sessions.get, scopes.get, day_sessions.get
        model_day_get = model_days.get
        calls_in = copies = total_in = total_out = total_cr = total_cw = total_reasoning = 0
        for call in calls:
            session, ts, model, i, o, r, w = (call.session, call.ts, call.model, call.input, call.output,
                                              call.cache_read, call.cache_write)
            scope, reasoning = call.scope, call.reasoning
            calls_in += 1
            copies += call.copies
            total_in += i
            total_out += o
            total_cr += r
            total_cw += w
            total_reasoning += reasoning
            sessions[session] = session_get(session, 0) + 1
            kind = scope_get(scope)
            if kind is None:
                scopes[scope] = [1, i + o]
            else:
                kind[0] += 1
                kind[1] += i + o
            if ts is None:
                key: tuple[str | None, int | None] = (model, None)
            else:
                day = int(ts // DAY)
                key = (model, day)  # the per-model sums are these, summed over the days (`models`)
            by_day = model_day_get(key)
            if by_day is None:
                model_days[key] = [i, o, r, w, 1, reasoning, i + r + w]
            else:
                by_day[0] += i
                by_day[1] += o
                by_day[2] += r
                by_day[3] += w
                by_day[4] += 1
                by_day[5] += reasoning
                prompt = i + r + w
                if prompt > by_day[6]:  # noqa: PLR1730  # a call to max() per call costs more in this loop
                    by_day[6] = prompt
            if ts is None:
                continue  # no valid time: counts everywhere but on no day
            per_session = day_get(day)
            if per_session is None:
                day_sessions[day] = {session: ts}
                day_tokens[day] = i + o
                continue
            day_tokens[day] += i + o
            times = per_session.get(session)
            if times is None:
                per_session[session] = ts
            elif not isinstance(times, list):
                per_session[session] = [times, ts]
            else:
                times.append(ts)
        totals = self.totals
        totals[0] += calls_in
        totals[1] += copies
        totals[2] += total_in
        totals[3] += total_out
        totals[4] += total_cr
        totals[5] += total_cw
        totals[6] += total_reasoning

    def _count_out(self, calls: Iterable[Counted]) -> None:
        """Take calls counted in before out again; whatever reaches 0 goes, so the ledger is then
        exactly the one the remaining calls build."""
        totals, sessions, scopes = self.totals, self.sessions, self.scopes
        day_tokens, day_sessions, model_days = self.day_tokens, self.day_sessions, self.model_days
        for call in calls:
            session, ts, model, i, o, r, w = (call.session, call.ts, call.model, call.input, call.output,
                                              call.cache_read, call.cache_write)
            scope = call.scope
            totals[0] -= 1
            totals[1] -= call.copies
            totals[2] -= i
            totals[3] -= o
            totals[4] -= r
            totals[5] -= w
            totals[6] -= call.reasoning
            _bump(sessions, session, -1)
            kind = scopes.setdefault(scope, [0, 0])
            kind[0] -= 1
            kind[1] -= i + o
            if not kind[0]:
                del scopes[scope]
            model_day = (model, None if ts is None else int(ts // DAY))
            by_day = model_days.setdefault(model_day, [0, 0, 0, 0, 0, 0, 0])  # the peak stays: an upper bound
            by_day[0] -= i
            by_day[1] -= o
            by_day[2] -= r
            by_day[3] -= w
            by_day[4] -= 1
            by_day[5] -= call.reasoning
            if not by_day[4]:
                del model_days[model_day]
            if ts is None:
                continue  # no valid time: it was on no day
            day = int(ts // DAY)
            per_session = day_sessions.get(day)
            if per_session is None:
                continue
            day_tokens[day] -= i + o
            times = per_session.get(session)
            if isinstance(times, list):
                times.remove(ts)
                if len(times) == 1:
                    per_session[session] = times[0]  # one call left: the form a fresh count gives
            elif times is not None:  # its only call that day goes
                del per_session[session]
                if not per_session:
                    del day_sessions[day], day_tokens[day]

    @property
    def models(self) -> dict[str | None, list[int]]:
        """model -> [input, output, cache_read, cache_write, calls, reasoning]: the per (model, day) sums added up
        (a few hundred entries), so the hot loop keeps one dict per call fewer (measured: the ledger
        of a 48k-call cold scan took half again as long keeping both)."""
        models: dict[str | None, list[int]] = {}
        for (model, _day), (i, o, r, w, n, reasoning, _peak) in self.model_days.items():
            sums = models.get(model)
            if sums is None:
                models[model] = [i, o, r, w, n, reasoning]
            else:
                sums[0] += i
                sums[1] += o
                sums[2] += r
                sums[3] += w
                sums[4] += n
                sums[5] += reasoning
        return models

    def summary(self) -> Summary:
        calls, copies, inp, out, cr, cw, reasoning = self.totals
        models = tuple(ModelSums(m, *sums) for m, sums in self.models.items())
        daily = tuple((day, len(self.day_sessions[day]), self.day_tokens[day]) for day in sorted(self.day_sessions))
        scopes = tuple((scope, n, tokens) for scope, (n, tokens) in self.scopes.items())
        return Summary(calls, copies, len(self.sessions), inp, out, cr, cw, models, daily, scopes, reasoning)

    def daily(self) -> tuple[DailyRow, ...]:
        """The daily series by UTC day."""
        return tuple((day_to_date(day).isoformat(), len(self.day_sessions[day]), self.day_tokens[day])
                     for day in sorted(self.day_sessions))

    def windows(self, window: Windows) -> WindowCounts:
        """Distinct sessions with a call today (the UTC day holding now, up to now) and in the last
        7 x 24 h (from now minus 7 x 24 h to now). `now` is an "as of" instant: a call after it is in
        neither window, so a report as of a past instant is what it would have said then."""
        now, start = window.now, window.week_start
        now_day, first_day = int(now // DAY), int(start // DAY)
        today_start = window.today_start
        today = sum(1 for times in self.day_sessions.get(now_day, {}).values() if _any_within(times, today_start, now))
        week: set[str] = set()
        for day, per_session in self.day_sessions.items():
            if first_day < day < now_day:
                week.update(per_session)
            elif day in (first_day, now_day):  # a boundary day: only the calls inside the window
                week.update(s for s, times in per_session.items() if _any_within(times, start, now))
        return WindowCounts(today, len(week))

    def encode(self) -> bytes:
        # marshal: our own blob, read back by this same code; the fastest to load on every warm run.
        return marshal.dumps((SUMMARY_VERSION, self.totals, self.sessions, self.day_tokens, self.day_sessions,
                              [[scope, *sums] for scope, sums in self.scopes.items()],
                              [[model, day, *sums] for (model, day), sums in self.model_days.items()]))

    @classmethod
    def decode(cls, blob: bytes) -> Ledger | None:
        """None for a blob of another version or shape: the caller rebuilds the ledger."""
        try:
            version, totals, sessions, day_tokens, day_sessions, scopes, model_days = marshal.loads(blob)
            if version != SUMMARY_VERSION:
                return None
            ledger = cls()
            ledger.totals = [int(n) for n in totals]
            ledger.scopes = {sc[0]: [int(sc[1]), int(sc[2])] for sc in scopes}
            ledger.model_days = {(md[0], md[1]): md[2:] for md in model_days}
        except (EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None
        if len(ledger.totals) != 7 \
                or any(type(sums) is not list or len(sums) != 7 for sums in ledger.model_days.values()):
            return None
        # Taken as marshal built them, not copied: at 100,000 sessions a copy of these would double the
        # warm run's largest objects for a moment.
        if type(sessions) is not dict or type(day_tokens) is not dict or type(day_sessions) is not dict:
            return None
        ledger.sessions, ledger.day_tokens, ledger.day_sessions = sessions, day_tokens, day_sessions
        return ledger


def _any_within(times: float | list[float], low: float, high: float) -> bool:
    """Whether a session's call time (or any of its call times) on one day is in [low, high]."""
    if isinstance(times, list):
        return any(low <= t <= high for t in times)
    return low <= times <= high


def _bump(counts: dict[str, int], key: str, sign: int) -> None:
    left = counts.get(key, 0) + sign
    if left:
        counts[key] = left
    else:
        del counts[key]


def zone_figures(calls: Iterable[CallRow], tz: tzinfo, window: Windows) -> tuple[WindowCounts, tuple[DailyRow, ...]]:
    """What the ledger answers by UTC day, by the days of `tz` instead, from the settled calls: the
    sessions with a call on the zone's day holding now (up to now) and in the last 7 x 24 h (up to
    now: an "as of" instant, as `Ledger.windows`), and the daily series."""
    day_of = local_day(tz)
    now = window.now
    today_start = local_day_start(day_of(now), tz)
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    sessions_today: set[str] = set()
    sessions_week: set[str] = set()
    for call in calls:
        ts, session = call.ts, call.session
        if ts is None:
            continue  # no valid time: on no day
        day = day_of(ts).isoformat()
        day_sessions.setdefault(day, set()).add(session)
        day_tokens[day] = day_tokens.get(day, 0) + call.input + call.output
        if today_start <= ts <= now:
            sessions_today.add(session)
        if window.week_start <= ts <= now:
            sessions_week.add(session)
    daily = tuple((day, len(day_sessions[day]), day_tokens[day]) for day in sorted(day_sessions))
    return WindowCounts(len(sessions_today), len(sessions_week)), daily
