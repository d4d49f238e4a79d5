"""settings.json → immutable records. Every error names the file and the line/column or key path.

Shape: `{"auto_detect": true, "accounts": [{"id": "...", "provider": "kimi_cli", "extra": {...}}]}`.
A missing file means the defaults; anything present must be right, or the user hears exactly where not.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, NamedTuple

from openusage.errors import SettingsError
from openusage.providers.base import Account


class Settings(NamedTuple):
    path: Path
    auto_detect: bool = True
    accounts: tuple[Account, ...] = ()


def load_settings(path: Path, known_providers: Collection[str]) -> Settings:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(path)
    except OSError as exc:
        raise SettingsError(f"settings file {path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"settings file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    import json  # only users with a settings file pay for the import

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"settings file {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return _parse(path, doc, known_providers)


def _parse(path: Path, doc: Any, known_providers: Collection[str]) -> Settings:
    def fail(where: str, problem: str) -> SettingsError:
        return SettingsError(f"settings file {path}: {where}: {problem}")

    if not isinstance(doc, dict):
        raise fail("top level", f"expected an object, found {_kind(doc)}")
    auto_detect = doc.get("auto_detect", True)
    if not isinstance(auto_detect, bool):
        raise fail("auto_detect", f"expected true or false, found {_kind(auto_detect)}")
    entries = doc.get("accounts", [])
    if not isinstance(entries, list):
        raise fail("accounts", f"expected a list, found {_kind(entries)}")
    accounts: list[Account] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"accounts[{index}]"
        if not isinstance(entry, dict):
            raise fail(where, f"expected an object, found {_kind(entry)}")
        account_id = entry.get("id")
        if not isinstance(account_id, str) or not account_id:
            raise fail(f"{where}.id", f"expected a non-empty string, found {_kind(account_id)}")
        if account_id in seen:
            raise fail(f"{where}.id", f"{account_id!r} is already used by another account")
        seen.add(account_id)
        provider = entry.get("provider")
        if not isinstance(provider, str) or provider not in known_providers:
            known = ", ".join(sorted(known_providers))
            raise fail(f"{where}.provider", f"expected one of {known}, found {_describe(provider)}")
        extra = entry.get("extra", {})
        if not isinstance(extra, dict):
            raise fail(f"{where}.extra", f"expected an object, found {_kind(extra)}")
        for key, value in extra.items():
            if not isinstance(value, str):
                raise fail(f"{where}.extra.{key}", "expected a string (a path, a URL, a variable name or a number"
                                                   f" in quotes), found {_kind(value)}")
        accounts.append(Account(account_id, provider, dict(extra), origin="configured"))
    return Settings(path, auto_detect, tuple(accounts))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else _kind(value)
