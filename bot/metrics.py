"""Prometheus metrics: what newsbot did, counted where it happens, served on METRICS_LISTEN.

Why a module of plain functions at the bottom of the layers (beside ``bot.logs``): the sender,
the X ledger and the health checks record from wherever they run (a Celery prefork child, a
thread of ``newsbot run``, the editors' bot) without being handed an object, and recording must
never fail a send; every function here swallows its own errors.

Why multi-process mode: Celery's prefork pool sends from forked children, each with its own
memory, and the process that serves ``/metrics`` would see none of their counts.  With
``PROMETHEUS_MULTIPROC_DIR`` every process writes its values to mmapped files in one folder and
the serving process sums them (``prometheus_client.multiprocess``).  The folder is per serving
process (``<DATA_DIR>/metrics/<role>-<host>-<pid>``, its children included), cleaned at start,
so two deployments sharing a data volume never mix or wipe each other's counts.  Folders of
processes that are gone are removed at the next start: this host's when their pid is gone, any
host's (a Compose volume shared by containers) when their keepalive file is an hour old.

Metric children are created lazily (every metric has labels), so switching the value class to
the mmapped one at start (`enable_multiprocess`) applies to every value recorded afterwards.
Without METRICS_LISTEN the metrics stay in memory, unserved, and cost a dictionary lookup.

The queue depth is not recorded but computed at scrape time by `QueueCollector` from Redis
(one SCARD per state, pipelined), so it is right whichever process changed the records.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.processes import pid_alive

__all__ = [
    "LATENCY_BUCKETS",
    "REGISTRY",
    "MetricsServer",
    "QueueCollector",
    "enable_multiprocess",
    "initialize",
    "mark_process_dead",
    "multiprocess_dir",
    "parse_listen",
    "record_rate_wait",
    "record_retry",
    "record_send",
    "record_x_spend",
    "serve",
    "set_destination_health",
]

log = logging.getLogger(__name__)

ENV_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds, from a second (a post sent at once) to two days (MAX_AGE_HOURS' default).
LATENCY_BUCKETS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                          3600.0, 3 * 3600.0, 12 * 3600.0, 48 * 3600.0)
#: What a send attempt that reached the platform can end as (the sender's outcome words).
SEND_OUTCOMES: Final = ("sent", "failed", "in_doubt", "retry")

#: The registry the metrics below live in; what a process without multi-process mode serves.
REGISTRY: Final = CollectorRegistry(auto_describe=True)

SENDS: Final = Counter(
    "newsbot_sends", "Send attempts that reached a platform, by how they ended "
    "(sent, failed, in_doubt, retry).", ["platform", "outcome"], registry=REGISTRY)
FILE_TO_SEND: Final = Histogram(
    "newsbot_file_to_send_seconds", "From the post file's modification (or its detection when "
    "the file cannot be read) to the platform's answer, for each sent teaser.",
    ["platform"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
LIVE_TO_SEND: Final = Histogram(
    "newsbot_live_to_send_seconds", "From the post's date (when it went live on the site) to "
    "the platform's answer, for each sent teaser.", ["platform"], buckets=LATENCY_BUCKETS,
    registry=REGISTRY)
RETRIES: Final = Counter(
    "newsbot_retries", "Sends put back to retry_wait, by cause (transient, rate_limited).",
    ["platform", "reason"], registry=REGISTRY)
RATE_WAITS: Final = Counter(
    "newsbot_rate_limit_waits", "Times a send waited for a rate limit: source=local (our own "
    "limiter held it) or platform (a 429 with retry-after).", ["platform", "source"],
    registry=REGISTRY)
RATE_WAIT_SECONDS: Final = Counter(
    "newsbot_rate_limit_wait_seconds", "Seconds of those waits (as announced when each began).",
    ["platform", "source"], registry=REGISTRY)
X_SPEND: Final = Counter(
    "newsbot_x_spend_usd", "US dollars spent on X's pay-per-use API, by kind of call.",
    ["kind"], registry=REGISTRY)
X_CALLS: Final = Counter(
    "newsbot_x_billable_calls", "Billable X API calls, by kind.", ["kind"], registry=REGISTRY)
HEALTH: Final = Gauge(
    "newsbot_destination_healthy", "1 while the last connection check of a destination passed, "
    "0 after it failed.", ["platform", "destination"], multiprocess_mode="mostrecent",
    registry=REGISTRY)


def _safely(call: Callable[[], object]) -> None:
    """Recording is bookkeeping: a metric must never break the send it describes."""
    try:
        call()
    except Exception as exc:
        log.debug("metric not recorded (%s: %s)", type(exc).__name__, exc)


# --- recording ------------------------------------------------------------------------------


def record_send(platform: str, outcome: str, *, file_seconds: float | None = None,
                live_seconds: float | None = None) -> None:
    """One attempt that reached ``platform`` ended as ``outcome`` (one of SEND_OUTCOMES); a
    sent one also gives its latencies (negative values, a clock skew, count as 0)."""
    def do() -> None:
        SENDS.labels(platform, outcome).inc()
        if outcome != "sent":
            return
        if file_seconds is not None:
            FILE_TO_SEND.labels(platform).observe(max(0.0, file_seconds))
        if live_seconds is not None:
            LIVE_TO_SEND.labels(platform).observe(max(0.0, live_seconds))
    _safely(do)


def record_retry(platform: str, reason: str) -> None:
    """A send goes back to retry_wait (``reason``: transient or rate_limited)."""
    _safely(lambda: RETRIES.labels(platform, reason).inc())


def record_rate_wait(platform: str, source: str, seconds: float) -> None:
    """A send waits ``seconds`` for a rate limit (``source``: local or platform)."""
    def do() -> None:
        RATE_WAITS.labels(platform, source).inc()
        RATE_WAIT_SECONDS.labels(platform, source).inc(max(0.0, seconds))
    _safely(do)


def record_x_spend(kind: str, usd: float) -> None:
    """One billable X call of ``kind`` (post, post_url, media, delete, read) cost ``usd``."""
    def do() -> None:
        X_CALLS.labels(kind).inc()
        X_SPEND.labels(kind).inc(max(0.0, usd))
    _safely(do)


def set_destination_health(platform: str, destination: str, ok: bool) -> None:
    """The result of the latest connection check of one destination."""
    _safely(lambda: HEALTH.labels(platform, destination).set(1.0 if ok else 0.0))


#: The kinds of billable X calls (issue 12's price table): their spend series start at 0.
X_SPEND_KINDS: Final = ("post", "post_url", "media", "delete", "read")


def initialize(platforms: Iterable[str], *, x_spend: bool = False) -> None:
    """Create every known series at 0 for ``platforms``: a counter that has not moved yet is
    then a 0 in the scrape, not a missing series (``rate()`` and alerts need it from the start;
    in multi-process mode a series nobody recorded is not served at all)."""
    def do() -> None:
        for platform in platforms:
            for outcome in SEND_OUTCOMES:
                SENDS.labels(platform, outcome)
            FILE_TO_SEND.labels(platform)
            LIVE_TO_SEND.labels(platform)
            for reason in ("transient", "rate_limited"):
                RETRIES.labels(platform, reason)
            for source in ("local", "platform"):
                RATE_WAITS.labels(platform, source)
                RATE_WAIT_SECONDS.labels(platform, source)
        if x_spend:
            for kind in X_SPEND_KINDS:
                X_SPEND.labels(kind)
                X_CALLS.labels(kind)
    _safely(do)


# --- queue depth, computed at scrape time ---------------------------------------------------


class QueueCollector(Collector):
    """``newsbot_queue_depth{state}``: delivery records in each state, read when scraped.

    ``counts`` is cheap by contract (``State.counts``: one SCARD per state); ``broker_length``
    (LLEN of the Celery queue) shows publish tasks not yet taken by a worker.  Redis down: the
    families are left out of that scrape (an absent series, not a wrong zero)."""

    def __init__(self, counts: Callable[[], dict[str, int]],
                 broker_length: Callable[[], int] | None = None) -> None:
        self._counts = counts
        self._broker_length = broker_length

    def describe(self) -> Iterable[Metric]:
        return []  # computed per scrape; no fixed description needed at registration

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self._counts()
        except Exception as exc:
            log.debug("queue depth unavailable (%s)", type(exc).__name__)
        else:
            depth = GaugeMetricFamily("newsbot_queue_depth",
                                      "Delivery records in each state (read from Redis).",
                                      labels=["state"])
            for state, n in counts.items():
                depth.add_metric([state], float(n))
            yield depth
        if self._broker_length is None:
            return
        try:
            length = self._broker_length()
        except Exception as exc:
            log.debug("broker queue length unavailable (%s)", type(exc).__name__)
            return
        yield GaugeMetricFamily("newsbot_broker_queue_length",
                                "Publish and scan tasks waiting in the Celery queue.",
                                value=float(length))


# --- multi-process mode and serving ---------------------------------------------------------


def multiprocess_dir(data_dir: Path, role: str) -> Path:
    """This serving process's folder: ``<data_dir>/metrics/<role>-<host>-<pid>``."""
    return Path(data_dir) / "metrics" / f"{role}-{socket.gethostname()}-{os.getpid()}"


#: A serving process touches ``ALIVE_FILE`` in its folder this often ...
KEEPALIVE_SECONDS: Final = 60.0
#: ... so a folder whose file is older than this belongs to a process that is gone (another
#: host's or container's too: a shared data volume collects them).
STALE_AFTER_SECONDS: Final = 3600.0
ALIVE_FILE: Final = "alive"


def _clean_stale(parent: Path, keep: Path, *, now: float | None = None) -> None:
    """Remove ``keep`` (this process starts from zero) and the folders of gone processes: of
    this host when their pid is gone, of any host when their keepalive is stale."""
    host = socket.gethostname()
    current = time.time() if now is None else now
    for entry in parent.iterdir() if parent.is_dir() else ():
        if not entry.is_dir():
            continue
        if entry == keep:
            shutil.rmtree(entry, ignore_errors=True)
            continue
        rest, _, pid = entry.name.rpartition("-")
        dead = rest.endswith(f"-{host}") and pid.isdigit() and not pid_alive(int(pid))
        try:
            touched = (entry / ALIVE_FILE).stat().st_mtime
        except OSError:
            touched = entry.stat().st_mtime  # a folder without one: its own age
        if dead or current - touched > STALE_AFTER_SECONDS:
            shutil.rmtree(entry, ignore_errors=True)


def _keep_alive(directory: Path) -> None:
    """Touch ``directory/alive`` now and every KEEPALIVE_SECONDS (a daemon thread; forked
    children have no copy of it, and need none: the folder is their parent's)."""
    marker = directory / ALIVE_FILE

    def touch() -> None:
        with contextlib.suppress(OSError):
            marker.touch()

    def loop() -> None:
        while not _stop_keepalive.wait(KEEPALIVE_SECONDS):
            touch()

    touch()
    threading.Thread(target=loop, name="metrics-keepalive", daemon=True).start()


_stop_keepalive = threading.Event()


def enable_multiprocess(directory: Path) -> Path:
    """Record every value from now on in mmapped files under ``directory`` (cleaned first),
    in this process and the children it forks (they inherit the environment variable)."""
    directory = Path(directory).resolve()
    _clean_stale(directory.parent, directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_DIR] = str(directory)
    values.ValueClass = values.MultiProcessValue()
    _keep_alive(directory)
    return directory


def mark_process_dead(pid: int | None = None) -> None:
    """A worker child exits: its live gauges leave the sum (its counters stay counted)."""
    directory = os.environ.get(ENV_DIR)
    if directory:
        with contextlib.suppress(Exception):
            multiprocess.mark_process_dead(os.getpid() if pid is None else pid, directory)


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) -> (host, port); ValueError when malformed."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class _Forward(Collector):
    """The metrics of ``REGISTRY`` in a registry of their own (one per server, so serving twice
    never registers a collector twice)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        return self._source.collect()


class MetricsServer:
    """The ``/metrics`` HTTP endpoint of one process (a daemon thread); ``stop()`` closes it."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.shutdown()
            self._server.server_close()
        self._thread.join(5)


def serve(listen: str, *, extra: Iterable[Collector] = ()) -> MetricsServer:
    """Serve this process's metrics (all processes' in multi-process mode) on ``listen``."""
    from prometheus_client import start_http_server

    host, port = parse_listen(listen)
    directory = os.environ.get(ENV_DIR)
    registry = CollectorRegistry()
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
