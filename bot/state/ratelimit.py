"""Send-rate limits shared by every worker through Redis.

Why a sliding-window *log* (one sorted-set member per granted send) and not a token bucket: the
platforms state their limits as "at most N per W seconds" over any window, and a log checks exactly
that, with zero overshoot, for several rules at once (e.g. 1 per second and 20 per minute).

``reserve`` either grants a slot at ``now`` (recording it) or, recording nothing, says how long to
wait until every rule, the minimum ``spacing`` and any ``block_until`` allow one.  Slots are granted
in time order: a caller whose ``now`` is earlier than the newest slot is told to wait for it, which
keeps the check exact even when callers' clocks differ slightly.  A rule counts the sends in the
half-open window ``(now - W, now]``, so with (1, 1.0) sends at t=0 and t=1 are both allowed.

Pass the same rules for a bucket every time: the log is trimmed to the longest window in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from . import lua
from .keys import Keys
from .store import check_decoding, server_time

__all__ = ["DAY", "RateLimiter", "Rule"]

Rule = tuple[int, float]
DAY = 86_400.0


def _rule_args(rules: Sequence[Rule]) -> list[str]:
    args = [str(len(rules))]
    for limit, window in rules:
        if int(limit) < 1 or float(window) <= 0:
            raise ValueError(f"bad rate rule {(limit, window)!r}: need limit >= 1 and window > 0")
        args += [str(int(limit)), repr(float(window))]
    return args


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class RateLimiter:
    def __init__(self, client: redis.Redis, *, namespace: str = "newsbot") -> None:
        check_decoding(client)
        self.client = client
        self.keys = Keys(namespace)
        self._reserve = client.register_script(lua.RESERVE)
        self._block = client.register_script(lua.BLOCK)
        self._budget = client.register_script(lua.BUDGET)
        self._settle = client.register_script(lua.SETTLE)

    def _bucket_keys(self, bucket: str) -> list[str]:
        if not bucket or any(c in bucket for c in " \r\n"):
            raise ValueError(f"bad bucket name {bucket!r}")
        k = self.keys
        return [k.rl_log(bucket), k.rl_seq(bucket), k.rl_block(bucket), k.rl_budget(bucket)]

    def _run(self, bucket: str, rules: Sequence[Rule], spacing: float, now: float | None,
             dry: bool) -> float:
        if spacing < 0:
            raise ValueError("spacing must be >= 0")
        reply = self._reserve(
            keys=self._bucket_keys(bucket),
            args=[_num(now), repr(float(spacing)), "1" if dry else "0", *_rule_args(rules)],
        )
        return max(0.0, float(reply))

    def reserve(
        self,
        bucket: str,
        rules: Sequence[Rule],
        *,
        spacing: float = 0.0,
        now: float | None = None,
    ) -> float:
        """0.0 = a send slot at ``now`` is yours (recorded); else seconds to wait, nothing recorded.

        ``now`` defaults to the Redis server clock, which every worker shares.
        """
        return self._run(bucket, rules, spacing, now, dry=False)

    def wait_time(
        self, bucket: str, rules: Sequence[Rule], *, spacing: float = 0.0,
        now: float | None = None,
    ) -> float:
        """What ``reserve`` would answer, without taking the slot."""
        return self._run(bucket, rules, spacing, now, dry=True)

    def settle(self, bucket: str, slot: float, answered: float) -> int:
        """The slot granted at ``slot`` (the ``now`` given to ``reserve``) counts from
        ``answered`` instead: the platform timed that request somewhere in between, so a slow
        request (a photo upload on a busy machine) must not let a window start earlier for us
        than for the platform.  Never moves a slot earlier.  Returns how many slots were found at
        ``slot`` (0 or 1)."""
        return int(self._settle(keys=[self._bucket_keys(bucket)[0]],
                                args=[repr(float(slot)), repr(float(answered))]))

    def block_until(self, bucket: str, until_epoch: float, *, now: float | None = None) -> float:
        """Stop every worker's sends on ``bucket`` until ``until_epoch`` (after a 429 / reset).

        Never shortens an existing block; returns the block now in force.
        """
        reply = self._block(keys=[self._bucket_keys(bucket)[2]],
                            args=[repr(float(until_epoch)), _num(now)])
        return float(reply)

    def record_budget(self, bucket: str, windows: dict[str, tuple[int, float]], *,
                      now: float | None = None) -> None:
        """What the platform says is left: {window name: (remaining, reset epoch)}.

        ``reserve`` then waits for a spent window's reset and counts each granted slot against
        every running window, so the platform's own limit is honoured before a 429, by every
        worker.  ``now`` is unused (kept for symmetry): windows are judged at reserve time.
        """
        del now
        if not windows:
            return
        args: list[str] = []
        latest = 0.0
        for name, (remaining, reset) in windows.items():
            if not name or ":" in name:
                raise ValueError(f"bad window name {name!r}")
            args += [name, str(int(remaining)), repr(float(reset))]
            latest = max(latest, float(reset))
        ttl_ms = int(max(60.0, latest - server_time(self.client) + 60.0) * 1000)
        self._budget(keys=[self._bucket_keys(bucket)[3]], args=[str(ttl_ms), *args])

    def platform_windows(self, bucket: str, *, now: float | None = None
                         ) -> dict[str, dict[str, float | int]]:
        """What the platform last said is left in each of its windows not yet reset:
        {window name: {"remaining", "reset_at"}} (from ``record_budget``; for status)."""
        current = now if now is not None else server_time(self.client)
        raw = self.client.hgetall(self._bucket_keys(bucket)[3])
        out: dict[str, dict[str, float | int]] = {}
        for field_name, value in raw.items():
            name, _, kind = field_name.rpartition(":")
            if kind != "reset" or not name:
                continue
            reset, left = float(value), raw.get(f"{name}:remaining")
            if reset > current and left not in (None, ""):
                out[name] = {"remaining": int(float(left)), "reset_at": reset}
        return dict(sorted(out.items()))

    def slots(self, bucket: str, since: float) -> list[float]:
        """Times of the slots granted on ``bucket`` after ``since``, oldest first (the pacing
        projection of ``status`` reads the last hour: at most a cap's worth of entries)."""
        raw = self.client.zrangebyscore(self._bucket_keys(bucket)[0], f"({float(since)!r}",
                                        "+inf", withscores=True)
        return [float(score) for _member, score in raw]

    def blocked_until(self, bucket: str, *, now: float | None = None) -> float | None:
        raw = self.client.get(self._bucket_keys(bucket)[2])
        if raw is None:
            return None
        current = now if now is not None else server_time(self.client)
        until = float(raw)
        return until if until > current else None

    def budget(
        self, bucket: str, rules: Sequence[Rule], *, spacing: float = 0.0,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Remaining sends per rule, any block, and the wait before the next send (for status)."""
        current = now if now is not None else server_time(self.client)
        log = self._bucket_keys(bucket)[0]
        pipe = self.client.pipeline(transaction=False)
        for _limit, window in rules:
            pipe.zcount(log, f"({current - float(window)!r}", "+inf")
        used = [int(n) for n in pipe.execute()]
        return {
            "bucket": bucket,
            "rules": [
                {"limit": int(limit), "window": float(window), "used": u,
                 "remaining": max(0, int(limit) - u)}
                for (limit, window), u in zip(rules, used, strict=True)
            ],
            "blocked_until": self.blocked_until(bucket, now=current),
            "wait": self.wait_time(bucket, rules, spacing=spacing, now=current),
        }

    def daily_counter(
        self,
        bucket: str,
        limit: int,
        remaining_from_platform: int | None = None,
        reset_at: float | None = None,
        *,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The 24-hour quota (X's x-app-limit-24hour-* headers) as both sides see it.

        Give the platform's latest ``remaining``/``reset_at`` to record them; when the platform
        says nothing is left, the bucket is blocked until its reset.  Locally counted sends are
        those in the bucket's log over the last 24 h (so reserve with a (limit, 86400) rule).
        Returns {"limit", "used", "remaining", "reset_at", "platform_remaining"}.
        """
        current = now if now is not None else server_time(self.client)
        key = self.keys.rl_daily(bucket)
        if remaining_from_platform is not None:
            mapping = {"limit": str(int(limit)), "remaining": str(int(remaining_from_platform)),
                       "reset_at": _num(reset_at), "reported_at": repr(current)}
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, int(DAY * 2))
            pipe.execute()
            if remaining_from_platform <= 0 and reset_at is not None:
                self.block_until(bucket, reset_at, now=current)
        stored = self.client.hgetall(key)
        used = int(self.client.zcount(self._bucket_keys(bucket)[0], f"({current - DAY!r}", "+inf"))
        remaining = max(0, int(limit) - used)
        platform_remaining: int | None = None
        stored_reset = float(stored["reset_at"]) if stored.get("reset_at") else None
        if stored.get("remaining") not in (None, "") and (
            stored_reset is None or stored_reset > current
        ):
            platform_remaining = int(stored["remaining"])
            remaining = min(remaining, max(0, platform_remaining))
        return {"limit": int(limit), "used": used, "remaining": remaining,
                "reset_at": stored_reset, "platform_remaining": platform_remaining}
