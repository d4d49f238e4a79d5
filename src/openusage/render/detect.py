"""`openusage detect` as a table: what was looked at, what was found, and the accounts that result."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

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
            found = Text("yes", style="green") if fact.found else Text("no", style="dim")
            facts.add_row(detection.title, fact.what, fact.value, found)
    console.print(facts)

    settings = report.settings
    if report.settings_error is not None:
        console.print(Text(f"settings: {report.settings_error}", style="red"))
        console.print(Text("The settings are not used: these are the accounts detection alone gives.", style="yellow"))
    else:
        where = f"{settings.path}" + ("" if settings.path.is_file() else " (not present: defaults)")
        console.print(Text(f"settings: {where}; auto_detect: {'on' if settings.auto_detect else 'off'}"))

    if report.reader is not None:
        console.print(Text(f"reader: {describe(report.reader)}"))
    if report.warm_check is not None:
        check = report.warm_check
        console.print(Text(f"warm check: {native.describe(check.compiled, check.why)}"))

    if not report.accounts:
        console.print(Text("No account detected or configured.", style="yellow"))
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
