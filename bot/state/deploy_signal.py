"""Deploy signals: "the site was just deployed, check the waiting posts now".

Why a seam of its own: the signal arrives at the webhook endpoint (a deploy hook, GitHub's
``page_build`` or ``deployment_status``, a push that was pulled and scanned) and is acted on by
the live checks of posts waiting for their page, possibly in another process.  Redis carries it
both ways a checker may look: the latest signal as a hash (a checker that was busy compares
``seq`` with the last one it acted on) and a pub/sub message (a checker that sleeps wakes at
once).  A lost pub/sub message costs at most one poll interval, never a post.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from .keys import Keys

__all__ = ["DeploySignal", "DeploySignals"]

# KEYS: deploy   ARGV: source  -> seq (server clock for "at")
_SIGNAL = r"""
local t = redis.call('TIME')
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'at', string.format('%d.%06d', t[1], t[2]), 'source', ARGV[1])
return seq
"""


@dataclass(frozen=True, slots=True)
class DeploySignal:
    seq: int
    at: float
    source: str


class DeploySignals:
    """``signal`` from the webhook side, ``latest``/``listen`` from the checkers' side."""

    def __init__(self, client: redis.Redis, namespace: str = "newsbot") -> None:
        self.client = client
        self.keys = Keys(namespace)
        self._signal = client.register_script(_SIGNAL)

    def signal(self, source: str) -> int:
        """Record one deploy signal and wake every listener; returns its sequence number."""
        source = (source or "unknown")[:100]
        seq = int(self._signal(keys=[self.keys.deploy], args=[source]))
        self.client.publish(self.keys.deploy_events, str(seq))
        return seq

    def latest(self) -> DeploySignal | None:
        data = self.client.hgetall(self.keys.deploy)
        if not data:
            return None
        return DeploySignal(int(data.get("seq", 0)), float(data.get("at", 0.0)),
                            str(data.get("source", "")))

    def listen(self) -> redis.client.PubSub:
        """A subscription to the signals (``get_message(timeout=...)`` wakes on each one);
        the caller closes it."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.keys.deploy_events)
        return pubsub
