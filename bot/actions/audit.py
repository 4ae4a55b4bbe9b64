"""The audit trail as rows, for ``/audit`` and ``newsbot audit`` alike (no Telegram import)."""

from __future__ import annotations

from typing import Any

from bot.state.records import iso

__all__ = ["audit_entries"]


def audit_entries(svc: Any, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: {"id", "at" (epoch), "time" (ISO UTC), "who", "action", "target", "result"}.

    Every editor action (push, force, skip, retry, pause, resume, approve, resend, mark sent) is
    appended by the action itself through ``State.audit``; this only reads the capped stream.
    """
    rows = svc.state.audit_log(max(0, int(limit)))
    for row in rows:
        row["time"] = iso(row["at"]) if row.get("at") else None
    return rows
