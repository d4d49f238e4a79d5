"""`openusage detect` as a table: what was looked at, what was found, and the accounts that result."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openusage import native
from openusage.api import DetectReport
from openusage.hot import describe


def render_detect(report: DetectReport, console: Console) -> None:
    facts = Table(title="What openusage looked for", title_justify="left", expand=False)
    facts.add_column("provider")
    facts.add_column("what")
    facts.add_column("where", overflow="fold")
    facts.add_column("found")
    for detection in report.detections:
        for fact in detection.facts:
            facts.add_row(
                detection.title, fact.what, fact.value, "[green]yes[/]" if fact.found else "[dim]no[/]"
            )
    console.print(facts)

    settings = report.settings
    if report.settings_error is not None:
        console.print(f"[red]settings: {escape(report.settings_error)}[/]")
        console.print("[yellow]The settings are not used: these are the accounts detection alone gives.[/]")
    else:
        where = f"{settings.path}" + ("" if settings.path.is_file() else " (not present: defaults)")
        console.print(f"settings: {escape(where)}; auto_detect: {'on' if settings.auto_detect else 'off'}")

    if report.reader is not None:
        console.print(f"reader: {escape(describe(report.reader))}")
    if report.warm_check is not None:
        check = report.warm_check
        console.print(f"warm check: {escape(native.describe(check.compiled, check.why))}")

    if not report.accounts:
        console.print("[yellow]No account detected or configured.[/]")
        return
    accounts = Table(title="Accounts", title_justify="left")
    accounts.add_column("id")
    accounts.add_column("provider")
    accounts.add_column("origin")
    accounts.add_column("overrides", overflow="fold")
    for account in report.accounts:
        overrides = ", ".join(f"{k}={v}" for k, v in account.extra.items()) or "-"
        accounts.add_row(account.id, account.provider, account.origin, overrides)
    console.print(accounts)
