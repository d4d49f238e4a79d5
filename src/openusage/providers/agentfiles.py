"""Reading an agent's small files (config, session state) without ever failing on them.

They are the user's agent's files, not ours: a missing, unreadable or broken one reads as empty, and
the providers fall back to their defaults. Callers take only the keys they need. They are opened
through `openusage.files` (regular files only, never blocking, at most `SMALL_FILE_LIMIT` bytes); why
one that exists could not be read goes to `problems` when the caller keeps them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from openusage.files import printable, read_small, reason

STATE_NAME = "state.json"


def load_document(path: Path | str, problems: list[str] | None = None) -> dict[str, Any]:
    """A JSON or (by its `.toml` suffix) TOML file's top-level table; {} when missing or broken.
    A file that is there but cannot be read (a FIFO, a device, too large, no permission) adds one
    line naming it to `problems`."""
    try:
        raw = read_small(os.fspath(path))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        if problems is not None:
            problems.append(f"cannot read {printable(os.fspath(path))}: {reason(exc)}")
        return {}
    try:
        if str(path).endswith(".toml"):
            import tomllib  # only users with a TOML file pay for the import

            doc: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            import json

            doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError and TOMLDecodeError are ValueErrors
        return {}
    return doc if isinstance(doc, dict) else {}


def load_state(session_dir: str) -> dict[str, Any]:
    """A session directory's state.json; {} when there is none or it cannot be read."""
    return load_document(os.path.join(session_dir, STATE_NAME))
