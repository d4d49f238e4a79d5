"""The one HTTP client of the remote providers: GET a JSON document with a bearer token.

Short timeouts within the caller's deadline, at most one retry (on what the caller allows), a
bounded body, no redirects followed (the token goes to the configured host and nowhere else), and
every failure an `Answer`, never an exception. No text built here holds the token: error details
pass through `redact`. Imported only when a remote account is fetched: httpx costs ~0.15 s to import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from openusage.remote import scrub

CONNECT_TIMEOUT = 5.0  # both specifications: connect within 5 s
MAX_BODY = 1 << 20  # an account answer is a few hundred bytes; a proxy's page is cut here
MAX_RETRY_WAIT = 3.0  # a Retry-After longer than this is not waited for: the status says when instead
DEFAULT_BACKOFF = 1.0  # no Retry-After: back off 1 s (Moonshot's help: exponential from 1 s)
FIRST_SHARE = 0.6  # a first attempt that may be retried gets this share of the time left


class Answer(NamedTuple):
    """What one GET came to. `failure`: None (a response whose body was JSON), "timeout",
    "unreachable", "not_json", "bad_url" or "bad_secret" (the token cannot be sent at all); `detail`
    says more, never holding the token."""

    status: int  # the HTTP status; 0 without a response
    body: Any  # the decoded JSON, or None
    failure: str | None
    detail: str
    retry_after: float | None = None  # seconds, from a Retry-After header
    content_type: str = ""


class Retry(NamedTuple):
    """What one retry is allowed for."""

    timeout: bool = True
    server_error: bool = True  # 5xx
    rate_limited: bool = False  # 429


def get_json(url: str, token: str, *, deadline: float, retry: Retry | None = None,
             user_agent: str | None = None) -> Answer:
    """GET `url` with `Authorization: Bearer <token>` and `Accept: application/json`, within
    `deadline` (a `time.monotonic()` value), retried once when `retry` allows it and time is left."""
    if not sendable(token):
        # Never handed to the HTTP library: its error would quote the header, secret and all.
        return Answer(0, None, "bad_secret", "it holds characters an HTTP header cannot carry")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if user_agent:
        headers["User-Agent"] = user_agent
    allowed = retry or Retry(timeout=False, server_error=False)
    answer = _attempt(url, headers, token, _budget(deadline, FIRST_SHARE if _may_retry(allowed) else 1.0))
    if not _retryable(answer, allowed):
        return answer
    wait = DEFAULT_BACKOFF if answer.retry_after is None else answer.retry_after
    if answer.status == 0:
        wait = 0.0  # a timeout: try again at once, with what time is left
    if wait > MAX_RETRY_WAIT or time.monotonic() + wait + 0.2 >= deadline:
        return answer
    time.sleep(wait)
    return _attempt(url, headers, token, _budget(deadline, 1.0))


def sendable(token: str) -> bool:
    """Whether a secret can go in a header as it is: printable ASCII without spaces."""
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


def _may_retry(retry: Retry) -> bool:
    return retry.timeout or retry.server_error or retry.rate_limited


def _retryable(answer: Answer, retry: Retry) -> bool:
    if answer.status == 0:  # of the failures without a response, only a timeout is retried
        return answer.failure == "timeout" and retry.timeout
    if 500 <= answer.status <= 599:
        return retry.server_error
    return answer.status == 429 and retry.rate_limited


def _budget(deadline: float, share: float) -> float:
    return max(0.05, (deadline - time.monotonic()) * share)


def _attempt(url: str, headers: Mapping[str, str], token: str, seconds: float) -> Answer:
    if _has_user_info(url):  # httpx would send them as Basic auth in place of the Bearer token
        return Answer(0, None, "bad_url", "the base URL must not hold a user name or password")
    timeout = httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            # No client-wide headers: a caller's are all that go (the plan's "only `Authorization` and
            # `Accept`"; httpx would add User-Agent, Accept-Encoding and Connection), beside Host.
            client.headers.clear()
            with client.stream("GET", url, headers=headers) as response:
                body = _read_bounded(response)
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                retry_after = _retry_after(response.headers.get("retry-after"))
                status = response.status_code
    except httpx.TimeoutException:
        return Answer(0, None, "timeout", f"no answer within {seconds:.1f} s")
    except httpx.UnsupportedProtocol:
        return Answer(0, None, "bad_url", "the base URL must start with https:// or http://")
    except httpx.LocalProtocolError as exc:  # its text may quote what was sent: only its name
        return Answer(0, None, "unreachable", type(exc).__name__)
    except httpx.TransportError as exc:
        return Answer(0, None, "unreachable", _transport_detail(exc, token))
    except (httpx.InvalidURL, ValueError) as exc:  # a base URL that is no URL; a header that cannot be sent
        return Answer(0, None, "bad_url", redact(f"{type(exc).__name__}: {exc}", token))
    if body is None:
        return Answer(status, None, "not_json", f"a body larger than {MAX_BODY} bytes", retry_after, content_type)
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return Answer(status, None, "not_json", f"not JSON ({content_type or 'no content type'})", retry_after,
                      content_type)
    return Answer(status, doc, None, "", retry_after, content_type)


def _read_bounded(response: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _transport_detail(exc: httpx.TransportError, token: str) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return redact(text or type(exc).__name__, token)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


def _has_user_info(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False  # no URL at all: httpx says so
    return "@" in parts.netloc


def redact(text: str, *secrets: str, limit: int = 160) -> str:
    """`text` fit for a status line: every secret replaced (`scrub`), control characters dropped, cut
    at `limit`. Characters that show nothing (a zero-width space, a direction mark) go before the
    secrets are looked for, so that one put inside a secret does not hide it from the replacement."""
    text = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    for secret in secrets:
        text = scrub(text, secret)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_text(body: Any) -> str | None:
    """The message an error body carries, in the envelopes the services use: `{"error": {"message"}}`
    (OpenAI-compatible), `{"message"}`, `{"error": "..."}` (Moonshot's gateway),
    `{"error_description"}`, `{"detail"}`, `{"errors": [...]}`."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for key in ("error_description", "message", "detail"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    if isinstance(error, str) and error:
        return error
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, str):
            return first
        if isinstance(first, dict) and isinstance(first.get("message"), str):
            return str(first["message"])
    return None


def error_type(body: Any) -> str | None:
    """`error.type` of the OpenAI-compatible envelope, when there is one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = body["error"].get("type")
        return kind if isinstance(kind, str) else None
    return None
