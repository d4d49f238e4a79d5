"""The cache gives exactly the figures of a cold scan of a Codex home, whatever happened between runs.

Each test warms the cache, changes the home the way Codex, a user or the file system does, then checks
that the next cached run equals a `--no-cache` run field for field, and that the change shows in the
figures (so a cache that ignored it would fail).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_home import (
    FIXTURES,
    A,
    CodexHome,
    S,
    cached_equals_cold,
    codex_env,
    rollout_line,
    session_meta,
    snapshot,
    token_count,
    turn_context,
)
from kimi_home import diag, models, series, sessions, tokens

pytestmark = pytest.mark.usefixtures("refold_path")


@pytest.fixture
def home(tmp_path: Path) -> CodexHome:
    return CodexHome(tmp_path / "codex")


def test_resumed_session_appends_to_a_months_old_folder(home: CodexHome) -> None:
    path = home.place("plain_two_turns.jsonl", "2026/07/01")
    env = codex_env(home.root)
    assert tokens(snapshot(env)) == (400, 700, 2600, 0)
    # Resumed today: the same file, in its July folder, goes on from the thread's running total.
    home.append(path, "\n".join([turn_context("2026-11-20T09:00:00.000Z", "gpt-5.1-codex"),
                                 token_count("2026-11-20T09:00:05.000Z", (3500, 2900, 750, 250),
                                             (500, 300, 50, 0))]) + "\n")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (600, 750, 2900, 0)
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 250}
    assert sessions(snap) == (1, 1, 1)
    assert ("gpt-5.1-codex", 200, 50, 300, 0, 1) in models(snap)


def test_rollout_moved_to_archived_sessions(home: CodexHome) -> None:
    path = home.place("plain_two_turns.jsonl")
    home.place("info_null.jsonl")
    env = codex_env(home.root)
    before = snapshot(env)
    home.archive(path)
    after = cached_equals_cold(env)
    assert tokens(after) == tokens(before) == (900, 750, 2600, 0)
    assert sessions(after) == sessions(before)
    assert diag(after, "files_read", "records_counted", "duplicate_records") == {
        "files_read": 2, "records_counted": 3, "duplicate_records": 0}


def test_archived_copy_appearing_beside_the_live_one(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    home.place("plain_two_turns.jsonl", archived=True)
    snap = cached_equals_cold(env)
    assert tokens(snap) == (400, 700, 2600, 0)
    assert diag(snap, "duplicate_records") == {"duplicate_records": 2}


def test_new_fork_whose_parent_was_cached_earlier(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    home.place("fork.jsonl", "2026/11/20")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (500, 820, 3400, 0)
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 220}
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}


def test_fork_cached_before_its_parent_appears(home: CodexHome) -> None:
    home.place("fork.jsonl", "2026/11/20")
    env = codex_env(home.root)
    assert series(snapshot(env), "tokens") == {"2026-11-20": 1320}
    home.place("plain_two_turns.jsonl")  # the parent's rollout comes back (restored from a backup)
    snap = cached_equals_cold(env)
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 220}


def test_deleted_parent(home: CodexHome) -> None:
    parent = home.place("plain_two_turns.jsonl")
    home.place("fork.jsonl", "2026/11/20")
    env = codex_env(home.root)
    assert series(snapshot(env), "sessions") == {"2026-11-19": 1, "2026-11-20": 1}
    parent.unlink()
    snap = cached_equals_cold(env)
    assert tokens(snap) == (500, 820, 3400, 0)
    assert series(snap, "tokens") == {"2026-11-20": 1320}
    assert sessions(snap) == (1, 1, 1)


def test_deleted_middle_generation(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    middle = home.place("fork.jsonl", "2026/11/20")
    home.place("nested_fork.jsonl", "2026/11/20")
    env = codex_env(home.root)
    assert sessions(snapshot(env))[0] == 3
    middle.unlink()
    snap = cached_equals_cold(env)
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 380}
    assert sessions(snap)[0] == 2


def test_partial_last_line_completed_later(home: CodexHome) -> None:
    path = home.place("truncated_final_line.jsonl")
    env = codex_env(home.root)
    assert tokens(snapshot(env)) == (0, 200, 1000, 0)
    home.append(path, (FIXTURES / "truncated_final_line.rest").read_text(encoding="utf-8"))
    snap = cached_equals_cold(env)
    assert tokens(snap) == (700, 260, 1000, 0)
    assert diag(snap, "records_counted", "lines_skipped") == {"records_counted": 2, "lines_skipped": 0}


def test_re_emit_in_a_later_run_is_still_a_re_emit(home: CodexHome) -> None:
    path = home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    home.append(path, token_count("2026-11-19T10:05:00.000Z", (3000, 2600, 700, 250), (1800, 1600, 400, 150)) + "\n")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (400, 700, 2600, 0)
    assert snap["diagnostics"]["skipped_by_reason"] == {"reemitted": 1}


def test_total_only_difference_across_runs(home: CodexHome) -> None:
    path = home.place("total_only.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    home.append(path, token_count("2026-11-19T10:00:10.000Z", (600, 150, 70, 0), None) + "\n")
    snap = cached_equals_cold(env)
    # +150 input (50 of it cached), +20 output, from the last total read in the earlier run.
    assert tokens(snap) == (750 + 100, 190 + 20, 1000 + 50, 0)


def test_fork_written_in_two_runs(home: CodexHome) -> None:
    """A fork file caught after its own session_meta only: the copied ancestry comes in the next run."""
    home.place("plain_two_turns.jsonl")
    fork = (FIXTURES / "fork.jsonl").read_text(encoding="utf-8")
    first, rest = fork.split("\n", 1)
    path = home.path("0199a000-0000-7000-8000-00000000000f", "2026/11/20")
    home.write(path, [first])
    env = codex_env(home.root)
    assert sessions(snapshot(env))[0] == 1
    home.append(path, rest)
    snap = cached_equals_cold(env)
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 220}


def test_model_from_a_turn_context_read_in_an_earlier_run(home: CodexHome) -> None:
    path = home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    home.append(path, token_count("2026-11-19T10:03:00.000Z", (3100, 2600, 710, 250), (100, 0, 10, 0)) + "\n")
    snap = cached_equals_cold(env)
    assert models(snap) == [("gpt-5-codex", 500, 710, 2600, 0, 3)]


def test_rollout_rewritten_in_place(home: CodexHome) -> None:
    path = home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    path.write_bytes((FIXTURES / "info_null.jsonl").read_bytes().replace(
        b"0199a000-0000-7000-8000-00000000000b", A.encode()))
    snap = cached_equals_cold(env)
    assert tokens(snap) == (500, 50, 0, 0)


def test_subagent_added_after_its_parent_was_cached(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    env = codex_env(home.root)
    snapshot(env)
    home.place("subagent.jsonl")
    snap = cached_equals_cold(env)
    assert tokens(snap) == (500, 790, 3200, 0)
    assert sessions(snap) == (1, 0, 1)


def test_subagents_parent_deleted_after_caching(home: CodexHome) -> None:
    parent = home.place("plain_two_turns.jsonl")
    home.place("subagent_nested.jsonl")
    env = codex_env(home.root)
    assert sessions(snapshot(env)) == (1, 0, 1)
    parent.unlink()
    snap = cached_equals_cold(env)
    assert tokens(snap) == (550, 795, 3200, 0)
    assert sessions(snap) == (1, 0, 1)


def test_a_long_rollout_rewritten_in_place_as_a_subagent_is_read_again_for_its_lineage(home: CodexHome) -> None:
    """A thread's lineage comes from the session_meta lines at its head; a warm run reads them again
    whenever the file changed (its size or mtime), not only while it is shorter than 256 KiB. Here a
    300 KB rollout is rewritten in place (same inode) with a session_meta that makes it A's subagent:
    the warm run must fold it into A's session as a cold run does (it kept two sessions before)."""
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    text = {"type": "input_text", "text": "y" * 300_000}
    filler = rollout_line("2026-11-19T11:00:02.000Z", "response_item",
                          {"type": "message", "role": "user", "content": [text]})
    body = [turn_context("2026-11-19T11:00:01.000Z", "gpt-5"), filler,
            token_count("2026-11-19T11:00:03.000Z", (50, 0, 5, 0), (50, 0, 5, 0))]
    path = home.write(home.path(S), [session_meta("2026-11-19T11:00:00.000Z", S), *body])
    env = codex_env(home.root)
    assert sessions(snapshot(env)) == (2, 0, 2)
    spawned = session_meta("2026-11-19T11:00:00.000Z", S,
                           source={"subagent": {"thread_spawn": {"parent_thread_id": A, "depth": 1}}})
    inode = path.stat().st_ino
    with path.open("r+", encoding="utf-8") as f:
        f.truncate(0)
        f.write("\n".join([spawned, *body]) + "\n")
    assert path.stat().st_ino == inode
    snap = cached_equals_cold(env)
    assert tokens(snap) == (150, 15, 0, 0)
    assert sessions(snap) == (1, 0, 1)


def test_a_subagents_spawner_found_later_to_be_a_subagent_itself_moves_both(home: CodexHome) -> None:
    """The inner subagent's calls count toward its spawner's thread; when a later run finds that the
    spawner was itself spawned by A (its rollout appears), both count toward A, as a cold scan says."""
    s1, s2 = "0199a000-0000-7000-8000-000000000051", "0199a000-0000-7000-8000-000000000052"
    spawned = {"subagent": {"thread_spawn": {"parent_thread_id": s1, "depth": 2}}}
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    home.write(home.path(s2), [session_meta("2026-11-19T10:02:00.000Z", s2, source=spawned),
                               turn_context("2026-11-19T10:02:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:02:02.000Z", (30, 0, 3, 0), (30, 0, 3, 0))])
    env = codex_env(home.root)
    assert sessions(snapshot(env)) == (2, 0, 2)  # A, and s1 (which s2 joins) although s1 has no file yet
    home.write(home.path(s1), [
        session_meta("2026-11-19T10:01:00.000Z", s1, source={"subagent": {"thread_spawn": {"parent_thread_id": A}}}),
        turn_context("2026-11-19T10:01:01.000Z", "gpt-5"),
        token_count("2026-11-19T10:01:02.000Z", (50, 0, 5, 0), (50, 0, 5, 0))])
    snap = cached_equals_cold(env)
    assert tokens(snap) == (180, 18, 0, 0)
    assert sessions(snap) == (1, 0, 1)
