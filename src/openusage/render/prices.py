"""`openusage prices`: the price data, and how each of the user's models is priced (a rich table)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from openusage.api import PricesReport, PriceStep


def render_prices(report: PricesReport, console: Console) -> None:
    if report.data is None:
        console.print(Text("genai-prices is not installed: only prices from settings apply.", style="yellow"))
    else:
        dated = f", newest price dated {report.data.date}" if report.data.date else ""
        console.print(Text(f"Price data: genai-prices {report.data.version}{dated} (bundled, offline). "
                           "USD per million tokens; settings.json \"prices\" wins over it."))
    if not report.models:
        console.print(Text("No model calls recorded yet.", style="dim"))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for header in ("Model", "Provider", "Calls", "Priced as", "From"):
        table.add_column(header, overflow="fold")
    for header in ("Input", "Output", "Cache r", "Cache w"):
        table.add_column(header, justify="right", no_wrap=True)
    missing: list[str] = []
    for model in report.models:
        for index, step in enumerate(model.steps):
            head = (model.model, model.provider, f"{model.calls:,}") if index == 0 else ("", "", "")
            table.add_row(*head, _priced_as(step, model.alias if index == 0 else ""), step.origin, *_rates(step))
            if step.rates is None:
                missing.append(step.target)
    console.print(table)
    for target in dict.fromkeys(missing):
        console.print(Text(f"no price for {target}: add an alias in settings (\"prices\": {{\"aliases\": "
                           f"{{\"{target}\": \"<priced model>\"}}}}) or its price (\"models\")", style="yellow"))


def _priced_as(step: PriceStep, alias: str) -> str:
    text = step.target
    if step.since is not None:
        text = f"{text} from {step.since[:10]}"
    if alias:
        text += f" ({alias} alias)"
    notes = [note for note, on in (("tiers", step.tiered), ("dated prices", step.dated)) if on]
    return text + (f" [{', '.join(notes)}]" if notes else "")


def _rates(step: PriceStep) -> tuple[str, str, str, str]:
    if step.rates is None:
        return ("?", "?", "?", "?")
    return tuple(f"{rate:g}" for rate in step.rates)  # type: ignore[return-value]  # always four rates
