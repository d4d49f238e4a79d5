"""A deterministic generator of realistic Kimi CLI homes, for the benchmark and for scale tests.

    python -m bench.corpus OUT_DIR --sessions 2000 --size-mb 1024 --seed 1 [--no-subagents]
    python -m bench.corpus OUT_DIR --files-only-tiny --sessions 100000 --seed 1

The home has the shape `kimi-cli-format.md` describes: `config.toml`, and per session
`sessions/<md5 group>/<uuid>/wire.jsonl` + `state.json` + `context.jsonl` (+ `subagents/<id>/...`).
A wire file is a metadata header, then turns: TurnBegin, StepBegin, think/text ContentParts, ToolCalls,
a StatusUpdate with `token_usage` per step, big ToolResults (escaped quotes and newlines, some quoting
`token_usage` and StatusUpdate JSON inside their strings), StatusUpdates with `token_usage: null`, a few
1-5 MB `mcp_status` lines, TurnEnd. Most lines use `json.dumps` defaults; some are compact, some have
their keys in another order. About one session in seven is a fork or undo: its wire file begins with a
verbatim copy of an earlier session's lines up to a turn end, and its `state.json` title is
`Fork: <title>` / `Undo: <title>`. Some sessions have subagent files, and foreground subagents are
echoed in the parent wrapped in `SubagentEvent`s (twice for a sub-subagent); old (pre-1.25) sessions
have echoes only. A few sessions end with a half-written last line.

The generator knows every model call it wrote, so the manifest (`bench-corpus.json` in OUT_DIR)
carries the expected snapshot figures (totals, sessions, today / 7 d at the pinned clock, daily series)
by the rules of the format document, next to the corpus statistics.

Speed: big strings (tool output, thinking) are escaped once into pools and sliced at line boundaries;
small records go through `json.dumps`; each file is written in a few large writes.
"""

from __future__ import annotations

import argparse
import bisect
import copy
import hashlib
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 1
MANIFEST_NAME = "bench-corpus.json"
DEFAULT_END = "2026-11-25T03:00:00Z"  # the last generated timestamp is just before this instant
DEFAULT_NOW = "2026-11-25T04:00:00Z"  # the clock the expected figures assume (OPENUSAGE_NOW)
SPAN_DAYS = 60
MODEL_ALIAS = "kimi"
MODEL = "kimi-k2-turbo-preview"
UPSTREAM = "moonshot"
MAX_CONTEXT = 262144
KB = 1024
MB = 1024 * 1024
DAY = 86400.0

_SENT = "@@BIG@@"  # placeholder for a pre-escaped string value
_SENT_RAW = '"@@BIG@@"'  # placeholder for a raw JSON value (the mcp_status object)

STYLE_DEFAULT = 0
STYLE_COMPACT = 1
STYLE_REORDERED = 2

KIND_OTHER = 0
KIND_STATUS_NULL = 1
KIND_USAGE = 2
KIND_USAGE_ZERO = 3

Json = dict[str, Any]


def parse_instant(text: str) -> float:
    """ISO-8601 (a trailing Z allowed) → POSIX seconds; a naive instant is UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _utc_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


# --------------------------------------------------------------------------------------------------
# Text pools: realistic raw lines, JSON-escaped once, sliced at line boundaries (never mid-escape).

_WORD_TEXT = (
    "the reader session token cache offset usage model call fork undo subagent parent file line bytes "
    "scan store query snapshot window today week daily series record count input output read write "
    "config provider path directory state title schema migration index commit test fixture assert "
    "value error message result return function class method module import package build release "
    "check lint format type strict option flag default environment variable process thread pool "
    "memory buffer stream decode encode parse json utf8 newline escape quote backslash tab unicode"
)
_WORDS = tuple(_WORD_TEXT.split())
_UNICODE = ("naïve", "café", "日本語", "→", "✨", "Größe", "façade", "東京", "—", "résumé", "π≈3.14", "😀")
_NAMES = (
    "read_chunk",
    "scan_file",
    "open_store",
    "build_snapshot",
    "parse_line",
    "fold_calls",
    "owner_of",
    "session_id",
    "resolve_model",
    "load_config",
    "iter_sources",
    "apply_migration",
    "fingerprint",
    "render_tile",
    "daily_series",
    "window_for",
    "count_skips",
    "emit_progress",
    "candidate_lines",
)
_TYPES = ("int", "str", "bytes", "Path", "float | None", "list[str]", "dict[str, int]", "Chunk", "Source")
_FILES = (
    "src/openusage/scan.py",
    "src/openusage/store.py",
    "src/app/main.py",
    "tests/test_scan.py",
    "lib/utils/io.ts",
    "cmd/server/main.go",
    "README.md",
    "pyproject.toml",
    "docs/usage.md",
    "src/kimi_cli/soul/kimisoul.py",
    "src/kimi_cli/wire/types.py",
    "web/src/App.tsx",
)
_TRAPS = (
    "src/kimi_cli/soul/kimisoul.py:412:            token_usage=result.usage,",
    "    token_usage: TokenUsage | None = None",
    '{"timestamp": 1763990000.5, "message": {"type": "StatusUpdate", "payload": {"context_usage": 0.1, '
    '"token_usage": {"input_other": 10, "output": 5, "input_cache_read": 0, "input_cache_creation": 0}, '
    '"message_id": "chatcmpl-quoted0000000000000000", "plan_mode": null, "mcp_status": null}}}',
    '$ grep -rn "token_usage" ~/.kimi/sessions | head -3',
    'if msg["type"] == "StatusUpdate" and msg["payload"].get("token_usage"):',
    '{"type":"StatusUpdate","payload":{"token_usage":{"input_other":1,"output":1,'
    '"input_cache_read":0,"input_cache_creation":0},"message_id":"chatcmpl-quotedcompact0000000"}}',
)


def _word(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(_UNICODE)
    return rng.choice(_WORDS)


def _sentence(rng: random.Random, lo: int = 5, hi: int = 18) -> str:
    words = [_word(rng) for _ in range(rng.randint(lo, hi))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice((".", ".", ".", "?", ":", "!"))


def _code_line(rng: random.Random) -> str:
    r = rng.random()
    ind = "    " * rng.randint(0, 3)
    name = rng.choice(_NAMES)
    if r < 0.0035:
        return rng.choice(_TRAPS)
    if r < 0.12:
        return f"{ind}def {name}(self, {_word(rng)}: {rng.choice(_TYPES)}) -> {rng.choice(_TYPES)}:"
    if r < 0.22:
        return f'{ind}return self._{name}({_word(rng)}, "{_word(rng)}", offset={rng.randint(0, 99999)})'
    if r < 0.30:
        return f"{ind}# {_sentence(rng)}"
    if r < 0.36:
        return f'{ind}raise ValueError(f"bad {{value!r}} in {_word(rng)} \\"{name}\\"")'
    if r < 0.42:
        return f'{ind}path = "C:\\\\Users\\\\dev\\\\{_word(rng)}\\\\{name}.py"\t# windows'
    if r < 0.52:
        size = rng.randint(100, 999999)
        return (
            f"-rw-r--r--  1 dev  staff  {size:>7} Nov {rng.randint(1, 28):>2} 10:{rng.randint(10, 59)} "
            + (rng.choice(_FILES))
        )
    if r < 0.60:
        pct = rng.randint(0, 100)
        verdict = rng.choice(("PASSED", "PASSED", "FAILED"))
        return f"tests/test_{_word(rng)}.py::test_{name} {verdict} [{pct:3d}%]"
    if r < 0.66:
        return f"{rng.getrandbits(28):07x} {_sentence(rng, 3, 9)}"
    if r < 0.72:
        return f"{rng.choice(_FILES)}:{rng.randint(1, 900)}:{ind}{name}({_word(rng)}, {_word(rng)})"
    if r < 0.80:
        return (
            f'{ind}"{_word(rng)}": {{"{name}": {rng.randint(0, 9999)}, "ok": true, "note": "{_word(rng)}"}},'
        )
    if r < 0.84:
        return ""
    return f"{ind}{_word(rng)} = {name}({_word(rng)}, {_word(rng)}={rng.randint(0, 512)})  # {_word(rng)}"


def _prose_line(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return ""
    if rng.random() < 0.1:
        return f"- `{rng.choice(_NAMES)}` in `{rng.choice(_FILES)}`: {_sentence(rng)}"
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))


class TextPool:
    """A long JSON-escaped string, cut into slices of about the size asked, at escaped-line boundaries."""

    def __init__(self, lines: Sequence[str]) -> None:
        escaped = [json.dumps(line, ensure_ascii=False)[1:-1] + "\\n" for line in lines]
        bounds = [0]
        total = 0
        for piece in escaped:
            total += len(piece)
            bounds.append(total)
        self.text = "".join(escaped)
        self.bounds = bounds

    def take(self, rng: random.Random, size: int) -> str:
        bounds = self.bounds
        last = len(bounds) - 1
        i = rng.randrange(last)
        start = bounds[i]
        if start + size > bounds[-1]:
            start, i = 0, 0
        j = bisect.bisect_left(bounds, start + size, i + 1)
        return self.text[start : bounds[min(j, last)]]


@dataclass(slots=True)
class Pools:
    code: TextPool
    prose: TextPool
    mcp_tools: list[str]

    @classmethod
    def build(cls, seed: int) -> Pools:
        rng = random.Random(seed * 7919 + 1)
        code = TextPool([_code_line(rng) for _ in range(45_000)])  # ~2.8 MB escaped
        prose = TextPool([_prose_line(rng) for _ in range(6_000)])  # ~0.9 MB escaped
        tools = [
            f"mcp__{rng.choice(_WORDS)}_{i % 97}__{rng.choice(_NAMES)}_{rng.choice(_WORDS)}_{i}"
            for i in range(150_000)
        ]
        return cls(code, prose, tools)

    def mcp_status(self, rng: random.Random, size: int) -> str:
        """A raw JSON `MCPStatusSnapshot` of about `size` bytes (every tool of many servers)."""
        servers: list[Json] = []
        used = 0
        k = 0
        n_tools = len(self.mcp_tools)
        while used < size:
            count = rng.randint(200, 3000)
            names = [self.mcp_tools[(k + j) % n_tools] for j in range(count)]
            k += count
            used += sum(len(n) + 4 for n in names) + 60
            servers.append({"name": f"server-{len(servers)}", "status": "connected", "tools": names})
        snapshot = {
            "loading": False,
            "connected": len(servers),
            "total": len(servers),
            "tools": k,
            "servers": servers,
        }
        return json.dumps(snapshot, ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# Files being written.


@dataclass(slots=True)
class Counts:
    """Per-file tallies of what was written (copies included: a fork's prefix counts again)."""

    lines: int = 0
    status_lines: int = 0
    usage_lines: int = 0  # StatusUpdate with a non-zero token_usage object, at any wrapping depth
    wrapped_usage_lines: int = 0
    zero_usage_lines: int = 0
    null_usage_lines: int = 0
    no_id_usage_lines: int = 0
    mcp_lines: int = 0
    partial_lines: int = 0
    max_line: int = 0
    max_usage_line: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            name = f.name
            if name.startswith("max_"):
                setattr(self, name, max(getattr(self, name), getattr(other, name)))
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


def _reverse(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _reverse(obj[k]) for k in reversed(obj)}
    if isinstance(obj, list):
        return [_reverse(v) for v in obj]
    return obj


class Wire:
    """One wire.jsonl in memory: lines as str parts, encoded per turn, written in one go."""

    def __init__(self, path: Path, protocol: str | None = "1.10") -> None:
        self.path = path
        self.parts: list[str] = []
        self.pending = 0
        self.chunks: list[bytes] = []
        self.size = 0
        self.counts = Counts()
        self.turn_ends: list[int] = []
        self.turn_counts: list[Counts] = []
        self.turn_ts: list[float] = []
        if protocol is not None:
            header = json.dumps({"type": "metadata", "protocol_version": protocol}) + "\n"
            self.parts.append(header)
            self.pending += len(header)
            self.counts.lines += 1

    @property
    def approx_size(self) -> int:
        return self.size + self.pending

    def emit(
        self,
        style: int,
        ts: float,
        mtype: str,
        payload: Json,
        big: str | None,
        raw: bool,
        kind: int,
        wrapped: bool,
        mcp: bool,
    ) -> None:
        obj = {"timestamp": ts, "message": {"type": mtype, "payload": payload}}
        if style == STYLE_COMPACT:
            text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        elif style == STYLE_REORDERED:
            text = json.dumps(_reverse(obj), ensure_ascii=False)
        else:
            text = json.dumps(obj, ensure_ascii=False)
        if big is None:
            self.parts.append(text)
            self.parts.append("\n")
            n = len(text) + 1
        else:
            head, _, tail = text.partition(_SENT_RAW if raw else _SENT)
            self.parts += (head, big, tail, "\n")
            n = len(head) + len(big) + len(tail) + 1
        self.pending += n
        c = self.counts
        c.lines += 1
        c.max_line = max(c.max_line, n)
        if kind:
            c.status_lines += 1
            if kind == KIND_STATUS_NULL:
                c.null_usage_lines += 1
            elif kind == KIND_USAGE_ZERO:
                c.zero_usage_lines += 1
            else:
                c.usage_lines += 1
                c.max_usage_line = max(c.max_usage_line, n)
                if wrapped:
                    c.wrapped_usage_lines += 1
                if '"message_id": null' in text or '"message_id":null' in text:
                    c.no_id_usage_lines += 1
        if mcp:
            c.mcp_lines += 1

    def flush(self) -> None:
        if self.parts:
            data = "".join(self.parts).encode()
            self.chunks.append(data)
            self.size += len(data)
            self.parts.clear()
            self.pending = 0

    def end_turn(self, ts: float) -> None:
        self.flush()
        self.turn_ends.append(self.size)
        self.turn_counts.append(copy.copy(self.counts))
        self.turn_ts.append(ts)

    def copy_prefix(self, data: bytes, counts: Counts) -> None:
        """Start with a verbatim copy of another wire's bytes (a fork); `counts` is what they hold."""
        self.chunks.append(data)
        self.size += len(data)
        self.counts.add(counts)

    def add_partial_line(self, text: str) -> None:
        self.parts.append(text)
        self.pending += len(text)
        self.counts.partial_lines += 1

    def write(self, mode: str = "wb") -> int:
        self.flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, mode) as f:
            f.writelines(self.chunks)
        return self.size


# --------------------------------------------------------------------------------------------------
# Events: turns, steps, subagents.


@dataclass(slots=True)
class Call:
    owner: str
    ts: float
    counts: tuple[int, int, int, int]


Wrap = dict[str, Any]
Sink = tuple[Wire, tuple[Wrap, ...]]  # a file and the SubagentEvent headers its copy is wrapped in

_TOOLS = ("Shell", "ReadFile", "Grep", "Glob", "WriteFile", "StrReplaceFile", "SearchWeb", "FetchURL")


class Clock:
    def __init__(self, t: float, end: float) -> None:
        self.t = t
        self.end = end

    def tick(self, lo: float, hi: float, rng: random.Random) -> float:
        dt = rng.uniform(lo, hi)
        if self.t + dt >= self.end - 1.0:
            dt = max(0.0, self.end - 1.0 - self.t) * 0.001
        self.t += dt
        return self.t


def _lognorm_size(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, median * math.exp(rng.gauss(0.0, sigma)))))


class Emitter:
    """Writes the events of one session (and its subagents) into their sinks, and records each call."""

    def __init__(
        self,
        rng: random.Random,
        pools: Pools,
        clock: Clock,
        session_id: str,
        calls: dict[str, Call],
        legacy: bool,
        subagent_dir: Path | None,
        style_mix: tuple[float, float] = (0.85, 0.95),
    ) -> None:
        self.rng = rng
        self.pools = pools
        self.clock = clock
        self.session_id = session_id
        self.calls = calls
        self.legacy = legacy
        self.subagent_dir = subagent_dir  # None: no subagents at all
        self.style_mix = style_mix
        self.context = rng.randint(6000, 14000)
        self.subagents: list[tuple[Wire, Json, str]] = []  # own file, meta.json, prompt
        self.mcp_on_usage: list[int] = []  # sizes of huge mcp_status to put on upcoming usage lines
        self.no_id_share = 0.004
        self.zero_share = 0.002
        self.first_prompt: str | None = None  # escaped text of the first TurnBegin (the derived title)

    # -- low level

    def _style(self) -> int:
        r = self.rng.random()
        if r < self.style_mix[0]:
            return STYLE_DEFAULT
        if r < self.style_mix[1]:
            return STYLE_COMPACT
        return STYLE_REORDERED

    def send(
        self,
        sinks: Sequence[Sink],
        mtype: str,
        payload: Json,
        big: str | None = None,
        raw: bool = False,
        kind: int = KIND_OTHER,
        mcp: bool = False,
    ) -> None:
        ts = self.clock.t
        for wire, wraps in sinks:
            t, p = mtype, payload
            for w in wraps:
                p = {**w, "event": {"type": t, "payload": p}}
                t = "SubagentEvent"
            wire.emit(self._style(), ts + 0.003 * len(wraps), t, p, big, raw, kind, bool(wraps), mcp)

    def _id(self, prefix: str, bits: int = 64) -> str:
        return f"{prefix}{self.rng.getrandbits(bits):0{bits // 4}x}"

    # -- records

    def status_null(self, sinks: Sequence[Sink], mcp_size: int = 0) -> None:
        payload: Json = {
            "context_usage": round(self.context / MAX_CONTEXT, 4),
            "context_tokens": self.context,
            "max_context_tokens": MAX_CONTEXT,
            "token_usage": None,
            "message_id": None,
            "plan_mode": self.rng.random() < 0.05 or None,
            "mcp_status": _SENT if mcp_size else None,
        }
        big = self.pools.mcp_status(self.rng, mcp_size) if mcp_size else None
        self.send(sinks, "StatusUpdate", payload, big, raw=True, kind=KIND_STATUS_NULL, mcp=bool(mcp_size))

    def status_usage(self, sinks: Sequence[Sink], new_in: int, out: int) -> None:
        rng = self.rng
        cache_read = max(0, self.context - new_in) // 256 * 256 if rng.random() < 0.93 else 0
        input_other = max(1, new_in + (self.context - cache_read if cache_read == 0 else 0))
        cache_write = 0 if rng.random() < 0.9 else rng.randint(500, 30000)
        counts = (input_other, max(1, out), cache_read, cache_write)
        if rng.random() < self.zero_share:
            counts = (0, 0, 0, 0)
        message_id: str | None = self._id("chatcmpl-", 96)
        top_level_only = all(not wraps for _, wraps in sinks)
        if top_level_only and rng.random() < self.no_id_share:
            message_id = None  # a provider that gives no id: the call is keyed by its timestamp
        self.context += new_in + out
        mcp_size = self.mcp_on_usage.pop() if self.mcp_on_usage and top_level_only else 0
        payload: Json = {
            "context_usage": round(min(self.context, MAX_CONTEXT) / MAX_CONTEXT, 4),
            "context_tokens": self.context,
            "max_context_tokens": MAX_CONTEXT,
            "token_usage": {
                "input_other": counts[0],
                "output": counts[1],
                "input_cache_read": counts[2],
                "input_cache_creation": counts[3],
            },
            "message_id": message_id,
            "plan_mode": None if rng.random() < 0.7 else False,
            "mcp_status": _SENT if mcp_size else None,
        }
        big = self.pools.mcp_status(rng, mcp_size) if mcp_size else None
        zero = counts == (0, 0, 0, 0)
        self.send(
            sinks,
            "StatusUpdate",
            payload,
            big,
            raw=True,
            kind=KIND_USAGE_ZERO if zero else KIND_USAGE,
            mcp=bool(mcp_size),
        )
        if not zero:
            ts = self.clock.t + 0.003 * min(len(wraps) for _, wraps in sinks)
            key = message_id if message_id is not None else f"noid:{ts!r}"
            self.calls[key] = Call(self.session_id, ts, counts)

    def turn(self, sinks: Sequence[Sink], budget: int, depth: int, size_of: Wire) -> None:
        """One turn: its steps stop when `size_of` has grown by about `budget` bytes."""
        rng = self.rng
        clock = self.clock
        start = size_of.approx_size
        clock.tick(30.0, 1800.0, rng)
        prompt = self.pools.prose.take(rng, rng.randint(40, 900))
        if self.first_prompt is None:
            self.first_prompt = prompt
        user_input: Any = _SENT if rng.random() < 0.85 else [{"type": "text", "text": _SENT}]
        self.send(sinks, "TurnBegin", {"user_input": user_input}, prompt)
        new_in = len(prompt) // 4 + 20
        if rng.random() < 0.5:
            clock.tick(0.01, 0.2, rng)
            self.status_null(sinks)
        n = 0
        max_steps = rng.choice((1, 2, 3, 5, 8, 12, 20, 40))
        while True:
            n += 1
            left = budget - (size_of.approx_size - start)
            last = n >= max_steps or left < 4 * KB
            new_in = self.step(sinks, n, new_in, max(2 * KB, left), last, depth)
            if last:
                break
        clock.tick(0.05, 2.0, rng)
        self.send(sinks, "TurnEnd", {})

    def step(self, sinks: Sequence[Sink], n: int, new_in: int, left: int, last: bool, depth: int) -> int:
        rng = self.rng
        clock = self.clock
        pools = self.pools
        clock.tick(0.05, 1.5, rng)
        self.send(sinks, "StepBegin", {"n": n})
        out = 0
        if self.context > 200_000:
            self.send(sinks, "CompactionBegin", {})
            clock.tick(5.0, 40.0, rng)
            self.send(sinks, "CompactionEnd", {})
            self.context = rng.randint(12000, 30000)
        if rng.random() < 0.8:
            clock.tick(1.0, 20.0, rng)
            think = pools.prose.take(rng, _lognorm_size(rng, 1500, 0.9, 200, min(20 * KB, left // 3 + 200)))
            self.send(sinks, "ContentPart", {"type": "think", "think": _SENT, "encrypted": None}, think)
            out += len(think) // 4
        if last or rng.random() < 0.3:
            clock.tick(0.5, 10.0, rng)
            text = pools.prose.take(rng, _lognorm_size(rng, 700, 1.0, 60, min(10 * KB, left // 3 + 60)))
            self.send(sinks, "ContentPart", {"type": "text", "text": _SENT}, text)
            out += len(text) // 4
        results: list[tuple[str, str, str | None]] = []  # (tool call id, tool, subagent prompt)
        if not last:
            for _ in range(rng.choice((1, 1, 1, 1, 2, 3))):
                tool = rng.choice(_TOOLS)
                spawn = (
                    (self.subagent_dir is not None or self.legacy)
                    and depth < 2
                    and rng.random() < (0.06 if depth == 0 else 0.1)
                )
                if spawn:
                    tool = "Agent" if not self.legacy else "Task"
                call_id = self._id("tool_")
                args = self._arguments(tool, left)
                out += len(args) // 4
                function = {"name": tool, "arguments": args}
                self.send(
                    sinks,
                    "ToolCall",
                    {"type": "function", "id": call_id, "function": function, "extras": None},
                )
                results.append((call_id, tool, args if spawn else None))
        clock.tick(0.01, 0.3, rng)
        self.status_usage(sinks, new_in, out + rng.randint(5, 60))
        new_in = self._run_tools(sinks, results, left, depth)
        if rng.random() < 0.05:
            self.status_null(sinks)
        if rng.random() < 0.01:
            self.send(
                sinks,
                "Notification",
                {
                    "id": self._id("n_"),
                    "category": "task",
                    "type": "done",
                    "source_kind": "background_agent",
                    "source_id": self._id("a"),
                    "title": "Task finished",
                    "body": _sentence(rng),
                    "severity": "info",
                    "created_at": clock.t,
                    "payload": {},
                },
            )
        return new_in + 50

    def _run_tools(
        self, sinks: Sequence[Sink], results: list[tuple[str, str, str | None]], left: int, depth: int
    ) -> int:
        """The tool calls' results (a subagent's turn for an Agent call); returns the new input tokens."""
        rng = self.rng
        clock = self.clock
        new_in = 0
        for call_id, tool, prompt in results:
            if tool == "Shell" and rng.random() < 0.1:
                request = self._id("req_")
                self.send(
                    sinks,
                    "ApprovalRequest",
                    {
                        "id": request,
                        "tool_call_id": call_id,
                        "sender": "Shell",
                        "action": "run command",
                        "description": "Run `pytest -q`",
                        "display": [],
                    },
                )
                clock.tick(1.0, 30.0, rng)
                self.send(
                    sinks, "ApprovalResponse", {"request_id": request, "response": "approve", "feedback": ""}
                )
            if prompt is not None:
                summary = self.subagent(sinks, call_id, prompt, left // 3, depth)
                output = summary
            else:
                clock.tick(0.05, 8.0, rng)
                size = _lognorm_size(rng, 8 * KB, 1.2, 2 * KB, min(200 * KB, max(2 * KB, left // 2)))
                output = self.pools.code.take(rng, size)
            return_value = {
                "is_error": rng.random() < 0.04,
                "output": _SENT,
                "message": "Command executed successfully." if tool == "Shell" else "",
                "display": [],
                "extras": None,
            }
            self.send(sinks, "ToolResult", {"tool_call_id": call_id, "return_value": return_value}, output)
            new_in += len(output) // 4 + 30
        return new_in

    def _arguments(self, tool: str, left: int) -> str:
        rng = self.rng
        path = rng.choice(_FILES)
        if tool in ("Agent", "Task"):
            return json.dumps(
                {"description": _sentence(rng, 3, 6), "prompt": _sentence(rng, 10, 40)}, ensure_ascii=False
            )
        if tool == "Shell":
            return json.dumps({"command": f"pytest -q {path} -k {_word(rng)}", "timeout": 60})
        if tool in ("WriteFile", "StrReplaceFile"):
            # An escaped pool slice is valid JSON string content: the arguments are valid JSON text.
            content = self.pools.code.take(rng, _lognorm_size(rng, 2 * KB, 1.0, 200, min(24 * KB, left // 4)))
            return f'{{"path": "{path}", "content": "{content}"}}'
        if tool == "Grep":
            return json.dumps(
                {"pattern": rng.choice(("token_usage", "StatusUpdate", _word(rng))), "path": "src"}
            )
        return json.dumps({"path": path, "line_offset": rng.randint(1, 400), "n_lines": 200})

    def subagent(
        self, parent_sinks: Sequence[Sink], call_id: str, prompt_args: str, budget: int, depth: int
    ) -> str:
        """A subagent turn: its own file (1.25+), echoed wrapped into every parent sink when foreground."""
        rng = self.rng
        budget = max(4 * KB, min(budget, 3 * MB))
        if self.legacy:
            wrap: Wrap = {"task_tool_call_id": call_id}
            sinks = [(wire, (wrap, *wraps)) for wire, wraps in parent_sinks]
            size_of = parent_sinks[0][0]
        else:
            assert self.subagent_dir is not None
            agent_id = self._id("a", 32)
            subagent_type = rng.choice(("coder", "explore", "plan"))
            own = Wire(self.subagent_dir / agent_id / "wire.jsonl")
            foreground = rng.random() < 0.8
            wrap = {"parent_tool_call_id": call_id, "agent_id": agent_id, "subagent_type": subagent_type}
            sinks = [(own, ())]
            if foreground:
                sinks += [(wire, (wrap, *wraps)) for wire, wraps in parent_sinks]
            meta = {
                "agent_id": agent_id,
                "subagent_type": subagent_type,
                "parent_tool_call_id": call_id,
                "background": not foreground,
                "created_at": self.clock.t,
            }
            self.subagents.append((own, meta, prompt_args))
            size_of = own
        saved = self.context
        self.context = rng.randint(4000, 9000)
        self.turn(sinks, budget, depth + 1, size_of)
        self.context = saved
        if not self.legacy:
            sinks[0][0].end_turn(self.clock.t)
        return self.pools.prose.take(rng, rng.randint(200, 3000))


# --------------------------------------------------------------------------------------------------
# The corpus.


@dataclass(slots=True)
class SessionInfo:
    index: int
    group: str
    session_id: str
    path: Path  # the wire.jsonl
    title: str
    prefixes: int
    turn_ends: list[int]
    turn_counts: list[Counts]
    turn_ts: list[float]


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
class Stats:
    sessions: int = 0
    forks: int = 0
    undo_forks: int = 0
    fork_copied_bytes: int = 0
    sessions_with_subagents: int = 0
    legacy_echo_sessions: int = 0
    wire_files: int = 0
    subagent_wire_files: int = 0
    wire_bytes: int = 0
    all_files: int = 0
    all_bytes: int = 0
    calls: int = 0
    partial_tails: int = 0
    counts: Counts = field(default_factory=Counts)
    seconds: float = 0.0


def _group_dirs(rng: random.Random, n: int) -> list[str]:
    projects = []
    for i in range(n):
        path = f"/home/dev/{rng.choice(_WORDS)}-{rng.choice(_WORDS)}-{i}"
        projects.append(hashlib.md5(path.encode()).hexdigest())
    return projects


def _zipf_pick(rng: random.Random, n: int) -> int:
    # P(k) ∝ 1/(k+1) over 0..n-1, by inverting the continuous approximation.
    return min(n - 1, int(math.exp(rng.random() * math.log(n + 1))) - 1)


def _state_json(title: str | None, generated: bool, ts: float) -> str:
    state = {
        "version": 1,
        "approval": {"yolo": False, "auto_approve_actions": []},
        "additional_dirs": [],
        "custom_title": title,
        "title_generated": generated,
        "plan_mode": False,
        "wire_mtime": ts,
    }
    return json.dumps(state, ensure_ascii=False, indent=2)


def _context_jsonl(rng: random.Random, pools: Pools) -> str:
    lines = [
        json.dumps({"role": "_checkpoint", "id": 0}),
        json.dumps({"role": "user", "content": "Fix the failing tests in " + rng.choice(_FILES)}),
        json.dumps({"role": "assistant", "content": _sentence(rng, 10, 30)}, ensure_ascii=False),
        json.dumps({"role": "_usage", "token_count": rng.randint(5000, 90000)}),
    ]
    return "\n".join(lines) + "\n"


def _partial_usage_line(ts: float) -> str:
    usage = {"input_other": 1234, "output": 56, "input_cache_read": 7890, "input_cache_creation": 0}
    payload = {"context_usage": 0.5, "token_usage": usage, "message_id": "chatcmpl-partial"}
    line = json.dumps({"timestamp": ts, "message": {"type": "StatusUpdate", "payload": payload}})
    return line[: len(line) // 2]


def _config_toml() -> str:
    return (
        f'default_model = "{MODEL_ALIAS}"\n\n'
        f"[models.{MODEL_ALIAS}]\n"
        f'provider = "{UPSTREAM}"\n'
        f'model = "{MODEL}"\n'
        "max_context_size = 262144\n\n"
        f"[providers.{UPSTREAM}]\n"
        'type = "kimi"\n'
        'base_url = "https://api.moonshot.ai/v1"\n'
        'api_key = "sk-bench-not-a-real-key"\n'
    )


def expected_figures(calls: dict[str, Call], now: float) -> Json:
    """The snapshot figures the format document's rules give for these calls at the instant `now`."""
    today = _utc_date(now)
    week_start = now - 7 * DAY
    owners: set[str] = set()
    owners_today: set[str] = set()
    owners_7d: set[str] = set()
    day_sessions: dict[str, set[str]] = {}
    day_tokens: dict[str, int] = {}
    totals = [0, 0, 0, 0]
    for call in calls.values():
        c = call.counts
        for k in range(4):
            totals[k] += c[k]
        owners.add(call.owner)
        day = _utc_date(call.ts)
        day_sessions.setdefault(day, set()).add(call.owner)
        day_tokens[day] = day_tokens.get(day, 0) + c[0] + c[1]
        if day == today:
            owners_today.add(call.owner)
        if call.ts >= week_start:
            owners_7d.add(call.owner)
    days = sorted(day_sessions)
    return {
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
        },
        "models": [
            {
                "model": MODEL,
                "upstream_provider": UPSTREAM,
                "input_tokens": totals[0],
                "output_tokens": totals[1],
                "cache_read_tokens": totals[2],
                "cache_write_tokens": totals[3],
                "total_tokens": totals[0] + totals[1],
                "all_tokens": sum(totals),
                "requests": len(calls),
            }
        ]
        if calls
        else [],
        "daily_series": {
            "sessions": [{"date": d, "value": len(day_sessions[d])} for d in days],
            "tokens": [{"date": d, "value": day_tokens[d]} for d in days],
        },
    }


class Generator:
    """Holds the pools; makes whole corpora, or appends a little realistic activity to a wire file."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.pools = Pools.build(seed)

    def _account_and_write(self, wires: list[Wire], extra_files: list[tuple[Path, str]], stats: Stats) -> int:
        written = 0
        for wire in wires:
            wire.flush()
            written += wire.size
            stats.counts.add(wire.counts)
            stats.wire_files += 1
            stats.all_files += 1
        stats.subagent_wire_files += len(wires) - 1
        extras = [(path, text.encode()) for path, text in extra_files]
        for _, data in extras:
            stats.all_files += 1
            stats.all_bytes += len(data)
        for wire in wires:
            wire.write()
            wire.chunks = []
        for path, data in extras:
            path.write_bytes(data)
        return written

    def generate(self, out: Path, params: Params, progress: bool = False) -> Json:
        started = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.toml").write_text(_config_toml())
        calls: dict[str, Call] = {}
        stats = Stats()
        if params.tiny:
            self._tiny(out, params, calls, stats, progress)
        else:
            self._full(out, params, calls, stats, progress)
        stats.calls = len(calls)
        stats.seconds = round(time.perf_counter() - started, 3)
        manifest = {
            "generator": "bench.corpus",
            "params": asdict(params),
            "stats": asdict(stats),
            "expected": expected_figures(calls, parse_instant(params.now)),
        }
        (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest

    def _full(self, out: Path, params: Params, calls: dict[str, Call], stats: Stats, progress: bool) -> None:
        rng = random.Random(params.seed)
        n = params.sessions
        end = parse_instant(params.end)
        begin = end - SPAN_DAYS * DAY
        total = int(params.size_mb * MB)
        groups = _group_dirs(rng, max(1, n // 12))
        weights = [rng.lognormvariate(0.0, 1.4) for _ in range(n)]
        scale = total / sum(weights)
        targets = [max(3 * KB, int(w * scale)) for w in weights]
        starts = sorted(rng.uniform(begin, end - 3600.0) for _ in range(n))
        is_fork = [i >= 3 and rng.random() < 1 / 7 for i in range(n)]
        # A few huge mcp_status lines, on the biggest original sessions; some on usage lines.
        n_mcp = max(2, round(params.size_mb / 100)) if params.size_mb >= 5 else 0
        big_first = sorted((i for i in range(n) if not is_fork[i]), key=lambda i: -targets[i])
        mcp_plan: dict[int, list[tuple[int, bool]]] = {}
        for k in range(n_mcp):
            i = big_first[k % max(1, min(len(big_first), max(1, n // 5)))] if big_first else 0
            size = min(rng.randint(1 * MB, 5 * MB), max(64 * KB, total // 20))
            mcp_plan.setdefault(i, []).append((size, k % 2 == 1))
        legacy_before = begin + 0.25 * SPAN_DAYS * DAY  # sessions older than this predate subagent files
        sessions: list[SessionInfo] = []
        by_group: dict[str, list[int]] = {}
        written = 0
        next_report = 0.0
        planned = float(sum(targets))  # what the sessions not yet written were meant to weigh
        for i in range(n):
            if progress and time.perf_counter() >= next_report:
                print(f"\r  session {i}/{n}, {written / MB:,.0f} MiB", end="", file=sys.stderr, flush=True)
                next_report = time.perf_counter() + 0.5
            session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            group = groups[_zipf_pick(rng, len(groups))]
            source: SessionInfo | None = None
            if is_fork[i]:
                source = self._pick_source(rng, sessions, by_group, group)
            # Forks copy whole histories: scale the sessions still to come so the total stays on target.
            target = max(3 * KB, int(targets[i] * max(0.1, (total - written) / max(planned, 1.0))))
            planned -= targets[i]
            if source is not None:
                group = source.group
            info, wires, extra_files = self._session(
                rng,
                out,
                i,
                group,
                session_id,
                target,
                starts[i],
                end,
                source,
                mcp_plan.get(i, []),
                params.subagents and starts[i] >= legacy_before,
                params.subagents and starts[i] < legacy_before,
                calls,
                stats,
            )
            sessions.append(info)
            by_group.setdefault(group, []).append(i)
            written += self._account_and_write(wires, extra_files, stats)
        stats.sessions = n
        stats.wire_bytes = written
        stats.all_bytes += written
        if progress:
            print(f"\r  session {n}/{n}, {written / MB:,.0f} MiB", file=sys.stderr)

    def _pick_source(
        self,
        rng: random.Random,
        sessions: list[SessionInfo],
        by_group: dict[str, list[int]],
        group: str,
    ) -> SessionInfo | None:
        recent = by_group.get(group, [])[-20:] or [s.index for s in sessions[-20:]]
        candidates = [sessions[j] for j in recent if sessions[j].turn_ends]
        return rng.choice(candidates) if candidates else None

    @staticmethod
    def _copy_fork(
        rng: random.Random, wire: Wire, clock: Clock, source: SessionInfo, stats: Stats
    ) -> tuple[str, int]:
        """/fork copies every turn, /undo the turns before one: verbatim, header included."""
        undo = rng.random() < 0.6
        k = len(source.turn_ends) - 1 if not undo else rng.randrange(len(source.turn_ends))
        with open(source.path, "rb") as f:
            prefix = f.read(source.turn_ends[k])
        wire.copy_prefix(prefix, source.turn_counts[k])
        clock.t = max(clock.t, source.turn_ts[k] + rng.uniform(60.0, 3 * 3600.0))
        clock.t = min(clock.t, clock.end - 2.0)
        stats.forks += 1
        stats.undo_forks += undo
        stats.fork_copied_bytes += len(prefix)
        return ("Undo: " if undo else "Fork: ") + source.title, source.prefixes + 1

    def _session(
        self,
        rng: random.Random,
        out: Path,
        index: int,
        group: str,
        session_id: str,
        target: int,
        start: float,
        end: float,
        source: SessionInfo | None,
        mcp: list[tuple[int, bool]],
        subagents: bool,
        legacy: bool,
        calls: dict[str, Call],
        stats: Stats,
    ) -> tuple[SessionInfo, list[Wire], list[tuple[Path, str]]]:
        directory = out / "sessions" / group / session_id
        wire = Wire(
            directory / "wire.jsonl", protocol=None if source is not None else ("1.5" if legacy else "1.10")
        )
        clock = Clock(start, end)
        has_subagents = subagents and rng.random() < 0.3
        emitter = Emitter(
            rng,
            self.pools,
            clock,
            session_id,
            calls,
            legacy and rng.random() < 0.3,
            directory / "subagents" if has_subagents else None,
        )
        title: str | None
        prefixes = 0
        if source is not None:
            title, prefixes = self._copy_fork(rng, wire, clock, source, stats)
        else:
            title = (
                None
                if rng.random() < 0.75
                else " ".join(_word(rng) for _ in range(rng.randint(2, 5))).title()
            )
        sinks: list[Sink] = [(wire, ())]
        for size, on_usage in mcp:
            if on_usage:
                emitter.mcp_on_usage.append(size)
            else:
                clock.tick(0.1, 2.0, rng)
                emitter.status_null(sinks, mcp_size=size)

        base = wire.approx_size - sum(size for size, _ in mcp)  # a fork's copy comes on top of its target

        def grown() -> int:
            return wire.approx_size - base + sum(w.approx_size for w, _, _ in emitter.subagents)

        while True:
            left = target - grown()
            if wire.turn_ends and left < 2 * KB and not emitter.mcp_on_usage:
                break
            budget = min(max(left, 2 * KB), _lognorm_size(rng, 120 * KB, 1.3, 4 * KB, 6 * MB))
            emitter.turn(sinks, budget, 0, wire)
            wire.end_turn(clock.t)
        if title is not None:
            info_title = title
        else:  # Kimi derives an untitled session's name from its first prompt; a fork copies that name
            first = json.loads(f'"{emitter.first_prompt or ""}"')
            info_title = " ".join(first.split())[:48] or "Untitled"
        if rng.random() < 1 / 150:
            # Kimi CLI is still writing: the last line is cut short (a usage line, half written).
            partial = _partial_usage_line(clock.t + 1.0)
            wire.add_partial_line(partial)
            stats.partial_tails += 1
        wires = [wire] + [w for w, _, _ in emitter.subagents]
        extras: list[tuple[Path, str]] = [
            (directory / "state.json", _state_json(title, source is not None, clock.t)),
            (directory / "context.jsonl", _context_jsonl(rng, self.pools)),
        ]
        for own, meta, prompt in emitter.subagents:
            extras.append((own.path.parent / "meta.json", json.dumps(meta)))
            extras.append((own.path.parent / "prompt.txt", prompt))
            extras.append((own.path.parent / "context.jsonl", _context_jsonl(rng, self.pools)))
        stats.sessions_with_subagents += bool(emitter.subagents)
        stats.legacy_echo_sessions += emitter.legacy
        directory.mkdir(parents=True, exist_ok=True)
        info = SessionInfo(
            index,
            group,
            session_id,
            wire.path,
            info_title,
            prefixes,
            list(wire.turn_ends),
            list(wire.turn_counts),
            list(wire.turn_ts),
        )
        return info, wires, extras

    def _tiny(self, out: Path, params: Params, calls: dict[str, Call], stats: Stats, progress: bool) -> None:
        """Many ~1-2 KB sessions: one short turn each (wire.jsonl + state.json)."""
        rng = random.Random(params.seed)
        end = parse_instant(params.end)
        begin = end - SPAN_DAYS * DAY
        groups = _group_dirs(rng, max(1, params.sessions // 200))
        for group in groups:
            (out / "sessions" / group).mkdir(parents=True, exist_ok=True)
        prose = self.pools.prose
        for i in range(params.sessions):
            if progress and i % 5000 == 0:
                print(f"\r  session {i}/{params.sessions}", end="", file=sys.stderr, flush=True)
            session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            group = groups[i % len(groups)]
            directory = out / "sessions" / group / session_id
            directory.mkdir()
            ts = rng.uniform(begin, end - 60.0)
            wire = Wire(directory / "wire.jsonl")
            clock = Clock(ts, end)
            emitter = Emitter(rng, self.pools, clock, session_id, calls, False, None)
            sinks: list[Sink] = [(wire, ())]
            emitter.send(sinks, "TurnBegin", {"user_input": _SENT}, prose.take(rng, rng.randint(40, 200)))
            clock.tick(0.01, 0.5, rng)
            emitter.send(sinks, "StepBegin", {"n": 1})
            clock.tick(0.5, 10.0, rng)
            text = prose.take(rng, rng.randint(200, 700))
            emitter.send(sinks, "ContentPart", {"type": "text", "text": _SENT}, text)
            clock.tick(0.01, 0.3, rng)
            emitter.status_usage(sinks, rng.randint(200, 3000), rng.randint(20, 400))
            clock.tick(0.05, 2.0, rng)
            emitter.send(sinks, "TurnEnd", {})
            stats.wire_bytes += wire.write()
            stats.counts.add(wire.counts)
            state = _state_json(None, False, ts).encode()
            (directory / "state.json").write_bytes(state)
            stats.all_bytes += state.__len__()
            stats.wire_files += 1
            stats.all_files += 2
        stats.sessions = params.sessions
        stats.all_bytes += stats.wire_bytes
        if progress:
            print(f"\r  session {params.sessions}/{params.sessions}", file=sys.stderr)

    # -- appends (the benchmark's scenario e)

    def append_activity(
        self, path: Path, nbytes: int, seed: int, start: float, end: float
    ) -> tuple[int, int]:
        """Append about `nbytes` of new turns (new calls) to `path`; returns (bytes, usage lines)."""
        rng = random.Random(seed)
        wire = Wire(path, protocol=None)
        emitter = Emitter(rng, self.pools, Clock(start, end), path.parent.name, {}, False, None)
        emitter.no_id_share = 0.0
        sinks: list[Sink] = [(wire, ())]
        while wire.approx_size < nbytes:
            emitter.turn(sinks, nbytes - wire.approx_size, 0, wire)
            wire.end_turn(emitter.clock.t)
        wire.flush()
        with open(path, "ab") as f:
            f.writelines(wire.chunks)
        return wire.size, wire.counts.usage_lines


def read_manifest(directory: Path) -> Json | None:
    try:
        data = json.loads((directory / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def generate(out: Path, params: Params, progress: bool = False) -> Json:
    return Generator(params.seed).generate(out, params, progress)


def _format_stats(manifest: Json) -> str:
    s = manifest["stats"]
    c = s["counts"]
    mib = s["wire_bytes"] / MB
    lines = [
        f"sessions {s['sessions']:,} (forks {s['forks']:,}, of which undo {s['undo_forks']:,}; "
        f"with subagent files {s['sessions_with_subagents']:,}; "
        f"echo-only legacy {s['legacy_echo_sessions']:,})",
        f"wire files {s['wire_files']:,} (subagent {s['subagent_wire_files']:,}), {s['wire_bytes']:,} bytes "
        f"({mib:,.1f} MiB); all files {s['all_files']:,}",
        f"fork-copied bytes {s['fork_copied_bytes']:,} "
        f"({100 * s['fork_copied_bytes'] / max(1, s['wire_bytes']):.1f} %)",
        f"lines {c['lines']:,}; StatusUpdate lines {c['status_lines']:,}: usage {c['usage_lines']:,} "
        f"(wrapped {c['wrapped_usage_lines']:,}, no message_id {c['no_id_usage_lines']:,}), "
        f"token_usage null {c['null_usage_lines']:,}, all-zero {c['zero_usage_lines']:,}",
        f"distinct calls {s['calls']:,} (copies folded {c['usage_lines'] - s['calls']:,}); "
        f"mcp_status lines {c['mcp_lines']}; partial last lines {s['partial_tails']}",
        f"longest line {c['max_line']:,} chars; longest usage line {c['max_usage_line']:,} chars",
        f"generated in {s['seconds']:.1f} s ({mib / max(s['seconds'], 1e-9):,.0f} MiB/s)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
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
    print(_format_stats(manifest))
    return 0


def remove_tree(path: Path) -> None:
    """Delete a generated corpus (only one with a manifest: never an arbitrary directory)."""
    if read_manifest(path) is None:
        raise RuntimeError(f"refusing to delete {path}: no {MANIFEST_NAME}")
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))
    os.rmdir(path)


if __name__ == "__main__":
    raise SystemExit(main())
