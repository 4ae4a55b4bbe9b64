"""The breaking pins: which message is each channel's breaking pin, and when each comes off.

Why in Redis and worked off by the tick: a pin must come off PIN_HOURS later even when every
process restarted meanwhile, and exactly one process may unpin it.  A sorted set holds the
unpins due (score: when), claimed atomically (``claim_due``: the claimer that removes a member
owns it); a hash names the current breaking pin of each destination, so the next breaking pin
schedules its predecessor's unpin at once.

Keys: ``{ns}:pins:due`` and ``{ns}:pins:current`` (``keys.py`` documents their shapes).
"""

from __future__ import annotations

import redis

from .keys import Keys

__all__ = ["PinBook"]

SEP = "\x1f"

# KEYS: due, current   ARGV: destination, message_id, unpin_at, now  -> previous message id or ""
_RECORD = r"""
local prev = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1] .. '\31' .. ARGV[2])
if prev and prev ~= ARGV[2] then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1] .. '\31' .. prev)
  return prev
end
return ''
"""

# KEYS: due   ARGV: now, limit  -> claimed members
_CLAIM = r"""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZREM', KEYS[1], m) end
return due
"""

# KEYS: current   ARGV: destination, message_id  (forget it only if it is still the current one)
_FORGET = r"""
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


class PinBook:
    def __init__(self, client: redis.Redis, namespace: str = "newsbot") -> None:
        self.client = client
        keys = Keys(namespace)
        self.due_key = keys.pins_due
        self.current_key = keys.pins_current
        self._record = client.register_script(_RECORD)
        self._claim = client.register_script(_CLAIM)
        self._forget = client.register_script(_FORGET)

    def record_pin(self, destination: str, message_id: str, unpin_at: float,
                   now: float) -> str | None:
        """``message_id`` is the destination's breaking pin now, unpinned at ``unpin_at``; the
        previous breaking pin (returned) is due for unpinning at ``now``."""
        prev = self._record(keys=[self.due_key, self.current_key],
                            args=[destination, message_id, repr(unpin_at), repr(now)])
        return str(prev) if prev else None

    def claim_due(self, now: float, limit: int = 50) -> list[tuple[str, str]]:
        """(destination, message_id) of the unpins due by ``now``, each to one caller only."""
        members = self._claim(keys=[self.due_key], args=[repr(now), str(limit)])
        out = []
        for member in members or []:
            dest, _, msg = str(member).rpartition(SEP)
            out.append((dest, msg))
        return out

    def reschedule(self, destination: str, message_id: str, at: float) -> None:
        self.client.zadd(self.due_key, {f"{destination}{SEP}{message_id}": at})

    def unpinned(self, destination: str, message_id: str) -> None:
        self._forget(keys=[self.current_key], args=[destination, message_id])

    def current(self, destination: str) -> str | None:
        value = self.client.hget(self.current_key, destination)
        return str(value) if value is not None else None

    def scheduled(self) -> list[tuple[str, str, float]]:
        """Every unpin still to do: (destination, message_id, when), soonest first."""
        out = []
        for member, score in self.client.zrange(self.due_key, 0, -1, withscores=True):
            dest, _, msg = str(member).rpartition(SEP)
            out.append((dest, msg, float(score)))
        return out
