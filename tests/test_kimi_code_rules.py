"""The Kimi Code provider, rule by rule (shared/kimi-code-format.md), seen only through `snapshot --json`.

Every counting test builds a real Kimi Code home under tmp_path and checks exact figures computed by hand
from the lines it wrote. `code_snapshot` / `all_paths` run each snapshot three ways (`--no-cache`, cold

pytestmark = pytest.mark.usefixtures("refold_path")
cache, warm cache) and require the same document from all three; tests that change files between runs
keep the cache (`fresh_cache=False`) so the second run is a cached run over changed files.
The clock is OPENUSAGE_NOW = 2026-11-20T12:00:00Z: today is 2026-11-20 and the 7-day window starts at
2026-11-13T12:00:00Z.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kimi_code_home import (
    ALIAS,
    DEFAULT,
    OMIT,
    OTHER_WD,
    WD,
    KimiCodeHome,
    Session,
    all_paths,
    clean,
    code_diag,
    code_env,
    code_snapshot,
    compaction,
    default_state,
    dumps,
    ms,
    scopes,
    sid,
    usage_counts,
    usage_record,
)
from kimi_home import KimiHome, at, by_account, invoke, models, series, sessions, tokens, uid, used

K26 = "kimi-k2.6"  # the model name Kimi Code sends for its managed model, as llm.request records it
TURBO_ALIAS = "moonshot/kimi-k2-turbo-preview"
LOGIN_TOML = """\
default_model = "kimi-code/kimi-for-coding"

[models."kimi-code/kimi-for-coding"]
provider = "managed:kimi-code"
model = "kimi-for-coding"
max_context_size = 262144

[providers."managed:kimi-code"]
type = "kimi"
base_url = "https://api.kimi.com/coding/v1"
oauth = { storage = "file", key = "oauth/kimi-code" }
"""


@pytest.fixture
def home(tmp_path: Path) -> KimiCodeHome:
    """A Kimi Code home at tmp_path/kimi-code, used through KIMI_CODE_HOME."""
    return KimiCodeHome(tmp_path / "kimi-code")


def started(home: KimiCodeHome, session_id: str, work_dir_key: str = WD) -> Session:
    """A session (default state.json) whose main journal has its metadata header."""
    s = home.session(work_dir_key, session_id)
    s.main.header()
    return s


def env(home: KimiCodeHome, **extra: str | None) -> dict[str, str | None]:
    return code_env(home.root, **extra)


# --- which records are usage, and the four counts ---------------------------------------------------------


def test_both_scopes_count_and_compaction_is_reported(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.prompt(t)
    j.llm_request(K26, ALIAS, t + 10)
    j.usage(t + 1000, (1520, 312, 79400, 0), ALIAS, "turn")
    j.llm_request(K26, ALIAS, t + 2000, kind="compaction")
    j.usage(t + 5000, (90000, 2100, 0, 0), ALIAS, "session")
    j.llm_request(K26, ALIAS, t + 6000)
    j.usage(t + 7000, (800, 50, 12000, 300), ALIAS, "turn")
    j.llm_request(K26, ALIAS, t + 8000, kind="compaction")
    j.usage(t + 9000, (70000, 1800, 0, 0), ALIAS, "session")

    snap = code_snapshot(env(home))

    assert (snap["account_id"], snap["provider_id"], snap["status"]) == ("kimi_code", "kimi_code", "ok")
    assert tokens(snap) == (162320, 4262, 91400, 300)
    assert used(snap, "total_tokens") == 162320 + 4262
    assert compaction(snap) == (2, 90000 + 2100 + 70000 + 1800)
    assert models(snap) == [(K26, 162320, 4262, 91400, 300, 4)]
    assert snap["models"][0]["upstream_provider"] == "moonshot"
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-19": 166582}
    assert series(snap, "sessions") == {"2026-11-19": 1}
    assert code_diag(snap) == clean(files_read=1, records=4, turn=2, session=2)


def test_turn_only_usage_has_zero_compaction(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    j.usage(ms("2026-11-19T10:00:00Z"), (10, 1, 0, 0))

    snap = code_snapshot(env(home))

    assert compaction(snap) == (0, 0)
    assert scopes(snap) == {"turn": 1, "session": 0, "none": 0}


def test_record_without_usage_scope_counts_and_is_reported_as_none(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.usage(t, (10, 1, 0, 0), ALIAS, scope=None)  # no usageScope key (CodexBar / ccusage samples)
    j.usage(t, (10, 1, 0, 0), ALIAS, scope="turn")  # same time and counts, another scope: another call
    j.usage(t + 1000, (300, 30, 0, 0), ALIAS, scope="session")

    snap = code_snapshot(env(home))

    assert tokens(snap) == (320, 32, 0, 0)
    assert compaction(snap) == (1, 330)
    assert models(snap) == [(DEFAULT, 320, 32, 0, 0, 3)]
    assert code_diag(snap) == clean(files_read=1, records=3, turn=1, session=1, none=1)


def test_step_end_loop_events_repeat_usage_and_are_not_counted(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.llm_request(K26, ALIAS, t)
    j.step_end(t + 999, (1000, 100, 5000, 0))
    j.usage(t + 1000, (1000, 100, 5000, 0), ALIAS)
    j.llm_request(K26, ALIAS, t + 2000)
    j.usage(t + 3000, (200, 20, 0, 0), ALIAS)
    j.step_end(t + 3001, (200, 20, 0, 0))
    j.step_end(t + 4000, (999, 99, 0, 0))  # a step.end with no usage.record at all: still not usage

    snap = code_snapshot(env(home))

    assert tokens(snap) == (1200, 120, 5000, 0)
    assert models(snap) == [(K26, 1200, 120, 5000, 0, 2)]
    assert code_diag(snap) == clean(files_read=1, records=2)


def test_token_counting_goal_and_other_lookalikes_are_not_usage(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    usage = usage_counts((50000, 5000, 0, 0))
    j.event("token_counting.result", t, tokens=81232, usage=usage)
    j.event("token_counting.estimate", t + 1, estimate={"usage": usage})
    j.event("goal.update", t + 2, goal={"id": "g1", "tokensUsed": 96000, "tokenBudget": 200000})
    j.llm_request(K26, ALIAS, t + 3)  # carries maxTokens 32000
    j.event("usage.summary", t + 4, usage=usage)
    j.event("usage.records", t + 5, usage=usage, model=ALIAS, usageScope="turn")
    j.event("Usage.Record", t + 6, usage=usage, model=ALIAS, usageScope="turn")
    j.event("subagent.completed", t + 7, subagentId="agent-0", usage=usage)
    # a usage record nested in another record, and one quoted in a message's text
    j.event("context.append_message", t + 8, message={"role": "tool", "content": usage_record(t, (7, 7, 7, 7))})
    quoted = dumps(usage_record(t, (9, 9, 9, 9)))
    j.event("context.append_message", t + 9, message={"role": "tool", "content": [{"type": "text", "text": quoted}]})
    j.usage(t + 10, (10, 1, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert tokens(snap) == (10, 1, 0, 0)
    assert models(snap) == [(K26, 10, 1, 0, 0, 1)]
    assert code_diag(snap) == clean(files_read=1, records=1)


def test_real_session_fixture_counts_usage_records_only(home: KimiCodeHome) -> None:
    home.journal_from_fixture("real_session.jsonl", WD, sid("1"))

    snap = code_snapshot(env(home))

    # (1520, 312, 79400, 0) + (480, 95, 15360, 0) turn, (60000, 1800, 0, 0) session; one all-zero record
    assert tokens(snap) == (62000, 2207, 94760, 0)
    assert models(snap) == [(K26, 62000, 2207, 94760, 0, 3)]
    assert compaction(snap) == (1, 61800)
    assert series(snap, "tokens") == {"2026-11-19": 64207}
    assert sessions(snap) == (1, 0, 1)
    assert code_diag(snap) == clean(files_read=1, records=3, zero=1, session=1)


def test_all_zero_records_are_skipped_and_reported(home: KimiCodeHome) -> None:
    zero_only = started(home, sid("1")).main
    zero_only.usage(ms("2026-11-19T10:00:00Z"), (0, 0, 0, 0), ALIAS, "turn")
    zero_only.usage(ms("2026-11-19T10:01:00Z"), (0, 0, 0, 0), ALIAS, "session")
    real = started(home, sid("2")).main
    real.usage(ms("2026-11-18T10:00:00Z"), (5, 1, 0, 0), ALIAS)
    real.usage(ms("2026-11-18T10:01:00Z"), (0, 0, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert tokens(snap) == (5, 1, 0, 0)
    assert models(snap) == [(DEFAULT, 5, 1, 0, 0, 1)]
    assert sessions(snap) == (1, 0, 1)  # the session holding only zero records is not a session
    assert series(snap, "sessions") == {"2026-11-18": 1}
    assert compaction(snap) == (0, 0)  # the all-zero compaction record is no compaction call
    assert code_diag(snap) == clean(files_read=2, records=1, zero=3)


def test_negative_and_non_numeric_counts_count_as_zero(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    t = ms("2026-11-18T09:00:00Z")
    raw = [
        {"inputOther": -5, "output": 40, "inputCacheRead": 100, "inputCacheCreation": 0, "total": 999},
        {"inputOther": 12.0, "output": 3, "inputCacheRead": 7.0, "inputCacheCreation": 0},  # whole floats: numbers
        {"inputOther": "300", "output": 3, "inputCacheRead": None, "inputCacheCreation": 1},
        {"inputOther": True, "output": False, "inputCacheRead": 9, "inputCacheCreation": [4]},
        {"inputOther": 50, "output": 5},  # the two cache counts missing
        {"inputOther": -1, "output": "1", "inputCacheRead": None, "inputCacheCreation": {"n": 3}},  # all zero
    ]
    for n, usage in enumerate(raw):
        j.raw_usage(t + n * 1000, usage, ALIAS)

    snap = code_snapshot(env(home))

    # (0,40,100,0) + (12,3,7,0) + (0,3,0,1) + (0,0,9,0) + (50,5,0,0); the last record is all zero.
    assert tokens(snap) == (62, 51, 116, 1)
    assert models(snap) == [(DEFAULT, 62, 51, 116, 1, 5)]
    assert series(snap, "tokens") == {"2026-11-18": 113}
    assert code_diag(snap) == clean(files_read=1, records=5, zero=1)


def test_counts_of_any_size_count_exactly(home: KimiCodeHome) -> None:
    """Any count counts, however large: integers beyond 2**53 and 2**64 exactly, a float beyond 2**53 as
    the whole number it is."""
    j = started(home, sid("1")).main
    t = ms("2026-11-18T09:00:00Z")
    j.raw_usage(t, {"inputOther": 2**53 + 1, "output": 2**64 + 7, "inputCacheRead": 10**30, "inputCacheCreation": 1e20})
    j.usage(t + 1000, (1, 2, 3, 4))

    snap = code_snapshot(env(home))

    assert tokens(snap) == (2**53 + 2, 2**64 + 9, 10**30 + 3, 10**20 + 4)
    assert series(snap, "tokens") == {"2026-11-18": 2**53 + 2**64 + 11}
    assert code_diag(snap) == clean(files_read=1, records=2)


def test_malformed_non_utf8_and_wrong_shaped_usage_lines_are_skipped_by_reason(home: KimiCodeHome) -> None:
    home.journal_from_fixture("bad_lines.jsonl", WD, sid("1"))

    snap = code_snapshot(env(home))

    assert tokens(snap) == (33, 3, 0, 0)
    assert code_diag(snap) == {
        **clean(files_read=1, records=2, zero=1),
        "lines_skipped": 7,
        "skipped_by_reason": {"invalid_json": 1, "not_utf8": 1, "wrong_shape": 5},
    }


def test_broken_lines_without_a_needle_are_skipped_by_reason_too(home: KimiCodeHome) -> None:
    """"A line that is not valid JSON ... is skipped and counted in diagnostics, never silently", whether
    or not it holds a needle; a blank line or a JSON value that is no object is nothing."""
    home.journal_from_fixture("needleless_broken.jsonl", WD, sid("1"))

    snap = code_snapshot(env(home))

    assert tokens(snap) == (33, 3, 0, 0)
    assert code_diag(snap) == {
        **clean(files_read=1, records=2),
        "lines_skipped": 5,
        "skipped_by_reason": {"invalid_json": 4, "not_utf8": 1},
    }


def test_a_line_without_a_needle_that_is_not_utf8_is_counted(home: KimiCodeHome) -> None:
    """JSON text is UTF-8: an object without a needle that holds a byte UTF-8 does not allow (a Latin-1
    letter, a character cut short, an encoded surrogate, a stray byte amid a long run of Chinese) is
    skipped and counted as `not_utf8`; the long run whole is nothing."""
    home.journal_from_fixture("needleless_not_utf8.jsonl", WD, sid("1"))

    snap = code_snapshot(env(home))

    assert tokens(snap) == (33, 3, 0, 0)
    assert code_diag(snap) == {
        **clean(files_read=1, records=2),
        "lines_skipped": 4,
        "skipped_by_reason": {"not_utf8": 4},
    }


def test_identity_is_agent_time_scope_alias_and_counts(home: KimiCodeHome) -> None:
    t = ms("2026-11-19T10:00:00Z")
    a = started(home, sid("a")).main
    a.usage(t, (100, 10, 0, 0), ALIAS, "turn")
    b = started(home, sid("b"))
    same = usage_record(t, (100, 10, 0, 0), ALIAS, "turn", agent_id="main")
    b.main.line(dumps(dict(reversed(list(same.items())))))  # the same record, keys in another order: folded
    b.main.usage(t, (100, 10, 0, 0), "kimi-code/kimi-k2.6", "turn")  # another alias
    b.main.usage(t + 1, (100, 10, 0, 0), ALIAS, "turn")  # another time
    b.main.usage(t, (100, 10, 0, 1), ALIAS, "turn")  # another count
    b.main.usage(t, (100, 10, 0, 0), ALIAS, "session")  # another scope
    b.agent("agent-0").header().usage(t, (100, 10, 0, 0), ALIAS, "turn", agent_id="main")  # another agent dir

    snap = code_snapshot(env(home))

    assert tokens(snap) == (600, 60, 0, 1)
    assert models(snap) == [(DEFAULT, 500, 50, 0, 1, 5), (K26, 100, 10, 0, 0, 1)]
    assert compaction(snap) == (1, 110)
    # the shared call is a…'s (no fork information: the name that sorts first); b… has five of its own
    assert sessions(snap) == (2, 0, 2)
    assert code_diag(snap) == clean(files_read=3, records=6, duplicates=1, session=1)


# --- the model ------------------------------------------------------------------------------------------------


def test_model_is_the_last_llm_request_before_the_call_after_a_retry(home: KimiCodeHome) -> None:
    home.config(LOGIN_TOML)
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.llm_request("kimi-k2.5", ALIAS, t, attempt=1)  # failed attempt
    j.llm_request(K26, ALIAS, t + 2000, attempt=2)  # the retry that answered
    j.usage(t + 3000, (100, 10, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert models(snap) == [(K26, 100, 10, 0, 0, 1)]


def test_model_follows_each_alias_through_a_model_switch(home: KimiCodeHome) -> None:
    home.config(LOGIN_TOML + f'\n[models."{TURBO_ALIAS}"]\nprovider = "moonshot"\nmodel = "config-turbo"\n')
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.llm_request(K26, ALIAS, t)
    j.usage(t + 1, (100, 10, 0, 0), ALIAS)  # -> kimi-k2.6
    j.config_update(TURBO_ALIAS, t + 2)  # /model
    j.llm_request("kimi-k2-turbo-preview", TURBO_ALIAS, t + 3)
    j.usage(t + 4, (200, 20, 0, 0), TURBO_ALIAS)  # -> kimi-k2-turbo-preview
    j.config_update(ALIAS, t + 5)  # /model back
    j.usage(t + 6, (300, 30, 0, 0), ALIAS)  # the nearest request *for this alias*: kimi-k2.6, not turbo
    j.llm_request("kimi-k2.6-thinking", ALIAS, t + 7)
    j.usage(t + 8, (400, 40, 0, 0), ALIAS)  # -> kimi-k2.6-thinking
    j.usage(t + 9, (500, 50, 0, 0), TURBO_ALIAS)  # -> kimi-k2-turbo-preview, though the last request was k2.6

    snap = code_snapshot(env(home))

    assert models(snap) == [
        ("kimi-k2-turbo-preview", 700, 70, 0, 0, 2),
        (K26, 400, 40, 0, 0, 2),
        ("kimi-k2.6-thinking", 400, 40, 0, 0, 1),
    ]


def test_model_is_the_nearest_preceding_request_in_the_same_file_when_no_alias_matches(home: KimiCodeHome) -> None:
    s = started(home, sid("1"))
    t = ms("2026-11-19T10:00:00Z")
    main = s.main
    main.usage(t, (1000, 100, 0, 0), "kimi-code/kimi-k2-early")  # before any request: the alias rules
    main.llm_request(K26, ALIAS, t + 10)
    main.llm_request("glm-4.6", "zhipu/glm-4.6", t + 20)
    main.usage(t + 30, (20, 2, 0, 0), "hand-written-alias")  # no request for it: the nearest one, glm-4.6
    main.llm_request("later-model", "hand-written-alias", t + 40)  # after the call: not its model
    sub = s.agent("agent-0").header()
    sub.llm_request("sub-model", "kimi-code/kimi-k2-early", t - 10)  # another file: not the main file's model
    sub.usage(t + 5, (3, 1, 0, 0), "kimi-code/kimi-k2-early")

    snap = code_snapshot(env(home))

    assert models(snap) == [
        ("kimi-k2-early", 1000, 100, 0, 0, 1),
        ("glm-4.6", 20, 2, 0, 0, 1),
        ("sub-model", 3, 1, 0, 0, 1),
    ]


def test_config_alias_table_resolves_aliases_without_a_request(home: KimiCodeHome) -> None:
    secret = "sk-SECRET-0f343b0931126a20f133d67c2b018a3b"
    home.config(
        'default_model = "kimi-code/kimi-for-coding"\n\n'
        '[models."kimi-code/kimi-for-coding"]\nprovider = "managed:kimi-code"\nmodel = "kimi-for-coding"\n'
        "max_context_size = 262144\n\n"
        '[models."moonshot/kimi-k2-0905-preview"]\nprovider = "moonshot"\nmodel = "kimi-k2-0905-preview"\n\n'
        '[models.fast]\nprovider = "moonshot"\nmodel = "kimi-k2-turbo-preview"\n\n'
        '[models."kimi-code/kimi-k2.6"]\nprovider = "managed:kimi-code"\nmodel = "k2.6-from-config"\n\n'
        f'[providers.moonshot]\ntype = "kimi"\nbase_url = "https://api.moonshot.ai/v1"\napi_key = "{secret}"\n'
    )
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.usage(t, (100, 10, 0, 0), "fast")
    j.usage(t + 1, (200, 20, 0, 0), "moonshot/kimi-k2-0905-preview")
    j.usage(t + 2, (300, 30, 0, 0), "kimi-code/kimi-k2.6")  # the table wins over stripping the prefix
    j.usage(t + 3, (400, 40, 0, 0), ALIAS)

    doc = all_paths(env(home))

    assert models(doc["snapshots"][0]) == [
        (DEFAULT, 400, 40, 0, 0, 1),
        ("k2.6-from-config", 300, 30, 0, 0, 1),
        ("kimi-k2-0905-preview", 200, 20, 0, 0, 1),
        ("kimi-k2-turbo-preview", 100, 10, 0, 0, 1),
    ]
    assert secret not in json.dumps(doc)


def test_kimi_code_prefix_is_stripped_from_aliases_the_config_does_not_name(home: KimiCodeHome) -> None:
    home.config(LOGIN_TOML)  # names only kimi-code/kimi-for-coding
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.usage(t, (100, 10, 0, 0), "kimi-code/kimi-k2-thinking")
    j.usage(t + 1, (200, 20, 0, 0), "moonshot/kimi-k2")  # only the kimi-code/ prefix is removed
    j.usage(t + 2, (300, 30, 0, 0), "my-model")

    snap = code_snapshot(env(home))

    assert models(snap) == [
        ("my-model", 300, 30, 0, 0, 1),
        ("moonshot/kimi-k2", 200, 20, 0, 0, 1),
        ("kimi-k2-thinking", 100, 10, 0, 0, 1),
    ]


def test_an_empty_alias_resolves_through_its_own_table_first(home: KimiCodeHome) -> None:
    """The rule's third step, `[models."<alias>"].model`, for the alias "": a table TOML can name."""
    home.config('default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\n'
                '[models.""]\nmodel = "kimi-k2-0905-preview"\n')
    j = started(home, sid("1")).main
    j.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "")

    snap = code_snapshot(env(home))

    assert models(snap) == [("kimi-k2-0905-preview", 100, 10, 0, 0, 1)]


def test_a_record_that_names_no_model_never_looks_up_the_empty_alias(home: KimiCodeHome) -> None:
    """A usage.record without `model` (or with one that is not text) has no alias: the third and fourth
    steps have nothing to look up, and `default_model` applies, not `[models.""]`."""
    home.config('default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\n'
                '[models.""]\nmodel = "kimi-k2-0905-preview"\n')
    j = started(home, sid("1")).main
    j.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), OMIT)
    j.usage(ms("2026-11-19T10:01:00Z"), (50, 5, 0, 0), 42)

    snap = code_snapshot(env(home))

    assert models(snap) == [("kimi-k2-turbo-preview", 150, 15, 0, 0, 2)]


def test_env_model_alias_falls_through_to_default_model(home: KimiCodeHome) -> None:
    home.config('default_model = "fast"\n\n[models.fast]\nprovider = "moonshot"\nmodel = "kimi-k2-turbo-preview"\n')
    j = started(home, sid("1")).main
    j.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "__kimi_env_model__")

    snap = code_snapshot(env(home))

    assert models(snap) == [("kimi-k2-turbo-preview", 100, 10, 0, 0, 1)]


DEFAULT_MODEL_CONFIGS = {
    # name: (config.toml or None for no file, the model unresolvable aliases land on)
    "default-alias-in-table": (
        'default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\n',
        "kimi-k2-turbo-preview",
    ),
    "default-alias-stripped": ('default_model = "kimi-code/kimi-k2.6"\n', K26),
    "default-alias-hand-written": ('default_model = "my-model"\n', "my-model"),
    "default-is-env-model": ('default_model = "__kimi_env_model__"\n', DEFAULT),
    "default-is-empty": ('default_model = ""\n', DEFAULT),
    # `[models.""]` is a table TOML can name: the empty alias and an empty default_model resolve there.
    "default-is-empty-with-its-table": ('default_model = ""\n[models.""]\nmodel = "kimi-k2-0905-preview"\n',
                                        "kimi-k2-0905-preview"),
    "default-names-nothing": ('default_model = "kimi-code/"\n', DEFAULT),
    "no-default": ('[models.fast]\nmodel = "kimi-k2-turbo-preview"\n', DEFAULT),
    "empty-config": ("", DEFAULT),  # the file is empty until the user logs in
    "no-config": (None, DEFAULT),
    "broken-config": ('default_model = "fast\n[models.fast\n', DEFAULT),
}


@pytest.mark.parametrize("case", list(DEFAULT_MODEL_CONFIGS))
def test_unresolvable_aliases_fall_back_to_default_model_then_kimi_for_coding(home: KimiCodeHome, case: str) -> None:
    text, fallback = DEFAULT_MODEL_CONFIGS[case]
    if text is not None:
        home.config(text)
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.usage(t, (100, 10, 0, 0), "__kimi_env_model__")
    j.usage(t + 1, (200, 20, 0, 0), "")
    j.usage(t + 2, (300, 30, 0, 0), "kimi-code/")
    j.usage(t + 3, (400, 40, 0, 0), OMIT)  # no model key
    j.usage(t + 4, (5, 1, 0, 0), "kimi-code/kimi-k2-x")  # resolvable: never the fallback

    snap = code_snapshot(env(home))

    assert snap["status"] == "ok"
    assert models(snap) == [(fallback, 1000, 100, 0, 0, 4), ("kimi-k2-x", 5, 1, 0, 0, 1)]


# --- forks, child sessions, subagents: each call counts once, in one session ----------------------------------


def _original(home: KimiCodeHome, session_id: str) -> Session:
    """A session with two main calls (a turn and a compaction) and a subagent call on 2026-11-17."""
    o = started(home, session_id)
    o.main.llm_request(K26, ALIAS, ms("2026-11-17T09:59:59Z"))
    o.main.usage(ms("2026-11-17T10:00:00Z"), (1000, 100, 5000, 0), ALIAS, "turn")
    o.main.llm_request(K26, ALIAS, ms("2026-11-17T10:04:00Z"), kind="compaction")
    o.main.usage(ms("2026-11-17T10:05:00Z"), (3000, 200, 0, 0), ALIAS, "session")
    o.agent("agent-0").header().usage(ms("2026-11-17T10:02:00Z"), (50, 5, 0, 0), ALIAS)
    return o


@pytest.mark.parametrize(
    ("marker", "forked_from", "fork_owns_copies"),
    [(True, True, False), (False, True, False), (True, False, False), (False, False, True)],
    ids=["marker-and-forkedFrom", "forkedFrom-only-legacy-fork", "marker-only", "neither-name-order"],
)
def test_fork_copies_count_once_and_belong_to_the_source(
    home: KimiCodeHome, marker: bool, forked_from: bool, fork_owns_copies: bool
) -> None:
    # The fork's name sorts first on purpose: only forkedFrom or the marker can give the copies to the source.
    source = _original(home, sid("b"))
    fork = home.fork(source, sid("a"), marker=marker, forked_from=forked_from)
    assert ("forkedFrom" in fork.state()) == forked_from
    fork.main.usage(ms("2026-11-19T09:00:00Z"), (400, 40, 0, 0), ALIAS)  # the fork's own call

    snap = code_snapshot(env(home))

    assert tokens(snap) == (4450, 345, 5000, 0)
    # the fork's own call resolves through the copied llm.request lines
    assert models(snap) == [(K26, 4400, 340, 5000, 0, 3), (DEFAULT, 50, 5, 0, 0, 1)]
    assert compaction(snap) == (1, 3200)
    assert series(snap, "tokens") == {"2026-11-17": 4355, "2026-11-19": 440}
    assert series(snap, "sessions") == {"2026-11-17": 1, "2026-11-19": 1}
    assert sessions(snap) == ((1, 0, 1) if fork_owns_copies else (2, 0, 2))
    assert code_diag(snap) == clean(files_read=4, records=4, duplicates=3, session=1)


def test_fork_without_calls_of_its_own_is_not_a_session(home: KimiCodeHome) -> None:
    o = started(home, sid("c"))
    o.main.usage(ms("2026-11-19T08:00:00Z"), (100, 10, 0, 0), ALIAS)
    o.main.usage(ms("2026-11-20T09:00:00Z"), (200, 20, 0, 0), ALIAS)
    sub = o.agent("agent-0").header()
    sub.usage(ms("2026-11-19T08:30:00Z"), (30, 3, 0, 0), ALIAS)
    sub.usage(ms("2026-11-20T09:30:00Z"), (40, 4, 0, 0), ALIAS)
    home.fork(o, sid("b"))  # everything
    home.fork(o, sid("a"), cut=ms("2026-11-19T08:45:00Z"))  # fork at the first turn: the 11-19 calls only

    snap = code_snapshot(env(home))

    assert sessions(snap) == (1, 1, 1)
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}
    assert tokens(snap) == (370, 37, 0, 0)
    assert code_diag(snap) == clean(files_read=6, records=4, duplicates=6)


@pytest.mark.parametrize("marker", [True, False], ids=["markers", "legacy-no-markers"])
def test_fork_of_a_fork_gives_each_call_to_its_first_session(home: KimiCodeHome, marker: bool) -> None:
    # Name order is the reverse of ancestry: a… is the fork of b…, which is the fork of c….
    o = started(home, sid("c"))
    o.main.usage(ms("2026-11-16T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    f1 = home.fork(o, sid("b"), marker=marker)
    f1.main.usage(ms("2026-11-18T10:00:00Z"), (200, 20, 0, 0), ALIAS)
    f2 = home.fork(f1, sid("a"), marker=marker)
    assert f2.state()["forkedFrom"] == sid("b")
    f2.main.usage(ms("2026-11-20T08:00:00Z"), (300, 30, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert sessions(snap) == (3, 1, 3)
    assert series(snap, "sessions") == {"2026-11-16": 1, "2026-11-18": 1, "2026-11-20": 1}
    assert series(snap, "tokens") == {"2026-11-16": 110, "2026-11-18": 220, "2026-11-20": 330}
    assert tokens(snap) == (600, 60, 0, 0)
    assert code_diag(snap) == clean(files_read=3, records=3, duplicates=3)


@pytest.mark.parametrize("marker", [True, False], ids=["markers", "legacy-no-markers"])
def test_fork_chain_stops_at_a_deleted_session(home: KimiCodeHome, marker: bool) -> None:
    o = started(home, sid("c"))
    o.main.usage(ms("2026-11-16T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    f1 = home.fork(o, sid("b"), marker=marker)
    f1.main.usage(ms("2026-11-18T10:00:00Z"), (200, 20, 0, 0), ALIAS)
    f2 = home.fork(f1, sid("a"), marker=marker)
    f2.main.usage(ms("2026-11-20T08:00:00Z"), (300, 30, 0, 0), ALIAS)
    shutil.rmtree(f1.dir)  # a…'s forkedFrom now names a session that does not exist

    snap = code_snapshot(env(home))

    # a… is no longer a fork of c…: the 11-16 call goes to c… only when a…'s copy is followed by a marker,
    # else to a… (name order), and then c… owns nothing.
    assert sessions(snap) == ((2, 1, 2) if marker else (1, 1, 1))
    assert series(snap, "sessions") == {"2026-11-16": 1, "2026-11-18": 1, "2026-11-20": 1}
    assert tokens(snap) == (600, 60, 0, 0)
    assert code_diag(snap) == clean(files_read=2, records=3, duplicates=1)


def test_fork_chain_runs_through_a_session_that_has_no_journal(home: KimiCodeHome) -> None:
    """"Through sessions that exist": a session directory with a state.json but no journal (its agents
    never wrote, or its journals were removed) is still a link of the chain. a… is a fork of b…, which
    is a fork of c…; only a… and c… hold the 11-16 call, which is c…'s. Before, the chain stopped at
    b… and name order gave the call to a…."""
    o = started(home, sid("c"))
    o.main.usage(ms("2026-11-16T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    middle = home.session(o.work_dir_key, sid("b"), state={**default_state("Fork: New session"),
                                                         "forkedFrom": sid("c")})
    f2 = home.fork(o, sid("a"), marker=False, state={"forkedFrom": middle.id})
    f2.main.usage(ms("2026-11-20T08:00:00Z"), (300, 30, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert sessions(snap) == (2, 1, 2)
    assert series(snap, "sessions") == {"2026-11-16": 1, "2026-11-20": 1}
    assert tokens(snap) == (400, 40, 0, 0)
    assert code_diag(snap) == clean(files_read=2, records=2, duplicates=1)


def test_a_journal_less_link_appearing_later_moves_the_call_as_a_cold_scan_does(home: KimiCodeHome) -> None:
    o = started(home, sid("c"))
    o.main.usage(ms("2026-11-16T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    f2 = home.fork(o, sid("a"), marker=False, state={"forkedFrom": sid("b")})  # b… does not exist yet
    f2.main.usage(ms("2026-11-20T08:00:00Z"), (300, 30, 0, 0), ALIAS)
    assert sessions(code_snapshot(env(home))) == (1, 1, 1)  # a… owns both calls (name order)
    home.session(o.work_dir_key, sid("b"), state={**default_state("Fork: New session"), "forkedFrom": sid("c")})
    snap = code_snapshot(env(home), fresh_cache=False)  # the warm run first: it must say what a cold one says
    assert sessions(snap) == (2, 1, 2)
    assert tokens(snap) == (400, 40, 0, 0)


def test_deleted_source_hands_its_calls_to_the_fork(home: KimiCodeHome) -> None:
    o = started(home, sid("b"))
    o.main.usage(ms("2026-11-17T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    fork = home.fork(o, sid("a"))
    o.main.usage(ms("2026-11-18T10:00:00Z"), (200, 20, 0, 0), ALIAS)  # after the fork: the source's only
    fork.main.usage(ms("2026-11-19T10:00:00Z"), (300, 30, 0, 0), ALIAS)
    snap = code_snapshot(env(home))
    assert series(snap, "sessions") == {"2026-11-17": 1, "2026-11-18": 1, "2026-11-19": 1}
    assert sessions(snap) == (2, 0, 2)
    assert code_diag(snap) == clean(files_read=2, records=3, duplicates=1)

    shutil.rmtree(o.dir)
    snap = code_snapshot(env(home), fresh_cache=False)

    assert tokens(snap) == (400, 40, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert series(snap, "tokens") == {"2026-11-17": 110, "2026-11-19": 330}
    assert series(snap, "sessions") == {"2026-11-17": 1, "2026-11-19": 1}
    assert code_diag(snap) == clean(files_read=1, records=2)


def test_two_forks_of_a_deleted_source_share_by_marker_then_name(home: KimiCodeHome) -> None:
    o = started(home, sid("0"))
    o.main.usage(ms("2026-11-16T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    late = home.fork(o, sid("b"))
    early = home.fork(o, sid("a"))
    late.main.usage(ms("2026-11-16T11:00:00Z"), (200, 20, 0, 0), ALIAS)
    early.main.usage(ms("2026-11-18T10:00:00Z"), (300, 30, 0, 0), ALIAS)
    shutil.rmtree(o.dir)

    snap = code_snapshot(env(home))

    # both copies are followed by a marker and neither is a fork of the other: a… (name order) owns it,
    # so on 2026-11-16 both a… (the copy) and b… (its own call) are active
    assert series(snap, "sessions") == {"2026-11-16": 2, "2026-11-18": 1}
    assert sessions(snap) == (2, 0, 2)
    assert tokens(snap) == (600, 60, 0, 0)
    assert code_diag(snap) == clean(files_read=2, records=3, duplicates=1)


def test_child_session_copies_belong_to_the_parent(home: KimiCodeHome) -> None:
    parent = started(home, sid("b"))
    parent.main.usage(ms("2026-11-20T08:00:00Z"), (500, 50, 0, 0), ALIAS)
    parent.agent("agent-0").header().usage(ms("2026-11-20T08:10:00Z"), (60, 6, 0, 0), ALIAS)
    child = home.fork(
        parent,
        sid("a"),
        state={"title": "Child: review", "custom": {"parent_session_id": parent.id, "child_session_kind": "child"}},
    )
    child.main.usage(ms("2026-11-20T09:00:00Z"), (700, 70, 0, 0), ALIAS)
    child.agent("agent-1").header().usage(ms("2026-11-20T09:05:00Z"), (80, 8, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert sessions(snap) == (2, 2, 2)
    assert tokens(snap) == (1340, 134, 0, 0)
    assert series(snap, "sessions") == {"2026-11-20": 2}
    assert code_diag(snap) == clean(files_read=5, records=4, duplicates=2)


def test_subagent_files_count_toward_their_session(home: KimiCodeHome) -> None:
    t = ms("2026-11-19T09:00:00Z")
    s = started(home, sid("1"))
    s.main.usage(t, (100, 10, 0, 0), ALIAS)
    a0 = s.agent("agent-0").header()
    a0.usage(t, (100, 10, 0, 0), ALIAS)  # same time, counts, scope, alias, but another agent: another call
    a0.usage(t + 300_000, (9000, 400, 0, 0), ALIAS, "session")  # the subagent compacted its context
    s.agent("agent-1").header().usage(ms("2026-11-20T08:00:00Z"), (30, 3, 0, 0), ALIAS)
    only_sub = started(home, sid("2"))  # no usage of its own: only its subagent worked
    only_sub.main.prompt(ms("2026-11-18T09:59:00Z"))
    only_sub.agent("agent-0").header().usage(ms("2026-11-18T10:00:00Z"), (50, 5, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert tokens(snap) == (9280, 428, 0, 0)
    assert compaction(snap) == (1, 9400)
    assert sessions(snap) == (2, 1, 2)
    assert series(snap, "sessions") == {"2026-11-18": 1, "2026-11-19": 1, "2026-11-20": 1}
    assert code_diag(snap) == clean(files_read=5, records=5, session=1)


def test_migrated_session_without_usage_is_not_a_session(home: KimiCodeHome) -> None:
    home.journal_from_fixture("migrated_ses.jsonl", WD, f"ses_{uid('1')}")
    continued = home.journal_from_fixture("migrated_ses.jsonl", OTHER_WD, f"ses_{uid('2')}")
    continued.llm_request(K26, ALIAS, ms("2026-11-20T08:59:00Z"))
    continued.usage(ms("2026-11-20T09:00:00Z"), (50, 5, 0, 0), ALIAS)  # resumed in Kimi Code
    started(home, sid("3")).main.usage(ms("2026-11-19T09:00:00Z"), (10, 1, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert sessions(snap) == (2, 1, 2)
    assert series(snap, "sessions") == {"2026-11-19": 1, "2026-11-20": 1}
    assert tokens(snap) == (60, 6, 0, 0)
    assert models(snap) == [(K26, 50, 5, 0, 0, 1), (DEFAULT, 10, 1, 0, 0, 1)]
    assert code_diag(snap) == clean(files_read=3, records=2)


# --- times and windows ----------------------------------------------------------------------------------------


def test_millisecond_times_at_the_day_and_7_day_edges(home: KimiCodeHome) -> None:
    edges = {
        "a": "2026-11-13T12:00:00.000Z",  # exactly now - 7 x 24 h: in the 7-day window
        "b": "2026-11-13T11:59:59.999Z",  # one millisecond earlier: out
        "c": "2026-11-20T00:00:00.000Z",  # first millisecond of today
        "d": "2026-11-19T23:59:59.999Z",  # last millisecond of yesterday
        "e": "2026-11-20T11:59:59.999Z",
    }
    for n, (ch, iso) in enumerate(edges.items(), start=1):
        started(home, sid(ch)).main.usage(ms(iso), (10 * n, n, 0, 0), ALIAS)
    daily_sessions = {"2026-11-13": 2, "2026-11-19": 1, "2026-11-20": 2}
    daily_tokens = {"2026-11-13": 11 + 22, "2026-11-19": 44, "2026-11-20": 33 + 55}

    snap = code_snapshot(env(home, now="2026-11-20T12:00:00Z"))
    assert sessions(snap) == (5, 2, 4)
    assert series(snap, "sessions") == daily_sessions
    assert series(snap, "tokens") == daily_tokens

    # The cache was filled under another clock: the windows must follow the new one.
    snap = code_snapshot(env(home, now="2026-11-20T12:00:00.001Z"), fresh_cache=False)
    assert sessions(snap) == (5, 2, 3)  # a is now one millisecond too old
    assert series(snap, "sessions") == daily_sessions

    snap = code_snapshot(env(home, now="2026-11-21T00:00:00Z"), fresh_cache=False)
    assert sessions(snap) == (5, 0, 3)  # a new UTC day; the window starts 2026-11-14T00:00:00Z
    assert series(snap, "tokens") == daily_tokens


def test_small_times_are_milliseconds_not_seconds(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    j.usage(1_795_000_000, (20, 2, 0, 0), ALIAS)  # 2026-11-18 if it were seconds; as ms it is 1970-01-21
    j.usage(1000, (30, 3, 0, 0), ALIAS)  # one second after the epoch

    snap = code_snapshot(env(home))

    assert series(snap, "tokens") == {"1970-01-01": 33, "1970-01-21": 22}
    assert series(snap, "sessions") == {"1970-01-01": 1, "1970-01-21": 1}
    assert sessions(snap) == (1, 0, 0)


def test_calls_with_invalid_times_count_in_totals_but_on_no_day(home: KimiCodeHome) -> None:
    first = started(home, sid("1")).main
    second = started(home, sid("2")).main
    bad = [
        (first, OMIT),
        (first, "1795000000000"),
        (first, True),
        (first, 0),
        (second, -5),
        (second, None),
        (second, 253_402_300_800_000),  # 10000-01-01T00:00:00.000Z
        (second, 1e20),
    ]
    for n, (journal, time_value) in enumerate(bad):
        journal.line(usage_record(time_value, (10 + n, 1, 0, 0), ALIAS, "turn"))

    snap = code_snapshot(env(home))

    assert tokens(snap) == (108, 8, 0, 0)
    assert models(snap) == [(DEFAULT, 108, 8, 0, 0, 8)]
    assert sessions(snap) == (2, 0, 0)
    assert series(snap, "tokens") == {}
    assert series(snap, "sessions") == {}
    assert code_diag(snap) == clean(files_read=2, records=8)


def test_last_millisecond_before_year_10000_is_a_valid_time(home: KimiCodeHome) -> None:
    j = started(home, sid("9")).main
    j.usage(253_402_300_799_999, (10, 1, 0, 0), ALIAS)  # 9999-12-31T23:59:59.999Z
    j.usage(253_402_300_800_000, (20, 2, 0, 0), ALIAS)  # 10000-01-01T00:00:00.000Z: invalid

    snap = code_snapshot(env(home))

    assert series(snap, "tokens") == {"9999-12-31": 11}
    assert series(snap, "sessions") == {"9999-12-31": 1}
    assert tokens(snap) == (30, 3, 0, 0)
    assert (used(snap, "total_sessions"), used(snap, "sessions_today")) == (1, 0)


# --- files that change between runs (the cache must follow) ----------------------------------------------------

T0 = ms("2026-11-19T09:00:00Z")
LEGACY = [  # a journal written by the legacy engine (protocol 1.4, no agentId)
    {"type": "metadata", "protocol_version": "1.4", "created_at": T0},
    {"type": "turn.prompt", "input": [{"type": "text", "text": "p" * 6000}], "time": T0 + 1},
    {"type": "llm.request", "kind": "loop", "provider": "managed", "model": K26, "modelAlias": ALIAS, "time": T0 + 2},
    {
        "type": "usage.record",
        "model": ALIAS,
        "usage": usage_counts((1000, 100, 8000, 0)),
        "usageScope": "turn",
        "time": T0 + 1000,
    },
    {
        "type": "context.append_message",
        "message": {
            "role": "assistant",
            "toolCalls": [
                {"id": "call_1", "name": "Shell", "arguments": '{"command":"ls"}', "legacyDisplay": "y" * 3000}
            ],
        },
        "time": T0 + 1001,
    },
    {
        "type": "llm.request",
        "kind": "compaction",
        "provider": "managed",
        "model": K26,
        "modelAlias": ALIAS,
        "time": T0 + 2000,
    },
    {
        "type": "usage.record",
        "model": ALIAS,
        "usage": usage_counts((6000, 300, 0, 0)),
        "usageScope": "session",
        "time": T0 + 3000,
    },
    {
        "type": "usage.record",
        "model": ALIAS,
        "usage": usage_counts((500, 50, 2000, 10)),
        "usageScope": "turn",
        "time": T0 + 4000,
    },
    {
        "type": "context.append_message",
        "message": {
            "role": "assistant",
            "content": [{"type": "text", "text": "".join(chr(ord("a") + i % 26) for i in range(2000))}],
        },
        "time": T0 + 4001,
    },
]


def _migrated(record: dict[str, Any], how: str) -> dict[str, Any]:
    """The record as a newer engine writes it back after migrating the journal (the migrations touch
    tool calls only). "longer" and "middle" grow the tool-call line by more than the lines after it, so
    that the old end offset falls before records already counted; "middle" keeps the header and the
    first 6 KB byte for byte."""
    if record["type"] == "metadata":
        return record if how == "middle" else {**record, "protocol_version": "1.5"}
    calls = record.get("message", {}).get("toolCalls")
    if how == "middle":
        if calls is None:
            return record
        grown = [{**call, "approval": {"state": "approved", "detail": "x" * 4000}} for call in calls]
        return {**record, "message": {**record["message"], "toolCalls": grown}}
    out: dict[str, Any] = {"time": record["time"], "type": record["type"]}  # another key order
    if how == "longer":
        out["agentId"] = "main"
    for key, value in record.items():
        out.setdefault(key, value)
    if calls is not None and how == "longer":
        grown = [{**call, "display": [{"type": "brief", "text": "y" * 4000}]} for call in calls]
        out["message"] = {**record["message"], "toolCalls": grown}
    if calls is not None and how == "shorter":
        shrunk = [{k: v for k, v in call.items() if k != "legacyDisplay"} for call in calls]
        out["message"] = {**record["message"], "toolCalls": shrunk}
    return out


def _rewrite(path: Path, data: bytes, same_inode: bool) -> None:
    """What resuming an old journal does: truncate-and-write in place (legacy engine), or an atomic
    replace (current engine). The modification time is put back, so only the bytes tell."""
    before = path.stat()
    if same_inode:
        with path.open("r+b") as f:
            f.truncate(0)
            f.write(data)
    else:
        tmp = path.with_name("wire.jsonl.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        tmp.unlink(missing_ok=True)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_ino == before.st_ino) == same_inode


@pytest.mark.parametrize("append", [False, True], ids=["rewrite", "rewrite-then-append"])
@pytest.mark.parametrize("how", ["longer", "shorter", "middle"])
@pytest.mark.parametrize("same_inode", [True, False], ids=["same-inode", "new-inode"])
def test_file_rewritten_in_place_counts_each_record_once(
    home: KimiCodeHome, same_inode: bool, how: str, append: bool
) -> None:
    s = home.session(WD, sid("1"))
    original = "".join(dumps(r) + "\n" for r in LEGACY).encode()
    s.main.path.write_bytes(original)
    snap = code_snapshot(env(home))  # fills the cache
    assert tokens(snap) == (7500, 450, 10000, 10)
    assert code_diag(snap) == clean(files_read=1, records=3, session=1)

    rewritten = "".join(dumps(_migrated(r, how)) + "\n" for r in LEGACY).encode()
    assert rewritten != original
    if how == "shorter":
        assert len(rewritten) < len(original)
    else:  # the old end offset now falls before the last two usage lines
        assert rewritten.rindex(b'"usage.record"', 0, rewritten.rindex(b'"usage.record"')) > len(original)
    if how == "middle":
        assert rewritten[:6000] == original[:6000]  # the first blocks are unchanged
    _rewrite(s.main.path, rewritten, same_inode)
    if append:
        s.main.usage(T0 + 5000, (7, 1, 0, 0), ALIAS)

    snap = code_snapshot(env(home), fresh_cache=False)

    extra = (7, 1, 0, 0) if append else (0, 0, 0, 0)
    assert tokens(snap) == (7500 + extra[0], 450 + extra[1], 10000, 10)
    assert models(snap) == [(K26, 7500 + extra[0], 450 + extra[1], 10000, 10, 3 + append)]
    assert compaction(snap) == (1, 6300)
    assert series(snap, "tokens") == {"2026-11-19": 7950 + extra[0] + extra[1]}
    assert sessions(snap) == (1, 0, 1)
    assert code_diag(snap) == clean(files_read=1, records=3 + append, session=1)


def test_appended_record_resolves_its_model_from_requests_read_in_an_earlier_run(home: KimiCodeHome) -> None:
    home.config(LOGIN_TOML + f'\n[models."{TURBO_ALIAS}"]\nmodel = "config-turbo"\n')
    j = started(home, sid("1")).main
    t = ms("2026-11-19T10:00:00Z")
    j.llm_request(K26, ALIAS, t)
    j.usage(t + 1, (100, 10, 0, 0), ALIAS)
    j.llm_request("kimi-k2-turbo-preview", TURBO_ALIAS, t + 2)
    j.usage(t + 3, (200, 20, 0, 0), TURBO_ALIAS)
    snap = code_snapshot(env(home))
    assert models(snap) == [("kimi-k2-turbo-preview", 200, 20, 0, 0, 1), (K26, 100, 10, 0, 0, 1)]

    j.usage(t + 4, (300, 30, 0, 0), ALIAS)  # its request was read in the earlier run: kimi-k2.6
    j.usage(t + 5, (400, 40, 0, 0), "hand-written-alias")  # no request for it: the nearest one, turbo
    snap = code_snapshot(env(home), fresh_cache=False)
    assert models(snap) == [("kimi-k2-turbo-preview", 600, 60, 0, 0, 2), (K26, 400, 40, 0, 0, 2)]

    j.llm_request("kimi-k2.6-thinking", ALIAS, t + 6)
    code_snapshot(env(home), fresh_cache=False)  # a run that reads only the request
    j.usage(t + 7, (50, 5, 0, 0), ALIAS)
    snap = code_snapshot(env(home), fresh_cache=False)

    assert models(snap) == [
        ("kimi-k2-turbo-preview", 600, 60, 0, 0, 2),
        (K26, 400, 40, 0, 0, 2),
        ("kimi-k2.6-thinking", 50, 5, 0, 0, 1),
    ]
    assert code_diag(snap) == clean(files_read=1, records=5)


def test_forked_marker_appended_after_a_cached_run_hands_the_copies_back(home: KimiCodeHome) -> None:
    # The legacy engine copies the directory first and appends the markers after: a run can fall between.
    o = started(home, sid("b"))
    o.main.usage(ms("2026-11-16T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    fork = home.fork(o, sid("a"), marker=False, forked_from=False)
    snap = code_snapshot(env(home))
    assert sessions(snap) == (1, 0, 1)  # no marker, no forkedFrom: the copy's holder a… sorts first

    fork.main.forked()
    fork.main.usage(ms("2026-11-19T10:00:00Z"), (200, 20, 0, 0), ALIAS)
    snap = code_snapshot(env(home), fresh_cache=False)

    assert sessions(snap) == (2, 0, 2)  # the copy is now followed by a marker: b… owns it, a… its own call
    assert series(snap, "sessions") == {"2026-11-16": 1, "2026-11-19": 1}
    assert tokens(snap) == (300, 30, 0, 0)
    assert code_diag(snap) == clean(files_read=2, records=2, duplicates=1)


def test_line_cut_mid_write_counts_once_when_completed(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    j.usage(ms("2026-11-19T10:00:00Z"), (70, 7, 0, 0), ALIAS)
    full = dumps(usage_record(ms("2026-11-19T10:01:00Z"), (300, 30, 0, 0), ALIAS, agent_id="main")).encode()
    cut = full.index(b'"inputOther":3') + len(b'"inputOther":3')
    with j.path.open("ab") as f:
        f.write(full[:cut])
    snap = code_snapshot(env(home))
    assert tokens(snap) == (70, 7, 0, 0)
    assert code_diag(snap, "records_counted", "duplicate_records") == {"records_counted": 1, "duplicate_records": 0}

    with j.path.open("ab") as f:
        f.write(full[cut:] + b"\n")
        f.write(dumps(usage_record(ms("2026-11-19T10:02:00Z"), (5, 1, 0, 0), ALIAS, agent_id="main")).encode())
    snap = code_snapshot(env(home), fresh_cache=False)  # the last line is complete but has no newline yet

    assert tokens(snap) == (375, 38, 0, 0)
    assert code_diag(snap) == clean(files_read=1, records=3)


def test_added_session_and_subagent_after_a_cached_run(home: KimiCodeHome) -> None:
    started(home, sid("1")).main.usage(ms("2026-11-19T10:00:00Z"), (10, 1, 0, 0), ALIAS)
    code_snapshot(env(home))
    second = started(home, sid("2"))
    second.main.usage(ms("2026-11-20T10:00:00Z"), (20, 2, 0, 0), ALIAS)
    second.agent("agent-0").header().usage(ms("2026-11-20T10:01:00Z"), (30, 3, 0, 0), ALIAS, "session")

    snap = code_snapshot(env(home), fresh_cache=False)

    assert tokens(snap) == (60, 6, 0, 0)
    assert sessions(snap) == (2, 1, 2)
    assert compaction(snap) == (1, 33)
    assert code_diag(snap) == clean(files_read=3, records=3, session=1)


# --- which files and which home -------------------------------------------------------------------------------


def test_only_agents_wire_jsonl_at_that_depth_is_read(home: KimiCodeHome) -> None:
    s = started(home, sid("1"))
    s.main.usage(ms("2026-11-19T10:00:00Z"), (10, 1, 0, 0), ALIAS)
    decoy = s.main.path.read_text(encoding="utf-8") + dumps(
        usage_record(ms("2026-11-19T11:00:00Z"), (500, 50, 0, 0), ALIAS, agent_id="main")
    )
    rel = [
        f"sessions/{WD}/{sid('1')}/wire.jsonl",  # the session directory itself
        f"sessions/{WD}/{sid('1')}/agents/wire.jsonl",
        f"sessions/{WD}/{sid('1')}/agents/main/plans/wire.jsonl",  # deeper
        f"sessions/{WD}/{sid('1')}/agents/main/tasks/agent-9/wire.jsonl",
        f"sessions/{WD}/{sid('1')}/agents/main/wire.jsonl.bak",
        f"sessions/{WD}/{sid('1')}/agents/main/Wire.jsonl",
        f"sessions/{WD}/{sid('1')}/agents/main/context.jsonl",
        f"sessions/{WD}/{sid('1')}/subagents/agent-0/wire.jsonl",  # Kimi CLI's layout
        f"sessions/{WD}/{sid('1')}/other/main/wire.jsonl",
        f"sessions/{WD}/agents/main/wire.jsonl",  # one level too shallow
        f"sessions/{WD}/wire.jsonl",
        "sessions/wire.jsonl",
        "wire.jsonl",
        f"archive/{WD}/{sid('2')}/agents/main/wire.jsonl",  # outside sessions/
        f"sessions/{WD}/{sid('3')}/x/agents/main/wire.jsonl",  # one level too deep
    ]
    for name in rel:
        path = home.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(decoy + "\n", encoding="utf-8")

    snap = code_snapshot(env(home))

    assert tokens(snap) == (10, 1, 0, 0)
    assert sessions(snap) == (1, 0, 1)
    assert code_diag(snap) == clean(files_read=1, records=1)


def test_kimi_code_home_replaces_the_default_root(tmp_path: Path, isolated_env: Path) -> None:
    default = KimiCodeHome(isolated_env / ".kimi-code")
    started(default, sid("1")).main.usage(ms("2026-11-19T10:00:00Z"), (100, 10, 0, 0), ALIAS)
    other = KimiCodeHome(tmp_path / "elsewhere")
    other.config('default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\n')
    started(other, sid("2")).main.usage(ms("2026-11-19T10:00:00Z"), (7, 1, 0, 0), "__kimi_env_model__")

    snap = code_snapshot(code_env(other.root))
    assert models(snap) == [("kimi-k2-turbo-preview", 7, 1, 0, 0, 1)]

    snap = code_snapshot(code_env())  # no KIMI_CODE_HOME: ~/.kimi-code
    assert models(snap) == [(DEFAULT, 100, 10, 0, 0, 1)]

    snap = code_snapshot(code_env(KIMI_CODE_HOME=""))  # empty means unset
    assert models(snap) == [(DEFAULT, 100, 10, 0, 0, 1)]

    # Kimi CLI's variable and ccusage's invention do not move Kimi Code (an empty Kimi CLI root: no account)
    (tmp_path / "no-kimi").mkdir()
    snap = code_snapshot(code_env(KIMI_SHARE_DIR=str(tmp_path / "no-kimi"), KIMI_DATA_DIR=str(other.root)))
    assert models(snap) == [(DEFAULT, 100, 10, 0, 0, 1)]

    # A home that does not exist: not the default's figures, but the account saying so (test_explicit_homes).
    snap = code_snapshot(code_env(tmp_path / "missing"))
    assert snap["status"] == "error"
    assert tokens(snap) == (0, 0, 0, 0)


def test_home_with_config_only_is_detected_with_status_unknown(home: KimiCodeHome) -> None:
    home.config(LOGIN_TOML)

    snap = code_snapshot(env(home))

    assert snap["account_id"] == "kimi_code"
    assert snap["status"] == "unknown"
    assert snap["message"] == "Kimi Code sessions directory not found"
    assert all(m["used"] == 0 for m in snap["metrics"].values())
    assert snap["models"] == []


def test_home_with_neither_sessions_nor_config_is_not_detected(home: KimiCodeHome) -> None:
    (home.root / "workspaces.json").write_text("{}", encoding="utf-8")
    (home.root / "credentials").mkdir()

    assert all_paths(env(home))["snapshots"] == []


def test_sessions_directory_alone_is_detected(home: KimiCodeHome) -> None:
    home.sessions.mkdir()

    snap = code_snapshot(env(home))

    assert (snap["account_id"], snap["status"]) == ("kimi_code", "ok")
    assert sessions(snap) == (0, 0, 0)
    assert code_diag(snap) == clean(files_read=0, records=0)


def test_both_kimi_homes_at_once_keep_their_own_figures(tmp_path: Path, isolated_env: Path) -> None:
    cli_home = KimiHome(isolated_env / ".kimi")
    cli_home.session(uid("1")).usage(at("2025-11-19T12:00:00Z"), (1520, 312, 0, 0), "chatcmpl-old")
    cli_home.session(uid("2")).usage(at("2026-11-19T09:00:00Z"), (100, 10, 0, 0), "chatcmpl-new")
    (cli_home.root / ".migrated-to-kimi-code").write_text("", encoding="utf-8")
    code_home = KimiCodeHome(isolated_env / ".kimi-code")
    code_home.journal_from_fixture("migrated_ses.jsonl", WD, f"ses_{uid('1')}")  # the migrated copy: text only
    s = started(code_home, sid("a"))
    s.main.usage(ms("2026-11-19T09:00:00Z"), (100, 10, 0, 0), ALIAS)  # same time and counts as a Kimi CLI call
    s.main.usage(ms("2026-11-20T09:00:00Z"), (2000, 200, 0, 0), ALIAS, "session")

    both = all_paths(code_env())

    assert [(x["account_id"], x["provider_id"]) for x in both["snapshots"]] == [
        ("kimi_cli", "kimi_cli"),
        ("kimi_code", "kimi_code"),
    ]
    snaps = by_account(both)
    assert tokens(snaps["kimi_cli"]) == (1620, 322, 0, 0)
    assert sessions(snaps["kimi_cli"]) == (2, 0, 1)
    assert models(snaps["kimi_cli"]) == [(DEFAULT, 1620, 322, 0, 0, 2)]
    assert tokens(snaps["kimi_code"]) == (2100, 210, 0, 0)
    assert sessions(snaps["kimi_code"]) == (1, 1, 1)
    assert compaction(snaps["kimi_code"]) == (1, 2200)
    assert code_diag(snaps["kimi_code"]) == clean(files_read=2, records=2, session=1)

    only_code = all_paths(code_env(), "--account", "kimi_code")
    assert [x["account_id"] for x in only_code["snapshots"]] == ["kimi_code"]
    assert only_code["snapshots"][0] == snaps["kimi_code"]

    # Each provider's figures are what it gives with the other home gone.
    code_home.root.rename(tmp_path / "away")
    alone = all_paths(code_env())
    assert [x["account_id"] for x in alone["snapshots"]] == ["kimi_cli"]
    assert alone["snapshots"][0] == snaps["kimi_cli"]
    (tmp_path / "away").rename(code_home.root)
    cli_home.root.rename(tmp_path / "away-cli")
    alone = all_paths(code_env())
    assert [x["account_id"] for x in alone["snapshots"]] == ["kimi_code"]
    assert alone["snapshots"][0] == snaps["kimi_code"]


# --- what the tool must never do -----------------------------------------------------------------------------


def _tree(root: Path) -> list[tuple[str, bool, int, int]]:
    return sorted(
        (str(p.relative_to(root)), p.is_dir(), p.lstat().st_size if not p.is_dir() else 0, p.lstat().st_mtime_ns)
        for p in [root, *root.rglob("*")]
    )


def test_never_writes_in_the_kimi_code_home_nor_leaks_config_secrets(tmp_path: Path, home: KimiCodeHome) -> None:
    secret = "sk-SECRET-d41d8cd98f00b204e9800998ecf8427e"
    home.config(LOGIN_TOML + f'\n[providers.moonshot]\ntype = "kimi"\napi_key = "{secret}"\n')
    (home.root / "credentials").mkdir()
    (home.root / "credentials" / "kimi-code.json").write_text(json.dumps({"access_token": secret}), encoding="utf-8")
    s = started(home, sid("1"))
    s.main.usage(ms("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "kimi-code/kimi-for-coding")
    home.fork(s, sid("2"))
    before = _tree(home.root)

    outputs = []
    run_env = env(home, COLUMNS="200")
    for args in (["snapshot", "--json", "--no-cache"], ["snapshot", "--json"], ["detect"], ["detect", "--json"], []):
        result = invoke(args, run_env)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        outputs.append(result.stdout + result.stderr)
    snap = code_snapshot(run_env)

    assert _tree(home.root) == before
    assert models(snap) == [(DEFAULT, 10, 1, 0, 0, 1)]
    assert not any(secret in out for out in outputs)
    for path in tmp_path.rglob("*"):
        if path.is_file() and home.root not in path.parents:
            assert secret.encode() not in path.read_bytes(), f"a secret was written to {path}"


def test_non_finite_times_as_json_dumps_writes_them_count_on_no_day(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    for n, value in enumerate([float("nan"), float("inf")]):
        j.line(json.dumps(usage_record(value, (10 + n, 1, 0, 0), ALIAS, "turn")))  # NaN / Infinity
    j.usage(1_795_600_000_000, (5, 1, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert tokens(snap) == (26, 3, 0, 0)
    assert sum(series(snap, "tokens").values()) == 6
    assert code_diag(snap) == clean(files_read=1, records=3)


def test_lone_surrogate_escape_in_a_requested_model_is_printed_safely(home: KimiCodeHome) -> None:
    j = started(home, sid("1")).main
    j.line(json.dumps({"type": "llm.request", "agentId": "main", "model": "k2-\ud800", "modelAlias": ALIAS,
                       "time": 1_795_600_000_000}))  # ensure_ascii: the surrogate is written escaped
    j.usage(1_795_600_000_001, (10, 1, 0, 0), ALIAS)

    snap = code_snapshot(env(home))

    assert tokens(snap) == (10, 1, 0, 0)
    assert [row[0] for row in models(snap)] == ["k2-\ufffd"]


def test_agent_journals_found_by_name_and_links_to_nowhere_are_unreadable(home: KimiCodeHome) -> None:
    s = started(home, sid("1"))
    s.main.usage(1_795_600_000_000, (10, 1, 0, 0), ALIAS)
    (s.dir / "agents" / "agent-0").mkdir(parents=True)  # an agent that has written nothing yet
    broken = s.dir / "agents" / "agent-1"
    broken.mkdir(parents=True)
    (broken / "wire.jsonl").symlink_to(s.dir / "nowhere.jsonl")
    (s.dir / "agents" / "agent-2" / "wire.jsonl").mkdir(parents=True)  # a directory by that name: not a journal

    snap = code_snapshot(env(home))

    assert tokens(snap) == (10, 1, 0, 0)
    assert code_diag(snap, "files_read", "files_unreadable") == {"files_read": 1, "files_unreadable": 1}


def test_sessions_without_agents_or_with_odd_entries_are_read_quietly(home: KimiCodeHome) -> None:
    good = started(home, sid("1"))
    good.main.usage(1_795_600_000_000, (10, 1, 0, 0), ALIAS)
    (home.sessions / WD / sid("2")).mkdir(parents=True)  # a session directory, nothing in it yet
    odd = home.sessions / WD / sid("3")
    odd.mkdir(parents=True)
    (odd / "agents").write_text("not a directory", encoding="utf-8")

    snap = code_snapshot(env(home))

    assert tokens(snap) == (10, 1, 0, 0)
    assert code_diag(snap, "files_read", "files_unreadable") == {"files_read": 1, "files_unreadable": 0}
