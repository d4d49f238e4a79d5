"""The Moonshot balance provider against a real HTTP server on 127.0.0.1: every case of
moonshot-api.md's test list, the partial answers and the balance states."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from openusage.providers.base import Account
from openusage.providers.moonshot.provider import MoonshotProvider
from openusage.remote import Reading
from remote_server import Server, json_route, serving

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = "sk-PLANTED-moonshot-key-0123456789"
BALANCE = "/v1/users/me/balance"
ME = "/v1/users/me"
DOCUMENTED = {"code": 0, "data": {"available_balance": 49.58894, "voucher_balance": 46.58893,
                                  "cash_balance": 3.00001}, "scode": "0x0", "status": True}
USER_INFO = {"code": 0, "data": {"access_key": {"id": "ak-evd3tq7j9r1f"},
                                 "organization": {"id": "org-1", "max_concurrency": 50,
                                                  "max_request_per_minute": 200,
                                                  "max_token_per_minute": 2000000, "max_token_quota": 75000000},
                                 "project": {"id": "proj-1"}, "user": {"id": "u1", "user_state": "active"},
                                 "user_group_id": "enterprise-tier-1"}, "scode": "0x0", "status": True}
NOT_FOUND_ENVELOPE = {"code": 5, "error": "url.not_found", "message": "没找到对象", "method": "GET",
                      "scode": "0x5", "status": False, "url": "/v1/users/me"}
INVALID = {"error": {"type": "invalid_authentication_error", "message": "Invalid Authentication"}}


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


def fetch(server: Server, *, key: str = KEY, seconds: float = 5.0, **extra: str) -> Reading:
    account = Account("moonshot", "moonshot", {"base_url": server.base_url, **extra})
    return MoonshotProvider().fetch(account, {"MOONSHOT_API_KEY": key}, now=NOW,
                                    deadline=time.monotonic() + seconds)


def amounts(reading: Reading) -> dict[str, tuple[float, str]]:
    return {a.key: (a.value, a.unit) for a in reading.amounts}


def test_documented_balance_with_user_info(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert reading.state == "ok"
    assert reading.message == "49.59 USD available"
    assert amounts(reading) == {"available": (49.58894, "USD"), "cash": (3.00001, "USD"),
                                "vouchers": (46.58893, "USD")}
    caps = {c.key: c.value for c in reading.caps}
    assert caps == {"tier": "enterprise-tier-1", "concurrency": "50", "rpm": "200", "tpm": "2,000,000",
                    "access_key": "…9r1f"}
    assert "75000000" not in repr(reading)
    assert "75,000,000" not in repr(reading)
    assert reading.fetched_at == NOW
    assert reading.notes == ()


def test_requests_carry_the_key_as_bearer_and_ask_for_json(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, body=USER_INFO)
    fetch(server)
    assert [seen.path for seen in server.seen] == [BALANCE, ME]
    for seen in server.seen:
        assert seen.headers["authorization"] == f"Bearer {KEY}"
        assert seen.headers["accept"] == "application/json"


def test_tier_may_sit_under_user(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, body={"code": 0, "status": True, "data": {"user": {"user_group_id": "tier-2"}}})
    assert {c.key: c.value for c in fetch(server).caps} == {"tier": "tier-2"}


def test_negative_cash_is_a_debt(server: Server) -> None:
    server.answer(BALANCE, body={"code": 0, "status": True, "scode": "0x0",
                                 "data": {"available_balance": 5.0, "voucher_balance": 5.0, "cash_balance": -12.3}})
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert amounts(reading)["debt"] == (12.3, "USD")
    assert amounts(reading)["cash"] == (-12.3, "USD")
    assert reading.state == "ok"


@pytest.mark.parametrize(("available", "state", "message"), [
    (0.0, "exhausted", "balance exhausted (0.00 USD): the API refuses requests"),
    (-1.0, "exhausted", "balance exhausted (-1.00 USD): the API refuses requests"),
    (0.5, "low", "low balance: 0.50 USD available"),
    (1.0, "ok", "1.00 USD available"),
])
def test_balance_states(server: Server, available: float, state: str, message: str) -> None:
    server.answer(BALANCE, body={"code": 0, "status": True,
                                 "data": {"available_balance": available, "voucher_balance": 0, "cash_balance": 0}})
    reading = fetch(server)
    assert (reading.state, reading.message) == (state, message)


def test_low_balance_threshold_from_settings(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    assert fetch(server, low_balance="100").state == "low"
    assert fetch(server, low_balance="lots").state == "bad_settings"


def test_code_not_zero_with_http_200_is_an_error(server: Server) -> None:
    server.answer(BALANCE, body={"code": 3, "status": False, "scode": "0x3", "message": "account frozen"})
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert reading.state == "api_error"
    assert reading.message == "the API says it failed (code 3: account frozen)"
    assert reading.amounts == ()


def test_401_is_invalid_key_and_stops_there(server: Server) -> None:
    server.answer(BALANCE, 401, INVALID)
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert reading.state == "invalid_key"
    assert reading.message == "invalid API key: check MOONSHOT_API_KEY (HTTP 401: Invalid Authentication)"
    assert server.hits(BALANCE) == 1
    assert server.hits(ME) == 0  # not hammered: the same key would fail again


def test_403_on_user_info_is_the_key_too(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, 403, {"error": {"type": "permission_denied_error", "message": "restricted"}})
    assert fetch(server).state == "invalid_key"


def test_429_with_retry_after_is_retried_once(server: Server) -> None:
    server.answer(BALANCE, 429, {"error": {"type": "rate_limit_reached_error", "message": "slow down"}},
                  headers={"Retry-After": "0"}, then=json_route(200, DOCUMENTED))
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert reading.state == "ok"
    assert server.hits(BALANCE) == 2


def test_429_retried_once_then_a_status(server: Server) -> None:
    server.answer(BALANCE, 429, {"error": {"type": "engine_overloaded_error", "message": "busy"}},
                  headers={"Retry-After": "0"})
    reading = fetch(server)
    assert reading.state == "rate_limited"
    assert reading.message == "rate limited (HTTP 429: busy); retry after 0 s"
    assert server.hits(BALANCE) == 2


def test_429_with_a_long_retry_after_is_not_waited_for(server: Server) -> None:
    server.answer(BALANCE, 429, {"error": {"type": "rate_limit_reached_error", "message": "wait"}},
                  headers={"Retry-After": "120"})
    reading = fetch(server)
    assert reading.message == "rate limited (HTTP 429: wait); retry after 120 s"
    assert server.hits(BALANCE) == 1


def test_429_without_retry_after_backs_off_then_retries(server: Server) -> None:
    server.answer(BALANCE, 429, {"error": {"type": "exceeded_current_quota_error", "message": "no quota"}})
    reading = fetch(server)
    assert reading.state == "rate_limited"
    assert reading.message == "rate limited (HTTP 429: no quota)"
    assert server.hits(BALANCE) == 2


def test_500_is_retried_once_then_a_status(server: Server) -> None:
    server.answer(BALANCE, 500, {"error": {"type": "server_error", "message": "oops"}})
    reading = fetch(server)
    assert reading.state == "server_error"
    assert reading.message == "server error (HTTP 500: oops)"
    assert server.hits(BALANCE) == 2


def test_500_then_ok(server: Server) -> None:
    server.answer(BALANCE, 502, raw=b"bad gateway", then=json_route(200, DOCUMENTED))
    assert fetch(server).state == "ok"


def test_html_body_from_a_proxy(server: Server) -> None:
    server.answer(BALANCE, 200, raw=b"<html><body>Sign in to the Wi-Fi</body></html>",
                  headers={"Content-Type": "text/html; charset=utf-8"})
    reading = fetch(server)
    assert reading.state == "bad_response"
    assert reading.message == "not a JSON answer (HTTP 200, not JSON (text/html)): a proxy in the way?"


def test_wrong_shape(server: Server) -> None:
    server.answer(BALANCE, body={"code": 0, "status": True, "data": {"available_balance": "49"}})
    reading = fetch(server)
    assert reading.state == "bad_response"
    assert reading.message == "unexpected answer: data.available_balance is not a number"


def test_slow_answer_is_a_timeout(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED, delay=3.0)
    reading = fetch(server, seconds=0.6)
    assert reading.state == "timeout"
    assert reading.message.startswith("no answer from 127.0.0.1 (no answer within ")


def test_user_info_404_in_the_internal_envelope_still_shows_the_balance(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, 404, NOT_FOUND_ENVELOPE)
    reading = fetch(server)
    assert reading.state == "ok"
    assert amounts(reading)["available"] == (49.58894, "USD")
    assert reading.caps == ()
    assert reading.notes == ("limits unavailable (not found (HTTP 404: 没找到对象): check base_url)",)


def test_balance_failed_but_user_info_answered_shows_the_limits(server: Server) -> None:
    server.answer(BALANCE, 503, {"error": {"type": "server_error", "message": "down"}})
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert reading.state == "server_error"
    assert {c.key for c in reading.caps} == {"tier", "concurrency", "rpm", "tpm", "access_key"}
    assert reading.fetched_at == NOW


def test_unreachable_host() -> None:
    with serving() as server:
        base = server.base_url
    account = Account("moonshot", "moonshot", {"base_url": base})
    reading = MoonshotProvider().fetch(account, {"MOONSHOT_API_KEY": KEY}, now=NOW, deadline=time.monotonic() + 2)
    assert reading.state == "unreachable"
    assert reading.message == "cannot reach 127.0.0.1: connection refused"


def test_no_key() -> None:
    account = Account("moonshot", "moonshot", {"api_key_env": "MY_MOONSHOT"})
    reading = MoonshotProvider().fetch(account, {"MY_MOONSHOT": "  "}, now=NOW, deadline=time.monotonic() + 1)
    assert (reading.state, reading.message) == ("no_key", "no API key: set MY_MOONSHOT")


def test_key_from_the_variable_the_settings_name(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    account = Account("moonshot", "moonshot", {"base_url": server.base_url, "api_key_env": "WORK_KEY"})
    reading = MoonshotProvider().fetch(account, {"WORK_KEY": KEY, "MOONSHOT_API_KEY": "other"}, now=NOW,
                                       deadline=time.monotonic() + 5)
    assert reading.state == "ok"
    assert server.seen[0].headers["authorization"] == f"Bearer {KEY}"


def test_cn_base_url_is_cny(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request goes to http://api.moonshot.cn through a proxy that is the test server, so the
    currency rule sees the China host while the answer comes from 127.0.0.1."""
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, body=USER_INFO)
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    account = Account("moonshot", "moonshot", {"base_url": "http://api.moonshot.cn/"})
    reading = MoonshotProvider().fetch(account, {"MOONSHOT_API_KEY": KEY}, now=NOW, deadline=time.monotonic() + 5)
    assert server.seen[0].path == "http://api.moonshot.cn/v1/users/me/balance"
    assert amounts(reading)["available"] == (49.58894, "CNY")
    assert reading.message == "49.59 CNY available"


def test_redirect_is_not_followed(server: Server) -> None:
    server.answer(BALANCE, 302, raw=b"", headers={"Location": "http://127.0.0.2/steal"})
    reading = fetch(server)
    assert reading.state == "bad_response"
    assert reading.message == "redirected (HTTP 302): check base_url"
    assert server.hits(BALANCE) == 1


def test_server_message_echoing_the_key_is_redacted(server: Server) -> None:
    server.answer(BALANCE, 401, {"error": {"type": "incorrect_api_key_error",
                                           "message": f"Incorrect API key provided: {KEY}"}})
    reading = fetch(server)
    assert KEY not in repr(reading)
    assert reading.message.endswith("Incorrect API key provided: [redacted])")


def test_detect_reads_the_variable_without_showing_it() -> None:
    found = MoonshotProvider().detect({"MOONSHOT_API_KEY": KEY}, detailed=True)
    assert found.account is not None
    assert found.account.id == "moonshot"
    assert KEY not in repr(found)
    assert MoonshotProvider().detect({"MOONSHOT_API_KEY": ""}).account is None
    assert MoonshotProvider().detect({}).account is None


def test_detect_says_whether_a_configured_accounts_own_variable_is_set() -> None:
    """An account of the settings that reads its key from another variable: `detect` says whether that
    one is set (the accounts table lists the account), never its value."""
    configured = [Account("work", "moonshot", {"api_key_env": "WORK_KEY"}, origin="configured"),
                  Account("home", "moonshot", {"api_key_env": "HOME_KEY"}, origin="configured"),
                  Account("cn", "moonshot", {"base_url": "https://api.moonshot.cn/v1"}, origin="configured")]
    found = MoonshotProvider().detect({"WORK_KEY": KEY}, detailed=True, configured=configured)
    assert [(fact.what, fact.value, fact.found) for fact in found.facts] == [
        ("API key", "MOONSHOT_API_KEY (not set)", False),
        ("API key of work", "WORK_KEY (set)", True),
        ("API key of home", "HOME_KEY (not set)", False)]
    assert found.account is None
    assert KEY not in repr(found)


@pytest.mark.parametrize("key", ["sk-PLANTED\nsecond-line", "sk-PLANTED with space", "sk-PLANTED-é"])
def test_a_key_a_header_cannot_carry_is_never_sent(server: Server, key: str) -> None:
    reading = fetch(server, key=key)
    assert reading.state == "invalid_key"
    assert reading.message == ("the API key in MOONSHOT_API_KEY cannot be used: it holds characters an HTTP header"
                               " cannot carry")
    assert server.seen == []
    assert "PLANTED" not in repr(reading)


def test_a_password_in_the_base_url_is_a_settings_error_neither_sent_nor_shown(server: Server) -> None:
    """httpx sends a URL's user name and password as Basic auth in place of the Bearer key ("Bearer
    auth"): the key would not go, they would. Refused before any request; the password is not shown."""
    server.answer(BALANCE, body=DOCUMENTED)
    account = Account("moonshot", "moonshot", {"base_url": server.base_url.replace("//", "//me:PLANTEDpw@")})
    reading = MoonshotProvider().fetch(account, {"MOONSHOT_API_KEY": KEY}, now=NOW, deadline=time.monotonic() + 5)
    assert reading.state == "bad_settings"
    assert "must not hold a user name or password" in reading.message
    assert reading.source == server.base_url
    assert "PLANTEDpw" not in repr(reading)
    assert server.hits(BALANCE) == 0


def test_a_code_of_false_is_not_code_0(server: Server) -> None:
    """"Successful only when HTTP 200, `code == 0` and `status == true`": JSON's `false` is not the number 0
    (Python's `False == 0` is)."""
    server.answer(BALANCE, body={**DOCUMENTED, "code": False})
    reading = fetch(server)
    assert (reading.state, reading.message) == ("api_error", "the API says it failed (code false)")
    assert reading.amounts == ()


@pytest.mark.parametrize("echo", [KEY[3:], KEY[-10:], KEY.upper(), "Bearer%20" + KEY[3:].lower(), KEY[5:12]])
def test_a_piece_of_the_key_echoed_in_any_case_is_redacted(server: Server, echo: str) -> None:
    """"The key is never printed": nor its last characters, nor the key without its prefix or upper-cased,
    which a server may echo in its error; any run of six of its characters, in any case, is a piece."""
    server.answer(BALANCE, 401, {"error": {"type": "invalid_authentication_error", "message": f"bad key={echo}!"}})
    reading = fetch(server)
    assert reading.state == "invalid_key"
    said = reading.message.split("(HTTP 401: ", 1)[1]
    assert said.endswith("[redacted]!)")
    assert not any(KEY[i : i + 6].casefold() in said.casefold() for i in range(len(KEY) - 5))


def test_redaction_leaves_text_that_shares_no_six_characters_with_the_key(server: Server) -> None:
    server.answer(BALANCE, 401, {"error": {"type": "invalid_authentication_error",
                                           "message": "Incorrect API key provided: sk-..."}})
    assert fetch(server).message == ("invalid API key: check MOONSHOT_API_KEY "
                                     "(HTTP 401: Incorrect API key provided: sk-...)")


def test_an_integer_no_float_holds_is_not_a_number(server: Server) -> None:
    """A 400-digit count in the optional user info leaves the balances shown (the caps are left out,
    said in a note); one in the balance is a wrong shape. Before, both ended the reading with an
    internal error (float() overflowed)."""
    huge = int("1" + "0" * 400)
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, body={**USER_INFO, "data": {**USER_INFO["data"],
                                                   "organization": {"max_concurrency": huge}}})
    reading = fetch(server)
    assert reading.state == "ok"
    assert amounts(reading)["available"] == (49.58894, "USD")
    server.answer(BALANCE, body={"code": 0, "status": True,
                                 "data": {**DOCUMENTED["data"], "available_balance": huge}})
    assert fetch(server).state == "bad_response"


def test_a_json_body_that_is_not_an_object_is_a_wrong_shape(server: Server) -> None:
    server.answer(BALANCE, body=[1, 2, 3])
    server.answer(ME, body=USER_INFO)
    reading = fetch(server)
    assert reading.state == "bad_response"
    assert "not a JSON object" in reading.message


def test_a_base_url_that_is_not_a_url_is_a_settings_error() -> None:
    account = Account("moonshot", "moonshot", {"base_url": "http://[::1"})
    reading = MoonshotProvider().fetch(account, {"MOONSHOT_API_KEY": KEY}, now=NOW, deadline=time.monotonic() + 5)
    assert reading.state == "bad_settings"
    assert "not a URL" in reading.message


def test_a_key_echoed_with_an_invisible_character_inside_is_still_redacted(server: Server) -> None:
    split = KEY[:10] + "\u200b" + KEY[10:]
    server.answer(BALANCE, 401, {"error": {"message": f"bad key {split}"}})
    reading = fetch(server)
    assert KEY[10:] not in repr(reading)
    assert reading.message.endswith("bad key [redacted])")


def test_a_key_echoed_in_a_good_answer_is_redacted(server: Server) -> None:
    server.answer(BALANCE, body=DOCUMENTED)
    server.answer(ME, body={**USER_INFO, "data": {**USER_INFO["data"], "user_group_id": f"tier {KEY}"}})
    reading = fetch(server)
    assert KEY not in repr(reading)
    assert {c.key: c.value for c in reading.caps}["tier"] == "tier [redacted]"
