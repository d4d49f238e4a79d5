"""A file rewritten in place is read again, wherever the change is: the cache keeps a hash of every byte
it consumed, so an edit of the same size in the middle of a file (far from its first and last blocks),
with the file's mtime and ctime changed, is seen, and later appends are counted on top of the new
bytes. After each change a cached run equals `--no-cache`, for both providers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kimi_code_home import WD, KimiCodeHome, code_env, code_snapshot, ms, sid
from kimi_home import KimiHome, at, env_for, event, line, only_snapshot, tokens, uid

pytestmark = pytest.mark.usefixtures("refold_path")

FILLER = "x" * 10_000  # a line of tool output: keeps the edited line far from both ends of the file


def rewrite_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Replace the one occurrence of `old` with `new` (same length) in place: same inode, same size,
    mtime and ctime moved on (by a second, so that even a coarse clock sees it)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) == 1, old
    where = data.index(old)
    assert 4096 < where < len(data) - 4096  # not in the first or the last block
    before = path.stat()
    with path.open("r+b") as f:
        f.seek(where)
        f.write(new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    after = path.stat()
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)


@pytest.fixture
def cli_home(tmp_path: Path) -> KimiHome:
    return KimiHome(tmp_path / "kimi")


@pytest.fixture
def code_home(tmp_path: Path) -> KimiCodeHome:
    return KimiCodeHome(tmp_path / "kimi-code")


def test_kimi_cli_same_size_edit_in_the_middle_is_seen_and_appends_after_it_count(cli_home: KimiHome) -> None:
    s = cli_home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    s.add(line(at("2026-11-19T10:00:30Z"), event("ContentPart", {"type": "text", "text": FILLER})))
    s.usage(at("2026-11-19T10:01:00Z"), (20, 2, 0, 0), "chatcmpl-2")
    s.add(line(at("2026-11-19T10:01:30Z"), event("ContentPart", {"type": "text", "text": FILLER})))
    s.usage(at("2026-11-19T10:02:00Z"), (30, 3, 0, 0), "chatcmpl-3")
    env = env_for(cli_home.root)
    assert tokens(only_snapshot(env)) == (60, 6, 0, 0)

    rewrite_in_place(s.path, b'"input_other": 20,', b'"input_other": 70,')
    assert tokens(only_snapshot(env, fresh_cache=False)) == (110, 6, 0, 0)

    s.usage(at("2026-11-19T10:03:00Z"), (40, 4, 0, 0), "chatcmpl-4")
    assert tokens(only_snapshot(env, fresh_cache=False)) == (150, 10, 0, 0)


def test_kimi_code_same_size_edit_in_the_middle_is_seen_and_appends_after_it_count(
        code_home: KimiCodeHome) -> None:
    j = code_home.session(WD, sid("1")).main.header()
    t = ms("2026-11-19T10:00:00Z")
    j.usage(t, (10, 1, 0, 0))
    j.prompt(t + 1, FILLER)
    j.usage(t + 2, (20, 2, 0, 0))
    j.prompt(t + 3, FILLER)
    j.usage(t + 4, (30, 3, 0, 0))
    env = code_env(code_home.root)
    assert tokens(code_snapshot(env)) == (60, 6, 0, 0)

    rewrite_in_place(j.path, b'"inputOther":20,', b'"inputOther":70,')
    assert tokens(code_snapshot(env, fresh_cache=False)) == (110, 6, 0, 0)

    j.usage(t + 5, (40, 4, 0, 0))
    assert tokens(code_snapshot(env, fresh_cache=False)) == (150, 10, 0, 0)


def test_a_same_size_edit_of_a_file_that_also_grew_is_read_from_the_start(cli_home: KimiHome) -> None:
    """The edit and the append land between two runs: the grown file must not be read from its old
    offset on top of stale copies."""
    s = cli_home.session(uid("1"))
    s.usage(at("2026-11-19T10:00:00Z"), (10, 1, 0, 0), "chatcmpl-1")
    s.add(line(at("2026-11-19T10:00:30Z"), event("ContentPart", {"type": "text", "text": FILLER})))
    s.usage(at("2026-11-19T10:01:00Z"), (20, 2, 0, 0), "chatcmpl-2")
    s.add(line(at("2026-11-19T10:01:30Z"), event("ContentPart", {"type": "text", "text": FILLER})))
    env = env_for(cli_home.root)
    assert tokens(only_snapshot(env)) == (30, 3, 0, 0)

    s.usage(at("2026-11-19T10:03:00Z"), (40, 4, 0, 0), "chatcmpl-4")
    rewrite_in_place(s.path, b'"input_other": 20,', b'"input_other": 70,')
    assert tokens(only_snapshot(env, fresh_cache=False)) == (120, 7, 0, 0)
