"""The pacing backlog of each destination: records waiting for a MAX_PER_HOUR/MIN_SPACING slot.

Why a sorted set per destination and not the schedule: a rate wait on the schedule is due at the
slot's time, so after a burst every waiting record comes due together and the first worker to
get there wins; the order a newsroom asked for (``BACKLOG_ORDER``) would be chance.  Here each
record carries its order score (the post's date, negated for newest first) and the tick releases
the lowest score when the destination has a free slot (``bot.delivery.pacing``).

Reads are bounded: ``head`` and ``first`` read a few members, never the whole backlog, so
``status`` stays fast however long the queue.
"""

from __future__ import annotations

import redis

from .keys import Keys
from .store import check_decoding

__all__ = ["PaceQueue"]


class PaceQueue:
    def __init__(self, client: redis.Redis, *, namespace: str = "newsbot") -> None:
        check_decoding(client)
        self.client = client
        self.keys = Keys(namespace)

    def join(self, bucket: str, rid: str, score: float) -> bool:
        """List ``rid`` with ``score``; one already listed keeps the better (lower) of its place
        and ``score`` (a record back from a lost slot race keeps its turn; an editor's push
        moves it up).  True when it was not listed."""
        return bool(self.client.zadd(self.keys.pace_queue(bucket), {rid: float(score)},
                                     lt=True))

    def leave(self, bucket: str, *rids: str) -> None:
        if rids:
            self.client.zrem(self.keys.pace_queue(bucket), *rids)

    def size(self, bucket: str) -> int:
        return int(self.client.zcard(self.keys.pace_queue(bucket)))

    def head(self, bucket: str) -> str | None:
        """The record that goes next (lowest score; ties by record id), or None."""
        first = self.client.zrange(self.keys.pace_queue(bucket), 0, 0)
        return first[0] if first else None

    def first(self, bucket: str, count: int) -> list[tuple[str, float]]:
        """The ``count`` next records with their scores, in release order."""
        if count <= 0:
            return []
        return [(rid, float(score)) for rid, score in self.client.zrange(
            self.keys.pace_queue(bucket), 0, count - 1, withscores=True)]

    def score(self, bucket: str, rid: str) -> float | None:
        got = self.client.zscore(self.keys.pace_queue(bucket), rid)
        return None if got is None else float(got)
