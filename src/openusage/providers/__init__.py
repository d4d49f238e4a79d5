"""The one registry of providers: a static tuple, in the order their tiles are shown."""

from __future__ import annotations

from openusage.providers.base import FileProvider
from openusage.providers.codex_cli.provider import CodexCliProvider
from openusage.providers.kimi_cli.provider import KimiCliProvider
from openusage.providers.kimi_code.provider import KimiCodeProvider

PROVIDERS: tuple[FileProvider, ...] = (KimiCliProvider(), KimiCodeProvider(), CodexCliProvider())


def provider_by_id(provider_id: str) -> FileProvider | None:
    return next((p for p in PROVIDERS if p.id == provider_id), None)
