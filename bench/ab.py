"""python -m bench.ab: two (or more) openusage builds against each other, run for run, on one home.

Each round runs every variant once, in alternating order (A B, B A, ...), so that a busy machine's drift
hits them alike; each variant has its own cache directory (cache schemas may differ), primed before the
first round. Without `--appends` it times the given command (default `snapshot --json`) warm, or with
`--first` on an empty cache each time (a first run). With `--appends` each round primes every cache,
times a warm `snapshot --json` of each (d), appends ~1 MiB of new turns to 10 wire files with the bench's
own appender and journal, times each again (e), checks that the variants' documents agree and equal a
`--no-cache` run of the first variant, and cuts the files back (`restore_appends`).
`--appends` writes into the corpus: give it a copy.
`--provider` names the home's kind (Kimi CLI by default; Kimi Code, Codex).
It prints, per variant, the median and minimum wall time and the median CPU time (user + system of
the process and its waited-for workers).

    python -m bench.ab --corpus DIR [--rounds 21] [--args "snapshot --json"] base=/venv-a/bin/openusage \\
        new=/venv-b/bin/openusage
    python -m bench.ab --corpus DIR --appends --rounds 11 base=... new=...
    python -m bench.ab --corpus DIR --first --rounds 11 base=... new=...
    python -m bench.ab --provider kimi_code --corpus DIR ... base=... new=...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import corpus as gen
from bench import corpus_code, corpus_codex
from bench.__main__ import APPEND_JOURNAL, HOME_VARIABLES, find_wire_files, restore_appends

NOW = "2026-11-25T04:00:00Z"  # the instant the generated corpus is built around (as bench's default)
APPEND_FILES = 10
APPEND_BYTES = 1024 * 1024


class Variant:
    def __init__(self, spec: str, work: Path) -> None:
        name, _, command = spec.partition("=")
        if not name or not command:
            raise SystemExit(f"bench.ab: {spec!r} is not NAME=COMMAND")
        self.name = name
        self.command = shlex.split(command)
        self.cache = work / f"cache-{name}"
        self.times: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def run(self, corpus: Path, home: Path, args: list[str], key: str | None,
            provider: str = "kimi_cli", *, fresh: bool = False) -> Any:
        """One run; its timing kept under `key` (None: untimed). Returns stdout (JSON when it parses).
        `fresh`: on an empty cache directory (removed before the run, untimed)."""
        if fresh:
            shutil.rmtree(self.cache, ignore_errors=True)
        env = {**os.environ, "HOME": str(home), "OPENUSAGE_NOW": NOW, "OPENUSAGE_CACHE_DIR": str(self.cache)}
        for variable in (*HOME_VARIABLES.values(), "OPENUSAGE_CONFIG"):
            env.pop(variable, None)
        env[HOME_VARIABLES[provider]] = str(corpus)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([*self.command, *args], env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"bench.ab: {self.name} exited {done.returncode}: {done.stderr.strip()}")
        if key is not None:
            self.times.setdefault(key, []).append(wall)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            self.cpu.setdefault(key, []).append(cpu)
        try:
            document = json.loads(done.stdout)
        except ValueError:
            return done.stdout
        if isinstance(document, dict):
            document.pop("generated_at", None)
        return document


def _targets(corpus: Path, seed: int, provider: str = "kimi_cli") -> list[Path]:
    """The files of main sessions (live ones) that end in a newline, as the bench picks them."""
    candidates = []
    for path in find_wire_files(corpus, provider):
        if "subagents" in path.parts or "archived_sessions" in path.parts:
            continue
        if provider == "kimi_code" and path.parent.name != "main":
            continue
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 1))
            if f.read(1) == b"\n":
                candidates.append(path)
    return random.Random(seed * 31 + 7).sample(candidates, min(APPEND_FILES, len(candidates)))


def _same(label: str, documents: list[Any], differ: bool = False) -> None:
    """Every variant gave the same output; with `differ` (a change of what is counted) nothing is
    compared across variants."""
    if not differ and len({json.dumps(d, sort_keys=True) for d in documents}) != 1:
        raise SystemExit(f"bench.ab: the variants' outputs differ ({label})")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="+", metavar="NAME=COMMAND")
    p.add_argument("--corpus", type=Path, required=True, help="the home (sessions/ inside)")
    p.add_argument("--provider", choices=sorted(HOME_VARIABLES), default="kimi_cli", help="the home's kind")
    p.add_argument("--rounds", type=int, default=21)
    p.add_argument("--args", default="snapshot --json", help="the command's arguments (without --appends)")
    p.add_argument("--appends", action="store_true", help="time warm and warm-after-appends snapshots")
    p.add_argument("--first", action="store_true", help="time the command on an empty cache (a first run)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--differ", action="store_true",
                   help="the variants count differently (a change of a rule): their outputs are not compared "
                        "with each other; after appends each is compared with its own --no-cache run")
    args = p.parse_args()
    corpus: Path = args.corpus
    restore_appends(corpus)
    with tempfile.TemporaryDirectory(prefix="openusage-ab-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        variants = [Variant(spec, work) for spec in args.variants]
        command = ["snapshot", "--json"] if args.appends else shlex.split(args.args)
        if not args.first:
            for variant in variants:
                variant.run(corpus, home, command, None, args.provider)  # the first run fills its cache
        if args.appends:
            colds = [Variant(f"cold{i}={shlex.join(v.command)}", work)
                     for i, v in enumerate(variants if args.differ else variants[:1])]
            _appends(corpus, home, variants, args.rounds, args.seed, args.provider, colds)
        else:
            for rnd in range(args.rounds):
                order = variants if rnd % 2 == 0 else variants[::-1]
                kind = "first" if args.first else "warm"
                _same(f"round {rnd + 1}", [v.run(corpus, home, command, kind, args.provider, fresh=args.first)
                                           for v in order], args.differ)
    for variant in variants:
        for key, times in variant.times.items():
            wall, fastest = 1e3 * statistics.median(times), 1e3 * min(times)
            cpu = 1e3 * statistics.median(variant.cpu[key])
            print(f"{key:5s} {variant.name:10s} n={len(times)}  wall median {wall:6.1f} ms"
                  f" (min {fastest:6.1f})  CPU median {cpu:6.1f} ms")


def _appends(corpus: Path, home: Path, variants: list[Variant], rounds: int, seed: int, provider: str,
             colds: list[Variant]) -> None:
    """d and e, round after round; `colds` (the first variant's command, or with `--differ` each
    variant's, in a cache directory of its own) make the `--no-cache` runs each e is checked against."""
    targets = _targets(corpus, seed, provider)
    manifest = gen.read_manifest(corpus)
    start = gen.parse_instant(manifest["params"]["end"]) if manifest else gen.parse_instant(NOW) - 3600.0
    end = gen.parse_instant(NOW) - 1.0
    appender: gen.Generator | corpus_code.Generator | corpus_codex.Generator
    if provider == "codex_cli":
        appender = corpus_codex.Generator(corpus_codex.Params(seed=seed + 1000))
    else:
        appender = (corpus_code.Generator if provider == "kimi_code" else gen.Generator)(seed + 1000)
    command = ["snapshot", "--json"]
    for rnd in range(rounds):
        order = variants if rnd % 2 == 0 else variants[::-1]
        for variant in order:
            variant.run(corpus, home, command, None, provider)  # in step with the files again
        _same(f"d round {rnd + 1}", [v.run(corpus, home, command, "d", provider) for v in order],
              len(colds) > 1)
        (corpus / APPEND_JOURNAL).write_text(json.dumps({str(p): p.stat().st_size for p in targets}))
        try:
            for i, path in enumerate(targets):
                begin = min(start + rnd * 120.0 + i, end - 600.0)
                appender.append_activity(path, APPEND_BYTES // len(targets), seed * 1_000_003 + rnd * 101 + i,
                                         begin, end)
            found = {v.name: v.run(corpus, home, command, "e", provider) for v in order}
            if len(colds) == 1:
                _same(f"e round {rnd + 1} (and --no-cache)",
                      [*found.values(), colds[0].run(corpus, home, [*command, "--no-cache"], None, provider)])
            else:
                for variant, cold in zip(variants, colds, strict=True):
                    uncached = cold.run(corpus, home, [*command, "--no-cache"], None, provider)
                    _same(f"e round {rnd + 1} of {variant.name} (and its --no-cache)",
                          [found[variant.name], uncached])
        finally:
            restore_appends(corpus)


if __name__ == "__main__":
    main()
