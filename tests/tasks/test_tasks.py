"""The Celery app: its settings, that it imports without Redis, and the periodic tasks' effects."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import tasks
from bot.config import Settings
from bot.state import State


def test_reliability_settings() -> None:
    conf = tasks.app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert conf.broker_transport_options["visibility_timeout"] == 3600
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert {t for t in (tasks.PUBLISH, tasks.SCAN, tasks.RESCAN, tasks.TICK, tasks.REQUEUE)} <= set(
        tasks.app.tasks)


def test_importable_without_a_running_redis(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "REDIS_URL": "redis://127.0.0.1:1/0",
           "SITE_DIR": str(tmp_path)}
    code = ("import tasks; print(tasks.app.conf.broker_url); "
            "print(sorted(tasks.app.conf.beat_schedule))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=60,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "redis://127.0.0.1:1/0"
    assert out[1] == "['requeue', 'rescan', 'tick']"


@pytest.fixture
def configured(tmp_path: Path, redis_client: redis.Redis, redis_url: str) -> Iterator[State]:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    settings = Settings(_env_file=None, site_dir=site, data_dir=tmp_path / "var",  # type: ignore[call-arg]
                        scan_seconds=42)
    tasks.configure(settings, redis_url=redis_url)
    try:
        yield tasks.get_services().state
    finally:
        tasks._close_services()


def test_configure_sets_the_beat_schedule(configured: State) -> None:
    schedule = tasks.app.conf.beat_schedule
    assert schedule["tick"]["schedule"] == 1.0
    assert schedule["rescan"]["schedule"] == 42.0
    assert schedule["rescan"]["task"] == tasks.RESCAN


def test_tick_promotes_due_records_and_settles_expired_leases(
    configured: State, redis_client: redis.Redis
) -> None:
    state = configured
    now = state.now()
    due = state.ensure("https://e.x/a.html", "x", "x", state="waiting", reason="scheduled",
                       scheduled_at=now - 1)
    later = state.ensure("https://e.x/b.html", "x", "x", state="waiting", reason="scheduled",
                         scheduled_at=now + 3600)
    # lost before its fence: never sent, so simply queued again
    unfenced = state.ensure("https://e.x/c.html", "telegram", "@c", state="queued")
    assert state.acquire_send(*unfenced.ref, owner="dead:1", lease_seconds=0.01, now=now - 10)
    # lost past its fence: the post may be out, an editor decides
    fenced = state.ensure("https://e.x/d.html", "telegram", "@c", state="queued")
    assert state.acquire_send(*fenced.ref, owner="dead:2", lease_seconds=0.01, now=now - 10)
    assert state.fence_send(*fenced.ref, owner="dead:2", send_seconds=1, now=now - 10)
    before = redis_client.llen("celery")
    result = tasks.tick()
    assert result == {"promoted": 1, "edits": 0, "budget": 0, "paced": 0, "paced_stale": 0,
                      "in_doubt": 1, "lost": 2}
    assert state.get_by_key(due.key).state == "queued"
    assert state.get_by_key(later.key).state == "waiting"
    assert state.get_by_key(unfenced.key).state == "queued"
    assert state.get_by_key(fenced.key).state == "in_doubt"
    assert redis_client.llen("celery") == before + 2  # publish messages for `due`, `unfenced`
    assert state.heartbeats()


def test_tick_hands_an_edit_nobody_took_over_again(
    configured: State, redis_client: redis.Redis
) -> None:
    """A correction whose task was lost (or whose worker died mid-edit) is not forgotten."""
    state = configured
    rec = state.ensure("https://e.x/e.html", "telegram", "@c", state="queued")
    state.edits.want(rec.key, now=state.now() - 60)
    before = redis_client.llen("celery")
    assert tasks.tick()["edits"] == 1
    assert redis_client.llen("celery") == before + 1
    assert tasks.tick()["edits"] == 0  # once per grace period


def test_requeue_hands_old_queued_records_over_again_but_not_while_paused(
    configured: State, redis_client: redis.Redis
) -> None:
    state = configured
    old = state.ensure("https://e.x/old.html", "x", "x", state="queued", now=state.now() - 120)
    state.ensure("https://e.x/new.html", "x", "x", state="queued")
    state.pause("ed")
    assert tasks.requeue() == 0
    # an editor's push confirmed while paused goes out anyway: its lost message is handed over
    pushed = state.ensure("https://e.x/pushed.html", "x", "x", state="queued",
                          now=state.now() - 120)
    state.transition(*pushed.ref, "queued", "queued", now=state.now() - 120, push_anyway="1")
    assert tasks.requeue() == 1 and redis_client.llen("celery") == 1
    redis_client.delete("celery")
    state.editor_resolve(*pushed.ref, "skip", "ed")
    state.resume("ed")
    assert redis_client.llen("celery") == 0
    assert tasks.requeue() == 1
    assert redis_client.llen("celery") == 1
    assert state.get_by_key(old.key).state == "queued"
    # Workers behind (a message is still waiting): no pile-up.
    assert tasks.requeue() == 0 and redis_client.llen("celery") == 1
    # ... unless a worker is back from an outage: messages it had taken are gone whatever the
    # queue holds, so every queued record, however recent (`new`), is handed over
    assert tasks.requeue(older_than=0.0, after_outage=True) == 2  # old and new
    assert redis_client.llen("celery") == 3


def test_scan_and_publish_caught_by_a_redis_restart_run_again_once_it_is_back(
        configured: State, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A task cut off by a Redis restart cannot count on its broker message (the ack and the
    restore fail with the connection): the proof lost the posts whose scan met the restart.
    The task waits for the server and runs again; one warning line per try."""
    real_scan = tasks.run_scan
    calls = {"scan": 0, "deliver": 0}

    def scan(*args: object, **kwargs: object):
        calls["scan"] += 1
        if calls["scan"] == 1:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        return real_scan(*args, **kwargs)

    def deliver(*args: object, **kwargs: object) -> str:
        calls["deliver"] += 1
        if calls["deliver"] < 3:
            raise redis.TimeoutError("Timeout reading from socket")
        return "sent"

    monkeypatch.setattr(tasks, "run_scan", scan)  # the names the task bodies call
    monkeypatch.setattr(tasks, "deliver", deliver)
    report = tasks.scan.run(None, 0)
    assert calls["scan"] == 2 and isinstance(report, dict)  # the second try's report
    assert tasks.publish.run("newsbot:rec:x") == "sent" and calls["deliver"] == 3
    lines = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(lines) == 3 and not any(r.exc_info for r in lines)


def test_a_task_gives_up_on_a_redis_that_stays_away() -> None:
    def down() -> None:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    with pytest.raises(redis.ConnectionError):
        tasks._through_outage("scan", down, wait=0.3)


def test_a_broker_pool_closed_under_the_producer_is_replaced(
    configured: State, redis_client: redis.Redis
) -> None:
    """A producer pool left holding a closed connection pool (a reconfiguration racing a
    thread's send) must not fail every later send of the process."""
    tasks.enqueue_publish("warm-up")  # Celery caches its connection and producer pools
    tasks.app.pool.force_close_all()  # closed, but still the one the producer pool uses
    before = redis_client.llen("celery")
    tasks.enqueue_publish("after-close")
    assert redis_client.llen("celery") == before + 1


def test_a_prefork_child_exiting_takes_its_live_gauges_out_of_the_sums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Celery's worker_process_shutdown (sent in the child) -> bot.metrics.mark_process_dead:
    the child's live-gauge files go, its counters stay (they were counted)."""
    from celery import signals

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    pid = os.getpid()
    live = tmp_path / f"gauge_livesum_{pid}.db"
    counter = tmp_path / f"counter_{pid}.db"
    other = tmp_path / f"gauge_livesum_{pid + 1}.db"
    for path in (live, counter, other):
        path.write_bytes(b"")
    signals.worker_process_shutdown.send(sender=None, pid=pid, exitcode=0)
    assert not live.exists()
    assert counter.exists() and other.exists()
