"""Connection health of each destination (a Telegram channel, the X account) in Redis.

Why in Redis and not in the checking process: the sender in every worker must refuse to send
to an unhealthy destination (one HMGET before a send), and ``newsbot status`` / ``/status`` show
it, whatever process ran the check.  Every change is one Lua script, so a check and a send that
both learn of the same outage agree on one "since": the editors' notice is keyed on it and goes
out once per outage.

Statuses: ``ok`` (the last check or send answered well), ``unhealthy`` (the platform said no:
a demoted bot, revoked keys, a locked account, spent credits; or no answer at all in
``limit`` checks in a row).  A destination never checked has no hash (shown as unknown).
Not to be confused with ``bot/state/health.py``, the process heartbeats.

Key shape: ``Keys.dest_health`` (documented in ``keys.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import redis

from . import lua
from .keys import Keys
from .records import iso

__all__ = ["DestinationHealth", "HealthBook", "HealthChange"]

Outcome = Literal["ok", "unhealthy", "unreachable"]

# KEYS: the destination's hash   ARGV: now, outcome, reason, limit
# -> {changed 0|1, status, since}
_RECORD = lua.CLOCK + r"""
local now = clock(ARGV[1])
local outcome = ARGV[2]
local cur = redis.call('HGET', KEYS[1], 'status') or ''
local since = redis.call('HGET', KEYS[1], 'since') or ''
redis.call('HSET', KEYS[1], 'checked_at', fmt(now))
if outcome == 'ok' then
  redis.call('HSET', KEYS[1], 'status', 'ok', 'reason', '', 'failures', '0', 'check_error', '')
  if cur ~= 'ok' then
    redis.call('HSET', KEYS[1], 'since', fmt(now))
    if cur == 'unhealthy' then return {1, 'ok', fmt(now)} end
    return {0, 'ok', fmt(now)}
  end
  return {0, 'ok', since}
end
if outcome == 'unreachable' then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  redis.call('HSET', KEYS[1], 'check_error', ARGV[3])
  if cur == 'unhealthy' or failures < tonumber(ARGV[4]) then
    if cur == '' then return {0, '', ''} end
    return {0, cur, since}
  end
end
if cur == 'unhealthy' then
  if outcome == 'unhealthy' then redis.call('HSET', KEYS[1], 'reason', ARGV[3]) end
  return {0, 'unhealthy', since}
end
redis.call('HSET', KEYS[1], 'status', 'unhealthy', 'reason', ARGV[3], 'since', fmt(now))
return {1, 'unhealthy', fmt(now)}
"""


@dataclass(frozen=True, slots=True)
class HealthChange:
    """What one recorded outcome did: ``changed`` is True only for the one caller that moved
    the destination from ok (or unknown) to unhealthy, or from unhealthy to ok."""

    changed: bool
    status: str  # "ok", "unhealthy", or "" (never answered, not yet unhealthy)
    since: float | None


@dataclass(frozen=True, slots=True)
class DestinationHealth:
    platform: str
    destination: str
    status: str
    reason: str = ""
    since: float | None = None
    checked_at: float | None = None
    check_error: str = ""
    failures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "destination": self.destination,
                "status": self.status, "reason": self.reason, "since": iso(self.since),
                "checked_at": iso(self.checked_at), "check_error": self.check_error,
                "failures": self.failures}


def _num(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


class HealthBook:
    """Reads and records the health of destinations; safe to share between threads."""

    def __init__(self, client: redis.Redis, *, namespace: str = "newsbot") -> None:
        self.client = client
        self.keys = Keys(namespace)
        self._record = client.register_script(_RECORD)

    def record(self, platform: str, destination: str, outcome: Outcome, reason: str = "", *,
               limit: int = 1, now: float | None = None) -> HealthChange:
        """Record one check's (or one send's) outcome.  ``unreachable`` (no answer) turns the
        destination unhealthy only on the ``limit``-th in a row."""
        if outcome not in ("ok", "unhealthy", "unreachable"):
            raise ValueError(f"unknown outcome {outcome!r}")
        reply = self._record(keys=[self.keys.dest_health(platform, destination)],
                             args=["" if now is None else repr(float(now)), outcome,
                                   reason[:1000], str(max(1, int(limit)))])
        return HealthChange(bool(int(reply[0])), str(reply[1]), _num(reply[2]))

    def unhealthy_reason(self, platform: str, destination: str) -> str | None:
        """The reason when the destination is unhealthy now, else None (the sender's check)."""
        status, reason = self.client.hmget(self.keys.dest_health(platform, destination),
                                           ["status", "reason"])
        return (reason or "unhealthy") if status == "unhealthy" else None

    def get(self, platform: str, destination: str) -> DestinationHealth | None:
        raw = self.client.hgetall(self.keys.dest_health(platform, destination))
        if not raw:
            return None
        return DestinationHealth(
            platform=platform, destination=destination, status=raw.get("status", ""),
            reason=raw.get("reason", ""), since=_num(raw.get("since")),
            checked_at=_num(raw.get("checked_at")), check_error=raw.get("check_error", ""),
            failures=int(raw.get("failures") or 0))

    def forget(self, platform: str, destination: str) -> None:
        self.client.delete(self.keys.dest_health(platform, destination))
