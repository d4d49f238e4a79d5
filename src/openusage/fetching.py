"""Remote accounts: each fetched beside the local scan, and each answer merged with the last good one
the cache keeps (shown with its age when this fetch fails or is not made: `--offline`).

A one-shot command fetches in one forked child process that runs a thread per account and sends the
readings back on a pipe: the command itself stays single-threaded, so the scan's own forked workers
never inherit a lock held by a fetching thread (parallel.py says why that matters), and the HTTP
client's import and TLS run on another core. A resident process (`parallel.resident()`: it never
forks) fetches on threads of its own. Every wait ends at the deadline: a fetch still running then is a
timeout, and the child is killed. Imported only when a remote account is chosen.
"""

from __future__ import annotations

import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from openusage import parallel
from openusage.errors import CacheError
from openusage.providers.base import Account, RemoteSource
from openusage.remote import Reading, decode, encode
from openusage.store import Store

# Seconds the command waits, at most, for every remote tile together: the specifications' "connect 5 s,
# total 10-15 s" (moonshot-api.md), one retry within it.
REMOTE_TIMEOUT = 10.0
GRACE = 0.5  # past the deadline, for a fetch that is giving up to say so
# A failure that says nothing about the figures (the network, the service's health): the last good
# answer is still the best there is. A refused key or sign-in is not one: old figures would mislead.
SHOW_CACHED = frozenset({"offline", "timeout", "unreachable", "server_error", "rate_limited", "bad_response",
                         "error"})


class Job(NamedTuple):
    account: Account
    source: RemoteSource


class Pending:
    """Fetches under way; `collect` waits for them until the deadline at most, once."""

    def __init__(self, jobs: tuple[Job, ...], timeout: float, offline: bool,
                 wait: Callable[[], dict[str, Reading]] | None = None) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.offline = offline
        self._wait = wait
        self._fetched: dict[str, Reading] | None = None

    def collect(self) -> dict[str, Reading]:
        if self._fetched is None:
            self._fetched = self._wait() if self._wait is not None else {}
        return self._fetched


def start(jobs: Sequence[Job], env: Mapping[str, str], now: datetime, *, offline: bool,
          timeout: float = REMOTE_TIMEOUT) -> Pending:
    """Start fetching every job's account (none with `offline`); `Pending.collect` gathers them."""
    jobs = tuple(jobs)
    if offline or not jobs:
        return Pending(jobs, timeout, offline)
    deadline = time.monotonic() + timeout
    env = dict(env)
    if hasattr(os, "fork") and not parallel.resident():
        return Pending(jobs, timeout, False, _in_child(jobs, env, now, deadline))
    return Pending(jobs, timeout, False, _on_threads(jobs, env, now, deadline))


def finish(pending: Pending, store: Store | None, tell: Callable[[str], None]) -> dict[str, Reading]:
    """Every job's reading: fetched, or why not, with the cached figures where they help; good answers
    are kept in the cache for next time."""
    fetched = pending.collect()
    readings: dict[str, Reading] = {}
    for job in pending.jobs:
        reading = fetched.get(job.account.id)
        if reading is None:
            reading = (Reading("offline", "offline: not fetched (--offline)") if pending.offline else
                       Reading("timeout", f"no answer within {pending.timeout:g} s"))
        readings[job.account.id] = _with_cached(store, job.account.id, reading, tell)
    return readings


def _with_cached(store: Store | None, account: str, reading: Reading, tell: Callable[[str], None]) -> Reading:
    if store is None:
        return reading
    try:
        if reading.good:
            store.set_remote_answer(account, encode(reading))
            return reading
        if reading.state not in SHOW_CACHED or reading.amounts or reading.quotas:
            return reading
        body = store.remote_answer(account)
    except CacheError as exc:
        tell(f"openusage: {exc}; the last answer of {account} is not kept")
        return reading
    previous = None if body is None else decode(body)
    if previous is None or (reading.source and previous.source and reading.source != previous.source):
        return reading
    if reading.state == "offline":  # nothing failed: the last answer, as it was, marked as old
        return previous._replace(stale=True)
    return previous._replace(state=reading.state, message=reading.message, stale=True,
                             caps=reading.caps or previous.caps, notes=reading.notes)


def _fetch(job: Job, env: Mapping[str, str], now: datetime, deadline: float, out: dict[str, Reading]) -> None:
    try:
        reading = job.source.fetch(job.account, env, now=now, deadline=deadline)
    except Exception as exc:  # a provider bug: a status, never a traceback, and never the text (a secret?)
        reading = Reading("error", f"internal error while fetching ({type(exc).__name__})")
    out[job.account.id] = reading


def _fetch_all(jobs: tuple[Job, ...], env: Mapping[str, str], now: datetime, deadline: float) -> dict[str, Reading]:
    """Every job on a thread of its own, joined until the deadline; what is not back by then is left out."""
    out: dict[str, Reading] = {}
    threads = [threading.Thread(target=_fetch, args=(job, env, now, deadline, out), daemon=True,
                                name=f"openusage-fetch-{job.account.id}") for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline + GRACE - time.monotonic()))
    return dict(out)


def _on_threads(jobs: tuple[Job, ...], env: Mapping[str, str], now: datetime,
                deadline: float) -> Callable[[], dict[str, Reading]]:
    results: list[dict[str, Reading]] = []
    runner = threading.Thread(target=lambda: results.append(_fetch_all(jobs, env, now, deadline)), daemon=True,
                              name="openusage-fetch")
    runner.start()

    def collect() -> dict[str, Reading]:
        runner.join(max(0.0, deadline + 2 * GRACE - time.monotonic()))
        return results[0] if results else {}

    return collect


def _in_child(jobs: tuple[Job, ...], env: Mapping[str, str], now: datetime,
              deadline: float) -> Callable[[], dict[str, Reading]]:
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to spare: fetch on threads here (this command does not fork again)
        os.close(read_end)
        os.close(write_end)
        return _on_threads(jobs, env, now, deadline)
    if pid == 0:  # pragma: no cover - the child: fetch, send, leave without running any cleanup
        try:
            os.close(read_end)
            data = json.dumps({k: encode(v) for k, v in _fetch_all(jobs, env, now, deadline).items()}).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(0)
    os.close(write_end)

    def collect() -> dict[str, Reading]:
        chunks: list[bytes] = []
        complete = False
        try:
            while not complete:
                left = deadline + 2 * GRACE - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    break
                chunk = os.read(read_end, 65536)
                complete = not chunk
                chunks.append(chunk)
        finally:
            os.close(read_end)
            if not complete:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        return _decoded(b"".join(chunks)) if complete else {}

    return collect


def _decoded(data: bytes) -> dict[str, Reading]:
    try:
        sent = json.loads(data)
    except ValueError:
        return {}
    readings = {str(k): decode(v) for k, v in sent.items()} if isinstance(sent, dict) else {}
    return {k: v for k, v in readings.items() if v is not None}
