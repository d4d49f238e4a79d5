"""Kimi Code across roots: "count each identity once across all sessions and roots" (kimi-code-format.md).

A second Kimi Code root (the desktop app's embedded home) is a second account. A record copied into
both roots counts once, in the account whose session the ownership rule picks over the holders of
every root: not a fork of another holder (`forkedFrom` followed through the sessions of any root),
then no `forked` marker after the copy, then the session name that sorts first, then the account
listed first. Every run goes through `all_paths` (no cache, cold cache, warm cache: the same document).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kimi_code_home import WD, KimiCodeHome, Session, all_paths, clean, code_diag, code_env, compaction, ms, sid
from kimi_home import by_account, invoke, sessions, settings_file, tokens

pytestmark = pytest.mark.usefixtures("refold_path")

DESKTOP = "kimi_desktop"
T1, T2, T3 = "2026-11-19T10:00:00Z", "2026-11-19T11:00:00Z", "2026-11-20T10:00:00Z"


def write_settings(data: Any) -> None:
    settings_file().write_text(json.dumps(data), encoding="utf-8")


def desktop_account(home: KimiCodeHome) -> dict[str, Any]:
    return {"id": DESKTOP, "provider": "kimi_code", "extra": {"home": str(home.root)}}


@pytest.fixture
def main(isolated_env: Path) -> KimiCodeHome:
    """~/.kimi-code, found by detection (the account listed first)."""
    return KimiCodeHome(isolated_env / ".kimi-code")


@pytest.fixture
def desktop(tmp_path: Path) -> KimiCodeHome:
    """The desktop app's embedded home, added in the settings as a second account."""
    home = KimiCodeHome(tmp_path / "kimi-desktop" / "daimon-share" / "daimon" / "runtime" / "kimi-code" / "home")
    write_settings({"accounts": [desktop_account(home)]})
    return home


def session(home: KimiCodeHome, session_id: str, *calls: tuple[str, tuple[int, int, int, int], str]) -> Session:
    """A session whose main journal holds the given (iso time, counts, scope) usage records."""
    s = home.session(WD, session_id)
    s.main.header()
    for iso, counts, scope in calls:
        s.main.usage(ms(iso), counts, scope=scope)
    return s


def both() -> dict[str, dict[str, Any]]:
    """Both accounts' snapshots; each one's figures are the same when it is asked for alone."""
    snaps = by_account(all_paths(code_env()))
    assert set(snaps) == {"kimi_code", DESKTOP}
    for account, snap in snaps.items():
        alone = all_paths(code_env(), "--account", account, fresh_cache=False)
        assert alone["snapshots"] == [snap], account
    return snaps


def test_a_record_in_two_roots_counts_once_in_the_session_that_sorts_first(
    main: KimiCodeHome, desktop: KimiCodeHome
) -> None:
    session(main, sid("s"), (T1, (100, 10, 0, 0), "turn"), (T2, (5, 1, 0, 0), "turn"))
    session(desktop, "conv-0001", (T1, (100, 10, 0, 0), "turn"))  # the same record: "conv-…" < "session_…"
    session(desktop, "conv-0002", (T3, (7, 1, 0, 0), "session"))

    snaps = both()

    assert tokens(snaps["kimi_code"]) == (5, 1, 0, 0)
    assert sessions(snaps["kimi_code"]) == (1, 0, 1)
    assert code_diag(snaps["kimi_code"]) == clean(files_read=1, records=1, elsewhere=1)
    assert tokens(snaps[DESKTOP]) == (107, 11, 0, 0)
    assert sessions(snaps[DESKTOP]) == (2, 1, 2)
    assert compaction(snaps[DESKTOP]) == (1, 8)
    # The copy in the other root is the folded one: counted where the call is.
    assert code_diag(snaps[DESKTOP]) == clean(files_read=2, records=2, duplicates=1, session=1)
    tiles = invoke(["snapshot"], {**code_env(), "COLUMNS": "160"})
    assert tiles.exit_code == 0
    assert "1 call also held by another Kimi Code account and counted there" in tiles.stdout


def test_a_fork_in_another_root_yields_to_its_source(main: KimiCodeHome, desktop: KimiCodeHome) -> None:
    source = session(main, sid("b"), (T1, (100, 10, 0, 0), "turn"), (T2, (20, 2, 0, 0), "turn"))
    # Forked into the desktop home under a name that sorts first, with no marker: only forkedFrom,
    # followed into the other root, says that the source owns the inherited records.
    fork = desktop.fork(source, sid("a"), marker=False)
    fork.main.usage(ms(T3), (3, 1, 0, 0))

    snaps = both()

    assert tokens(snaps["kimi_code"]) == (120, 12, 0, 0)
    assert sessions(snaps["kimi_code"]) == (1, 0, 1)
    assert tokens(snaps[DESKTOP]) == (3, 1, 0, 0)
    assert sessions(snaps[DESKTOP]) == (1, 1, 1)
    assert code_diag(snaps["kimi_code"])["duplicate_records"] == 2


def test_forkedfrom_runs_through_a_session_of_another_root(main: KimiCodeHome, desktop: KimiCodeHome) -> None:
    original = session(main, sid("c"), (T1, (100, 10, 0, 0), "turn"))
    middle = desktop.fork(original, sid("b"), marker=False)  # desktop: c -> b
    main.fork(middle, sid("a"), marker=False)  # back in ~/.kimi-code: b -> a, which sorts first

    snaps = both()

    assert tokens(snaps["kimi_code"]) == (100, 10, 0, 0)
    assert sessions(snaps["kimi_code"]) == (1, 0, 1)  # c owns it, not a
    assert tokens(snaps[DESKTOP]) == (0, 0, 0, 0)
    assert sessions(snaps[DESKTOP]) == (0, 0, 0)


def test_a_call_of_one_root_changes_owner_through_a_fork_in_another(main: KimiCodeHome, desktop: KimiCodeHome) -> None:
    """The call is held in the desktop home only, by c and by a, which sorts first. Only through b, in
    ~/.kimi-code (a -> b -> c, b holding no copy), is a a fork of c: so c owns it, and both sessions
    are active."""
    original = session(desktop, sid("c"), (T1, (100, 10, 0, 0), "turn"))
    fork = desktop.fork(original, sid("a"), marker=False, state={"forkedFrom": sid("b")})
    fork.main.usage(ms(T2), (1, 1, 0, 0))
    middle = main.session(WD, sid("b"), state={"forkedFrom": sid("c")})
    middle.main.header()  # a session with no usage of its own

    snaps = both()

    assert sessions(snaps[DESKTOP]) == (2, 0, 2)
    assert tokens(snaps[DESKTOP]) == (101, 11, 0, 0)
    assert sessions(snaps["kimi_code"]) == (0, 0, 0)


def test_an_unmarked_copy_wins_over_a_marked_one_in_another_root(main: KimiCodeHome, desktop: KimiCodeHome) -> None:
    source = session(main, sid("b"), (T1, (100, 10, 0, 0), "turn"))
    desktop.fork(source, sid("a"), marker=True, forked_from=False)  # a legacy-looking copy with a marker

    snaps = both()

    assert tokens(snaps["kimi_code"]) == (100, 10, 0, 0)
    assert tokens(snaps[DESKTOP]) == (0, 0, 0, 0)


@pytest.mark.parametrize("desktop_first", [False, True])
def test_the_same_session_in_both_roots_goes_to_the_account_listed_first(
    main: KimiCodeHome, desktop: KimiCodeHome, desktop_first: bool
) -> None:
    s = session(main, sid("1"), (T1, (100, 10, 0, 0), "turn"), (T3, (1, 1, 0, 0), "session"))
    shutil.copytree(s.dir, desktop.sessions / WD / s.id)  # the whole session, copied between roots
    main_account = {"id": "kimi_code", "provider": "kimi_code", "extra": {"home": str(main.root)}}
    order = [desktop_account(desktop), main_account] if desktop_first else [main_account, desktop_account(desktop)]
    write_settings({"auto_detect": False, "accounts": order})

    snaps = both()

    first, second = (DESKTOP, "kimi_code") if desktop_first else ("kimi_code", DESKTOP)
    assert tokens(snaps[first]) == (101, 11, 0, 0)
    assert sessions(snaps[first]) == (1, 1, 1)
    assert tokens(snaps[second]) == (0, 0, 0, 0)
    assert sessions(snaps[second]) == (0, 0, 0)
    assert (snaps[second]["status"], snaps[second]["message"]) == ("ok", "0 sessions, 0 tokens")
    assert snaps[second]["diagnostics"]["records_in_other_accounts"] == 2
    assert snaps[first]["diagnostics"]["records_in_other_accounts"] == 0


def test_cached_runs_follow_records_that_appear_and_vanish_in_the_other_root(
    main: KimiCodeHome, desktop: KimiCodeHome
) -> None:
    session(main, sid("s"), (T1, (100, 10, 0, 0), "turn"), (T2, (5, 1, 0, 0), "turn"))
    copy = session(desktop, "conv-0001", (T3, (7, 1, 0, 0), "turn"))
    first = both()
    assert tokens(first["kimi_code"]) == (105, 11, 0, 0)

    copy.main.usage(ms(T2), (5, 1, 0, 0))  # appended: now also a copy of the main home's second record
    after_append = by_account(all_paths(code_env(), fresh_cache=False))
    assert tokens(after_append["kimi_code"]) == (100, 10, 0, 0)
    assert tokens(after_append[DESKTOP]) == (12, 2, 0, 0)

    shutil.rmtree(copy.dir)  # the desktop's session is deleted: the main home owns its record again
    after_delete = by_account(all_paths(code_env(), fresh_cache=False))
    assert tokens(after_delete["kimi_code"]) == (105, 11, 0, 0)
    assert sessions(after_delete[DESKTOP]) == (0, 0, 0)

    write_settings({"accounts": []})  # the desktop account removed from the settings
    alone = by_account(all_paths(code_env(), fresh_cache=False))
    assert set(alone) == {"kimi_code"}
    assert tokens(alone["kimi_code"]) == (105, 11, 0, 0)


def test_a_stored_group_result_is_not_used_once_a_member_changed(main: KimiCodeHome, desktop: KimiCodeHome) -> None:
    """What a process killed between an account's commit and its group's leaves: the group row names
    the generations it was computed from, so it is recomputed, not shown."""
    session(main, sid("s"), (T1, (100, 10, 0, 0), "turn"))
    session(desktop, "conv-0001", (T3, (7, 1, 0, 0), "turn"))
    expected = both()
    cache = Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3"
    with sqlite3.connect(cache) as conn:
        import marshal

        from openusage.stored import seal, unseal

        ((provider, body),) = conn.execute("SELECT provider, body FROM groups").fetchall()
        version, accounts, generations, ledgers = marshal.loads(unseal(body))
        # The two ledgers swapped under a stale generation (sealed as the store seals what it writes, so
        # only the generations tell): shown as they are, both tiles would be wrong.
        stale = seal(marshal.dumps((version, accounts, [generations[0], generations[1] + 1], ledgers[::-1])))
        conn.execute("UPDATE groups SET body = ? WHERE provider = ?", (stale, provider))

    again = by_account(all_paths(code_env(), fresh_cache=False))

    assert again == expected


def test_two_accounts_on_one_sessions_directory_are_one_root(main: KimiCodeHome, tmp_path: Path) -> None:
    """The same directory read with another config is not a second root: both count every record."""
    session(main, sid("s"), (T1, (100, 10, 0, 0), "turn"))
    write_settings({"accounts": [{"id": "again", "provider": "kimi_code", "extra": {"home": str(main.root)}}]})

    snaps = by_account(all_paths(code_env()))

    assert tokens(snaps["kimi_code"]) == tokens(snaps["again"]) == (100, 10, 0, 0)


@pytest.mark.parametrize("body", [b"\x00\xff", "text"])
def test_a_damaged_stored_group_result_is_computed_again(main: KimiCodeHome, desktop: KimiCodeHome,
                                                          body: bytes | str) -> None:
    session(main, sid("s"), (T1, (100, 10, 0, 0), "turn"))
    session(desktop, "conv-0001", (T1, (100, 10, 0, 0), "turn"), (T3, (7, 1, 0, 0), "turn"))
    expected = both()
    with sqlite3.connect(Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3") as conn:
        assert conn.execute("UPDATE groups SET body = ?", (body,)).rowcount == 1

    assert by_account(all_paths(code_env(), fresh_cache=False)) == expected
