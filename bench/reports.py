"""python -m bench.reports: how fast `openusage report` answers from a warm cache, in several zones.

On the same corpus as `python -m bench` (generated once, ~1 GB by default), it primes the cache with
one snapshot, then times `openusage report <kind> --json --tz <zone>` for every report and zone, round
after round (interleaved, so drift hits them alike), with the bench's launcher (wall time and peak RSS
of the process tree). Every report's totals are checked against the snapshot's: a fast wrong answer
fails the run. The issue's target: a warm report in ≤ 0.3 s in any zone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import corpus as gen
from bench.__main__ import Launcher, compile_installed, default_corpus_dir, ensure_corpus, openusage_command

KINDS = ("daily", "weekly", "monthly", "session", "project", "model")
ZONES = ("UTC", "Europe/Berlin", "Pacific/Chatham")
TARGET_S = 0.3
FIGURES = {"input_tokens": "total_input_tokens", "output_tokens": "total_output_tokens",
           "cache_read_tokens": "total_cache_read", "cache_write_tokens": "total_cache_write"}


def _env(root: Path, work: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(work / "home"), "KIMI_SHARE_DIR": str(root),
            # No OPENUSAGE_CONFIG: a file it names must exist; the default one under this HOME does not.
            "OPENUSAGE_CACHE_DIR": str(work / "cache"),
            "OPENUSAGE_NOW": gen.DEFAULT_NOW}


def _expected(snapshot: dict[str, Any]) -> dict[str, int]:
    snaps = snapshot["snapshots"]
    totals = {key: sum(s["metrics"][metric]["used"] for s in snaps) for key, metric in FIGURES.items()}
    totals["calls"] = sum(s["diagnostics"]["records_counted"] for s in snaps)
    return totals


def run(args: argparse.Namespace) -> int:
    params = gen.Params(args.sessions, args.size_mb, args.seed)
    root = ensure_corpus(args.corpus or default_corpus_dir(params), params,
                         lambda text: print(text, file=sys.stderr), given=args.corpus is not None)
    compile_installed()
    cmd = openusage_command(args.openusage_cmd)
    work = Path(tempfile.mkdtemp(prefix="openusage-bench-reports-"))
    (work / "home").mkdir()
    launcher = Launcher(work)
    env = _env(root, work)
    try:
        primed = launcher.run([*cmd, "snapshot", "--json"], env=env)
        if primed.returncode != 0:
            raise SystemExit(f"bench.reports: snapshot failed: {primed.stderr.decode(errors='replace')}")
        expected = _expected(json.loads(primed.stdout))
        times: dict[tuple[str, str], list[float]] = {}
        rss: dict[tuple[str, str], float] = {}
        for _ in range(args.repeat):
            for zone in ZONES:
                for kind in KINDS:
                    one = launcher.run([*cmd, "report", kind, "--json", "--tz", zone], env=env)
                    if one.returncode != 0:
                        why = one.stderr.decode(errors="replace")
                        raise SystemExit(f"bench.reports: report {kind} failed: {why}")
                    totals = json.loads(one.stdout)["totals"]
                    wrong = {k: (totals[k], v) for k, v in expected.items() if totals[k] != v}
                    if wrong:
                        raise SystemExit(f"bench.reports: report {kind} --tz {zone} totals differ: {wrong}")
                    times.setdefault((kind, zone), []).append(one.wall)
                    rss[(kind, zone)] = max(rss.get((kind, zone), 0.0), one.rss_mib)
    finally:
        launcher.close()
        shutil.rmtree(work, ignore_errors=True)
    return _print(times, rss, expected, args.json)


def _print(times: dict[tuple[str, str], list[float]], rss: dict[tuple[str, str], float],
           expected: dict[str, int], out: Path | None) -> int:
    print(f"warm `openusage report <kind> --json --tz <zone>`: median of each, {expected['calls']:,} calls; "
          f"target ≤ {TARGET_S} s")
    print(f"{'report':<8} {'zone':<16} {'median s':>9} {'min s':>7} {'peak RSS MiB':>13}")
    worst = 0.0
    for (kind, zone), walls in times.items():
        median = statistics.median(walls)
        worst = max(worst, median)
        print(f"{kind:<8} {zone:<16} {median:>9.3f} {min(walls):>7.3f} {rss[(kind, zone)]:>13.1f}")
    verdict = "met" if worst <= TARGET_S else "NOT met"
    print(f"slowest median {worst:.3f} s: target {verdict}")
    if out is not None:
        doc = {"calls": expected["calls"], "target_s": TARGET_S,
               "runs": [{"report": kind, "tz": zone, "times_s": [round(t, 4) for t in walls],
                         "peak_rss_mib": round(rss[(kind, zone)], 1)}
                        for (kind, zone), walls in times.items()]}
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a Kimi CLI home to use as it is (default: the bench's)")
    parser.add_argument("--sessions", type=int, default=gen.Params.sessions)
    parser.add_argument("--size-mb", type=float, default=gen.Params.size_mb)
    parser.add_argument("--seed", type=int, default=gen.Params.seed)
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--openusage-cmd",
                        help="the command to measure (default: this interpreter's openusage)")
    parser.add_argument("--json", type=Path, help="also write the runs as JSON here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args(None)))
