"""The long-running processes: `newsbot run` (everything in one process), `worker`, `beat`.

Why one process for `run`: the quick start and small sites need one command and little memory, so
the Celery worker (threads pool), the beat scheduler (a thread) and the file watcher share one
Python process next to the embedded Redis.  Celery's worker owns the signals: SIGINT/SIGTERM start
a warm shutdown (running sends finish), then the beat thread, the watcher and the embedded Redis
are stopped in that order, so a restart carries on from the same state and queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from celery import signals
from celery.beat import EmbeddedService

import tasks
from bot import broker
from bot.config import ConfigError, Settings
from bot.editor.app import BotRejectedError, BotThread, run_bot
from bot.logs import add_secrets
from bot.redis_embedded import resolve_redis_url
from bot.state.health import Heartbeat
from bot.watcher import PostWatcher
from bot.wiring import (
    celery_enqueue,
    connect_redis,
    describe_mode,
    open_services,
    setup_logging,
    start_metrics,
)

__all__ = ["run_all", "run_beat", "run_bot_process", "run_worker"]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
# A short command (`newsbot status` ...) that started the embedded Redis because nothing ran it
# holds it for a second or two: `newsbot run` waits for it rather than failing.
STARTUP_WAIT_SECONDS = 60.0
EXIT_LOST_STATE = 3
LOST_STATE_GRACE_SECONDS = 10.0


@dataclass
class _Parts:
    watcher: PostWatcher | None = None
    beat: object | None = None
    editor: object | None = None
    services: object | None = None
    reaper: object | None = None
    metrics: object | None = None
    health: object | None = None  # tasks.health_checks.HealthChecker (HEALTH_SECONDS > 0)
    webhooks: object | None = None  # bot.webhook.WebhookServer (WEBHOOK_LISTEN)
    live: object | None = None  # tasks.live_checks.LiveChecker (WAIT_FOR_LIVE)


def _start_watcher(settings: Settings) -> PostWatcher | None:
    if not settings.watch:
        return None

    def hand_over(paths: list[str]) -> None:
        tasks.enqueue_scan(paths)

    return PostWatcher(settings.site_dir, hand_over).start()


def _start_webhooks(settings: Settings, url: str) -> object | None:
    """The webhook endpoint (WEBHOOK_LISTEN) in the process that runs the schedule: a push
    queues a full scan (which pulls the site first, ``tasks.pull_site``); a deploy event is a
    deploy signal in Redis for the live checks (``bot.state.deploy_signal``)."""
    if not settings.webhook_listen or settings.webhook_secret is None:
        return None
    import redis

    from bot.state.deploy_signal import DeploySignals
    from bot.webhook import WebhookServer

    current = broker.configured()
    namespace = current.namespace if current is not None else "newsbot"
    signals_ = DeploySignals(redis.Redis.from_url(url, decode_responses=True, socket_timeout=10),
                             namespace)

    def on_push(source: str) -> None:
        log.info("webhook: %s; pulling and scanning", source)
        tasks.enqueue_scan()

    def on_deploy(source: str) -> None:
        log.info("webhook: %s; deploy signal %d", source, signals_.signal(source))

    return WebhookServer(settings.webhook_listen, settings.webhook_secret.get_secret_value(),
                         on_push=on_push, on_deploy=on_deploy,
                         branch=settings.site_git_branch).start()


def _worker(settings: Settings, *, hostname: str, concurrency: int, pool: str) -> object:

    return tasks.app.Worker(
        hostname=hostname,
        pool_cls=pool,
        concurrency=concurrency,
        loglevel=settings.log_level,
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
        task_events=False,
        quiet=True,
    )


class _Stopped(BaseException):
    """SIGTERM before Celery's worker owns the signals (starting up): unwind and stop cleanly,
    the embedded server included (it runs in a session of its own and would outlive us)."""


def _stop_on_sigterm() -> None:
    """SIGINT too, set here rather than left to Python: a shell that starts `newsbot run` in the
    background hands it SIGINT ignored, Python then installs no KeyboardInterrupt, and a Ctrl-C
    (or the process group's SIGINT) was lost until Celery's worker took the signals over (the
    suite, run from such a shell, saw `run` become ready after one)."""
    def handler(signum: int, frame: object) -> None:
        raise _Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


class _WorkerWatch:
    """What the worker's life tells the rest of the process, through Celery's signals.

    * the signal that started its shutdown: a stop asked for by Ctrl-C or SIGTERM is a clean
      end (exit 0), whatever exit code Celery gives its warm shutdown;
    * health beats (``bot.health``) for ``roles``, started once the worker is ready;
    * ``on_stop``, called as the shutdown starts (the editors' bot stops beside the warm
      shutdown rather than after it).

    ``close()`` stops the beats (a stopped process is unhealthy at once) and disconnects.
    """

    def __init__(self, url: str, roles: tuple[str, ...],
                 on_stop: Callable[[], None] | None = None) -> None:

        self.signal: str | None = None
        self._on_stop = on_stop
        self._beats = [Heartbeat.for_url(url, role) for role in roles]
        signals.worker_shutting_down.connect(self._shutting_down, weak=False)
        signals.worker_ready.connect(self._ready, weak=False)

    def _shutting_down(self, sig: str = "", **_: object) -> None:
        self.signal = sig or "signal"
        if self._on_stop is not None:
            with contextlib.suppress(Exception):
                self._on_stop()

    def _ready(self, **_: object) -> None:
        for beat in self._beats:
            beat.start()

    def close(self) -> None:
        signals.worker_shutting_down.disconnect(self._shutting_down)
        signals.worker_ready.disconnect(self._ready)
        for beat in self._beats:
            with contextlib.suppress(Exception):
                beat.stop()


def run_all(
    settings: Settings,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    announce: Callable[[str], None] = print,
) -> int:
    """`newsbot run`: embedded Redis (when REDIS_URL is unset), worker, beat, watcher.

    Stopping (Ctrl-C, SIGTERM): the worker finishes the sends under way, then the editors'
    bot, the schedule and the watcher stop, the embedded server last (it has a session of its
    own, so Ctrl-C in the terminal never reaches it first), and "newsbot stopped" is the last
    line.
    """
    setup_logging(settings)
    _stop_on_sigterm()
    try:
        return _run_all(settings, concurrency=concurrency, announce=announce)
    except (_Stopped, KeyboardInterrupt):  # stopped while starting up
        return 0
    finally:
        announce("newsbot stopped")


def _run_all(settings: Settings, *, concurrency: int, announce: Callable[[str], None]) -> int:

    mode = describe_mode(settings)  # fails early on half a configuration
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url, embedded = resolve_redis_url(settings.redis_url, settings.data_dir, role="run",
                                      wait=STARTUP_WAIT_SECONDS, announce=announce)
    parts = _Parts()
    lost_state = threading.Event()
    watch: _WorkerWatch | None = None
    if embedded is not None:
        add_secrets(embedded.password)

        def give_up(line: str) -> None:
            # Running on without the state would publish nothing: stop, and say why.  A warm
            # shutdown is tried first; parts still retrying a server that is gone cannot finish
            # one, so the process ends anyway after a grace period.
            announce(f"newsbot: {line}")
            lost_state.set()
            os.kill(os.getpid(), signal.SIGTERM)
            hard = threading.Timer(LOST_STATE_GRACE_SECONDS, os._exit, (EXIT_LOST_STATE,))
            hard.daemon = True
            hard.start()

        embedded.supervise(on_restart=lambda line: announce(f"newsbot: {line}"),
                           on_give_up=give_up)
    try:
        parts.metrics = start_metrics(settings, url, "run")
        tasks.configure(settings, redis_url=url)
        where = f"embedded Redis in {embedded.directory}" if embedded else f"Redis {_safe(url)}"
        announce(f"newsbot: {mode}; state in {where}; site {Path(settings.site_dir).resolve()}")
        tasks.enqueue_scan()  # catch up with whatever changed while we were stopped
        parts.reaper = tasks.LeaseReaper(tasks.tick_seconds(settings)).start()
        parts.health = _start_health_checks(settings)
        parts.live = _start_live_checks()
        beat = EmbeddedService(tasks.app, thread=True, scheduler_cls="celery.beat:Scheduler")
        beat.start()
        parts.beat = beat
        parts.watcher = _start_watcher(settings)
        parts.webhooks = _start_webhooks(settings, url)
        _start_editor_bot(settings, url, parts, announce)
        editor = parts.editor
        watch = _WorkerWatch(url, ("worker", "beat"),
                             on_stop=editor.request_stop if editor is not None else None)
        worker = _worker(settings, hostname=f"newsbot-run@{socket.gethostname()}",
                         concurrency=concurrency, pool="threads")
        try:
            worker.start()  # type: ignore[attr-defined]  (blocks until a signal stops it)
        except Exception:
            if not lost_state.is_set():
                raise
            # parts of Celery fail their own shutdown once the server is gone: the reason
            # was announced, the exit status says it
        code = int(getattr(worker, "exitcode", 0) or 0)
        if lost_state.is_set():
            return EXIT_LOST_STATE
        return 0 if watch.signal else code
    finally:
        try:
            if watch is not None:
                watch.close()
            _stop(parts)
            if embedded is not None:
                embedded.stop()
        except Exception:
            if not lost_state.is_set():
                raise


def run_worker(settings: Settings, *, concurrency: int = DEFAULT_CONCURRENCY,
               pool: str = "threads", announce: Callable[[str], None] | None = None) -> int:
    """`newsbot worker`: publish and scan tasks only; scale by running more of them."""
    setup_logging(settings)

    url = _require_redis(settings)
    tasks.configure(settings, redis_url=url)
    server = start_metrics(settings, url, "worker")  # before the pool forks its children
    watch = _WorkerWatch(url, ("worker",))
    try:
        worker = _worker(settings, hostname=f"newsbot-worker@{socket.gethostname()}",
                         concurrency=concurrency, pool=pool)
        worker.start()  # type: ignore[attr-defined]
        code = int(getattr(worker, "exitcode", 0) or 0)
        return 0 if watch.signal else code
    finally:
        watch.close()
        if server is not None:
            server.stop()
        (announce or _stderr)("newsbot stopped")


def run_beat(settings: Settings, announce: Callable[[str], None] | None = None) -> int:
    """`newsbot beat`: the schedule (tick, requeue, rescan), the lease reaper (settles a dead
    worker's sends within a tick even while every worker is busy) and the file watcher; run
    exactly one per deployment (two would only double the ticks, never the sends)."""
    setup_logging(settings)

    url = _require_redis(settings)
    tasks.configure(settings, redis_url=url)
    server = start_metrics(settings, url, "beat")  # a taken port: refused before anything runs
    parts = _Parts(watcher=_start_watcher(settings), metrics=server)
    health = Heartbeat.for_url(url, "beat")
    try:
        parts.reaper = tasks.LeaseReaper(tasks.tick_seconds(settings)).start()
        parts.health = _start_health_checks(settings)
        parts.webhooks = _start_webhooks(settings, url)
        parts.live = _start_live_checks()
        tasks.enqueue_scan()
        health.start()
        tasks.app.Beat(scheduler="celery.beat:Scheduler", loglevel=settings.log_level,
                       quiet=True).run()
    finally:
        health.stop()
        _stop(parts)
        (announce or _stderr)("newsbot stopped")
    return 0


def _require_redis(settings: Settings) -> str:
    if not settings.redis_url:
        raise ConfigError(
            "REDIS_URL is required for `newsbot worker` and `newsbot beat` (split deployments "
            "share one Redis); use `newsbot run` for the embedded one"
        )
    return settings.redis_url


def _start_editor_bot(
    settings: Settings, url: str, parts: _Parts, announce: Callable[[str], None]
) -> None:
    """The editors' bot runs beside the worker when a bot token is set (it alone long-polls).

    It says it is up only once Telegram answered ``getMe``; a rejected token or an unreachable
    API is one line, and publishing goes on without the bot."""
    if settings.telegram_bot_token is None:
        return

    ids = settings.telegram_editor_ids
    who = ", ".join(str(i) for i in ids) or "nobody yet (set TELEGRAM_EDITOR_IDS)"

    def report(kind: str, line: str) -> None:
        if kind == "up":
            line = f"{line}; editors: {who}"
        elif kind == "stopped":
            line = f"{line}; publishing goes on"
        announce(f"newsbot: {line}")

    services = open_services(settings, url)
    parts.services = services
    # the worker's app is configured for ``url`` already: the bot's pushes go to its queue
    bot = BotThread(settings, services, enqueue=broker.enqueue_publish, report=report)
    bot.start()
    parts.editor = bot


def _start_health_checks(settings: Settings) -> object | None:
    """Connection health of every destination, at once and every HEALTH_SECONDS (a thread of
    the process that runs the schedule, as the lease reaper)."""
    from tasks.health_checks import HealthChecker

    return HealthChecker(settings.health_seconds).start()


def _start_live_checks() -> object | None:
    """Posts waiting for their pages, looked at every LIVE_POLL_SECONDS and on each deploy
    signal (a thread of the process that runs the schedule); None when WAIT_FOR_LIVE is off."""
    from tasks.live_checks import LiveChecker

    return LiveChecker().start()


def _stop(parts: _Parts) -> None:
    if parts.reaper is not None:
        parts.reaper.stop()  # type: ignore[attr-defined]
    if parts.live is not None:
        parts.live.stop()  # type: ignore[attr-defined]
    if parts.health is not None:
        parts.health.stop()  # type: ignore[attr-defined]
    if parts.editor is not None:
        parts.editor.stop()  # type: ignore[attr-defined]
    if parts.services is not None:
        parts.services.close()  # type: ignore[attr-defined]
    if parts.webhooks is not None:
        parts.webhooks.stop()  # type: ignore[attr-defined]
    if parts.watcher is not None:
        parts.watcher.stop()
    if parts.beat is not None:
        parts.beat.stop()  # type: ignore[attr-defined]
    if parts.metrics is not None:
        parts.metrics.stop()  # type: ignore[attr-defined]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _safe(url: str) -> str:
    """A Redis URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def run_bot_process(settings: Settings, announce: Callable[[str], None] | None = None) -> None:
    """``newsbot bot``: connect to Redis (as the ops commands do), then serve until signalled;
    ``announce`` hears each state line ("newsbot: editors' bot is up as @name")."""
    say = announce or (lambda line: print(line, file=sys.stderr, flush=True))
    url, embedded = connect_redis(settings)
    services = open_services(settings, url)
    server = None
    try:
        server = start_metrics(settings, url, "bot", queue=False)
        run_bot(settings, services, enqueue=celery_enqueue(settings, url),
                report=lambda kind, line: say(f"newsbot: {line}"))
        say("newsbot stopped")
    except BotRejectedError as exc:
        raise ConfigError(str(exc).removeprefix("editors' bot stopped: ")) from None
    finally:
        if server is not None:
            server.stop()
        services.close()
        if embedded is not None:
            embedded.stop()
