"""Live checks of posts' pages in Redis: one hash per post URL (``Keys.live``).

Why in Redis and not in the checker's memory: the sender (any worker) reads the verdict before a
send, the checker (the beat process) writes it, and both must survive a restart without losing
"since when has this post waited" (the timeout counts from the first hold) or "were the editors
told" (once per post, across processes).  The page's ETag and Last-Modified from its last 200
travel here too, so the next check can be a conditional request.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from .keys import Keys

__all__ = ["LiveBook", "LiveEntry"]

#: A post's entry outlives its last write by this long (a week of waiting is long gone stale).
TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class LiveEntry:
    url: str
    title: str = ""
    verdict: str = ""  # live | not_live | "" (never checked)
    status: str = ""
    since: float | None = None
    checked_at: float | None = None
    etag: str = ""
    last_modified: str = ""
    had_title: bool = False
    reported: bool = False

    @property
    def live(self) -> bool:
        return self.verdict == "live"


class LiveBook:
    def __init__(self, client: redis.Redis, namespace: str = "newsbot") -> None:
        self.client = client
        self.keys = Keys(namespace)

    def get(self, url: str) -> LiveEntry:
        data = self.client.hgetall(self.keys.live(url))
        if not data:
            return LiveEntry(url)
        return LiveEntry(
            url=url, title=str(data.get("title", "")), verdict=str(data.get("verdict", "")),
            status=str(data.get("status", "")), since=_float(data.get("since")),
            checked_at=_float(data.get("checked_at")), etag=str(data.get("etag", "")),
            last_modified=str(data.get("last_modified", "")),
            had_title=data.get("had_title") == "1", reported=data.get("reported") == "1")

    def held(self, url: str, now: float) -> float:
        """The post waits for its page from ``now`` on, unless it already did: since when."""
        key = self.keys.live(url)
        pipe = self.client.pipeline()
        pipe.hsetnx(key, "since", repr(now))
        pipe.hget(key, "since")
        pipe.expire(key, TTL_SECONDS)
        _, since, _ = pipe.execute()
        return float(since)

    def record(self, url: str, *, title: str, live: bool, status: str, now: float,
               etag: str | None = None, last_modified: str | None = None,
               had_title: bool | None = None) -> None:
        fields: dict[str, str] = {"url": url, "title": title,
                                  "verdict": "live" if live else "not_live",
                                  "status": status[:300], "checked_at": repr(now)}
        if etag is not None:
            fields["etag"] = etag[:200]
        if last_modified is not None:
            fields["last_modified"] = last_modified[:100]
        if had_title is not None:
            fields["had_title"] = "1" if had_title else "0"
        key = self.keys.live(url)
        pipe = self.client.pipeline()
        pipe.hset(key, mapping=fields)
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()

    def claim_report(self, url: str) -> bool:
        """True for the first caller only: the editors are told once per post."""
        key = self.keys.live(url)
        return bool(self.client.hsetnx(key, "reported", "1"))

    def index_held(self, rid: str) -> None:
        """Record ``rid`` as waiting for its page (the checker's round reads only these)."""
        self.client.sadd(self.keys.live_held, rid)

    def held_rids(self) -> set[str]:
        return {str(r) for r in self.client.smembers(self.keys.live_held)}

    def unindex(self, rids: list[str]) -> None:
        if rids:
            self.client.srem(self.keys.live_held, *rids)

    def forget(self, url: str) -> None:
        self.client.delete(self.keys.live(url))


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
