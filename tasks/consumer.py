"""The worker's consumer (``worker_consumer``), loaded by Celery only in a worker process: the
commands that merely enqueue (``newsbot push``, the watcher) never import it."""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer

__all__ = ["ResilientConsumer"]

log = logging.getLogger("newsbot.tasks")


class ResilientConsumer(Consumer):
    """Celery's consumer, surviving the loss of a Redis connection that had messages in flight.

    Celery 5.7 first ``collect()``s the lost connection (which detaches its transport) and then
    ``close()``s it; when the channel's first close was cut short by the dead socket, the second
    one restores the unacknowledged messages through the detached transport and kombu raises
    ``AttributeError: 'NoneType' object has no attribute 'hostname'``.  Celery treats that as an
    unrecoverable error and the worker exits (status 1): one ``kill`` of Redis stopped a worker
    for good.  The connection is gone either way; the unacknowledged messages stay in Redis and
    come back after the visibility timeout (the state machine makes that harmless, and the
    requeue task hands queued records over long before).
    """

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            log.warning("closing the lost broker connection failed (%s: %s); reconnecting",
                        type(error).__name__, error)
