"""What the sender tells the metrics (``bot.metrics``): one call per attempt's end, per wait.

Why a module of its own: the sender keeps its flow readable with one wrapped call per outcome,
and the mapping from outcome words and errors to metric labels, and the latencies from the post,
live here.  Nothing here raises (``bot.metrics`` swallows its own errors; the file's stat is
guarded).
"""

from __future__ import annotations

import time

from bot.metrics import record_rate_wait, record_retry, record_send
from bot.platforms.base import DeliveryError
from bot.posts import Post
from bot.state import Record

__all__ = ["attempt_ended", "rate_wait"]

#: The sender's outcome words for an attempt that reached the platform -> the metric's label.
_OUTCOMES = {"sent": "sent", "failed": "failed", "in_doubt": "in_doubt", "retry_wait": "retry"}


def _file_time(rec: Record, post: Post) -> float | None:
    """When the file was last written; its detection (the record's creation) if unreadable."""
    try:
        return post.path.stat().st_mtime
    except OSError:
        return rec.created_at


def attempt_ended(rec: Record, post: Post, outcome: str, *,
                  err: DeliveryError | None = None) -> str:
    """Count one attempt that reached the platform; returns ``outcome`` (to wrap a return)."""
    label = _OUTCOMES.get(outcome)
    if label is None:  # the lease was lost meanwhile: the record's next owner counts it
        return outcome
    answered = time.time()
    file_seconds = live_seconds = None
    if label == "sent":
        started = _file_time(rec, post)
        file_seconds = answered - started if started is not None else None
        live_seconds = answered - post.date.timestamp()
    record_send(rec.platform, label, file_seconds=file_seconds, live_seconds=live_seconds)
    if label == "retry":
        limited = err is not None and err.kind == "rate_limited"
        record_retry(rec.platform, "rate_limited" if limited else "transient")
        if limited and err is not None:
            after = float(err.retry_after) if err.retry_after is not None else 60.0
            record_rate_wait(rec.platform, "platform", after)
    return outcome


def rate_wait(bucket_or_platform: str, seconds: float) -> None:
    """Our own limiter holds a send for ``seconds`` (slept in the worker or deferred)."""
    if seconds > 0:
        record_rate_wait(bucket_or_platform.partition(":")[0], "local", seconds)
