"""genai-prices, imported in a forked child while the files are read.

Pricing a run that has nothing priced in its cache (every `--no-cache` run, a first run) needs
genai-prices, whose import builds pydantic models of every price it knows: ~0.17 s and ~25 MiB, after
the scan, on the critical path. A one-shot command therefore forks one child before it reads any
file: the child imports genai-prices while the scan runs, then answers the two questions pricing asks
of it (`pricing.database_schedules`, `pricing.data_info`) over a pipe, marshalled. The command itself
never imports it then. Anything that goes wrong with the child (it died, it is slow, it answered
nonsense) is answered in this process instead, as it would be without the child; the child leaves
when its pipe closes, and `stop` reaps it.

A resident process never forks (parallel.py says why): it imports genai-prices itself.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import signal
import struct
import time
from typing import Any

from openusage.parallel import write_all

_LENGTH = struct.Struct("<Q")
ANSWER_TIMEOUT = 10.0  # seconds to wait for one answer before asking this process instead


class _Child:
    __slots__ = ("pid", "reply", "request")

    def __init__(self, pid: int, request: int, reply: int) -> None:
        self.pid, self.request, self.reply = pid, request, reply


_CHILD: list[_Child] = []


def start() -> None:
    """Fork the child that imports genai-prices, unless one runs already or this process must not
    fork. Call before reading any file (no thread may be running: the caller is single-threaded)."""
    from openusage import parallel, pricetable

    if _CHILD or parallel.resident() or not hasattr(os, "fork"):
        return
    if pricetable.current() is not None:  # the price table answers: nothing to import
        return
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (request_r, request_w, reply_r, reply_w):
            os.close(fd)
        return
    if pid == 0:  # pragma: no cover - runs in the child, which leaves through os._exit
        os.close(request_w)
        os.close(reply_r)
        _serve(request_r, reply_w)
    os.close(request_r)
    os.close(reply_w)
    _CHILD.append(_Child(pid, request_w, reply_r))


def ask(question: str, argument: Any) -> tuple[bool, Any]:
    """(True, the child's answer) to `question`, or (False, None) when there is no child or it could
    not answer: the caller then answers it in this process."""
    if not _CHILD:
        return False, None
    child = _CHILD[0]
    try:
        body = marshal.dumps((question, argument))
        write_all(child.request, _LENGTH.pack(len(body)) + body)
        answer = marshal.loads(_read_message(child.reply, time.monotonic() + ANSWER_TIMEOUT))
    except (OSError, EOFError, ValueError, TypeError):
        stop()  # a child that failed once is not asked again
        return False, None
    if not (isinstance(answer, tuple) and len(answer) == 2 and answer[0] is True):
        stop()
        return False, None
    return True, answer[1]


def stop() -> None:
    """End the child (it leaves when its pipe closes) and reap it; killed if it does not go at once."""
    if not _CHILD:
        return
    child = _CHILD.pop()
    for fd in (child.request, child.reply):
        with contextlib.suppress(OSError):
            os.close(fd)
    deadline = time.monotonic() + 1.0
    while True:
        try:
            pid, _status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if not pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child.pid, 0)


def _serve(request: int, reply: int) -> None:  # pragma: no cover - runs in the child
    """Import genai-prices, then answer each question until the pipe closes."""
    status = 0
    try:
        import genai_prices  # noqa: F401  (the import is the point: it overlaps the parent's scan)

        from openusage import pricing

        while True:
            try:
                question, argument = marshal.loads(_read_message(request, None))
            except EOFError:
                break
            if question == "schedules":
                answer: Any = list(pricing.database_schedules_here(argument).items())
            elif question == "data":
                answer = tuple(pricing.data_info_here())
            else:
                break
            body = marshal.dumps((True, answer))
            write_all(reply, _LENGTH.pack(len(body)) + body)
    except BaseException:
        status = 1  # the parent answers in its own process
    finally:
        os._exit(status)


def _read_message(fd: int, deadline: float | None) -> bytes:
    header = _read_exactly(fd, _LENGTH.size, deadline)
    return _read_exactly(fd, _LENGTH.unpack(header)[0], deadline)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise OSError("no answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
