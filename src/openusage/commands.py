"""What each command does once its options are known, without click: a query to the api, its result to a
renderer, an error to one line and an exit code.

Two front ends call these: `cli.py` (click: every command, --help, --version, option errors) and
`launch.py` (the console script, which reads the arguments of the hot commands itself so that a warm
`openusage snapshot --json` never imports click). Both therefore run the same code once the options
are read, and say the same things.

Every line written to stderr (notices, errors) is one printable line, whatever a file name or a file's
content put in it (`files.printable`). rich is imported only by the commands that draw.
"""

import errno
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, AnyStr, NamedTuple, cast

from openusage import api, lifetime, paths
from openusage.errors import OpenUsageError, UsageInputError
from openusage.files import printable
from openusage.windows import chosen_zone, current_time, local_date

if TYPE_CHECKING:
    from openusage import reports
    from openusage.cost import CallsPricing
    from openusage.pricing import DataInfo
    from openusage.query import CallsQuery, SettledCall

# Set by the entry points: this process is a one-shot command, which may fork helpers before it reads
# and keeps what it is done with until it leaves (a test that runs the commands in its own process
# through click's CliRunner is not one). The list lives in `lifetime`, which the api reads.
ONE_SHOT = lifetime.ONE_SHOT
INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug of ours, said in one line


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """`text` to stdout (or stderr) and flushed, exactly as `click.echo` writes it. The common case (a
    UTF-8 or other non-ASCII stream, no escape sequence in the text) is a plain write; anything else
    goes through click.echo itself, which strips escape sequences from a stream that is not a
    terminal and re-encodes a stream misconfigured as ASCII."""
    stream = sys.stderr if err else sys.stdout
    if nl:
        text += "\n"
    try:
        if "\x1b" in text or _ascii_stream(stream):
            import click

            click.echo(text, err=err, nl=False)
            return
        stream.write(text)
        stream.flush()
    except OSError:
        if not err:
            raise
        # stderr closed or full (`2>/dev/full`): a notice that cannot be said is not the command's failure


def say_json(data: bytes) -> None:
    """A JSON document, UTF-8 `data`, to stdout: straight to the byte stream when stdout is UTF-8 (the
    common case: a large report is never decoded into a str), else as text through `say`, with the
    characters the stream's encoding cannot hold written as JSON escapes (the same document; before,
    an emoji in a title on a Latin-1 stdout ended the command with an internal error)."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and b"\x1b" not in data and _utf8_stream(stream):
        stream.flush()
        buffer.write(data)
        buffer.flush()
        return
    text = data.decode()
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        import json

        text = json.dumps(json.loads(text), indent=2, ensure_ascii=True) + "\n"
    say(text, nl=False)


def _utf8_stream(stream: Any) -> bool:
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        return False


def _ascii_stream(stream: Any) -> bool:
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "ascii"
    except LookupError:
        return False


def notice(message: str) -> None:
    say(printable(message), err=True)


_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF})


def failure(exc: Exception) -> int:
    """An exception out of a command as the process's exit code, its one line said on stderr: a named
    error its own code, a reader that went away 0, anything else (a bug) an internal error, never a
    traceback unless OPENUSAGE_DEBUG asks for one (then the exception goes on)."""
    if isinstance(exc, OpenUsageError):
        say(printable(f"openusage: {exc}"), err=True)
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):
        return 0
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRORS:  # stdout full (`>/dev/full`), gone, failing
        say(printable(f"openusage: cannot write the output: {exc.strerror or exc}"), err=True)
        return 1
    if os.environ.get("OPENUSAGE_DEBUG"):
        raise exc
    say(printable(f"openusage: internal error: {type(exc).__name__}: {exc}"), err=True)
    return INTERNAL_ERROR


def console() -> Any:
    """The terminal the renderers draw on. Without markup: every string they hand rich is shown as
    written, so a model, path or server text such as `[/bold]` is text, not a tag (a model named so in
    an agent's config ended the dashboard with rich's MarkupError); styles are set on `Text` objects.
    A reader that stops early (`| head`) ends the command with exit 0, as for every other output
    (rich itself exits with 1 there)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # as rich does: nothing more is written, stdout goes to /dev/null
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise BrokenPipeError  # `failure` takes it for what it is: not a failure of ours (exit 0)

    return _Console(markup=False)


def progress(json_output: bool) -> Any:
    if json_output or not sys.stderr.isatty():
        return None
    from openusage.render.progress import ScanProgress

    return ScanProgress()


class Options(NamedTuple):
    """What the group's options (`openusage --demo --no-cache <command>`) mean for the command after
    them: every command honours them, or says it cannot."""

    env: Mapping[str, str]  # the real environment, or the demo home's
    now: datetime | None  # --demo: the instant its home was generated around
    no_cache: bool  # --no-cache, written before the command
    demo: bool  # --demo: its home is new every time, so it is read without the cache
    tz_name: str | None  # --tz, written before the command
    offline: bool  # --offline, written before the command: remote tiles show their last answer

    def use_cache(self, no_cache_here: bool = False) -> bool:
        return not (self.no_cache or self.demo or no_cache_here)

    def refuse(self, command: str, why: str, *, no_cache: bool = False, tz: bool = True) -> None:
        """An option written before `command` that does not apply to it (`--offline` always, `--no-cache`
        and `--tz` where asked) is the user's error, never ignored."""
        given = [name for name, value in (("--no-cache", no_cache and self.no_cache), ("--offline", self.offline),
                                          ("--tz", tz and self.tz_name is not None)) if value]
        if given:
            raise UsageInputError(f"{' and '.join(given)} does not apply to {command}, {why}")

    def zone(self, tz_here: str | None = None) -> tzinfo:
        """The command's own --tz, else the one written before it, else OPENUSAGE_TZ, else UTC."""
        return chosen_zone(self.tz_once(tz_here), os.environ, default_local=False)

    def tz_once(self, tz_here: str | None) -> str | None:
        """The --tz given, before the command or after it; both is the user's error, as an option that
        takes one value given twice is (neither is ignored, nor checked while the other counts)."""
        if tz_here is not None and self.tz_name is not None:
            raise UsageInputError("--tz is given more than once (before the command and after it)")
        return tz_here if tz_here is not None else self.tz_name


def prefetch_prices(env: Mapping[str, str], use_cache: bool) -> None:
    """A one-shot command that will have to price calls with nothing priced in its cache (no cache,
    or a first run) starts importing genai-prices in a child now, while it reads (pricefetch.py)."""
    if not ONE_SHOT[0] or (use_cache and paths.cache_path(env).exists()):
        return
    from openusage import pricefetch

    pricefetch.start()


def dashboard(env: Mapping[str, str], now: datetime, *, account: str | None, use_cache: bool,
              tz: tzinfo, offline: bool = False) -> None:
    """The tiles of every account (or one), or how to point openusage at data when there is none."""
    from openusage.render.tile import render_dashboard, render_nothing_detected

    prefetch_prices(env, use_cache)
    result = api.snapshot(env, now, account_id=account, use_cache=use_cache, progress=progress(False),
                          notice=notice, tz=tz, offline=offline)
    shown = console()
    if result.snapshots:
        render_dashboard(result, shown)
    else:
        render_nothing_detected(shown, paths.settings_path(env), api.agent_homes())


def snapshot(options: Options, *, json_output: bool, account: str | None, no_cache: bool, offline: bool,
             tz_name: str | None) -> None:
    """`openusage snapshot`: the tiles, or with --json the openusage.snapshot/2 document."""
    now = options.now or current_time()
    use_cache = options.use_cache(no_cache)
    tz = options.zone(tz_name)
    offline = offline or options.offline
    if not json_output:
        dashboard(options.env, now, account=account, use_cache=use_cache, tz=tz, offline=offline)
        return
    from openusage.render.jsonout import dumps, snapshot_document

    prefetch_prices(options.env, use_cache)
    result = api.snapshot(options.env, now, account_id=account, use_cache=use_cache, notice=notice, tz=tz,
                          offline=offline)
    say_json(dumps(snapshot_document(result)).encode())


def default(options: Options) -> None:
    """`openusage` with no command (and no --demo): the tiles."""
    dashboard(options.env, options.now or current_time(), account=None, use_cache=options.use_cache(),
              tz=options.zone(), offline=options.offline)


def report(kind: str, group: Options, *, since: str | None = None, until: str | None = None,
           tz_name: str | None = None, start_of_week: str = "monday", start_of_month: int = 1,
           accounts: tuple[str, ...] = (), providers: tuple[str, ...] = (), breakdown: bool = False,
           order: str | None = None, limit: int | None = None, json_output: bool = False, csv_output: bool = False,
           markdown: bool = False, no_cache: bool = False) -> None:
    """`openusage report <kind>`: usage by period, session, project or model, as a table, JSON, CSV or
    Markdown. The front end has checked the kind, the week start, the order and the ranges."""
    from openusage import reports
    from openusage.periods import Calendar, WeekStart, day_range
    from openusage.query import CallsQuery
    from openusage.snapshot import zone_name

    if json_output + csv_output + markdown > 1:
        raise UsageInputError("--json, --csv and --markdown: one at most")
    group.refuse("report", "which calls no service", tz=False)
    # Reports default to the machine's zone (the tile to UTC): a person's days are local ones.
    tz = chosen_zone(group.tz_once(tz_name), os.environ, default_local=True)
    # The front end has checked the week start, order and kind are ours: the casts only tell mypy.
    calendar = Calendar(tz, cast("WeekStart", start_of_week), start_of_month)
    span = day_range(calendar, since, until, local_date(group.now or current_time(), tz))
    options = reports.Options(cast("reports.Kind", kind), calendar, zone_name(tz), span, breakdown,
                              cast("reports.Order | None", order), limit)
    reports.check(options)  # a bad combination is said before any file is read
    query = CallsQuery(accounts or None, providers or None, span.since, span.until, tz, titles=kind == "session",
                       facts=kind in ("session", "project"))
    machine = json_output or csv_output or markdown
    prefetch_prices(group.env, group.use_cache(no_cache))
    shown = progress(machine)
    if options.kind == "session":
        from openusage.store import RowSort

        with RowSort(reports.SORT_IN_MEMORY) as sorter:
            def fold(calls: "Iterator[SettledCall]", price: "CallsPricing", data: "DataInfo | None",
                     facts: api.FactsOf) -> "reports.SessionReport":
                return reports.session_stream(calls, options, price, facts, sorter, data)

            streamed = api.fold_calls(group.env, query, fold, use_cache=group.use_cache(no_cache), progress=shown,
                                      notice=notice)
            _show_report(streamed, json_output=json_output, csv_output=csv_output, markdown=markdown)
        return
    built = _report(group.env, query, options, group.use_cache(no_cache), shown)
    _show_report(built, json_output=json_output, csv_output=csv_output, markdown=markdown)


def _show_report(built: "reports.Report | reports.SessionReport", *, json_output: bool, csv_output: bool,
                 markdown: bool) -> None:
    """The report on stdout in the form asked for, written as its rows are read."""
    if json_output or csv_output or markdown:
        from openusage.render import report as out

        if json_output:
            say_json_parts(out.report_json(built))
            return
        say_parts(out.report_csv_lines(built) if csv_output else out.report_markdown_lines(built))
        return
    from openusage.render.report_table import render_report

    render_report(built, console())


# Text written at once when output comes in parts: few writes, a bounded buffer.
_PART_BYTES = 1 << 16


def _buffers(parts: Iterable[AnyStr], join: Callable[[list[AnyStr]], AnyStr]) -> Iterator[AnyStr]:
    """`parts` joined into buffers of at least `_PART_BYTES` (the last one shorter, none empty)."""
    held: list[AnyStr] = []
    size = 0
    for part in parts:
        held.append(part)
        size += len(part)
        if size >= _PART_BYTES:
            yield join(held)
            held, size = [], 0
    if held:
        yield join(held)


def say_parts(parts: Iterable[str]) -> None:
    """Text that comes in parts (each ending at a line's end), said as `say(text, nl=False)` would say
    all of it, a buffer of them at a time."""
    for text in _buffers(parts, "".join):
        say(text, nl=False)


def say_json_parts(parts: Iterable[bytes]) -> None:
    """A JSON document that comes in parts, as `say_json` writes it whole: straight to a UTF-8 stdout's
    byte stream a buffer at a time; on any other stream joined and handed to `say_json` (rare, and
    what it does there needs the whole document)."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None or not _utf8_stream(stream):
        say_json(b"".join(parts))
        return
    stream.flush()
    for data in _buffers(parts, b"".join):  # JSON escapes every control character: no escape sequence
        buffer.write(data)
    buffer.flush()


def _report(env: Mapping[str, str], query: "CallsQuery", options: "reports.Options", use_cache: bool,
            shown: Any) -> "reports.Report":
    """The report by period, model or project, folded as the calls are read (`api.fold_calls`: no call
    held; a project report asks its sessions' facts a batch of calls at a time)."""
    from openusage import reports

    def fold(calls: "Iterator[SettledCall]", price: "CallsPricing", data: "DataInfo | None",
             facts: api.FactsOf) -> "reports.Report":
        if options.kind == "project":
            built = reports.project_stream(calls, options, price, facts)
        else:
            built = reports.build_stream(calls, options, price)
        return built._replace(prices=data if built.totals.counts.calls else None)

    return api.fold_calls(env, query, fold, use_cache=use_cache, progress=shown, notice=notice)


def finish(code: int) -> None:
    """Leave the process with `code` through `os._exit`, once the output is flushed: tearing the
    interpreter down would free every object a big scan built, one by one (~12 ms of a cold run), for
    a process that is ending anyway. Nothing of ours waits for exit: the cache's transactions are
    committed and its connection closed before a command returns."""
    import contextlib

    if "openusage.pricefetch" in sys.modules:  # its child, if one was started, is reaped
        sys.modules["openusage.pricefetch"].stop()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said
            stream.flush()
    os._exit(code)
