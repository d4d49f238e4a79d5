"""python -m bench: time openusage against `cat` on one corpus, in one run, and check its answers agree.

Scenarios, interleaved round by round (a, b, c, d, e, a, b, ...) so drift hits them alike:
  a  `cat` of every wire.jsonl to /dev/null (one xargs, few cat processes): the read limit
  b  `openusage snapshot --json --no-cache`: the cold scan
  c  `openusage snapshot --json` with an empty cache directory: the first run
  d  the same with the cache primed and nothing changed: the warm run
  e  the same after appending ~1 MB of new turns to 10 wire files (the append is not timed)
and, in the same rounds, the peers found (ccusage, tokscale: bench.peers) on the same home,
then the many-files corpus (100k tiny sessions): a primed warm run, to show that warm time follows
the number of files. Each run is a subprocess; its wall time and the peak RSS of its process tree
(`os.wait4`) are recorded. `--provider kimi_code` does the same on a Kimi Code home (bench.corpus_code)
given as KIMI_CODE_HOME, `--provider codex_cli` on a Codex home (bench.corpus_codex) given as CODEX_HOME.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import corpus as gen
from bench import corpus_code, corpus_codex, peers

DEFAULT_ROOT = Path(os.environ.get("OPENUSAGE_BENCH_DIR", "/tmp/openusage-bench"))
APPEND_JOURNAL = "bench-appends.json"
SCENARIOS = {
    "a": "cat of all wire.jsonl (read limit)",
    "b": "cold: snapshot --json --no-cache",
    "c": "first run, empty cache",
    "d": "warm, nothing changed",
    "e": "warm after appends",
}
MIB = 1024 * 1024
PROVIDERS = ("kimi_cli", "kimi_code", "codex_cli")
# What no output may show.
FAKE_KEYS = (b"sk-bench-not-a-real-key", corpus_code.FAKE_KEY.encode(), corpus_codex.FAKE_KEY.encode())
HOME_VARIABLES = {"kimi_cli": "KIMI_SHARE_DIR", "kimi_code": "KIMI_CODE_HOME", "codex_cli": "CODEX_HOME"}

Json = dict[str, Any]
Params = gen.Params | corpus_code.Params | corpus_codex.Params


# --------------------------------------------------------------------------------------------------
# Measuring one process tree.


@dataclass(slots=True)
class Run:
    wall: float
    rss_mib: float
    returncode: int
    stdout: bytes
    stderr: bytes
    cpu: float = 0.0  # user + system seconds of the process tree (its waited-for children included)


# The bench process itself is big (corpus pools, outputs), and a child forked from it inherits its
# peak RSS across exec (Linux keeps `maxrss` over execve), which would inflate every figure. So every
# measured command is spawned by a small launcher interpreter (~10 MiB: the floor of the figures),
# which times it and reads its rusage with wait4.
_LAUNCHER = r"""
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, req["stdin"], os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    started = time.perf_counter()
    try:
        pid = os.posix_spawnp(req["cmd"][0], req["cmd"], req["env"], file_actions=actions)
    except OSError as exc:
        print(json.dumps({"wall": 0.0, "maxrss_kib": 0, "status": 127, "error": str(exc)}), flush=True)
        continue
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    reply = {"wall": wall, "maxrss_kib": usage.ru_maxrss, "status": os.waitstatus_to_exitcode(status),
             "cpu": usage.ru_utime + usage.ru_stime}
    print(json.dumps(reply), flush=True)
"""


class Launcher:
    """A long-lived small process that spawns, times and reaps the measured commands."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def run(
        self,
        cmd: Sequence[str],
        env: dict[str, str] | None = None,
        stdin: Path | None = None,
        capture: bool = True,
    ) -> Run:
        out = self.work / "run.stdout"
        err = self.work / "run.stderr"
        request = {
            "cmd": list(cmd),
            "env": dict(os.environ if env is None else env),
            "stdin": str(stdin or os.devnull),
            "stdout": str(out) if capture else os.devnull,
            "stderr": str(err),
        }
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: the launcher process died")
        reply = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"bench: cannot run {cmd[0]}: {reply['error']}")
        stdout = out.read_bytes() if capture else b""
        return Run(reply["wall"], reply["maxrss_kib"] / 1024.0, reply["status"], stdout, err.read_bytes(),
                   reply["cpu"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@dataclass
class Series:
    """The timed runs of one scenario."""

    key: str
    title: str
    times: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.times.append(run.wall)
        self.rss.append(run.rss_mib)
        self.cpu.append(run.cpu)

    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    def as_json(self) -> Json:
        return {
            "title": self.title,
            "times_s": [round(t, 4) for t in self.times],
            "median_s": round(self.median(), 4) if self.times else None,
            "min_s": round(min(self.times), 4) if self.times else None,
            "rss_mib": [round(r, 1) for r in self.rss],
            "peak_rss_mib": round(max(self.rss), 1) if self.rss else None,
            "cpu_s": [round(c, 3) for c in self.cpu],
            "median_cpu_s": round(statistics.median(self.cpu), 3) if self.cpu else None,
        }


# --------------------------------------------------------------------------------------------------
# The corpus on disk.


def find_wire_files(root: Path, provider: str = "kimi_cli") -> list[Path]:
    """The files openusage reads in the home: wire.jsonl (Kimi), or rollouts in both Codex folders."""
    found: list[Path] = []
    if provider == "codex_cli":
        for folder in ("sessions", "archived_sessions"):
            for dirpath, _dirs, files in os.walk(root / folder):
                found.extend(Path(dirpath) / name for name in files
                             if name.startswith("rollout-") and name.endswith(".jsonl"))
        found.sort()
        return found
    for dirpath, _dirs, files in os.walk(root / "sessions"):
        if "wire.jsonl" in files:
            found.append(Path(dirpath) / "wire.jsonl")
    found.sort()
    return found


def corpus_stats(root: Path, wires: list[Path], provider: str = "kimi_cli") -> Json:
    sessions_dir = root / "sessions"
    if provider == "codex_cli":  # a session is a thread: the id its rollouts are named after
        sessions = len({path.stem[-36:] for path in wires})
    else:
        sessions = sum(
            1 for group in sessions_dir.iterdir() if group.is_dir() for s in group.iterdir() if s.is_dir()
        )
    sizes = [p.stat().st_size for p in wires]
    manifest = gen.read_manifest(root)
    stats: Json = {
        "path": str(root),
        "sessions": sessions,
        "wire_files": len(wires),
        "wire_bytes": sum(sizes),
        "largest_file_bytes": max(sizes, default=0),
    }
    if manifest is not None:
        stats["generator"] = {"params": manifest["params"], "stats": manifest["stats"]}
    return stats


def restore_appends(root: Path) -> None:
    """Undo an interrupted scenario e: cut the appended files back to their sizes before the append."""
    journal = root / APPEND_JOURNAL
    if not journal.exists():
        return
    sizes: dict[str, int] = json.loads(journal.read_text())
    for name, size in sizes.items():
        path = Path(name)
        if path.exists() and path.stat().st_size > size:
            os.truncate(path, size)
    journal.unlink()


def lock_corpus(root: Path, exclusive: bool, log: Callable[[str], None]) -> int:
    """Keep two benches on one corpus apart: a run that appends (scenario e) changes what another reads,
    and both would write the same journal (one's restore then undoes the other's sizes, leaving appended
    bytes behind). An flock on the corpus directory itself (no file is created there): exclusive for a
    run that appends, shared otherwise; a run that finds it taken says so and waits. Held until exit."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f"bench: another bench is using {root}; waiting for it to finish ...")
        fcntl.flock(fd, mode)
    return fd


def provider_of(params: Params) -> str:
    if isinstance(params, corpus_codex.Params):
        return "codex_cli"
    return "kimi_code" if isinstance(params, corpus_code.Params) else "kimi_cli"


def manifest_provider(manifest: Json | None) -> str | None:
    """Which agent's home a generated corpus imitates (manifests before bench.corpus_code: Kimi CLI)."""
    if manifest is None:
        return None
    return str(manifest.get("provider", "kimi_cli"))


def ensure_corpus(directory: Path, params: Params, log: Callable[[str], None], given: bool = False) -> Path:
    """A DIR the user named is used as it is when it holds a Kimi home (sessions/); else one is generated
    there. A default DIR (named after the parameters) is regenerated when its manifest differs."""
    manifest = gen.read_manifest(directory)
    wanted_provider = provider_of(params)
    if manifest is not None and manifest_provider(manifest) != wanted_provider:
        raise SystemExit(
            f"bench: {directory} holds a generated {manifest_provider(manifest)} corpus, "
            f"not a {wanted_provider} one (see --provider)"
        )
    if given and (directory / "sessions").is_dir():
        restore_appends(directory)
        return directory
    wanted = {k: v for k, v in asdict(params).items() if k != "now"}  # `now` only sets expected figures
    have = {k: v for k, v in (manifest or {}).get("params", {}).items() if k != "now"}
    if manifest is not None and have == wanted:
        restore_appends(directory)
        return directory
    if manifest is None and (directory / "sessions").is_dir():
        restore_appends(directory)
        log(f"using the existing Kimi home at {directory} (no generator manifest)")
        return directory
    if manifest is not None:
        log(f"{directory} holds a corpus made with other parameters: regenerating it")
        gen.remove_tree(directory)
    elif directory.exists() and any(directory.iterdir()):
        raise SystemExit(
            f"bench: {directory} exists, is not empty and holds no Kimi home: refusing to write there"
        )
    kind = ("tiny" if params.tiny else "full") + {
        "kimi_code": " Kimi Code", "codex_cli": " Codex CLI"}.get(wanted_provider, " Kimi CLI")
    log(f"generating a {kind} corpus at {directory} ({params.sessions:,} sessions, seed {params.seed}) ...")
    if isinstance(params, corpus_code.Params):
        manifest = corpus_code.generate(directory, params, progress=sys.stderr.isatty())
    elif isinstance(params, corpus_codex.Params):
        manifest = corpus_codex.generate(directory, params, progress=sys.stderr.isatty())
    else:
        manifest = gen.generate(directory, params, progress=sys.stderr.isatty())
    mib = manifest["stats"]["wire_bytes"] / MIB
    log(f"  done in {manifest['stats']['seconds']:.1f} s ({mib:,.0f} MiB)")
    return directory


def default_corpus_dir(params: Params) -> Path:
    # Kimi Code corpora: code-..., Codex ones: codex-...
    prefix = "code-" if isinstance(params, corpus_code.Params) else \
        "codex-" if isinstance(params, corpus_codex.Params) else ""
    if params.tiny:
        name = f"{prefix}tiny-n{params.sessions}-seed{params.seed}-v{params.version}"
    else:
        sub = "" if params.subagents else "-nosub"
        name = (
            f"{prefix}corpus-s{params.sessions}-m{params.size_mb:g}-seed{params.seed}{sub}-v{params.version}"
        )
    return DEFAULT_ROOT / name


def make_params(args: argparse.Namespace, tiny: bool = False) -> Params:
    """The corpus parameters for the provider measured (the many-files corpus when `tiny`)."""
    cls = {"kimi_code": corpus_code.Params, "codex_cli": corpus_codex.Params}.get(args.provider, gen.Params)
    if tiny:
        return cls(
            sessions=args.many_files, size_mb=0.0, seed=args.seed, subagents=False, tiny=True, now=args.now
        )
    return cls(args.sessions, args.size_mb, args.seed, args.subagents, False, now=args.now)


# --------------------------------------------------------------------------------------------------
# Output comparison.


def normalise(output: bytes) -> Any:
    """The snapshot document without `generated_at` (anywhere), or None when it is not JSON."""
    try:
        doc = json.loads(output)
    except ValueError:
        return None

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "generated_at"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(doc)


def differences(a: Any, b: Any, path: str = "$", limit: int = 8) -> list[str]:
    found: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y), key=str):
                if key not in x or key not in y:
                    found.append(f"{where}.{key}: only in {'second' if key not in x else 'first'}")
                else:
                    walk(x[key], y[key], f"{where}.{key}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                found.append(f"{where}: {len(x)} items vs {len(y)}")
            for i, (u, v) in enumerate(zip(x, y, strict=False)):
                walk(u, v, f"{where}[{i}]")
        elif x != y:
            found.append(f"{where}: {x!r} vs {y!r}")

    walk(a, b, path)
    return found


@dataclass
class Agreement:
    """Do outputs that must be equal agree? Keeps the first disagreement of each kind."""

    compared: int = 0
    mismatches: int = 0
    first: list[str] = field(default_factory=list)

    def check(self, label: str, a: Any, b: Any) -> None:
        self.compared += 1
        if a is None or b is None:
            self.mismatches += 1
            self.first = self.first or [f"{label}: output is not JSON"]
            return
        diff = differences(a, b)
        if diff:
            self.mismatches += 1
            if not self.first:
                self.first = [f"{label}: {d}" for d in diff]

    def as_json(self) -> Json:
        return {
            "compared": self.compared,
            "agree": self.mismatches == 0,
            "mismatches": self.mismatches,
            "first_differences": self.first,
        }


def ground_truth(doc: Any, manifest: Json | None, now: str | None) -> Json:
    """Compare the kimi_cli snapshot with the figures the generator knows it wrote."""
    if manifest is None or "expected" not in manifest:
        return {"checked": False, "reason": "no generator manifest"}
    if manifest_provider(manifest) == "kimi_code":
        return ground_truth_code(doc, manifest, now)
    if manifest_provider(manifest) == "codex_cli":
        return ground_truth_codex(doc, manifest, now)
    expected = manifest["expected"]
    if now != manifest["params"]["now"]:
        return {"checked": False, "reason": "the clock is not pinned to the manifest's instant"}
    snapshots = doc.get("snapshots", []) if isinstance(doc, dict) else []
    kimi = next((s for s in snapshots if s.get("provider_id") == "kimi_cli"), None)
    if kimi is None:
        return {"checked": True, "agree": False, "differences": ["no kimi_cli snapshot in the output"]}
    got = {
        "metrics": {name: kimi.get("metrics", {}).get(name, {}).get("used") for name in expected["metrics"]},
        "models": counted(kimi.get("models")),
        "daily_series": kimi.get("daily_series"),
    }
    want = {k: expected[k] for k in ("metrics", "models", "daily_series")}
    want["models"] = model_rows(expected["models"], doc.get("schema"))
    diff = differences(got, want, limit=12)
    return {"checked": True, "agree": not diff, "differences": diff}


COUNT_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# Estimates at list prices: the generator knows counts, not prices (cost is checked by tests/test_cost.py).
PRICE_KEYS = ("cost_usd", "unpriced_requests")


def counted(rows: Any) -> Any:
    """A snapshot's model rows without their cost keys, for comparison with the generator's figures."""
    if not isinstance(rows, list):
        return rows
    return [{k: v for k, v in row.items() if k not in PRICE_KEYS} if isinstance(row, dict) else row
            for row in rows]


def model_rows(rows: list[Json], schema: Any) -> list[Json]:
    """The generator's expected model rows as a snapshot of `schema` writes them, rebuilt from the four
    counts: `openusage.snapshot/1` named the sum of all four `total_tokens`; from /2 on `total_tokens`
    is input + output and the four-count sum is `all_tokens`. So a corpus generated before /2 still
    checks a current openusage, and a current corpus an older one (the interleaved comparison)."""
    shaped: list[Json] = []
    for row in rows:
        counts = [row[name] for name in COUNT_KEYS]
        out = {k: v for k, v in row.items() if k not in ("total_tokens", "all_tokens")}
        if schema == "openusage.snapshot/1":
            out["total_tokens"] = sum(counts)
        else:
            out["total_tokens"] = counts[0] + counts[1]
            out["all_tokens"] = sum(counts)
        shaped.append(out)
    return shaped


CORE_METRICS = ("total_input_tokens", "total_output_tokens", "total_cache_read", "total_cache_write")
CORE_DIAGNOSTICS = ("records_counted", "duplicate_records", "records_by_scope")


def ground_truth_code(doc: Any, manifest: Json, now: str | None) -> Json:
    """Compare the kimi_code snapshot with the generator's figures. Core: the four token totals,
    records counted, copies folded and calls by scope (clock-free). Extended, when the clock is pinned:
    sessions all / today / 7 d, compaction, per-model rows (the llm.request model) and daily series."""
    expected = manifest["expected"]
    snapshots = doc.get("snapshots", []) if isinstance(doc, dict) else []
    code = next((s for s in snapshots if isinstance(s, dict) and s.get("provider_id") == "kimi_code"), None)
    if code is None:
        found = [s.get("provider_id") for s in snapshots if isinstance(s, dict)]
        return {
            "checked": True,
            "agree": False,
            "core_agree": False,
            "differences": [
                f"no kimi_code snapshot in the output (providers there: {found or 'none'}): "
                "this openusage does not read Kimi Code homes (KIMI_CODE_HOME) yet, "
                "or did not detect this one"
            ],
        }
    metrics = code.get("metrics") or {}
    diagnostics = code.get("diagnostics") or {}

    def used(name: str) -> Any:
        metric = metrics.get(name)
        return metric.get("used") if isinstance(metric, dict) else None

    got_core = {
        "metrics": {name: used(name) for name in CORE_METRICS},
        "diagnostics": {name: diagnostics.get(name) for name in CORE_DIAGNOSTICS},
    }
    want_core = {
        "metrics": {name: expected["metrics"][name] for name in CORE_METRICS},
        "diagnostics": {name: expected["diagnostics"][name] for name in CORE_DIAGNOSTICS},
    }
    core = differences(got_core, want_core, limit=12)
    if code.get("status") != "ok":
        core.insert(0, f"kimi_code status {code.get('status')!r}: {code.get('message')}")
    result: Json = {"checked": True, "core_agree": not core, "differences": core}
    if now != manifest["params"]["now"]:
        result["agree"] = not core
        result["extended"] = {"checked": False, "reason": "the clock is not pinned to the manifest's instant"}
        return result
    rest = [name for name in expected["metrics"] if name not in CORE_METRICS]
    got_ext = {
        "metrics": {name: used(name) for name in rest},
        "models": counted(code.get("models")),
        "daily_series": code.get("daily_series"),
    }
    want_ext = {
        "metrics": {name: expected["metrics"][name] for name in rest},
        "models": model_rows(expected["models"], doc.get("schema")),
        "daily_series": expected["daily_series"],
    }
    ext = differences(got_ext, want_ext, limit=12)
    result["extended"] = {"checked": True, "agree": not ext, "differences": ext}
    result["agree"] = not core and not ext
    return result


def ground_truth_codex(doc: Any, manifest: Json, now: str | None) -> Json:
    """Compare the codex_cli snapshot with the figures bench.corpus_codex computed from what it wrote:
    metrics, per-model rows, daily series, calls and copies folded."""
    if now != manifest["params"]["now"]:
        return {"checked": False, "reason": "the clock is not pinned to the manifest's instant"}
    expected = manifest["expected"]
    snapshots = doc.get("snapshots", []) if isinstance(doc, dict) else []
    codex = next((s for s in snapshots if isinstance(s, dict) and s.get("provider_id") == "codex_cli"), None)
    if codex is None:
        return {"checked": True, "agree": False, "differences": ["no codex_cli snapshot in the output"]}
    got = {
        "metrics": {name: codex.get("metrics", {}).get(name, {}).get("used") for name in expected["metrics"]},
        "models": counted(codex.get("models")),
        "daily_series": codex.get("daily_series"),
        "diagnostics": {name: codex.get("diagnostics", {}).get(name) for name in expected["diagnostics"]},
    }
    # The model rows as the output's schema names them (`total_tokens` is input + output from /2 on).
    want = {**expected, "models": model_rows(expected["models"], doc.get("schema"))}
    _reasoning_where_both_have_it(got, want)
    diff = differences(got, want, limit=12)
    return {"checked": True, "agree": not diff, "differences": diff}


# --------------------------------------------------------------------------------------------------
# Machine.


def _reasoning_where_both_have_it(got: Json, want: Json) -> None:
    """Reasoning tokens are compared when both sides know them: a corpus generated before the manifest
    kept them, or an openusage from before it reported them (the interleaved comparison), checks all
    the rest."""
    key = "reasoning_output_tokens"
    rows = [row for side in (got, want) if isinstance(side["models"], list) for row in side["models"]]
    if not all(isinstance(row, dict) and key in row for row in rows) \
            or got["metrics"].get(key, 0) is None or key not in want["metrics"]:
        for row in rows:
            if isinstance(row, dict):
                row.pop(key, None)
        got["metrics"].pop(key, None)
        want["metrics"] = {name: value for name, value in want["metrics"].items() if name != key}


def machine_info() -> Json:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except (OSError, ValueError):
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
    }


def openusage_command(arg: str | None) -> list[str]:
    if arg:
        return shlex.split(arg)
    script = Path(sys.executable).parent / "openusage"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "openusage"]


def compile_installed() -> str | None:
    """Byte-compile the openusage the bench measures, as `pip install` does for a regular install.
    An editable install run with PYTHONDONTWRITEBYTECODE set (as in this workplace) would otherwise
    compile every module again on every run, ~40 ms that no installed user pays. Returns the package
    directory compiled, or None when it cannot be found."""
    found = subprocess.run(
        [sys.executable, "-c", "import os, openusage; print(os.path.dirname(openusage.__file__))"],
        capture_output=True, text=True, check=False,
    )
    package = found.stdout.strip()
    if found.returncode != 0 or not package:
        return None
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=False)
    return package


def source_revision() -> str | None:
    """The git commit of the openusage being measured, when it runs from a checkout."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import openusage, os; print(os.path.dirname(openusage.__file__))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        rev = subprocess.run(
            ["git", "-C", probe.stdout.strip(), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() or None


# --------------------------------------------------------------------------------------------------
# The benchmark.


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cmd = openusage_command(args.openusage_cmd)
        self.work = Path(tempfile.mkdtemp(prefix="openusage-bench-run-"))
        self.home = self.work / "home"
        self.home.mkdir()
        self.launcher = Launcher(self.work)
        self.now: str | None = None if args.no_pin_clock else args.now
        self.series = {key: Series(key, title) for key, title in SCENARIOS.items()}
        self.bcd = Agreement()
        self.e_vs_cold = Agreement()
        self.max_rss_any = 0.0
        self.reference: Any = None
        self.have_reference = False
        self.first_output: Any = None
        self.cache_seq = 0
        self.appender: gen.Generator | corpus_code.Generator | corpus_codex.Generator | None = None
        self.leaks: list[str] = []  # outputs that showed a config secret
        self.peers: peers.PeerSet | None = None
        self.corpus_untouched: bool | None = None

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # -- environment and runs

    def env(self, root: Path, cache: Path) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("KIMI_CODE_HOME", "CODEX_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
                    "OPENUSAGE_NOW", "OPENUSAGE_CONFIG"):
            env.pop(var, None)
        env.pop("KIMI_SHARE_DIR", None)
        env.update(
            # No other agent's real files are found by auto-detection, and the default settings file
            # (under this HOME) does not exist: the defaults. A file OPENUSAGE_CONFIG names must exist.
            HOME=str(self.home),
            OPENUSAGE_CACHE_DIR=str(cache),
        )
        # Only the measured provider's home is set: the other one is not detected (HOME is empty).
        env[HOME_VARIABLES[self.args.provider]] = str(root)
        if self.now is not None:
            env["OPENUSAGE_NOW"] = self.now
        return env

    def fresh_cache(self) -> Path:
        self.cache_seq += 1
        path = self.work / f"cache-{self.cache_seq}"
        path.mkdir()
        return path

    def openusage(self, root: Path, cache: Path, *extra: str) -> Run:
        run = self.launcher.run([*self.cmd, "snapshot", "--json", *extra], env=self.env(root, cache))
        self.max_rss_any = max(self.max_rss_any, run.rss_mib)
        if run.returncode != 0:
            tail = run.stderr.decode(errors="replace").strip().splitlines()[-15:]
            raise SystemExit(
                f"bench: {' '.join(self.cmd)} snapshot --json {' '.join(extra)} exited {run.returncode}:\n  "
                + "\n  ".join(tail)
            )
        return run

    def cat(self, list_file: Path) -> Run:
        run = self.launcher.run(["xargs", "-0", "-s", "1000000", "cat"], stdin=list_file, capture=False)
        if run.returncode != 0:
            raise SystemExit(f"bench: cat failed: {run.stderr.decode(errors='replace')[-500:]}")
        return run

    # -- scenarios

    def run_main(self, root: Path, wires: list[Path]) -> None:
        args = self.args
        list_file = self.work / "wire-files.list"
        list_file.write_bytes(b"\0".join(os.fsencode(p) for p in wires) + b"\0")
        only = set(args.only)
        self.log("warming the page cache (cat, untimed) ...")
        self.cat(list_file)
        cache_d = self.fresh_cache()
        cache_e = self.fresh_cache()
        d_dirty = e_dirty = True
        targets = self.append_targets(wires, args.append_files)
        per_file = max(1, args.append_kb * 1024 // max(1, len(targets)))
        manifest = gen.read_manifest(root)
        start = gen.parse_instant(manifest["params"]["end"]) if manifest else time.time() - 3600.0
        before = self.start_peers(root)
        for rep in range(args.repeat):
            if "a" in only:
                self.record("a", rep, self.cat(list_file))
            if "b" in only:
                run = self.openusage(root, self.fresh_cache(), "--no-cache")
                self.record("b", rep, run)
                self.compare_bcd("b", rep, run)
            if "c" in only:
                cache = self.fresh_cache()
                run = self.openusage(root, cache)
                self.record("c", rep, run)
                self.compare_bcd("c", rep, run)
                shutil.rmtree(cache, ignore_errors=True)
            if "d" in only:
                if d_dirty:
                    self.compare_bcd("d-prime", rep, self.openusage(root, cache_d))
                    d_dirty = False
                run = self.openusage(root, cache_d)
                self.record("d", rep, run)
                self.compare_bcd("d", rep, run)
            if "e" in only:
                if e_dirty:
                    self.openusage(root, cache_e)
                self.append(root, targets, per_file, rep, start)
                try:
                    run = self.openusage(root, cache_e)
                    self.record("e", rep, run)
                    cold = self.openusage(root, self.fresh_cache(), "--no-cache")
                    self.e_vs_cold.check(
                        f"e round {rep + 1} vs --no-cache", normalise(run.stdout), normalise(cold.stdout)
                    )
                finally:
                    restore_appends(root)
                d_dirty = e_dirty = True
            if self.peers is not None:
                self.peers.run_round(self.peer_run, self.log, rep, args.repeat)
        if before is not None:
            self.corpus_untouched = peers.corpus_listing(root, APPEND_JOURNAL) == before

    def start_peers(self, root: Path) -> set[str] | None:
        """Find the peers (one line for each skipped); the corpus's file list when any will run."""
        args = self.args
        if args.no_peers:
            return None
        flags = {name: getattr(args, name) for name in peers.PEER_NAMES}
        self.peers = peers.discover(args.provider, self.work, root, flags, os.environ, self.log)
        return peers.corpus_listing(root, APPEND_JOURNAL) if self.peers.peers else None

    def peer_run(self, cmd: Sequence[str], env: dict[str, str]) -> Run:
        return self.launcher.run(cmd, env=env)

    def peer_section(self) -> Json | None:
        """The peers' figures and the issue-21 targets; openusage's cold is the first run (c), the
        cold run a user meets, or the --no-cache scan (b) when c was not run."""
        if self.peers is None:
            return None
        cold_key = "c" if self.series["c"].times else "b"
        cold = self.series[cold_key]
        warm = self.series["d"]
        return peers.report(
            self.peers, self.first_output,
            (cold_key, cold.median() if cold.times else None),
            warm.median() if warm.times else None,
            self.corpus_untouched,
        )

    def record(self, key: str, rep: int, run: Run) -> None:
        self.series[key].add(run)
        self.log(
            f"  round {rep + 1}/{self.args.repeat}  {key}  {run.wall:8.3f} s  {run.rss_mib:7.1f} MiB  "
            f"{SCENARIOS[key]}"
        )

    def compare_bcd(self, label: str, rep: int, run: Run) -> None:
        if any(key in run.stdout for key in FAKE_KEYS) and len(self.leaks) < 5:
            self.leaks.append(f"{label} round {rep + 1}")
        doc = normalise(run.stdout)
        if not self.have_reference:
            self.have_reference = True
            self.reference = doc
            self.first_output = doc
            if doc is None:
                self.bcd.check(f"{label} round {rep + 1}", None, None)
            self.announce(doc)
            return
        self.bcd.check(f"{label} round {rep + 1} vs first output", self.reference, doc)

    def announce(self, doc: Any) -> None:
        """Say at once when the measured provider is missing from the output (work in progress)."""
        snapshots = doc.get("snapshots", []) if isinstance(doc, dict) else []
        ids = [s.get("provider_id") for s in snapshots if isinstance(s, dict)]
        if self.args.provider not in ids:
            self.log(
                f"bench: NOTE the output has no {self.args.provider} snapshot (providers: {ids or 'none'}); "
                "timings go on, the ground truth check will fail"
            )

    def append_targets(self, wires: list[Path], count: int) -> list[Path]:
        rng = random.Random(self.args.seed * 31 + 7)
        candidates = []
        for path in wires:
            if "subagents" in path.parts:  # Kimi CLI: the main wire files only
                continue
            if self.args.provider == "kimi_code" and path.parent.name != "main":  # Kimi Code: agents/main
                continue
            if self.args.provider == "codex_cli" and "archived_sessions" in path.parts:  # Codex: live ones
                continue
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 1))
                if f.read(1) == b"\n":
                    candidates.append(path)
        return rng.sample(candidates, min(count, len(candidates)))

    def append(self, root: Path, targets: list[Path], per_file: int, rep: int, start: float) -> None:
        if self.appender is None:
            if self.args.provider == "codex_cli":
                self.appender = corpus_codex.Generator(corpus_codex.Params(seed=self.args.seed + 1000))
            else:
                code = self.args.provider == "kimi_code"
                self.appender = (corpus_code.Generator if code else gen.Generator)(self.args.seed + 1000)
        journal = {str(p): p.stat().st_size for p in targets}
        (root / APPEND_JOURNAL).write_text(json.dumps(journal))
        end = gen.parse_instant(self.now) - 1.0 if self.now else time.time()
        for i, path in enumerate(targets):
            seed = self.args.seed * 1_000_003 + rep * 101 + i
            begin = min(start + rep * 120.0 + i, end - 600.0)
            self.appender.append_activity(path, per_file, seed, begin, end)

    def run_many_files(self) -> Json:
        args = self.args
        params = make_params(args, tiny=True)
        given = args.many_files_corpus is not None
        root = ensure_corpus(args.many_files_corpus or default_corpus_dir(params), params, self.log, given)
        wires = find_wire_files(root, args.provider)
        stats = corpus_stats(root, wires, args.provider)
        list_file = self.work / "tiny-files.list"
        list_file.write_bytes(b"\0".join(os.fsencode(p) for p in wires) + b"\0")
        self.log(f"many files: {len(wires):,} wire files, {stats['wire_bytes'] / MIB:,.1f} MiB")
        self.cat(list_file)
        cat = Series("a", "cat")
        for _ in range(args.repeat):
            cat.add(self.cat(list_file))
        cache = self.fresh_cache()
        first = self.openusage(root, cache)
        self.log(f"  first run (empty cache) {first.wall:.3f} s, {first.rss_mib:.1f} MiB")
        warm = Series("d", "warm, nothing changed")
        agreement = Agreement()
        first_doc = normalise(first.stdout)
        for rep in range(args.repeat):
            run = self.openusage(root, cache)
            warm.add(run)
            agreement.check(f"warm round {rep + 1} vs first run", first_doc, normalise(run.stdout))
            self.log(f"  round {rep + 1}/{args.repeat}  warm  {run.wall:8.3f} s  {run.rss_mib:7.1f} MiB")
        return {
            "corpus": stats,
            "cat": cat.as_json(),
            "first_run_s": round(first.wall, 4),
            "first_run_rss_mib": round(first.rss_mib, 1),
            "warm": warm.as_json(),
            "peak_rss_mib": round(max([first.rss_mib, *warm.rss]), 1),
            "warm_equals_first": agreement.as_json(),
            "ground_truth": ground_truth(first_doc, gen.read_manifest(root), self.now),
        }

    def startup(self) -> float:
        times = [self.launcher.run([sys.executable, "-c", "pass"]).wall for _ in range(5)]
        return statistics.median(times)

    def rss_floor(self) -> float:
        """The peak RSS reported for a trivial command: what the launcher itself adds to every figure."""
        return self.launcher.run(["true"]).rss_mib


# --------------------------------------------------------------------------------------------------
# Report.


def evaluate_targets(series: dict[str, Series], main_rss: float, many_rss: float | None) -> list[Json]:
    a = series["a"].median() if series["a"].times else None
    rows: list[Json] = []

    def row(name: str, measured: float | None, limit: float, unit: str) -> None:
        ok = None if measured is None or math.isnan(measured) else measured <= limit
        rows.append({"target": name, "limit": limit, "measured": measured, "unit": unit, "pass": ok})

    def ratio(key: str) -> float | None:
        return series[key].median() / a if a and series[key].times else None

    row("b/a cold scan vs cat", ratio("b"), 1.0, "x")
    row("c/a first run vs cat", ratio("c"), 1.3, "x")
    row("d warm, nothing changed", series["d"].median() if series["d"].times else None, 0.15, "s")
    row("e warm after 1 MB appended", series["e"].median() if series["e"].times else None, 0.25, "s")
    row("peak RSS, any run on the main corpus", main_rss or None, 80.0, "MiB")
    if many_rss is not None:
        row("peak RSS, any many-files run", many_rss, 80.0, "MiB")
    return rows


def _print_truth(label: str, gt: Json) -> None:
    if not gt.get("checked"):
        print(f"         {label}: not checked ({gt.get('reason')})")
        return
    if "core_agree" not in gt:
        print(f"         {label}: {'yes' if gt['agree'] else 'NO'}")
        for line in gt["differences"]:
            print(f"           {line}")
        return
    # Kimi Code: the clock-free core (totals, calls, copies, scopes), then the rest.
    print(f"         {label}, totals / calls / copies / scopes: {'yes' if gt['core_agree'] else 'NO'}")
    for line in gt["differences"]:
        print(f"           {line}")
    ext = gt.get("extended")
    if ext is None:
        return
    if not ext.get("checked"):
        print(f"         {label}, sessions / models / daily: not checked ({ext.get('reason')})")
        return
    print(f"         {label}, sessions / models / daily: {'yes' if ext['agree'] else 'NO'}")
    for line in ext["differences"]:
        print(f"           {line}")


def _print_corpus(provider: str, c: Json) -> None:
    print(
        f"corpus   {provider} home {c['path']}: {c['sessions']:,} sessions, {c['wire_files']:,} wire files, "
        f"{c['wire_bytes']:,} bytes ({c['wire_bytes'] / MIB:,.1f} MiB)"
    )
    gstats = c.get("generator", {}).get("stats")
    if not gstats:
        return
    if provider == "codex_cli":
        print(
            f"         token_count lines {gstats['usage_lines']:,} (distinct calls {gstats['calls']:,}), "
            f"threads {gstats['threads']:,} (forks {gstats['forks']:,}, subagents {gstats['subagents']:,}), "
            f"archived {gstats['archived']:,}, deleted parents {gstats['deleted']:,}, "
            f"longest line {gstats['max_line'] / MIB:.2f} MiB"
        )
        return
    counts = gstats["counts"]
    print(
        f"         usage lines {counts['usage_lines']:,} (distinct calls {gstats['calls']:,}), "
        f"forks {gstats['forks']:,}, longest line {counts['max_line'] / MIB:.1f} MiB"
    )
    scopes = gstats.get("calls_by_scope")
    if scopes:
        print(
            f"         calls by scope: turn {scopes['turn']:,}, session (compaction) {scopes['session']:,}; "
            f"copies folded {gstats['duplicate_records']:,}; all-zero lines {counts['zero_usage_lines']:,}"
        )


def print_report(doc: Json) -> None:
    m = doc["machine"]
    c = doc["corpus"]
    settings = doc["settings"]
    print()
    print(f"machine  {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gib']} GiB")
    print(
        f"python   {m['python']} ({m['python_executable']}); openusage: {' '.join(doc['command'])}"
        + (f" @ {doc['revision']}" if doc.get("revision") else "")
    )
    _print_corpus(doc.get("provider", "kimi_cli"), c)
    print(
        f"clock    OPENUSAGE_NOW={settings['now'] or '(not pinned)'}; repeat {settings['repeat']}; "
        f"append {settings['append_kb']} KiB over {settings['append_files']} files"
    )
    print(
        f"startup  python -c pass: {doc['python_startup_s'] * 1000:.0f} ms; "
        f"RSS floor (launcher, `true`): {doc['rss_floor_mib']:.1f} MiB"
    )
    print()
    print(f"{'':3}{'scenario':38}{'median':>10}{'min':>10}{'peak RSS':>12}{'ratio to a':>12}{'CPU':>9}")
    a = doc["scenarios"]["a"]["median_s"]
    for key, s in doc["scenarios"].items():
        if s["median_s"] is None:
            continue
        ratio = f"{s['median_s'] / a:.2f}x" if a and key != "a" else ""
        print(
            f"{key:3}{s['title']:38}{s['median_s']:>9.3f}s{s['min_s']:>9.3f}s{s['peak_rss_mib']:>8.1f} MiB"
            f"{ratio:>12}{s.get('median_cpu_s') or 0:>8.3f}s"
        )
    mf = doc.get("many_files")
    if mf:
        warm = mf["warm"]
        files = mf["corpus"]["wire_files"]
        print(
            f"{'mf':3}{f'warm, {files:,} tiny files':38}{warm['median_s']:>9.3f}s{warm['min_s']:>9.3f}s"
            f"{warm['peak_rss_mib']:>8.1f} MiB"
        )
        print(
            f"{'':3}{'  (first run there':38}{mf['first_run_s']:>9.3f}s; "
            f"cat {mf['cat']['median_s']:.3f} s for {mf['corpus']['wire_bytes'] / MIB:,.1f} MiB)"
        )
    print()
    agree = doc["agreement"]
    bcd = agree["b_c_d_identical"]
    print(
        f"outputs  b, c, d identical (minus generated_at): {'yes' if bcd['agree'] else 'NO'} "
        f"({bcd['compared']} comparisons)"
    )
    for line in bcd["first_differences"]:
        print(f"           {line}")
    e = agree["e_matches_no_cache"]
    if e["compared"]:
        print(
            f"         e equals a --no-cache run after the appends: {'yes' if e['agree'] else 'NO'} "
            f"({e['compared']} comparisons)"
        )
        for line in e["first_differences"]:
            print(f"           {line}")
    _print_truth("figures equal the generator's ground truth", agree["ground_truth"])
    leaks = agree.get("no_secret_in_output")
    if leaks is not None:
        shown = "none" if leaks["agree"] else "SHOWN in " + ", ".join(leaks["leaked_in"])
        print(f"         config secrets in the output: {shown}")
    if mf:
        same = mf["warm_equals_first"]
        print(f"         many files: warm equals first run: {'yes' if same['agree'] else 'NO'}")
        for line in same["first_differences"]:
            print(f"           {line}")
        _print_truth("many files: figures equal the ground truth", mf["ground_truth"])
    print()
    print("targets (issue 8" + (", for Kimi Code by issue 9)" if doc.get("provider") == "kimi_code" else ")"))
    for t in doc["targets"]:
        verdict = "n/a " if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        measured = "-" if t["measured"] is None else f"{t['measured']:.3f} {t['unit']}"
        print(f"  {verdict}  {t['target']:34} {measured:>14}   (limit {t['limit']} {t['unit']})")
    if doc.get("peers"):
        peers.print_section(doc["peers"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    p.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="kimi_cli",
        help="which agent's home to measure: kimi_cli (KIMI_SHARE_DIR), kimi_code (KIMI_CODE_HOME) or "
        "codex_cli (CODEX_HOME)",
    )
    p.add_argument("--corpus", type=Path, help="a Kimi home to use, or where to generate one")
    p.add_argument("--size-mb", type=float, default=1024.0)
    p.add_argument("--sessions", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--subagents", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--many-files", type=int, default=100_000, help="tiny sessions in the many-files corpus")
    p.add_argument("--many-files-corpus", type=Path, help="where the many-files corpus lives")
    p.add_argument("--skip-many-files", action="store_true")
    p.add_argument("--append-kb", type=int, default=1024, help="KiB appended per round of e, in total")
    p.add_argument("--append-files", type=int, default=10)
    p.add_argument("--only", default="abcde", help="the scenarios to run, e.g. 'ade'")
    p.add_argument(
        "--openusage-cmd", help="the command to measure (default: openusage beside sys.executable)"
    )
    p.add_argument("--now", default=gen.DEFAULT_NOW, help="OPENUSAGE_NOW for every run (the corpus clock)")
    p.add_argument("--no-pin-clock", action="store_true", help="let openusage use the real time")
    for name in peers.PEER_NAMES:
        p.add_argument(
            f"--{name}", metavar="PATH",
            help=f"the {name} executable to time beside openusage (default: ${peers.ENV_VARIABLES[name]}, "
            f"else {name} on PATH, else skipped)",
        )
    p.add_argument("--no-peers", action="store_true", help="time no peer")
    args = p.parse_args(argv)
    if args.repeat < 1 or not set(args.only) <= set(SCENARIOS):
        p.error("--repeat must be at least 1 and --only a subset of 'abcde'")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    compiled = compile_installed() if args.openusage_cmd is None else None
    if compiled is not None:
        bench.log(f"byte-compiled {compiled} (as pip install does), so no run pays for compiling it")
    try:
        probe = bench.launcher.run([*bench.cmd, "--help"])
        if probe.returncode != 0:
            bench.log(f"bench: `{' '.join(bench.cmd)} --help` exited {probe.returncode}:")
            bench.log(probe.stderr.decode(errors="replace")[-2000:])
            return 2
        params = make_params(args)
        directory = args.corpus or default_corpus_dir(params)
        appends = "e" in args.only
        locked = directory.is_dir()
        if locked:  # before ensure_corpus, which may repair another run's appends
            lock_corpus(directory, appends, bench.log)
        root = ensure_corpus(directory, params, bench.log, args.corpus is not None)
        if not locked:  # generated just now
            lock_corpus(root, appends, bench.log)
        wires = find_wire_files(root, args.provider)
        stats = corpus_stats(root, wires, args.provider)
        bench.log(
            f"corpus {root}: {len(wires):,} wire files, {stats['wire_bytes'] / MIB:,.1f} MiB; "
            f"measuring {' '.join(bench.cmd)}"
        )
        bench.run_main(root, wires)
        main_rss = bench.max_rss_any
        many = None if args.skip_many_files or args.many_files <= 0 else bench.run_many_files()
        manifest = gen.read_manifest(root)
        doc: Json = {
            "schema": "openusage.bench/1",
            "provider": args.provider,
            "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "command": bench.cmd,
            # Only of the openusage this interpreter imports: a command named by --openusage-cmd may be
            # another install (a venv of another commit), whose commit is not known here.
            "revision": source_revision() if args.openusage_cmd is None else None,
            "byte_compiled": compiled,
            "machine": machine_info(),
            "python_startup_s": round(bench.startup(), 4),
            "rss_floor_mib": round(bench.rss_floor(), 1),
            "corpus": stats,
            "settings": {
                "repeat": args.repeat,
                "now": bench.now,
                "append_kb": args.append_kb,
                "append_files": args.append_files,
                "scenarios": args.only,
            },
            "scenarios": {k: s.as_json() for k, s in bench.series.items()},
            "many_files": many,
            "peers": bench.peer_section(),
        }
        a = bench.series["a"].median() if bench.series["a"].times else None
        doc["ratios"] = {
            f"{k}/a": round(bench.series[k].median() / a, 3) if a and bench.series[k].times else None
            for k in "bcde"
        }
        doc["peak_rss_any_openusage_mib"] = round(bench.max_rss_any, 1)
        doc["targets"] = evaluate_targets(bench.series, main_rss, many["peak_rss_mib"] if many else None)
        doc["agreement"] = {
            "b_c_d_identical": bench.bcd.as_json(),
            "e_matches_no_cache": bench.e_vs_cold.as_json(),
            "no_secret_in_output": {"agree": not bench.leaks, "leaked_in": bench.leaks},
            "ground_truth": ground_truth(bench.first_output, manifest, bench.now)
            if bench.first_output is not None
            else {"checked": False, "reason": "no b, c or d output"},
        }
        print_report(doc)
        if args.json:
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
            print(f"\nwrote {args.json}")
        return 0
    finally:
        bench.launcher.close()
        shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
