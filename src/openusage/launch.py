"""The console script (`openusage`, `python -m openusage`): the hot commands' arguments read without
click, every other command line handed to click (`cli.py`).

A warm `openusage snapshot --json` does a few tens of milliseconds of work, and importing click (with
inspect, uuid, platform and the rest it imports) would add ~15-25 ms to it. So the command lines run
most often, the tiles (`openusage`, `openusage snapshot`), `openusage snapshot --json` and
`openusage report <kind>`, are read here, but only when click would accept them as they are: the
command's own options, each flag bare, each value present, not empty, not starting with `-`, and one
of the choices or in the range click checks. Anything else (--help, -h, --version, --demo, another
command, a value click would refuse or might read otherwise, `--`, an unknown option, shell
completion) goes to click untouched, so help, messages and exit codes are click's own. Once read, both
run the same `commands.py`, which says errors the same way.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Each table: option -> the keyword it sets. Flags take no value; the others take the next argument
# (or `--option=value`), the last one given counting; `_REPEATED` ones collect every value given.
_GROUP_FLAGS = {"--no-cache": "no_cache", "--offline": "offline"}
_GROUP_VALUES = {"--tz": "tz_name"}
_SNAPSHOT_FLAGS = {"--json": "json_output", "--no-cache": "no_cache", "--offline": "offline"}
_SNAPSHOT_VALUES = {"--account": "account", "--tz": "tz_name"}
_REPORT_KINDS = frozenset(("daily", "weekly", "monthly", "session", "project", "model"))
_REPORT_FLAGS = {"--breakdown": "breakdown", "--json": "json_output", "--csv": "csv_output",
                 "--markdown": "markdown", "--no-cache": "no_cache"}
_REPORT_VALUES = {"--since": "since", "--until": "until", "--tz": "tz_name", "--start-of-week": "start_of_week",
                  "--start-of-month": "start_of_month", "--order": "order", "--limit": "limit"}
_REPORT_REPEATED = {"--account": "accounts", "--provider": "providers"}
_CHOICES = {"start_of_week": ("monday", "sunday"), "order": ("asc", "desc")}  # as cli.py's click.Choice
_RANGES = {"start_of_month": (1, 28), "limit": (1, None)}  # as cli.py's click.IntRange
_COMPLETION_VARIABLE = "_OPENUSAGE_COMPLETE"  # click's shell completion: click's to answer


class _Line:
    """A command line read here: the command, the group's options and the command's own."""

    __slots__ = ("command", "group", "options")

    def __init__(self, command: str, group: dict[str, Any], options: dict[str, Any]) -> None:
        self.command = command  # "" (the tiles), "snapshot", or a report kind
        self.group = group
        self.options = options


def read(args: list[str]) -> _Line | None:
    """The command line, if it is one of the hot commands as click would read it; None: click's."""
    position = 0
    group_args: list[str] = []
    while position < len(args) and args[position].startswith("-"):
        group_args.append(args[position])
        if args[position] in _GROUP_VALUES:  # its value is the next argument, whatever it looks like
            position += 1
            group_args.extend(args[position:position + 1])
        position += 1
    group = _options(group_args, _GROUP_FLAGS, _GROUP_VALUES, {})
    if group is None:
        return None
    rest = args[position:]
    if not rest:
        return _Line("", group, {})
    if rest[0] == "snapshot":
        options = _options(rest[1:], _SNAPSHOT_FLAGS, _SNAPSHOT_VALUES, {})
        return None if options is None else _Line("snapshot", group, options)
    if rest[0] == "report" and len(rest) > 1 and rest[1] in _REPORT_KINDS:
        options = _options(rest[2:], _REPORT_FLAGS, _REPORT_VALUES, _REPORT_REPEATED)
        if options is None or not _checked(options):
            return None
        return _Line(rest[1], group, options)
    return None


def _options(args: list[str], flags: dict[str, str], values: dict[str, str],
             repeated: dict[str, str]) -> dict[str, Any] | None:
    """The keywords these arguments set, or None when one of them is not a plain use of a known option
    (then click reads the line, and says what is wrong with it)."""
    found: dict[str, Any] = {}
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg in flags:
            found[flags[arg]] = True
            continue
        name, equals, value = arg.partition("=")
        if name not in values and name not in repeated:
            return None
        if not equals:
            if position == len(args):
                return None  # click says the option needs a value
            value = args[position]
            position += 1
        if not value or value.startswith("-"):
            return None
        if name in repeated:
            found.setdefault(repeated[name], []).append(value)
        elif values[name] in found:
            return None  # given twice: click says it must be given once
        else:
            found[values[name]] = value
    for keyword in repeated.values():
        if keyword in found:
            found[keyword] = tuple(found[keyword])
    return found


def _checked(options: dict[str, Any]) -> bool:
    """The choices and ranges click would check, checked, and the numbers made ints; False when one is
    not plainly valid (click then says why, or reads it its own way)."""
    for keyword, allowed in _CHOICES.items():
        if keyword in options and options[keyword] not in allowed:
            return False
    for keyword, (low, high) in _RANGES.items():
        if keyword in options:
            text = options[keyword]
            if not (text.isascii() and text.isdigit()):
                return False
            number = int(text)
            if number < low or (high is not None and number > high):
                return False
            options[keyword] = number
    return True


def main() -> None:
    """Run the command line: a hot command here, anything else through click (`cli.main`). Either way
    the process leaves through `commands.finish` (os._exit), with the cyclic collector off (cli.main
    says why)."""
    try:
        _standard_streams()
        line = None if _COMPLETION_VARIABLE in os.environ else read(sys.argv[1:])
        if line is None:
            from openusage.cli import main as click_main

            click_main()
            return
    except KeyboardInterrupt:  # before a command runs (its imports): as click says it, no traceback
        _aborted()
        return
    import gc

    gc.disable()
    from openusage import commands

    commands.ONE_SHOT[0] = True
    try:
        _run(line)
        code = 0
    except KeyboardInterrupt:  # as click says it
        commands.say("", err=True)
        commands.say("Aborted!", err=True)
        code = 1
    except Exception as exc:
        code = commands.failure(exc)
    commands.finish(code)


def _standard_streams() -> None:
    """A closed stderr (`2>&-`) becomes /dev/null: nothing could be said there, and that fails nothing.
    A closed stdout (`>&-`) ends the run with one line on stderr and exit 1: no output can be given."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # the process's own stream, for its lifetime
    if sys.stdout is None:
        sys.stderr.write("openusage: cannot write the output: standard output is closed\n")
        sys.stderr.flush()
        os._exit(1)


def _aborted() -> None:
    """Leave as click does on Ctrl-C: "Aborted!" on stderr, exit 1."""
    try:
        sys.stderr.write("\nAborted!\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(1)


def _run(line: _Line) -> None:
    from openusage import commands

    group = commands.Options(os.environ, None, line.group.get("no_cache", False), False,
                             line.group.get("tz_name"), line.group.get("offline", False))
    if not line.command:
        commands.default(group)
    elif line.command == "snapshot":
        commands.snapshot(group, json_output=line.options.get("json_output", False),
                          account=line.options.get("account"), no_cache=line.options.get("no_cache", False),
                          offline=line.options.get("offline", False), tz_name=line.options.get("tz_name"))
    else:
        commands.report(line.command, group, **line.options)
