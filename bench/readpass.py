"""python -m bench.readpass --corpus DIR: the read pass alone, pure-Python block loop against compiled.

Every file a provider reads under DIR (`--provider`: Kimi CLI's `wire.jsonl` under `sessions/`, Kimi
Code's `wire.jsonl`, Codex's `*.jsonl`) goes through `candidates.Reader.scan` with that provider's needles
and a callback that only counts the lines (no parsing, no records), once with `openusage.hot.lines` and
once with `openusage._hot.lines` for each compiled search named by `--searches` (`_hot.use_search`:
`avx512bw` searches for several needles in one pass, `avx512bw-each` needle by needle), round after round
(interleaved, so drift hits all alike), and once more as bare `preadv` of the same blocks: the floor no
reader goes below. CPU time of this process (user + sys), medians and minima. `--hash` also feeds each
file's bytes to the cache's fingerprint (`Prefix`), as a first run does; without it the pass is a cold
scan's (`--no-cache` hashes nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from openusage import hot
from openusage.candidates import BLOCK, Prefix, Reader
from openusage.providers.codex_cli.provider import NEEDLES as CODEX_NEEDLES
from openusage.providers.kimi_cli.provider import NEEDLES as KIMI_CLI_NEEDLES
from openusage.providers.kimi_code.provider import NEEDLES as KIMI_CODE_NEEDLES
from openusage.records import Line

# provider: (its needles, the files it reads under the corpus, as a glob from there)
PROVIDERS = {
    "kimi_cli": (KIMI_CLI_NEEDLES, "sessions/**/wire.jsonl"),
    "kimi_code": (KIMI_CODE_NEEDLES, "**/wire.jsonl"),
    "codex_cli": (CODEX_NEEDLES, "**/*.jsonl"),
}


def read_pass(files: list[str], needles: tuple[bytes, ...], kernel: hot.Kernel,
              hashing: bool) -> tuple[float, int]:
    """CPU seconds to scan every file, and the candidate lines found."""
    reader = Reader(kernel=kernel)
    found = 0

    def count(_line: Line) -> None:
        nonlocal found
        found += 1

    started = time.process_time()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            reader.scan(fd, 0, os.fstat(fd).st_size, needles, count, Prefix() if hashing else None)
        finally:
            os.close(fd)
    return time.process_time() - started, found


def preadv_only(files: list[str]) -> float:
    view = memoryview(bytearray(BLOCK))
    started = time.process_time()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            offset = 0
            while (n := os.preadv(fd, [view], offset)) > 0:
                offset += n
        finally:
            os.close(fd)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a provider's home (its files are read)")
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="kimi_cli")
    parser.add_argument("--searches", default="",
                        help="compiled searches to time, comma-separated (default: the one import chose)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--hash", action="store_true", help="fingerprint the bytes too, as a first run does")
    args = parser.parse_args()
    needles, pattern = PROVIDERS[args.provider]
    files = sorted(str(p) for p in args.corpus.glob(pattern))
    compiled = hot.choose({})
    if not compiled.compiled:
        raise SystemExit(f"the compiled loop is not in use: {compiled.why}")
    from openusage import _hot

    searches = [name for name in args.searches.split(",") if name] or [_hot.SEARCH]

    def with_search(name: str) -> Callable[[], float]:
        def run() -> float:
            previous = _hot.use_search(name)
            try:
                return measured(files, needles, compiled, args.hash)
            finally:
                _hot.use_search(previous)
        return run

    kernels: dict[str, Callable[[], float]] = {
        "preadv only": lambda: preadv_only(files),
        "pure Python": lambda: measured(files, needles, hot.Kernel(hot.lines, False, "reference"), args.hash),
    }
    for name in searches:
        kernels[f"compiled, {name}"] = with_search(name)
    times: dict[str, list[float]] = {name: [] for name in kernels}
    for _ in range(args.rounds):
        for name, run in kernels.items():
            times[name].append(run())
    size = sum(os.path.getsize(p) for p in files)
    print(f"{args.provider}: {len(files)} files, {size / 1e9:.3f} GB, {_FOUND.get('lines', 0):,} lines; "
          f"{args.rounds} rounds; hash: {'yes' if args.hash else 'no'}; compiled: {compiled.why}")
    for name, values in times.items():
        print(f"{name:24s} median {statistics.median(values):.3f} s CPU   min {min(values):.3f} s")


_FOUND: dict[str, int] = {}


def measured(files: list[str], needles: tuple[bytes, ...], kernel: hot.Kernel, hashing: bool) -> float:
    """The pass's CPU time; every loop and search must find the same number of lines."""
    seconds, found = read_pass(files, needles, kernel, hashing)
    if _FOUND.setdefault("lines", found) != found:
        raise SystemExit(f"the loops disagree: {found} lines against {_FOUND['lines']}")
    return seconds


if __name__ == "__main__":
    main()
