"""The session a Kimi Code session was forked from (`forkedFrom` in its state.json), for attribution:
a call copied into forks belongs to the holder that is not a fork of another holder."""

from __future__ import annotations

import os

import orjson

from openusage.providers.walk import STATE_NAME


def forked_from(session_dir: str) -> str | None:
    try:
        with open(os.path.join(session_dir, STATE_NAME), "rb") as handle:
            doc = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    parent = doc.get("forkedFrom") if isinstance(doc, dict) else None
    return parent if isinstance(parent, str) and parent else None
