"""One monotonic deadline for a whole image fetch, enforced on every socket operation.

httpx's timeouts are per operation: a read timeout restarts with every byte, so a server that
drips one header byte every few seconds never trips it and holds a worker for days. Instead of
a watchdog thread, every blocking step of the fetch (DNS lookup, connect, TLS handshake, each
send and each recv, on every redirect hop) is given at most the time left until the deadline,
so the step that would cross it is cut by the socket itself and nothing outlives the call.

The deadline travels in a context variable rather than through httpx: the connection pool and
its network backend are shared by every fetch of a resolver (and by worker threads), while the
deadline belongs to the one call running in this thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpcore

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "image_fetch_deadline", default=None
)


@contextlib.contextmanager
def within(deadline: float) -> Iterator[None]:
    """Every socket operation of guarded fetches in this context ends by `deadline`."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def left(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """`timeout` shortened to the time left before the deadline; raise when none is left.

    Zero must never reach a socket: `settimeout(0)` means non-blocking, not "no time".
    """
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise timeout_error("the total deadline of the image fetch has passed")
    return remaining if timeout is None else min(timeout, remaining)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the current deadline.

    The deadline is read at each call, not at creation, so a kept-alive connection reused by a
    later fetch obeys that fetch's deadline.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        budget = left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
