"""Quiet hours and the breaking lane in real processes: `newsbot run` (Celery worker, beat,
watcher) on real Redis, the fakes enforcing Telegram's rate limits, a quiet window around now.

Also the figure "a breaking post written behind a burst reaches the channel within 2 s": 20
normal posts are paced (MIN_SPACING_SECONDS=600 stands in for the pacing caps), then one
breaking post is written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post

from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:  # enforces Telegram's rate limits
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def quiet_around_now() -> str:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"


def test_burst_in_quiet_hours_then_a_breaking_post(e2e, fake_tg: FakeTelegram, fake_x: FakeX):
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    env |= {"QUIET_HOURS": quiet_around_now(), "PIN_BREAKING": "true", "PIN_HOURS": "0.002",
            "MIN_SPACING_SECONDS": "600"}
    write_post(e2e.site, "old", now_utc() - timedelta(hours=3))
    e2e.start("run", extra_env=env)
    wait_for(lambda: len(e2e.records("skipped")) == 2, what="baseline records")

    for i in range(20):
        write_post(e2e.site, f"burst-{i:02d}", now_utc() - timedelta(minutes=1),
                   title=f"Burst {i:02d}")
    wait_for(lambda: len([r for r in e2e.records() if "burst-" in r.post]) == 40, 30,
             "the burst planned")
    wait_for(lambda: len(fake_tg.channel_posts(CHAT_ID)) >= 1, 30, "the first burst post")
    time.sleep(1.5)  # the burst's publish tasks settle (paced: waiting for their slot)

    written = time.time()
    write_post(e2e.site, "alert", now_utc() - timedelta(seconds=5), title="Breaking alert",
               extra="breaking: true")

    def breaking_message():
        return [m for m in fake_tg.channel_posts(CHAT_ID) if "Breaking alert" in (m.caption or "")]

    (msg,) = wait_for(breaking_message, 30, "the breaking post in the channel", interval=0.01)
    call = [c for c in fake_tg.calls("sendPhoto") if c.status == 200][-1]
    latency = call.time - written
    print(f"breaking behind a burst of 20: written -> channel {latency:.3f} s")
    assert latency < 2.0
    assert msg.disable_notification is False  # breaking: notifies inside quiet hours
    wait_for(lambda: fake_tg.pinned(CHAT_ID) == [msg.message_id], 10, "the pin")
    wait_for(lambda: any("Breaking alert" in p.text for p in fake_x.posts), 20,
             "the breaking X post (not held)")

    normal = [m for m in fake_tg.channel_posts(CHAT_ID) if "Burst" in (m.caption or "")]
    assert normal and all(m.disable_notification for m in normal)  # 0 notifying in the window
    assert not any("Burst" in p.text for p in fake_x.posts)  # held (paced or quiet hours)
    held = [r for r in e2e.records("waiting") if r.platform == "x" and "burst-" in r.post]
    assert held and any(r.reason == "quiet hours" for r in held)

    # PIN_HOURS=0.002 (7.2 s): the beat's tick takes the pin off.
    wait_for(lambda: fake_tg.pinned(CHAT_ID) == [], 30, "the unpin")
    assert fake_tg.calls("unpinChatMessage")
