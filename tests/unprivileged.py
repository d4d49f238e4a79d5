"""Running `openusage` as a user that file permissions apply to.

Root reads a directory of mode 000 as if it were open, so a permission case run as root proves
nothing. When the suite runs as root, the command runs in a subprocess as uid/gid 65534 (nobody)
through `setpriv` (or `runuser`), in a work directory under /tmp that this user owns; the case is
skipped, with the reason, only when neither tool exists. As any other user it runs as that user.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

NOBODY = 65534


def _drop_privileges() -> list[str]:
    """The command prefix that runs as NOBODY, or [] when the suite is not root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    runuser = shutil.which("runuser")
    if runuser is not None:
        import pwd

        return [runuser, "-u", pwd.getpwuid(NOBODY).pw_name, "--"]
    pytest.skip("the suite runs as root and neither setpriv nor runuser exists to run as an unprivileged user")


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """A directory the unprivileged user can reach (tmp_path, under root's 0700 pytest directory, is
    not), removed afterwards whatever modes a test left in it."""
    path = Path(tempfile.mkdtemp(prefix="openusage-perm-", dir="/tmp"))
    try:
        yield path
    finally:
        for directory, subdirs, _files in os.walk(path):
            for name in subdirs:
                os.chmod(os.path.join(directory, name), 0o700)
        shutil.rmtree(path, ignore_errors=True)


def hand_over(path: Path) -> None:
    """Make everything under `path` the unprivileged user's (when the suite is root), modes kept."""
    if os.geteuid() != 0:
        return
    os.chown(path, NOBODY, NOBODY)
    for directory, subdirs, files in os.walk(path):
        for name in subdirs + files:
            os.chown(os.path.join(directory, name), NOBODY, NOBODY, follow_symlinks=False)


_PYTHON: list[tuple[str, dict[str, str]]] = []  # the interpreter and extra environment, found once


def user_python() -> tuple[str, dict[str, str]]:
    """An interpreter the unprivileged user can run with openusage and its dependencies importable, and
    what its environment needs. This one, when the user can reach this checkout and its venv; else
    (a checkout under a directory only root may enter, as `mktemp -d` makes) the real interpreter
    with a mirror of the package's source and the venv's site-packages under /tmp, hard-linked where
    the file system allows (copied where not), on PYTHONPATH. Without setpriv and runuser, or when
    even that cannot import openusage, the case is skipped with the reason."""
    if _PYTHON:
        return _PYTHON[0]
    prefix = _drop_privileges()
    probe = [*prefix, "{python}", "-c", "import openusage.cli, msgspec, stringzilla"]
    if _imports(probe, sys.executable, {}):
        _PYTHON.append((sys.executable, {}))
        return _PYTHON[0]
    mirror = Path(tempfile.mkdtemp(prefix="openusage-perm-python-", dir="/tmp"))
    mirror.chmod(0o755)
    atexit.register(shutil.rmtree, mirror, ignore_errors=True)  # gone with the test run
    import msgspec

    import openusage

    # src/ (or site-packages/ when installed so), and the venv's site-packages
    paths = list(dict.fromkeys([Path(openusage.__file__).parents[1], Path(msgspec.__file__).parents[1]]))
    for index, path in enumerate(paths):
        shutil.copytree(path, mirror / str(index), copy_function=_link_or_copy, symlinks=True)
    extra = {"PYTHONPATH": os.pathsep.join(str(mirror / str(index)) for index in range(len(paths)))}
    python = os.path.realpath(sys.executable)
    if not _imports(probe, python, extra):
        pytest.skip("the unprivileged user can import openusage neither from this checkout nor from a mirror")
    _PYTHON.append((python, extra))
    return _PYTHON[0]


def _imports(probe: list[str], python: str, extra: dict[str, str]) -> bool:
    command = [python if part == "{python}" else part for part in probe]
    done = subprocess.run(command, env={**os.environ, **extra}, capture_output=True, check=False, timeout=60,
                          cwd="/")
    return done.returncode == 0


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def user_command(*args: str) -> tuple[list[str], dict[str, str]]:
    """`openusage *args` as the unprivileged user (as this user when the suite is not root), and the
    environment it needs besides the caller's."""
    python, extra = user_python()
    return [*_drop_privileges(), python, "-m", "openusage", *args], extra


def run_openusage(args: list[str], work: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`openusage *args` as the unprivileged user, with HOME, config and cache inside `work`."""
    command, extra = user_command(*args)
    full = {key: value for key, value in os.environ.items()
            if key not in ("KIMI_SHARE_DIR", "KIMI_CODE_HOME", "OPENUSAGE_CONFIG")}
    full.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "home" / ".config"),
                XDG_CACHE_HOME=str(work / "home" / ".cache"), OPENUSAGE_CACHE_DIR=str(work / "cache"))
    full.update(extra)
    full.update(env)
    return subprocess.run(command, env=full, capture_output=True, text=True, check=False, timeout=120, cwd=work)
