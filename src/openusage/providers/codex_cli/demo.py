"""A realistic sample Codex CLI home, for `openusage --demo` beside the two Kimi samples.

Owns only writing that sample, in the layout and line shapes of `codex-cli-format.md`: one rollout per
thread under `sessions/YYYY/MM/DD/rollout-<start>-<thread id>.jsonl`, each line
`{"timestamp", "type", "payload"}`: a `session_meta` first, a `turn_context` naming the model before
each user turn, small `response_item`s, and a `token_count` event after each model call (its
`last_token_usage` and the thread's running `total_token_usage`). With them come what a reader must not
count twice, as Codex writes it: a `token_count` with `info: null` before the first call, one re-emitted
when only the rate limits changed, a user fork whose head replays its parent's events re-stamped at
the fork, and a spawned subagent's own rollout. It never reads anything back. Deterministic: the same
`now` gives the same bytes (times are written in UTC, and the folders by the UTC day).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from openusage.providers.sample import start_sample_home

SEED = 20261204
DEFAULT_MODEL = "gpt-5-codex"
CONTEXT_WINDOW = 272_000
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/openusage/demo-codex")

CONFIG_TOML = f"""\
model = "{DEFAULT_MODEL}"
model_reasoning_effort = "medium"
"""

Json = dict[str, Any]
Counts = tuple[int, int, int, int]  # input (cached included), cached input, output, reasoning (in output)


class _Plan(NamedTuple):
    prompt: str
    cwd: str
    days_ago: int
    turns: int
    model: str
    fork: bool = False  # a user forks the thread after its turns and works on in the fork
    subagent: bool = False  # its first turn spawns a subagent, which makes two calls of its own
    reemit: bool = False  # one token_count is sent again when only the rate limits change


_PLANS = (
    _Plan("Port the CSV importer to async", "/home/demo/code/webshop", 0, 3, "gpt-5.1-codex", subagent=True),
    _Plan("Why does the deploy script hang?", "/home/demo/code/infra", 0, 2, "gpt-5.1-codex", reemit=True),
    _Plan("Add pagination to the orders API", "/home/demo/code/webshop", 2, 3, DEFAULT_MODEL, fork=True),
    _Plan("Draft the migration guide", "/home/demo/notes", 4, 2, DEFAULT_MODEL),
    _Plan("Profile the report generator", "/home/demo/code/worker", 9, 3, "gpt-5.1-codex-max", reemit=True),
)


class _Thread:
    """One rollout being written: its lines, its clock and its running total."""

    def __init__(self, thread_id: str, clock: datetime) -> None:
        self.id = thread_id
        self.started = clock  # its session_meta's time: the rollout's folder and name
        self.clock = clock
        self.lines: list[str] = []
        self.total: Counts = (0, 0, 0, 0)
        self.context = 0  # the tokens of the conversation so far: the next call's cached input
        self.events: list[tuple[Counts, Counts]] = []  # (total, last) of each call, for a fork's replay

    def tick(self, rng: random.Random, low: float, high: float) -> str:
        self.clock += timedelta(milliseconds=rng.randint(int(low * 1000), int(high * 1000)))
        return _stamp(self.clock)

    def add(self, stamp: str, kind: str, payload: Json) -> None:
        self.lines.append(_dumps({"timestamp": stamp, "type": kind, "payload": payload}))


def write_demo_codex_home(root: Path, now: datetime) -> None:
    """Write a sample Codex CLI data directory (what `~/.codex` holds) at `root`, as seen at `now`."""
    now, midnight = start_sample_home(root, now, CONFIG_TOML)
    rng = random.Random(SEED)
    for number, plan in enumerate(_PLANS):
        back = min(rng.uniform(600, 4 * 3600), (now - midnight).total_seconds() * 0.4) if plan.days_ago == 0 \
            else plan.days_ago * 86400 + rng.uniform(0, 5 * 3600)
        # Room for the longest a thread, its subagent and its fork can take (each call under a minute).
        calls = plan.turns * 3 + (2 if plan.subagent else 0) + (3 if plan.fork else 0)
        start = (now - timedelta(seconds=back + calls * 60 + 300)).replace(microsecond=0)
        thread = _Thread(_thread_id(number, "main"), start)
        thread.context = rng.randint(8_000, 14_000)  # the instructions and the first prompt
        _session_meta(thread, plan, None)
        thread.add(thread.tick(rng, 1, 3), "event_msg", {"type": "token_count", "info": None,
                                                          "rate_limits": _rate_limits(rng, 1.0)})
        for turn in range(plan.turns):
            text = plan.prompt if turn == 0 else "Now run the tests and fix what fails."
            _turn(thread, plan, text, rng, reemit=plan.reemit and turn == plan.turns - 1)
            if plan.subagent and turn == 0:
                _write(root, _subagent(thread, plan, number, rng))
        _write(root, thread)
        if plan.fork:
            _write(root, _fork(thread, plan, number, rng))


def _session_meta(thread: _Thread, plan: _Plan, source: Any, **extra: Any) -> None:
    stamp = _stamp(thread.clock)
    thread.add(stamp, "session_meta", {"id": thread.id, "timestamp": stamp, "cwd": plan.cwd,
                                       "originator": "codex_cli_rs", "cli_version": "0.63.0",
                                       "source": source or "cli", "model_provider": "openai", **extra})


def _turn(thread: _Thread, plan: _Plan, text: str, rng: random.Random, *, reemit: bool = False,
          calls: int | None = None) -> None:
    """A user turn: its context, the prompt, then one to three model calls, each followed by its usage."""
    thread.add(thread.tick(rng, 1, 2), "turn_context", {"cwd": plan.cwd, "model": plan.model, "effort": "medium",
                                                         "approval_policy": "on-request"})
    thread.add(thread.tick(rng, 0.01, 0.05), "event_msg", {"type": "user_message", "message": text})
    for call in range(calls if calls is not None else rng.randint(1, 3)):
        fresh = rng.randint(600, 5_000)  # what the call adds to the conversation; the rest is cached
        output = rng.randint(200, 2_400)
        last: Counts = (thread.context + fresh, thread.context, output, rng.randint(0, output // 2))
        thread.context = min(thread.context + fresh + output, 200_000)
        stamp = thread.tick(rng, 4, 40)
        thread.add(stamp, "response_item", {"type": "reasoning", "summary": [], "content": None})
        thread.add(stamp, "response_item", {"type": "message", "role": "assistant",
                                            "content": [{"type": "output_text", "text": f"Step {call + 1} done."}]})
        _count(thread, last, rng)
    if reemit:  # the same info again, a new timestamp: only the rate limits moved
        total, last = thread.events[-1]
        thread.add(thread.tick(rng, 5, 20), "event_msg", _token_count(total, last, _rate_limits(rng, 3.0)))


def _count(thread: _Thread, last: Counts, rng: random.Random) -> None:
    thread.total = (thread.total[0] + last[0], thread.total[1] + last[1], thread.total[2] + last[2],
                    thread.total[3] + last[3])
    thread.events.append((thread.total, last))
    thread.add(thread.tick(rng, 0.2, 1), "event_msg", _token_count(thread.total, last, _rate_limits(rng, 2.0)))


def _subagent(parent: _Thread, plan: _Plan, number: int, rng: random.Random) -> _Thread:
    """A subagent spawned by `parent` in its first turn: a rollout of its own, two calls."""
    agent = _Thread(_thread_id(number, "subagent"), parent.clock + timedelta(seconds=2))
    agent.context = rng.randint(6_000, 9_000)
    _session_meta(agent, plan, {"subagent": {"thread_spawn": {"parent_thread_id": parent.id, "depth": 1}}},
                  thread_source="subagent", agent_role="explorer")
    _turn(agent, plan._replace(model=DEFAULT_MODEL), "List the call sites of the importer.", rng, calls=2)
    parent.clock = agent.clock + timedelta(seconds=1)
    return agent


def _fork(parent: _Thread, plan: _Plan, number: int, rng: random.Random) -> _Thread:
    """A user fork of `parent` after its last turn: the fork's own meta, the parent's copied, its
    events replayed with their totals and re-stamped at the fork instant, then one turn of its own."""
    fork = _Thread(_thread_id(number, "fork"), parent.clock + timedelta(minutes=3))
    _session_meta(fork, plan, None, forked_from_id=parent.id)
    fork.lines.append(parent.lines[0])  # the parent's session_meta, as Codex copies it
    for total, last in parent.events:
        fork.add(fork.tick(rng, 0.001, 0.04), "event_msg", _token_count(total, last, None))
    fork.total, fork.context = parent.total, parent.context
    _turn(fork, plan, "Try it with keyset pagination instead.", rng, calls=3)
    return fork


def _token_count(total: Counts, last: Counts, rate_limits: Json | None) -> Json:
    return {"type": "token_count", "info": {"total_token_usage": _usage(total), "last_token_usage": _usage(last),
                                            "model_context_window": CONTEXT_WINDOW}, "rate_limits": rate_limits}


def _usage(counts: Counts) -> Json:
    total_input, cached, output, reasoning = counts
    return {"input_tokens": total_input, "cached_input_tokens": cached, "output_tokens": output,
            "reasoning_output_tokens": reasoning, "total_tokens": total_input + output}


def _rate_limits(rng: random.Random, used: float) -> Json:
    return {"limit_id": "codex", "primary": {"used_percent": round(used + rng.uniform(0, 8), 1),
                                             "window_minutes": 300, "resets_at": 1_795_000_000},
            "secondary": {"used_percent": round(used * 3 + rng.uniform(0, 5), 1), "window_minutes": 10080,
                          "resets_at": 1_795_400_000}, "credits": None, "plan_type": "plus"}


def _thread_id(number: int, role: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"thread-{number}-{role}"))


def _write(root: Path, thread: _Thread) -> None:
    started = thread.started
    day = root / "sessions" / f"{started:%Y}" / f"{started:%m}" / f"{started:%d}"
    day.mkdir(parents=True, exist_ok=True)
    name = f"rollout-{started:%Y-%m-%dT%H-%M-%S}-{thread.id}.jsonl"
    (day / name).write_text("".join(line + "\n" for line in thread.lines), encoding="utf-8")


def _stamp(instant: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and Z, as Codex writes a line's timestamp."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _dumps(obj: Json) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
