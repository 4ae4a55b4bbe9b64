"""The Celery tasks: ``celery -A tasks worker|beat`` and ``newsbot run|worker|beat``.

Thin on purpose: each task calls into ``bot.delivery``.  The app itself, its settings and the
sends live in ``bot.broker``; the parts a task works with are built by ``bot.wiring``.

* Redis restarting (the embedded server restarted by ``newsbot run``, an operator's Redis
  restarted): a scan or a publish task caught by the outage waits for the server and runs again
  (``_through_outage``) instead of failing, since its broker message may be gone with the
  connection; the worker's consumer survives kombu's failures on the lost connection and, back
  on the broker, queues a full scan and hands every queued record over again, for the messages
  it had taken when the connection died (``tasks.consumer``).
* Lost leases are settled twice over: by the ``tick`` task and by ``LeaseReaper``, a thread of
  the process that runs the schedule.  The task waits in the queue behind every publish, so
  during a backlog a killed worker's send would wait for the backlog; the thread does not.

Configuration comes from ``load_settings()`` at import (so plain ``celery -A tasks`` works with
REDIS_URL in the environment or ``.env``), or from ``configure(settings, redis_url=...)``, which
``newsbot run`` calls after starting the embedded server.  Importing never connects to Redis.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from celery import signals

from bot.broker import (
    DEFAULT_BROKER,
    PUBLISH,
    REQUEUE,
    RESCAN,
    SCAN,
    TICK,
    app,
    configure,
    configured,
    enqueue_publish,
    enqueue_scan,
    on_configure,
    tick_seconds,
)
from bot.config import ConfigError, load_settings
from bot.delivery.budget import release_budget_waits
from bot.delivery.corrections import STALE_GRACE_SECONDS
from bot.delivery.leases import new_owner, reap_lost_leases
from bot.delivery.pacing import release_paced
from bot.delivery.pins import run_due_unpins
from bot.delivery.planner import scan as run_scan
from bot.delivery.quiet import record_is_breaking
from bot.delivery.sender import deliver
from bot.delivery.sender import notify_in_doubt as notify
from bot.delivery.services import PUSH_ANYWAY
from bot.delivery.x_doubt import DoubtRechecker
from bot.logs import log_event
from bot.metrics import mark_process_dead
from bot.state.outage import through_outage
from bot.wiring import open_services, setup_logging

__all__ = ["PUBLISH", "REQUEUE", "RESCAN", "SCAN", "TICK", "LeaseReaper", "app", "configure",
           "enqueue_publish", "enqueue_scan", "get_services", "notify_in_doubt",
           "settle_lost_leases", "tick_seconds"]

log = logging.getLogger("newsbot.tasks")

REQUEUE_AFTER = 30.0
#: How long a task caught by a Redis outage waits for the server (the embedded one is back in
#: about a second; a restarted Redis loading its AOF may take longer).
OUTAGE_WAIT_SECONDS = 60.0

_T = TypeVar("_T")

_lock = threading.Lock()
_services: Any = None  # bot.delivery.services.Services, built lazily once per process
_services_pid: int | None = None


def _forget_services() -> None:
    """The app was pointed elsewhere: the Services built for the old settings go."""
    global _services
    with _lock:
        old, _services = _services, None
    if old is not None:
        old.close()


on_configure(_forget_services)


def _configure_from_environment() -> None:
    try:
        settings = load_settings()
    except ConfigError as exc:  # importable anyway; the worker fails on its first task instead
        log.warning("newsbot settings are invalid: %s", exc)
        return
    configure(settings, redis_url=settings.redis_url or DEFAULT_BROKER)


def get_services() -> Any:
    """This process's Services (built on first use; rebuilt in a forked child)."""
    global _services, _services_pid
    with _lock:
        if _services is not None and _services_pid == os.getpid():
            return _services
        current = configured()
        if current is None:
            raise ConfigError("newsbot tasks are not configured (no settings)")
        _services = open_services(current.settings, current.redis_url,
                                  namespace=current.namespace)
        _services_pid = os.getpid()
        return _services


def _through_outage(what: str, call: Callable[[], _T], *,
                    wait: float = OUTAGE_WAIT_SECONDS) -> _T:
    """``call()``, run again when Redis is unreachable, until it is back or ``wait`` passed.

    Why: a task cut off by a Redis restart cannot count on its broker message (the ack and the
    restore of unacknowledged messages fail with the connection, so the message only comes back
    after the visibility timeout, an hour).  A scan lost that way left a new post unplanned until
    the periodic rescan; a publish left its record queued until the requeue safety net.  Both
    are safe to repeat: the state machine plans and sends each record once.
    """
    return through_outage(what, call, seconds=wait)


@app.task(name=PUBLISH, bind=True, acks_late=True)
def publish(self: Any, record_key: str) -> str:
    # Unique per attempt, even when the broker redelivers the same task id; names this process
    # so the tick can tell when the holder of a lease is gone.
    owner = new_owner(self.request.id or "direct")
    return _through_outage(f"publish {record_key}",
                           lambda: deliver(get_services(), record_key, owner=owner))


_site_sync: Any = None  # bot.delivery.site_sync.SiteSync for SITE_GIT_URL, built on first use
_site_sync_for: Any = None


def pull_site() -> Any:
    """Pull the site from Git (SITE_GIT_URL) before a full scan; None for a site on disk.

    Never raises for git's own failures (the editors are told, the last checkout is scanned).
    """
    global _site_sync, _site_sync_for
    current = configured()
    if current is None or not current.settings.site_git_url:
        return None
    with _lock:
        if _site_sync is None or _site_sync_for is not current:
            import redis

            from bot.delivery.site_sync import SiteSync

            client = redis.Redis.from_url(current.redis_url, decode_responses=True,
                                          socket_timeout=30)
            _site_sync = SiteSync.from_settings(current.settings, client,
                                                namespace=current.namespace)
            _site_sync_for = current
        sync = _site_sync
    if sync is None:
        return None
    result = sync.sync()
    if result.outcome in ("changed", "force_push"):
        # new content is on its way to the site: the live checks of waiting posts look now
        try:
            from bot.state.deploy_signal import DeploySignals

            DeploySignals(sync.problems.client, current.namespace).signal("push")
        except Exception as exc:  # Redis away: the checks poll anyway
            log.debug("deploy signal after a pull not sent: %s", type(exc).__name__)
    return result


@app.task(name=SCAN)
def scan(paths: list[str] | None = None, backfill: int = 0) -> dict[str, Any]:
    if not paths:
        pull_site()  # a full scan reads the site as the remote has it now

    def once() -> dict[str, Any]:
        report = run_scan(get_services(), paths=[Path(p) for p in paths] if paths else None,
                          backfill=int(backfill or 0), enqueue=enqueue_publish)
        return report.to_json()

    return _through_outage("scan", once)


@app.task(name=RESCAN)
def rescan() -> dict[str, Any]:
    """The safety-net scan; also re-offers approval previews that never reached the editors."""
    report = scan(None, 0)
    report["approval_reminders"] = get_services().remind_approvals()
    return report


@app.task(name=TICK)
def tick() -> dict[str, int]:
    """Due schedule entries onto the queue, lost leases settled, a heartbeat."""
    svc = get_services()
    state = svc.state
    promoted = state.promote_due()
    # Breaking posts first: the queue is FIFO, so what is handed over first is sent first.
    for rec in sorted(promoted, key=lambda r: not record_is_breaking(r)):
        enqueue_publish(rec.key)
    # Corrections nobody took (a lost task, a worker that died mid-edit): hand them over again.
    stale_edits = state.edits.stale(grace=STALE_GRACE_SECONDS)
    for key in stale_edits:
        enqueue_publish(key)
    # X posts waiting for budget, in order, once a raised budget or a new day/month has room.
    budget = release_budget_waits(svc, enqueue_publish)
    # Paced backlogs (MAX_PER_HOUR, MIN_SPACING_SECONDS): the next in BACKLOG_ORDER, when free.
    paced = release_paced(svc, enqueue_publish)
    settled = settle_lost_leases()
    # Breaking pins whose PIN_HOURS ran out (a durable schedule in Redis: bot.state.pins);
    # each unpin is logged there.
    run_due_unpins(svc)
    state.heartbeat(_worker_name())
    return {"promoted": len(promoted), "edits": len(stale_edits), "budget": budget,
            "paced": paced["released"], "paced_stale": paced["skipped"], **settled}


def settle_lost_leases() -> dict[str, int]:
    """Leases whose holder is gone (known dead, silent, or expired), settled now: queued again
    before the fence, ``in_doubt`` (the editors told) or retried past it.  Run by the tick and,
    outside the queue, by the process that runs the schedule (``LeaseReaper``)."""
    svc = get_services()
    state = svc.state
    lost = reap_lost_leases(state) + state.expire_leases()
    doubted = []
    for rec in lost:
        log_event(log, "state_change", post=rec.post, platform=rec.platform,
                  destination=rec.destination, old="sending", new=rec.state,
                  attempt=rec.attempts, reason=rec.reason, receipt=None)
        if rec.state == "queued":
            enqueue_publish(rec.key)
        elif rec.state == "in_doubt":
            doubted.append(rec)
    if doubted:
        notify_in_doubt(svc, doubted)
    return {"in_doubt": len(doubted), "lost": len(lost)}


class LeaseReaper:
    """Settles lost leases every tick period in a thread of the process that runs the schedule
    (``newsbot beat``, and ``newsbot run``'s own), never through the broker.

    Why: the ``tick`` task waits in the same queue as the publish tasks.  During a backlog every
    worker thread is busy sending and the ticks queue up behind hundreds of publishes and
    expire, so a send whose worker was killed stayed ``sending`` (and its editors uninformed)
    until the backlog drained: 30 s and more in the crash proof, where the README promises a
    few seconds.  This loop needs nothing but Redis; settling is atomic, so running it beside
    the tick task never settles a lease twice.
    """

    def __init__(self, every: float) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseReaper:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lease-reaper", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        rechecker = DoubtRechecker()  # X doubts held for an unreadable account (x_doubt.py)
        while not self._stop.wait(self.every):
            try:
                settle_lost_leases()
            except Exception as exc:  # Redis restarting: the next round tries again
                log.debug("lease reaper round failed: %s", type(exc).__name__)
            try:
                for rec in rechecker.run(get_services()):
                    enqueue_publish(rec.key)
            except Exception as exc:
                log.debug("in-doubt re-check round failed: %s", type(exc).__name__)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None


def notify_in_doubt(svc: Any, records: list[Any]) -> None:
    """One notice per record that just became in_doubt (see ``bot.delivery.sender``)."""
    notify(svc, records)


@app.task(name=REQUEUE)
def requeue(older_than: float = REQUEUE_AFTER, after_outage: bool = False) -> int:
    """Safety net: a queued record whose broker message was lost is handed over again.

    Sending twice is impossible (the state machine refuses the second lease), so this may be
    generous; while paused only an editor's confirmed push ([Push anyway]) is sent, and resume
    re-queues the rest by itself.  ``after_outage`` (a worker back from a lost broker
    connection, ``tasks.consumer``): messages taken before the outage are lost whatever the
    queue holds, so every queued record is handed over now rather than 30-45 s later.
    """
    svc = get_services()
    state = svc.state
    paused = state.is_paused()
    # Messages still waiting in the broker (same Redis in every newsbot deployment) mean the
    # workers are behind, not that a message was lost: adding more would only pile up.
    if not after_outage and state.client.llen(app.conf.task_default_queue or "celery"):
        return 0
    limit = state.now() - older_than
    count = 0
    for rec in state.records(state="queued"):
        if paused and not rec.extra.get(PUSH_ANYWAY):
            continue
        if (rec.updated_at or 0.0) < limit:
            enqueue_publish(rec.key)
            count += 1
    return count


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    """Celery's own logging setup is replaced by ours (connecting here tells Celery to skip
    it), so plain `celery -A tasks worker` also redacts secrets and quiets the HTTP loggers."""
    current = configured()
    if current is not None:
        setup_logging(current.settings)


@signals.worker_process_shutdown.connect
def _metrics_child_exit(**_: Any) -> None:
    """A prefork child ends: its live gauges leave the served sums (multi-process mode)."""
    mark_process_dead(os.getpid())


@signals.worker_shutdown.connect
def _close_services(**_: Any) -> None:
    global _services
    with _lock:
        svc, _services = _services, None
    if svc is not None:
        try:
            svc.state.forget_heartbeat(_worker_name())
        except Exception as exc:
            log.debug("heartbeat cleanup failed: %s", type(exc).__name__)
        svc.close()


_configure_from_environment()
