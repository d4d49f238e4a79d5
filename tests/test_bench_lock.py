"""Two benches on one corpus are kept apart (bench.__main__.lock_corpus): a run that appends waits for
any other, runs that only read share it. The other bench is a real process holding the flock."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from bench.__main__ import lock_corpus

# Takes the lock on argv[1] (exclusive when argv[2] == "ex"), says so, and holds it until stdin closes.
HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX if sys.argv[2] == "ex" else fcntl.LOCK_SH)
print("held", flush=True)
sys.stdin.read()
"""


def hold(directory: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def test_a_run_that_appends_waits_for_the_other_bench(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    other = hold(corpus, "sh")
    lines: list[str] = []
    done = threading.Event()

    def take() -> None:
        lock_corpus(corpus, True, lines.append)
        done.set()

    worker = threading.Thread(target=take, daemon=True)
    worker.start()
    try:
        worker.join(timeout=2)  # it must still be waiting: the other process holds the lock
        assert not done.is_set()
        assert len(lines) == 1
        assert "another bench is using" in lines[0]
    finally:
        release(other)
    worker.join(timeout=30)
    assert done.is_set()
    assert list(corpus.iterdir()) == []  # no lock file in the corpus


def test_runs_that_only_read_share_the_corpus(tmp_path: Path) -> None:
    other = hold(tmp_path, "sh")
    lines: list[str] = []
    try:
        lock_corpus(tmp_path, False, lines.append)
    finally:
        release(other)
    assert lines == []
