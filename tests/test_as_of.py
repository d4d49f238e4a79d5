"""OPENUSAGE_NOW is the "now" of the specifications' windows: `sessions_today` counts the sessions
"owning a call on the current UTC day" (the whole day holding now) and `sessions_7d` those "owning a
call at or after now minus 7x24 h" (kimi-cli-format.md, "Sessions"; Kimi Code and Codex follow it).
Neither window ends at now, so a call stamped after it (a clock ahead, an instant in the past) counts
in both, as the wording says; an instant outside the span the tool supports is a clear exit-2 error,
never an internal one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kimi_code_home import KimiCodeHome, code_env, code_snapshot, ms, sid
from kimi_home import KimiHome, at, env_for, explain, invoke, only_snapshot, sessions, tokens, uid

NOW = "2026-11-20T12:00:00Z"


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    return KimiHome(tmp_path / "kimi")


def test_the_windows_have_no_end_at_now(home: KimiHome) -> None:
    times = {
        "a": "2026-11-20T12:00:00Z",  # exactly now: in both
        "b": "2026-11-20T12:00:01Z",  # one second after now, the same day: in both
        "c": "2026-11-21T09:00:00Z",  # tomorrow: after now - 7 x 24 h, on another day: 7 d only
        "d": "2026-12-24T09:00:00Z",  # next month: 7 d only
        "e": "2026-11-13T12:00:00Z",  # exactly now - 7 x 24 h: in 7 d
        "f": "2026-11-13T11:59:59Z",  # one second before that: in neither
    }
    for ch, iso in times.items():
        home.session(uid(ch)).usage(at(iso), (10, 1, 0, 0), f"chatcmpl-{ch}")

    snap = only_snapshot(env_for(home.root, now=NOW))

    assert sessions(snap) == (6, 2, 5)
    assert tokens(snap) == (60, 6, 0, 0)  # all-time figures hold every call


def test_a_session_with_calls_before_and_after_now_counts_once(home: KimiHome) -> None:
    s = home.session(uid("1"))
    s.usage(at("2026-11-20T13:00:00Z"), (10, 1, 0, 0), "chatcmpl-late")  # after now, today
    s.usage(at("2026-11-20T08:00:00Z"), (10, 1, 0, 0), "chatcmpl-early")  # before now, today
    later = home.session(uid("2"))
    later.usage(at("2026-11-20T13:00:00Z"), (20, 2, 0, 0), "chatcmpl-2-late")
    later.usage(at("2026-11-21T08:00:00Z"), (20, 2, 0, 0), "chatcmpl-2-tomorrow")

    assert sessions(only_snapshot(env_for(home.root, now=NOW))) == (2, 2, 2)


def test_a_cache_filled_under_one_clock_answers_for_another(home: KimiHome) -> None:
    home.session(uid("1")).usage(at("2026-11-20T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    home.session(uid("2")).usage(at("2026-11-18T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-2")
    assert sessions(only_snapshot(env_for(home.root, now=NOW))) == (2, 1, 2)

    earlier = only_snapshot(env_for(home.root, now="2026-11-20T09:00:00Z"), fresh_cache=False)
    assert sessions(earlier) == (2, 1, 2)
    later = only_snapshot(env_for(home.root, now="2026-11-25T10:00:01Z"), fresh_cache=False)
    assert sessions(later) == (2, 0, 1)  # the 18th's call is more than 7 x 24 h before
    before_both = only_snapshot(env_for(home.root, now="2026-11-11T09:59:59Z"), fresh_cache=False)
    assert sessions(before_both) == (2, 0, 2)


def test_kimi_code_calls_after_now_count_in_the_windows_too(tmp_path: Path) -> None:
    code = KimiCodeHome(tmp_path / "code")
    times = (("1", "2026-11-20T11:59:59.999Z"), ("2", "2026-11-20T12:00:00.001Z"), ("3", "2026-11-22T10:00:00Z"),
             ("4", "2026-11-13T11:59:59.999Z"))
    for ch, iso in times:
        journal = code.session("wd_x_0123456789ab", sid(ch)).main
        journal.header()
        journal.usage(ms(iso), (10, 1, 0, 0), "kimi-code/kimi-k2")

    assert sessions(code_snapshot(code_env(code.root, now=NOW))) == (4, 2, 3)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "1969-12-31T23:59:59Z",
                                   "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.001Z", "1969-12-31T23:59:59.5Z"])
@pytest.mark.parametrize("args", [["snapshot", "--json"], [], ["snapshot"]], ids=lambda a: " ".join(a) or "dashboard")
def test_an_instant_outside_the_supported_span_is_exit_2(home: KimiHome, value: str, args: list[str]) -> None:
    home.session(uid("1")).usage(at("2026-11-20T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")

    result = invoke(args, env_for(home.root, now=value))

    assert result.exit_code == 2, explain(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, explain(result)
    assert "OPENUSAGE_NOW" in lines[0]
    assert value in lines[0]
    assert "outside" in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("value", ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
@pytest.mark.parametrize("args", [["snapshot", "--json"], []], ids=lambda a: " ".join(a) or "dashboard")
def test_the_ends_of_the_supported_span_work(home: KimiHome, value: str, args: list[str]) -> None:
    home.session(uid("1")).usage(at("2026-11-20T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")

    result = invoke(args, env_for(home.root, now=value))

    assert result.exit_code == 0, explain(result)
    assert result.stderr == ""
