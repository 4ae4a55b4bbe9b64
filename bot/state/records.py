"""The delivery record as Python sees it, and the state vocabulary.

A record is the unit that makes "exactly once" work: one per post x platform x destination, and
every change to it is one Lua script in ``store.py``.  ``to_dict()`` is what ``newsbot status
--json`` prints, so its first keys are a stable contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EDITOR_ACTIONS",
    "FINAL_STATES",
    "STATES",
    "Record",
    "RecordNotFoundError",
    "TransitionRefusedError",
    "iso",
]

STATES: tuple[str, ...] = (
    "new", "waiting", "queued", "sending", "sent", "retry_wait", "failed", "in_doubt", "skipped",
)
# Left only through State.editor_resolve (a late receipt may also turn in_doubt into sent).
FINAL_STATES: frozenset[str] = frozenset({"sent", "failed", "in_doubt", "skipped"})

# Generic State.transition() may only move records that no worker holds and no editor must judge.
TRANSITION_SOURCES: frozenset[str] = frozenset({"new", "waiting", "queued", "retry_wait"})
TRANSITION_TARGETS: frozenset[str] = frozenset(
    {"waiting", "queued", "retry_wait", "skipped", "failed"}
)
INITIAL_STATES: frozenset[str] = frozenset({"new", "waiting", "queued", "skipped"})

# editor action -> (states it may start from, resulting state)
EDITOR_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    # in doubt: the editor checked the channel and it is not there -> send again
    "resend": (frozenset({"in_doubt", "failed"}), "queued"),
    # the editor sees it on the channel (or posted by hand): never send it
    "mark_sent": (
        frozenset({"new", "waiting", "queued", "retry_wait", "failed", "in_doubt", "skipped"}),
        "sent",
    ),
    # a permanent failure was fixed (or a backoff should end now)
    "retry": (frozenset({"failed", "retry_wait"}), "queued"),
    "skip": (
        frozenset({"new", "waiting", "queued", "retry_wait", "failed", "in_doubt"}), "skipped"
    ),
    # send even though it was sent or skipped before (an explicit re-post)
    "force": (frozenset(set(STATES) - {"sending"}), "queued"),
}

# Fields only the scripts write; transition(**fields) may not touch them.
PROTECTED_FIELDS: frozenset[str] = frozenset({
    "post", "platform", "destination", "state", "attempts", "reason", "receipt_id", "receipt_url",
    "lease_owner", "lease_until", "created_at", "updated_at", "scheduled_at",
    # counters and flags the scripts keep (never derived from the capped history)
    "transient_failures", "maybe_sent", "send_deadline", "repeat_safe", "inflight_fp",
    "inflight_owner", "notes",
})
KNOWN_FIELDS: frozenset[str] = (PROTECTED_FIELDS - {"inflight_owner"}) | {"teaser_hash"}


class RecordNotFoundError(KeyError):
    """No delivery record with that key."""


class TransitionRefusedError(ValueError):
    """The record is not in a state the requested change may start from."""

    def __init__(self, record: Record, action: str) -> None:
        super().__init__(f"cannot {action} a record in state {record.state!r}")
        self.record = record
        self.action = action


def iso(epoch: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _notes(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return (raw,)
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _num(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class Record:
    """One delivery record as read from Redis (a snapshot: re-read after changing it)."""

    key: str
    post: str
    platform: str
    destination: str
    state: str
    attempts: int = 0
    reason: str = ""
    receipt_id: str | None = None
    receipt_url: str | None = None
    lease_owner: str | None = None
    lease_until: float | None = None
    scheduled_at: float | None = None
    created_at: float | None = None
    updated_at: float | None = None
    teaser_hash: str | None = None
    transient_failures: int = 0
    """Transient failures since the record was last queued by hand (toward MAX_ATTEMPTS)."""
    maybe_sent: bool = False
    """An earlier attempt may have reached the platform (uncertain answer, lost lease)."""
    send_deadline: float | None = None
    """Set at the fence: until then the request of the current (or a vanished) attempt may land."""
    repeat_safe: bool = False
    """The platform of the last attempt refuses an identical repeat (X), so a retry is harmless."""
    inflight_fp: str | None = None
    """Fingerprint of what the last fenced attempt sent (a repeat must send the same)."""
    notes: tuple[str, ...] = ()
    """Decisions taken by the send that went out (image failed: sent as text, ...)."""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, key: str, data: Mapping[str, str]) -> Record:
        return cls(
            key=key,
            post=data.get("post", ""),
            platform=data.get("platform", ""),
            destination=data.get("destination", ""),
            state=data.get("state", ""),
            attempts=int(data.get("attempts") or 0),
            reason=data.get("reason", ""),
            receipt_id=data.get("receipt_id") or None,
            receipt_url=data.get("receipt_url") or None,
            lease_owner=data.get("lease_owner") or None,
            lease_until=_num(data.get("lease_until")),
            scheduled_at=_num(data.get("scheduled_at")),
            created_at=_num(data.get("created_at")),
            updated_at=_num(data.get("updated_at")),
            teaser_hash=data.get("teaser_hash") or None,
            transient_failures=int(data.get("transient_failures") or 0),
            maybe_sent=data.get("maybe_sent") == "1",
            send_deadline=_num(data.get("send_deadline")),
            repeat_safe=data.get("repeat_safe") == "1",
            inflight_fp=data.get("inflight_fp") or None,
            notes=_notes(data.get("notes")),
            extra={k: v for k, v in data.items() if k not in KNOWN_FIELDS},
        )

    @property
    def ref(self) -> tuple[str, str, str]:
        """(post URL, platform, destination): the arguments State methods take."""
        return (self.post, self.platform, self.destination)

    @property
    def receipt(self) -> dict[str, str | None] | None:
        if self.receipt_id is None and self.receipt_url is None:
            return None
        return {"id": self.receipt_id, "url": self.receipt_url}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the first eight keys are the stable `status --json` contract."""
        return {
            "post": self.post,
            "platform": self.platform,
            "destination": self.destination,
            "state": self.state,
            "attempts": self.attempts,
            "reason": self.reason,
            "receipt": self.receipt,
            "updated_at": iso(self.updated_at),
            "key": self.key,
            "created_at": iso(self.created_at),
            "scheduled_at": iso(self.scheduled_at),
            "lease_owner": self.lease_owner,
            "lease_until": iso(self.lease_until),
            "teaser_hash": self.teaser_hash,
            "transient_failures": self.transient_failures,
            "maybe_sent": self.maybe_sent,
            "send_deadline": iso(self.send_deadline),
            "notes": list(self.notes),
            "extra": dict(self.extra),
        }
