"""The command line's conventions where the process meets its surroundings: its standard streams closed
or full, Ctrl-C while it starts, an option that takes one value given before and after the command, a
settings file nested too deep, what a report could not count, and the directories it picks. Each runs
the real entry point (`python -m openusage`) in a subprocess, with real file descriptors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kimi_home import KimiHome, at, uid
from openusage import launch, paths


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    session = h.session(uid("1"), title="Plan")
    session.usage(at("2026-11-19T10:00:00Z"), (1_000, 200, 0, 0), "chatcmpl-1")
    session.add("{oops}")  # one broken line
    return h


def env_of(home: KimiHome, **extra: str) -> dict[str, str]:
    return {**os.environ, "KIMI_SHARE_DIR": str(home.root), "OPENUSAGE_NOW": "2026-11-20T12:00:00Z", **extra}


def shell(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`openusage` run by a shell, so that a redirection can close or fill a stream."""
    entry = f"{sys.executable} -m openusage"
    return subprocess.run(["/bin/sh", "-c", command.replace("openusage", entry, 1)], env=env,
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("args", ["snapshot --json", "report daily --json", "--version", "detect"])
def test_a_closed_stdout_is_one_line_and_exit_1(home: KimiHome, args: str) -> None:
    done = shell(f"openusage {args} >&-", env_of(home))
    assert done.returncode == 1
    assert done.stderr == "openusage: cannot write the output: standard output is closed\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", ["snapshot --json", "report daily --json"])
def test_a_full_stdout_is_one_line_and_exit_1(home: KimiHome, args: str) -> None:
    done = shell(f"openusage {args} > /dev/full", env_of(home))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "openusage: cannot write the output: No space left on device"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("redirect", ["2>&-", "2>/dev/full"])
def test_a_closed_or_full_stderr_fails_nothing(home: KimiHome, redirect: str) -> None:
    """The report says what it skipped on stderr; with stderr closed or full that line cannot be said,
    and the output is still given, exit 0."""
    if redirect.endswith("full") and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    done = shell(f"openusage report daily --json {redirect}", env_of(home))
    assert done.returncode == 0
    assert '"report": "daily"' in done.stdout


def test_ctrl_c_before_a_command_runs_is_aborted_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C while the command line is read or click is imported (the first tenths of a second) ends the
    run as click ends it later: "Aborted!", exit 1, no traceback. The interrupt is raised where it would
    land; `os._exit` is caught so that the test process goes on."""
    def interrupted(args: list[str]) -> None:
        raise KeyboardInterrupt

    codes: list[int] = []

    def leave(code: int) -> None:
        codes.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(launch, "read", interrupted)
    monkeypatch.setattr(launch.os, "_exit", leave)
    with pytest.raises(SystemExit):
        launch.main()
    assert codes == [1]
    assert capsys.readouterr().err == "\nAborted!\n"


@pytest.mark.parametrize("args", [["--tz", "UTC", "snapshot", "--tz", "Asia/Tokyo", "--json"],
                                  ["--tz", "Bad/Zone", "report", "daily", "--tz", "UTC"],
                                  ["--tz=UTC", "report", "weekly", "--tz=UTC", "--json"]])
def test_tz_before_and_after_the_command_is_given_twice(home: KimiHome, args: list[str]) -> None:
    """An option that takes one value, given twice, is refused wherever the two are written: neither is
    silently ignored (a bad zone before the command was never checked)."""
    done = subprocess.run([sys.executable, "-m", "openusage", *args], env=env_of(home), capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "openusage: --tz is given more than once (before the command and after it)\n"
    assert done.stdout == ""


def test_a_settings_file_nested_too_deep_is_a_settings_error(home: KimiHome, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("[" * 100_000 + "]" * 100_000)
    for args in (["snapshot", "--json"], ["report", "daily"]):
        done = subprocess.run([sys.executable, "-m", "openusage", *args],
                              env=env_of(home, OPENUSAGE_CONFIG=str(settings)), capture_output=True, text=True,
                              check=False, timeout=120)
        assert done.returncode == 2
        assert done.stderr == f"openusage: settings file {settings}: invalid JSON: nested too deep to be settings\n"


def test_a_report_says_in_one_line_what_it_could_not_count(home: KimiHome, tmp_path: Path) -> None:
    """The report's documents hold only rows and totals: what was skipped is said on stderr, in one line
    that names the account (the snapshot's diagnostics say why), and stdout stays clean JSON."""
    (home.root / "sessions" / "g" / "s2").mkdir(parents=True)
    os.mkfifo(home.root / "sessions" / "g" / "s2" / "wire.jsonl")
    done = subprocess.run([sys.executable, "-m", "openusage", "report", "daily", "--json"], env=env_of(home),
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0
    assert done.stderr == ("openusage: kimi_cli: 1 line skipped, 1 file unreadable "
                           "(openusage snapshot --json --account <id> says why)\n")
    assert done.stdout.startswith("{")


def test_filters_with_nothing_in_common_say_so(home: KimiHome) -> None:
    done = subprocess.run([sys.executable, "-m", "openusage", "report", "daily", "--account", "kimi_cli",
                           "--provider", "codex_cli", "--json"], env=env_of(home), capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0
    assert "no account is both kimi_cli and a codex_cli account, so the report is empty" in done.stderr


def test_a_home_that_is_a_file_has_its_error_and_no_notice_of_config_files(tmp_path: Path) -> None:
    """KIMI_SHARE_DIR naming a file: the account's status says so; its config files do not exist, so no
    notice says they "cannot be read"."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    env = {**os.environ, "KIMI_SHARE_DIR": str(afile), "OPENUSAGE_NOW": "2026-11-20T12:00:00Z"}
    done = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json"], env=env, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0
    assert "config" not in done.stderr


def test_a_relative_xdg_directory_is_ignored(tmp_path: Path) -> None:
    """"All paths set in these environment variables must be absolute": a relative one is ignored."""
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": "relative", "XDG_CACHE_HOME": "relcache"}
    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG rule is Linux's")
    assert paths.settings_path(env) == tmp_path / ".config" / "openusage" / "settings.json"
    assert paths.cache_path(env).parent == tmp_path / ".cache" / "openusage"


def test_openusages_own_cache_directory_is_made_private(home: KimiHome, tmp_path: Path) -> None:
    """The cache directory is 0700 whatever the umask; one of openusage's own that exists already with
    others' bits (made by hand, or by an older version) is made 0700 as well."""
    own = tmp_path / "cache" / "openusage"
    own.mkdir(parents=True)
    own.chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json"],
                          env=env_of(home, OPENUSAGE_CACHE_DIR=str(own)), capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(own.stat().st_mode) == 0o700
