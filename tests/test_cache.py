"""The cache gives exactly the figures of a cold scan, whatever happened to the files between runs.

Each test warms the cache, changes the Kimi home the way Kimi CLI, a user or the file system can,
then checks that the next cached run equals a `--no-cache` run field for field, and that the change
is really visible in the figures (so a cache that ignored it would fail).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kimi_home import (
    GROUP,
    KimiHome,
    Session,
    Wire,
    at,
    comparable,
    env_for,
    invoke,
    line,
    run_snapshot,
    sessions,
    status_update,
    tokens,
    uid,
    used,
)

pytestmark = pytest.mark.usefixtures("refold_path")

T = at("2026-11-19T10:00:00Z")


def cached_equals_cold(env: dict[str, str | None]) -> dict[str, Any]:
    """The cached run (using whatever the cache holds) and a cold run agree; returns the snapshot."""
    cached = run_snapshot(env)
    cold = run_snapshot(env, "--no-cache")
    assert comparable(cached) == comparable(cold)
    return dict(cold["snapshots"][0])


def make_home(tmp_path: Path) -> tuple[KimiHome, Session, dict[str, str | None]]:
    home = KimiHome(tmp_path / "kimi")
    session = home.session(uid("1"), title="Plan")
    session.usage(T, (100, 10, 1000, 0), "chatcmpl-1")
    session.usage(T + 60, (200, 20, 2000, 0), "chatcmpl-2")
    return home, session, env_for(home.root)


def test_appended_lines_are_read_and_counted(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)
    session.usage(T + 120, (5, 1, 0, 0), "chatcmpl-3")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (305, 31, 3000, 0)
    assert snap["diagnostics"]["records_counted"] == 3


def test_partial_last_line_counts_only_once_complete(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    full = line(T + 120, status_update((7, 3, 0, 0), mid="chatcmpl-3")).encode()
    with session.path.open("ab") as f:
        f.write(full[:40])  # Kimi CLI is still writing this line
    snap = cached_equals_cold(env)
    assert tokens(snap) == (300, 30, 3000, 0)
    assert snap["diagnostics"]["lines_skipped"] == 0  # no "token_usage" key in the first 40 bytes yet
    with session.path.open("ab") as f:
        f.write(full[40:80])
    snap = cached_equals_cold(env)
    assert tokens(snap) == (300, 30, 3000, 0)
    with session.path.open("ab") as f:
        f.write(full[80:] + b"\n")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (307, 33, 3000, 0)
    assert snap["diagnostics"]["lines_skipped"] == 0


def test_complete_line_without_newline_counts_and_then_grows(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    with session.path.open("ab") as f:
        f.write(line(T + 120, status_update((7, 3, 0, 0), mid="chatcmpl-3")).encode())
    assert tokens(cached_equals_cold(env)) == (307, 33, 3000, 0)
    with session.path.open("ab") as f:
        f.write(b"\n")
    session.usage(T + 180, (1, 1, 0, 0), "chatcmpl-4")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (308, 34, 3000, 0)
    assert snap["diagnostics"]["records_counted"] == 4


def test_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    cached_equals_cold(env)
    kept = session.path.read_bytes().splitlines(keepends=True)[:2]  # header + first record
    session.path.write_bytes(b"".join(kept))
    assert tokens(cached_equals_cold(env)) == (100, 10, 1000, 0)


def test_rewrite_in_place_with_same_size_and_mtime_is_noticed(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    cached_equals_cold(env)
    info = session.path.stat()
    data = session.path.read_bytes()
    changed = data.replace(b'"input_other": 100', b'"input_other": 900')
    assert len(changed) == len(data)
    assert changed != data
    with session.path.open("r+b") as f:  # same inode, same size
        f.write(changed)
    os.utime(session.path, ns=(info.st_atime_ns, info.st_mtime_ns))  # and the old mtime
    assert tokens(cached_equals_cold(env)) == (1100, 30, 3000, 0)


def test_grown_file_whose_old_bytes_changed_is_read_again(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    cached_equals_cold(env)
    data = session.path.read_bytes().replace(b'"output": 20', b'"output": 90')
    session.path.write_bytes(data)
    session.usage(T + 120, (1, 1, 0, 0), "chatcmpl-3")
    assert tokens(cached_equals_cold(env)) == (301, 101, 3000, 0)


def test_replaced_file_is_read_again(tmp_path: Path) -> None:
    home, session, env = make_home(tmp_path)
    cached_equals_cold(env)
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(line(T, status_update((1, 2, 3, 4), mid="chatcmpl-9")) + "\n")
    replacement.replace(session.path)  # new inode, as an editor or a sync tool would do
    snap = cached_equals_cold(env)
    assert tokens(snap) == (1, 2, 3, 4)
    assert home.root.is_dir()


def test_deleted_session_disappears(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    other = home.session(uid("2"))
    other.usage(T, (1, 1, 0, 0), "chatcmpl-x")
    assert sessions(cached_equals_cold(env))[0] == 2
    shutil.rmtree(other.dir)
    snap = cached_equals_cold(env)
    assert sessions(snap)[0] == 1
    assert tokens(snap) == (300, 30, 3000, 0)


def test_deleted_subagent_file_of_a_live_session_disappears(tmp_path: Path) -> None:
    _home, session, env = make_home(tmp_path)
    sub = session.subagent("agent-1")
    sub.usage(T + 120, (7, 7, 0, 0), "chatcmpl-sub")
    assert tokens(cached_equals_cold(env)) == (307, 37, 3000, 0)
    sub.path.unlink()  # the session stays, with its main wire file
    snap = cached_equals_cold(env)
    assert tokens(snap) == (300, 30, 3000, 0)
    assert snap["diagnostics"]["files_read"] == 1


def test_session_whose_wire_file_is_deleted_but_state_stays_disappears(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    other = home.session(uid("2"), title="Other")
    other.usage(T, (1, 1, 0, 0), "chatcmpl-x")
    assert sessions(cached_equals_cold(env))[0] == 2
    other.path.unlink()  # state.json is left: the directory is listed, but holds no session any more
    snap = cached_equals_cold(env)
    assert sessions(snap)[0] == 1
    assert tokens(snap) == (300, 30, 3000, 0)


def test_many_sessions_compared_in_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With many sessions each process compares its share against the store on its own connection:
    appends, deletions and new sessions anywhere in the history are all found."""
    monkeypatch.setattr("openusage.scan.PARALLEL_MIN_SESSIONS", 2)
    home = KimiHome(tmp_path / "kimi")
    all_sessions = [home.session(uid(f"{n:x}") + f"-{n}", group=f"group-{n % 3}") for n in range(40)]
    for n, s in enumerate(all_sessions):
        s.usage(T + n, (n, 1, 0, 0), f"chatcmpl-{n}")
    env = env_for(home.root)
    assert sessions(cached_equals_cold(env))[0] == 40
    all_sessions[5].usage(T + 500, (1000, 0, 0, 0), "chatcmpl-new")
    shutil.rmtree(all_sessions[17].dir)
    all_sessions[23].path.unlink()
    home.session(uid("f") + "-new", group="group-9").usage(T + 600, (0, 5, 0, 0), "chatcmpl-newer")
    snap = cached_equals_cold(env)
    assert sessions(snap)[0] == 39
    assert tokens(snap) == (sum(range(40)) - 17 - 23 + 1000, 40 - 2 + 5, 0, 0)


@pytest.mark.parametrize("workers", [False, True])
def test_wire_files_above_the_session_level_are_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           workers: bool) -> None:
    """A wire.jsonl directly in a group counts toward a session named after the group; when a session
    directory elsewhere has that name too, they are one session, compared by one process."""
    if workers:
        monkeypatch.setattr("openusage.scan.PARALLEL_MIN_SESSIONS", 2)
    home = KimiHome(tmp_path / "kimi")
    for n in range(12):
        home.session(uid(f"{n:x}"), group=f"group-{n}").usage(T + n, (1, 0, 0, 0), f"chatcmpl-{n}")
    loose = Wire(home.sessions / "group-3" / "wire.jsonl")
    loose.usage(T + 100, (0, 50, 0, 0), "chatcmpl-loose")
    named = home.session("group-3", group="group-7")  # a session directory with the group's name
    named.usage(T + 200, (0, 0, 70, 0), "chatcmpl-named")
    env = env_for(home.root)
    assert tokens(cached_equals_cold(env)) == (12, 50, 70, 0)
    loose.usage(T + 300, (0, 5, 0, 0), "chatcmpl-loose-2")
    assert tokens(cached_equals_cold(env)) == (12, 55, 70, 0)
    named.path.unlink()
    snap = cached_equals_cold(env)
    assert tokens(snap) == (12, 55, 0, 0)
    loose.path.unlink()
    assert tokens(cached_equals_cold(env)) == (12, 0, 0, 0)


def test_fork_appearing_after_its_source_was_cached(tmp_path: Path) -> None:
    home, session, env = make_home(tmp_path)
    cached_equals_cold(env)
    fork = home.fork(session, uid("0"), "Fork: Plan")  # sorts first, but is a fork
    fork.usage(T + 300, (1, 1, 0, 0), "chatcmpl-own")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (301, 31, 3000, 0)
    assert snap["diagnostics"]["duplicate_records"] == 2
    assert sessions(snap)[0] == 2


def test_untitled_copy_that_sorts_first_takes_over_the_calls(tmp_path: Path) -> None:
    home, session, env = make_home(tmp_path)
    session.title(None)
    cached_equals_cold(env)
    home.fork(session, uid("0"), "Copy")  # no Fork: prefix, smaller name: owns the copied calls
    snap = cached_equals_cold(env)
    assert sessions(snap)[0] == 1  # the calls moved; the original owns none now
    assert tokens(snap) == (300, 30, 3000, 0)


def test_title_change_between_runs_moves_ownership(tmp_path: Path) -> None:
    home, session, env = make_home(tmp_path)
    fork = home.fork(session, uid("0"), "Fork: Plan")
    fork.usage(T + 300, (1, 1, 0, 0), "chatcmpl-own")
    session.usage(T + 400, (1, 1, 0, 0), "chatcmpl-late")
    snap = cached_equals_cold(env)
    assert snap["daily_series"]["sessions"] == [{"date": "2026-11-19", "value": 2}]
    session.title("Undo: Fork: Plan")  # renamed: now deeper than the fork
    fork.title("Plan")
    after = cached_equals_cold(env)
    assert sessions(after)[0] == 2
    assert tokens(after) == tokens(snap)


def test_config_change_between_runs_changes_the_model(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    assert [m["model"] for m in cached_equals_cold(env)["models"]] == ["kimi-for-coding"]
    home.config_toml('default_model = "k2"\n[models.k2]\nprovider = "moonshot"\nmodel = "kimi-k2-turbo-preview"\n')
    assert [m["model"] for m in cached_equals_cold(env)["models"]] == ["kimi-k2-turbo-preview"]


def test_sessions_dir_removed_after_caching(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    home.config_json({"default_model": ""})  # keeps the account detected once sessions/ is gone
    cached_equals_cold(env)
    shutil.rmtree(home.sessions)
    snap = cached_equals_cold(env)
    assert snap["status"] == "unknown"
    assert used(snap, "total_tokens") == 0


def test_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    _home, _session, env = make_home(tmp_path)
    cache = Path(os.environ["OPENUSAGE_CACHE_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "cache.sqlite3").write_bytes(b"this is not a database" * 100)
    result = invoke(["snapshot", "--json"], env)
    assert result.exit_code == 0
    assert "moved it to" in result.stderr
    assert result.stderr.count("\n") == 1
    assert list(cache.glob("cache.sqlite3.corrupt-*"))
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)


def test_a_first_run_commits_every_file_and_holder_it_read(tmp_path: Path) -> None:
    # Fewer files than the store buffers before writing: what is still buffered must be committed too,
    # or the next run would find the files unknown and read (and count) them again.
    home, session, env = make_home(tmp_path)
    home.fork(session, uid("2"), "Fork: Plan")
    run_snapshot(env)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM holders").fetchone()[0] > 0
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)


def test_holders_written_as_a_first_run_goes_are_the_holders_written_at_its_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A first run over very many calls writes its holders index every HOLDERS_FLUSH_AT entries instead of
    # holding them all: the index, and so which calls are shared, must come out the same.
    home, session, env = make_home(tmp_path)
    home.fork(session, uid("2"), "Fork: Plan")
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"

    def holders() -> list[tuple[int, bytes]]:
        with sqlite3.connect(path) as conn:
            return sorted(conn.execute("SELECT shard, entries FROM holders"))

    cold = run_snapshot(env)
    at_end = holders()
    path.unlink()
    monkeypatch.setattr("openusage.store.HOLDERS_FLUSH_AT", 1)
    assert comparable(run_snapshot(env)) == comparable(cold)
    assert holders() == at_end
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)


def test_the_holders_a_first_run_writes_are_those_rebuilt_from_its_file_rows(tmp_path: Path) -> None:
    # A first run appends each new file's holders entries to their shards' lists and sorts each shard
    # once (`Store._hold_new`); `repair` rebuilds the index from the file rows through the set every
    # other change goes through. Both must write the same index: the same shards, the same entries.
    from openusage.store import Store

    home, session, env = make_home(tmp_path)
    home.fork(session, uid("2"), "Fork: Plan")  # calls held in two files: shared crcs
    for n in range(40):
        other = home.session(uid(f"{n % 16:x}") + f"-{n}", title="Plan")
        for k in range(12):
            other.usage(T + k, (n + 1, k, 0, 0), f"chatcmpl-{n}-{k}")
    cached_equals_cold(env)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"

    def holders() -> list[tuple[int, bytes]]:
        with sqlite3.connect(path) as conn:
            return sorted(conn.execute("SELECT shard, entries FROM holders"))

    written = holders()
    assert len(written) > 100  # ~500 calls: most shards hold an entry
    store = Store(path)
    try:
        assert store.repair() == []
    finally:
        store.close()
    assert holders() == written


def test_a_new_cache_has_large_pages_and_an_older_one_keeps_its_own(tmp_path: Path) -> None:
    # A new cache file is made with PAGE_SIZE pages (a first run's commit and checkpoint write a tenth
    # as many WAL frames as at 4 KiB); a file made by an older version keeps its 4 KiB pages (WAL mode
    # cannot change them) and is used as it is.
    from openusage.store import PAGE_SIZE

    _home, session, env = make_home(tmp_path)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"

    def page_size() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])

    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)
    assert PAGE_SIZE > 4096
    assert page_size() == PAGE_SIZE
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)
    session.usage(T + 120, (5, 1, 0, 0), "chatcmpl-3")
    assert tokens(cached_equals_cold(env)) == (305, 31, 3000, 0)
    assert page_size() == 4096


def test_cache_from_another_schema_is_rebuilt(tmp_path: Path) -> None:
    _home, _session, env = make_home(tmp_path)
    cached_equals_cold(env)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
        conn.execute("DELETE FROM holders")  # an old cache with other contents
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)


def test_nothing_is_written_inside_the_kimi_home(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    before = sorted((p, p.stat().st_mtime_ns) for p in home.root.rglob("*"))
    cached_equals_cold(env)
    after = sorted((p, p.stat().st_mtime_ns) for p in home.root.rglob("*"))
    assert before == after


def test_dangling_wire_symlink_counts_as_unreadable(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    broken = home.sessions / GROUP / uid("2")
    broken.mkdir(parents=True)
    (broken / "wire.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    snap = cached_equals_cold(env)
    assert snap["diagnostics"]["files_unreadable"] == 1
    assert tokens(snap) == (300, 30, 3000, 0)


def test_two_processes_on_one_cache_agree(tmp_path: Path) -> None:
    home, _session, env = make_home(tmp_path)
    for n in range(2, 40):
        s = home.session(uid(f"{n:x}"[-1]) + f"-{n}")
        for k in range(50):
            s.usage(T + k, (n, k, 0, 0), f"chatcmpl-{n}-{k}")
    full_env = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    command = [sys.executable, "-m", "openusage", "snapshot", "--json"]
    procs = [subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    docs = [comparable(json.loads(out)) for out, _err in outputs]
    cold = comparable(run_snapshot(env, "--no-cache"))
    assert all(doc == cold for doc in docs)


def test_unusable_cache_dir_falls_back_to_reading_without_it(tmp_path: Path) -> None:
    _home, _session, env = make_home(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory should be")
    env["OPENUSAGE_CACHE_DIR"] = str(blocker / "cache")
    result = invoke(["snapshot", "--json"], env)
    assert result.exit_code == 0
    assert "reading without it" in result.stderr
    assert json.loads(result.stdout)["snapshots"][0]["metrics"]["total_input_tokens"]["used"] == 300


def test_sessions_path_that_is_a_file_is_an_error_status(tmp_path: Path) -> None:
    root = tmp_path / "kimi"
    root.mkdir()
    (root / "config.json").write_text("{}")
    (root / "sessions").write_text("not a directory")
    snap = cached_equals_cold(env_for(root))
    assert snap["status"] == "error"
    assert "is not a directory" in snap["message"]


def test_damaged_stored_summary_is_recomputed(tmp_path: Path) -> None:
    _home, _session, env = make_home(tmp_path)
    cached_equals_cold(env)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        assert conn.execute("UPDATE summaries SET body = x'00ff'").rowcount == 1
    assert tokens(cached_equals_cold(env)) == (300, 30, 3000, 0)
