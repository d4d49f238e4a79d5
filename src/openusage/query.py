"""The settled calls, the one public question every front end asks: its query and its answer.

A refresh folds every copy of a model call into one call and chooses the session that owns it
(`fold.py`, `groups.py`); what comes out is the list of settled calls, each named in full. The tile,
the reports, cost, the dashboard and the exporter are aggregates over it. Pure types: nothing here
reads a file or runs SQL.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import NamedTuple

from openusage._msgspec import msgspec


class CallsQuery(NamedTuple):
    """Which settled calls to answer: the accounts (None: every detected or configured one), the
    providers (None: all), the instants `since` (inclusive) and `until` (exclusive) in UTC seconds
    (None: unbounded; a bounded query leaves out the calls without a valid time), the zone in which
    front ends bucket days, weeks and months, and whether sessions' titles are wanted."""

    accounts: tuple[str, ...] | None = None
    providers: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    tz: tzinfo = UTC
    titles: bool = False  # also each session's title (can read the first lines of a session's files)
    # Each session's facts at all (False: `CallsResult.sessions` is empty). A report by period or by model
    # shows none, and they cost ~0.3 KiB per session held beside the calls.
    facts: bool = True

    def admits(self, time: float | None) -> bool:
        """Whether a call at `time` (None: no valid time) falls in the query's range."""
        if time is None:
            return self.since is None and self.until is None
        return (self.since is None or time >= self.since) and (self.until is None or time < self.until)


class SettledCall(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One model call, counted once: the account and provider that own it, the session it belongs to,
    its time (UTC seconds; None when no copy had a valid one), the model it ran on (resolved with the
    account's config), its four counts (input excludes cache reads and writes) and the provider's kind
    of call (Kimi Code's usageScope; None where a provider has none). `copies`: how many copies of it
    were folded into this one. `reasoning`: informational, 0 where an agent does not report it."""

    account: str
    provider: str
    session: str
    time: float | None
    model: str
    input: int
    output: int
    cache_read: int
    cache_write: int
    scope: str | None = None
    copies: int = 1
    reasoning: int = 0  # the part of `output` the agent reports as reasoning (Codex); never added to anything

    @property
    def total(self) -> int:
        """input + output: the meaning `total_tokens` has everywhere in openusage."""
        return self.input + self.output


class SessionFacts(NamedTuple):
    """What a provider says of one session for reports: its title as the agent shows it, and the
    project (working directory, or the label a user recognises) it ran in."""

    title: str
    project: str


class CallsResult(NamedTuple):
    """The answer to a `CallsQuery`: the settled calls in the range, and the facts of every session
    that owns one of them, keyed by (account, session)."""

    query: CallsQuery
    calls: list[SettledCall]
    sessions: dict[tuple[str, str], SessionFacts]
    accounts: tuple[str, ...]  # the accounts answered, in tile order
