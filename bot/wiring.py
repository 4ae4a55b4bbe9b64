"""The composition root: every newsbot process is put together from its settings here.

``newsbot run``, ``worker``, ``beat``, ``bot``, the Celery tasks and every CLI command that needs
the state build their parts with these functions and nowhere else:

* logging: redacting secrets, one line for a lost connection (``setup_logging``);
* the Redis they share: REDIS_URL, or the embedded server of the data folder, attached to
  when ``newsbot run`` holds it (``connect_redis``);
* the delivery services: state, publishers, notifier, content tools (``open_services``);
* the Celery app pointed at that Redis, and the send the workers listen to
  (``celery_enqueue``);
* the one-line mode a process announces (``describe_mode``).

Why one module: the wiring used to be spread over the CLI, the runner, the tasks and the
editors' bot, which reached into each other (a circle of six modules).  The entry points now
only call this, and this imports nothing above the use cases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.logs import add_secrets, as_one_line, configure_logging
from bot.platforms.registry import build_publishers, is_dry_run, secrets_of, targets

if TYPE_CHECKING:
    from bot.delivery.services import Services
    from bot.metrics import MetricsServer
    from bot.redis_embedded import Attachment

__all__ = ["CHATTY_LOGGERS", "celery_enqueue", "connect_redis", "describe_mode", "open_services",
           "setup_logging", "start_metrics"]

Enqueue = Callable[[str], None]

CHATTY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


def _outage_lines(record: logging.LogRecord) -> logging.LogRecord:
    """While Redis restarts, Celery and kombu log a full traceback for every message they cannot
    ack or fetch; the operator needs one line each (the state machine makes the redelivery
    harmless), and the "embedded Redis died ... restarted" line says the rest.  Applied where
    records are made: the redacting handlers render tracebacks before any filter runs."""
    exc = record.exc_info[1] if record.exc_info else None
    if exc is None or not record.name.startswith(("celery", "kombu")):
        return record
    cause = _connection_cause(exc)
    if cause is None:
        return record
    # beat wraps the error (SchedulingError) and appends the whole call stack to its message
    # ("Message Error: Couldn't apply scheduled task tick: ...\n[' File ...']"): first line only
    return as_one_line(record, f"{type(cause).__name__}: {cause}")


def _connection_cause(exc: BaseException) -> BaseException | None:
    """``exc`` if it is a lost connection, or the lost connection it wraps (beat raises its own
    SchedulingError from it), else None: a real bug keeps its traceback."""
    errors = _connection_errors()
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, errors):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _install_outage_lines() -> None:
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_newsbot_outage", False):
        return

    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        return _outage_lines(factory(*args, **kwargs))

    make._newsbot_outage = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)


def _connection_errors() -> tuple[type[BaseException], ...]:
    # Imported when an exception is logged: kombu is Celery's, which a quick command never loads.
    import redis
    from kombu.exceptions import OperationalError

    return (redis.ConnectionError, redis.TimeoutError, OperationalError, ConnectionError)


def setup_logging(settings: Settings, *, level: str | None = None) -> None:
    """Redacting logging for every process and command: both lists of secrets (the settings'
    own and the platform clients'), one line per lost connection.  ``level`` overrides
    LOG_LEVEL (the CLI commands log only warnings unless ``-v``)."""
    configure_logging(level or settings.log_level,
                      secrets=[*settings.secret_values(), *secrets_of(settings)],
                      json_lines=settings.log_format == "json")
    # A shipper reads one JSON object a line: Python's warnings (Celery's superuser warning,
    # deprecations) become log records instead of raw multi-line text on stderr.
    logging.captureWarnings(settings.log_format == "json")
    _install_outage_lines()
    if (level or settings.log_level) != "DEBUG":
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def describe_mode(settings: Settings) -> str:
    """One line: dry run and where the outbox is, or which platforms are live."""
    # Imported here: the dry-run publisher brings the teaser tools, which every command that
    # sets up logging (``newsbot scan``) would otherwise pay a second or two for.
    from bot.platforms.dryrun import OUTBOX_NAME

    publishers = build_publishers(settings)
    try:
        if is_dry_run(publishers):
            outbox = (settings.data_dir / OUTBOX_NAME).resolve()
            return f"dry run (no platform credentials): teasers go to {outbox}"
        live = ", ".join(f"{p.platform} → {p.destination}" for p in publishers)
        return f"live: {live}"
    finally:
        for p in publishers:
            p.close()



def connect_redis(settings: Settings) -> tuple[str, Attachment | None]:
    """(URL, the command's hold on the embedded server, or None with REDIS_URL).

    With ``newsbot run`` up (or starting, or stopping) the command shares its embedded server;
    with nothing running it starts one for its own duration.  Stop the attachment when done.
    Raises ``EmbeddedRedisUnavailableError`` (one line for the user) when it cannot.
    """
    if settings.redis_url:
        return settings.redis_url, None
    # Imported here: a command with REDIS_URL set never pays for the embedded server's module.
    from bot.redis_embedded import attach_embedded

    attached = attach_embedded(settings.data_dir)
    add_secrets(attached.password)
    return attached.url, attached


def open_services(settings: Settings, redis_url: str, *, namespace: str = "newsbot") -> Services:
    """The delivery services of one process (state, publishers, notifier) on ``redis_url``."""
    # Imported here: `newsbot --help` and the commands that need no state must not load the
    # delivery code (see bot.cli's docstring: every command imports what it needs).
    from bot.delivery.services import Services

    return Services.from_settings(settings, redis_url=redis_url, namespace=namespace)


def celery_enqueue(settings: Settings, redis_url: str) -> Enqueue:
    """A send of newsbot.publish on the broker the workers listen to (the same Redis).

    Celery is imported and the app pointed at ``redis_url`` on the first send only: most
    commands (status, audit) send nothing, and Celery costs a third of a second to import.
    """
    ready: list[Enqueue] = []

    def enqueue(record_key: str) -> None:
        if not ready:
            # Celery costs a third of a second to import: only on the first send.
            from bot import broker

            broker.configure(settings, redis_url=redis_url)
            ready.append(broker.enqueue_publish)
        ready[0](record_key)

    return enqueue


def start_metrics(settings: Settings, redis_url: str | None, role: str, *,
                  namespace: str = "newsbot", queue: bool = True) -> MetricsServer | None:
    """METRICS_LISTEN set: multi-process mode for this process and the children it forks, and
    ``/metrics`` served; with ``queue`` (and a Redis) the queue depth is read at each scrape.
    Returns the server (stop it when the process ends), or None when metrics are off."""
    if not settings.metrics_listen:
        return None
    # Imported here: most commands never serve metrics, and prometheus_client costs an import.
    from bot import metrics

    metrics.enable_multiprocess(metrics.multiprocess_dir(settings.data_dir, role))
    live = [platform for platform, _ in targets(settings)]
    metrics.initialize(live or ["telegram", "x"], x_spend="x" in live)  # none: a dry run of both
    extra = []
    if queue and redis_url:
        from bot.state import State

        state = State.from_url(redis_url, namespace=namespace)
        client = state.client
        extra.append(metrics.QueueCollector(state.counts, lambda: int(client.llen("celery"))))
    try:
        server = metrics.serve(settings.metrics_listen, extra=extra)
    except OSError as exc:  # the port is taken, the address is not this host's
        raise ConfigError(f"METRICS_LISTEN={settings.metrics_listen}: cannot serve metrics "
                          f"there ({exc.strerror or exc})") from None
    logging.getLogger("newsbot.metrics").info(
        "metrics served on http://%s/metrics", settings.metrics_listen)
    return server
