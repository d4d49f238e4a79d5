"""An agent's config file that exists but cannot be used: the figures are still counted, under the
default model, and the user is told in one line naming the file (stderr, and the snapshot's
`notices`), with and without the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kimi_code_home import ALIAS, DEFAULT, KimiCodeHome, code_env, ms, sid
from kimi_home import KimiHome, at, env_for, explain, invoke, models, uid

BROKEN_TOML = 'default_model = "fast\n[models.fast\n'


def snapshot_runs(env: dict[str, str | None]) -> list[tuple[dict[str, Any], list[str]]]:
    """`snapshot --json` without the cache, then cold and warm from it: each document's one snapshot
    and the run's stderr lines."""
    runs = []
    for args in (["--no-cache"], [], []):
        result = invoke(["snapshot", "--json", *args], env)
        assert result.exit_code == 0, explain(result)
        doc = json.loads(result.stdout)
        assert len(doc["snapshots"]) == 1, doc
        runs.append((doc["snapshots"][0], [line for line in result.stderr.splitlines() if line.strip()]))
    return runs


def assert_named_once(runs: list[tuple[dict[str, Any], list[str]]], path: Path) -> None:
    for snap, stderr in runs:
        assert len(stderr) == 1, stderr
        assert str(path) in stderr[0], stderr[0]
        assert "ignored" in stderr[0], stderr[0]
        assert snap["notices"] == [stderr[0].split(": ", 2)[2]], (snap["notices"], stderr)


@pytest.fixture
def cli_home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    h.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-1")  # names no model
    return h


def test_kimi_cli_broken_config_toml_is_named_and_the_default_model_counts(cli_home: KimiHome) -> None:
    path = cli_home.config_toml(BROKEN_TOML)

    runs = snapshot_runs(env_for(cli_home.root))

    assert_named_once(runs, path)
    assert "invalid TOML" in runs[0][1][0]
    for snap, _ in runs:
        assert models(snap) == [("kimi-for-coding", 100, 10, 0, 0, 1)]


def test_kimi_cli_broken_config_json_is_named_beside_a_good_toml(cli_home: KimiHome) -> None:
    cli_home.config_toml('default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\n')
    path = cli_home.config_json({})
    path.write_bytes(b'{"model": "x",')

    runs = snapshot_runs(env_for(cli_home.root))

    assert_named_once(runs, path)
    assert "invalid JSON" in runs[0][1][0]
    for snap, _ in runs:
        assert models(snap) == [("kimi-k2-turbo-preview", 100, 10, 0, 0, 1)]  # the good file still counts


def test_kimi_cli_config_that_is_not_utf8_is_named(cli_home: KimiHome) -> None:
    path = cli_home.config_toml("")
    path.write_bytes(b'default_model = "\xff"\n')

    assert_named_once(snapshot_runs(env_for(cli_home.root)), path)


def test_kimi_cli_good_or_missing_config_gives_no_notice(cli_home: KimiHome) -> None:
    for snap, stderr in snapshot_runs(env_for(cli_home.root)):
        assert stderr == []
        assert snap["notices"] == []
    cli_home.config_toml('default_model = "fast"\n')
    for snap, stderr in snapshot_runs(env_for(cli_home.root)):
        assert stderr == []
        assert snap["notices"] == []


def test_kimi_code_broken_config_toml_is_named_and_the_default_model_counts(tmp_path: Path) -> None:
    home = KimiCodeHome(tmp_path / "code")
    journal = home.session("wd_x_0123456789ab", sid("1")).main
    journal.header()
    journal.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "__kimi_env_model__")
    journal.usage(ms("2026-11-19T10:01:00Z"), (5, 1, 0, 0), ALIAS)
    path = home.config(BROKEN_TOML)

    runs = snapshot_runs(code_env(home.root))

    assert_named_once(runs, path)
    for snap, _ in runs:
        assert models(snap) == [(DEFAULT, 105, 11, 0, 0, 2)]


def test_dashboard_names_a_broken_config_on_stderr(cli_home: KimiHome) -> None:
    path = cli_home.config_toml(BROKEN_TOML)

    result = invoke([], env_for(cli_home.root))

    assert result.exit_code == 0, explain(result)
    assert str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("args", [["report", "daily", "--json"], ["report", "session", "--json"],
                                  ["report", "model", "--csv"], ["prices", "--json"]], ids=" ".join)
@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
def test_reports_and_prices_name_a_broken_config_once_too(cli_home: KimiHome, args: list[str],
                                                           cached: bool) -> None:
    """What a snapshot says of a config file it could not use, a report and `prices` say too: their
    calls land on the default model for the same reason (they said nothing)."""
    path = cli_home.config_toml(BROKEN_TOML)
    result = invoke([*args, *([] if cached else ["--no-cache"])], env_for(cli_home.root))
    assert result.exit_code == 0, explain(result)
    stderr = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(stderr) == 1, stderr
    assert str(path) in stderr[0]
    assert "ignored" in stderr[0]
