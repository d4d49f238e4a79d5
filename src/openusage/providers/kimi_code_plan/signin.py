"""Kimi Code's sign-in, read only: where `/usages` is and the access token to call it with.

Never refreshed, written, locked or chmodded (tokens rotate: a refresh by anyone else logs Kimi Code
out). Of config.toml only the managed provider's `base_url` and `oauth.key` are read; of the
credentials file only `access_token` and `expires_at`. Both are read bounded and without blocking:
a FIFO, a device or a huge file in their place is a state, not a hang.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from openusage.providers.base import Account
from openusage.providers.kimi_code_plan.provider import DEFAULT_SLOT, code_home
from openusage.remote import Reading, RemoteState, public_url

DEFAULT_BASE_URL = "https://api.kimi.com/coding/v1"
BASE_VARIABLE = "KIMI_CODE_BASE_URL"
MANAGED = "managed:kimi-code"
MAX_CREDENTIALS = 64 * 1024  # a token file is under 4 KiB
MAX_CONFIG = 1 << 20
_SLOT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
SIGNED_OUT = "signed out: run Kimi Code and /login"
EXPIRED = "sign-in expired: open Kimi Code to refresh it"


class Unusable(Exception):
    """A file that is there but cannot be used; the text says why, never what it holds."""


class SignIn(NamedTuple):
    base_url: str
    token: str  # "" when `problem` says why there is none


class Problem(NamedTuple):
    state: RemoteState
    message: str
    base_url: str

    def reading(self) -> Reading:
        """The tile's reading of it: what is wrong, for the base URL it would have asked."""
        return Reading(self.state, self.message, source=public_url(self.base_url))


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes; None when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unusable(f"cannot be opened ({exc.strerror or type(exc).__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unusable("is not a regular file")
        if info.st_size > limit:
            raise Unusable(f"is larger than {limit:,} bytes")
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise Unusable(f"is larger than {limit:,} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise Unusable(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)


def locate(account: Account | None, env: Mapping[str, str]) -> tuple[Path, str]:
    """The sign-in file (the slot config.toml names, else `kimi-code`) and the base URL of `/usages`
    (`KIMI_CODE_BASE_URL`, else config.toml's, else the default)."""
    home = code_home(account, env)
    slot, configured_base = _config(home / "config.toml")
    base = (env.get(BASE_VARIABLE, "").strip() or configured_base or DEFAULT_BASE_URL).rstrip("/")
    return home / "credentials" / f"{slot}.json", base


def sign_in(account: Account, env: Mapping[str, str], now: datetime) -> SignIn | Problem:
    """The base URL and a token that is neither empty nor expired, or why there is none."""
    path, base = locate(account, env)
    try:
        raw = read_bounded(path, MAX_CREDENTIALS)
    except Unusable as exc:
        return Problem("bad_credentials", f"the sign-in file {path} {exc}", base)
    if raw is None:
        return Problem("signed_out", f"{SIGNED_OUT} (no {path})", base)
    doc = _json(raw)
    if doc is None:
        return Problem("bad_credentials", f"the sign-in file {path} is not a JSON object", base)
    token = doc.get("access_token")
    if not isinstance(token, str) or not token.strip():
        return Problem("signed_out", SIGNED_OUT, base)  # an empty token is Kimi Code's "logged out"
    expires = doc.get("expires_at")
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires <= now.timestamp():
        return Problem("expired", EXPIRED, base)
    return SignIn(base, token.strip())


def _config(path: Path) -> tuple[str, str]:
    """The credentials slot and base URL config.toml names for the managed provider; the defaults when
    it names none or cannot be read (Kimi Code's file is empty until a login)."""
    try:
        raw = read_bounded(path, MAX_CONFIG)
    except Unusable:
        raw = None
    if not raw:
        return DEFAULT_SLOT, ""
    import tomllib

    try:
        doc: Any = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return DEFAULT_SLOT, ""
    providers = doc.get("providers")
    managed = providers.get(MANAGED) if isinstance(providers, dict) else None
    if not isinstance(managed, dict):
        return DEFAULT_SLOT, ""
    oauth = managed.get("oauth")
    key = oauth.get("key") if isinstance(oauth, dict) else None
    slot = key.removeprefix("oauth/") if isinstance(key, str) else ""
    base = managed.get("base_url")
    return (slot if _SLOT.fullmatch(slot) else DEFAULT_SLOT), (base.strip() if isinstance(base, str) else "")


def _json(raw: bytes) -> dict[str, Any] | None:
    import json

    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None
