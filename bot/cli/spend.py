"""`newsbot spend [--month YYYY-MM]`: what X has cost, per day, and where the month is heading.

Lines, not a table, for the reason ``bot/cli/status.py`` gives.  The figures come from the
ledger the X transport writes as each call is made (``bot.state.spend``), in UTC days.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from bot.cli.ops import JsonOption, SiteOption, session
from bot.cli.status import usd
from bot.cli.text import literal

__all__ = ["print_spend", "register"]

_KIND_NAMES = {"post": "posts", "post_url": "posts with a URL", "media": "media calls",
               "delete": "deletes", "read": "reads"}


def print_spend(console: Console, data: dict[str, Any]) -> None:
    """``data``: ``SpendReport.to_json()``."""
    def out(text: Text) -> None:
        console.print(text, soft_wrap=True, highlight=False)

    out(Text(f"X spend in {data['month']} (UTC days)", style="bold"))
    out(literal(f"  month to date {usd(data['total_usd'])}, today {usd(data['today_usd'])}, "
                f"projected to the month's end {usd(data['projection_usd'])}"))
    for name, key, left in (("monthly", "monthly_budget_usd", "month_left_usd"),
                            ("daily", "daily_budget_usd", None)):
        if data.get(key) is not None:
            rest = f" ({usd(data[left])} left)" if left else ""
            out(literal(f"  {name} budget {usd(data[key])}{rest}"))
    if data.get("waiting_for_budget"):
        out(literal(f"  {data['waiting_for_budget']} post(s) waiting (budget)", "yellow"))
    calls = [f"{v['calls']} {_KIND_NAMES.get(k, k)} {usd(v['usd'])}"
             for k, v in data["by_kind"].items() if v["calls"]]
    out(literal("  calls: " + (", ".join(calls) if calls else "none")))
    if data["days"]:
        out(Text("per day", style="bold"))
        for day in data["days"]:
            detail = ", ".join(f"{n} {_KIND_NAMES.get(k, k)}" for k, n in day["calls"].items())
            out(literal(f"  {day['date']}  {usd(day['usd']):>9}  {detail}"))
    prices = ", ".join(f"{k}={v:g}" for k, v in data["prices_usd"].items())
    out(literal(f"prices (X_PRICES, USD per call): {prices}", "dim"))


def register(app: typer.Typer) -> None:
    from bot.cli.common import UserError, console, print_json

    @app.command()
    def spend(
        month: Annotated[str | None, typer.Option(
            "--month", help="A UTC month as YYYY-MM (default: this month).",
            show_default=False)] = None,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """X spend: month to date, per day, projected to the month's end, against the budgets."""
        with session(site) as ops:
            from bot.actions.spend import spend_report

            try:
                report = spend_report(ops.services, month)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        if as_json:
            print_json(report.to_json())
        else:
            print_spend(console, report.to_json())
