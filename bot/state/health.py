"""Heartbeats of the long-running parts, per role, in Redis; and how old each one is.

Why a heartbeat of its own per role (``Keys.health``: "host:pid" -> server epoch)
rather than the worker heartbeat of the ``tick`` task: that one is written only when beat
schedules a tick, so a stopped beat would make every healthy worker look dead, and beat and the
editors' bot wrote nothing at all.  Each process beats for the roles it really runs (``newsbot
run`` for all three), and the editors' bot only while it is connected to Telegram (after
``getMe`` succeeded), so "healthy" means "doing its job", not merely "a process exists".
The container check that reads them is ``python -m bot.health``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading

import redis

from .store import State

__all__ = ["DEFAULT_MAX_AGE", "HEARTBEAT_SECONDS", "ROLES", "Heartbeat", "ages", "check",
           "process_name"]

log = logging.getLogger(__name__)

ROLES = ("worker", "beat", "bot")
HEARTBEAT_SECONDS = 5.0
#: Six missed beats: a worker busy with a slow send still beats (a thread of its own).
DEFAULT_MAX_AGE = 30.0
NAMESPACE = "newsbot"


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """A daemon thread writing this process's beat for ``role`` every few seconds; ``stop()``
    removes it, so a cleanly stopped process is unhealthy at once rather than 30 s later."""

    def __init__(self, client: redis.Redis, role: str, *, namespace: str = NAMESPACE,
                 every: float = HEARTBEAT_SECONDS, owns_client: bool = False) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        self.every = every
        self._name = process_name()
        self._client = client
        self._state = State(client, namespace=namespace)
        self._owns_client = owns_client
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_url(cls, redis_url: str, role: str, **kwargs: float | str) -> Heartbeat:
        client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5,
                                     decode_responses=True)
        return cls(client, role, owns_client=True, **kwargs)  # type: ignore[arg-type]

    def beat(self) -> None:
        self._state.health_beat(self.role, self._name)

    def _run(self) -> None:
        while True:
            try:
                self.beat()
            except redis.RedisError as exc:  # Redis restarting: the next beat tries again
                log.debug("%s heartbeat failed: %s", self.role, type(exc).__name__)
            if self._stop.wait(self.every):
                return

    def start(self) -> Heartbeat:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"health-{self.role}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.every + 5)
        with contextlib.suppress(redis.RedisError):
            self._state.forget_health(self.role, self._name)
        if self._owns_client:
            self._client.close()


def ages(client: redis.Redis, role: str, *, namespace: str = NAMESPACE) -> dict[str, float]:
    """Process name -> seconds since its last beat for ``role`` (by the server clock)."""
    return State(client, namespace=namespace).health_ages(role)


def check(client: redis.Redis, role: str, *, max_age: float = DEFAULT_MAX_AGE,
          any_host: bool = False, host: str | None = None,
          namespace: str = NAMESPACE) -> tuple[bool, str]:
    """(healthy, one line): a beat for ``role`` from this host (or any) younger than
    ``max_age``."""
    host = host or socket.gethostname()
    seen = ages(client, role, namespace=namespace)
    mine = {n: a for n, a in seen.items() if any_host or n.rsplit(":", 1)[0] == host}
    where = "any host" if any_host else f"host {host}"
    if not mine:
        return False, f"{role}: no heartbeat from {where}"
    name, age = min(mine.items(), key=lambda item: item[1])
    if age > max_age:
        return False, f"{role}: last heartbeat {age:.0f} s ago ({name}), older than {max_age:.0f} s"
    return True, f"{role}: ok, heartbeat {age:.1f} s ago ({name})"
