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
    """The cache could not be opened, created or rebuilt."""

    exit_code = 1
