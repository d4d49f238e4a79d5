"""The zone a command shows: `--tz` or `OPENUSAGE_TZ` move today, 7 d and the daily series of the tile
and the snapshot to the zone's own days; with neither they stay UTC days, and the tile names its zone."""

from __future__ import annotations

from pathlib import Path

from kimi_home import KimiHome, at, env_for, explain, invoke, run_snapshot, series, snapshot_all_paths, used

NOW = "2026-11-20T12:00:00Z"


def _home(isolated_env: Path) -> KimiHome:
    """Calls at 02:00Z on Nov 20 (Nov 19 evening in New York) and at 12:00Z on Nov 19."""
    home = KimiHome(isolated_env / ".kimi")
    home.session("s-late").usage(at("2026-11-20T02:00:00Z"), (100, 10, 0, 0), "m-late")
    home.session("s-noon").usage(at("2026-11-19T12:00:00Z"), (200, 20, 0, 0), "m-noon")
    return home


def test_without_a_zone_days_are_utc_days(isolated_env: Path) -> None:
    home = _home(isolated_env)
    snap = snapshot_all_paths(env_for(home.root, NOW))
    assert snap["tz"] == "UTC"
    assert series(snap["snapshots"][0], "tokens") == {"2026-11-19": 220, "2026-11-20": 110}
    assert used(snap["snapshots"][0], "sessions_today") == 1


def test_tz_moves_calls_to_the_zones_days(isolated_env: Path) -> None:
    home = _home(isolated_env)
    env = env_for(home.root, NOW)
    for args in (["--tz", "America/New_York"], []):
        run_env = env if args else {**env, "OPENUSAGE_TZ": "America/New_York"}
        uncached = run_snapshot(run_env, *args, "--no-cache")
        cached = run_snapshot(run_env, *args)
        assert {k: v for k, v in uncached.items() if k != "generated_at"} == \
            {k: v for k, v in cached.items() if k != "generated_at"}
        snap = uncached["snapshots"][0]
        assert uncached["tz"] == "America/New_York"
        assert series(snap, "tokens") == {"2026-11-19": 330}
        assert series(snap, "sessions") == {"2026-11-19": 2}
        # 07:00 on Nov 20 in New York: neither call is on its today; both are in the last 7 x 24 h.
        assert used(snap, "sessions_today") == 0
        assert used(snap, "sessions_7d") == 2
        assert used(snap, "total_tokens") == 330


def test_the_option_wins_over_the_variable(isolated_env: Path) -> None:
    home = _home(isolated_env)
    doc = run_snapshot({**env_for(home.root, NOW), "OPENUSAGE_TZ": "America/New_York"}, "--tz", "Asia/Kolkata")
    assert doc["tz"] == "Asia/Kolkata"
    assert series(doc["snapshots"][0], "tokens") == {"2026-11-19": 220, "2026-11-20": 110}


def test_an_unknown_zone_is_one_line_and_exit_2(isolated_env: Path) -> None:
    home = _home(isolated_env)
    for args, env in ((["snapshot", "--json", "--tz", "Mars/Olympus"], env_for(home.root, NOW)),
                      (["snapshot", "--json"], {**env_for(home.root, NOW), "OPENUSAGE_TZ": "Nowhere/Else"})):
        result = invoke(args, env)
        assert result.exit_code == 2, explain(result)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert "unknown time zone" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_tile_names_its_zone(isolated_env: Path) -> None:
    home = _home(isolated_env)
    env = {**env_for(home.root, NOW), "COLUMNS": "100"}
    assert "Last 14 days (UTC)" in invoke([], env).stdout
    result = invoke(["--tz", "Pacific/Chatham"], env)
    assert result.exit_code == 0, explain(result)
    assert "Last 14 days (Pacific/Chatham)" in result.stdout
    assert "2026-11-21" in result.stdout  # Chatham's today at 12:00Z is already Nov 21
