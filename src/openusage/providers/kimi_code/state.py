"""The session a Kimi Code session was forked from (`forkedFrom` in its state.json), for attribution:
a call copied into forks belongs to the holder that is not a fork of another holder."""

from __future__ import annotations

from openusage.providers.agentfiles import load_state


def forked_from(session_dir: str) -> str | None:
    parent = load_state(session_dir).get("forkedFrom")
    return parent if isinstance(parent, str) and parent else None
