"""A deterministic generator of realistic Codex CLI homes (`~/.codex`), for the benchmark and scale checks.

    python -m bench.corpus_codex OUT_DIR --sessions 2000 --size-mb 1024 --seed 1
    python -m bench.corpus_codex OUT_DIR --check      # run openusage on it and compare with the manifest

The home has the shape `codex-cli-format.md` describes: `config.toml` (a `model` and a fake key that must
never be printed), `sessions/YYYY/MM/DD/rollout-<local time>-<thread id>.jsonl` (the folder and name in
the local time of the thread's start, UTC-7 here, so they often name another day than the lines' UTC
timestamps) and the flat `archived_sessions/`. A rollout is compact JSON lines `{timestamp, type,
payload}`: `session_meta` (long `base_instructions`), `turn_context` per turn (a model switch now and
then), user and agent messages, and per model response a long `response_item` reasoning (encrypted
content), a function call and its output (2-200 KB of escaped text, some quoting `"token_count"` JSON
inside their strings), then a `token_count` event with `total_token_usage` and `last_token_usage`.

Traps, in realistic proportions: rate-limit re-emits after ~40 % of events (same info, new time);
`info: null` events at a session's start; context-window-full artefacts; resumed threads appending to
their months-old file; user forks (`forked_from_id`) and subagents (`source.subagent.thread_spawn`)
whose rollouts replay their parent's whole file up to the fork, re-stamped to the fork instant (a burst
1 ms apart) or, one in three, keeping the original times; forks of forks and subagents of subagents;
rollouts moved to `archived_sessions/` (and a few copied there, kept in both); deleted parents; a few
events without a timestamp; ~1 file in 150 whose last line is half written.

The generator knows every call it wrote and every copy of it, so the manifest (`bench-corpus.json`)
carries the figures the specification's rules give, computed from that knowledge rather than from the
files: each call once, at the earliest time among its copies and their re-emits in files that exist,
owned by the holder that no other holder descends from (then the smallest thread id), counted in the
session of the first thread up its spawn chain that was not spawned; input = input - cached, cache
read = cached.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.corpus import DAY, DEFAULT_END, DEFAULT_NOW, KB, MANIFEST_NAME, MB, SPAN_DAYS, parse_instant

GENERATOR = "bench.corpus_codex"
GENERATOR_VERSION = 2  # 2: a re-emit's time is one of its call's ("Readings settled" 3)
WINDOW = 272_000
LOCAL = timedelta(hours=-7)  # the machine's time zone: folders and file names are local
MODELS = ("gpt-5-codex", "gpt-5.1-codex", "gpt-5.1-codex-max")
SUB_MODEL = "gpt-5-codex-mini"
CONFIG_MODEL = "gpt-5-codex"
FAKE_KEY = "sk-bench-codex-not-a-real-key"
Json = dict[str, Any]
Usage = tuple[int, int, int, int]  # input (with cached), cached, output, reasoning


@dataclass(eq=False)
class Call:
    """One model call and the threads whose rollout holds a copy of it (thread -> the copy's time, None
    when that copy's line has no timestamp)."""

    model: str
    last: Usage
    copies: dict[str, float | None] = field(default_factory=dict)


@dataclass(eq=False, frozen=True)
class Repeat:
    """A re-emit of `call`'s event, right after its copy: not a copy, but a line carrying the call's key,
    so its time is one of the call's ("Readings settled" 3)."""

    call: Call


@dataclass(eq=False)
class Thread:
    id: str
    start: float
    parent: str | None = None  # forked_from_id or the spawning thread
    spawned: bool = False
    # (time or None, the line after its timestamp, the call it holds a copy of or repeats): re-stamped
    # when replayed
    lines: list[tuple[float | None, str, Call | Repeat | None]] = field(default_factory=list)
    total: Usage = (0, 0, 0, 0)
    marks: list[tuple[int, Usage]] = field(default_factory=list)  # (lines before, running total after)
    archived: bool = False
    copied_to_archive: bool = False
    deleted: bool = False
    partial: bool = False


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def _usage_json(u: Usage) -> str:
    i, c, o, r = u
    return (f'{{"input_tokens":{i},"cached_input_tokens":{c},"output_tokens":{o},'
            f'"reasoning_output_tokens":{r},"total_tokens":{i + o}}}')


class Pool:
    """Pre-escaped text to slice tool output and reasoning from (JSON-string-safe at every cut)."""

    def __init__(self, rng: random.Random) -> None:
        words = ["def", "return", "import", "self", "value", "error", "line", "path", "tokens", "cache",
                 "result", "status", "None", "True", "config", "model", "session", "thread", "count"]
        parts: list[str] = []
        for i in range(60_000):
            parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
            if i % 97 == 0:
                parts.append('payload = {"type": "token_count", "info": null}')
            if i % 13 == 0:
                parts.append('print("done")')
        text = "\n".join(parts)
        self.text = json.dumps(text)[1:-1]  # escaped once
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        self.b64 = "".join(rng.choice(letters) for _ in range(8192))

    def slice(self, rng: random.Random, size: int) -> str:
        size = min(size, len(self.text) - 1)
        start = rng.randrange(0, len(self.text) - size)
        piece = self.text[start:start + size]
        while piece.endswith("\\"):  # never cut an escape in two
            piece = piece[:-1]
        while piece.startswith(("n", '"', "\\")) and start and self.text[start - 1] == "\\":
            piece, start = piece[1:], start + 1
        return piece

    def secret(self, rng: random.Random, size: int) -> str:
        start = rng.randrange(0, len(self.b64) - 1)
        return (self.b64[start:] + self.b64)[:size]


@dataclass
class Params:
    """The same fields, in the same order, as the Kimi generators' (the benchmark builds any of them)."""

    sessions: int = 2000
    size_mb: float = 1024.0
    seed: int = 1
    subagents: bool = True  # user forks and subagents (off: threads of their own only)
    tiny: bool = False  # many small threads of one short turn each (the many-files corpus)
    end: str = DEFAULT_END
    now: str = DEFAULT_NOW
    version: int = GENERATOR_VERSION


class Generator:
    def __init__(self, params: Params) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.pool = Pool(self.rng)
        self.threads: dict[str, Thread] = {}
        self.end = parse_instant(params.end)
        self.per_thread = params.size_mb * MB / max(1, params.sessions)
        self.base = "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI. " * (
            2 if params.tiny else 40)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- lines -------------------------------------------------------------------------------------
    def add(self, t: Thread, ts: float | None, rest: str, call: Call | Repeat | None = None) -> None:
        t.lines.append((ts, rest, call))
        if isinstance(call, Call):
            call.copies.setdefault(t.id, ts)

    def meta(self, t: Thread, forked_from: str | None, spawner: str | None) -> None:
        extra = f',"forked_from_id":"{forked_from}"' if forked_from else ""
        source = (f'{{"subagent":{{"thread_spawn":{{"parent_thread_id":"{spawner}","depth":1}}}}}}'
                  if spawner else '"cli"')
        self.add(t, t.start, f'"type":"session_meta","payload":{{"id":"{t.id}"{extra},'
                 f'"timestamp":"{_iso(t.start)}","cwd":"/home/dev/app","originator":"codex_cli_rs","cli_version":"0.58.0","source":{source},'
                 f'"model_provider":"openai","base_instructions":{{"text":"{self.base}"}}}}')

    def turn(self, t: Thread, now: float, model: str, responses: int, budget: float) -> float:
        """One user turn: its context, the prompt, `responses` model responses. Returns the time after."""
        rng = self.rng
        self.add(t, now, f'"type":"turn_context","payload":{{"cwd":"/home/dev/app",'
                 f'"approval_policy":"on-request","sandbox_policy":{{"type":"workspace-write"}},'
                 f'"model":"{model}","effort":"medium","summary":"auto"}}')
        prompt = self.pool.slice(rng, rng.randint(40, 600))
        self.add(t, now + 0.1, f'"type":"response_item","payload":{{"type":"message","role":"user",'
                 f'"content":[{{"type":"input_text","text":"{prompt}"}}]}}')
        self.add(t, now + 0.2, f'"type":"event_msg","payload":{{"type":"user_message",'
                 f'"message":"{prompt}","images":[]}}')
        now += 0.3
        for _ in range(responses):
            now += rng.uniform(2, 40)
            smallest = 2 * KB if budget else 200  # a tiny thread's one response: a short output
            size = int(min(200 * KB, max(smallest, rng.lognormvariate(0, 1) * budget / max(1, responses))))
            secret = self.pool.secret(rng, rng.randint(800, 4000))
            self.add(t, now, f'"type":"response_item","payload":{{"type":"reasoning","summary":[],'
                     f'"content":null,"encrypted_content":"{secret}"}}')
            self.add(t, now, f'"type":"response_item","payload":{{"type":"function_call","name":"shell",'
                     f'"arguments":"{{\\"command\\":[\\"bash\\",\\"-lc\\",\\"rg -n cache src\\"]}}",'
                     f'"call_id":"c{rng.randrange(10**9)}"}}')
            self.add(t, now + 0.5, f'"type":"response_item","payload":{{"type":"function_call_output",'
                     f'"call_id":"c","output":"{self.pool.slice(rng, size)}"}}')
            now += 1.0
            self.usage(t, now, model)
        self.add(t, now + 0.1, '"type":"event_msg","payload":{"type":"agent_message","message":"Done."}')
        return now + 1

    def usage(self, t: Thread, now: float, model: str) -> None:
        rng = self.rng
        if rng.random() < 0.01:  # the context window ran out: the artefact, then the running total restarts
            t.total = (0, 0, 0, 0)
            t.marks.append((len(t.lines), t.total))
            self.add(t, now, '"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":'
                     f'{{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_output_tokens":0,'
                     f'"total_tokens":{WINDOW}}},'
                     f'"last_token_usage":{{"total_tokens":{rng.randint(1000, 30000)}}},'
                     f'"model_context_window":{WINDOW}}},"rate_limits":null}}')
            now += 0.5
        inp = rng.randint(4000, 180_000)
        cached = int(inp * rng.uniform(0.0, 0.97)) if rng.random() < 0.9 else 0
        out = rng.randint(20, 4000)
        last = (inp, cached, out, rng.randint(0, out))
        t.total = tuple(a + b for a, b in zip(t.total, last, strict=True))  # type: ignore[assignment]
        t.marks.append((len(t.lines), t.total))
        call = Call(model, last)
        info = (f'{{"total_token_usage":{_usage_json(t.total)},"last_token_usage":{_usage_json(last)},'
                f'"model_context_window":{WINDOW}}}')
        ts: float | None = None if rng.random() < 0.0025 else now  # a line written without its timestamp
        used = rng.randint(1, 99)
        self.add(t, ts, f'"type":"event_msg","payload":{{"type":"token_count","info":{info},'
                 f'"rate_limits":{{"primary":{{"used_percent":{used}.0,"window_minutes":300}}}}}}', call)
        while rng.random() < 0.4:  # only the rate limits changed: the same info again
            now += rng.uniform(0.5, 20)
            used = min(100, used + 1)
            rest = (f'"type":"event_msg","payload":{{"type":"token_count","info":{info},'
                    f'"rate_limits":{{"primary":{{"used_percent":{used}.0,"window_minutes":300}}}}}}')
            self.add(t, now, rest, Repeat(call))

    # -- threads -----------------------------------------------------------------------------------
    def root(self, start: float) -> Thread:
        rng = self.rng
        t = Thread(self.new_id(), start)
        self.threads[t.id] = t
        self.meta(t, None, None)
        if rng.random() < 0.7:
            self.add(t, start + 0.05, '"type":"event_msg","payload":{"type":"token_count","info":null,'
                     '"rate_limits":{"primary":{"used_percent":3.0,"window_minutes":300}}}')
        if self.p.tiny:
            self.turn(t, start + 1, rng.choice(MODELS), 1, 0)
            return t
        self.own_turns(t, start + 1, rng.choice(MODELS), self.per_thread * 0.8)
        if rng.random() < 0.05:  # resumed weeks later: appended to the same old file
            later = min(self.end - 3600, start + rng.uniform(5, 40) * DAY)
            if later > start:
                self.own_turns(t, later, rng.choice(MODELS), self.per_thread * 0.2)
        return t

    def own_turns(self, t: Thread, now: float, model: str, budget: float) -> float:
        rng = self.rng
        turns = max(1, int(rng.lognormvariate(1.2, 0.7)))
        for _ in range(turns):
            if rng.random() < 0.08:
                model = rng.choice(MODELS)
            now = min(self.end - 60, self.turn(t, now, model, rng.randint(1, 6), budget / turns)
                      + rng.uniform(20, 900))
        return now

    def branch(self, parent: Thread, spawned: bool, depth: int) -> Thread | None:
        """A fork (or a subagent) of `parent` at one of its turn boundaries: a new rollout that replays
        the parent's file up to there, then turns of its own."""
        rng = self.rng
        cuts = [i for i, (_, rest, _c) in enumerate(parent.lines)
                if i and rest.startswith('"type":"turn_context"')]
        if not cuts:
            return None
        cut = rng.choice(cuts)
        at = max(ts for ts, _, _ in parent.lines[:cut] if ts is not None) + rng.uniform(5, 3 * DAY)
        if at > self.end - 3600:
            return None
        child = Thread(self.new_id(), at, parent.id, spawned)
        self.threads[child.id] = child
        self.meta(child, None if spawned else parent.id, parent.id if spawned else None)
        keep_times = rng.random() < 1 / 3
        for k, (ts, rest, call) in enumerate(parent.lines[:cut]):
            self.add(child, ts if keep_times else at + (k + 1) / 1000, rest, call)
        child.total = self._total_at(parent, cut)
        model = SUB_MODEL if spawned else rng.choice(MODELS)
        child.marks.append((len(child.lines), child.total))
        self.own_turns(child, at + 2, model, self.per_thread * (0.1 if spawned else 0.4))
        if depth < 3 and rng.random() < 0.15:
            self.branch(child, rng.random() < 0.4, depth + 1)
        return child

    @staticmethod
    def _total_at(t: Thread, cut: int) -> Usage:
        """The thread's running total after its first `cut` lines (what a fork carries on from)."""
        total: Usage = (0, 0, 0, 0)
        for before, after in t.marks:
            if before >= cut:
                break
            total = after
        return total

    def build(self) -> None:
        rng = self.rng
        first = self.end - SPAN_DAYS * DAY
        roots = [self.root(first + rng.uniform(0, SPAN_DAYS * DAY - 2 * 3600))
                 for _ in range(self.p.sessions)]
        for parent in roots if self.p.subagents and not self.p.tiny else ():
            if rng.random() < 0.12:
                self.branch(parent, False, 1)
            if rng.random() < 0.15:
                self.branch(parent, True, 1)
        for t in self.threads.values():
            r = rng.random()
            t.archived = r < 0.12
            t.copied_to_archive = 0.12 <= r < 0.15
            t.partial = rng.random() < 1 / 150
        parents = {t.parent for t in self.threads.values() if t.parent}
        for t in self.threads.values():
            if t.id in parents and rng.random() < 0.05:
                t.deleted = True

    # -- files -------------------------------------------------------------------------------------
    def paths(self, t: Thread, root: Path) -> list[Path]:
        local = datetime.fromtimestamp(t.start, UTC) + LOCAL
        name = f"rollout-{local.strftime('%Y-%m-%dT%H-%M-%S')}-{t.id}.jsonl"
        live = root / "sessions" / local.strftime("%Y/%m/%d") / name
        archived = root / "archived_sessions" / name
        if t.archived:
            return [archived]
        return [live, archived] if t.copied_to_archive else [live]

    def write(self, root: Path) -> Json:
        stats = {"threads": 0, "files": 0, "bytes": 0, "lines": 0, "forks": 0, "subagents": 0,
                 "archived": 0, "deleted": 0, "partial": 0, "usage_lines": 0, "max_line": 0}
        for t in self.threads.values():
            stats["forks" if t.parent and not t.spawned else "subagents" if t.spawned else "threads"] += 1
            if t.deleted:
                stats["deleted"] += 1
                continue
            text = [("{" + (f'"timestamp":"{_iso(ts)}",' if ts is not None else "") + rest + "}\n")
                    for ts, rest, _ in t.lines]
            if t.partial:
                text[-1] = text[-1][: len(text[-1]) // 2]
            body = "".join(text).encode()
            usage = sum(1 for _ts, rest, _c in t.lines
                        if rest.startswith('"type":"event_msg","payload":{"type":"token_count"'))
            longest = max(len(line) for line in text)
            for path in self.paths(t, root):
                stats["usage_lines"] += usage
                stats["max_line"] = max(stats["max_line"], longest)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                stats["files"] += 1
                stats["bytes"] += len(body)
                stats["lines"] += len(text)
            stats["archived"] += t.archived or t.copied_to_archive
            stats["partial"] += t.partial
        stats["threads"] += stats["forks"] + stats["subagents"]
        (root / "config.toml").write_text(f'model = "{CONFIG_MODEL}"\n[model_providers.bench]\n'
                                          f'env_key = "{FAKE_KEY}"\n', encoding="utf-8")
        return stats

    # -- appends (the benchmark's scenario e) --------------------------------------------------------
    def append_activity(self, path: Path, nbytes: int, seed: int, start: float,
                        end: float) -> tuple[int, int]:
        """Append about `nbytes` of new turns to the rollout at `path`, as a resumed session does: its
        running total goes on from the file's last one. Returns (bytes, token_count lines)."""
        self.rng = random.Random(seed)
        t = Thread(path.stem[-36:], start, total=_last_total(path))
        now = start
        while sum(len(rest) for _ts, rest, _c in t.lines) < nbytes and now < end - 60:
            model, responses = self.rng.choice(MODELS), self.rng.randint(1, 4)
            now = min(end - 60, self.turn(t, now, model, responses, nbytes / 2))
        text = "".join("{" + (f'"timestamp":"{_iso(ts)}",' if ts is not None else "") + rest + "}\n"
                       for ts, rest, _ in t.lines).encode()
        with open(path, "ab") as f:
            f.write(text)
        usage = sum(1 for _ts, rest, _c in t.lines if '"type":"token_count"' in rest)
        return len(text), usage

    # -- the figures the rules give ----------------------------------------------------------------
    def present(self) -> tuple[dict[int, Call], dict[int, dict[str, float | None]], int]:
        """The calls with a copy in a file that exists (not deleted, not its half-written last line):
        each call's holders (thread -> its copy's time), and the copies (one per file)."""
        calls: dict[int, Call] = {}
        present: dict[int, dict[str, float | None]] = {}
        copies = 0  # one per file holding the call: a rollout kept in both folders holds two
        for t in self.threads.values():
            if t.deleted:
                continue
            files = 2 if t.copied_to_archive and not t.archived else 1
            last_line = len(t.lines) - 1
            for index, (ts, _rest, call) in enumerate(t.lines):
                if call is None or (t.partial and index == last_line):
                    continue
                if isinstance(call, Repeat):  # its copy came before it in this file: an earlier time moves it
                    holders = present.get(id(call.call), {})
                    was = holders.get(t.id)
                    if ts is not None and t.id in holders and (was is None or ts < was):
                        holders[t.id] = ts
                    continue
                calls[id(call)] = call
                present.setdefault(id(call), {}).setdefault(t.id, ts)
                copies += files
        return calls, present, copies

    def expected(self, now: float) -> Json:
        threads = self.threads
        calls, present, copies = self.present()
        ancestors: dict[str, set[str]] = {}
        for t in threads.values():
            chain, node = set(), t.parent
            while node is not None and node not in chain:
                chain.add(node)
                node = threads[node].parent
            ancestors[t.id] = chain

        def session_of(thread: str) -> str:
            while threads[thread].spawned and threads[thread].parent is not None:
                thread = threads[thread].parent  # type: ignore[assignment]
            return thread

        totals = [0, 0, 0, 0, 0]  # input, output, cache read, calls, reasoning
        models: dict[str, list[int]] = {}
        days: dict[str, tuple[set[str], list[int]]] = {}
        sessions: set[str] = set()
        week: set[str] = set()
        today: set[str] = set()
        today_start = (now // DAY) * DAY
        for key, call in calls.items():
            holders = present[key]
            owner = min(h for h in holders if not (ancestors[h] & holders.keys()))
            session = session_of(owner)
            times = [ts for ts in holders.values() if ts is not None]
            ts = min(times) if times else None
            inp, cached, out, reasoning = call.last
            cached = min(cached, inp)
            row = (inp - cached, out, cached, 1, reasoning)  # reasoning: a part of output, kept apart
            for i, v in enumerate(row):
                totals[i] += v
            sums = models.setdefault(call.model, [0, 0, 0, 0, 0])
            for i, v in enumerate(row):
                sums[i] += v
            sessions.add(session)
            if ts is not None:
                day = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
                entry = days.setdefault(day, (set(), [0]))
                entry[0].add(session)
                entry[1][0] += row[0] + row[1]
                if ts >= now - 7 * DAY:
                    week.add(session)
                if ts >= today_start:
                    today.add(session)
        return snapshot_figures(totals, copies, (sessions, today, week), models, days)


def snapshot_figures(totals: list[int], copies: int, windows: tuple[set[str], set[str], set[str]],
                     models: dict[str, list[int]], days: dict[str, tuple[set[str], list[int]]]) -> Json:
    """The figures in the shape of openusage's snapshot (metrics, models, daily series, diagnostics)."""
    inp, out, cache_read, calls, reasoning = totals
    sessions, today, week = windows
    rows = [{"model": m, "upstream_provider": "openai", "input_tokens": v[0], "output_tokens": v[1],
             "cache_read_tokens": v[2], "cache_write_tokens": 0, "total_tokens": v[0] + v[1] + v[2],
             "requests": v[3], "reasoning_output_tokens": v[4]} for m, v in models.items()]
    rows.sort(key=lambda r: (-r["total_tokens"], r["model"]))
    return {
        "metrics": {"total_sessions": len(sessions), "sessions_today": len(today), "sessions_7d": len(week),
                    "total_input_tokens": inp, "total_output_tokens": out, "total_cache_read": cache_read,
                    "total_cache_write": 0, "total_tokens": inp + out, "reasoning_output_tokens": reasoning},
        "models": rows,
        "daily_series": {
            "sessions": [{"date": d, "value": len(v[0])} for d, v in sorted(days.items())],
            "tokens": [{"date": d, "value": v[1][0]} for d, v in sorted(days.items())],
        },
        "diagnostics": {"records_counted": calls, "duplicate_records": copies - calls},
    }


def _last_total(path: Path) -> Usage:
    """The running total of the last complete `token_count` line of a rollout (zeros if none)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 4 * MB))
        tail = f.read()
    for line in reversed(tail.split(b"\n")[1:-1]):
        if b'"total_token_usage"' in line:
            try:
                usage = json.loads(line)["payload"]["info"]["total_token_usage"]
                return (usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"],
                        usage["reasoning_output_tokens"])
            except (ValueError, KeyError, TypeError):
                continue
    return (0, 0, 0, 0)


def generate(out: Path, params: Params, progress: bool = False) -> Json:
    """Write the home into `out` (replaced) and its manifest; `progress` is accepted for the benchmark's
    sake (a 1 GB home takes ~20 s, nothing to show)."""
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    gen = Generator(params)
    gen.build()
    stats = gen.write(out)
    expected = gen.expected(parse_instant(params.now))
    stats.update(wire_bytes=stats["bytes"], calls=expected["diagnostics"]["records_counted"],
                 seconds=round(time.monotonic() - started, 1))
    manifest = {"generator": GENERATOR, "version": GENERATOR_VERSION, "provider": "codex_cli",
                "params": vars(params), "stats": stats, "expected": expected, "seconds": stats["seconds"]}
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def check(out: Path) -> list[str]:
    """Run `openusage snapshot --json` on the home without the cache, then with a new cache twice (first
    run, warm), and compare the first with the manifest and the others with the first."""
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    expected = manifest["expected"]
    home = out.parent / (out.name + "-home")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    # No OPENUSAGE_CONFIG (a file it names must exist): the default one under this HOME does not.
    env = {**os.environ, "CODEX_HOME": str(out), "HOME": str(home), "PATH": "",
           "OPENUSAGE_NOW": manifest["params"]["now"], "OPENUSAGE_CACHE_DIR": str(home / "cache")}
    for var in ("KIMI_SHARE_DIR", "KIMI_CODE_HOME", "OPENUSAGE_CONFIG", "XDG_CONFIG_HOME"):
        env.pop(var, None)
    documents = []
    for args in (["--no-cache"], [], []):
        result = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json", *args], env=env,
                                capture_output=True, check=False)
        if FAKE_KEY.encode() in result.stdout + result.stderr:
            return ["the config's key appears in the output"]
        document = json.loads(result.stdout)
        document.pop("generated_at")
        documents.append(document)
    problems = [f"run {i} with the cache differs from --no-cache"
                for i in (1, 2) if documents[i] != documents[0]]
    from bench.__main__ import PRICE_KEYS, model_rows  # the snapshot's own schema of model rows

    snap = documents[0]["snapshots"][0]
    expected = {**expected, "models": model_rows(expected["models"], documents[0].get("schema"))}
    found = {
        "metrics": {name: snap["metrics"][name]["used"] for name in expected["metrics"]},
        "models": [{k: v for k, v in row.items() if k not in PRICE_KEYS} for row in snap["models"]],
        "daily_series": snap["daily_series"],
        "diagnostics": {name: snap["diagnostics"][name] for name in expected["diagnostics"]},
    }
    return problems + [f"{key}: expected {expected[key]!r}, found {found[key]!r}"
                       for key in expected if found[key] != expected[key]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus_codex",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sessions", type=int, default=2000, help="threads started by the user")
    parser.add_argument("--size-mb", type=float, default=1024.0, help="about this much rollout text")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-branches", action="store_true", help="no forks, no subagents")
    parser.add_argument("--tiny", action="store_true", help="many small threads of one short turn each")
    parser.add_argument("--end", default=DEFAULT_END)
    parser.add_argument("--now", default=DEFAULT_NOW)
    parser.add_argument("--check", action="store_true",
                        help="compare openusage with the manifest; no generation")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out_dir)
        print("\n".join(problems) or "openusage gives the manifest's figures")
        return 1 if problems else 0
    manifest = generate(args.out_dir, Params(args.sessions, args.size_mb, args.seed, not args.no_branches,
                                             args.tiny, args.end, args.now))
    print(json.dumps(manifest["stats"]), f"{manifest['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
