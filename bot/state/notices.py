"""The editors' notice queue in Redis: written by whoever caused an event, emptied by one sender.

Why a queue and not a send: a notice sent straight from a worker was lost on any Telegram 429,
5xx or network error, and many at once (a first scan with 40 bad files) met Telegram's limit of
20 messages a minute in a group.  Now an event is written here durably and cheaply (one script
run, never a network call to Telegram), and the editors' bot works through the queue at the pace
Telegram allows (``bot.editor.outbox``).

The model is healthchecks' Flip/sendalerts: ``add`` claims the notice's dedupe key and queues the
entry in one atomic step (a notice is queued once, across processes and restarts, for the key's
lifetime); the sender ``claim``s the entries of one message just before sending (a lease), then
``ack``s them once Telegram accepted the message, so a crash between claim and ack leaves them to
be sent again when the lease runs out (at least once), and ``release``s them with a not-before
time after a refusal it should retry.  Order is the enqueue order (a sequence number), whatever
the leases do.

Key shapes are documented in ``bot/state/keys.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from . import lua
from .keys import Keys
from .store import check_decoding, server_time

__all__ = ["MAX_QUEUED", "NoticeEntry", "NoticeQueue"]

MAX_QUEUED = 10_000  # beyond this the oldest entries are dropped (a sender gone for weeks)

_CLOCK = lua.CLOCK

# KEYS: dedupe, queue, lease, entry, seq   ARGV: dedupe ttl, payload, max queued, now
# -> {0} duplicate | {1, id, dropped id or ''}
_ADD = _CLOCK + r"""
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then return {0} end
local now = clock(ARGV[4])
local id = string.format('%012d', redis.call('INCR', KEYS[5]))
redis.call('ZADD', KEYS[2], fmt(now), id)
redis.call('HSET', KEYS[4], id, ARGV[2])
local dropped = ''
if redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  redis.call('ZREM', KEYS[2], oldest)
  redis.call('ZREM', KEYS[3], oldest)
  redis.call('HDEL', KEYS[4], oldest)
  dropped = oldest
end
return {1, id, dropped}
"""

# KEYS: queue, lease, entry   ARGV: now, window
# -> flat {id, enqueued_at, payload, ...} of entries not leased past now, oldest first
_DUE = _CLOCK + r"""
local now = clock(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  local id = ids[i]
  local until_ = redis.call('ZSCORE', KEYS[2], id)
  if until_ == false or tonumber(until_) <= now then
    local payload = redis.call('HGET', KEYS[3], id)
    if payload then
      table.insert(out, id)
      table.insert(out, ids[i + 1])
      table.insert(out, payload)
    end
  end
end
return out
"""

# KEYS: queue, lease   ARGV: now, lease seconds, id...
# All or nothing: every id must still be queued and free, else nothing is claimed (-> 0).
_CLAIM = _CLOCK + r"""
local now = clock(ARGV[1])
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == false then return 0 end
  local until_ = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if until_ ~= false and tonumber(until_) > now then return 0 end
end
local until_ = fmt(now + tonumber(ARGV[2]))
for i = 3, #ARGV do redis.call('ZADD', KEYS[2], until_, ARGV[i]) end
return 1
"""

# KEYS: queue, lease, entry   ARGV: not-before epoch or '' (free now), id, payload or ''
_RELEASE = r"""
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false then return 0 end
if ARGV[1] == '' then redis.call('ZREM', KEYS[2], ARGV[2])
else redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class NoticeEntry:
    """One queued notice: ``data`` is what the producer wrote (plus the sender's progress)."""

    id: str
    enqueued_at: float
    data: dict[str, Any]


class NoticeQueue:
    """The queue's Redis side; every method is one round trip (or one pipeline)."""

    def __init__(self, client: redis.Redis, *, namespace: str = "newsbot") -> None:
        check_decoding(client)
        self.client = client
        self.keys = Keys(namespace)
        self._add = client.register_script(_ADD)
        self._due = client.register_script(_DUE)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    def _keys(self) -> tuple[str, str, str]:
        k = self.keys
        return k.notice_queue, k.notice_lease, k.notice_entry

    def now(self) -> float:
        return server_time(self.client)

    def add(self, dedupe_id: str, data: dict[str, Any], dedupe_ttl: float, *,
            now: float | None = None, max_queued: int = MAX_QUEUED) -> tuple[str | None, str]:
        """(entry id, id of an entry dropped to make room or ""); id None: already queued once.

        The dedupe claim (``{ns}:notice:{digest}``, the key ``State.claim_once("notice")``
        uses) and the entry are written in one script, so no crash can leave one without the
        other.
        """
        queue, lease, entry = self._keys()
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        reply = self._add(
            keys=[self.keys.once("notice", dedupe_id), queue, lease, entry,
                  self.keys.notice_seq],
            args=[str(max(1, int(dedupe_ttl))), payload, str(int(max_queued)),
                  "" if now is None else repr(float(now))],
        )
        if int(reply[0]) != 1:
            return None, ""
        return str(reply[1]), str(reply[2] or "")

    def due(self, *, now: float | None = None, window: int = 200) -> list[NoticeEntry]:
        """The oldest ``window`` entries that nobody holds (no lease, or a lease run out)."""
        flat = self._due(keys=list(self._keys()),
                         args=["" if now is None else repr(float(now)), str(int(window))])
        out = []
        for i in range(0, len(flat), 3):
            try:
                data = json.loads(flat[i + 2])
            except ValueError:
                data = {}
            out.append(NoticeEntry(str(flat[i]), float(flat[i + 1]),
                                   data if isinstance(data, dict) else {}))
        return out

    def claim(self, ids: Sequence[str], lease_seconds: float, *,
              now: float | None = None) -> bool:
        """Hold every one of ``ids`` for ``lease_seconds``; False (nothing held) if any is gone
        or held by someone else."""
        if not ids:
            return False
        queue, lease, _ = self._keys()
        reply = self._claim(keys=[queue, lease],
                            args=["" if now is None else repr(float(now)),
                                  repr(float(lease_seconds)), *ids])
        return int(reply) == 1

    def ack(self, ids: Iterable[str]) -> None:
        """Done (Telegram accepted the message, or the entry is given up): remove for good."""
        ids = list(ids)
        if not ids:
            return
        queue, lease, entry = self._keys()
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(queue, *ids)
        pipe.zrem(lease, *ids)
        pipe.hdel(entry, *ids)
        pipe.execute()

    def release(self, entry_id: str, *, not_before: float | None = None,
                data: dict[str, Any] | None = None) -> bool:
        """Give an entry back (free now, or from ``not_before``), optionally saving progress."""
        queue, lease, entry = self._keys()
        payload = "" if data is None else json.dumps(data, ensure_ascii=False,
                                                     separators=(",", ":"))
        reply = self._release(keys=[queue, lease, entry],
                              args=["" if not_before is None else repr(float(not_before)),
                                    entry_id, payload])
        return int(reply) == 1

    def pending(self) -> int:
        """Entries not yet acknowledged (held ones included)."""
        return int(self.client.zcard(self.keys.notice_queue))

    def held(self, *, now: float | None = None) -> int:
        """Entries under a lease or a not-before time right now."""
        current = self.now() if now is None else now
        return int(self.client.zcount(self.keys.notice_lease, f"({current!r}", "+inf"))
