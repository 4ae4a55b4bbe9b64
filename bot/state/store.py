"""The delivery state machine in Redis, shared by every worker on every machine.

Why it is built this way: Celery may run a publish task twice (redelivery after the visibility
timeout, a retry racing a beat tick), so "exactly once" must come from here.  Each change of a
record is one Lua script (atomic on the server), only the holder of the ``sending`` lease can
report its outcome, a lease that runs out turns the record ``in_doubt`` (the post may or may not
be out: only an editor, who can look at the channel, decides), and ``sent`` is left only through
``editor_resolve``.  Lease times come from the Redis server clock so machines with skewed clocks
agree; other times are ``now=`` epoch floats the caller may pass (tests) or the server clock.

Key shapes are documented in ``bot/state/keys.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis

from bot.escaping import CONTROL_CHARS, escape_controls

from . import lua
from .edits import SENT_FIELDS, EditQueue
from .keys import Keys, record_id
from .records import (
    EDITOR_ACTIONS,
    INITIAL_STATES,
    PROTECTED_FIELDS,
    STATES,
    TRANSITION_SOURCES,
    TRANSITION_TARGETS,
    Record,
    RecordNotFoundError,
    TransitionRefusedError,
)

__all__ = ["State", "check_decoding", "server_time"]

AUDIT_MAXLEN = 10_000
#: Refused attempts audited one by one per requester before one tally entry counts the rest,
#: and the quiet time after which a requester's count starts again (``State.audit_refusal``).
REFUSAL_AUDIT_LIMIT = 5
REFUSAL_AUDIT_WINDOW = 600.0
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def check_decoding(client: redis.Redis) -> None:
    """State code compares strings; a bytes-returning client would silently never match."""
    if not client.get_connection_kwargs().get("decode_responses"):
        raise ValueError("newsbot state needs a redis client created with decode_responses=True")


def server_time(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1_000_000


_JSON_CONTROLS = re.compile(f"[{CONTROL_CHARS}]")

# KEYS[1] the pause hash; ARGV who, reason, now.  Returns 1 when the pause is new.
_PAUSE = """
local created = redis.call('HSETNX', KEYS[1], 'at', ARGV[3])
if created == 1 or ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'who', ARGV[1], 'reason', ARGV[2])
end
return created
"""


def _clean(value: str) -> str:
    """Outside text as it may be stored: controls escaped, lone surrogates as escapes."""
    return escape_controls(value).encode("utf-8", "backslashreplace").decode()


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[0::2], flat[1::2], strict=True))


class State:
    """Every product-owned Redis key except the rate limiters (``RateLimiter``)."""

    def __init__(self, client: redis.Redis, *, namespace: str = "newsbot") -> None:
        check_decoding(client)
        self.client = client
        self.keys = Keys(namespace)
        self.namespace = namespace
        self._ensure = client.register_script(lua.ENSURE)
        self._ensure_many = client.register_script(lua.ENSURE_MANY)
        self._hsetnx_many = client.register_script(lua.HSETNX_MANY)
        self._transition = client.register_script(lua.TRANSITION)
        self._acquire = client.register_script(lua.ACQUIRE)
        self._complete = client.register_script(lua.COMPLETE)
        self._fail = client.register_script(lua.FAIL)
        self._renew = client.register_script(lua.RENEW)
        self._fence = client.register_script(lua.FENCE)
        self._release = client.register_script(lua.RELEASE)
        self._expire = client.register_script(lua.EXPIRE)
        self._reap = client.register_script(lua.REAP)
        self._audit_refusal = client.register_script(lua.AUDIT_REFUSAL)
        self._editor = client.register_script(lua.EDITOR)
        self._due = client.register_script(lua.DUE)
        self._promote = client.register_script(lua.PROMOTE_DUE)

    @classmethod
    def from_url(cls, url: str, *, namespace: str = "newsbot") -> State:
        return cls(redis.Redis.from_url(url, decode_responses=True), namespace=namespace)

    def now(self) -> float:
        """The Redis server's clock (what leases are judged by)."""
        return server_time(self.client)

    # ------------------------------------------------------------------ records
    @staticmethod
    def key_for(post_url: str, platform: str, destination: str) -> str:
        return record_id(post_url, platform, destination)

    def _record_keys(self, rid: str) -> list[str]:
        k = self.keys
        return [k.rec(rid), k.hist(rid), k.recent, k.schedule, k.leases]

    def _result(self, rid: str, reply: Sequence[Any]) -> Record | None:
        if int(reply[0]) != 1:
            return None
        return Record.from_hash(rid, _pairs(reply[1]))

    def ensure(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        state: str = "new",
        reason: str = "",
        scheduled_at: float | None = None,
        by: str = "",
        now: float | None = None,
    ) -> Record:
        """Create the record if absent; an existing record is returned untouched."""
        if state not in INITIAL_STATES:
            raise ValueError(f"a record cannot start in state {state!r}")
        rid = record_id(post_url, platform, destination)
        k = self.keys
        reply = self._ensure(
            keys=[k.rec(rid), k.hist(rid), k.recent, k.schedule, k.by_post(post_url)],
            args=[k.state_prefix, rid, _num(now), post_url, platform, destination, state, reason,
                  _num(scheduled_at), by],
        )
        return Record.from_hash(rid, _pairs(reply[1]))

    def ensure_many(
        self,
        specs: Sequence[tuple[str, str, str, str, str, float | None]],
        *,
        by: str = "",
        now: float | None = None,
    ) -> list[Record]:
        """``ensure`` for many ``(post_url, platform, destination, state, reason, scheduled_at)``
        in one script run, in order: a first-run scan creates tens of thousands of records, and
        a round trip each (with the server's fsync of every write) and then a script call each
        (packing its 16 arguments cost more than running it) took most of its time.  The run is
        atomic as a whole, like the MULTI/EXEC it replaced.  A record created here is not read
        back (the caller gave its fields; its timestamps are left unset in the returned Record);
        one that existed is returned as it is."""
        for spec in specs:
            if spec[3] not in INITIAL_STATES:
                raise ValueError(f"a record cannot start in state {spec[3]!r}")
        if not specs:
            return []
        k = self.keys
        rids = [record_id(spec[0], spec[1], spec[2]) for spec in specs]
        rows = [[rid, k.by_post(post_url), post_url, platform, destination, state, reason,
                 _num(scheduled_at)]
                for rid, (post_url, platform, destination, state, reason, scheduled_at)
                in zip(rids, specs, strict=True)]
        replies = self._ensure_many(
            keys=[k.recent, k.schedule],
            args=[k.state_prefix, _num(now), by, k.rec_prefix, k.hist_prefix,
                  json.dumps(rows, ensure_ascii=False, separators=(",", ":"))],
        )
        flags, existing = replies[0], iter(replies[1:])
        out = []
        for rid, spec, flag in zip(rids, specs, flags, strict=True):
            if flag == "1":
                post_url, platform, destination, state, reason, scheduled_at = spec
                out.append(Record(key=rid, post=post_url, platform=platform,
                                  destination=destination, state=state, reason=reason,
                                  scheduled_at=None if scheduled_at is None
                                  else float(scheduled_at)))
            else:
                out.append(Record.from_hash(rid, _pairs(next(existing))))
        return out

    def get(self, post_url: str, platform: str, destination: str) -> Record | None:
        return self.get_by_key(record_id(post_url, platform, destination))

    def get_by_key(self, key: str) -> Record | None:
        data = self.client.hgetall(self.keys.rec(key))
        return Record.from_hash(key, data) if data else None

    def ref(self, key: str) -> tuple[str, str, str]:
        """(post URL, platform, destination) of a record key, e.g. one returned by ``due()``."""
        record = self.get_by_key(key)
        if record is None:
            raise RecordNotFoundError(key)
        return record.ref

    def history(self, post_url: str, platform: str, destination: str) -> list[dict[str, Any]]:
        """Oldest first: {"at": epoch, "from", "to", "reason", "by"}."""
        raw = self.client.lrange(self.keys.hist(record_id(post_url, platform, destination)), 0, -1)
        entries = [json.loads(item) for item in reversed(raw)]
        for entry in entries:
            entry["at"] = float(entry["at"])
        return entries

    def transition(
        self,
        post_url: str,
        platform: str,
        destination: str,
        expected: str | Iterable[str],
        new: str,
        *,
        reason: str | None = None,
        scheduled_at: float | None = None,
        by: str = "",
        now: float | None = None,
        **fields: str | int | float,
    ) -> Record | None:
        """Move the record to ``new`` only if it is now in ``expected``; None if it is not.

        Only the "free" states can be moved this way (new, waiting, queued, retry_wait ->
        waiting, queued, retry_wait, skipped, failed): sending belongs to its lease holder and
        the final states to editors.  ``scheduled_at`` puts the record on the schedule (a
        ``retry_wait`` without one is due at once).  Extra ``fields`` are stored on the hash.
        """
        wanted = {expected} if isinstance(expected, str) else set(expected)
        if not wanted or not wanted <= TRANSITION_SOURCES:
            raise ValueError(f"transition() cannot start from {sorted(wanted)}; "
                             f"allowed: {sorted(TRANSITION_SOURCES)}")
        if new not in TRANSITION_TARGETS:
            raise ValueError(f"transition() cannot move to {new!r}")
        extra: list[str] = []
        for name, value in fields.items():
            if name in PROTECTED_FIELDS or not _FIELD_NAME.match(name):
                raise ValueError(f"field {name!r} cannot be set by transition()")
            extra += [name, str(value)]
        rid = record_id(post_url, platform, destination)
        reply = self._transition(
            keys=self._record_keys(rid)[:4],
            args=[self.keys.state_prefix, rid, _num(now), "," + ",".join(sorted(wanted)) + ",",
                  new, "0" if reason is None else "1", reason or "", by, _num(scheduled_at),
                  *extra],
        )
        return self._result(rid, reply)

    # ------------------------------------------------------------------ sending
    def acquire_send(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        owner: str,
        lease_seconds: float,
        ignore_pause: bool = False,
        repeat_safe: bool = False,
        now: float | None = None,
    ) -> Record | None:
        """Take the send lease: queued (or due retry_wait) -> sending, attempts + 1.

        None when the record is missing, in any other state (someone holds it, it is sent, a
        retry_wait is not due yet), the pause flag is set, or an earlier attempt that vanished
        past its fence may still land (``send_deadline`` not passed).  ``owner`` must be unique
        per attempt (e.g. task id + attempt number): it is what later proves the outcome is
        ours.  ``repeat_safe``: the platform refuses an identical repeat, so a lost attempt may
        be retried instead of going to an editor.
        """
        if not owner:
            raise ValueError("owner must be non-empty")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        rid = record_id(post_url, platform, destination)
        reply = self._acquire(
            keys=[*self._record_keys(rid), self.keys.pause],
            args=[self.keys.state_prefix, rid, _num(now), owner, repr(float(lease_seconds)),
                  "1" if ignore_pause else "0", "1" if repeat_safe else "0"],
        )
        return self._result(rid, reply)

    def fence_send(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        owner: str,
        send_seconds: float,
        ignore_pause: bool = False,
        fingerprint: str = "",
        now: float | None = None,
    ) -> float | None:
        """The fencing check right before the request: still ours, not paused, lease stretched.

        Returns the send deadline (the lease now lasts at least until then) or None: the lease
        was lost (expired, reaped, resolved) or publishing was paused, and nothing may be sent.
        ``send_seconds`` must bound the whole request (the publisher enforces it), so no lease
        can run out while a request is in flight.  ``fingerprint`` records what goes out.
        """
        rid = record_id(post_url, platform, destination)
        reply = self._fence(
            keys=[self.keys.rec(rid), self.keys.leases, self.keys.pause],
            args=[rid, _num(now), owner, repr(float(send_seconds)),
                  "1" if ignore_pause else "0", fingerprint],
        )
        return float(reply[1]) if int(reply[0]) == 1 else None

    def release_send(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        owner: str,
        reason: str,
        now: float | None = None,
    ) -> Record | None:
        """Give an unfenced lease back: sending -> queued, the attempt not counted."""
        rid = record_id(post_url, platform, destination)
        k = self.keys
        reply = self._release(keys=[k.rec(rid), k.hist(rid), k.recent, k.leases],
                              args=[k.state_prefix, rid, _num(now), owner, reason])
        return self._result(rid, reply)

    def complete_send(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        owner: str,
        receipt_id: str,
        receipt_url: str = "",
        notes: Sequence[str] = (),
        fields: Mapping[str, str] | None = None,
        now: float | None = None,
    ) -> bool:
        """sending (held by ``owner``) -> sent with the platform's receipt.

        ``fields`` (``edits.SENT_FIELDS``: what the message says) land in the same step, so a
        later correction knows what it is editing; ``sent_at`` is the server's time.

        Also accepted from the attempt that passed the fence after its lease was lost (in_doubt,
        or resent and queued again): a receipt is proof the post is out, and recording it keeps
        the resend, which waits for the old attempt's send deadline, from posting twice.
        """
        rid = record_id(post_url, platform, destination)
        k = self.keys
        reply = self._complete(
            keys=[k.rec(rid), k.hist(rid), k.recent, k.leases, k.schedule],
            args=[k.state_prefix, rid, _num(now), owner, str(receipt_id), receipt_url or "",
                  json.dumps(list(notes), ensure_ascii=False) if notes else "",
                  *self._sent_fields(fields, now)],
        )
        return int(reply[0]) == 1

    def _sent_fields(self, fields: Mapping[str, str] | None, now: float | None) -> list[str]:
        if fields is None:
            return []
        out: list[str] = []
        for name, value in {**fields, "sent_at": _num(now) or repr(self.now())}.items():
            if name not in SENT_FIELDS:
                raise ValueError(f"not a sent-content field: {name!r}")
            out += [name, str(value)]
        return out

    @property
    def edits(self) -> EditQueue:
        """Pending corrections of sent messages (``bot.state.edits``)."""
        queue = self.__dict__.get("_edit_queue")
        if queue is None:
            queue = self.__dict__["_edit_queue"] = EditQueue(self.client, self.keys)
        return queue

    def fail_send(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        owner: str,
        reason: str,
        permanent: bool = False,
        doubt: bool = False,
        retry_at: float | None = None,
        transient: bool = False,
        uncertain: bool = False,
        now: float | None = None,
    ) -> bool:
        """sending (held by ``owner``) -> failed (``permanent``), in_doubt (``doubt``) or
        retry_wait due at ``retry_at``.

        ``transient`` counts the attempt toward MAX_ATTEMPTS (rate-limit waits do not);
        ``uncertain`` records that the request may have reached the platform.
        """
        if permanent and doubt:
            raise ValueError("a failure is permanent or in doubt, not both")
        mode = "failed" if permanent else "doubt" if doubt else "retry"
        rid = record_id(post_url, platform, destination)
        reply = self._fail(
            keys=self._record_keys(rid),
            args=[self.keys.state_prefix, rid, _num(now), owner, reason, mode, _num(retry_at),
                  "1" if transient else "0", "1" if uncertain or doubt else "0"],
        )
        return int(reply[0]) == 1

    def renew_lease(
        self,
        post_url: str,
        platform: str,
        destination: str,
        *,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> float | None:
        """Extend a held lease (long uploads); the new lease_until, or None if not held."""
        rid = record_id(post_url, platform, destination)
        reply = self._renew(
            keys=[self.keys.rec(rid), self.keys.leases],
            args=[rid, _num(now), owner, repr(float(lease_seconds))],
        )
        return float(reply[1]) if int(reply[0]) == 1 else None

    def expire_leases(self, now: float | None = None, *, limit: int = 1000) -> list[Record]:
        """Leases past lease_until: their holders stopped renewing.

        Before the fence the request was never made, so the record is queued again; past it
        the record goes to in_doubt (an editor decides) or, on a platform that refuses repeats,
        to retry_wait.  The returned records show which.
        """
        k = self.keys
        flat = self._expire(
            keys=[k.leases, k.recent, k.schedule],
            args=[k.state_prefix, k.rec_prefix, k.hist_prefix, _num(now), str(limit)],
        )
        return self._load(flat[0::2])

    def reap_lease(
        self,
        record_key: str,
        owner: str,
        *,
        why: str,
        dead: bool,
        now: float | None = None,
    ) -> Record | None:
        """Settle a lease whose holder is gone before it ran out (see ``expire_leases``).

        ``dead``: the holder is known dead (its process is gone), so nothing of it can still
        land and a resend need not wait for its send deadline.  None if ``owner`` no longer
        holds the record.
        """
        reply = self._reap(keys=self._record_keys(record_key),
                           args=[self.keys.state_prefix, record_key, _num(now), owner, why,
                                 "1" if dead else "0"])
        if int(reply[0]) != 1:
            return None
        return self.get_by_key(record_key)

    def held_leases(self) -> list[tuple[str, str]]:
        """(record key, lease owner) of every record in ``sending``."""
        rids = self.client.zrange(self.keys.leases, 0, -1)
        if not rids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for rid in rids:
            pipe.hget(self.keys.rec(rid), "lease_owner")
        return [(rid, owner) for rid, owner in zip(rids, pipe.execute(), strict=True) if owner]

    def editor_resolve(
        self,
        post_url: str,
        platform: str,
        destination: str,
        action: str,
        who: str,
        *,
        reason: str = "",
        now: float | None = None,
    ) -> Record:
        """The editors' way out of sent / failed / in_doubt / skipped.

        resend: in_doubt|failed -> queued.  mark_sent: anything not sending -> sent (no receipt).
        retry: failed|retry_wait -> queued.  skip: anything unsent and not sending -> skipped.
        force: anything not sending (even sent) -> queued, the old receipt kept as prev_receipt_*.
        Raises RecordNotFoundError or TransitionRefusedError (with the current record).
        """
        if action not in EDITOR_ACTIONS:
            raise ValueError(f"unknown editor action {action!r}; one of {sorted(EDITOR_ACTIONS)}")
        if not who:
            raise ValueError("who must name the editor")
        allowed, target = EDITOR_ACTIONS[action]
        rid = record_id(post_url, platform, destination)
        text = reason or f"editor {action} by {who}"
        reply = self._editor(
            keys=self._record_keys(rid),
            args=[self.keys.state_prefix, rid, _num(now), "," + ",".join(sorted(allowed)) + ",",
                  target, text, who, action],
        )
        if int(reply[0]) == 1:
            return Record.from_hash(rid, _pairs(reply[1]))
        if len(reply) < 2:
            raise RecordNotFoundError(rid)
        raise TransitionRefusedError(Record.from_hash(rid, _pairs(reply[1])), action)

    # ------------------------------------------------------------------ listing
    def _load(self, rids: Iterable[str]) -> list[Record]:
        ids = list(rids)
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self.keys.rec(rid))
        return [Record.from_hash(rid, data)
                for rid, data in zip(ids, pipe.execute(), strict=True) if data]

    def records(self, *, post_url: str | None = None, state: str | None = None) -> list[Record]:
        """Matching records, most recently updated first."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        k = self.keys
        if post_url is not None and state is not None:
            rids: Iterable[str] = self.client.sinter(k.by_post(post_url), k.by_state(state))
        elif post_url is not None:
            rids = self.client.smembers(k.by_post(post_url))
        elif state is not None:
            rids = self.client.smembers(k.by_state(state))
        else:
            rids = self.client.zrevrange(k.recent, 0, -1)
        found = self._load(rids)
        found.sort(key=lambda r: (r.updated_at or 0.0, r.key), reverse=True)
        return found

    def pending(self, limit: int | None = 20) -> tuple[list[Record], int]:
        """(at most ``limit`` waiting and retry_wait records, soonest due first and unscheduled
        last; how many there are in all).

        Why not ``records(state=...)``: in a burst a thousand records wait for a rate-limit
        slot, and reading each of them made the status query take a second.  Only the ids and
        the schedule's scores are read for all; the records only for those shown.
        """
        k = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(k.by_state("waiting"))
        pipe.smembers(k.by_state("retry_wait"))
        waiting, retrying = pipe.execute()
        rids = sorted(set(waiting) | set(retrying))
        total = len(rids)
        if limit is not None and total > limit:
            scores = self.client.zmscore(k.schedule, rids)
            order = sorted(zip(rids, scores, strict=True),
                           key=lambda pair: (pair[1] is None, pair[1] or 0.0, pair[0]))
            rids = [rid for rid, _score in order[:max(limit, 0)]]
        found = [r for r in self._load(rids) if r.state in ("waiting", "retry_wait")]
        found.sort(key=lambda r: (r.scheduled_at is None, r.scheduled_at or 0.0, r.key))
        return found, total

    def counts(self) -> dict[str, int]:
        """Records per state (every state present, zeros included)."""
        pipe = self.client.pipeline(transaction=False)
        for name in STATES:
            pipe.scard(self.keys.by_state(name))
        return dict(zip(STATES, (int(n) for n in pipe.execute()), strict=True))

    def recent(self, limit: int = 20) -> list[Record]:
        if limit <= 0:
            return []
        return self._load(self.client.zrevrange(self.keys.recent, 0, limit - 1))

    # ------------------------------------------------------------------ schedule
    def schedule(self, record_key: str, at: float) -> None:
        """Put a record key on the schedule (replacing its due time)."""
        self.client.zadd(self.keys.schedule, {record_key: float(at)})

    def unschedule(self, record_key: str) -> bool:
        return bool(self.client.zrem(self.keys.schedule, record_key))

    def due(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Claim the record keys due by ``now``: each is returned to exactly one caller.

        A claimed key is off the schedule; if the caller dies before acting on it the record
        stays where it was.  ``promote_due`` does claim + move in one step.
        """
        return list(self._due(keys=[self.keys.schedule], args=[_num(now), str(int(limit))]))

    def promote_due(self, now: float | None = None, limit: int = 100) -> list[Record]:
        """Claim due keys and move their waiting / retry_wait records to queued, atomically."""
        k = self.keys
        rids = self._promote(
            keys=[k.schedule, k.recent],
            args=[k.state_prefix, k.rec_prefix, k.hist_prefix, _num(now), str(int(limit))],
        )
        return self._load(rids)

    def next_due(self) -> tuple[str, float] | None:
        """(record key, due epoch) of the earliest scheduled record, without claiming it."""
        first = self.client.zrange(self.keys.schedule, 0, 0, withscores=True)
        return (first[0][0], float(first[0][1])) if first else None

    # ------------------------------------------------------------------ scanning
    def file_signatures(self, site_key: str) -> dict[str, str]:
        return dict(self.client.hgetall(self.keys.site_files(site_key)))

    def set_file_signatures(
        self, site_key: str, mapping: Mapping[str, str], removed: Iterable[str] = ()
    ) -> None:
        """Record changed files and forget removed ones in one transaction."""
        key = self.keys.site_files(site_key)
        gone = list(removed)
        pipe = self.client.pipeline(transaction=True)
        items = list(mapping.items())
        for start in range(0, len(items), 1000):
            pipe.hset(key, mapping=dict(items[start:start + 1000]))
        for start in range(0, len(gone), 1000):
            pipe.hdel(key, *gone[start:start + 1000])
        pipe.execute()

    def mark_seen(self, site_key: str, post_url: str, info: Mapping[str, Any]) -> bool:
        """True only for the first sighting of that post URL on that site."""
        payload = json.dumps(dict(info), ensure_ascii=False, sort_keys=True, default=str)
        return bool(self.client.hsetnx(self.keys.site_seen(site_key), post_url, payload))

    def mark_seen_many(
        self, site_key: str, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[bool]:
        """``mark_seen`` for many ``(post_url, info)`` in one script run, in order (a URL twice:
        only its first sighting is True)."""
        if not items:
            return []
        rows = [[post_url, json.dumps(dict(info), ensure_ascii=False, sort_keys=True,
                                      default=str)] for post_url, info in items]
        flags = self._hsetnx_many(keys=[self.keys.site_seen(site_key)],
                                  args=[json.dumps(rows, ensure_ascii=False)])
        return [flag == "1" for flag in flags]

    def update_seen(self, site_key: str, post_url: str, info: Mapping[str, Any]) -> None:
        """Overwrite a post's seen info (``mark_seen`` is set-once): a renamed file is followed
        by pointing its URL at the new path."""
        payload = json.dumps(dict(info), ensure_ascii=False, sort_keys=True, default=str)
        self.client.hset(self.keys.site_seen(site_key), post_url, payload)

    def is_seen(self, site_key: str, post_url: str) -> bool:
        return bool(self.client.hexists(self.keys.site_seen(site_key), post_url))

    def seen_info(self, site_key: str, post_url: str) -> dict[str, Any] | None:
        raw = self.client.hget(self.keys.site_seen(site_key), post_url)
        return json.loads(raw) if raw else None

    def seen_infos(self, site_key: str, post_urls: Sequence[str]) -> list[dict[str, Any] | None]:
        """``seen_info`` of each of ``post_urls`` in one request."""
        if not post_urls:
            return []
        found = self.client.hmget(self.keys.site_seen(site_key), list(post_urls))
        return [json.loads(raw) if raw else None for raw in found]

    def seen_count(self, site_key: str) -> int:
        return int(self.client.hlen(self.keys.site_seen(site_key)))

    def file_identity(self, site_key: str, rel_path: str) -> str | None:
        """The identity URL of the post in ``rel_path`` (None for a file never planned)."""
        value = self.client.hget(self.keys.site_ids(site_key), rel_path)
        return value or None

    def file_identities(self, site_key: str, rel_paths: Sequence[str]) -> list[str | None]:
        """``file_identity`` of each of ``rel_paths`` in one request."""
        if not rel_paths:
            return []
        found = self.client.hmget(self.keys.site_ids(site_key), list(rel_paths))
        return [v or None for v in found]

    def set_file_identity(self, site_key: str, rel_path: str, url: str) -> None:
        self.client.hset(self.keys.site_ids(site_key), rel_path, url)

    def identities_by_name(self, site_key: str, names: Sequence[str]) -> list[str]:
        """Identity URLs recorded under any of ``names`` (title / excerpt hashes), deduped."""
        if not names:
            return []
        found = self.client.hmget(self.keys.site_names(site_key), list(names))
        return list(dict.fromkeys(v for v in found if v))

    def identities_by_names(self, site_key: str, groups: Sequence[Sequence[str]]
                            ) -> list[list[str]]:
        """``identities_by_name`` of each group of names, in one request."""
        flat = [name for group in groups for name in group]
        found = self.client.hmget(self.keys.site_names(site_key), flat) if flat else []
        out: list[list[str]] = []
        at = 0
        for group in groups:
            out.append(list(dict.fromkeys(v for v in found[at:at + len(group)] if v)))
            at += len(group)
        return out

    def remember_files(self, site_key: str,
                       items: Sequence[tuple[str, Sequence[str], str]]) -> None:
        """``set_file_identity`` and ``set_identity_names`` for many ``(rel_path, names, url)``
        in one pipeline, in order (a name given twice ends up with the later URL, as one call
        after the other would leave it)."""
        if not items:
            return
        ids: dict[str, str] = {}
        names: dict[str, str] = {}
        for rel_path, group, url in items:
            ids[rel_path] = url
            names.update(dict.fromkeys(group, url))
        pipe = self.client.pipeline(transaction=True)
        id_items, name_items = list(ids.items()), list(names.items())
        for start in range(0, len(id_items), 1000):
            pipe.hset(self.keys.site_ids(site_key), mapping=dict(id_items[start:start + 1000]))
        for start in range(0, len(name_items), 1000):
            pipe.hset(self.keys.site_names(site_key),
                      mapping=dict(name_items[start:start + 1000]))
        pipe.execute()

    def set_identity_names(self, site_key: str, names: Sequence[str], url: str) -> None:
        if names:
            self.client.hset(self.keys.site_names(site_key), mapping=dict.fromkeys(names, url))

    def baseline_done(self, site_key: str) -> bool:
        return bool(self.client.exists(self.keys.site_baseline(site_key)))

    def set_baseline_done(self, site_key: str, now: float | None = None) -> None:
        stamp = now if now is not None else self.now()
        self.client.set(self.keys.site_baseline(site_key), repr(stamp), nx=True)

    # ------------------------------------------------------------------ once-only, blobs
    def claim_once(self, kind: str, ident: str, ttl: float) -> bool:
        """True for the first claimant of (kind, ident) within ``ttl`` seconds (``SET NX``),
        shared by every process on this Redis."""
        return bool(self.client.set(self.keys.once(kind, ident), "1", nx=True,
                                    ex=max(1, int(ttl))))

    def release_once(self, kind: str, ident: str) -> None:
        """Give a claim back (the work it guarded failed and may be tried again)."""
        self.client.delete(self.keys.once(kind, ident))

    def put_blob(self, kind: str, ident: str, value: str, ttl: float) -> None:
        self.client.set(self.keys.blob(kind, ident), value, ex=max(1, int(ttl)))

    def get_blob(self, kind: str, ident: str) -> str | None:
        value = self.client.get(self.keys.blob(kind, ident))
        return value if value is None or isinstance(value, str) else value.decode()

    # ------------------------------------------------------------------ pause
    def pause(self, who: str, reason: str = "", now: float | None = None) -> bool:
        """Set the pause; True when it was not set before.

        A second pause keeps the first one's time; a reason given with it replaces the old
        reason (and names who gave it), while a second pause without a reason keeps the old
        one rather than wiping it.  One script, so a resume in between cannot leave a half flag.
        """
        stamp = now if now is not None else self.now()
        return bool(self.client.eval(_PAUSE, 1, self.keys.pause, who, reason, repr(stamp)))

    def resume(self, who: str) -> bool:
        """Clear the pause flag; False if it was not set.  (``who`` goes to the audit log.)"""
        del who
        return bool(self.client.delete(self.keys.pause))

    def is_paused(self) -> bool:
        return bool(self.client.exists(self.keys.pause))

    def pause_info(self) -> dict[str, Any] | None:
        data = self.client.hgetall(self.keys.pause)
        if not data:
            return None
        return {"who": data.get("who", ""), "reason": data.get("reason", ""),
                "at": float(data["at"]) if data.get("at") else None}

    # ------------------------------------------------------------------ audit
    def audit(
        self, who: str, action: str, target: str, result: Any, now: float | None = None
    ) -> str:
        """Append to the capped audit stream; returns the entry id.

        ``who``, ``target`` and ``result`` may hold text from outside (an editor's argument):
        control characters are stored escaped, so ``newsbot audit`` and ``/audit`` show one
        line per entry whatever was typed.
        """
        if isinstance(result, str):
            text = _clean(result)
        else:  # JSON escapes C0 itself; the other controls as \uXXXX keep it valid JSON
            text = _JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(
                result, default=str, ensure_ascii=False)).encode(
                "utf-8", "backslashreplace").decode()
        who, target = _clean(who), _clean(target)
        stamp = now if now is not None else self.now()
        return str(self.client.xadd(
            self.keys.audit,
            {"who": who, "action": action, "target": target, "result": text, "at": repr(stamp)},
            maxlen=AUDIT_MAXLEN, approximate=True,
        ))

    def audit_refusal(self, who: str, target: str, result: dict[str, Any], *,
                      limit: int = REFUSAL_AUDIT_LIMIT,
                      window: float = REFUSAL_AUDIT_WINDOW) -> tuple[str, int]:
        """Append a refused attempt (``action`` = ``refused``) to the audit stream, bounded.

        Why bounded: refusals are written by whoever talks to the bot, and the stream is capped,
        so a stranger's flood must not push the editors' own entries out.  The first ``limit``
        refusals of ``who`` within a quiet ``window`` get an entry each; then one tally entry
        (``{"why": "flood", "more": n, "after": limit, "last": result}``) stands for all the
        others of that flood, replaced on each attempt (it stays the newest).  ``target`` is
        cut to 80 characters, control characters escaped.  Returns (entry id, how many
        refusals of ``who`` this flood has had, this one included).
        """
        def text(value: str) -> str:  # a lone surrogate (from JSON) cannot go to Redis
            return _clean(value[:80])

        body = json.dumps(result, default=str, ensure_ascii=True)
        if len(body) > 600:
            body = json.dumps({"why": text(str(result.get("why", "refused"))), "cut": True})
        ident = hashlib.blake2b(who.encode("utf-8", "backslashreplace"),
                                digest_size=12).hexdigest()
        entry, count = self._audit_refusal(
            keys=[self.keys.once("refusal-count", ident), self.keys.once("refusal-tally", ident),
                  self.keys.audit],
            args=[int(limit), max(1, int(window)), AUDIT_MAXLEN, text(who), text(target), body,
                  ""],
        )
        return str(entry), int(count)

    def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first: {"id", "who", "action", "target", "result", "at"}."""
        entries = self.client.xrevrange(self.keys.audit, count=max(0, limit)) if limit > 0 else []
        out: list[dict[str, Any]] = []
        for entry_id, data in entries:
            out.append({"id": entry_id, "who": data.get("who", ""),
                        "action": data.get("action", ""), "target": data.get("target", ""),
                        "result": data.get("result", ""), "at": float(data.get("at") or 0.0)})
        return out

    # ------------------------------------------------------------------ heartbeat
    def heartbeat(self, name: str, now: float | None = None) -> None:
        stamp = now if now is not None else self.now()
        self.client.hset(self.keys.heartbeat, name, repr(stamp))

    def heartbeats(self, now: float | None = None) -> dict[str, float]:
        """Worker name -> seconds since its last heartbeat (by the server clock)."""
        data = self.client.hgetall(self.keys.heartbeat)
        current = now if now is not None else self.now()
        return {name: max(0.0, current - float(stamp)) for name, stamp in data.items()}

    def forget_heartbeat(self, name: str) -> None:
        self.client.hdel(self.keys.heartbeat, name)

    # ------------------------------------------------------------------ destination names
    def name_destination(self, platform: str, destination: str, name: str) -> None:
        """Remember a readable name the platform told us (the X account's @handle)."""
        self.client.hset(self.keys.destination_names, f"{platform}:{destination}",
                         _clean(name)[:100])

    def destination_names(self) -> dict[str, str]:
        """``"platform:destination"`` -> readable name, for what has one."""
        return dict(self.client.hgetall(self.keys.destination_names))

    # ------------------------------------------------------------------ worker liveness
    def prove_alive(self, worker_id: str, ttl: float) -> None:
        """This worker process is alive for the next ``ttl`` seconds (its lease keeper repeats
        it); a holder that stops proving it is presumed dead and its leases are settled."""
        self.client.set(self.keys.alive(worker_id), "1", px=max(1, int(ttl * 1000)))

    def forget_alive(self, worker_id: str) -> None:
        self.client.delete(self.keys.alive(worker_id))

    def alive_workers(self, worker_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(worker_ids))
        if not ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for wid in ids:
            pipe.exists(self.keys.alive(wid))
        return {wid for wid, n in zip(ids, pipe.execute(), strict=True) if n}

    # ------------------------------------------------------------------ health beats
    def health_beat(self, role: str, name: str) -> None:
        """Process ``name`` ("host:pid") does ``role``'s job now (``bot.health``)."""
        self.client.hset(self.keys.health(role), name, repr(self.now()))

    def forget_health(self, role: str, name: str) -> None:
        self.client.hdel(self.keys.health(role), name)

    def health_ages(self, role: str) -> dict[str, float]:
        """Process name -> seconds since its last health beat for ``role`` (server clock)."""
        data = self.client.hgetall(self.keys.health(role))
        now = self.now()
        ages = {}
        for name, stamp in data.items():
            key = name.decode() if isinstance(name, bytes) else str(name)
            try:
                ages[key] = max(0.0, now - float(stamp))
            except ValueError:  # not written by a health beat: not one
                continue
        return ages
