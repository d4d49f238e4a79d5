"""What Codex CLI says of a thread, for reports: its title and its project.

Codex stores no title: a thread is known by its first user message, so that is its title, shortened
to 50 characters like Kimi CLI's, or "Untitled" when it has none yet. The project is the working
directory its `session_meta` (the first line of its rollout) names, else its latest `turn_context`'s
`cwd` among the first lines, else "". A fork or subagent copies its ancestors' history after its own
first line, so its first user message can be one it inherited: that is what Codex shows too.
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from typing import Any

from openusage.providers.agentfiles import growing_heads
from openusage.providers.base import NameIndex
from openusage.providers.codex_cli import layout
from openusage.providers.titles import short_title
from openusage.query import SessionFacts

UNTITLED = "Untitled"
TITLE_WIDTH = 50
FIRST_READ = 64 * 1024  # session_meta carries the base instructions: tens of kilobytes
HEAD_BYTES = 1024 * 1024


class ThreadFactsFinder:
    """The facts of the threads in `dirs` (live, archived), a batch at a time: the rollouts are listed
    when the first batch is asked, once."""

    __slots__ = ("_dirs", "_index", "_titles")

    def __init__(self, dirs: list[str], *, titles: bool) -> None:
        self._dirs, self._titles = dirs, titles
        self._index: NameIndex | None = None

    def __call__(self, wanted: AbstractSet[str]) -> dict[str, SessionFacts]:
        if self._index is None:
            walk = layout.check(self._dirs)
            self._index = layout.index_sessions(walk) if walk.found else NameIndex()
        paths = self._index.holders_of(wanted)
        facts: dict[str, SessionFacts] = {}
        for name in wanted:
            cwd, title = "", None
            for path in sorted(paths.get(name, ())):
                found_cwd, found_title = _head_facts(path, self._titles)
                cwd = cwd or found_cwd
                title = title or found_title
            facts[name] = SessionFacts(_shorten(title) if self._titles else "", cwd)
        return facts


def _head_facts(path: str, titles: bool) -> tuple[str, str | None]:
    """(cwd, first user message) from the first lines of a rollout, read in growing steps."""
    cwd, title = "", None
    for lines, _last in growing_heads(path, FIRST_READ, HEAD_BYTES):
        cwd, title = _scan(lines, titles)
        if cwd and (title or not titles):
            break
    return cwd, title


def _scan(lines: list[bytes], titles: bool) -> tuple[str, str | None]:
    cwd = ""
    title: str | None = None
    for line in lines:
        if not cwd and (b'"session_meta"' in line or b'"turn_context"' in line):
            payload = _payload(line)
            if isinstance(payload.get("cwd"), str):
                cwd = payload["cwd"]
        elif titles and title is None and b'"user_message"' in line:
            payload = _payload(line)
            if payload.get("type") == "user_message" and isinstance(payload.get("message"), str) \
                    and payload["message"].strip():
                title = payload["message"]
        if cwd and (title is not None or not titles):
            break
    return cwd, title


def _payload(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return {}
    payload = record.get("payload") if isinstance(record, dict) else None
    return payload if isinstance(payload, dict) else {}


def _shorten(title: str | None) -> str:
    if not title:
        return UNTITLED
    return short_title(title, TITLE_WIDTH) or UNTITLED
