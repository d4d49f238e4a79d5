"""Every rule of codex-cli-format.md ("Rules for openusage", "Readings settled"), each on a fixture
file of tests/fixtures/codex_cli (see its README), checked the same three ways: no cache, cold cache,
warm cache. Expected figures are computed by hand from the fixtures' bytes.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from codex_home import (
    A,
    B,
    CodexHome,
    F,
    cached_equals_cold,
    codex_env,
    rollout_line,
    run,
    session_meta,
    snapshot,
    token_count,
    turn_context,
)
from kimi_home import diag, explain, invoke, models, series, sessions, settings_file, tokens
from openusage.providers.codex_cli import layout
from unprivileged import hand_over, run_openusage

pytestmark = pytest.mark.usefixtures("refold_path")


@pytest.fixture
def home(tmp_path: Path) -> CodexHome:
    return CodexHome(tmp_path / "codex")


def snap_of(home: CodexHome) -> dict[str, Any]:
    return snapshot(codex_env(home.root))


def skipped(snap: dict[str, Any]) -> dict[str, int]:
    return dict(snap["diagnostics"]["skipped_by_reason"])


# --- the plain session and the mapping -----------------------------------------------------------------------


def test_plain_two_turn_session(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    snap = snap_of(home)
    # (1200 in, 1000 cached, 300 out) and (1800, 1600, 400): input excludes the cached part.
    assert tokens(snap) == (400, 700, 2600, 0)
    assert sessions(snap) == (1, 0, 1)
    assert models(snap) == [("gpt-5-codex", 400, 700, 2600, 0, 2)]
    assert diag(snap, "files_read", "records_counted", "duplicate_records", "zero_records") == {
        "files_read": 1, "records_counted": 2, "duplicate_records": 0, "zero_records": 0}
    assert skipped(snap) == {}  # `rg token_count` in a tool call and its output is not a candidate line
    assert series(snap, "tokens") == {"2026-11-19": 1100}
    assert snap["status"] == "ok"


def test_cached_input_is_capped_at_input_and_billed_once(home: CodexHome) -> None:
    home.place("cached_over_input.jsonl")  # 100 input, 150 cached, 40 output
    assert tokens(snap_of(home)) == (0, 40, 100, 0)


def test_reasoning_is_never_added_to_output(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")  # reasoning 100 and 150, already inside output 300 and 400
    snap = snap_of(home)
    assert tokens(snap)[1] == 700
    assert snap["metrics"]["total_tokens"]["used"] == 400 + 700


def test_reasoning_is_kept_as_an_informational_figure(home: CodexHome) -> None:
    """`reasoning_output_tokens` (a part of output) is totalled beside output, per model and per call."""
    home.place("plain_two_turns.jsonl")  # reasoning 100 and 150
    snap = snap_of(home)
    assert snap["metrics"]["reasoning_output_tokens"] == {"used": 250, "unit": "tokens", "window": "all-time"}
    assert [(m["model"], m["output_tokens"], m["reasoning_output_tokens"]) for m in snap["models"]] == [
        ("gpt-5-codex", 700, 250)]
    report = json.loads(invoke(["report", "daily", "--json", "--tz", "UTC"], codex_env(home.root)).output)
    assert (report["totals"]["output_tokens"], report["totals"]["reasoning_output_tokens"]) == (700, 250)


def test_reasoning_of_total_only_events_is_their_difference_and_a_reset_counts_none(home: CodexHome) -> None:
    home.place("total_only.jsonl")  # reasoning totals 20, 20 (re-emit), 30, 0 (a reset), 0
    assert snap_of(home)["metrics"]["reasoning_output_tokens"]["used"] == 20 + 10


def test_reasoning_of_last_only_events(home: CodexHome) -> None:
    home.place("last_only.jsonl")  # reasoning 0, 0, 5
    assert snap_of(home)["metrics"]["reasoning_output_tokens"]["used"] == 5


def test_negative_and_non_integer_counts_count_as_zero(home: CodexHome) -> None:
    home.place("odd_counts.jsonl")
    snap = snap_of(home)
    # (-5 -> 0, out 30); (1000, cached 100.0 -> 0, out "40" -> 0); (2000, cached -7 -> 0, out 20).
    assert tokens(snap) == (3000, 50, 0, 0)
    assert diag(snap, "records_counted", "lines_skipped") == {"records_counted": 3, "lines_skipped": 0}


# --- what is not usage --------------------------------------------------------------------------------------


def test_re_emitted_events_are_skipped(home: CodexHome) -> None:
    home.place("reemit.jsonl")  # the plain session with three re-emits (same info, new rate limits and time)
    snap = snap_of(home)
    assert tokens(snap) == (400, 700, 2600, 0)
    assert skipped(snap) == {"reemitted": 3}
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 2, "duplicate_records": 0}


def test_a_re_emits_valid_earlier_time_is_its_calls_time(home: CodexHome) -> None:
    """"Readings settled" 3: a call's time is the earliest valid timestamp over every line carrying its
    key, and a re-emit carries it. Call 1's own time is no RFC 3339 time, its re-emit's is (the 20th);
    call 2 (the 21st) is re-emitted stamped the 19th, then the 21st; call 3 (the 22nd) is followed by a
    re-emit of its total with another last, which carries another key."""
    home.place("reemit_time.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (3500, 350, 0, 0)
    assert series(snap, "tokens") == {"2026-11-19": 2200, "2026-11-20": 1100, "2026-11-22": 550}
    assert sessions(snap) == (1, 1, 1)  # call 1 is today's now
    assert skipped(snap) == {"reemitted": 4}
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 0}


def test_a_re_emit_appended_later_moves_the_time_of_a_call_read_in_an_earlier_run(home: CodexHome) -> None:
    """The call's record is in the cache when its re-emit comes: the file is read again from its start,
    and the cache agrees with a scan from scratch."""
    lines = (home.place("reemit_time.jsonl").read_text(encoding="utf-8")).splitlines()
    path = home.write(home.path(B), lines[:4])  # call 1, whose own time is invalid
    env = codex_env(home.root)
    assert series(cached_equals_cold(env), "tokens") == {}
    home.append(path, lines[4] + "\n")  # its re-emit, stamped the 20th
    assert series(cached_equals_cold(env), "tokens") == {"2026-11-20": 1100}
    home.append(path, "\n".join(lines[5:8]) + "\n")  # call 2 and its re-emit stamped the 19th
    assert series(cached_equals_cold(env), "tokens") == {"2026-11-19": 2200, "2026-11-20": 1100}
    home.append(path, lines[8] + "\n")  # a later re-emit of call 2: nothing moves
    snap = cached_equals_cold(env)
    assert series(snap, "tokens") == {"2026-11-19": 2200, "2026-11-20": 1100}
    assert skipped(snap) == {"reemitted": 3}


def test_a_figure_of_reasoning_alone_is_a_call(home: CodexHome) -> None:
    """"Readings settled" 4: a figure is all zero when input (cached capped at it), output and reasoning
    all are. A last of reasoning alone (7) and a difference of totals that moved in reasoning alone (3)
    are calls; a last of cached input alone, capped at its input of 0, is all zero."""
    home.place("reasoning_only.jsonl")
    snap = snap_of(home)
    assert diag(snap, "records_counted", "zero_records") == {"records_counted": 3, "zero_records": 1}
    assert tokens(snap) == (650, 100, 350, 0)
    assert models(snap) == [("gpt-5-codex", 650, 100, 350, 0, 3)]
    assert snap["metrics"]["reasoning_output_tokens"]["used"] == 7 + 3 + 30
    assert sessions(snap) == (1, 0, 1)


def test_info_null_is_not_usage(home: CodexHome) -> None:
    home.place("info_null.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (500, 50, 0, 0)
    assert diag(snap, "records_counted", "zero_records", "lines_skipped") == {
        "records_counted": 1, "zero_records": 0, "lines_skipped": 0}


def test_context_window_full_artefact_is_not_usage(home: CodexHome) -> None:
    home.place("context_window_full.jsonl")
    snap = snap_of(home)
    # (250000, 200000 cached, 2000) and, after the artefact, (3000, 1000 cached, 200) by its `last`.
    assert tokens(snap) == (52000, 2200, 201000, 0)
    assert diag(snap, "records_counted", "zero_records") == {"records_counted": 2, "zero_records": 1}


def test_interleaved_counters_count_each_call_once(home: CodexHome) -> None:
    home.place("interleaved.jsonl")  # lanes A (1000, 100) and B (10, 1), each re-emitted after the other
    snap = snap_of(home)
    assert tokens(snap) == (2020, 202, 0, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 4, "duplicate_records": 2}


def test_broken_and_wrong_shaped_lines_are_skipped_by_reason(home: CodexHome) -> None:
    home.place("bad_lines.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (50, 5, 0, 0)
    assert skipped(snap) == {"invalid_json": 1, "wrong_shape": 4}


def test_broken_lines_without_a_needle_are_skipped_too(home: CodexHome) -> None:
    """"Any line that is not valid JSON or not of this shape is skipped and counted": a line cut by a
    crash before its `token_count` could be written, or text in the file, holds no needle and is still
    counted; so is a JSON value that is no object ("one object per line": `wrong_shape`); a blank line
    is nothing."""
    home.place("needleless_broken.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (150, 15, 0, 0)
    assert skipped(snap) == {"invalid_json": 4, "not_utf8": 1, "wrong_shape": 2}
    assert diag(snap, "records_counted", "lines_skipped") == {"records_counted": 2, "lines_skipped": 7}


def test_a_line_without_a_needle_that_is_not_utf8_is_counted(home: CodexHome) -> None:
    """"Any line that is not valid JSON ... is skipped and counted": JSON text is UTF-8, so an object
    holding a byte UTF-8 does not allow (a Latin-1 letter, a character cut short, an encoded surrogate,
    a stray byte amid a long run of Chinese) is counted, needle or not; the long run whole is nothing."""
    home.place("needleless_not_utf8.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (150, 15, 0, 0)
    assert skipped(snap) == {"not_utf8": 4}
    assert diag(snap, "records_counted", "lines_skipped") == {"records_counted": 2, "lines_skipped": 4}


# --- legacy shapes -------------------------------------------------------------------------------------------


def test_last_only_legacy_events(home: CodexHome) -> None:
    home.place("last_only.jsonl")
    snap = snap_of(home)
    # No totals: each event is its own call, identified by its time (100/40/10 twice, then 300/0/30).
    assert tokens(snap) == (60 + 60 + 300, 10 + 10 + 30, 80, 0)
    assert diag(snap, "records_counted") == {"records_counted": 3}


def test_last_only_events_whose_times_are_not_strings_stay_apart(home: CodexHome) -> None:
    """An event without a total is identified by (thread, raw timestamp, last): NaN, Infinity,
    -Infinity and null are four raw values (Python's json reads the first three), so the same `last`
    under each is four calls, on no day. Before, they read as one (msgspec writes NaN as null)."""
    last = {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 10, "reasoning_output_tokens": 0,
            "total_tokens": 110}
    lines = [session_meta("2026-11-19T10:00:00.000Z", A)]
    for raw in ("NaN", "Infinity", "-Infinity", "null"):
        lines.append('{"timestamp":' + raw + ',"type":"event_msg","payload":{"type":"token_count","info":'
                     + json.dumps({"last_token_usage": last}, separators=(",", ":")) + ',"rate_limits":null}}')
    home.write(home.path(A), lines)
    snap = snap_of(home)
    assert tokens(snap) == (400, 40, 0, 0)
    assert series(snap, "tokens") == {}
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 4, "duplicate_records": 0}


def test_last_only_events_whose_times_are_nested_deep_count_apart(home: CodexHome) -> None:
    """A raw timestamp nested 400 levels deep is JSON both decoders read, and part of the identity of an
    event without a total: two that differ only deep inside it are two calls, on no day; the same one
    twice is one. Before, writing that identity recursed past Python's limit: an internal error."""
    last = {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 10, "reasoning_output_tokens": 0,
            "total_tokens": 110}
    lines = [session_meta("2026-11-19T10:00:00.000Z", A)]
    for inner in ("1", "2", "2"):
        lines.append('{"timestamp":' + "[" * 400 + inner + "]" * 400 + ',"type":"event_msg","payload":{"type":'
                     '"token_count","info":' + json.dumps({"last_token_usage": last}, separators=(",", ":"))
                     + ',"rate_limits":null}}')
    home.write(home.path(A), lines)
    snap = snap_of(home)
    assert tokens(snap) == (200, 20, 0, 0)
    assert series(snap, "tokens") == {}
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 2, "duplicate_records": 1}


def test_a_fork_whose_session_meta_is_longer_than_256_kib_still_names_its_parent(home: CodexHome) -> None:
    """A session_meta line carries the base instructions, with no length limit: the lineage is read
    from the head however long its lines are. Before, a 300 KB first line hid the fork's parent, so
    the call it replays from A was counted again as the fork's own."""
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    home.write(home.path(F, "2026/11/20"), [
        session_meta("2026-11-20T09:00:00.000Z", F, forked_from_id=A, base_instructions="x" * 300_000),
        session_meta("2026-11-19T10:00:00.000Z", A),
        turn_context("2026-11-20T09:00:00.010Z", "gpt-5"),
        token_count("2026-11-20T09:00:00.020Z", (100, 0, 10, 0), (100, 0, 10, 0)),  # A's call, replayed
        turn_context("2026-11-20T09:00:05.000Z", "gpt-5"),
        token_count("2026-11-20T09:00:06.000Z", (300, 0, 30, 0), (200, 0, 20, 0)),  # the fork's own
    ])
    snap = snap_of(home)
    assert tokens(snap) == (300, 30, 0, 0)
    assert sessions(snap) == (2, 1, 2)
    assert series(snap, "tokens") == {"2026-11-19": 110, "2026-11-20": 220}
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 2, "duplicate_records": 1}


def _spawned(parent: str) -> dict[str, Any]:
    return {"subagent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1}}}


def test_a_subagents_subagent_counts_toward_the_top_thread_without_copies_of_its_chain(home: CodexHome) -> None:
    """"Subagents of subagents fold to the top thread" (Readings settled 6), also when the inner
    subagent's rollout names only its own spawner: the link from that spawner to the top is read from
    the spawner's own rollout. Before, the inner subagent's call counted toward the middle one."""
    s1, s2 = "0199a000-0000-7000-8000-000000000051", "0199a000-0000-7000-8000-000000000052"
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    home.write(home.path(s1), [session_meta("2026-11-19T10:01:00.000Z", s1, source=_spawned(A)),
                               turn_context("2026-11-19T10:01:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:01:02.000Z", (50, 0, 5, 0), (50, 0, 5, 0))])
    home.write(home.path(s2), [session_meta("2026-11-19T10:02:00.000Z", s2, source=_spawned(s1)),
                               turn_context("2026-11-19T10:02:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:02:02.000Z", (30, 0, 3, 0), (30, 0, 3, 0))])
    snap = snap_of(home)
    assert tokens(snap) == (180, 18, 0, 0)
    assert sessions(snap) == (1, 0, 1)


def _session_calls(home: CodexHome, *args: str) -> dict[str, int]:
    """Calls per session, from `report session --json`."""
    result = invoke(["report", "session", "--json", "--tz", "UTC", *args], codex_env(home.root))
    assert result.exit_code == 0, explain(result)
    return {row["period"]: row["calls"] for row in json.loads(result.stdout)["rows"]}


def test_a_subagent_chain_is_followed_through_links_another_rollout_names(home: CodexHome) -> None:
    """Readings settled 1 and 6: E (spawned by D, spawned by C, spawned by B) names C's spawner but not
    B's; C's rollout names B's, A. D's and B's rollouts are gone. E's call still counts toward A, the
    top thread, from the link C's rollout names (it counted toward B, a thread with no rollout); and so
    after C's rollout appears beside a cache that knew only E's."""
    b, c, d, e = (f"0199a000-0000-7000-8000-0000000000{n}" for n in ("b2", "c2", "d2", "e2"))
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    home.write(home.path(e), [
        session_meta("2026-11-19T10:03:00.000Z", e, source=_spawned(d)),
        session_meta("2026-11-19T10:02:00.000Z", d, source=_spawned(c)),
        session_meta("2026-11-19T10:01:00.000Z", c, source=_spawned(b)),
        turn_context("2026-11-19T10:03:01.000Z", "gpt-5"),
        token_count("2026-11-19T10:03:02.000Z", (30, 0, 3, 0), (30, 0, 3, 0))])
    assert _session_calls(home) == {A: 1, b: 1}  # B is as far as E's rollout reaches
    home.write(home.path(c), [
        session_meta("2026-11-19T10:01:00.000Z", c, source=_spawned(b)),
        session_meta("2026-11-19T10:00:30.000Z", b, source=_spawned(A)),
        turn_context("2026-11-19T10:01:01.000Z", "gpt-5"),
        token_count("2026-11-19T10:01:02.000Z", (50, 0, 5, 0), (50, 0, 5, 0))])
    assert _session_calls(home) == {A: 3}  # the warm cache, then from scratch:
    assert _session_calls(home, "--no-cache") == {A: 3}
    snap = snap_of(home)
    assert tokens(snap) == (180, 18, 0, 0)
    assert sessions(snap) == (1, 0, 1)


def test_a_thread_another_head_calls_spawned_keeps_its_calls_when_its_own_head_says_otherwise(
        home: CodexHome) -> None:
    """Heads that disagree: S's copy of X's session_meta says X was spawned by A, X's own says it is a
    thread of its own. S joins A through that link; X's own call stays X's, read from scratch as from
    the cache (a scan from scratch moved it to A, the cache did not)."""
    x, s1 = (f"0199a000-0000-7000-8000-0000000000{n}" for n in ("e4", "54"))
    home.write(home.path(x), [session_meta("2026-11-19T10:00:00.000Z", x),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", None, (100, 0, 10, 0))])
    home.write(home.path(s1), [session_meta("2026-11-19T10:01:00.000Z", s1, source=_spawned(x)),
                               session_meta("2026-11-19T10:00:00.000Z", x, source=_spawned(A)),
                               turn_context("2026-11-19T10:01:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:01:02.000Z", None, (50, 0, 5, 0))])
    assert _session_calls(home, "--no-cache") == {x: 1, A: 1}
    assert _session_calls(home) == {x: 1, A: 1}
    assert sessions(snap_of(home))[0] == 2


def test_an_archived_copy_that_lost_the_copied_lines_does_not_cut_a_subagents_chain(home: CodexHome) -> None:
    """A subagent S (spawned by B, spawned by C) whose live rollout names B's session_meta, and whose
    archived copy names only its own: its call counts toward C, the top thread the fuller head reaches
    (it counted toward B: the joins of one rollout were taken with the ancestry of the other). The
    call has no total, so its identity is the thread's, the same in both copies."""
    b, c, s3 = (f"0199a000-0000-7000-8000-0000000000{n}" for n in ("b3", "c3", "53"))
    own = session_meta("2026-11-19T10:00:00.000Z", s3, source=_spawned(b))
    call = [turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
            token_count("2026-11-19T10:00:02.000Z", None, (100, 0, 10, 0))]
    home.write(home.path(s3), [own, session_meta("2026-11-19T09:59:00.000Z", b, source=_spawned(c)), *call])
    home.write(home.path(s3, archived=True), [own, *call])
    assert _session_calls(home) == {c: 1}
    assert _session_calls(home, "--no-cache") == {c: 1}
    assert tokens(snap_of(home)) == (100, 10, 0, 0)


@pytest.mark.parametrize("last", [
    {"input_tokens": None, "cached_input_tokens": None, "output_tokens": None, "reasoning_output_tokens": None,
     "total_tokens": None},
    {"input_tokens": "200", "output_tokens": "20"},
], ids=["nulls", "text"])
def test_a_last_usage_whose_keys_are_present_is_the_calls_figure_whatever_their_values(
        home: CodexHome, last: dict[str, Any]) -> None:
    """"Has any of input/cached/output/reasoning" means the keys are present (Readings settled 4): a
    last_token_usage naming them with values that are not counts is an all-zero figure, skipped as
    such, not a reason to difference the totals. Before, the second event counted 200 in, 20 out."""
    info = {"total_token_usage": {"input_tokens": 300, "cached_input_tokens": 0, "output_tokens": 30,
                                  "reasoning_output_tokens": 0, "total_tokens": 330}, "last_token_usage": last}
    home.write(home.path(A), [
        session_meta("2026-11-19T10:00:00.000Z", A), turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
        token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0)),
        json.dumps({"timestamp": "2026-11-19T10:00:03.000Z", "type": "event_msg",
                    "payload": {"type": "token_count", "info": info, "rate_limits": None}}, separators=(",", ":")),
    ])
    snap = snap_of(home)
    assert tokens(snap) == (100, 10, 0, 0)
    assert diag(snap, "records_counted", "zero_records") == {"records_counted": 1, "zero_records": 1}


def test_total_only_legacy_events_are_differences_and_a_drop_is_a_reset(home: CodexHome) -> None:
    home.place("total_only.jsonl")
    snap = snap_of(home)
    # 1000/600/100 whole; a re-emit; +500/300/60; a drop to 200/0/20 (reset: nothing); +250/100/30.
    assert tokens(snap) == (400 + 200 + 150, 100 + 60 + 30, 600 + 300 + 100, 0)
    assert diag(snap, "records_counted", "zero_records") == {"records_counted": 3, "zero_records": 1}
    assert skipped(snap) == {"reemitted": 1}


# --- model ------------------------------------------------------------------------------------------------------


def test_model_is_the_latest_turn_context_and_the_events_own_wins(home: CodexHome) -> None:
    home.place("models.jsonl")
    snap = snap_of(home)
    assert sorted(models(snap)) == [("gpt-5-codex", 20, 2, 0, 0, 1), ("gpt-5-mini", 80, 8, 0, 0, 1),
                                    ("gpt-5.1-codex-max", 40, 4, 0, 0, 1), ("unknown", 10, 1, 0, 0, 1)]


def test_model_named_nowhere_comes_from_config_toml(home: CodexHome) -> None:
    home.place("models.jsonl")
    home.config('model = "o4-mini"\n[model_providers.x]\nenv_key = "SECRET"\n')
    names = [row[0] for row in models(snap_of(home))]
    assert "o4-mini" in names
    assert "unknown" not in names


# --- time -------------------------------------------------------------------------------------------------------


def test_day_is_the_lines_utc_timestamp_and_bad_timestamps_count_on_no_day(home: CodexHome) -> None:
    home.place("timestamps.jsonl")
    snap = snap_of(home)
    # Valid: 23:59:59.999Z (100/10) and 01:00+01:00 = 00:00Z next day (3200/320); missing, "yesterday",
    # a number and a time without offset count in the totals only.
    assert tokens(snap) == (6300, 630, 0, 0)
    assert series(snap, "tokens") == {"2026-11-19": 110, "2026-11-20": 3520}
    assert sessions(snap) == (1, 1, 1)


def test_timestamps_are_read_as_rfc_3339_says(home: CodexHome) -> None:
    """RFC 3339 (section 5.6): `t`/`z` in lower case, a space for `T`, any number of fraction digits and a
    leap second are valid; a time without seconds, ISO 8601's basic and week forms, a comma fraction and
    an offset without its colon are not (the call counts in the totals, on no day)."""
    lines = [session_meta("2026-11-19T10:00:00.000Z", B), turn_context("2026-11-19T10:00:00.100Z", "gpt-5")]
    valid = {"2026-11-18t23:00:00.5z": 1, "2026-11-18 23:30:00Z": 2, "2016-12-31T23:59:60Z": 4,
             "2026-11-19T10:00:00.123456789-02:00": 8}
    invalid = ["2026-11-19T10:00Z", "20261119T100000Z", "2026-W47-4T10:00:00Z", "2026-11-19T10:00:00,5Z",
               "2026-11-19T10:00:00+0100", "2026-11-19T24:00:00Z"]
    calls = [*valid.items(), *((ts, 100 * (k + 1)) for k, ts in enumerate(invalid))]
    totals = 0
    for count, (ts, n) in enumerate(calls, 1):  # n input and 1 output each, as `last`; the totals run on
        totals += n
        lines.append(token_count(ts, (totals, 0, count, 0), (n, 0, 1, 0)))
    home.write(home.path(B), lines)
    snap = snap_of(home)
    assert tokens(snap) == (totals, 10, 0, 0)
    # The leap second stays on its day; -02:00 puts 10:00 on the 19th at 12:00 UTC.
    assert series(snap, "tokens") == {"2016-12-31": 5, "2026-11-18": 1 + 1 + 2 + 1, "2026-11-19": 8 + 1}


def test_day_is_never_the_folder_or_the_file_name(home: CodexHome) -> None:
    # A session started at local midnight on the 20th (its folder and name) whose lines are UTC on the 19th.
    path = home.path(A, "2026/11/20", started="00-30-00")
    path.parent.mkdir(parents=True)
    path.write_bytes((Path(__file__).parent / "fixtures" / "codex_cli" / "plain_two_turns.jsonl").read_bytes())
    snap = snap_of(home)
    assert series(snap, "tokens") == {"2026-11-19": 1100}
    assert sessions(snap) == (1, 0, 1)


# --- copies: archive, forks, subagents ---------------------------------------------------------------------------


def test_archived_copy_of_a_thread_is_counted_once(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("plain_two_turns.jsonl", archived=True)
    snap = snap_of(home)
    assert tokens(snap) == (400, 700, 2600, 0)
    assert sessions(snap)[0] == 1
    assert diag(snap, "files_read", "records_counted", "duplicate_records") == {
        "files_read": 2, "records_counted": 2, "duplicate_records": 2}


def test_archived_only_home_is_found(home: CodexHome) -> None:
    home.sessions.rmdir()
    home.place("plain_two_turns.jsonl", archived=True)
    assert tokens(snap_of(home)) == (400, 700, 2600, 0)


def test_fork_replay_is_owned_by_the_parent(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("fork.jsonl", "2026/11/20")
    snap = snap_of(home)
    # A's two calls once, on A's day; F's own call (900 in, 800 cached, 120 out) on the 20th.
    assert tokens(snap) == (400 + 100, 700 + 120, 2600 + 800, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 2}
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 220}
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}
    assert sessions(snap) == (2, 1, 2)
    assert sorted(models(snap)) == [("gpt-5-codex", 400, 700, 2600, 0, 2), ("gpt-5.1-codex", 100, 120, 800, 0, 1)]


def test_fork_whose_parent_is_gone_counts_the_replay_once(home: CodexHome) -> None:
    home.place("fork.jsonl", "2026/11/20")
    snap = snap_of(home)
    # The copy is the only record: counted once, at its (re-stamped) time, owned by the fork.
    assert tokens(snap) == (500, 820, 3400, 0)
    assert series(snap, "tokens") == {"2026-11-20": 1320}
    assert sessions(snap) == (1, 1, 1)


def test_a_replayed_call_is_on_the_model_its_owners_file_names(home: CodexHome) -> None:
    """A call's model is "the latest turn_context before the event in the same file", and a replayed
    call is its owner's event: FM, a fork of A, writes its own turn_context (`gpt-4.1`) before it
    replays A's two calls, which stay on A's `gpt-5-codex`. Before, a folded call took the smallest
    model any copy named, and `gpt-4.1` sorts first."""
    home.place("plain_two_turns.jsonl")
    home.place("fork_under_its_own_model.jsonl", "2026/11/20")
    snap = snap_of(home)
    assert sorted(models(snap)) == [("gpt-4.1", 300, 50, 0, 0, 1), ("gpt-5-codex", 400, 700, 2600, 0, 2)]
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 2}


def test_a_stale_repeat_in_the_owners_own_file_keeps_the_calls_first_model(home: CodexHome) -> None:
    """A total and last repeated later in the thread's own file are a copy of the call already counted
    (rule (b)): the call keeps the model of its first line, `gpt-5-codex`, not the later turn's
    `gpt-4.1` (which sorts first)."""
    home.place("stale_repeat.jsonl")
    snap = snap_of(home)
    assert sorted(models(snap)) == [("gpt-4.1", 50, 5, 0, 0, 1), ("gpt-5-codex", 150, 15, 0, 0, 2)]
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 1}
    assert _model_calls(home) == _model_calls(home, "--no-cache") == {"gpt-4.1": 1, "gpt-5-codex": 2}


def _model_calls(home: CodexHome, *args: str) -> dict[str, int]:
    """Calls per model, from `report model --json` (the settled calls, read a session at a time)."""
    result = invoke(["report", "model", "--json", "--tz", "UTC", *args], codex_env(home.root))
    assert result.exit_code == 0, explain(result)
    return {row["period"]: row["calls"] for row in json.loads(result.stdout)["rows"]}


def _call_under(model: str | None, ts: str = "2026-11-19T10:00:02.000Z") -> list[str]:
    """B's call (100 in, 10 out), after a turn_context naming `model` (none: no turn_context)."""
    return [session_meta("2026-11-19T10:00:00.000Z", B),
            *([turn_context("2026-11-19T10:00:01.000Z", model)] if model else []),
            token_count(ts, (100, 0, 10, 0), (100, 0, 10, 0))]


@pytest.mark.parametrize("first", ["live", "archived"])
def test_a_threads_two_files_give_its_call_one_model_whichever_is_read_first(home: CodexHome, first: str) -> None:
    """B's live rollout and its archived copy differ: the copy lost its turn_context. Both copies are
    B's, at one time: the call is on the model one of them names (`gpt-5`), whichever file the cache
    met first (before, the copy folded first decided). An archived copy whose line is earlier decides."""
    live, archived = home.path(B), home.path(B, archived=True)
    files = {"live": (live, "gpt-5"), "archived": (archived, None)}
    other = "archived" if first == "live" else "live"
    home.write(files[first][0], _call_under(files[first][1]))
    snap_of(home)
    home.write(files[other][0], _call_under(files[other][1]))
    assert models(cached_equals_cold(codex_env(home.root))) == [("gpt-5", 100, 10, 0, 0, 1)]
    assert _model_calls(home) == _model_calls(home, "--no-cache") == {"gpt-5": 1}
    home.write(archived, _call_under("o3", "2026-11-19T10:00:01.500Z"))
    assert models(cached_equals_cold(codex_env(home.root))) == [("o3", 100, 10, 0, 0, 1)]


def test_a_replays_model_changes_with_its_owner_in_the_cache(home: CodexHome) -> None:
    """With A's rollout gone, FM's copies are the only records and FM's model is theirs; once A's rollout
    is back, the cached calls take A's model, as a scan from scratch does; and when it goes, FM's again."""
    home.place("fork_under_its_own_model.jsonl", "2026/11/20")
    assert models(snap_of(home)) == [("gpt-4.1", 700, 750, 2600, 0, 3)]
    parent = home.place("plain_two_turns.jsonl")
    snap = cached_equals_cold(codex_env(home.root))
    assert sorted(models(snap)) == [("gpt-4.1", 300, 50, 0, 0, 1), ("gpt-5-codex", 400, 700, 2600, 0, 2)]
    parent.unlink()
    snap = cached_equals_cold(codex_env(home.root))
    assert models(snap) == [("gpt-4.1", 700, 750, 2600, 0, 3)]


def test_a_call_whose_owners_file_names_no_model_is_not_on_a_replays(home: CodexHome) -> None:
    """A's call comes before any turn_context in A's file: its model is config.toml's, else `unknown`,
    whatever model the file of F, a fork replaying it under a turn_context of its own, names."""
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    home.write(home.path(F, "2026/11/20"), [session_meta("2026-11-20T09:00:00.000Z", F, forked_from_id=A),
                                            turn_context("2026-11-20T09:00:00.001Z", "gpt-5"),
                                            token_count("2026-11-20T09:00:00.002Z", (100, 0, 10, 0),
                                                        (100, 0, 10, 0))])
    assert models(snap_of(home)) == [("unknown", 100, 10, 0, 0, 1)]
    home.config('model = "o4-mini"\n')
    assert models(snap_of(home)) == [("o4-mini", 100, 10, 0, 0, 1)]


def test_nested_fork_counts_every_generation_once(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("fork.jsonl", "2026/11/20")
    home.place("nested_fork.jsonl", "2026/11/20")
    snap = snap_of(home)
    # G's own call: 400 in, 300 cached, 60 out. F's file holds 2 copies, G's file 3.
    assert tokens(snap) == (500 + 100, 820 + 60, 3400 + 300, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 4, "duplicate_records": 5}
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 2}
    assert sessions(snap)[0] == 3


def test_nested_fork_whose_middle_generation_is_gone(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("nested_fork.jsonl", "2026/11/20")
    snap = snap_of(home)
    # A's calls stay A's (G's head names F, and F names A); F's call is held by G alone.
    assert tokens(snap) == (600, 880, 3700, 0)
    assert series(snap, "tokens") == {"2026-11-19": 1100, "2026-11-20": 220 + 160}
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}


def test_forks_of_gone_threads_tie_by_thread_id_whatever_their_depth(home: CodexHome) -> None:
    """"Readings settled" 1 and 3: a fork's head names its ancestors through every `session_meta` line,
    files or not; among holders none of which descends from another, the thread id that sorts first
    owns the call. A's file and its fork C's are gone; G (a fork of C) and H (a fork of A) both replay
    A's call: G's id sorts first, though its chain is the longer one."""
    a, c, g, h = (f"0199a000-0000-7000-8000-0000000000{n}" for n in ("aa", "cc", "01", "dd"))
    replay = token_count("2026-11-19T10:00:05.000Z", (100, 0, 10, 0), (100, 0, 10, 0))
    a_meta = session_meta("2026-11-19T10:00:00.000Z", a)
    c_meta = session_meta("2026-11-19T11:00:00.000Z", c, forked_from_id=a)
    home.write(home.path(g, "2026/11/20"), [
        session_meta("2026-11-20T09:00:00.000Z", g, forked_from_id=c), c_meta, a_meta, replay,
        turn_context("2026-11-20T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T09:00:02.000Z", (150, 0, 15, 0), (50, 0, 5, 0))])
    home.write(home.path(h, "2026/11/21"), [
        session_meta("2026-11-21T09:00:00.000Z", h, forked_from_id=a), a_meta, replay,
        turn_context("2026-11-21T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-21T09:00:02.000Z", (170, 0, 17, 0), (70, 0, 7, 0))])
    snap = snap_of(home)
    assert tokens(snap) == (100 + 50 + 70, 10 + 5 + 7, 0, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 1}
    # A's call counts on its own day, for G: the 19th's session is G's, and G and H each own a call after.
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1, "2026-11-21": 1}
    result = invoke(["report", "session", "--json", "--tz", "UTC"], codex_env(home.root))
    assert result.exit_code == 0, explain(result)
    calls = {row["period"]: row["calls"] for row in json.loads(result.stdout)["rows"]}
    assert calls == {g: 2, h: 1}


def test_subagent_replay_is_owned_by_the_parent(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("subagent.jsonl")
    snap = snap_of(home)
    # A's calls once; the subagent's own (700 in, 600 cached, 90 out) on its own model.
    assert tokens(snap) == (400 + 100, 700 + 90, 2600 + 600, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 2}
    assert ("gpt-5-codex-mini", 100, 90, 600, 0, 1) in models(snap)


def test_subagent_counts_toward_its_parents_session(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("subagent.jsonl")
    snap = snap_of(home)
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "sessions") == {"2026-11-19": 1}


def test_subagent_whose_parent_is_gone_still_counts_toward_the_parent(home: CodexHome) -> None:
    home.place("subagent.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (500, 790, 3200, 0)  # the replay counts once, in the subagent's file
    assert sessions(snap) == (1, 0, 1)


def test_subagent_of_a_subagent_folds_to_the_top_thread(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("subagent_nested.jsonl")  # spawned by S, which A spawned; S's own rollout is not there
    snap = snap_of(home)
    # A's two calls, S's own call (replayed: 700 in, 600 cached, 90 out) and S2's own (50, 0, 5).
    assert tokens(snap) == (400 + 100 + 50, 700 + 90 + 5, 2600 + 600, 0)
    assert sessions(snap) == (1, 0, 1)
    home.place("subagent.jsonl")
    snap = snap_of(home)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 4, "duplicate_records": 5}
    assert sessions(snap) == (1, 0, 1)


def test_subagent_of_a_user_fork_folds_to_the_fork(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("fork.jsonl", "2026/11/20")
    home.place("subagent_of_fork.jsonl", "2026/11/20")
    snap = snap_of(home)
    assert tokens(snap) == (500 + 30, 820 + 3, 3400, 0)
    assert sessions(snap) == (2, 1, 2)
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}


def test_guardian_thread_without_a_parent_is_a_session_of_its_own(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("guardian.jsonl")
    snap = snap_of(home)
    assert sessions(snap) == (2, 0, 2)
    assert ("codex-auto-review", 100, 20, 700, 0, 1) in models(snap)


def test_two_unrelated_threads_with_identical_first_calls_are_two_calls(home: CodexHome) -> None:
    # The identity is scoped to the lineage: equal figures in two threads of their own are two calls.
    for thread in (A, B):
        home.write(home.path(thread), [
            '{"timestamp":"2026-11-19T10:00:00.000Z","type":"session_meta","payload":{"id":"' + thread + '"}}',
            token_count("2026-11-19T10:00:05.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    snap = snap_of(home)
    assert tokens(snap) == (200, 20, 0, 0)
    assert sessions(snap)[0] == 2


def test_first_session_meta_names_the_thread(home: CodexHome) -> None:
    # F's fork file names A in its second session_meta: F is still the thread, and A the lineage root.
    home.place("fork.jsonl", "2026/11/20")
    home.place("plain_two_turns.jsonl")
    snap = snap_of(home)
    assert sessions(snap)[0] == 2


def test_files_that_are_not_rollouts_are_not_read(home: CodexHome) -> None:
    path = home.place("plain_two_turns.jsonl")
    (home.root / "history.jsonl").write_bytes(path.read_bytes())
    (home.sessions / "2026" / "notes.jsonl").write_bytes(path.read_bytes())
    (home.sessions / "rollout-old.json").write_bytes(path.read_bytes())
    snap = snap_of(home)
    assert diag(snap, "files_read", "records_counted") == {"files_read": 1, "records_counted": 2}


def test_old_rollouts_directly_under_sessions_are_read(home: CodexHome) -> None:
    target = home.sessions / "rollout-2025-05-01-0199a000-0000-7000-8000-00000000000a.jsonl"
    target.write_bytes((Path(__file__).parent / "fixtures" / "codex_cli" / "plain_two_turns.jsonl").read_bytes())
    assert tokens(snap_of(home)) == (400, 700, 2600, 0)


def test_truncated_final_line_is_not_counted(home: CodexHome) -> None:
    home.place("truncated_final_line.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (0, 200, 1000, 0)
    assert skipped(snap) == {}


def test_unreadable_rollout_is_reported_not_fatal(work_dir: Path) -> None:
    """As a user that file modes apply to (root reads any file): without the cache, cold and warm."""
    home = CodexHome(work_dir / "codex")
    path = home.place("plain_two_turns.jsonl")
    home.place("info_null.jsonl")
    path.chmod(0)
    hand_over(work_dir)
    docs = []
    for args in (["--no-cache"], [], []):
        done = run_openusage(["snapshot", "--json", *args], work_dir,
                             {"CODEX_HOME": str(home.root), "OPENUSAGE_NOW": "2026-11-20T12:00:00Z"})
        assert done.returncode == 0, done.stderr
        docs.append({k: v for k, v in json.loads(done.stdout).items() if k != "generated_at"})
    assert docs[0] == docs[1] == docs[2]
    snap = docs[0]["snapshots"][0]
    assert tokens(snap) == (500, 50, 0, 0)
    assert snap["diagnostics"]["files_unreadable"] == 1


# --- where the files are: detect, settings ---------------------------------------------------------------------


def detect_json(env: dict[str, str | None]) -> Any:
    result = invoke(["detect", "--json"], env)
    assert result.exit_code == 0, explain(result)
    return json.loads(result.stdout)


def codex_detection(doc: Any) -> dict[str, Any]:
    return next(p for p in doc["providers"] if p["provider_id"] == "codex_cli")


def test_detect_explains_what_it_found(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    home.place("fork.jsonl", "2026/11/20", archived=True)
    found = codex_detection(detect_json(codex_env(home.root)))
    assert found["title"] == "Codex CLI"
    assert found["detected"]
    facts = {f["what"]: (f["value"], f["found"]) for f in found["facts"]}
    assert facts["root"] == (f"{home.root} (CODEX_HOME)", True)
    assert facts["sessions dir"] == (f"{home.sessions} (1 sessions)", True)
    assert facts["archived sessions dir"] == (f"{home.archived} (1 sessions)", True)
    assert facts["config file"] == (str(home.root / "config.toml"), False)
    assert facts["binary"] == ("codex not on PATH", False)


def test_detected_by_the_archived_directory_alone(tmp_path: Path) -> None:
    root = tmp_path / "codex"
    (root / "archived_sessions").mkdir(parents=True)
    assert codex_detection(detect_json(codex_env(root)))["detected"]


def test_detected_by_the_binary_alone(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "codex"
    binary.write_text("#!/bin/sh\n", encoding="utf-8")
    binary.chmod(0o755)
    (tmp_path / "empty").mkdir()  # a home Codex has written nothing to yet (a missing one is an error)
    env = codex_env(tmp_path / "empty", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    found = codex_detection(detect_json(env))
    assert found["detected"]
    assert any(f["value"] == str(binary) and f["found"] for f in found["facts"])
    snap = run(env)["snapshots"][0]
    assert snap["status"] == "unknown"
    assert snap["message"] == "Codex CLI sessions directory not found"


def test_not_detected_without_any_trace(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()  # a home with nothing in it (a missing one is an error, shown)
    env = codex_env(tmp_path / "empty")
    assert not codex_detection(detect_json(env))["detected"]
    assert run(env)["snapshots"] == []


def test_home_defaults_to_dot_codex(isolated_env: Path) -> None:
    home = CodexHome(isolated_env / ".codex")
    home.place("plain_two_turns.jsonl")
    assert tokens(snapshot(codex_env())) == (400, 700, 2600, 0)


def test_settings_home_and_sessions_dir(tmp_path: Path) -> None:
    elsewhere = CodexHome(tmp_path / "elsewhere")
    elsewhere.place("plain_two_turns.jsonl")
    elsewhere.place("info_null.jsonl", archived=True)
    live = CodexHome(tmp_path / "live-only")
    live.place("last_only.jsonl")
    settings = {"auto_detect": False, "accounts": [
        {"id": "home", "provider": "codex_cli", "extra": {"home": str(elsewhere.root)}},
        {"id": "moved", "provider": "codex_cli",
         "extra": {"home": str(elsewhere.root), "sessions_dir": str(live.sessions)}}]}
    settings_file().write_text(json.dumps(settings), encoding="utf-8")
    doc = run(codex_env(), "--no-cache")
    by_id = {s["account_id"]: s for s in doc["snapshots"]}
    assert tokens(by_id["home"]) == (900, 750, 2600, 0)
    # sessions_dir replaces the live directory; the archived one stays the home's.
    assert tokens(by_id["moved"]) == (420 + 500, 50 + 50, 80, 0)


def test_codex_home_that_is_a_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "codex"
    root.mkdir()
    (root / "sessions").write_text("not a directory", encoding="utf-8")
    (root / "archived_sessions").mkdir()
    snap = run(codex_env(root))["snapshots"][0]
    assert snap["status"] == "ok"  # the archived directory is still read
    (root / "archived_sessions").rmdir()
    assert run(codex_env(root))["snapshots"] == []  # nothing left to detect it by
    settings = {"accounts": [{"id": "mine", "provider": "codex_cli", "extra": {"home": str(root)}}]}
    settings_file().write_text(json.dumps(settings), encoding="utf-8")
    snap = run(codex_env(root), "--no-cache")["snapshots"][0]
    assert snap["status"] == "error"
    assert "not a directory" in snap["message"]


# --- lineage roots followed across files ("through the session_meta lines of all files") -------------------

R1, P1, F1 = (f"0199a000-0000-7000-8000-0000000001{n}" for n in ("a1", "b1", "c1"))


def _root_thread() -> list[str]:
    return [session_meta("2026-11-19T10:00:00.000Z", R1),
            turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
            token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))]


def _middle_fork() -> list[str]:
    """P, a fork of R that copies R's session_meta and replays R's call, then makes one of its own."""
    return [session_meta("2026-11-19T11:00:00.000Z", P1, forked_from_id=R1),
            session_meta("2026-11-19T10:00:00.000Z", R1),
            token_count("2026-11-19T11:00:00.010Z", (100, 0, 10, 0), (100, 0, 10, 0)),
            turn_context("2026-11-19T11:00:01.000Z", "gpt-5"),
            token_count("2026-11-19T11:00:02.000Z", (150, 0, 15, 0), (50, 0, 5, 0))]


def _outer_fork() -> list[str]:
    """F, a fork of P whose head names P alone (no copy of P's session_meta, so nothing in F's file
    leads to R), replaying R's and P's calls before one of its own."""
    return [session_meta("2026-11-20T09:00:00.000Z", F1, forked_from_id=P1),
            token_count("2026-11-20T09:00:00.010Z", (100, 0, 10, 0), (100, 0, 10, 0)),
            token_count("2026-11-20T09:00:00.020Z", (150, 0, 15, 0), (50, 0, 5, 0)),
            turn_context("2026-11-20T09:00:01.000Z", "gpt-5"),
            token_count("2026-11-20T09:00:02.000Z", (180, 0, 18, 0), (30, 0, 3, 0))]


def test_the_lineage_root_is_followed_through_the_heads_of_other_files(home: CodexHome) -> None:
    """"Follow forked_from_id / parent_thread_id through the session_meta lines of all files to the
    oldest known ancestor": F's head names P only, P's names R, so F's copies of R's and P's calls are
    keyed under R, as the originals are, and count once each, owned by their own threads, at their own
    times. Before, F's file alone decided its root (P), and both replays counted again."""
    home.write(home.path(R1), _root_thread())
    home.write(home.path(P1), _middle_fork())
    home.write(home.path(F1, "2026/11/20"), _outer_fork())
    snap = snap_of(home)
    assert tokens(snap) == (180, 18, 0, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 3, "duplicate_records": 3}
    assert series(snap, "tokens") == {"2026-11-19": 165, "2026-11-20": 33}
    assert _session_calls(home) == {R1: 1, P1: 1, F1: 1}


def test_a_head_that_links_two_roots_later_folds_the_cached_copies_together(home: CodexHome) -> None:
    """The cache knew F and R only, so F's replays were F's own (nothing named P's parent); P's rollout
    then appears and links P to R: the cached copies fold as a scan from scratch folds them. And when
    P's rollout goes again, they come apart again."""
    home.write(home.path(R1), _root_thread())
    home.write(home.path(F1, "2026/11/20"), _outer_fork())
    apart = snap_of(home)
    assert tokens(apart) == (280, 28, 0, 0)  # R's call, and F's three (its two replays have no known root)
    middle = home.write(home.path(P1), _middle_fork())
    assert _session_calls(home) == {R1: 1, P1: 1, F1: 1}  # the cache of the run before, refreshed
    assert _session_calls(home, "--no-cache") == {R1: 1, P1: 1, F1: 1}
    snap = cached_equals_cold(codex_env(home.root))
    assert tokens(snap) == (180, 18, 0, 0)
    middle.unlink()
    snap = cached_equals_cold(codex_env(home.root))
    assert tokens(snap) == (280, 28, 0, 0)


def test_a_head_that_names_a_gone_threads_parent_joins_the_roots_of_other_files(home: CodexHome) -> None:
    """P's rollout is gone for good. F's head names P only; Q's head names P and, through its copy of
    P's session_meta, P's parent R. Once Q's rollout appears, F's copy of R's call is keyed under R as
    well, whichever of the cache's ways of re-folding runs: a refresh must re-fold the calls of F,
    whose own state and ancestry did not change."""
    q = "0199a000-0000-7000-8000-0000000001d1"
    home.write(home.path(R1), _root_thread())
    home.write(home.path(F1, "2026/11/20"), _outer_fork())
    assert tokens(snap_of(home)) == (280, 28, 0, 0)
    home.write(home.path(q, "2026/11/20"), [
        session_meta("2026-11-20T10:00:00.000Z", q, forked_from_id=P1),
        session_meta("2026-11-19T11:00:00.000Z", P1, forked_from_id=R1),
        session_meta("2026-11-19T10:00:00.000Z", R1),
        token_count("2026-11-20T10:00:00.010Z", (100, 0, 10, 0), (100, 0, 10, 0)),
        token_count("2026-11-20T10:00:00.020Z", (150, 0, 15, 0), (50, 0, 5, 0)),
        turn_context("2026-11-20T10:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T10:00:02.000Z", (170, 0, 17, 0), (20, 0, 2, 0))])
    snap = cached_equals_cold(codex_env(home.root))
    # R's call, P's (held by F and Q, owned by F: the id that sorts first), F's own, Q's own.
    assert tokens(snap) == (200, 20, 0, 0)
    assert _session_calls(home) == {R1: 1, F1: 2, q: 1}


def test_a_head_that_names_the_parent_of_a_thread_of_its_own_moves_that_threads_keys(home: CodexHome) -> None:
    """X's own head names no parent, so its keys are under X; it replays R's call. Q's head then copies
    X's session_meta naming R as X's parent: X's keys go under R, and the replay folds with R's call,
    in a refresh of the cache as in a scan from scratch (X, named by no head before, is in no state
    the cache compares until Q names it)."""
    x, q = "0199a000-0000-7000-8000-0000000001e1", "0199a000-0000-7000-8000-0000000001f1"
    home.write(home.path(R1), _root_thread())
    home.write(home.path(x), [session_meta("2026-11-19T12:00:00.000Z", x),
                              token_count("2026-11-19T12:00:00.010Z", (100, 0, 10, 0), (100, 0, 10, 0)),
                              turn_context("2026-11-19T12:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T12:00:02.000Z", (140, 0, 14, 0), (40, 0, 4, 0))])
    assert tokens(snap_of(home)) == (240, 24, 0, 0)
    home.write(home.path(q, "2026/11/20"), [
        session_meta("2026-11-20T10:00:00.000Z", q, forked_from_id=x),
        session_meta("2026-11-19T12:00:00.000Z", x, forked_from_id=R1),
        session_meta("2026-11-19T10:00:00.000Z", R1),
        turn_context("2026-11-20T10:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T10:00:02.000Z", (20, 0, 2, 0), (20, 0, 2, 0))])
    snap = cached_equals_cold(codex_env(home.root))
    assert tokens(snap) == (160, 16, 0, 0)
    assert _session_calls(home) == {R1: 1, x: 1, q: 1}


# --- links only another rollout's head names ("through the session_meta lines of all files") ---------------

TA, TB, TC, TD, TM = (f"0199a000-0000-7000-8000-0000000002{n}" for n in ("a1", "b1", "c1", "d1", "e1"))
T0 = "0099a000-0000-7000-8000-000000000201"  # sorts before every other thread here


def _thread_a() -> list[str]:
    """A, a thread of its own with one call (100 in, 10 out)."""
    return [session_meta("2026-11-20T10:00:00.000Z", TA),
            turn_context("2026-11-20T10:00:01.000Z", "gpt-5"),
            token_count("2026-11-20T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))]


def _fork_of_b_replaying_a(thread: str) -> list[str]:
    """A fork of B whose head names B only, replaying A's call before one of its own (200 in, 20 out)."""
    return [session_meta("2026-11-20T10:04:00.000Z", thread, forked_from_id=TB),
            token_count("2026-11-20T10:05:00.000Z", (100, 0, 10, 0), (100, 0, 10, 0)),
            turn_context("2026-11-20T10:05:01.000Z", "gpt-5"),
            token_count("2026-11-20T10:06:00.000Z", (300, 0, 30, 0), (200, 0, 20, 0))]


def _c_copying_b(parent: str, **b_link: Any) -> list[str]:
    """C's head alone: its own session_meta (a fork of `parent`), then a copy of B's, naming B's own
    link to A (`b_link`: `forked_from_id=TA` or `source=_spawned(TA)`)."""
    return [session_meta("2026-11-20T10:03:00.000Z", TC, forked_from_id=parent),
            session_meta("2026-11-20T10:01:00.000Z", TB, **b_link)]


def test_a_subagent_joins_the_top_thread_through_a_spawn_link_only_a_forks_head_names(home: CodexHome) -> None:
    """D was spawned by B, whose rollout is gone; D's head names B only. C, a user fork of B, copies B's
    session_meta: B was spawned by A. "Subagents of subagents fold to the top thread" ("Readings settled"
    6), through the link C's head names (1): D's call counts toward A. Before, toward B."""
    home.write(home.path(TA), _thread_a())
    home.write(home.path(TD, "2026/11/20"), [
        session_meta("2026-11-20T10:05:00.000Z", TD, source=_spawned(TB)),
        turn_context("2026-11-20T10:05:01.000Z", "gpt-5"),
        token_count("2026-11-20T10:06:00.000Z", (200, 0, 20, 0), (200, 0, 20, 0))])
    assert _session_calls(home) == {TA: 1, TB: 1}  # nothing names B's spawner yet; the cache is made
    home.write(home.path(TC, "2026/11/20"), _c_copying_b(TB, source=_spawned(TA)))
    assert _session_calls(home) == {TA: 2}  # the cache, refreshed
    snap = snap_of(home)
    assert sessions(snap) == (1, 1, 1)
    assert _session_calls(home, "--no-cache") == {TA: 2}


def test_a_replay_is_owned_by_the_thread_a_link_only_another_head_names_leads_to(home: CodexHome) -> None:
    """B, a fork of A, has no rollout; C's head copies B's session_meta (B forked from A). D (whose id
    sorts first) forks B, names B only, and replays A's call. A is D's ancestor through C's link, so A
    owns the call ("the copy's thread that is an ancestor of the others"), not D by its id."""
    home.write(home.path(TA), _thread_a())
    home.write(home.path(TC, "2026/11/20"), _c_copying_b(TB, forked_from_id=TA))
    home.write(home.path(T0, "2026/11/20"), _fork_of_b_replaying_a(T0))
    snap = snap_of(home)
    assert tokens(snap) == (300, 30, 0, 0)
    assert sessions(snap) == (2, 2, 2)
    assert _session_calls(home) == {TA: 1, T0: 1}


def test_a_link_in_a_head_that_leaves_a_generation_out_is_followed(home: CodexHome) -> None:
    """C forks M, which forks B, which forks A; only A's and C's rollouts (and D's) exist. C's head has
    its own line and a copy of B's (B forked from A), not M's: the chain from C stops at M, and the link
    from B to A is still a session_meta line to follow. D forks B, names B only, and replays A's call:
    keyed under A, it counts once. Before, twice."""
    home.write(home.path(TA), _thread_a())
    home.write(home.path(TC, "2026/11/20"), _c_copying_b(TM, forked_from_id=TA))
    home.write(home.path(TD, "2026/11/20"), _fork_of_b_replaying_a(TD))
    snap = snap_of(home)
    assert tokens(snap) == (300, 30, 0, 0)
    assert diag(snap, "records_counted", "duplicate_records") == {"records_counted": 2, "duplicate_records": 1}
    assert _session_calls(home) == {TA: 1, TD: 1}


# --- the upstream provider ("Readings settled" 8) -----------------------------------------------------------

UA, UB, UF, US = (f"0199a000-0000-7000-8000-0000000003{n}" for n in ("a1", "b1", "c1", "d1"))


def _provider_rows(snap: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(model, upstream provider) → (input, output, requests) of each model row."""
    return {(r["model"], r["upstream_provider"]): (r["input_tokens"], r["output_tokens"], r["requests"])
            for r in snap["models"]}


def test_each_call_is_its_owning_threads_upstream_providers(home: CodexHome) -> None:
    """"Upstream provider comes from the owning thread's session_meta.model_provider": A runs on Azure,
    B (no model_provider) on the usual openai, both gpt-5: two rows. F, an openai fork of A, replays
    A's call (owned by A: Azure) and makes its own (openai). S, a subagent A spawned on openai, counts
    toward A's session, so its call is Azure's."""
    home.write(home.path(UA), [session_meta("2026-11-19T10:00:00.000Z", UA, model_provider="azure"),
                               turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    home.write(home.path(UB), ['{"timestamp":"2026-11-19T11:00:00.000Z","type":"session_meta","payload":{"id":"'
                               + UB + '"}}',
                               turn_context("2026-11-19T11:00:01.000Z", "gpt-5"),
                               token_count("2026-11-19T11:00:02.000Z", (200, 0, 20, 0), (200, 0, 20, 0))])
    home.write(home.path(UF, "2026/11/20"), [
        session_meta("2026-11-20T09:00:00.000Z", UF, forked_from_id=UA),
        session_meta("2026-11-19T10:00:00.000Z", UA, model_provider="azure"),
        token_count("2026-11-20T09:00:00.010Z", (100, 0, 10, 0), (100, 0, 10, 0)),
        turn_context("2026-11-20T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T09:00:02.000Z", (140, 0, 14, 0), (40, 0, 4, 0))])
    home.write(home.path(US), [session_meta("2026-11-19T10:05:00.000Z", US, source=_spawned(UA)),
                               turn_context("2026-11-19T10:05:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:05:02.000Z", (30, 0, 3, 0), (30, 0, 3, 0))])
    snap = snap_of(home)
    assert _provider_rows(snap) == {("gpt-5", "azure"): (130, 13, 2), ("gpt-5", "openai"): (240, 24, 2)}
    assert tokens(snap) == (370, 37, 0, 0)
    assert _session_calls(home) == {UA: 2, UB: 1, UF: 1}


def test_a_thread_named_on_another_upstream_later_moves_its_calls_rows(home: CodexHome) -> None:
    """The cache knew S's call as A's (A's rollout not yet there: the usual upstream); A's rollout then
    appears, on Azure: S's call, which A owns, is Azure's in the refreshed cache as from scratch."""
    home.write(home.path(US), [session_meta("2026-11-19T10:05:00.000Z", US, source=_spawned(UA)),
                               turn_context("2026-11-19T10:05:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:05:02.000Z", (30, 0, 3, 0), (30, 0, 3, 0))])
    assert _provider_rows(snap_of(home)) == {("gpt-5", "openai"): (30, 3, 1)}
    home.write(home.path(UA), [session_meta("2026-11-19T10:00:00.000Z", UA, model_provider="azure"),
                               turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    snap = cached_equals_cold(codex_env(home.root))
    assert _provider_rows(snap) == {("gpt-5", "azure"): (130, 13, 2)}


def test_a_thread_whose_rollout_is_gone_is_known_by_the_provider_its_copies_name(home: CodexHome) -> None:
    """S, a subagent on openai, counts toward A, whose rollout is gone; S's head copies A's session_meta,
    which names Azure: S's call is Azure's ("the owning thread's session_meta.model_provider", wherever
    that line is). When A's rollout appears, its own line decides (here, the usual openai)."""
    home.write(home.path(US), [session_meta("2026-11-19T10:05:00.000Z", US, source=_spawned(UA)),
                               session_meta("2026-11-19T10:00:00.000Z", UA, model_provider="azure"),
                               turn_context("2026-11-19T10:05:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:05:02.000Z", (30, 0, 3, 0), (30, 0, 3, 0))])
    assert _provider_rows(snap_of(home)) == {("gpt-5", "azure"): (30, 3, 1)}
    home.write(home.path(UA), [session_meta("2026-11-19T10:00:00.000Z", UA),
                               turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                               token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    snap = cached_equals_cold(codex_env(home.root))
    assert _provider_rows(snap) == {("gpt-5", "openai"): (130, 13, 2)}


# --- a rollout named after another thread: the session is the thread its first session_meta names ------------

R = "0199a000-0000-7000-8000-0000000000ee"  # a file name's UUID that is no thread's id


def _renamed(home: CodexHome, fixture: str, name: str = R, day: str = "2026/11/19", *,
             archived: bool = False) -> Path:
    """A fixture as a rollout whose file name ends with `name`, not with its thread's id."""
    path = home.path(name, day, archived=archived)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((Path(__file__).parent / "fixtures" / "codex_cli" / fixture).read_bytes())
    return path


def test_a_renamed_rollouts_session_is_the_thread_its_first_session_meta_names(home: CodexHome) -> None:
    """"Session id: the thread id from the file's first session_meta ...; fallback: the UUID in the file
    name." A's rollout under another name is A's session, in every report and from the cache."""
    _renamed(home, "plain_two_turns.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (400, 700, 2600, 0)
    assert sessions(snap) == (1, 0, 1)
    assert _session_calls(home, "--no-cache") == {A: 2}
    assert _session_calls(home) == {A: 2}


def test_a_renamed_rollout_and_its_copy_under_the_threads_name_are_one_session(home: CodexHome) -> None:
    """"Identify a file by the thread id in its first session_meta, not by its path": A's archived copy
    under another name folds into A's live rollout, whichever name sorts first."""
    home.place("plain_two_turns.jsonl")
    for name in (R, "0199a000-0000-7000-8000-000000000001"):  # after A's id, then before it
        path = _renamed(home, "plain_two_turns.jsonl", name, archived=True)
        snap = snap_of(home)
        assert tokens(snap) == (400, 700, 2600, 0)
        assert sessions(snap) == (1, 0, 1)
        assert diag(snap, "files_read", "records_counted", "duplicate_records") == {
            "files_read": 2, "records_counted": 2, "duplicate_records": 2}
        assert _session_calls(home, "--no-cache") == {A: 2}
        assert _session_calls(home) == {A: 2}
        path.unlink()


def test_a_fork_of_a_renamed_rollouts_thread_replays_calls_its_parent_owns(home: CodexHome) -> None:
    """F, a fork of A, replays A's two calls; A's rollout is named after another id that sorts before
    F's. The replay is still A's (F descends from the thread A's file holds), and F owns its own call."""
    _renamed(home, "plain_two_turns.jsonl", "0199a000-0000-7000-8000-000000000001")
    home.place("fork.jsonl", "2026/11/20")
    snap = snap_of(home)
    assert tokens(snap) == (400 + 100, 700 + 120, 2600 + 800, 0)
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}
    assert sessions(snap) == (2, 1, 2)
    assert _session_calls(home, "--no-cache") == {A: 2, F: 1}
    assert _session_calls(home) == {A: 2, F: 1}


def test_a_renamed_subagent_rollout_still_counts_toward_its_parent(home: CodexHome) -> None:
    home.place("plain_two_turns.jsonl")
    _renamed(home, "subagent.jsonl")
    snap = snap_of(home)
    assert tokens(snap) == (400 + 100, 700 + 90, 2600 + 600, 0)
    assert sessions(snap) == (1, 0, 1)
    assert _session_calls(home, "--no-cache") == {A: 3}


def test_a_renamed_rollout_with_no_session_meta_is_the_thread_its_name_ends_with(home: CodexHome) -> None:
    """The fallback: no session_meta, so the UUID in the file name names the session."""
    home.write(home.path(R), [turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    assert _session_calls(home, "--no-cache") == {R: 1}
    assert _session_calls(home) == {R: 1}


def test_a_rollout_renamed_after_a_first_run_stays_its_threads_session(home: CodexHome) -> None:
    """The cache knew A's rollout by A's name; moved to another name, it is still A's one session."""
    path = home.place("plain_two_turns.jsonl")
    assert _session_calls(home) == {A: 2}
    path.rename(home.path(R))
    assert _session_calls(home) == {A: 2}
    assert sessions(cached_equals_cold(codex_env(home.root)))[0] == 1


def test_a_renamed_rollouts_thread_shows_the_title_and_project_its_file_names(home: CodexHome) -> None:
    """A report by session or by project finds a thread's facts by its id among the files' names: a
    thread held only under another name takes them from the file that holds it, without the cache, on a
    first run and warm."""
    _renamed(home, "plain_two_turns.jsonl")
    home.place("fork.jsonl", "2026/11/20")

    def facts(*args: str) -> dict[str, tuple[str, str]]:
        result = invoke(["report", "session", "--json", "--tz", "UTC", *args], codex_env(home.root))
        assert result.exit_code == 0, explain(result)
        return {row["period"]: (row["title"], row["project"]) for row in json.loads(result.stdout)["rows"]}

    expected = {A: ("Add a --json flag to the report", "/home/dev/app"),
                F: ("Add a --json flag to the report", "/home/dev/app")}
    assert facts("--no-cache") == expected
    assert facts() == expected  # the first run
    assert facts() == expected  # warm
    result = invoke(["report", "project", "--json", "--tz", "UTC"], codex_env(home.root))
    assert result.exit_code == 0, explain(result)
    assert [row["period"] for row in json.loads(result.stdout)["rows"]] == ["/home/dev/app"]


def test_a_broken_line_above_a_forks_session_meta_lines_does_not_hide_its_parent(home: CodexHome) -> None:
    """Lines that cannot be a JSON object at the top of a fork's rollout (junk written before its first
    line, `{oops}` between its session_meta lines) are skipped and counted, a blank line is nothing, and
    the session_meta lines among them still name the fork's parent: the call the fork replays stays its
    parent's, though the fork's id sorts first."""
    parent, fork = "0199a000-0000-7000-8000-0000000000aa", "0199a000-0000-7000-8000-000000000001"
    call = token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))
    home.write(home.path(parent), [session_meta("2026-11-19T10:00:00.000Z", parent),
                                   turn_context("2026-11-19T10:00:01.000Z", "gpt-5"), call])
    home.write(home.path(fork, "2026/11/20"), [
        "\x00\x00 not a line of Codex's {", "",
        session_meta("2026-11-20T09:00:00.000Z", fork, forked_from_id=parent), "{oops}",
        session_meta("2026-11-19T10:00:00.000Z", parent), call,
        turn_context("2026-11-20T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T09:00:02.000Z", (150, 0, 15, 0), (50, 0, 5, 0))])
    assert _session_calls(home, "--no-cache") == {parent: 1, fork: 1}
    assert _session_calls(home) == {parent: 1, fork: 1}
    snap = snap_of(home)
    assert tokens(snap) == (150, 15, 0, 0)
    assert sum(skipped(snap).values()) == 2  # the blank line is nothing


def test_lines_of_kinds_codex_may_add_above_and_between_session_meta_lines_do_not_hide_a_lineage(
        home: CodexHome) -> None:
    """"Unknown kinds are normal: skip them" (codex-cli-format.md): a line of a kind a newer build adds,
    written above a fork's own session_meta and between it and its parent's copy, is passed over, so the
    call the fork replays stays its parent's though the fork's id sorts first; and a subagent whose
    rollout begins with one still joins its spawner's session."""
    parent, fork = "0199a000-0000-7000-8000-0000000000aa", "0199a000-0000-7000-8000-000000000001"
    agent = "0199a000-0000-7000-8000-0000000000ab"
    call = token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))
    added = rollout_line("2026-11-20T09:00:00.000Z", "token_usage_record", {"kind": "new", "n": 1})
    home.write(home.path(parent), [session_meta("2026-11-19T10:00:00.000Z", parent),
                                   turn_context("2026-11-19T10:00:01.000Z", "gpt-5"), call])
    home.write(home.path(fork, "2026/11/20"), [
        added, session_meta("2026-11-20T09:00:00.000Z", fork, forked_from_id=parent), added,
        session_meta("2026-11-19T10:00:00.000Z", parent), call,
        turn_context("2026-11-20T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T09:00:02.000Z", (150, 0, 15, 0), (50, 0, 5, 0))])
    home.write(home.path(agent, "2026/11/21"), [
        added, session_meta("2026-11-21T09:00:00.000Z", agent, source=_spawned(parent)),
        turn_context("2026-11-21T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-21T09:00:02.000Z", (7, 0, 1, 0), (7, 0, 1, 0))])
    expected = {parent: 2, fork: 1}  # the subagent's call counts toward its spawner's session
    assert _session_calls(home, "--no-cache") == expected
    assert _session_calls(home) == expected  # the first run
    assert _session_calls(home) == expected  # warm
    snap = snap_of(home)
    assert tokens(snap) == (157, 16, 0, 0)
    assert sessions(snap)[0] == 2
    assert skipped(snap) == {}  # a line of another kind is no broken line


def test_a_rollouts_head_passes_over_as_many_lines_as_its_bound_allows(home: CodexHome) -> None:
    """`layout.HEAD_PASSES` lines that are no session_meta above a fork's own line (junk, blanks,
    kinds Codex may add, mixed) are passed over: the parent's call stays the parent's."""
    parent, fork = "0199a000-0000-7000-8000-0000000000aa", "0199a000-0000-7000-8000-000000000001"
    call = token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))
    added = rollout_line("2026-11-20T09:00:00.000Z", "token_usage_record", {"kind": "new"})
    home.write(home.path(parent), [session_meta("2026-11-19T10:00:00.000Z", parent),
                                   turn_context("2026-11-19T10:00:01.000Z", "gpt-5"), call])
    above = [("not a line {", "", added)[n % 3] for n in range(layout.HEAD_PASSES)]
    home.write(home.path(fork, "2026/11/20"), [
        *above, session_meta("2026-11-20T09:00:00.000Z", fork, forked_from_id=parent),
        session_meta("2026-11-19T10:00:00.000Z", parent), call,
        turn_context("2026-11-20T09:00:01.000Z", "gpt-5"),
        token_count("2026-11-20T09:00:02.000Z", (150, 0, 15, 0), (50, 0, 5, 0))])
    assert _session_calls(home, "--no-cache") == {parent: 1, fork: 1}
    assert _session_calls(home) == {parent: 1, fork: 1}


def test_a_rollout_of_one_endless_line_is_not_held_whole(home: CodexHome) -> None:
    """A rollout that is one line without end (a file of zeros: a damaged disk, a preallocated file)
    holds no session_meta: its head stops at `layout.HEAD_LINE_LIMIT` instead of holding the file in
    memory, and the thread beside it counts as ever."""
    zeros = home.path("0199a000-0000-7000-8000-0000000000ee", "2026/11/20")
    zeros.parent.mkdir(parents=True, exist_ok=True)
    with zeros.open("wb") as f:
        f.truncate(4 * layout.HEAD_LINE_LIMIT)  # sparse: no disk used
    tracemalloc.start()
    try:
        assert layout._head(str(zeros)) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * layout.HEAD_LINE_LIMIT  # the line as far as the bound, not the file
    home.write(home.path(A), [session_meta("2026-11-19T10:00:00.000Z", A),
                              turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
                              token_count("2026-11-19T10:00:02.000Z", (100, 0, 10, 0), (100, 0, 10, 0))])
    snap = snap_of(home)
    assert tokens(snap) == (100, 10, 0, 0)
    assert snap["status"] == "ok"
