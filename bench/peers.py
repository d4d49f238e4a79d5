"""The peers `python -m bench` times beside openusage (issue 21): ccusage and tokscale.

Owns finding a peer (a flag, then an environment variable, then PATH; the bench never installs one),
asking it which of our agent homes it reads, pointing it at the corpus, what its cold and warm runs
are, the totals it reports, and the ratios to openusage with the issue's targets.

Every peer run gets HOME = a directory of the bench holding one link, named as the agent's default home
(`.kimi`, `.kimi-code` or `.codex`), to the corpus, and its XDG config / cache / data / state
directories in the bench's work directory, so nothing it keeps (settings, caches, pricing) lands in the
corpus or in the user's real home. Both peers find the three homes that way (checked on ccusage 20.0.24
and tokscale 4.17.0); see bench/README.md for what each reads.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Json = dict[str, Any]

PEER_NAMES = ("ccusage", "tokscale")
ENV_VARIABLES = {"ccusage": "OPENUSAGE_BENCH_CCUSAGE", "tokscale": "OPENUSAGE_BENCH_TOKSCALE"}
# The link in the peer's HOME: each agent's default home directory name.
DEFAULT_HOMES = {"kimi_cli": ".kimi", "kimi_code": ".kimi-code", "codex_cli": ".codex"}
# Variables that would point a peer elsewhere than the bench's HOME, or at the user's own state.
CLEARED = (
    "KIMI_SHARE_DIR", "KIMI_CODE_HOME", "KIMI_DATA_DIR", "CODEX_HOME", "CLAUDE_CONFIG_DIR",
    "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
    "TOKSCALE_CONFIG_DIR", "TOKSCALE_EXTRA_DIRS", "TOKSCALE_HEADLESS_DIR", "CCUSAGE_CONFIG",
)
TOTAL_KEYS = ("input", "output", "cache_read", "cache_write")
# openusage's snapshot metrics for the same four totals.
OUR_METRICS = {
    "input": "total_input_tokens",
    "output": "total_output_tokens",
    "cache_read": "total_cache_read",
    "cache_write": "total_cache_write",
}
# The targets: openusage's time over the peer's, at most this.
COLD_LIMIT = 0.8
WARM_LIMIT = 0.5
PROBE_TIMEOUT = 60


# --------------------------------------------------------------------------------------------------
# What each peer is.


@dataclass(frozen=True)
class Spec:
    """How one peer reads one of our providers' homes.

    `report` is the command after the binary (`{home}` is replaced by the peer's HOME); `probe` a cheap
    command whose success (and, with `needle`, whose help text naming the client) says this build reads
    that agent; `cached`: the peer keeps a cache of its own (then cold = cache removed, warm = primed);
    `totals` reads the four token totals (and the calls, when the peer reports them) from its output."""

    report: tuple[str, ...]
    probe: tuple[str, ...]
    needle: str | None
    cached: bool
    totals: Callable[[Any], Json | None]


def _ccusage_totals(doc: Any) -> Json | None:
    totals = doc.get("totals") if isinstance(doc, dict) else None
    if not isinstance(totals, dict):
        return None
    keys = {"input": "inputTokens", "output": "outputTokens", "cache_read": "cacheReadTokens",
            "cache_write": "cacheCreationTokens"}
    return {ours: totals.get(theirs) for ours, theirs in keys.items()}


def _tokscale_totals(doc: Any) -> Json | None:
    if not isinstance(doc, dict) or "totalInput" not in doc:
        return None
    keys = {"input": "totalInput", "output": "totalOutput", "cache_read": "totalCacheRead",
            "cache_write": "totalCacheWrite", "calls": "totalMessages"}
    return {ours: doc.get(theirs) for ours, theirs in keys.items()}


def _ccusage(agent: str) -> Spec:
    # `--offline`: its embedded prices, no fetch from the network inside a timed run. It keeps no
    # usage cache, so every run is cold.
    return Spec((agent, "daily", "--json", "--offline"), (agent, "--help"), None, False, _ccusage_totals)


def _tokscale(client: str) -> Spec:
    # `--home`: where it looks for `.kimi`, `.kimi-code` (both as client `kimi`) and `.codex`.
    return Spec(
        ("models", "--json", "--no-spinner", "-c", client, "--home", "{home}"),
        ("models", "--help"), client, True, _tokscale_totals,
    )


# Both read Kimi CLI and Kimi Code homes with one command (`kimi`), each from its default home.
SPECS: dict[str, dict[str, Spec]] = {
    "ccusage": {"kimi_cli": _ccusage("kimi"), "kimi_code": _ccusage("kimi"), "codex_cli": _ccusage("codex")},
    "tokscale": {
        "kimi_cli": _tokscale("kimi"), "kimi_code": _tokscale("kimi"), "codex_cli": _tokscale("codex"),
    },
}


# --------------------------------------------------------------------------------------------------
# Finding a peer.


@dataclass(frozen=True)
class Located:
    name: str
    path: str | None
    how: str  # the flag, the variable or "PATH" that named it; why it is missing otherwise


def locate(name: str, flag: str | None, environ: Mapping[str, str]) -> Located:
    """The peer's executable: the flag's value, else the variable's, else `name` on PATH."""
    variable = ENV_VARIABLES[name]
    search = environ.get("PATH", os.defpath)
    if flag or environ.get(variable):
        how = f"--{name}" if flag else variable
        given = flag or environ[variable]
        path = shutil.which(given, path=search) if os.sep not in given else given
        if path is None or not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return Located(name, None, f"{how}={given} is not an executable file")
        return Located(name, os.path.abspath(path), how)
    path = shutil.which(name, path=search)
    if path is None:
        return Located(name, None, f"not on PATH, {variable} unset, no --{name}")
    return Located(name, os.path.abspath(path), "PATH")


def peer_env(base: Mapping[str, str], home: Path, state: Path) -> dict[str, str]:
    """The environment of every peer run: our HOME, its state under `state`, no colour, no prices
    fetched (tokscale: the cached prices only; ccusage gets `--offline`)."""
    env = {k: v for k, v in base.items() if k not in CLEARED and not k.startswith("OPENUSAGE_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(state / "config"),
        XDG_CACHE_HOME=str(state / "cache"),
        XDG_DATA_HOME=str(state / "data"),
        XDG_STATE_HOME=str(state / "state"),
        TOKSCALE_PRICING_CACHE_ONLY="1",
        NO_COLOR="1",
    )
    return env


# --------------------------------------------------------------------------------------------------
# Runs.


class RunLike(Protocol):
    wall: float
    rss_mib: float
    returncode: int
    stdout: bytes
    stderr: bytes
    cpu: float


Runner = Callable[[Sequence[str], dict[str, str]], RunLike]


@dataclass
class Timing:
    """The timed runs of one peer scenario (cold or warm)."""

    times: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, run: RunLike) -> None:
        self.times.append(run.wall)
        self.rss.append(run.rss_mib)
        self.cpu.append(run.cpu)

    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    def as_json(self) -> Json:
        return {
            "times_s": [round(t, 4) for t in self.times],
            "median_s": round(statistics.median(self.times), 4) if self.times else None,
            "min_s": round(min(self.times), 4) if self.times else None,
            "rss_mib": [round(r, 1) for r in self.rss],
            "peak_rss_mib": round(max(self.rss), 1) if self.rss else None,
            # CPU seconds (user + system): on a shared machine, what a multi-threaded peer used
            # besides its wall time.
            "cpu_s": [round(c, 3) for c in self.cpu],
            "median_cpu_s": round(statistics.median(self.cpu), 3) if self.cpu else None,
        }


@dataclass
class Peer:
    """One peer that runs on this provider, with what it measured."""

    name: str
    path: str
    how: str
    version: str
    spec: Spec
    cold: Timing = field(default_factory=Timing)
    warm: Timing = field(default_factory=Timing)
    totals: Json | None = None
    runs_agree: int = 0
    runs_differ: int = 0
    failed: str | None = None

    def argv(self, home: Path) -> list[str]:
        return [self.path, *(part.replace("{home}", str(home)) for part in self.spec.report)]


@dataclass
class PeerSet:
    """The peers measured on one corpus, and the ones skipped (with the reason)."""

    provider: str
    work: Path
    peers: list[Peer] = field(default_factory=list)
    skipped: list[Json] = field(default_factory=list)
    seq: int = 0

    @property
    def home(self) -> Path:
        return self.work / "peer-home"

    def env(self, state: Path) -> dict[str, str]:
        return peer_env(os.environ, self.home, state)

    def fresh_state(self, name: str) -> Path:
        self.seq += 1
        path = self.work / f"peer-{name}-{self.seq}"
        path.mkdir(parents=True)
        return path

    def run_round(self, runner: Runner, log: Callable[[str], None], rep: int, repeat: int) -> None:
        """One round of every peer: a cold run (its cache removed: a new state directory), then, for a
        peer with a cache, a warm run on the cache that cold run left."""
        for peer in self.peers:
            if peer.failed:
                continue
            state = self.fresh_state(peer.name)
            try:
                keys = ("cold", "warm") if peer.spec.cached else ("cold",)
                for key in keys:
                    run = runner(peer.argv(self.home), self.env(state))
                    if not self.accept(peer, key, run, log):
                        break
                    log(f"  round {rep + 1}/{repeat}  {peer.name} {key:4}  {run.wall:8.3f} s  "
                        f"{run.rss_mib:7.1f} MiB")
            finally:
                shutil.rmtree(state, ignore_errors=True)

    def accept(self, peer: Peer, key: str, run: RunLike, log: Callable[[str], None]) -> bool:
        """Record a run; a peer that fails or prints no totals is dropped from the rest of the bench."""
        try:
            doc = json.loads(run.stdout)
        except ValueError:
            doc = None
        totals = peer.spec.totals(doc)
        if run.returncode != 0 or totals is None:
            tail = run.stderr.decode(errors="replace").strip().splitlines()[-3:]
            why = f"exited {run.returncode}" if run.returncode else "printed no totals"
            peer.failed = f"{key} run {why}: {' | '.join(tail)}"[:400]
            log(f"bench: {peer.name} {peer.failed}; not timed further")
            return False
        (peer.cold if key == "cold" else peer.warm).add(run)
        if peer.totals is None:
            peer.totals = totals
        elif totals == peer.totals:
            peer.runs_agree += 1
        else:
            peer.runs_differ += 1
        return True


def discover(
    provider: str,
    work: Path,
    root: Path,
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    log: Callable[[str], None],
) -> PeerSet:
    """The peers to time on this provider's home at `root`; one line for each one skipped."""
    found = PeerSet(provider, work)
    found.home.mkdir(parents=True, exist_ok=True)
    link = found.home / DEFAULT_HOMES[provider]
    if not link.is_symlink():
        link.symlink_to(root.resolve(), target_is_directory=True)
    for name in PEER_NAMES:
        where = locate(name, flags.get(name), environ)
        if where.path is None:
            skip(found, name, where.how, log)
            continue
        spec = SPECS[name][provider]
        env = found.env(found.fresh_state(name))
        version = ask(where.path, ["--version"], env)
        if version is None:
            skip(found, name, f"{where.path} --version failed: cannot run it", log)
            continue
        help_text = ask(where.path, list(spec.probe), env)
        if help_text is None or (spec.needle is not None and spec.needle not in help_text):
            probe = " ".join(spec.probe)
            skip(found, name, f"{version} does not read {provider} homes (`{name} {probe}` says no)", log)
            continue
        found.peers.append(Peer(name, where.path, where.how, version.strip().splitlines()[0], spec))
        log(f"peer {name}: {where.path} ({where.how}), {found.peers[-1].version}")
    return found


def skip(found: PeerSet, name: str, reason: str, log: Callable[[str], None]) -> None:
    found.skipped.append({"peer": name, "reason": reason})
    log(f"bench: peer {name} skipped on {found.provider}: {reason}")


def ask(path: str, args: list[str], env: dict[str, str]) -> str | None:
    """The stdout of an untimed helper command (version, help), or None when it cannot run or fails."""
    try:
        done = subprocess.run([path, *args], env=env, capture_output=True, text=True, check=False,
                              timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout.strip() else None


# --------------------------------------------------------------------------------------------------
# Comparison with openusage.


def our_totals(doc: Any, provider: str) -> Json | None:
    """The four token totals (and calls counted) of openusage's snapshot for `provider`."""
    snapshots = doc.get("snapshots", []) if isinstance(doc, dict) else []
    snap = next((s for s in snapshots if isinstance(s, dict) and s.get("provider_id") == provider), None)
    if snap is None:
        return None
    metrics = snap.get("metrics") or {}
    out: Json = {}
    for key, metric in OUR_METRICS.items():
        value = metrics.get(metric)
        out[key] = value.get("used") if isinstance(value, dict) else None
    out["calls"] = (snap.get("diagnostics") or {}).get("records_counted")
    return out


def compare_totals(theirs: Json | None, ours: Json | None) -> Json:
    """Each total the peer reports beside ours, with the difference (information, never a failure)."""
    rows: Json = {}
    if theirs is None or ours is None:
        return rows
    for key in (*TOTAL_KEYS, "calls"):
        peer, mine = theirs.get(key), ours.get(key)
        if not isinstance(peer, int) or not isinstance(mine, int):
            continue
        pct = round(100.0 * (peer - mine) / mine, 2) if mine else None
        rows[key] = {"peer": peer, "openusage": mine, "difference": peer - mine, "difference_pct": pct}
    return rows


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs <= 0:
        return None
    return round(ours / theirs, 3)


def targets(cold: tuple[str, float | None], warm: float | None, peers: Sequence[Peer],
            skipped: Sequence[Json]) -> list[Json]:
    """The issue's two targets: openusage cold / ccusage cold <= 0.8, openusage warm / tokscale warm
    <= 0.5. `cold` is (which openusage scenario, its median). A missing peer or figure gives n/a."""
    by_name = {p.name: p for p in peers}
    why_missing = {s["peer"]: s["reason"] for s in skipped}

    def row(name: str, label: str, ours: float | None, peer_key: str, limit: float) -> Json:
        peer = by_name.get(name)
        theirs = getattr(peer, peer_key).median() if peer else None
        measured = ratio(ours, theirs)
        note = None
        if peer is None:
            note = f"{name} skipped: {why_missing.get(name, 'not measured')}"
        elif peer.failed and theirs is None:
            note = f"{name} failed: {peer.failed}"
        elif ours is None:
            note = "openusage scenario not run (see --only)"
        return {"target": label, "limit": limit, "measured": measured, "unit": "x",
                "pass": None if measured is None else measured <= limit, "note": note}

    return [
        row("ccusage", f"openusage cold ({cold[0]}) / ccusage cold", cold[1], "cold", COLD_LIMIT),
        row("tokscale", "openusage warm (d) / tokscale warm", warm, "warm", WARM_LIMIT),
    ]


def report(found: PeerSet, ours_doc: Any, cold: tuple[str, float | None], warm: float | None,
           untouched: bool | None) -> Json:
    """The `peers` section of the bench document."""
    ours = our_totals(ours_doc, found.provider)
    measured: Json = {}
    for peer in found.peers:
        measured[peer.name] = {
            "path": peer.path,
            "found_by": peer.how,
            "version": peer.version,
            "command": peer.argv(found.home),
            "cached": peer.spec.cached,
            "cold": peer.cold.as_json(),
            "warm": peer.warm.as_json() if peer.spec.cached else None,
            "openusage_over_peer": {
                "cold": ratio(cold[1], peer.cold.median()),
                "warm": ratio(warm, peer.warm.median()) if peer.spec.cached else None,
            },
            "totals": peer.totals,
            "totals_vs_openusage": compare_totals(peer.totals, ours),
            "runs_agree": {"same_totals": peer.runs_agree, "different_totals": peer.runs_differ},
            "failed": peer.failed,
        }
    return {
        "openusage_cold_scenario": cold[0],
        "measured": measured,
        "skipped": list(found.skipped),
        "corpus_untouched": untouched,
        "targets": targets(cold, warm, found.peers, found.skipped),
    }


def print_section(section: Json) -> None:
    """The peers' lines of the bench summary."""
    print()
    print("peers    (issue 21; timed in the same rounds, each with its own HOME and cache directories)")
    print(f"{'':3}{'peer / run':38}{'median':>10}{'min':>10}{'peak RSS':>12}{'openusage/peer':>16}{'CPU':>9}")
    for name, p in section["measured"].items():
        print(f"{'':3}{name} {p['version']} ({p['found_by']}): {' '.join(p['command'][1:])}")
        for key in ("cold", "warm"):
            t = p[key]
            if not t or t["median_s"] is None:
                continue
            r = p["openusage_over_peer"][key]
            shown = "" if r is None else f"{r:.2f}x"
            print(f"{'':5}{key:36}{t['median_s']:>9.3f}s{t['min_s']:>9.3f}s{t['peak_rss_mib']:>8.1f} MiB"
                  f"{shown:>16}{t['median_cpu_s']:>8.3f}s")
        if p["failed"]:
            print(f"{'':5}FAILED: {p['failed']}")
        diffs = p["totals_vs_openusage"]
        if diffs:
            shown = ", ".join(
                f"{key} {d['peer']:,} vs {d['openusage']:,}"
                + ("" if d["difference_pct"] is None else f" ({d['difference_pct']:+.2f} %)")
                for key, d in diffs.items()
            )
            print(f"{'':5}totals vs openusage (information): {shown}")
        agree = p["runs_agree"]
        if agree["different_totals"]:
            print(f"{'':5}its own runs disagreed {agree['different_totals']} time(s)")
    for s in section["skipped"]:
        print(f"{'':3}{s['peer']}: skipped ({s['reason']})")
    if section["corpus_untouched"] is not None:
        print(f"{'':3}corpus untouched by the peers (no file added or removed): "
              f"{'yes' if section['corpus_untouched'] else 'NO'}")
    print()
    print("targets (issue 21, against the peers)")
    for t in section["targets"]:
        verdict = "n/a " if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        measured = "-" if t["measured"] is None else f"{t['measured']:.3f} x"
        note = f"  {t['note']}" if t["note"] else ""
        print(f"  {verdict}  {t['target']:40} {measured:>10}   (limit {t['limit']} x){note}")


def corpus_listing(root: Path, ignore: str) -> set[str]:
    """Every path under the corpus (but `ignore`, the bench's own append journal): to tell afterwards
    that no peer added or removed a file there."""
    found: set[str] = set()
    for dirpath, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            if name != ignore:
                found.add(os.path.join(dirpath, name))
    return found
