"""Stopping and restarting every send at once: ``pause`` and ``resume``."""

from __future__ import annotations

from bot.actions.reports import PauseReport
from bot.actions.services import DeliveryServices, Enqueue, check_who

__all__ = ["pause", "resume"]


def pause(svc: DeliveryServices, who: str, reason: str = "") -> PauseReport:
    """Stop every worker from starting a send (records wait in ``queued``).

    Pausing again with a reason replaces the reason (an editor explains the pause better);
    without one it keeps it.  The report's ``reason`` is the one now in force.
    """
    check_who(who)
    was = not svc.state.pause(who, reason)
    svc.state.audit(who, "pause", "*", {"reason": reason, "was_paused": was})
    info = svc.state.pause_info() or {}
    return PauseReport(action="pause", paused=True, changed=not was, who=who,
                       reason=str(info.get("reason", reason)))


def resume(svc: DeliveryServices, who: str, enqueue: Enqueue) -> PauseReport:
    """Clear the pause and hand every queued record to the workers again.

    Why re-enqueue: a worker that met the pause left its record ``queued`` and its task done,
    so nothing else would pick those records up before the next rescan.  A record enqueued
    twice is harmless (the state machine sends it once).
    """
    check_who(who)
    changed = svc.state.resume(who)
    keys: list[str] = []
    for rec in svc.state.records(state="queued"):
        try:
            enqueue(rec.key)
        except Exception as exc:  # broker trouble: say so, the pause is lifted regardless
            svc.state.audit(who, "resume", "*", {"error": f"enqueue failed: {exc}"})
            break
        keys.append(rec.key)
    svc.state.audit(who, "resume", "*", {"was_paused": changed, "requeued": len(keys)})
    return PauseReport(action="resume", paused=False, changed=changed, who=who,
                       requeued=tuple(keys))
