"""What Kimi CLI says of a session, for reports: its title as Kimi CLI shows it, and its project.

From kimi-cli-format.md, "Sessions: titles and projects": the title is `state.json`'s `custom_title`
(an older file's `title` when it is not "Untitled"), else the first `TurnBegin`'s `user_input`
shortened to 50 characters, else "Untitled". The project is the working directory whose MD5 names the
session's group directory, as `<root>/kimi.json` lists them; else the group directory's name.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from openusage.providers.agentfiles import growing_heads, load_document, load_state
from openusage.providers.base import NameIndex
from openusage.providers.titles import short_title
from openusage.providers.walk import WIRE_NAME, session_directories, session_index
from openusage.query import SessionFacts

UNTITLED = "Untitled"
TITLE_WIDTH = 50
LOCAL_KAOS = "local"
# The first TurnBegin is near the top of a wire file; a title is not worth reading further for.
HEAD_BYTES = 256 * 1024
FIRST_READ = 16 * 1024


class SessionFactsFinder:
    """The facts of the sessions under `sessions_dir` (`root` holds `kimi.json`), a batch at a time: the
    sessions are listed and `kimi.json` read when the first batch is asked, once. A session whose
    directory is gone keeps an empty project and, when titles are wanted, "Untitled"."""

    __slots__ = ("_listed", "_root", "_sessions_dir", "_titles")

    def __init__(self, sessions_dir: Path, root: Path, *, titles: bool) -> None:
        self._sessions_dir, self._root, self._titles = sessions_dir, root, titles
        self._listed: tuple[NameIndex, dict[str, str]] | None = None  # the sessions, kimi.json's projects

    def __call__(self, wanted: AbstractSet[str]) -> dict[str, SessionFacts]:
        if self._listed is None:
            self._listed = (session_index(self._sessions_dir), work_dirs(self._root / "kimi.json"))
        sessions, projects = self._listed
        found = session_directories(sessions, wanted)
        facts: dict[str, SessionFacts] = {}
        for name in wanted:
            dirs = found.get(name, [])
            group = os.path.basename(os.path.dirname(dirs[0])) if dirs else ""
            title = _title(dirs) if self._titles else ""
            facts[name] = SessionFacts(title, projects.get(group, group))
        return facts


def work_dirs(path: Path) -> dict[str, str]:
    """Group directory name → the working directory it stands for, from kimi.json's `work_dirs`."""
    entries = load_document(path).get("work_dirs")
    groups: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        digest = hashlib.md5(entry["path"].encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
        kaos = entry.get("kaos")
        local = kaos is None or kaos == LOCAL_KAOS or not isinstance(kaos, str)
        groups[digest if local else f"{kaos}_{digest}"] = entry["path"]
    return groups


def _title(dirs: list[str]) -> str:
    for directory in dirs:
        state = load_state(directory)
        custom = state.get("custom_title")
        if isinstance(custom, str) and custom.strip():
            return custom
        legacy = state.get("title")
        if isinstance(legacy, str) and legacy.strip() and legacy != UNTITLED:
            return legacy
    for directory in dirs:
        text = _first_user_input(os.path.join(directory, WIRE_NAME))
        if text:
            return short_title(text, TITLE_WIDTH)
    return UNTITLED


def _first_user_input(path: str) -> str | None:
    """The text of the first TurnBegin's `user_input` among the first lines of a wire file: read in
    growing steps, since it is usually within the first few kilobytes."""
    for lines, _last in growing_heads(path, FIRST_READ, HEAD_BYTES):
        for line in lines:
            if b'"TurnBegin"' in line:
                found = _user_input(line)
                if found is not None:
                    return found
    return None


def _user_input(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    message = record.get("message") if isinstance(record, dict) else None
    if isinstance(message, dict) and message.get("type") == "TurnBegin":
        payload = message.get("payload")
        if isinstance(payload, dict):
            return _text(payload.get("user_input"))
    return None


def _text(user_input: Any) -> str | None:
    """A user input is a string or a list of content parts; the text parts joined."""
    if isinstance(user_input, str):
        return user_input
    if isinstance(user_input, list):
        parts = [part.get("text") for part in user_input if isinstance(part, dict)]
        joined = " ".join(part for part in parts if isinstance(part, str))
        return joined or None
    return None
