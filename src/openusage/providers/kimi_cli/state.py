"""How far a session is from the original: the `Fork: ` / `Undo: ` prefixes of its title.

A fork's wire.jsonl begins with a verbatim copy of its source's lines, and the only trace of the fork
is `custom_title` in its `state.json`. A call held by several sessions belongs to the one with the
fewest prefixes, so the fork depth is the rank the store orders holders by.
"""

from __future__ import annotations

from openusage.providers.agentfiles import load_state

FORK_PREFIXES = ("Fork: ", "Undo: ")


def fork_depth(session_dir: str) -> int:
    """0 when there is no state file, no title, or an unreadable one."""
    title = load_state(session_dir).get("custom_title")
    if not isinstance(title, str):
        return 0
    depth = 0
    while title.startswith(FORK_PREFIXES):
        title = title[6:]
        depth += 1
    return depth
