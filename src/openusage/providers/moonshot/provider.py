"""Moonshot as a provider: detected from `MOONSHOT_API_KEY`; its fetch lives in `balance.py`.

Cheap to import (the registry imports it on every run): the HTTP client loads only when an account
is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from openusage.providers.base import Account, Detection, Fact, fingerprint

if TYPE_CHECKING:  # the registry imports this module on every run; a reading is built only by fetch
    from openusage.remote import Reading

KEY_VARIABLE = "MOONSHOT_API_KEY"
DEFAULT_BASE_URL = "https://api.moonshot.ai"


class MoonshotProvider:
    id = "moonshot"
    title = "Moonshot API"
    extra_keys: tuple[str, ...] = ("api_key_env", "base_url", "low_balance")  # read by balance.py
    turned_on_by = f"its balance, when {KEY_VARIABLE} is set"

    def detect(self, env: Mapping[str, str], *, detailed: bool = False,
               configured: Sequence[Account] = ()) -> Detection:
        """An account when `MOONSHOT_API_KEY` is non-empty. The key's value is never looked at
        further, shown or kept; an account with another variable (`extra.api_key_env`) comes from
        the settings (`configured`: their accounts of this provider), and whether its variable is set
        is said too."""
        found = bool(env.get(KEY_VARIABLE, "").strip())
        facts = [Fact("API key", f"{KEY_VARIABLE} ({'set' if found else 'not set'})", found)]
        for account in configured:
            variable = self.credential(account)
            if variable != KEY_VARIABLE:
                there = bool(env.get(variable, "").strip())
                facts.append(Fact(f"API key of {account.id}", f"{variable} ({'set' if there else 'not set'})", there))
        return Detection(self.id, self.title, Account(self.id, self.id) if found else None, tuple(facts))

    def credential(self, account: Account) -> str:
        return key_variable(account)

    def unfetched(self, account: Account, env: Mapping[str, str], *, now: datetime) -> Reading | None:
        """`no_key` when the key's variable is empty, as a fetch would say before any request."""
        if api_key(account, env):
            return None
        from openusage.remote import Reading, public_url

        return Reading("no_key", f"no API key: set {key_variable(account)}", source=public_url(base_url(account)))

    def binding(self, account: Account, env: Mapping[str, str]) -> str | None:
        """The key's fingerprint and the host `base_url` names: "region is a property of the key; never
        try the other host with the same key"."""
        key, base = api_key(account, env), base_url(account)
        try:
            parts = urlsplit(base)
            host = (parts.hostname or "").lower()
            port = parts.port
        except ValueError:
            return None  # no URL: the fetch says so, and sends nothing
        if not key or not host:
            return None
        where = host if port is None else f"{host}:{port}"
        return f"{fingerprint(key)}@{where}"

    def fetch(self, account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> Reading:
        from openusage.providers.moonshot.balance import fetch_balance

        return fetch_balance(account, env, now=now, deadline=deadline)


def key_variable(account: Account) -> str:
    """The variable that holds the account's key: `extra.api_key_env`, else `MOONSHOT_API_KEY`."""
    return account.extra.get("api_key_env") or KEY_VARIABLE


def api_key(account: Account, env: Mapping[str, str]) -> str:
    """The account's key: its variable's value, without the blanks around it ("": none)."""
    return env.get(key_variable(account), "").strip()


def base_url(account: Account) -> str:
    """The account's `base_url` (the default when unset), without a trailing slash."""
    return (account.extra.get("base_url") or DEFAULT_BASE_URL).strip().rstrip("/")
