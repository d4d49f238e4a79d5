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
from openusage.remote import Reading, binding_of, decode, encode
from openusage.store import Store

# Seconds the command waits, at most, for every remote tile together: the specifications' "connect 5 s,
# total 10-15 s" (moonshot-api.md), one retry within it.
REMOTE_TIMEOUT = 10.0
GRACE = 0.5  # past the deadline, for a fetch that is giving up to say so
# A failure that says nothing about the figures (the network, the service's health): the last good
# answer is still the best there is. A refused key or sign-in is not one: old figures would mislead.
SHOW_CACHED = frozenset({"offline", "timeout", "unreachable", "server_error", "rate_limited", "bad_response",
                         "error"})
# A refused key or sign-in: the last good answer is dropped, so that no later run (`--offline`) shows it.
REFUSED = frozenset({"invalid_key", "signed_out", "expired"})


class Job(NamedTuple):
    account: Account
    source: RemoteSource


class Pending:
    """Fetches under way; `collect` waits for them until the deadline at most, once. `bindings`: each
    account's (`RemoteSource.binding`); `refused`: the readings of accounts not fetched for their
    settings (a key another account sends to another host)."""

    def __init__(self, jobs: tuple[Job, ...], timeout: float, offline: bool,
                 wait: Callable[[], dict[str, Reading]] | None = None, bindings: Mapping[str, str] | None = None,
                 refused: Mapping[str, Reading] | None = None) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.offline = offline
        self.bindings = dict(bindings or {})
        self.refused = dict(refused or {})
        self._wait = wait
        self._fetched: dict[str, Reading] | None = None

    def collect(self) -> dict[str, Reading]:
        if self._fetched is None:
            self._fetched = {**(self._wait() if self._wait is not None else {}), **self.refused}
        return self._fetched


def start(jobs: Sequence[Job], env: Mapping[str, str], now: datetime, *, offline: bool,
          timeout: float = REMOTE_TIMEOUT) -> Pending:
    """Start fetching every job's account (none with `offline`, none refused for sending a key to a
    second host); `Pending.collect` gathers them."""
    jobs = tuple(jobs)
    bindings = {job.account.id: _binding(job, env) for job in jobs}
    refused = _second_hosts(jobs, bindings)
    if offline:  # what the machine alone decides (no key, signed out, expired): not old figures
        refused.update((job.account.id, reading) for job in jobs if job.account.id not in refused
                       and (reading := _unfetched(job, env, now)) is not None)
    fetched = tuple(job for job in jobs if job.account.id not in refused)
    if offline or not fetched:
        return Pending(jobs, timeout, offline, bindings=bindings, refused=refused)
    deadline = time.monotonic() + timeout
    env = dict(env)
    if hasattr(os, "fork") and not parallel.resident():
        wait = _in_child(fetched, env, now, deadline)
    else:
        wait = _on_threads(fetched, env, now, deadline)
    return Pending(jobs, timeout, False, wait, bindings, refused)


def _unfetched(job: Job, env: Mapping[str, str], now: datetime) -> Reading | None:
    try:
        return job.source.unfetched(job.account, env, now=now)
    except Exception as exc:  # a provider bug: a status, never a traceback, and never the text (a secret?)
        return Reading("error", f"internal error while reading the sign-in ({type(exc).__name__})")


def _binding(job: Job, env: Mapping[str, str]) -> str:
    try:
        return job.source.binding(job.account, env) or ""
    except Exception:  # a provider bug: nothing bound, never a traceback
        return ""


def _second_hosts(jobs: tuple[Job, ...], bindings: Mapping[str, str]) -> dict[str, Reading]:
    """The accounts that would send a secret an earlier account (in the settings' order) sends to another
    host ("never send the key to any other host"): refused, with which account has it."""
    first: dict[str, tuple[str, str]] = {}  # secret's fingerprint -> (host, account)
    refused: dict[str, Reading] = {}
    for job in jobs:
        secret, _, host = bindings[job.account.id].partition("@")
        if not secret:
            continue
        if secret not in first:
            first[secret] = (host, job.account.id)
        elif first[secret][0] != host:
            there, owner = first[secret]
            refused[job.account.id] = Reading(
                "bad_settings", f"its key already goes to {there} (account {owner}): a key belongs to one host, "
                                "so this account needs a key of its own")
    return refused


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
        readings[job.account.id] = _with_cached(store, job.account.id, reading, tell,
                                                pending.bindings.get(job.account.id, ""))
    return readings


def _with_cached(store: Store | None, account: str, reading: Reading, tell: Callable[[str], None],
                 binding: str = "") -> Reading:
    """`reading`, or where it says nothing of the figures the last good answer fetched with the same
    binding (the same key to the same host: another key's figures are not this one's)."""
    if store is None:
        return reading
    try:
        if reading.good:
            store.set_remote_answer(account, encode(reading, binding))
            return reading
        if reading.state in REFUSED:
            store.drop_remote_answer(account)
            return reading
        if reading.state not in SHOW_CACHED or reading.amounts or reading.quotas:
            return reading
        body = store.remote_answer(account)
    except CacheError as exc:
        tell(f"openusage: {exc}; the last answer of {account} is not kept")
        return reading
    previous = None if body is None or binding_of(body) != binding else decode(body)
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
