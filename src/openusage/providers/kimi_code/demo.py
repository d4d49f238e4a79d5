"""A realistic sample Kimi Code home, for `openusage --demo` beside the Kimi CLI sample of
`providers/kimi_cli/demo.py`.

Owns only writing that sample, in the layout and record format of `kimi-code-format.md`: sessions
under `wd_<slug>_<hash>` directories, one `agents/main/wire.jsonl` journal each (metadata header,
`turn.prompt`, an `llm.request` naming the real model before each `usage.record`, and the
`context.append_loop_event` step ends that repeat a call's usage and must not be counted), one
subagent journal, a context-compaction call (`usageScope: "session"`), `state.json` titles,
`session_index.jsonl` working directories and a `config.toml` naming the alias. It never reads
anything back. Deterministic: the same `now` gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from openusage.providers.sample import start_sample_home

SEED = 20261120
ALIAS = "kimi-code/kimi-for-coding"
MODEL = "kimi-for-coding"
TURBO_ALIAS = "moonshot/kimi-k2-turbo-preview"
TURBO = "kimi-k2-turbo-preview"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/openusage/demo-code")

CONFIG_TOML = f"""\
default_model = "{ALIAS}"

[models."{ALIAS}"]
provider = "managed:kimi-code"
model = "{MODEL}"
max_context_size = 262144

[models."{TURBO_ALIAS}"]
provider = "moonshot"
model = "{TURBO}"
max_context_size = 262144
"""

Json = dict[str, Any]


class _Plan(NamedTuple):
    title: str
    work_dir: str
    days_ago: int
    turns: int
    turbo: bool = False  # its calls run on the second alias
    compaction: bool = False  # its context was compacted once: a usageScope "session" call
    subagent: bool = False


_PLANS = (
    _Plan("Move the checkout client to httpx", "/home/demo/code/webshop", 0, 4, compaction=True),
    _Plan("Explain the flaky cart test", "/home/demo/code/webshop", 0, 2, subagent=True),
    _Plan("Add a health check to the worker", "/home/demo/code/worker", 1, 3, turbo=True),
    _Plan("Write the release notes for 2.4", "/home/demo/notes", 3, 2),
    _Plan("Find why the nightly backup is slow", "/home/demo/code/infra", 6, 3),
    _Plan("Type the pricing module", "/home/demo/code/webshop", 10, 3, turbo=True),
)


def write_demo_code_home(root: Path, now: datetime) -> None:
    """Write a sample Kimi Code data directory (what `~/.kimi-code` holds) at `root`, as seen at `now`."""
    now, midnight = start_sample_home(root, now, CONFIG_TOML)
    rng = random.Random(SEED)
    index: list[str] = []
    for number, plan in enumerate(_PLANS):
        session_id = f"session_{uuid.uuid5(_NAMESPACE, f'session-{number}')}"
        session_dir = root / "sessions" / _work_dir_key(plan.work_dir) / session_id
        back = min(rng.uniform(600, 4 * 3600), (now - midnight).total_seconds() * 0.4) if plan.days_ago == 0 \
            else plan.days_ago * 86400 + rng.uniform(0, 5 * 3600)
        end = now - timedelta(seconds=back)
        start_ms = int(end.timestamp() * 1000) - plan.turns * 240_000
        records = _session_records(plan, start_ms, rng)
        _write_journal(session_dir / "agents" / "main" / "wire.jsonl", start_ms, records["main"])
        if records["agent-0"]:
            _write_journal(session_dir / "agents" / "agent-0" / "wire.jsonl", start_ms, records["agent-0"])
        state = {"title": plan.title, "isCustomTitle": False, "lastPrompt": plan.title,
                 "createdAt": start_ms, "updatedAt": records["main"][-1]["time"], "archived": False,
                 "agents": {"main": {"type": "main"}}, "custom": {}}
        (session_dir / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        index.append(_dumps({"sessionId": session_id, "sessionDir": str(session_dir), "workDir": plan.work_dir}))
    (root / "session_index.jsonl").write_text("".join(line + "\n" for line in index), encoding="utf-8")


def _work_dir_key(work_dir: str) -> str:
    digest = hashlib.sha256(work_dir.encode("utf-8")).hexdigest()[:12]  # a stand-in for Kimi Code's hash
    return f"wd_{Path(work_dir).name}_{digest}"


def _session_records(plan: _Plan, start_ms: int, rng: random.Random) -> dict[str, list[Json]]:
    clock = start_ms
    alias, model = (TURBO_ALIAS, TURBO) if plan.turbo else (ALIAS, MODEL)
    main: list[Json] = []
    agent: list[Json] = []
    context = rng.randint(12_000, 20_000)
    for turn in range(plan.turns):
        clock += rng.randint(20_000, 90_000)
        text = plan.title if turn == 0 else "Now run the tests and fix what fails."
        main.append({"type": "turn.prompt", "agentId": "main", "input": [{"type": "text", "text": text}],
                     "time": clock})
        for step in range(1, rng.randint(2, 4) + 1):
            clock += rng.randint(3_000, 25_000)
            context = min(context + rng.randint(2_000, 8_000), 150_000)
            counts = (rng.randint(400, 4_000), rng.randint(150, 1_800), context, rng.choice((0, 0, 1_024)))
            main.extend(_call("main", alias, model, clock, counts, "turn", step))
        if plan.subagent and turn == 0:
            for step in range(1, 3):
                clock += rng.randint(4_000, 12_000)
                counts = (rng.randint(800, 3_000), rng.randint(100, 600), rng.randint(8_000, 20_000), 0)
                agent.extend(_call("agent-0", alias, model, clock, counts, "turn", step))
        if plan.compaction and turn == plan.turns - 2:
            # The context grew past its limit: Kimi Code summarises it in one call of its own.
            clock += rng.randint(2_000, 6_000)
            summary = (rng.randint(2_000, 5_000), rng.randint(2_000, 4_000), context, 0)
            main.extend(_call("main", alias, model, clock, summary, "session", 0))
            context = rng.randint(8_000, 12_000)
    return {"main": main, "agent-0": agent}


def _call(agent: str, alias: str, model: str, time_ms: int, counts: tuple[int, int, int, int], scope: str,
          step: int) -> list[Json]:
    usage = {"inputOther": counts[0], "output": counts[1], "inputCacheRead": counts[2], "inputCacheCreation": counts[3]}
    kind = "compaction" if scope == "session" else "loop"
    return [
        {"type": "llm.request", "agentId": agent, "kind": kind, "provider": "managed", "model": model,
         "modelAlias": alias, "turnStep": step, "attempt": 1, "maxTokens": 32000, "time": time_ms - 1_500},
        {"type": "usage.record", "agentId": agent, "model": alias, "usage": usage, "usageScope": scope,
         "time": time_ms},
        {"type": "context.append_loop_event", "agentId": agent,
         "event": {"type": "step.end", "step": step, "usage": usage, "finishReason": "stop"}, "time": time_ms + 3},
    ]


def _write_journal(path: Path, created_ms: int, records: list[Json]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"type": "metadata", "protocol_version": "1.5", "created_at": created_ms}
    path.write_text("".join(_dumps(record) + "\n" for record in [header, *records]), encoding="utf-8")


def _dumps(obj: Json) -> str:
    # JSON.stringify's compact form, non-ASCII kept.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
