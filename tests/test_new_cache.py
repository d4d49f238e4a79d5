"""A cache that does not exist yet is made in a file of its own and put in place whole (`newcache.py`).

Real runs on real files: what a first run leaves in the cache directory, what a killed one leaves and
the next run does with it, a stale -wal file of a deleted cache, and a second process that finds the
cache in the making (it waits, then uses what was made, or makes it itself when nothing was).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from kimi_home import KimiHome, at, env_for, uid
from openusage import newcache
from openusage.errors import CacheError
from openusage.store import Store
from test_cache_faults import cached_run_equals_no_cache, notice_lines

T = at("2026-11-19T10:00:00Z")


def small_home(tmp_path: Path) -> dict[str, str | None]:
    home = KimiHome(tmp_path / "kimi")
    for n in range(3):
        s = home.session(uid(f"{n:x}") + f"-{n}", title="Plan")
        for k in range(5):
            s.usage(T + 60 * n + k, (10 + n, k, 100, 0), f"chatcmpl-{n}-{k}")
    return env_for(home.root)


def cache_dir() -> Path:
    return Path(os.environ["OPENUSAGE_CACHE_DIR"])


def journal_mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def test_a_first_run_leaves_the_cache_whole_in_place_and_nothing_aside(tmp_path: Path) -> None:
    env = small_home(tmp_path)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]
    cache = cache_dir() / "cache.sqlite3"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE((cache_dir() / "cache.sqlite3.lock").stat().st_mode) == 0o600
    assert journal_mode(cache) == "wal"  # as every cache is: readers never wait for a writer
    inode = cache.stat().st_ino
    assert notice_lines(cached_run_equals_no_cache(env)) == []  # warm: the same file, used as it is
    assert cache.stat().st_ino == inode


def test_a_file_a_killed_first_run_left_aside_is_removed_by_the_next(tmp_path: Path) -> None:
    env = small_home(tmp_path)
    cache_dir().mkdir(parents=True)
    left = cache_dir() / "cache.sqlite3.new-4194301"
    left.write_bytes(b"half a database" * 1000)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert not left.exists()
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_first_run_killed_in_the_middle_leaves_no_cache_and_the_next_makes_it(tmp_path: Path) -> None:
    """SIGKILL while the cache is being made (the process stopped just before it would be put in
    place): no cache file at all, never half of one; the next run makes it whole."""
    env = small_home(tmp_path)
    code = ("import os, sys; from openusage import newcache; "
            "newcache.NewCache.place = lambda self: os.kill(os.getpid(), 9); "
            "from openusage.launch import main; sys.argv = ['openusage', 'snapshot', '--json']; main()")
    full_env = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    done = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False)
    assert done.returncode == -9, done.stderr
    names = sorted(p.name for p in cache_dir().iterdir())
    assert "cache.sqlite3" not in names
    assert [name for name in names if name.startswith("cache.sqlite3.new-")]  # what it was making
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_stale_wal_of_a_deleted_cache_is_not_read_as_the_new_ones(tmp_path: Path) -> None:
    """The cache file deleted by hand while its -wal stayed (a process killed with it open): the -wal's
    pages must not land in the new cache (SQLite checks a WAL against itself, not against the file)."""
    env = small_home(tmp_path)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    cache = cache_dir() / "cache.sqlite3"
    # A writer killed before its checkpoint: its committed pages only in the -wal.
    code = ("import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('PRAGMA wal_autocheckpoint=0'); c.execute('BEGIN IMMEDIATE'); "
            "c.execute('DELETE FROM files'); c.execute('CREATE TABLE stale(x)'); "
            "c.execute('INSERT INTO stale VALUES (zeroblob(100000))'); c.execute('COMMIT'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(cache)], check=True)
    wal = cache_dir() / "cache.sqlite3-wal"
    assert wal.stat().st_size > 0
    kept = wal.read_bytes()
    cache.unlink()
    (cache_dir() / "cache.sqlite3-shm").unlink(missing_ok=True)
    wal.write_bytes(kept)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    with sqlite3.connect(cache) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'stale'").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] > 0
    assert notice_lines(cached_run_equals_no_cache(env)) == []


def hold_lock(seconds: float, then: Path | None = None) -> threading.Thread:
    """Another maker: holds `cache.sqlite3.lock` for `seconds`, then puts `then` in place (a copy of a
    cache made elsewhere), or nothing, and lets go."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    fd = os.open(cache_dir() / "cache.sqlite3.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def later() -> None:
        time.sleep(seconds)
        if then is not None:
            shutil.copyfile(then, cache_dir() / "cache.sqlite3")
        os.close(fd)

    thread = threading.Thread(target=later)
    thread.start()
    return thread


def test_a_run_waits_for_the_cache_another_process_is_making_and_uses_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    env = small_home(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("OPENUSAGE_CACHE_DIR", str(elsewhere))
    assert notice_lines(cached_run_equals_no_cache(env)) == []  # a cache of the same home, made apart
    made = elsewhere / "cache.sqlite3"
    monkeypatch.setenv("OPENUSAGE_CACHE_DIR", str(tmp_path / "cache"))
    began = time.monotonic()
    holder = hold_lock(0.5, then=made)
    try:
        store = Store(cache_dir() / "cache.sqlite3")
        try:
            waited = time.monotonic() - began
            assert waited >= 0.4  # it waited for the maker
            assert store.has_files("kimi_cli")  # and opened what was made, not a new one of its own
        finally:
            store.close()
    finally:
        holder.join()
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_run_makes_the_cache_itself_when_the_process_it_waited_for_made_none(tmp_path: Path) -> None:
    env = small_home(tmp_path)
    holder = hold_lock(0.3)  # lets go without a cache (it failed, or was killed)
    try:
        assert notice_lines(cached_run_equals_no_cache(env)) == []
    finally:
        holder.join()
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_cache_in_the_making_for_too_long_is_read_without(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `LOCK_WAIT` (as SQLite's busy wait on a cache that exists): not used this time, one line."""
    env = small_home(tmp_path)
    monkeypatch.setattr(newcache, "LOCK_WAIT", 0.2)
    holder = hold_lock(1.5)
    try:
        with pytest.raises(CacheError, match="in the making by another process"):
            Store(cache_dir() / "cache.sqlite3")
        lines = notice_lines(cached_run_equals_no_cache(env))
        assert len(lines) == 1, lines
        assert lines[0].endswith("reading without it"), lines
    finally:
        holder.join()
    assert notice_lines(cached_run_equals_no_cache(env)) == []


def test_a_cache_put_in_place_meanwhile_by_another_process_is_kept(tmp_path: Path) -> None:
    """Two makers (a lock that did not work, say): the one that finishes second leaves the other's."""
    path, store = store_being_made(tmp_path, b"mine")
    theirs_put_at(tmp_path, path)
    store.close()
    assert only_theirs_at(path)
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_lock_file_name_taken_by_a_directory_makes_the_cache_in_place(tmp_path: Path) -> None:
    """Something else at `cache.sqlite3.lock` (a directory): no lock to take, so the cache is made in
    place as a cache that exists is written, and used; nothing is said."""
    env = small_home(tmp_path)
    (cache_dir() / "cache.sqlite3.lock").mkdir(parents=True)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert journal_mode(cache_dir() / "cache.sqlite3") == "wal"
    assert not [p for p in cache_dir().iterdir() if ".new-" in p.name]
    assert notice_lines(cached_run_equals_no_cache(env)) == []


def store_being_made(tmp_path: Path, group: bytes) -> tuple[Path, Store]:
    """A cache being made (none at its path yet), one value written and committed in it."""
    small_home(tmp_path)
    path = cache_dir() / "cache.sqlite3"
    store = Store(path)
    with store.write():
        store.set_group("kimi_code", group)
    return path, store


def theirs_put_at(tmp_path: Path, path: Path) -> None:
    """Another process's cache put at `path` (a maker the lock did not keep out)."""
    with closing(sqlite3.connect(tmp_path / "theirs.sqlite3")) as theirs:
        theirs.execute("CREATE TABLE theirs(x)")
        theirs.commit()
    shutil.copyfile(tmp_path / "theirs.sqlite3", path)


def only_theirs_at(path: Path) -> bool:
    with closing(sqlite3.connect(path)) as conn:
        return bool(conn.execute("SELECT name FROM sqlite_master").fetchall() == [("theirs",)])


def lock_is_free() -> bool:
    fd = os.open(cache_dir() / "cache.sqlite3.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_cache_made_is_put_in_place_once_its_refresh_is_done(tmp_path: Path) -> None:
    """Committed, it goes in place at once, its lock let go; the store goes on, on the file in place."""
    path, store = store_being_made(tmp_path, b"made")
    try:
        assert not path.exists()
        assert not lock_is_free()
        store.put_in_place()
        assert path.exists()
        assert lock_is_free()
        assert journal_mode(path) == "wal"
        assert store.group("kimi_code") == b"made"
        with store.write():
            store.set_group("kimi_code", b"then")  # written to the cache in place
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM groups").fetchone() == (1,)
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_first_run_puts_its_cache_in_place_before_it_is_done_with_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes waiting for a cache being made wait for its refresh, not for the rest of the
    command (a remote tile's answer, say): the cache is in place before the command closes it."""
    env = small_home(tmp_path)
    seen: list[tuple[bool, bool]] = []
    real_close = Store.close

    def close(store: Store) -> None:
        seen.append(((cache_dir() / "cache.sqlite3").exists(), lock_is_free()))
        real_close(store)

    monkeypatch.setattr(Store, "close", close)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert seen[0] == (True, True)


def test_a_cache_put_in_place_by_another_process_while_this_one_refreshed_is_left_as_it_is(
        tmp_path: Path) -> None:
    """Another cache at the path by the time the refresh is done (a maker the lock did not keep out):
    this process goes on with its own file aside, and leaves the other in place."""
    path, store = store_being_made(tmp_path, b"mine")
    try:
        theirs_put_at(tmp_path, path)
        store.put_in_place()
        assert store.group("kimi_code") == b"mine"  # still its own file
    finally:
        store.close()
    assert only_theirs_at(path)
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]


def test_a_file_system_without_hard_links_gets_the_cache_by_a_rename(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Where `link` is refused (vfat, some FUSE file systems), the file made aside is renamed into place."""
    env = small_home(tmp_path)

    def no_links(_source: object, _target: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert sorted(p.name for p in cache_dir().iterdir()) == ["cache.sqlite3", "cache.sqlite3.lock"]
    assert journal_mode(cache_dir() / "cache.sqlite3") == "wal"
    assert notice_lines(cached_run_equals_no_cache(env)) == []
