"""Named errors and the exit code of each; the CLI converts them to one line of text, once."""

from __future__ import annotations


class OpenUsageError(Exception):
    """Base of every error a user may see; `exit_code` is what the process exits with."""

    exit_code = 1


class SettingsError(OpenUsageError):
    """The settings file is not valid JSON or not of the expected shape."""

    exit_code = 2


class UsageInputError(OpenUsageError):
    """The user's own request cannot be met (unknown account, bad option value)."""

    exit_code = 2


class CacheError(OpenUsageError):
    """The cache could not be opened, created or written. `api` catches it and reads without the cache
    (exit 0, one line of notice): it does not reach the CLI."""

    exit_code = 1


def printable_line(text: str, limit: int = 400) -> str:
    """`text` as one printable line: control characters, unpaired surrogates and anything else that is
    not printable escaped (`\\n`, `\\udcff`), cut at `limit` characters. For notices that quote paths
    or SQLite's messages, which may hold bytes of a damaged file."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
