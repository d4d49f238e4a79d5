"""Kimi CLI as a provider: wires the locator, the config reader and the wire reader together."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from openusage.providers.base import Account, Detection, Fact, LineParser, ModelResolver, SessionDir, SessionList, Walk
from openusage.providers.kimi_cli import config, locate, state
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

MIGRATED_MARKER = ".migrated-to-kimi-code"
# Only lines holding this quoted key can be usage (wire.py says why).
NEEDLES: tuple[bytes, ...] = (b'"token_usage"',)


class KimiCliProvider:
    id = "kimi_cli"
    title = "Kimi CLI"
    upstream_provider = "moonshot"
    missing_message = "Kimi CLI sessions directory not found"

    scopes: tuple[str, ...] = ()
    compaction_scope: str | None = None  # Kimi CLI records no usage for its compaction call
    # "Each model call counts once per account" (kimi-cli-format.md): nothing is shared across accounts.
    shares_calls_across_accounts = False
    reports_reasoning = False  # its token_usage has no reasoning figure
    extra_keys: tuple[str, ...] = ("sessions_dir", "config_path")  # read by sessions_dir, config_paths
    home_default = "~/.kimi"  # locate.kimi_root
    home_variable = locate.SHARE_VARIABLE

    def detect(self, env: Mapping[str, str], *, detailed: bool = False) -> Detection:
        root = locate.kimi_root(env)
        sessions = root / "sessions"
        configs = [root / "config.toml", root / "config.json"]
        binary = locate.find_binary(env)
        count = f" ({sessions_counted(sessions)})" if detailed and sessions.is_dir() else ""
        migrated = root / MIGRATED_MARKER
        facts = (
            Fact("root", f"{root}" + (f" ({locate.SHARE_VARIABLE})" if env.get(locate.SHARE_VARIABLE) else ""),
                 root.is_dir()),
            Fact("sessions dir", f"{sessions}{count}", sessions.is_dir()),
            *(Fact("config file", str(path), path.is_file()) for path in configs),
            Fact("binary", binary or "kimi not on PATH", binary is not None),
        )
        # A root KIMI_SHARE_DIR names that is not a directory is a mistake to show (walk says why), not
        # an agent never used: its account stays.
        named_missing = bool(env.get(locate.SHARE_VARIABLE)) and not root.is_dir()
        found = named_missing or any(fact.found for fact in facts[1:])
        if detailed:  # which parser reads the usage lines: the compiled fast path, or the reference alone
            from openusage.providers.kimi_cli import fastpath

            fast = fastpath.choose(env)
            facts = (*facts, Fact("line parser", fastpath.describe(fast), fast.parse is not None))
        if migrated.exists():
            # Kimi Code's installer copied the conversations, not the usage: this history still counts, once.
            facts = (*facts, Fact("migrated to Kimi Code", f"{migrated} (history here still counted, once)", True))
        account = Account(id=self.id, provider=self.id) if found else None
        return Detection(self.id, self.title, account, facts)

    def sessions_dir(self, account: Account, env: Mapping[str, str]) -> Path:
        override = account.extra.get("sessions_dir")
        return locate.expand(override, env) if override else locate.kimi_root(env) / "sessions"

    def config_paths(self, account: Account, env: Mapping[str, str]) -> list[Path]:
        override = account.extra.get("config_path")
        if override:
            return [locate.expand(override, env)]
        root = locate.kimi_root(env)
        return [root / "config.toml", root / "config.json"]

    def walk(self, account: Account, env: Mapping[str, str]) -> Walk:
        walk = walk_sessions(self.sessions_dir(account, env))
        if "sessions_dir" not in account.extra and env.get(locate.SHARE_VARIABLE):
            explain_missing_home(walk, locate.kimi_root(env), locate.SHARE_VARIABLE)
        return walk

    def list_sessions(self, walk: Walk) -> SessionList:
        return list_sessions(walk)

    def walk_session(self, walk: Walk, session: SessionDir, listing: SessionList) -> list[Source]:
        return walk_session(walk, session, listing)

    needles = NEEDLES

    def parser(self, source: Source, state: bytes | None) -> LineParser:
        # Imported here: the reader (and msgspec) loads only when a file has to be read.
        from openusage.providers.kimi_cli.wire import WireParser

        return WireParser()

    head_bytes = 0  # a session's state is a file of its own

    def session_info(self, holders: Mapping[str, list[str]],
                     heads: Mapping[str, bytes] | None = None) -> dict[str, SessionInfo]:
        return {name: SessionInfo(min(state.fork_depth(d) for d in dirs), None)
                for name, dirs in session_paths(holders).items()}

    def model_resolver(self, account: Account, env: Mapping[str, str]) -> ModelResolver:
        """A record's own model when it names one, else the configured default."""
        default, problems = config.default_model(self.config_paths(account, env))
        return ModelResolver(lambda model: model or default, problems)

    def facts_finder(self, account: Account, env: Mapping[str, str], *, titles: bool) -> FactsFinder:
        from openusage.providers.kimi_cli.sessions import SessionFactsFinder

        sessions_dir = self.sessions_dir(account, env)
        return SessionFactsFinder(sessions_dir, sessions_dir.parent, titles=titles)

    def labels_signature(self, account: Account, env: Mapping[str, str]) -> str:
        from openusage.providers.agentfiles import stat_signature

        return stat_signature(self.sessions_dir(account, env).parent / "kimi.json")

    def write_demo(self, home: Path, now: datetime) -> bool:
        from openusage.providers.kimi_cli.demo import write_demo_home

        write_demo_home(home, now)
        return True

