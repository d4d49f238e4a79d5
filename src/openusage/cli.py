"""The `openusage` command: options → a query → the api → a renderer; errors → one line + exit code.

Every line this writes to stderr (notices, errors) is one printable line, whatever a file name or a
file's content put in it (`files.printable`).

No parsing, no SQL, no arithmetic here. rich is imported only by the commands that draw, so
`openusage snapshot --json` stays lean.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple, cast

import click

from openusage import __version__, api, paths
from openusage.errors import OpenUsageError, SettingsError, UsageInputError
from openusage.files import printable
from openusage.windows import chosen_zone, current_time

OFFLINE_HELP = "Never call a remote service: remote tiles show their last answer from the cache, with its age."
TZ_HELP = ("The time zone (IANA, e.g. Europe/Berlin) of today, 7 d and the daily series; default OPENUSAGE_TZ, "
           "else UTC.")
SETTINGS_HINT = "Settings: OPENUSAGE_CONFIG or ~/.config/openusage/settings.json."


def _notice(message: str) -> None:
    click.echo(printable(message), err=True)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _progress(json_output: bool) -> Any:
    if json_output or not sys.stderr.isatty():
        return None
    from openusage.render.progress import ScanProgress

    return ScanProgress()


# Set by `main`: this process is a one-shot command, which may fork helpers before it reads (a test
# that runs the commands in its own process through CliRunner is not one).
_ONE_SHOT: list[bool] = [False]


def _prefetch_prices(env: Mapping[str, str], use_cache: bool) -> None:
    """A one-shot command that will have to price calls with nothing priced in its cache (no cache,
    or a first run) starts importing genai-prices in a child now, while it reads (pricefetch.py)."""
    if not _ONE_SHOT[0] or (use_cache and paths.cache_path(env).exists()):
        return
    from openusage import pricefetch

    pricefetch.start()


def _dashboard(env: Mapping[str, str], now: datetime, *, account: str | None, use_cache: bool,
               tz: tzinfo, offline: bool = False) -> None:
    from openusage.render.tile import render_dashboard, render_nothing_detected

    _prefetch_prices(env, use_cache)
    result = api.snapshot(env, now, account_id=account, use_cache=use_cache, progress=_progress(False),
                          notice=_notice, tz=tz, offline=offline)
    console = _console()
    if result.snapshots:
        render_dashboard(result, console)
    else:
        from openusage.paths import settings_path

        render_nothing_detected(console, settings_path(env))


class _Group(click.Group):
    """Converts errors once, for every command: a named error is one line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OpenUsageError as exc:
            click.echo(printable(f"openusage: {exc}"), err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            ctx.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # the last line of defence: a user sees one line, never a traceback
            if os.environ.get("OPENUSAGE_DEBUG"):
                raise
            click.echo(printable(f"openusage: internal error: {type(exc).__name__}: {exc}"), err=True)
            ctx.exit(70)


class _Options(NamedTuple):
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

    def zone(self, tz_here: str | None = None) -> tzinfo:
        """The command's own --tz, else the one written before it, else OPENUSAGE_TZ, else UTC."""
        return chosen_zone(tz_here or self.tz_name, os.environ, default_local=False)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="openusage")
@click.option("--demo", is_flag=True,
              help="The dashboard and a sample report (or the command's output) over generated Kimi CLI and "
                   "Kimi Code homes.")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--tz", "tz_name", metavar="ZONE", help=TZ_HELP)
@click.pass_context
def cli(ctx: click.Context, demo: bool, no_cache: bool, offline: bool, tz_name: str | None) -> None:
    """How much you use your AI coding agents, read from their own local files.

    With no command: a tile for every detected or configured account. KIMI_SHARE_DIR, KIMI_CODE_HOME and
    CODEX_HOME point at Kimi CLI, Kimi Code and Codex CLI homes other than ~/.kimi, ~/.kimi-code and
    ~/.codex; add accounts in settings.json (OPENUSAGE_CONFIG names another file). MOONSHOT_API_KEY
    adds the Moonshot balance tile, and a kimi_code_plan account in the settings the Kimi Code plan's
    limits (fetched over the network; --offline shows their last answer instead).
    """
    options = _Options(os.environ, None, no_cache, demo, tz_name, offline)
    if demo:
        import tempfile

        now = current_time()
        # Removed when the command's context closes, after the command is done with it.
        tmp = ctx.with_resource(tempfile.TemporaryDirectory(prefix="openusage-demo-"))
        options = options._replace(env=api.demo_home(Path(tmp), now), now=now)
    ctx.obj = options
    if ctx.invoked_subcommand is None and demo:
        _demo(options)
    elif ctx.invoked_subcommand is None:
        _dashboard(options.env, options.now or current_time(), account=None, use_cache=options.use_cache(),
                   tz=options.zone(), offline=options.offline)


def _demo(options: _Options) -> None:
    """The dashboard and a report over the generated homes, said to be sample data before and after."""
    from rich.text import Text

    console = _console()
    sample = Text("Sample data: a generated Kimi CLI home and Kimi Code home, not your usage.", style="bold yellow")
    console.print(sample)
    _dashboard(options.env, options.now or current_time(), account=None, use_cache=False, tz=options.zone())
    console.print(Text.assemble("A sample report, ", ("openusage --demo report project --since 7d", "bold"),
                                " (see openusage report --help):"))
    _report("project", options, since="7d")
    console.print(sample)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.detect/1 JSON document.")
@click.pass_obj
def detect(options: _Options, json_output: bool) -> None:
    """Show what was detected and why (binary, sessions dir, config file) and the resulting accounts.

    A settings file that cannot be used does not stop it: the report says why, shows the accounts
    detection alone gives, and the command then exits with the settings error's code."""
    if options.no_cache:
        raise UsageInputError("--no-cache does not apply to detect, which reads no usage and no cache")
    report = api.detect(options.env, detailed=True, strict=False)
    if json_output:
        from openusage.render.jsonout import detect_document, dumps

        click.echo(dumps(detect_document(report)), nl=False)
    else:
        from openusage.render.detect import render_detect

        render_detect(report, _console())
    if report.settings_error is not None:
        raise SettingsError(report.settings_error)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.snapshot/2 JSON document.")
@click.option("--account", metavar="ID", help="Only this account (see `openusage detect`).")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--tz", "tz_name", metavar="ZONE", help=TZ_HELP)
@click.pass_obj
def snapshot(options: _Options, json_output: bool, account: str | None, no_cache: bool, offline: bool,
             tz_name: str | None) -> None:
    """Every account's usage now: tiles, or with --json the stable machine-readable form."""
    now = options.now or current_time()
    use_cache = options.use_cache(no_cache)
    tz = options.zone(tz_name)
    offline = offline or options.offline
    if not json_output:
        _dashboard(options.env, now, account=account, use_cache=use_cache, tz=tz, offline=offline)
        return
    from openusage.render.jsonout import dumps, snapshot_document

    _prefetch_prices(options.env, use_cache)
    result = api.snapshot(options.env, now, account_id=account, use_cache=use_cache, notice=_notice, tz=tz,
                          offline=offline)
    click.echo(dumps(snapshot_document(result)), nl=False)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.prices/1 JSON document.")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.pass_obj
def prices(options: _Options, json_output: bool, no_cache: bool) -> None:
    """The price data (genai-prices' version and date) and how each of your models is priced: its
    rates, the alias used, your own prices from settings, or no price."""
    report = api.prices(options.env, use_cache=options.use_cache(no_cache), notice=_notice)
    if json_output:
        from openusage.render.jsonout import dumps, prices_document

        click.echo(dumps(prices_document(report)), nl=False)
        return
    from openusage.render.prices import render_prices

    render_prices(report, _console())


REPORT_OPTIONS = (
    click.option("--since", metavar="DATE", help="First day (inclusive): YYYY-MM-DD, today, yesterday, 7d, 30d, "
                 "this-week, this-month or last-month (a word names its range's first day)."),
    click.option("--until", metavar="DATE",
                 help="Last day (inclusive), as --since (a word names its range's last day)."),
    click.option("--tz", "tz_name", metavar="ZONE",
                 help="Time zone of days, weeks and months (IANA); default OPENUSAGE_TZ, else the machine's zone."),
    click.option("--start-of-week", type=click.Choice(["monday", "sunday"]), default="monday", show_default=True,
                 help="Weeks start on Monday (ISO weeks) or Sunday."),
    click.option("--start-of-month", type=click.IntRange(1, 28), default=1, show_default=True, metavar="N",
                 help="Months start on day N (1-28): billing months."),
    click.option("--account", "accounts", multiple=True, metavar="ID", help="Only this account (repeatable)."),
    click.option("--provider", "providers", multiple=True, metavar="ID", help="Only this provider (repeatable)."),
    click.option("--breakdown", is_flag=True, help="Split each row by model."),
    click.option("--order", type=click.Choice(["asc", "desc"]),
                 help="Row order (default: time ascending; projects and models largest first)."),
    click.option("--limit", type=click.IntRange(min=1), metavar="N",
                 help="Only the N most recent periods or sessions, or the N largest projects or models."),
    click.option("--json", "json_output", is_flag=True, help="Print the openusage.report/1 JSON document."),
    click.option("--csv", "csv_output", is_flag=True, help="Print CSV: one header line, one line per row."),
    click.option("--markdown", is_flag=True, help="Print a Markdown table."),
    click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache."),
)


class _ReportGroup(_Group):
    """A bad option of a report is one line and exit 2, like every other request that cannot be met."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            click.echo(f"openusage: {exc.format_message()}", err=True)
            ctx.exit(2)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # from the finest period to the coarsest, then the other views


@cli.group(cls=_ReportGroup)
def report() -> None:
    """Usage by day, week, month, session, project or model, in your own time zone."""


def _report_command(kind: str, summary: str) -> None:
    def command(group: _Options, **options: Any) -> None:
        _report(kind, group, **options)

    command.__doc__ = summary
    for option in reversed(REPORT_OPTIONS):
        command = option(command)
    report.command(kind)(click.pass_obj(command))


def _report(kind: str, group: _Options, *, since: str | None = None, until: str | None = None,
            tz_name: str | None = None, start_of_week: str = "monday", start_of_month: int = 1,
            accounts: tuple[str, ...] = (), providers: tuple[str, ...] = (), breakdown: bool = False,
            order: str | None = None, limit: int | None = None, json_output: bool = False, csv_output: bool = False,
            markdown: bool = False, no_cache: bool = False) -> None:
    from openusage import reports
    from openusage.periods import Calendar, WeekStart, day_range
    from openusage.query import CallsQuery
    from openusage.snapshot import zone_name

    if json_output + csv_output + markdown > 1:
        raise UsageInputError("--json, --csv and --markdown: one at most")
    # Reports default to the machine's zone (the tile to UTC): a person's days are local ones.
    tz = chosen_zone(tz_name or group.tz_name, os.environ, default_local=True)
    # click.Choice has checked the week start, order and kind are ours: the casts only tell mypy.
    calendar = Calendar(tz, cast("WeekStart", start_of_week), start_of_month)
    span = day_range(calendar, since, until, (group.now or current_time()).astimezone(tz).date())
    options = reports.Options(cast("reports.Kind", kind), calendar, zone_name(tz), span, breakdown,
                              cast("reports.Order | None", order), limit)
    reports.check(options)  # a bad combination is said before any file is read
    query = CallsQuery(accounts or None, providers or None, span.since, span.until, tz, titles=kind == "session")
    machine = json_output or csv_output or markdown
    _prefetch_prices(group.env, group.use_cache(no_cache))
    result = api.calls(group.env, query, use_cache=group.use_cache(no_cache), progress=_progress(machine),
                       notice=_notice)
    price, price_data = api.call_prices(group.env, result.calls, use_cache=group.use_cache(no_cache), notice=_notice)
    built = reports.build(result, options, price)._replace(prices=price_data)
    if machine:
        from openusage.render import report as out

        text = out.dumps(out.report_document(built)) if json_output else (
            out.report_csv(built) if csv_output else out.report_markdown(built))
        click.echo(text, nl=False)
        return
    from openusage.render.report_table import render_report

    render_report(built, _console())


for _kind, _summary in (
    ("daily", "Usage per day."), ("weekly", "Usage per week."), ("monthly", "Usage per month."),
    ("session", "Usage per session: title, project, first and last call, duration."),
    ("project", "Usage per project (working directory), across providers."), ("model", "Usage per model."),
):
    _report_command(_kind, _summary)


def main() -> None:
    """Entry point of the console script. It leaves through `os._exit` once the output is flushed:
    tearing the interpreter down would free every object a big scan built, one by one (~12 ms of a
    cold run), for a process that is ending anyway. Nothing of ours waits for exit: the cache's
    transactions are committed and its connection closed before a command returns.

    The cyclic garbage collector is off for the same reason: a command is short, builds tens of
    thousands of small objects and no cycles worth collecting, and each collection would walk them all
    (~9 ms after a cold scan). A long-running command (a live dashboard) turns it back on."""
    gc.disable()
    _ONE_SHOT[0] = True
    try:
        cli.main(prog_name="openusage")  # standalone mode: it always ends in SystemExit
        code: int = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    if "openusage.pricefetch" in sys.modules:  # its child, if one was started, is reaped
        sys.modules["openusage.pricefetch"].stop()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said
            stream.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    """SystemExit's code as the process's status, as the interpreter would turn it into one."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
