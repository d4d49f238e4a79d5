"""A deterministic generator of realistic Kimi Code homes (`~/.kimi-code`), for the benchmark.

    python -m bench.corpus_code OUT_DIR --sessions 2000 --size-mb 1024 --seed 1 [--no-subagents]
    python -m bench.corpus_code OUT_DIR --files-only-tiny --sessions 100000 --seed 1

The home has the shape `kimi-code-format.md` describes: `config.toml` (snake_case, two quoted aliases
and a fake key openusage must never print), `session_index.jsonl`, and per session
`sessions/wd_<slug>_<12 hex>/session_<uuid>/state.json` + `agents/main/wire.jsonl`
(+ `agents/agent-<n>/wire.jsonl` for subagents, `agents/main/logs/kimi-code.log` for some).

A journal is the metadata header (`protocol_version` 1.5), then compact `JSON.stringify`-style
records with `agentId` and `time` (ms) last: `turn.prompt`, `llm.request` (`kind`, `provider`, `model`,
`modelAlias`, `turnStep`, `attempt`; retries write a second one after an `llm.error`),
`context.append_message` (user prompts, assistant think/text/tool calls, tool results of 2-200 KB with
escaped quotes and newlines, some quoting `usage.record` / `step.end` / `llm.request` JSON inside their
strings), `context.append_loop_event` (`step.begin`, and `step.end` with a `usage` object: the lookalike
that must not be counted), `usage.record` (`usageScope` `turn`; `session` for the compaction call that
follows an `llm.request` of kind `compaction`), all-zero usage records, `token_counting.*`,
`config.update` (`/model` switches), `subagent.*`, `goal.update`, `turn.end`.

Traps, in realistic proportions: ~1 session in 7 is a fork (`/fork`, web fork at a turn, child
sessions), whose journals are the source's records up to a turn (subagents: up to the fork's cut-off
time), then `{"type":"forked",...}`; a fifth are legacy forks (byte-identical copies, no marker); forks
of forks; a few deleted sources (a fork of a fork whose middle session is gone); sessions migrated from
Kimi CLI (`ses_<uuid>`, protocol 1.0, no usage); legacy-engine journals (protocol 1.4, no `agentId`, no
`modelAlias` in `llm.request`); `__kimi_env_model__` sessions; a few 1-4 MB tool results; ~1 session
in 150 whose last line is half written.

The generator knows every usage record it wrote (copies included), so the manifest
(`bench-corpus.json`) carries the figures the specification's rules give: identity = (agent directory,
raw time, scope, alias, four counts), counted once, all-zero skipped, `step.end` never counted, both
scopes counted, ancestor-first attribution; totals, calls by scope, copies folded, sessions, today / 7 d,
per-model rows (the model of the nearest matching `llm.request`), daily series.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.corpus import (
    DAY,
    DEFAULT_END,
    DEFAULT_NOW,
    KB,
    MANIFEST_NAME,
    MB,
    SPAN_DAYS,
    TextPool,
    _code_line,
    _lognorm_size,
    _prose_line,
    _sentence,
    _word,
    _zipf_pick,
    parse_instant,
    read_manifest,
    remove_tree,
)

GENERATOR = "bench.corpus_code"
GENERATOR_VERSION = 1
PROTOCOL = "1.5"
LEGACY_PROTOCOL = "1.4"
MIGRATED_PROTOCOL = "1.0"
MAX_CONTEXT = 262144
COMPACT_AT = 200_000

ALIAS_MAIN = "kimi-code/kimi-for-coding"
MODEL_MAIN = "kimi-for-coding"
PROVIDER_MAIN = "managed:kimi-code"
ALIAS_ALT = "moonshot-ai/kimi-k2-turbo-preview"
MODEL_ALT = "kimi-k2-turbo-preview"
PROVIDER_ALT = "moonshot-ai"
ALIAS_ENV = "__kimi_env_model__"
MODEL_ENV = "kimi-k2-0905-preview"
PROVIDER_ENV = "env"
UPSTREAM = "moonshot"
FALLBACK_MODEL = "kimi-for-coding"
FAKE_KEY = "sk-bench-kimi-code-not-a-real-key"
# What config.toml says, for the last-resort resolution of an alias no llm.request names.
CONFIG_MODELS = {ALIAS_MAIN: MODEL_MAIN, ALIAS_ALT: MODEL_ALT}
DEFAULT_ALIAS = ALIAS_MAIN
ALIAS_INFO = {
    ALIAS_MAIN: (PROVIDER_MAIN, MODEL_MAIN),
    ALIAS_ALT: (PROVIDER_ALT, MODEL_ALT),
    ALIAS_ENV: (PROVIDER_ENV, MODEL_ENV),
}
SCOPES = ("turn", "session")

_SENT = "@@BIG@@"  # a string value to replace by a pre-escaped big string, in order

Json = dict[str, Any]
Counts4 = tuple[int, int, int, int]
# (agent directory, raw time, scope, alias, four counts): a usage record's identity by the spec.
Identity = tuple[str, int, str, str, int, int, int, int]

_KC_TRAPS = (
    '{"type":"usage.record","agentId":"main","model":"kimi-code/kimi-for-coding","usage":{"inputOther":1520,'
    '"output":312,"inputCacheRead":79400,"inputCacheCreation":0},"usageScope":"turn","time":1781055528344}',
    "$ grep -c '\"usage.record\"' ~/.kimi-code/sessions/*/*/agents/main/wire.jsonl",
    "    if (record.type === 'usage.record') total += record.usage.inputOther + record.usage.output;",
    '{"type":"context.append_loop_event","agentId":"main","event":{"type":"step.end","turnStep":2,'
    '"usage":{"inputOther":9,"output":9,"inputCacheRead":0,"inputCacheCreation":0}},"time":1781055528000}',
    '{"type":"llm.request","agentId":"main","kind":"loop","provider":"managed:kimi-code","model":"quoted-model",'
    '"modelAlias":"kimi-code/kimi-for-coding","turnStep":1,"attempt":1,"time":1781055527000}',
    '{"type":"forked","agentId":"main","time":1781055529000}',
    "usage.record usageScope=session inputOther=201344 output=4096 (compaction)",
    '  usageScope: "turn" | "session"; // usage.record',
)


def _code_line_kc(rng: random.Random) -> str:
    if rng.random() < 0.004:
        return rng.choice(_KC_TRAPS)
    return _code_line(rng)


@dataclass(slots=True)
class Pools:
    code: TextPool
    prose: TextPool

    @classmethod
    def build(cls, seed: int) -> Pools:
        rng = random.Random(seed * 7919 + 2)
        code = TextPool([_code_line_kc(rng) for _ in range(45_000)])  # ~2.8 MB escaped
        prose = TextPool([_prose_line(rng) for _ in range(6_000)])  # ~0.9 MB escaped
        return cls(code, prose)

    def big(self, rng: random.Random, size: int) -> str:
        """A pool slice of about `size` characters, even past the pool's length."""
        pieces: list[str] = []
        got = 0
        while got < size:
            piece = self.code.take(rng, min(size - got, 2 * MB))
            pieces.append(piece)
            got += len(piece)
        return "".join(pieces)


def _unescape(text: str) -> str:
    return str(json.loads(f'"{text}"'))


def resolve_alias(alias: str) -> str:
    """config.toml's model for an alias, else the alias without `kimi-code/` (unless empty or `__x__`),
    else the default alias resolved the same way, else `kimi-for-coding` (the spec's last resorts)."""

    def one(name: str) -> str | None:
        if not name:
            return None
        if name in CONFIG_MODELS:
            return CONFIG_MODELS[name]
        stripped = name.removeprefix("kimi-code/")
        if not stripped or (stripped.startswith("__") and stripped.endswith("__")):
            return None
        return stripped

    return one(alias) or one(DEFAULT_ALIAS) or FALLBACK_MODEL


# --------------------------------------------------------------------------------------------------
# Journals being written.


@dataclass(slots=True)
class Rec:
    """One usage record in one journal (a copy keeps its identity, time and model)."""

    identity: Identity
    time_ms: int
    model: str


@dataclass(slots=True)
class Cut:
    """A place a fork may copy up to: the end of a turn."""

    offset: int  # bytes, from the start of the file
    time_ms: int  # the time of the turn's last record
    records: int  # usage records (zero ones excluded) before it
    by_alias: dict[str, str]
    last: str | None
    tally: Tally  # the file's tallies up to here


@dataclass
class Tally:
    lines: int = 0
    usage_lines: int = 0  # usage.record with a non-zero count (copies included)
    zero_usage_lines: int = 0
    step_end_lines: int = 0
    llm_requests: int = 0
    retries: int = 0
    compactions: int = 0
    model_switches: int = 0
    forked_markers: int = 0
    trap_lines: int = 0  # lines whose strings mention usage.record
    huge_lines: int = 0
    partial_lines: int = 0
    max_line: int = 0
    types: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for name in (
            "lines",
            "usage_lines",
            "zero_usage_lines",
            "step_end_lines",
            "llm_requests",
            "retries",
            "compactions",
            "model_switches",
            "forked_markers",
            "trap_lines",
            "huge_lines",
            "partial_lines",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_line = max(self.max_line, other.max_line)
        for k, v in other.types.items():
            self.types[k] = self.types.get(k, 0) + v

    def copy(self) -> Tally:
        clone = Tally()
        clone.add(self)
        return clone


class Journal:
    """One agent's wire.jsonl: lines as str parts, encoded at each turn end, written in one go."""

    def __init__(self, path: Path, agent: str, modern: bool) -> None:
        self.path = path
        self.agent = agent
        self.modern = modern  # current engine: agentId on records, modelAlias in llm.request
        self.parts: list[str] = []
        self.pending = 0
        self.chunks: list[bytes] = []
        self.size = 0
        self.header_len = 0
        self.tally = Tally()
        self.records: list[Rec] = []
        self.cuts: list[Cut] = []
        self.markers: list[tuple[int, int]] = []  # each `forked` line: (byte offset after it, records before)
        self.by_alias: dict[str, str] = {}
        self.last: str | None = None
        self.last_time = 0
        self.context = 0

    @property
    def approx_size(self) -> int:
        return self.size + self.pending

    def header(self, protocol: str, created_ms: int) -> None:
        line = json.dumps(
            {"type": "metadata", "protocol_version": protocol, "created_at": created_ms},
            separators=(",", ":"),
        )
        self.raw_line(line)
        self.flush()
        self.header_len = self.size

    def raw_line(self, text: str) -> None:
        self.parts += (text, "\n")
        self.pending += len(text) + 1
        self.tally.lines += 1
        self.tally.max_line = max(self.tally.max_line, len(text) + 1)

    def emit(self, obj: Json, bigs: Sequence[str] = ()) -> int:
        """One record; every `_SENT` string value in it is replaced, in order, by `bigs`."""
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        if bigs:
            pieces = text.split(_SENT)
            assert len(pieces) == len(bigs) + 1
            out = [pieces[0]]
            for big, piece in zip(bigs, pieces[1:], strict=True):
                out += (big, piece)
            n = sum(len(p) for p in out)
            self.parts += out
            self.parts.append("\n")
            if any("usage.record" in b for b in bigs):
                self.tally.trap_lines += 1
        else:
            self.parts += (text, "\n")
            n = len(text)
        self.pending += n + 1
        t = self.tally
        t.lines += 1
        t.max_line = max(t.max_line, n + 1)
        kind = obj["type"]
        t.types[kind] = t.types.get(kind, 0) + 1
        return n + 1

    def flush(self) -> None:
        if self.parts:
            data = "".join(self.parts).encode()
            self.chunks.append(data)
            self.size += len(data)
            self.parts.clear()
            self.pending = 0

    def end_turn(self) -> None:
        self.flush()
        self.cuts.append(
            Cut(
                self.size,
                self.last_time,
                len(self.records),
                dict(self.by_alias),
                self.last,
                self.tally.copy(),
            )
        )

    def model_for(self, alias: str) -> str:
        """The spec's rule: the nearest llm.request for this alias, else the nearest one, else config."""
        if alias in self.by_alias:
            return self.by_alias[alias]
        if self.last is not None:
            return self.last
        return resolve_alias(alias)

    def write(self) -> int:
        self.flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "wb") as f:
            f.writelines(self.chunks)
        self.chunks = []
        return self.size


class Clock:
    """Milliseconds since the epoch, always increasing, never past `end - 1 s`."""

    def __init__(self, t: int, end: int) -> None:
        self.t = t
        self.end = end

    def tick(self, lo: float, hi: float, rng: random.Random) -> int:
        dt = int(rng.uniform(lo, hi) * 1000.0)
        room = self.end - 1000 - self.t
        if dt >= room:
            dt = max(1, room // 2000)
        self.t += max(1, dt)
        return self.t


# --------------------------------------------------------------------------------------------------
# One session's activity.


_TOOLS = ("Shell", "ReadFile", "Grep", "Glob", "WriteFile", "StrReplaceFile", "SearchWeb", "FetchURL")
_FILES = (
    "src/openusage/scan.py",
    "src/app/main.ts",
    "packages/agent-core/src/agent/usage/index.ts",
    "apps/kimi-code/src/tui/commands/session.ts",
    "tests/test_scan.py",
    "README.md",
    "package.json",
    "docs/en/configuration/data-locations.md",
)


class Activity:
    """Writes the records of one session's journals and remembers every usage record and cut."""

    def __init__(
        self,
        gen: Generator,
        rng: random.Random,
        clock: Clock,
        session_dir: Path,
        alias: str,
        modern: bool,
        subagents: bool,
        next_agent: int = 0,
    ) -> None:
        self.gen = gen
        self.rng = rng
        self.clock = clock
        self.session_dir = session_dir
        self.alias = alias
        self.modern = modern
        self.subagents = subagents
        self.next_agent = next_agent
        self.new_agents: list[Journal] = []
        self.huge: list[int] = []
        self.first_prompt: str | None = None
        self.last_prompt: str | None = None
        self.switch_at: int | None = None  # the turn (counted in this activity) of a /model switch
        self.turns = 0
        self.step_end_first = rng.random() < 0.5
        self.zero_share = 0.003

    # -- low level

    def rec(self, j: Journal, kind: str, payload: Json, bigs: Sequence[str] = ()) -> None:
        obj: Json = {"type": kind}
        if j.modern:
            obj["agentId"] = j.agent
        obj.update(payload)
        obj["time"] = self.clock.t
        j.last_time = self.clock.t
        j.emit(obj, bigs)

    def _id(self, prefix: str, bits: int = 64) -> str:
        return f"{prefix}{self.rng.getrandbits(bits):0{bits // 4}x}"

    def request(self, j: Journal, kind: str, step: int, attempt: int) -> None:
        provider, model = ALIAS_INFO[self.alias]
        payload: Json = {"kind": kind, "provider": provider, "model": model}
        if j.modern:
            payload["modelAlias"] = self.alias
        payload.update(
            turnStep=step,
            attempt=attempt,
            maxTokens=32768,
            messageCount=self.rng.randint(2, 400),
            thinking=self.rng.random() < 0.7,
        )
        self.rec(j, "llm.request", payload)
        j.last = model
        if j.modern:
            j.by_alias[self.alias] = model
        j.tally.llm_requests += 1

    def usage(self, j: Journal, counts: Counts4, scope: str, step: int = 1) -> None:
        """The call's usage.record (and, for a loop step, its step.end lookalike around it)."""
        rng = self.rng
        zero = counts == (0, 0, 0, 0)
        identity: Identity = (j.agent, self.clock.t, scope, self.alias, *counts)
        while not zero and identity in self.gen.identities:  # never two calls with one identity
            self.clock.t += 1
            identity = (j.agent, self.clock.t, scope, self.alias, *counts)
        usage = {
            "inputOther": counts[0],
            "output": counts[1],
            "inputCacheRead": counts[2],
            "inputCacheCreation": counts[3],
        }
        step_end = scope == "turn"
        if step_end and self.step_end_first:
            self._step_end(j, usage, step)
        self.rec(j, "usage.record", {"model": self.alias, "usage": usage, "usageScope": scope})
        if zero:
            j.tally.zero_usage_lines += 1
        else:
            self.gen.identities.add(identity)
            j.records.append(Rec(identity, identity[1], j.model_for(self.alias)))
            j.tally.usage_lines += 1
        if step_end and not self.step_end_first:
            self.clock.t += rng.randint(0, 2)
            self._step_end(j, usage, step)

    def _step_end(self, j: Journal, usage: Json, step: int) -> None:
        event = {
            "type": "step.end",
            "turnStep": step,
            "usage": dict(usage),
            "finishReason": self.rng.choice(("tool_calls", "stop", "tool_calls")),
        }
        self.rec(j, "context.append_loop_event", {"event": event})
        j.tally.step_end_lines += 1

    def counts(self, j: Journal, new_in: int, out: int) -> Counts4:
        rng = self.rng
        cache_read = max(0, j.context - new_in) // 256 * 256 if rng.random() < 0.93 else 0
        input_other = max(1, new_in + (j.context - cache_read if cache_read == 0 else 0))
        cache_write = 0 if rng.random() < 0.9 else rng.randint(500, 30000)
        j.context += new_in + out
        if rng.random() < self.zero_share:
            return (0, 0, 0, 0)
        return (input_other, max(1, out), cache_read, cache_write)

    # -- turns and steps

    def turn(self, j: Journal, budget: int, depth: int) -> None:
        rng = self.rng
        clock = self.clock
        pools = self.gen.pools
        start = j.approx_size
        if depth == 0:
            clock.tick(30.0, 1800.0, rng)
            if self.switch_at is not None and self.turns == self.switch_at and j.modern:
                self.alias = ALIAS_ALT if self.alias != ALIAS_ALT else ALIAS_MAIN
                self.rec(j, "config.update", {"modelAlias": self.alias, "source": "slash_command"})
                j.tally.model_switches += 1
                clock.tick(1.0, 30.0, rng)
            self.turns += 1
        else:
            clock.tick(0.2, 3.0, rng)
        turn_id = self._id("turn_", 48)
        prompt = pools.prose.take(rng, rng.randint(40, 900))
        if depth == 0:
            self.first_prompt = self.first_prompt or prompt
            self.last_prompt = prompt
        self.rec(j, "turn.prompt", {"turnId": turn_id, "input": [{"type": "text", "text": _SENT}]}, [prompt])
        clock.tick(0.01, 0.2, rng)
        message = {"role": "user", "content": [{"type": "text", "text": _SENT}]}
        self.rec(j, "context.append_message", {"message": message}, [prompt])
        new_in = len(prompt) // 4 + 20
        n = 0
        max_steps = rng.choice((1, 2, 3, 5, 8, 12, 20, 40))
        while True:
            n += 1
            left = budget - (j.approx_size - start)
            last = n >= max_steps or left < 4 * KB
            new_in = self.step(j, n, new_in, max(2 * KB, left), last, depth)
            if last:
                break
        if rng.random() < 0.01:
            goal = {
                "status": "active",
                "title": _sentence(rng, 3, 8),
                "tokensUsed": rng.randint(1000, 900000),
            }
            self.rec(j, "goal.update", {"goal": goal})
        clock.tick(0.05, 2.0, rng)
        self.rec(j, "turn.end", {"turnId": turn_id, "reason": "completed", "steps": n})
        j.end_turn()

    def compaction(self, j: Journal, step: int) -> None:
        rng = self.rng
        self.rec(j, "context.append_loop_event", {"event": {"type": "compaction.begin", "tokens": j.context}})
        self.clock.tick(0.05, 0.5, rng)
        self.request(j, "compaction", step, 1)
        self.clock.tick(5.0, 40.0, rng)
        summary = self.gen.pools.prose.take(rng, rng.randint(2 * KB, 8 * KB))
        cache_read = j.context // 2 // 256 * 256 if rng.random() < 0.5 else 0
        counts = (j.context - cache_read, len(summary) // 4, cache_read, 0)
        self.usage(j, counts, "session")
        j.tally.compactions += 1
        self.rec(j, "context.compacted", {"summary": _SENT, "tokensBefore": j.context}, [summary])
        j.context = rng.randint(12000, 30000)
        self.rec(j, "token_counting.reset", {"tokens": j.context, "maxContextSize": MAX_CONTEXT})

    def step(self, j: Journal, n: int, new_in: int, left: int, last: bool, depth: int) -> int:
        rng = self.rng
        clock = self.clock
        clock.tick(0.05, 1.5, rng)
        if j.context > COMPACT_AT:
            self.compaction(j, n)
        if rng.random() < 0.5:
            self.rec(j, "context.append_loop_event", {"event": {"type": "step.begin", "turnStep": n}})
        self.request(j, "loop", n, 1)
        if rng.random() < 0.03:
            clock.tick(1.0, 20.0, rng)
            error = {"kind": "rate_limit", "status": 429, "message": "Too Many Requests, retrying"}
            self.rec(j, "llm.error", {"turnStep": n, "attempt": 1, "error": error})
            clock.tick(1.0, 10.0, rng)
            self.request(j, "loop", n, 2)
            j.tally.retries += 1
        out, calls = self._assistant(j, left, last, depth)
        self.usage(j, self.counts(j, new_in, out + rng.randint(5, 60)), "turn", n)
        if rng.random() < 0.4:
            counting = {"tokens": j.context, "maxContextSize": MAX_CONTEXT, "source": "estimate"}
            self.rec(j, "token_counting.update", counting)
        new_in = self._tools(j, calls, left, depth)
        return new_in + 50

    def _assistant(self, j: Journal, left: int, last: bool, depth: int) -> tuple[int, list[tuple[str, str]]]:
        """The model's answer: think, text and tool calls; returns (output tokens, tool calls)."""
        rng = self.rng
        clock = self.clock
        pools = self.gen.pools
        out = 0
        content: list[Json] = []
        bigs: list[str] = []
        if rng.random() < 0.8:
            clock.tick(1.0, 20.0, rng)
            think = pools.prose.take(rng, _lognorm_size(rng, 1500, 0.9, 200, min(20 * KB, left // 3 + 200)))
            content.append({"type": "think", "think": _SENT})
            bigs.append(think)
            out += len(think) // 4
        if last or rng.random() < 0.3:
            clock.tick(0.5, 10.0, rng)
            text = pools.prose.take(rng, _lognorm_size(rng, 700, 1.0, 60, min(10 * KB, left // 3 + 60)))
            content.append({"type": "text", "text": _SENT})
            bigs.append(text)
            out += len(text) // 4
        calls: list[tuple[str, str]] = []
        tool_calls: list[Json] = []
        if not last:
            for _ in range(rng.choice((1, 1, 1, 1, 2, 3))):
                tool = rng.choice(_TOOLS)
                if self.subagents and depth == 0 and rng.random() < 0.06:
                    tool = "Agent"
                call_id = self._id("tool_", 96)
                args = self._arguments(tool, left)
                out += len(args) // 4
                tool_calls.append(
                    {"type": "function", "id": call_id, "function": {"name": tool, "arguments": _SENT}}
                )
                bigs.append(args)
                calls.append((call_id, tool))
        message: Json = {"role": "assistant", "content": content}
        if tool_calls:
            message["toolCalls"] = tool_calls
        clock.tick(0.01, 0.3, rng)
        self.rec(j, "context.append_message", {"message": message}, bigs)
        return out, calls

    def _tools(self, j: Journal, calls: list[tuple[str, str]], left: int, depth: int) -> int:
        rng = self.rng
        clock = self.clock
        new_in = 0
        for call_id, tool in calls:
            if tool == "Shell" and rng.random() < 0.1:
                request = self._id("approval_")
                self.rec(
                    j, "approval.request", {"id": request, "toolCallId": call_id, "action": "run command"}
                )
                clock.tick(1.0, 30.0, rng)
                self.rec(j, "approval.response", {"requestId": request, "response": "approve"})
            if tool == "Agent":
                output = self.subagent(j, call_id, left // 3)
            else:
                clock.tick(0.05, 8.0, rng)
                if self.huge and depth == 0:
                    output = self.gen.pools.big(rng, self.huge.pop())
                    j.tally.huge_lines += 1
                else:
                    size = _lognorm_size(rng, 8 * KB, 1.2, 2 * KB, min(200 * KB, max(2 * KB, left // 2)))
                    output = self.gen.pools.code.take(rng, size)
            message = {
                "role": "tool",
                "toolCallId": call_id,
                "content": [{"type": "text", "text": _SENT}],
                "isError": rng.random() < 0.04,
            }
            self.rec(j, "context.append_message", {"message": message}, [output])
            new_in += len(output) // 4 + 30
        return new_in

    def _arguments(self, tool: str, left: int) -> str:
        """The tool call's arguments: a JSON text, escaped to sit inside the record's JSON string."""
        rng = self.rng
        path = rng.choice(_FILES)
        if tool == "Agent":
            text = json.dumps(
                {
                    "description": _sentence(rng, 3, 6),
                    "prompt": _sentence(rng, 10, 40),
                    "subagentType": "coder",
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
        elif tool == "Shell":
            text = json.dumps({"command": f"pnpm test -- {path} -t {_word(rng)}", "timeout": 60})
        elif tool in ("WriteFile", "StrReplaceFile"):
            size = _lognorm_size(rng, 2 * KB, 1.0, 200, min(24 * KB, left // 4))
            content = self.gen.pools.code.take(rng, size)  # escaped once: valid JSON string content
            text = f'{{"path":"{path}","content":"{content}"}}'
        elif tool == "Grep":
            text = json.dumps(
                {"pattern": rng.choice(("usage.record", "step.end", _word(rng))), "path": "src"}
            )
        else:
            text = json.dumps({"path": path, "lineOffset": rng.randint(1, 400), "nLines": 200})
        return json.dumps(text, ensure_ascii=False)[1:-1]

    def subagent(self, parent: Journal, call_id: str, budget: int) -> str:
        rng = self.rng
        agent = f"agent-{self.next_agent}"
        self.next_agent += 1
        kind = rng.choice(("coder", "explore", "plan"))
        own = Journal(self.session_dir / "agents" / agent / "wire.jsonl", agent, parent.modern)
        own.header(parent_protocol(parent), self.clock.t)
        own.context = rng.randint(4000, 9000)
        self.new_agents.append(own)
        self.rec(
            parent, "subagent.started", {"subagentId": agent, "subagentType": kind, "toolCallId": call_id}
        )
        self.turn(own, max(4 * KB, min(budget, 3 * MB)), 1)
        summary = self.gen.pools.prose.take(rng, rng.randint(200, 3000))
        self.rec(parent, "subagent.completed", {"subagentId": agent, "summary": _SENT}, [summary])
        return summary


def parent_protocol(j: Journal) -> str:
    return PROTOCOL if j.modern else LEGACY_PROTOCOL


# --------------------------------------------------------------------------------------------------
# The corpus.


@dataclass
class Params:
    sessions: int = 2000
    size_mb: float = 1024.0
    seed: int = 1
    subagents: bool = True
    tiny: bool = False
    end: str = DEFAULT_END
    now: str = DEFAULT_NOW
    version: int = GENERATOR_VERSION


@dataclass
class SessionInfo:
    index: int
    group: str
    session_id: str
    directory: Path
    title: str
    work_dir: str
    journals: dict[str, Journal]  # agent directory name -> journal (written; chunks dropped)
    forked_from: str | None = None
    modern: bool = True
    deleted: bool = False
    migrated: bool = False


@dataclass(slots=True)
class Start:
    """How a session begins: its journals so far (a fork's copies), alias, engine, title, parents."""

    journals: dict[str, Journal]
    alias: str
    modern: bool
    next_agent: int
    title: str
    forked_from: str | None
    child_of: str | None
    own_turns: bool


def _partial_tail(main: Journal, alias: str, time_ms: int) -> None:
    """Kimi Code is still writing: the last line (a usage record) is cut short, no newline."""
    usage = {"inputOther": 1234, "output": 56, "inputCacheRead": 7890, "inputCacheCreation": 0}
    record: Json = {"type": "usage.record", "agentId": "main", "model": alias, "usage": usage}
    record["usageScope"] = "turn"
    record["time"] = time_ms
    line = json.dumps(record, separators=(",", ":"))
    main.flush()
    main.parts.append(line[: len(line) // 2])
    main.pending += len(line) // 2
    main.tally.partial_lines += 1


@dataclass
class Stats:
    sessions: int = 0
    sessions_written: int = 0  # deleted sources excluded
    deleted_sessions: int = 0
    forks: int = 0  # made (a few were deleted later, as sources of other forks)
    forks_on_disk: int = 0
    forks_at_turn: int = 0
    legacy_forks: int = 0  # no `forked` marker, byte-identical copy
    child_sessions: int = 0
    forks_of_forks: int = 0
    forks_without_own_usage: int = 0
    orphan_forks: int = 0  # forkedFrom names a deleted session
    fork_copied_bytes: int = 0
    migrated_sessions: int = 0
    legacy_engine_sessions: int = 0
    env_model_sessions: int = 0
    alt_alias_sessions: int = 0
    sessions_with_subagents: int = 0
    wire_files: int = 0
    subagent_wire_files: int = 0
    wire_bytes: int = 0
    all_files: int = 0
    all_bytes: int = 0
    calls: int = 0
    duplicate_records: int = 0
    calls_by_scope: dict[str, int] = field(default_factory=dict)
    partial_tails: int = 0
    counts: Tally = field(default_factory=Tally)
    seconds: float = 0.0


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "root"


def _groups(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(workDirKey, work directory) pairs: `wd_<slug of basename>_<12 hex of sha256(workDir)>`."""
    out = []
    for i in range(n):
        work_dir = f"/home/dev/{rng.choice(('src', 'work', 'code'))}/{_word(rng)}-{_word(rng)}-{i}"
        key = f"wd_{_slug(os.path.basename(work_dir))}_{hashlib.sha256(work_dir.encode()).hexdigest()[:12]}"
        out.append((key, work_dir))
    return out


def _state_json(
    session_id: str,
    title: str,
    work_dir: str,
    created: int,
    updated: int,
    agents: Sequence[str],
    last_prompt: str | None,
    forked_from: str | None,
    child_of: str | None,
) -> str:
    state: Json = {
        "version": 1,
        "sessionId": session_id,
        "title": title,
        "lastPrompt": last_prompt,
        "workDir": work_dir,
        "createdAt": created,
        "updatedAt": updated,
        "archived": False,
        "agents": {
            a: {"type": "main"} if a == "main" else {"type": "sub", "parentAgentId": "main"} for a in agents
        },
    }
    if forked_from is not None:
        state["forkedFrom"] = forked_from
    if child_of is not None:
        state["custom"] = {"parent_session_id": child_of, "child_session_kind": "child"}
    return json.dumps(state, ensure_ascii=False, indent=2)


def _config_toml() -> str:
    return (
        f'default_model = "{DEFAULT_ALIAS}"\n'
        "default_thinking = true\n\n"
        f'[models."{ALIAS_MAIN}"]\n'
        f'provider = "{PROVIDER_MAIN}"\n'
        f'model = "{MODEL_MAIN}"\n'
        f"max_context_size = {MAX_CONTEXT}\n\n"
        f'[models."{ALIAS_ALT}"]\n'
        f'provider = "{PROVIDER_ALT}"\n'
        f'model = "{MODEL_ALT}"\n'
        f"max_context_size = {MAX_CONTEXT}\n\n"
        f'[providers."{PROVIDER_MAIN}"]\n'
        'type = "kimi"\n'
        'base_url = "https://api.kimi.com/coding/v1"\n'
        'oauth = { storage = "file", key = "oauth/kimi-code" }\n\n'
        f'[providers."{PROVIDER_ALT}"]\n'
        'type = "kimi"\n'
        'base_url = "https://api.moonshot.ai/v1"\n'
        f'api_key = "{FAKE_KEY}"\n'
    )


def _log_text(rng: random.Random, start: int) -> str:
    lines = []
    t = start
    for _ in range(rng.randint(5, 40)):
        t += rng.randint(10, 60_000)
        stamp = datetime.fromtimestamp(t / 1000, UTC).isoformat(timespec="milliseconds")
        lines.append(
            f"{stamp} INFO usage.record written model={ALIAS_MAIN} inputOther={rng.randint(1, 9999)}"
        )
    return "\n".join(lines) + "\n"


Found = dict[Identity, tuple[int, str, dict[str, bool]]]  # identity -> (time, model, {holder: marked})


def owners_of(sessions: Sequence[SessionInfo]) -> tuple[Found, dict[Identity, str], int]:
    """Every usage record of the sessions on disk folded by identity, each identity's owner by the
    spec's attribution (not a fork of another holder; then no `forked` marker after the copy; then
    the smallest session name), and the number of records (copies included)."""
    exists = {s.session_id: s for s in sessions if not s.deleted}
    found: Found = {}
    occurrences = 0
    for s in exists.values():
        for j in s.journals.values():
            marked_upto = max((n for _, n in j.markers), default=0)  # records followed by a marker
            for index, r in enumerate(j.records):
                occurrences += 1
                marked = index < marked_upto
                entry = found.get(r.identity)
                if entry is None:
                    found[r.identity] = (r.time_ms, r.model, {s.session_id: marked})
                else:
                    before = entry[2].get(s.session_id)
                    entry[2][s.session_id] = marked if before is None else (before and marked)

    def ancestors(sid: str) -> set[str]:
        out: set[str] = set()
        cur = exists[sid].forked_from
        while cur is not None and cur in exists and cur not in out:
            out.add(cur)
            cur = exists[cur].forked_from
        return out

    anc = {sid: ancestors(sid) for sid in exists}
    owner: dict[Identity, str] = {}
    for identity, (_, _, holders) in found.items():
        names = list(holders)
        roots = [h for h in names if not any(g in anc[h] for g in names if g != h)]
        unmarked = [h for h in roots if not holders[h]]
        owner[identity] = min(unmarked or roots)
    return found, owner, occurrences


def expected_figures(sessions: Sequence[SessionInfo], now: float) -> tuple[Json, Json]:
    """The figures the spec's rules give for the journals written, and per-kind statistics."""
    found, owner_of, occurrences = owners_of(sessions)
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    week_start = now - 7 * DAY
    owners: set[str] = set()
    owners_today: set[str] = set()
    owners_7d: set[str] = set()
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    totals = [0, 0, 0, 0]
    by_scope = {"turn": 0, "session": 0, "none": 0}
    compaction_tokens = 0
    models: dict[str, list[int]] = {}
    for identity, (time_ms, model, _) in found.items():
        counts = identity[4:]
        owner = owner_of[identity]
        owners.add(owner)
        for k in range(4):
            totals[k] += counts[k]
        scope = identity[2]
        by_scope[scope if scope in SCOPES else "none"] += 1
        if scope == "session":
            compaction_tokens += counts[0] + counts[1]
        row = models.setdefault(model, [0, 0, 0, 0, 0])
        for k in range(4):
            row[k] += counts[k]
        row[4] += 1
        ts = time_ms / 1000.0
        day = datetime.fromtimestamp(ts, UTC).date().isoformat()
        day_sessions.setdefault(day, set()).add(owner)
        day_tokens[day] = day_tokens.get(day, 0) + counts[0] + counts[1]
        if day == today:
            owners_today.add(owner)
        if ts >= week_start:
            owners_7d.add(owner)
    rows: list[Json] = [
        {
            "model": name,
            "upstream_provider": UPSTREAM,
            "input_tokens": r[0],
            "output_tokens": r[1],
            "cache_read_tokens": r[2],
            "cache_write_tokens": r[3],
            "total_tokens": r[0] + r[1],
            "all_tokens": r[0] + r[1] + r[2] + r[3],
            "requests": r[4],
        }
        for name, r in models.items()
    ]
    rows.sort(key=lambda row: (-row["all_tokens"], row["model"]))
    days = sorted(day_sessions)
    expected = {
        "now": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "metrics": {
            "total_sessions": len(owners),
            "sessions_today": len(owners_today),
            "sessions_7d": len(owners_7d),
            "total_input_tokens": totals[0],
            "total_output_tokens": totals[1],
            "total_cache_read": totals[2],
            "total_cache_write": totals[3],
            "total_tokens": totals[0] + totals[1],
            "compaction_calls": by_scope["session"],
            "compaction_tokens": compaction_tokens,
        },
        "diagnostics": {
            "records_counted": len(found),
            "duplicate_records": occurrences - len(found),
            "records_by_scope": by_scope,
        },
        "models": rows,
        "daily_series": {
            "sessions": [{"date": d, "value": len(day_sessions[d])} for d in days],
            "tokens": [{"date": d, "value": day_tokens[d]} for d in days],
        },
    }
    extra = {"usage_records": occurrences, "calls": len(found), "by_scope": by_scope}
    return expected, extra


def _copy_journal(j: Journal, src: Journal, cut: Cut | None, modern_fork: bool, fork_time: int) -> int:
    """Fill `j` with `src` up to `cut` (the header only when None) and, for a current fork, a `forked`
    marker; returns the bytes copied."""
    end = cut.offset if cut is not None else src.header_len
    with open(src.path, "rb") as f:
        data = f.read(end)
    if modern_fork:  # records re-serialised (same bytes: compact JSON), a header of its own
        meta: Json = {"type": "metadata", "protocol_version": PROTOCOL if src.modern else LEGACY_PROTOCOL}
        meta["created_at"] = fork_time
        header = json.dumps(meta, separators=(",", ":")).encode() + b"\n"
        j.chunks.append(header)
        j.size = j.header_len = len(header)
        body = data[src.header_len :]
    else:  # the legacy engine copied the directory: every byte, header included
        j.header_len = src.header_len
        body = data
    j.chunks.append(body)
    j.size += len(body)
    if cut is not None:
        j.records.extend(src.records[: cut.records])
        j.by_alias = dict(cut.by_alias)
        j.last = cut.last
        j.tally = cut.tally.copy()
        shift = j.header_len - src.header_len  # a fork of this fork may cut at the same places
        j.cuts = [
            Cut(c.offset + shift, c.time_ms, c.records, c.by_alias, c.last, c.tally)
            for c in src.cuts
            if c.offset <= cut.offset
        ]
        j.markers = [(offset + shift, n) for offset, n in src.markers if offset <= cut.offset]
    else:
        j.tally = Tally(lines=1, max_line=j.header_len)
    if modern_fork:
        j.emit({"type": "forked", "agentId": j.agent, "time": fork_time})
        j.tally.forked_markers += 1
        j.last_time = fork_time
    j.flush()
    if modern_fork:
        j.markers.append((j.size, len(j.records)))
    if j.agent != "main":  # a later fork's time cut takes this journal whole, marker included
        j.cuts.append(Cut(j.size, j.last_time, len(j.records), dict(j.by_alias), j.last, j.tally.copy()))
    j.context = src.context
    return len(body)


class Generator:
    """Holds the pools; makes whole corpora, or appends a little realistic activity to a journal."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.pools = Pools.build(seed)
        self.identities: set[Identity] = set()

    # -- whole corpora

    def generate(self, out: Path, params: Params, progress: bool = False) -> Json:
        started = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.toml").write_text(_config_toml())
        stats = Stats()
        sessions: list[SessionInfo] = []
        if params.tiny:
            self._tiny(out, params, sessions, stats, progress)
        else:
            self._full(out, params, sessions, stats, progress)
        index_lines = [
            json.dumps(
                {"sessionId": s.session_id, "sessionDir": str(s.directory), "workDir": s.work_dir},
                separators=(",", ":"),
            )
            for s in sessions
        ]
        index_lines += [
            json.dumps({"sessionId": s.session_id, "deleted": True}, separators=(",", ":"))
            for s in sessions
            if s.deleted
        ]
        index = ("\n".join(index_lines) + "\n").encode()
        (out / "session_index.jsonl").write_bytes(index)
        for dirpath, _dirs, files in os.walk(out):
            for name in files:
                stats.all_files += 1
                stats.all_bytes += os.path.getsize(os.path.join(dirpath, name))
        expected, extra = expected_figures(sessions, parse_instant(params.now))
        stats.calls = extra["calls"]
        stats.duplicate_records = extra["usage_records"] - extra["calls"]
        stats.calls_by_scope = extra["by_scope"]
        stats.seconds = round(time.perf_counter() - started, 3)
        manifest = {
            "generator": GENERATOR,
            "provider": "kimi_code",
            "params": asdict(params),
            "stats": asdict(stats),
            "expected": expected,
        }
        (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest

    def _full(
        self, out: Path, params: Params, sessions: list[SessionInfo], stats: Stats, progress: bool
    ) -> None:
        rng = random.Random(params.seed)
        n = params.sessions
        end_ms = int(parse_instant(params.end) * 1000)
        begin_ms = end_ms - int(SPAN_DAYS * DAY * 1000)
        total = int(params.size_mb * MB)
        groups = _groups(rng, max(1, n // 12))
        weights = [rng.lognormvariate(0.0, 1.4) for _ in range(n)]
        scale = total / sum(weights)
        targets = [max(3 * KB, int(w * scale)) for w in weights]
        starts = sorted(rng.randint(begin_ms, end_ms - 3_600_000) for _ in range(n))
        kinds, huge_plan = self._plan(rng, params, targets)
        by_group: dict[str, list[int]] = {}
        written = 0
        next_report = 0.0
        planned = float(sum(targets))
        for i in range(n):
            if progress and time.perf_counter() >= next_report:
                print(f"\r  session {i}/{n}, {written / MB:,.0f} MiB", end="", file=sys.stderr, flush=True)
                next_report = time.perf_counter() + 0.5
            target = max(3 * KB, int(targets[i] * max(0.1, (total - written) / max(planned, 1.0))))
            planned -= targets[i]
            group, work_dir = groups[_zipf_pick(rng, len(groups))]
            source: SessionInfo | None = None
            if kinds[i] == "fork":
                recent = by_group.get(group, [])[-20:] or [s.index for s in sessions[-20:]]
                candidates = [
                    s for s in (sessions[k] for k in recent) if s.journals["main"].cuts and not s.migrated
                ]
                source = rng.choice(candidates) if candidates else None
            if kinds[i] == "migrated":
                info = self._migrated(rng, out, i, group, work_dir, target, starts[i], end_ms, stats)
            else:
                info = self._session(
                    rng, out, params, i, group, work_dir, target, starts[i], end_ms, source,
                    huge_plan.get(i, []), stats,
                )  # fmt: skip
            sessions.append(info)
            by_group.setdefault(info.group, []).append(i)
            written += sum(j.size for j in info.journals.values())
        self._delete_some(sessions, params.seed, stats)
        self._account(sessions, stats)
        stats.sessions = n
        if progress:
            print(f"\r  session {n}/{n}, {stats.wire_bytes / MB:,.0f} MiB", file=sys.stderr)

    @staticmethod
    def _plan(
        rng: random.Random, params: Params, targets: list[int]
    ) -> tuple[list[str], dict[int, list[int]]]:
        """Each session's kind (plain, fork, migrated), and the sizes of the huge tool results that
        the biggest plain sessions will hold (about one per 100 MB)."""
        n = len(targets)
        total = int(params.size_mb * MB)
        kinds = []
        for i in range(n):
            r = rng.random()
            if i >= 3 and r < 1 / 7:
                kinds.append("fork")
            elif r < 1 / 7 + 0.012:
                kinds.append("migrated")
            else:
                kinds.append("plain")
        n_huge = round(params.size_mb / 100) if params.size_mb >= 5 else 0
        big_first = sorted((i for i in range(n) if kinds[i] == "plain"), key=lambda i: -targets[i])
        huge_plan: dict[int, list[int]] = {}
        for k in range(n_huge):
            i = big_first[k % max(1, min(len(big_first), max(1, n // 5)))] if big_first else 0
            huge_plan.setdefault(i, []).append(min(rng.randint(1 * MB, 4 * MB), max(64 * KB, total // 20)))
        return kinds, huge_plan

    @staticmethod
    def _delete_some(sessions: list[SessionInfo], seed: int, stats: Stats) -> None:
        """A few sources are deleted after being forked: their forks stay, `forkedFrom` dangling."""
        forked = sorted({s.forked_from for s in sessions if s.forked_from is not None})
        rng = random.Random(seed * 977 + 5)
        by_id = {s.session_id: s for s in sessions}
        for sid in forked:
            if rng.random() < 0.03:
                victim = by_id[sid]
                victim.deleted = True
                stats.deleted_sessions += 1
                shutil.rmtree(victim.directory)

    def _account(self, sessions: list[SessionInfo], stats: Stats) -> None:
        ids = {s.session_id for s in sessions if not s.deleted}
        for s in sessions:
            if s.deleted:
                continue
            stats.sessions_written += 1
            stats.forks_on_disk += s.forked_from is not None
            if s.forked_from is not None and s.forked_from not in ids:
                stats.orphan_forks += 1
            for j in s.journals.values():
                stats.wire_files += 1
                stats.wire_bytes += j.size
                stats.subagent_wire_files += j.agent != "main"
                stats.counts.add(j.tally)

    @staticmethod
    def _extras(extras: list[tuple[Path, str]]) -> None:
        for path, text in extras:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode())

    def _migrated(
        self,
        rng: random.Random,
        out: Path,
        index: int,
        group: str,
        work_dir: str,
        target: int,
        start: int,
        end: int,
        stats: Stats,
    ) -> SessionInfo:
        """A session migrated from Kimi CLI: protocol 1.0, the conversation only, no usage records."""
        session_id = "ses_" + str(uuid.UUID(int=rng.getrandbits(128), version=4))
        directory = out / "sessions" / group / session_id
        j = Journal(directory / "agents" / "main" / "wire.jsonl", "main", modern=False)
        j.header(MIGRATED_PROTOCOL, start)
        clock = Clock(start, end)
        pools = self.pools
        title = ""
        target = min(target, 2 * MB)
        while j.approx_size < target:
            clock.tick(30.0, 900.0, rng)
            prompt = pools.prose.take(rng, rng.randint(40, 600))
            title = title or " ".join(_unescape(prompt).split())[:48]
            for role, text in (
                ("user", prompt),
                ("assistant", pools.prose.take(rng, rng.randint(300, 4000))),
                ("tool", pools.code.take(rng, _lognorm_size(rng, 6 * KB, 1.0, 2 * KB, 120 * KB))),
            ):
                clock.tick(0.5, 20.0, rng)
                obj = {
                    "type": "context.append_message",
                    "message": {"role": role, "content": _SENT},
                    "time": clock.t,
                }
                j.emit(obj, [text])
            j.end_turn()
        j.write()
        stats.migrated_sessions += 1
        state = _state_json(
            session_id, title or "Untitled", work_dir, start, clock.t, ["main"], None, None, None
        )
        self._extras([(directory / "state.json", state)])
        return SessionInfo(
            index, group, session_id, directory, title, work_dir, {"main": j}, None, False, migrated=True
        )

    def _copy(
        self,
        rng: random.Random,
        directory: Path,
        source: SessionInfo,
        modern_fork: bool,
        at_turn: bool,
        stats: Stats,
        clock: Clock,
    ) -> dict[str, Journal]:
        """The source's journals up to a turn (main) or the cut-off time (subagents), then a marker."""
        main = source.journals["main"]
        k = rng.randrange(len(main.cuts)) if at_turn else len(main.cuts) - 1
        cut_time = main.cuts[k].time_ms
        clock.t = max(clock.t, cut_time + rng.randint(60_000, 3 * 3_600_000))
        clock.t = min(clock.t, clock.end - 2000)
        fork_time = clock.t
        copies: dict[str, Journal] = {}
        for agent, src in source.journals.items():
            if agent == "main":
                cut: Cut | None = main.cuts[k]
            else:
                fitting = [c for c in src.cuts if c.time_ms <= cut_time]
                cut = fitting[-1] if fitting else None
            j = Journal(directory / "agents" / agent / "wire.jsonl", agent, src.modern)
            stats.fork_copied_bytes += _copy_journal(j, src, cut, modern_fork, fork_time)
            copies[agent] = j
        return copies

    def _session(
        self,
        rng: random.Random,
        out: Path,
        params: Params,
        index: int,
        group: str,
        work_dir: str,
        target: int,
        start: int,
        end: int,
        source: SessionInfo | None,
        huge: list[int],
        stats: Stats,
    ) -> SessionInfo:
        session_id = "session_" + str(uuid.UUID(int=rng.getrandbits(128), version=4))
        clock = Clock(start, end)
        if source is not None:
            group, work_dir = source.group, source.work_dir
        directory = out / "sessions" / group / session_id
        if source is not None:
            begin = self._fork_start(rng, directory, source, stats, clock)
        else:
            begin = self._plain_start(rng, directory, start, stats)
        main = begin.journals["main"]
        subagents = params.subagents and rng.random() < 0.3
        act = Activity(self, rng, clock, directory, begin.alias, begin.modern, subagents, begin.next_agent)
        act.huge = list(huge)
        if begin.modern and begin.alias != ALIAS_ENV and rng.random() < 0.08:
            act.switch_at = rng.randint(0, 6)
        copied = main.approx_size
        records_before = len(main.records)
        while begin.own_turns:
            left = target - (main.approx_size - copied + sum(j.approx_size for j in act.new_agents))
            if act.turns and left < 2 * KB and not act.huge:
                break
            act.turn(main, min(max(left, 2 * KB), _lognorm_size(rng, 120 * KB, 1.3, 4 * KB, 6 * MB)), 0)
        if source is not None and len(main.records) == records_before and not act.new_agents:
            stats.forks_without_own_usage += 1
        for j in act.new_agents:
            begin.journals[j.agent] = j
        if rng.random() < 1 / 150 and begin.own_turns:
            _partial_tail(main, begin.alias, clock.t + 5)
            stats.partial_tails += 1
        title = begin.title or " ".join(_unescape(act.first_prompt or "").split())[:48] or "Untitled"
        for j in begin.journals.values():
            j.write()
        stats.sessions_with_subagents += bool(act.new_agents)
        last_prompt = _unescape(act.last_prompt)[:200] if act.last_prompt else None
        state = _state_json(
            session_id, title, work_dir, start, clock.t, list(begin.journals), last_prompt,
            begin.forked_from, begin.child_of,
        )  # fmt: skip
        extras = [(directory / "state.json", state)]
        if rng.random() < 0.1:
            extras.append((directory / "agents" / "main" / "logs" / "kimi-code.log", _log_text(rng, start)))
        self._extras(extras)
        return SessionInfo(
            index,
            group,
            session_id,
            directory,
            title,
            work_dir,
            begin.journals,
            begin.forked_from,
            begin.modern,
        )

    def _fork_start(
        self, rng: random.Random, directory: Path, source: SessionInfo, stats: Stats, clock: Clock
    ) -> Start:
        """A fork: the source's journals copied (a fifth by the legacy engine: no marker), sometimes a
        child session; most go on with turns of their own."""
        modern_fork = rng.random() >= 0.2
        at_turn = rng.random() < 0.6
        journals = self._copy(rng, directory, source, modern_fork, at_turn, stats, clock)
        stats.forks += 1
        stats.forks_at_turn += at_turn
        stats.legacy_forks += not modern_fork
        stats.forks_of_forks += source.forked_from is not None
        child_of = None
        if rng.random() < 0.1:
            child_of = source.session_id
            stats.child_sessions += 1
        main = journals["main"]
        return Start(
            journals,
            main.records[-1].identity[3] if main.records else ALIAS_MAIN,  # the alias at the cut
            source.modern,
            sum(1 for a in journals if a != "main"),
            "Fork: " + source.title,
            source.session_id,
            child_of,
            rng.random() >= 0.15,
        )

    @staticmethod
    def _plain_start(rng: random.Random, directory: Path, start: int, stats: Stats) -> Start:
        """A new session: a few on the legacy engine, some on the second alias or the env model."""
        modern = rng.random() >= 0.03
        stats.legacy_engine_sessions += not modern
        alias = ALIAS_MAIN
        r = rng.random()
        if r < 0.02:
            alias = ALIAS_ENV
            stats.env_model_sessions += 1
        elif r < 0.15:
            alias = ALIAS_ALT
            stats.alt_alias_sessions += 1
        main = Journal(directory / "agents" / "main" / "wire.jsonl", "main", modern)
        main.header(PROTOCOL if modern else LEGACY_PROTOCOL, start)
        main.context = rng.randint(6000, 14000)
        return Start({"main": main}, alias, modern, 0, "", None, None, True)

    def _tiny(
        self, out: Path, params: Params, sessions: list[SessionInfo], stats: Stats, progress: bool
    ) -> None:
        """Many ~1-2 KB sessions: one short turn each (agents/main/wire.jsonl + state.json)."""
        rng = random.Random(params.seed)
        end_ms = int(parse_instant(params.end) * 1000)
        begin_ms = end_ms - int(SPAN_DAYS * DAY * 1000)
        groups = _groups(rng, max(1, params.sessions // 200))
        prose = self.pools.prose
        for i in range(params.sessions):
            if progress and i % 5000 == 0:
                print(f"\r  session {i}/{params.sessions}", end="", file=sys.stderr, flush=True)
            session_id = "session_" + str(uuid.UUID(int=rng.getrandbits(128), version=4))
            group, work_dir = groups[i % len(groups)]
            directory = out / "sessions" / group / session_id
            start = rng.randint(begin_ms, end_ms - 60_000)
            clock = Clock(start, end_ms)
            j = Journal(directory / "agents" / "main" / "wire.jsonl", "main", True)
            j.header(PROTOCOL, start)
            j.context = rng.randint(3000, 9000)
            act = Activity(self, rng, clock, directory, ALIAS_MAIN, True, False)
            text = prose.take(rng, rng.randint(40, 200))
            act.rec(
                j,
                "turn.prompt",
                {"turnId": act._id("turn_", 48), "input": [{"type": "text", "text": _SENT}]},
                [text],
            )
            clock.tick(0.5, 5.0, rng)
            act.request(j, "loop", 1, 1)
            clock.tick(0.5, 10.0, rng)
            answer = prose.take(rng, rng.randint(200, 700))
            msg = {"role": "assistant", "content": [{"type": "text", "text": _SENT}]}
            act.rec(j, "context.append_message", {"message": msg}, [answer])
            act.usage(j, (rng.randint(200, 3000), rng.randint(20, 400), 0, 0), "turn")
            clock.tick(0.05, 2.0, rng)
            act.rec(j, "turn.end", {"turnId": "t", "reason": "completed", "steps": 1})
            j.end_turn()
            j.write()
            title = " ".join(_unescape(text).split())[:48] or "Untitled"
            state = _state_json(session_id, title, work_dir, start, clock.t, ["main"], None, None, None)
            (directory / "state.json").write_text(state)
            sessions.append(SessionInfo(i, group, session_id, directory, title, work_dir, {"main": j}))
        self._account(sessions, stats)
        stats.sessions = params.sessions
        if progress:
            print(f"\r  session {params.sessions}/{params.sessions}", file=sys.stderr)

    # -- appends (the benchmark's scenario e)

    def append_activity(
        self, path: Path, nbytes: int, seed: int, start: float, end: float
    ) -> tuple[int, int]:
        """Append about `nbytes` of new turns (llm.request, usage.record, content) to the journal at
        `path` (an agent's wire.jsonl); returns (bytes, usage records)."""
        rng = random.Random(seed)
        agent = path.parent.name
        j = Journal(path, agent, modern=True)
        j.context = rng.randint(8000, 40000)
        act = Activity(
            self,
            rng,
            Clock(int(start * 1000), int(end * 1000)),
            path.parent.parent.parent,
            ALIAS_MAIN,
            True,
            False,
        )
        while j.approx_size < nbytes:
            act.turn(j, nbytes - j.approx_size, 0 if agent == "main" else 1)
        j.flush()
        with open(path, "ab") as f:
            f.writelines(j.chunks)
        return j.size, j.tally.usage_lines


def generate(out: Path, params: Params, progress: bool = False) -> Json:
    return Generator(params.seed).generate(out, params, progress)


def format_stats(manifest: Json) -> str:
    """The manifest's statistics, for people. Line tallies count every file's lines, copies included."""
    s = manifest["stats"]
    c = s["counts"]
    e = manifest["expected"]
    mib = s["wire_bytes"] / MB
    scope = s["calls_by_scope"]
    copied = 100 * s["fork_copied_bytes"] / max(1, s["wire_bytes"])
    lines = [
        f"sessions {s['sessions']:,} ({s['sessions_written']:,} on disk, {s['deleted_sessions']} deleted "
        f"sources); forks {s['forks']:,} ({s['forks_on_disk']:,} on disk; at a turn {s['forks_at_turn']:,}, "
        f"legacy without marker "
        f"{s['legacy_forks']:,}, child sessions {s['child_sessions']}, forks of forks {s['forks_of_forks']}, "
        f"orphaned {s['orphan_forks']}, no own usage {s['forks_without_own_usage']})",
        f"migrated ses_* {s['migrated_sessions']}, legacy engine 1.4 {s['legacy_engine_sessions']}, "
        f"env model {s['env_model_sessions']}, second alias {s['alt_alias_sessions']}, "
        f"with subagents {s['sessions_with_subagents']:,}",
        f"wire files {s['wire_files']:,} (subagent {s['subagent_wire_files']:,}), {s['wire_bytes']:,} bytes "
        f"({mib:,.1f} MiB); all files {s['all_files']:,} ({s['all_bytes']:,} bytes)",
        f"fork-copied bytes {s['fork_copied_bytes']:,} ({copied:.1f} %)",
        f"lines {c['lines']:,}; usage.record {c['usage_lines']:,} non-zero (copies included), "
        f"all-zero {c['zero_usage_lines']:,}; step.end {c['step_end_lines']:,}; "
        f"llm.request {c['llm_requests']:,} (retries {c['retries']:,}); compactions {c['compactions']:,}; "
        f"/model switches {c['model_switches']}; forked markers {c['forked_markers']}; "
        f"lines quoting usage.record {c['trap_lines']:,}",
        f"distinct calls {s['calls']:,} (turn {scope['turn']:,}, session {scope['session']:,}, "
        f"none {scope['none']}); copies folded {s['duplicate_records']:,}; "
        f"partial last lines {s['partial_tails']}; huge (1-4 MB) lines {c['huge_lines']}",
        f"longest line {c['max_line']:,} characters",
        "expected: "
        + ", ".join(f"{k} {v:,}" for k, v in e["metrics"].items())
        + "; models "
        + ", ".join(f"{m['model']} ({m['requests']:,})" for m in e["models"]),
        f"generated in {s['seconds']:.1f} s ({mib / max(s['seconds'], 1e-9):,.0f} MiB/s)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus_code", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--size-mb", type=float, default=1024.0, help="total wire.jsonl size (full mode)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subagents", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--files-only-tiny", action="store_true", help="many ~1-2 KB sessions (one turn each)"
    )
    parser.add_argument("--end", default=DEFAULT_END, help="latest timestamp (ISO-8601); data spans 60 days")
    parser.add_argument("--now", default=DEFAULT_NOW, help="the clock the expected figures assume")
    parser.add_argument("--force", action="store_true", help="replace OUT_DIR if it holds a generated corpus")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    if out.exists() and any(out.iterdir()):
        if read_manifest(out) is None or not args.force:
            parser.error(f"{out} is not empty (use --force to replace a corpus this tool generated)")
        remove_tree(out)
    params = Params(
        args.sessions, args.size_mb, args.seed, args.subagents, args.files_only_tiny, args.end, args.now
    )
    manifest = generate(out, params, progress=sys.stderr.isatty())
    print(f"corpus at {out}")
    print(format_stats(manifest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
