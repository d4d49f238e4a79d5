"""The contract every provider implements, and the account and detection types it speaks.

A file provider finds its accounts (`detect`), lists what to read (`walk`), names the needles that mark
the lines that can hold usage and turns those lines into records (`needles`, `parser`), and tells the
store what the owner-session rule and the model fallback need (`session_info`, `model_resolver`).
`scan.py` owns reading, offsets, fingerprints and transactions, so every file provider gets the fast
scan and the cache without writing any of it.

A remote source (`RemoteSource`: an account balance, a plan quota) fetches one reading per account
and nothing else; `api` runs it on a thread beside the local scan and keeps its last good answer.
A provider offers one capability or the other (`Provider`); `api` dispatches on which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from openusage.query import SessionFacts
from openusage.records import Chunk, Line, SessionInfo, Source

if TYPE_CHECKING:  # only a remote source's fetch builds one: a local-only run never loads remote.py
    from openusage.remote import Reading

_NO_EXTRA: Mapping[str, str] = MappingProxyType({})


class Account(NamedTuple):
    """One tile: a provider reading one place. `extra` holds the provider's own path overrides."""

    id: str
    provider: str
    extra: Mapping[str, str] = _NO_EXTRA
    origin: str = "detected"  # "detected" or "configured"


class Fact(NamedTuple):
    """One thing detection looked at, for `openusage detect`: what, where, and whether it was there."""

    what: str
    value: str
    found: bool


class Detection(NamedTuple):
    provider: str
    title: str
    account: Account | None
    facts: tuple[Fact, ...]


class Walk:
    """The files of one account, its session directories with a signature of their state files (a
    changed signature means the session's rank must be read again), and what could not be read."""

    __slots__ = ("agents_layout", "found", "more_session_dirs", "problem", "root", "session_dirs", "signatures",
                 "top_sources", "unreadable")

    def __init__(self) -> None:
        self.root = ""  # the sessions directory
        self.agents_layout = False  # Kimi Code: only <group>/<session>/agents/<agent>/wire.jsonl counts
        self.top_sources: list[Source] = []  # wire files above the session level (list_sessions)
        # session -> the directory holding its directory (its group); more_ for a name in two groups.
        self.session_dirs: dict[str, str] = {}
        self.more_session_dirs: dict[str, list[str]] = {}
        self.signatures: dict[str, int] = {}  # session -> signature of its state file(s)
        self.unreadable = 0
        self.found = True  # False when the sessions directory does not exist or cannot be used
        self.problem: str | None = None  # why a sessions directory that exists cannot be used


class LineParser(Protocol):
    """Turns the candidate lines of one file, in file order, into a Chunk."""

    def line(self, line: Line) -> None:
        """One complete line (without its newline) that holds a needle."""
        ...

    def finish(self, end_offset: int, tail: Line | None) -> Chunk:
        """The chunk of the lines seen, consumed up to `end_offset`; `tail` is a last line without its
        newline that holds a needle (counted now, read again next time), or None."""
        ...


class FileProvider(Protocol):
    """A provider whose usage lives in local append-mostly files."""

    id: str
    title: str
    upstream_provider: str
    missing_message: str
    scopes: tuple[str, ...]  # the kinds of call its records name (Kimi Code: usageScope); () for none
    compaction_scope: str | None  # the scope of context-compaction calls, shown apart on the tile
    # True: a call copied into another account of this provider counts once between them (groups.py).
    shares_calls_across_accounts: bool

    def detect(self, env: Mapping[str, str], *, detailed: bool = False) -> Detection:
        """`detailed`: also count what is there (for `openusage detect`; every other command skips it)."""
        ...

    def walk(self, account: Account, env: Mapping[str, str]) -> Walk: ...

    needles: tuple[bytes, ...]  # a line that holds none of these cannot hold usage

    def parser(self, source: Source, state: bytes | None) -> LineParser:
        """A parser for the lines of `source` from an offset on; `state` is what the previous chunk
        ended with (None from the start of the file). Pure: scan.py opens, reads, fingerprints and
        caches; the provider only turns lines into records."""
        ...

    def session_info(self, session_dirs: Mapping[str, list[str]]) -> dict[str, SessionInfo]:
        """Rank and parent of each session, from its state file. `session_dirs`: session -> its
        directories (usually one)."""
        ...

    def model_resolver(self, account: Account, env: Mapping[str, str]) -> Callable[[str | None], str]:
        """Turns what a record says of its model into the model's name, with the account's config."""
        ...

    def session_facts(self, account: Account, env: Mapping[str, str], sessions: AbstractSet[str], *,
                      titles: bool) -> dict[str, SessionFacts]:
        """What reports show of these sessions: the project each ran in (as the user knows it), and
        with `titles` the title the agent shows (else "")."""
        ...


@runtime_checkable
class RemoteSource(Protocol):
    """A provider whose figures come from a service: it fetches one account's reading on demand.

    `fetch` never raises for anything the service or the user's files do (each case is a state of the
    reading), never waits past `deadline` (a `time.monotonic()` value) by much, and puts no secret in
    what it returns. It runs on a thread of its own."""

    id: str
    title: str

    def detect(self, env: Mapping[str, str], *, detailed: bool = False) -> Detection:
        """Never opens a socket, even with `detailed`."""
        ...

    def fetch(self, account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> Reading: ...


Provider = FileProvider | RemoteSource


def remote_source(provider: Provider) -> RemoteSource | None:
    """The provider as a remote source, or None when it reads local files."""
    return provider if isinstance(provider, RemoteSource) else None
