"""Directory listings remembered between runs (`providers/listing.py`): a directory whose own stat is
unchanged is not listed again, a directory changed within the clock tick of its listing is never
missed, and every warm run still gives the `--no-cache` figures."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from kimi_code_home import ALIAS, KimiCodeHome, code_env, ms, sid
from kimi_home import KimiHome, at, comparable, env_for, invoke, run_snapshot, sessions, tokens, uid
from openusage.providers import listing
from openusage.providers.listing import Entry, Listings

T = at("2026-11-19T10:00:00Z")
NAMES = frozenset(("wire.jsonl", "state.json"))
LATER = 60 * 10**9  # a clock this far ahead: every directory made by the test is old enough to trust


def _session_dir(tmp_path: Path) -> tuple[str, str, str]:
    """holder/session with a wire file, a state file, a file of no interest and a subdirectory."""
    holder = tmp_path / "group"
    directory = holder / "s1"
    (directory / "subagents" / "a1").mkdir(parents=True)
    for name in ("wire.jsonl", "state.json", "context.jsonl"):
        (directory / name).write_text("{}\n")
    return str(holder), "s1", str(directory)


def _names(children: list[listing.DirEntryLike]) -> set[str]:
    return {entry.name for entry in children}


def test_an_unchanged_directory_is_answered_from_memory(tmp_path: Path) -> None:
    holder, session, directory = _session_dir(tmp_path)
    first = Listings({}, now_ns=time.time_ns() + LATER)
    listed = first.entries(directory, session, holder, NAMES)
    assert all(isinstance(entry, os.DirEntry) for entry in listed)
    body = first.changes({session})[session]
    assert body is not None

    again = Listings({session: body}, now_ns=time.time_ns() + LATER)
    remembered = again.entries(directory, session, holder, NAMES)
    assert all(isinstance(entry, Entry) for entry in remembered)  # not listed: from memory
    assert _names(remembered) == {"wire.jsonl", "state.json", "subagents"}  # context.jsonl: of no interest
    by_name = {entry.name: entry for entry in remembered}
    assert by_name["subagents"].is_dir()
    assert not by_name["wire.jsonl"].is_dir()
    assert by_name["subagents"].inode() == os.stat(os.path.join(directory, "subagents")).st_ino
    assert by_name["wire.jsonl"].stat().st_size == 3
    assert again.changes({session}) == {}  # nothing to write again


def test_a_directory_changed_within_the_tick_of_its_listing_is_listed_again(tmp_path: Path) -> None:
    """The directory was just made: its listing is not remembered, so a file added right after it
    (within the same clock tick, its mtime even set back to what it was) is found by the next walk."""
    holder, session, directory = _session_dir(tmp_path)
    before = os.stat(directory)
    first = Listings({})  # the real clock: the directory is younger than TRUST_AFTER_NS
    assert _names(first.entries(directory, session, holder, NAMES)) == {
        "wire.jsonl", "state.json", "context.jsonl", "subagents"}
    assert first.changes({session}) == {}  # nothing remembered of a directory changed so recently
    os.mkdir(os.path.join(directory, "subagents2"))
    os.utime(directory, ns=(before.st_atime_ns, before.st_mtime_ns))  # its mtime as it was listed

    second = Listings({})
    assert "subagents2" in _names(second.entries(directory, session, holder, NAMES))


def test_a_remembered_directory_changed_with_its_mtime_set_back_is_listed_again(tmp_path: Path) -> None:
    """An entry added to a remembered directory whose mtime is then set back: its ctime moved, so its
    signature is not the remembered one."""
    holder, session, directory = _session_dir(tmp_path)
    before = os.stat(directory)
    first = Listings({}, now_ns=time.time_ns() + LATER)
    first.entries(directory, session, holder, NAMES)
    body = first.changes({session})[session]
    assert body is not None
    time.sleep(0.02)  # past the filesystem's clock tick
    os.mkdir(os.path.join(directory, "subagents2"))
    os.utime(directory, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(directory).st_mtime_ns == before.st_mtime_ns

    second = Listings({session: body}, now_ns=time.time_ns() + LATER)
    children = second.entries(directory, session, holder, NAMES)
    assert "subagents2" in _names(children)
    assert all(isinstance(entry, os.DirEntry) for entry in children)  # listed, not remembered
    assert second.changes({session})[session] != body


def test_a_damaged_body_is_as_good_as_none(tmp_path: Path) -> None:
    holder, session, directory = _session_dir(tmp_path)
    for body in (b"", b"\x00garbage", listing.encode({holder: {"": (1, (("wire.jsonl",),))}})):  # type: ignore[dict-item]
        children = Listings({session: body}, now_ns=time.time_ns() + LATER).entries(directory, session, holder,
                                                                                     NAMES)
        assert "wire.jsonl" in _names(children)


def test_a_symlink_is_followed_again_every_time(tmp_path: Path) -> None:
    """A remembered symlink's target is looked up each time: it can change without its directory."""
    holder, session, directory = _session_dir(tmp_path)
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.symlink(target, os.path.join(directory, "linked"))
    first = Listings({}, now_ns=time.time_ns() + LATER)
    first.entries(directory, session, holder, NAMES)
    body = first.changes({session})[session]
    assert body is not None
    target.rmdir()
    target.write_text("now a file")
    link = {e.name: e for e in Listings({session: body}, now_ns=time.time_ns() + LATER).entries(
        directory, session, holder, NAMES)}["linked"]
    assert isinstance(link, Entry)
    assert link.is_symlink()
    assert not link.is_dir()


# -- whole runs: every directory trusted at once, as on a home not touched for a while ----------------

@pytest.fixture
def trust_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every directory counts as unchanged long enough (the test's directories are seconds old)."""
    monkeypatch.setattr(listing, "TRUST_AFTER_NS", -LATER)


def _remembered(env: dict[str, str | None]) -> int:
    path = Path(env.get("OPENUSAGE_CACHE_DIR") or os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM listings").fetchone()[0])


def _cached_equals_cold(env: dict[str, str | None]) -> dict[str, object]:
    cached = run_snapshot(env)
    cold = run_snapshot(env, "--no-cache")
    assert comparable(cached) == comparable(cold)
    return dict(cold["snapshots"][0])


def _code_cached_equals_cold(env: dict[str, str | None]) -> tuple[int, int, int, int]:
    """The same for a Kimi Code home (whose documents `run_snapshot` does not check); its tokens."""
    docs = []
    for extra in ([], ["--no-cache"]):
        result = invoke(["snapshot", "--json", *extra], env)
        assert result.exit_code == 0, result.stderr
        docs.append(comparable(json.loads(result.stdout)))
    assert docs[0] == docs[1]
    return tokens(docs[1]["snapshots"][0])


@pytest.mark.usefixtures("trust_all")
def test_kimi_cli_changes_under_remembered_listings_are_all_found(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    one = home.session(uid("1"), title="One")
    one.usage(T, (100, 10, 0, 0), "chatcmpl-1")
    sub = one.subagent("agent-1")
    sub.usage(T + 1, (1, 1, 0, 0), "chatcmpl-s1")
    two = home.session(uid("2"), title="Two")
    two.usage(T + 2, (200, 20, 0, 0), "chatcmpl-2")
    env = env_for(home.root)
    _cached_equals_cold(env)  # the first run
    _cached_equals_cold(env)  # a warm run: remembers the listings
    assert _remembered(env) == 2

    # In remembered directories: a new agent, a new wire file in an agent's directory that had none,
    # a replaced wire file, a deleted one, a new session.
    one.subagent("agent-2").usage(T + 3, (3, 3, 0, 0), "chatcmpl-s2")
    empty = one.dir / "subagents" / "agent-3"
    empty.mkdir()
    assert tokens(_cached_equals_cold(env)) == (304, 34, 0, 0)
    (empty / "wire.jsonl").write_text((one.dir / "subagents" / "agent-2" / "wire.jsonl").read_text()
                                      .replace("chatcmpl-s2", "chatcmpl-s3"))
    assert tokens(_cached_equals_cold(env)) == (307, 37, 0, 0)
    sub.path.unlink()
    assert tokens(_cached_equals_cold(env)) == (306, 36, 0, 0)
    three = home.session(uid("3"), title="Three")
    three.usage(T + 4, (5, 5, 0, 0), "chatcmpl-3")
    snap = _cached_equals_cold(env)
    assert tokens(snap) == (311, 41, 0, 0)
    assert sessions(snap)[0] == 3
    shutil.rmtree(two.dir)
    assert sessions(_cached_equals_cold(env))[0] == 2
    assert _remembered(env) == 2  # the removed session's listing is forgotten


@pytest.mark.usefixtures("trust_all")
def test_a_damaged_remembered_listing_is_listed_again_and_rewritten(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    one = home.session(uid("1"), title="One")
    one.usage(T, (100, 10, 0, 0), "chatcmpl-1")
    env = env_for(home.root)
    _cached_equals_cold(env)
    _cached_equals_cold(env)
    path = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE listings SET body = X'00000000DEAD'")
    one.subagent("agent-1").usage(T + 1, (1, 1, 0, 0), "chatcmpl-s1")
    assert tokens(_cached_equals_cold(env)) == (101, 11, 0, 0)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT body FROM listings").fetchone()[0] != bytes.fromhex("00000000DEAD")


@pytest.mark.usefixtures("trust_all")
def test_kimi_code_new_agents_under_a_remembered_listing_are_found(tmp_path: Path) -> None:
    home = KimiCodeHome(tmp_path / "kc")
    session = home.session("wd-1", sid("1"))
    session.main.header()
    session.main.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    env = code_env(home.root)
    _code_cached_equals_cold(env)
    _code_cached_equals_cold(env)
    assert _remembered(env) == 1
    helper = session.agent("helper")
    helper.header()
    helper.usage(ms("2026-11-19T10:01:00Z"), (7, 7, 0, 0), ALIAS)
    assert _code_cached_equals_cold(env)[:2] == (107, 17)
