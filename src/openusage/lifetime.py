"""Whether this process is a one-shot command, and what such a process keeps until it leaves.

A one-shot command (`launch.main`, `cli.main`) leaves through `os._exit` (`commands.finish`): nothing is
torn down. A value it is done with but that is large (a cold scan's 48,000 calls and their ledger) is
better left alive until then than freed object by object just before the process ends: that freeing
took ~5 ms of a cold `snapshot --json` (docs/speed.md, "A cold scan's CPU, part by part"). Anything else (a
test that runs the commands in its own process, a resident dashboard or exporter) frees as usual.
"""

ONE_SHOT: list[bool] = [False]  # a list: set once, by the entry points, and read where it matters
_KEPT: list[object] = []


def outlive(value: object) -> None:
    """Keep `value` alive until a one-shot process leaves; elsewhere, nothing is kept."""
    if ONE_SHOT[0]:
        _KEPT.append(value)
