"""The first five minutes: `openusage --demo` over every sample home, and the Kimi Code sample itself,
checked with a parser of its own (one json.loads per line), not with the reader."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kimi_home import explain, invoke
from openusage.providers.kimi_cli.demo import write_demo_home
from openusage.providers.kimi_code.demo import write_demo_code_home

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_demo_code_home(tmp_path / "kimi-code", NOW)
    return tmp_path / "kimi-code"


def _records(home: Path) -> list[dict[str, object]]:
    records = []
    for path in sorted(home.glob("sessions/*/*/agents/*/wire.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["type"] == "metadata"
        records += [json.loads(line) for line in lines[1:]]
    return records


def test_layout_is_work_dir_key_session_agents(home: Path) -> None:
    journals = list(home.glob("sessions/*/*/agents/*/wire.jsonl"))
    sessions = {path.parents[2] for path in journals}
    assert len(sessions) == 6
    assert {path.parent.name for path in journals} == {"main", "agent-0"}
    for session in sessions:
        assert session.parent.name.startswith("wd_")
        assert session.name.startswith("session_")
        assert json.loads((session / "state.json").read_text(encoding="utf-8"))["title"]
    index = [json.loads(line) for line in (home / "session_index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {entry["sessionId"] for entry in index} == {session.name for session in sessions}
    assert all(entry["workDir"].startswith("/home/demo/") for entry in index)


def test_usage_records_name_an_alias_after_a_request_naming_the_model(home: Path) -> None:
    records = _records(home)
    usage = [r for r in records if r["type"] == "usage.record"]
    assert len(usage) > 30
    assert sum(r["usageScope"] == "session" for r in usage) == 1  # one compaction call
    assert {r["model"] for r in usage} == {"kimi-code/kimi-for-coding", "moonshot/kimi-k2-turbo-preview"}
    requests = [r for r in records if r["type"] == "llm.request"]
    assert {r["model"] for r in requests} == {"kimi-for-coding", "kimi-k2-turbo-preview"}
    assert sum(r["type"] == "context.append_loop_event" for r in records) == len(usage)  # never usage
    assert all(isinstance(r["time"], int) and r["time"] <= NOW.timestamp() * 1000 for r in records)


def test_config_names_the_alias_and_holds_no_secret(home: Path) -> None:
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["default_model"] == "kimi-code/kimi-for-coding"
    assert "api_key" not in json.dumps(config)


def test_same_now_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_demo_code_home(tmp_path / name, NOW)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for rel in files:
        # The session index names each session's directory by its full path: the only difference.
        a = (tmp_path / "a" / rel).read_bytes().replace(bytes(tmp_path / "a"), b"ROOT")
        assert a == (tmp_path / "b" / rel).read_bytes().replace(bytes(tmp_path / "b"), b"ROOT")


def test_kimi_cli_sample_names_its_projects(tmp_path: Path) -> None:
    write_demo_home(tmp_path / "kimi", NOW)
    work_dirs = json.loads((tmp_path / "kimi" / "kimi.json").read_text(encoding="utf-8"))["work_dirs"]
    assert "/home/demo/code/webshop" in [entry["path"] for entry in work_dirs]


def test_demo_says_it_is_sample_data_and_shows_every_sample_home_and_a_report() -> None:
    result = invoke(["--demo", "--tz", "UTC"], {"OPENUSAGE_NOW": "2026-11-20T15:30:00Z", "COLUMNS": "80"})
    assert result.exit_code == 0, explain(result)
    out = result.stdout
    assert out.startswith("Sample data: generated Kimi CLI, Kimi Code and Codex CLI homes, not your usage.\n")
    assert out.rstrip().endswith("not your usage.")
    assert "╭─ Kimi CLI " in out
    assert "╭─ Kimi Code " in out
    assert "╭─ Codex CLI " in out
    assert "Compaction  1 call" in out
    assert "openusage --demo report project --since 7d" in out
    assert "Usage by project · 2026-11-14 to now · UTC" in out
    # A project by its path, not a hash; at 80 columns the Cost column folds the longest path.
    assert "/home/demo/code/w" in out
    assert "ebshop" in out
    assert "(input + output; plus" in out


def test_detect_says_session_in_the_singular_for_one(tmp_path: Path) -> None:
    from kimi_home import KimiHome, at, uid

    KimiHome(tmp_path / "kimi").session(uid("a")).usage(at("2026-11-20T10:00:00Z"), (1, 1, 0, 0), "m")
    result = invoke(["detect"], {"KIMI_SHARE_DIR": str(tmp_path / "kimi"), "COLUMNS": "300"})
    assert result.exit_code == 0, explain(result)
    assert "(1 session)" in result.stdout
    assert "(1 sessions)" not in result.stdout


def test_demo_before_report_reports_over_the_sample_homes() -> None:
    result = invoke(["--demo", "report", "model", "--json", "--tz", "UTC"], {"OPENUSAGE_NOW": "2026-11-20T15:30:00Z"})
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)
    assert {row["period"] for row in doc["rows"]} == {"kimi-k2-turbo-preview", "kimi-k2-thinking", "kimi-for-coding",
                                                      "gpt-5-codex", "gpt-5.1-codex", "gpt-5.1-codex-max"}


def test_options_before_report_apply_to_it(tmp_path: Path) -> None:
    from kimi_home import KimiHome, at, uid

    KimiHome(tmp_path / "kimi").session(uid("a")).usage(at("2026-11-19T23:30:00Z"), (1, 1, 0, 0), "m")
    env = {"KIMI_SHARE_DIR": str(tmp_path / "kimi"), "OPENUSAGE_NOW": "2026-11-20T15:30:00Z"}
    before = invoke(["--tz", "Europe/Berlin", "--no-cache", "report", "daily", "--json"], env)
    assert before.exit_code == 0, explain(before)
    doc = json.loads(before.stdout)
    assert (doc["tz"], doc["rows"][0]["period"]) == ("Europe/Berlin", "2026-11-20")
    after = invoke(["--tz", "Europe/Berlin", "report", "daily", "--json", "--tz", "UTC"], env)
    assert after.exit_code == 2  # given twice: neither is silently ignored
    assert after.stderr == "openusage: --tz is given more than once (before the command and after it)\n"
