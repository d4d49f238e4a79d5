"""What a remote source answers: amounts, quotas and caps, with a state and the time they were fetched.

The shared vocabulary of every remote source (an account balance, a plan quota), as `records.py` is
for file sources: named, immutable, and free of secrets by construction (a reading holds figures and
texts openusage wrote, never a key or a token). `encode`/`decode` keep the last good reading of an
account in the cache.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

# What happened, in one word per case both specifications list; `message` says it for people.
RemoteState = Literal[
    "ok",            # a good answer
    "low",           # a good answer: the balance is below the account's threshold
    "exhausted",     # a good answer: nothing left to spend
    "offline",       # not fetched: --offline
    "no_key",        # no API key in the environment
    "invalid_key",   # 401/403 on an API key
    "signed_out",    # no sign-in, or an empty (revoked) token
    "expired",       # the sign-in expired, or the service refused the token
    "bad_credentials",  # the credentials file cannot be used (not a file, too large, broken)
    "not_found",     # 404
    "rate_limited",  # 429
    "server_error",  # 5xx
    "timeout",       # no answer in time
    "unreachable",   # no connection (DNS, refused, TLS)
    "bad_response",  # not JSON, HTML from a proxy, the wrong shape, a redirect
    "api_error",     # HTTP 200 whose envelope says it failed (code != 0)
    "bad_settings",  # an `extra` value that cannot be used
    "error",         # anything else (an internal failure, said without its text)
]
GOOD_STATES: frozenset[str] = frozenset({"ok", "low", "exhausted"})


def js_round(x: float) -> int:
    """JavaScript's Math.round: halves go up (6.5 → 7, where Python's round gives 6), exactly, without
    the float error of floor(x + 0.5) just below a half."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


class Amount(NamedTuple):
    """An amount of money or of a unit: a balance, a spend."""

    key: str      # stable name for scripts: "available", "cash", "vouchers", "balance", ...
    label: str    # as the tile shows it
    value: float
    unit: str     # an ISO 4217 currency (USD, CNY) or a unit name
    section: str = ""  # the tile's group of rows ("" = the main one)
    order: int = 0  # its place among the section's rows of every kind (amounts, quotas, caps)


class Quota(NamedTuple):
    """A limit with what is used of it, and when it starts again."""

    key: str
    label: str    # "Weekly limit", "5h limit", ...
    used: float
    limit: float  # <= 0: no limit known, shown as 0 %
    unit: str     # "" when the service does not say
    resets_at: datetime | None = None
    reset_text: str | None = None  # when the reset time came but could not be read: what it said
    section: str = ""
    order: int = 0

    @property
    def ratio(self) -> float:
        """used / limit within [0, 1]; 0 without a positive limit."""
        if self.limit <= 0 or not math.isfinite(self.used / self.limit):
            return 0.0
        return max(0.0, min(self.used / self.limit, 1.0))

    @property
    def percent(self) -> int:
        return js_round(self.ratio * 100)


class Cap(NamedTuple):
    """A plain fact without a gauge: a tier, a rate cap, "Unlimited"."""

    key: str
    label: str
    value: str
    section: str = ""
    order: int = 0


class Reading(NamedTuple):
    """One remote account's answer, or why there is none."""

    state: RemoteState
    message: str
    amounts: tuple[Amount, ...] = ()
    quotas: tuple[Quota, ...] = ()
    caps: tuple[Cap, ...] = ()
    notes: tuple[str, ...] = ()   # what is missing from a partial answer
    fetched_at: datetime | None = None  # when the figures were answered
    stale: bool = False  # the figures are an earlier answer from the cache: this one failed or was not made
    source: str = ""     # where the figures come from (a base URL; never a secret)

    @property
    def good(self) -> bool:
        return self.state in GOOD_STATES

    @property
    def has_figures(self) -> bool:
        return bool(self.amounts or self.quotas or self.caps)

    def without(self, secret: str) -> Reading:
        """This reading with `secret` replaced wherever a service's text reached it (the message, notes,
        labels, caps, what a reset time said): a server that echoes a token in a good answer must not
        have it shown or cached."""
        if not secret:
            return self

        def clean(text: str) -> str:
            return scrub(text, secret)

        return self._replace(
            message=clean(self.message), notes=tuple(map(clean, self.notes)),
            amounts=tuple(a._replace(label=clean(a.label)) for a in self.amounts),
            quotas=tuple(q._replace(label=clean(q.label),
                                    reset_text=None if q.reset_text is None else clean(q.reset_text))
                         for q in self.quotas),
            caps=tuple(c._replace(label=clean(c.label), value=clean(c.value)) for c in self.caps))


def encode(reading: Reading, binding: str = "") -> str:
    """A reading as JSON text for the cache, with the binding it was fetched with
    (`RemoteSource.binding`: a fingerprint of the key and the host, never the key)."""
    return json.dumps({
        "binding": binding,
        "state": reading.state, "message": reading.message,
        "amounts": [list(a) for a in reading.amounts],
        "quotas": [[q.key, q.label, q.used, q.limit, q.unit, _iso(q.resets_at), q.reset_text, q.section, q.order]
                   for q in reading.quotas],
        "caps": [list(c) for c in reading.caps],
        "notes": list(reading.notes), "fetched_at": _iso(reading.fetched_at), "source": reading.source,
    })


def decode(text: str) -> Reading | None:
    """A cached reading; None when it is not one (an older or damaged cache entry is only dropped)."""
    try:
        doc: Any = json.loads(text)
        return Reading(
            doc["state"], doc["message"],
            tuple(Amount(str(k), str(lb), float(v), str(u), str(s), int(o)) for k, lb, v, u, s, o in doc["amounts"]),
            tuple(Quota(str(k), str(lb), float(used), float(limit), str(u), _parse_iso(at), rt, str(s), int(o))
                  for k, lb, used, limit, u, at, rt, s, o in doc["quotas"]),
            tuple(Cap(str(k), str(lb), str(v), str(s), int(o)) for k, lb, v, s, o in doc["caps"]),
            tuple(str(n) for n in doc["notes"]), _parse_iso(doc["fetched_at"]), False, str(doc["source"]))
    except (ValueError, TypeError, KeyError):
        return None


def binding_of(text: str) -> str:
    """The binding a cached reading was fetched with ("" for none, or an entry from before bindings)."""
    try:
        doc: Any = json.loads(text)
    except ValueError:
        return ""
    binding = doc.get("binding", "") if isinstance(doc, dict) else ""
    return binding if isinstance(binding, str) else ""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_iso(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


FRAGMENT = 6  # a run of this many characters of a secret, in any case, is a piece of it


def scrub(text: str, secret: str) -> str:
    """`text` with every piece of `secret` in it replaced by `[redacted]`: the secret itself, and any run
    of `FRAGMENT` or more of its characters, whatever their case (a server that echoes the key without
    its prefix, its last characters, or upper-cased). Six random characters of a key turn up in other
    text by chance about once in two billion tries."""
    if not secret or not text:
        return text
    if len(secret) < FRAGMENT:
        return text.replace(secret, "[redacted]")
    folded, key = text.casefold(), secret.casefold()
    if len(folded) != len(text) or len(key) != len(secret):  # case folding changed a length: exact only
        return text.replace(secret, "[redacted]")
    pieces = {key[i : i + FRAGMENT] for i in range(len(key) - FRAGMENT + 1)}
    covered = [False] * len(text)
    for i in range(len(folded) - FRAGMENT + 1):
        if folded[i : i + FRAGMENT] in pieces:
            covered[i : i + FRAGMENT] = [True] * FRAGMENT
    if not any(covered):
        return text
    out: list[str] = []
    for i, char in enumerate(text):
        if not covered[i]:
            out.append(char)
        elif i == 0 or not covered[i - 1]:
            out.append("[redacted]")
    return "".join(out)


def public_url(url: str) -> str:
    """`url` fit to show and keep: without a user name or password someone may have put in it."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not a URL)"
    return urlunsplit(parts._replace(netloc=(parts.hostname or "") + port))
