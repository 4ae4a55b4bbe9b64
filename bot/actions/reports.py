"""What the operator actions answer, and how a record's standing reads in an answer.

Why reports and not output: the CLI and the editors' Telegram bot both call the actions, so an
editor in Telegram and an operator in a terminal see the same facts.  An action returns one of
these (``to_json()`` for scripts and tests) and never prints; problems an operator can expect
(unknown post, paused, record in the wrong state) are in the report, not raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.state import Record
from bot.state.records import iso

__all__ = [
    "DeliveryReport",
    "Outcome",
    "PauseReport",
    "StatusReport",
    "describe",
    "failed",
    "outcome",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did (or why not) to one post x platform x destination.

    ``result`` is a short code a formatter can switch on: queued, already_sent, paused,
    in_progress, waiting, in_doubt, nothing_to_do, skipped, marked_sent, refused.
    """

    platform: str
    destination: str
    result: str
    state: str | None
    message: str
    receipt_url: str | None = None
    eta: str | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "destination": self.destination,
            "result": self.result,
            "state": self.state,
            "message": self.message,
            "receipt_url": self.receipt_url,
            "eta": self.eta,
            "key": self.key,
        }


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The answer of push / retry / resolve / skip.

    ``ok`` is False only when the action could not start (unknown post, bad argument) or was
    refused as a whole (paused without confirmation); per-record refusals are in ``outcomes``.
    """

    action: str
    ref: str
    ok: bool
    post: str | None = None
    title: str | None = None
    error: str | None = None
    paused: bool = False
    needs_confirmation: bool = False
    warning: str | None = None
    outcomes: tuple[Outcome, ...] = ()

    @property
    def queued(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "queued"]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "ref": self.ref,
            "ok": self.ok,
            "post": self.post,
            "title": self.title,
            "error": self.error,
            "paused": self.paused,
            "needs_confirmation": self.needs_confirmation,
            "warning": self.warning,
            "outcomes": [o.to_json() for o in self.outcomes],
        }


@dataclass(frozen=True, slots=True)
class PauseReport:
    action: str  # "pause" | "resume"
    paused: bool  # the flag after the action
    changed: bool  # False: it already was in that position
    who: str
    reason: str = ""
    requeued: tuple[str, ...] = ()  # record keys handed to the queue again on resume

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "paused": self.paused, "changed": self.changed,
                "who": self.who, "reason": self.reason, "requeued": list(self.requeued)}


@dataclass(frozen=True, slots=True)
class StatusReport:
    counts: dict[str, int]
    deliveries: list[dict[str, Any]]
    paused: bool
    pause: dict[str, Any] | None
    pending: list[dict[str, Any]]
    """The soonest due of ``pending_total`` waiting and retry_wait records (at most the limit)."""
    pending_total: int
    rate: dict[str, Any]
    workers: dict[str, float]  # name -> seconds since its heartbeat, fresh ones only
    mode: str  # "dry-run" | "live"
    total: int  # records in all (deliveries may be the last N of them)
    generated_at: str
    workers_stale: dict[str, float] = field(default_factory=dict)  # silent, maybe gone
    destination_names: dict[str, str] = field(default_factory=dict)  # "x:x" -> "@handle"
    #: "platform:destination" -> connection health (``bot.actions.status.destination_health``)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    spend: dict[str, Any] | None = None  # X spend this month (``bot.actions.spend``)
    #: "platform:destination" -> paced backlog with each next post's expected send time
    #: (``bot.delivery.pacing.project``); only destinations where posts wait for pacing
    queue: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable `newsbot status --json` shape."""
        return {
            "counts": dict(self.counts),
            "deliveries": list(self.deliveries),
            "paused": self.paused,
            "pause": self.pause,
            "pending": list(self.pending),
            "pending_total": self.pending_total,
            "rate": dict(self.rate),
            "workers": dict(self.workers),
            "workers_stale": dict(self.workers_stale),
            "destination_names": dict(self.destination_names),
            "health": {k: dict(v) for k, v in self.health.items()},
            "mode": self.mode,
            "total": self.total,
            "generated_at": self.generated_at,
            "spend": dict(self.spend) if self.spend is not None else None,
            "queue": {k: dict(v) for k, v in self.queue.items()},
        }


# --------------------------------------------------------------------------------- builders
def _eta(record: Record) -> str | None:
    return iso(record.scheduled_at) if record.state in ("waiting", "retry_wait") else None


def outcome(record: Record, result: str, message: str) -> Outcome:
    return Outcome(
        platform=record.platform, destination=record.destination, result=result,
        state=record.state, message=message, receipt_url=record.receipt_url,
        eta=_eta(record), key=record.key,
    )


def describe(record: Record, *, acted: bool = False) -> Outcome:
    """An outcome that reports where a record stands (``acted``: this action queued it)."""
    if record.state == "queued":
        if acted:
            return outcome(record, "queued", "queued for sending")
        return outcome(record, "nothing_to_do", "already queued")
    if record.state == "sent":
        link = record.receipt_url or record.receipt_id or "no receipt link"
        return outcome(record, "already_sent", f"already sent: {link}")
    if record.state == "sending":
        return outcome(record, "in_progress", "being sent right now")
    if record.state in ("waiting", "retry_wait"):
        when = _eta(record) or "when due"
        return outcome(record, "waiting", f"{record.state} until {when}")
    if record.state == "in_doubt":
        return outcome(record, "in_doubt",
                       "in doubt: the send may have gone out; check, then resolve")
    return outcome(record, "nothing_to_do", f"{record.state}: {record.reason}".rstrip(": "))


def failed(action: str, ref: str, error: str, **kw: Any) -> DeliveryReport:
    return DeliveryReport(action=action, ref=ref, ok=False, error=error, **kw)
