"""What Kimi Code says of a session, for reports: its title and its project.

From kimi-code-format.md, "Sessions: titles and projects": the title is `state.json`'s `title`
(missing or empty: "Untitled"); the project is the `workDir` that `<root>/session_index.jsonl` gives
for the session (its last line for that `sessionId` wins; a `deleted: true` line removes it), else the
slug of the group directory `wd_<slug>_<hash>`, else the group directory's name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Set as AbstractSet
from pathlib import Path

from openusage.providers.agentfiles import load_state, read_head
from openusage.providers.walk import session_directories
from openusage.query import SessionFacts

UNTITLED = "Untitled"
INDEX_NAME = "session_index.jsonl"
INDEX_MAX_BYTES = 64 * 1024 * 1024  # an index of a million sessions is ~200 MB; past this, labels fall back
_WORK_DIR_KEY = re.compile(r"wd_(.+)_[0-9a-f]{12}")


def session_facts(sessions_dir: Path, home: Path, wanted: AbstractSet[str], *,
                  titles: bool) -> dict[str, SessionFacts]:
    """The facts of each wanted session found under `sessions_dir`; `home` holds the session index."""
    index = work_dirs(home / INDEX_NAME, wanted)
    found = session_directories(sessions_dir, wanted)
    facts: dict[str, SessionFacts] = {}
    for name in wanted:
        dirs = found.get(name, [])
        group = os.path.basename(os.path.dirname(dirs[0])) if dirs else ""
        project = index.get(name) or _slug(group)
        facts[name] = SessionFacts(_title(dirs) if titles else "", project)
    return facts


def work_dirs(path: Path, wanted: AbstractSet[str]) -> dict[str, str]:
    """sessionId → workDir, from the session index: the last line for a session wins."""
    found: dict[str, str] = {}
    for line in read_head(os.fspath(path), INDEX_MAX_BYTES).splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(entry, dict) or entry.get("sessionId") not in wanted:
            continue
        session = entry["sessionId"]
        if entry.get("deleted") is True:
            found.pop(session, None)
        elif isinstance(entry.get("workDir"), str) and entry["workDir"]:
            found[session] = entry["workDir"]
    return found


def _slug(group: str) -> str:
    match = _WORK_DIR_KEY.fullmatch(group)
    return match.group(1) if match else group


def _title(dirs: list[str]) -> str:
    for directory in dirs:
        title = load_state(directory).get("title")
        if isinstance(title, str) and title.strip():
            return title
    return UNTITLED
