"""The cache never makes a wrong figure, a crash or a stuck slow state, whatever happened to it.

Each case damages a real cache (its stored values, its file, its directory) the way a changed byte, a
hand edit, a full disk or a second process can, then runs the real command: exit 0, the figures of a
`--no-cache` run, at most one line of notice, and the next cached run equal to `--no-cache` again.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kimi_home import (
    KimiHome,
    Session,
    at,
    comparable,
    env_for,
    explain,
    invoke,
    run_snapshot,
    tokens,
    uid,
)
from openusage.store import Store
from openusage.stored import seal
from unprivileged import user_command, user_python

T = at("2026-11-19T10:00:00Z")


def cache_file() -> Path:
    return Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"


def make_home(tmp_path: Path) -> tuple[KimiHome, Session, dict[str, str | None]]:
    """Two sessions, the cache warm; returns the second session (the one a test damages)."""
    home = KimiHome(tmp_path / "kimi")
    first = home.session(uid("1"), title="Plan")
    first.usage(T, (100, 10, 1000, 0), "chatcmpl-1")
    second = home.session(uid("2"), title="Fork: Plan")
    second.usage(T + 60, (200, 20, 2000, 0), "chatcmpl-2")
    second.usage(T + 90, (1, 2, 3, 4), "chatcmpl-3")
    env = env_for(home.root)
    run_snapshot(env)
    return home, second, env


def cached_run_equals_no_cache(env: dict[str, str | None]) -> str:
    """A cached run: exit 0, no traceback, the figures of `--no-cache`; returns its stderr."""
    result = invoke(["snapshot", "--json"], env)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.stderr
    cold = invoke(["snapshot", "--json", "--no-cache"], env)
    assert cold.exit_code == 0, explain(cold)
    assert comparable(json.loads(result.stdout)) == comparable(json.loads(cold.stdout))
    return result.stderr


def damage(sql: str, *args: object) -> None:
    with sqlite3.connect(cache_file()) as conn:
        assert conn.execute(sql, args).rowcount >= 1, sql


def notice_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert all(line.isprintable() for line in lines), lines
    return lines


SECOND = f"%{uid('2')}%"

# One damaged value each: (what, the statement that damages it).
FILE_DAMAGE = {
    "records: bad marshal data": ("UPDATE files SET records = x'00ff' WHERE path LIKE ?", SECOND),
    "records: a changed byte": ("UPDATE files SET records = substr(records, 1, 12) || x'41' || substr(records, 14)"
                                " WHERE path LIKE ?", SECOND),
    "records: the wrong shape, sealed": ("UPDATE files SET records = ? WHERE path LIKE ?",
                                         seal(marshal.dumps({"a": 1})), SECOND),
    "records: text, not a blob": ("UPDATE files SET records = 'text' WHERE path LIKE ?", SECOND),
    "tail_records: empty": ("UPDATE files SET tail_records = x'' WHERE path LIKE ?", SECOND),
    "state: not sealed": ("UPDATE files SET state = x'01' WHERE path LIKE ?", SECOND),
    "offset: text": ("UPDATE files SET offset = 'abc' WHERE path LIKE ?", SECOND),
    "size: a float": ("UPDATE files SET size = 1.5 WHERE path LIKE ?", SECOND),
    "head_hash: an integer": ("UPDATE files SET head_hash = 7 WHERE path LIKE ?", SECOND),
    "skipped: not JSON": ("UPDATE files SET skipped = 'not json{' WHERE path LIKE ?", SECOND),
    "skipped: a JSON list": ("UPDATE files SET skipped = '[1]' WHERE path LIKE ?", SECOND),
    "zero: text": ("UPDATE files SET zero = 'x' WHERE path LIKE ?", SECOND),
    "session: another name": ("UPDATE files SET session = 5 WHERE path LIKE ?", SECOND),  # text '5'
    "session: a blob": ("UPDATE files SET session = x'00ff' WHERE path LIKE ?", SECOND),
    "account: another name": ("UPDATE files SET account = 'other' WHERE path LIKE ?", SECOND),
    "sessions.rank: text": ("UPDATE sessions SET rank = 'x' WHERE session LIKE ?", SECOND),
    "sessions.parent: an integer": ("UPDATE sessions SET parent = 12 WHERE session LIKE ?", SECOND),
    "sessions.rank: another number": ("UPDATE sessions SET rank = 7 WHERE session LIKE ?", SECOND),
    "sessions.parent: another name": ("UPDATE sessions SET parent = 'x' WHERE session LIKE ?", SECOND),
    "path: not UTF-8": ("UPDATE files SET path = CAST(x'ff' || CAST(path AS BLOB) AS TEXT) WHERE path LIKE ?",
                        SECOND),
    "key: not UTF-8": ("UPDATE files SET key = CAST(x'c3' AS TEXT) WHERE path LIKE ?", SECOND),
    "sessions.session: not UTF-8": ("UPDATE sessions SET session = CAST(CAST(session AS BLOB) || x'80' AS TEXT)"
                                    " WHERE session LIKE ?", SECOND),
    "holders: a cut entry": ("UPDATE holders SET entries = substr(entries, 1, 7)",),
    "holders: a changed byte": ("UPDATE holders SET entries = x'00000000' || substr(entries, 5)",),
}


@pytest.mark.parametrize("case", FILE_DAMAGE)
@pytest.mark.parametrize("refold", ["all", "delta"])
def test_a_damaged_stored_value_is_dropped_and_read_again(tmp_path: Path, case: str, refold: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored value that does not decode is that file's (or session's) rows dropped, the file read
    again and the ledger computed again: one line, exit 0, the figures of `--no-cache`; never exit 70.
    Both ways a refresh re-folds (every call, or only the calls it changes) meet the damage."""
    if refold == "delta":
        monkeypatch.setattr("openusage.scan.REFOLD_ALL_SHARE", float("inf"))
    _home, second, env = make_home(tmp_path)
    sql, *args = FILE_DAMAGE[case]
    damage(sql, *args)
    second.usage(T + 120, (5, 5, 0, 0), "chatcmpl-4")  # the damaged file changes: its rows are read
    second.title("Plan again")  # and so does its session
    stderr = cached_run_equals_no_cache(env)
    lines = notice_lines(stderr)
    if case == "account: another name" and refold == "all":
        # The row now belongs to an account that does not exist: no refresh reads it, and the real
        # account, which folds only its own rows, reads the file again. Nothing to find.
        assert lines == []
    else:
        assert len(lines) == 1, lines  # found, and said once
        assert "damaged" in lines[0]
        assert str(cache_file()) in lines[0]
    assert notice_lines(cached_run_equals_no_cache(env)) == []  # repaired for good
    assert tokens(run_snapshot(env, "--no-cache")["snapshots"][0]) == (306, 37, 3003, 4)


def test_damage_in_a_file_that_did_not_change_is_found_when_its_calls_are_folded(tmp_path: Path) -> None:
    """A ledger refold reads every file's copies: damage there is dropped and read again too."""
    home, _second, env = make_home(tmp_path)
    damage("UPDATE files SET records = x'00ff' WHERE path LIKE ?", SECOND)
    damage("DELETE FROM summaries")  # the ledger is gone: every stored copy is folded again
    home.session(uid("3")).usage(T + 300, (1, 1, 0, 0), "chatcmpl-5")
    lines = notice_lines(cached_run_equals_no_cache(env))
    assert len(lines) == 1
    assert "damaged" in lines[0]
    assert notice_lines(cached_run_equals_no_cache(env)) == []


LEDGER_DAMAGE = {
    "summary body": "UPDATE summaries SET body = x'00ff'",
    "summary body, a changed byte": "UPDATE summaries SET body = substr(body, 1, 20) || x'7f' || substr(body, 22)",
    "summary body: text": "UPDATE summaries SET body = 'text'",
    "summary diagnostics": "UPDATE summaries SET files = x'0102'",
    "summary generation: text": "UPDATE summaries SET generation = 'x'",
    "a day's sessions": "UPDATE ledger_days SET body = x'00ff'",
    "a day's sessions, a changed byte":
        "UPDATE ledger_days SET body = substr(body, 1, 10) || x'7f' || substr(body, 12)",
    "a day's sessions: gone": "DELETE FROM ledger_days",
    "a day's sessions: another day's": "UPDATE ledger_days SET day = day + 1",
    "the sessions' calls": "UPDATE ledger_sessions SET body = x'00ff'",
    "the sessions' calls: gone": "DELETE FROM ledger_sessions",
}


LEDGER_PART_DAMAGE = {
    "a day's sessions": ("UPDATE ledger_days SET body = ?", seal(marshal.dumps({}))),
    "a day's sessions: not a dict": ("UPDATE ledger_days SET body = ?", seal(marshal.dumps([1]))),
    "the sessions' calls": ("UPDATE ledger_sessions SET body = ?", seal(marshal.dumps({"x": 1}))),
    "the sessions' calls: another part's": ("UPDATE ledger_sessions SET shard = (shard + 1) % 64",),
    "the sessions' calls: a changed byte": ("UPDATE ledger_sessions SET body = x'00' || substr(body, 2)",),
}


@pytest.mark.parametrize("case", LEDGER_PART_DAMAGE)
def test_a_damaged_ledger_part_is_found_when_calls_are_counted_in_or_out(tmp_path: Path, case: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger's per-session parts are read when a refresh counts calls in and out of it (and a day's,
    when a window covers it): one that is not what was stored, even sealed, is dropped, the ledger
    computed again, with one line."""
    monkeypatch.setattr("openusage.scan.REFOLD_ALL_SHARE", float("inf"))  # count in and out, not re-fold
    _home, second, env = make_home(tmp_path)
    sql, *args = LEDGER_PART_DAMAGE[case]
    damage(sql, *args)
    second.usage(T + 120, (5, 5, 0, 0), "chatcmpl-4")
    lines = notice_lines(cached_run_equals_no_cache(env))
    assert len(lines) == 1, lines
    assert "damaged" in lines[0]
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert tokens(run_snapshot(env, "--no-cache")["snapshots"][0]) == (306, 37, 3003, 4)


@pytest.mark.parametrize("case", LEDGER_DAMAGE)
def test_a_damaged_stored_ledger_is_computed_again(tmp_path: Path, case: str) -> None:
    """The ledger is computed from the stored copies: a damaged one is computed again, even on a run
    that reads no file (with a notice only when SQLite itself cannot read the value)."""
    _home, _second, env = make_home(tmp_path)
    damage(LEDGER_DAMAGE[case])
    lines = notice_lines(cached_run_equals_no_cache(env))
    assert len(lines) <= 1, lines
    assert all("damaged" in line for line in lines), lines
    assert notice_lines(cached_run_equals_no_cache(env)) == []


# -- a damaged cache file -------------------------------------------------------------------------------

def many_sessions(tmp_path: Path) -> tuple[list[Session], dict[str, str | None]]:
    """Enough sessions and calls for a cache file of many pages, the cache warm."""
    home = KimiHome(tmp_path / "kimi")
    made = [home.session(uid(f"{n % 16:x}") + f"-{n}", title="Plan") for n in range(40)]
    for n, s in enumerate(made):
        for k in range(80):
            s.usage(T + k, (n + 1, k, 10, 0), f"chatcmpl-{n}-{k}")
    env = env_for(home.root)
    run_snapshot(env)
    cached_report_equals_no_cache(env)  # the settled calls and the sessions' facts are in the cache too
    return made, env


def cached_report_equals_no_cache(env: dict[str, str | None]) -> str:
    """A cached session report (which reads the tables a snapshot does not: settled calls, facts):
    exit 0, the rows of `--no-cache`; returns its stderr."""
    args = ["report", "session", "--json", "--tz", "UTC"]
    result = invoke(args, env)
    assert result.exit_code == 0, explain(result)
    cold = invoke([*args, "--no-cache"], env)
    assert cold.exit_code == 0, explain(cold)
    assert json.loads(result.stdout) == json.loads(cold.stdout)
    return result.stderr


def integrity(path: Path) -> str:
    try:
        with sqlite3.connect(path) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)


def page_start(path: Path, offset: int) -> int:
    """The start of the page that holds `offset`: its header and first cells, which are always in use
    (the free space inside a page, which may be most of a 16 KiB page, is never read)."""
    with path.open("rb") as f:
        f.seek(16)
        size = int.from_bytes(f.read(2), "big")
    page = 65536 if size == 1 else size  # the header's way of saying 65536
    return offset // page * page


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75, "schema", "header"])
def test_a_damaged_cache_file_is_moved_aside_once_and_rebuilt(tmp_path: Path, where: float | str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Damage SQLite reports ("database disk image is malformed", "file is not a database") anywhere in
    the file: one line, the file moved aside, a new cache built; the next runs read only what changed
    and say nothing."""
    # The ledger re-folded whole, so that its stored parts are all rewritten (a refresh that counts a few
    # calls in and out reads only the parts of their sessions and days: damage elsewhere is found when
    # a later run reads it).
    monkeypatch.setattr("openusage.scan.REFOLD_ALL_SHARE", 0.0)
    made, env = many_sessions(tmp_path)
    path = cache_file()
    size = path.stat().st_size

    offset = {"schema": 100, "header": 0}[where] if isinstance(where, str) else page_start(path, int(size * where))
    with path.open("r+b") as f:
        f.seek(offset)
        f.write((bytes(range(256)) * 12)[: 3000 if where != "header" else 100])
    assert integrity(path) != "ok"
    notices: list[str] = []
    for n, s in enumerate(made):  # every file changes: the run reads every row and page of the cache
        s.usage(T + 1000, (n, 1, 0, 0), f"chatcmpl-{n}-late")
    notices += notice_lines(cached_run_equals_no_cache(env))
    notices += notice_lines(cached_report_equals_no_cache(env))  # every table is read by one or the other
    assert len(notices) == 1, notices
    assert "damaged" in notices[0]
    assert "moved it to" in notices[0]
    assert len([p for p in path.parent.glob("cache.sqlite3.corrupt-*") if p.name[-4:] not in ("-wal", "-shm")]) == 1
    assert integrity(path) == "ok"
    made[0].usage(T + 2000, (1, 1, 0, 0), "chatcmpl-later")
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert notice_lines(cached_report_equals_no_cache(env)) == []
    assert notice_lines(cached_run_equals_no_cache(env)) == []


@pytest.mark.parametrize("change", ["DROP TABLE holders", "ALTER TABLE sessions DROP COLUMN checksum",
                                    "DROP TABLE meta; CREATE TABLE meta(key TEXT PRIMARY KEY, other TEXT)",
                                    "UPDATE meta SET value = CAST(x'ff31' AS TEXT)"])
def test_a_cache_whose_tables_are_not_its_schemas_is_replaced_once(tmp_path: Path, change: str) -> None:
    """The cache says it has this version's schema but its tables are not that schema's (a hand edit):
    SQLite's "no such table" / "no such column" is damage like any other, not a reason to read without
    the cache on every run."""
    _home, second, env = make_home(tmp_path)
    with sqlite3.connect(cache_file()) as conn:
        conn.executescript(change)
    second.usage(T + 120, (5, 5, 0, 0), "chatcmpl-4")
    lines = notice_lines(cached_run_equals_no_cache(env))
    assert len(lines) == 1, lines
    assert "moved it to" in lines[0] or "rebuilding it" in lines[0], lines
    assert notice_lines(cached_run_equals_no_cache(env)) == []


def test_a_notice_about_a_damaged_cache_is_one_printable_line(tmp_path: Path) -> None:
    """SQLite's message quotes the damaged schema (here a terminal escape and a newline): the notice
    shows them escaped, on one line."""
    _home, _second, env = make_home(tmp_path)
    with sqlite3.connect(cache_file()) as conn:
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE meta(' || char(27) || '[31m' || char(10) || 'x'"
                     " WHERE name = 'meta'")
    lines = notice_lines(cached_run_equals_no_cache(env))
    assert len(lines) == 1, lines
    assert "\x1b" not in lines[0]
    assert "moved it to" in lines[0]
    assert notice_lines(cached_run_equals_no_cache(env)) == []


# -- a cache that cannot be written -------------------------------------------------------------------

NOBODY = 65534


class User:
    """Runs the real command as an unprivileged user (when the suite runs as root, through setpriv or
    runuser: root may write anywhere, so a directory of mode 555 would prove nothing), in a directory
    under /tmp that user owns and can reach."""

    def __init__(self, base: Path) -> None:
        self.dir = base
        self.root = os.geteuid() == 0

    def own(self) -> None:
        """Give everything made under the directory to the user (call after building it)."""
        if self.root:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.lchown(path, NOBODY, NOBODY)

    def run(self, env: dict[str, str | None], *args: str) -> tuple[int, str, str]:
        command, extra = user_command(*args)
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.dir),
                "XDG_CONFIG_HOME": str(self.dir / "config"),  # no settings file there: the defaults
                "OPENUSAGE_CACHE_DIR": str(self.dir / "cache"), **extra}
        full.update({k: v for k, v in env.items() if v is not None})
        done = subprocess.run(command, env=full, capture_output=True, text=True, timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr


@pytest.fixture
def user() -> Iterator[User]:
    user_python()  # skips, with the reason, when no interpreter can run openusage as that user
    base = Path(tempfile.mkdtemp(prefix="openusage-user-", dir="/tmp"))
    base.chmod(0o755)
    made = User(base)
    yield made
    for path in [base, *base.rglob("*")]:  # a directory of mode 555 cannot be emptied
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(base)


def user_home(user: User) -> dict[str, str | None]:
    home = KimiHome(user.dir / "kimi")
    for n in range(3):
        s = home.session(uid(f"{n}"), title="Plan")
        for k in range(4):
            s.usage(T + k, (n + 1, k, 10, 0), f"chatcmpl-{n}-{k}")
    return env_for(home.root)


def user_snapshot(user: User, env: dict[str, str | None], *args: str) -> tuple[dict[str, object], list[str]]:
    """A run as the user: exit 0, no traceback; its document and its notice lines."""
    code, out, err = user.run(env, "snapshot", "--json", *args)
    assert code == 0, (code, err)
    assert "Traceback" not in err
    return comparable(json.loads(out)), notice_lines(err)


@pytest.mark.parametrize("existing", [False, True])
def test_a_cache_directory_that_is_not_writable_is_skipped_with_one_line(user: User, existing: bool) -> None:
    """Mode 555 (as a user who cannot override it), with or without a cache in it: one line saying so,
    the figures of `--no-cache`, exit 0; nothing is moved or created."""
    env = user_home(user)
    cache = user.dir / "cache"
    cache.mkdir()
    user.own()
    if existing:
        user_snapshot(user, env)  # a cache made while the directory was writable
    cache.chmod(0o555)
    before = sorted(p.name for p in cache.iterdir())
    cold, quiet = user_snapshot(user, env, "--no-cache")
    assert quiet == []
    for _ in range(2):  # and the same on the next run: nothing left half done
        doc, lines = user_snapshot(user, env)
        assert doc == cold
        assert len(lines) == 1, lines
        assert "not writable" in lines[0]
        assert lines[0].endswith("reading without it")
        assert sorted(p.name for p in cache.iterdir()) == before
    cache.chmod(0o755)
    doc, lines = user_snapshot(user, env)  # writable again: the cache is used, silently
    assert (doc, lines) == (cold, [])
    assert (cache / "cache.sqlite3").is_file()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system (tmpfs, mounted as root) for the cache: room for the cache of two sessions
    (~0.3 MiB of 16 KiB pages), not for that of 300 sessions of 60 calls, nor for a refresh that adds
    198 such sessions (written to the WAL, then copied into the database)."""
    if os.geteuid() != 0:
        pytest.skip("a size-limited file system needs root to mount (tmpfs)")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("when", ["first run", "full from the start", "refresh"])
def test_a_full_cache_file_system_is_skipped_with_one_line(tmp_path: Path, small_fs: Path, when: str) -> None:
    """No space left for the cache, when it is made, from the start, or on a later refresh: one line,
    the figures of `--no-cache`, exit 0; once there is room again the cache is built and used."""
    home = KimiHome(tmp_path / "kimi")
    env: dict[str, str | None] = {**env_for(home.root), "OPENUSAGE_CACHE_DIR": str(small_fs)}
    count = 300 if when != "refresh" else 2
    made = [home.session(uid(f"{n % 16:x}") + f"-{n}", title="Plan") for n in range(count)]
    for n, s in enumerate(made):
        for k in range(60):
            s.usage(T + k, (n + 1, k, 10, 0), f"chatcmpl-{n}-{k}")
    filler = small_fs / "filler"
    if when == "full from the start":
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:  # the file system is full
            assert exc.errno == 28  # noqa: PT017 - ENOSPC ends the loop
        finally:
            os.close(fd)
    if when == "refresh":
        assert notice_lines(cached_run_equals_no_cache(env)) == []
        for n in range(2, 200):  # the next refresh has far more to store than there is room for
            s = home.session(uid(f"{n % 16:x}") + f"-{n}")
            for k in range(60):
                s.usage(T + k, (n + 1, k, 10, 0), f"chatcmpl-{n}-{k}")
    for _ in range(2):
        lines = notice_lines(cached_run_equals_no_cache(env))
        assert len(lines) == 1, lines
        assert "no space left" in lines[0] or "not writable" in lines[0], lines
        assert lines[0].endswith("reading without it")
    filler.unlink(missing_ok=True)
    for path in small_fs.iterdir():
        path.unlink()
    env["OPENUSAGE_CACHE_DIR"] = str(tmp_path / "roomy")
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert notice_lines(cached_run_equals_no_cache(env)) == []


# -- permissions ---------------------------------------------------------------------------------------

def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_cache_and_its_directory_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    """They hold the paths and names of every session: 0700 and 0600, the directories made for it
    too, and SQLite's -wal and -shm files."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(T, (1, 2, 3, 4), "chatcmpl-1")
    cache = tmp_path / "made" / "for" / "cache"
    env = {**os.environ, **{k: v for k, v in env_for(home.root).items() if v is not None},
           "OPENUSAGE_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "openusage", "snapshot", "--json"]
    done = subprocess.run(command, env=env, umask=umask, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert [mode(p) for p in (tmp_path / "made", tmp_path / "made" / "for", cache)] == [0o700] * 3
    assert mode(cache / "cache.sqlite3") == 0o600
    old = os.umask(umask)
    try:
        with sqlite3.connect(cache / "cache.sqlite3") as reader:  # holds the -wal and -shm files open
            reader.execute("BEGIN")
            reader.execute("SELECT COUNT(*) FROM files").fetchone()
            done = subprocess.run(command, env=env, umask=umask, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
            assert mode(cache / "cache.sqlite3-wal") == 0o600
            assert mode(cache / "cache.sqlite3-shm") == 0o600
            reader.execute("COMMIT")
    finally:
        os.umask(old)
    assert notice_lines(cached_run_equals_no_cache({**env_for(home.root), "OPENUSAGE_CACHE_DIR": str(cache)})) == []


def test_a_cache_made_world_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    _home, _second, env = make_home(tmp_path)
    cache_file().chmod(0o644)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert mode(cache_file()) == 0o600


# -- names that are not UTF-8 --------------------------------------------------------------------------

def cached_rows() -> int:
    with sqlite3.connect(cache_file()) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])


def test_directory_names_that_are_not_utf8_are_cached_exactly(tmp_path: Path) -> None:
    """A group, a session and a subagent directory whose names are not UTF-8 (Python reads them with
    surrogate escapes), two of them differing only in their undecodable byte: the cache stores and
    compares them exactly, so a cached run is `--no-cache` and the cache stays on."""
    home = KimiHome(tmp_path / "kimi")
    plain = home.session(uid("1"), title="Plan")
    plain.usage(T, (100, 10, 0, 0), "chatcmpl-1")
    group = os.fsdecode(b"group-\xff")
    odd = Session(home.sessions, os.fsdecode(b"session-\xe9"), group)
    odd.usage(T + 60, (7, 1, 0, 0), "chatcmpl-2")
    twin = home.fork(odd, os.fsdecode(b"session-\xe8"), "Fork: odd")  # holds chatcmpl-2 too
    twin.usage(T + 120, (0, 3, 0, 0), "chatcmpl-3")
    Session(home.sessions, os.fsdecode(b"sub-\xfe"), group).subagent(os.fsdecode(b"agent-\xc3")).usage(
        T + 180, (0, 0, 5, 0), "chatcmpl-4")
    env = env_for(home.root)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert cached_rows() == 5  # the cache holds every file: it was not skipped
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    odd.usage(T + 240, (1, 1, 1, 1), "chatcmpl-5")
    (twin.dir / "state.json").unlink()  # no title: the copy's session name decides, byte by byte
    assert notice_lines(cached_run_equals_no_cache(env)) == []

    shutil.rmtree(odd.dir)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert tokens(run_snapshot(env)["snapshots"][0]) == (107, 14, 5, 0)
    assert cached_rows() == 4


def test_kimi_code_names_that_are_not_utf8_are_cached_exactly(tmp_path: Path) -> None:
    """The same for Kimi Code: a session directory and an agent directory that are not UTF-8, and a
    fork whose `forkedFrom` names that session with a JSON escape of its surrogate."""
    from kimi_code_home import WD, KimiCodeHome, code_env, ms

    home = KimiCodeHome(tmp_path / "code")
    odd_name = os.fsdecode(b"ses_\xff")
    odd = home.session(WD, odd_name)
    odd.main.header().usage(ms("2026-11-19T10:00:00Z"), (50, 5, 0, 0))
    sub = odd.agent("sub").header().usage(ms("2026-11-19T10:01:00Z"), (1, 1, 0, 0))
    fork = home.fork(odd, "ses_fork")
    assert fork.state()["forkedFrom"] == odd_name
    for agents in (odd.dir / "agents", fork.dir / "agents"):  # the agent directory's name is part of a call's key
        (agents / "sub").rename(agents / os.fsdecode(b"sub\xfe"))
    assert not sub.path.exists()
    fork.main.usage(ms("2026-11-19T11:00:00Z"), (2, 2, 0, 0))
    env = code_env(home.root)
    assert notice_lines(cached_run_equals_no_cache(env)) == []
    assert cached_rows() == 4
    odd.main.usage(ms("2026-11-19T12:00:00Z"), (3, 3, 0, 0))
    assert notice_lines(cached_run_equals_no_cache(env)) == []


# -- several processes at once ---------------------------------------------------------------------------

def appender(path: Path, count: int, stop: list[bool]) -> None:
    """What an agent does while openusage runs: append usage lines, each written in two parts (so a
    reader may see half a line), one call more each time; stops early when told."""
    for n in range(count):
        if stop:
            return
        data = (line_for(n) + "\n").encode()
        with path.open("ab") as f:
            f.write(data[:40])
            f.flush()
            time.sleep(0.002)
            f.write(data[40:])
        time.sleep(0.01)


def line_for(n: int) -> str:
    from kimi_home import line, status_update

    return line(T + 10_000 + n, status_update((1, 1, 0, 0), mid=f"chatcmpl-appended-{n}"))


@pytest.mark.parametrize("processes", [2, 8])
def test_processes_at_once_while_a_writer_appends_all_agree(tmp_path: Path, processes: int) -> None:
    """Two to eight `openusage snapshot --json` at once, from an empty cache and then a warm one,
    while a wire file grows: every process exits 0 with the figures of some state of the file (each
    appended call counted whole or not at all), none is left behind, and the last run equals
    `--no-cache`."""
    home = KimiHome(tmp_path / "kimi")
    for n in range(300):  # enough sessions for the comparison to run in worker processes
        home.session(uid(f"{n % 16:x}") + f"-{n}").usage(T + n, (10, 2, 0, 0), f"chatcmpl-{n}")
    growing = home.session(uid("f") + "-growing")
    growing.usage(T, (5, 5, 0, 0), "chatcmpl-first")
    env = {**os.environ, **{k: v for k, v in env_for(home.root).items() if v is not None}}
    stop: list[bool] = []
    writer = threading.Thread(target=appender, args=(growing.path, 150, stop))
    writer.start()
    started: list[subprocess.Popen[str]] = []
    try:
        for _round in range(3):
            procs = [subprocess.Popen([sys.executable, "-m", "openusage", "snapshot", "--json"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True) for _ in range(processes)]
            started += procs
            for proc in procs:
                out, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err
                assert err == ""  # not even "database is locked: reading without it"
                snap = json.loads(out)["snapshots"][0]
                seen = snap["diagnostics"]["records_counted"] - 301  # the appended calls it counted
                assert 0 <= seen <= 150
                assert tokens(snap) == (3005 + seen, 605 + seen, 0, 0), err
    finally:
        stop.append(True)
        writer.join()
    for proc in started:  # no process left behind: not the command, not one of its workers
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)
    assert notice_lines(cached_run_equals_no_cache(env_for(home.root))) == []


def test_a_new_cache_another_process_is_making_is_waited_for(tmp_path: Path) -> None:
    """Processes that start together race to make a new cache a WAL database, and SQLite tells the one
    that has begun reading "database is locked" at once, without waiting (it could deadlock): it must
    try again, not read without the cache. Here the other process holds the write lock for a moment."""
    path = tmp_path / "cache" / "cache.sqlite3"
    path.parent.mkdir()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE making(x)")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        store = Store(path)
        store.close()
    finally:
        release.join()
        other.close()
