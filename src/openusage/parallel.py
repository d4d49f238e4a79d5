"""Running batches of work on every core: forked workers, a pipe as the queue, results as they come.

Two strategies, chosen once per process by what the process is. A one-shot command (the CLI) forks:
workers inherit everything loaded, and reading and decoding run truly in parallel. A resident process
(a live dashboard, an exporter) runs threads of its own, and forking a process that has threads can
leave a child holding a lock no thread will release; it calls `use_threads()` once, and batches then
run on a pool of threads (the file reads and the SIMD search release the GIL; the decoding does not,
so this is slower on a cold scan, and safe).

The batch numbers are written into a pipe before the workers are forked; every process, this one
included, takes the next number from it (a 4-byte read from a pipe is atomic), so a slow process simply
takes fewer batches. A worker sends each batch's result back on its own pipe, encoded by the caller's codec, and this
process takes them between its own batches. A batch whose result never comes back (a worker killed or
failed) is done again here, so nothing is lost or counted twice. Workers are plain `os.fork`
children: they inherit everything already imported and loaded, start in about a millisecond, and
never write to the cache (only this process does; a worker may read it on a connection of its own).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterator
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")

_INDEX = struct.Struct("<I")
_HEADER = struct.Struct("<IQ")  # batch number, length of the encoded result
_DONE = 0xFFFFFFFF
_PIPE_SIZE = 1024 * 1024  # room for a few results, so a worker rarely waits for this process
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, Linux


class Codec(NamedTuple, Generic[T]):
    """How a batch's result crosses a worker's pipe: bytes and back (`packed.codec` for Structs)."""

    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]


FORK = "fork"
THREADS = "threads"
_strategy = [FORK]  # a list: set once, process-wide, by use_threads()


def use_threads() -> None:
    """From now on this process never forks: batches run on threads. For resident front ends."""
    _strategy[0] = THREADS


def resident() -> bool:
    """Whether this process serves from threads (and so keeps its collector and never forks)."""
    return _strategy[0] == THREADS


def run(batches: int, work: Callable[[int], T], workers: int, codec: Codec[T]) -> Iterator[tuple[int, T]]:
    """`(i, work(i))` for every batch number i in 0..batches-1, in no particular order, computed in
    `workers` processes (this one included), or threads in a resident process. A worker's result
    crosses its pipe through `codec`."""
    if workers < 2 or batches < 2 or (not hasattr(os, "fork") and not resident()):  # no fork (Windows): one process
        for i in range(batches):
            yield i, work(i)
        return
    if resident():
        yield from _threads(batches, work, workers)
        return
    queue_r, queue_w = os.pipe()
    _grow(queue_w)
    os.write(queue_w, b"".join(_INDEX.pack(i) for i in range(batches)))
    os.close(queue_w)  # an empty queue then reads as end of file
    children: dict[int, int] = {}  # result pipe -> pid
    try:
        for _ in range(workers - 1):
            result_r, result_w = os.pipe()
            _grow(result_w)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which leaves through os._exit
                os.close(result_r)
                _child(queue_r, result_w, work, codec.encode)
            os.close(result_w)
            children[result_r] = pid
        done: set[int] = set()
        readers = {fd: _Messages(fd, codec.decode) for fd in children}
        while True:
            for fd in _ready(readers, timeout=0.0):
                yield from _collect(readers, fd, done)
            taken = _take(queue_r)
            if taken is None:
                break
            yield taken, work(taken)
            done.add(taken)
        while readers:
            for fd in _ready(readers, timeout=None):
                yield from _collect(readers, fd, done)
        for i in range(batches):  # what a failed worker took and never sent back
            if i not in done:
                yield i, work(i)
    finally:
        os.close(queue_r)
        for fd in list(children):
            with contextlib.suppress(OSError):
                os.close(fd)
        for pid in children.values():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _threads(batches: int, work: Callable[[int], T], workers: int) -> Iterator[tuple[int, T]]:
    """The batches on a pool of threads; results as they are done. A consumer that stops early
    cancels what has not started."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openusage-read") as pool:
        futures = {pool.submit(work, i): i for i in range(batches)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def _child(queue_r: int, result_w: int, work: Callable[[int], T],
           encode: Callable[[T], bytes]) -> None:  # pragma: no cover - child
    status = 0
    try:
        while True:
            i = _take(queue_r)
            if i is None:
                break
            body = encode(work(i))
            write_all(result_w, _HEADER.pack(i, len(body)) + body)
        write_all(result_w, _HEADER.pack(_DONE, 0))
    except BaseException:
        status = 1  # the batch in hand is never reported: the parent does it again
        if os.environ.get("OPENUSAGE_DEBUG"):
            import traceback

            traceback.print_exc()
    finally:
        os._exit(status)


def _take(queue_r: int) -> int | None:
    raw = os.read(queue_r, _INDEX.size)
    if len(raw) < _INDEX.size:
        return None
    return int(_INDEX.unpack(raw)[0])


class _Messages(Generic[T]):
    """Reassembles one worker's results from its pipe."""

    __slots__ = ("buffer", "decode", "fd")

    def __init__(self, fd: int, decode: Callable[[bytes], T]) -> None:
        self.fd = fd
        self.decode = decode
        self.buffer = bytearray()

    def read(self) -> tuple[list[tuple[int, T]], bool]:
        """The complete results now available, and whether the worker is finished (done or gone)."""
        chunk = os.read(self.fd, _PIPE_SIZE)
        if chunk:
            self.buffer += chunk
        results: list[tuple[int, T]] = []
        finished = not chunk
        buffer = self.buffer
        offset = 0
        while len(buffer) - offset >= _HEADER.size:
            i, length = _HEADER.unpack_from(buffer, offset)
            if i == _DONE:
                finished = True
                offset += _HEADER.size
                break
            if len(buffer) - offset - _HEADER.size < length:
                break
            start = offset + _HEADER.size
            results.append((i, self.decode(bytes(buffer[start : start + length]))))
            offset = start + length
        del buffer[:offset]
        return results, finished


def _ready(readers: dict[int, _Messages[T]], timeout: float | None) -> list[int]:
    if not readers:
        return []
    import select  # only with workers: a one-process run never waits on a pipe

    ready, _, _ = select.select(list(readers), [], [], timeout)
    return ready


def _collect(readers: dict[int, _Messages[T]], fd: int, done: set[int]) -> Iterator[tuple[int, T]]:
    results, finished = readers[fd].read()
    if finished:
        del readers[fd]
    for i, result in results:
        if i not in done:
            done.add(i)
            yield i, result


def write_all(fd: int, data: bytes) -> None:
    """All of `data` into a pipe, however many writes it takes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _grow(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)
    except (OSError, ImportError):
        pass  # a smaller pipe only means a worker waits a little more often
