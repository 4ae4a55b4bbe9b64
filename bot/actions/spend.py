"""What X has cost: the spend report (``newsbot spend``) and the spend lines of ``status``.

Read-only, like ``status``: the ledger (``bot.state.spend``) is written by the X transport as
each call is made; this only reads it and sets it against the budgets of the settings.
"""

from __future__ import annotations

import re
from typing import Any

from bot.actions.services import DeliveryServices
from bot.state.spend import SpendLedger, SpendReport, caps

__all__ = ["ledger_of", "spend_report", "spend_summary"]

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def ledger_of(svc: DeliveryServices) -> SpendLedger:
    """The services' ledger, or one on their Redis (a lighter test double has none)."""
    ledger = getattr(svc, "spend", None)
    if isinstance(ledger, SpendLedger):
        return ledger
    return SpendLedger(svc.state.client, namespace=svc.state.namespace,
                       prices=svc.settings.x_prices)


def spend_report(svc: DeliveryServices, month: str | None = None) -> SpendReport:
    """Month-to-date (or ``month``, ``YYYY-MM``, UTC) spend, per day, and the projection."""
    if month is not None and not _MONTH.fullmatch(month):
        raise ValueError(f"month must be YYYY-MM, not {month!r}")
    daily, monthly = caps(svc.settings)
    return ledger_of(svc).report(month, daily_cap=daily, monthly_cap=monthly)


def spend_summary(svc: DeliveryServices, now: float | None = None) -> dict[str, Any]:
    """The few figures ``status`` and ``/status`` show: this month, today, the projection, the
    budgets and what they leave, and how many posts wait for budget."""
    daily, monthly = caps(svc.settings)
    data = ledger_of(svc).report(daily_cap=daily, monthly_cap=monthly, now=now).to_json()
    keys = ("month", "total_usd", "today_usd", "projection_usd", "monthly_budget_usd",
            "daily_budget_usd", "month_left_usd", "waiting_for_budget")
    out = {k: data[k] for k in keys}
    out["today_left_usd"] = (None if daily is None
                             else round(max(0, daily - round(data["today_usd"] * 1e6)) / 1e6, 6))
    return out
