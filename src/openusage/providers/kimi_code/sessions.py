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

from openusage.providers.agentfiles import head_lines, load_state
from openusage.providers.base import NameIndex
from openusage.providers.walk import session_directories, session_index
from openusage.query import SessionFacts

UNTITLED = "Untitled"
INDEX_NAME = "session_index.jsonl"
INDEX_MAX_BYTES = 64 * 1024 * 1024  # an index of a million sessions is ~200 MB; past this, labels fall back
_WORK_DIR_KEY = re.compile(r"wd_(.+)_[0-9a-f]{12}")


class SessionFactsFinder:
    """The facts of the sessions under `sessions_dir` (`home` holds the session index), a batch at a
    time: the sessions are listed and the index read when the first batch is asked, once."""

    __slots__ = ("_home", "_listed", "_sessions_dir", "_titles")

    def __init__(self, sessions_dir: Path, home: Path, *, titles: bool) -> None:
        self._sessions_dir, self._home, self._titles = sessions_dir, home, titles
        self._listed: tuple[NameIndex, NameIndex] | None = None  # the sessions, the index's lines

    def __call__(self, wanted: AbstractSet[str]) -> dict[str, SessionFacts]:
        if self._listed is None:
            self._listed = (session_index(self._sessions_dir), index_work_dirs(self._home / INDEX_NAME))
        sessions, lines = self._listed
        labels = work_dirs(lines, wanted)
        found = session_directories(sessions, wanted)
        facts: dict[str, SessionFacts] = {}
        for name in wanted:
            dirs = found.get(name, [])
            group = os.path.basename(os.path.dirname(dirs[0])) if dirs else ""
            project = labels.get(name) or _slug(group)
            facts[name] = SessionFacts(_title(dirs) if self._titles else "", project)
        return facts


def index_work_dirs(path: Path) -> NameIndex:
    """Every line of the session index (its first `INDEX_MAX_BYTES`) that says a session's `workDir`, or
    that the session is `deleted` (held as ""), in file order: a `NameIndex` of ~13 bytes a line,
    where a dict of every session's work directory would be ~100 bytes a session."""
    index = NameIndex()
    for line in head_lines(os.fspath(path), INDEX_MAX_BYTES):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(entry, dict) or not isinstance(session := entry.get("sessionId"), str):
            continue
        if entry.get("deleted") is True:
            index.add(session, "")
        elif isinstance(entry.get("workDir"), str) and entry["workDir"]:
            index.add(session, entry["workDir"])
    return index


def work_dirs(index: NameIndex, wanted: AbstractSet[str]) -> dict[str, str]:
    """sessionId → workDir of the wanted sessions, from `index_work_dirs`: the last line for a session
    wins, and a `deleted` one leaves it none."""
    return {name: said[-1] for name, said in index.holders_of(wanted).items() if said[-1]}


def _slug(group: str) -> str:
    match = _WORK_DIR_KEY.fullmatch(group)
    return match.group(1) if match else group


def _title(dirs: list[str]) -> str:
    for directory in dirs:
        title = load_state(directory).get("title")
        if isinstance(title, str) and title.strip():
            return title
    return UNTITLED
