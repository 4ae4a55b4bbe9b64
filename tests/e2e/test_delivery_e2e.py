"""The product as it runs: `newsbot run` / `newsbot worker` processes on a real Redis, a real
Celery worker, file events, and the fake Telegram and X servers in this test process."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from delivery_helpers import (
    CHANNEL,
    CHAT_ID,
    hours_ago,
    live_env,
    now_utc,
    wait_for,
    write_post,
)

from bot.config import Settings
from bot.delivery.planner import scan
from bot.delivery.services import Services
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:  # enforces Telegram's rate limits: any 429 would show
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def env_for(fake_tg: FakeTelegram, fake_x: FakeX) -> dict[str, str]:
    return {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}


def photos(fake_tg: FakeTelegram) -> list:
    return fake_tg.channel_posts(CHANNEL)


def states_of(e2e, slug: str) -> dict[str, str]:
    return {r.platform: r.state for r in e2e.records() if r.post.endswith(f"/{slug}.html")}


def test_run_publishes_new_posts_once_and_survives_restarts(e2e, fake_tg, fake_x):
    write_post(e2e.site, "already-there", hours_ago(3))
    run = e2e.start("run", extra_env=env_for(fake_tg, fake_x))
    # First run: the existing post is the baseline, nothing goes out.
    wait_for(lambda: len(e2e.records("skipped")) == 2, what="baseline records")
    assert all(r.reason == "baseline" for r in e2e.records())

    # A new post file: one photo in the channel, one post with media and alt text on X.
    write_post(e2e.site, "fresh", now_utc() - timedelta(minutes=1), title="Fresh AI news")
    wait_for(lambda: photos(fake_tg) and fake_x.posts, what="the sends")
    wait_for(lambda: set(states_of(e2e, "fresh").values()) == {"sent"}, what="sent records")
    [photo] = photos(fake_tg)
    assert photo.kind == "photo"
    assert "Fresh AI news" in photo.caption
    assert "https://news.example/" in photo.raw  # the link to the post
    [tweet] = fake_x.posts
    assert "Fresh AI news" in tweet.text
    [media_id] = tweet.media_ids
    assert fake_x.media[media_id]["alt_text"] == "Blue test picture"
    # With a bot token, `newsbot run` also serves the editors' bot: it alone long-polls.
    wait_for(lambda: fake_tg.calls("getUpdates"), what="the editors' bot polling")
    assert fake_tg.calls("setMyCommands")

    # A stale post is skipped; a future one goes out when due, without any rescan.
    write_post(e2e.site, "stale", hours_ago(72))
    due = now_utc() + timedelta(seconds=4)
    write_post(e2e.site, "later", due, title="Later news")
    wait_for(lambda: set(states_of(e2e, "stale").values()) == {"skipped"}, what="stale skip")
    assert set(states_of(e2e, "later").values()) <= {"waiting", "queued", "sending", "sent"}
    wait_for(lambda: set(states_of(e2e, "later").values()) == {"sent"}, 20, "future post")
    assert len(photos(fake_tg)) == 2 and len(fake_x.posts) == 2
    assert photos(fake_tg)[1].date >= int(due.timestamp())

    # Clean stop, an edit of a published post while stopped, restart: nothing is sent again.
    assert run.stop(signal.SIGTERM) == 0
    write_post(e2e.site, "fresh", now_utc() - timedelta(minutes=1), title="Fresh AI news (fixed)")
    run = e2e.start("run", extra_env=env_for(fake_tg, fake_x))
    time.sleep(3)
    # A crash (SIGKILL) and another restart: still nothing new.
    run.stop(signal.SIGKILL)
    run = e2e.start("run", extra_env=env_for(fake_tg, fake_x))
    time.sleep(3)
    assert len(photos(fake_tg)) == 2 and len(fake_x.posts) == 2
    assert fake_tg.count_429 == 0
    assert run.stop(signal.SIGTERM) == 0
    assert "TEST-fake-token" not in "".join(p.text() for p in e2e.procs)


def test_faults_are_retried_and_everything_goes_out_once(e2e, fake_tg, fake_x):
    run = e2e.start("run", extra_env=env_for(fake_tg, fake_x))
    wait_for(lambda: e2e.state.baseline_done(_site_key(e2e)), what="baseline")
    fake_tg.fail_next("sendPhoto", status=429, retry_after=1)
    fake_x.fail_next("/2/tweets", status=500, count=2)
    write_post(e2e.site, "bumpy", now_utc() - timedelta(minutes=1), title="Bumpy ride")
    wait_for(lambda: set(states_of(e2e, "bumpy").values()) == {"sent"}, 30, "both sent")
    time.sleep(1.5)
    assert len(photos(fake_tg)) == 1 and len(fake_x.posts) == 1
    attempts = {r.platform: r.attempts for r in e2e.records()}
    assert attempts == {"telegram": 2, "x": 3}
    assert fake_tg.count_429 == 1  # only the injected one
    run.stop()


def test_dry_run_writes_the_outbox(e2e):
    run = e2e.start("run")
    assert "dry run" in run.text()
    wait_for(lambda: e2e.state.baseline_done(_site_key(e2e)), what="baseline")
    write_post(e2e.site, "dry", now_utc() - timedelta(minutes=1), title="Dry news")
    outbox = e2e.data / "outbox.jsonl"
    wait_for(lambda: outbox.exists() and len(outbox.read_text().splitlines()) == 2, 15, "outbox")
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sorted(line["platform"] for line in lines) == ["telegram", "x"]
    assert all("Dry news" in line["text"] for line in lines)
    wait_for(lambda: {r.state for r in e2e.records()} == {"sent"}, what="dry-run records sent")
    run.stop()


def test_the_same_publish_on_three_workers_sends_once(e2e, fake_tg, fake_x, monkeypatch):
    env = env_for(fake_tg, fake_x)
    workers = [e2e.start("worker", "--concurrency", "2", extra_env=env) for _ in range(3)]
    settings = Settings(_env_file=None, site_dir=e2e.site, data_dir=e2e.data,
                        redis_url=e2e.url, **live_env(fake_tg, fake_x))  # type: ignore[call-arg]
    svc = Services.from_settings(settings, redis_url=e2e.url)
    import tasks

    try:
        scan(svc, enqueue=lambda key: None)  # baseline
        write_post(e2e.site, "race", now_utc() - timedelta(minutes=1), title="Race")
        keys: list[str] = []
        scan(svc, enqueue=keys.append)
        assert len(keys) == 2
        tasks.configure(settings, redis_url=e2e.url)
        fake_tg.delay_next("sendPhoto", 0.5)
        for _ in range(20):
            for key in keys:
                tasks.enqueue_publish(key)
        wait_for(lambda: {r.state for r in e2e.records()} == {"sent"}, 30, "both sent")
        wait_for(lambda: e2e.state.client.llen("celery") == 0, 30, "queue drained")
        time.sleep(1)
        assert len(photos(fake_tg)) == 1 and len(fake_x.posts) == 1
        assert len(fake_tg.calls("sendPhoto")) == 1
    finally:
        svc.close()
        for w in workers:
            w.stop()


def test_worker_killed_mid_send_leaves_in_doubt_and_never_resends(e2e, fake_tg, fake_x):
    env = {**env_for(fake_tg, fake_x), "LEASE_SECONDS": "3"}
    run = e2e.start("run", extra_env=env)
    wait_for(lambda: e2e.state.baseline_done(_site_key(e2e)), what="baseline")
    fake_tg.delay_next("sendPhoto", 6)
    write_post(e2e.site, "crash", now_utc() - timedelta(minutes=1), title="Crash")
    wait_for(lambda: states_of(e2e, "crash").get("telegram") == "sending", 15, "sending")
    time.sleep(1.5)  # the sendPhoto request is now in flight (the fake holds it 6 s)
    run.stop(signal.SIGKILL)
    run = e2e.start("run", extra_env=env)
    wait_for(lambda: states_of(e2e, "crash").get("telegram") == "in_doubt", 15, "in_doubt")
    # The slow request still lands (the platform got it): exactly one message, never a second.
    wait_for(lambda: len(photos(fake_tg)) == 1, 15, "the delayed message")
    time.sleep(3)
    assert len(photos(fake_tg)) == 1 and len(fake_tg.calls("sendPhoto")) == 1
    assert states_of(e2e, "crash")["telegram"] == "in_doubt"
    assert states_of(e2e, "crash")["x"] == "sent"
    run.stop()


def _site_key(e2e) -> str:
    from bot.delivery.content import ContentTools
    from bot.delivery.services import site_key_of

    settings = Settings(_env_file=None, site_dir=e2e.site, data_dir=e2e.data)  # type: ignore[call-arg]
    return site_key_of(ContentTools.from_settings(settings).site)
