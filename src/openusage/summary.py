"""Calls → what the snapshot needs: totals, per model, sessions, UTC days, and the window counts.

The cache keeps this as a ledger beside the record copies, so a warm run with nothing new reads one
blob instead of every call, and a refresh updates it with just the calls it re-folded: their old
versions go out, their new ones come in, exactly. For the windows (sessions today, in the last
7 x 24 h) the ledger keeps the times of each session's calls per UTC day, so "now" can be any instant
without reading a call. Pure: no files, no SQL.
"""

import marshal
from collections.abc import Callable, Iterable, Iterator
from datetime import tzinfo
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from zlib import crc32

from openusage.stored import damaged
from openusage.windows import DAY, Windows, day_to_date, local_day

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


SUMMARY_VERSION = 11  # 8: per-model sums derived from model_days; 9: reasoning; 10: stored in parts (`StoredLedger`);
# 11: each (model, day)'s peak prompt
_HEAD = "head"  # marks a stored ledger's head, so that it never decodes as a whole ledger


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


# The sessions' call counts are kept in this many parts, by a hash of the name: a refresh reads and
# writes back only the parts of the sessions whose calls it counts in or out.
SESSION_SHARDS = 64


def session_shard(session: str) -> int:
    return crc32(session.encode("utf-8", "surrogatepass")) % SESSION_SHARDS


class StoredLedger(NamedTuple):
    """A ledger as the cache keeps it: a small head (the sums, and how many distinct sessions there are
    per part and per UTC day), the sessions' call counts in `SESSION_SHARDS` parts, and one part per
    UTC day (its sessions' call times). A warm run reads the head and, for the windows, the parts of
    the days they cover; a refresh reads and writes the parts its calls touch. At 500,000 sessions the
    whole ledger decoded took 78 MiB."""

    head: bytes
    sessions: Iterable[tuple[int, bytes | None]]  # (part, its sessions' call counts; None: none now)
    days: Iterable[tuple[int, bytes | None]]  # (UTC day, its sessions' call times; None: none now), once
    whole: bool  # True: every part is here (any other stored part goes); False: only these changed


class LedgerParts(Protocol):
    """Where a stored ledger's parts are read when first needed (the store: `Store.ledger_parts`). Each
    returns the parts asked for that are stored, unsealed; a damaged one raises `DamagedValue`, as
    does (here) a part that is missing or not what the head says it holds."""

    def sessions(self, shards: list[int]) -> dict[int, bytes]: ...

    def days(self, days: list[int]) -> dict[int, bytes]: ...


class Ledger:
    """The summary as counts that calls can be added to and taken from, exactly: sums, how many calls
    each session has, and per UTC day the times of each session's calls (so a session leaves a day
    when its last call there does, and the 7-day window can start at any instant).

    A ledger read from the cache (`from_stored`) holds its head only: the per-session parts are read
    when something needs them (a window's days; the parts of the sessions and days of calls added or
    taken), and `stored` then gives back only the parts that changed."""

    __slots__ = ("_day_counts", "_parts", "_shard_counts", "_touched_days", "_touched_shards", "day_sessions",
                 "day_tokens", "model_days", "scopes", "sessions", "totals")

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
        # A ledger from the cache: where its parts are (None once all are here), how many sessions each
        # part of `sessions` has, and per UTC day how many had a call; `sessions` and `day_sessions`
        # then hold the parts read so far, and the parts changed since are noted (`stored`).
        self._parts: LedgerParts | None = None
        self._shard_counts: dict[int, int] = {}
        self._day_counts: dict[int, int] = {}
        self._touched_shards: set[int] = set()
        self._touched_days: set[int] = set()

    @classmethod
    def of(cls, calls: Iterable[Counted]) -> "Ledger":
        ledger = cls()
        ledger.add(calls)
        return ledger

    def add(self, calls: Iterable[Counted], sign: int = 1) -> None:
        """Count `calls` in (sign 1) or out (sign -1: calls counted in before)."""
        if self._parts is not None:
            self._add_to_parts(list(calls), sign)
        elif sign > 0:
            self._count_in(calls)
        else:
            self._count_out(calls)

    def _add_to_parts(self, calls: list[Counted], sign: int) -> None:
        """`add` on a ledger read from the cache: the parts of the calls' sessions and days are read, the
        calls counted in or out of them as in a whole ledger, and the parts' counts taken again."""
        shards = {session_shard(call.session) for call in calls}
        days = {int(call.ts // DAY) for call in calls if call.ts is not None}
        self._load_shards(shards)
        self._load_days([day for day in days if day in self.day_tokens])
        if sign > 0:
            self._count_in(calls)
        else:
            self._count_out(calls)
        self._touched_shards |= shards
        self._touched_days |= days
        counts = dict.fromkeys(shards, 0)
        for session in self.sessions:
            shard = session_shard(session)
            if shard in counts:
                counts[shard] += 1
        self._shard_counts.update(counts)
        for day in days:
            per_session = self.day_sessions.get(day)
            if per_session is None:
                self._day_counts.pop(day, None)
            else:
                self._day_counts[day] = len(per_session)

    def _count_in(self, calls: Iterable[Counted]) -> None:
        """`add` with sign 1, which every cold scan and first run does for every call: compiled where
        `openusage._hot` may be used (`hot.ledger_count`), else `count_in`."""
        count = _counter()
        count(calls, self.totals, self.sessions, self.scopes, self.day_tokens, self.day_sessions, self.model_days, DAY)

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
        counts = self._counts()
        daily = tuple((day, counts[day], self.day_tokens[day]) for day in sorted(self.day_tokens))
        scopes = tuple((scope, n, tokens) for scope, (n, tokens) in self.scopes.items())
        sessions = len(self.sessions) if self._parts is None else sum(self._shard_counts.values())
        return Summary(calls, copies, sessions, inp, out, cr, cw, models, daily, scopes, reasoning)

    def daily(self) -> tuple[DailyRow, ...]:
        """The daily series by UTC day."""
        counts = self._counts()
        return tuple((day_to_date(day).isoformat(), counts[day], self.day_tokens[day])
                     for day in sorted(self.day_tokens))

    def _counts(self) -> dict[int, int]:
        """UTC day -> how many sessions had a call that day (the days of `day_tokens`)."""
        if self._parts is not None:
            return self._day_counts
        return {day: len(per_session) for day, per_session in self.day_sessions.items()}

    def windows(self, window: Windows) -> WindowCounts:
        """Distinct sessions "owning a call on the current UTC day" (the UTC day holding now, all of
        it) and "at or after now minus 7 x 24 h" (kimi-cli-format.md, "Sessions"): neither has an end
        at now, so a call stamped after it (a clock ahead, `OPENUSAGE_NOW` in the past) counts in both,
        as the specifications word them."""
        now, start = window.now, window.week_start
        now_day, first_day = int(now // DAY), int(start // DAY)
        self._load_days([day for day in self.day_tokens if day >= first_day])
        today = len(self.day_sessions.get(now_day, ()))
        week: set[str] = set()
        for day, per_session in self.day_sessions.items():
            if day > first_day:
                week.update(per_session)
            elif day == first_day:  # the window's first day: only the calls from its start on
                week.update(s for s, times in per_session.items() if _any_from(times, start))
        return WindowCounts(today, len(week))

    def encode(self) -> bytes:
        """The whole ledger as one blob (a group's stored result, a copy); `stored` for the cache."""
        # marshal: our own blob, read back by this same code; the fastest to load.
        self._load_all()
        return marshal.dumps((SUMMARY_VERSION, self.totals, self.sessions, self.day_tokens, self.day_sessions,
                              [[scope, *sums] for scope, sums in self.scopes.items()],
                              [[model, day, *sums] for (model, day), sums in self.model_days.items()]))

    @classmethod
    def decode(cls, blob: bytes) -> "Ledger | None":
        """None for a blob of another version or shape: the caller rebuilds the ledger."""
        try:
            version, totals, sessions, day_tokens, day_sessions, scopes, model_days = marshal.loads(blob)
            if version != SUMMARY_VERSION:
                return None
            ledger = cls()
            if not ledger._take_small(totals, scopes, model_days):
                return None
        except (EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None
        # Taken as marshal built them, not copied: at 100,000 sessions a copy of these would double the
        # warm run's largest objects for a moment.
        if type(sessions) is not dict or type(day_tokens) is not dict or type(day_sessions) is not dict:
            return None
        ledger.sessions, ledger.day_tokens, ledger.day_sessions = sessions, day_tokens, day_sessions
        return ledger


    def stored(self) -> StoredLedger:
        """The ledger as the cache keeps it (`StoredLedger`): every part, or for a ledger read from the
        cache only the parts changed since."""
        shards: Iterable[tuple[int, bytes | None]]
        days: Iterable[tuple[int, bytes | None]]
        if self._parts is None:
            grouped: dict[int, dict[str, int]] = {}
            for session, calls in self.sessions.items():
                grouped.setdefault(session_shard(session), {})[session] = calls
            shard_counts = {shard: len(part) for shard, part in grouped.items()}
            # Encoded as they are written, each let go once written: a whole ledger of 500,000 sessions
            # is a hundred MiB already, its parts all encoded at once would be half as much again.
            shards = _encoded(grouped)
            days = ((day, marshal.dumps(per_session)) for day, per_session in self.day_sessions.items())
            whole = True
        else:
            shard_counts = {shard: n for shard, n in self._shard_counts.items() if n}
            shards = [(shard, _part_of({session: calls for session, calls in self.sessions.items()
                                        if session_shard(session) == shard})) for shard in self._touched_shards]
            days = [(day, _part_of(self.day_sessions.get(day, {}))) for day in self._touched_days]
            whole = False
        return StoredLedger(self.head(shard_counts, self._counts()), shards, days, whole)

    def head(self, shard_counts: dict[int, int], day_counts: dict[int, int]) -> bytes:
        """The stored head: the sums, and how many sessions each part (`shard_counts`) and each UTC day
        (`day_counts`) has."""
        return marshal.dumps((SUMMARY_VERSION, _HEAD, self.totals, shard_counts, self.day_tokens, day_counts,
                              [[scope, *sums] for scope, sums in self.scopes.items()],
                              [[model, day, *sums] for (model, day), sums in self.model_days.items()]))

    def absorb(self, other: "Ledger") -> None:
        """Add the sums of `other`, a ledger of other calls (totals, UTC days' tokens, scopes, and per
        (model, day) the sums and the peak prompt): not its sessions, which the caller keeps apart
        (`reading.parted_ledger`)."""
        for index, value in enumerate(other.totals):
            self.totals[index] += value
        for day, tokens in other.day_tokens.items():
            self.day_tokens[day] = self.day_tokens.get(day, 0) + tokens
        for scope, (calls, tokens) in other.scopes.items():
            mine = self.scopes.setdefault(scope, [0, 0])
            mine[0] += calls
            mine[1] += tokens
        for key, sums in other.model_days.items():
            found = self.model_days.get(key)
            if found is None:
                self.model_days[key] = list(sums)
                continue
            for index in range(6):
                found[index] += sums[index]
            found[6] = max(found[6], sums[6])

    def _take_small(self, totals: Any, scopes: Any, model_days: Any) -> bool:
        """Take the parts a whole blob and a stored head share, as marshal read them; False when their
        shape is not this version's (the caller catches what a wrong type raises)."""
        self.totals = [int(n) for n in totals]
        self.scopes = {sc[0]: [int(sc[1]), int(sc[2])] for sc in scopes}
        self.model_days = {(md[0], md[1]): md[2:] for md in model_days}
        return len(self.totals) == 7 and all(type(sums) is list and len(sums) == 7 for sums in self.model_days.values())

    @classmethod
    def from_stored(cls, head: bytes, parts: LedgerParts) -> "Ledger | None":
        """The ledger from a stored head, its parts read from `parts` when needed; None for a head of
        another version or shape: the caller rebuilds the ledger."""
        try:
            version, mark, totals, shard_counts, day_tokens, day_counts, scopes, model_days = marshal.loads(head)
            if version != SUMMARY_VERSION or mark != _HEAD:
                return None
            ledger = cls()
            if not ledger._take_small(totals, scopes, model_days):
                return None
        except (EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None
        if type(shard_counts) is not dict or type(day_tokens) is not dict \
                or type(day_counts) is not dict or day_counts.keys() != day_tokens.keys() \
                or not all(type(n) is int for n in (*shard_counts.values(), *day_counts.values())):
            return None
        ledger.day_tokens, ledger._day_counts, ledger._shard_counts = day_tokens, day_counts, shard_counts
        ledger._parts = parts
        return ledger

    def _load_days(self, days: list[int]) -> None:
        """The per-session parts of these days (days the ledger has), read if not read yet."""
        parts = self._parts
        wanted = [day for day in days if day not in self.day_sessions] if parts is not None else []
        if not wanted:
            return
        assert parts is not None
        found = parts.days(wanted)
        for day in wanted:
            per_session = _part(found.get(day))
            if len(per_session) != self._day_counts[day]:
                damaged(f"the sessions of UTC day {day} in a ledger")
            self.day_sessions[day] = per_session

    def _load_shards(self, shards: set[int]) -> None:
        """The sessions' call counts of these parts, read if not read yet (a part with no session is
        not stored)."""
        parts = self._parts
        assert parts is not None
        wanted = sorted(shard for shard in shards if shard in self._shard_counts and shard not in self._touched_shards)
        if not wanted:
            return
        found = parts.sessions(wanted)
        for shard in wanted:
            part = _part(found.get(shard))
            if len(part) != self._shard_counts[shard] or any(session_shard(name) != shard for name in part):
                damaged("the sessions of a ledger")
            self.sessions.update(part)
            self._touched_shards.add(shard)  # read: from now on written back with the others

    def _load_all(self) -> None:
        """Every part read: the ledger is then whole, as one built from calls."""
        if self._parts is None:
            return
        self._load_days(list(self.day_tokens))
        self._load_shards(set(self._shard_counts))
        self._parts, self._day_counts, self._shard_counts = None, {}, {}
        self._touched_days, self._touched_shards = set(), set()


# What `count_in` adds to: a ledger's totals, sessions, scopes, day_tokens, day_sessions and model_days,
# and the length of a day (`DAY`).
CountIn = Callable[[Iterable[Counted], list[int], dict[str, int], dict[str | None, list[int]], dict[int, int],
                    dict[int, dict[str, float | list[float]]], dict[tuple[str | None, int | None], list[int]], float],
                   None]


@cache
def _counter() -> CountIn:
    """The compiled count when it may be used, else `count_in`: chosen once per process."""
    from openusage.hot import ledger_count  # only a run that counts calls has read files: hot is imported

    return ledger_count() or count_in


def count_in(calls: Iterable[Counted], totals: list[int], sessions: dict[str, int],  # noqa: PLR0915  # one inlined loop
             scopes: dict[str | None, list[int]], day_tokens: dict[int, int],
             day_sessions: dict[int, dict[str, float | list[float]]],
             model_days: dict[tuple[str | None, int | None], list[int]], day_length: float) -> None:
    """`Ledger._count_in`, the reference: the compiled `openusage._hot.count_in` does the same (held equal
    by tests/test_ledger_count.py). Summed in locals, with nothing to delete (a count that only grows
    never reaches 0), and in one inlined loop: a function call per call costs. On a synthetic ledger of
    48k calls it took about three quarters of the time of one signed loop for both directions."""
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
            day = int(ts // day_length)
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
    totals[0] += calls_in
    totals[1] += copies
    totals[2] += total_in
    totals[3] += total_out
    totals[4] += total_cr
    totals[5] += total_cw
    totals[6] += total_reasoning


def _part(payload: bytes | None) -> dict[str, Any]:
    """A stored part's dict (session -> calls, or session -> call times), as marshal built it."""
    try:
        value = marshal.loads(payload) if payload is not None else None
    except (EOFError, ValueError, TypeError):
        value = None
    if type(value) is not dict:
        damaged("a part of a ledger")
    return value


def _encoded(grouped: dict[int, dict[str, int]]) -> Iterator[tuple[int, bytes]]:
    """Each part encoded, and let go, as it is asked for."""
    while grouped:
        shard, part = grouped.popitem()
        yield shard, marshal.dumps(part)


def _part_of(entries: dict[str, Any]) -> bytes | None:
    """A part as stored; None for an empty one (not stored)."""
    return marshal.dumps(entries) if entries else None


def _any_from(times: float | list[float], low: float) -> bool:
    """Whether a session's call time (or any of its call times) on one day is at or after `low`."""
    if isinstance(times, list):
        return any(t >= low for t in times)
    return times >= low


def _bump(counts: dict[str, int], key: str, sign: int) -> None:
    left = counts.get(key, 0) + sign
    if left:
        counts[key] = left
    else:
        del counts[key]


def zone_figures(calls: "Iterable[CallRow]", tz: tzinfo, window: Windows) -> tuple[WindowCounts, tuple[DailyRow, ...]]:
    """What the ledger answers by UTC day, by the days of `tz` instead, from the settled calls: the
    sessions with a call on the zone's day holding now (all of it) and at or after now minus 7 x 24 h
    (as `Ledger.windows`), and the daily series."""
    day_of = local_day(tz)
    today = day_of(window.now)
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    sessions_today: set[str] = set()
    sessions_week: set[str] = set()
    for call in calls:
        ts, session = call.ts, call.session
        if ts is None:
            continue  # no valid time: on no day
        local = day_of(ts)
        day = local.isoformat()
        day_sessions.setdefault(day, set()).add(session)
        day_tokens[day] = day_tokens.get(day, 0) + call.input + call.output
        if local == today:
            sessions_today.add(session)
        if ts >= window.week_start:
            sessions_week.add(session)
    daily = tuple((day, len(day_sessions[day]), day_tokens[day]) for day in sorted(day_sessions))
    return WindowCounts(len(sessions_today), len(sessions_week)), daily
