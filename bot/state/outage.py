"""Riding out a Redis restart: one retry loop for every write that must not be lost to one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

__all__ = ["through_outage"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def through_outage(what: str, call: Callable[[], _T], *, seconds: float = 60.0,
                   first_delay: float = 0.25, max_delay: float = 4.0) -> _T:
    """``call()``, again with a growing pause while Redis is unreachable, for up to ``seconds``.

    Why: the embedded server is restarted by its supervisor within a second or two, an operator's
    Redis within a minute; a receipt, a settled attempt or a scan lost to that gap would leave a
    post sent but unrecorded, or unplanned.  Only connection errors are retried (one warning line
    each, no traceback); anything else is the caller's.
    """
    deadline = time.monotonic() + seconds
    delay = first_delay
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("%s: Redis unavailable (%s); trying again in %.2f s", what,
                        type(exc).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
