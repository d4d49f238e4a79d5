"""Kimi Code's plan quota as a provider: off until the user adds it to the settings (it sends Kimi
Code's sign-in over the network); `detect` only says whether a sign-in exists and how to turn it on.

Cheap to import (the registry imports it on every run): reading the sign-in and the HTTP client load
only when an account is fetched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from openusage.providers.base import Account, Detection, Fact

if TYPE_CHECKING:  # the registry imports this module on every run; a reading is built only by fetch
    from openusage.remote import Reading

HOME_VARIABLE = "KIMI_CODE_HOME"
DEFAULT_SLOT = "kimi-code"
TURN_ON = ('off until you add {"id": "kimi_code_plan", "provider": "kimi_code_plan"} to "accounts" in '
           "settings.json: it then sends Kimi Code's sign-in token to Kimi Code's usage endpoint")


def code_home(account: Account | None, env: Mapping[str, str]) -> Path:
    """`extra.home`, else `$KIMI_CODE_HOME` when non-empty (as Kimi Code reads it), else `~/.kimi-code`."""
    home = (account.extra.get("home", "") if account is not None else "") or env.get(HOME_VARIABLE, "")
    user_home = Path(env.get("HOME") or Path.home())
    if not home:
        return user_home / ".kimi-code"
    if home == "~" or home.startswith("~/"):
        return user_home / home[2:]
    return Path(os.path.expanduser(home))


class KimiCodePlanProvider:
    id = "kimi_code_plan"
    title = "Kimi Code plan"
    extra_keys: tuple[str, ...] = ("home",)  # another Kimi Code home's sign-in
    turned_on_by = 'its limits, once the settings hold an account of provider "kimi_code_plan"'

    def detect(self, env: Mapping[str, str], *, detailed: bool = False,
               configured: Sequence[Account] = ()) -> Detection:
        """Never an account (the user turns the tile on), and never a network call. With `detailed`,
        whether the sign-in file the tile would read exists, and whether the settings turn the tile on
        (`configured`: their accounts of this provider, each with the sign-in it reads)."""
        if not detailed:
            return Detection(self.id, self.title, None, ())
        from openusage.providers.kimi_code_plan.signin import locate

        credentials, _base = locate(None, env)
        facts = [Fact("Kimi Code sign-in", str(credentials), credentials.is_file())]
        for account in configured:
            if account.extra.get("home"):  # another home's sign-in
                path, _base = locate(account, env)
                facts.append(Fact(f"sign-in of {account.id}", str(path), path.is_file()))
        if configured:
            names = ", ".join(account.id for account in configured)
            facts.append(Fact("plan tile", f"on in settings.json ({names})", True))
        else:
            facts.append(Fact("plan tile", TURN_ON, False))
        return Detection(self.id, self.title, None, tuple(facts))

    def credential(self, account: Account) -> str:
        return account.extra.get("home", "")  # the sign-in of that Kimi Code home ("": the default one)

    def unfetched(self, account: Account, env: Mapping[str, str], *, now: datetime) -> Reading | None:
        """Signed out, expired or unusable credentials, as a fetch would say before any request: read
        from the sign-in file alone."""
        from openusage.providers.kimi_code_plan.signin import Problem, sign_in

        found = sign_in(account, env, now)
        return found.reading() if isinstance(found, Problem) else None

    def binding(self, account: Account, env: Mapping[str, str]) -> str | None:
        return None  # the access token changes every hour or so, and every plan account asks one host

    def fetch(self, account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> Reading:
        from openusage.providers.kimi_code_plan.usage import fetch_plan

        return fetch_plan(account, env, now=now, deadline=deadline)
