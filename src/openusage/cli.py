"""The `openusage` command line in click: every command and option, --help, --version, and the
messages and exit codes of option errors. What a command does once its options are read is in
`commands.py`; the console script (`launch.py`) reads the hot commands' arguments without click and
comes here for everything else.

No parsing, no SQL, no arithmetic here.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

import click

from openusage import __version__, api, commands
from openusage.errors import SettingsError
from openusage.windows import current_time

OFFLINE_HELP = "Never call a remote service: remote tiles show their last answer from the cache, with its age."
TZ_HELP = ("The time zone (IANA, e.g. Europe/Berlin) of today, 7 d and the daily series; default OPENUSAGE_TZ, "
           "else UTC.")
SETTINGS_HINT = "Settings: OPENUSAGE_CONFIG or ~/.config/openusage/settings.json."


class _OnceEach(click.Command):
    """An option that takes one value, given twice (`--tz UTC --tz Asia/Tokyo`), is an error that names
    it: click would keep the last and drop the first without a word."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            _opts, _rest, order = self.make_parser(ctx).parse_args(args=list(args))
            seen: set[str | None] = set()
            for param in order:
                if isinstance(param, click.Option) and not (param.multiple or param.is_flag or param.count):
                    if param.name in seen:
                        raise click.UsageError(f"{param.opts[0]} is given more than once; give it once.", ctx)
                    seen.add(param.name)
        return super().parse_args(ctx, args)


class _Group(_OnceEach, click.Group):
    """Converts errors once, for every command: a named error is one line and its exit code."""

    command_class = _OnceEach

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a named error, a reader gone, or the last line of defence (commands.py)
            ctx.exit(commands.failure(exc))


def _group_help() -> str:
    """The group's help, from the registry: every agent's home and its variable, then every remote
    tile and how it is turned on."""
    homes = "; ".join(f"{home.title} {home.default} ({home.variable})" for home in api.agent_homes())
    tiles = "; ".join(f"{tile.title}: {tile.turned_on_by}" for tile in api.remote_tiles())
    return ("How much you use your AI coding agents, read from their own local files.\n\n"
            "With no command: a tile for every detected or configured account. Each agent's home, "
            f"unless its variable names another: {homes}. Add accounts in settings.json "
            "(OPENUSAGE_CONFIG names another file).\n\n"
            f"Remote tiles, fetched over the network (--offline shows their last answer instead): {tiles}.")


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]},
             help=_group_help())
@click.version_option(__version__, "--version", "-V", prog_name="openusage")
@click.option("--demo", is_flag=True,
              help="The dashboard and a sample report (or the command's output) over a generated sample "
                   "home of each agent.")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--tz", "tz_name", metavar="ZONE", help=TZ_HELP)
@click.pass_context
def cli(ctx: click.Context, demo: bool, no_cache: bool, offline: bool, tz_name: str | None) -> None:
    """The group: its help is `_group_help`, written from the providers' registry."""
    options = commands.Options(os.environ, None, no_cache, demo, tz_name, offline)
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
        commands.default(options)


def _demo(options: commands.Options) -> None:
    """The dashboard and a report over the generated homes, said to be sample data before and after."""
    from rich.text import Text

    console = commands.console()
    # The demo's environment names only the sample homes (`api.demo_home`): each by its provider's variable.
    titles = [home.title for home in api.agent_homes() if home.variable in options.env]
    listed = " and ".join(filter(None, [", ".join(titles[:-1]), titles[-1]])) if titles else "agent"
    sample = Text(f"Sample data: generated {listed} home{'s' if len(titles) > 1 else ''}, not your usage.",
                  style="bold yellow")
    console.print(sample)
    commands.dashboard(options.env, options.now or current_time(), account=None, use_cache=False, tz=options.zone())
    console.print(Text.assemble("A sample report, ", ("openusage --demo report project --since 7d", "bold"),
                                " (see openusage report --help):"))
    commands.report("project", options._replace(offline=False), since="7d")  # --offline was the dashboard's
    console.print(sample)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.detect/1 JSON document.")
@click.pass_obj
def detect(options: commands.Options, json_output: bool) -> None:
    """Show what was detected and why (binary, sessions dir, config file) and the resulting accounts.

    A settings file that cannot be used does not stop it: the report says why, shows the accounts
    detection alone gives, and the command then exits with the settings error's code."""
    options.refuse("detect", "which reads no usage, no cache and no service", no_cache=True)
    report = api.detect(options.env, detailed=True, strict=False)
    if json_output:
        from openusage.render.jsonout import detect_document, dumps

        commands.say(dumps(detect_document(report)), nl=False)
    else:
        from openusage.render.detect import render_detect

        render_detect(report, commands.console())
    if report.settings_error is not None:
        raise SettingsError(report.settings_error)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.snapshot/2 JSON document.")
@click.option("--account", metavar="ID", help="Only this account (see `openusage detect`).")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--tz", "tz_name", metavar="ZONE", help=TZ_HELP)
@click.pass_obj
def snapshot(options: commands.Options, json_output: bool, account: str | None, no_cache: bool, offline: bool,
             tz_name: str | None) -> None:
    """Every account's usage now: tiles, or with --json the stable machine-readable form."""
    commands.snapshot(options, json_output=json_output, account=account, no_cache=no_cache, offline=offline,
                      tz_name=tz_name)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.prices/1 JSON document.")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.pass_obj
def prices(options: commands.Options, json_output: bool, no_cache: bool) -> None:
    """The price data (genai-prices' version and date) and how each of your models is priced: its
    rates, the alias used, your own prices from settings, or no price."""
    options.refuse("prices", "which shows no day and calls no service")
    report = api.prices(options.env, use_cache=options.use_cache(no_cache), notice=commands.notice)
    if json_output:
        from openusage.render.jsonout import dumps, prices_document

        commands.say_json(dumps(prices_document(report)).encode())
        return
    from openusage.render.prices import render_prices

    render_prices(report, commands.console())


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
    """A bad option of a report is one line and exit 2, like every other request that cannot be met:
    one written after the kind (`invoke`) or before it (`parse_args`: `report --json daily`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        alone = not args  # (click's parser consumes the list)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if alone:  # `openusage report` alone: click's help, on stderr, as for any group
                raise
            click.echo(f"openusage: {exc.format_message()}", err=True)
            ctx.exit(2)

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
    def command(group: commands.Options, **options: Any) -> None:
        commands.report(kind, group, **options)

    command.__doc__ = summary
    for option in reversed(REPORT_OPTIONS):
        command = option(command)
    report.command(kind)(click.pass_obj(command))


for _kind, _summary in (
    ("daily", "Usage per day."), ("weekly", "Usage per week."), ("monthly", "Usage per month."),
    ("session", "Usage per session: title, project, first and last call, duration."),
    ("project", "Usage per project (working directory), across providers."), ("model", "Usage per model."),
):
    _report_command(_kind, _summary)


def main() -> None:
    """The click front end, as a one-shot process: every command line `launch.main` does not read
    itself (any other command, --help, --version, an option error). It leaves through `os._exit`
    (`commands.finish`).

    The cyclic garbage collector is off: a command is short, builds tens of thousands of small objects
    and no cycles worth collecting, and each collection would walk them all (~9 ms after a cold scan).
    A long-running command (a live dashboard) turns it back on."""
    gc.disable()
    commands.ONE_SHOT[0] = True
    try:
        cli.main(prog_name="openusage")  # standalone mode: it always ends in SystemExit
        code: int = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    commands.finish(code)


def _exit_code(code: object) -> int:
    """SystemExit's code as the process's status, as the interpreter would turn it into one."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
