"""Calls → what the snapshot needs, in two parts: a summary that does not depend on the clock, and
window counts that do.

The summary (totals, per model, sessions, UTC days) changes only when the calls change, so the cache
keeps it as a ledger beside the calls: a warm run with nothing new reads it instead of every call, and
a refresh updates it with just the calls it re-folded.
The window counts (sessions today, in the last 7 x 24 h) depend on "now" and are counted from the
calls at or after the 7-day start, which the cache answers from an index. Pure: no files, no SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import orjson

from openusage.records import CallRow
from openusage.windows import DAY, Windows

SUMMARY_VERSION = 3


class ModelSums(NamedTuple):
    model: str | None  # None: the calls named no model; the account's default applies
    input: int
    output: int
    cache_read: int
    cache_write: int
    calls: int


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


class WindowCounts(NamedTuple):
    today: int
    week: int


class Ledger:
    """The summary as counts that calls can be added to and taken from, exactly: sums, and how many
    calls each session has overall and on each day (so a session leaves a count when its last call
    does). The cache keeps it encoded; a refresh takes away the calls it re-folds and adds their new
    versions, instead of summarizing every call again."""

    __slots__ = ("days", "models", "scopes", "sessions", "totals")

    def __init__(self) -> None:
        self.totals = [0, 0, 0, 0, 0, 0]  # calls, copies, input, output, cache_read, cache_write
        self.sessions: dict[str, int] = {}  # session -> calls
        self.models: dict[str | None, list[int]] = {}  # model -> [input, output, cache_read, cache_write, calls]
        self.days: dict[int, tuple[list[int], dict[str, int]]] = {}  # UTC day -> ([input+output], session -> calls)
        self.scopes: dict[str | None, list[int]] = {}  # scope -> [calls, input + output]

    @classmethod
    def of(cls, calls: Iterable[CallRow]) -> Ledger:
        ledger = cls()
        ledger.add(calls)
        return ledger

    def add(self, calls: Iterable[CallRow], sign: int = 1) -> None:
        """Count `calls` in (sign 1) or out (sign -1)."""
        totals, sessions, models, days, scopes = self.totals, self.sessions, self.models, self.days, self.scopes
        for session, ts, model, i, o, r, w, c, scope in calls:
            totals[0] += sign
            totals[1] += sign * c
            totals[2] += sign * i
            totals[3] += sign * o
            totals[4] += sign * r
            totals[5] += sign * w
            _bump(sessions, session, sign)
            sums = models.get(model)
            if sums is None:
                sums = models[model] = [0, 0, 0, 0, 0]
            sums[0] += sign * i
            sums[1] += sign * o
            sums[2] += sign * r
            sums[3] += sign * w
            sums[4] += sign
            if not sums[4]:
                del models[model]
            kind = scopes.get(scope)
            if kind is None:
                kind = scopes[scope] = [0, 0]
            kind[0] += sign
            kind[1] += sign * (i + o)
            if not kind[0]:
                del scopes[scope]
            if ts is None:
                continue  # no valid time: counts everywhere but on no day
            day = int(ts // DAY)
            entry = days.get(day)
            if entry is None:
                entry = days[day] = ([0], {})
            entry[0][0] += sign * (i + o)
            _bump(entry[1], session, sign)
            if not entry[1]:
                del days[day]

    def summary(self) -> Summary:
        calls, copies, inp, out, cr, cw = self.totals
        models = tuple(ModelSums(m, *sums) for m, sums in self.models.items())
        daily = tuple((day, len(self.days[day][1]), self.days[day][0][0]) for day in sorted(self.days))
        scopes = tuple((scope, n, tokens) for scope, (n, tokens) in self.scopes.items())
        return Summary(calls, copies, len(self.sessions), inp, out, cr, cw, models, daily, scopes)

    def encode(self) -> bytes:
        return orjson.dumps({
            "v": SUMMARY_VERSION,
            "totals": self.totals,
            "sessions": self.sessions,
            "models": [[m, *sums] for m, sums in self.models.items()],
            "days": [[day, tokens[0], per_session] for day, (tokens, per_session) in self.days.items()],
            "scopes": [[scope, *sums] for scope, sums in self.scopes.items()],
        })

    @classmethod
    def decode(cls, blob: bytes) -> Ledger | None:
        """None for a blob of another version or shape: the caller rebuilds the ledger."""
        try:
            doc = orjson.loads(blob)
            if doc["v"] != SUMMARY_VERSION:
                return None
            ledger = cls()
            ledger.totals = [int(n) for n in doc["totals"]]
            ledger.sessions = {str(k): int(v) for k, v in doc["sessions"].items()}
            ledger.models = {m[0]: [int(n) for n in m[1:]] for m in doc["models"]}
            ledger.days = {int(d): ([int(t)], {str(k): int(v) for k, v in s.items()}) for d, t, s in doc["days"]}
            ledger.scopes = {s[0]: [int(s[1]), int(s[2])] for s in doc["scopes"]}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None
        if len(ledger.totals) != 6 or any(len(sums) != 5 for sums in ledger.models.values()):
            return None
        return ledger


def _bump(counts: dict[str, int], key: str, sign: int) -> None:
    left = counts.get(key, 0) + sign
    if left:
        counts[key] = left
    else:
        del counts[key]


def count_windows(recent: Iterable[tuple[str, float | None]], window: Windows) -> WindowCounts:
    """Distinct sessions with a call today (UTC) and at or after now minus 7 x 24 h.

    `recent` may hold any calls as (session, ts): those before the 7-day start are ignored, so the
    cache passes only the calls its index finds at or after that start.
    """
    today: set[str] = set()
    week: set[str] = set()
    for session, ts in recent:
        if ts is None or ts < window.week_start:
            continue
        week.add(session)
        if window.today_start <= ts < window.today_end:
            today.add(session)
    return WindowCounts(len(today), len(week))
