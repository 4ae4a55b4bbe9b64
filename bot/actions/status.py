"""Where every delivery stands (``status``), and which workers are alive.

Read-only and cheap to import: ``newsbot status`` loads this module and its parts, never the
teaser machinery or the planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.actions.reports import StatusReport
from bot.actions.services import DeliveryServices
from bot.actions.spend import spend_summary
from bot.delivery.pacing import project as pacing_projection
from bot.delivery.quiet import QUIET_REASON
from bot.delivery.schedule import bucket_name, rate_spec
from bot.state import STATES, Record
from bot.state.destination_health import HealthBook
from bot.state.records import iso

__all__ = [
    "DEFAULT_STATUS_LIMIT",
    "HEARTBEAT_FORGET_SECONDS",
    "HEARTBEAT_FRESH_SECONDS",
    "fresh_workers",
    "rate_bucket",
    "split_heartbeats",
    "status",
]

DEFAULT_STATUS_LIMIT = 20
#: Paced posts projected per destination by ``status --all`` (the projection is sequential).
PACED_SHOWN = 500
#: A heartbeat older than this (30 ticks) is no longer shown as a live worker ...
HEARTBEAT_FRESH_SECONDS = 30.0
#: ... and one older than this is not shown at all (a worker killed long ago).
HEARTBEAT_FORGET_SECONDS = 86_400.0


def rate_bucket(platform: str, destination: str) -> str:
    """The rate-limit bucket of one destination (the sender reserves on the same name)."""
    return bucket_name(platform, destination)


DELIVERY_KEYS = ("post", "platform", "destination", "state", "attempts", "reason", "receipt",
                 "updated_at", "notes")


def _delivery(record: Record) -> dict[str, Any]:
    full = record.to_dict()
    return {k: full[k] for k in DELIVERY_KEYS}


def _rate(svc: DeliveryServices, now: float) -> dict[str, Any]:
    """Budget left per destination against the rules the sender applies when live.

    A dry run enforces no limit (``enforced`` False) but shows the live rules, so an operator
    sees what a switch to live would allow.
    """
    settings = svc.settings
    enforced = not svc.dry_run
    out: dict[str, Any] = {}
    for platform, destination in svc.destinations():
        spec = rate_spec(settings, platform, destination, dry_run=False)
        entry: dict[str, Any] = {"platform": platform, "destination": destination,
                                 "enforced": enforced}
        if spec.rules:
            budget = svc.limiter.budget(spec.bucket, spec.rules, spacing=spec.spacing, now=now)
            # The platform's own figures (1 per 1 s), not our margin (1 per 1.07 s): the
            # margin only absorbs timing jitter, it is no limit an operator could look up.
            entry["rules"] = [{**rule, "window": float(window)} for rule, (_n, window)
                              in zip(budget["rules"], spec.stated, strict=True)]
            entry["blocked_until"] = iso(budget["blocked_until"])
            entry["wait"] = round(float(budget["wait"]), 3)
        else:
            entry["rules"] = []
            entry["blocked_until"] = iso(svc.limiter.blocked_until(spec.bucket, now=now))
            entry["wait"] = 0.0
        windows = svc.limiter.platform_windows(spec.bucket, now=now)
        if windows:  # X's own figures, as its last answer stated them
            entry["platform_windows"] = {
                name: {"remaining": w["remaining"], "reset_at": iso(w["reset_at"])}
                for name, w in windows.items()}
        if platform == "x":
            limit = settings.x_daily_limit
            daily = svc.limiter.daily_counter(spec.bucket, limit or 1_000_000_000, now=now)
            entry["daily"] = {
                "limit": limit,
                "used": daily["used"],
                "remaining": daily["remaining"] if limit else daily["platform_remaining"],
                "platform_remaining": daily["platform_remaining"],
                "reset_at": iso(daily["reset_at"]),
            }
        out[spec.bucket] = entry
    return out


def destination_health(svc: DeliveryServices) -> dict[str, dict[str, Any]]:
    """Connection health per live destination, as the last check (or send) found it:
    ``status`` ok, unhealthy (with ``reason`` and ``since``), unknown (never checked yet) or
    off (HEALTH_SECONDS=0); ``checked_at`` the last check."""
    if svc.dry_run:
        return {}
    off = float(getattr(svc.settings, "health_seconds", 0) or 0) <= 0
    book = HealthBook(svc.state.client, namespace=svc.state.namespace)
    out: dict[str, dict[str, Any]] = {}
    for platform, destination in svc.destinations():
        seen = book.get(platform, destination)
        entry = {"platform": platform, "destination": destination, "status": "unknown",
                 "reason": "", "since": None, "checked_at": None, "check_error": "",
                 "failures": 0}
        if seen is not None:
            entry |= seen.to_json()
            entry["status"] = seen.status or "unknown"
        if off:
            entry["status"] = "off"
        out[f"{platform}:{destination}"] = entry
    return out


def split_heartbeats(ages: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(fresh, stale) worker heartbeats, name -> seconds since the last one.

    A worker beats with every tick (each second, ``tasks.TICK_SECONDS``); a busy one may miss
    some, so only one silent for ``HEARTBEAT_FRESH_SECONDS`` is no longer shown as alive.  A
    worker killed without its shutdown (OOM, SIGKILL) never removes its entry: after
    ``HEARTBEAT_FORGET_SECONDS`` it is not shown at all.
    """
    fresh: dict[str, float] = {}
    stale: dict[str, float] = {}
    for name, age in sorted(ages.items()):
        if age <= HEARTBEAT_FRESH_SECONDS:
            fresh[name] = round(age, 3)
        elif age <= HEARTBEAT_FORGET_SECONDS:
            stale[name] = round(age, 3)
    return fresh, stale


def fresh_workers(svc: DeliveryServices) -> dict[str, float]:
    """Workers that reported lately (nothing queued goes out without one)."""
    return split_heartbeats(svc.state.heartbeats())[0]


def status(svc: DeliveryServices, *, limit: int | None = DEFAULT_STATUS_LIMIT) -> StatusReport:
    """Where every delivery stands: what an operator checks first (read-only, no audit)."""
    state = svc.state
    now = state.now()
    counts = state.counts()
    for name in STATES:
        counts.setdefault(name, 0)
    records = state.records() if limit is None else state.recent(limit)
    pending_records, pending_total = state.pending(limit)
    pending = [
        {"post": r.post, "platform": r.platform, "destination": r.destination, "state": r.state,
         "eta": iso(r.scheduled_at), "reason": r.reason, "attempts": r.attempts,
         "label": _label(r)}
        for r in pending_records
    ]
    # Paced backlogs with each post's expected send time (bounded reads: ``pacing.project``);
    # a paced wait has no due time of its own, so the pending list shows the projected one.
    queue = pacing_projection(svc, limit=PACED_SHOWN if limit is None else limit, now=now)
    expected = {(q["platform"], q["destination"], e["post"]): e["expected_at"]
                for q in queue.values() for e in q["next"]}
    for p in pending:
        if p["eta"] is None:
            p["eta"] = expected.get((p["platform"], p["destination"], p["post"]))
    info = state.pause_info()
    pause_json = None if info is None else {
        "who": info["who"], "reason": info["reason"], "at": iso(info["at"])}
    workers, stale = split_heartbeats(state.heartbeats(now=now))
    return StatusReport(
        counts={name: int(counts[name]) for name in STATES},
        deliveries=[_delivery(r) for r in records],
        paused=info is not None,
        pause=pause_json,
        pending=pending,
        pending_total=pending_total,
        rate=_rate(svc, now),
        workers=workers,
        workers_stale=stale,
        destination_names=state.destination_names(),
        health=destination_health(svc),
        mode="dry-run" if svc.dry_run else "live",
        total=sum(counts.values()),
        generated_at=iso(now) or "",
        spend=_spend(svc, now),
        queue=queue,
    )


def _label(record: Record) -> str:
    """``waiting (budget)`` for an X post held by X_DAILY/MONTHLY_BUDGET, else the state."""
    if record.state == "waiting" and record.reason.startswith("budget:"):
        return "waiting (budget)"
    if record.state == "waiting" and record.reason == QUIET_REASON:
        return "waiting (quiet hours)"  # an X post held until QUIET_HOURS end (QUIET_X=hold)
    if record.state == "waiting" and record.reason.startswith("not live: "):
        return "waiting (not live)"
    if record.state == "waiting" and record.reason.startswith("paced:"):
        return "waiting (paced)"
    return record.state


def _spend(svc: DeliveryServices, now: float) -> dict[str, Any] | None:
    """X spend, where X is configured (live or dry run: a trial shows the same lines)."""
    if not any(platform == "x" for platform, _ in svc.destinations()):
        return None
    return spend_summary(svc, now)
