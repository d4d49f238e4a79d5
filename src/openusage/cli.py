"""The `openusage` command: options → a query → the api → a renderer; errors → one line + exit code.

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
from typing import Any

import click

from openusage import __version__, api
from openusage.errors import OpenUsageError
from openusage.windows import chosen_zone, current_time

OFFLINE_HELP = "Never call a remote service: remote tiles show their last answer from the cache, with its age."
TZ_HELP = ("The time zone (IANA, e.g. Europe/Berlin) of today, 7 d and the daily series; default OPENUSAGE_TZ, "
           "else UTC.")
SETTINGS_HINT = "Settings: OPENUSAGE_CONFIG or ~/.config/openusage/settings.json."


def _notice(message: str) -> None:
    click.echo(message, err=True)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _progress(json_output: bool) -> Any:
    if json_output or not sys.stderr.isatty():
        return None
    from openusage.render.progress import ScanProgress

    return ScanProgress()


def _dashboard(env: Mapping[str, str], now: datetime, *, account: str | None, use_cache: bool,
               tz: tzinfo, offline: bool = False) -> None:
    from openusage.render.tile import render_dashboard, render_nothing_detected

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
            click.echo(f"openusage: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            ctx.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # the last line of defence: a user sees one line, never a traceback
            if os.environ.get("OPENUSAGE_DEBUG"):
                raise
            click.echo(f"openusage: internal error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(70)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="openusage")
@click.option("--demo", is_flag=True, help="Show the dashboard over a generated sample Kimi home.")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--tz", "tz_name", metavar="ZONE", help=TZ_HELP)
@click.pass_context
def cli(ctx: click.Context, demo: bool, no_cache: bool, offline: bool, tz_name: str | None) -> None:
    """How much you use your AI coding agents, read from their own local files.

    With no command: a tile for every detected or configured account. KIMI_SHARE_DIR and KIMI_CODE_HOME
    point at Kimi CLI and Kimi Code homes other than ~/.kimi and ~/.kimi-code; add accounts in
    settings.json (OPENUSAGE_CONFIG names another file). MOONSHOT_API_KEY adds the Moonshot balance
    tile, and a kimi_code_plan account in the settings the Kimi Code plan's limits (fetched over the
    network; --offline shows their last answer instead).
    """
    if ctx.invoked_subcommand is not None:
        return
    now = current_time()
    tz = chosen_zone(tz_name, os.environ, default_local=False)
    if demo:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="openusage-demo-") as tmp:
            _dashboard(api.demo_home(Path(tmp), now), now, account=None, use_cache=False, tz=tz)
        return
    _dashboard(os.environ, now, account=None, use_cache=not no_cache, tz=tz, offline=offline)


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.detect/1 JSON document.")
def detect(json_output: bool) -> None:
    """Show what was detected and why (binary, sessions dir, config file) and the resulting accounts."""
    report = api.detect(os.environ, detailed=True)
    if json_output:
        from openusage.render.jsonout import detect_document, dumps

        click.echo(dumps(detect_document(report)), nl=False)
        return
    from openusage.render.detect import render_detect

    render_detect(report, _console())


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the openusage.snapshot/2 JSON document.")
@click.option("--account", metavar="ID", help="Only this account (see `openusage detect`).")
@click.option("--no-cache", is_flag=True, help="Read every file from scratch; neither read nor write the cache.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--tz", "tz_name", metavar="ZONE", help=TZ_HELP)
def snapshot(json_output: bool, account: str | None, no_cache: bool, offline: bool, tz_name: str | None) -> None:
    """Every account's usage now: tiles, or with --json the stable machine-readable form."""
    now = current_time()
    tz = chosen_zone(tz_name, os.environ, default_local=False)
    if not json_output:
        _dashboard(os.environ, now, account=account, use_cache=not no_cache, tz=tz, offline=offline)
        return
    from openusage.render.jsonout import dumps, snapshot_document

    result = api.snapshot(os.environ, now, account_id=account, use_cache=not no_cache, notice=_notice, tz=tz,
                          offline=offline)
    click.echo(dumps(snapshot_document(result)), nl=False)


def main() -> None:
    """Entry point of the console script. It leaves through `os._exit` once the output is flushed:
    tearing the interpreter down would free every object a big scan built, one by one (~12 ms of a
    cold run), for a process that is ending anyway. Nothing of ours waits for exit: the cache's
    transactions are committed and its connection closed before a command returns.

    The cyclic garbage collector is off for the same reason: a command is short, builds tens of
    thousands of small objects and no cycles worth collecting, and each collection would walk them all
    (~9 ms after a cold scan). A long-running command (a live dashboard) turns it back on."""
    gc.disable()
    try:
        cli.main(prog_name="openusage")  # standalone mode: it always ends in SystemExit
        code: int = 0
    except SystemExit as done:
        code = _exit_code(done.code)
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
