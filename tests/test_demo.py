"""The demo Kimi home, checked with a parser of its own (one json.loads per line), not with the reader."""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openusage.providers.kimi_cli.demo import write_demo_home

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
HEADER = {"type": "metadata", "protocol_version": "1.10"}
SECRET_WORDS = re.compile(r"key|secret|token|password|auth", re.IGNORECASE)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "kimi"
    write_demo_home(root, NOW)
    return root


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text.splitlines()


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(path)[1:]]


def _session_dirs(home: Path) -> list[Path]:
    return sorted(p.parent for p in home.glob("sessions/*/*/wire.jsonl"))


def _usage(records: list[dict[str, Any]], *, wrapped: bool) -> Iterator[tuple[float, dict[str, Any]]]:
    """(timestamp, StatusUpdate payload) for every usage record, top-level or SubagentEvent-wrapped."""
    for record in records:
        message = record["message"]
        is_wrapped = message["type"] == "SubagentEvent"
        while message["type"] == "SubagentEvent":
            message = message["payload"]["event"]
        if is_wrapped == wrapped and message["type"] == "StatusUpdate" and message["payload"]["token_usage"]:
            yield record["timestamp"], message["payload"]


def _title(session_dir: Path) -> str:
    state = json.loads((session_dir / "state.json").read_text(encoding="utf-8"))
    title = state["custom_title"]
    assert isinstance(title, str)
    return title


def test_layout_is_sessions_group_uuid_wire_jsonl(home: Path) -> None:
    dirs = _session_dirs(home)
    assert len(dirs) == 14
    for session_dir in dirs:
        assert re.fullmatch(r"[0-9a-f]{32}", session_dir.parent.name)  # md5 of the working directory
        assert str(uuid.UUID(session_dir.name)) == session_dir.name
        assert (session_dir / "state.json").is_file()
        assert (session_dir / "context.jsonl").is_file()
    assert len({d.parent.name for d in dirs}) > 1


def test_every_wire_file_has_the_header_and_valid_json_lines(home: Path) -> None:
    files = list(home.rglob("wire.jsonl"))
    assert len(files) == 15  # 14 sessions and one subagent
    for path in files:
        lines = _lines(path)
        assert json.loads(lines[0]) == HEADER
        for line in lines:
            obj = json.loads(line)
            # Kimi CLI's json.dumps spacing and non-ASCII kept: re-dumping gives the same bytes.
            assert json.dumps(obj, ensure_ascii=False) == line
        for record in _records(path):
            assert set(record) == {"timestamp", "message"}
            assert isinstance(record["timestamp"], float)
            assert isinstance(record["message"]["type"], str)
            assert isinstance(record["message"]["payload"], dict)


def test_sessions_have_the_usual_record_kinds(home: Path) -> None:
    kinds: set[str] = set()
    null_usage = 0
    for path in home.glob("sessions/*/*/wire.jsonl"):
        for record in _records(path):
            kind, payload = record["message"]["type"], record["message"]["payload"]
            kinds.add(kind)
            null_usage += kind == "StatusUpdate" and payload["token_usage"] is None
    expected = {"TurnBegin", "StepBegin", "ContentPart", "ToolCall", "ToolResult", "StatusUpdate", "TurnEnd"}
    assert expected <= kinds
    assert "SubagentEvent" in kinds
    assert null_usage > 10  # context-only StatusUpdates that are not usage


def test_usage_figures_are_realistic(home: Path) -> None:
    calls = 0
    for path in home.rglob("wire.jsonl"):
        for _, payload in _usage(_records(path), wrapped=False):
            calls += 1
            usage = payload["token_usage"]
            assert set(usage) == {"input_other", "output", "input_cache_read", "input_cache_creation"}
            assert 500 <= usage["input_other"] <= 5_000
            assert 100 <= usage["output"] <= 2_000
            assert 10_000 <= usage["input_cache_read"] <= 120_000
            assert usage["input_cache_creation"] == 0
            assert payload["message_id"].startswith("chatcmpl-")
    assert calls > 100


def test_timestamps_fall_in_the_20_days_before_now_with_some_today(home: Path) -> None:
    earliest = (NOW - timedelta(days=20)).timestamp()
    today = NOW.date()
    active_days: dict[str, set[str]] = {}
    for path in home.glob("sessions/*/*/wire.jsonl"):
        for record in _records(path):
            assert earliest <= record["timestamp"] <= NOW.timestamp()
        calls = _usage(_records(path), wrapped=False)
        active_days[path.parent.name] = {
            datetime.fromtimestamp(ts, UTC).date().isoformat() for ts, _ in calls
        }
    assert sum(today.isoformat() in days for days in active_days.values()) >= 2
    assert any(len(days) > 1 for days in active_days.values())  # a session resumed on another day
    assert len(set().union(*active_days.values())) >= 10


def test_some_calls_name_the_thinking_model(home: Path) -> None:
    models = [
        payload.get("model")
        for path in home.glob("sessions/*/*/wire.jsonl")
        for _, payload in _usage(_records(path), wrapped=False)
    ]
    assert models.count("kimi-k2-thinking") >= 2
    assert models.count(None) > 100


def test_fork_starts_with_a_verbatim_copy_of_its_sources_first_turn(home: Path) -> None:
    by_title = {_title(d): d for d in _session_dirs(home)}
    forks = [title for title in by_title if title.startswith("Fork: ")]
    assert len(forks) == 1
    fork_dir = by_title[forks[0]]
    source_dir = by_title[forks[0].removeprefix("Fork: ")]
    assert fork_dir.parent == source_dir.parent  # same working directory group

    source = _lines(source_dir / "wire.jsonl")
    fork = _lines(fork_dir / "wire.jsonl")
    first_turn_end = next(i for i, line in enumerate(source) if '"TurnEnd"' in line) + 1
    assert fork[:first_turn_end] == source[:first_turn_end]
    assert fork[first_turn_end] != source[first_turn_end]

    copied_ids = {p["message_id"] for _, p in _usage(_records(source_dir / "wire.jsonl"), wrapped=False)}
    fork_calls = list(_usage([json.loads(line) for line in fork[1:]], wrapped=False))
    own = [p for _, p in fork_calls if p["message_id"] not in copied_ids]
    inherited = [p for _, p in fork_calls if p["message_id"] in copied_ids]
    assert own
    assert inherited
    assert min(ts for ts, p in fork_calls if p in own) > max(ts for ts, p in fork_calls if p in inherited)


def test_subagent_has_its_own_file_echoed_in_the_parent(home: Path) -> None:
    agent_files = list(home.glob("sessions/*/*/subagents/*/wire.jsonl"))
    assert len(agent_files) == 1
    agent_dir = agent_files[0].parent
    parent_dir = agent_dir.parent.parent
    for name in ("meta.json", "prompt.txt", "context.jsonl"):
        assert (agent_dir / name).is_file()
    meta = json.loads((agent_dir / "meta.json").read_text(encoding="utf-8"))
    assert meta["agent_id"] == agent_dir.name

    own_calls = _usage(_records(agent_files[0]), wrapped=False)
    own = {p["message_id"]: (ts, p["token_usage"]) for ts, p in own_calls}
    echo_calls = _usage(_records(parent_dir / "wire.jsonl"), wrapped=True)
    echoed = {p["message_id"]: (ts, p["token_usage"]) for ts, p in echo_calls}
    assert own
    assert own.keys() == echoed.keys()
    for message_id, (ts, usage) in own.items():
        assert echoed[message_id][1] == usage
        assert echoed[message_id][0] >= ts  # the echo is written after the subagent's own line

    wrappers = [r for r in _records(parent_dir / "wire.jsonl") if r["message"]["type"] == "SubagentEvent"]
    for wrapper in wrappers:
        payload = wrapper["message"]["payload"]
        assert payload["agent_id"] == agent_dir.name
        assert set(payload["event"]) == {"type", "payload"}


def test_config_names_the_default_model_and_holds_no_secrets(home: Path) -> None:
    text = (home / "config.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert config["default_model"] == "kimi-k2"
    assert config["models"]["kimi-k2"] == {
        "provider": "moonshot",
        "model": "kimi-k2-turbo-preview",
        "max_context_size": 262144,
    }

    def keys(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from keys(value)

    assert not [key for key in keys(config) if SECRET_WORDS.search(key)]
    assert "sk-" not in text
    assert not (home / "config.json").exists()


def test_same_now_gives_the_same_bytes(tmp_path: Path) -> None:
    write_demo_home(tmp_path / "a", NOW)
    write_demo_home(tmp_path / "b", NOW)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_just_after_midnight_nothing_lies_in_the_future(tmp_path: Path) -> None:
    now = datetime(2026, 11, 21, 0, 0, 40, tzinfo=UTC)
    write_demo_home(tmp_path / "kimi", now)
    stamps = [r["timestamp"] for p in (tmp_path / "kimi").rglob("wire.jsonl") for r in _records(p)]
    assert max(stamps) <= now.timestamp()
    assert any(ts >= datetime(2026, 11, 21, tzinfo=UTC).timestamp() for ts in stamps)


def test_non_ascii_text_is_written_as_is(home: Path) -> None:
    assert any("价格" in path.read_text(encoding="utf-8") for path in home.rglob("wire.jsonl"))


def test_the_demo_environment_names_each_providers_sample_home_by_its_variable(tmp_path: Path) -> None:
    from openusage.api import demo_home
    from openusage.providers import file_providers

    env = demo_home(tmp_path, NOW)
    with_sample = {p.home_variable: tmp_path / p.id for p in file_providers() if (tmp_path / p.id).is_dir()}
    assert set(with_sample) == {"KIMI_SHARE_DIR", "KIMI_CODE_HOME", "CODEX_HOME"}
    for variable, home in with_sample.items():
        assert env[variable] == str(home)
        assert any((home / "sessions").iterdir())
    assert env["HOME"] == str(tmp_path)  # nothing of the user's own is found from here
    assert env["PATH"] == ""
    assert json.loads(Path(env["OPENUSAGE_CONFIG"]).read_text(encoding="utf-8")) == {}
    assert Path(env["OPENUSAGE_CACHE_DIR"]).parent == tmp_path
