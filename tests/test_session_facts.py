"""What reports show of a session: its title as the agent shows it, and its project.

Kimi CLI (kimi-cli-format.md, "Sessions: titles and projects"): `custom_title`, else an older state's
`title` unless "Untitled", else the first TurnBegin's `user_input` shortened to 50 characters, else
"Untitled"; the project is the working directory whose MD5 names the group (kimi.json), else the
group's name. Kimi Code (kimi-code-format.md): state.json `title`, else "Untitled"; the project is the
session index's `workDir` (last line wins, `deleted` removes), else the slug of `wd_<slug>_<hash>`,
else the group's name. Each through `api.calls` on real files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from kimi_code_home import KimiCodeHome, ms
from kimi_home import KimiHome, at, explain, invoke, line
from openusage import api
from openusage.providers.base import NameIndex, Walk
from openusage.query import CallsQuery, SessionFacts

T = "2026-11-20T10:00:00Z"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _facts(provider: str, *, titles: bool = True) -> dict[str, SessionFacts]:
    result = api.calls(os.environ, CallsQuery(providers=(provider,), titles=titles), use_cache=False)
    return {session: facts for (_account, session), facts in result.sessions.items()}


def _turn(user_input: object) -> str:
    return line(at(T) - 1, {"type": "TurnBegin", "payload": {"user_input": user_input}})


def test_kimi_cli_titles_follow_kimi_cli(isolated_env: Path) -> None:
    home = KimiHome(isolated_env / ".kimi")
    home.session("s-custom", title="Refactor the parser").add(_turn("ignored")).usage(at(T), (1, 1, 0, 0), "m1")
    legacy = home.session("s-legacy").add(_turn("ignored too")).usage(at(T), (1, 1, 0, 0), "m2")
    (legacy.dir / "state.json").write_text(json.dumps({"title": "An old title"}), encoding="utf-8")
    untitled = home.session("s-untitled-legacy").add(_turn("Fix   the\n flaky test")).usage(at(T), (1, 1, 0, 0), "m3")
    (untitled.dir / "state.json").write_text(json.dumps({"title": "Untitled"}), encoding="utf-8")
    long_text = "Please look at every module of the project and explain how the cache works in detail"
    home.session("s-long").add(_turn(long_text)).usage(at(T), (1, 1, 0, 0), "m4")
    home.session("s-parts").add(_turn([{"type": "text", "text": "From parts"}, {"type": "image_url"}])) \
        .usage(at(T), (1, 1, 0, 0), "m5")
    home.session("s-none").usage(at(T), (1, 1, 0, 0), "m6")
    facts = _facts("kimi_cli")
    assert facts["s-custom"].title == "Refactor the parser"
    assert facts["s-legacy"].title == "An old title"
    assert facts["s-untitled-legacy"].title == "Fix the flaky test"
    assert facts["s-long"].title == "Please look at every module of the project and..."
    assert len(facts["s-long"].title) <= 50
    assert facts["s-parts"].title == "From parts"
    assert facts["s-none"].title == "Untitled"


def test_kimi_cli_projects_come_from_kimi_json(isolated_env: Path) -> None:
    home = KimiHome(isolated_env / ".kimi")
    local, remote = "/home/me/src/openusage", "/srv/app"
    home.session("s-local", group=_md5(local)).usage(at(T), (1, 1, 0, 0), "m1")
    home.session("s-remote", group=f"ssh_{_md5(remote)}").usage(at(T), (1, 1, 0, 0), "m2")
    home.session("s-unknown", group="0123abcd").usage(at(T), (1, 1, 0, 0), "m3")
    (home.root / "kimi.json").write_text(json.dumps({"work_dirs": [
        {"path": local, "kaos": "local", "last_session_id": "s-local"},
        {"path": remote, "kaos": "ssh"},
        {"path": 42}, "junk"]}), encoding="utf-8")
    facts = _facts("kimi_cli", titles=False)
    assert facts["s-local"] == SessionFacts("", local)
    assert facts["s-remote"].project == remote
    assert facts["s-unknown"].project == "0123abcd"


def test_kimi_code_titles_and_projects(isolated_env: Path) -> None:
    home = KimiCodeHome(isolated_env / ".kimi-code")
    for key, session, state in [
        ("wd_openusage_0123456789ab", "session_a", {"title": "Add reports", "isCustomTitle": True}),
        ("wd_openusage_0123456789ab", "session_b", {"title": ""}),
        ("wd_my-app_ba9876543210", "session_c", {}),
        ("workspace-7", "session_d", {"title": "Ship it"}),
    ]:
        s = home.session(key, session, state=state)
        s.main.usage(ms(T), (1, len(session) + ord(session[-1]), 0, 0))  # distinct: not copies of one call
    (home.root / "session_index.jsonl").write_text("\n".join(json.dumps(entry) for entry in [
        {"sessionId": "session_a", "sessionDir": "x", "workDir": "/old/place"},
        {"sessionId": "session_a", "sessionDir": "x", "workDir": "/home/me/openusage"},
        {"sessionId": "session_c", "sessionDir": "y", "workDir": "/home/me/my-app"},
        {"sessionId": "session_c", "deleted": True},
    ]) + "\nnot json\n", encoding="utf-8")
    facts = _facts("kimi_code")
    assert facts["session_a"] == SessionFacts("Add reports", "/home/me/openusage")
    assert facts["session_b"] == SessionFacts("Untitled", "openusage")
    assert facts["session_c"] == SessionFacts("Untitled", "my-app")
    assert facts["session_d"] == SessionFacts("Ship it", "workspace-7")


def test_cached_facts_follow_a_renamed_session_and_a_new_work_dir(isolated_env: Path) -> None:
    """A warm query reuses each session's facts while its state file and the home's kimi.json are as
    they were; a rename or a newly listed working directory shows at once, the same as without cache."""
    home = KimiHome(isolated_env / ".kimi")
    work_dir = "/home/me/src/app"
    session = home.session("s-one", group=_md5(work_dir), title="First name")
    session.add(_turn("hello")).usage(at(T), (1, 1, 0, 0), "m1")
    home.session("s-two", group=_md5(work_dir)).add(_turn("the other one")).usage(at(T), (2, 2, 0, 0), "m2")

    def cached(titles: bool = True) -> dict[str, SessionFacts]:
        result = api.calls(os.environ, CallsQuery(providers=("kimi_cli",), titles=titles))
        return {name: one for (_account, name), one in result.sessions.items()}

    assert cached(titles=False)["s-one"] == SessionFacts("", _md5(work_dir))  # no title derived yet
    assert cached()["s-one"] == SessionFacts("First name", _md5(work_dir))
    assert cached() == _facts("kimi_cli")
    session.title("Second name")
    (home.root / "kimi.json").write_text(json.dumps({"work_dirs": [{"path": work_dir}]}), encoding="utf-8")
    assert cached()["s-one"] == SessionFacts("Second name", work_dir)
    assert cached()["s-two"] == SessionFacts("the other one", work_dir)
    assert cached() == _facts("kimi_cli")
    assert cached(titles=False)["s-one"] == SessionFacts("", work_dir)


def test_codex_threads_are_titled_by_their_first_user_message_and_placed_in_their_cwd(isolated_env: Path) -> None:
    from codex_home import CodexHome, rollout_line, session_meta, token_count, turn_context

    home = CodexHome(isolated_env / ".codex")
    one, two = "0199b000-0000-7000-8000-000000000001", "0199b000-0000-7000-8000-000000000002"
    home.write(home.path(one), [
        session_meta("2026-11-19T10:00:00.000Z", one, base_instructions="x" * 100_000),  # a long first line
        turn_context("2026-11-19T10:00:01.000Z", "gpt-5"),
        rollout_line("2026-11-19T10:00:01.500Z", "event_msg",
                     {"type": "user_message",
                      "message": "Add   a\nreport of usage per project, with totals and a CSV"}),
        token_count("2026-11-19T10:00:02.000Z", (100, 40, 10, 0), (100, 40, 10, 0))])
    home.write(home.path(two, archived=True), [
        rollout_line("2026-11-19T11:00:00.000Z", "session_meta", {"id": two, "cwd": "/srv/other"}),
        token_count("2026-11-19T11:00:02.000Z", (7, 0, 3, 0), (7, 0, 3, 0))])
    facts = _facts("codex_cli")
    assert facts[one] == SessionFacts("Add a report of usage per project, with totals...", "/home/dev/app")
    assert facts[two] == SessionFacts("Untitled", "/srv/other")
    assert _facts("codex_cli", titles=False)[one] == SessionFacts("", "/home/dev/app")


def test_a_query_that_wants_no_facts_asks_no_provider_and_keeps_none(isolated_env: Path) -> None:
    """A report by period or model shows no session's facts: the query says so, nothing is derived or
    kept for its sessions (they would cost memory beside every call), and its calls are the same."""
    import sqlite3

    from openusage import paths

    home = KimiHome(isolated_env / ".kimi")
    home.session("s-one", group=_md5("/w"), title="First").add(_turn("hello")).usage(at(T), (1, 1, 0, 0), "m1")
    bare = api.calls(os.environ, CallsQuery(providers=("kimi_cli",), facts=False))
    assert bare.sessions == {}
    cache = paths.cache_path(os.environ)
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM facts").fetchone() == (0,)
    full = api.calls(os.environ, CallsQuery(providers=("kimi_cli",)))
    assert full.calls == bare.calls
    assert set(full.sessions) == {("kimi_cli", "s-one")}
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM facts").fetchone() == (1,)


def test_a_report_asked_in_batches_lists_each_account_once(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session report asks its sessions' facts a batch at a time (`reports.FACTS_BATCH`): the sessions
    of an account are listed for the first batch only (listing them for every batch took a first session
    report of 500,000 sessions from 220 s to 401 s), and every batch's facts are right, a session found
    in two groups too, with the cache and without; with every fact kept, nothing is listed."""
    from typing import Any

    from openusage.providers import walk
    from openusage.providers.kimi_cli.provider import KimiCliProvider

    home = KimiHome(isolated_env / ".kimi")
    for n in range(7):
        home.session(f"s-{n}", group=_md5("/w/one") if n % 2 else _md5("/w/two"), title=f"Title {n}") \
            .usage(at(T) + n, (1, 1, 0, 0), f"m{n}")
    home.session("s-0", group=_md5("/w/one")).usage(at(T) + 9, (1, 1, 0, 0), "m9")  # also in a second group
    (isolated_env / ".kimi" / "kimi.json").write_text(
        json.dumps({"work_dirs": [{"path": "/w/one"}, {"path": "/w/two"}]}), encoding="utf-8")
    listings: list[int] = []
    real = walk.index_sessions

    def counted(found: Walk, *, agents_layout: bool = False) -> NameIndex:
        listings.append(1)
        return real(found, agents_layout=agents_layout)

    def report(*extra: str) -> list[dict[str, object]]:
        listings.clear()
        result = invoke(["report", "session", "--json", "--tz", "UTC", *extra])
        assert result.exit_code == 0, explain(result)
        return json.loads(result.stdout)["rows"]

    whole = report("--no-cache")
    monkeypatch.setattr(walk, "index_sessions", counted)
    monkeypatch.setattr("openusage.reports.FACTS_BATCH", 2)
    for extra in (("--no-cache",), ()):
        rows = report(*extra)
        assert rows == whole
        assert listings == [1], extra
    # Every fact kept: no finder is made (it would load the provider's fact readers, and OpenSSL).
    finders: list[int] = []
    made = KimiCliProvider.facts_finder

    def counted_finder(self: KimiCliProvider, *args: Any, **kwargs: Any) -> Any:
        finders.append(1)
        return made(self, *args, **kwargs)

    monkeypatch.setattr(KimiCliProvider, "facts_finder", counted_finder)
    assert report() == whole
    assert (listings, finders) == ([], [])
    first = min(("/w/one", "/w/two"), key=_md5)  # a session in two groups: the first group's project
    assert {row["period"]: (row["title"], row["project"]) for row in whole} == \
        {f"s-{n}": (f"Title {n}", first if n == 0 else "/w/one" if n % 2 else "/w/two") for n in range(7)}


def test_kimi_code_reads_its_session_index_once_a_report_and_keeps_its_rules(isolated_env: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked in batches of one session, Kimi Code's session index is read for the first batch only, and
    its rules hold across batches: the last line for a session wins, `deleted` removes, a line after a
    deletion brings it back; a line whose sessionId is not a string (a list: unhashable) is skipped,
    not a failure; the same facts with the cache and without."""
    from openusage.providers.kimi_code import sessions

    home = KimiCodeHome(isolated_env / ".kimi-code")
    for n, (key, session) in enumerate([("wd_one_0123456789ab", "session_a"), ("wd_two_ba9876543210", "session_b"),
                                        ("wd_three_aaaaaaaaaaaa", "session_c"), ("wd_four_bbbbbbbbbbbb", "session_d")]):
        home.session(key, session, state={"title": f"T{n}"}).main.usage(ms(T) + n, (1, 10 + n, 0, 0))
    (home.root / "session_index.jsonl").write_text("\r\n".join(json.dumps(entry) for entry in [
        {"sessionId": ["session_a"], "workDir": "/list"},
        {"sessionId": "session_a", "workDir": "/old/place"},
        {"sessionId": "session_b", "workDir": "/home/me/b"},
        {"sessionId": "session_a", "workDir": "/home/me/a"},
        {"sessionId": "session_b", "deleted": True},
        {"sessionId": "session_c", "deleted": True},
        {"sessionId": "session_c", "workDir": "/home/me/c"},
        {"sessionId": "session_d", "workDir": ""},
    ]), encoding="utf-8")
    reads: list[int] = []
    real = sessions.index_work_dirs

    def counted(path: Path) -> NameIndex:
        reads.append(1)
        return real(path)

    monkeypatch.setattr(sessions, "index_work_dirs", counted)
    monkeypatch.setattr("openusage.reports.FACTS_BATCH", 1)
    expected = {"session_a": ("T0", "/home/me/a"), "session_b": ("T1", "two"), "session_c": ("T2", "/home/me/c"),
                "session_d": ("T3", "four")}
    # Without the cache, then a first run (the index read once), then a warm one (the facts kept: no read).
    for extra, read in ((("--no-cache",), [1]), ((), [1]), ((), [])):
        reads.clear()
        result = invoke(["report", "session", "--json", "--tz", "UTC", *extra])
        assert result.exit_code == 0, explain(result)
        rows = json.loads(result.stdout)["rows"]
        assert {row["period"]: (row["title"], row["project"]) for row in rows} == expected, extra
        assert reads == read, extra


def test_head_lines_are_the_lines_of_the_head_read_whole(tmp_path: Path) -> None:
    """`agentfiles.head_lines` streams what `read_head(path, limit).splitlines()` gives: any line ends
    (`\\n`, `\\r\\n`, `\\r`, one cut by a 64 KiB read), a line longer than a read, a last line without
    its end, a limit inside a line; nothing from a FIFO or a file that is not there."""
    import random

    from openusage.providers.agentfiles import head_lines, read_head

    rng = random.Random(11)
    path = tmp_path / "index.jsonl"
    for case in range(60):
        pieces = []
        for _ in range(rng.randrange(0, 40)):
            pieces.append(b"x" * rng.choice([0, 1, 5, 100, 65535, 65536, 70_000, 200_000]))
            pieces.append(rng.choice([b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n"]))
        if case % 3 == 0 and pieces:
            pieces.pop()  # no line end at the end
        data = b"".join(pieces)
        path.write_bytes(data)
        for limit in (len(data), len(data) + 1, rng.randrange(len(data) + 1), 65536, 65537, 1):
            assert list(head_lines(str(path), limit)) == read_head(str(path), limit).splitlines(), (case, limit)
    os.mkfifo(tmp_path / "fifo")
    assert list(head_lines(str(tmp_path / "fifo"), 1000)) == []
    assert list(head_lines(str(tmp_path / "missing"), 1000)) == []


def test_a_thread_held_only_under_other_names_takes_the_facts_of_the_first_of_them() -> None:
    from openusage.facts import stand_ins
    from openusage.records import SessionInfo

    infos = {"x2": SessionInfo(0, None, "t", thread="t"), "x1": SessionInfo(0, None, "t", thread="t"),
             "y": SessionInfo(0, None, "u", thread="u"), "u": SessionInfo(0, None)}
    assert stand_ins(infos) == {"t": "x1"}  # "u" is a session of its own: its facts are its own
