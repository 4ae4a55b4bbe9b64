"""The Celery app newsbot's processes share, and the one way to hand work to the workers.

Why apart from ``tasks`` (which holds the task bodies): what only *sends* work (the CLI's push,
the editors' bot, the watcher) or configures the app for a process (``bot.wiring``) needs the
app and its broker, not the delivery code the tasks run.  Sends go by task name (``send_task``),
so nothing here imports ``tasks`` and the graph stays one-way: ``tasks`` -> ``bot.wiring`` ->
``bot.broker``.

Why the settings below:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a worker that dies mid-task leaves the
  message to be delivered again; the state machine (not the broker) makes that harmless.
* ``worker_prefetch_multiplier=1``: a worker never sits on messages another worker could run.
* ``visibility_timeout`` 3600 s, far longer than any countdown we use (we use none): future sends
  (dates, rate-limit waits, backoff) live in the state's schedule sorted set, which ``tick`` moves
  onto the queue every second (celery/celery#4766: ETAs beyond the visibility timeout are
  delivered twice).
* No result backend: nothing reads task results, and results would only fill Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import pools

from bot.config import Settings

__all__ = ["DEFAULT_BROKER", "PUBLISH", "REQUEUE", "RESCAN", "SCAN", "TICK", "Configured", "app",
           "configure", "configured", "enqueue_publish", "enqueue_scan", "on_configure",
           "tick_seconds"]

log = logging.getLogger("newsbot.tasks")

PUBLISH = "newsbot.publish"
SCAN = "newsbot.scan"
RESCAN = "newsbot.rescan"
TICK = "newsbot.tick"
REQUEUE = "newsbot.requeue"
TICK_SECONDS = 1.0
MIN_TICK_SECONDS = 0.05
REQUEUE_SECONDS = 15.0
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"

app = Celery("newsbot")
app.conf.update(
    broker_url=DEFAULT_BROKER,
    task_ignore_result=True,
    result_backend=None,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 3600},
    task_serializer="json",
    accept_content=["json"],
    event_serializer="json",
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    worker_send_task_events=False,
    beat_scheduler="celery.beat:Scheduler",
    worker_consumer="tasks.consumer:ResilientConsumer",
)


@dataclass(frozen=True, slots=True)
class Configured:
    """What this process's app was last pointed at: the state lives on the same Redis."""

    settings: Settings
    redis_url: str
    namespace: str = "newsbot"


_lock = threading.Lock()
_current: Configured | None = None
_listeners: list[Callable[[], None]] = []


def on_configure(listener: Callable[[], None]) -> None:
    """``listener()`` runs after every ``configure``: ``tasks`` drops the Services it built for
    the previous settings there (they hold connections to the previous Redis)."""
    _listeners.append(listener)


def configured() -> Configured | None:
    with _lock:
        return _current


def configure(settings: Settings, *, redis_url: str, namespace: str = "newsbot") -> None:
    """Point the app at ``redis_url`` (broker and state) and set the beat schedule."""
    global _current
    with _lock:
        _current = Configured(settings, redis_url, namespace)
    for listener in list(_listeners):
        listener()
    if app.conf.broker_url != redis_url:
        app.conf.broker_url = redis_url
        _drop_broker_pools()
    tick_every = tick_seconds(settings)
    app.conf.beat_schedule = {
        "tick": {"task": TICK, "schedule": tick_every,
                 "options": {"expires": max(tick_every * 3, 1.0)}},
        "requeue": {"task": REQUEUE, "schedule": REQUEUE_SECONDS,
                    "options": {"expires": REQUEUE_SECONDS}},
        "rescan": {"task": RESCAN, "schedule": float(settings.scan_seconds),
                   "options": {"expires": float(settings.scan_seconds)}},
    }


def tick_seconds(settings: Settings) -> float:
    """The tick period: 1 s, shrunk with the rate windows it serves (RATE_TIME_SCALE)."""
    return max(MIN_TICK_SECONDS, TICK_SECONDS * settings.rate_time_scale)


def _drop_broker_pools() -> None:
    """Connections already opened to a previous broker URL must not be reused (Celery caches a
    connection pool and a producer pool on first send).

    Celery takes both from kombu's process-wide registries (``kombu.pools``), keyed by the
    broker's address: closing them without emptying the registries leaves a closed pool there,
    and a later ``configure`` back to that address (tests do this) failed every send with
    "Acquire on closed pool".  ``kombu.pools.reset`` closes and forgets them all.
    """
    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def _send(name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> None:
    """``app.send_task`` that survives a broker pool closed under it.

    Why: a pool closed under Celery's producer pool (``configure`` racing a thread's send,
    such as a lease reaper's round) failed every later send of the process with "Acquire on
    closed pool" (seen in the test suite, where one process is configured many times).
    Dropping the pools and sending once more is safe: nothing was sent.
    """
    try:
        app.send_task(name, args, kwargs)
    except RuntimeError as exc:
        if "closed pool" not in str(exc):
            raise
        log.debug("broker pool was closed under us; opening a new one")
        _drop_broker_pools()
        app.send_task(name, args, kwargs)


def enqueue_publish(record_key: str) -> None:
    """Hand one record to the workers (the state decides whether it is really sent)."""
    _send(PUBLISH, (record_key,))


def enqueue_scan(paths: list[str] | None = None, backfill: int = 0) -> None:
    _send(SCAN, (), {"paths": paths, "backfill": backfill})
