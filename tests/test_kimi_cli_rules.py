"""The Kimi CLI provider, rule by rule (shared/kimi-cli-format.md), seen only through `snapshot --json`.

Every counting test builds a real Kimi home under tmp_path and checks exact figures computed by hand
from the lines it wrote. `only_snapshot` / `snapshot_all_paths` run each snapshot three ways

pytestmark = pytest.mark.usefixtures("refold_path")
(`--no-cache`, cold cache, warm cache) and require the same document from all three.
The clock is OPENUSAGE_NOW = 2026-11-20T12:00:00Z: today is 2026-11-20 and the 7-day window starts at
2026-11-13T12:00:00Z.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from kimi_home import (
    FIXTURES,
    GROUP,
    NOW,
    OMIT,
    OTHER_GROUP,
    KimiHome,
    at,
    by_account,
    clean_diag,
    comparable,
    diag,
    dumps,
    env_for,
    event,
    invoke,
    line,
    models,
    only_snapshot,
    series,
    sessions,
    settings_file,
    snapshot_all_paths,
    status_update,
    token_usage,
    tokens,
    uid,
    used,
    wrap,
)
from unprivileged import hand_over, run_openusage

DEFAULT = "kimi-for-coding"
TURBO_TOML = """\
default_model = "fast"

[models.fast]
provider = "moonshot"
model = "kimi-k2-turbo-preview"
max_context_size = 262144

[providers.moonshot]
type = "kimi"
base_url = "https://api.moonshot.ai/v1"
api_key = "sk-test-not-a-real-key"
"""


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    """A Kimi home at tmp_path/kimi, used through KIMI_SHARE_DIR."""
    return KimiHome(tmp_path / "kimi")


def write_settings(data: Any) -> Path:
    path = settings_file()
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


# --- which records are usage, and the four counts ---------------------------------------------------------


def test_four_counts_map_to_input_output_cache_read_cache_write(home: KimiHome) -> None:
    s = home.session(uid("5"))
    s.usage(at("2026-11-18T09:00:00Z"), (1520, 312, 79400, 64), "chatcmpl-map-1")
    s.usage(at("2026-11-18T10:00:00Z"), (200, 30, 1000, 0), "chatcmpl-map-2", compact=True)

    snap = only_snapshot(env_for(home.root))

    assert (snap["account_id"], snap["status"]) == ("kimi_cli", "ok")
    assert tokens(snap) == (1720, 342, 80400, 64)
    assert used(snap, "total_tokens") == 1720 + 342
    assert models(snap) == [(DEFAULT, 1720, 342, 80400, 64, 2)]
    # One name, one meaning: a model row's total_tokens is input + output too; all four are all_tokens.
    assert snap["models"][0]["total_tokens"] == 1720 + 342
    assert snap["models"][0]["all_tokens"] == 1720 + 342 + 80400 + 64
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-18": 2062}
    assert series(snap, "sessions") == {"2026-11-18": 1}
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_null_or_missing_token_usage_is_not_usage_and_not_a_skip(home: KimiHome) -> None:
    real = home.session(uid("1"))
    real.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-real")
    context_only = home.session(uid("2"))
    context_only.add(
        line(at("2026-11-19T10:01:00Z"), status_update(usage=None, mid=None)),  # "token_usage": null
        line(at("2026-11-19T10:02:00Z"), status_update(mid="chatcmpl-nokey")),  # no token_usage key
        line(at("2026-11-19T10:03:00Z"), wrap(status_update(usage=None, mid=None))),  # echoed null
        line(at("2026-11-19T10:04:00Z"), status_update(usage=None, mid=None), compact=True),
    )

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert sessions(snap) == (1, 0, 1)  # the session with only context figures is not active
    assert diag(snap) == clean_diag(files_read=2, records=1)


@pytest.mark.parametrize(
    "value",
    [[], [1520, 312, 0, 0], 5, "1520", True, {}],
    ids=["empty-list", "list", "number", "string", "bool", "empty-object"],
)
def test_token_usage_that_is_not_a_non_empty_object_is_not_counted(home: KimiHome, value: Any) -> None:
    real = home.session(uid("1"))
    real.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-real")
    odd = home.session(uid("2"))
    odd.add(line(at("2026-11-19T10:01:00Z"), status_update(usage=value, mid="chatcmpl-odd")))
    odd.add(line(at("2026-11-19T10:02:00Z"), wrap(status_update(usage=value, mid="chatcmpl-odd2"))))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert models(snap) == [(DEFAULT, 10, 1, 0, 0, 1)]
    # Whether such a line is also reported as wrong_shape is not fixed by the spec: not checked here.
    assert diag(snap, "files_read", "records_counted", "duplicate_records") == {
        "files_read": 2,
        "records_counted": 1,
        "duplicate_records": 0,
    }


def test_all_zero_record_is_not_usage_and_is_reported(home: KimiHome) -> None:
    zero_only = home.session(uid("1"))
    zero_only.usage(at("2026-11-19T10:00:00Z"), (0, 0, 0, 0), "chatcmpl-zero")
    real = home.session(uid("2"))
    real.usage(at("2026-11-18T10:00:00Z"), (5, 1, 0, 0), "chatcmpl-real")
    real.echo(at("2026-11-18T10:01:00Z"), (0, 0, 0, 0), "chatcmpl-zero-echo")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (5, 1, 0, 0)
    assert models(snap) == [(DEFAULT, 5, 1, 0, 0, 1)]
    assert sessions(snap) == (1, 0, 1)  # the session holding only a zero record is not a session
    assert series(snap, "sessions") == {"2026-11-18": 1}
    assert diag(snap) == clean_diag(files_read=2, records=1, zero=2)


def test_negative_and_non_integer_counts_count_as_zero(home: KimiHome) -> None:
    s = home.session(uid("3"))
    raw = [
        {"input_other": -5, "output": 40, "input_cache_read": 100, "input_cache_creation": 0, "total": 999},
        {"input_other": 12.0, "output": 2.5, "input_cache_read": 7, "input_cache_creation": 0},
        {"input_other": "300", "output": 3, "input_cache_read": None, "input_cache_creation": 1},
        {"input_other": True, "output": False, "input_cache_read": 9, "input_cache_creation": 0},
        {"input_other": 50, "output": 5},  # the two cache counts missing
        {"input_other": -1, "output": 1.0, "input_cache_read": "x", "input_cache_creation": None},  # all zero
    ]
    for n, usage in enumerate(raw):
        s.add(line(at("2026-11-18T09:00:00Z") + n, status_update(usage=usage, mid=f"chatcmpl-coerce-{n}")))

    snap = only_snapshot(env_for(home.root))

    # (0,40,100,0) + (0,0,7,0) + (0,3,0,1) + (0,0,9,0) + (50,5,0,0); the last record is all zero.
    assert tokens(snap) == (50, 48, 116, 1)
    assert models(snap) == [(DEFAULT, 50, 48, 116, 1, 5)]
    assert series(snap, "tokens") == {"2026-11-18": 98}
    assert diag(snap) == clean_diag(files_read=1, records=5, zero=1)


def test_counts_of_any_size_count_exactly(home: KimiHome) -> None:
    """Any integer counts, however large: beyond 2**53 (a JavaScript number's exact range) and 2**64."""
    s = home.session(uid("3"))
    huge = [2**53 + 1, 2**64 + 7, 10**30, 3]
    s.usage(at("2026-11-18T09:00:00Z"), (huge[0], huge[1], huge[2], huge[3]), "chatcmpl-huge")
    s.usage(at("2026-11-18T09:01:00Z"), (1, 2, 3, 4), "chatcmpl-small")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (2**53 + 2, 2**64 + 9, 10**30 + 3, 7)
    assert series(snap, "tokens") == {"2026-11-18": 2**53 + 2**64 + 11}
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_missing_count_keys_count_as_zero_and_extra_keys_are_ignored(home: KimiHome) -> None:
    s = home.session(uid("3"))
    s.add(line(at("2026-11-18T09:00:00Z"), status_update(usage={"output": 7}, mid="chatcmpl-a")))
    s.add(
        line(
            at("2026-11-18T09:01:00Z"),
            status_update(usage={"input_cache_read": 900, "reasoning": 55, "total": 1000}, mid="chatcmpl-b"),
        )
    )

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (0, 7, 900, 0)
    assert models(snap) == [(DEFAULT, 0, 7, 900, 0, 2)]
    assert diag(snap) == clean_diag(files_read=1, records=2)


# --- each model call counts once -----------------------------------------------------------------------------


def test_fork_copies_are_folded_by_message_id(home: KimiHome) -> None:
    original = home.session(uid("a"), title="Plan")
    original.usage(at("2026-11-18T09:00:00Z"), (1000, 100, 5000, 0), "chatcmpl-f1")
    original.usage(at("2026-11-18T09:05:00Z"), (2000, 200, 0, 0), "chatcmpl-f2")
    fork = home.fork(original, uid("b"), "Fork: Plan")
    fork.usage(at("2026-11-19T10:00:00Z"), (300, 30, 0, 0), "chatcmpl-f3")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (3300, 330, 5000, 0)
    assert models(snap) == [(DEFAULT, 3300, 330, 5000, 0, 3)]
    assert sessions(snap) == (2, 0, 2)
    assert series(snap, "tokens") == {"2026-11-18": 3300, "2026-11-19": 330}
    assert series(snap, "sessions") == {"2026-11-18": 1, "2026-11-19": 1}
    assert diag(snap) == clean_diag(files_read=2, records=3, duplicates=2)


def test_subagent_echo_and_subagent_file_are_one_call(home: KimiHome) -> None:
    parent = home.session(uid("7"))
    parent.usage(at("2026-11-19T08:00:00Z"), (500, 50, 0, 0), "chatcmpl-p1")
    parent.echo(at("2026-11-19T08:01:00Z"), (80, 8, 400, 0), "chatcmpl-s1")
    sub = parent.subagent("agent-3c9d")
    sub.usage(at("2026-11-19T08:00:59Z"), (80, 8, 400, 0), "chatcmpl-s1")
    sub.usage(at("2026-11-19T08:02:00Z"), (40, 4, 0, 0), "chatcmpl-s2")  # background: own file only

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (620, 62, 400, 0)
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-19": 682}
    assert series(snap, "sessions") == {"2026-11-19": 1}
    assert diag(snap) == clean_diag(files_read=2, records=3, duplicates=1)


def test_same_message_id_with_different_counts_is_two_calls(home: KimiHome) -> None:
    a = home.session(uid("a"))
    a.usage(at("2026-11-18T09:00:00Z"), (100, 10, 0, 0), "chatcmpl-reused")
    b = home.session(uid("b"))
    b.usage(at("2026-11-18T09:00:00Z"), (100, 11, 0, 0), "chatcmpl-reused")
    c = home.session(uid("c"))
    c.usage(at("2026-11-18T09:00:00Z"), (100, 10, 0, 0), "chatcmpl-reused")  # a true copy of a's call

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (200, 21, 0, 0)
    assert models(snap) == [(DEFAULT, 200, 21, 0, 0, 2)]
    # a and c hold the same call, no titles: it belongs to a (name order); c has nothing of its own.
    assert sessions(snap) == (2, 0, 2)
    assert series(snap, "sessions") == {"2026-11-18": 2}
    assert diag(snap) == clean_diag(files_read=3, records=2, duplicates=1)


def test_records_without_message_id_fold_only_when_kind_time_counts_and_model_match(home: KimiHome) -> None:
    t = at("2026-11-18T09:00:00Z") + 0.25
    a = home.session(uid("a"), title="T")
    a.usage(t, (100, 10, 0, 0), None)  # message_id null
    a.echo(t, (100, 10, 0, 0), None)  # same, but wrapped: another kind
    a.usage(t + 1, (100, 10, 0, 0), None)  # another timestamp
    a.usage(t, (100, 10, 0, 0), None, model="kimi-k2-x")  # another model
    a.usage(t, (100, 11, 0, 0), OMIT)  # no message_id key, other counts
    home.fork(a, uid("b"), "Fork: T")  # verbatim copies of all five

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (500, 51, 0, 0)
    assert models(snap) == [(DEFAULT, 400, 41, 0, 0, 4), ("kimi-k2-x", 100, 10, 0, 0, 1)]
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-18": 551}
    assert diag(snap) == clean_diag(files_read=2, records=5, duplicates=5)


def test_records_without_message_id_whose_times_are_not_numbers_stay_apart(home: KimiHome) -> None:
    """The identity of a record without a message_id holds its raw `timestamp` value: NaN, Infinity,
    -Infinity and null are four different values (Python's json reads the first three; none is a
    valid time), so four records that differ only there are four calls, on no day. A fork's verbatim
    copies of them fold. Before, all four read as one call (msgspec writes a non-finite float as null)."""
    a = home.session(uid("a"), title="T")
    usage = '{"token_usage": {"input_other": 100, "output": 10, "input_cache_read": 0, "input_cache_creation": 0}'
    for raw in ("NaN", "Infinity", "-Infinity", "null"):
        a.add('{"timestamp": ' + raw + ', "message": {"type": "StatusUpdate", "payload": ' + usage
              + ', "message_id": null}}}')
    home.fork(a, uid("b"), "Fork: T")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (400, 40, 0, 0)
    assert sessions(snap) == (1, 0, 0)
    assert series(snap, "tokens") == {}
    assert diag(snap) == clean_diag(files_read=2, records=4, duplicates=4)


def test_records_without_message_id_whose_times_are_nested_deep_count_apart(home: KimiHome) -> None:
    """A raw `timestamp` nested 400 levels deep is JSON both decoders read, and part of the identity of
    a record without a message_id: two records that differ only deep inside it are two calls, a fork's
    verbatim copies of them fold, and neither is on a day. Before, writing that identity recursed past
    Python's limit, and the whole command ended in an internal error."""
    a = home.session(uid("a"), title="T")
    usage = '{"token_usage": {"input_other": 100, "output": 10, "input_cache_read": 0, "input_cache_creation": 0}'
    for inner in ("1", "2"):
        a.add('{"timestamp": ' + "[" * 400 + inner + "]" * 400 + ', "message": {"type": "StatusUpdate", "payload": '
              + usage + "}}}")
    home.fork(a, uid("b"), "Fork: T")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (200, 20, 0, 0)
    assert sessions(snap) == (1, 0, 0)
    assert series(snap, "tokens") == {}
    assert diag(snap) == clean_diag(files_read=2, records=2, duplicates=2)


def test_records_without_message_id_whose_models_differ_in_a_lone_surrogate_stay_apart(home: KimiHome) -> None:
    """The model is part of that identity as written: "k\\ud800" and "k\\ud801" (JSON escapes of
    unpaired surrogates) are two models, so two calls, both shown as "k\ufffd"."""
    a = home.session(uid("a"), title="T")
    usage = '{"token_usage": {"input_other": 100, "output": 10, "input_cache_read": 0, "input_cache_creation": 0}'
    for escaped in ("\\ud800", "\\ud801"):
        a.add('{"timestamp": 1795161600.0, "message": {"type": "StatusUpdate", "payload": ' + usage
              + ', "message_id": null, "model": "k' + escaped + '"}}}')

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (200, 20, 0, 0)
    assert models(snap) == [("k\ufffd", 200, 20, 0, 0, 2)]
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_empty_message_id_is_no_message_id(home: KimiHome) -> None:
    a = home.session(uid("a"), title="T")
    a.usage(at("2026-11-18T09:00:00Z"), (7, 1, 0, 0), "")
    a.usage(at("2026-11-18T09:00:05Z"), (7, 1, 0, 0), "")  # same empty id and counts, another call
    home.fork(a, uid("b"), "Undo: T")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (14, 2, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert diag(snap) == clean_diag(files_read=2, records=2, duplicates=2)


def test_same_call_counts_once_per_account(tmp_path: Path) -> None:
    work = KimiHome(tmp_path / "work")
    work.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-shared")
    laptop = KimiHome(tmp_path / "laptop")
    s = laptop.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-shared")
    s.usage(at("2026-11-19T11:00:00Z"), (5, 1, 0, 0), "chatcmpl-own")
    write_settings(
        {
            "auto_detect": False,
            "accounts": [
                {"id": "kimi_work", "provider": "kimi_cli", "extra": {"sessions_dir": str(work.sessions)}},
                {"id": "kimi_laptop", "provider": "kimi_cli", "extra": {"sessions_dir": str(laptop.sessions)}},
            ],
        }
    )

    snaps = by_account(snapshot_all_paths(env_for()))

    assert set(snaps) == {"kimi_work", "kimi_laptop"}
    assert tokens(snaps["kimi_work"]) == (20, 2, 0, 0)
    assert tokens(snaps["kimi_laptop"]) == (25, 3, 0, 0)
    assert diag(snaps["kimi_laptop"], "duplicate_records") == {"duplicate_records": 0}


# --- the call's session --------------------------------------------------------------------------------------


def test_inherited_calls_belong_to_the_session_with_fewest_fork_prefixes(home: KimiHome) -> None:
    # Name order is the reverse of prefix order on purpose: 0… (2 prefixes) < 5… (none) < a… (1 prefix).
    original = home.session(uid("5"), title="Plan")
    original.usage(at("2026-11-17T10:00:00Z"), (1000, 100, 0, 0), "chatcmpl-o1")
    fork = home.fork(original, uid("a"), "Fork: Plan")
    fork.usage(at("2026-11-19T10:00:00Z"), (2000, 200, 0, 0), "chatcmpl-o2")
    fork_of_fork = home.fork(fork, uid("0"), "Undo: Fork: Plan")
    fork_of_fork.usage(at("2026-11-20T10:00:00Z"), (3000, 300, 0, 0), "chatcmpl-o3")

    snap = only_snapshot(env_for(home.root))

    # o1 -> 5… (0 prefixes), o2 -> a… (1 prefix, vs 2 in 0…), o3 -> 0…: three active sessions.
    # By name order alone everything would go to 0… (one session); counting one prefix at most, o2 too (two).
    assert sessions(snap) == (3, 1, 3)
    assert series(snap, "sessions") == {"2026-11-17": 1, "2026-11-19": 1, "2026-11-20": 1}
    assert series(snap, "tokens") == {"2026-11-17": 1100, "2026-11-19": 2200, "2026-11-20": 3300}
    assert tokens(snap) == (6000, 600, 0, 0)
    assert diag(snap) == clean_diag(files_read=3, records=3, duplicates=3)


def test_prefix_tie_goes_to_the_directory_name_that_sorts_first(home: KimiHome) -> None:
    # The original was deleted; two forks of it ("Undo: " and "Fork: " are one prefix each) hold t1.
    late = home.session(uid("b"), title="Undo: Plan")
    early = home.session(uid("3"), title="Fork: Plan")
    for s in (late, early):
        s.usage(at("2026-11-16T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-t1")
    late.usage(at("2026-11-16T11:00:00Z"), (200, 20, 0, 0), "chatcmpl-t2")
    early.usage(at("2026-11-18T10:00:00Z"), (300, 30, 0, 0), "chatcmpl-t3")

    snap = only_snapshot(env_for(home.root))

    # t1 -> 3… (sorts before b…): on 2026-11-16 both 3… (t1) and b… (t2) are active.
    assert series(snap, "sessions") == {"2026-11-16": 2, "2026-11-18": 1}
    assert sessions(snap) == (2, 0, 2)
    assert tokens(snap) == (600, 60, 0, 0)
    assert diag(snap) == clean_diag(files_read=2, records=3, duplicates=1)


def test_missing_invalid_or_untitled_state_means_no_prefix(home: KimiHome) -> None:
    # Four originals with no usable title, each sorting after its fork; each fork adds one call.
    def pair(original: str, fork: str, fork_title: str, day: str, own_day: str, state: str | None) -> None:
        src = home.session(uid(original))
        if state is not None:
            (src.dir / "state.json").write_text(state, encoding="utf-8")
        src.usage(at(f"{day}T10:00:00Z"), (10, 1, 0, 0), f"chatcmpl-{original}")
        home.fork(src, uid(fork), fork_title).usage(at(f"{own_day}T11:00:00Z"), (10, 1, 0, 0), f"chatcmpl-{fork}")

    pair("f", "0", "Fork: X", "2026-11-15", "2026-11-16", None)  # no state.json
    pair("e", "1", "Undo: Y", "2026-11-17", "2026-11-17", '{"custom_title": "Fork: Fork: ')  # invalid JSON
    pair("d", "2", "Fork: Z", "2026-11-18", "2026-11-19", '{"custom_title": null}')
    pair("c", "3", "Fork: W", "2026-11-14", "2026-11-14", '{"title_generated": false}')

    snap = only_snapshot(env_for(home.root))

    assert series(snap, "sessions") == {
        "2026-11-14": 2,  # c… (its own call) and 3… (its call)
        "2026-11-15": 1,  # f…
        "2026-11-16": 1,  # 0…
        "2026-11-17": 2,  # e… and 1…
        "2026-11-18": 1,  # d…
        "2026-11-19": 1,  # 2…
    }
    assert sessions(snap) == (8, 0, 8)
    assert tokens(snap) == (80, 8, 0, 0)
    assert diag(snap, "records_counted", "duplicate_records", "files_read") == {
        "records_counted": 8,
        "duplicate_records": 4,
        "files_read": 8,
    }


def test_fork_without_calls_of_its_own_is_not_a_session(home: KimiHome) -> None:
    original = home.session(uid("c"), title="Plan")
    original.usage(at("2026-11-20T09:00:00Z"), (100, 10, 0, 0), "chatcmpl-n1")
    original.usage(at("2026-11-20T09:30:00Z"), (200, 20, 0, 0), "chatcmpl-n2")
    home.fork(original, uid("0"), "Fork: Plan")
    home.fork(original, uid("1"), "Undo: Plan", lines=2)  # the header and n1

    snap = only_snapshot(env_for(home.root))

    assert sessions(snap) == (1, 1, 1)
    assert series(snap, "sessions") == {"2026-11-20": 1}
    assert tokens(snap) == (300, 30, 0, 0)
    assert diag(snap) == clean_diag(files_read=3, records=2, duplicates=3)


# --- the call's time -----------------------------------------------------------------------------------------


def test_call_time_is_the_earliest_valid_timestamp_among_copies(home: KimiHome) -> None:
    parent = home.session(uid("7"))
    parent.echo(at("2026-11-19T00:00:00Z") + 0.5, (100, 10, 0, 0), "chatcmpl-e1")
    parent.usage(at("2026-11-19T10:00:00Z"), (200, 20, 0, 0), "chatcmpl-e2")
    parent.usage(at("2026-11-17T10:00:00Z"), (200, 20, 0, 0), "chatcmpl-e2")  # an earlier copy, later in file
    parent.echo(at("2026-11-16T08:00:00Z"), (300, 30, 0, 0), "chatcmpl-e3")
    sub = parent.subagent("agent-1f2e")
    sub.usage(at("2026-11-18T23:59:59Z") + 0.5, (100, 10, 0, 0), "chatcmpl-e1")
    sub.usage(0, (300, 30, 0, 0), "chatcmpl-e3")  # invalid: the echo's time stands

    snap = only_snapshot(env_for(home.root))

    assert series(snap, "tokens") == {"2026-11-16": 330, "2026-11-17": 220, "2026-11-18": 110}
    assert series(snap, "sessions") == {"2026-11-16": 1, "2026-11-17": 1, "2026-11-18": 1}
    assert tokens(snap) == (600, 60, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert diag(snap) == clean_diag(files_read=2, records=3, duplicates=3)


def test_calls_with_invalid_timestamps_count_in_totals_but_on_no_day(home: KimiHome) -> None:
    a = home.session(uid("a"))
    b = home.session(uid("b"))
    bad = [(a, 0), (a, -5), (a, 1e20), (a, OMIT), (b, "1795000000"), (b, True), (b, 253402300800), (b, None)]
    for n, (s, ts) in enumerate(bad):
        s.add(line(ts, status_update((10, 1, 0, 0), mid=f"chatcmpl-badts-{n}")))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (80, 8, 0, 0)
    assert models(snap) == [(DEFAULT, 80, 8, 0, 0, 8)]
    assert sessions(snap) == (2, 0, 0)
    assert series(snap, "tokens") == {}
    assert series(snap, "sessions") == {}
    assert diag(snap) == clean_diag(files_read=2, records=8)


def test_last_second_before_year_10000_is_a_valid_time(home: KimiHome) -> None:
    s = home.session(uid("9"))
    s.usage(253402300799.0, (10, 1, 0, 0), "chatcmpl-y9999")  # 9999-12-31T23:59:59Z
    s.usage(253402300800.0, (20, 2, 0, 0), "chatcmpl-y10000")  # 10000-01-01T00:00:00Z: invalid

    snap = only_snapshot(env_for(home.root))

    assert series(snap, "tokens") == {"9999-12-31": 11}
    assert series(snap, "sessions") == {"9999-12-31": 1}
    assert tokens(snap) == (30, 3, 0, 0)
    assert (used(snap, "total_sessions"), used(snap, "sessions_today")) == (1, 0)


# --- windows -------------------------------------------------------------------------------------------------


def test_today_and_7_day_windows_at_their_edges(home: KimiHome) -> None:
    edges = {
        "a": "2026-11-13T12:00:00Z",  # exactly now - 7 x 24 h: in the 7-day window
        "b": "2026-11-13T11:59:59Z",  # one second earlier: out
        "c": "2026-11-20T00:00:00Z",  # first second of today
        "d": "2026-11-19T23:59:59Z",  # last second of yesterday
        "e": "2026-11-20T11:59:59Z",
    }
    for ch, iso in edges.items():
        home.session(uid(ch)).usage(at(iso), (10, 1, 0, 0), f"chatcmpl-edge-{ch}")
    daily = {"2026-11-13": 2, "2026-11-19": 1, "2026-11-20": 2}

    snap = only_snapshot(env_for(home.root, now="2026-11-20T12:00:00Z"))
    assert sessions(snap) == (5, 2, 4)
    assert series(snap, "sessions") == daily

    # The cache was filled under another clock: the windows must follow the new one.
    snap = only_snapshot(env_for(home.root, now="2026-11-20T12:00:01Z"), fresh_cache=False)
    assert sessions(snap) == (5, 2, 3)  # a is now one second too old
    assert series(snap, "sessions") == daily

    snap = only_snapshot(env_for(home.root, now="2026-11-21T00:00:00Z"), fresh_cache=False)
    assert sessions(snap) == (5, 0, 3)  # a new UTC day; the window starts 2026-11-14T00:00:00Z
    assert series(snap, "sessions") == daily


def test_session_active_on_several_days_counts_once(home: KimiHome) -> None:
    s = home.session(uid("4"))
    s.usage(at("2026-11-14T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-md-1")
    s.usage(at("2026-11-17T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-md-2")
    s.usage(at("2026-11-17T23:59:59Z") + 0.9, (40, 4, 0, 0), "chatcmpl-md-3")
    s.usage(at("2026-11-18T00:00:00Z") + 0.1, (50, 5, 0, 0), "chatcmpl-md-4")
    s.usage(at("2026-11-20T09:00:00Z"), (30, 3, 0, 0), "chatcmpl-md-5")
    home.session(uid("6")).usage(at("2026-11-01T10:00:00Z"), (5, 1, 0, 0), "chatcmpl-md-old")

    snap = only_snapshot(env_for(home.root))

    assert sessions(snap) == (2, 1, 1)
    assert series(snap, "sessions") == {
        "2026-11-01": 1,
        "2026-11-14": 1,
        "2026-11-17": 1,
        "2026-11-18": 1,
        "2026-11-20": 1,
    }
    assert series(snap, "tokens") == {
        "2026-11-01": 6,
        "2026-11-14": 11,
        "2026-11-17": 66,
        "2026-11-18": 55,
        "2026-11-20": 33,
    }
    assert tokens(snap) == (155, 16, 0, 0)


# --- subagents -----------------------------------------------------------------------------------------------


def test_subagent_files_belong_to_their_parent_session(home: KimiHome) -> None:
    p = home.session(uid("1"))
    p.usage(at("2026-11-19T09:00:00Z"), (100, 10, 0, 0), "chatcmpl-sa-p")
    a = p.subagent("agent-a1b2")
    a.usage(at("2026-11-19T09:01:00Z"), (20, 2, 0, 0), "chatcmpl-sa-a1")
    a.usage(at("2026-11-20T08:00:00Z"), (30, 3, 0, 0), "chatcmpl-sa-a2")
    p.subagent("agent-c3d4").usage(at("2026-11-19T09:02:00Z"), (40, 4, 0, 0), "chatcmpl-sa-b1")
    q = home.session(uid("2"))  # no usage of its own: only its subagent worked
    q.add(line(at("2026-11-18T09:59:00Z"), event("TurnBegin", {"user_input": "go"})))
    q.subagent("agent-e5f6").usage(at("2026-11-18T10:00:00Z"), (50, 5, 0, 0), "chatcmpl-sa-c1")

    snap = only_snapshot(env_for(home.root))

    assert sessions(snap) == (2, 1, 2)
    assert series(snap, "sessions") == {"2026-11-18": 1, "2026-11-19": 1, "2026-11-20": 1}
    assert tokens(snap) == (240, 24, 0, 0)
    assert diag(snap) == clean_diag(files_read=5, records=5)


def test_sub_subagent_echoes_and_files_fold_into_the_parent_session(home: KimiHome) -> None:
    t = at("2026-11-19T09:00:00Z")
    p = home.session(uid("8"))
    p.echo(t, (100, 10, 0, 0), "chatcmpl-s1")
    p.echo(t + 10, (50, 5, 0, 0), "chatcmpl-ss1", depth=2, compact=True)
    agent = p.subagent("agent-0001")
    agent.usage(t - 0.5, (100, 10, 0, 0), "chatcmpl-s1")
    agent.echo(t + 9.8, (50, 5, 0, 0), "chatcmpl-ss1")
    p.subagent("agent-0002").usage(t + 9.6, (50, 5, 0, 0), "chatcmpl-ss1")  # the sub-subagent's own file
    # a sub-subagent directory nested in its parent agent's directory is still under the session
    p.subagent("agent-0003", under="subagents/agent-0001").usage(t + 20, (7, 1, 0, 0), "chatcmpl-ss2")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (157, 16, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "sessions") == {"2026-11-19": 1}
    assert diag(snap) == clean_diag(files_read=4, records=3, duplicates=3)


def test_legacy_echo_only_subagent_usage_counts(home: KimiHome) -> None:
    home.session_from_fixture("legacy_echo.jsonl", uid("9"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (1250, 125, 1200, 0)
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-19": 1375}
    assert diag(snap) == clean_diag(files_read=1, records=3)


# --- model ---------------------------------------------------------------------------------------------------

CONFIGS: dict[str, tuple[dict[str, Any] | None, str | None, str]] = {
    # name: (config.json, config.toml, the model calls without payload.model land on)
    "no-config": (None, None, DEFAULT),
    "json-model": (
        {"model": "kimi-k2-legacy", "default_model": "k2", "models": {"k2": {"model": "json-alias-model"}}},
        None,
        "kimi-k2-legacy",
    ),
    "toml-default-model": (None, TURBO_TOML, "kimi-k2-turbo-preview"),
    "json-default-model": (
        {
            "default_model": "k2",
            "models": {"k2": {"provider": "moonshot-cn", "model": "kimi-k2-0905-preview", "max_context_size": 1}},
            "providers": {"moonshot-cn": {"type": "kimi", "api_key": "sk-test-not-a-real-key"}},
        },
        None,
        "kimi-k2-0905-preview",
    ),
    "json-model-before-toml": ({"model": "legacy-json-model"}, TURBO_TOML, "legacy-json-model"),
    "toml-default-before-json-default": (
        {"default_model": "k2", "models": {"k2": {"model": "json-default-model"}}},
        'default_model = "fast"\n[models.fast]\nmodel = "toml-default-model"\n',
        "toml-default-model",
    ),
    "quoted-alias": (
        None,
        'default_model = "moonshot/kimi-k2"\n\n[models."moonshot/kimi-k2"]\nprovider = "moonshot"\n'
        'model = "kimi-k2-0711-preview"\nmax_context_size = 131072\n',
        "kimi-k2-0711-preview",
    ),
    "unresolved-alias": (None, 'default_model = "gone"\n[models.other]\nmodel = "other-model"\n', DEFAULT),
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_model_fallback_chain(home: KimiHome, case: str) -> None:
    config_json, config_toml, fallback = CONFIGS[case]
    if config_json is not None:
        home.config_json(config_json)
    if config_toml is not None:
        home.config_toml(config_toml)
    s = home.session(uid("1"))
    t = at("2026-11-19T10:00:00Z")
    s.usage(t, (1000, 100, 0, 0), "chatcmpl-m1", model="kimi-k2-thinking")
    s.usage(t + 1, (500, 50, 0, 0), "chatcmpl-m2")
    s.usage(t + 2, (200, 20, 0, 0), "chatcmpl-m3", model="")
    s.usage(t + 3, (50, 5, 0, 0), "chatcmpl-m4", model=None)

    snap = only_snapshot(env_for(home.root))

    assert models(snap) == [("kimi-k2-thinking", 1000, 100, 0, 0, 1), (fallback, 750, 75, 0, 0, 3)]


def test_model_is_taken_from_any_copy_that_names_it(home: KimiHome) -> None:
    home.config_toml(TURBO_TOML)
    p = home.session(uid("1"))
    p.echo(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-mc")
    p.subagent("agent-0001").usage(at("2026-11-19T09:59:59Z"), (100, 10, 0, 0), "chatcmpl-mc", model="kimi-k2-x")

    snap = only_snapshot(env_for(home.root))

    assert models(snap) == [("kimi-k2-x", 100, 10, 0, 0, 1)]


def test_models_sorted_by_all_tokens_then_name(home: KimiHome) -> None:
    s = home.session(uid("1"))
    t = at("2026-11-19T10:00:00Z")
    s.usage(t, (100, 10, 0, 0), "chatcmpl-b", model="b-model")  # 110
    s.usage(t + 1, (0, 0, 110, 0), "chatcmpl-d", model="d-model")  # 110, all cache read
    s.usage(t + 2, (300, 30, 0, 0), "chatcmpl-c", model="c-model")  # 330
    s.usage(t + 3, (50, 60, 0, 0), "chatcmpl-a", model="a-model")  # 110

    snap = only_snapshot(env_for(home.root))

    assert [r["model"] for r in snap["models"]] == ["c-model", "a-model", "b-model", "d-model"]
    assert [r["all_tokens"] for r in snap["models"]] == [330, 110, 110, 110]
    assert [r["total_tokens"] for r in snap["models"]] == [330, 110, 110, 0]
    assert used(snap, "total_tokens") == 450 + 100  # input + output only


# --- which files ---------------------------------------------------------------------------------------------


def test_kimi_share_dir_replaces_the_default_home(tmp_path: Path, isolated_env: Path) -> None:
    default = KimiHome(isolated_env / ".kimi")
    default.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-default")
    shared = KimiHome(tmp_path / "share")
    shared.config_toml(TURBO_TOML)
    shared.session(uid("2")).usage(at("2026-11-19T10:00:00Z"), (7, 1, 0, 0), "chatcmpl-share")

    snap = only_snapshot(env_for(shared.root))
    assert models(snap) == [("kimi-k2-turbo-preview", 7, 1, 0, 0, 1)]

    snap = only_snapshot(env_for())  # no KIMI_SHARE_DIR: ~/.kimi
    assert models(snap) == [(DEFAULT, 100, 10, 0, 0, 1)]


def test_imported_sessions_are_never_counted(home: KimiHome) -> None:
    s = home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-local")
    for rel in ("0123456789abcdef/wire.jsonl", f"fedcba9876543210/{GROUP}/{uid('2')}/wire.jsonl"):
        path = home.root / "imported_sessions" / rel
        path.parent.mkdir(parents=True)
        shutil.copyfile(s.path, path)
        with path.open("a", encoding="utf-8") as f:
            f.write(line(at("2026-11-19T11:00:00Z"), status_update((500, 50, 0, 0), mid="chatcmpl-imp")) + "\n")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=1)


def test_only_files_named_exactly_wire_jsonl_are_read(home: KimiHome) -> None:
    s = home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-only")
    decoy = s.path.read_text(encoding="utf-8") + line(
        at("2026-11-19T11:00:00Z"), status_update((500, 50, 0, 0), mid="chatcmpl-decoy")
    )
    names = ["context.jsonl", "context_1.jsonl", "wire.jsonl.bak", "wire.json", "Wire.jsonl", "old-wire.jsonl"]
    names += ["wire.jsonl.1", "wire.jsonl~", "subagents/agent-0001/context.jsonl", "subagents/agent-0001/wire.txt"]
    for name in names:
        (s.dir / name).parent.mkdir(parents=True, exist_ok=True)
        (s.dir / name).write_text(decoy + "\n", encoding="utf-8")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=1)


def test_sessions_directory_that_is_a_symlink_is_read(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    elsewhere = KimiHome(tmp_path / "disk2")
    elsewhere.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-link")
    home.sessions.symlink_to(elsewhere.sessions, target_is_directory=True)

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=1)


def test_directory_symlink_loops_do_not_hang_or_double_count(home: KimiHome) -> None:
    s = home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-loop")
    loops = s.dir / "loops"
    loops.mkdir()
    (loops / "self1").symlink_to(".", target_is_directory=True)
    (loops / "self2").symlink_to(".", target_is_directory=True)  # two self-links: 2^depth paths
    (loops / "up").symlink_to("../..", target_is_directory=True)  # the group directory
    (home.sessions / "again").symlink_to(".", target_is_directory=True)  # the sessions directory itself
    (s.dir / "subagents").mkdir()
    (s.dir / "subagents" / "agent-0001").symlink_to(s.dir, target_is_directory=True)

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["snap"] = only_snapshot(env_for(home.root))
        except BaseException as exc:  # reported below, in the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the walk did not finish within 120 s: a symlink loop hangs it"
    if "error" in outcome:
        raise outcome["error"]
    snap = outcome["snap"]
    assert tokens(snap) == (10, 1, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert diag(snap, "files_read", "records_counted", "lines_skipped") == {
        "files_read": 1,
        "records_counted": 1,
        "lines_skipped": 0,
    }


def _as_unprivileged_user(root: Path, work: Path) -> dict[str, Any]:
    """`snapshot --json` as a user that file modes apply to (root reads any file), without the cache,
    then cold and warm from it: the three documents equal; returns the first."""
    hand_over(work)
    env = {"KIMI_SHARE_DIR": str(root), "OPENUSAGE_NOW": NOW}
    docs = []
    for args in (["--no-cache"], [], []):
        done = run_openusage(["snapshot", "--json", *args], work, env)
        assert done.returncode == 0, done.stderr
        docs.append(comparable(json.loads(done.stdout)))
    assert docs[0] == docs[1] == docs[2]
    return docs[0]["snapshots"][0]  # type: ignore[no-any-return]


def test_unreadable_files_and_directories_are_skipped_and_counted(work_dir: Path) -> None:
    home = KimiHome(work_dir / "kimi")
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-ok")
    locked_file = home.session(uid("2"))
    locked_file.usage(at("2026-11-19T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-locked-file")
    locked_group = home.session(uid("3"), OTHER_GROUP)
    locked_group.usage(at("2026-11-19T10:00:00Z"), (30, 3, 0, 0), "chatcmpl-locked-dir")
    locked_file.path.chmod(0)
    locked_group.dir.parent.chmod(0)

    snap = _as_unprivileged_user(home.root, work_dir)

    assert tokens(snap) == (10, 1, 0, 0)
    assert diag(snap, "files_read", "files_unreadable") == {"files_read": 1, "files_unreadable": 2}


def test_unreadable_state_json_means_no_prefix(work_dir: Path) -> None:
    home = KimiHome(work_dir / "kimi")
    original = home.session(uid("f"), title="Plan")
    original.usage(at("2026-11-15T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-us1")
    fork = home.fork(original, uid("0"), "Fork: Plan")
    fork.usage(at("2026-11-16T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-us2")
    state = original.dir / "state.json"
    state.write_text('{"custom_title": "Fork: Fork: Plan"}', encoding="utf-8")
    state.chmod(0)

    snap = _as_unprivileged_user(home.root, work_dir)

    assert series(snap, "sessions") == {"2026-11-15": 1, "2026-11-16": 1}
    assert sessions(snap) == (2, 0, 2)


# --- lines ---------------------------------------------------------------------------------------------------


def test_real_session_counts_status_updates_only(home: KimiHome) -> None:
    """ToolResult / ContentPart / ToolCall lines mention token_usage (in text, in a quoted wire line, even as a
    key of a ToolResult's display data): none of it is usage, and none of it is a skipped line."""
    home.session_from_fixture("real_session.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (2000, 407, 26880, 0)
    assert models(snap) == [(DEFAULT, 2000, 407, 26880, 0, 2)]
    assert series(snap, "tokens") == {"2026-11-19": 2407}
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_unknown_record_types_are_ignored(home: KimiHome) -> None:
    s = home.session(uid("1"))
    t = at("2026-11-19T10:00:00Z")
    usage = token_usage((500, 50, 0, 0))
    s.add(
        line(t, event("Notification", {"title": "usage", "token_usage": usage})),
        line(t + 1, event("UsageSummary", {"token_usage": usage, "message_id": "chatcmpl-u1"})),
        line(t + 2, event("statusupdate", {"token_usage": usage, "message_id": "chatcmpl-u2"})),
        line(t + 3, wrap(event("FutureEvent", {"token_usage": usage, "message_id": "chatcmpl-u3"}))),
        line(t + 4, event("ApprovalRequest", {"id": "r1", "action": "run", "description": "cat wire.jsonl"})),
        line(t + 5, event("CompactionBegin", {})),
    )
    s.usage(t + 6, (10, 1, 0, 0), "chatcmpl-real")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=1)


def test_key_order_and_spacing_do_not_matter(home: KimiHome) -> None:
    home.session_from_fixture("mixed_format.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    # inputs 1, 2, 4, ..., 128: a missing record would leave a bit of 255 unset
    assert tokens(snap) == (255, 8, 0, 0)
    assert sessions(snap) == (1, 1, 1)
    assert series(snap, "tokens") == {"2026-11-20": 263}
    assert diag(snap) == clean_diag(files_read=1, records=8)


def test_crlf_line_ends(home: KimiHome) -> None:
    home.session_from_fixture("crlf.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (150, 25, 300, 10)
    assert series(snap, "tokens") == {"2026-11-19": 175}
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_complete_last_line_without_newline_counts(home: KimiHome) -> None:
    home.session_from_fixture("no_final_newline.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (30, 3, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_truncated_last_line_is_skipped_and_reported(home: KimiHome) -> None:
    home.session_from_fixture("truncated_last_line.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (70, 7, 0, 0)
    assert diag(snap) == {
        **clean_diag(files_read=1, records=1),
        "lines_skipped": 1,
        "skipped_by_reason": {"invalid_json": 1},
    }


def test_non_utf8_candidate_line_is_skipped_as_not_utf8(home: KimiHome) -> None:
    """A candidate line with bytes FF FE is skipped as `not_utf8`, and so is a ToolResult holding a
    Latin-1 byte: no usage, but not valid JSON either (JSON text is UTF-8), so not silent since
    2026-12-05. UTF-8 CJK text is fine."""
    home.session_from_fixture("not_utf8.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (100, 10, 0, 0)
    assert diag(snap) == {
        **clean_diag(files_read=1, records=2),
        "lines_skipped": 2,
        "skipped_by_reason": {"not_utf8": 2},
    }


def test_broken_lines_without_a_needle_are_skipped_and_reported(home: KimiHome) -> None:
    """"A line that is not valid JSON, or not of the shape above, is skipped and counted in diagnostics,
    never silently", whether or not it holds a "token_usage" key: every wire line is an object, so a JSON
    array or string is `wrong_shape`; a blank line is nothing."""
    home.session_from_fixture("needleless_broken.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (30, 3, 0, 0)
    assert diag(snap) == {
        **clean_diag(files_read=1, records=2),
        "lines_skipped": 7,
        "skipped_by_reason": {"invalid_json": 4, "not_utf8": 1, "wrong_shape": 2},
    }


def test_a_line_without_a_needle_that_is_not_utf8_is_counted(home: KimiHome) -> None:
    """JSON text is UTF-8: an object without a "token_usage" key that holds a byte UTF-8 does not allow (a
    Latin-1 letter, a character cut short, an encoded surrogate, a stray byte amid a long run of Chinese)
    is skipped and counted as `not_utf8`; the long run whole is nothing."""
    home.session_from_fixture("needleless_not_utf8.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (30, 3, 0, 0)
    assert diag(snap) == {
        **clean_diag(files_read=1, records=2),
        "lines_skipped": 4,
        "skipped_by_reason": {"not_utf8": 4},
    }


def test_invalid_and_wrong_shaped_candidate_lines_are_skipped_and_reported(home: KimiHome) -> None:
    home.session_from_fixture("bad_lines.jsonl", uid("1"))

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (33, 3, 0, 0)
    assert diag(snap) == {
        **clean_diag(files_read=1, records=2),
        "lines_skipped": 4,
        "skipped_by_reason": {"invalid_json": 1, "wrong_shape": 3},
    }


def test_five_megabyte_usage_lines_count(home: KimiHome) -> None:
    tools = [{"name": f"mcp__srv__tool_{i}", "description": "d" * 230} for i in range(20_000)]
    mcp = {"servers": [{"name": "big", "status": "connected", "tools": tools}]}
    t = at("2026-11-19T10:00:00Z")
    s = home.session(uid("1"))
    s.add(line(t, event("ToolResult", {"tool_call_id": "x", "return_value": {"output": "a" * 6_000_000}})))
    s.add(line(t + 1, status_update((1234, 56, 7890, 12), mid="chatcmpl-long-1", mcp_status=mcp)))
    # usage after the huge field, compact: the key is ~5 MB into the line
    payload = {"mcp_status": mcp, "token_usage": token_usage((4321, 65, 0, 0)), "message_id": "chatcmpl-long-2"}
    s.add(dumps({"timestamp": t + 2, "message": {"type": "StatusUpdate", "payload": payload}}, compact=True))
    s.usage(t + 3, (1, 1, 0, 0), "chatcmpl-after")
    assert s.path.stat().st_size > 15_000_000

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (5556, 122, 7890, 12)
    assert diag(snap) == clean_diag(files_read=1, records=3)


# --- files that change between runs (the cache must follow) ----------------------------------------------------


def test_completed_last_line_counts_once_after_append(home: KimiHome) -> None:
    s = home.session_from_fixture("truncated_last_line.jsonl", uid("1"))
    only_snapshot(env_for(home.root))  # fills the cache with the cut line still being written
    with s.path.open("ab") as f:
        f.write((FIXTURES / "truncated_last_line.rest").read_bytes())
    s.usage(at("2026-11-19T13:05:00Z"), (5, 1, 0, 0), "chatcmpl-trunc-3")

    snap = only_snapshot(env_for(home.root), fresh_cache=False)

    assert tokens(snap) == (375, 38, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=3)


def test_line_without_newline_counts_once_after_append(home: KimiHome) -> None:
    s = home.session_from_fixture("no_final_newline.jsonl", uid("1"))
    only_snapshot(env_for(home.root))
    with s.path.open("ab") as f:
        f.write(b"\n")
    s.usage(at("2026-11-19T12:02:00Z"), (40, 4, 0, 0), "chatcmpl-nfn-3")

    snap = only_snapshot(env_for(home.root), fresh_cache=False)

    assert tokens(snap) == (70, 7, 0, 0)
    assert diag(snap) == clean_diag(files_read=1, records=3)


def test_deleted_original_hands_its_calls_to_the_fork(home: KimiHome) -> None:
    original = home.session(uid("5"), title="Plan")
    original.usage(at("2026-11-17T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-d1")
    fork = home.fork(original, uid("0"), "Fork: Plan")
    original.usage(at("2026-11-18T10:00:00Z"), (200, 20, 0, 0), "chatcmpl-d2")
    fork.usage(at("2026-11-19T10:00:00Z"), (300, 30, 0, 0), "chatcmpl-d3")
    snap = only_snapshot(env_for(home.root))
    assert series(snap, "sessions") == {"2026-11-17": 1, "2026-11-18": 1, "2026-11-19": 1}
    assert sessions(snap) == (2, 0, 2)

    shutil.rmtree(original.dir)
    snap = only_snapshot(env_for(home.root), fresh_cache=False)

    assert tokens(snap) == (400, 40, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-17": 110, "2026-11-19": 330}
    assert diag(snap) == clean_diag(files_read=1, records=2)


def test_renamed_titles_move_ownership(home: KimiHome) -> None:
    original = home.session(uid("5"), title="Plan")
    original.usage(at("2026-11-17T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-r1")
    fork = home.fork(original, uid("6"), "Fork: Plan")
    fork.usage(at("2026-11-19T10:00:00Z"), (300, 30, 0, 0), "chatcmpl-r2")
    assert sessions(only_snapshot(env_for(home.root))) == (2, 0, 2)

    # The user renames both: now the fork has no prefix and the original one.
    fork.title("Main line")
    original.title("Undo: Plan")
    snap = only_snapshot(env_for(home.root), fresh_cache=False)

    assert sessions(snap) == (1, 0, 1)  # r1 now belongs to 6…, and 5… owns nothing
    assert series(snap, "sessions") == {"2026-11-17": 1, "2026-11-19": 1}


def test_added_session_and_subagent_after_cache(home: KimiHome) -> None:
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-x1")
    only_snapshot(env_for(home.root))
    second = home.session(uid("2"))
    second.usage(at("2026-11-20T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-x2")
    second.subagent("agent-0001").usage(at("2026-11-20T10:01:00Z"), (30, 3, 0, 0), "chatcmpl-x3")

    snap = only_snapshot(env_for(home.root), fresh_cache=False)

    assert tokens(snap) == (60, 6, 0, 0)
    assert sessions(snap) == (2, 1, 2)
    assert diag(snap) == clean_diag(files_read=3, records=3)


# --- status, settings ----------------------------------------------------------------------------------------


def test_no_sessions_directory_is_status_unknown(home: KimiHome) -> None:
    home.config_toml(TURBO_TOML)  # detected through its config file only

    snap = only_snapshot(env_for(home.root))

    assert snap["account_id"] == "kimi_cli"
    assert snap["status"] == "unknown"
    assert snap["message"] == "Kimi CLI sessions directory not found"
    assert all(m["used"] == 0 for m in snap["metrics"].values())
    assert snap["models"] == []


def test_nothing_detected_gives_no_snapshots() -> None:
    doc = snapshot_all_paths(env_for())  # an empty HOME, no KIMI_SHARE_DIR
    assert doc["snapshots"] == []


def test_settings_sessions_dir_only_keeps_the_default_config(tmp_path: Path, isolated_env: Path) -> None:
    default = KimiHome(isolated_env / ".kimi")
    default.config_toml(TURBO_TOML)
    default.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (1000, 100, 0, 0), "chatcmpl-def")
    other = KimiHome(tmp_path / "elsewhere")
    other.session(uid("2")).usage(at("2026-11-19T11:00:00Z"), (7, 1, 0, 0), "chatcmpl-else")
    write_settings(
        {
            "auto_detect": True,
            "accounts": [{"id": "kimi_cli", "provider": "kimi_cli", "extra": {"sessions_dir": str(other.sessions)}}],
        }
    )

    snap = only_snapshot(env_for())  # the configured kimi_cli replaces the detected one: one snapshot

    assert snap["account_id"] == "kimi_cli"
    assert models(snap) == [("kimi-k2-turbo-preview", 7, 1, 0, 0, 1)]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("kimi-config.json", json.dumps({"model": "override-model"})),
        ("kimi-config.toml", 'default_model = "o"\n[models.o]\nmodel = "override-model"\n'),
    ],
)
def test_settings_config_path_only_keeps_the_default_sessions(
    tmp_path: Path, isolated_env: Path, name: str, text: str
) -> None:
    default = KimiHome(isolated_env / ".kimi")
    default.config_toml(TURBO_TOML)
    default.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (1000, 100, 0, 0), "chatcmpl-def")
    config = tmp_path / "elsewhere" / name
    config.parent.mkdir()
    config.write_text(text, encoding="utf-8")
    write_settings({"accounts": [{"id": "kimi_cli", "provider": "kimi_cli", "extra": {"config_path": str(config)}}]})

    snap = only_snapshot(env_for())

    assert models(snap) == [("override-model", 1000, 100, 0, 0, 1)]


def test_settings_paths_expand_tilde(isolated_env: Path) -> None:
    work = KimiHome(isolated_env / "work" / "kimi")
    work.config_toml(TURBO_TOML)
    work.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (3, 1, 0, 0), "chatcmpl-tilde")
    write_settings(
        {
            "auto_detect": False,
            "accounts": [
                {
                    "id": "kimi_work",
                    "provider": "kimi_cli",
                    "extra": {"sessions_dir": "~/work/kimi/sessions", "config_path": "~/work/kimi/config.toml"},
                }
            ],
        }
    )

    snap = only_snapshot(env_for())

    assert snap["account_id"] == "kimi_work"
    assert models(snap) == [("kimi-k2-turbo-preview", 3, 1, 0, 0, 1)]


def test_several_accounts_side_by_side(tmp_path: Path, isolated_env: Path) -> None:
    KimiHome(isolated_env / ".kimi").session(uid("1")).usage(
        at("2026-11-19T10:00:00Z"), (1000, 100, 0, 0), "chatcmpl-detected"
    )
    work = KimiHome(tmp_path / "work")
    work.session(uid("2")).usage(at("2026-11-20T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-work")
    laptop = KimiHome(tmp_path / "laptop")
    laptop.config_toml(TURBO_TOML)
    laptop_session = laptop.session(uid("3"))
    laptop_session.usage(at("2026-11-18T10:00:00Z"), (5, 1, 0, 0), "chatcmpl-laptop")
    laptop_session.usage(at("2026-11-18T11:00:00Z"), (6, 1, 0, 0), "chatcmpl-laptop-2")
    write_settings(
        {
            "auto_detect": True,
            "accounts": [
                {"id": "kimi_work", "provider": "kimi_cli", "extra": {"sessions_dir": str(work.sessions)}},
                {
                    "id": "kimi_laptop",
                    "provider": "kimi_cli",
                    "extra": {"sessions_dir": str(laptop.sessions), "config_path": str(laptop.root / "config.toml")},
                },
            ],
        }
    )

    snaps = by_account(snapshot_all_paths(env_for()))

    assert set(snaps) == {"kimi_cli", "kimi_work", "kimi_laptop"}
    assert models(snaps["kimi_cli"]) == [(DEFAULT, 1000, 100, 0, 0, 1)]
    assert models(snaps["kimi_work"]) == [(DEFAULT, 20, 2, 0, 0, 1)]
    assert sessions(snaps["kimi_work"]) == (1, 1, 1)
    assert models(snaps["kimi_laptop"]) == [("kimi-k2-turbo-preview", 11, 2, 0, 0, 2)]

    only = snapshot_all_paths(env_for(), "--account", "kimi_work")
    assert [s["account_id"] for s in only["snapshots"]] == ["kimi_work"]
    assert tokens(only["snapshots"][0]) == (20, 2, 0, 0)


def test_auto_detect_false_keeps_only_configured_accounts(tmp_path: Path, isolated_env: Path) -> None:
    KimiHome(isolated_env / ".kimi").session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (9, 9, 0, 0), "chatcmpl-d")
    work = KimiHome(tmp_path / "work")
    work.session(uid("2")).usage(at("2026-11-19T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-w")
    write_settings(
        {
            "auto_detect": False,
            "accounts": [{"id": "kimi_work", "provider": "kimi_cli", "extra": {"sessions_dir": str(work.sessions)}}],
        }
    )

    snap = only_snapshot(env_for())

    assert snap["account_id"] == "kimi_work"
    assert tokens(snap) == (20, 2, 0, 0)


def test_configured_sessions_dir_that_does_not_exist_is_status_unknown(tmp_path: Path) -> None:
    write_settings(
        {
            "auto_detect": False,
            "accounts": [{"id": "kimi_cli", "provider": "kimi_cli", "extra": {"sessions_dir": str(tmp_path / "gone")}}],
        }
    )

    snap = only_snapshot(env_for())

    assert (snap["status"], snap["message"]) == ("unknown", "Kimi CLI sessions directory not found")


def _assert_one_line_error(args: list[str], settings: Path, *fragments: str) -> str:
    result = invoke(args, env_for())
    assert result.exit_code == 2, (args, result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert str(settings) in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


SETTINGS_COMMANDS = [["snapshot", "--json"], ["detect"], ["detect", "--json"], []]


@pytest.mark.parametrize("args", SETTINGS_COMMANDS, ids=lambda a: " ".join(a) or "dashboard")
def test_settings_that_are_not_json_exit_2_naming_file_line_and_column(args: list[str]) -> None:
    text = '{\n  "auto_detect": true,\n  "accounts": [\n    {"id": "kimi_cli", "provider": "kimi_cli",}\n  ]\n}\n'
    settings = write_settings(text)  # the stray comma is on line 4

    message = _assert_one_line_error(args, settings)

    assert re.search(r"line 4\b.*col(umn)?\s*\d+|:4:\d+", message, re.IGNORECASE), message


WRONG_SHAPES = {
    "accounts-not-a-list": ({"accounts": {"id": "kimi_cli"}}, "accounts"),
    "account-not-an-object": ({"accounts": ["kimi_cli"]}, "accounts"),
    "id-not-a-string": ({"accounts": [{"id": 7, "provider": "kimi_cli"}]}, "id"),
    "auto-detect-not-a-bool": ({"auto_detect": "yes"}, "auto_detect"),
    "sessions-dir-not-a-string": (
        {"accounts": [{"id": "k", "provider": "kimi_cli", "extra": {"sessions_dir": 5}}]},
        "sessions_dir",
    ),
    "top-level-not-an-object": ([1, 2], ""),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
@pytest.mark.parametrize("args", SETTINGS_COMMANDS[:2], ids=" ".join)
def test_settings_of_the_wrong_shape_exit_2_naming_the_field(args: list[str], case: str) -> None:
    data, field = WRONG_SHAPES[case]
    settings = write_settings(data)

    _assert_one_line_error(args, settings, field)


def test_missing_settings_file_is_fine(home: KimiHome) -> None:
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-x")
    assert not settings_file().exists()
    assert tokens(only_snapshot(env_for(home.root))) == (10, 1, 0, 0)


# --- what the tool must never do -----------------------------------------------------------------------------


def _tree(root: Path) -> list[tuple[str, bool, int, int]]:
    return sorted(
        (str(p.relative_to(root)), p.is_dir(), p.lstat().st_size if not p.is_dir() else 0, p.lstat().st_mtime_ns)
        for p in [root, *root.rglob("*")]
    )


def test_never_writes_in_kimi_dir_nor_leaks_config_secrets(tmp_path: Path, home: KimiHome) -> None:
    secret = "sk-SECRET-d41d8cd98f00b204e9800998ecf8427e"
    home.config_toml(TURBO_TOML.replace("sk-test-not-a-real-key", secret) + f'oauth_token = "{secret}-oauth"\n')
    home.config_json({"default_model": "k", "providers": {"m": {"api_key": secret}}, "models": {}})
    s = home.session(uid("1"), title="Plan")
    s.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    home.fork(s, uid("2"), "Fork: Plan")
    before = _tree(home.root)

    outputs = []
    env = env_for(home.root, COLUMNS="200")
    for args in (["snapshot", "--json", "--no-cache"], ["snapshot", "--json"], ["detect"], ["detect", "--json"], []):
        result = invoke(args, env)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        outputs.append(result.stdout + result.stderr)
    snap = only_snapshot(env)

    assert _tree(home.root) == before
    assert models(snap) == [("kimi-k2-turbo-preview", 10, 1, 0, 0, 1)]
    assert not any(secret in out for out in outputs)
    for path in tmp_path.rglob("*"):
        if path.is_file() and home.root not in path.parents:
            assert secret.encode() not in path.read_bytes(), f"the API key was written to {path}"


def test_non_finite_timestamps_as_json_dumps_writes_them_count_on_no_day(home: KimiHome) -> None:
    # Kimi CLI writes with json.dumps, which writes a NaN or infinite float as NaN / Infinity; an
    # overflowing literal reads as infinity. Such a line is still JSON to Python: the call counts, on no day.
    s = home.session(uid("a"))
    for n, ts in enumerate([float("nan"), float("inf"), float("-inf")]):
        s.add(json.dumps({"timestamp": ts, "message": status_update((10, 1, 0, 0), mid=f"chatcmpl-nf-{n}")}))
    s.add('{"timestamp": 1e400, "message": '
          + json.dumps(status_update((10, 1, 0, 0), mid="chatcmpl-nf-3")) + "}")
    s.usage(at("2026-11-19T10:00:00Z"), (5, 1, 0, 0), "chatcmpl-nf-4")

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (45, 5, 0, 0)
    assert series(snap, "tokens") == {"2026-11-19": 6}
    assert sessions(snap) == (1, 0, 1)
    assert diag(snap) == clean_diag(files_read=1, records=5)


def test_lone_surrogate_escapes_in_names_are_read_and_printed_safely(home: KimiHome) -> None:
    # "\ud800" is a JSON escape Python's json reads (as an unpaired surrogate, which cannot be written
    # as UTF-8): the call counts, and the model name is shown with U+FFFD in its place.
    s = home.session(uid("a"))
    payload = status_update((10, 1, 0, 0), mid="chatcmpl-\ud800x", model="kimi-\udc00")
    s.add(json.dumps({"timestamp": at("2026-11-19T10:00:00Z"), "message": payload}))  # ensure_ascii: escapes

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (10, 1, 0, 0)
    assert [row[0] for row in models(snap)] == ["kimi-\ufffd"]
    assert diag(snap) == clean_diag(files_read=1, records=1)


def test_a_session_name_in_two_groups_is_one_session(home: KimiHome) -> None:
    # The session ID is the directory's name: the same name under two groups is one session, whose
    # rank is the lowest of its state files (here: one copy titled as a fork, one not).
    here = home.session(uid("1"), title="Fork: Plan")
    there = home.session(uid("1"), OTHER_GROUP, title="Plan")
    here.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-g1")
    there.usage(at("2026-11-20T10:00:00Z"), (20, 2, 0, 0), "chatcmpl-g2")
    fork = home.session(uid("0"), title="Fork: Plan")  # sorts first: it would win a tie of ranks
    fork.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-g1")  # a copy of the first call

    snap = only_snapshot(env_for(home.root))

    assert tokens(snap) == (30, 3, 0, 0)
    assert sessions(snap) == (1, 1, 1)  # the copy belongs to the rank-0 session, not to the fork
    assert diag(snap) == clean_diag(files_read=3, records=2, duplicates=1)
