"""The bench's peers (bench/peers.py): finding them, skipping them, running them apart from the corpus,
and the issue-21 ratios. The peers here are small executable scripts written to tmp_path and run as
real subprocesses; the real ccusage and tokscale are not needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench import peers
from bench.__main__ import Launcher

# A fake peer: answers --version and a help probe, and for a report prints totals the way the real
# one does (ccusage: {"totals": {...}}; tokscale: totalInput ...), after noting its environment and
# writing a cache file where its XDG_CONFIG_HOME says.
FAKE = """#!{python}
import json, os, sys
args = sys.argv[1:]
name = {name!r}
if args == ["--version"]:
    print(name + " 9.9.9")
    sys.exit(0)
if "--help" in args:
    print({help!r})
    sys.exit(0)
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": args, "HOME": os.environ.get("HOME"),
                          "XDG_CONFIG_HOME": os.environ.get("XDG_CONFIG_HOME"),
                          "KIMI_SHARE_DIR": os.environ.get("KIMI_SHARE_DIR"),
                          "cached": os.path.exists(os.path.join(os.environ["XDG_CONFIG_HOME"], "c"))}}) + "\\n")
os.makedirs(os.environ["XDG_CONFIG_HOME"], exist_ok=True)
open(os.path.join(os.environ["XDG_CONFIG_HOME"], "c"), "w").close()
if {status}:
    sys.exit({status})
if name == "ccusage":
    print(json.dumps({{"daily": [], "totals": {{"inputTokens": 110, "outputTokens": 20,
                                              "cacheReadTokens": 300, "cacheCreationTokens": 4}}}}))
else:
    print(json.dumps({{"entries": [], "totalInput": 100, "totalOutput": 20, "totalCacheRead": 300,
                      "totalCacheWrite": 4, "totalMessages": 7}}))
"""


def fake_peer(directory: Path, name: str, log: Path, help_text: str = "kimi codex", status: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(FAKE.format(python=sys.executable, name=name, help=help_text, log=str(log), status=status))
    path.chmod(0o755)
    return path


def no_peers_env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "sessions").mkdir(parents=True)
    (root / "sessions" / "wire.jsonl").write_text("{}\n")
    return root


# -- finding a peer


def test_a_peer_on_path_is_found(tmp_path: Path) -> None:
    path = fake_peer(tmp_path / "bin", "ccusage", tmp_path / "log")
    found = peers.locate("ccusage", None, {"PATH": str(tmp_path / "bin")})
    assert (found.path, found.how) == (str(path), "PATH")


def test_the_variable_wins_over_path(tmp_path: Path) -> None:
    fake_peer(tmp_path / "bin", "tokscale", tmp_path / "log")
    other = fake_peer(tmp_path / "elsewhere", "tokscale", tmp_path / "log")
    env = {"PATH": str(tmp_path / "bin"), "OPENUSAGE_BENCH_TOKSCALE": str(other)}
    found = peers.locate("tokscale", None, env)
    assert (found.path, found.how) == (str(other), "OPENUSAGE_BENCH_TOKSCALE")


def test_the_flag_wins_over_the_variable(tmp_path: Path) -> None:
    by_var = fake_peer(tmp_path / "a", "ccusage", tmp_path / "log")
    by_flag = fake_peer(tmp_path / "b", "ccusage", tmp_path / "log")
    found = peers.locate("ccusage", str(by_flag), {"PATH": "", "OPENUSAGE_BENCH_CCUSAGE": str(by_var)})
    assert (found.path, found.how) == (str(by_flag), "--ccusage")


def test_a_named_file_that_is_not_executable_is_not_used(tmp_path: Path) -> None:
    plain = tmp_path / "ccusage"
    plain.write_text("not a program\n")
    found = peers.locate("ccusage", None, {"PATH": "", "OPENUSAGE_BENCH_CCUSAGE": str(plain)})
    assert found.path is None
    assert "not an executable file" in found.how


def test_missing_peers_are_skipped_with_one_line_each(tmp_path: Path) -> None:
    lines: list[str] = []
    found = peers.discover("kimi_cli", tmp_path / "work", corpus(tmp_path), {}, no_peers_env(tmp_path),
                           lines.append)
    assert found.peers == []
    assert [s["peer"] for s in found.skipped] == ["ccusage", "tokscale"]
    assert len(lines) == 2
    assert "ccusage skipped" in lines[0]
    assert "OPENUSAGE_BENCH_CCUSAGE unset" in lines[0]


def test_a_peer_that_does_not_read_the_provider_is_skipped(tmp_path: Path) -> None:
    tokscale = fake_peer(tmp_path / "bin", "tokscale", tmp_path / "log", help_text="clients: kimi, claude")
    lines: list[str] = []
    found = peers.discover("codex_cli", tmp_path / "work", corpus(tmp_path), {"tokscale": str(tokscale)},
                           no_peers_env(tmp_path), lines.append)
    assert [p.name for p in found.peers] == []
    reason = next(s["reason"] for s in found.skipped if s["peer"] == "tokscale")
    assert "does not read codex_cli" in reason


# -- running them


def run_rounds(tmp_path: Path, flags: dict[str, str | None], rounds: int = 2) -> peers.PeerSet:
    work = tmp_path / "work"
    work.mkdir()
    found = peers.discover("kimi_cli", work, corpus(tmp_path), flags, no_peers_env(tmp_path), lambda _: None)
    launcher = Launcher(work)
    try:
        for rep in range(rounds):
            found.run_round(lambda cmd, env: launcher.run(cmd, env=env), lambda _: None, rep, rounds)
    finally:
        launcher.close()
    return found


def test_peers_run_with_the_bench_home_and_their_own_cache(tmp_path: Path) -> None:
    log = tmp_path / "log"
    ccusage = fake_peer(tmp_path / "bin", "ccusage", log)
    tokscale = fake_peer(tmp_path / "bin", "tokscale", log)
    found = run_rounds(tmp_path, {"ccusage": str(ccusage), "tokscale": str(tokscale)})
    by_name = {p.name: p for p in found.peers}
    assert by_name["ccusage"].version == "ccusage 9.9.9"
    # ccusage keeps no cache: one (cold) run a round; tokscale: cold, then warm on what cold left.
    assert (len(by_name["ccusage"].cold.times), len(by_name["ccusage"].warm.times)) == (2, 0)
    assert (len(by_name["tokscale"].cold.times), len(by_name["tokscale"].warm.times)) == (2, 2)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(c["argv"][0], c["cached"]) for c in calls] == [
        ("kimi", False), ("models", False), ("models", True)] * 2
    home = tmp_path / "work" / "peer-home"
    assert all(c["HOME"] == str(home) for c in calls)
    assert all(c["KIMI_SHARE_DIR"] is None for c in calls)
    assert all(c["XDG_CONFIG_HOME"].startswith(str(tmp_path / "work")) for c in calls)
    assert (home / ".kimi").resolve() == (tmp_path / "corpus").resolve()
    assert calls[1]["argv"][-2:] == ["--home", str(home)]
    assert sorted(p.name for p in (tmp_path / "corpus").rglob("*")) == ["sessions", "wire.jsonl"]
    assert by_name["tokscale"].totals == {"input": 100, "output": 20, "cache_read": 300, "cache_write": 4,
                                          "calls": 7}
    assert by_name["tokscale"].runs_agree == 3
    # CPU seconds of each run's process tree are kept beside the wall time (a Python script uses some).
    assert len(by_name["ccusage"].cold.cpu) == 2
    assert all(cpu > 0 for cpu in by_name["ccusage"].cold.cpu)


def test_a_failing_peer_is_dropped_not_fatal(tmp_path: Path) -> None:
    ccusage = fake_peer(tmp_path / "bin", "ccusage", tmp_path / "log", status=3)
    found = run_rounds(tmp_path, {"ccusage": str(ccusage)})
    peer = found.peers[0]
    assert peer.failed is not None
    assert "exited 3" in peer.failed
    assert peer.cold.times == []
    assert len((tmp_path / "log").read_text().splitlines()) == 1  # not run again in round 2


# -- ratios and targets


def timed(name: str, cold: list[float], warm: list[float]) -> peers.Peer:
    peer = peers.Peer(name, f"/x/{name}", "PATH", f"{name} 1", peers.SPECS[name]["kimi_cli"])
    peer.cold.times.extend(cold)
    peer.warm.times.extend(warm)
    return peer


def test_targets_pass_at_or_under_the_limits() -> None:
    rows = peers.targets(("c", 0.8), 0.5, [timed("ccusage", [1.0, 2.0, 1.0], []),
                                           timed("tokscale", [3.0], [1.0])], [])
    assert [(r["measured"], r["pass"]) for r in rows] == [(0.8, True), (0.5, True)]


def test_targets_fail_over_the_limits() -> None:
    rows = peers.targets(("c", 0.9), 0.6, [timed("ccusage", [1.0], []), timed("tokscale", [3.0], [1.0])], [])
    assert [(r["measured"], r["pass"]) for r in rows] == [(0.9, False), (0.6, False)]


def test_a_skipped_peer_leaves_its_target_unmeasured() -> None:
    rows = peers.targets(("b", 1.0), 0.1, [timed("ccusage", [2.0], [])],
                         [{"peer": "tokscale", "reason": "not on PATH"}])
    assert rows[0]["target"] == "openusage cold (b) / ccusage cold"
    assert rows[0]["pass"] is True
    assert (rows[1]["measured"], rows[1]["pass"]) == (None, None)
    assert "tokscale skipped: not on PATH" in rows[1]["note"]


def test_totals_are_compared_with_ours_as_information() -> None:
    ours = {"snapshots": [{"provider_id": "kimi_cli", "metrics": {
        "total_input_tokens": {"used": 100}, "total_output_tokens": {"used": 20},
        "total_cache_read": {"used": 300}, "total_cache_write": {"used": 4}},
        "diagnostics": {"records_counted": 5}}]}
    diff = peers.compare_totals({"input": 110, "output": 20, "cache_read": 300, "cache_write": 4, "calls": 7},
                                peers.our_totals(ours, "kimi_cli"))
    assert diff["input"] == {"peer": 110, "openusage": 100, "difference": 10, "difference_pct": 10.0}
    assert diff["output"]["difference"] == 0
    assert diff["calls"]["difference_pct"] == 40.0


# -- the bench itself


def test_the_bench_names_the_skipped_peer_and_writes_the_targets(tmp_path: Path) -> None:
    log = tmp_path / "log"
    ccusage = fake_peer(tmp_path / "bin", "ccusage", log)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
    env.update(OPENUSAGE_BENCH_DIR=str(tmp_path / "benchdir"), PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
               OPENUSAGE_BENCH_CCUSAGE=str(ccusage))
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--sessions", "4", "--size-mb", "1", "--repeat", "1", "--only", "cd",
         "--skip-many-files", "--json", str(out)],
        env=env, capture_output=True, text=True, check=False, timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "peer tokscale skipped on kimi_cli: not on PATH" in done.stderr
    assert "targets (issue 21, against the peers)" in done.stdout
    section = json.loads(out.read_text())["peers"]
    assert section["measured"]["ccusage"]["found_by"] == "OPENUSAGE_BENCH_CCUSAGE"
    assert section["corpus_untouched"] is True
    cold, warm = section["targets"]
    assert cold["pass"] is not None
    assert warm["pass"] is None


@pytest.mark.parametrize("provider", ["kimi_cli", "kimi_code", "codex_cli"])
def test_the_home_link_is_named_as_the_agent_default(tmp_path: Path, provider: str) -> None:
    found = peers.discover(provider, tmp_path / "work", corpus(tmp_path), {}, no_peers_env(tmp_path),
                           lambda _: None)
    link = found.home / peers.DEFAULT_HOMES[provider]
    assert link.is_symlink()
    assert link.resolve() == (tmp_path / "corpus").resolve()
