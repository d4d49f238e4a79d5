"""`openusage report …` through the real CLI over Kimi homes on disk: the rows of every report add up
to the snapshots' totals exactly, every report is the same with and without the cache, and a bad
option is one line and exit 2."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kimi_code_home import WD, KimiCodeHome, ms
from kimi_home import NOW, KimiHome, at, explain, invoke, uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import corpus, corpus_code

KINDS = ("daily", "weekly", "monthly", "session", "project", "model")
FIGURES = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens", "calls")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Generated Kimi CLI and Kimi Code homes with forks, subagents, compaction and rewrites."""
    base = tmp_path_factory.mktemp("corpora")
    corpus.generate(base / "kimi", corpus.Params(sessions=30, size_mb=2.0, seed=11))
    corpus_code.generate(base / "kimi-code", corpus_code.Params(sessions=30, size_mb=2.0, seed=11))
    return {"KIMI_SHARE_DIR": str(base / "kimi"), "KIMI_CODE_HOME": str(base / "kimi-code"),
            "OPENUSAGE_NOW": corpus.DEFAULT_NOW}


def report_json(env: dict[str, str | None], *args: str) -> dict[str, Any]:
    result = invoke(["report", *args, "--json"], env)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    doc = json.loads(result.stdout)
    assert doc["schema"] == "openusage.report/1"
    return doc


def snapshot_totals(env: dict[str, str | None]) -> dict[str, int]:
    doc = run_snapshot_any(env)
    names = {"input_tokens": "total_input_tokens", "output_tokens": "total_output_tokens",
             "cache_read_tokens": "total_cache_read", "cache_write_tokens": "total_cache_write",
             "total_tokens": "total_tokens"}
    totals = {key: sum(s["metrics"][metric]["used"] for s in doc["snapshots"]) for key, metric in names.items()}
    totals["calls"] = sum(s["diagnostics"]["records_counted"] for s in doc["snapshots"])
    totals["sessions"] = sum(s["metrics"]["total_sessions"]["used"] for s in doc["snapshots"])
    return totals


def run_snapshot_any(env: dict[str, str | None]) -> dict[str, Any]:
    result = invoke(["snapshot", "--json"], env)
    assert result.exit_code == 0, explain(result)
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham", "America/New_York"])
def test_every_report_adds_up_to_the_snapshots_and_ignores_the_cache(corpora: dict[str, str], zone: str) -> None:
    env: dict[str, str | None] = {**corpora, "OPENUSAGE_TZ": zone}
    expected = snapshot_totals(env)
    assert expected["calls"] > 100
    for kind in KINDS:
        uncached = report_json(env, kind, "--no-cache")
        shutil.rmtree(os.environ["OPENUSAGE_CACHE_DIR"], ignore_errors=True)
        assert report_json(env, kind) == uncached, f"{kind}: the cold cache differs from --no-cache"
        assert report_json(env, kind) == uncached, f"{kind}: the warm cache differs from --no-cache"
        assert uncached["tz"] == zone
        for key in FIGURES:
            assert uncached["totals"][key] == expected[key], (kind, key)
            assert sum(row[key] for row in uncached["rows"]) == expected[key], (kind, key)
        assert uncached["totals"]["sessions"] == expected["sessions"], kind
        if kind == "session":
            assert len(uncached["rows"]) == expected["sessions"]


def test_breakdown_shares_add_up_to_their_rows_and_ignore_the_cache(corpora: dict[str, str]) -> None:
    env: dict[str, str | None] = {**corpora, "OPENUSAGE_TZ": "Europe/Berlin"}
    for kind in ("daily", "session", "project"):
        uncached = report_json(env, kind, "--breakdown", "--no-cache")
        assert report_json(env, kind, "--breakdown") == uncached, kind
        for row in [*uncached["rows"], uncached["totals"]]:
            for key in FIGURES:
                assert sum(share[key] for share in row["breakdown"]) == row[key], (kind, key)
            assert [share["model"] for share in row["breakdown"]] == row["models"]


def test_a_range_splits_the_calls_without_losing_any(corpora: dict[str, str]) -> None:
    env: dict[str, str | None] = {**corpora, "OPENUSAGE_TZ": "Asia/Kolkata"}
    whole = report_json(env, "daily")
    days = [row["period"] for row in whole["rows"] if row["period"] is not None]
    middle = days[len(days) // 2]
    before = report_json(env, "daily", "--until", middle)
    after = report_json(env, "daily", "--since", middle)
    one = report_json(env, "daily", "--since", middle, "--until", middle)
    assert [row["period"] for row in one["rows"]] == [middle]
    undated = sum(row["calls"] for row in whole["rows"] if row["period"] is None)
    assert before["totals"]["calls"] + after["totals"]["calls"] - one["totals"]["calls"] + undated == \
        whole["totals"]["calls"]
    assert all(row["period"] is not None for row in before["rows"] + after["rows"])


def test_every_format_of_a_report_says_the_same(corpora: dict[str, str]) -> None:
    env: dict[str, str | None] = {**corpora, "OPENUSAGE_TZ": "Europe/Berlin"}
    doc = report_json(env, "weekly", "--start-of-week", "sunday")
    result = invoke(["report", "weekly", "--start-of-week", "sunday", "--csv"], env)
    assert result.exit_code == 0, explain(result)
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [line["period"] or None for line in lines] == [row["period"] for row in doc["rows"]]
    assert [int(line["total_tokens"]) for line in lines] == [row["total_tokens"] for row in doc["rows"]]
    markdown = invoke(["report", "weekly", "--start-of-week", "sunday", "--markdown"], env)
    assert markdown.exit_code == 0, explain(markdown)
    assert f"| **Total** | {doc['totals']['input_tokens']:,} |" in markdown.stdout
    table = invoke(["report", "weekly", "--start-of-week", "sunday"], {**env, "COLUMNS": "80"})
    assert table.exit_code == 0, explain(table)
    assert "Weekly usage · all time · Europe/Berlin" in table.stdout


# ---- a home built by hand: what each row holds ----


def build_homes(root: Path) -> dict[str, str | None]:
    """Kimi CLI: a session spanning midnight in Berlin and a call without a valid time; Kimi Code: a
    turn call and a compaction call in the same project as the Kimi CLI session."""
    kimi = KimiHome(root / "kimi")
    work_dir = "/home/u/webshop"
    group = hashlib.md5(work_dir.encode(), usedforsecurity=False).hexdigest()
    (kimi.root / "kimi.json").write_text(json.dumps({"work_dirs": [{"path": work_dir, "kaos": "local"}]}))
    kimi.session(uid("a"), group, title="Fix the cart") \
        .usage(at("2026-11-19T22:30:00Z"), (100, 10, 1000, 0), "m-1") \
        .usage(at("2026-11-19T23:30:00Z"), (200, 20, 2000, 0), "m-2") \
        .usage("not a time", (7, 1, 0, 0), "m-3")
    code = KimiCodeHome(root / "kimi-code")
    session = code.session(WD, "session_b", state={"title": "Compaction test", "isCustomTitle": True})
    (code.root / "session_index.jsonl").write_text(
        json.dumps({"sessionId": "session_b", "workDir": work_dir}) + "\n", encoding="utf-8")
    main = session.main.header()
    main.usage(ms("2026-11-20T10:00:00Z"), (300, 30, 0, 5))
    main.usage(ms("2026-11-20T10:05:00Z"), (40, 4, 0, 0), scope="session")
    return {"KIMI_SHARE_DIR": str(kimi.root), "KIMI_CODE_HOME": str(code.root), "OPENUSAGE_NOW": NOW}


def test_hand_built_rows(tmp_path: Path) -> None:
    env = {**build_homes(tmp_path), "OPENUSAGE_TZ": "Europe/Berlin"}
    daily = report_json(env, "daily")
    assert [(row["period"], row["calls"], row["sessions"], row["total_tokens"]) for row in daily["rows"]] == [
        ("2026-11-19", 1, 1, 110), ("2026-11-20", 3, 2, 220 + 330 + 44), (None, 1, 1, 8)]
    assert daily["totals"]["calls"] == 5
    assert daily["totals"]["sessions"] == 2
    bounded = report_json(env, "daily", "--since", "2026-11-20")
    assert [row["period"] for row in bounded["rows"]] == ["2026-11-20"]  # no undated row in a range
    assert bounded["since"] == "2026-11-20"
    utc = report_json({**env, "OPENUSAGE_TZ": "UTC"}, "daily")
    assert [row["period"] for row in utc["rows"]] == ["2026-11-19", "2026-11-20", None]
    assert utc["rows"][0]["calls"] == 2  # both of the session's calls are on the 19th in UTC

    sessions = {row["period"]: row for row in report_json(env, "session")["rows"]}
    cli = sessions[uid("a")]
    assert (cli["title"], cli["project"], cli["provider"]) == ("Fix the cart", "/home/u/webshop", "kimi_cli")
    assert (cli["first"], cli["last"], cli["duration_seconds"]) == (
        "2026-11-19T23:30:00+01:00", "2026-11-20T00:30:00+01:00", 3600)
    code = sessions["session_b"]
    assert (code["title"], code["provider"], code["calls"], code["total_tokens"]) == (
        "Compaction test", "kimi_code", 2, 330 + 44)  # the compaction call is counted

    projects = report_json(env, "project")["rows"]
    assert [(row["period"], row["providers"], row["sessions"]) for row in projects] == [
        ("/home/u/webshop", ["kimi_cli", "kimi_code"], 2)]


def test_filters_by_account_and_provider(tmp_path: Path) -> None:
    env = {**build_homes(tmp_path), "OPENUSAGE_TZ": "UTC"}
    assert report_json(env, "model", "--provider", "kimi_code")["totals"]["calls"] == 2
    assert report_json(env, "model", "--account", "kimi_cli")["totals"]["calls"] == 3
    both = report_json(env, "model", "--account", "kimi_cli", "--account", "kimi_code")
    assert both["totals"]["calls"] == 5


def test_the_machines_zone_is_the_default(tmp_path: Path) -> None:
    env = {**build_homes(tmp_path), "TZ": "America/New_York"}
    assert report_json(env, "daily")["tz"] == "America/New_York"
    assert report_json({**env, "OPENUSAGE_TZ": "Asia/Kolkata"}, "daily")["tz"] == "Asia/Kolkata"
    assert report_json({**env, "OPENUSAGE_TZ": "Asia/Kolkata"}, "daily", "--tz", "UTC")["tz"] == "UTC"


def test_a_machine_zone_named_by_its_file_is_named_as_iana_names_it(tmp_path: Path) -> None:
    """`TZ=/usr/share/zoneinfo/Asia/Kolkata` (a path, as POSIX allows) is the zone Asia/Kolkata: its days,
    and its name in the report, not the file's name alone ("Kolkata")."""
    from zoneinfo import TZPATH

    found = [Path(root) / "Asia" / "Kolkata" for root in TZPATH if (Path(root) / "Asia" / "Kolkata").is_file()]
    if not found:
        pytest.skip("no system zoneinfo tree")  # the tzdata package alone has no file to point TZ at
    env = {**build_homes(tmp_path), "TZ": str(found[0])}
    assert report_json(env, "daily")["tz"] == "Asia/Kolkata"
    copy = tmp_path / "my-zone"  # a tz file outside any zoneinfo tree: named by its file
    copy.write_bytes(found[0].read_bytes())
    assert report_json({**env, "TZ": str(copy)}, "daily")["tz"] == "my-zone"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["daily", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["daily", "--since", "2026-13-01"], "YYYY-MM-DD"),
        (["daily", "--since", "today", "--until", "yesterday"], "after --until"),
        (["monthly", "--start-of-month", "29"], "start-of-month"),
        (["session", "--order", "up"], "--order"),
        (["session", "--limit", "0"], "--limit"),
        (["daily", "--json", "--csv"], "one at most"),
        (["model", "--breakdown"], "--breakdown"),
        (["daily", "--account", "nobody"], "no account 'nobody'"),
        (["daily", "--provider", "nothing"], "no provider 'nothing'"),
        (["hourly"], "No such command"),
        (["daily", "--tz", "UTC", "--tz", "Asia/Tokyo"], "--tz is given more than once"),
        (["weekly", "--since=7d", "--since", "30d"], "--since is given more than once"),
        (["monthly", "--limit", "2", "--limit", "2"], "--limit is given more than once"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke(["report", *args], build_homes(tmp_path))
    assert result.exit_code == 2, explain(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, explain(result)
    assert lines[0].startswith("openusage: ")
    assert message in lines[0]


def test_the_installed_command_reports(tmp_path: Path) -> None:
    env = {**os.environ, **{k: v for k, v in build_homes(tmp_path).items() if v is not None}, "OPENUSAGE_TZ": "UTC"}
    done = subprocess.run([sys.executable, "-m", "openusage", "report", "daily", "--json"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["calls"] == 5
    bad = subprocess.run([sys.executable, "-m", "openusage", "report", "daily", "--since", "soon"], env=env,
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


def test_a_report_over_no_data_is_empty_not_an_error(tmp_path: Path) -> None:
    """A home with no session yet: an empty report, and nothing said (an account was found)."""
    (tmp_path / "kimi" / "sessions").mkdir(parents=True)
    doc = report_json({"OPENUSAGE_NOW": NOW, "OPENUSAGE_TZ": "UTC", "KIMI_SHARE_DIR": str(tmp_path / "kimi")}, "daily")
    assert doc["rows"] == []
    assert doc["totals"]["calls"] == 0


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1"])
def test_a_json_report_is_written_as_json_dumps_writes_it_on_any_stdout(tmp_path: Path, encoding: str) -> None:
    """A JSON report goes to stdout as bytes when stdout is UTF-8 (never decoded into one large str):
    byte for byte what `json.dumps(indent=2, ensure_ascii=False)` writes, titles with characters
    outside the BMP included; on a stream that cannot hold them, they are JSON escapes."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("a")).title("deploy 🚀 naïve").usage(at("2026-11-20T10:00:00Z"), (10, 2, 3, 0), "m-1")
    home.session(uid("b")).title("plain").usage(at("2026-11-21T10:00:00Z"), (5, 1, 0, 0), "m-2")
    env = {**os.environ, "KIMI_SHARE_DIR": str(tmp_path / "kimi"), "OPENUSAGE_NOW": NOW, "OPENUSAGE_TZ": "UTC",
           "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": encoding}
    done = subprocess.run([sys.executable, "-m", "openusage", "report", "session", "--json"], env=env,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    document = json.loads(done.stdout.decode(encoding))
    assert {row["title"] for row in document["rows"]} == {"deploy 🚀 naïve", "plain"}
    if encoding == "utf-8":
        assert done.stdout == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    else:  # what the stream cannot hold is escaped: still the same document
        assert done.stdout == (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode()


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_json_snapshot_is_the_same_document_on_any_stdout(tmp_path: Path, encoding: str) -> None:
    """The snapshot's JSON goes out as the report's does: on a stream that cannot hold a character
    (a model named with one, here), it is a JSON escape rather than an internal error."""
    home = KimiHome(tmp_path / "kimi")
    home.config_toml('default_model = "m"\n[models.m]\nprovider = "moonshot"\nmodel = "kimi-🚀"\n')
    home.session(uid("a")).usage(at("2026-11-20T10:00:00Z"), (10, 2, 3, 0), "m-1")
    env = {**os.environ, "KIMI_SHARE_DIR": str(tmp_path / "kimi"), "OPENUSAGE_NOW": NOW,
           "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": encoding}
    done = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json"], env=env,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout.decode(encoding))
    assert [model["model"] for model in document["snapshots"][0]["models"]] == ["kimi-🚀"]
    assert done.stdout == (json.dumps(document, indent=2, ensure_ascii=encoding != "utf-8") + "\n").encode()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "America/Los_Angeles"])
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "session", "model", "project"])
def test_a_call_in_the_last_second_of_9999_is_reported_in_every_zone(tmp_path: Path, zone: str, kind: str) -> None:
    """9999-12-31T23:59:59Z is a valid time (only the year 10000 is not); east of UTC its local day
    would be in the year 10000, which no calendar writes: it is the calendar's last day, 9999-12-31,
    and its local time is written in UTC. Before, daily, weekly and monthly reports ended with an
    internal error in every zone (the end of that day overflowed), session reports east of UTC too."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(at("9999-12-31T23:59:59Z"), (5, 1, 0, 0), "chatcmpl-late")
    home.session(uid("2")).usage(at("2026-11-19T10:00:00Z"), (7, 2, 0, 0), "chatcmpl-now")
    env: dict[str, str | None] = {"OPENUSAGE_NOW": NOW, "KIMI_SHARE_DIR": str(home.root)}
    doc = report_json(env, kind, "--tz", zone, "--no-cache")
    assert doc["totals"]["calls"] == 2
    assert doc["totals"]["input_tokens"] == 12
    if kind == "daily":
        late = [row for row in doc["rows"] if row["period"] == "9999-12-31"]
        assert [row["input_tokens"] for row in late] == [5]
    if kind == "session":
        (late,) = [row for row in doc["rows"] if row["input_tokens"] == 5]
        assert datetime.fromisoformat(late["first"]).timestamp() == at("9999-12-31T23:59:59Z")
    ranged = report_json(env, kind, "--tz", zone, "--since", "9999-12-31", "--until", "9999-12-31", "--no-cache")
    assert ranged["totals"]["input_tokens"] == 5  # 9999-12-31 in every zone (15:59 in Los Angeles)


@pytest.mark.parametrize("cached", [False, True])
def test_a_session_directory_name_that_is_not_utf8_is_reported_in_every_format(tmp_path: Path, cached: bool) -> None:
    """The session is its directory's name; one that is not UTF-8 (here the byte 0xff) reads as a
    string with a surrogate escape. JSON, CSV, Markdown and the table are Unicode text: each writes
    U+FFFD for that byte. Before, `report session --json` ended with an internal error
    (UnicodeEncodeError), and so did the others on a strict UTF-8 stdout."""
    home = KimiHome(tmp_path / "kimi")
    odd = os.fsdecode(b"\xff-session")
    home.session(odd).usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-odd")
    home.session(uid("2")).usage(at("2026-11-19T11:00:00Z"), (7, 2, 0, 0), "chatcmpl-plain")
    env: dict[str, str | None] = {"OPENUSAGE_NOW": NOW, "OPENUSAGE_TZ": "UTC", "KIMI_SHARE_DIR": str(home.root),
                                  "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache")}
    extra = () if cached else ("--no-cache",)
    doc = report_json(env, "session", *extra)
    assert sorted(row["period"] for row in doc["rows"]) == sorted(["\ufffd-session", uid("2")])
    assert doc["totals"]["input_tokens"] == 107
    for fmt in ("--csv", "--markdown", None):
        result = invoke(["report", "session", *([fmt] if fmt else []), *extra], {**env, "COLUMNS": "200"})
        assert result.exit_code == 0, explain(result)
        assert result.stderr == "", explain(result)
        assert "\ufffd-session" in result.stdout, fmt


@pytest.mark.parametrize(("now", "args"), [
    ("2026-11-20T12:00:00Z", ["report", "daily", "--since", "0001-01-01", "--tz", "Asia/Kolkata", "--json"]),
    ("9999-12-31T23:59:59Z", ["report", "daily", "--tz", "Asia/Kolkata", "--json"]),
    ("9999-12-31T23:59:59Z", ["report", "weekly", "--tz", "UTC", "--since", "this-week", "--json"]),
    ("9999-12-31T23:59:59Z", ["report", "monthly", "--since", "last-month", "--until", "this-month", "--json"]),
    ("9999-12-31T23:59:59Z", ["report", "session", "--tz", "Pacific/Kiritimati", "--since", "7d", "--json"]),
    ("9999-12-31T23:59:59Z", ["snapshot", "--tz", "Asia/Kolkata"]),
    ("9999-12-31T23:59:59Z", ["--tz", "Asia/Kolkata"]),
], ids=["since-year-1-east", "now-in-year-10000-locally", "this-week-past-9999", "this-month-past-9999",
        "7d-in-kiritimati", "tile", "dashboard"])
def test_the_edges_of_the_calendar_are_answered(tmp_path: Path, now: str, args: list[str]) -> None:
    """OPENUSAGE_NOW may be 9999-12-31T23:59:59Z, where "today" east of UTC is past the calendar, and
    --since may name 0001-01-01, whose start east of UTC is before it: the last day ends never, the
    first begins at once, a week or month past 9999 ends on its last day. Before, each of these ended
    with an internal error (OverflowError)."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (7, 2, 0, 0), "chatcmpl-one")
    result = invoke(args, {"OPENUSAGE_NOW": now, "KIMI_SHARE_DIR": str(home.root), "COLUMNS": "120",
                           "OPENUSAGE_CACHE_DIR": str(tmp_path / "cache")})
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)


@pytest.mark.parametrize("breakdown", [False, True])
def test_a_project_csv_has_the_json_rows_providers(tmp_path: Path, breakdown: bool) -> None:
    """CSV has the JSON row's columns: a project row's `providers` too (it was left out)."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (7, 2, 0, 0), "chatcmpl-one")
    env: dict[str, str | None] = {"OPENUSAGE_NOW": NOW, "OPENUSAGE_TZ": "UTC", "KIMI_SHARE_DIR": str(home.root)}
    extra = ["--breakdown"] if breakdown else []
    doc = report_json(env, "project", "--no-cache", *extra)
    result = invoke(["report", "project", "--csv", "--no-cache", *extra], env)
    assert result.exit_code == 0, explain(result)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["providers"] for row in rows] == [";".join(r["providers"]) for r in doc["rows"]] == ["kimi_cli"]


@pytest.mark.parametrize("args", [["report", "daily", "--tz="], ["report", "daily", "--since="],
                                  ["report", "daily", "--until="], ["snapshot", "--json", "--tz="],
                                  ["--tz=", "report", "daily"], ["--tz="]], ids=" ".join)
def test_an_empty_zone_or_date_is_the_users_error_not_ignored(tmp_path: Path, args: list[str]) -> None:
    """An option is never silently ignored: `--tz ""` names no zone and `--since ""` no day (they
    were taken as not given)."""
    result = invoke(args, {"OPENUSAGE_NOW": NOW, "KIMI_SHARE_DIR": str(tmp_path / "kimi")})
    assert result.exit_code == 2, explain(result)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, explain(result)


@pytest.mark.parametrize("args", [["report", "--bogus"], ["report", "--json", "daily"],
                                  ["report", "--tz", "UTC", "daily"], ["report", "daily", "--bogus"],
                                  ["report", "bogus"]], ids=" ".join)
def test_a_bad_option_of_report_is_one_line_wherever_it_is_written(args: list[str]) -> None:
    """README: an unknown option or command under `openusage report` is one line (exit 2), also written
    before the kind (that gave click's usage message)."""
    result = invoke(args, {"OPENUSAGE_NOW": NOW})
    assert result.exit_code == 2, explain(result)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, explain(result)


@pytest.mark.parametrize(("args", "provider"), [
    (["report", "daily", "--json"], None), (["report", "session"], None), (["report", "model", "--csv"], None),
    (["report", "daily", "--provider", "codex_cli"], "codex_cli")],
    ids=["daily json", "session table", "model csv", "codex only"])
def test_a_report_with_no_account_to_read_says_so_in_one_line(tmp_path: Path, args: list[str],
                                                              provider: str | None) -> None:
    """An empty report because nothing was found is said, not left to look like no usage: one line on
    stderr naming what is missing, the (empty) report on stdout, exit 0."""
    env = {"OPENUSAGE_NOW": NOW}
    if provider is not None:  # a Kimi CLI home with usage, and no Codex one
        KimiHome(tmp_path / "kimi").session(uid("a")).usage(at("2026-11-20T10:00:00Z"), (10, 2, 3, 0), "m-1")
        env["KIMI_SHARE_DIR"] = str(tmp_path / "kimi")
    result = invoke(args, env)
    assert result.exit_code == 0, explain(result)
    which = f"no {provider} account" if provider else "no account with usage files"
    assert result.stderr.strip().splitlines() == [
        f"openusage: {which} was detected or configured, so the report is empty (openusage detect shows where"
        " each agent's files were looked for)"], explain(result)
    if "--json" in args:
        assert json.loads(result.stdout)["rows"] == []
    if "--csv" in args:
        assert result.stdout.count("\n") == 1  # the header alone
