"""The warm check (`openusage.manifest`): the paths the last comparison stat'ed, stat'ed again. Its
compiled form and its pure reference say the same; a manifest is kept only when its stats tell
everything (directories old enough, no symlink, nothing unreadable); and whatever changes after it is
kept, the cached figures are the `--no-cache` ones, through the whole comparison, the comparison of
only the changed files' sessions, or none at all."""

from __future__ import annotations

import json
import marshal
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_home import CodexHome, codex_env
from codex_home import cached_equals_cold as codex_cached_equals_cold
from kimi_code_home import ALIAS, KimiCodeHome, code_env, ms, sid
from kimi_home import KimiHome, at, comparable, env_for, invoke, run_snapshot, sessions, tokens, uid
from openusage import manifest, scan
from openusage.manifest import Observations
from openusage.providers import listing
from property_files import compiled_or_skip

T = at("2026-11-19T10:00:00Z")
LATER = 60 * 10**9


# -- the check itself ------------------------------------------------------------------------------

def _observed(paths: list[Path]) -> Observations:
    seen = Observations(now_ns=time.time_ns() + LATER)
    for path in paths:
        if path.is_dir():
            seen.directory(str(path), path.stat())
        elif path.exists():
            seen.file(str(path), path.stat())
        else:
            seen.absent(str(path))
    return seen


def _tree(tmp_path: Path) -> list[Path]:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("a", "b", "c", "d/e", "d/sub/f"):
        (tmp_path / name).write_text(name)
    return [tmp_path / name for name in ("d", "d/sub", "a", "b", "c", "d/e", "d/sub/f", "missing")]


def _check_both(body: bytes) -> list[int]:
    kept = manifest.decode(body)
    assert kept is not None
    compiled = manifest.choose({})
    compiled_or_skip(compiled.compiled, "warm check", compiled.why)
    found = compiled.differ(kept.paths, kept.expected)
    assert found == manifest.differ_pure(kept.paths, kept.expected)
    return found


def test_compiled_and_pure_agree_on_every_kind_of_change(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    body = manifest.encode(("root",), _observed(paths))
    assert body is not None
    assert _check_both(body) == []
    with (tmp_path / "a").open("a") as f:
        f.write("more")  # grown
    (tmp_path / "b").unlink()  # gone
    (tmp_path / "missing").write_text("now here")  # was missing
    (tmp_path / "d" / "new").write_text("x")  # a directory's entries changed
    os.chmod(tmp_path / "d" / "sub" / "f", 0o600)  # only its ctime
    assert _check_both(body) == [0, 2, 3, 6, 7]


def test_many_paths_split_over_two_threads_agree(tmp_path: Path) -> None:
    files = []
    for number in range(3000):  # above the compiled check's threshold for a second thread
        path = tmp_path / f"f{number}"
        path.write_text("x")
        files.append(path)
    body = manifest.encode(("root",), _observed(files))
    assert body is not None
    for number in (0, 1499, 1500, 2999):
        files[number].write_text("changed")
    assert _check_both(body) == [0, 1499, 1500, 2999]


def test_the_pure_check_runs_when_asked_or_when_the_build_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    forced = manifest.choose({"OPENUSAGE_PURE": "1"})
    assert not forced.compiled
    assert forced.differ is manifest.differ_pure
    monkeypatch.setattr(manifest, "NATIVE_VERSION", manifest.NATIVE_VERSION + 1)
    stale = manifest.choose({})
    assert not stale.compiled
    assert "another version" in stale.why


def test_a_body_of_another_shape_is_no_manifest() -> None:
    assert manifest.decode(b"\x00garbage") is None
    assert manifest.decode(marshal.dumps((manifest.FORMAT + 1, (), b"", b"", b"", b""))) is None
    assert manifest.decode(marshal.dumps((manifest.FORMAT, (), b"a\0", b"", b"S", marshal.dumps([None])))) is None


def test_a_directory_changed_within_the_guard_makes_no_manifest(tmp_path: Path) -> None:
    fresh = Observations()  # the real clock: the directory was made just now
    fresh.directory(str(tmp_path), tmp_path.stat())
    assert manifest.encode(("root",), fresh) is None
    old = Observations(now_ns=time.time_ns() + LATER)
    old.directory(str(tmp_path), tmp_path.stat())
    assert manifest.encode(("root",), old) is not None


# -- whole runs --------------------------------------------------------------------------------------

@pytest.fixture
def trust_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every directory counts as unchanged long enough (the test's directories are seconds old)."""
    monkeypatch.setattr(listing, "TRUST_AFTER_NS", -LATER)


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which comparison each refresh ran: "whole" (`scan._compare`) or "changed" (only the sessions of
    changed files); nothing for a run the manifest answered. The functions themselves run."""
    ran: list[str] = []

    def counted(name: str, label: str) -> None:
        real: Callable[..., Any] = getattr(scan, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if result is not None:
                ran.append(label)
            return result

        monkeypatch.setattr(scan, name, run)

    counted("_compare", "whole")
    counted("_compare_changed", "changed")
    return ran


def _kept() -> int:
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM manifests").fetchone()[0])


def _equal(env: dict[str, str | None]) -> dict[str, Any]:
    cached = run_snapshot(env)
    cold = run_snapshot(env, "--no-cache")
    assert comparable(cached) == comparable(cold)
    return dict(cold["snapshots"][0])


def _home(tmp_path: Path) -> tuple[KimiHome, Any, dict[str, str | None]]:
    home = KimiHome(tmp_path / "kimi")
    one = home.session(uid("1"), title="One")
    one.usage(T, (100, 10, 0, 0), "chatcmpl-1")
    one.subagent("agent-1").usage(T + 1, (1, 1, 0, 0), "chatcmpl-s1")
    home.session(uid("2"), title="Two").usage(T + 2, (200, 20, 0, 0), "chatcmpl-2")
    return home, one, env_for(home.root)


@pytest.mark.usefixtures("trust_all")
def test_kimi_cli_warm_runs_are_answered_by_the_manifest(tmp_path: Path, comparisons: list[str]) -> None:
    _, one, env = _home(tmp_path)
    _equal(env)  # the first run reads everything
    _equal(env)  # compares, finds nothing, keeps the manifest
    assert comparisons == ["whole"]
    assert _kept() == 1
    _equal(env)
    _equal(env)
    assert comparisons == ["whole"]  # the manifest answered both

    one.usage(T + 5, (5, 5, 0, 0), "chatcmpl-3")  # appended: only its session is compared
    assert tokens(_equal(env)) == (306, 36, 0, 0)
    assert comparisons == ["whole", "changed"]
    _equal(env)
    assert comparisons == ["whole", "changed"]  # the manifest kept with it answers again


@pytest.mark.usefixtures("trust_all")
def test_a_history_past_the_size_limit_keeps_no_manifest(tmp_path: Path, comparisons: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest grows with the history and is held whole: past `MAX_SESSIONS` (here 1, against the
    home's 2) none is made, every warm run compares, and the figures stay the `--no-cache` ones; with the limit
    raised to the history's size, one is kept again."""
    monkeypatch.setattr(manifest, "MAX_SESSIONS", 1)
    _, one, env = _home(tmp_path)
    _equal(env)
    _equal(env)
    _equal(env)
    assert comparisons == ["whole", "whole"]
    assert _kept() == 0
    one.usage(T + 5, (5, 5, 0, 0), "chatcmpl-3")
    assert tokens(_equal(env)) == (306, 36, 0, 0)
    assert comparisons == ["whole"] * 3
    assert _kept() == 0
    monkeypatch.setattr(manifest, "MAX_SESSIONS", 2)
    _equal(env)
    assert _kept() == 1
    _equal(env)
    assert comparisons == ["whole"] * 4  # the manifest now answers


@pytest.mark.usefixtures("trust_all")
def test_kimi_cli_changes_the_manifest_cannot_take_alone_run_the_whole_comparison(
        tmp_path: Path, comparisons: list[str]) -> None:
    home, one, env = _home(tmp_path)
    _equal(env)
    _equal(env)
    one.subagent("agent-2").usage(T + 3, (3, 3, 0, 0), "chatcmpl-s2")  # a new directory and file
    assert tokens(_equal(env)) == (304, 34, 0, 0)
    _equal(env)  # keeps the manifest again
    one.title("Renamed")  # a state file rewritten
    _equal(env)
    three = home.session(uid("3"), title="Three")  # a new session
    three.usage(T + 4, (5, 5, 0, 0), "chatcmpl-4")
    assert sessions(_equal(env))[0] == 3
    (one.dir / "subagents" / "agent-1" / "wire.jsonl").unlink()  # a file gone
    assert tokens(_equal(env)) == (308, 38, 0, 0)
    assert comparisons.count("changed") == 0
    assert comparisons.count("whole") >= 5


@pytest.mark.usefixtures("trust_all")
def test_kimi_code_a_journal_written_where_none_was_is_found(tmp_path: Path, comparisons: list[str]) -> None:
    home = KimiCodeHome(tmp_path / "kc")
    session = home.session("wd-1", sid("1"))
    session.main.header()
    session.main.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    helper_dir = session.dir / "agents" / "helper"
    helper_dir.mkdir(parents=True)  # an agent without its journal yet: kept as a missing path
    env = code_env(home.root)
    docs = []
    for _ in range(3):
        result = invoke(["snapshot", "--json"], env)
        assert result.exit_code == 0, result.stderr
        docs.append(result.stdout)
    assert comparisons == ["whole"]
    assert _kept() == 1
    session.main.usage(ms("2026-11-19T10:00:30Z"), (1, 1, 0, 0), ALIAS)  # appended: only its session compared
    cached, cold = (invoke(["snapshot", "--json", *extra], env) for extra in ([], ["--no-cache"]))
    assert comparable(json.loads(cached.stdout)) == comparable(json.loads(cold.stdout))
    assert comparisons == ["whole", "changed"]
    helper = session.agent("helper")
    helper.header()
    helper.usage(ms("2026-11-19T10:01:00Z"), (7, 7, 0, 0), ALIAS)
    cached, cold = (invoke(["snapshot", "--json", *extra], env) for extra in ([], ["--no-cache"]))
    assert comparable(json.loads(cached.stdout)) == comparable(json.loads(cold.stdout))
    assert tokens(json.loads(cold.stdout)["snapshots"][0])[:2] == (108, 18)
    assert comparisons[-1] == "whole"


@pytest.mark.usefixtures("trust_all")
def test_codex_appends_and_new_rollouts(tmp_path: Path, comparisons: list[str]) -> None:
    home = CodexHome(tmp_path / "codex")
    first = home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    for _ in range(3):
        codex_cached_equals_cold(env)
    assert _kept() == 1
    before = comparisons.count("whole")
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    home.append(first, "".join(lines[-2:]))  # the last lines again: an append, however they count
    codex_cached_equals_cold(env)
    assert comparisons.count("changed") == 1
    assert comparisons.count("whole") == before
    home.place("models.jsonl", "2026/11/20")  # a new directory and rollout
    codex_cached_equals_cold(env)
    assert comparisons[-1] == "whole"


@pytest.mark.usefixtures("trust_all")
def test_a_symlink_in_the_walk_keeps_no_manifest(tmp_path: Path, comparisons: list[str]) -> None:
    home, _, env = _home(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    KimiHome(elsewhere).session(uid("9"), title="Linked").usage(T + 9, (9, 9, 0, 0), "chatcmpl-9")
    os.symlink(elsewhere / "sessions" / next(p.name for p in (elsewhere / "sessions").iterdir()),
               home.sessions / "linked-group")
    for _ in range(3):
        _equal(env)
    assert _kept() == 0
    assert comparisons.count("whole") == 2


def test_directories_younger_than_the_guard_keep_no_manifest(tmp_path: Path) -> None:
    _, _, env = _home(tmp_path)  # the real clock: every directory was made just now
    for _ in range(3):
        _equal(env)
    assert _kept() == 0


@pytest.mark.usefixtures("trust_all")
def test_a_damaged_or_stale_manifest_is_not_used(tmp_path: Path, comparisons: list[str]) -> None:
    _, _, env = _home(tmp_path)
    _equal(env)
    _equal(env)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE manifests SET body = X'00000000DEAD'")
    _equal(env)
    assert comparisons == ["whole", "whole"]  # compared again, and kept anew
    assert _kept() == 1
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE manifests SET generation = generation + 1")
    _equal(env)
    assert comparisons == ["whole", "whole", "whole"]


def test_detect_says_which_warm_check_runs() -> None:
    compiled = manifest.choose({})
    compiled_or_skip(compiled.compiled, "warm check", compiled.why)
    env = {key: value for key, value in os.environ.items() if key != "OPENUSAGE_PURE"}
    for pure, line, document in ((False, "warm check: compiled (openusage._manifest)",
                                  {"compiled": True, "why": "openusage._manifest"}),
                                 (True, "warm check: pure Python (OPENUSAGE_PURE=1 is set)",
                                  {"compiled": False, "why": "OPENUSAGE_PURE=1 is set"})):
        run_env = {**env, "COLUMNS": "200", **({"OPENUSAGE_PURE": "1"} if pure else {})}
        text = subprocess.run([sys.executable, "-m", "openusage", "detect"], env=run_env, capture_output=True,
                              text=True, check=True, timeout=60).stdout
        assert line in text.splitlines()
        shown = subprocess.run([sys.executable, "-m", "openusage", "detect", "--json"], env=run_env,
                               capture_output=True, text=True, check=True, timeout=60).stdout
        assert json.loads(shown)["warm_check"] == document
