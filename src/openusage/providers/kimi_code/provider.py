"""Kimi Code as a provider: wires the locator, the config and the journal reader together."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from openusage.providers.base import Account, Detection, Fact, LineParser, ModelResolver, SessionDir, SessionList, Walk
from openusage.providers.kimi_cli.locate import expand
from openusage.providers.kimi_code import config, state
from openusage.providers.walk import (
    explain_missing_home,
    list_sessions,
    session_paths,
    sessions_counted,
    walk_session,
    walk_sessions,
)
from openusage.records import SessionInfo, Source

if TYPE_CHECKING:
    from datetime import datetime  # an annotation only

    from openusage.providers.base import FactsFinder  # an annotation only

HOME_VARIABLE = "KIMI_CODE_HOME"
# The quoted record types that matter (journal.py says why): usage, the request naming the model, the
# fork marker.
NEEDLES: tuple[bytes, ...] = (b'"usage.record"', b'"llm.request"', b'"forked"')


def code_root(env: Mapping[str, str]) -> Path:
    """`$KIMI_CODE_HOME` when set and not empty (as Kimi Code itself reads it), else `~/.kimi-code`."""
    home = env.get(HOME_VARIABLE, "")
    return expand(home, env) if home else Path(env.get("HOME") or Path.home()) / ".kimi-code"


def _parser_fact(env: Mapping[str, str], detailed: bool) -> tuple[Fact, ...]:
    """Which reader of journal lines runs (compiled or pure Python), for `openusage detect` only."""
    if not detailed:
        return ()
    from openusage.native import describe_path
    from openusage.providers.kimi_code.compiled import choose

    path = choose(env)
    return (Fact("line parser", describe_path(path), path.lines is not None),)


class KimiCodeProvider:
    id = "kimi_code"
    title = "Kimi Code"
    upstream_provider = "moonshot"
    missing_message = "Kimi Code sessions directory not found"
    scopes: tuple[str, ...] = ("turn", "session")
    compaction_scope: str | None = "session"  # usageScope "session" is the full-compaction call
    # "Count each identity once across all sessions and roots": its accounts are folded together.
    shares_calls_across_accounts = True
    reports_reasoning = False  # its usage has no reasoning figure
    extra_keys: tuple[str, ...] = ("home", "sessions_dir", "config_path")  # read by _home, sessions_dir, config_path
    home_default = "~/.kimi-code"  # code_root
    home_variable = HOME_VARIABLE

    def detect(self, env: Mapping[str, str], *, detailed: bool = False) -> Detection:
        root = code_root(env)
        sessions = root / "sessions"
        config_file = root / "config.toml"
        found = sessions.is_dir()
        count = f" ({sessions_counted(sessions)})" if detailed and found else ""
        facts = (
            Fact("root", f"{root}" + (f" ({HOME_VARIABLE})" if env.get(HOME_VARIABLE) else ""), root.is_dir()),
            Fact("sessions dir", f"{sessions}{count}", found),
            Fact("config file", str(config_file), config_file.is_file()),
            *_parser_fact(env, detailed),
        )
        # A home KIMI_CODE_HOME names that is not a directory is a mistake to show (walk says why), not
        # an agent never used: its account stays.
        named_missing = bool(env.get(HOME_VARIABLE)) and not root.is_dir()
        registered = named_missing or found or config_file.is_file()
        return Detection(self.id, self.title, Account(self.id, self.id) if registered else None, facts)

    def _home(self, account: Account, env: Mapping[str, str]) -> Path:
        home = account.extra.get("home")
        return expand(home, env) if home else code_root(env)

    def sessions_dir(self, account: Account, env: Mapping[str, str]) -> Path:
        override = account.extra.get("sessions_dir")
        return expand(override, env) if override else self._home(account, env) / "sessions"

    def config_path(self, account: Account, env: Mapping[str, str]) -> Path:
        override = account.extra.get("config_path")
        return expand(override, env) if override else self._home(account, env) / "config.toml"

    def walk(self, account: Account, env: Mapping[str, str]) -> Walk:
        walk = walk_sessions(self.sessions_dir(account, env))
        if "sessions_dir" not in account.extra and "home" not in account.extra and env.get(HOME_VARIABLE):
            explain_missing_home(walk, code_root(env), HOME_VARIABLE)
        return walk

    def list_sessions(self, walk: Walk) -> SessionList:
        return list_sessions(walk, agents_layout=True)

    def walk_session(self, walk: Walk, session: SessionDir, listing: SessionList) -> list[Source]:
        return walk_session(walk, session, listing, agents_layout=True)

    needles = NEEDLES

    def parser(self, source: Source, state: bytes | None) -> LineParser:
        # Imported here: the reader (and msgspec) loads only when a file has to be read.
        from openusage.providers.kimi_code.journal import JournalParser

        agent = os.path.basename(os.path.dirname(source.path))  # part of a record's identity
        return JournalParser(agent, state)

    head_bytes = 0  # a session's state is a file of its own

    def session_info(self, holders: Mapping[str, list[str]],
                     heads: Mapping[str, bytes] | None = None) -> dict[str, SessionInfo]:
        return {name: SessionInfo(0, next(filter(None, map(state.forked_from, dirs)), None))
                for name, dirs in session_paths(holders).items()}

    def model_resolver(self, account: Account, env: Mapping[str, str]) -> ModelResolver:
        return config.model_resolver(self.config_path(account, env))

    def facts_finder(self, account: Account, env: Mapping[str, str], *, titles: bool) -> FactsFinder:
        from openusage.providers.kimi_code.sessions import SessionFactsFinder

        sessions_dir = self.sessions_dir(account, env)
        return SessionFactsFinder(sessions_dir, sessions_dir.parent, titles=titles)

    def labels_signature(self, account: Account, env: Mapping[str, str]) -> str:
        from openusage.providers.agentfiles import stat_signature

        return stat_signature(self.sessions_dir(account, env).parent / "session_index.jsonl")

    def write_demo(self, home: Path, now: datetime) -> bool:
        from openusage.providers.kimi_code.demo import write_demo_code_home

        write_demo_code_home(home, now)
        return True

