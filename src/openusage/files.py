"""Opening the files openusage reads: the one place that decides what may be read, and how.

Every file read goes through here: the agents' wire files and journals, their state and config files,
and our settings file. Whatever a path turns out to be, opening it never blocks and reading it never
runs away:

- regular files only: a FIFO, a socket, a device or a directory is refused with a reason, checked on
  the open descriptor (`fstat`), so a file swapped for a FIFO between the walk and the read is refused
  too;
- never blocking: `O_NONBLOCK` on the open, so a FIFO with no writer cannot hang `open` (nor a worker
  process forever); `O_NOCTTY` so a terminal device never becomes ours; `O_CLOEXEC` so no descriptor
  leaks into a child;
- small files (state, config, settings) are read whole only up to `SMALL_FILE_LIMIT`: a link to
  `/dev/zero` is refused by the first rule, and a huge regular file by this one, before memory runs
  out.

A refusal is a `Refused` (an `OSError`), so callers that already handle an unreadable file handle it;
its `strerror` is the reason, one printable line.
"""

from __future__ import annotations

import errno
import os
import stat

SMALL_FILE_LIMIT = 16 * 1024 * 1024  # state.json, config.toml, config.json, settings.json: far above any real one
_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
_CHUNK = 65536


class Refused(OSError):
    """A path that exists but is not a file openusage reads (a FIFO, a device, too large, ...)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.EINVAL, reason, path)


def kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _not_regular(path: str, mode: int) -> Refused:
    return Refused(path, f"{kind(mode)}, not a regular file")


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file at `path` (following links) and its `fstat`; the caller
    closes it. Raises `Refused` for anything else, `OSError` when it cannot be opened."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket (or a device without its driver): say which
            try:
                mode = os.stat(path).st_mode
            except OSError:
                raise exc from None
            raise _not_regular(path, mode) from None
        raise
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _not_regular(path, info.st_mode)
    return fd, info


def read_small(path: str, limit: int = SMALL_FILE_LIMIT) -> bytes:
    """A whole small file (state, config, settings), at most `limit` bytes, with raw reads: a first
    scan reads thousands of these, and a buffered file object costs more than the read itself.
    Raises `Refused` for a file that is not regular or is larger than `limit`."""
    fd, info = open_regular(path)
    try:
        if info.st_size > limit:
            raise Refused(path, f"larger than {_size(limit)} ({_size(info.st_size)})")
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while read, or reports a size it does not have (/proc)
                raise Refused(path, f"larger than {_size(limit)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def reason(exc: OSError) -> str:
    """Why a file could not be read, as one line: the refusal's reason or the system's message."""
    return printable(exc.strerror or str(exc))


def unicode_text(text: str) -> str:
    """`text` with every unpaired surrogate replaced by U+FFFD: a byte of a name that is not UTF-8 (read
    with surrogate escapes) or a JSON `\\ud800`, in text that must be Unicode (JSON, a stored or
    printed name)."""
    if text.isascii():
        return text
    # Through UTF-16, each unpaired surrogate becomes one replacement character.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def printable(text: str) -> str:
    """`text` as one printable line: control characters (a newline in a file name, an escape
    sequence) and undecodable bytes (surrogate escapes) shown as escapes instead of written out."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _size(count: int) -> str:
    mib = count / (1024 * 1024)
    return f"{mib:.0f} MiB" if mib >= 1 else f"{count} bytes"
