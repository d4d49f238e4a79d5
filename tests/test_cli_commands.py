"""The commands a user types, through click's runner: real output checked, not mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kimi_home import KimiHome, at, comparable, env_for, explain, invoke, run_snapshot, uid
from openusage.providers import PROVIDERS, file_providers, remote_providers

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
WIDE = "1000"  # COLUMNS: long tmp paths must not be wrapped or cut in tables


def strings(obj: Any) -> Iterator[str]:
    """Every string (keys and values) in a JSON document."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)


def mentions(obj: Any, text: str) -> bool:
    return any(text in s for s in strings(obj))


def fake_kimi(tmp_path: Path) -> Path:
    """An executable `kimi` in tmp_path/bin, put first on PATH by the caller."""
    binary = tmp_path / "bin" / "kimi"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\necho 'kimi, version 1.52.0'\n", encoding="utf-8")
    binary.chmod(0o755)
    return binary


def with_path(binary: Path) -> str:
    return str(binary.parent) + os.pathsep + os.environ["PATH"]


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    s = h.session(uid("1"), title="Plan")
    s.usage(at("2026-11-19T10:00:00Z"), (1_000_000, 200_000, 30_000, 0), "chatcmpl-1")
    h.session(uid("2")).usage(at("2026-11-20T10:00:00Z"), (3_000, 400, 0, 0), "chatcmpl-2", model="kimi-k2-x")
    return h


def ok(args: list[str], env: dict[str, str | None]) -> str:
    result = invoke(args, env)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.output, explain(result)
    return result.output


# --- version and help ----------------------------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    version = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    out = ok(["--version"], env_for())
    assert version in out
    assert "openusage" in out.lower()


def test_top_level_help_lists_commands_and_options() -> None:
    out = ok(["--help"], env_for())
    for word in ("snapshot", "detect", "--demo", "--version", "--help"):
        assert word in out, word


def test_top_level_help_names_every_provider_of_the_registry() -> None:
    """Each agent's home and variable, each remote tile and how it is turned on: all from the providers
    (the front end names no agent itself)."""
    out = " ".join(ok(["--help"], {**env_for(), "COLUMNS": WIDE}).split())  # unwrapped
    for provider in file_providers():
        assert f"{provider.title} {provider.home_default} ({provider.home_variable})" in out, provider.id
    for source in remote_providers():
        assert f"{source.title}: {source.turned_on_by}" in out, source.id
    cli_source = (Path(__file__).resolve().parents[1] / "src" / "openusage" / "cli.py").read_text(encoding="utf-8")
    for provider in PROVIDERS:
        assert provider.title not in cli_source, provider.id


@pytest.mark.parametrize(
    ("command", "options"),
    [("snapshot", ("--json", "--account", "--no-cache")), ("detect", ("--json",))],
)
def test_command_help_lists_its_options(command: str, options: tuple[str, ...]) -> None:
    out = ok([command, "--help"], env_for())
    for option in options:
        assert option in out, option


# --- detect --------------------------------------------------------------------------------------------------


def detect_json(env: dict[str, str | None]) -> Any:
    result = invoke(["detect", "--json"], env)
    assert result.exit_code == 0, explain(result)
    return json.loads(result.stdout)


def detected_accounts(env: dict[str, str | None]) -> list[str]:
    return [s["account_id"] for s in run_snapshot(env)["snapshots"]]


# The shape of `detect --json` is the implementation's; these tests only require that the reason is named
# and that the document changes when the thing looked for appears.


def test_detect_json_names_the_sessions_dir(tmp_path: Path) -> None:
    root = tmp_path / "kimi"
    root.mkdir()
    absent = detect_json(env_for(root))
    (root / "sessions").mkdir()
    found = detect_json(env_for(root))
    assert mentions(found, "kimi_cli")
    assert mentions(found, str(root / "sessions"))
    assert found != absent
    assert detected_accounts(env_for(root)) == ["kimi_cli"]


@pytest.mark.parametrize("name", ["config.toml", "config.json"])
def test_detect_json_names_the_config_file(tmp_path: Path, name: str) -> None:
    root = tmp_path / "kimi"
    root.mkdir()
    absent = detect_json(env_for(root))
    (root / name).write_text('default_model = "x"\n' if name.endswith("toml") else "{}", encoding="utf-8")
    found = detect_json(env_for(root))
    assert mentions(found, "kimi_cli")
    assert mentions(found, str(root / name))
    assert found != absent
    assert detected_accounts(env_for(root)) == ["kimi_cli"]


def test_detect_json_names_the_binary(tmp_path: Path) -> None:
    binary = fake_kimi(tmp_path)
    root = tmp_path / "no-kimi-home"
    absent = detect_json(env_for(root))
    found = detect_json(env_for(root, PATH=with_path(binary)))
    assert mentions(found, "kimi_cli")
    assert mentions(found, str(binary))
    assert not mentions(absent, str(binary))
    assert detected_accounts(env_for(root, PATH=with_path(binary))) == ["kimi_cli"]


def test_detect_table_shows_every_reason(tmp_path: Path, home: KimiHome) -> None:
    binary = fake_kimi(tmp_path)
    config = home.config_toml('default_model = "x"\n')
    out = ok(["detect"], env_for(home.root, PATH=with_path(binary), COLUMNS=WIDE))
    for text in ("kimi_cli", str(home.sessions), str(config), str(binary)):
        assert text in out, text
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)  # a table, not JSON


def test_detect_with_nothing_installed() -> None:
    """An empty HOME and no KIMI_SHARE_DIR (a home it names is always an account: test_explicit_homes)."""
    detect_json(env_for())
    ok(["detect"], env_for(None, COLUMNS=WIDE))
    assert detected_accounts(env_for()) == []


# --- snapshot ------------------------------------------------------------------------------------------------


def test_snapshot_json_stdout_is_one_json_document(home: KimiHome) -> None:
    # a line cut mid-write gives a diagnostic: it must not reach stdout
    with home.session(uid("3")).path.open("a", encoding="utf-8") as f:
        f.write('{"timestamp": 1795000000.0, "message": {"type": "StatusUpdate", "payload": {"token_usage": {"inp')
    result = invoke(["snapshot", "--json"], env_for(home.root))
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)  # raises on anything before or after the document
    assert doc["schema"] == "openusage.snapshot/2"
    assert result.stdout.lstrip().startswith("{")
    assert "\x1b[" not in result.stdout


def test_snapshot_account_selects_one_account(home: KimiHome) -> None:
    doc = run_snapshot(env_for(home.root), "--account", "kimi_cli")
    assert [s["account_id"] for s in doc["snapshots"]] == ["kimi_cli"]


def test_snapshot_unknown_account_exits_2_with_one_line(home: KimiHome) -> None:
    result = invoke(["snapshot", "--json", "--account", "no_such_account"], env_for(home.root))
    assert result.exit_code == 2, explain(result)
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "no_such_account" in lines[0]
    assert result.stdout.strip() == ""


def _process(args: list[str], env: dict[str, str | None], stdout: Any = subprocess.PIPE) -> \
        subprocess.CompletedProcess[str]:
    """The real entry point (`python -m openusage`), which leaves through `os._exit`."""
    full = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    return subprocess.run([sys.executable, "-m", "openusage", *args], env=full, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, check=False, timeout=60)


def test_the_process_flushes_its_output_and_keeps_its_exit_status(home: KimiHome) -> None:
    env = env_for(home.root)
    done = _process(["snapshot", "--json", "--no-cache"], env)
    assert done.returncode == 0, done.stderr
    assert comparable(json.loads(done.stdout)) == comparable(run_snapshot(env, "--no-cache"))
    unknown = _process(["snapshot", "--json", "--account", "no_such_account"], env)
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert [ln for ln in unknown.stderr.splitlines() if ln.strip()] == [
        ln for ln in invoke(["snapshot", "--json", "--account", "no_such_account"], env).stderr.splitlines()
        if ln.strip()]
    assert _process(["--no-such-option"], env).returncode == 2


@pytest.mark.parametrize("args", [["snapshot", "--json"], ["snapshot"], ["report", "daily"], ["report", "session"],
                                  ["detect"], ["prices"], []], ids=" ".join)
def test_a_reader_that_went_away_gets_no_traceback(home: KimiHome, args: list[str]) -> None:
    """`| head` closing early is no failure: exit 0 and nothing on stderr, for the tables too (rich's
    own handling of a closed pipe exited with 1)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout now fails with EPIPE
    try:
        done = _process(args, env_for(home.root, COLUMNS="120"), stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


# --- dashboard and demo --------------------------------------------------------------------------------------


def test_dashboard_with_nothing_detected_says_how_to_point_at_data() -> None:
    out = ok([], env_for(None, COLUMNS="120"))
    assert "detected" in out.lower()
    assert "KIMI_SHARE_DIR" in out or "settings" in out.lower()


def test_dashboard_shows_the_kimi_tile(home: KimiHome) -> None:
    out = ok([], env_for(home.root, COLUMNS="160"))
    assert "Kimi CLI" in out
    assert "2 sessions" in out
    assert "kimi-k2-x" in out
    assert "kimi-for-coding" in out
    assert "Sessions" in out
    assert "Tokens" in out


def test_demo_prints_a_kimi_tile_without_touching_home(isolated_env: Path) -> None:
    out = ok(["--demo"], env_for(COLUMNS="160"))
    assert "Kimi CLI" in out
    assert "Sessions" in out
    assert "Tokens" in out
    assert not (isolated_env / ".kimi").exists()


@pytest.mark.parametrize("args", [[], ["--demo"], ["detect"]], ids=["dashboard", "demo", "detect"])
def test_no_color_means_no_ansi_escapes(home: KimiHome, args: list[str]) -> None:
    out = ok(args, env_for(home.root, NO_COLOR="1", TERM="xterm-256color", COLUMNS="160"))
    assert "\x1b[" not in out


def test_a_name_written_like_rich_markup_is_shown_as_written(tmp_path: Path) -> None:
    """What the renderers draw comes from files and servers: a model named `[/x]` (or `[red]`) is text,
    not a style tag. Before, the dashboard, the daily and the project reports ended with rich's
    MarkupError (an internal error), and a tag that opened and closed would have styled the text."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-a", model="[/x]")
    home.session(uid("2")).usage(at("2026-11-19T11:00:00Z"), (50, 5, 0, 0), "chatcmpl-b", model="[red]k[/red]")
    env = {**env_for(home.root), "COLUMNS": WIDE}
    for args in ([], ["report", "daily"], ["report", "project"], ["report", "model"], ["prices"]):
        out = ok(args, env)
        assert "[/x]" in out, args
        assert "[red]k[/red]" in out, args
