"""Connection health: each destination checked every HEALTH_SECONDS and at start; the queue of
an unhealthy one waits instead of failing, and goes out by itself once it is healthy again.

Why: a demoted bot, revoked keys, a suspended X account or spent X credits make *every* send to
that destination fail.  Sending anyway turned each queued post into a ``failed`` record an
editor had to retry by hand, one by one, after fixing the cause.  Now:

* ``check_destinations`` (run by the process that runs the schedule, ``tasks.HealthChecker``)
  asks each publisher's ``check_health`` (Telegram getMe + getChatMember, X users/me) and
  records the outcome in Redis (``bot.state.destination_health``);
* the sender asks ``hold_if_unhealthy`` before anything else: while unhealthy, no send is
  attempted and the record waits as ``waiting`` with the reason ``unhealthy: ...``;
* a send that meets the same refusal (``DeliveryError.unhealthy``: a 402 from X, a channel
  that refuses the bot) marks the destination unhealthy itself (``on_unhealthy_answer``), so
  the posts behind it wait too, never ``failed``;
* the editors are told once per outage (the notice is keyed on the outage's start) with the
  platform's reason, and once when it is healthy again;
* the first healthy check after the fix hands every held record back to the queue (and every
  check after it, so a crash between the two steps loses nothing).

No answer at all (a timeout, a refused connection, a 5xx, a 429 on the check) says nothing
about the bot's rights or the keys: it turns a destination unhealthy only after
``UNREACHABLE_LIMIT`` checks in a row (sends meanwhile back off and retry as before).
HEALTH_SECONDS=0 turns all of this off (sends then fail with the platform's reason, as before).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.delivery.notify import Notice
from bot.delivery.services import Services
from bot.logs import log_event, redact
from bot.metrics import set_destination_health
from bot.platforms.base import DeliveryError
from bot.state import Record
from bot.state.destination_health import HealthBook, HealthChange

__all__ = ["UNHEALTHY_PREFIX", "UNREACHABLE_LIMIT", "CheckOutcome", "check_destinations",
           "edit_hold", "enabled", "health_book", "hold_if_unhealthy", "mark_unhealthy",
           "on_unhealthy_answer", "release_held"]

log = logging.getLogger(__name__)

#: The reason of a record held for an unhealthy destination (``waiting (unhealthy)``).
UNHEALTHY_PREFIX = "unhealthy: "
#: Checks in a row without any answer before a destination counts as unhealthy.
UNREACHABLE_LIMIT = 3
FREE = ("queued", "retry_wait")


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    platform: str
    destination: str
    outcome: str  # ok | unhealthy | unreachable | skipped
    reason: str
    changed: bool
    released: int


def enabled(svc: Services) -> bool:
    return float(getattr(svc.settings, "health_seconds", 0) or 0) > 0


def health_book(svc: Services) -> HealthBook:
    return HealthBook(svc.state.client, namespace=svc.state.namespace)


# ------------------------------------------------------------------ the sender's side
def hold_if_unhealthy(svc: Services, rec: Record, now: float) -> str | None:
    """``unhealthy`` when the record's destination is unhealthy: it now waits (no attempt)."""
    if not enabled(svc):
        return None
    reason = health_book(svc).unhealthy_reason(rec.platform, rec.destination)
    if reason is None:
        return None
    text = UNHEALTHY_PREFIX + reason
    moved = svc.state.transition(*rec.ref, FREE, "waiting", reason=text, by="worker", now=now)
    if moved is None:
        return "busy"
    log_event(log, "state_change", post=rec.post, platform=rec.platform,
              destination=rec.destination, old=rec.state, new="waiting",
              attempt=rec.attempts, reason=text, receipt=None)
    return "unhealthy"


def mark_unhealthy(svc: Services, platform: str, destination: str, reason: str,
                   now: float | None = None) -> None:
    """A send (or an edit) met a refusal of the destination: unhealthy now, editors told once."""
    change = health_book(svc).record(platform, destination, "unhealthy", reason, now=now)
    set_destination_health(platform, destination, False)
    if change.changed:
        _tell(svc, platform, destination, change, reason)


def edit_hold(svc: Services, platform: str, destination: str, now: float) -> float | None:
    """When a correction of a sent message should be tried again, if the destination is
    unhealthy now (the edit waits, as sends do; the tick hands it over when due)."""
    if not enabled(svc) or health_book(svc).unhealthy_reason(platform, destination) is None:
        return None
    return now + float(svc.settings.health_seconds)


def on_unhealthy_answer(svc: Services, rec: Record, owner: str, err: DeliveryError,
                        now: float | None) -> str | None:
    """A send refused for the destination's sake: the destination is unhealthy (the editors
    told once), and this record waits with the others.  None when checks are off (the caller
    then fails the record as before)."""
    if not enabled(svc):
        return None
    reason = redact(err.reason)
    state = svc.state
    t = state.now() if now is None else now
    mark_unhealthy(svc, rec.platform, rec.destination, reason, now=t)
    text = UNHEALTHY_PREFIX + reason
    # The attempt ends as a retry later (the request was refused: nothing went out), then
    # waits with no due time: the first healthy check releases it.  If the second step is
    # lost, the retry comes due after one check interval and the sender holds it again.
    retry_at = t + float(svc.settings.health_seconds)
    if not state.fail_send(*rec.ref, owner=owner, reason=text, retry_at=retry_at, now=t):
        return "lease_lost"
    moved = state.transition(*rec.ref, ("retry_wait",), "waiting", reason=text,
                             by="worker", now=t)
    log_event(log, "state_change", post=rec.post, platform=rec.platform,
              destination=rec.destination, old="sending",
              new="waiting" if moved is not None else "retry_wait",
              attempt=rec.attempts, reason=text, receipt=None)
    return "unhealthy"


# ------------------------------------------------------------------ the checker's side
def check_destinations(svc: Services, enqueue: Callable[[str], None]) -> list[CheckOutcome]:
    """One round: every configured destination checked, recorded, told, released.

    With the checks off (HEALTH_SECONDS=0) nothing holds a record any more: records a former
    configuration held are handed back to the queue, and nothing is checked."""
    if not enabled(svc):
        for platform, destination in svc.destinations():
            release_held(svc, platform, destination, enqueue)
        return []
    out: list[CheckOutcome] = []
    for publisher in svc.publishers:
        check = getattr(publisher, "check_health", None)
        platform, destination = publisher.platform, publisher.destination
        if not callable(check):  # a dry run has nothing to check
            continue
        try:
            result = check()
        except Exception as exc:  # a check must never stop the others
            log.warning("health check of %s %s failed: %s", platform, destination,
                        type(exc).__name__)
            continue
        out.append(_record(svc, platform, destination, result, enqueue))
    return out


def _record(svc: Services, platform: str, destination: str, result: Any,
            enqueue: Callable[[str], None]) -> CheckOutcome:
    book = health_book(svc)
    reason = redact(str(result.reason or ""))
    if result.outcome == "ok":
        change = book.record(platform, destination, "ok")
        if change.changed:
            _tell(svc, platform, destination, change, "")
        if result.account and platform == "x":
            svc.state.name_destination(platform, destination, result.account)
        released = release_held(svc, platform, destination, enqueue)
    elif result.outcome == "unhealthy":
        change = book.record(platform, destination, "unhealthy", reason)
        released = 0
    else:
        change = book.record(platform, destination, "unreachable",
                             f"no answer in {UNREACHABLE_LIMIT} checks in a row: {reason}",
                             limit=UNREACHABLE_LIMIT)
        released = 0
    set_destination_health(platform, destination, change.status != "unhealthy")
    if change.changed and change.status == "unhealthy":
        _tell(svc, platform, destination, change, book.unhealthy_reason(platform, destination)
              or reason)
    # a routine good check is DEBUG; a change, a refusal or no answer is worth the log
    level = logging.DEBUG if result.outcome == "ok" and not change.changed else (
        logging.INFO if result.outcome == "ok" else logging.WARNING)
    log_event(log, "health_check", level=level, platform=platform, destination=destination,
              outcome=result.outcome, status=change.status or "unknown", reason=reason,
              changed=change.changed, released=released)
    return CheckOutcome(platform, destination, result.outcome, reason, change.changed, released)


def release_held(svc: Services, platform: str, destination: str,
                 enqueue: Callable[[str], None]) -> int:
    """Every record of the destination waiting for its health goes back to the queue, in the
    order the posts were planned (oldest first)."""
    held = [r for r in svc.state.records(state="waiting")
            if r.platform == platform and r.destination == destination
            and r.reason.startswith(UNHEALTHY_PREFIX)]
    held.sort(key=lambda r: (r.created_at or 0.0, r.key))
    count = 0
    for rec in held:
        moved = svc.state.transition(*rec.ref, ("waiting",), "queued",
                                     reason=f"{platform} {destination} is healthy again",
                                     by="health")
        if moved is not None and moved.state == "queued":
            enqueue(rec.key)
            count += 1
    return count


def _tell(svc: Services, platform: str, destination: str, change: HealthChange,
          reason: str) -> None:
    """One notice per outage and one per recovery: keyed on the outage's start."""
    since = f"{change.since:.6f}" if change.since is not None else ""
    if change.status == "unhealthy":
        text = (f"{platform} {destination}: unhealthy: {reason}. Nothing is sent there until "
                "it is fixed; the queue waits and goes out by itself after the next check.")
        svc.notify(Notice(kind="health", platform=platform, destination=destination,
                          reason=reason, text=text,
                          dedupe=f"health|{platform}|{destination}|down|{since}"))
    else:
        text = f"{platform} {destination}: healthy again; the waiting posts go out now."
        svc.notify(Notice(kind="health", platform=platform, destination=destination,
                          text=text, dedupe=f"health|{platform}|{destination}|up|{since}"))
