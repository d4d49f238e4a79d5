"""Calls → what the snapshot needs, in two parts: a summary that does not depend on the clock, and
window counts that do.

The summary (totals, per model, sessions, UTC days) changes only when the calls change, so the cache
keeps it encoded beside the calls and a warm run with nothing new reads it instead of every call.
The window counts (sessions today, in the last 7 x 24 h) depend on "now" and are counted from the
calls at or after the 7-day start, which the cache answers from an index. Pure: no files, no SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import orjson

from openusage.records import CallRow
from openusage.windows import DAY, Windows

SUMMARY_VERSION = 1


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


class WindowCounts(NamedTuple):
    today: int
    week: int


def summarize(calls: Iterable[CallRow]) -> Summary:
    """One pass over every call of an account."""
    n = copies = inp = out = cr = cw = 0
    sessions: set[str] = set()
    models: dict[str | None, list[int]] = {}
    day_sessions: dict[int, set[str]] = {}
    day_tokens: dict[int, int] = {}
    for session, ts, model, i, o, r, w, c in calls:
        n += 1
        copies += c
        inp += i
        out += o
        cr += r
        cw += w
        sessions.add(session)
        sums = models.get(model)
        if sums is None:
            models[model] = [i, o, r, w, 1]
        else:
            sums[0] += i
            sums[1] += o
            sums[2] += r
            sums[3] += w
            sums[4] += 1
        if ts is not None:  # no valid time: counts everywhere but on no day
            day = int(ts // DAY)
            day_set = day_sessions.get(day)
            if day_set is None:
                day_sessions[day] = {session}
                day_tokens[day] = i + o
            else:
                day_set.add(session)
                day_tokens[day] += i + o
    model_rows = tuple(ModelSums(m, *sums) for m, sums in models.items())
    daily = tuple((day, len(day_sessions[day]), day_tokens[day]) for day in sorted(day_sessions))
    return Summary(n, copies, len(sessions), inp, out, cr, cw, model_rows, daily)


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


def encode(summary: Summary) -> bytes:
    fields = [*summary[:7], [list(m) for m in summary.models], [list(d) for d in summary.daily]]
    return orjson.dumps([SUMMARY_VERSION, fields])


def decode(blob: bytes) -> Summary | None:
    """None for a blob of another version or shape: the caller recomputes it."""
    try:
        version, fields = orjson.loads(blob)
        if version != SUMMARY_VERSION:
            return None
        calls, copies, sessions, inp, out, cr, cw, models, daily = fields
        return Summary(calls, copies, sessions, inp, out, cr, cw, tuple(ModelSums(*m) for m in models),
                       tuple((d, s, t) for d, s, t in daily))
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None
