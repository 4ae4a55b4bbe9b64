"""The audit trail: the entry an action writes, and the rows ``/audit`` and ``newsbot audit`` read.

No Telegram import: the CLI and the editors' bot both read and write it through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.state.records import iso

if TYPE_CHECKING:
    from bot.actions.reports import Outcome
    from bot.actions.services import DeliveryServices

__all__ = ["audit_entries", "audit_outcomes"]


def audit_outcomes(svc: DeliveryServices, who: str, action: str, target: str,
                   outcomes: Iterable[Outcome], extra: dict[str, Any] | None = None) -> None:
    """One entry for a record action: what became of each destination (plus ``extra``)."""
    result: dict[str, Any] = {f"{o.platform}:{o.destination}": o.result for o in outcomes}
    if extra:
        result.update(extra)
    svc.state.audit(who, action, target, result)


def audit_entries(svc: Any, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: {"id", "at" (epoch), "time" (ISO UTC), "who", "action", "target", "result"}.

    Every editor action (push, force, skip, retry, pause, resume, approve, resend, mark sent) is
    appended by the action itself through ``State.audit``; this only reads the capped stream.
    """
    rows = svc.state.audit_log(max(0, int(limit)))
    for row in rows:
        row["time"] = iso(row["at"]) if row.get("at") else None
    return rows
