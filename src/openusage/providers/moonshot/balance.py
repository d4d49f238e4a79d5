"""One Moonshot account's reading: `GET /v1/users/me/balance` (required) and `GET /v1/users/me`
(optional, undocumented: tier and rate caps), each answer or failure turned into a state.

Rules (moonshot-api.md, "Rules for openusage"): the currency follows the host (CNY for moonshot.cn,
else USD); a body counts only with HTTP 200, `code == 0` and `status == true`; a 401/403 stops there
(no second call); a partial answer shows what came back. The key is sent only to `base_url` and
never put in a text: server messages pass through `http.redact`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from openusage import __version__
from openusage.providers import http
from openusage.providers.base import Account
from openusage.providers.moonshot.provider import api_key, base_url, key_variable
from openusage.remote import Amount, Cap, Reading, RemoteState, public_url

DEFAULT_LOW_BALANCE = 1.0
# One retry on a timeout, a 5xx or a 429 (Retry-After honoured, capped): the specification's rule.
RETRY = http.Retry(timeout=True, server_error=True, rate_limited=True)
USER_AGENT = f"openusage/{__version__}"
Failure = tuple[RemoteState, str]


class _Balance(NamedTuple):
    available: float
    voucher: float
    cash: float


def currency_for(base_url: str) -> str:
    """CNY for the China platform (a host ending in moonshot.cn), else USD: no answer says."""
    host = (urlsplit(base_url).hostname or "").lower()
    return "CNY" if host == "moonshot.cn" or host.endswith(".moonshot.cn") else "USD"


def money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def fetch_balance(account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> Reading:
    variable, key, base = key_variable(account), api_key(account, env), base_url(account)
    shown = public_url(base)  # what readings and messages may say of it
    try:
        _ = urlsplit(base).hostname  # raises on what is no URL at all ("http://[::1")
    except ValueError:
        return Reading("bad_settings", "extra.base_url cannot be used: it is not a URL", source=shown)
    if not key:
        return Reading("no_key", f"no API key: set {variable}", source=shown)
    threshold = _threshold(account.extra.get("low_balance"))
    if threshold is None:
        return Reading("bad_settings", 'extra.low_balance: expected a number such as "1.00"', source=shown)
    currency = currency_for(base)
    answer = http.get_json(f"{base}/v1/users/me/balance", key, deadline=deadline, retry=RETRY, user_agent=USER_AGENT)
    failed = _failure(answer, key, variable, base)
    if failed is not None and failed[0] in {"invalid_key", "bad_settings"}:
        return Reading(*failed, source=shown)  # the same key on the other endpoint would fail again
    balance = _balance(answer.body) if failed is None else failed
    caps, limits_failed = _limits(base, key, variable, deadline)
    if limits_failed is not None and limits_failed[0] == "invalid_key":
        return Reading(*limits_failed, source=shown)  # a 401/403 on either endpoint is the key's
    notes = () if limits_failed is None else (f"limits unavailable ({limits_failed[1]})",)
    if not isinstance(balance, _Balance):
        return Reading(*balance, caps=caps, notes=notes, fetched_at=now if caps else None, source=shown).without(key)
    available, voucher, cash = balance
    amounts = [Amount("available", "Available", available, currency), Amount("cash", "Cash", cash, currency),
               Amount("vouchers", "Vouchers", voucher, currency)]
    if cash < 0:
        amounts.append(Amount("debt", "Owes", -cash, currency))
    state, message = _balance_state(available, threshold, currency)
    return Reading(state, message, tuple(amounts), (), caps, notes, now, False, shown).without(key)


def _threshold(text: str | None) -> float | None:
    if text is None or not text.strip():
        return DEFAULT_LOW_BALANCE
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _balance_state(available: float, threshold: float, currency: str) -> Failure:
    if available <= 0:
        return "exhausted", f"balance exhausted ({money(available, currency)}): the API refuses requests"
    if available < threshold:
        return "low", f"low balance: {money(available, currency)} available"
    return "ok", f"{money(available, currency)} available"


def _failure(answer: http.Answer, key: str, variable: str, base: str) -> Failure | None:
    """The state of an answer that is not a JSON body with HTTP 2xx, or None."""
    host = urlsplit(base).hostname or "the base URL"
    said = http.error_text(answer.body)
    text = f": {http.redact(said, key)}" if said else ""
    status = answer.status
    if answer.failure == "timeout":
        return "timeout", f"no answer from {host} ({answer.detail})"
    if answer.failure == "unreachable":
        return "unreachable", f"cannot reach {host}: {answer.detail}"
    if answer.failure == "bad_secret":
        return "invalid_key", f"the API key in {variable} cannot be used: {answer.detail}"
    if answer.failure == "bad_url":
        return "bad_settings", f"extra.base_url {public_url(base)!r} cannot be used: {answer.detail}"
    if status in {401, 403}:
        return "invalid_key", f"invalid API key: check {variable} (HTTP {status}{text})"
    if status == 404:
        return "not_found", f"not found (HTTP 404{text}): check base_url"
    if status == 429:
        wait = "" if answer.retry_after is None else f"; retry after {answer.retry_after:.0f} s"
        return "rate_limited", f"rate limited (HTTP 429{text}){wait}"
    if 500 <= status <= 599:
        return "server_error", f"server error (HTTP {status}{text})"
    if 300 <= status <= 399:
        return "bad_response", f"redirected (HTTP {status}): check base_url"
    if answer.failure == "not_json":
        return "bad_response", f"not a JSON answer (HTTP {status}, {answer.detail}): a proxy in the way?"
    if not 200 <= status <= 299:
        return "api_error", f"HTTP {status}{text}"
    if not isinstance(answer.body, dict):
        return "bad_response", f"unexpected answer (HTTP {status}): not a JSON object"
    code = answer.body.get("code")
    if not (type(code) in (int, float) and code == 0 and answer.body.get("status") is True):  # `false` is no 0
        return "api_error", f"the API says it failed (code {json.dumps(code)}{text})"
    return None


def _number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else, and for one no float holds (NaN, infinity,
    an integer past 1e308: `float` would raise)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _balance(body: Any) -> _Balance | Failure:
    """The three balances of a successful body, or why its shape is wrong."""
    data = body.get("data")
    if not isinstance(data, dict):
        return "bad_response", "unexpected answer: no data object"
    values: list[float] = []
    for name in ("available_balance", "voucher_balance", "cash_balance"):
        value = _number(data.get(name))
        if value is None:
            return "bad_response", f"unexpected answer: data.{name} is not a number"
        values.append(value)
    return _Balance(*values)


def _limits(base: str, key: str, variable: str, deadline: float) -> tuple[tuple[Cap, ...], Failure | None]:
    """The tier and rate caps of `/v1/users/me`, or why they could not be had."""
    answer = http.get_json(f"{base}/v1/users/me", key, deadline=deadline, retry=RETRY, user_agent=USER_AGENT)
    failed = _failure(answer, key, variable, base)
    if failed is not None:
        return (), failed
    data = answer.body.get("data")
    if not isinstance(data, dict):
        return (), ("bad_response", "unexpected answer: no data object")
    return _caps(data), None


def _caps(data: dict[str, Any]) -> tuple[Cap, ...]:
    """Every field optional: the endpoint is undocumented. `max_token_quota` is left out (its meaning
    is unknown); of the access key only a suffix of its id (never of the key) is shown."""
    caps: list[Cap] = []
    user = data.get("user")
    tier = data.get("user_group_id") or (user.get("user_group_id") if isinstance(user, dict) else None)
    if isinstance(tier, str) and tier:
        caps.append(Cap("tier", "Tier", tier))
    org = data.get("organization")
    if isinstance(org, dict):
        for name, label, field in (("concurrency", "Concurrency", "max_concurrency"),
                                   ("rpm", "Requests/min", "max_request_per_minute"),
                                   ("tpm", "Tokens/min", "max_token_per_minute")):
            value = _number(org.get(field))
            if value is not None:
                caps.append(Cap(name, label, f"{value:,.0f}"))
    access = data.get("access_key")
    if isinstance(access, dict) and isinstance(access.get("id"), str) and len(access["id"]) >= 4:
        caps.append(Cap("access_key", "Key id", "…" + access["id"][-4:]))
    return tuple(caps)
