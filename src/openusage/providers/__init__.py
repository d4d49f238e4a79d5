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


# Each provider's capability, decided once: an isinstance check against a runtime-checkable Protocol
# walks its members (~14 us), and the scan asks for every file it reads (80 ms of a 1 GB cold scan).
_REMOTE: dict[str, RemoteSource] = {p.id: source for p in PROVIDERS if (source := remote_source(p)) is not None}
# A provider that is not a remote source is a file source (`Provider` is the union of the two).
_FILES: dict[str, FileProvider] = {p.id: p for p in PROVIDERS if p.id not in _REMOTE}  # type: ignore[misc]


def file_provider(provider_id: str) -> FileProvider | None:
    """The provider as a file source, or None (unknown, or a remote source)."""
    return _FILES.get(provider_id)


def file_providers() -> tuple[FileProvider, ...]:
    """Every file source, in the registry's order."""
    return tuple(_FILES.values())


def remote_providers() -> tuple[RemoteSource, ...]:
    """Every remote source, in the registry's order."""
    return tuple(_REMOTE.values())


def remote_provider(provider_id: str) -> RemoteSource | None:
    """The provider as a remote source, or None (unknown, or a file source)."""
    return _REMOTE.get(provider_id)
