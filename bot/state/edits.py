"""Corrections in Redis: which sent messages wait for an edit, and what each message says now.

Why a set of its own, not a delivery state: a sent record stays ``sent`` (its receipt is the
message to edit, and nothing may send it again), so an edit cannot ride the send state machine.
``{ns}:edits`` maps a record id to when its edit may next be taken:

* ``want`` (the planner, ``/edit``): due now; while a worker holds the entry, the score is
  nudged past the holder's so ``finish`` tells the holder to go again at once (a change that
  arrives mid-edit is never lost and never overtaken by an older one);
* ``claim`` (a worker): only a due entry, whose score becomes the claim (``now + lease``): one
  holder at a time; a holder that crashed loses the entry when its lease ends;
* ``finish`` / ``retry``: done (removed unless wanted again) or due again later (a rate wait);
* ``stale`` (the tick): entries due for ``grace`` seconds that nobody took (a lost task, a
  crashed holder) are handed over again, once per grace period.

An edit repeated is harmless (Telegram answers "message is not modified"), so at-least-once is
the right guarantee here; what must never happen, a new post, cannot: no edit path sends.

The content fields of a sent record (``SENT_FIELDS``) are written with the receipt by
``State.complete_send`` and after each edit by ``update_sent``, only while the record is still
``sent`` with that receipt.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

from . import lua
from .keys import Keys

__all__ = ["SENT_FIELDS", "EditQueue"]

#: What the message says now: content fingerprint, photo or text, the HTML sent, the photo's
#: sha256, when it was sent, when an editor's retraction deleted it, and how many edits of it
#: failed in a row for a passing reason (``Record.extra``).
SENT_FIELDS = ("sent_fp", "sent_kind", "sent_text", "sent_image", "sent_at", "deleted_at",
               "edit_failures")

# KEYS: edits   ARGV: rid, now
_WANT = lua.CLOCK + r"""
local now = clock(ARGV[2])
local cur = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')
if cur ~= nil and cur > now then
  redis.call('ZADD', KEYS[1], fmt(cur + 0.001), ARGV[1])
else
  redis.call('ZADD', KEYS[1], fmt(now), ARGV[1])
end
return 1
"""

# KEYS: edits   ARGV: rid, now, lease  -> the claim (score string) or false
_CLAIM = lua.CLOCK + r"""
local now = clock(ARGV[2])
local cur = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')
if cur == nil or cur > now then return false end
redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[3])), ARGV[1])
return redis.call('ZSCORE', KEYS[1], ARGV[1])
"""

# KEYS: edits   ARGV: rid, claim, now, at ('' = finished)  -> 1 when wanted again meanwhile
_FINISH = lua.CLOCK + r"""
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur == ARGV[2] then
  if ARGV[4] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
  else redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1]) end
  return 0
end
if tonumber(cur) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], fmt(clock(ARGV[3])), ARGV[1])
  return 1
end
return 0
"""

# KEYS: edits   ARGV: now, grace, limit  -> rids due for ``grace`` s; each bumped to now
_STALE = lua.CLOCK + r"""
local now = clock(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now - tonumber(ARGV[2])),
                       'LIMIT', 0, tonumber(ARGV[3]))
for _, rid in ipairs(ids) do redis.call('ZADD', KEYS[1], fmt(now), rid) end
return ids
"""

# KEYS: rec   ARGV: receipt_id, field, value, ...
_UPDATE_SENT = r"""
if redis.call('HGET', KEYS[1], 'state') ~= 'sent' then return 0 end
if redis.call('HGET', KEYS[1], 'receipt_id') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class EditQueue:
    """The pending edits (``{ns}:edits``) and the sent records' content fields."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._want = client.register_script(_WANT)
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)
        self._stale = client.register_script(_STALE)
        self._update = client.register_script(_UPDATE_SENT)

    def want(self, rid: str, *, now: float | None = None) -> None:
        """Ask for an edit of record ``rid``'s message (due now, or after the current holder)."""
        self._want(keys=[self.keys.edits], args=[rid, _num(now)])

    def claim(self, rid: str, *, lease: float, now: float | None = None) -> str | None:
        """Take the due edit of ``rid`` for ``lease`` seconds: the claim token, or None."""
        got = self._claim(keys=[self.keys.edits], args=[rid, _num(now), repr(float(lease))])
        return str(got) if got else None

    def finish(self, rid: str, claim: str, *, now: float | None = None) -> bool:
        """The edit under ``claim`` is done; True when it was wanted again meanwhile (the
        caller goes again now: the entry is due)."""
        return int(self._finish(keys=[self.keys.edits], args=[rid, claim, _num(now), ""])) == 1

    def retry(self, rid: str, claim: str, *, at: float) -> None:
        """Hand the edit back, due at ``at`` (a rate wait, a transient failure)."""
        self._finish(keys=[self.keys.edits], args=[rid, claim, "", repr(float(at))])

    def drop(self, rid: str) -> None:
        """Nothing to edit any more (the record is not a sent message)."""
        self.client.zrem(self.keys.edits, rid)

    def stale(self, *, grace: float, now: float | None = None, limit: int = 100) -> list[str]:
        """Entries due for ``grace`` seconds that nobody took: hand each over again."""
        ids = self._stale(keys=[self.keys.edits], args=[_num(now), repr(float(grace)), limit])
        return [str(i) for i in ids]

    def pending(self) -> list[str]:
        return [str(i) for i in self.client.zrange(self.keys.edits, 0, -1)]

    def update_sent(self, rid: str, receipt_id: str, fields: Mapping[str, str]) -> bool:
        """Record what message ``receipt_id`` says now; False when the record moved on."""
        args: list[str] = [receipt_id]
        for name, value in fields.items():
            if name not in SENT_FIELDS:
                raise ValueError(f"not a sent-content field: {name!r}")
            args += [name, value]
        return int(self._update(keys=[self.keys.rec(rid)], args=args)) == 1
