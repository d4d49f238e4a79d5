"""The one registry of providers: a static tuple, in the order their tiles are shown.

Each entry offers one capability (base.py): a file source or a remote source. Importing a remote
provider here costs nothing: its HTTP client is imported only when one of its accounts is fetched.
"""

from __future__ import annotations

from openusage.providers.base import FileProvider, Provider, RemoteSource, remote_source
from openusage.providers.codex_cli.provider import CodexCliProvider
from openusage.providers.kimi_cli.provider import KimiCliProvider
from openusage.providers.kimi_code.provider import KimiCodeProvider
from openusage.providers.kimi_code_plan.provider import KimiCodePlanProvider
from openusage.providers.moonshot.provider import MoonshotProvider

PROVIDERS: tuple[Provider, ...] = (KimiCliProvider(), KimiCodeProvider(), CodexCliProvider(), MoonshotProvider(),
                                   KimiCodePlanProvider())


def provider_by_id(provider_id: str) -> Provider | None:
    return next((p for p in PROVIDERS if p.id == provider_id), None)


def file_provider(provider_id: str) -> FileProvider | None:
    """The provider as a file source, or None (unknown, or a remote source)."""
    provider = provider_by_id(provider_id)
    if provider is None or isinstance(provider, RemoteSource):
        return None
    return provider


def remote_provider(provider_id: str) -> RemoteSource | None:
    """The provider as a remote source, or None (unknown, or a file source)."""
    provider = provider_by_id(provider_id)
    return None if provider is None else remote_source(provider)
