"""A killed worker's send is settled by the process that runs the schedule, not by a queued task.

Regression (crash proof, issue 7): the tick that settles lost leases was only a Celery task, in
the same queue as the publishes.  During a backlog every worker thread was busy sending, the
ticks expired in the queue, and a send whose worker had been killed stayed ``sending`` with the
editors uninformed for 30 s and more.  ``tasks.LeaseReaper`` runs beside the schedule
(``newsbot beat``, ``newsbot run``) and needs nothing but Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import tasks
from bot.config import Settings
from bot.delivery.leases import worker_id
from bot.processes import start_time
from bot.state import State
from bot.state.notices import NoticeQueue


def dead_owner(task: str = "t") -> str:
    """A lease owner naming a process of this machine that has exited (known dead)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = None
        deadline = time.monotonic() + 10
        while start is None and time.monotonic() < deadline:
            start = start_time(proc.pid)
        assert start is not None
    finally:
        proc.kill()
        proc.wait()
    host = worker_id().rsplit(":", 2)[0]
    return f"{host}:{proc.pid}:{start}/{task}:0123abcd"


def fenced(state: State, url: str, platform: str, owner: str) -> str:
    rec = state.ensure(url, platform, "@cchan", state="queued")
    assert state.acquire_send(*rec.ref, owner=owner, lease_seconds=120,
                              repeat_safe=platform == "x")
    assert state.fence_send(*rec.ref, owner=owner, send_seconds=200)
    return rec.key


@pytest.fixture
def configured(tmp_path: Path, redis_client: redis.Redis, redis_url: str) -> Iterator[State]:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    settings = Settings(_env_file=None, site_dir=site, data_dir=tmp_path / "var",  # type: ignore[call-arg]
                        telegram_bot_token="123:fake-token-for-notices",
                        telegram_channel="@cchan", telegram_api_url="http://127.0.0.1:9",
                        telegram_editor_chat="-100555")
    tasks.configure(settings, redis_url=redis_url)
    try:
        yield tasks.get_services().state
    finally:
        tasks._close_services()


def test_the_reaper_settles_a_dead_workers_sends_while_the_queue_is_backed_up(
    configured: State, redis_client: redis.Redis
) -> None:
    state = configured
    # A backlog: hundreds of publish messages ahead of any tick the schedule would queue.
    redis_client.rpush("celery", *[json.dumps({"backlog": n}) for n in range(300)])
    doubt = fenced(state, "https://e.x/tg.html", "telegram", dead_owner())
    retry = fenced(state, "https://e.x/x.html", "x", dead_owner())
    before = state.ensure("https://e.x/early.html", "telegram", "@cchan", state="queued")
    assert state.acquire_send(*before.ref, owner=dead_owner(), lease_seconds=120)
    reaper = tasks.LeaseReaper(0.05).start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and state.get_by_key(doubt).state == "sending":
            time.sleep(0.05)
    finally:
        reaper.stop()
    rec = state.get_by_key(doubt)
    assert rec.state == "in_doubt" and "worker died mid-send" in rec.reason
    assert state.get_by_key(retry).state == "retry_wait"  # X refuses a repeat: retried
    assert state.get_by_key(before.key).state == "queued"  # before its fence: nothing left
    notices = NoticeQueue(redis_client).due()
    kinds = [(e.data["notice"]["kind"], e.data["notice"]["post_url"]) for e in notices]
    assert ("in_doubt", "https://e.x/tg.html") in kinds
    assert redis_client.llen("celery") == 301  # the requeued record's publish message


def test_the_reaper_leaves_live_holders_alone(configured: State) -> None:
    state = configured
    rec = state.ensure("https://e.x/live.html", "telegram", "@cchan", state="queued")
    mine = f"{worker_id()}/t:0123abcd"  # this process: alive, and its own leases are skipped
    assert state.acquire_send(*rec.ref, owner=mine, lease_seconds=120)
    assert tasks.settle_lost_leases() == {"in_doubt": 0, "lost": 0}
    assert state.get_by_key(rec.key).state == "sending"


def test_the_reaper_stops(configured: State) -> None:
    reaper = tasks.LeaseReaper(0.05).start()
    reaper.stop()
    assert reaper._thread is None


def test_newsbot_beat_alone_settles_a_killed_workers_send(
    tmp_path: Path, redis_client: redis.Redis, redis_url: str
) -> None:
    """No worker free to run a tick (here: none at all), as during a backlog: the beat process
    itself settles the send of a worker known dead and queues the editors' notice."""
    import os
    import signal

    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    state = State(redis_client)
    key = fenced(state, "https://e.x/beat.html", "telegram", dead_owner())
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "SITE_DIR": str(site), "DATA_DIR": str(tmp_path / "var"), "REDIS_URL": redis_url,
           "SITE_URL": "https://e.x", "SCAN_SECONDS": "3600", "WAIT_FOR_LIVE": "false",
           "TELEGRAM_BOT_TOKEN": "123:fake-token-for-notices",
           "TELEGRAM_CHANNEL": "@cchan", "TELEGRAM_API_URL": "http://127.0.0.1:9",
           "TELEGRAM_EDITOR_CHAT": "-100555", "NO_PROXY": "127.0.0.1"}
    log = tmp_path / "beat.log"
    with open(log, "wb") as out:
        beat = subprocess.Popen([str(Path(sys.executable).parent / "newsbot"), "beat"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and state.get_by_key(key).state == "sending":
            time.sleep(0.1)
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(20)
    assert state.get_by_key(key).state == "in_doubt", log.read_text()[-3000:]
    assert [e.data["notice"]["kind"] for e in NoticeQueue(redis_client).due()] == ["in_doubt"]
