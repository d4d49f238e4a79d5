"""Remote tiles through the api and the real command: fetched beside the local scan, the last good
answer kept in the cache and shown with its age, `--offline`, statuses with exit 0, no secret
anywhere, and local-only runs that neither open a socket nor import anything remote."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rich.console import Console

from kimi_home import KimiHome, at, settings_file, uid
from openusage import api, parallel
from openusage.render.tile import render_dashboard
from remote_server import Server, serving

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = "sk-PLANTED-moonshot-key-5a5a5a5a5a"
TOKEN = "eyPLANTED-kimi-code-token-7b7b7b7b7b"
CONFIG_SECRET = "sk-kimi-PLANTED-config-key-9c9c9c"
BALANCE = {"code": 0, "data": {"available_balance": 49.58894, "voucher_balance": 46.58893, "cash_balance": 3.00001},
           "scode": "0x0", "status": True}
USAGES = {"usage": {"used": "40", "limit": "1000", "resetTime": "2026-11-20T14:10:00Z"},
          "limits": [{"window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                      "detail": {"used": "13", "limit": "200", "resetTime": "2026-11-20T12:30:00Z"}}]}


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "MOONSHOT_API_KEY", "KIMI_CODE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        running.answer("/v1/users/me/balance", body=BALANCE)
        running.answer("/v1/users/me", 404, {"code": 5, "error": "url.not_found", "message": "not found",
                                             "scode": "0x5", "status": False})
        running.answer("/coding/v1/usages", body=USAGES)
        yield running


@pytest.fixture
def kimi(tmp_path: Path) -> KimiHome:
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(at("2026-11-20T10:00:00Z"), (1_000, 200, 0, 0), "chatcmpl-1")
    return home


def configure(tmp_path: Path, server: Server, *, plan: bool = True) -> dict[str, str]:
    """Settings with a Moonshot account at the test server (and the plan tile), and the environment
    that goes with them: a planted key, a Kimi Code home with a planted token."""
    code_home = tmp_path / "kimi-code"
    (code_home / "credentials").mkdir(parents=True, exist_ok=True)
    (code_home / "credentials" / "kimi-code.json").write_text(json.dumps(
        {"access_token": TOKEN, "refresh_token": TOKEN + "-refresh", "expires_at": NOW.timestamp() + 86_400}))
    (code_home / "config.toml").write_text(f'[providers."managed:kimi-code"]\napi_key = "{CONFIG_SECRET}"\n')
    accounts: list[dict[str, Any]] = [{"id": "moonshot", "provider": "moonshot",
                                       "extra": {"base_url": server.base_url}}]
    if plan:
        accounts.append({"id": "kimi_code_plan", "provider": "kimi_code_plan"})
    settings_file().write_text(json.dumps({"accounts": accounts}))
    return {"MOONSHOT_API_KEY": KEY, "KIMI_CODE_HOME": str(code_home),
            "KIMI_CODE_BASE_URL": server.base_url + "/coding/v1"}


def snapshot(env: dict[str, str], **options: Any) -> dict[str, Any]:
    from openusage.render.jsonout import snapshot_document

    result = api.snapshot({**os.environ, **env}, options.pop("now", NOW), **options)
    return {one["account_id"]: one for one in snapshot_document(result)["snapshots"]}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openusage", *args], env={**os.environ, "COLUMNS": "100", **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_remote_tiles_beside_the_local_one(tmp_path: Path, server: Server, kimi: KimiHome) -> None:
    env = {**configure(tmp_path, server), "KIMI_SHARE_DIR": str(kimi.root)}
    snaps = snapshot(env)
    assert list(snaps) == ["kimi_cli", "kimi_code", "moonshot", "kimi_code_plan"]  # kimi_code: its config.toml
    assert snaps["kimi_cli"]["status"] == "ok"
    assert "remote" not in snaps["kimi_cli"]
    moonshot = snaps["moonshot"]
    assert (moonshot["status"], moonshot["message"]) == ("ok", "49.59 USD available")
    assert moonshot["remote"]["amounts"][0] == {"key": "available", "label": "Available", "value": 49.58894,
                                                "unit": "USD", "section": ""}
    assert moonshot["remote"]["notes"] == ["limits unavailable (not found (HTTP 404: not found): check base_url)"]
    assert (moonshot["remote"]["state"], moonshot["remote"]["stale"]) == ("ok", False)
    assert moonshot["remote"]["fetched_at"] == "2026-11-20T12:00:00Z"
    plan = snaps["kimi_code_plan"]
    assert plan["remote"]["quotas"][1] == {
        "key": "limit_1", "label": "5h limit", "used": 13, "limit": 200, "unit": "", "ratio": 0.065, "percent": 7,
        "resets_at": "2026-11-20T12:30:00Z", "reset_text": None, "section": "Plan usage"}
    assert (moonshot["metrics"], moonshot["models"], moonshot["daily_series"]) == ({}, [], {})


def test_statuses_exit_zero_for_the_others_sake(tmp_path: Path, server: Server, kimi: KimiHome) -> None:
    env = {**configure(tmp_path, server), "KIMI_SHARE_DIR": str(kimi.root),
           "OPENUSAGE_NOW": "2026-11-20T12:00:00Z"}
    server.answer("/v1/users/me/balance", 401, {"error": {"type": "invalid_authentication_error",
                                                          "message": "Invalid Authentication"}})
    server.answer("/coding/v1/usages", 200, raw=b"<html>captive portal</html>", headers={"Content-Type": "text/html"})
    done = run(env, "snapshot", "--json")
    assert done.returncode == 0, done.stderr
    snaps = {one["account_id"]: one for one in json.loads(done.stdout)["snapshots"]}
    assert snaps["kimi_cli"]["status"] == "ok"
    assert (snaps["moonshot"]["status"], snaps["moonshot"]["remote"]["state"]) == ("error", "invalid_key")
    assert (snaps["kimi_code_plan"]["status"], snaps["kimi_code_plan"]["remote"]["state"]) == ("error",
                                                                                                 "bad_response")
    tiles = run(env)
    assert tiles.returncode == 0, tiles.stderr
    assert "invalid API key: check MOONSHOT_API_KEY (HTTP 401: Invalid Authentication)" in tiles.stdout
    assert "Failed to fetch usage: not a JSON answer" in tiles.stdout


def test_last_good_answer_is_shown_with_its_age_when_the_network_is_down(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server)
    first = snapshot(env)
    assert first["moonshot"]["remote"]["stale"] is False
    server.answer("/v1/users/me/balance", 503, {"error": {"type": "server_error", "message": "down"}})
    server.answer("/coding/v1/usages", 502, raw=b"")
    later = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    again = snapshot(env, now=later)
    moonshot = again["moonshot"]
    assert (moonshot["status"], moonshot["remote"]["state"], moonshot["remote"]["stale"]) == (
        "error", "server_error", True)
    assert moonshot["message"] == "server error (HTTP 503: down)"
    assert moonshot["remote"]["fetched_at"] == "2026-11-20T12:00:00Z"
    assert moonshot["remote"]["amounts"] == first["moonshot"]["remote"]["amounts"]
    assert again["kimi_code_plan"]["remote"]["quotas"] == first["kimi_code_plan"]["remote"]["quotas"]
    console = Console(file=io.StringIO(), width=80, color_system=None)
    render_dashboard(api.snapshot({**os.environ, **env}, later), console)
    text = console.file.getvalue()
    assert "last answer from 2h 5m ago (2026-11-20 12:00 UTC)" in text
    assert "$49.59" in text


def test_a_refused_key_does_not_show_old_figures(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server, plan=False)
    snapshot(env)
    server.answer("/v1/users/me/balance", 401, {"error": {"type": "incorrect_api_key_error", "message": "no"}})
    moonshot = snapshot(env)["moonshot"]
    assert moonshot["remote"]["amounts"] == []
    assert moonshot["remote"]["stale"] is False


def test_a_refused_key_leaves_no_old_figures_for_a_later_offline_run(tmp_path: Path, server: Server) -> None:
    """"A refused key or sign-in shows no old figures": not on the run that is refused, nor on a later
    --offline run (the last good answer is dropped with the refusal)."""
    env = configure(tmp_path, server, plan=False)
    snapshot(env)
    server.answer("/v1/users/me/balance", 401, {"error": {"type": "incorrect_api_key_error", "message": "no"}})
    snapshot(env)
    moonshot = snapshot(env, offline=True)["moonshot"]
    assert moonshot["remote"]["state"] == "offline"
    assert moonshot["remote"]["amounts"] == []


def test_another_keys_figures_are_not_shown(tmp_path: Path, server: Server) -> None:
    """The tile "shows the Open Platform prepaid balance of one key's account": a cached answer is shown
    only for the key (and host) it was fetched with (a fingerprint of the key is kept, never the key)."""
    env = configure(tmp_path, server, plan=False)
    snapshot(env)
    other = {**env, "MOONSHOT_API_KEY": "sk-ANOTHER-key-0123456789abcdef"}
    moonshot = snapshot(other, offline=True)["moonshot"]
    assert (moonshot["remote"]["state"], moonshot["remote"]["amounts"]) == ("offline", [])
    server.answer("/v1/users/me/balance", 503, {"error": {"type": "server_error", "message": "down"}})
    assert snapshot(other)["moonshot"]["remote"]["amounts"] == []
    again = snapshot(env, offline=True)["moonshot"]  # the key it was fetched with: shown, marked as old
    assert again["remote"]["stale"] is True
    assert again["remote"]["amounts"] != []


def test_one_key_is_never_sent_to_two_hosts(tmp_path: Path, server: Server) -> None:
    """"Region is a property of the key; never try the other host with the same key": of two accounts
    that send one key to two hosts, the first in the settings is fetched and the second refused, with no
    request; two accounts that send it to the same host are both fetched."""
    with serving() as elsewhere:
        elsewhere.answer("/v1/users/me/balance", body=BALANCE)
        env = configure(tmp_path, server, plan=False)
        accounts = [{"id": "moonshot", "provider": "moonshot", "extra": {"base_url": server.base_url}},
                    {"id": "moonshot_cn", "provider": "moonshot", "extra": {"base_url": elsewhere.base_url}},
                    {"id": "moonshot_again", "provider": "moonshot", "extra": {"base_url": server.base_url}}]
        settings_file().write_text(json.dumps({"accounts": accounts}))
        snaps = snapshot(env)
        assert elsewhere.seen == []
    assert snaps["moonshot"]["remote"]["state"] == "ok"
    assert snaps["moonshot_again"]["remote"]["state"] == "ok"
    refused = snaps["moonshot_cn"]
    assert refused["remote"]["state"] == "bad_settings"
    assert refused["message"] == (f"its key already goes to 127.0.0.1:{urlsplit(server.base_url).port} (account "
                                  "moonshot): a key belongs to one host, so this account needs a key of its own")
    assert KEY not in json.dumps(snaps)


def test_offline_says_what_the_machine_alone_decides_not_old_figures(tmp_path: Path, server: Server) -> None:
    """--offline asks no service, but a missing key, a sign-in that expired or was removed are on this
    machine: the tile says so (as a fetch would, before any request) instead of showing old figures."""
    env = configure(tmp_path, server)
    snapshot(env)
    asked = len(server.seen)
    credentials = Path(env["KIMI_CODE_HOME"]) / "credentials" / "kimi-code.json"
    credentials.write_text(json.dumps({"access_token": TOKEN, "expires_at": NOW.timestamp() - 60}))
    offline = snapshot({**env, "MOONSHOT_API_KEY": ""}, offline=True)
    assert (offline["moonshot"]["remote"]["state"], offline["moonshot"]["remote"]["amounts"]) == ("no_key", [])
    plan = offline["kimi_code_plan"]
    assert (plan["remote"]["state"], plan["remote"]["quotas"]) == ("expired", [])
    credentials.unlink()
    assert snapshot(env, offline=True)["kimi_code_plan"]["remote"]["state"] == "signed_out"
    assert len(server.seen) == asked  # the first run's requests only
    assert snapshot(env, offline=True)["moonshot"]["remote"]["stale"] is True  # its key is back: shown


def test_offline_never_calls(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server)
    nothing = snapshot(env, offline=True)
    assert server.seen == []
    assert (nothing["moonshot"]["status"], nothing["moonshot"]["remote"]["state"]) == ("unknown", "offline")
    assert nothing["moonshot"]["message"] == "offline: not fetched (--offline)"
    snapshot(env)
    calls = len(server.seen)
    cached = snapshot(env, offline=True)
    assert len(server.seen) == calls
    assert (cached["moonshot"]["status"], cached["moonshot"]["message"]) == ("ok", "49.59 USD available")
    assert cached["moonshot"]["remote"]["stale"] is True
    assert cached["kimi_code_plan"]["remote"]["stale"] is True


def test_offline_option_on_the_command(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server)
    for args in (["--offline"], ["snapshot", "--offline"], ["snapshot", "--json", "--offline"]):
        done = run(env, *args)
        assert done.returncode == 0, done.stderr
    assert server.seen == []


def test_a_slow_service_is_not_waited_for(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server)
    snapshot(env)
    server.answer("/v1/users/me/balance", body=BALANCE, delay=5.0)
    server.answer("/coding/v1/usages", body=USAGES, delay=5.0)
    snaps = snapshot(env, remote_timeout=0.5)
    for account in ("moonshot", "kimi_code_plan"):
        remote = snaps[account]["remote"]
        assert remote["state"] == "timeout", remote
        assert remote["stale"] is True


def test_a_service_answering_in_4_s_is_waited_for(tmp_path: Path, server: Server) -> None:
    """"Short timeouts (connect 5 s, total 10-15 s)": the command waits 10 s for its remote tiles, so a
    service slow by a few seconds (a distant region) is shown. Before, the wait was 6 s, its first
    attempt 3.6 s, and a 4 s answer was a timeout both times."""
    env = configure(tmp_path, server)
    server.answer("/v1/users/me/balance", body=BALANCE, delay=4.0)
    snaps = snapshot(env)
    assert snaps["moonshot"]["remote"]["state"] == "ok", snaps["moonshot"]["remote"]
    assert server.hits("/v1/users/me/balance") == 1


def test_threads_in_a_resident_process(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_strategy", [parallel.THREADS])

    def no_fork() -> int:
        raise AssertionError("a resident process forked")

    monkeypatch.setattr(os, "fork", no_fork)
    snaps = snapshot(configure(tmp_path, server))
    assert snaps["moonshot"]["status"] == "ok"
    assert snaps["kimi_code_plan"]["status"] == "ok"


def test_only_the_chosen_account_is_fetched(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server)
    assert list(snapshot(env, account_id="kimi_code_plan")) == ["kimi_code_plan"]
    assert [seen.path for seen in server.seen] == ["/coding/v1/usages"]


def test_a_local_only_snapshot_opens_no_socket(kimi: KimiHome, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a local provider opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("KIMI_SHARE_DIR", str(kimi.root))
    (kimi.root.parent / "kimi-code" / "credentials").mkdir(parents=True)
    (kimi.root.parent / "kimi-code" / "credentials" / "kimi-code.json").write_text('{"access_token": "x"}')
    monkeypatch.setenv("KIMI_CODE_HOME", str(kimi.root.parent / "kimi-code"))
    result = api.snapshot(os.environ, NOW)
    assert [one.account_id for one in result.snapshots] == ["kimi_cli"]
    assert result.snapshots[0].status == "ok"
    report = api.detect(os.environ, detailed=True)  # the plan tile's detection: no network either
    assert report.detections[-1].facts[0].found


def test_nothing_remote_is_imported_without_a_remote_account(kimi: KimiHome) -> None:
    code = ("import os, sys\nfrom datetime import datetime, UTC\nfrom openusage import api\n"
            "api.snapshot(os.environ, datetime.now(UTC))\n"
            "print(sorted(m for m in ('httpx', 'openusage.fetching', 'openusage.providers.http', "
            "'openusage.providers.moonshot.balance', 'openusage.providers.kimi_code_plan.usage', 'openusage.remote') "
            "if m in sys.modules))")
    env = {**os.environ, "KIMI_SHARE_DIR": str(kimi.root)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_detect_says_how_to_turn_the_plan_tile_on(tmp_path: Path, server: Server) -> None:
    env = configure(tmp_path, server, plan=False)
    done = run({**env, "COLUMNS": "400"}, "detect")
    assert done.returncode == 0, done.stderr
    assert '{"id": "kimi_code_plan", "provider": "kimi_code_plan"}' in done.stdout
    assert "MOONSHOT_API_KEY (set)" in done.stdout
    assert server.seen == []


def _secret_free(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in (KEY, TOKEN, TOKEN + "-refresh", CONFIG_SECRET):
        assert secret.encode() not in data, f"{secret[:12]}… in {where}"


def test_no_secret_anywhere(tmp_path: Path, server: Server, kimi: KimiHome) -> None:
    """The planted key and token reach the server only: never stdout, stderr, the cache (database,
    WAL), nor a reading's text, whatever the service answers (even an error echoing the key)."""
    env = {**configure(tmp_path, server), "KIMI_SHARE_DIR": str(kimi.root), "OPENUSAGE_DEBUG": ""}
    echo = {"error": {"type": "incorrect_api_key_error", "message": f"Incorrect API key provided: {KEY}"}}
    token_echo = {"message": f"bad token {TOKEN}"}
    cases = [
        ({}, {}),
        ({"status": 401, "body": echo}, {"status": 401, "body": token_echo}),
        ({"status": 429, "body": echo, "headers": {"Retry-After": "0"}}, {"status": 500, "body": token_echo}),
        ({"status": 200, "body": {"code": 1, "status": False, "message": KEY}}, {"status": 418, "body": token_echo}),
        ({"status": 200, "raw": KEY.encode()}, {"status": 200, "raw": TOKEN.encode()}),
    ]
    for index, (moonshot, plan) in enumerate(cases):
        if moonshot:
            server.answer("/v1/users/me/balance", **moonshot)
            server.answer("/coding/v1/usages", **plan)
        once = [["detect"], ["detect", "--json"], ["--offline"]] if not index else []
        commands = [["snapshot", "--json"], [], *once]
        for args in commands:
            done = run(env, *args)
            assert done.returncode == 0, done.stderr
            _secret_free(done.stdout, f"stdout of {args}")
            _secret_free(done.stderr, f"stderr of {args}")
        readings = api.snapshot({**os.environ, **env}, NOW).snapshots
        _secret_free(repr(readings), "the readings")
    assert any(seen.headers.get("authorization") == f"Bearer {KEY}" for seen in server.seen)
    assert any(seen.headers.get("authorization") == f"Bearer {TOKEN}" for seen in server.seen)
    cache = Path(os.environ["OPENUSAGE_CACHE_DIR"])
    files = [path for path in cache.iterdir() if path.is_file()]
    assert files
    for path in files:
        _secret_free(path.read_bytes(), str(path))


def test_a_provider_that_raises_is_a_status_without_its_text(tmp_path: Path, server: Server,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from openusage.providers.moonshot import balance

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"boom {KEY}")

    monkeypatch.setattr(parallel, "_strategy", [parallel.THREADS])  # in this process, so the patch applies
    monkeypatch.setattr(balance, "fetch_balance", broken)
    moonshot = snapshot(configure(tmp_path, server, plan=False))["moonshot"]
    assert moonshot["message"] == "internal error while fetching (RuntimeError)"
    _secret_free(json.dumps(moonshot), "the snapshot")


def test_the_calls_query_leaves_remote_accounts_out(tmp_path: Path, server: Server, kimi: KimiHome) -> None:
    from openusage.query import CallsQuery

    env = {**os.environ, **configure(tmp_path, server), "KIMI_SHARE_DIR": str(kimi.root)}
    every = api.calls(env, CallsQuery())
    assert {call.account for call in every.calls} == {"kimi_cli"}
    assert api.calls(env, CallsQuery(accounts=("moonshot",))).calls == []
    assert server.seen == []


def test_a_number_in_extra_must_be_quoted(tmp_path: Path) -> None:
    settings_file().write_text(json.dumps(
        {"accounts": [{"id": "moonshot", "provider": "moonshot", "extra": {"low_balance": 5}}]}))
    done = run({}, "snapshot", "--json")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "accounts[0].extra.low_balance: expected a string (a path, a URL, a variable name or a number in quotes),"
        " found a number")


def test_a_cached_reset_time_with_no_utc_instant_is_written_as_it_came() -> None:
    """A reading cached before such reset times were refused (9999-12-31T23:59:59-05:00 is in the year
    10000 in UTC) still makes a JSON document: the time is written with its own offset."""
    from openusage.remote import Quota, Reading
    from openusage.render.jsonout import dumps, snapshot_document
    from openusage.snapshot import SnapshotSet, remote_snapshot

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    late = datetime.fromisoformat("9999-12-31T23:59:59-05:00")
    reading = Reading("ok", "Weekly limit 10% used", (), (Quota("weekly", "Weekly limit", 1.0, 10.0, "", late),),
                      fetched_at=now)
    doc = json.loads(dumps(snapshot_document(SnapshotSet(now, (remote_snapshot("kimi_code_plan", "kimi_code_plan",
                                                                                 "Kimi Code plan", reading),)))))
    assert "9999-12-31T23:59:59-05:00" in json.dumps(doc)


@pytest.mark.parametrize(("extra", "ids"), [
    ({"base_url": "https://api.moonshot.cn"}, ["moonshot_cn"]),  # the same key: only the configured account
    ({"base_url": "https://api.moonshot.cn", "api_key_env": "MOONSHOT_CN_KEY"}, ["moonshot", "moonshot_cn"]),
])
def test_a_configured_moonshot_account_with_the_default_key_replaces_the_detected_one(
        tmp_path: Path, extra: dict[str, str], ids: list[str]) -> None:
    """A key is never sent to the other host: a configured `moonshot_cn` account that reads
    MOONSHOT_API_KEY leaves out the account auto-detection would add for the same key (it would send
    that key to api.moonshot.ai too); one with a key of its own is a second account beside it."""
    from openusage import api

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"accounts": [{"id": "moonshot_cn", "provider": "moonshot", "extra": extra}]}),
                        encoding="utf-8")
    env = {"HOME": str(tmp_path), "OPENUSAGE_CONFIG": str(settings), "MOONSHOT_API_KEY": "sk-one",
           "MOONSHOT_CN_KEY": "sk-two"}
    report = api.detect(env)
    assert [account.id for account in report.accounts if account.provider == "moonshot"] == ids
