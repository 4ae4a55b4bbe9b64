"""The worker's consumer (``worker_consumer``), loaded by Celery only in a worker process: the
commands that merely enqueue (``newsbot push``, the watcher) never import it.

It makes a worker ride out a Redis restart: it survives a kombu failure closing the lost
connection, and scans once the connection is back (messages taken before the outage may only
come back after the visibility timeout)."""

from __future__ import annotations

import logging
from typing import Any

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

    The same detached transport crashed the worker a second way: a task that was running
    during the outage (it waits for Redis to come back) finishes after the reconnection, and
    its late ack on the dead channel raised the same AttributeError in the event loop.  The
    channels of a lost connection therefore drop their acks: the message cannot be acked
    there anyway and is redelivered after the visibility timeout, which the state machine
    makes harmless (the record is already sent or settled).
    """

    #: Set when the broker connection was lost; the next connect() catches up.
    _outage = False

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        self._outage = True
        for channel in _channels_of(self):
            _drop_acks(channel)
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            log.warning("closing the lost broker connection failed (%s: %s); reconnecting",
                        type(error).__name__, error)

    def connect(self) -> Any:
        """Connect (Celery retries until the broker answers); after an outage, catch up.

        Messages this worker had taken but not finished when the connection died stay
        unacknowledged in Redis until the visibility timeout (an hour): a scan among them left
        a post saved just before a restart unplanned (the redis_restart proof lost it), and a
        publish among them left its record ``queued`` until the requeue safety net (30-45 s).
        When the connection is back a full scan plans whatever such a scan would have, and every
        queued record is handed over again (a duplicate message is refused by the state).
        """
        conn = super().connect()
        if self._outage:
            self._outage = False
            _catch_up()
        return conn


def _catch_up() -> None:
    # Not at the top: tasks names this module's consumer class (by string) while it is imported.
    import tasks

    try:
        tasks.enqueue_scan()
        tasks.requeue.apply_async((), {"older_than": 0.0, "after_outage": True})
    except Exception as exc:  # the broker went away again: the next reconnect tries again
        log.warning("broker connection back, but the catch-up could not be queued (%s: %s)",
                    type(exc).__name__, exc)
        return
    log.info("broker connection back after an outage: catch-up scan and requeue queued")


def _channels_of(consumer: Consumer) -> list[Any]:
    """The channels of the consumer's current (lost) connection."""
    found: list[Any] = []
    task_consumer = getattr(consumer, "task_consumer", None)
    if task_consumer is not None:
        found.append(getattr(task_consumer, "channel", None))
    connection = getattr(consumer, "connection", None)
    if connection is not None:
        found.append(getattr(connection, "_default_channel", None))
        transport = getattr(connection, "_transport", None)
        found.extend(getattr(transport, "channels", None) or [])
    return [c for c in found if c is not None]


def _drop_acks(channel: Any) -> None:
    """Acks and rejects of messages from a lost connection do nothing (see the class)."""
    if getattr(channel, "_newsbot_lost", False):
        return

    def dropped(delivery_tag: Any, *args: Any, **kwargs: Any) -> None:
        log.debug("ack of message %s dropped: its connection was lost", delivery_tag)

    channel._newsbot_lost = True
    channel.basic_ack = dropped
    channel.basic_reject = dropped
