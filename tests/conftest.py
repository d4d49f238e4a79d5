"""Every test runs with its own HOME, settings, cache and agent homes under tmp_path.

Nothing a test does can read or write the developer's real ~/.kimi, ~/.codex, ~/.config or cache, or
call a real remote service.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unprivileged import work_dir  # noqa: F401  (a fixture: any test may run a case as an unprivileged user)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("OPENUSAGE_CACHE_DIR", str(tmp_path / "cache"))
    # The settings file is the default one under XDG_CONFIG_HOME (kimi_home.settings_file): a file
    # OPENUSAGE_CONFIG names must exist. MOONSHOT_API_KEY would add a remote tile that calls the real
    # API; KIMI_CODE_BASE_URL would move the plan tile's calls.
    for var in ("OPENUSAGE_CONFIG", "KIMI_SHARE_DIR", "KIMI_CODE_HOME", "CODEX_HOME", "OPENUSAGE_NOW", "NO_COLOR",
                "FORCE_COLOR", "MOONSHOT_API_KEY", "KIMI_CODE_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    # Keep the interpreter's own directory on PATH, but no `kimi` or `codex` binary unless a test adds one.
    bin_dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
                if d and not (Path(d) / "kimi").exists() and not (Path(d) / "codex").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(bin_dirs))
    return home


@pytest.fixture(params=["refold-all", "refold-delta", "scratch-scan", "memory-cap"])
def refold_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test over both ways a refresh re-folds: every call (the default for a change that touches
    a quarter of the calls or more, which small test homes always do) and only the changed calls (what
    a refresh of a large history does). Both must give the cold figures. "scratch-scan" also runs every
    `--no-cache` scan through a scratch file and builds every first run's ledger from the cache, in
    parts a session at a time, with its session list split into units of a session or two, as a history
    of very many sessions does; "memory-cap" makes every scan hold too many calls in memory after its
    first unit, so a first run switches to the cache and a
    `--no-cache` scan starts again through a scratch file, as a history of very many calls does; it also
    writes the store's holders index after every file, as a first run over very many calls does."""
    if request.param == "refold-delta":
        monkeypatch.setattr("openusage.scan.REFOLD_ALL_SHARE", float("inf"))
    if request.param == "scratch-scan":
        monkeypatch.setattr("openusage.scan.SCRATCH_MIN_SESSIONS", 0)
        monkeypatch.setattr("openusage.reading.LEDGER_BATCH", 1)  # a ledger built from the cache: in parts
        monkeypatch.setattr("openusage.reading.LEDGER_SPILL", 1)
        # A session list that starts as one unit and splits in two at every other session: units as small
        # as a history of very many sessions has them.
        monkeypatch.setattr("openusage.providers.base.SESSION_UNITS", 1)
        monkeypatch.setattr("openusage.providers.base.UNIT_SESSIONS", 1)
    if request.param == "memory-cap":
        monkeypatch.setattr("openusage.scan.FIRST_RUN_MAX_CALLS", 0)
        monkeypatch.setattr("openusage.scan.SCAN_MAX_CALLS", 0)
        monkeypatch.setattr("openusage.store.HOLDERS_FLUSH_AT", 1)
    return str(request.param)
