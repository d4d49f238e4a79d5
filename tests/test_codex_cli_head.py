"""The top of a Codex rollout, read once: a full read keeps each file's first block (`Reader.scan`'s
`keep_head`) and `session_info` takes the `session_meta` lines from it, opening the file again only
when they go on past it. Whatever the lengths, the lines (and so every session's lineage) are those a
read of its own gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_home import session_meta, token_count
from openusage.candidates import Reader
from openusage.providers.codex_cli import layout
from openusage.providers.codex_cli.provider import NEEDLES

PARENT = "019a0000-0000-7000-8000-000000000001"
CHILD = "019a0000-0000-7000-8000-000000000002"
GRAND = "019a0000-0000-7000-8000-000000000003"


def rollout(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / f"rollout-2026-11-20T09-00-00-{GRAND}.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def scanned_head(path: str, keep: int, block: int = 256 * 1024, start: int = 0) -> bytes | None:
    reader = Reader(block)
    fd = os.open(path, os.O_RDONLY)
    try:
        reader.scan(fd, start, os.fstat(fd).st_size, NEEDLES, lambda line: None, keep_head=keep)
    finally:
        os.close(fd)
    return reader.head


def fork_head(instructions: int) -> list[str]:
    """A fork's own session_meta, then the two it copied from its ancestors, then its first call."""
    return [session_meta("2026-11-20T09:00:00.000Z", GRAND, forked_from_id=CHILD, base_instructions="x" * instructions),
            session_meta("2026-11-19T09:00:00.000Z", CHILD, forked_from_id=PARENT),
            session_meta("2026-11-18T09:00:00.000Z", PARENT),
            token_count("2026-11-20T09:01:00.000Z", (10, 0, 5, 0), (10, 0, 5, 0))]


def test_a_scan_keeps_the_first_bytes_of_a_file_read_from_its_start(tmp_path: Path) -> None:
    path = rollout(tmp_path, *fork_head(50_000))
    content = Path(path).read_bytes()
    assert scanned_head(path, layout.HEAD_BLOCK) == content[: layout.HEAD_BLOCK]
    assert scanned_head(path, 10 ** 6) == content  # a file shorter than asked: all of it
    assert scanned_head(path, 0) is None  # not asked
    assert scanned_head(path, layout.HEAD_BLOCK, block=4096) is None  # a first block too small for it
    assert scanned_head(path, layout.HEAD_BLOCK, start=content.index(b"\n") + 1) is None  # not from the start


@pytest.mark.parametrize("instructions", [0, 1_000, layout.HEAD_BLOCK - 700, layout.HEAD_BLOCK, 100_000])
def test_the_head_from_the_first_block_is_the_head_read_from_the_file(tmp_path: Path, instructions: int) -> None:
    """A head inside the first block, cut by its end (the own line, or the copied ones), or past it."""
    path = rollout(tmp_path, *fork_head(instructions))
    alone = layout._head(path)
    assert [line.split(b'"id":"')[1][:36].decode() for line in alone] == [GRAND, CHILD, PARENT]
    assert layout._head(path, scanned_head(path, layout.HEAD_BLOCK)) == alone
    holders = {GRAND: [path]}
    assert layout.session_info(holders, {path: Path(path).read_bytes()[: layout.HEAD_BLOCK]}) == \
        layout.session_info(holders)


def test_a_head_within_the_first_block_is_not_read_again(tmp_path: Path) -> None:
    """The file is gone by the time its sessions' states are worked out: the head it was read with
    still names its ancestry, since the file is not opened again for it; a head longer than the block
    is read on from the file, which then has to be there."""
    short = rollout(tmp_path, *fork_head(1_000))
    first = scanned_head(short, layout.HEAD_BLOCK)
    expected = layout._head(short)
    os.remove(short)
    assert layout._head(short) == []  # on its own: nothing, the file is gone
    assert layout._head(short, first) == expected
    assert layout.session_info({GRAND: [short]}, {short: first or b""})[GRAND].parent == CHILD

    long = rollout(tmp_path, *fork_head(100_000))
    first = scanned_head(long, layout.HEAD_BLOCK)
    os.remove(long)
    assert layout._head(long, first) == []  # past the block: read on, and the file cannot be read


def test_a_file_shorter_than_the_block_ends_with_it(tmp_path: Path) -> None:
    """The whole file in the first block, its last session_meta without its newline (still being
    written): not a complete line, so not in the head, as when the file is read on its own."""
    path = tmp_path / f"rollout-2026-11-20T09-00-00-{GRAND}.jsonl"
    lines = fork_head(0)
    path.write_text(lines[0] + "\n" + lines[1])
    first = scanned_head(str(path), layout.HEAD_BLOCK)
    assert first == path.read_bytes()
    assert layout._head(str(path), first) == layout._head(str(path)) == [lines[0].encode()]
