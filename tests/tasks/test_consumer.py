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
from kombu.message import Message

import tasks
from bot.redis_embedded import start_embedded
from tasks.consumer import ResilientConsumer


def _lost_connection(tmp_path: Path, taken: list[Message] | None = None) -> Connection:
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
    if taken is not None:
        taken.extend(got)  # type: ignore[arg-type]
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


def test_back_from_an_outage_the_worker_scans(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan message taken just before Redis died stays unacknowledged for an hour: the proof
    lost the post it was for (a publish message: its record waited 40 s for the requeue safety
    net).  Reconnected after the loss, the worker queues a full scan and a requeue of every
    queued record (and only then: a first connection does not)."""
    scans: list[object] = []
    monkeypatch.setattr(tasks, "enqueue_scan", lambda *a, **k: scans.append(a))
    requeues: list[object] = []
    monkeypatch.setattr(tasks.requeue, "apply_async", lambda *a, **k: requeues.append(a))
    monkeypatch.setattr(Consumer, "connect", lambda self: "connection")
    first = _consumer(ResilientConsumer, Connection("redis://127.0.0.1:1/0"))
    assert first.connect() == "connection" and not scans
    consumer = _consumer(ResilientConsumer, _lost_connection(tmp_path))
    consumer.on_connection_error_after_connected(redis.ConnectionError("lost"))
    assert not scans
    assert consumer.connect() == "connection"
    assert scans == [()] and requeues == [((), {"older_than": 0.0, "after_outage": True})]
    consumer.connect()  # the next connection without a loss in between: no second scan
    assert scans == [()] and len(requeues) == 1


def test_a_task_finishing_after_the_reconnection_does_not_crash_the_worker(
        tmp_path: Path) -> None:
    """A task running through the outage (it waits for Redis) acks on the lost connection's
    channel once done: kombu raised the same AttributeError there, in the worker's event loop,
    and the worker exited (`newsbot run` with it, in the proof)."""
    taken: list[Message] = []
    conn = _lost_connection(tmp_path, taken)
    consumer = _consumer(ResilientConsumer, conn)
    consumer.on_connection_error_after_connected(redis.ConnectionError("lost"))
    taken[0].ack()  # dropped: the message is redelivered after the visibility timeout


def test_celery_alone_crashes_acking_on_the_lost_connection(tmp_path: Path) -> None:
    taken: list[Message] = []
    conn = _lost_connection(tmp_path, taken)
    with pytest.raises(AttributeError, match="hostname"):
        _consumer(Consumer, conn).on_connection_error_after_connected(
            redis.ConnectionError("lost"))
    with pytest.raises(AttributeError, match="hostname"):
        taken[0].ack()
