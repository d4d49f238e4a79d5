"""A realistic sample Kimi CLI home, for `openusage --demo` and for tests that want a whole home.

Owns only writing that sample: `config.toml` and about two weeks of sessions in exactly the layout and
line format of `kimi-cli-format.md` (metadata header, turns, steps, tool calls, StatusUpdates with and
without usage), including the cases a reader must get right: a multi-day session, a fork whose file
starts with a verbatim copy of its source's first turn, a subagent with its own `wire.jsonl` echoed
into the parent as `SubagentEvent`s, and calls carrying `payload.model`. It never reads anything back.
Deterministic: the same `now` gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openusage.providers.sample import start_sample_home

SEED = 20260922
PROTOCOL_VERSION = "1.10"
MAX_CONTEXT = 262144
CONFIGURED_MODEL = "kimi-k2-turbo-preview"
THINKING_MODEL = "kimi-k2-thinking"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/openusage/demo")

# No provider section and no api_key: the sample must not even look like it holds a secret.
CONFIG_TOML = """\
default_model = "kimi-k2"

[models.kimi-k2]
provider = "moonshot"
model = "kimi-k2-turbo-preview"
max_context_size = 262144
"""

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    title: str
    project: str
    days_ago: int  # whole days between the session's last line and `now`
    turns: int
    resumed_after_hours: float = 0.0  # > 0: a multi-day session, resumed this long after its first turn
    thinking: bool = False  # its StatusUpdates carry payload.model (the per-model table's second row)
    subagent: bool = False
    fork_source: bool = False


_PLANS = (
    _Plan(
        "Add retry with backoff to checkout client", "/home/demo/code/webshop", 0, 4, resumed_after_hours=20
    ),
    _Plan("Fix flaky payment webhook test", "/home/demo/code/webshop", 0, 3, subagent=True),
    _Plan("Explain the Terraform state drift", "/home/demo/code/infra", 0, 2),
    _Plan("Write migration for order_events table", "/home/demo/code/webshop", 1, 3),
    _Plan("Find the deadlock in the job queue", "/home/demo/code/worker", 1, 3, thinking=True),
    _Plan("Set up CI cache for uv", "/home/demo/code/infra", 2, 2),
    _Plan("Refactor price formatting (prix, 价格)", "/home/demo/code/webshop", 4, 5, resumed_after_hours=47),
    _Plan("Draft the Q3 architecture notes", "/home/demo/notes", 5, 2),
    _Plan("Port the CSV exporter to streaming", "/home/demo/code/worker", 7, 4, fork_source=True),
    _Plan("Bump dependencies and fix type errors", "/home/demo/code/webshop", 9, 3),
    _Plan("Investigate slow product search", "/home/demo/code/webshop", 11, 4),
    _Plan("Add Prometheus metrics to worker", "/home/demo/code/worker", 13, 3),
    _Plan("Review the nginx rate-limit config", "/home/demo/code/infra", 16, 2),
)

_PROMPTS = (
    "Look at the failing test and tell me why it fails only on CI.",
    "Can you make this function stream instead of building a list?",
    "Please add type hints and run the tests.",
    "Why is this query slow? The table has 2M rows.",
    "Split this module: the parsing should not know about HTTP.",
    "Write a test for the empty-cart case first.",
    "Summarise what changed since yesterday's commit.",
    "Rename the setting and keep the old name working for one release.",
)
_TOOLS = ("ReadFile", "Grep", "Shell", "StrReplaceFile", "Glob", "WriteFile")
_SNIPPET = (
    "def format_price(amount_cents: int, currency: str) -> str:\n"
    "    sign = '-' if amount_cents < 0 else ''\n"
    "    whole, cents = divmod(abs(amount_cents), 100)\n"
    '    return f"{sign}{whole:,}.{cents:02d} {currency}"\n'
)


def write_demo_home(root: Path, now: datetime) -> None:
    """Write a sample Kimi CLI data directory (what `~/.kimi` holds) at `root`, as seen at `now`."""
    now, midnight = start_sample_home(root, now, CONFIG_TOML)
    rng = random.Random(SEED)
    sessions = root / "sessions"
    today_elapsed = (now - midnight).total_seconds()
    # kimi.json names each group's working directory, so reports show projects by path, not by hash.
    work_dirs = [{"path": project, "kaos": "local", "last_session_id": None}
                 for project in dict.fromkeys(plan.project for plan in _PLANS)]
    (root / "kimi.json").write_text(json.dumps({"work_dirs": work_dirs}, indent=2), encoding="utf-8")
    for index, plan in enumerate(_PLANS):
        wire = _Wire(rng)
        _write_session_body(wire, plan, rng)
        end = _planned_end(now, plan.days_ago, today_elapsed, rng)
        wire.shift_to_end(end.timestamp())
        session_dir = _session_dir(sessions, plan.project, index)
        _write_session(session_dir, wire, plan.title)
        for agent in wire.subagents:
            _write_subagent(session_dir / "subagents" / agent.agent_id, agent)
        if plan.fork_source:
            fork_dir = _session_dir(sessions, plan.project, len(_PLANS))
            _write_fork(fork_dir, wire, plan.title, rng)


# ---- one session's lines ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Subagent:
    agent_id: str
    subagent_type: str
    prompt: str
    lines: list[Json] = field(default_factory=list)  # {"timestamp", "message"} dicts, unwrapped


class _Wire:
    """The lines of one wire.jsonl as dicts, timed on a relative clock until `shift_to_end`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = 0.0
        self.lines: list[Json] = []
        self.subagents: list[_Subagent] = []
        self.first_turn_end = 0  # how many lines (after the header) the first turn spans
        self.context_tokens = rng.randint(9_000, 16_000)

    def event(self, kind: str, payload: Json, *, after: float) -> Json:
        self.clock += after
        line: Json = {"timestamp": self.clock, "message": {"type": kind, "payload": payload}}
        self.lines.append(line)
        return line

    def shift_to_end(self, end: float) -> None:
        """Move every line (and every subagent line) so the last one lands at `end`."""
        offset = end - self.clock
        for line in self.lines:
            line["timestamp"] = round(line["timestamp"] + offset, 6)
        for agent in self.subagents:
            for line in agent.lines:
                line["timestamp"] = round(line["timestamp"] + offset, 6)
        self.clock = end


def _write_session_body(wire: _Wire, plan: _Plan, rng: random.Random) -> None:
    _status(wire, usage=None, after=0.0, mcp=True)
    resume_at = rng.randint(1, plan.turns - 1) if plan.resumed_after_hours else -1
    for turn in range(plan.turns):
        if turn == resume_at:
            wire.clock += plan.resumed_after_hours * 3600
        elif turn:
            wire.clock += rng.uniform(60, 900)  # the user reads, thinks, types
        prompt = plan.title if turn == 0 else rng.choice(_PROMPTS)
        _turn(
            wire,
            prompt,
            rng,
            model=THINKING_MODEL if plan.thinking and turn < 2 else None,
            subagent=plan.subagent and turn == 1,
        )
        if turn == 0:
            wire.first_turn_end = len(wire.lines)


def _turn(wire: _Wire, prompt: str, rng: random.Random, *, model: str | None, subagent: bool) -> None:
    wire.event("TurnBegin", {"user_input": prompt}, after=rng.uniform(0.5, 2))
    # Kimi reports the context size at the start of a turn with no usage attached.
    _status(wire, usage=None, after=0.05)
    steps = rng.randint(2, 5)
    for step in range(1, steps + 1):
        wire.event("StepBegin", {"n": step}, after=rng.uniform(0.2, 1.5))
        wire.event(
            "ContentPart",
            {"type": "think", "think": "Let me look at the code first.", "encrypted": None},
            after=rng.uniform(1, 8),
        )
        last = step == steps
        if last:
            wire.event(
                "ContentPart",
                {"type": "text", "text": "Done: the change is in place and the tests pass."},
                after=rng.uniform(1, 6),
            )
            _status(wire, usage=_usage(wire, rng), after=0.02, model=model)
            continue
        call_id = f"tool_{rng.getrandbits(64):016x}"
        if subagent and step == 1:
            _subagent_call(wire, call_id, rng)
            continue
        tool = rng.choice(_TOOLS)
        arguments = json.dumps(
            {"path": "src/pricing/format.py"} if tool != "Shell" else {"command": "pytest -q"}
        )
        wire.event(
            "ToolCall",
            {"type": "function", "id": call_id, "function": {"name": tool, "arguments": arguments}},
            after=rng.uniform(0.5, 3),
        )
        _status(wire, usage=_usage(wire, rng), after=0.02, model=model)
        # Tool output dominates the bytes of a real wire.jsonl; keep some of that weight here.
        output = _SNIPPET * rng.randint(5, 40)
        wire.event(
            "ToolResult",
            {
                "tool_call_id": call_id,
                "return_value": {
                    "is_error": False,
                    "output": output,
                    "message": "",
                    "display": [],
                    "extras": None,
                },
            },
            after=rng.uniform(0.1, 4),
        )
    wire.event("TurnEnd", {}, after=rng.uniform(0.05, 0.5))


def _subagent_call(wire: _Wire, call_id: str, rng: random.Random) -> None:
    """A foreground subagent: its own lines, each echoed into the parent wrapped in a SubagentEvent."""
    agent = _Subagent(
        agent_id=f"a{rng.getrandbits(32):08x}",
        subagent_type="explore",
        prompt="Find every place the webhook signature is verified and list the differences.",
    )
    wire.subagents.append(agent)
    arguments = json.dumps(
        {
            "description": "Survey webhook verification",
            "subagent_type": agent.subagent_type,
            "prompt": agent.prompt,
        }
    )
    wire.event(
        "ToolCall",
        {"type": "function", "id": call_id, "function": {"name": "Agent", "arguments": arguments}},
        after=rng.uniform(0.5, 2),
    )
    _status(wire, usage=_usage(wire, rng), after=0.02)

    # The subagent keeps its own context size; its events are timed on the parent's clock.
    sub = _Wire(rng)
    sub.clock = wire.clock
    sub.event("TurnBegin", {"user_input": agent.prompt}, after=0.3)
    for step in range(1, rng.randint(2, 4) + 1):
        sub.event("StepBegin", {"n": step}, after=rng.uniform(0.2, 1))
        sub.event("ContentPart", {"type": "text", "text": "Checking the handlers."}, after=rng.uniform(1, 4))
        _status(sub, usage=_usage(sub, rng), after=0.02)
    sub.event("TurnEnd", {}, after=0.2)
    agent.lines = sub.lines
    for line in sub.lines:
        # The echo is written a moment after the subagent's own line: same call, later timestamp.
        echo = {
            "parent_tool_call_id": call_id,
            "agent_id": agent.agent_id,
            "subagent_type": agent.subagent_type,
            "event": dict(line["message"]),
        }
        wire.clock = line["timestamp"]
        wire.event("SubagentEvent", echo, after=0.0003)
    wire.event(
        "ToolResult",
        {
            "tool_call_id": call_id,
            "return_value": {
                "is_error": False,
                "output": "Two handlers verify signatures; only one checks the timestamp.",
                "message": "",
                "display": [],
                "extras": None,
            },
        },
        after=rng.uniform(0.2, 1),
    )


def _usage(wire: _Wire, rng: random.Random) -> Json:
    # Cache reads follow the growing context, as they do in a long conversation.
    wire.context_tokens = min(wire.context_tokens + rng.randint(1_500, 9_000), 120_000)
    cache_read = max(10_000, wire.context_tokens - rng.randint(0, 3_000))
    return {
        "input_other": rng.randint(500, 5_000),
        "output": rng.randint(100, 2_000),
        "input_cache_read": cache_read,
        "input_cache_creation": 0,
    }


def _status(
    wire: _Wire, *, usage: Json | None, after: float, model: str | None = None, mcp: bool = False
) -> None:
    payload: Json = {
        "context_usage": round(wire.context_tokens / MAX_CONTEXT, 4),
        "context_tokens": wire.context_tokens,
        "max_context_tokens": MAX_CONTEXT,
        "token_usage": usage,
        "message_id": f"chatcmpl-{wire.rng.getrandbits(96):024x}" if usage is not None else None,
        "plan_mode": False if mcp else None,
        "mcp_status": _MCP_STATUS if mcp else None,
    }
    if model is not None:
        payload["model"] = model
    wire.event("StatusUpdate", payload, after=after)


_MCP_STATUS: Json = {
    "loading": False,
    "connected": 1,
    "total": 1,
    "tools": 2,
    "servers": [
        {"name": "context7", "status": "connected", "tools": ["resolve-library-id", "get-library-docs"]}
    ],
}


# ---- files -----------------------------------------------------------------------------------------


def _planned_end(now: datetime, days_ago: int, today_elapsed: float, rng: random.Random) -> datetime:
    if days_ago == 0:
        # Keep today's sessions inside today even when `now` is just past midnight.
        back = min(rng.uniform(300, 3 * 3600), today_elapsed * 0.5)
    else:
        back = days_ago * 86400 + rng.uniform(0, 6 * 3600)
    return now - timedelta(seconds=back)


def _session_dir(sessions: Path, project: str, index: int) -> Path:
    group = hashlib.md5(project.encode("utf-8")).hexdigest()  # Kimi's own grouping, not security
    return sessions / group / str(uuid.uuid5(_NAMESPACE, f"session-{index}"))


def _dumps(obj: Json) -> str:
    # Kimi CLI's spacing (json.dumps separators) with non-ASCII written as is.
    return json.dumps(obj, ensure_ascii=False)


def _header() -> str:
    return _dumps({"type": "metadata", "protocol_version": PROTOCOL_VERSION})


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")


def _write_session(session_dir: Path, wire: _Wire, title: str) -> None:
    _write_lines(session_dir / "wire.jsonl", [_header(), *(_dumps(line) for line in wire.lines)])
    _write_context(session_dir, title)
    _write_state(session_dir, title, wire.clock)


def _write_fork(fork_dir: Path, source: _Wire, title: str, rng: random.Random) -> None:
    """A `/fork` after the source's first turn: that turn copied verbatim, then the fork's own turns."""
    copied = [_header(), *(_dumps(line) for line in source.lines[: source.first_turn_end])]
    fork = _Wire(rng)
    fork.clock = source.lines[source.first_turn_end - 1]["timestamp"] + rng.uniform(600, 1800)
    fork.context_tokens = source.context_tokens
    for turn in range(2):
        if turn:
            fork.clock += rng.uniform(60, 600)
        _turn(fork, rng.choice(_PROMPTS), rng, model=None, subagent=False)
    for line in fork.lines:
        line["timestamp"] = round(line["timestamp"], 6)
    _write_lines(fork_dir / "wire.jsonl", [*copied, *(_dumps(line) for line in fork.lines)])
    _write_context(fork_dir, title)
    _write_state(fork_dir, f"Fork: {title}", fork.clock)


def _write_subagent(agent_dir: Path, agent: _Subagent) -> None:
    _write_lines(agent_dir / "wire.jsonl", [_header(), *(_dumps(line) for line in agent.lines)])
    created = agent.lines[0]["timestamp"]
    meta = {
        "agent_id": agent.agent_id,
        "subagent_type": agent.subagent_type,
        "status": "completed",
        "description": "Survey webhook verification",
        "created_at": created,
        "updated_at": agent.lines[-1]["timestamp"],
        "last_task_id": None,
        "launch_spec": {
            "agent_id": agent.agent_id,
            "subagent_type": agent.subagent_type,
            "model_override": None,
            "effective_model": None,
            "work_dir": None,
            "created_at": created,
        },
    }
    (agent_dir / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (agent_dir / "prompt.txt").write_text(agent.prompt, encoding="utf-8")
    (agent_dir / "context.jsonl").write_text(
        _dumps({"role": "user", "content": agent.prompt}) + "\n", encoding="utf-8"
    )
    (agent_dir / "output").write_text(
        "Two handlers verify signatures; only one checks the timestamp.\n", encoding="utf-8"
    )


def _write_context(session_dir: Path, title: str) -> None:
    # context.jsonl repeats the conversation for the model; a usage reader must never count it.
    lines = [
        _dumps({"role": "user", "content": title}),
        _dumps({"role": "assistant", "content": "Done: the change is in place and the tests pass."}),
    ]
    _write_lines(session_dir / "context.jsonl", lines)


def _write_state(session_dir: Path, title: str, wire_mtime: float) -> None:
    state = {
        "version": 1,
        "approval": {"yolo": False, "auto_approve_actions": []},
        "additional_dirs": [],
        "custom_title": title,
        "title_generated": not title.startswith(("Fork: ", "Undo: ")),
        "title_generate_attempts": 1,
        "plan_mode": False,
        "wire_mtime": round(wire_mtime, 6),
        "archived": False,
        "todos": [],
    }
    (session_dir / "state.json").write_text(json.dumps(state, indent=2, ensure_ascii=False), encoding="utf-8")
