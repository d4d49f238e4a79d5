"""Running `openusage` as a user that file permissions apply to.

Root reads a directory of mode 000 as if it were open, so a permission case run as root proves
nothing. When the suite runs as root, the command runs in a subprocess as uid/gid 65534 (nobody)
through `setpriv` (or `runuser`), in a work directory under /tmp that this user owns; the case is
skipped, with the reason, only when neither tool exists. As any other user it runs as that user.
"""

from __future__ import annotations

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


def run_openusage(args: list[str], work: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`openusage *args` as the unprivileged user, with HOME, config and cache inside `work`."""
    prefix = _drop_privileges()
    full = {key: value for key, value in os.environ.items()
            if key not in ("KIMI_SHARE_DIR", "KIMI_CODE_HOME", "OPENUSAGE_CONFIG")}
    full.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "home" / ".config"),
                XDG_CACHE_HOME=str(work / "home" / ".cache"), OPENUSAGE_CACHE_DIR=str(work / "cache"))
    full.update(env)
    return subprocess.run([*prefix, sys.executable, "-m", "openusage", *args], env=full, capture_output=True,
                          text=True, check=False, timeout=120, cwd=work)
