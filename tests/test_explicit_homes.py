"""A home the user named that is not there, and a sessions directory that cannot be read: the account
is shown with status `error` and the reason, never dropped and never "0 sessions" with status ok.
Permission cases run as an unprivileged user (tests/unprivileged.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kimi_code_home import KimiCodeHome, code_env, ms, sid
from kimi_home import NOW, KimiHome, at, by_account, env_for, explain, invoke, snapshot_all_paths, uid
from unprivileged import hand_over, run_openusage, work_dir

__all__ = ["work_dir"]  # the fixture, used by name


def account(doc: dict[str, Any], account_id: str) -> dict[str, Any]:
    accounts = by_account(doc)
    assert account_id in accounts, list(accounts)
    return accounts[account_id]


def test_kimi_share_dir_naming_a_missing_directory_shows_the_account_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "typo-kimi"

    snap = account(snapshot_all_paths(env_for(missing)), "kimi_cli")

    assert snap["status"] == "error"
    assert snap["message"] == f"KIMI_SHARE_DIR names {missing}, which does not exist"


def test_kimi_code_home_naming_a_missing_directory_shows_the_account_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "typo-code"
    env = code_env(missing)

    for args in (["--no-cache"], [], []):
        result = invoke(["snapshot", "--json", *args], env)
        assert result.exit_code == 0, explain(result)
        snap = account(json.loads(result.stdout), "kimi_code")
        assert snap["status"] == "error"
        assert snap["message"] == f"KIMI_CODE_HOME names {missing}, which does not exist"


@pytest.mark.parametrize("variable", ["CODEX_HOME", "KIMI_SHARE_DIR"])
@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_named_home_that_is_missing_or_a_file_shows_the_account_with_the_reason(
        tmp_path: Path, variable: str, kind: str) -> None:
    """codex-cli-format.md: Codex refuses a CODEX_HOME that does not exist or is not a directory; "we
    should report that in diagnostics, not crash" (the account vanished without a word). A named home
    that is a file says so, for every agent's variable."""
    named = tmp_path / "typo-home"
    if kind == "a file":
        named.write_text("")
    env = {"OPENUSAGE_NOW": NOW, variable: str(named)}
    provider = "codex_cli" if variable == "CODEX_HOME" else "kimi_cli"
    which = "is not a directory" if kind == "a file" else "does not exist"
    for args in (["--no-cache"], [], []):
        result = invoke(["snapshot", "--json", *args], env)
        assert result.exit_code == 0, explain(result)
        snap = account(json.loads(result.stdout), provider)
        assert snap["status"] == "error"
        assert snap["message"] == f"{variable} names {named}, which {which}"


def test_detect_lists_the_account_of_a_missing_named_home(tmp_path: Path) -> None:
    result = invoke(["detect", "--json"], env_for(tmp_path / "nope", KIMI_CODE_HOME=str(tmp_path / "nope2")))

    assert result.exit_code == 0, explain(result)
    assert [a["id"] for a in json.loads(result.stdout)["accounts"]] == ["kimi_cli", "kimi_code"]


def test_dashboard_shows_why_a_named_home_is_missing(tmp_path: Path) -> None:
    missing = tmp_path / "gone"

    result = invoke([], env_for(missing, COLUMNS="1000"))

    assert result.exit_code == 0, explain(result)
    text = "".join(line.strip("│ ").rstrip() for line in result.stdout.splitlines())  # the tile wraps it
    assert f"KIMI_SHARE_DIR names {missing}, which does not exist".replace(" ", "") in text.replace(" ", "")


def test_kimi_share_dir_naming_a_file_is_an_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain-file"
    plain.write_text("not a directory", encoding="utf-8")

    snap = account(snapshot_all_paths(env_for(plain)), "kimi_cli")

    assert snap["status"] == "error"
    assert str(plain) in snap["message"]


def test_an_existing_empty_named_home_is_still_not_an_account(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    assert snapshot_all_paths(env_for(empty))["snapshots"] == []


# --- permissions, as an unprivileged user -----------------------------------------------------------------


def _run_json(work: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = run_openusage(["snapshot", "--json", *args], work, env)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


@pytest.mark.parametrize("mode", [0o000, 0o444], ids=["mode-000", "mode-444"])
def test_kimi_cli_sessions_dir_that_cannot_be_read_is_an_error(work_dir: Path, mode: int) -> None:
    home = KimiHome(work_dir / "kimi")
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    (work_dir / "home").mkdir()
    hand_over(work_dir)
    env = {"KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": NOW}
    assert account(_run_json(work_dir, env), "kimi_cli")["status"] == "ok"  # the cache now holds the session

    os.chmod(home.sessions, mode)
    for args in ((), ("--no-cache",)):
        snap = account(_run_json(work_dir, env, *args), "kimi_cli")
        assert snap["status"] == "error", (args, snap)
        assert snap["message"] == f"cannot read {home.sessions}: Permission denied", (args, snap)


def test_kimi_code_sessions_dir_that_cannot_be_read_is_an_error(work_dir: Path) -> None:
    code = KimiCodeHome(work_dir / "code")
    journal = code.session("wd_x_0123456789ab", sid("1")).main
    journal.header()
    journal.usage(ms("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "kimi-code/kimi-k2")
    (work_dir / "home").mkdir()
    hand_over(work_dir)
    env = {"KIMI_CODE_HOME": str(code.root), "OPENUSAGE_NOW": NOW}
    assert account(_run_json(work_dir, env), "kimi_code")["status"] == "ok"

    os.chmod(code.sessions, 0)
    for args in ((), ("--no-cache",)):
        snap = account(_run_json(work_dir, env, *args), "kimi_code")
        assert snap["status"] == "error", (args, snap)
        assert snap["message"] == f"cannot read {code.sessions}: Permission denied", (args, snap)
