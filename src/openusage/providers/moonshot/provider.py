"""Moonshot as a provider: detected from `MOONSHOT_API_KEY`; its fetch lives in `balance.py`.

Cheap to import (the registry imports it on every run): the HTTP client loads only when an account
is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from openusage.providers.base import Account, Detection, Fact

if TYPE_CHECKING:  # the registry imports this module on every run; a reading is built only by fetch
    from openusage.remote import Reading

KEY_VARIABLE = "MOONSHOT_API_KEY"


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
        return account.extra.get("api_key_env") or KEY_VARIABLE

    def fetch(self, account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> Reading:
        from openusage.providers.moonshot.balance import fetch_balance

        return fetch_balance(account, env, now=now, deadline=deadline)
