"""settings.json that is wrong in a way JSON accepts: unknown keys, a byte order mark, a file named by
OPENUSAGE_CONFIG that is not there, and `openusage detect` over broken settings. Every case through
the real command, on real files."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest

from kimi_home import KimiHome, at, by_account, env_for, explain, invoke, settings_file, tokens, uid

COMMANDS = [["snapshot", "--json"], []]


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    h.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    return h


def write(data: Any) -> Path:
    path = settings_file()
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def one_line_error(args: list[str], env: dict[str, str | None], *fragments: str) -> str:
    result = invoke(args, env)
    assert result.exit_code == 2, explain(result)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, explain(result)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "dashboard")
def test_unknown_top_level_key_names_the_nearest_known_one(args: list[str], home: KimiHome) -> None:
    path = write({"acounts": [{"id": "kimi_cli", "provider": "kimi_cli"}]})

    one_line_error(args, env_for(home.root), str(path), "acounts: unknown key; did you mean accounts?")


@pytest.mark.parametrize(("text", "where"), [
    ('{"auto_detect": true, "auto_detect": false}', "auto_detect"),
    ('{"accounts": [{"id": "a", "provider": "kimi_cli", "id": "b"}]}', "accounts[0].id"),
    ('{"accounts": [{"id": "a", "provider": "kimi_cli"}, {"id": "b", "provider": "kimi_cli", '
     '"extra": {"sessions_dir": "/x", "sessions_dir": "/y"}}]}', "accounts[1].extra.sessions_dir"),
], ids=["top-level", "in-an-account", "in-an-extra"])
def test_a_key_written_twice_is_an_error_that_names_its_path(text: str, where: str, home: KimiHome) -> None:
    """JSON keeps the last of two equal keys, so the first would silently do nothing: a typo is never a
    setting that did nothing. The error names the key by its path, as every other settings error does."""
    settings_file().write_text(text, encoding="utf-8")
    one_line_error(["snapshot", "--json"], env_for(home.root),
                   f"{where}: written twice in one object: which one is meant is not clear")


def test_unknown_account_key_names_its_path(home: KimiHome) -> None:
    write({"accounts": [{"id": "kimi_cli", "provider": "kimi_cli", "extras": {}}]})

    one_line_error(["snapshot", "--json"], env_for(home.root), "accounts[0].extras: unknown key; did you mean extra?")


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "dashboard")
def test_unknown_extra_key_names_its_path_and_the_nearest_known_one(args: list[str], home: KimiHome) -> None:
    write({"accounts": [{"id": "kimi_cli", "provider": "kimi_cli"},
                        {"id": "second", "provider": "kimi_cli", "extra": {"sesions_dir": str(home.sessions)}}]})

    one_line_error(args, env_for(home.root), "accounts[1].extra.sesions_dir: unknown key; did you mean sessions_dir?")


def test_extra_keys_are_those_of_the_account_s_provider(home: KimiHome, tmp_path: Path) -> None:
    """`home` is a Kimi Code override: Kimi CLI declares no such key, so it is an error there."""
    write({"accounts": [{"id": "desk", "provider": "kimi_code", "extra": {"home": str(tmp_path / "code")}},
                        {"id": "cli", "provider": "kimi_cli", "extra": {"home": str(home.root)}}]})

    message = one_line_error(["snapshot", "--json"], env_for(home.root), "accounts[1].extra.home: unknown key")
    assert "accounts[0]" not in message


def test_every_declared_extra_key_is_accepted(home: KimiHome, tmp_path: Path) -> None:
    write({"accounts": [
        {"id": "cli", "provider": "kimi_cli",
         "extra": {"sessions_dir": str(home.sessions), "config_path": str(home.root / "config.toml")}},
        {"id": "code", "provider": "kimi_code",
         "extra": {"home": str(tmp_path / "code"), "sessions_dir": str(tmp_path / "code" / "sessions"),
                   "config_path": str(tmp_path / "code" / "config.toml")}},
    ]})

    result = invoke(["snapshot", "--json"], env_for(home.root))

    assert result.exit_code == 0, explain(result)
    assert tokens(by_account(json.loads(result.stdout))["cli"]) == (10, 1, 0, 0)


def test_a_key_near_nothing_known_lists_the_known_keys(home: KimiHome) -> None:
    write({"accounts": [{"id": "kimi_cli", "provider": "kimi_cli", "extra": {"zzz": "x"}}]})

    one_line_error(["snapshot", "--json"], env_for(home.root),
                   "accounts[0].extra.zzz: unknown key; known keys: sessions_dir, config_path")


def test_settings_with_a_byte_order_mark_are_read(home: KimiHome) -> None:
    text = json.dumps({"auto_detect": False, "accounts": [{"id": "mine", "provider": "kimi_cli"}]})
    settings_file().write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))

    result = invoke(["snapshot", "--json"], env_for(home.root))

    assert result.exit_code == 0, explain(result)
    assert list(by_account(json.loads(result.stdout))) == ["mine"]


@pytest.mark.parametrize("args", [*COMMANDS, ["detect"]], ids=lambda a: " ".join(a) or "dashboard")
def test_a_settings_file_named_by_openusage_config_must_exist(args: list[str], home: KimiHome,
                                                              tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "setings.json"

    one_line_error(args, env_for(home.root, OPENUSAGE_CONFIG=str(missing)), str(missing), "OPENUSAGE_CONFIG",
                   "does not exist")


def test_the_default_settings_file_may_be_missing(home: KimiHome) -> None:
    assert not settings_file().exists()

    result = invoke(["snapshot", "--json"], env_for(home.root))

    assert result.exit_code == 0, explain(result)
    assert tokens(by_account(json.loads(result.stdout))["kimi_cli"]) == (10, 1, 0, 0)


def test_detect_runs_over_broken_settings_and_says_what_is_wrong(home: KimiHome) -> None:
    write({"accounts": [{"id": "extra_cli", "provider": "kimi_cli", "extra": {"sesions_dir": "/x"}}]})

    result = invoke(["detect", "--json"], env_for(home.root))

    assert result.exit_code == 2, explain(result)
    doc = json.loads(result.stdout)
    assert "accounts[0].extra.sesions_dir: unknown key; did you mean sessions_dir?" in doc["settings_error"]
    assert [account["id"] for account in doc["accounts"]] == ["kimi_cli"]  # detected, the settings' one is not
    assert "sesions_dir" in result.stderr


def test_detect_table_over_broken_settings_shows_the_detected_accounts(home: KimiHome) -> None:
    write({"acounts": []})

    result = invoke(["detect"], {**env_for(home.root), "COLUMNS": "1000"})

    assert result.exit_code == 2, explain(result)
    assert "acounts: unknown key; did you mean accounts?" in result.stdout
    assert "not used" in result.stdout
    assert "kimi_cli" in result.stdout.split("Accounts", 1)[1]


def test_detect_json_over_good_settings_has_no_settings_error(home: KimiHome) -> None:
    write({"accounts": []})

    result = invoke(["detect", "--json"], env_for(home.root))

    assert result.exit_code == 0, explain(result)
    assert json.loads(result.stdout)["settings_error"] is None
