"""The worker's consumer survives Redis dying under a connection that had a message in flight.

Real kombu, a real Valkey killed with SIGKILL: Celery 5.7's clean-up of the lost connection
raised AttributeError inside kombu and the worker exited (found by the redis_restart proof:
``newsbot worker`` gone after one restart of its Redis)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
import redis
from celery.worker.consumer import Consumer
from kombu import Connection, Exchange, Queue

import tasks
from bot.redis_embedded import start_embedded
from tasks.consumer import ResilientConsumer


def _lost_connection(tmp_path: Path) -> Connection:
    """A kombu connection holding one delivered, unacknowledged message, whose server was just
    killed, and whose transport ``collect()`` already detached while the channel stayed open
    (its first close cut short by the dead socket): the state the worker of the proof crashed
    in."""
    server = start_embedded(tmp_path)
    conn = Connection(server.url)
    queue = Queue("q", Exchange("q", type="direct"), routing_key="q")
    with conn.Producer() as producer:
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key="q", declare=[queue])
    got: list[object] = []
    consumer = conn.Consumer([queue], callbacks=[lambda body, message: got.append(message)],
                             no_ack=False)
    consumer.consume()
    conn.drain_events(timeout=5)
    assert got  # delivered, never acknowledged
    with pytest.raises(socket.timeout):
        conn.drain_events(timeout=0.2)  # leaves a BRPOP waiting on the socket
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    server._server._process.wait(10)
    server.stop()
    conn._do_close_transport()  # what collect() ends with
    assert conn._default_channel is not None and not conn._default_channel.closed
    return conn


def _consumer(cls: type[Consumer], conn: Connection) -> Consumer:
    consumer = cls.__new__(cls)  # only what on_connection_error_after_connected reads
    consumer.connection = conn
    consumer.app = tasks.app
    return consumer


def test_celery_alone_crashes_on_this_lost_connection(tmp_path: Path) -> None:
    """The failure ResilientConsumer exists for (if this stops failing, Celery fixed it)."""
    consumer = _consumer(Consumer, _lost_connection(tmp_path))
    with pytest.raises(AttributeError, match="hostname"):
        consumer.on_connection_error_after_connected(redis.ConnectionError("lost"))


def test_resilient_consumer_lets_go_of_the_lost_connection(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    consumer = _consumer(ResilientConsumer, _lost_connection(tmp_path))
    consumer.on_connection_error_after_connected(redis.ConnectionError("lost"))
    assert consumer.connection is None  # the consumer reconnects from here
    told = [r.getMessage() for r in caplog.records if "closing the lost broker" in r.getMessage()]
    assert len(told) == 1 and "hostname" in told[0]


def test_workers_use_the_resilient_consumer() -> None:
    assert tasks.app.conf.worker_consumer == "tasks.consumer:ResilientConsumer"
