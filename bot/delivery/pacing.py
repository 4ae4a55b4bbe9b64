"""Pacing: MAX_PER_HOUR and MIN_SPACING_SECONDS per destination, a backlog in BACKLOG_ORDER.

Why its own queue and not the schedule: a record that must wait for a rate slot used to go on
the schedule, due when the slot frees.  After an outage or a burst every waiting record comes due
at the same moment, and whichever worker gets there first sends: the order would be chance.  With
pacing on (a cap or a spacing, on a live destination) a non-breaking record that finds no free
slot, or finds others waiting before it, joins the destination's backlog
(``bot.state.pacing.PaceQueue``) as ``waiting`` with a ``paced:`` reason and no due time.  The
tick releases the backlog's head once the destination has a free slot (``release_paced``), one at
a time: the released record leaves the backlog only when it holds its slot (``taken``), so the
next one cannot overtake it.  The catch-up thus obeys the same caps as normal flow (the caps are
rules of the shared rate limiter, checked over any sliding hour), in the order asked for.

* ``BACKLOG_ORDER=newest`` (default: a newsroom's latest story matters most after an outage) or
  ``oldest``: the score is the post's date (from the seen index, no file read), negated for
  newest first.  An editor's push goes ahead of the other paced posts (still paced).
* A record older than ``MAX_AGE_HOURS`` when its turn comes is skipped with a ``stale:`` reason
  at release time, so it never costs a slot (the sender's own stale rule still applies too).
* Breaking posts (``is_breaking``: the record's extra field ``breaking="1"``, set by the planner
  of the breaking lane) never wait in the backlog and are not held by the cap or the spacing;
  the platform's own limits (Telegram 1/s and 20/min, a 429's block, X's windows) still apply.
  Their slots count in the same log, so paced posts after them still keep their cap.
* ``project`` is what ``status`` shows: each backlog's next records with their expected send
  time, computed from the last hour of slots and the first entries of the backlog (bounded
  reads, no scan of all records).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.delivery.quiet import BREAKING_FIELD
from bot.delivery.quiet import record_is_breaking as is_breaking
from bot.delivery.schedule import RateSpec, rate_spec
from bot.delivery.services import MANUAL, NO_AGE_LIMIT, Services
from bot.logs import log_event
from bot.state import FINAL_STATES, Record
from bot.state.pacing import PaceQueue
from bot.state.records import iso

__all__ = ["BREAKING_FIELD", "PACED_REASON", "gate", "is_breaking", "is_paced_wait",
           "lane_spec", "order_score", "pacing_on", "project", "queue_of", "release_paced",
           "taken"]

log = logging.getLogger(__name__)

#: The reason of a record waiting in a pacing backlog starts with this.
PACED_REASON = "paced"
#: Scores below every post date (epoch seconds, negated or not): an editor's push first.
_MANUAL_BASE = -1e13
_BREAKING_BASE = -2e13
#: A cap so large it never binds: a breaking send passes the pacing window to the rate limiter
#: anyway, so the log is trimmed to the same (longest) window as for paced sends.
_UNBOUNDED = 10**9


def is_paced_wait(rec: Record) -> bool:
    return rec.state == "waiting" and rec.reason.startswith(PACED_REASON + ":")


def pacing_on(spec: RateSpec) -> bool:
    return bool(spec.pace_rules) or spec.spacing > 0


def lane_spec(spec: RateSpec, rec: Record) -> RateSpec:
    """The rules a send of ``rec`` obeys: all of them, or for a breaking post only the
    platform's (the pacing windows kept with a cap that never binds, for the log's trim)."""
    if not is_breaking(rec) or not pacing_on(spec):
        return spec
    keep = len(spec.rules) - len(spec.pace_rules)
    rules = (*spec.rules[:keep], *((_UNBOUNDED, w) for _n, w in spec.pace_rules))
    return replace(spec, rules=rules, spacing=0.0)


def queue_of(svc: Services) -> PaceQueue:
    return PaceQueue(svc.state.client, namespace=svc.state.namespace)


def _post_epoch(svc: Services, rec: Record) -> float | None:
    site_key = getattr(svc, "site_key", None)  # the actions' lighter services may lack it
    if not site_key:
        return None
    info = svc.state.seen_info(site_key, rec.post) or {}
    raw = info.get("date")
    if isinstance(raw, str) and raw:
        try:
            return datetime.fromisoformat(raw).timestamp()
        except ValueError:
            return None
    return None


def order_score(order: str, rec: Record, date_epoch: float | None) -> float:
    """Lower goes first: breaking, then an editor's push, then by the post's date."""
    at = float(date_epoch if date_epoch is not None else (rec.created_at or 0.0))
    if is_breaking(rec):
        return _BREAKING_BASE + at / 1e4
    base = _MANUAL_BASE if rec.extra.get(MANUAL) else 0.0
    return base + (-at if order == "newest" else at)


def _reason(svc: Services, spec: RateSpec) -> str:
    settings = svc.settings
    parts = []
    if spec.pace_rules:
        parts.append(f"at most {spec.pace_rules[0][0]} per hour")
    if settings.min_spacing_seconds > 0:
        parts.append(f"{settings.min_spacing_seconds:g} s apart")
    return (f"{PACED_REASON}: waits for its turn ({', '.join(parts)}; "
            f"BACKLOG_ORDER={settings.backlog_order})")


def gate(svc: Services, rec: Record, spec: RateSpec, wait: float, current: float, *,
         move: Callable[..., str]) -> str | None:
    """Before the lease: ``None`` = go on; else the outcome of joining the backlog.

    A non-breaking record on a paced destination goes on only when a slot is free (``wait`` 0)
    and it is the backlog's head (released by the tick) or the backlog is empty.  Otherwise it
    joins the backlog (its place kept if it was listed) and waits unscheduled for the tick.
    """
    if not pacing_on(spec) or is_breaking(rec):
        return None
    queue = queue_of(svc)
    head = queue.head(spec.bucket)
    if wait <= 0 and head in (None, rec.key):
        return None
    score = order_score(svc.settings.backlog_order, rec, _post_epoch(svc, rec))
    queue.join(spec.bucket, rec.key, score)
    outcome = move(svc, rec, "waiting", _reason(svc, spec), current)
    if outcome != "waiting":
        queue.leave(spec.bucket, rec.key)
        return outcome
    log_event(log, "paced", post=rec.post, platform=rec.platform,
              destination=rec.destination, backlog=queue.size(spec.bucket))
    return "paced"


def taken(svc: Services, spec: RateSpec, rec: Record) -> None:
    """The record holds its slot: it leaves the backlog, the next one may be released."""
    if pacing_on(spec):
        queue_of(svc).leave(spec.bucket, rec.key)


def _stale(svc: Services, rec: Record, now: float) -> str | None:
    if rec.extra.get(NO_AGE_LIMIT):
        return None
    at = _post_epoch(svc, rec)
    if at is None:
        return None
    hours = (now - at) / 3600.0
    limit = svc.settings.max_age_hours
    if hours <= limit:
        return None
    return (f"stale: its paced turn came {hours:.0f} h after its date "
            f"(MAX_AGE_HOURS={limit:g})")


def release_paced(svc: Services, enqueue: Callable[[str], object], *,
                  now: float | None = None) -> dict[str, int]:
    """Run by the tick: per destination, queue the backlog's head once a slot is free.

    One ZCARD per destination when nothing waits.  A head that is no longer a paced wait (sent,
    skipped by an editor, waiting for something else) is dropped from the backlog; a head already
    released and not yet holding its slot stops the release (no overtaking); a head grown stale is
    skipped with its reason and the next one considered.
    """
    state = svc.state
    queue = queue_of(svc)
    released = skipped = 0
    for platform, destination in svc.destinations():
        spec = rate_spec(svc.settings, platform, destination, dry_run=svc.dry_run)
        if not queue.size(spec.bucket):
            continue
        current = state.now() if now is None else now
        for _ in range(1000):  # bounded: stale heads skipped in one go
            rid = queue.head(spec.bucket)
            if rid is None:
                break
            rec = state.get_by_key(rid)
            if rec is None or rec.state in FINAL_STATES or (
                    rec.state == "waiting" and not is_paced_wait(rec)):
                queue.leave(spec.bucket, rid)
                continue
            if rec.state != "waiting":
                break  # released before: it goes first, the next waits for it
            stale = _stale(svc, rec, current)
            if stale is not None:
                moved = state.transition(*rec.ref, "waiting", "skipped", reason=stale,
                                         by="pacing", now=current)
                if moved is None:
                    break  # changed meanwhile (another tick, the planner): judged next tick
                queue.leave(spec.bucket, rid)
                skipped += 1
                log_event(log, "state_change", post=rec.post, platform=rec.platform,
                          destination=rec.destination, old="waiting", new="skipped",
                          attempt=rec.attempts, reason=stale, receipt=None)
                continue
            if pacing_on(spec) and svc.limiter.wait_time(
                    spec.bucket, spec.rules, spacing=spec.spacing, now=current) > 0:
                break
            reason = "paced: its turn"
            moved = state.transition(*rec.ref, "waiting", "queued", reason=reason,
                                     by="pacing", now=current)
            if moved is None:
                # Another tick released it first (or it changed): it keeps its place, so the
                # next one cannot overtake it; the next tick sees where it stands.
                break
            log_event(log, "state_change", post=rec.post, platform=rec.platform,
                      destination=rec.destination, old="waiting", new="queued",
                      attempt=rec.attempts, reason=reason, receipt=None)
            enqueue(rid)
            released += 1
            break
    return {"released": released, "skipped": skipped}


def project(svc: Any, *, limit: int = 20, now: float | None = None
            ) -> dict[str, dict[str, Any]]:
    """Each paced backlog's next ``limit`` records with their expected send time.

    A cheap projection: the last hour of granted slots (at most the cap's worth) and the
    backlog's first entries, run through the same rules the sender enforces, one slot after the
    other.  Ignores tick latency and sends that fail; a post whose expected time is past
    MAX_AGE_HOURS is flagged ``stale`` (it will be skipped at its turn).
    """
    state = svc.state
    queue = queue_of(svc)
    current = state.now() if now is None else now
    out: dict[str, dict[str, Any]] = {}
    for platform, destination in svc.destinations():
        spec = rate_spec(svc.settings, platform, destination, dry_run=svc.dry_run)
        total = queue.size(spec.bucket)
        if not total:
            continue
        longest = max([w for _n, w in spec.rules] + [spec.spacing, 1.0])
        slots = svc.limiter.slots(spec.bucket, current - longest)
        start = max(current, svc.limiter.blocked_until(spec.bucket, now=current) or 0.0)
        entries = []
        for rid, _score in queue.first(spec.bucket, limit):
            rec = state.get_by_key(rid)
            if rec is None:
                continue
            at = start
            if slots:
                at = max(at, slots[-1] + spec.spacing)
            for cap, window in spec.rules:
                if len(slots) >= cap:
                    at = max(at, slots[-cap] + window)
            date = _post_epoch(svc, rec)
            stale = (not rec.extra.get(NO_AGE_LIMIT) and date is not None
                     and (at - date) / 3600.0 > svc.settings.max_age_hours)
            if not stale:  # a stale post is skipped at its turn: it takes no slot
                slots.append(at)
            entries.append({"key": rid, "post": rec.post, "state": rec.state,
                            "expected_at": iso(at), "stale": bool(stale)})
        out[spec.bucket] = {
            "platform": platform, "destination": destination, "total": total,
            "max_per_hour": spec.pace_rules[0][0] if spec.pace_rules else 0,
            "min_spacing_seconds": svc.settings.min_spacing_seconds,
            "order": svc.settings.backlog_order, "next": entries}
    return out
