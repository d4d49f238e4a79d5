"""The contract every provider implements, and the account and detection types it speaks.

A file provider finds its accounts (`detect`), lists what to read (`walk`), turns bytes into records
(`read`), and tells the store what the owner-session rule and the model fallback need
(`session_ranks`, `default_model`). `scan.py` owns offsets, fingerprints and transactions, so every
file provider gets the cache without writing any of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from openusage.records import Chunk, Source


@dataclass(frozen=True, slots=True)
class Account:
    """One tile: a provider reading one place. `extra` holds the provider's own path overrides."""

    id: str
    provider: str
    extra: Mapping[str, str] = field(default_factory=dict)
    origin: str = "detected"  # "detected" or "configured"


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing detection looked at, for `openusage detect`: what, where, and whether it was there."""

    what: str
    value: str
    found: bool


@dataclass(frozen=True, slots=True)
class Detection:
    provider: str
    title: str
    account: Account | None
    facts: tuple[Fact, ...]


@dataclass(slots=True)
class Walk:
    """The files of one account, the session directories they belong to, and what could not be read."""

    sources: list[Source] = field(default_factory=list)
    session_dirs: dict[str, list[Path]] = field(default_factory=dict)
    unreadable: int = 0
    found: bool = True  # False when the sessions directory does not exist or cannot be used
    problem: str | None = None  # why a sessions directory that exists cannot be used


class FileProvider(Protocol):
    """A provider whose usage lives in local append-mostly files."""

    id: str
    title: str
    upstream_provider: str
    missing_message: str
    state_files: tuple[str, ...]  # names, in a session directory, whose change may change its rank

    def detect(self, env: Mapping[str, str]) -> Detection: ...

    def walk(self, account: Account, env: Mapping[str, str]) -> Walk: ...

    def read(self, source: Source, offset: int) -> Chunk: ...

    def session_ranks(self, session_dirs: Mapping[str, list[Path]]) -> dict[str, int]:
        """Owner-session rank per session (lower owns a shared call; ties go to the smaller name)."""
        ...

    def default_model(self, account: Account, env: Mapping[str, str]) -> str: ...
