"""The console script's own reading of the hot command lines (`launch.py`): which lines it reads, that
it says exactly what click says for them, and that a warm run imports only what it needs.

The import checks run the real entry point (`python -X importtime -m openusage`) in a subprocess and
read which modules it loaded: no timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kimi_home import NOW, KimiHome, at, line, status_update, uid
from openusage.launch import read

CLICK_MAIN = "import sys; sys.argv[0] = 'openusage'; from openusage.cli import main; main()"


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    h.session(uid("1"), title="Plan").usage(at("2026-11-19T10:00:00Z"), (1_000_000, 200_000, 30_000, 0), "chatcmpl-1")
    h.session(uid("2")).usage(at("2026-11-20T10:00:00Z"), (3_000, 400, 0, 0), "chatcmpl-2", model="kimi-k2-x")
    return h


# --- which lines are read here -------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "command", "group", "options"), [
    ([], "", {}, {}),
    (["--no-cache", "--offline", "--tz", "Europe/Berlin"], "", {"no_cache": True, "offline": True,
                                                                "tz_name": "Europe/Berlin"}, {}),
    (["snapshot"], "snapshot", {}, {}),
    (["snapshot", "--json"], "snapshot", {}, {"json_output": True}),
    (["--tz=UTC", "snapshot", "--json", "--account=b", "--no-cache", "--offline", "--tz", "X/Y"],
     "snapshot", {"tz_name": "UTC"}, {"json_output": True, "account": "b", "no_cache": True, "offline": True,
                                      "tz_name": "X/Y"}),
    (["report", "daily"], "daily", {}, {}),
    (["report", "weekly", "--start-of-week", "sunday", "--start-of-month", "07", "--limit", "3", "--order", "desc",
      "--account", "a", "--provider", "p", "--account=b", "--breakdown", "--csv", "--since", "7d", "--until=today"],
     "weekly", {}, {"start_of_week": "sunday", "start_of_month": 7, "limit": 3, "order": "desc",
                    "accounts": ("a", "b"), "providers": ("p",), "breakdown": True, "csv_output": True,
                    "since": "7d", "until": "today"}),
    (["report", "model", "--json", "--markdown", "--no-cache"], "model", {},
     {"json_output": True, "markdown": True, "no_cache": True}),  # one at most: commands.report says so
])
def test_the_hot_command_lines_are_read_as_click_reads_them(args: list[str], command: str, group: dict[str, Any],
                                                            options: dict[str, Any]) -> None:
    found = read(args)
    assert found is not None
    assert (found.command, found.group, found.options) == (command, group, options)


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--version"], ["-V"], ["--demo"], ["--demo", "snapshot", "--json"], ["detect"],
    ["prices", "--json"], ["report"], ["report", "--help"], ["report", "yearly"], ["snapshot", "--help"],
    ["snapshot", "-h"], ["snapshot", "--json", "extra"], ["snapshot", "--json=1"], ["snapshot", "--account"],
    ["snapshot", "--account="], ["snapshot", "--account", "-x"], ["snapshot", "--"], ["snapshot", "--jsn"],
    ["--tz"], ["--tz", "-1", "snapshot"], ["-", "snapshot"], ["report", "daily", "--since"],
    ["report", "daily", "--start-of-week", "Monday"], ["report", "daily", "--order", "up"],
    ["report", "daily", "--start-of-month", "0"], ["report", "daily", "--start-of-month", "29"],
    ["report", "daily", "--start-of-month", "+5"], ["report", "daily", "--start-of-month", "٣"],
    ["report", "daily", "--limit", "0"], ["report", "daily", "--limit", "many"], ["report", "daily", "--offline"],
    ["report", "daily", "--breakdown=yes"], ["report", "daily", "extra"], ["snapshot", "--since", "7d"],
    ["snapshot", "--tz", "UTC", "--tz=Asia/Tokyo"], ["snapshot", "--account", "a", "--account=b"],
    ["--tz", "UTC", "--tz", "UTC"], ["report", "daily", "--since", "7d", "--since", "30d"],
])
def test_every_other_command_line_is_left_to_click(args: list[str]) -> None:
    assert read(args) is None


def test_shell_completion_is_left_to_click(home: KimiHome) -> None:
    env = {**os.environ, "KIMI_SHARE_DIR": str(home.root), "_OPENUSAGE_COMPLETE": "bash_source"}
    done = subprocess.run([sys.executable, "-m", "openusage"], env=env, capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0
    assert "_openusage_completion" in done.stdout  # click's completion script, not a tile


# --- the same answers as click -------------------------------------------------------------------------------


def _both(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The command line through the console script's entry and through click alone, each on a cache of
    its own (both warm after a first run)."""
    done = []
    for name, entry in (("launch", ["-m", "openusage"]), ("click", ["-c", CLICK_MAIN])):
        full = {**env, "OPENUSAGE_CACHE_DIR": env["OPENUSAGE_CACHE_DIR"] + "-" + name}
        done.append(subprocess.run([sys.executable, *entry, *args], env=full, capture_output=True, text=True,
                                   check=False, timeout=120))
    return tuple(done)


def _same_output(ours: str, clicks: str) -> None:
    if ours.startswith("{"):
        first, second = json.loads(ours), json.loads(clicks)
        first.pop("generated_at", None)
        second.pop("generated_at", None)
        assert first == second
    else:
        assert ours == clicks


@pytest.mark.parametrize("args", [
    ["snapshot", "--json"],
    ["--tz", "Europe/Berlin", "--offline", "snapshot", "--json", "--no-cache"],
    ["snapshot", "--json", "--account=kimi_cli", "--tz", "Asia/Kolkata"],
    ["snapshot", "--json", "--account", "no_such_account"],
    ["snapshot", "--json", "--tz", "Not/AZone"],
    ["snapshot"],
    [],
    ["report", "daily", "--json"],
    ["report", "weekly", "--csv", "--start-of-week", "sunday", "--limit", "2", "--order", "desc"],
    ["report", "monthly", "--markdown", "--start-of-month", "15", "--breakdown", "--tz", "Pacific/Chatham"],
    ["report", "session", "--json", "--account", "kimi_cli", "--provider", "kimi_cli", "--since", "30d"],
    ["report", "daily", "--json", "--csv"],
    ["report", "daily", "--since", "bogus"],
    ["report", "project", "--limit", "0"],
    ["report", "daily", "--json", "--tz", "UTC", "--tz", "Asia/Tokyo"],
    ["snapshot", "--json", "--tz", "UTC", "--tz=UTC"],
    ["--tz", "UTC", "--tz", "Asia/Tokyo", "report", "daily"],
], ids=lambda args: " ".join(args) or "tiles")
def test_the_console_script_says_what_click_says(home: KimiHome, args: list[str]) -> None:
    env = {**os.environ, "KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": NOW, "COLUMNS": "160",
           "OPENUSAGE_TZ": "America/New_York"}
    for _run in range(2):  # a first run, then a warm one
        ours, clicks = _both(args, env)
        assert ours.returncode == clicks.returncode, (ours.stderr, clicks.stderr)
        assert ours.stderr == clicks.stderr
        assert "Traceback" not in ours.stderr
        _same_output(ours.stdout, clicks.stdout)


# --- a warm run imports only what it needs -------------------------------------------------------------------

# Imported by no warm run: the command line library (click) and the click front end, the price
# database (genai-prices, pydantic), the network (httpx), and what only other commands use.
NEVER_WARM = ("click", "openusage.cli", "genai_prices", "pydantic", "pydantic_core", "httpx", "platformdirs",
              "tempfile", "concurrent")
# Nor by a warm `snapshot --json` with nothing new: drawing (rich), what only reading new bytes needs
# (msgspec, and inspect, uuid and typing_extensions it imports; stringzilla), zones other than UTC
# (zoneinfo), a TOML parser for a home with no TOML file, and hashlib.
NEVER_WARM_SNAPSHOT = (*NEVER_WARM, "rich", "msgspec", "inspect", "uuid", "typing_extensions", "stringzilla",
                       "zoneinfo", "hashlib", "tomllib")


def _imported(args: list[str], env: dict[str, str]) -> set[str]:
    """The modules `python -m openusage *args` imports (top-level packages and full names)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "openusage", *args], env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    names = {ln.rpartition("|")[2].strip() for ln in done.stderr.splitlines() if ln.startswith("import time:")}
    return names | {name.partition(".")[0] for name in names}


def test_a_warm_snapshot_imports_nothing_it_does_not_need(home: KimiHome) -> None:
    env = {**os.environ, "KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": NOW}
    first = _imported(["snapshot", "--json"], {**env, "OPENUSAGE_PRICE_TABLE": "0"})
    assert "genai_prices" in first  # a first run without the price table imports it (the probe sees imports)
    warm = _imported(["snapshot", "--json"], env)
    assert "openusage.launch" in warm
    assert sorted(warm.intersection(NEVER_WARM_SNAPSHOT)) == []


# And by a warm `snapshot --json` whose home has not changed for a while (its manifest answers, and its
# config's model keys come from the cache): no TOML parser even with a config.toml, no reader, no fold,
# no worker (`parallel`, and the select and fcntl it imports), no `json`.
NEVER_WARM_MANIFEST = (*NEVER_WARM_SNAPSHOT, "openusage.reading", "openusage.fold", "openusage.parallel", "select",
                       "fcntl", "openusage.candidates", "json",  # the document is written by render/jsontext.py
                       "openusage.facts", "openusage.settled")  # reports' facts; rows a UTC snapshot never needs


def test_a_warm_snapshot_of_a_home_unchanged_for_a_while_imports_even_less(home: KimiHome) -> None:
    home.config_toml('default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\n')
    made = time.time()
    env = {**os.environ, "KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": NOW}
    time.sleep(max(0.0, made + 5.5 - time.time()))  # older than the guard against same-tick changes (5 s)
    _imported(["snapshot", "--json"], env)  # the first run
    _imported(["snapshot", "--json"], env)  # compares, keeps the manifest and the config's model keys
    warm = _imported(["snapshot", "--json"], env)
    assert "openusage.manifest" in warm
    assert sorted(warm.intersection(NEVER_WARM_MANIFEST)) == []


def test_a_warm_run_after_appends_and_a_warm_report_import_no_front_end_and_no_prices(home: KimiHome) -> None:
    env = {**os.environ, "KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": NOW}
    _imported(["snapshot", "--json"], env)
    wire = next(home.sessions.rglob("wire.jsonl"))
    with wire.open("a", encoding="utf-8") as f:  # appended, as Kimi CLI does
        f.write(line(at("2026-11-20T11:00:00Z"), status_update((5, 5, 5, 0), mid="chatcmpl-9")) + "\n")
    assert sorted(_imported(["snapshot", "--json"], env).intersection(NEVER_WARM)) == []
    _imported(["report", "daily", "--json"], env)
    report = _imported(["report", "daily", "--json"], env)
    assert sorted(report.intersection((*NEVER_WARM, "rich"))) == []


def test_the_warm_tiles_import_no_command_line_library_and_no_prices(home: KimiHome) -> None:
    env = {**os.environ, "KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": NOW, "COLUMNS": "120"}
    _imported([], env)
    tiles = _imported([], env)
    assert "rich" in tiles
    assert sorted(tiles.intersection(NEVER_WARM)) == []
