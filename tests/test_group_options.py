"""The options written before the command (`openusage --no-cache snapshot`, `openusage --demo detect`):
each one works where it is written, or is refused in one line; never accepted and dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kimi_code_home import KimiCodeHome, sid
from kimi_home import NOW, KimiHome, at, comparable, env_for, explain, invoke, uid
from openusage.providers.codex_cli.demo import write_demo_codex_home
from openusage.providers.kimi_cli.demo import write_demo_home
from openusage.providers.kimi_code.demo import write_demo_code_home


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    h.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    return h


def json_run(args: list[str], env: dict[str, str | None]) -> dict[str, Any]:
    result = invoke(args, env)
    assert result.exit_code == 0, explain(result)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def cache_dir() -> Path:
    return Path(os.environ["OPENUSAGE_CACHE_DIR"])


def test_no_cache_before_snapshot_neither_reads_nor_writes_the_cache(home: KimiHome) -> None:
    doc = json_run(["--no-cache", "snapshot", "--json"], env_for(home.root))

    assert not cache_dir().exists()
    assert comparable(doc) == comparable(json_run(["snapshot", "--json", "--no-cache"], env_for(home.root)))


def test_no_cache_before_snapshot_does_not_read_a_stale_cache(home: KimiHome) -> None:
    json_run(["snapshot", "--json"], env_for(home.root))  # fills the cache
    before = {p: p.stat().st_mtime_ns for p in cache_dir().iterdir()}
    home.session(uid("2")).usage(at("2026-11-19T11:00:00Z"), (5, 1, 0, 0), "chatcmpl-2")

    doc = json_run(["--no-cache", "snapshot", "--json"], env_for(home.root))

    assert doc["snapshots"][0]["metrics"]["total_input_tokens"]["used"] == 15
    assert {p: p.stat().st_mtime_ns for p in cache_dir().iterdir()} == before


def test_no_cache_before_the_dashboard_writes_no_cache(home: KimiHome) -> None:
    result = invoke(["--no-cache"], env_for(home.root))

    assert result.exit_code == 0, explain(result)
    assert not cache_dir().exists()


def _demo_reference(tmp_path: Path) -> dict[str, Any]:
    """The demo homes (Kimi CLI, Kimi Code, Codex CLI) generated at NOW, read as a user's own homes."""
    root = tmp_path / "reference-demo"
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00")).astimezone(UTC)
    write_demo_home(root / "kimi", now)
    write_demo_code_home(root / "kimi-code", now)
    write_demo_codex_home(root / "codex", now)
    env = env_for(root / "kimi", KIMI_CODE_HOME=str(root / "kimi-code"), CODEX_HOME=str(root / "codex"))
    return json_run(["snapshot", "--json", "--no-cache"], env)


def test_demo_before_snapshot_shows_the_demo_accounts_not_the_real_ones(home: KimiHome, tmp_path: Path) -> None:
    code = KimiCodeHome(tmp_path / "code")  # a real Kimi Code home: not part of the demo
    journal = code.session("wd_x_0123456789ab", sid("1")).main
    journal.header()
    journal.usage(1_795_000_000_000, (7, 7, 0, 0), "kimi-code/kimi-k2")

    doc = json_run(["--demo", "snapshot", "--json"], env_for(home.root, KIMI_CODE_HOME=str(code.root)))

    assert comparable(doc) == comparable(_demo_reference(tmp_path))
    assert [s["account_id"] for s in doc["snapshots"]] == ["kimi_cli", "kimi_code", "codex_cli"]
    assert not cache_dir().exists()


def test_demo_before_detect_describes_the_demo_home(home: KimiHome) -> None:
    doc = json_run(["--demo", "detect", "--json"], env_for(home.root))

    cli_facts = next(p["facts"] for p in doc["providers"] if p["provider_id"] == "kimi_cli")
    root = next(f for f in cli_facts if f["what"] == "root")
    assert "openusage-demo-" in root["value"]
    assert str(home.root) not in json.dumps(doc)


def test_demo_before_snapshot_with_account(home: KimiHome) -> None:
    result = invoke(["--demo", "snapshot", "--account", "kimi_cli"], {**env_for(home.root), "COLUMNS": "120"})

    assert result.exit_code == 0, explain(result)
    assert "Kimi CLI" in result.stdout


def test_no_cache_before_detect_is_refused_in_one_line(home: KimiHome) -> None:
    result = invoke(["--no-cache", "detect"], env_for(home.root))

    assert result.exit_code == 2, explain(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--no-cache" in lines[0]
    assert "detect" in lines[0]


@pytest.mark.parametrize(("args", "option"), [
    (["--tz", "UTC", "detect"], "--tz"), (["--offline", "detect"], "--offline"),
    (["--tz", "UTC", "prices"], "--tz"), (["--offline", "prices"], "--offline"),
    (["--offline", "report", "daily"], "--offline"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else value)
def test_an_option_before_a_command_it_does_not_apply_to_is_refused_in_one_line(
        home: KimiHome, args: list[str], option: str) -> None:
    """Options are never silently ignored: `--tz` and `--offline` written before a command that shows
    no day or calls no service are refused, as `--no-cache` before `detect` is (they were accepted and
    did nothing)."""
    result = invoke(args, env_for(home.root))

    assert result.exit_code == 2, explain(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert option in lines[0]
    assert "does not apply to" in lines[0]


def test_offline_before_the_demo_applies_to_its_dashboard_not_its_report() -> None:
    result = invoke(["--demo", "--offline"], {"OPENUSAGE_NOW": "2026-11-20T12:00:00Z", "COLUMNS": "120"})
    assert result.exit_code == 0, explain(result)
    assert "Sample data" in result.stdout


def test_demo_home_is_removed_after_a_command(tmp_path: Path, home: KimiHome) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "OPENUSAGE_NOW": NOW, "KIMI_SHARE_DIR": str(home.root)}

    for args in (["--demo", "snapshot", "--json"], ["--demo", "detect", "--json"]):
        done = subprocess.run([sys.executable, "-m", "openusage", *args], env=env, capture_output=True, text=True,
                              check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        json.loads(done.stdout)
        assert list(temp.iterdir()) == [], args
