"""`GET {base}/usages` with Kimi Code's sign-in, and its answer as Kimi Code's `/usage` shows it.

The weekly limit first (`usage`, which carries no window), then `limits` in order, each labelled as
Kimi Code labels it (`Weekly limit`, `5h limit`, else its name, else `Limit`); then the Extra Usage
wallet (used this month, monthly limit or Unlimited, balance). Numbers come as strings or numbers and
are truncated to integers as Kimi Code does. Only `Authorization` and `Accept` are sent; no retry on
a 4xx, one on a timeout or a 5xx (kimi-code-plan.md, "Rules for openusage").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from openusage.providers import http
from openusage.providers.base import Account
from openusage.providers.kimi_code_plan.signin import EXPIRED, Problem, sign_in
from openusage.remote import Amount, Cap, Quota, Reading, RemoteState, public_url

RETRY = http.Retry(timeout=True, server_error=True, rate_limited=False)
PLAN = "Plan usage"  # Kimi Code's two sections of /usage
EXTRA = "Extra Usage"
_UNITS = {"MINUTE": "m", "HOUR": "h", "DAY": "d", "WEEK": "w"}
_FRACTION = re.compile(r"(\.\d{6})\d+")


def fetch_plan(account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> Reading:
    found = sign_in(account, env, now)
    if isinstance(found, Problem):
        return found.reading()
    base, token = found
    public = public_url(base)  # what readings may say of it
    answer = http.get_json(f"{base}/usages", token, deadline=deadline, retry=RETRY)
    failed = _failure(answer, token)
    if failed is not None:
        return Reading(*failed, source=public)
    quotas, amounts, caps = parse_usages(answer.body)
    if not quotas and not amounts:
        return Reading("bad_response", "unexpected answer: no usage, limits or wallet", source=public)
    shown = [f"{q.label} {q.percent}% used" for q in quotas if q.section == PLAN][:2]
    message = ", ".join(shown) or "Extra Usage only"
    return Reading("ok", message, amounts, quotas, caps, (), now, False, public).without(token)


def _failure(answer: http.Answer, token: str) -> tuple[RemoteState, str] | None:
    said = http.error_text(answer.body)
    # "Non-2xx: message from body ...; else" the fixed texts, as Kimi Code shows them.
    told = http.redact(said, token) if said else ""
    status = answer.status
    if answer.failure == "timeout":
        return "timeout", "Failed to fetch usage: request timed out."
    if answer.failure == "unreachable":
        return "unreachable", f"Failed to fetch usage: {answer.detail}"
    if answer.failure == "bad_secret":
        return "bad_credentials", f"the sign-in token cannot be used: {answer.detail}"
    if answer.failure == "bad_url":
        return "bad_settings", f"{answer.detail} (KIMI_CODE_BASE_URL or config base_url)"
    if status in {401, 403}:
        return "expired", EXPIRED
    if status == 404:
        return "not_found", told or "Usage endpoint not available. Try Kimi For Coding."
    if 300 <= status <= 399:
        return "bad_response", f"Failed to fetch usage: redirected (HTTP {status})"
    if status == 429 or 500 <= status <= 599 or not 200 <= status <= 299:
        state: RemoteState = "rate_limited" if status == 429 else "server_error" if status >= 500 else "api_error"
        return state, told or f"Failed to fetch usage: HTTP {status}"
    if answer.failure == "not_json":
        return "bad_response", f"Failed to fetch usage: not a JSON answer (HTTP {status}, {answer.detail})"
    if not isinstance(answer.body, dict):
        return "bad_response", "unexpected answer: not a JSON object"
    return None


def parse_usages(body: dict[str, Any]) -> tuple[tuple[Quota, ...], tuple[Amount, ...], tuple[Cap, ...]]:
    quotas: list[Quota] = []
    weekly = _row(body.get("usage"), "weekly", "Weekly limit", PLAN)
    if weekly is not None:
        quotas.append(weekly)
    limits = body.get("limits")
    for index, item in enumerate(limits if isinstance(limits, list) else ()):
        if not isinstance(item, dict):
            continue
        detail_raw = item.get("detail")
        detail = detail_raw if isinstance(detail_raw, dict) else item
        row = _row(detail, f"limit_{index + 1}", _label(item, detail), PLAN)
        if row is not None:
            quotas.append(row)
    amounts, wallet_quotas, caps = _wallet(body.get("boosterWallet"))
    return (*quotas, *wallet_quotas), amounts, caps


def _int(value: Any) -> int | None:
    """A number as Kimi Code reads one: a number or a numeric string, truncated; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        try:
            float(value)  # one past 1e308 is no number to JavaScript either (Infinity): not a count
        except OverflowError:
            return None
        return value
    if isinstance(value, float) and math.isfinite(value):
        return math.trunc(value)
    return None


def _row(raw: Any, key: str, label: str, section: str) -> Quota | None:
    """A limit row: `used` (else `limit - remaining`) of `limit`; None when it has neither."""
    if not isinstance(raw, dict):
        return None
    limit = _int(raw.get("limit"))
    used = _int(raw.get("used"))
    if used is None and limit is not None:
        remaining = _int(raw.get("remaining"))
        used = None if remaining is None else limit - remaining
    if used is None and limit is None:
        return None
    resets_at, reset_text = _reset(raw.get("resetTime"))
    return Quota(key, label, float(used or 0), float(limit or 0), "", resets_at, reset_text, section)


def _label(item: dict[str, Any], detail: dict[str, Any]) -> str:
    """`Weekly limit` for a one-week window, `<n><unit> limit` for others (whole hours of minutes
    folded: 300 minutes is `5h limit`), else the limit's name, else `Limit`."""
    window = item.get("window")
    if isinstance(window, dict):
        duration = _int(window.get("duration"))
        unit = window.get("timeUnit")
        letter = _UNITS.get(unit.removeprefix("TIME_UNIT_"), "") if isinstance(unit, str) else ""
        if duration is not None and duration > 0 and letter:
            if letter == "w" and duration == 1:
                return "Weekly limit"
            if letter == "m" and duration % 60 == 0:
                duration, letter = duration // 60, "h"
            return f"{duration}{letter} limit"
    for source in (item, detail):
        name = source.get("name")
        if isinstance(name, str) and name:
            return name
    return "Limit"


def _reset(value: Any) -> tuple[datetime | None, str | None]:
    """An RFC 3339 reset time (a 9-digit fraction is cut to microseconds), or the text it came as."""
    if not isinstance(value, str) or not value:
        return None, None
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)  # an instant outside the years 1-9999 in UTC (9999-12-31T23:59-05:00)
    except (ValueError, OverflowError):
        return None, f"resets at {value[:40]}"
    return moment, None


def _wallet_parts(raw: Any) -> tuple[int, int, str, dict[str, Any]] | None:
    """amount, amountLeft (fixed point: millionths of a cent), currency and the wallet, when it is a
    booster wallet with something in it (Kimi Code skips any other)."""
    if not isinstance(raw, dict):
        return None
    balance = raw.get("balance")
    if not isinstance(balance, dict) or balance.get("type") != "BOOSTER":
        return None
    amount = _int(balance.get("amount"))
    if amount is None or amount <= 0:
        return None
    left = _int(balance.get("amountLeft")) or 0
    currency = "USD"
    for key in ("monthlyChargeLimit", "monthlyUsed"):
        part = raw.get(key)
        if isinstance(part, dict) and isinstance(part.get("currency"), str) and part["currency"]:
            currency = part["currency"]
            break
    return amount, left, currency, raw


def _cents(part: Any) -> int:
    return (_int(part.get("priceInCents")) or 0) if isinstance(part, dict) else 0


def _wallet(raw: Any) -> tuple[tuple[Amount, ...], tuple[Quota, ...], tuple[Cap, ...]]:
    """The Extra Usage rows: used this month, the monthly limit (a gauge, or Unlimited), the balance."""
    parts = _wallet_parts(raw)
    if parts is None:
        return (), (), ()
    _amount, left, currency, wallet = parts
    used_cents = _cents(wallet.get("monthlyUsed"))
    # Kimi Code's order: used this month, the monthly limit, the balance.
    amounts = (Amount("used_this_month", "Used this month", used_cents / 100, currency, EXTRA, 0),
               Amount("balance", "Balance", left / 100_000_000, currency, EXTRA, 2))
    limit = _monthly_limit(wallet)
    if not limit:
        return amounts, (), (Cap("monthly_limit", "Monthly limit", "Unlimited", EXTRA, 1),)
    return amounts, (Quota("monthly_limit", "Monthly limit", used_cents / 100, limit / 100, currency,
                           section=EXTRA, order=1),), ()


def _monthly_limit(wallet: dict[str, Any]) -> int:
    """The monthly limit in cents; 0 when there is none (disabled, or a limit of 0: unlimited)."""
    if wallet.get("monthlyChargeLimitEnabled") is False:
        return 0
    return max(0, _cents(wallet.get("monthlyChargeLimit")))
