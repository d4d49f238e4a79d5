"""Codex CLI as a provider: wires its home, its rollout layout, the config and the rollout reader."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from openusage.providers.base import Account, Detection, Fact, LineParser, ModelResolver, SessionDir, SessionList, Walk
from openusage.providers.codex_cli import config, layout
from openusage.providers.home import expand, find_binary, user_home
from openusage.providers.walk import explain_missing_home
from openusage.records import SessionInfo, Source

if TYPE_CHECKING:
    from datetime import datetime  # an annotation only

    from openusage.providers.base import FactsFinder  # an annotation only

HOME_VARIABLE = "CODEX_HOME"
# The quoted line types that matter (rollout.py says why): the thread and its ancestry, the model,
# and usage.
NEEDLES: tuple[bytes, ...] = (b'"token_count"', b'"session_meta"', b'"turn_context"')


def codex_root(env: Mapping[str, str]) -> Path:
    """`$CODEX_HOME` when set and not empty (as Codex itself reads it), else `~/.codex`."""
    home = env.get(HOME_VARIABLE, "")
    return expand(home, env) if home else user_home(env) / ".codex"


def _count(directory: Path, detailed: bool) -> str:
    """How many threads have a rollout there, for `openusage detect` (every other command skips it)."""
    return f" ({layout.count_sessions([str(directory)])} sessions)" if detailed and directory.is_dir() else ""


def _parser_fact(detailed: bool) -> tuple[Fact, ...]:
    """Which reader of token_count lines runs (compiled or pure Python), for `openusage detect` only."""
    if not detailed:
        return ()
    from openusage.native import describe_path
    from openusage.providers.codex_cli.compiled import choose

    path = choose()
    return (Fact("token_count reader", describe_path(path), path.lines is not None),)


class CodexCliProvider:
    id = "codex_cli"
    title = "Codex CLI"
    upstream_provider = layout.USUAL_UPSTREAM  # a thread's session_meta may name another (layout.session_info)
    missing_message = "Codex CLI sessions directory not found"
    scopes: tuple[str, ...] = ()
    compaction_scope: str | None = None  # Codex records no separate usage for its compaction
    # Each thread's calls count once per account: nothing is shared across accounts.
    shares_calls_across_accounts = False
    reports_reasoning = True  # `reasoning_output_tokens`, a part of output (codex-cli-format.md)
    extra_keys: tuple[str, ...] = ("home", "sessions_dir")  # read by _home, session_dirs
    home_default = "~/.codex"  # codex_root
    home_variable = HOME_VARIABLE

    def detect(self, env: Mapping[str, str], *, detailed: bool = False) -> Detection:
        root = codex_root(env)
        live, archived = root / layout.LIVE_DIR, root / layout.ARCHIVED_DIR
        config_file = root / "config.toml"
        binary = find_binary(env, "codex")
        variable = env.get(HOME_VARIABLE)
        facts = (
            Fact("root", f"{root}" + (f" ({HOME_VARIABLE})" if variable else ""), root.is_dir()),
            Fact("sessions dir", f"{live}{_count(live, detailed)}", live.is_dir()),
            Fact("archived sessions dir", f"{archived}{_count(archived, detailed)}", archived.is_dir()),
            Fact("config file", str(config_file), config_file.is_file()),
            Fact("binary", binary or "codex not on PATH", binary is not None),
            *_parser_fact(detailed),
        )
        # A root CODEX_HOME names that is not a directory is a mistake to show (Codex itself refuses to
        # start then; codex-cli-format.md: "report that in diagnostics"), not an agent never used.
        named_unusable = bool(variable) and not root.is_dir()
        found = named_unusable or live.is_dir() or archived.is_dir() or binary is not None
        return Detection(self.id, self.title, Account(self.id, self.id) if found else None, facts)

    def _home(self, account: Account, env: Mapping[str, str]) -> Path:
        home = account.extra.get("home")
        return expand(home, env) if home else codex_root(env)

    def session_dirs(self, account: Account, env: Mapping[str, str]) -> list[str]:
        """The live sessions directory (`extra.sessions_dir` overrides it) and the archived one."""
        home = self._home(account, env)
        override = account.extra.get("sessions_dir")
        live = expand(override, env) if override else home / layout.LIVE_DIR
        return [os.fspath(live), os.fspath(home / layout.ARCHIVED_DIR)]

    def walk(self, account: Account, env: Mapping[str, str]) -> Walk:
        walk = layout.check(self.session_dirs(account, env))
        if not account.extra.get("home") and not account.extra.get("sessions_dir") and env.get(HOME_VARIABLE):
            explain_missing_home(walk, codex_root(env), HOME_VARIABLE)
        return walk

    def list_sessions(self, walk: Walk) -> SessionList:
        return layout.list_sessions(walk)

    def walk_session(self, walk: Walk, session: SessionDir, listing: SessionList) -> list[Source]:
        return layout.walk_session(walk, session, listing)

    needles = NEEDLES

    def parser(self, source: Source, state: bytes | None) -> LineParser:
        # Imported here: the reader (and msgspec) loads only when a file has to be read.
        from openusage.providers.codex_cli.rollout import RolloutParser

        return RolloutParser(source.session, state)

    head_bytes = layout.HEAD_BLOCK  # a thread's state is the session_meta lines at its rollout's top

    def session_info(self, holders: Mapping[str, list[str]],
                     heads: Mapping[str, bytes] | None = None) -> dict[str, SessionInfo]:
        return layout.session_info(holders, heads)

    def model_resolver(self, account: Account, env: Mapping[str, str]) -> ModelResolver:
        return config.model_resolver(self._home(account, env) / "config.toml")

    def facts_finder(self, account: Account, env: Mapping[str, str], *, titles: bool) -> FactsFinder:
        from openusage.providers.codex_cli.threads import ThreadFactsFinder

        return ThreadFactsFinder(self.session_dirs(account, env), titles=titles)

    def labels_signature(self, account: Account, env: Mapping[str, str]) -> str:
        return ""  # a thread's facts come from its own rollout's head, which the session signature covers

    def write_demo(self, home: Path, now: datetime) -> bool:
        from openusage.providers.codex_cli.demo import write_demo_codex_home

        write_demo_codex_home(home, now)
        return True
