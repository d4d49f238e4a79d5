"""Kimi Code through the commands a user types: detect, the dashboard, --account and settings accounts.

The shape of `detect --json` is the implementation's: these tests only require that the things looked
for are named and that the document changes when they appear.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kimi_code_home import (
    ALIAS,
    WD,
    KimiCodeHome,
    Session,
    all_paths,
    code_env,
    code_snapshot,
    compaction,
    ms,
    sid,
)
from kimi_home import KimiHome, at, by_account, explain, invoke, models, sessions, settings_file, tokens, uid

WIDE = "1000"  # COLUMNS: long tmp paths must not be wrapped or cut in tables


def strings(obj: Any) -> Iterator[str]:
    """Every string (keys and values) and number, as text, in a JSON document."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, bool) or obj is None:
        return
    elif isinstance(obj, int | float):
        yield str(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)


def mentions(obj: Any, text: str) -> bool:
    return any(text in s for s in strings(obj))


def names_number(text: str, n: int, *, without: list[Path]) -> bool:
    """`n` stands alone in `text` once the given paths (which hold digits of their own) are taken out."""
    for path in sorted(without, key=lambda p: -len(str(p))):
        text = text.replace(str(path), " ")
    return re.search(rf"(?<![\w.\-]){n}(?![\w.\-])", text) is not None


def fake_kimi(tmp_path: Path) -> Path:
    binary = tmp_path / "bin" / "kimi"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\necho 'kimi, version 0.38.0'\n", encoding="utf-8")
    binary.chmod(0o755)
    return binary


def with_path(binary: Path) -> str:
    return str(binary.parent) + os.pathsep + os.environ["PATH"]


def ok(args: list[str], env: dict[str, str | None]) -> str:
    result = invoke(args, env)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.output, explain(result)
    return result.output


def detect_json(env: dict[str, str | None]) -> Any:
    return json.loads(ok(["detect", "--json"], env))


def write_settings(data: Any) -> Path:
    path = settings_file()
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def code_session(home: KimiCodeHome, session_id: str, *calls: tuple[str, tuple[int, int, int, int], str]) -> Session:
    """A session whose main journal holds the given (iso time, counts, scope) usage records."""
    s = home.session(WD, session_id)
    s.main.header()
    for iso, counts, scope in calls:
        s.main.usage(ms(iso), counts, ALIAS, scope)
    return s


def both_homes(home_dir: Path, *, marker: bool = True) -> tuple[KimiHome, KimiCodeHome]:
    """~/.kimi with five sessions (and the migration marker), ~/.kimi-code with three."""
    cli_home = KimiHome(home_dir / ".kimi")
    for n in range(5):
        cli_home.session(uid(str(n + 1))).usage(at("2026-11-19T10:00:00Z") + n, (10, 1, 0, 0), f"chatcmpl-{n}")
    if marker:
        (cli_home.root / ".migrated-to-kimi-code").write_text("", encoding="utf-8")
    code_home = KimiCodeHome(home_dir / ".kimi-code")
    code_session(code_home, sid("a"), ("2026-11-20T08:00:00Z", (1000, 100, 0, 0), "turn"))
    code_session(code_home, sid("b"), ("2026-11-20T09:00:00Z", (50000, 2000, 0, 0), "session"))
    code_session(code_home, sid("c"), ("2026-11-19T09:00:00Z", (30, 3, 0, 0), "turn"))
    return cli_home, code_home


# --- detect ----------------------------------------------------------------------------------------------------


def test_detect_json_explains_both_homes(tmp_path: Path, isolated_env: Path) -> None:
    binary = fake_kimi(tmp_path)
    env = code_env(PATH=with_path(binary))
    nothing = detect_json(env)
    cli_home, code_home = both_homes(isolated_env)

    doc = detect_json(env)

    for text in ("kimi_cli", "kimi_code", str(cli_home.sessions), str(code_home.sessions), str(binary)):
        assert mentions(doc, text), text
    assert mentions(doc, ".migrated-to-kimi-code")
    assert doc != nothing
    everything = "\n".join(strings(doc))
    assert names_number(everything, 3, without=[tmp_path]), "the Kimi Code session count is not shown"
    assert names_number(everything, 5, without=[tmp_path]), "the Kimi CLI session count is not shown"
    accounts = [s["account_id"] for s in all_paths(env)["snapshots"]]
    assert accounts == ["kimi_cli", "kimi_code"]


def test_detect_table_explains_both_homes(tmp_path: Path, isolated_env: Path) -> None:
    binary = fake_kimi(tmp_path)
    cli_home, code_home = both_homes(isolated_env)

    out = ok(["detect"], code_env(PATH=with_path(binary), COLUMNS=WIDE))

    for text in ("Kimi CLI", "Kimi Code", str(cli_home.sessions), str(code_home.sessions), str(binary)):
        assert text in out, text
    assert ".migrated-to-kimi-code" in out
    assert names_number(out, 3, without=[tmp_path])
    assert names_number(out, 5, without=[tmp_path])


def test_detect_names_the_migration_marker_only_when_present(isolated_env: Path) -> None:
    both_homes(isolated_env, marker=False)
    env = code_env(COLUMNS=WIDE)
    assert not mentions(detect_json(env), ".migrated-to-kimi-code")
    assert ".migrated-to-kimi-code" not in ok(["detect"], env)

    (isolated_env / ".kimi" / ".migrated-to-kimi-code").write_text("", encoding="utf-8")

    assert mentions(detect_json(env), ".migrated-to-kimi-code")
    assert ".migrated-to-kimi-code" in ok(["detect"], env)


def test_detect_follows_kimi_code_home_and_its_config(tmp_path: Path) -> None:
    root = tmp_path / "kc"
    root.mkdir()
    env = code_env(root)
    absent = detect_json(env)
    assert all_paths(env)["snapshots"] == []

    (root / "config.toml").write_text('default_model = "kimi-code/kimi-for-coding"\n', encoding="utf-8")
    found = detect_json(env)

    assert mentions(found, "kimi_code")
    assert mentions(found, str(root / "config.toml"))
    assert found != absent
    assert [s["account_id"] for s in all_paths(env)["snapshots"]] == ["kimi_code"]
    assert str(root) in ok(["detect"], code_env(root, COLUMNS=WIDE))


def test_detect_with_only_kimi_code_registers_only_kimi_code(isolated_env: Path) -> None:
    home = KimiCodeHome(isolated_env / ".kimi-code")
    code_session(home, sid("1"), ("2026-11-19T10:00:00Z", (10, 1, 0, 0), "turn"))

    doc = detect_json(code_env())

    assert mentions(doc, str(home.sessions))
    assert [s["account_id"] for s in all_paths(code_env())["snapshots"]] == ["kimi_code"]


# --- the dashboard --------------------------------------------------------------------------------------------


def test_dashboard_shows_a_kimi_code_tile_with_a_compaction_line(tmp_path: Path) -> None:
    home = KimiCodeHome(tmp_path / "kc")
    s = code_session(
        home,
        sid("1"),
        ("2026-11-20T08:00:00Z", (1000, 100, 5000, 0), "turn"),
        ("2026-11-20T08:30:00Z", (60000, 1800, 0, 0), "session"),
    )
    s.main.llm_request("kimi-k2.6", ALIAS, ms("2026-11-20T08:59:00Z"))
    s.main.usage(ms("2026-11-20T09:00:00Z"), (20, 2, 0, 0), ALIAS)

    out = ok([], code_env(home.root, COLUMNS="160"))

    assert "Kimi Code" in out
    tile = out[out.index("Kimi Code") :]
    assert "compaction" in tile.lower()
    assert "kimi-for-coding" in tile
    assert "kimi-k2.6" in tile
    assert "Sessions" in tile
    assert "Tokens" in tile


def test_dashboard_shows_both_tiles_kimi_cli_first(isolated_env: Path) -> None:
    both_homes(isolated_env)

    out = ok([], code_env(COLUMNS="160"))

    assert "Kimi CLI" in out
    assert "Kimi Code" in out
    assert out.index("Kimi CLI") < out.index("Kimi Code")
    assert "compaction" in out[out.index("Kimi Code") :].lower()


def test_account_option_selects_kimi_code(isolated_env: Path) -> None:
    both_homes(isolated_env)

    doc = all_paths(code_env(), "--account", "kimi_code")
    assert [(s["account_id"], s["provider_id"]) for s in doc["snapshots"]] == [("kimi_code", "kimi_code")]
    snap = doc["snapshots"][0]
    assert tokens(snap) == (51030, 2103, 0, 0)
    assert sessions(snap) == (3, 2, 3)
    assert compaction(snap) == (1, 52000)

    doc = all_paths(code_env(), "--account", "kimi_cli")
    assert [s["account_id"] for s in doc["snapshots"]] == ["kimi_cli"]
    assert tokens(doc["snapshots"][0]) == (50, 5, 0, 0)

    out = ok(["snapshot", "--account", "kimi_code"], code_env(COLUMNS="160"))
    assert "Kimi Code" in out
    assert "Kimi CLI" not in out


# --- settings accounts ----------------------------------------------------------------------------------------


def _home_with_model(root: Path, model: str, counts: tuple[int, int, int, int], session: str) -> KimiCodeHome:
    """A home whose config maps the default alias to `model`, with one call through the env-model alias
    (so the resolved name tells which config.toml was read, and the counts which sessions directory)."""
    home = KimiCodeHome(root)
    home.config(f'default_model = "main"\n\n[models.main]\nprovider = "moonshot"\nmodel = "{model}"\n')
    s = home.session(WD, session)
    s.main.header()
    s.main.usage(ms("2026-11-19T10:00:00Z"), counts, "__kimi_env_model__")
    return home


def test_settings_overrides_are_independent(tmp_path: Path, isolated_env: Path) -> None:
    _home_with_model(isolated_env / ".kimi-code", "default-config-model", (1000, 100, 0, 0), sid("1"))
    desk = _home_with_model(tmp_path / "desk", "desk-config-model", (20, 2, 0, 0), sid("2"))
    other = _home_with_model(tmp_path / "other", "other-config-model", (300, 30, 0, 0), sid("3"))
    lone = tmp_path / "lone.toml"
    lone.write_text('default_model = "x"\n[models.x]\nmodel = "lone-config-model"\n', encoding="utf-8")
    accounts = {
        "a_home": {"home": str(desk.root)},
        "b_home_and_config": {"home": str(desk.root), "config_path": str(lone)},
        "c_sessions_only": {"sessions_dir": str(other.sessions)},
        "d_config_only": {"config_path": str(lone)},
        "e_home_and_sessions": {"home": str(desk.root), "sessions_dir": str(other.sessions)},
    }
    write_settings(
        {
            "auto_detect": False,
            "accounts": [{"id": k, "provider": "kimi_code", "extra": v} for k, v in accounts.items()],
        }
    )

    snaps = by_account(all_paths(code_env()))

    assert set(snaps) == set(accounts)
    assert all(s["provider_id"] == "kimi_code" for s in snaps.values())
    assert models(snaps["a_home"]) == [("desk-config-model", 20, 2, 0, 0, 1)]
    assert models(snaps["b_home_and_config"]) == [("lone-config-model", 20, 2, 0, 0, 1)]
    assert models(snaps["c_sessions_only"]) == [("default-config-model", 300, 30, 0, 0, 1)]
    assert models(snaps["d_config_only"]) == [("lone-config-model", 1000, 100, 0, 0, 1)]
    assert models(snaps["e_home_and_sessions"]) == [("desk-config-model", 300, 30, 0, 0, 1)]


def test_configured_kimi_code_account_replaces_the_detected_one(tmp_path: Path, isolated_env: Path) -> None:
    _home_with_model(isolated_env / ".kimi-code", "default-config-model", (1000, 100, 0, 0), sid("1"))
    desk = _home_with_model(tmp_path / "desk", "desk-config-model", (20, 2, 0, 0), sid("2"))
    write_settings({"accounts": [{"id": "kimi_code", "provider": "kimi_code", "extra": {"home": str(desk.root)}}]})

    snap = code_snapshot(code_env())

    assert snap["account_id"] == "kimi_code"
    assert models(snap) == [("desk-config-model", 20, 2, 0, 0, 1)]


def test_configured_home_that_does_not_exist_is_status_unknown(tmp_path: Path) -> None:
    write_settings(
        {
            "auto_detect": False,
            "accounts": [{"id": "kimi_gone", "provider": "kimi_code", "extra": {"home": str(tmp_path / "gone")}}],
        }
    )

    snap = code_snapshot(code_env())

    assert snap["account_id"] == "kimi_gone"
    assert (snap["status"], snap["message"]) == ("unknown", "Kimi Code sessions directory not found")
