"""The Kimi Code plan quota provider against a real HTTP server on 127.0.0.1 (KIMI_CODE_BASE_URL
pointed at it): every case of kimi-code-plan.md's test list, its labels and rounding, and the
sign-in file read only, bounded and without blocking."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openusage.providers.base import Account
from openusage.providers.kimi_code_plan.provider import KimiCodePlanProvider
from openusage.remote import Quota, Reading
from remote_server import Server, json_route, serving

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "eyPLANTED-kimi-code-access-token-987654321"
ACCOUNT = Account("kimi_code_plan", "kimi_code_plan", origin="configured")
EXAMPLE: dict[str, Any] = {
    "usage": {"used": "40", "limit": "1000", "resetTime": "2026-11-23T05:20:51Z", "name": "ignored"},
    "limits": [{"window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                "detail": {"used": "1", "limit": "100", "resetTime": "2026-11-20T14:10:00Z"}}],
    "boosterWallet": {"id": "wallet_1",
                      "balance": {"type": "BOOSTER", "amount": "20000000000", "amountLeft": "10000000000",
                                  "unit": "UNIT_CURRENCY"},
                      "monthlyChargeLimitEnabled": True,
                      "monthlyChargeLimit": {"currency": "USD", "priceInCents": "20000"},
                      "monthlyUsed": {"currency": "USD", "priceInCents": "5000"}},
    "user": {"membership": {"level": "LEVEL_INTERMEDIATE"}},
}


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


@pytest.fixture
def code_home(tmp_path: Path) -> Path:
    home = tmp_path / "kimi-code"
    (home / "credentials").mkdir(parents=True)
    return home


def sign_in(home: Path, token: str = TOKEN, expires_at: float | None = None, slot: str = "kimi-code") -> Path:
    path = home / "credentials" / f"{slot}.json"
    doc: dict[str, Any] = {"access_token": token, "refresh_token": "rt-never-used", "token_type": "Bearer",
                           "expires_in": 900, "scope": "kimi-code"}
    doc["expires_at"] = expires_at if expires_at is not None else (NOW + timedelta(minutes=15)).timestamp()
    path.write_text(json.dumps(doc), encoding="utf-8")
    path.chmod(0o600)
    return path


def fetch(server: Server | None, home: Path, *, seconds: float = 5.0, env: dict[str, str] | None = None) -> Reading:
    environment = {"KIMI_CODE_HOME": str(home), "HOME": str(home.parent), **(env or {})}
    if server is not None:
        environment.setdefault("KIMI_CODE_BASE_URL", server.base_url + "/coding/v1/")
    return KimiCodePlanProvider().fetch(ACCOUNT, environment, now=NOW, deadline=time.monotonic() + seconds)


def quotas(reading: Reading) -> list[tuple[str, float, float, int]]:
    return [(q.label, q.used, q.limit, q.percent) for q in reading.quotas]


def test_example_body(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body=EXAMPLE)
    reading = fetch(server, code_home)
    assert reading.state == "ok"
    assert reading.message == "Weekly limit 4% used, 5h limit 1% used"
    assert quotas(reading) == [("Weekly limit", 40, 1000, 4), ("5h limit", 1, 100, 1),
                               ("Monthly limit", 50.0, 200.0, 25)]
    weekly = reading.quotas[0]
    assert weekly.resets_at == datetime(2026, 11, 23, 5, 20, 51, tzinfo=UTC)
    assert {a.key: (a.value, a.unit, a.section) for a in reading.amounts} == {
        "used_this_month": (50.0, "USD", "Extra Usage"), "balance": (100.0, "USD", "Extra Usage")}
    assert reading.quotas[2].unit == "USD"
    assert [q.section for q in reading.quotas] == ["Plan usage", "Plan usage", "Extra Usage"]


def test_only_authorization_and_accept_are_sent(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body=EXAMPLE)
    fetch(server, code_home)
    [seen] = server.seen
    assert seen.path == "/coding/v1/usages"
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["accept"] == "application/json"
    assert set(seen.headers) == {"host", "authorization", "accept"}  # not httpx's Accept-Encoding, Connection


def test_body_without_limits(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body={"usage": EXAMPLE["usage"]})
    reading = fetch(server, code_home)
    assert quotas(reading) == [("Weekly limit", 40, 1000, 4)]
    assert reading.amounts == ()
    assert reading.caps == ()


def test_body_without_booster_wallet(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body={"usage": EXAMPLE["usage"], "limits": EXAMPLE["limits"]})
    reading = fetch(server, code_home)
    assert [q.label for q in reading.quotas] == ["Weekly limit", "5h limit"]
    assert reading.amounts == ()


def test_wallet_of_another_type_is_skipped(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    wallet = json.loads(json.dumps(EXAMPLE["boosterWallet"]))
    wallet["balance"]["type"] = "GIFT"
    server.answer("/coding/v1/usages", body={**EXAMPLE, "boosterWallet": wallet})
    reading = fetch(server, code_home)
    assert [q.label for q in reading.quotas] == ["Weekly limit", "5h limit"]
    assert reading.amounts == ()


def test_wallet_with_no_monthly_limit_is_unlimited(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    wallet = json.loads(json.dumps(EXAMPLE["boosterWallet"]))
    wallet["monthlyChargeLimit"]["priceInCents"] = "0"
    del wallet["balance"]["amountLeft"]  # missing amountLeft is 0
    server.answer("/coding/v1/usages", body={**EXAMPLE, "boosterWallet": wallet})
    reading = fetch(server, code_home)
    assert [(c.label, c.value, c.section) for c in reading.caps] == [("Monthly limit", "Unlimited", "Extra Usage")]
    assert {a.key: a.value for a in reading.amounts}["balance"] == 0.0


def test_numbers_as_numbers(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    body = {"usage": {"used": 13, "limit": 200, "resetTime": "2026-11-23T05:20:51Z"},
            "limits": [{"window": {"duration": 1, "timeUnit": "TIME_UNIT_DAY"},
                        "detail": {"remaining": 30, "limit": 40}}]}
    server.answer("/coding/v1/usages", body=body)
    reading = fetch(server, code_home)
    # 13 of 200 is 6.5 %: JavaScript's Math.round gives 7 where Python's round gives 6.
    assert quotas(reading) == [("Weekly limit", 13, 200, 7), ("1d limit", 10, 40, 25)]


def test_nine_digit_fraction_in_reset_time(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    body = {"usage": {"used": "1", "limit": "10", "resetTime": "2026-11-20T14:10:30.123456789Z"}}
    server.answer("/coding/v1/usages", body=body)
    [weekly] = fetch(server, code_home).quotas
    assert weekly.resets_at == datetime(2026, 11, 20, 14, 10, 30, 123456, tzinfo=UTC)


def test_unreadable_reset_time_is_kept_as_text(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body={"usage": {"used": "1", "limit": "10", "resetTime": "soon"}})
    [weekly] = fetch(server, code_home).quotas
    assert (weekly.resets_at, weekly.reset_text) == (None, "resets at soon")


@pytest.mark.parametrize(("window", "name", "label"), [
    ({"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"}, None, "5h limit"),
    ({"duration": 90, "timeUnit": "TIME_UNIT_MINUTE"}, None, "90m limit"),
    ({"duration": 1, "timeUnit": "TIME_UNIT_WEEK"}, None, "Weekly limit"),
    ({"duration": 2, "timeUnit": "TIME_UNIT_HOUR"}, "ignored", "2h limit"),
    (None, "Burst", "Burst"),
    (None, None, "Limit"),
])
def test_limit_labels(server: Server, code_home: Path, window: dict[str, Any] | None, name: str | None,
                      label: str) -> None:
    sign_in(code_home)
    item: dict[str, Any] = {"detail": {"used": "1", "limit": "2"}}
    if window is not None:
        item["window"] = window
    if name is not None:
        item["name"] = name
    server.answer("/coding/v1/usages", body={"limits": [item]})
    assert [q.label for q in fetch(server, code_home).quotas] == [label]


def test_limit_zero_is_zero_percent() -> None:
    assert Quota("k", "L", 5, 0, "").percent == 0
    assert Quota("k", "L", 500, 100, "").percent == 100  # clamped


def test_401_is_sign_in_expired(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", 401, {"error": "unauthorized"})
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("expired", "sign-in expired: open Kimi Code to refresh it")
    assert server.hits("/usages") == 1  # no retry on a 4xx


def test_404(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", 404, {"message": "nope"})
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("not_found", "nope")  # "message from body", as Kimi Code
    assert server.hits("/usages") == 1
    server.answer("/coding/v1/usages", 404, raw=b"")
    reading = fetch(server, code_home)  # "else": the fixed text
    assert (reading.state, reading.message) == ("not_found", "Usage endpoint not available. Try Kimi For Coding.")


def test_500_is_retried_once(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", 500, {"error_description": "internal"})
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("server_error", "internal")
    assert server.hits("/usages") == 2
    server.answer("/coding/v1/usages", 500, raw=b"")
    assert fetch(server, code_home).message == "Failed to fetch usage: HTTP 500"


def test_500_then_ok(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", 503, raw=b"", then=json_route(200, EXAMPLE))
    assert fetch(server, code_home).state == "ok"


def test_429_is_not_retried(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", 429, {"detail": "too many"}, headers={"Retry-After": "0"})
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("rate_limited", "too many")
    assert server.hits("/usages") == 1


def test_html_body(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", 200, raw=b"<!doctype html><title>proxy</title>",
                  headers={"Content-Type": "text/html"})
    reading = fetch(server, code_home)
    assert reading.state == "bad_response"
    assert reading.message == "Failed to fetch usage: not a JSON answer (HTTP 200, not JSON (text/html))"


def test_wrong_shape(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body={"usages": {"limit_month_total": 0.5}})
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("bad_response", "unexpected answer: no usage, limits or wallet")
    server.answer("/coding/v1/usages", body=[1, 2])
    assert fetch(server, code_home).message == "unexpected answer: not a JSON object"


def test_slow_answer(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body=EXAMPLE, delay=3.0)
    reading = fetch(server, code_home, seconds=0.6)
    assert (reading.state, reading.message) == ("timeout", "Failed to fetch usage: request timed out.")


def test_expired_token_makes_no_call(server: Server, code_home: Path) -> None:
    path = sign_in(code_home, expires_at=NOW.timestamp() - 1)
    before = path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns
    server.answer("/coding/v1/usages", body=EXAMPLE)
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("expired", "sign-in expired: open Kimi Code to refresh it")
    assert server.seen == []
    assert (path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns) == before  # never refreshed
    assert sorted(os.listdir(code_home)) == ["credentials"]  # no lock file, nothing written


def test_integer_expiry_is_read_too(server: Server, code_home: Path) -> None:
    sign_in(code_home, expires_at=int(NOW.timestamp()))
    assert fetch(server, code_home).state == "expired"


def test_empty_token_is_signed_out(server: Server, code_home: Path) -> None:
    sign_in(code_home, token="")
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == ("signed_out", "signed out: run Kimi Code and /login")
    assert server.seen == []


def test_no_credentials_file(server: Server, code_home: Path) -> None:
    reading = fetch(server, code_home)
    assert reading.state == "signed_out"
    assert reading.message.startswith("signed out: run Kimi Code and /login (no ")


def test_credentials_fifo_does_not_hang(server: Server, code_home: Path) -> None:
    os.mkfifo(code_home / "credentials" / "kimi-code.json")
    done: list[Reading] = []
    # On a thread, so that a read that blocks fails this test instead of hanging the suite.
    worker = threading.Thread(target=lambda: done.append(fetch(server, code_home)), daemon=True)
    worker.start()
    worker.join(30)
    assert done, "reading a FIFO blocked"
    [reading] = done
    assert reading.state == "bad_credentials"
    assert reading.message.endswith("kimi-code.json is not a regular file")
    assert server.seen == []


def test_huge_credentials_file_is_not_read(server: Server, code_home: Path) -> None:
    with open(code_home / "credentials" / "kimi-code.json", "wb") as huge:
        huge.truncate(8 << 30)  # 8 GiB, sparse: reading it whole would exhaust memory
    reading = fetch(server, code_home)
    assert reading.state == "bad_credentials"
    assert reading.message.endswith("kimi-code.json is larger than 65,536 bytes")


def test_broken_credentials_file(server: Server, code_home: Path) -> None:
    (code_home / "credentials" / "kimi-code.json").write_text("{not json", encoding="utf-8")
    assert fetch(server, code_home).state == "bad_credentials"


def test_config_names_the_slot_and_the_base_url(server: Server, code_home: Path) -> None:
    sign_in(code_home, slot="kimi-code-env-0e4f99c69cc27850")
    sign_in(code_home, token="not-this-one")
    (code_home / "config.toml").write_text(
        '[providers."managed:kimi-code"]\n'
        f'base_url = "{server.base_url}/global/v1/"\n'
        'api_key = "sk-kimi-SECRET-in-config"\n'
        'oauth = { key = "oauth/kimi-code-env-0e4f99c69cc27850" }\n', encoding="utf-8")
    server.answer("/global/v1/usages", body=EXAMPLE)
    reading = fetch(None, code_home)
    assert reading.state == "ok"
    assert server.seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "sk-kimi-SECRET-in-config" not in repr(reading)


def test_base_url_variable_wins_over_config(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    (code_home / "config.toml").write_text('[providers."managed:kimi-code"]\nbase_url = "http://127.0.0.1:9/x"\n',
                                           encoding="utf-8")
    server.answer("/coding/v1/usages", body=EXAMPLE)
    assert fetch(server, code_home).state == "ok"


def test_home_from_settings(server: Server, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    (other / "credentials").mkdir(parents=True)
    sign_in(other)
    server.answer("/coding/v1/usages", body=EXAMPLE)
    account = Account("plan2", "kimi_code_plan", {"home": str(other)}, origin="configured")
    env = {"HOME": str(tmp_path), "KIMI_CODE_BASE_URL": server.base_url + "/coding/v1"}
    reading = KimiCodePlanProvider().fetch(account, env, now=NOW, deadline=time.monotonic() + 5)
    assert reading.state == "ok"


def test_detect_says_how_to_turn_it_on_and_never_registers(code_home: Path) -> None:
    env = {"KIMI_CODE_HOME": str(code_home)}
    without = KimiCodePlanProvider().detect(env, detailed=True)
    assert without.account is None
    assert [f.found for f in without.facts] == [False, False]
    sign_in(code_home)
    found = KimiCodePlanProvider().detect(env, detailed=True)
    assert found.account is None
    assert found.facts[0].found
    assert '{"id": "kimi_code_plan", "provider": "kimi_code_plan"}' in found.facts[1].value
    assert TOKEN not in repr(found)


def test_detect_says_the_tile_is_on_when_the_settings_turn_it_on(tmp_path: Path, code_home: Path) -> None:
    """`openusage detect` lists a configured plan account: what it says of the tile agrees, and names the
    sign-in each account reads."""
    sign_in(code_home)
    other = tmp_path / "elsewhere"
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"accounts": [
        {"id": "plan", "provider": "kimi_code_plan", "extra": {}},
        {"id": "plan2", "provider": "kimi_code_plan", "extra": {"home": str(other)}}]}))
    env = {"KIMI_CODE_HOME": str(code_home), "OPENUSAGE_CONFIG": str(settings), "HOME": str(tmp_path)}
    from openusage import api

    report = api.detect(env, detailed=True)
    plan = next(d for d in report.detections if d.provider == "kimi_code_plan")
    facts = {fact.what: (fact.value, fact.found) for fact in plan.facts}
    assert facts["plan tile"] == ("on in settings.json (plan, plan2)", True)
    assert facts["Kimi Code sign-in"] == (str(code_home / "credentials" / "kimi-code.json"), True)
    assert facts["sign-in of plan2"] == (str(other / "credentials" / "kimi-code.json"), False)
    assert [account.id for account in report.accounts] == ["plan", "plan2"]
    assert TOKEN not in repr(report)


def test_a_token_a_header_cannot_carry_is_never_sent(server: Server, code_home: Path) -> None:
    sign_in(code_home, token="eyPLANTED\r\nX-Injected: 1")
    reading = fetch(server, code_home)
    assert (reading.state, reading.message) == (
        "bad_credentials", "the sign-in token cannot be used: it holds characters an HTTP header cannot carry")
    assert server.seen == []


def test_detect_follows_the_slot_config_names(code_home: Path) -> None:
    sign_in(code_home, slot="kimi-code-env-0e4f99c69cc27850")
    (code_home / "config.toml").write_text('[providers."managed:kimi-code"]\n'
                                           'oauth = { key = "oauth/kimi-code-env-0e4f99c69cc27850" }\n')
    found = KimiCodePlanProvider().detect({"KIMI_CODE_HOME": str(code_home)}, detailed=True)
    assert found.facts[0].value.endswith("kimi-code-env-0e4f99c69cc27850.json")
    assert found.facts[0].found


def test_a_timeout_is_retried_once_within_the_deadline(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body=EXAMPLE, delay=3.0, then=json_route(200, EXAMPLE))
    reading = fetch(server, code_home, seconds=2.0)
    assert reading.state == "ok"
    assert server.hits("/usages") == 2


@pytest.mark.parametrize("reset", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_reset_time_outside_the_years_1_to_9999_in_utc_is_text(server: Server, code_home: Path,
                                                                 reset: str) -> None:
    """Such a time parses with its offset but has no instant in UTC: it is shown as the text it came
    as. Before, `snapshot --json` ended with an internal error (and so did every later --offline run,
    the answer being cached)."""
    sign_in(code_home)
    server.answer("/coding/v1/usages", body={"usage": {"used": 1, "limit": 10, "resetTime": reset}})
    reading = fetch(server, code_home)
    assert reading.state == "ok"
    (weekly,) = reading.quotas
    assert weekly.resets_at is None
    assert weekly.reset_text == f"resets at {reset}"


def test_an_integer_no_float_holds_is_not_a_number(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    huge = int("1" + "0" * 400)
    server.answer("/coding/v1/usages", body={"usage": {"used": huge, "limit": 1000},
                                             "limits": [{"detail": {"used": 1, "limit": huge}}]})
    reading = fetch(server, code_home)
    assert reading.state == "ok"
    assert quotas(reading) == [("Weekly limit", 0, 1000, 0), ("Limit", 1, 0, 0)]


def test_a_token_echoed_in_a_good_answer_is_redacted(server: Server, code_home: Path) -> None:
    sign_in(code_home)
    server.answer("/coding/v1/usages", body={"usage": {"used": 1, "limit": 10, "resetTime": f"tok {TOKEN}"},
                                             "limits": [{"name": TOKEN, "detail": {"used": 1, "limit": 2}}]})
    reading = fetch(server, code_home)
    assert TOKEN not in repr(reading)
    assert [q.label for q in reading.quotas] == ["Weekly limit", "[redacted]"]
