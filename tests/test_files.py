"""Every file openusage reads, whatever it turns out to be: FIFOs, devices, links that loop, files that
vanish, and very many empty sessions. Each case its own test on real files; where a hang is the risk,
the CLI runs in a subprocess (its own process group) with a timeout, and no process of that group may
be left behind. Each must give the right figures for everything else, one line saying what could not
be read, exit 0, and the same document with and without the cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from kimi_code_home import WD, KimiCodeHome, ms, sid
from kimi_home import GROUP, NOW, KimiHome, at, comparable, tokens, uid

GOOD = (100, 20, 300, 4)  # the one good call in every home here
HANG_LIMIT = 120  # seconds: far above a normal run here (~1 s); reaching it means a hang


class Run(NamedTuple):
    code: int
    doc: dict[str, Any] | None
    stderr: str


def run_cli(env: dict[str, str], *args: str) -> Run:
    """`openusage snapshot --json *args` in a subprocess of its own process group; fails the test if
    it hangs or leaves a process behind."""
    full = {**os.environ, "OPENUSAGE_NOW": NOW, **env}
    proc = subprocess.Popen([sys.executable, "-m", "openusage", "snapshot", "--json", *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=HANG_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"openusage {' '.join(args)} hung (no answer in {HANG_LIMIT} s)")
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        pass  # the group is empty: no worker left behind
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a process of the run was left behind")
    stderr = err.decode("utf-8", "replace")
    doc = json.loads(out) if proc.returncode == 0 else None
    return Run(proc.returncode, doc, stderr)


def config_notice(account: str, config: Path, why: str) -> str:
    """The one line that names a config file that could not be read (and what that means)."""
    return (f"openusage: {account}: config file {config} ignored (cannot be read: {why}); "
            "its models fall back to the defaults\n")


def all_ways(env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """`--no-cache`, then a first run and a warm run from the cache: each exits 0, prints one line per
    notice at most, and all three give the same document. Returns it (its only snapshot) and the
    first run's stderr."""
    runs = [run_cli(env, "--no-cache"), run_cli(env), run_cli(env)]
    for run in runs:
        assert run.code == 0, run.stderr
        assert "Traceback" not in run.stderr, run.stderr
        assert "internal error" not in run.stderr, run.stderr
        assert all(line.startswith("openusage: ") and line.isprintable() for line in run.stderr.splitlines()), \
            run.stderr
    docs = [comparable(run.doc) for run in runs if run.doc is not None]
    assert docs[0] == docs[1] == docs[2], "a cached run differs from --no-cache"
    doc = runs[0].doc
    assert doc is not None
    assert len(doc["snapshots"]) == 1, doc
    return doc["snapshots"][0], runs[1].stderr


def unreadable(snap: dict[str, Any]) -> int:
    return int(snap["diagnostics"]["files_unreadable"])


# --- homes ------------------------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path) -> KimiHome:
    """A Kimi CLI home with one good session holding one call."""
    home = KimiHome(tmp_path / "kimi")
    home.session(uid("1"), title="Plan").usage(at("2026-11-19T10:00:00Z"), GOOD, "chatcmpl-good")
    return home


@pytest.fixture
def code_home(tmp_path: Path) -> KimiCodeHome:
    """A Kimi Code home with one good session holding one call."""
    home = KimiCodeHome(tmp_path / "kimi-code")
    home.session(WD, sid("1")).main.header().usage(ms("2026-11-19T10:00:00Z"), GOOD)
    return home


def cli_env(home: KimiHome) -> dict[str, str]:
    return {"KIMI_SHARE_DIR": str(home.root)}


def code_env(home: KimiCodeHome) -> dict[str, str]:
    return {"KIMI_CODE_HOME": str(home.root)}


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


def link_to_dev_zero(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")
    return path


def assert_good_only(snap: dict[str, Any], files_unreadable: int) -> None:
    assert snap["status"] == "ok", snap
    assert tokens(snap) == GOOD
    assert snap["diagnostics"]["records_counted"] == 1
    assert unreadable(snap) == files_unreadable


# --- FIFOs where a wire file or journal is expected ---------------------------------------------------


def test_fifo_wire_file_of_a_kimi_cli_session_is_unreadable_not_a_hang(cli_home: KimiHome) -> None:
    fifo(cli_home.sessions / "g" / uid("2") / "wire.jsonl")

    snap, _ = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=1)


@pytest.mark.parametrize("where", ["wire.jsonl", "g/wire.jsonl"], ids=["sessions-dir", "group-dir"])
def test_fifo_wire_file_above_the_session_level_is_unreadable_not_a_hang(cli_home: KimiHome, where: str) -> None:
    fifo(cli_home.sessions / where)

    snap, _ = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=1)


def test_fifo_wire_file_of_a_kimi_cli_subagent_is_unreadable_not_a_hang(cli_home: KimiHome) -> None:
    session = cli_home.sessions / "3f2b8e5a9c1d4e7f8a0b1c2d3e4f5a6b" / uid("1")
    fifo(session / "subagents" / "agent-x" / "wire.jsonl")

    snap, _ = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=1)


def test_fifo_journal_of_a_kimi_code_main_agent_is_unreadable_not_a_hang(code_home: KimiCodeHome) -> None:
    other = code_home.session(WD, sid("2"))
    fifo(other.dir / "agents" / "main" / "wire.jsonl")

    snap, _ = all_ways(code_env(code_home))

    assert_good_only(snap, files_unreadable=1)


# --- a run of zeros in a journal ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["kimi_cli", "kimi_code"])
def test_a_run_of_zeros_in_a_journal_counts_as_one_broken_line(cli_home: KimiHome, code_home: KimiCodeHome,
                                                               which: str) -> None:
    """What a crash can leave in a file: a run of zero bytes (here 3 MiB, longer than `LONG_BROKEN`) ended
    by the next line written. It is one line that is no JSON, counted as such, judged in pieces; the
    calls around it count."""
    from openusage.candidates import LONG_BROKEN

    zeros = b"\x00" * (3 * LONG_BROKEN) + b"\n"
    if which == "kimi_cli":
        path = cli_home.sessions / GROUP / uid("1") / "wire.jsonl"
        env = cli_env(cli_home)
    else:
        path = code_home.session(WD, sid("1")).main.path
        env = code_env(code_home)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + zeros + lines[-1])

    snap, _ = all_ways(env)

    assert_good_only(snap, files_unreadable=0)
    assert snap["diagnostics"]["skipped_by_reason"] == {"invalid_json": 1}


# --- state and config files that are not files --------------------------------------------------------


def test_fifo_state_json_of_kimi_cli_is_unreadable_not_a_hang(cli_home: KimiHome) -> None:
    session = cli_home.session(uid("2"))
    session.usage(at("2026-11-19T11:00:00Z"), (1, 1, 0, 0), "chatcmpl-other")
    fifo(session.dir / "state.json")

    snap, _ = all_ways(cli_env(cli_home))

    assert tokens(snap) == (101, 21, 300, 4)  # the session still counts; only its title is unknown
    assert unreadable(snap) == 1


def test_fifo_state_json_of_kimi_code_is_unreadable_not_a_hang(code_home: KimiCodeHome) -> None:
    session = code_home.session(WD, sid("2"))
    session.main.header().usage(ms("2026-11-19T11:00:00Z"), (1, 1, 0, 0))
    fifo(session.dir / "state.json")

    snap, _ = all_ways(code_env(code_home))

    assert tokens(snap) == (101, 21, 300, 4)
    assert unreadable(snap) == 1


def test_state_json_linked_to_dev_zero_is_unreadable_not_read_forever(cli_home: KimiHome) -> None:
    session = cli_home.session(uid("2"))
    session.usage(at("2026-11-19T11:00:00Z"), (1, 1, 0, 0), "chatcmpl-other")
    link_to_dev_zero(session.dir / "state.json")

    snap, _ = all_ways(cli_env(cli_home))

    assert tokens(snap) == (101, 21, 300, 4)
    assert unreadable(snap) == 1


def test_kimi_code_state_json_linked_to_dev_zero_is_unreadable(code_home: KimiCodeHome) -> None:
    session = code_home.session(WD, sid("2"))
    session.main.header().usage(ms("2026-11-19T11:00:00Z"), (1, 1, 0, 0))
    link_to_dev_zero(session.dir / "state.json")

    snap, _ = all_ways(code_env(code_home))

    assert tokens(snap) == (101, 21, 300, 4)
    assert unreadable(snap) == 1


def test_fifo_config_toml_is_named_in_a_notice_and_the_default_model_applies(cli_home: KimiHome) -> None:
    config = fifo(cli_home.root / "config.toml")

    snap, stderr = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=0)
    assert [row["model"] for row in snap["models"]] == ["kimi-for-coding"]
    assert stderr == config_notice("kimi_cli", config, "a named pipe (FIFO), not a regular file")


def test_config_toml_linked_to_dev_zero_is_named_in_a_notice(cli_home: KimiHome) -> None:
    config = link_to_dev_zero(cli_home.root / "config.toml")

    snap, stderr = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=0)
    assert stderr == config_notice("kimi_cli", config, "a character device, not a regular file")


def test_kimi_code_fifo_config_toml_is_named_in_a_notice(code_home: KimiCodeHome) -> None:
    config = fifo(code_home.root / "config.toml")

    snap, stderr = all_ways(code_env(code_home))

    assert_good_only(snap, files_unreadable=0)
    assert stderr == config_notice("kimi_code", config, "a named pipe (FIFO), not a regular file")


def test_config_file_larger_than_the_bound_is_named_and_not_read(cli_home: KimiHome) -> None:
    from openusage.files import SMALL_FILE_LIMIT

    config = cli_home.root / "config.toml"
    with config.open("wb") as f:
        f.truncate(SMALL_FILE_LIMIT + 1)  # sparse: no disk used

    snap, stderr = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=0)
    assert stderr == config_notice("kimi_cli", config, "larger than 16 MiB (16 MiB)")


def test_config_toml_that_is_a_socket_is_named_in_a_notice(cli_home: KimiHome) -> None:
    import socket

    config = cli_home.root / "config.toml"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
        listening.bind(str(config))  # opening a socket's path fails (ENXIO): the notice still says what it is

        snap, stderr = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=0)
    assert stderr == config_notice("kimi_cli", config, "a socket, not a regular file")


def test_state_json_larger_than_the_bound_is_unreadable(cli_home: KimiHome) -> None:
    from openusage.files import SMALL_FILE_LIMIT

    session = cli_home.session(uid("2"))
    session.usage(at("2026-11-19T11:00:00Z"), (1, 1, 0, 0), "chatcmpl-other")
    with (session.dir / "state.json").open("wb") as f:
        f.truncate(SMALL_FILE_LIMIT + 1)  # sparse: no disk used

    snap, _ = all_ways(cli_env(cli_home))

    assert tokens(snap) == (101, 21, 300, 4)
    assert unreadable(snap) == 1


def test_fifo_settings_file_is_a_one_line_error_not_a_hang(cli_home: KimiHome, tmp_path: Path) -> None:
    settings = fifo(tmp_path / "fifo-settings.json")

    run = run_cli({**cli_env(cli_home), "OPENUSAGE_CONFIG": str(settings)}, "--no-cache")

    assert run.code == 2, run
    assert run.stderr == (f"openusage: settings file {settings}: cannot be read: "
                          "a named pipe (FIFO), not a regular file\n")


# --- links that loop, files that vanish --------------------------------------------------------------


def test_wire_file_that_is_a_symlink_loop_is_unreadable(cli_home: KimiHome) -> None:
    loop = cli_home.sessions / "g" / uid("2") / "wire.jsonl"
    loop.parent.mkdir(parents=True)
    loop.symlink_to(loop.name)  # points at itself: ELOOP

    snap, _ = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=1)


def test_directory_symlink_loop_is_walked_once(cli_home: KimiHome) -> None:
    session = cli_home.sessions / "3f2b8e5a9c1d4e7f8a0b1c2d3e4f5a6b" / uid("1")
    (session / "subagents").mkdir()
    (session / "subagents" / "again").symlink_to(session, target_is_directory=True)

    snap, _ = all_ways(cli_env(cli_home))

    assert_good_only(snap, files_unreadable=0)


def test_file_that_disappears_between_listing_and_reading_is_unreadable(cli_home: KimiHome) -> None:
    from openusage import reading, scan
    from openusage.providers.base import Account
    from openusage.providers.kimi_cli.provider import KimiCliProvider

    provider = KimiCliProvider()
    walk = provider.walk(Account("kimi_cli", "kimi_cli"), cli_env(cli_home))
    units = scan._session_units(provider, walk)
    sources = [source for session in units.top.sessions for source in provider.walk_session(walk, session, units.top)]
    assert len(sources) == 1
    os.unlink(sources[0].path)  # gone after the walk listed it

    result = reading._read_job(scan._Job(provider.id, sources[0], 0, 0, None, True), reading._reader())

    assert result.end_offset is None  # unreadable: counted as such, nothing else lost


_SWAP_SCRIPT = """
import os, sys
from openusage import reading, scan
from openusage.providers.base import Account
from openusage.providers.kimi_code.provider import KimiCodeProvider
provider = KimiCodeProvider()
walk = provider.walk(Account("kimi_code", "kimi_code"), {"KIMI_CODE_HOME": sys.argv[1]})
units = scan._session_units(provider, walk)
sources = [s for session in units.top.sessions for s in provider.walk_session(walk, session, units.top)]
assert len(sources) == 1, sources
os.unlink(sources[0].path)
os.mkfifo(sources[0].path)  # a regular file when listed, a FIFO when read
result = reading._read_job(scan._Job(provider.id, sources[0], 0, 0, None, True), reading._reader())
print(result.end_offset)
"""


def test_journal_swapped_for_a_fifo_after_the_walk_is_unreadable_not_a_hang(code_home: KimiCodeHome) -> None:
    proc = subprocess.run([sys.executable, "-c", _SWAP_SCRIPT, str(code_home.root)], check=False,
                          capture_output=True, text=True, timeout=HANG_LIMIT, start_new_session=True)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "None\n", "")


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    from openusage.files import Refused, open_regular

    path = fifo(tmp_path / "pipe")
    proc = subprocess.run([sys.executable, "-c", "import sys; from openusage.files import read_small\n"
                           "try: read_small(sys.argv[1])\nexcept OSError as e: print(e.strerror)", str(path)],
                          check=False, capture_output=True, text=True, timeout=HANG_LIMIT)
    assert proc.stdout == "a named pipe (FIFO), not a regular file\n"
    with pytest.raises(Refused):
        open_regular(str(path))


# --- very many empty sessions --------------------------------------------------------------------------


def test_twenty_thousand_empty_session_directories_give_zero_figures(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    group = home.sessions / "g"
    group.mkdir(parents=True)
    for i in range(20_000):
        os.mkdir(group / f"s{i:05d}")

    snap, _ = all_ways(cli_env(home))

    assert snap["status"] == "ok"
    assert tokens(snap) == (0, 0, 0, 0)
    assert snap["metrics"]["total_sessions"]["used"] == 0
    assert snap["diagnostics"]["files_read"] == 0
    assert unreadable(snap) == 0


# --- notices: one printable line, naming the file ------------------------------------------------------


def test_a_notice_naming_a_file_with_a_newline_and_a_non_utf8_byte_is_one_printable_line(tmp_path: Path) -> None:
    raw_root = os.fsencode(tmp_path) + b"/kimi\nhome\xff"
    root = Path(os.fsdecode(raw_root))
    home = KimiHome(root)
    home.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), GOOD, "chatcmpl-good")
    fifo(root / "config.toml")
    env = {**os.environb, b"OPENUSAGE_NOW": NOW.encode(), b"KIMI_SHARE_DIR": raw_root}

    proc = subprocess.run([sys.executable, "-m", "openusage", "snapshot", "--json", "--no-cache"], env=env, check=False,
                          capture_output=True, timeout=HANG_LIMIT, start_new_session=True)

    assert proc.returncode == 0, proc.stderr
    assert tokens(json.loads(proc.stdout)["snapshots"][0]) == GOOD
    assert proc.stderr == (rb"openusage: kimi_cli: config file " + os.fsencode(tmp_path)
                           + rb"/kimi\nhome\udcff/config.toml ignored (cannot be read: a named pipe (FIFO), not a "
                           + b"regular file); its models fall back to the defaults\n")


# --- small files read whole ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4095, 65536, 65537, 200_000])
def test_a_small_file_is_read_whole_and_exactly(tmp_path: Path, size: int) -> None:
    """One read takes a file whole when it is as long as it says; any size gives its exact bytes."""
    from openusage.files import read_small

    path = tmp_path / "state.json"
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    path.write_bytes(data)
    assert read_small(str(path)) == data


def test_a_file_that_says_it_is_empty_but_is_not_is_read_to_its_end() -> None:
    """/proc's files report a size of 0 and hold text: read on until the end, not cut after one byte."""
    from openusage.files import read_small

    if not os.path.exists("/proc/self/status"):
        pytest.skip("no /proc here")
    text = read_small("/proc/self/status")
    assert text.startswith(b"Name:")
    assert text.endswith(b"\n")
    assert len(text) > 100


def test_a_small_file_over_the_bound_is_refused(tmp_path: Path) -> None:
    from openusage.files import Refused, read_small

    path = tmp_path / "config.toml"
    path.write_bytes(b"x" * 101)
    with pytest.raises(Refused, match="larger than 100 bytes"):
        read_small(str(path), limit=100)
    path.write_bytes(b"x" * 100)
    assert read_small(str(path), limit=100) == b"x" * 100
